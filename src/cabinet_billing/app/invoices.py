"""The cabinet's invoices: the list, paying, deleting and sharing a pay link (SPEC L2, L4, L5).

The list shows unpaid invoices by default (Introserv), or paid, overdue or all of them,
optionally only those of one service ("all invoices of this order"), newest first and a
page at a time (see :mod:`cabinet_billing.app.paging`).

An invoice is paid from the balance when the balance (and, where the credit line allows,
the available credit) covers it; otherwise the result says how much is missing and which
methods can take it. Paying by a method starts a payment for exactly this invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_CEILING

from cabinet_billing.app.charges import Charges
from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.app.orders import cancel_order_services
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, page_of, window
from cabinet_billing.app.pay_links import ensure_pay_without_login
from cabinet_billing.app.results import InvoiceReissued, InvoiceSettled, PayResult, TopUpNeeded
from cabinet_billing.app.webhooks import remember_key
from cabinet_billing.domain.events import InvoiceDeleted
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceKind
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.outbox import OutboxMessage
from cabinet_billing.domain.paylink import PayLink
from cabinet_billing.domain.payment import BALANCE_METHOD, Payment
from cabinet_billing.errors import (
    ConflictError,
    NotFoundError,
    PaymentMethodFixedError,
    ValidationError,
)
from cabinet_billing.ports.listing import InvoiceQuery
from cabinet_billing.rules.credit_limit import CreditAction

__all__ = ["CabinetInvoices"]


class CabinetInvoices:
    """The account's invoices (right ``invoices.view`` to read, ``invoices.pay`` to act)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def list(
        self,
        status: InvoiceFilter | str = InvoiceFilter.UNPAID,
        *,
        service_id: str | None = None,
        newest_first: bool = True,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[Invoice]:
        """A page of the account's invoices (SPEC L4).

        Args:
            status: ``"unpaid"`` (the default, as Introserv shows), ``"paid"``,
                ``"overdue"`` or ``"all"`` (every invoice but the deleted ones).
            service_id: only the invoices with a line for this service (Introserv's
                "all invoices of this order").
            newest_first: newest first (by issue date, then by number in natural order:
                ``HOR-11111-1000`` before ``HOR-11111-999``), else oldest first.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            NotFoundError: for a service of another account.
            ValidationError: for an unknown status, a limit out of range or a cursor that
                is not an invoice of this list.
        """
        shown = InvoiceFilter.of(status)
        with self._gate.open("invoices.view") as call:
            uow, account_id, today = call.uow, call.account.id, call.today
            if service_id is not None and uow.services.get(service_id).account_id != account_id:
                raise NotFoundError("service", service_id)
            asked = window(limit, after, newest_first=newest_first)
            query = InvoiceQuery(shown, today, service_id)
            return page_of(uow.invoices.page(account_id, query, asked), _invoice_id)

    def get(self, invoice_id: str) -> Invoice:
        """One invoice of the account, with its lines, payments and actions.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            NotFoundError: for an invoice of another account.
        """
        with self._gate.open("invoices.view") as call:
            return self._ctx.invoice_of(call.uow, call.account.id, invoice_id)

    def pay(
        self,
        invoice_id: str,
        *,
        method_id: str | None = None,
        payer_id: str | None = None,
        return_url: str | None = None,
        remember: bool = False,
    ) -> PayResult:
        """Pay an invoice from the balance, or directly by a method (SPEC L2).

        With a method and ``remember``, the card or wallet paid with is saved once the
        provider's credit callback brings its token (SPEC R5, "remember this method").

        Without a method, the balance pays when it covers the amount due; otherwise the
        result says how much is missing and which methods can take that amount. With a
        method, a payment for exactly this invoice is started; when the provider confirms
        it, the invoice is paid and the balance is left as it was.

        With a ``payer_id``, that payer of the account pays: the invoice's expenses are
        billed to it (SPEC A4); without one, to the payer the invoice is made out to.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for an invoice of another account or an unknown method.
            InvalidTransitionError: when the invoice is paid, cancelled or deleted.
            CreditBlockedError: paying from the balance while the credit line is blocked.
            PayerNotReplaceableError: as ``payer_id`` (or the payer the invoice is made
                out to), while another payer has unpaid expenses in an act.
            PaymentMethodFixedError: for an order's invoice paid by another method than
                its checkout chose, or from the balance when it chose a method (SPEC C4).
        """
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            uow, now = call.uow, call.now
            account_id = call.account.id
            ctx.ensure_profile_may_pay(uow, account_id)
            invoice = ctx.invoice_of(uow, account_id, invoice_id)
            # Without a payer chosen, the payer the invoice is made out to pays (SPEC A4).
            ctx.ensure_payer_may_pay(uow, account_id, payer_id or invoice.payer_id)
            require_open(invoice)
            due = invoice.amount_due
            if method_id is not None:
                method = ctx.settings.method(method_id, due.code)
            ctx.ensure_method_allowed(invoice, method_id)
            if method_id is not None:
                payment = Payment.for_invoice(
                    ctx.next_id(uow, "payment"),
                    account_id,
                    invoice.id,
                    method.pricing.quote(due),
                    now,
                    method_id=method.id,
                    payer_id=payer_id or invoice.payer_id,
                )
                if remember:
                    uow.profiles.get(account_id).record(remember_key(payment.id))
                # Kept and committed first: the provider is called outside the unit of work.
                Charges(ctx).keep_for_checkout(uow, payment, return_url)
            else:
                result, queued = self._from_balance(call, invoice, payer_id)
        if method_id is not None:
            return Charges(ctx).open_checkout(payment, now, return_url)
        ctx.send(queued)
        return result

    def _from_balance(
        self, call: Call, invoice: Invoice, payer_id: str | None
    ) -> tuple[PayResult, Sequence[OutboxMessage]]:
        """Pay an invoice from the balance, or say what is missing; the notices to send."""
        ctx = self._ctx
        uow, now, today, account_id = call.uow, call.now, call.today, call.account.id
        due = invoice.amount_due
        ctx.ensure_credit_allows(uow, account_id, due.code, CreditAction.PAY_FROM_BALANCE, today)
        balance = uow.ledgers.get(account_id).balance(due.code)
        on_credit = ctx.credit_allows(
            uow, account_id, due.code, CreditAction.PAY_FROM_CREDIT, today
        )
        # A credit statement and an advance payment are paid by money coming in, never
        # from the balance.
        spendable = (
            Money.zero(due.code)
            if invoice.kind in {InvoiceKind.STATEMENT, InvoiceKind.TOP_UP}
            else ctx.spendable(uow, account_id, due.code, with_credit=on_credit, on=today)
        )
        if spendable < due:
            # Round up: a top-up of the rounded-down amount would still fall short.
            missing = Rounding(ROUND_CEILING).minor(due - spendable)
            needed = TopUpNeeded(
                invoice=invoice,
                balance=balance,
                missing=missing,
                methods=ctx.settings.methods_for(missing),
            )
            return needed, []
        events = ctx.settle(
            uow,
            invoice,
            due,
            now,
            from_balance=True,
            on_credit=on_credit,
            payer_id=payer_id,
            on=today,
        )
        queued = ctx.commit(uow, events)
        return InvoiceSettled(invoice=invoice, events=tuple(events)), queued

    def delete(self, invoice_id: str) -> InvoiceDeleted:
        """Delete an unpaid invoice, e.g. to renew and pay by another method (SPEC L4).

        Deleting an order's invoice abandons the order: its services still awaiting
        payment are cancelled (see :func:`~cabinet_billing.app.orders.cancel_order_services`).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an invoice of another account.
            InvalidTransitionError: unless the invoice is unpaid.
        """
        with self._gate.open("invoices.pay") as call:
            invoice = self._ctx.invoice_of(call.uow, call.account.id, invoice_id)
            invoice.delete(call.today, reason=f"deleted by {call.user.id}")
            # An order is bound to its method (SPEC C4): its deleted invoice abandons it.
            cancel_order_services(call, invoice)
            call.uow.commit()
        return InvoiceDeleted(
            account_id=call.account.id,
            at=call.now,
            invoice_id=invoice.id,
            number=invoice.number,
        )

    def request_quote(self, invoice_id: str) -> Invoice:
        """Ask for a quote of an unpaid invoice: a pro-forma invoice to pay by transfer (L4).

        The request is recorded on the invoice (``quote_requests``, one date per request);
        the quote itself is rendered by ``cabinet.documents.download("quote", invoice_id)``.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            NotFoundError: for an invoice of another account.
            InvalidTransitionError: unless the invoice is unpaid (naming what it allows).
        """
        with self._gate.open("invoices.view") as call:
            invoice = self._ctx.invoice_of(call.uow, call.account.id, invoice_id)
            invoice.request_quote(call.today)
            call.uow.commit()
        return invoice

    def reissue(self, invoice_id: str, *, method_id: str | None = None) -> InvoiceReissued:
        """Delete an unpaid invoice and issue it again, e.g. to pay by another method (L4).

        The new invoice has the same lines (the same amounts, paying the same periods),
        the next number, today's date and a new due date. A renewal invoice may change
        its payment method; an order's invoice keeps the method chosen at checkout
        (SPEC C4: another method needs a new order), and unlike :meth:`delete`, its
        services stay ordered, waiting for the new invoice. Top-up and credit statement
        invoices belong to their payment and their statement and are never re-issued.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an invoice of another account, or a method not offered in
                the invoice's currency.
            InvalidTransitionError: unless the invoice is unpaid.
            ConflictError: for a top-up or credit statement invoice.
            ValidationError: for another method on an order's invoice.
            DeletionPendingError: while the account's deletion is pending.
        """
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            uow, today, account_id = call.uow, call.today, call.account.id
            call.account.ensure_not_closing("re-issue an invoice")
            old = ctx.invoice_of(uow, account_id, invoice_id)
            if old.kind not in _REISSUED:
                raise ConflictError(
                    f"invoice {old.number} ({old.kind.value})",
                    "is never re-issued: only order and renewal invoices are",
                )
            method = old.payment_method_id if method_id is None else method_id
            if method_id is not None:
                ctx.settings.method(method_id, old.currency)
                if old.kind is InvoiceKind.ORDER and method_id != old.payment_method_id:
                    raise ValidationError(
                        "method_id",
                        method_id,
                        f"an order is paid by the method chosen at checkout "
                        f"({old.payment_method_id}); place a new order to pay another way",
                    )
            old.delete(today, reason=f"re-issued by {call.user.id}")
            due = None if old.due_on is None else today + timedelta(ctx.settings.invoice_due_days)
            new = Invoice.from_lines(
                ctx.next_id(uow, "invoice"),
                ctx.invoice_number(uow, today, account_id),
                account_id,
                old.lines,
                issued_on=today,
                due_on=due,
                kind=old.kind,
                payment_method_id=method,
                payer_id=old.payer_id,
            )
            uow.invoices.add(new)
            events = (
                InvoiceDeleted(
                    account_id=account_id, at=call.now, invoice_id=old.id, number=old.number
                ),
                ctx.issued(new, call.now),
            )
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return InvoiceReissued(deleted=old, invoice=new, events=events)

    def pay_link(self, invoice_id: str) -> PayLink:
        """A signed link to pay an open invoice without logging in (SPEC L5).

        Only an account that allows paying without login (``pay_without_login``, see
        ``cabinet.payments.set_pay_without_login``) gets one: a link nobody could pay by
        is not handed out. Nor is one for an order checked out to be paid from the
        balance: a link pays by a method, and that order takes none (SPEC C4). Paying
        inside the cabinet needs no link.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``, or while the account's
                setting ``pay_without_login`` is off.
            ConflictError: when the settings offer no pay links.
            InvalidTransitionError: when the invoice has nothing left to pay.
            PaymentMethodFixedError: for an order checked out to be paid from the balance.
        """
        signer = self._ctx.signer()
        with self._gate.open("invoices.pay") as call:
            ensure_pay_without_login(call.account)
            invoice = self._ctx.invoice_of(call.uow, call.account.id, invoice_id)
            require_open(invoice)
            if invoice.payment_method_id == BALANCE_METHOD:
                raise PaymentMethodFixedError(invoice.id, BALANCE_METHOD, "a pay link")
            return signer.issue(invoice.id, call.account.id, call.now)


#: The invoices a customer may re-issue: a top-up invoice belongs to its payment and a
#: credit statement to the credit line.
_REISSUED = frozenset({InvoiceKind.ORDER, InvoiceKind.RENEWAL})


def _invoice_id(invoice: Invoice) -> str:
    return invoice.id
