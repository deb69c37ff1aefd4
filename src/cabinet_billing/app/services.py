"""The cabinet's services: the client's actions, the services list, renewals (SPEC C5, C6, L4, R4).

Every action the service lifecycle lets a client take is a use case of
``cabinet.services``: stop and start (periodic billing), suspend and resume (daily
billing), reboot, cancel an unpaid order, delete a paid service, renew now from the
balance. Renewing a service issues an invoice for its next period(s) (Introserv:
"Renewing an order issues an invoice for the next period"); automatic renewal pays each
period from the balance or from a saved method, on the schedule of the billing run. The
list and the view show per service its IP, configuration, paid-until date, days left
and the actions that work for it now. The provider's control panel reports the end of
what it runs (opening, reboot, deletion) through ``billing.services``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.changes import credit_unused, reprice_subscription
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.app.limits import LimitCount, limit_counts
from cabinet_billing.app.orders import cancel_order_services
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, window
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.app.upcoming import Upcoming, upcoming_invoices
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.catalog import Plan, PriceList
from cabinet_billing.domain.checks import check_text
from cabinet_billing.domain.customer import payment_readiness
from cabinet_billing.domain.documents import CreditNote
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.invoice import Invoice, InvoiceAction, InvoiceKind, InvoiceLine
from cabinet_billing.domain.limits import Limit
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.orders import (
    OrdersQuery,
    ServicePage,
    ServiceUseCase,
    ServiceView,
    list_orders,
    order_row,
)
from cabinet_billing.domain.payment import BALANCE_METHOD
from cabinet_billing.domain.periods import BillingCycle, Period
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.service import (
    Actor,
    ActorRole,
    BillingMode,
    ScheduledChange,
    Service,
    ServiceAction,
    ServiceChange,
    ServiceOperation,
    ServiceStatus,
    ServiceStep,
)
from cabinet_billing.domain.subscription import RenewalSource, Subscription, renewal_terms_of
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import (
    ConflictError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    OrderRejectedError,
    ValidationError,
)
from cabinet_billing.ports.listing import unknown_cursor
from cabinet_billing.rules.credit_limit import CreditAction
from cabinet_billing.rules.proration import PlanChange, settle_rest

__all__ = ["CabinetServices", "PlanChangeResult", "ProviderServices", "Termination"]

#: When a change is made: ``"now"`` or ``"period_end"``.
WHEN = ("now", "period_end")


@attrs.frozen(kw_only=True)
class PlanChangeResult:
    """What :meth:`CabinetServices.change_plan` did.

    Attributes:
        service: the service as it is now (on its new plan once ``changed``).
        changed: whether the plan changed already; otherwise it is ``scheduled``.
        scheduled: the change waiting for its invoice or the period end, if any.
        settlement: for a change now, the unused days of the old plan (``credit``) and
            the same days of the new one (``charge``); ``net`` is what was invoiced
            (positive) or credited to the balance (negative).
        invoice: the invoice of the difference, for a change now that costs more.
        paid_from_balance: whether that invoice was paid from the balance at once.
        credit_note: the balance-credit note, for a change now that costs less.
    """

    service: Service
    changed: bool
    scheduled: ScheduledChange | None = None
    settlement: PlanChange | None = None
    invoice: Invoice | None = None
    paid_from_balance: bool = False
    credit_note: CreditNote | None = None


@attrs.frozen(kw_only=True)
class Termination:
    """What :meth:`CabinetServices.terminate` did.

    Attributes:
        service: the service as it is now (*deleting* when it ends now).
        ends_on: the day its paid period ends, for an end at the period end.
        credit: the unused days credited to the balance, for an end now.
        credit_note: the balance-credit note of that credit, if there was any.
    """

    service: Service
    ends_on: date | None = None
    credit: Money | None = None
    credit_note: CreditNote | None = None


class CabinetServices:
    """The client's actions on the account's services, the services list and renewals.

    Rights: ``services.view`` to read, ``services.manage`` to stop, start, suspend,
    resume and reboot, ``services.delete`` to cancel and delete, ``services.renew`` to
    renew and change auto-renewal.
    """

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
            InvalidArgumentError: for ``periods`` outside 1 to 120.
        """
        checks.count("periods", periods, minimum=1, maximum=120)
        ctx = self._ctx
        with self._gate.open("services.renew") as call:
            call.account.ensure_not_closing("renew services")
            uow = call.uow
            service = _service(call, service_id)
            if payer_id is not None:
                uow.payers.get(call.account.id).bill_service(service_id, payer_id)
            other = _open_renewal(call, service_id)
            if other is not None:
                raise ConflictError(
                    f"service {service_id}",
                    f"invoice {other.number} for its renewal is unpaid; pay or delete it",
                )
            invoice = _issue_renewal(ctx, call, service, periods, method_id)
            queued = ctx.commit(uow, [ctx.issued(invoice, call.now)])
        ctx.send(queued)
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
            ConflictError: when the service has never been paid, a saved card is to
                pay while card autopay is stopped (invoices are then paid by bank transfer
                only, SPEC R7), or the service ends at its period end (or a period is
                given while a plan change is scheduled): withdraw that first.
            InvalidTransitionError: when changing the period of a service that is not
                active.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        with self._gate.open("services.renew") as call:
            call.account.ensure_not_closing("switch auto-renewal on")
            uow = call.uow
            service = _service(call, service_id)
            scheduled = service.scheduled
            if scheduled is not None and (scheduled.ends or period is not None):
                raise ConflictError(
                    f"service {service_id}",
                    f"{scheduled}; withdraw that change first (cancel_change)",
                )
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
                    method is None or self._ctx.card_autopay_stopped(profile, method)
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

    # ------------------------------------------------------------------ plan changes

    def change_plan(
        self,
        service_id: str,
        plan_id: str,
        *,
        period: Period | str | None = None,
        quantities: Mapping[str, object] | None = None,
        when: str = "now",
        method_id: str | None = None,
    ) -> PlanChangeResult:
        """Move an active paid service to another plan, period or configuration (SPEC X1).

        The new plan is priced as the provider sells it: from the settings' catalog
        (without a catalog only the service's own plan, at the periods it was sold for),
        with the add-on ``quantities`` (default: the service's, for the add-ons the new
        plan has); changing only the quantities of the same plan adds or removes
        resources mid-period.

        * ``when="now"``: the days from today to the paid-until date are settled at the
          daily rate of each paid period (SPEC C3): the old plan's unused days are
          credited, the new plan's charged, each rounded to the minor unit. A change that
          costs more issues an invoice for the difference, paid like any other (from the
          balance at once when it covers it and no other ``method_id`` was chosen); the
          plan changes when it is paid. One that costs less changes the plan at once and
          credits the difference to the balance with a credit note (*balance credit*).
          The billing period changes only at the period end.
        * ``when="period_end"``: the change is scheduled; the next renewal (by the billing
          run or :meth:`renew`) invoices the new plan for the new period, priced from
          the plan's price list (Astra Cloud: 20.00 a day, 100.00 a month, 1200.00 a
          year), and the service moves to it once that renewal is paid. Without a
          ``period`` the renewal period stays as it is.

        :meth:`cancel_change` withdraws a change that waits.

        Raises:
            AccessDeniedError: without the right ``services.order``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: for a service that is not active or was never paid.
            ConflictError: when a change is scheduled already, or an unpaid renewal
                invoice of the service exists (pay or delete it first).
            OrderRejectedError: for a plan the catalog does not sell, or of another kind,
                or a payment method the settings do not offer.
            PriceNotFoundError: for a period the plan has no price for, naming the ones
                it has.
            ValidationError: for a ``when`` other than ``"now"`` or ``"period_end"``
                (``"now"`` only for a daily-billed service), a period change now, an
                unknown add-on or a quantity out of range, or no change at all.
            DeletionPendingError: while the account's deletion is pending.
        """
        at_end = _when(when)
        checks.identifier("plan_id", plan_id)
        method = checks.optional_identifier("method_id", method_id)
        wanted = None if period is None else Period.parse(period)
        ctx = self._ctx
        with self._gate.open("services.order") as call:
            call.account.ensure_not_closing("change plans")
            uow = call.uow
            service = _service(call, service_id)
            _ensure_may_change(service, "change_plan")
            if at_end and service.billing_mode is BillingMode.DAILY:
                raise ValidationError(
                    "when", when, "a daily-billed service is charged day by day: it changes now"
                )
            profile = uow.profiles.get(call.account.id)
            sub = profile.subscription(service_id)
            if wanted is None:
                wanted = sub.period if at_end and sub is not None else service.period
            elif not at_end and wanted != service.period:
                raise ValidationError(
                    "period",
                    str(wanted),
                    f"the billing period ({service.period}) changes at the end of the paid "
                    "period: pass when='period_end'",
                )
            _check_method(ctx.settings, method, service.price.code)
            terms = _terms(ctx.settings, service, plan_id, wanted, quantities)
            renews = sub if at_end and sub is not None else service
            if (terms.plan_id, terms.period, terms.price, terms.configuration) == (
                service.plan_id,
                renews.period,
                renews.price,
                service.configuration,
            ):
                raise ValidationError(
                    "plan_id", plan_id, "the service has this plan, period and configuration"
                )
            other = _open_renewal(call, service_id)
            if other is not None:
                raise ConflictError(
                    f"service {service_id}",
                    f"invoice {other.number} for its renewal is unpaid; pay or delete it first",
                )
            if at_end:
                change = terms.scheduled(
                    call.now, renewal_period=None if sub is None else sub.period
                )
                service.schedule(change)
                if sub is not None:
                    sub.renew_at(*renewal_terms_of(service))
                uow.commit()
                return PlanChangeResult(service=service, changed=False, scheduled=change)
            result = self._change_now(call, service, terms, method)
            queued = ctx.commit(uow, result.events)
        ctx.send(queued)
        return result.result

    def cancel_change(self, service_id: str) -> ScheduledChange:
        """Withdraw the change scheduled on a service: a plan change or its end (SPEC X1, X2).

        A plan change waiting for its invoice deletes that invoice; a change at the
        period end gives the automatic renewal back its period and price. An end at the
        period end is withdrawn; automatic renewal stays off until switched on again.

        Returns:
            The change withdrawn.

        Raises:
            AccessDeniedError: without the right ``services.order``.
            NotFoundError: for a service of another account.
            ConflictError: when nothing is scheduled, or an unpaid renewal invoice prices
                the change (pay or delete it first).
        """
        with self._gate.open("services.order") as call:
            uow = call.uow
            service = _service(call, service_id)
            change = service.scheduled
            if change is not None and change.at_period_end and not change.ends:
                other = _open_renewal(call, service_id)
                if other is not None:
                    raise ConflictError(
                        f"service {service_id}",
                        f"invoice {other.number} for its renewal prices the change; "
                        "pay or delete it first",
                    )
            change = service.withdraw_scheduled()
            if change.invoice_id is not None:
                invoice = uow.invoices.get(change.invoice_id)
                if invoice.is_open():
                    invoice.delete(call.today, reason=f"plan change withdrawn by {call.user.id}")
            sub = uow.profiles.get(call.account.id).subscription(service_id)
            if sub is not None and change.at_period_end and not change.ends:
                sub.renew_at(*renewal_terms_of(service, change.renewal_period or service.period))
            uow.commit()
        return change

    def terminate(self, service_id: str, *, when: str = "period_end") -> Termination:
        """End a paid service: at the end of its paid period, or now (SPEC X2).

        * ``when="period_end"``: automatic renewal stops and the service is not renewed
          any more (an unpaid renewal invoice that bills only this service is deleted);
          when its paid period runs out the billing run expires it and asks the
          control panel to delete it. :meth:`cancel_change` withdraws this.
        * ``when="now"``: the unused days of the paid period (each period at its daily
          rate, rounded to the minor unit) are credited to the balance with a credit
          note (*balance credit*), and the service is *deleting* until the control panel
          reports it gone; an unpaid renewal invoice of only this service is deleted. A
          refund to the paying method is not made: the money stays on
          the balance, where the customer may spend it or ask for a refund.

        An order not yet paid is cancelled with :meth:`cancel` instead.

        Raises:
            AccessDeniedError: without the right ``services.delete``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: for a service that was never paid (cancel it), or one
                whose state does not let the client end it now.
            ConflictError: when a change is scheduled already.
            ValidationError: for a ``when`` other than ``"now"`` or ``"period_end"``
                (``"now"`` only for a daily-billed service).
        """
        at_end = _when(when)
        ctx = self._ctx
        with self._gate.open("services.delete") as call:
            uow, today = call.uow, call.today
            service = _service(call, service_id)
            if service.awaiting_payment:
                raise InvalidTransitionError(
                    f"service {service_id} (awaiting payment)", "terminate", ["cancel"]
                )
            deleting = ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.DELETING)
            if service.status not in _LIVE or not service.can(deleting, ActorRole.CLIENT):
                allowed = [str(step) for step in service.available_steps(ActorRole.CLIENT)]
                raise InvalidTransitionError(
                    f"service {service_id} ({service.status.value})", "terminate", allowed
                )
            if service.scheduled is not None:
                raise ConflictError(
                    f"service {service_id}",
                    f"already {service.scheduled}; withdraw that change first",
                )
            if at_end and service.billing_mode is BillingMode.DAILY:
                raise ValidationError(
                    "when", when, "a daily-billed service is charged day by day: it ends now"
                )
            if at_end:
                service.schedule(ScheduledChange(at_period_end=True, requested_at=call.now))
                _stop_renewing(call, service)
                _drop_renewals(call, service)
                uow.commit()
                return Termination(service=service, ends_on=service.paid_until)
            credit, note = None, None
            paid_until = service.paid_until
            if (
                service.billing_mode is BillingMode.PERIODIC
                and paid_until is not None
                and paid_until > today
                and service.price.amount > 0
            ):
                rest = settle_rest(
                    ctx.settings.proration,
                    service.price,
                    Money.zero(service.price.code),
                    cycle=_cycle(service),
                    paid_until=paid_until,
                    on=today,
                )
                credit = rest.credit
                if credit.amount > 0:
                    note = credit_unused(
                        ctx,
                        uow,
                        service,
                        credit,
                        plan_name=service.plan_name,
                        start=today,
                        end=paid_until,
                        now=call.now,
                    )
            service.begin_processing(
                ServiceOperation.DELETING,
                Actor.client(call.user.id),
                call.now,
                "ended by the client",
            )
            _stop_renewing(call, service)
            _drop_renewals(call, service)
            uow.commit()
        return Termination(service=service, credit=credit, credit_note=note)

    def _change_now(
        self, call: Call, service: Service, terms: _Terms, method_id: str | None
    ) -> _Changed:
        """Settle a plan change today: invoice the difference, or credit it and change."""
        ctx, uow, today, now = self._ctx, call.uow, call.today, call.now
        actor = Actor.client(call.user.id)
        paid_until = service.paid_until
        if service.billing_mode is BillingMode.DAILY or paid_until is None or paid_until <= today:
            # Nothing paid ahead to settle: a daily-billed service pays the new price
            # from tomorrow's charge on.
            terms.apply(service, actor, now)
            reprice_subscription(uow, service)
            return _Changed(PlanChangeResult(service=service, changed=True), [])
        old_name = service.plan_name
        rest = settle_rest(
            ctx.settings.proration,
            service.price,
            terms.price,
            cycle=_cycle(service),
            paid_until=paid_until,
            on=today,
        )
        net = rest.net
        if net.amount <= 0:
            terms.apply(service, actor, now)
            reprice_subscription(uow, service)
            note = None
            if net.amount < 0:
                note = credit_unused(
                    ctx,
                    uow,
                    service,
                    -net,
                    plan_name=old_name,
                    start=today,
                    end=paid_until,
                    now=now,
                )
            result = PlanChangeResult(
                service=service, changed=True, settlement=rest, credit_note=note
            )
            return _Changed(result, [])
        invoice = ctx.issue_invoice(
            uow,
            call.account.id,
            [
                InvoiceLine.of(
                    LineText.of(
                        "line.plan_change",
                        old=old_name,
                        plan=terms.plan_name,
                        start=today,
                        end=paid_until,
                    ),
                    net,
                    service_id=service.id,
                    paid_until=paid_until,
                ),
            ],
            today=today,
            due_on=min(today + timedelta(days=ctx.settings.invoice_due_days), paid_until),
            kind=InvoiceKind.ORDER,
            payment_method_id=method_id,
        )
        service.schedule(terms.scheduled(now, invoice_id=invoice.id))
        events: list[BillingEvent] = [ctx.issued(invoice, now)]
        code = invoice.currency
        paid = False
        if (
            method_id in {None, BALANCE_METHOD}
            and payment_readiness(call.account, ctx.settings.payment_requirements).ready
            and ctx.credit_allows(uow, call.account.id, code, CreditAction.PAY_FROM_BALANCE, today)
            and ctx.spendable(uow, call.account.id, code, with_credit=False, on=today)
            >= invoice.amount_due
        ):
            events += ctx.settle(uow, invoice, invoice.amount_due, now, from_balance=True, on=today)
            paid = True
        result = PlanChangeResult(
            service=service,
            changed=service.scheduled is None,
            scheduled=service.scheduled,
            settlement=rest,
            invoice=invoice,
            paid_from_balance=paid,
        )
        return _Changed(result, events)

    # ------------------------------------------------------------------ client actions

    def stop(self, service_id: str) -> Service:
        """Stop a periodically billed service (its paid period runs on; SPEC C5).

        Raises:
            AccessDeniedError: without the right ``services.manage``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: unless the service is active and billed per period,
                naming what its state allows.
        """
        return self._act("services.manage", service_id, Service.stop, "stopped by the client")

    def start(self, service_id: str) -> Service:
        """Start a service the client stopped (SPEC C5).

        Raises:
            AccessDeniedError: without the right ``services.manage``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: unless the client stopped it.
        """
        return self._act("services.manage", service_id, Service.start, "started by the client")

    def suspend(self, service_id: str) -> Service:
        """Suspend a daily-billed service: it is not charged while suspended (SPEC C5).

        Raises:
            AccessDeniedError: without the right ``services.manage``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: unless the service is active and billed daily.
        """
        return self._act("services.manage", service_id, Service.suspend, "suspended by the client")

    def resume(self, service_id: str) -> Service:
        """Resume a daily-billed service the client suspended (SPEC C5).

        Raises:
            AccessDeniedError: without the right ``services.manage``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: unless the client suspended it.
        """
        return self._act("services.manage", service_id, Service.resume, "resumed by the client")

    def reboot(self, service_id: str) -> Service:
        """Ask the control panel to reboot an active service.

        The service is *processing* until the provider reports the reboot done
        (:meth:`ProviderServices.finish`).

        Raises:
            AccessDeniedError: without the right ``services.manage``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: unless the service is active.
        """
        return self._act(
            "services.manage",
            service_id,
            lambda svc, actor, at, why: svc.begin_processing(
                ServiceOperation.REBOOTING, actor, at, why
            ),
            "reboot requested by the client",
        )

    def delete(self, service_id: str) -> Service:
        """Delete a paid service: it is *deleting* until the provider reports it gone.

        Its automatic renewal stops at once, a plan change waiting for it is withdrawn
        (its unpaid invoice deleted), and so is an unpaid renewal invoice that bills only
        this service: paying it would buy a period of a service that is going. An order not yet paid is cancelled with
        :meth:`cancel` instead.

        Raises:
            AccessDeniedError: without the right ``services.delete``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: for a service that was never paid (cancel it), or one
                the state machine does not let the client delete now.
        """
        with self._gate.open("services.delete") as call:
            service = _service(call, service_id)
            if service.awaiting_payment:
                raise InvalidTransitionError(
                    f"service {service_id} (awaiting payment)",
                    "delete",
                    ["cancel"],
                )
            service.begin_processing(
                ServiceOperation.DELETING,
                Actor.client(call.user.id),
                call.now,
                "deletion requested by the client",
            )
            _stop_renewing(call, service)
            _drop_scheduled(call, service)
            _drop_renewals(call, service)
            call.uow.commit()
        return service

    def cancel(self, service_id: str) -> tuple[str, ...]:
        """Cancel an order that was not paid: all of its services and its invoice.

        An issued invoice is never edited, so cancelling one service of an unpaid order
        cancels the whole order: every service its open invoice orders is cancelled and
        the invoice is deleted (SPEC C4: to buy part of it, check out again).

        Returns:
            The ids of the services cancelled.

        Raises:
            AccessDeniedError: without the right ``services.delete``.
            NotFoundError: for a service of another account.
            InvalidTransitionError: for a paid service (delete it instead), naming what
                its state allows.
        """
        with self._gate.open("services.delete") as call:
            service = _service(call, service_id)
            actor = Actor.client(call.user.id)
            if not service.can(ServiceAction.CANCEL, actor.role):
                allowed = [str(step) for step in service.available_steps(actor.role)]
                raise InvalidTransitionError(
                    f"service {service_id} ({service.status.value})", "cancel", allowed
                )
            invoice = _open_order_invoice(call, service_id)
            cancelled: list[str] = []
            if invoice is not None:
                invoice.delete(call.today, reason=f"order cancelled by {call.user.id}")
                cancelled = cancel_order_services(call, invoice)
            if service.id not in cancelled:
                service.cancel(actor, call.now, "cancelled by the client")
                cancelled.append(service.id)
            call.uow.commit()
        return tuple(cancelled)

    def renew_now(self, service_id: str, *, periods: int = 1) -> Invoice:
        """Renew a service now, paid from the balance (SPEC L2, L4).

        Pays the service's unpaid renewal invoice from the balance, or issues one for the
        next ``periods`` and pays it; the paid period is extended at once.

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account.
            InsufficientFundsError: when the balance does not cover it, naming what is
                missing; nothing is issued then.
            ConflictError: when the service was never paid.
            CreditBlockedError: while the account's credit line is blocked.
            ProfileIncompleteError: while the profile does not allow paying (SPEC A2).
            DeletionPendingError: while the account's deletion is pending.
        """
        ctx = self._ctx
        with self._gate.open("services.renew") as call:
            call.account.ensure_not_closing("renew services")
            uow = call.uow
            ctx.ensure_profile_may_pay(uow, call.account.id)
            service = _service(call, service_id)
            invoice = _open_renewal(call, service_id)
            events: list[BillingEvent] = []
            if invoice is None:
                invoice = _issue_renewal(ctx, call, service, periods, None)
                events.append(ctx.issued(invoice, call.now))
            code = invoice.currency
            ctx.ensure_credit_allows(
                uow, call.account.id, code, CreditAction.PAY_FROM_BALANCE, call.today
            )
            free = ctx.spendable(uow, call.account.id, code, with_credit=False)
            due = invoice.amount_due
            if free < due:
                raise InsufficientFundsError(due, free, due - free)
            events += ctx.settle(uow, invoice, due, call.now, from_balance=True)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return invoice

    # ------------------------------------------------------------------ reads

    def view(self, service_id: str) -> ServiceView:
        """One service as the cabinet shows it (SPEC C6).

        Its IP, configuration, paid-until date, days left and the actions that work for
        it now, for this user.

        Raises:
            AccessDeniedError: without the right ``services.view``.
            NotFoundError: for a service of another account.
        """
        with self._gate.open("services.view") as call:
            return _view(call, _service(call, service_id))

    def list(
        self,
        query: OrdersQuery | None = None,
        *,
        limit: int = 50,
        after: str | None = None,
    ) -> ServicePage:
        """The account's services, searched, filtered and sorted, a page at a time (SPEC C6).

        Args:
            query: the search, status filter and sort (default: every service but
                deleted ones, oldest first).
            limit: the most services on a page (1 to 500).
            after: the ``next_after`` of the previous page, to read the next one.

        Raises:
            AccessDeniedError: without the right ``services.view``.
            ValidationError: for a limit outside 1 to 500, or an ``after`` that is not a
                service of this list.
        """
        if not _is_page_size(limit):
            raise ValidationError("limit", limit, f"a page holds 1 to {_MAX_PAGE} services")
        with self._gate.open("services.view") as call:
            services = {s.id: s for s in call.uow.services.for_account(call.account.id)}
            rows = list_orders(services.values(), call.today, query).rows
            start = 0
            if after is not None:
                ids = [row.id for row in rows]
                if after not in ids:
                    raise ValidationError(
                        "after", after, "not a service of this list; read it again from the start"
                    )
                start = ids.index(after) + 1
            page = rows[start : start + limit]
            views = tuple(_view(call, services[row.id]) for row in page)
        more = start + limit < len(rows)
        return ServicePage(
            services=views,
            total=len(rows),
            next_after=views[-1].id if more and views else None,
        )

    def history(
        self,
        service_id: str,
        *,
        newest_first: bool = True,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[ServiceChange]:
        """A page of a service's history: every change of its state, with who and why (C5).

        Each record says what was done (ordered, paid, renewed, stopped, expired,
        deleted ...), the state before and after, who did it (the client, the staff, the
        billing itself), when, and the reason given (say, the invoice whose deletion
        cancelled the order). The history is never edited, so a cursor keeps its place.

        Args:
            service_id: the service.
            newest_first: newest first (else in the order it happened).
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page.

        Raises:
            AccessDeniedError: without the right ``services.view``.
            NotFoundError: for a service of another account.
            ValidationError: for a limit out of range or a cursor that is not a record of
                this history.
        """
        with self._gate.open("services.view") as call:
            service = _service(call, service_id)
            asked = window(limit, after, newest_first=newest_first)
            total = service.change_count
            # The cursor is a record's number (from 1, the order) as text.
            cursor = total + 1 if newest_first else 0
            if asked.after is not None:
                cursor = _record_number(asked.after, total)
            if newest_first:
                first, last = max(1, cursor - asked.limit), cursor - 1
                more = first > 1
                items = service.changes(first, last)[::-1]
                ends = first
            else:
                first, last = cursor + 1, min(total, cursor + asked.limit)
                more = last < total
                items = service.changes(first, last)
                ends = last
        return Page(items=items, next_after=str(ends) if more and items else None, total=total)

    def limits(self, service_id: str) -> tuple[LimitCount, ...]:
        """The capped metrics of a service: count, cap and room left (SPEC C7).

        A count older than the settings allow is flagged stale.

        Raises:
            AccessDeniedError: without the right ``services.view``.
            NotFoundError: for a service of another account.
        """
        with self._gate.open("services.view") as call:
            service = _service(call, service_id)
            return limit_counts(service, call.today, self._ctx.settings.limit_count_max_age_days)

    def upcoming(self, *, until: date) -> Upcoming:
        """The renewal invoices the billing run will issue up to ``until`` (SPEC X6).

        Every renewal between today and ``until`` is shown, not only the next one; the
        store is read, nothing is issued or numbered (see :mod:`cabinet_billing.app.upcoming`).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ValidationError: for an ``until`` before today, more than ten years ahead, or
                not a date.
        """
        with self._gate.open("invoices.view") as call:
            return upcoming_invoices(self._ctx, call.uow, call.account.id, call.today, until)

    # ------------------------------------------------------------------ machinery

    def _act(
        self,
        right: str,
        service_id: str,
        step: Callable[[Service, Actor, datetime, str], object],
        reason: str,
    ) -> Service:
        with self._gate.open(right) as call:
            service = _service(call, service_id)
            step(service, Actor.client(call.user.id), call.now, reason)
            call.uow.commit()
        return service


class ProviderServices:
    """What the provider's control panel reports about services (``billing.services``).

    Opening, rebooting, turning off and on and deleting run in the provider's control
    panel; the service is *processing* meanwhile. The panel reports the end here, and
    keeps the service's IP address on it. These are the provider's calls: no cabinet
    user or right is involved.

    Args:
        context: the billing's shared machinery.
    """

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def finish(self, service_id: str, *, ip: str | None = None) -> Service:
        """The operation under way succeeded: the service reaches the state it implies.

        Args:
            service_id: the service.
            ip: the address the panel gave the service (e.g. when opening it), if any.

        Raises:
            NotFoundError: for an unknown service.
            ValidationError: for an ``ip`` that is not an IPv4 or IPv6 address.
            InvalidTransitionError: when the service is not processing.
        """
        with self._ctx.unit_of_work() as uow:
            now = self._ctx.clock.now()
            service = uow.services.get(service_id)
            operation = service.operation
            if ip is not None:
                service.assign_ip(ip)
            service.finish_processing(Actor.system(), now, f"{operation} done")
            uow.commit()
        return service

    def fail(self, service_id: str, reason: str) -> Service:
        """The operation under way failed: the service goes back where it began.

        Raises:
            NotFoundError: for an unknown service.
            ValidationError: without a reason.
            InvalidTransitionError: when the service is not processing.
        """
        check_text("reason", reason)
        with self._ctx.unit_of_work() as uow:
            service = uow.services.get(service_id)
            service.fail_processing(Actor.system(), self._ctx.clock.now(), reason)
            uow.commit()
        return service

    def assign_ip(self, service_id: str, ip: str | None) -> Service:
        """Keep the service's main IP address (``None`` removes it).

        Raises:
            NotFoundError: for an unknown service.
            ValidationError: for text that is not an IPv4 or IPv6 address.
            ConflictError: when the service is deleted.
        """
        with self._ctx.unit_of_work() as uow:
            service = uow.services.get(service_id)
            service.assign_ip(ip)
            uow.commit()
        return service


def _ensure_card_may_renew(
    context: Context, profile: BillingProfile, method: SavedPaymentMethod
) -> None:
    """Refuse renewing from a saved card once card autopay was stopped (SPEC R7)."""
    if context.card_autopay_stopped(profile, method):
        raise ConflictError(
            f"saved card {method.id!r}",
            "card autopay is stopped: invoices are paid by bank transfer only",
        )


def _record_number(after: str, total: int) -> int:
    """The number of the history record a cursor names, once it is one of ``total``."""
    number = int(after) if after.isascii() and after.isdigit() else 0
    if str(number) != after or not 1 <= number <= total:
        raise unknown_cursor(after)
    return number


def _service(call: Call, service_id: str) -> Service:
    """A service of the calling account (another account's is "not found")."""
    service = call.uow.services.get(service_id)
    if service.account_id != call.account.id:
        raise NotFoundError("service", service_id)
    return service


#: The most services one page of :meth:`CabinetServices.list` holds.
_MAX_PAGE = 500

#: The right each cabinet action of a service needs.
_RIGHTS = {
    ServiceUseCase.PAY: "invoices.pay",
    ServiceUseCase.RENEW: "services.renew",
    ServiceUseCase.RENEW_NOW: "services.renew",
    ServiceUseCase.STOP: "services.manage",
    ServiceUseCase.START: "services.manage",
    ServiceUseCase.SUSPEND: "services.manage",
    ServiceUseCase.RESUME: "services.manage",
    ServiceUseCase.REBOOT: "services.manage",
    ServiceUseCase.CANCEL: "services.delete",
    ServiceUseCase.DELETE: "services.delete",
    ServiceUseCase.CHANGE_PLAN: "services.order",
    ServiceUseCase.CANCEL_CHANGE: "services.order",
    ServiceUseCase.TERMINATE: "services.delete",
}


def _is_page_size(value: object) -> bool:
    return type(value) is int and 1 <= value <= _MAX_PAGE


def _open_renewal(call: Call, service_id: str) -> Invoice | None:
    """The service's unpaid renewal invoice, if it has one."""
    return _open_of_kind(call, service_id, InvoiceKind.RENEWAL)


def _open_order_invoice(call: Call, service_id: str) -> Invoice | None:
    """The unpaid order invoice that orders the service, if there is one."""
    return _open_of_kind(call, service_id, InvoiceKind.ORDER)


def _open_of_kind(call: Call, service_id: str, kind: InvoiceKind) -> Invoice | None:
    """The oldest open invoice of ``kind`` with a line for the service (found by index)."""
    for invoice in call.uow.invoices.open_for_service(service_id):
        if invoice.kind is kind and invoice.account_id == call.account.id:
            return invoice
    return None


def _drop_renewals(call: Call, service: Service) -> None:
    """Delete the unpaid renewal invoices that bill only a service that is ending.

    Paying one would buy a period of a service that is being deleted (or will not be
    renewed), so it is withdrawn with the service; a renewal invoice that bills other
    services too, or one already partly paid, is left as it is.
    """
    for invoice in call.uow.invoices.open_for_service(service.id):
        if (
            invoice.kind is InvoiceKind.RENEWAL
            and InvoiceAction.DELETE in invoice.actions()
            and all(ln.service_id in (None, service.id) for ln in invoice.lines)
        ):
            invoice.delete(call.today, reason=f"service {service.id} ends")


def _issue_renewal(
    ctx: Context, call: Call, service: Service, periods: int, method_id: str | None
) -> Invoice:
    """Issue the invoice of the service's next ``periods`` (SPEC L4)."""
    uow, today = call.uow, call.today
    ctx.ensure_credit_allows(
        uow, call.account.id, service.price.code, CreditAction.RENEW_THROUGH_CART, today
    )
    # A change scheduled for the period end is what the renewal buys (SPEC X1).
    plan_name, price, until = service.renewal_terms(periods)
    return ctx.issue_invoice(
        uow,
        call.account.id,
        [
            InvoiceLine.of(
                LineText.of("line.renewal", plan=plan_name, until=until),
                price,
                service_id=service.id,
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


def _stop_renewing(call: Call, service: Service) -> None:
    """Switch the automatic renewal of a service off (it is being deleted)."""
    service.set_auto_renew(False)
    sub = call.uow.profiles.get(call.account.id).subscription(service.id)
    if sub is not None:
        sub.switch_off()


def _drop_scheduled(call: Call, service: Service) -> None:
    """Withdraw what waits on a service being deleted, and its unpaid invoice."""
    if service.scheduled is None:
        return
    change = service.withdraw_scheduled()
    if change.invoice_id is not None:
        invoice = call.uow.invoices.get(change.invoice_id)
        if invoice.is_open():
            invoice.delete(call.today, reason=f"service {service.id} deleted")


def _use_cases(call: Call, service: Service) -> tuple[ServiceUseCase, ...]:
    """The cabinet actions that work for the service now, for this user."""
    client = ActorRole.CLIENT
    allowed = set(service.available_steps(client))
    closing = call.account.pending_deletion is not None or call.account.is_deleted
    found: list[ServiceUseCase] = []
    if service.awaiting_payment and _open_order_invoice(call, service.id) is not None:
        found.append(ServiceUseCase.PAY)
    if (
        service.paid
        and not closing
        and service.billing_mode is BillingMode.PERIODIC
        and ServiceStep(ServiceAction.RENEW) in allowed
    ):
        if _open_renewal(call, service.id) is None:
            found.append(ServiceUseCase.RENEW)
        found.append(ServiceUseCase.RENEW_NOW)
    if service.scheduled is not None:
        found.append(ServiceUseCase.CANCEL_CHANGE)
    elif service.paid and not closing and service.can(ServiceAction.CHANGE_PLAN, client):
        found.append(ServiceUseCase.CHANGE_PLAN)
    steps = {
        ServiceUseCase.STOP: ServiceStep(ServiceAction.STOP),
        ServiceUseCase.START: ServiceStep(ServiceAction.START),
        ServiceUseCase.SUSPEND: ServiceStep(ServiceAction.SUSPEND),
        ServiceUseCase.RESUME: ServiceStep(ServiceAction.RESUME),
        ServiceUseCase.REBOOT: ServiceStep(
            ServiceAction.BEGIN_PROCESSING, ServiceOperation.REBOOTING
        ),
        ServiceUseCase.CANCEL: ServiceStep(ServiceAction.CANCEL),
    }
    found += [use_case for use_case, step in steps.items() if step in allowed]
    deleting = ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.DELETING)
    if service.paid and deleting in allowed:
        found.append(ServiceUseCase.DELETE)
        if service.status in _LIVE and service.scheduled is None:
            found.append(ServiceUseCase.TERMINATE)
    return tuple(u for u in found if call.users.can(call.user.id, _RIGHTS[u]))


def _view(call: Call, service: Service) -> ServiceView:
    return ServiceView(
        row=order_row(service, call.today),
        configuration=dict(service.configuration),
        billing_mode=service.billing_mode,
        actions=_use_cases(call, service),
        scheduled=service.scheduled,
    )


#: The states a client ends a paid service from.
_LIVE = frozenset(
    {ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED_BY_CLIENT, ServiceStatus.STOPPED_BY_CLIENT}
)


def _when(value: object) -> bool:
    """Whether ``when`` is the period end (else now); refuse anything else."""
    if value not in WHEN:
        raise ValidationError("when", value, f"allowed: {', '.join(WHEN)}")
    return value == "period_end"


def _ensure_may_change(service: Service, what: str) -> None:
    """Refuse changing a service that is not active and paid, naming what it allows."""
    if service.awaiting_payment or not service.can(ServiceAction.CHANGE_PLAN, ActorRole.CLIENT):
        state = "awaiting payment" if service.awaiting_payment else service.status.value
        allowed = [str(step) for step in service.available_steps(ActorRole.CLIENT)]
        raise InvalidTransitionError(f"service {service.id} ({state})", what, allowed)
    if service.scheduled is not None:
        raise ConflictError(
            f"service {service.id}",
            f"already {service.scheduled}; withdraw that change first",
        )


def _cycle(service: Service) -> BillingCycle:
    """The service's billing cycle (anchored one period before paid-until when unknown)."""
    assert service.paid_until is not None  # noqa: S101 - checked by the callers
    anchor = service.anchor or service.paid_until - service.period.delta()
    return BillingCycle(anchor, service.period)


@attrs.frozen
class _Terms:
    """A plan, period and configuration as the provider sells them to this service."""

    plan_id: str
    plan_name: str
    period: Period
    price: Money
    prices: PriceList
    configuration: tuple[tuple[str, object], ...]
    limits: tuple[Limit, ...] | None = None

    def scheduled(
        self,
        at: datetime,
        *,
        invoice_id: str | None = None,
        renewal_period: Period | None = None,
    ) -> ScheduledChange:
        return ScheduledChange(
            at_period_end=invoice_id is None,
            requested_at=at,
            plan_id=self.plan_id,
            plan_name=self.plan_name,
            price=self.price,
            period=self.period,
            prices=self.prices,
            configuration=self.configuration,
            invoice_id=invoice_id,
            renewal_period=renewal_period,
            limits=self.limits,
        )

    def apply(self, service: Service, actor: Actor, at: datetime) -> None:
        service.change_plan(
            self.plan_id,
            self.plan_name,
            self.price,
            actor=actor,
            at=at,
            prices=self.prices,
            configuration=dict(self.configuration),
            limits=self.limits,
        )


@attrs.frozen
class _Changed:
    result: PlanChangeResult
    events: list[BillingEvent]


def _check_method(settings: BillingSettings, method_id: str | None, currency: str) -> None:
    """Refuse a payment method the settings do not offer in the service's currency."""
    if method_id is None or method_id == BALANCE_METHOD or not settings.payment_methods:
        return
    offered = [m.id for m in settings.payment_methods if m.currency == currency]
    if method_id not in offered:
        raise OrderRejectedError(
            "method_id",
            method_id,
            f"the methods offered in {currency} are {', '.join([*offered, BALANCE_METHOD])}",
        )


def _kind(plan: Plan) -> str:
    """A plan's kind as text (a plan may be given its kind as text)."""
    return str(getattr(plan.kind, "value", plan.kind))


def _terms(
    settings: BillingSettings,
    service: Service,
    plan_id: str,
    period: Period,
    quantities: Mapping[str, object] | None,
) -> _Terms:
    """What the service costs on ``plan_id`` for ``period``, or refuse what is not sold."""
    code = service.price.code
    catalog = settings.catalog
    if catalog is not None and plan_id in catalog:
        plan = catalog.plan(plan_id)
        kind = service.kind.value
        if _kind(plan) != kind:
            same = [p.id for p in catalog.plans() if _kind(p) == kind]
            raise OrderRejectedError(
                "plan",
                plan_id,
                f"a {kind} service changes to the plans {', '.join(same)}",
            )
        ids = {addon.id for addon in plan.addons}
        chosen = (
            {name: q for name, q in service.configuration if name in ids}
            if quantities is None
            else dict(quantities)
        )
        quote = plan.quote(period, code, chosen)
        configuration = tuple((ln.code, ln.quantity) for ln in quote.lines[1:])
        return _Terms(
            plan.id,
            plan.name,
            period,
            quote.total,
            plan.price_list(code, chosen),
            configuration,
            plan.limits,
        )
    if plan_id == service.plan_id and quantities is None:
        return _Terms(
            service.plan_id,
            service.plan_name,
            period,
            service.price_for(period),
            service.prices,
            service.configuration,
        )
    if catalog is None:
        raise OrderRejectedError(
            "plan",
            plan_id,
            f"without a catalog the service keeps its plan {service.plan_id!r} and "
            "configuration; only its period changes",
        )
    sold = ", ".join(p.id for p in catalog.plans()) or "none"
    raise OrderRejectedError("plan", plan_id, f"the catalog sells the plans {sold}")
