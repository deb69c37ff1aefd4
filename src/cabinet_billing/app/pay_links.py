"""Paying without logging in: signed, expiring pay links (SPEC L5, A2).

A customer (or the cabinet, for them) copies a pay link of an open invoice
(:meth:`~cabinet_billing.app.invoices.CabinetInvoices.pay_link`); anyone holding the link
may open it and pay the invoice by a method. Links work only for accounts that allow
paying without logging in (the account setting ``pay_without_login``, switched by
:meth:`~cabinet_billing.app.payments.CabinetPayments.set_pay_without_login`), and paying
by a link asks the same of the profile as paying in the cabinet (SPEC A2). An expired link
is re-issued when opened (Horoshop's links live 30 minutes), but only while its invoice is
unpaid, its account allows paying without login, and no longer than the pay-link
policy's ``reissue_within`` after it expired (14 days by default).
"""

from __future__ import annotations

from cabinet_billing.app.charges import Charges
from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.results import CheckoutStarted
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.paylink import PayLink, PayLinkClaims
from cabinet_billing.domain.payment import Payment
from cabinet_billing.errors import AccessDeniedError, ExpiredPayLinkError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["PayLinks", "ensure_pay_without_login"]


def ensure_pay_without_login(account: Account) -> None:
    """Refuse a pay link of an account that does not allow paying without login.

    Raises:
        AccessDeniedError: naming the account and the setting.
    """
    if not account.settings.pay_without_login:
        raise AccessDeniedError(
            f"a pay link of account {account.id!r}",
            "pay without logging in",
            "the account's setting pay_without_login is off; log in to pay, or switch it "
            "on in the cabinet",
        )


class PayLinks:
    """Opening and paying pay links, with no login."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def open(self, token: str) -> tuple[Invoice, PayLink]:
        """The invoice a pay link pays, and the link to use from now on.

        The link is the same while it is valid. Once it expired, a new one is issued
        (Horoshop) while the invoice is unpaid and the account allows paying without
        login, up to the policy's ``reissue_within`` after the expiry.

        Raises:
            ConflictError: when the settings offer no pay links.
            InvalidPayLinkError: for an altered or malformed link.
            AccessDeniedError: when the account does not allow paying without login.
            InvalidTransitionError: when the invoice was paid, cancelled or deleted.
            PayLinkTooOldError: for a link that expired longer ago than is re-issued.
        """
        ctx = self._ctx
        signer = ctx.signer()
        now = ctx.clock.now()
        expired: ExpiredPayLinkError | None = None
        try:
            claims = signer.verify(token, now)
        except ExpiredPayLinkError as error:
            expired = error
            account_id, invoice_id = error.account_id, error.invoice_id
        else:
            account_id, invoice_id = claims.account_id, claims.invoice_id
        with ctx.unit_of_work() as uow:
            invoice = self._payable(uow, account_id, invoice_id)
        if expired is None:
            return invoice, PayLink(token, claims.expires_at)
        return invoice, signer.reissue(expired)

    def pay(self, token: str, method_id: str, *, return_url: str | None = None) -> CheckoutStarted:
        """Start paying the invoice of a pay link by a method, without a login.

        Raises:
            ConflictError: when the settings offer no pay links.
            InvalidPayLinkError: for an altered, malformed or expired link.
            AccessDeniedError: when the account does not allow paying without login.
            ProfileIncompleteError: while required profile fields are missing (SPEC A2).
            InvalidTransitionError: when the invoice has nothing left to pay.
            NotFoundError: for a method not offered in the invoice's currency.
            PaymentMethodFixedError: for an order's invoice paid by another method than
                its checkout chose (SPEC C4).
        """
        ctx = self._ctx
        now = ctx.clock.now()
        claims: PayLinkClaims = ctx.signer().verify(token, now)
        with ctx.unit_of_work() as uow:
            invoice = self._payable(uow, claims.account_id, claims.invoice_id)
            ctx.ensure_profile_may_pay(uow, invoice.account_id)
            method = ctx.settings.method(method_id, invoice.currency)
            ctx.ensure_method_allowed(invoice, method_id)
            payment = Payment.for_invoice(
                ctx.next_id(uow, "payment"),
                invoice.account_id,
                invoice.id,
                method.pricing.quote(invoice.amount_due),
                now,
                method_id=method.id,
            )
            charges = Charges(ctx)
            # Kept and committed first: the provider is called outside the unit of work.
            charges.keep_for_checkout(uow, payment, return_url)
        return charges.open_checkout(payment, now, return_url)

    def _payable(self, uow: UnitOfWork, account_id: str, invoice_id: str) -> Invoice:
        """The link's invoice, while its account allows links and it has something to pay."""
        ensure_pay_without_login(uow.accounts.get(account_id))
        invoice = self._ctx.invoice_of(uow, account_id, invoice_id)
        require_open(invoice)
        return invoice
