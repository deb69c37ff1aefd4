"""The cabinet's services: renewing by hand and automatic renewal (SPEC L4, R4).

Renewing a service issues an invoice for its next period(s) (Introserv: "Renewing an
order issues an invoice for the next period"); automatic renewal pays each period from
the balance or from a saved method, on the schedule of the billing run.
"""

from __future__ import annotations

from datetime import timedelta

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, InvoiceLine
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Service
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.errors import ConflictError, NotFoundError
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
    ) -> Invoice:
        """Issue an invoice for the next billing period(s) of a service (SPEC L4).

        Args:
            service_id: the service.
            periods: how many periods to renew for.
            method_id: the payment method the invoice is meant to be paid with.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account.
            ConflictError: when an unpaid renewal invoice for it exists (delete it first
                to pay another way) or the service was never paid.
            CreditBlockedError: while the account's credit line is blocked (SPEC R1).
        """
        ctx = self._ctx
        with self._gate.open("services.renew") as call:
            uow, today = call.uow, call.today
            service = _service(call, service_id)
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
                    InvoiceLine(
                        f"{service.plan_name}: renewal until {until.isoformat()}",
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
        """Renew a service automatically, from the balance or a saved method (SPEC R4).

        The period defaults to the order period and may be changed only while the
        service is active.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account or an unknown method.
            ConflictError: when the service has never been paid.
            InvalidTransitionError: when changing the period of a service that is not
                active.
        """
        with self._gate.open("services.renew") as call:
            uow = call.uow
            service = _service(call, service_id)
            profile = uow.profiles.get(call.account.id)
            if method_id is not None:
                profile.method(method_id)
            source = RenewalSource.SAVED_METHOD if method_id else RenewalSource.BALANCE
            sub = profile.subscription(service_id)
            if sub is None:
                sub = Subscription.for_service(service, source, method_id)
            else:
                sub.change_source(source, method_id)
                sub.switch_on()
            if period is not None:
                sub.change_period(period, service.status)
            profile.subscribe(sub)
            service.set_auto_renew(True)
            uow.commit()
        return sub

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


def _service(call: Call, service_id: str) -> Service:
    """A service of the calling account (another account's is "not found")."""
    service = call.uow.services.get(service_id)
    if service.account_id != call.account.id:
        raise NotFoundError("service", service_id)
    return service
