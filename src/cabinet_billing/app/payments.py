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
from cabinet_billing.app.charges import CUSTOMER_PURPOSES, Booked, Charges, plain_quote
from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, choice, page_of, paginate, window
from cabinet_billing.app.results import BindingResult, CheckoutStarted
from cabinet_billing.app.webhooks import remember_key
from cabinet_billing.domain.attempts import AttemptPurpose, AttemptStatus, ChargeAttempt
from cabinet_billing.domain.autopay import CardAutopay, CardAutopayStatus, PayWay
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceLine
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import Payment, PaymentPurpose, PaymentStatus
from cabinet_billing.domain.payment_method import PaymentQuote
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
        self._charges = Charges(context)

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
            # Kept and committed first: the provider is called outside the unit of work.
            self._charges.keep_for_checkout(uow, payment, return_url)
        started = self._charges.open_checkout(payment, now, return_url)
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

        The method and the charge's attempt (with its idempotency key) are committed
        first; the provider is called outside any unit of work, and its answer is booked
        in a unit of work of its own (see :mod:`cabinet_billing.app.charges`). When the
        outcome is unknown the method stays being configured: binding the same method
        again (or the next billing run) asks the provider again with the same key, so the
        card is never charged twice.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            GatewayTimeoutError: when the provider does not answer; the attempt waits for
                a retry with the same key.
            GatewayError: for any other failure of the provider, likewise.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        checks.instance(
            "method", method, SavedPaymentMethod, "a SavedPaymentMethod(id, account_id, ...)"
        )
        ctx = self._ctx
        with self._gate.open("invoices.pay") as call:
            call.account.ensure_not_closing("bind a card")
            uow, now, today = call.uow, call.now, call.today
            account_id = call.account.id
            account = ctx.ensure_profile_may_pay(uow, account_id)
            profile = uow.profiles.get(account_id)
            attempt = next(
                (
                    a
                    for a in profile.pending_attempts
                    if a.purpose is AttemptPurpose.BINDING and a.method_id == method.id
                ),
                None,
            )
            if attempt is None:
                # Not a retry of a binding whose outcome is unknown: a new method.
                profile.add_method(method)
                currency = account.profile.currency
                # Only what the card may pay: an invoice that chose no method, or an order
                # checked out for a card or the card's provider (SPEC C4); never a credit
                # statement or a top-up's advance-payment invoice (money coming in pays
                # those).
                open_invoices = [
                    i
                    for i in uow.invoices.for_account(account_id)
                    if i.is_open()
                    and i.kind not in {InvoiceKind.STATEMENT, InvoiceKind.TOP_UP}
                    and i.currency == currency
                    and ctx.method_may_pay(i, method)
                ]
                plan = binding_plan(open_invoices, verification or ctx.verification(currency))
                attempt = _next_attempt(
                    profile,
                    f"bind:{method.id}:{today.isoformat()}",
                    AttemptPurpose.BINDING,
                    method=method,
                    quote=plain_quote(plan.amount),
                    today=today,
                    invoice_id=(
                        plan.invoice_id if plan.action is BindingAction.PAY_INVOICE else None
                    ),
                )
            ctx.commit(uow)
        booked = Booked()
        called = self._charges.call_and_book(account_id, attempt, now, booked)
        ctx.send(booked.queued)
        result = called.raise_if_unknown(f"the charge binding method {method.id!r}", attempt.key)
        with ctx.unit_of_work() as uow:
            saved = uow.profiles.get(account_id).method(method.id)
        return BindingResult(
            method=saved,
            action=(
                BindingAction.VERIFY_AND_REFUND
                if attempt.invoice_id is None
                else BindingAction.PAY_INVOICE
            ),
            invoice_id=attempt.invoice_id,
            amount=attempt.quote.total,
            events=tuple(booked.events) if result.succeeded else (),
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

        The charge is recorded with its idempotency key and committed before the provider
        is called, outside any unit of work, and the provider's answer is booked in a unit
        of work of its own (see :mod:`cabinet_billing.app.charges`). A call repeated after
        an unknown outcome (a timeout, a crash before the answer was booked) asks the
        provider again with the same key, so the invoice is never charged twice; the next
        billing run asks too. A declined charge leaves the invoice unpaid and the method
        not working; a try after it is a new charge with a new key.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for an unknown invoice or method.
            InvalidTransitionError: when the invoice has nothing left to pay.
            PaymentMethodFixedError: for an order checked out for another method.
            ConflictError: for a method that may not pay for purchases, or while another
                method's charge of the invoice has no answer yet.
            GatewayTimeoutError: when the provider does not answer; nothing is booked and
                the attempt waits for a retry with the same key.
            GatewayError: for any other failure of the provider, likewise.
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
            quote = plain_quote(due) if pricing is None else pricing.quote(due)
            profile = uow.profiles.get(account_id)
            attempt = next(
                (a for a in profile.pending_attempts if a.invoice_id == invoice.id), None
            )
            if attempt is None:
                attempt = _next_attempt(
                    profile,
                    f"pay:{invoice.id}:{method.id}:{call.today.isoformat()}",
                    AttemptPurpose.INVOICE,
                    method=method,
                    quote=quote,
                    today=call.today,
                    invoice_id=invoice.id,
                )
            elif attempt.method_id != method.id:
                raise ConflictError(
                    f"invoice {invoice.number}",
                    f"its charge to saved payment method {attempt.method_id!r} has no answer "
                    "from the payment provider yet; retry with that method",
                )
            ctx.commit(uow)
        booked = Booked()
        called = self._charges.call_and_book(account_id, attempt, now, booked)
        ctx.send(booked.queued)
        result = called.raise_if_unknown(f"the charge of invoice {invoice.number}", attempt.key)
        with ctx.unit_of_work() as uow:
            method = uow.profiles.get(account_id).method(method.id)
        return SavedMethodPayment(
            invoice_id=invoice.id,
            method=method,
            amount=attempt.quote.total,
            succeeded=result.succeeded,
            reason=result.reason or ("" if result.succeeded else result.status.value),
            events=tuple(booked.events),
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
            automatic = [a for a in profile.attempts if a.purpose not in CUSTOMER_PURPOSES]
            ordered = sorted(enumerate(automatic), key=lambda pair: (pair[1].started_on, pair[0]))
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
        if method is None or self._ctx.card_autopay_stopped(profile, method):
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


def _next_attempt(
    profile: BillingProfile,
    series: str,
    purpose: AttemptPurpose,
    *,
    method: SavedPaymentMethod,
    quote: PaymentQuote,
    today: date,
    invoice_id: str | None,
) -> ChargeAttempt:
    """Record the next attempt of a series in the profile (the first, or one after a failure).

    A series is of one day, so a key is never used for a second request even after the
    billing run forgot the day's finished attempts.
    """
    latest = profile.attempt(series)
    attempt = (
        ChargeAttempt.first(
            series,
            purpose,
            method_id=method.id,
            token=method.token,
            quote=quote,
            started_on=today,
            invoice_id=invoice_id,
        )
        if latest is None
        else latest.next_attempt(today, quote=quote, token=method.token, invoice_id=invoice_id)
    )
    profile.record_attempt(attempt)
    return attempt
