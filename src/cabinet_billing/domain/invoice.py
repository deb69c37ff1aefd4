"""Invoices: lines with net, tax and gross, statuses, payments and actions (SPEC L4).

An invoice is issued from lines of exact amounts; :func:`~cabinet_billing.tax_breakdown`
turns them into net, tax and gross per line and in total, consistent to the cent. Its
status follows from what has been paid: *unpaid* (issued), *partially paid*, *paid*; an
unpaid invoice can be *cancelled* or *deleted* (for example to pay a renewal another way:
delete it and issue a new one). An unpaid or partially paid invoice past its due date is
shown as *overdue*.

>>> from datetime import date
>>> from cabinet_billing import Invoice, Money, TaxMode, TaxRate
>>> from cabinet_billing.domain.invoice import InvoiceLine
>>> invoice = Invoice.issue(
...     "inv-1", "HOR-11111-007", "acc-1",
...     [InvoiceLine("Plan Business, March 2024", Money("1000.00", "UAH"))],
...     issued_on=date(2024, 3, 1), due_on=date(2024, 3, 15),
...     tax_rate=TaxRate("20"), tax_mode=TaxMode.INCLUSIVE,
... )
>>> str(invoice.total.tax), invoice.status_on(date(2024, 3, 2)).value
('166.67 UAH', 'unpaid')
>>> _ = invoice.pay("pay-1", Money("400.00", "UAH"), date(2024, 3, 5))
>>> invoice.status_on(date(2024, 3, 16)).value, str(invoice.amount_due)
('overdue', '600.00 UAH')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

import attrs
import moneyed

from cabinet_billing.domain.checks import check_text, shared_copies
from cabinet_billing.domain.money import HALF_UP, Money, Rounding, sum_money
from cabinet_billing.domain.numbering import document_sort_key
from cabinet_billing.domain.tax import TaxAmounts, TaxMode, TaxRate, tax_breakdown
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import (
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidTransitionError,
    ValidationError,
)

__all__ = [
    "Invoice",
    "InvoiceAction",
    "InvoiceFilter",
    "InvoiceKind",
    "InvoiceLine",
    "InvoicePayment",
    "InvoiceStatus",
    "IssuedLine",
    "filter_invoices",
    "invoice_order",
]

#: The rate of an invoice issued without tax.
_NO_TAX: Final = TaxRate("0", "no tax")


class InvoiceStatus(enum.Enum):
    """Where an invoice stands. ``OVERDUE`` is shown, never stored: see :meth:`Invoice.status_on`."""

    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"
    DELETED = "deleted"
    OVERDUE = "overdue"


class InvoiceKind(enum.Enum):
    """Why an invoice was issued."""

    ORDER = "order"
    RENEWAL = "renewal"
    TOP_UP = "top_up"
    STATEMENT = "statement"


class InvoiceAction(enum.Enum):
    """What a customer can do with an invoice, depending on its status."""

    VIEW = "view"
    PAY = "pay"
    REQUEST_QUOTE = "request_quote"
    COPY_PAY_LINK = "copy_pay_link"
    DELETE = "delete"
    DOWNLOAD = "download"


class InvoiceFilter(enum.Enum):
    """The invoice list's filter; the default view shows unpaid invoices.

    ``UNPAID`` shows what is left to pay (unpaid and partially paid), ``OVERDUE`` the
    part of it past its due date, ``PAID`` the invoices paid in full and ``ALL`` every
    invoice but the deleted ones (cancelled ones included).

    >>> InvoiceFilter.of("overdue")
    <InvoiceFilter.OVERDUE: 'overdue'>
    """

    UNPAID = "unpaid"
    PAID = "paid"
    OVERDUE = "overdue"
    ALL = "all"

    @classmethod
    def of(cls, value: InvoiceFilter | str) -> InvoiceFilter:
        """The filter named ``value``.

        Raises:
            ValidationError: naming the value and the filters there are.
        """
        if isinstance(value, InvoiceFilter):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValidationError(
                "status", value, f"expected one of {', '.join(f.value for f in cls)}"
            ) from None

    def shows(self, invoice: Invoice, today: date) -> bool:
        """Whether the list with this filter shows ``invoice`` on ``today``."""
        if self is InvoiceFilter.UNPAID:
            return invoice.is_open()
        if self is InvoiceFilter.OVERDUE:
            return invoice.status_on(today) is InvoiceStatus.OVERDUE
        if self is InvoiceFilter.PAID:
            return invoice.status is InvoiceStatus.PAID
        return invoice.status is not InvoiceStatus.DELETED


_OPEN = frozenset({InvoiceStatus.UNPAID, InvoiceStatus.PARTIALLY_PAID})
_ACTIONS: dict[InvoiceStatus, tuple[InvoiceAction, ...]] = {
    InvoiceStatus.UNPAID: (
        InvoiceAction.VIEW,
        InvoiceAction.PAY,
        InvoiceAction.REQUEST_QUOTE,
        InvoiceAction.COPY_PAY_LINK,
        InvoiceAction.DELETE,
    ),
    InvoiceStatus.PARTIALLY_PAID: (
        InvoiceAction.VIEW,
        InvoiceAction.PAY,
        InvoiceAction.COPY_PAY_LINK,
    ),
    InvoiceStatus.PAID: (InvoiceAction.VIEW, InvoiceAction.DOWNLOAD),
    InvoiceStatus.CANCELLED: (InvoiceAction.VIEW,),
    InvoiceStatus.DELETED: (),
}


def _text(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_text(attribute.name, value)


@shared_copies
@attrs.frozen
class InvoiceLine:
    """A line to invoice: what is billed and an exact amount (gross or net per the tax mode).

    What is billed is best given as a :class:`~cabinet_billing.LineText` (a message id
    and values, put into the reader's language when the invoice is rendered) with
    :meth:`of`; a plain ``description`` is shown as it is, in every language.

    Args:
        description: what is billed as plain text, e.g. "VPS-2, 2024-03-01 to
            2024-04-01" (with a ``text``: its :attr:`~cabinet_billing.LineText.fallback`).
        amount: the exact amount, up to accrual precision; negative for a discount.
        service_id: the service billed, if any.
        expense_id: the expense billed, if any.
        paid_until: for a service line, the date the service is paid until once the
            invoice is paid.
        text: what is billed as a message id and values, if given.

    >>> from datetime import date
    >>> line = InvoiceLine.of(LineText.of("line.renewal", plan="VPS S", until=date(2024, 4, 1)),
    ...                       Money("100.00", "RUB"), service_id="3925")
    >>> line.description, line.text.msgid
    ('line.renewal: plan=VPS S, until=2024-04-01', 'line.renewal')
    """

    description: str = attrs.field(validator=_text)
    amount: Money
    service_id: str | None = None
    expense_id: str | None = None
    paid_until: date | None = None
    text: LineText | None = None

    @classmethod
    def of(
        cls,
        text: LineText,
        amount: Money,
        *,
        service_id: str | None = None,
        expense_id: str | None = None,
        paid_until: date | None = None,
    ) -> InvoiceLine:
        """A line whose text is a message id and values, rendered in the reader's language.

        Its ``description`` is the text's :attr:`~cabinet_billing.LineText.fallback`,
        for logs and for readers without catalogs.
        """
        return cls(text.fallback, amount, service_id, expense_id, paid_until, text)


@shared_copies
@attrs.frozen
class IssuedLine:
    """An invoice line as issued: what is billed, its net, tax and gross, and its tax rate.

    ``text``, when given, is what a document shows (in the reader's language);
    ``description`` is the plain text shown otherwise.
    """

    description: str
    amounts: TaxAmounts
    rate: TaxRate | None
    service_id: str | None = None
    expense_id: str | None = None
    paid_until: date | None = None
    text: LineText | None = None


@shared_copies
@attrs.frozen
class InvoicePayment:
    """A payment applied to an invoice."""

    payment_id: str
    amount: Money
    on: date


@attrs.define
class Invoice:
    """An invoice, issued from lines; its status follows from its payments.

    Build one with :meth:`issue`. Every change goes through a method that checks the
    status and leaves the invoice unchanged when it refuses.
    """

    id: str
    number: str
    account_id: str
    lines: tuple[IssuedLine, ...]
    total: TaxAmounts
    issued_on: date
    due_on: date | None = None
    kind: InvoiceKind = InvoiceKind.ORDER
    payment_method_id: str | None = None
    payer_id: str | None = None
    _status: InvoiceStatus = attrs.field(default=InvoiceStatus.UNPAID, alias="_status")
    _payments: list[InvoicePayment] = attrs.field(factory=list, alias="_payments")
    _quotes: list[date] = attrs.field(factory=list, alias="_quotes")
    _closed_on: date | None = attrs.field(default=None, alias="_closed_on")
    _reason: str = attrs.field(default="", alias="_reason")

    @classmethod
    def issue(
        cls,
        invoice_id: str,
        number: str,
        account_id: str,
        lines: Sequence[InvoiceLine],
        *,
        issued_on: date,
        due_on: date | None = None,
        tax_rate: TaxRate | None = None,
        tax_mode: TaxMode = TaxMode.INCLUSIVE,
        kind: InvoiceKind = InvoiceKind.ORDER,
        payment_method_id: str | None = None,
        payer_id: str | None = None,
        rounding: Rounding = HALF_UP,
    ) -> Invoice:
        """Issue an invoice from lines of exact amounts.

        Args:
            invoice_id: the invoice's id.
            number: its number as printed (see :class:`~cabinet_billing.NumberFormat`).
            account_id: the account billed.
            lines: the lines, in one currency, at least one.
            issued_on: the issue date.
            due_on: the due date, if the invoice has one.
            tax_rate: the tax rate of every line, or ``None`` for no tax.
            tax_mode: whether line amounts include the tax.
            kind: why the invoice is issued.
            payment_method_id: the method chosen at checkout, if any.
            payer_id: the payer billed, if any.
            rounding: the rounding mode.

        Raises:
            ValidationError: for no lines, an empty number, a due date before the issue
                date, or a total that is not positive.
            CurrencyMismatchError: when lines are in different currencies.
        """
        if not number.strip():
            raise ValidationError("number", number, "an invoice needs a number")
        if due_on is not None and due_on < issued_on:
            raise ValidationError(
                "due_on", due_on, f"must not be before the issue date {issued_on}"
            )
        rate = tax_rate if tax_rate is not None else _NO_TAX
        breakdown = tax_breakdown([ln.amount for ln in lines], rate, tax_mode, rounding)
        if breakdown.total.gross.amount <= 0:
            raise ValidationError(
                "lines",
                str(breakdown.total.gross),
                "an invoice total must be greater than zero",
            )
        issued = tuple(
            IssuedLine(
                ln.description,
                amounts,
                tax_rate,
                ln.service_id,
                ln.expense_id,
                ln.paid_until,
                ln.text,
            )
            for ln, amounts in zip(lines, breakdown.lines, strict=True)
        )
        return cls(
            id=invoice_id,
            number=number,
            account_id=account_id,
            lines=issued,
            total=breakdown.total,
            issued_on=issued_on,
            due_on=due_on,
            kind=kind,
            payment_method_id=payment_method_id,
            payer_id=payer_id,
        )

    @classmethod
    def from_lines(
        cls,
        invoice_id: str,
        number: str,
        account_id: str,
        lines: Sequence[IssuedLine],
        *,
        issued_on: date,
        due_on: date | None = None,
        kind: InvoiceKind = InvoiceKind.ORDER,
        payment_method_id: str | None = None,
        payer_id: str | None = None,
        free: bool = False,
    ) -> Invoice:
        """Issue an invoice from lines already priced (e.g. a checked-out cart's lines).

        The total is the sum of the lines, so the invoice shows exactly what the cart
        showed. With ``free`` a zero total is allowed (an order whose discount covers it
        all); close such an invoice with :meth:`close_free`.

        Raises:
            ValidationError: as :meth:`issue`.
            CurrencyMismatchError: when lines are in different currencies.
        """
        if not lines:
            raise ValidationError("lines", [], "an invoice needs at least one line")
        if not number.strip():
            raise ValidationError("number", number, "an invoice needs a number")
        if due_on is not None and due_on < issued_on:
            raise ValidationError(
                "due_on", due_on, f"must not be before the issue date {issued_on}"
            )
        code = lines[0].amounts.gross.code
        total = TaxAmounts(
            net=sum_money((ln.amounts.net for ln in lines), code),
            tax=sum_money((ln.amounts.tax for ln in lines), code),
            gross=sum_money((ln.amounts.gross for ln in lines), code),
        )
        if total.gross.amount < 0 or (total.gross.amount == 0 and not free):
            raise ValidationError(
                "lines", str(total.gross), "an invoice total must be greater than zero"
            )
        for ln in lines:
            ln.amounts.gross.require_places()
        return cls(
            id=invoice_id,
            number=number,
            account_id=account_id,
            lines=tuple(lines),
            total=total,
            issued_on=issued_on,
            due_on=due_on,
            kind=kind,
            payment_method_id=payment_method_id,
            payer_id=payer_id,
        )

    # ------------------------------------------------------------------ reading

    @property
    def currency(self) -> str:
        """The invoice's currency code."""
        return self.total.gross.code

    @property
    def status(self) -> InvoiceStatus:
        """The stored status (never ``OVERDUE``; see :meth:`status_on`)."""
        return self._status

    @property
    def payments(self) -> tuple[InvoicePayment, ...]:
        """The payments applied, in order."""
        return tuple(self._payments)

    @property
    def paid(self) -> Money:
        """How much has been paid."""
        return sum_money((p.amount for p in self._payments), self.currency)

    @property
    def amount_due(self) -> Money:
        """What is left to pay (zero once paid, cancelled or deleted)."""
        if self._status not in _OPEN:
            return Money.zero(self.currency)
        return self.total.gross - self.paid

    @property
    def quote_requests(self) -> tuple[date, ...]:
        """The dates a quote was requested for this invoice."""
        return tuple(self._quotes)

    @property
    def closed_on(self) -> date | None:
        """When the invoice was paid in full, cancelled or deleted."""
        return self._closed_on

    @property
    def reason(self) -> str:
        """Why it was cancelled or deleted, if it was."""
        return self._reason

    def is_open(self) -> bool:
        """Whether something is still to be paid."""
        return self._status in _OPEN

    def status_on(self, today: date) -> InvoiceStatus:
        """The status shown on a day: ``OVERDUE`` when open and past its due date."""
        if self._status in _OPEN and self.due_on is not None and today > self.due_on:
            return InvoiceStatus.OVERDUE
        return self._status

    def actions(self) -> tuple[InvoiceAction, ...]:
        """What the customer may do with the invoice now."""
        return _ACTIONS[self._status]

    # ------------------------------------------------------------------ changes

    def pay(self, payment_id: str, amount: moneyed.Money, on: date) -> InvoicePayment:
        """Apply (part of) a payment.

        Applying the same payment id again with the same amount changes nothing and
        returns the first application, so a repeated gateway callback is harmless.

        Raises:
            InvalidTransitionError: when the invoice is paid, cancelled or deleted.
            CurrencyMismatchError: when the amount is in another currency.
            InvalidAmountError: when the amount is not positive, finer than the minor
                unit, or more than the amount due.
            ConflictError: when the payment id was applied with another amount.
        """
        money = Money(amount.amount, amount.currency)
        for p in self._payments:
            if p.payment_id == payment_id:
                if p.amount != money:
                    raise ConflictError(
                        f"payment {payment_id!r}",
                        f"already applied to invoice {self.number} with {p.amount}",
                    )
                return p
        self._require(InvoiceAction.PAY, "pay")
        if money.code != self.currency:
            raise CurrencyMismatchError(
                money.code, self.currency, f"payment for invoice {self.number}"
            )
        money.require_places().require_positive()
        due = self.amount_due
        if money > due:
            raise InvalidAmountError(
                str(money),
                f"invoice {self.number} has only {due} left to pay",
            )
        applied = InvoicePayment(payment_id, money, on)
        self._payments.append(applied)
        if money == due:  # nothing left to pay
            self._status = InvoiceStatus.PAID
            self._closed_on = on
        else:
            self._status = InvoiceStatus.PARTIALLY_PAID
        return applied

    def close_free(self, on: date) -> None:
        """Mark an unpaid invoice whose total is zero paid: there is nothing to pay.

        Raises:
            InvalidTransitionError: unless the invoice is unpaid.
            ValidationError: when the total is not zero.
        """
        self._require(InvoiceAction.PAY, "pay")
        if self.total.gross.amount != 0:
            raise ValidationError(
                "total", str(self.total.gross), "only an invoice of zero total closes unpaid"
            )
        self._status = InvoiceStatus.PAID
        self._closed_on = on

    def request_quote(self, on: date) -> None:
        """Record a request for a quote (a pro-forma document) of an unpaid invoice.

        Raises:
            InvalidTransitionError: unless the invoice is unpaid.
        """
        self._require(InvoiceAction.REQUEST_QUOTE, "request a quote")
        self._quotes.append(on)

    def delete(self, on: date, reason: str = "") -> None:
        """Delete an unpaid invoice, e.g. to pay its renewal by another method.

        Raises:
            InvalidTransitionError: unless the invoice is unpaid.
        """
        self._require(InvoiceAction.DELETE, "delete")
        self._status = InvoiceStatus.DELETED
        self._closed_on = on
        self._reason = reason

    def cancel(self, on: date, reason: str) -> None:
        """Cancel an unpaid invoice on the provider's side; it stays visible as cancelled.

        Raises:
            InvalidTransitionError: unless the invoice is unpaid.
            ValidationError: without a reason.
        """
        if not reason.strip():
            raise ValidationError("reason", reason, "say why the invoice is cancelled")
        if self._status is not InvoiceStatus.UNPAID:
            raise InvalidTransitionError(
                self._status.value,
                InvoiceStatus.CANCELLED.value,
                self._allowed_targets(),
            )
        self._status = InvoiceStatus.CANCELLED
        self._closed_on = on
        self._reason = reason

    def _allowed_targets(self) -> list[str]:
        if self._status is InvoiceStatus.UNPAID:
            return ["partially_paid", "paid", "cancelled", "deleted"]
        if self._status is InvoiceStatus.PARTIALLY_PAID:
            return ["paid"]
        return []

    def _require(self, action: InvoiceAction, verb: str) -> None:
        allowed = self.actions()
        if action not in allowed:
            raise InvalidTransitionError(
                f"invoice {self.number} ({self._status.value})",
                verb,
                [a.value for a in allowed],
            )


def invoice_order(invoice: Invoice) -> tuple[object, ...]:
    """The key that sorts invoices oldest first: by issue date, then naturally by number.

    Numbers compare as :func:`~cabinet_billing.domain.numbering.document_sort_key` does,
    so ``HOR-11111-999`` comes before ``HOR-11111-1000``.
    """
    return (invoice.issued_on, document_sort_key(invoice.number), invoice.id)


def filter_invoices(
    invoices: Iterable[Invoice],
    shown: InvoiceFilter = InvoiceFilter.UNPAID,
    today: date | None = None,
) -> list[Invoice]:
    """The invoice list: unpaid ones by default, or paid, overdue or all; never deleted ones.

    Newest first: by issue date, then by number in natural order
    (:func:`~cabinet_billing.domain.numbering.document_sort_key`), so ``HOR-11111-1000``
    comes before ``HOR-11111-999`` on the same day. ``OVERDUE`` needs ``today``.

    Raises:
        ValidationError: for ``OVERDUE`` without ``today``.
    """
    if shown is InvoiceFilter.OVERDUE and today is None:
        raise ValidationError("today", None, "the overdue filter needs the day to look at")
    day = today or date.min
    chosen = [i for i in invoices if shown.shows(i, day)]
    return sorted(chosen, key=invoice_order, reverse=True)
