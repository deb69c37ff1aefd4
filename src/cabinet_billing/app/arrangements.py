"""Use cases for what an account arranges in advance (SPEC R1, R4-R8).

Saved payment methods and card binding, the auto-renewal of each service, autopayment,
card autopay on invoice day and the credit line. The billing run
(:mod:`cabinet_billing.app.cycle`) acts on these arrangements day after day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from cabinet_billing.app.core import BillingCore
from cabinet_billing.domain.autopay import AutopayPolicy, CardAutopay, CardAutopayStatus
from cabinet_billing.domain.billing_profile import AutopaySettings
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.events import BillingEvent, PaymentCredited
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.saved_method import (
    BindingAction,
    MethodKind,
    SavedPaymentMethod,
    binding_plan,
)
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.errors import ConflictError, NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.autopay import ScheduledCharge, forecast, recommended_cap
from cabinet_billing.rules.credit_limit import (
    CreditDashboard,
    CreditState,
    credit_dashboard,
    evaluate_credit,
)

__all__ = ["ArrangementUseCases", "BindingResult", "CreditStatusView"]


@attrs.frozen(kw_only=True)
class BindingResult:
    """How a card was bound: the invoice it paid, or the verification charge it refunded."""

    method: SavedPaymentMethod
    action: BindingAction
    invoice_id: str | None
    amount: Money
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class CreditStatusView:
    """The credit line's state and dashboard on a day (SPEC R1, R2)."""

    state: CreditState
    dashboard: CreditDashboard


class ArrangementUseCases(BillingCore):
    """Saved methods, auto-renewal, autopayment, card autopay and credit lines."""

    # ------------------------------------------------------------------ saved methods

    def bind_card(
        self,
        account_id: str,
        user_id: str,
        method: SavedPaymentMethod,
        *,
        verification: Money | None = None,
    ) -> BindingResult:
        """Save a card or wallet and prove it works (SPEC R5, Horoshop's binding).

        With an unpaid invoice, the card pays the oldest one; otherwise a small amount
        (``verification``, by default the settings' ``card_verification``) is charged and
        refunded. A declined charge leaves the method saved but not working. Binding a
        card also starts card autopay on invoice day when the settings offer it.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            GatewayTimeoutError: when the provider does not answer (nothing is saved).
        """
        now = self._clock.now()
        with self._uow() as uow:
            account = self._may_pay(uow, account_id, user_id)
            profile = uow.profiles.get(account_id)
            profile.add_method(method)
            currency = account.profile.currency
            open_invoices = [
                i
                for i in uow.invoices.for_account(account_id)
                if i.is_open() and i.kind is not InvoiceKind.STATEMENT and i.currency == currency
            ]
            plan = binding_plan(open_invoices, verification or self._verification(currency))
            events: list[BillingEvent] = []
            key = f"bind:{method.id}"
            result = self._gateway.charge_saved_method(
                method.token, plan.amount, idempotency_key=key
            )
            if not result.succeeded:
                method.mark_failed(now, result.reason or result.status.value)
                uow.commit()
                return BindingResult(
                    method=method,
                    action=plan.action,
                    invoice_id=plan.invoice_id,
                    amount=plan.amount,
                    events=(),
                )
            method.mark_working(now)
            if plan.action is BindingAction.PAY_INVOICE and plan.invoice_id is not None:
                payment = Payment.for_invoice(
                    self._next_id(uow, "payment"),
                    account_id,
                    plan.invoice_id,
                    plan.amount,
                    now,
                    method_id=method.id,
                )
                events += self._credit_charge(uow, payment, key, now)
            elif plan.refund is not None:
                self._gateway.refund(result.reference, plan.refund, idempotency_key=f"{key}:refund")
            autopay = profile.card_autopay or CardAutopay(account_id)
            if (
                self.settings.card_autopay_on_invoice_day
                and method.kind is MethodKind.CARD
                and autopay.status is not CardAutopayStatus.STOPPED
            ):
                # A stopped card autopay stays stopped: the customer chose bank transfer.
                autopay.record_card_payment(method.id, now.date())
                profile.card_autopay = autopay
            uow.commit()
        self._notify(events)
        return BindingResult(
            method=method,
            action=plan.action,
            invoice_id=plan.invoice_id,
            amount=plan.amount,
            events=tuple(events),
        )

    def delete_method(self, account_id: str, user_id: str, method_id: str) -> tuple[str, ...]:
        """Delete a saved method; auto-renewal is switched off for the services it paid.

        Returns:
            The ids of the services whose auto-renewal was switched off.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            profile = uow.profiles.get(account_id)
            switched = profile.remove_method(method_id)
            for service_id in switched:
                uow.services.get(service_id).set_auto_renew(False)
            if profile.card_autopay is not None and profile.card_autopay.method_id == method_id:
                profile.card_autopay.stop()
            uow.commit()
        return switched

    # ------------------------------------------------------------------ auto-renewal

    def set_auto_renewal(
        self,
        account_id: str,
        user_id: str,
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
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "services.renew")
            service = uow.services.get(service_id)
            if service.account_id != account_id:
                raise NotFoundError("service", service_id)
            profile = uow.profiles.get(account_id)
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

    def switch_auto_renewal_off(self, account_id: str, user_id: str, service_id: str) -> None:
        """Stop renewing a service automatically."""
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "services.renew")
            service = uow.services.get(service_id)
            if service.account_id != account_id:
                raise NotFoundError("service", service_id)
            service.set_auto_renew(False)
            sub = uow.profiles.get(account_id).subscription(service_id)
            if sub is not None:
                sub.switch_off()
            uow.commit()

    # ------------------------------------------------------------------ autopayment

    def set_autopay(
        self,
        account_id: str,
        user_id: str,
        method_id: str,
        policy: AutopayPolicy,
    ) -> AutopaySettings:
        """Top the balance up automatically from a saved method (SPEC R6).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an unknown method.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            profile = uow.profiles.get(account_id)
            profile.method(method_id)
            profile.autopay = AutopaySettings(method_id, policy)
            uow.commit()
        return profile.autopay

    def stop_autopay(self, account_id: str, user_id: str) -> None:
        """Stop automatic top-ups."""
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            uow.profiles.get(account_id).autopay = None
            uow.commit()

    def stop_card_autopay(self, account_id: str, user_id: str) -> None:
        """Stop charging the card on invoice day: bank transfer stays the only way (R7).

        Raises:
            ConflictError: when card autopay never started.
            InvalidTransitionError: when it is stopped already.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            autopay = uow.profiles.get(account_id).card_autopay
            if autopay is None:
                raise ConflictError("card autopay", "has not started: no card payment yet")
            autopay.stop()
            uow.commit()

    # ------------------------------------------------------------------ credit

    def open_credit_line(self, account_id: str, limit: Money | None = None) -> CreditLine:
        """Give an account credit up to a limit (a provider's decision, SPEC R1).

        Without a limit, the settings' default limit is used. Changing the limit of an
        existing line keeps its statements; a limit below the current debt is refused.

        Raises:
            ConflictError: when the settings give no credit, or no limit is given and the
                settings have no default.
        """
        if self.settings.credit is None:
            raise ConflictError("credit line", "the settings give no credit (credit is None)")
        limit = limit if limit is not None else self.settings.credit_limit
        if limit is None:
            raise ConflictError("credit line", "give a limit: the settings have no default")
        with self._uow() as uow:
            uow.accounts.get(account_id)
            profile = uow.profiles.get(account_id)
            if profile.credit is None:
                profile.credit = CreditLine(account_id, limit)
            else:
                profile.credit.change_limit(limit)
            uow.commit()
            return profile.credit

    def credit_status(self, account_id: str) -> CreditStatusView:
        """The credit line's state, message and dashboard today (SPEC R1, R2).

        Raises:
            NotFoundError: when the account has no credit line.
        """
        policy = self.settings.credit
        today = self._clock.today()
        with self._uow() as uow:
            line = uow.profiles.get(account_id).credit
            if line is None or policy is None:
                raise NotFoundError("credit line of account", account_id)
            return CreditStatusView(
                state=evaluate_credit(policy, line, today),
                dashboard=credit_dashboard(policy, line, today),
            )

    def recommended_autopay_cap(self, account_id: str) -> Money:
        """The recommended monthly autopayment cap: next month's forecast plus the margin.

        The forecast adds up the charges of the account's auto-renewing services that
        fall in the next calendar month (SPEC R6: forecast 620.00 gives 682.00).
        """
        today = self._clock.today()
        next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        with self._uow() as uow:
            currency = uow.accounts.get(account_id).profile.currency
            charges = [
                ScheduledCharge(s.price, s.period, s.paid_until, s.anchor)
                for s in uow.services.for_account(account_id)
                if s.auto_renew and s.paid_until is not None and s.price.code == currency
            ]
        return recommended_cap(
            forecast(charges, next_month, currency),
            self.settings.autopay_markup_percent,
            self.settings.rounding,
        )

    # ------------------------------------------------------------------ internals

    def _credit_charge(
        self,
        uow: UnitOfWork,
        payment: Payment,
        key: str,
        now: datetime,
    ) -> list[BillingEvent]:
        """Book a charge the provider already confirmed as a credited payment."""
        uow.payments.add(payment)
        payment.apply(GatewayEvent(key, PaymentEventKind.CREDITED, now))
        events = self._credit(uow, payment, now)
        return [
            e for e in events if not isinstance(e, PaymentCredited) or e.payment_id == payment.id
        ]
