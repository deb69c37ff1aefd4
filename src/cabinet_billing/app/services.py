"""The cabinet's services: renewing by hand and automatic renewal (SPEC L4, R4).

Renewing a service issues an invoice for its next period(s) (Introserv: "Renewing an
order issues an invoice for the next period"); automatic renewal pays each period from
the balance or from a saved method, on the schedule of the billing run.
"""

from __future__ import annotations

from datetime import timedelta

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, InvoiceLine
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod
from cabinet_billing.domain.service import Service, ServiceStatus
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import ConflictError, NotFoundError, ValidationError
from cabinet_billing.rules.credit_limit import CreditAction

__all__ = ["CabinetServices"]


class CabinetServices:
    """Renewals and auto-renewal of the account's services (right ``services.renew``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def renew(
        self,
        service_id: str,
        *,
        periods: int = 1,
        method_id: str | None = None,
        payer_id: str | None = None,
    ) -> Invoice:
        """Issue an invoice for the next billing period(s) of a service (SPEC L4).

        Args:
            service_id: the service.
            periods: how many periods to renew for.
            method_id: the payment method the invoice is meant to be paid with.
            payer_id: the payer of the account the invoice is made out to; the service
                is billed to it from now on (SPEC A4). Default: the payer the service is
                billed to, if any.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account.
            ConflictError: when an unpaid renewal invoice for it exists (delete it first
                to pay another way) or the service was never paid.
            CreditBlockedError: while the account's credit line is blocked (SPEC R1).
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
            NotFoundError: for a payer the account does not have.
        """
        ctx = self._ctx
        with self._gate.open("services.renew") as call:
            call.account.ensure_not_closing("renew services")
            uow, today = call.uow, call.today
            service = _service(call, service_id)
            if payer_id is not None:
                uow.payers.get(call.account.id).bill_service(service_id, payer_id)
            for other in uow.invoices.for_account(call.account.id):
                if (
                    other.is_open()
                    and other.kind is InvoiceKind.RENEWAL
                    and any(ln.service_id == service_id for ln in other.lines)
                ):
                    raise ConflictError(
                        f"service {service_id}",
                        f"invoice {other.number} for its renewal is unpaid; pay or delete it",
                    )
            ctx.ensure_credit_allows(
                uow, call.account.id, service.price.code, CreditAction.RENEW_THROUGH_CART, today
            )
            until = service.next_paid_until(periods)
            invoice = ctx.issue_invoice(
                uow,
                call.account.id,
                [
                    InvoiceLine.of(
                        LineText.of("line.renewal", plan=service.plan_name, until=until),
                        service.price * periods,
                        service_id=service_id,
                        paid_until=until,
                    ),
                ],
                today=today,
                due_on=min(
                    today + timedelta(days=ctx.settings.invoice_due_days),
                    max(service.paid_until or today, today),
                ),
                kind=InvoiceKind.RENEWAL,
                payment_method_id=method_id,
            )
            uow.commit()
        ctx.notify([ctx.issued(invoice, call.now)])
        return invoice

    def set_auto_renewal(
        self,
        service_id: str,
        *,
        method_id: str | None = None,
        period: Period | str | None = None,
    ) -> Subscription:
        """Renew a service automatically, from the balance or a saved method (SPEC R4, X1).

        The period defaults to the order period and may be changed only while the
        service is active. Every period is priced from the plan's price list as the
        service was sold (Astra Cloud: 20.00 a day, 100.00 a month, 1200.00 a year), so
        a renewal period changed to a year renews a year at the yearly price.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account or an unknown method.
            PriceNotFoundError: for a period the plan has no price for, naming the periods
                it has; nothing changes.
            ConflictError: when the service has never been paid, or a saved card is to
                pay while card autopay is stopped (invoices are then paid by bank transfer
                only, SPEC R7).
            InvalidTransitionError: when changing the period of a service that is not
                active.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        with self._gate.open("services.renew") as call:
            call.account.ensure_not_closing("switch auto-renewal on")
            uow = call.uow
            service = _service(call, service_id)
            profile = uow.profiles.get(call.account.id)
            price = None if period is None else service.price_for(period)
            if method_id is not None:
                _ensure_card_may_renew(self._ctx, profile, profile.method(method_id))
            source = RenewalSource.SAVED_METHOD if method_id else RenewalSource.BALANCE
            sub = profile.subscription(service_id)
            if sub is None:
                sub = Subscription.for_service(service, source, method_id)
            else:
                sub.change_source(source, method_id)
                sub.switch_on()
            if period is not None and price is not None:
                sub.change_period(period, service.status, price=price)
            profile.subscribe(sub)
            service.set_auto_renew(True)
            uow.commit()
        return sub

    def set_auto_renewal_default(self, enabled: bool) -> tuple[str, ...]:
        """Switch the account-wide auto-renewal on or off (Introserv's setting, SPEC R4).

        The switch is the account's choice for every order, not only for new ones:

        * **off** stops the automatic renewal of every service the account has, whether
          it renews from the balance or from a saved method, and new services are
          ordered without it;
        * **on** renews every paid service automatically (from the balance, or from the
          saved method it was renewing from, while that method is still saved), and new
          services are ordered with it.

        Returns:
            The ids of the services whose auto-renewal changed, oldest first.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            ValidationError: when ``enabled`` is not a bool.
            DeletionPendingError: switching on while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        if not isinstance(enabled, bool):
            raise ValidationError("enabled", enabled, "must be True or False")
        with self._gate.open("services.renew") as call:
            if enabled:
                call.account.ensure_not_closing("switch auto-renewal on")
            uow = call.uow
            call.account.set_auto_renew_default(enabled)
            profile = uow.profiles.get(call.account.id)
            changed: list[str] = []
            for service in uow.services.for_account(call.account.id):
                if service.status is ServiceStatus.DELETED:
                    continue
                sub = profile.subscription(service.id)
                if service.auto_renew != enabled or (sub is not None and sub.enabled != enabled):
                    changed.append(service.id)
                service.set_auto_renew(enabled)
                if sub is None:
                    continue  # the run makes a balance renewal of it when it is due
                if not enabled:
                    sub.switch_off()
                    continue
                method = next((m for m in profile.methods if m.id == sub.method_id), None)
                if sub.source is RenewalSource.SAVED_METHOD and (
                    method is None or _card_autopay_stopped(self._ctx, profile, method)
                ):
                    sub.change_source(RenewalSource.BALANCE)
                sub.switch_on()
            uow.commit()
        return tuple(changed)

    def switch_auto_renewal_off(self, service_id: str) -> None:
        """Stop renewing a service automatically.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account.
        """
        with self._gate.open("services.renew") as call:
            service = _service(call, service_id)
            service.set_auto_renew(False)
            sub = call.uow.profiles.get(call.account.id).subscription(service_id)
            if sub is not None:
                sub.switch_off()
            call.uow.commit()


def _card_autopay_stopped(
    context: Context, profile: BillingProfile, method: SavedPaymentMethod
) -> bool:
    """Whether the method is a card and card autopay was stopped (bank transfer only)."""
    autopay = profile.card_autopay
    return (
        context.settings.card_autopay_on_invoice_day
        and autopay is not None
        and autopay.bank_transfer_only
        and method.kind is MethodKind.CARD
    )


def _ensure_card_may_renew(
    context: Context, profile: BillingProfile, method: SavedPaymentMethod
) -> None:
    """Refuse renewing from a saved card once card autopay was stopped (SPEC R7)."""
    if _card_autopay_stopped(context, profile, method):
        raise ConflictError(
            f"saved card {method.id!r}",
            "card autopay is stopped: invoices are paid by bank transfer only",
        )


def _service(call: Call, service_id: str) -> Service:
    """A service of the calling account (another account's is "not found")."""
    service = call.uow.services.get(service_id)
    if service.account_id != call.account.id:
        raise NotFoundError("service", service_id)
    return service
