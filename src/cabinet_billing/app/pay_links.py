"""Paying without logging in: signed, expiring pay links (SPEC L5).

A customer (or the cabinet, for them) copies a pay link of an open invoice
(:meth:`~cabinet_billing.app.invoices.CabinetInvoices.pay_link`); anyone holding the link
may open it and pay the invoice by a method. An expired link is re-issued when opened
(Horoshop's links live 30 minutes).
"""

from __future__ import annotations

from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.results import CheckoutStarted
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.paylink import PayLink
from cabinet_billing.domain.payment import Payment

__all__ = ["PayLinks"]


class PayLinks:
    """Opening and paying pay links, with no login."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def open(self, token: str) -> tuple[Invoice, PayLink]:
        """The invoice a pay link pays, and the link to use from now on.

        The link is the same while it is valid and a new one once it expired (Horoshop
        re-issues expired links).

        Raises:
            ConflictError: when the settings offer no pay links.
            InvalidPayLinkError: for an altered or malformed link.
            InvalidTransitionError: when the invoice was paid, cancelled or deleted.
        """
        ctx = self._ctx
        signer = ctx.signer()
        now = ctx.clock.now()
        link = signer.reissue_if_expired(token, now)
        claims = signer.verify(link.token, now)
        with ctx.unit_of_work() as uow:
            invoice = ctx.invoice_of(uow, claims.account_id, claims.invoice_id)
            require_open(invoice)
            return invoice, link

    def pay(self, token: str, method_id: str, *, return_url: str | None = None) -> CheckoutStarted:
        """Start paying the invoice of a pay link by a method, without a login.

        Raises:
            ConflictError: when the settings offer no pay links.
            InvalidPayLinkError: for an altered, malformed or expired link.
            InvalidTransitionError: when the invoice has nothing left to pay.
            NotFoundError: for a method not offered in the invoice's currency.
            PaymentMethodFixedError: for an order's invoice paid by another method than
                its checkout chose (SPEC C4).
        """
        ctx = self._ctx
        now = ctx.clock.now()
        claims = ctx.signer().verify(token, now)
        with ctx.unit_of_work() as uow:
            invoice = ctx.invoice_of(uow, claims.account_id, claims.invoice_id)
            require_open(invoice)
            ctx.ensure_method_allowed(invoice, method_id)
            method = ctx.settings.method(method_id, invoice.currency)
            payment = Payment.for_invoice(
                ctx.next_id(uow, "payment"),
                invoice.account_id,
                invoice.id,
                method.pricing.quote(invoice.amount_due),
                now,
                method_id=method.id,
            )
            return ctx.checkout(uow, payment, now, return_url)
