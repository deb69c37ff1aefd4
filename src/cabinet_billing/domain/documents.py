"""Accounting documents: acts, statements, contracts, credit notes, e-document exchange (SPEC L8, A4, X3).

Astra Cloud prints three kinds of document for a payer: an *act of completed work* for
each billing month, a *reconciliation statement* for any period, and a *contract*, which
exists only once the payer has paid. Horoshop sends its acts through an e-document
exchange (Vchasno, M.E.Doc ...) and produces them only while that exchange is switched
on; its requisites cannot be edited while it is on.

Everything here is a value or a pure function over values: time is an argument, and
nothing is sent or stored. Sending goes through the
:class:`~cabinet_billing.ports.documents.DocumentExchange` port.

An act for a month's expenses, with 20% VAT included (Astra Cloud's example):

>>> from datetime import date
>>> from cabinet_billing import Money, TaxRate
>>> from cabinet_billing.domain.expense import Expense
>>> from cabinet_billing.domain.documents import build_act
>>> expenses = [
...     Expense(f"e{i}", "acc-1", "VPS", date(2024, 3, i), Money(a, "RUB"), payer_id="p-1")
...     for i, a in enumerate(("22.4137", "34.4827", "22.4137", "21.3464"), start=1)
... ]
>>> act = build_act("act-1", "A-1", account_id="acc-1", payer_id="p-1",
...                 month=date(2024, 3, 1), expenses=expenses, rate=TaxRate("20"))
>>> [str(line.amounts.tax) for line in act.lines], str(act.total.tax), str(act.total.gross)
(['3.74 RUB', '5.75 RUB', '3.73 RUB', '3.56 RUB'], '16.78 RUB', '100.66 RUB')
>>> act.expense_ids
('e1', 'e2', 'e3', 'e4')
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.allocation import allocate
from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.domain.customer import PostalAddress, check_email, check_phone
from cabinet_billing.domain.expense import (
    Expense,
    ExpenseBook,
    in_other_acts,
    in_other_acts_error,
)
from cabinet_billing.domain.invoice import Invoice, IssuedLine
from cabinet_billing.domain.ledger import EntryKind, LedgerEntry
from cabinet_billing.domain.money import HALF_UP, Money, Rounding, in_money_context, sum_money
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.domain.payer import BankDetails, Payer, Signatory, TaxId
from cabinet_billing.domain.tax import TaxAmounts, TaxMode, TaxRate, tax_breakdown
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import (
    ConflictError,
    CurrencyMismatchError,
    InvalidTransitionError,
    NotFoundError,
    PayerNotReplaceableError,
    ValidationError,
)

__all__ = [
    "Act",
    "ActLine",
    "Contract",
    "ContractStatus",
    "CreditNote",
    "CreditNoteReason",
    "CreditNoteStatus",
    "DocumentPolicy",
    "EDocumentExchange",
    "ExchangeRequisites",
    "ExchangeStatus",
    "NumberCheck",
    "ProviderRequisites",
    "ReconciliationLine",
    "ReconciliationSide",
    "ReconciliationStatement",
    "assign_expenses_to_act",
    "billing_month",
    "build_act",
    "build_reconciliation",
    "contract_for_first_payment",
    "credit_note_for_refund",
    "credit_note_to_balance",
    "ensure_can_issue_acts",
    "ensure_payer_replaceable",
    "release_act",
]


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, value, "must be a non-empty text")


def billing_month(day: date) -> date:
    """The first day of the billing month that contains ``day``.

    >>> billing_month(date(2024, 2, 29))
    datetime.date(2024, 2, 1)
    """
    if not isinstance(day, date):
        raise ValidationError("month", day, "expected a date in the billing month")
    return date(day.year, day.month, 1)


# ----------------------------------------------------------------------------- requisites


def _tax_id_tuple(value: Iterable[TaxId]) -> tuple[TaxId, ...]:
    ids = tuple(value)
    if not all(isinstance(t, TaxId) for t in ids):
        raise ValidationError("tax_ids", ids, "expected TaxId values")
    schemes = [t.scheme for t in ids]
    repeated = sorted({s for s in schemes if schemes.count(s) > 1})
    if repeated:
        raise ValidationError("tax_ids", ids, f"scheme(s) {', '.join(repeated)} given twice")
    return ids


def _provider_email(value: object) -> str:
    return check_email(value)


def _provider_phone(value: object) -> str:
    return check_phone(value)


@attrs.frozen
class ProviderRequisites:
    """The provider's own requisites, printed on every document it issues (SPEC L8).

    A setting of the host: give it to a document renderer once. The payer's requisites
    come from the :class:`~cabinet_billing.Payer` the document is made out to.

    Args:
        name: the provider's legal name.
        tax_ids: its tax and registration ids (INN/KPP, EDRPOU, VAT id ...).
        address: its registered address.
        bank: its bank details (bank name, BIC and account, or IBAN).
        email: where customers write about documents.
        phone: its phone.
        signatory: who signs its documents, and on what basis.

    >>> from cabinet_billing.domain.payer import BankDetails, TaxId
    >>> provider = ProviderRequisites(
    ...     "Astra Cloud LLC", tax_ids=(TaxId("inn", "7707083893"), TaxId("kpp", "770701001")),
    ...     bank=BankDetails(bank_name="Bank", bic="044525225", account="40702810938000000001"))
    >>> provider.tax_id("INN")
    '7707083893'
    >>> ProviderRequisites(" ")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: name=' ' is invalid: must be a non-empty text
    """

    name: str = attrs.field(validator=_text)
    tax_ids: tuple[TaxId, ...] = attrs.field(default=(), converter=_tax_id_tuple)
    address: PostalAddress | None = None
    bank: BankDetails | None = None
    email: str = attrs.field(default="", converter=_provider_email)
    phone: str = attrs.field(default="", converter=_provider_phone)
    signatory: Signatory | None = None

    def tax_id(self, scheme: str) -> str | None:
        """The number of the tax id ``scheme`` (case-insensitive), or ``None``."""
        wanted = scheme.lower()
        return next((t.value for t in self.tax_ids if t.scheme == wanted), None)


# ----------------------------------------------------------------------------- acts


@shared_copies
@attrs.frozen
class ActLine:
    """One expense on an act: what was done, when, and its net, tax and gross.

    Attributes:
        expense_id: the expense the line bills.
        description: the service's name.
        charged_on: the charge date.
        amount: the exact expense amount (accrual precision).
        amounts: net, tax and gross rounded to the currency's minor unit.
    """

    expense_id: str
    description: str
    charged_on: date
    amount: Money
    amounts: TaxAmounts


@shared_copies
@attrs.frozen
class Act:
    """An act of completed work: the expenses of one account (or payer) in one billing month.

    Build it with :func:`build_act`. Its lines agree with its total to the cent.

    Attributes:
        id: the act's id.
        number: its number as printed.
        account_id: the account whose services were rendered.
        payer_id: the payer the act is made out to, or ``None`` for the account.
        month: the first day of the billing month.
        rate: the tax rate applied.
        mode: whether the expense amounts include the tax.
        lines: one line per expense, in charge order.
        total: the act's net, tax and gross.
        additional: 0 for the month's act; 1, 2, ... for the additional acts of the
            expenses that reached the month after it was closed.
    """

    id: str = attrs.field(validator=_text)
    number: str = attrs.field(validator=_text)
    account_id: str
    payer_id: str | None
    month: date
    rate: TaxRate
    mode: TaxMode
    lines: tuple[ActLine, ...]
    total: TaxAmounts
    additional: int = 0

    @property
    def currency(self) -> str:
        """The act's currency code."""
        return self.total.gross.code

    @property
    def period_end(self) -> date:
        """The first day after the billing month."""
        return self.month + relativedelta(months=1)

    @property
    def expense_ids(self) -> tuple[str, ...]:
        """The ids of the expenses the act contains."""
        return tuple(line.expense_id for line in self.lines)


def build_act(
    act_id: str,
    number: str,
    *,
    account_id: str,
    month: date,
    expenses: Iterable[Expense],
    rate: TaxRate,
    mode: TaxMode = TaxMode.INCLUSIVE,
    payer_id: str | None = None,
    currency: str | None = None,
    rounding: Rounding = HALF_UP,
    additional: int = 0,
) -> Act | None:
    """Build the act of one billing month from the expenses charged in it.

    Only the expenses of ``account_id`` charged in the month of ``month`` (and billed to
    ``payer_id`` when given, and in ``currency`` when given) are taken; the others are
    ignored, so a whole expense history may be passed. Nothing is changed: mark the
    expenses with :func:`assign_expenses_to_act` once the act is stored.

    Args:
        act_id: the new act's id.
        number: its number as printed.
        account_id: the account.
        month: any day of the billing month.
        expenses: candidate expenses.
        rate: the tax rate.
        mode: whether the expense amounts include the tax (Astra Cloud: inclusive).
        payer_id: make the act out to this payer, with only its expenses.
        currency: only expenses in this currency.
        rounding: the rounding mode for the lines.
        additional: 0 for the month's act, n for its n-th additional act (of expenses
            that reached the month after it was closed).

    Returns:
        The act, or ``None`` when no expense was charged in the month.

    Raises:
        ConflictError: when a chosen expense is already in another act.
        CurrencyMismatchError: when the month's expenses are in several currencies and no
            ``currency`` was given.
        ValidationError: for an empty id or number.

    >>> build_act("act-2", "A-2", account_id="acc-1", month=date(2024, 4, 1),
    ...           expenses=[], rate=TaxRate("20")) is None
    True
    """
    start = billing_month(month)
    end = start + relativedelta(months=1)
    code = currency.upper() if currency else None
    chosen = [
        e
        for e in expenses
        if e.account_id == account_id
        and start <= e.charged_on < end
        and (payer_id is None or e.payer_id == payer_id)
        and (code is None or e.currency == code)
    ]
    if not chosen:
        return None
    codes = sorted({e.currency for e in chosen})
    if len(codes) > 1:
        raise CurrencyMismatchError(
            codes[1],
            codes[0],
            f"an expense of {start:%Y-%m} (an act has one currency: pass currency=)",
        )
    taken = in_other_acts(chosen, act_id)
    if taken:
        raise in_other_acts_error(taken)
    ordered = sorted(chosen, key=lambda e: e.charged_on)
    breakdown = tax_breakdown([e.amount for e in ordered], rate, mode, rounding)
    lines = tuple(
        ActLine(e.id, e.service_name, e.charged_on, e.amount, amounts)
        for e, amounts in zip(ordered, breakdown.lines, strict=True)
    )
    return Act(
        id=act_id,
        number=number,
        account_id=account_id,
        payer_id=payer_id,
        month=start,
        rate=rate,
        mode=mode,
        lines=lines,
        total=breakdown.total,
        additional=additional,
    )


def assign_expenses_to_act(act: Act, book: ExpenseBook) -> tuple[str, ...]:
    """Mark the act's expenses as contained in it: sets ``Expense.act_id`` to ``act.id``.

    This is the only place the documents module changes an expense, and it does so
    through the account's book (:meth:`ExpenseBook.assign_act`): the expenses of the act
    are the book's own, paid ones too, so the change is stored with the book. Either
    every expense of the act is marked, or (on an error) none is.

    Args:
        act: the stored act.
        book: the expense book of the act's account.

    Returns:
        The ids of the expenses marked.

    Raises:
        ValidationError: when an expense of the act is not in the book.
        ConflictError: when one of them is already in another act.
    """
    if book.account_id != act.account_id:
        raise ValidationError(
            "book", book.account_id, f"act {act.number} is of account {act.account_id!r}"
        )
    book.assign_act(act.id, act.expense_ids)
    return act.expense_ids


def release_act(act: Act, book: ExpenseBook) -> tuple[str, ...]:
    """Take the act's expenses out of it (when the act is deleted): clears ``Expense.act_id``.

    Astra Cloud's way to move unpaid expenses to another payer: delete the act, then make
    it out again to the right payer. Only the expenses the act lists are read
    (:meth:`ExpenseBook.release_act`); those no longer in it are left alone.

    Returns:
        The ids of the expenses released.
    """
    return book.release_act(act.id, act.expense_ids)


def ensure_payer_replaceable(expenses: Iterable[Expense], payer_id: str) -> None:
    """Refuse to replace a payer on a payment while its unpaid expenses are in an act (SPEC A4).

    Astra Cloud: if a payer has unpaid expenses that are already in an act of completed
    work, another payer cannot be chosen when creating a payment. Pay those expenses,
    or delete the act and make it out to the right payer.

    Args:
        expenses: the account's expenses.
        payer_id: the payer that would be replaced.

    Raises:
        PayerNotReplaceableError: naming the payer, the acts and the expenses.

    >>> from cabinet_billing import Money
    >>> e = Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("10", "RUB"), payer_id="p-1")
    >>> ensure_payer_replaceable([e], "p-1")
    >>> e.act_id = "act-1"
    >>> ensure_payer_replaceable([e], "p-1")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.PayerNotReplaceableError: payer 'p-1': has unpaid expenses e1 in act(s) act-1; pay the expenses, or delete the act(s) and make them out to the new payer
    """
    locked = [
        e for e in expenses if e.payer_id == payer_id and e.act_id is not None and not e.is_paid
    ]
    if locked:
        acts = tuple(dict.fromkeys(e.act_id for e in locked if e.act_id is not None))
        raise PayerNotReplaceableError(payer_id, acts, tuple(e.id for e in locked))


# ----------------------------------------------------------------------------- statements


class ReconciliationSide(enum.Enum):
    """Which column of a reconciliation statement a movement goes to."""

    DEBIT = "debit"
    """Takes from the customer's balance: charges, refunds paid out, negative corrections."""
    CREDIT = "credit"
    """Adds to the customer's balance: payments, cashback, positive corrections."""


@attrs.frozen
class ReconciliationLine:
    """One movement of a reconciliation statement.

    Attributes:
        at: when it was booked.
        on: its date in the statement's time zone.
        side: debit or credit.
        amount: the amount, positive.
        description: the entry's memo, or its kind and reference.
        memo: the entry's memo (empty when it has none).
        kind: the ledger entry's kind.
        ref: what caused it (payment, expense ...).
        seq: the ledger entry's sequence number.
    """

    at: datetime
    on: date
    side: ReconciliationSide
    amount: Money
    description: str
    memo: str
    kind: EntryKind
    ref: str | None
    seq: int

    @property
    def debit(self) -> Money:
        """The amount if a debit, else zero."""
        return (
            self.amount if self.side is ReconciliationSide.DEBIT else Money.zero(self.amount.code)
        )

    @property
    def credit(self) -> Money:
        """The amount if a credit, else zero."""
        return (
            self.amount if self.side is ReconciliationSide.CREDIT else Money.zero(self.amount.code)
        )


@attrs.frozen
class ReconciliationStatement:
    """A reconciliation statement of one account (or payer) in one currency for [start, end).

    Build it with :func:`build_reconciliation`. ``closing == opening + credits - debits``
    always; construction refuses anything else.

    Attributes:
        account_id: the account.
        payer_id: the payer it is made out to, or ``None``.
        currency: the currency code.
        start: the first day of the period.
        end: the first day after the period.
        opening: the balance before ``start``.
        lines: the movements in the period, in booking order.
        debits: the total of the debit column.
        credits: the total of the credit column.
        closing: the balance at ``end``.
    """

    account_id: str
    payer_id: str | None
    currency: str
    start: date
    end: date
    opening: Money
    lines: tuple[ReconciliationLine, ...]
    debits: Money
    credits: Money
    closing: Money

    def __attrs_post_init__(self) -> None:
        if self.closing != self.opening + self.credits - self.debits:
            raise ValidationError(
                "closing",
                str(self.closing),
                f"must equal opening {self.opening} + credits {self.credits} "
                f"- debits {self.debits}",
            )

    @property
    def last_day(self) -> date:
        """The last day the statement covers."""
        return self.end - relativedelta(days=1)


def _description(entry: LedgerEntry) -> str:
    if entry.memo:
        return entry.memo
    return f"{entry.kind.value} {entry.ref}" if entry.ref else entry.kind.value


@in_money_context
def build_reconciliation(
    entries: Iterable[LedgerEntry],
    *,
    account_id: str,
    currency: str,
    start: date,
    end: date,
    payer_id: str | None = None,
    tz: tzinfo = UTC,
    opening: Money | None = None,
) -> ReconciliationStatement:
    """Build a reconciliation statement from ledger entries for the days [start, end).

    Pass the account's entries (for a payer's statement, the entries of that payer's
    payments and expenses). Entries in other currencies are left out; an entry counts on
    its date in ``tz`` (the provider's time zone). Positive entries are credits, negative
    ones debits; a reversal lands in the column opposite to the entry it undoes.

    Args:
        entries: ledger entries of the account, in any order.
        account_id: the account.
        currency: the statement's currency.
        start: the first day of the period.
        end: the first day after the period.
        payer_id: the payer the statement is made out to, if any.
        tz: the time zone whose dates the period is in.
        opening: what the entries before the period add up to, when ``entries`` hold
            only the period's (a store read them by range and added the others up); the
            entries before ``start`` that are passed are added to it.

    Raises:
        ValidationError: when ``end`` is not after ``start``, or an entry belongs to
            another account.

    >>> from datetime import datetime, timezone
    >>> from cabinet_billing import Money
    >>> from cabinet_billing.domain.ledger import Ledger
    >>> ledger = Ledger("acc-1")
    >>> _ = ledger.top_up(Money("100", "RUB"), datetime(2024, 2, 20, tzinfo=timezone.utc))
    >>> _ = ledger.charge(Money("22.4137", "RUB"), datetime(2024, 3, 5, tzinfo=timezone.utc), ref="e1")
    >>> s = build_reconciliation(ledger.entries(), account_id="acc-1", currency="RUB",
    ...                          start=date(2024, 3, 1), end=date(2024, 4, 1))
    >>> str(s.opening), str(s.debits), str(s.credits), str(s.closing)
    ('100 RUB', '22.4137 RUB', '0 RUB', '77.5863 RUB')
    """
    if not end > start:
        raise ValidationError("end", end, f"must be after the start {start}")
    code = currency.upper()
    before = Decimal(0) if opening is None else opening.amount
    chosen: list[tuple[date, LedgerEntry]] = []
    for entry in entries:
        if entry.account_id != account_id:
            raise ValidationError(
                "entries",
                f"entry {entry.seq} of account {entry.account_id!r}",
                f"only entries of account {account_id!r} belong on this statement",
            )
        if entry.amount.code != code:
            continue
        day = entry.at.astimezone(tz).date()
        if day < start:
            before += entry.amount.amount
        elif day < end:
            chosen.append((day, entry))
    chosen.sort(key=lambda pair: (pair[1].at, pair[1].seq))
    lines = tuple(
        ReconciliationLine(
            at=entry.at,
            on=day,
            side=ReconciliationSide.CREDIT if entry.amount.amount > 0 else ReconciliationSide.DEBIT,
            amount=abs(entry.amount),
            description=_description(entry),
            memo=entry.memo,
            kind=entry.kind,
            ref=entry.ref,
            seq=entry.seq,
        )
        for day, entry in chosen
        if entry.amount.amount
    )
    debits = sum_money((ln.debit for ln in lines), code)
    credit_total = sum_money((ln.credit for ln in lines), code)
    opening_money = Money(before, code)
    return ReconciliationStatement(
        account_id=account_id,
        payer_id=payer_id,
        currency=code,
        start=start,
        end=end,
        opening=opening_money,
        lines=lines,
        debits=debits,
        credits=credit_total,
        closing=opening_money + credit_total - debits,
    )


# ----------------------------------------------------------------------------- contracts


class ContractStatus(enum.Enum):
    """Whether a contract is in force."""

    ACTIVE = "active"
    TERMINATED = "terminated"


@shared_copies
@attrs.frozen
class Contract:
    """A contract with a payer, concluded by its first payment (Astra Cloud "Договор").

    The number identifies the contract; :attr:`Payer.contracts` lists contract numbers.

    Attributes:
        number: the contract's number, unique among the provider's contracts.
        payer_id: the payer.
        started_on: the date of the first payment.
        payment_id: the payment that concluded it.
        status: active or terminated.
        terminated_on: when it was terminated.
    """

    number: str = attrs.field(validator=_text)
    payer_id: str = attrs.field(validator=_text)
    started_on: date
    payment_id: str | None = None
    status: ContractStatus = ContractStatus.ACTIVE
    terminated_on: date | None = None

    def terminate(self, on: date) -> Contract:
        """The contract, terminated on ``on``.

        Raises:
            InvalidTransitionError: when it is already terminated.
            ValidationError: when ``on`` is before the start date.
        """
        if self.status is ContractStatus.TERMINATED:
            raise InvalidTransitionError(
                ContractStatus.TERMINATED.value, ContractStatus.TERMINATED.value, ()
            )
        if on < self.started_on:
            raise ValidationError("on", on, f"must not be before the start {self.started_on}")
        return attrs.evolve(self, status=ContractStatus.TERMINATED, terminated_on=on)


def contract_for_first_payment(
    existing_contracts: Iterable[Contract],
    payer_id: str,
    payment_id: str,
    on: date,
    *,
    number_format: NumberFormat | None = None,
    number: str | None = None,
) -> Contract | None:
    """The contract a payment concludes, or ``None`` when the payer already has one.

    A payer's contract appears only after its first payment. A payer whose contracts are
    all terminated gets a new one with its next payment.

    Args:
        existing_contracts: every contract numbered in the same sequence (the provider's
            contracts), so that the next number is free.
        payer_id: the payer who paid.
        payment_id: the payment.
        on: the payment date, the contract's start.
        number_format: how to number it; the sequence is the count of existing
            contracts plus one (default: the bare sequence).
        number: a number chosen by the host instead.

    Raises:
        ConflictError: when the number is already used.

    >>> first = contract_for_first_payment([], "p-1", "pay-1", date(2024, 3, 5))
    >>> first.number, first.status.value
    ('1', 'active')
    >>> contract_for_first_payment([first], "p-1", "pay-2", date(2024, 4, 5)) is None
    True
    """
    known = list(existing_contracts)
    if any(c.payer_id == payer_id and c.status is ContractStatus.ACTIVE for c in known):
        return None
    fmt = number_format if number_format is not None else NumberFormat("{seq}")
    chosen = number if number is not None else fmt.format(len(known) + 1)
    if any(c.number == chosen for c in known):
        raise ConflictError(
            f"contract number {chosen!r}", "already used; contract numbers are unique"
        )
    return Contract(number=chosen, payer_id=payer_id, started_on=on, payment_id=payment_id)


# ----------------------------------------------------------------------------- credit notes


class CreditNoteReason(enum.Enum):
    """What a credit note gives back (SPEC X3)."""

    REFUND = "refund"
    """Money returned to the payment method."""
    BALANCE_CREDIT = "balance_credit"
    """An amount credited to the customer's balance."""
    OFFSET = "offset"
    """The unpaid part of an invoice, written off."""


class CreditNoteStatus(enum.Enum):
    """Whether a credit note stands."""

    ISSUED = "issued"
    VOID = "void"


@shared_copies
@attrs.frozen
class CreditNote:
    """A numbered credit note: a refund or a downward correction of what was billed (SPEC X3).

    An issued invoice is never edited; what is given back is a credit note, taxed like
    the invoice it corrects. Build one with :func:`credit_note_for_refund`. A note is
    *applied* once what it gives back has happened (a refund already paid out is); a
    note not yet applied can be voided.

    Attributes:
        id: the note's id.
        number: its number as printed.
        account_id: the account.
        issued_on: its date.
        reason: what it gives back.
        lines: what is given back, with net, tax rate, tax and gross per line.
        total: the note's net, tax and gross.
        invoice_id: the invoice it corrects, if any.
        invoice_number: that invoice's number, as printed on the note.
        payment_id: the payment refunded, if any.
        payer_id: the payer it is made out to, if any.
        applied: whether what it gives back has happened.
        status: issued or void.
        voided_on: when it was voided.
    """

    id: str = attrs.field(validator=_text)
    number: str = attrs.field(validator=_text)
    account_id: str = attrs.field(validator=_text)
    issued_on: date
    reason: CreditNoteReason
    lines: tuple[IssuedLine, ...]
    total: TaxAmounts
    invoice_id: str | None = None
    invoice_number: str | None = None
    payment_id: str | None = None
    payer_id: str | None = None
    applied: bool = False
    status: CreditNoteStatus = CreditNoteStatus.ISSUED
    voided_on: date | None = None

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise ValidationError("lines", [], "a credit note gives back at least one line")
        if self.total.gross.amount <= 0:
            raise ValidationError(
                "total", str(self.total.gross), "a credit note gives back more than zero"
            )

    @property
    def currency(self) -> str:
        """The note's currency code."""
        return self.total.gross.code

    def void(self, on: date) -> CreditNote:
        """The note, voided on ``on``.

        Raises:
            InvalidTransitionError: when it is void already or applied (a refund paid
                out cannot be taken back by voiding its note).
            ValidationError: when ``on`` is before its date.
        """
        if self.status is CreditNoteStatus.VOID or self.applied:
            state = "void" if self.status is CreditNoteStatus.VOID else "applied"
            raise InvalidTransitionError(f"credit note {self.number} ({state})", "void", ())
        if on < self.issued_on:
            raise ValidationError("on", on, f"must not be before the note's date {self.issued_on}")
        return attrs.evolve(self, status=CreditNoteStatus.VOID, voided_on=on)


def credit_note_for_refund(
    note_id: str,
    number: str,
    *,
    account_id: str,
    amount: Money,
    on: date,
    payment_id: str,
    invoice: Invoice | None = None,
    rate: TaxRate | None = None,
    payer_id: str | None = None,
    rounding: Rounding = HALF_UP,
) -> CreditNote:
    """The credit note of a refund: what was paid back, taxed like the invoice it paid.

    The amount is gross (money returned includes its tax). With an ``invoice``, it is
    split over the invoice's tax rates in proportion to their gross, each part taxed at
    its rate, so that the note's tax undoes the invoice's share exactly; without one, it
    is taxed at ``rate`` (``None``: no tax). A refund is applied as soon as it is booked.

    Args:
        note_id: the note's id.
        number: its number.
        account_id: the account.
        amount: what was refunded, gross.
        on: the refund's date.
        payment_id: the payment refunded.
        invoice: the invoice the payment paid (an advance-payment invoice for a top-up).
        rate: the tax rate without an invoice.
        payer_id: the payer the note is made out to.
        rounding: the rounding mode.

    Raises:
        ValidationError: for an amount that is not positive.
        CurrencyMismatchError: for an amount in another currency than the invoice.

    >>> from cabinet_billing import Money, TaxRate
    >>> note = credit_note_for_refund("cn-1", "CN-1", account_id="acc-1",
    ...     amount=Money("120.00", "RUB"), on=date(2024, 3, 9), payment_id="pay-1",
    ...     rate=TaxRate("20"))
    >>> str(note.total.net), str(note.total.tax), note.lines[0].text.msgid, note.applied
    ('100.00 RUB', '20.00 RUB', 'line.refund', True)
    """
    money = Money(amount.amount, amount.currency)
    if money.amount <= 0:
        raise ValidationError(
            "amount", str(money), "a refund's credit note needs an amount above zero"
        )
    if invoice is not None and invoice.currency != money.code:
        raise CurrencyMismatchError(
            money.code, invoice.currency, f"refund of invoice {invoice.number}"
        )
    if invoice is None:
        text = LineText.of("line.refund", payment=payment_id)
    else:
        text = LineText.of("line.refund_of_invoice", number=invoice.number, payment=payment_id)
    lines, total = _note_lines(money, text, invoice, rate, rounding)
    return CreditNote(
        id=note_id,
        number=number,
        account_id=account_id,
        issued_on=on,
        reason=CreditNoteReason.REFUND,
        lines=lines,
        total=total,
        invoice_id=None if invoice is None else invoice.id,
        invoice_number=None if invoice is None else invoice.number,
        payment_id=payment_id,
        payer_id=payer_id if payer_id is not None else (invoice.payer_id if invoice else None),
        applied=True,
    )


def _note_lines(
    money: Money,
    text: LineText,
    invoice: Invoice | None,
    rate: TaxRate | None,
    rounding: Rounding,
) -> tuple[tuple[IssuedLine, ...], TaxAmounts]:
    """A note's lines for ``money`` (gross): split like the invoice's tax rates, or at ``rate``."""
    if invoice is None:
        groups: list[tuple[TaxRate | None, Money]] = [(rate, money)]
    else:
        by_rate: dict[TaxRate | None, Decimal] = {}
        for ln in invoice.lines:
            by_rate[ln.rate] = by_rate.get(ln.rate, Decimal(0)) + ln.amounts.gross.amount
        rates = list(by_rate)
        parts = allocate(money, [by_rate[r] for r in rates], rounding)
        groups = [(r, part) for r, part in zip(rates, parts, strict=True) if part.amount > 0]
    no_tax = TaxRate("0", "no tax")
    breakdown = tax_breakdown(
        [part for _, part in groups],
        [r if r is not None else no_tax for r, _ in groups],
        TaxMode.INCLUSIVE,
        rounding,
    )
    lines = tuple(
        IssuedLine(text.fallback, amounts, r, text=text)
        for (r, _), amounts in zip(groups, breakdown.lines, strict=True)
    )
    return lines, breakdown.total


def credit_note_to_balance(
    note_id: str,
    number: str,
    *,
    account_id: str,
    amount: Money,
    on: date,
    text: LineText,
    rate: TaxRate | None = None,
    payer_id: str | None = None,
    rounding: Rounding = HALF_UP,
) -> CreditNote:
    """The credit note of an amount credited to the balance: unused days given back (SPEC X3).

    A plan changed down, or a service ended before its paid period, gives the unused
    days back to the balance; the note records it, taxed at ``rate`` (``None``: no
    tax). It is applied as soon as the balance is credited.

    Raises:
        ValidationError: for an amount that is not positive.

    >>> from cabinet_billing import Money, TaxRate
    >>> text = LineText.of("line.unused_days", plan="VPS L", start=date(2024, 3, 20),
    ...                    end=date(2024, 4, 5))
    >>> note = credit_note_to_balance("cn-1", "CN-1", account_id="acc-1",
    ...     amount=Money("12.00", "EUR"), on=date(2024, 3, 20), text=text, rate=TaxRate("20"))
    >>> note.reason.value, str(note.total.net), str(note.total.tax), note.applied
    ('balance_credit', '10.00 EUR', '2.00 EUR', True)
    """
    money = Money(amount.amount, amount.currency)
    if money.amount <= 0:
        raise ValidationError("amount", str(money), "a balance credit needs an amount above zero")
    lines, total = _note_lines(money, text, None, rate, rounding)
    return CreditNote(
        id=note_id,
        number=number,
        account_id=account_id,
        issued_on=on,
        reason=CreditNoteReason.BALANCE_CREDIT,
        lines=lines,
        total=total,
        payer_id=payer_id,
        applied=True,
    )


# ----------------------------------------------------------------------------- e-document exchange

#: A number check: takes the text and the field name, returns the normalized number or
#: raises ValidationError (the shape of the checks in ``cabinet_billing.rules.requisites``).
NumberCheck = Callable[[str, str], str]


def _compact_number(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "expected text, or '' when not given")
    return "".join(value.split()).upper()


def _edrpou(value: object) -> str:
    return _compact_number(value, "edrpou")


def _rnokpp(value: object) -> str:
    return _compact_number(value, "rnokpp")


def _iban(value: object) -> str:
    return _compact_number(value, "iban")


@attrs.frozen
class ExchangeRequisites:
    """What an e-document exchange needs to connect: EDRPOU or RNOKPP, and an IBAN.

    Blanks are dropped. Empty means not given.

    >>> ExchangeRequisites(edrpou="3285 5961", iban="ua21 3223 1300 0002 6007 2335 6600 1")
    ExchangeRequisites(edrpou='32855961', rnokpp='', iban='UA213223130000026007233566001')
    """

    edrpou: str = attrs.field(default="", converter=_edrpou)
    rnokpp: str = attrs.field(default="", converter=_rnokpp)
    iban: str = attrs.field(default="", converter=_iban)

    @classmethod
    def from_payer(cls, payer: Payer) -> ExchangeRequisites:
        """The requisites a payer holds (tax ids ``edrpou``/``rnokpp``, bank IBAN)."""
        return cls(
            edrpou=payer.tax_id("edrpou") or "",
            rnokpp=payer.tax_id("rnokpp") or "",
            iban=payer.bank.iban if payer.bank is not None else "",
        )

    def missing(self) -> tuple[str, ...]:
        """What is missing to switch an exchange on (empty when nothing is).

        >>> ExchangeRequisites().missing()
        ('edrpou or rnokpp', 'iban')
        """
        missing = []
        if not (self.edrpou or self.rnokpp):
            missing.append("edrpou or rnokpp")
        if not self.iban:
            missing.append("iban")
        return tuple(missing)

    def checked(self, checks: Mapping[str, NumberCheck]) -> ExchangeRequisites:
        """The requisites after running each given field through its check.

        Args:
            checks: a check per field name (``edrpou``, ``rnokpp``, ``iban``); fields
                without a check, or empty, are kept as they are.

        Raises:
            ValidationError: from a check, naming the field and value.
        """
        values = {}
        for field in ("edrpou", "rnokpp", "iban"):
            value: str = getattr(self, field)
            check = checks.get(field)
            values[field] = check(value, field) if value and check is not None else value
        return ExchangeRequisites(**values)


class ExchangeStatus(enum.Enum):
    """Whether documents are exchanged electronically (Horoshop "Активировано")."""

    OFF = "off"
    ON = "on"


@attrs.define
class EDocumentExchange:
    """The e-document exchange setting of one account (Horoshop's Vchasno integration).

    While it is on, acts go to the exchange and the requisites are locked: switch it off,
    edit them, switch it on again.

    Args:
        account_id: the account.
        provider: the exchange's name, e.g. ``"Vchasno"`` or ``"M.E.Doc"``.

    >>> exchange = EDocumentExchange("acc-1", "Vchasno")
    >>> exchange.switch_on(ExchangeRequisites(rnokpp="1759013776"), on=date(2024, 3, 1))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: requisites=('iban',) is invalid: switching on the Vchasno exchange needs EDRPOU (companies) or RNOKPP (sole proprietors) plus IBAN; missing: iban
    >>> exchange.is_on
    False
    """

    account_id: str = attrs.field(validator=_text)
    provider: str = attrs.field(validator=_text)
    _status: ExchangeStatus = attrs.field(default=ExchangeStatus.OFF, alias="_status")
    _requisites: ExchangeRequisites | None = attrs.field(default=None, alias="_requisites")
    _since: date | None = attrs.field(default=None, alias="_since")

    @property
    def status(self) -> ExchangeStatus:
        """On or off."""
        return self._status

    @property
    def is_on(self) -> bool:
        """Whether documents are exchanged now."""
        return self._status is ExchangeStatus.ON

    @property
    def requisites(self) -> ExchangeRequisites | None:
        """The requisites it was last switched on with, if ever."""
        return self._requisites

    @property
    def since(self) -> date | None:
        """When it was last switched on or off."""
        return self._since

    def switch_on(
        self,
        requisites: ExchangeRequisites,
        *,
        on: date,
        checks: Mapping[str, NumberCheck] | None = None,
    ) -> None:
        """Switch the exchange on with the account's requisites.

        Args:
            requisites: EDRPOU (companies) or RNOKPP (sole proprietors), plus IBAN.
            on: the date.
            checks: number checks per field, e.g. ``check_edrpou``, ``check_rnokpp`` and
                ``check_iban`` from :mod:`cabinet_billing.rules.requisites`.

        Raises:
            ValidationError: naming what is missing, or from a check; nothing changes.
            InvalidTransitionError: when it is already on.
        """
        if self.is_on:
            raise InvalidTransitionError(
                ExchangeStatus.ON.value, ExchangeStatus.ON.value, (ExchangeStatus.OFF.value,)
            )
        missing = requisites.missing()
        if missing:
            raise ValidationError(
                "requisites",
                missing,
                f"switching on the {self.provider} exchange needs EDRPOU (companies) or "
                f"RNOKPP (sole proprietors) plus IBAN; missing: {', '.join(missing)}",
            )
        checked = requisites.checked(checks or {})
        self._requisites = checked
        self._status = ExchangeStatus.ON
        self._since = on

    def switch_off(self, *, on: date) -> None:
        """Switch the exchange off; the requisites are kept for switching on again.

        Raises:
            InvalidTransitionError: when it is already off.
        """
        if not self.is_on:
            raise InvalidTransitionError(
                ExchangeStatus.OFF.value, ExchangeStatus.OFF.value, (ExchangeStatus.ON.value,)
            )
        self._status = ExchangeStatus.OFF
        self._since = on

    def ensure_requisites_editable(self) -> None:
        """Refuse editing the requisites while the exchange is on.

        The refusal is a state conflict, not a missing right: the account owner is
        refused too, and switching the exchange off resolves it.

        Raises:
            ConflictError: while the exchange is on.
        """
        if self.is_on:
            raise ConflictError(
                f"requisites of account {self.account_id!r}",
                f"cannot be changed while the {self.provider} e-document exchange is on; "
                "switch it off first, edit them, then switch it on again",
            )


@attrs.frozen
class DocumentPolicy:
    """How a provider issues documents.

    Args:
        acts_require_exchange: acts are produced only while the account's e-document
            exchange is on (Horoshop).
    """

    acts_require_exchange: bool = False


def ensure_can_issue_acts(policy: DocumentPolicy, exchange: EDocumentExchange | None) -> None:
    """Refuse to produce acts when the policy needs an exchange that is not on.

    Args:
        policy: the provider's document policy.
        exchange: the account's exchange setting, or ``None`` if it never had one.

    Raises:
        ConflictError: when acts require the exchange and it is off or missing.

    >>> ensure_can_issue_acts(DocumentPolicy(), None)
    >>> ensure_can_issue_acts(DocumentPolicy(acts_require_exchange=True), None)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ConflictError: acts: are produced only while the e-document exchange is on; it is not set up; switch it on with EDRPOU or RNOKPP plus IBAN
    """
    if not policy.acts_require_exchange or (exchange is not None and exchange.is_on):
        return
    subject = "acts" if exchange is None else f"acts of account {exchange.account_id!r}"
    state = "it is not set up" if exchange is None else f"{exchange.provider} is off"
    raise ConflictError(
        subject,
        f"are produced only while the e-document exchange is on; {state}; "
        "switch it on with EDRPOU or RNOKPP plus IBAN",
    )


# ----------------------------------------------------------------------------- per account


@attrs.define
class AccountDocuments:
    """The documents of one account: its acts, its payers' contracts, its exchange setting.

    Args:
        account_id: the account.

    >>> docs = AccountDocuments("acc-1")
    >>> docs.add_contract(Contract("C-1", "p-1", date(2024, 3, 5)))
    >>> docs.active_contract("p-1").number, docs.active_contract("p-2")
    ('C-1', None)
    """

    account_id: str
    _acts: list[Act] = attrs.field(factory=list, alias="_acts")
    _contracts: list[Contract] = attrs.field(factory=list, alias="_contracts")
    exchange: EDocumentExchange | None = None
    _credit_notes: list[CreditNote] = attrs.field(factory=list, alias="_credit_notes")

    @property
    def acts(self) -> tuple[Act, ...]:
        """The acts, oldest first."""
        return tuple(self._acts)

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """The contracts, oldest first."""
        return tuple(self._contracts)

    def add_act(self, act: Act) -> None:
        """Keep an act.

        Raises:
            ConflictError: when an act with its id or number is kept already, or the
                account already has an act for that month and payer.
        """
        for other in self._acts:
            if other.id == act.id or other.number == act.number:
                raise ConflictError(f"act {act.number!r}", "is kept already")
            if (other.month, other.payer_id, other.currency, other.additional) == (
                act.month,
                act.payer_id,
                act.currency,
                act.additional,
            ):
                raise ConflictError(
                    f"act {act.number!r}",
                    f"act {other.number} already covers {act.month:%Y-%m} for this payer",
                )
        self._acts.append(act)

    def additional_acts(self, month: date, payer_id: str | None, currency: str) -> int:
        """How many additional acts the month has for the payer and currency."""
        return max(
            (
                a.additional
                for a in self._acts
                if (a.month, a.payer_id, a.currency) == (month, payer_id, currency)
            ),
            default=0,
        )

    @property
    def credit_notes(self) -> tuple[CreditNote, ...]:
        """The credit notes, oldest first."""
        return tuple(self._credit_notes)

    def credit_note(self, note_id: str) -> CreditNote:
        """A credit note by its id.

        Raises:
            NotFoundError: when the account has no such note.
        """
        for note in self._credit_notes:
            if note.id == note_id:
                return note
        raise NotFoundError("credit note", note_id)

    def add_credit_note(self, note: CreditNote) -> None:
        """Keep a credit note.

        Raises:
            ConflictError: when a note with its id or number is kept already.
        """
        if any(n.id == note.id or n.number == note.number for n in self._credit_notes):
            raise ConflictError(f"credit note {note.number!r}", "is kept already")
        self._credit_notes.append(note)

    def void_credit_note(self, note_id: str, on: date) -> CreditNote:
        """Void a credit note not yet applied (see :meth:`CreditNote.void`)."""
        note = self.credit_note(note_id)
        voided = note.void(on)
        self._credit_notes[self._credit_notes.index(note)] = voided
        return voided

    def add_contract(self, contract: Contract) -> None:
        """Keep a contract.

        Raises:
            ConflictError: when its number is kept already.
        """
        if any(c.number == contract.number for c in self._contracts):
            raise ConflictError(f"contract {contract.number!r}", "is kept already")
        self._contracts.append(contract)

    def active_contract(self, payer_id: str) -> Contract | None:
        """The payer's contract in force, if any."""
        for c in self._contracts:
            if c.payer_id == payer_id and c.status is ContractStatus.ACTIVE:
                return c
        return None

    def _contract_index(self, number: str) -> int:
        for i, c in enumerate(self._contracts):
            if c.number == number:
                return i
        raise NotFoundError("contract", number)

    def reassign_contract(self, number: str, payer_id: str) -> Contract:
        """Make a contract out to another payer (merging payers, Astra Cloud).

        >>> docs = AccountDocuments("acc-1")
        >>> docs.add_contract(Contract("C-1", "p-2", date(2024, 3, 5)))
        >>> docs.reassign_contract("C-1", "p-1").payer_id
        'p-1'

        Raises:
            NotFoundError: for an unknown contract number.
            ValidationError: for an empty payer id.
        """
        i = self._contract_index(number)
        contract = attrs.evolve(self._contracts[i], payer_id=payer_id)
        self._contracts[i] = contract
        return contract

    def terminate_contract(self, number: str, on: date) -> Contract:
        """Terminate a contract on ``on``; it is kept, for the record.

        Raises:
            NotFoundError: for an unknown contract number.
            InvalidTransitionError: when it is terminated already.
            ValidationError: when ``on`` is before its start.
        """
        i = self._contract_index(number)
        contract = self._contracts[i].terminate(on)
        self._contracts[i] = contract
        return contract
