"""The cabinet's invoices: paying, deleting and sharing a pay link (SPEC L2, L4, L5).

An invoice is paid from the balance when the balance (and, where the credit line allows,
the available credit) covers it; otherwise the result says how much is missing and which
methods can take it. Paying by a method starts a payment for exactly this invoice.
"""

from __future__ import annotations

from decimal import ROUND_CEILING

from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.orders import cancel_order_services
from cabinet_billing.app.results import InvoiceSettled, PayResult, TopUpNeeded
from cabinet_billing.domain.events import InvoiceDeleted
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.paylink import PayLink
from cabinet_billing.domain.payment import Payment
from cabinet_billing.rules.credit_limit import CreditAction

__all__ = ["CabinetInvoices"]


class CabinetInvoices:
    """Paying and managing the account's invoices (right ``invoices.pay``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def pay(
        self,
        invoice_id: str,
        *,
        method_id: str | None = None,
        payer_id: str | None = None,
        return_url: str | None = None,
    ) -> PayResult:
        """Pay an invoice from the balance, or directly by a method (SPEC L2).

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
            PayerNotReplaceableError: as ``payer_id``, while another payer has unpaid
                expenses in an act.
        """
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            uow, now, today = call.uow, call.now, call.today
            account_id = call.account.id
            ctx.ensure_profile_may_pay(uow, account_id)
            ctx.ensure_payer_may_pay(uow, account_id, payer_id)
            invoice = ctx.invoice_of(uow, account_id, invoice_id)
            require_open(invoice)
            due = invoice.amount_due
            if method_id is not None:
                method = ctx.settings.method(method_id, due.code)
                payment = Payment.for_invoice(
                    ctx.next_id(uow, "payment"),
                    account_id,
                    invoice.id,
                    method.pricing.quote(due),
                    now,
                    method_id=method.id,
                    payer_id=payer_id or invoice.payer_id,
                )
                return ctx.checkout(uow, payment, now, return_url)
            ctx.ensure_credit_allows(
                uow, account_id, due.code, CreditAction.PAY_FROM_BALANCE, today
            )
            balance = uow.ledgers.get(account_id).balance(due.code)
            on_credit = ctx.credit_allows(
                uow, account_id, due.code, CreditAction.PAY_FROM_CREDIT, today
            )
            # A credit statement is paid by money coming in, never from the balance.
            spendable = (
                Money.zero(due.code)
                if invoice.kind is InvoiceKind.STATEMENT
                else ctx.spendable(uow, account_id, due.code, with_credit=on_credit)
            )
            if spendable < due:
                # Round up: a top-up of the rounded-down amount would still fall short.
                missing = Rounding(ROUND_CEILING).minor(due - spendable)
                return TopUpNeeded(
                    invoice=invoice,
                    balance=balance,
                    missing=missing,
                    methods=ctx.settings.methods_for(missing),
                )
            events = ctx.settle(
                uow, invoice, due, now, from_balance=True, on_credit=on_credit, payer_id=payer_id
            )
            uow.commit()
        ctx.notify(events)
        return InvoiceSettled(invoice=invoice, events=tuple(events))

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

    def pay_link(self, invoice_id: str) -> PayLink:
        """A signed link to pay an open invoice without logging in (SPEC L5).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ConflictError: when the settings offer no pay links.
            InvalidTransitionError: when the invoice has nothing left to pay.
        """
        signer = self._ctx.signer()
        with self._gate.open("invoices.pay") as call:
            invoice = self._ctx.invoice_of(call.uow, call.account.id, invoice_id)
            require_open(invoice)
            return signer.issue(invoice.id, call.account.id, call.now)
