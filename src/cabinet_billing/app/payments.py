"""The cabinet's payments: top-ups and saved payment methods (SPEC L2, M5, R5, R7).

A top-up is an advance payment to the balance by one of the provider's methods, with its
fee, range and cashback (SPEC M5, M6). A saved method (a card or wallet token held by the
payment provider) is bound by paying the oldest unpaid invoice with it or by a small
verification charge that is refunded (Horoshop); deleting it switches off the automatic
renewals it paid.
"""

from __future__ import annotations

from datetime import date

import attrs
import moneyed

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, choice, page_of, paginate, window
from cabinet_billing.app.results import BindingResult, CheckoutStarted
from cabinet_billing.app.services import _card_autopay_stopped
from cabinet_billing.app.webhooks import remember_key
from cabinet_billing.domain.attempts import AttemptPurpose, AttemptStatus, ChargeAttempt
from cabinet_billing.domain.autopay import CardAutopay, CardAutopayStatus, PayWay
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceLine
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import Payment, PaymentPurpose, PaymentStatus
from cabinet_billing.domain.saved_method import (
    BindingAction,
    MethodKind,
    SavedMethodStatus,
    SavedPaymentMethod,
    binding_plan,
)
from cabinet_billing.domain.service import ServiceStatus
from cabinet_billing.domain.subscription import RenewalSource
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import ConflictError, ValidationError
from cabinet_billing.ports.listing import PaymentQuery
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.renewal import decide_renewal, renewal_key

__all__ = [
    "CabinetPayments",
    "CardAutopayView",
    "ChargeAttemptView",
    "SavedMethodPayment",
    "SavedMethodView",
]


@attrs.frozen(kw_only=True)
class SavedMethodView:
    """A saved method with what it pays automatically (SPEC R5).

    Attributes:
        method: the method.
        renews: the services whose auto-renewal it pays.
        card_autopay: whether card autopay on invoice day charges it (SPEC R7).
        autopay: whether the automatic top-up charges it (SPEC R6).
    """

    method: SavedPaymentMethod
    renews: tuple[str, ...]
    card_autopay: bool
    autopay: bool


@attrs.frozen(kw_only=True)
class CardAutopayView:
    """Where the account's card autopay on invoice day stands (SPEC R7, Horoshop).

    Attributes:
        offered: whether the provider's settings charge invoices to the card on the day
            they are issued (``card_autopay_on_invoice_day``).
        status: awaiting the first card payment, active, or stopped.
        method: the saved card charged while it is active (``None`` otherwise).
        since: the day of the first card payment, while it is active.
        pay_ways: the ways an invoice of the account can be paid now.
        services: while it is active, the services whose invoices it charges: every
            service of the account that is not deleted (the run charges the card for
            every invoice issued, whether the run or the customer issued it).
    """

    offered: bool
    status: CardAutopayStatus
    method: SavedPaymentMethod | None
    since: date | None
    pay_ways: tuple[PayWay, ...]
    services: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether invoices are charged to the card now."""
        return self.offered and self.status is CardAutopayStatus.ACTIVE


@attrs.frozen(kw_only=True)
class ChargeAttemptView:
    """An automatic charge the billing run made or is making (SPEC R4, R6, R7).

    What a cabinet shows as "we tried to charge your card on ... and will try again on
    ...". The account keeps the latest attempt of each thing paid while it can still
    matter (the renewal of the current period, an invoice not yet past, today's top-up
    and card check); older ones are forgotten.

    Attributes:
        key: the provider's idempotency key, ``<series>#<n>``; the page cursor.
        number: the attempt's number in its series (1 for the first try).
        purpose: a renewal, card autopay of an invoice, an automatic top-up, or a check
            that a card works again.
        status: pending (no answer from the provider yet), succeeded or failed.
        reason: why it failed (empty otherwise).
        started_on: the billing day it was made.
        amount: what the card was (or is being) charged, the method's fee included.
        method_id: the saved method charged.
        service_id: the service renewed, or whose renewal asked for the check.
        invoice_id: the invoice it pays.
        paid_until: for a renewal, the end of the period it pays.
        next_attempt_on: the day the billing run tries again after a failure (``None``:
            it will not try again unless something changes; a pending attempt is asked
            about again by the next run).
    """

    key: str
    number: int
    purpose: AttemptPurpose
    status: AttemptStatus
    reason: str
    started_on: date
    amount: Money
    method_id: str
    service_id: str | None
    invoice_id: str | None
    paid_until: date | None
    next_attempt_on: date | None


@attrs.frozen(kw_only=True)
class SavedMethodPayment:
    """An invoice charged to a saved method: paid, or declined with the reason.

    Attributes:
        invoice_id: the invoice.
        method: the method, with its status after the charge.
        amount: what was charged (the amount due plus the method's fee).
        succeeded: whether the provider took the money.
        reason: why it was declined (empty when it succeeded).
        events: what happened.
    """

    invoice_id: str
    method: SavedPaymentMethod
    amount: Money
    succeeded: bool
    reason: str
    events: tuple[BillingEvent, ...]


class CabinetPayments:
    """Top-ups and saved methods (right ``invoices.pay``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def list(
        self,
        *,
        status: PaymentStatus | str | None = None,
        purpose: PaymentPurpose | str | None = None,
        invoice_id: str | None = None,
        newest_first: bool = True,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[Payment]:
        """A page of the account's payments, newest first (SPEC L6).

        Args:
            status: only payments in this status (``"credited"``, ``"refunded"`` ...).
            purpose: only top-ups, invoice payments or cashback.
            invoice_id: only the payments made for this invoice.
            newest_first: newest first (else oldest first).
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ValidationError: for an unknown status or purpose, a limit out of range or a
                cursor that is not a payment of this list.
        """
        query = PaymentQuery(
            choice(PaymentStatus, status, "status"),
            choice(PaymentPurpose, purpose, "purpose"),
            invoice_id,
        )
        with self._gate.open("invoices.view") as call:
            asked = window(limit, after, newest_first=newest_first)
            return page_of(call.uow.payments.page(call.account.id, query, asked), _payment_id)

    def top_up(
        self,
        amount: moneyed.Money,
        method_id: str,
        *,
        payer_id: str | None = None,
        return_url: str | None = None,
        remember: bool = False,
    ) -> CheckoutStarted:
        """Start an advance payment to the balance by a method (SPEC L2, M5).

        The top-up issues an advance-payment invoice ("Авансовый платеж") of the amount
        credited, with the account's tax rate; the payment pays it when it is credited
        (the money stays on the balance), a failed or cancelled payment cancels it. The
        result names it (``invoice``); download it with ``cabinet.documents.download``.

        With a ``payer_id``, the payment is made by that payer of the account; its first
        payment concludes its contract (SPEC L8). With ``remember``, the card or wallet
        the customer pays with is saved once the provider's credit brings its token
        (SPEC R5, "remember this method").

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for a method not offered in the amount's currency.
            AmountOutOfRangeError: for an amount outside the method's range.
            PayerNotReplaceableError: while another payer has unpaid expenses in an act.
        """
        ctx = self._ctx
        money = checks.amount("amount", amount)
        method_id = checks.identifier("method_id", method_id)
        payer_id = checks.optional_identifier("payer_id", payer_id)
        with self._gate.open("invoices.pay") as call:
            uow, now = call.uow, call.now
            ctx.ensure_profile_may_pay(uow, call.account.id)
            ctx.ensure_payer_may_pay(uow, call.account.id, payer_id)
            method = ctx.settings.method(method_id, money.code)
            quote = method.pricing.quote(money)
            invoice = ctx.issue_invoice(
                uow,
                call.account.id,
                [InvoiceLine.of(LineText("line.top_up"), quote.base)],
                today=call.today,
                due_on=None,
                kind=InvoiceKind.TOP_UP,
                payment_method_id=method.id,
                payer_id=payer_id,
            )
            payment = Payment.top_up(
                ctx.next_id(uow, "payment"),
                call.account.id,
                quote,
                now,
                method_id=method.id,
                payer_id=payer_id,
                invoice_id=invoice.id,
            )
            if remember:
                uow.profiles.get(call.account.id).record(remember_key(payment.id))
            started = ctx.checkout(uow, payment, now, return_url)
            return attrs.evolve(started, invoice=invoice)

    def bind_card(
        self,
        method: SavedPaymentMethod,
        *,
        verification: Money | None = None,
    ) -> BindingResult:
        """Save a card or wallet and prove it works (SPEC R5, Horoshop's binding).

        With an unpaid invoice the card may pay (one that chose no method, or an order
        checked out for a card or the card's provider: SPEC C4), the card pays the oldest
        one; otherwise a small amount (``verification``, by default the settings'
        ``card_verification``) is charged and refunded. A declined charge leaves the method saved but not working. Binding a
        card also starts card autopay on invoice day when the settings offer it.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            GatewayTimeoutError: when the provider does not answer (nothing is saved).
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        checks.instance(
            "method", method, SavedPaymentMethod, "a SavedPaymentMethod(id, account_id, ...)"
        )
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            call.account.ensure_not_closing("bind a card")
            uow, now = call.uow, call.now
            account_id = call.account.id
            account = ctx.ensure_profile_may_pay(uow, account_id)
            profile = uow.profiles.get(account_id)
            profile.add_method(method)
            currency = account.profile.currency
            # Only what the card may pay: an invoice that chose no method, or an order
            # checked out for a card or the card's provider (SPEC C4); never a credit
            # statement or a top-up's advance-payment invoice (money coming in pays those).
            open_invoices = [
                i
                for i in uow.invoices.for_account(account_id)
                if i.is_open()
                and i.kind not in {InvoiceKind.STATEMENT, InvoiceKind.TOP_UP}
                and i.currency == currency
                and ctx.method_may_pay(i, method)
            ]
            plan = binding_plan(open_invoices, verification or ctx.verification(currency))
            events: list[BillingEvent] = []
            key = f"bind:{method.id}"
            result = ctx.gateway.charge_saved_method(method.token, plan.amount, idempotency_key=key)
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
                    ctx.next_id(uow, "payment"),
                    account_id,
                    plan.invoice_id,
                    plan.amount,
                    now,
                    method_id=method.id,
                )
                events += ctx.credit_charge(uow, payment, key, now)
            elif plan.refund is not None:
                ctx.gateway.refund(result.reference, plan.refund, idempotency_key=f"{key}:refund")
            autopay = profile.card_autopay or CardAutopay(account_id)
            if (
                ctx.settings.card_autopay_on_invoice_day
                and method.kind is MethodKind.CARD
                and autopay.status is not CardAutopayStatus.STOPPED
            ):
                # A stopped card autopay stays stopped: the customer chose bank transfer.
                autopay.record_card_payment(method.id, now.date())
                profile.card_autopay = autopay
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return BindingResult(
            method=method,
            action=plan.action,
            invoice_id=plan.invoice_id,
            amount=plan.amount,
            events=tuple(events),
        )

    def delete_method(self, method_id: str) -> tuple[str, ...]:
        """Delete a saved method; auto-renewal is switched off for the services it paid.

        Returns:
            The ids of the services whose auto-renewal was switched off.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an unknown method.
        """
        with self._gate.open("invoices.pay") as call:
            uow = call.uow
            profile = uow.profiles.get(call.account.id)
            switched = profile.remove_method(method_id)
            for service_id in switched:
                uow.services.get(service_id).set_auto_renew(False)
            if profile.card_autopay is not None and profile.card_autopay.method_id == method_id:
                profile.card_autopay.stop()
            uow.commit()
        return switched

    def methods(self) -> tuple[SavedMethodView, ...]:
        """The saved methods, each with the services and subscriptions it renews (SPEC R5).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
        """
        with self._gate.open("invoices.view") as call:
            profile = call.uow.profiles.get(call.account.id)
            return tuple(
                SavedMethodView(
                    method=method,
                    renews=tuple(
                        s.service_id
                        for s in profile.subscriptions
                        if s.enabled and s.method_id == method.id
                    ),
                    card_autopay=(
                        profile.card_autopay is not None
                        and profile.card_autopay.method_id == method.id
                        and profile.card_autopay.status is not CardAutopayStatus.STOPPED
                    ),
                    autopay=profile.autopay is not None and profile.autopay.method_id == method.id,
                )
                for method in profile.methods
            )

    def rename_method(self, method_id: str, name: str) -> SavedPaymentMethod:
        """Rename a saved method (SPEC R5).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an unknown method.
            ValidationError: for an empty or too long name, or one holding a card number.
        """
        with self._gate.open("invoices.pay") as call:
            method = call.uow.profiles.get(call.account.id).method(method_id)
            method.rename(name)
            call.uow.commit()
        return method

    def pay_invoice(self, invoice_id: str, saved_method_id: str) -> SavedMethodPayment:
        """Pay an open invoice with a saved method, the customer present (SPEC R5, L2).

        The charge is made with the idempotency key of the invoice and the method, so a
        call repeated after a timeout never charges twice. A declined charge leaves the
        invoice unpaid and the method not working.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for an unknown invoice or method.
            InvalidTransitionError: when the invoice has nothing left to pay.
            PaymentMethodFixedError: for an order checked out for another method.
            ConflictError: for a method that may not pay for purchases.
            GatewayTimeoutError: when the provider does not answer (nothing is booked).
        """
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            uow, now = call.uow, call.now
            account_id = call.account.id
            ctx.ensure_profile_may_pay(uow, account_id)
            invoice = ctx.invoice_of(uow, account_id, invoice_id)
            require_open(invoice)
            method = uow.profiles.get(account_id).method(saved_method_id)
            if method.status is SavedMethodStatus.CONFIGURING:
                raise ConflictError(
                    f"saved payment method {method.id!r}", "is still being configured"
                )
            ctx.ensure_method_allowed(invoice, method)
            if not method.for_purchases:
                raise ConflictError(
                    f"saved payment method {method.id!r}", "may not pay for purchases"
                )
            due = invoice.amount_due
            pricing = ctx.pricing_of(method, due.code)
            amount = due if pricing is None else pricing.quote(due).total
            profile = uow.profiles.get(account_id)
            # One key per try: a repeat after a timeout reuses it (never a second charge),
            # a try after a decline is a new charge.
            series = f"pay:{invoice.id}:{method.id}:"
            key = series + str(sum(1 for k in profile.keys if k.startswith(series)))
            result = ctx.gateway.charge_saved_method(method.token, amount, idempotency_key=key)
            events: list[BillingEvent] = []
            if not result.succeeded:
                reason = result.reason or result.status.value
                if method.working:
                    method.mark_failed(now, reason)
                else:
                    method.check_failed(now, reason)
                profile.record(key)
            else:
                if not method.working:
                    method.mark_working(now)
                payment = Payment.for_invoice(
                    ctx.next_id(uow, "payment"),
                    account_id,
                    invoice.id,
                    due if pricing is None else pricing.quote(due),
                    now,
                    method_id=method.id,
                )
                events += ctx.credit_charge(uow, payment, key, now)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return SavedMethodPayment(
            invoice_id=invoice.id,
            method=method,
            amount=amount,
            succeeded=result.succeeded,
            reason=result.reason or ("" if result.succeeded else result.status.value),
            events=tuple(events),
        )

    def set_pay_without_login(self, enabled: bool) -> bool:
        """Allow or forbid paying the account's invoices by pay link, without a login (L5).

        While it is off, ``billing.pay_links`` refuses the account's links, valid or not,
        and expired ones are not re-issued.

        Returns:
            The setting as it now is.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for anything but ``True`` or ``False``.
        """
        if not isinstance(enabled, bool):
            raise ValidationError("pay_without_login", enabled, "must be True or False")
        with self._gate.open("settings.manage") as call:
            call.account.set_pay_without_login(enabled)
            call.uow.commit()
        return enabled

    def stop_card_autopay(self) -> None:
        """Stop charging the card on invoice day: bank transfer stays the only way (R7).

        Nothing charges a saved card automatically any more: the automatic renewals that
        were paid from a card are switched off too (their invoices wait for a bank
        transfer).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ConflictError: when card autopay never started.
            InvalidTransitionError: when it is stopped already.
        """
        with self._gate.open("invoices.pay") as call:
            profile = call.uow.profiles.get(call.account.id)
            autopay = profile.card_autopay
            if autopay is None:
                raise ConflictError("card autopay", "has not started: no card payment yet")
            autopay.stop()
            cards = {m.id for m in profile.methods if m.kind is MethodKind.CARD}
            for sub in profile.subscriptions:
                if sub.enabled and sub.method_id in cards:
                    sub.switch_off()
                    call.uow.services.get(sub.service_id).set_auto_renew(False)
            call.uow.commit()

    def card_autopay(self) -> CardAutopayView:
        """Where card autopay on invoice day stands: on or off, the card, the ways to pay.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
        """
        offered = self._ctx.settings.card_autopay_on_invoice_day
        with self._gate.open("invoices.view") as call:
            uow = call.uow
            profile = uow.profiles.get(call.account.id)
            autopay = profile.card_autopay or CardAutopay(call.account.id)
            method = None
            if autopay.method_id is not None:
                method = next((m for m in profile.methods if m.id == autopay.method_id), None)
            active = offered and autopay.status is CardAutopayStatus.ACTIVE
            services = tuple(
                s.id
                for s in uow.services.for_account(call.account.id)
                if active and s.status is not ServiceStatus.DELETED
            )
        return CardAutopayView(
            offered=offered,
            status=autopay.status,
            method=method,
            since=autopay.since,
            pay_ways=autopay.pay_ways,
            services=services,
        )

    def attempts(
        self,
        *,
        status: AttemptStatus | str | None = None,
        purpose: AttemptPurpose | str | None = None,
        service_id: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[ChargeAttemptView]:
        """A page of the automatic charges of the account's saved methods, newest first.

        Args:
            status: only attempts in this status (``"pending"``, ``"succeeded"``,
                ``"failed"``).
            purpose: only renewals, card autopay, automatic top-ups or card checks.
            service_id: only the attempts for this service's renewal.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page (an attempt's key).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ValidationError: for an unknown status or purpose, a limit out of range or a
                cursor that is not an attempt of this list.
        """
        wanted = choice(AttemptStatus, status, "status")
        kind = choice(AttemptPurpose, purpose, "purpose")
        service_id = checks.optional_identifier("service_id", service_id)
        with self._gate.open("invoices.view") as call:
            profile = call.uow.profiles.get(call.account.id)
            ordered = sorted(
                enumerate(profile.attempts), key=lambda pair: (pair[1].started_on, pair[0])
            )
            views = [self._attempt_view(call.uow, profile, a, call.today) for _, a in ordered]

        def matches(view: ChargeAttemptView) -> bool:
            return (
                (wanted is None or view.status is wanted)
                and (kind is None or view.purpose is kind)
                and (service_id is None or view.service_id == service_id)
            )

        return paginate(views, _attempt_key, matches=matches, limit=limit, after=after)

    def _attempt_view(
        self, uow: UnitOfWork, profile: BillingProfile, attempt: ChargeAttempt, today: date
    ) -> ChargeAttemptView:
        paid_until = None
        if attempt.purpose is AttemptPurpose.RENEWAL and attempt.invoice_id is not None:
            invoice = uow.invoices.get(attempt.invoice_id)
            paid_until = next(
                (
                    ln.paid_until
                    for ln in invoice.lines
                    if ln.service_id == attempt.service_id and ln.paid_until is not None
                ),
                None,
            )
        return ChargeAttemptView(
            key=attempt.key,
            number=attempt.number,
            purpose=attempt.purpose,
            status=attempt.status,
            reason=attempt.reason,
            started_on=attempt.started_on,
            amount=attempt.quote.total,
            method_id=attempt.method_id,
            service_id=attempt.service_id,
            invoice_id=attempt.invoice_id,
            paid_until=paid_until,
            next_attempt_on=self._next_attempt(profile, attempt, today),
        )

    def _next_attempt(
        self, profile: BillingProfile, attempt: ChargeAttempt, today: date
    ) -> date | None:
        """When the renewal a failed attempt (or check) belongs to is tried again."""
        if attempt.status is not AttemptStatus.FAILED or attempt.purpose not in {
            AttemptPurpose.RENEWAL,
            AttemptPurpose.CHECK,
        }:
            return None
        sub = profile.subscription(attempt.service_id or "")
        if (
            sub is None
            or sub.source is not RenewalSource.SAVED_METHOD
            or sub.method_id is None
            or (
                attempt.purpose is AttemptPurpose.RENEWAL
                and renewal_key(sub.service_id, sub.paid_until) != attempt.series
            )
        ):
            return None
        method = next((m for m in profile.methods if m.id == sub.method_id), None)
        if method is None or _card_autopay_stopped(self._ctx, profile, method):
            return None  # gone, or a card that bank transfer replaced (SPEC R7)
        # The run's billing day: a run for a later day than the clock's moves it on.
        day = max(today, profile.last_run or today)
        decision = decide_renewal(
            sub, day, self._ctx.settings.renewal, method=method, done=profile.keys
        )
        return decision.next_attempt_on


def _payment_id(payment: Payment) -> str:
    return payment.id


def _attempt_key(view: ChargeAttemptView) -> str:
    return view.key
