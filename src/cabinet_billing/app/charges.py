"""Calling the payment provider: never inside a unit of work (SPEC R4, R5, L2).

A charge of a saved card or wallet moves money outside the library's transactions, so it
is never made inside a unit of work that can still fail, nor while one holds the
account's rows. Every path that charges one (the billing run's renewals, card autopay,
automatic top-ups and card checks, and the cabinet's ``payments.pay_invoice`` and
``payments.bind_card``) goes through the same three steps:

1. record a :class:`~cabinet_billing.domain.attempts.ChargeAttempt` with its idempotency
   key in the account's billing profile, and commit;
2. call the provider, outside any unit of work (:meth:`Charges.call_and_book`);
3. book what it answered in a unit of work of its own (tried again, on fresh state, when
   it conflicts with a concurrent change of the account).

When the provider gives no definite answer, or booking its answer fails, the attempt stays
pending: the next try (the customer's retry, or the next billing run, which asks about
every pending attempt first) asks the provider again **with the same key**, and the
provider answers with the first result instead of charging again.

A checkout (``cabinet.payments.top_up``, ``cabinet.invoices.pay`` by a method,
``billing.pay_links.pay``) moves no money itself: the payment is kept and committed
first (:meth:`Charges.keep_for_checkout`), then the provider's page is opened outside any
unit of work (:meth:`Charges.open_checkout`), and the provider's callback brings the
outcome. A provider that refuses to open it fails the payment (in a unit of work of its
own), so nothing is ever credited to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import attrs

from cabinet_billing.app.context import MAX_URL_LENGTH, Context
from cabinet_billing.app.results import CheckoutStarted
from cabinet_billing.domain.attempts import AttemptPurpose, AttemptStatus, ChargeAttempt
from cabinet_billing.domain.autopay import CardAutopay, CardAutopayStatus
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.checks import check_text
from cabinet_billing.domain.events import (
    AutoTopUp,
    BillingEvent,
    PaymentFailed,
    PaymentStarted,
    RenewalFailed,
    ServiceRenewed,
)
from cabinet_billing.domain.invoice import Invoice, InvoiceKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.outbox import OutboxMessage
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind, PaymentStatus
from cabinet_billing.domain.payment_method import PaymentQuote
from cabinet_billing.domain.saved_method import MethodKind, SavedMethodStatus, SavedPaymentMethod
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.errors import ConflictError, GatewayError, GatewayTimeoutError
from cabinet_billing.ports.gateway import ChargeResult, ChargeStatus
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.renewal import renewal_failure_notice, renewal_key

__all__ = [
    "CUSTOMER_PURPOSES",
    "OUTCOME_TRIES",
    "Booked",
    "Called",
    "Charges",
    "method_of",
    "plain_quote",
    "renewed",
]

#: How many times booking the outcome of a provider call is tried when it conflicts with a
#: concurrent change of the account (the call is not made again for it).
OUTCOME_TRIES = 3

#: Charges the customer makes in the cabinet, present (not automatic ones).
CUSTOMER_PURPOSES = frozenset({AttemptPurpose.INVOICE, AttemptPurpose.BINDING})


@attrs.define
class Booked:
    """What booking changed: its events and notices, the messages queued, the counts."""

    events: list[BillingEvent] = attrs.field(factory=list)
    notices: list[Notification] = attrs.field(factory=list)
    #: Notifications queued in the outbox by committed units of work, to deliver.
    queued: list[OutboxMessage] = attrs.field(factory=list)
    charges: int = 0
    failed_charges: int = 0

    def merge(self, other: Booked) -> None:
        """Add what ``other`` booked."""
        self.events += other.events
        self.notices += other.notices
        self.queued += other.queued
        self.charges += other.charges
        self.failed_charges += other.failed_charges


@attrs.frozen
class Called:
    """What one call to the provider answered.

    Attributes:
        result: the provider's definite answer; ``None`` when the outcome is unknown (no
            answer, an error, or a charge the provider left pending).
        error: what the provider raised, when it raised.
    """

    result: ChargeResult | None
    error: GatewayError | None = None

    def raise_if_unknown(self, operation: str, key: str) -> ChargeResult:
        """The definite answer; raise the typed error of an unknown outcome.

        Raises:
            GatewayError: what the provider raised (a ``GatewayTimeoutError`` when it did
                not answer); the attempt stays pending and a retry uses the same key.
            GatewayTimeoutError: for a charge the provider left pending.
        """
        if self.result is not None:
            return self.result
        if self.error is not None:
            raise self.error
        raise GatewayTimeoutError(operation, key)


class Charges:
    """Calls the provider for recorded attempts and books what it answered.

    Args:
        context: the billing's shared machinery.
    """

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def keep_for_checkout(self, uow: UnitOfWork, payment: Payment, return_url: str | None) -> None:
        """Keep a new payment and commit ``uow``; then call :meth:`open_checkout`, outside it.

        Raises:
            ValidationError: for a ``return_url`` that is not a short line of text.
        """
        if return_url is not None:
            check_text("return_url", return_url, max_length=MAX_URL_LENGTH)
        uow.payments.add(payment)
        self._ctx.commit(uow)

    def open_checkout(
        self, payment: Payment, now: datetime, return_url: str | None
    ) -> CheckoutStarted:
        """Open the provider's checkout for a committed payment, outside any unit of work.

        Raises:
            GatewayTimeoutError: when the provider does not answer; the payment stays new,
                and the provider's callback, if any, still books it.
            GatewayError: when the provider refuses; the payment is recorded as failed
                (a top-up's advance-payment invoice is cancelled), so nothing is ever
                credited to it. Anything else the provider raises is a ``GatewayError``
                too, the payment left new.
        """
        try:
            session = self._ctx.gateway.checkout(payment, return_url=return_url)
        except GatewayTimeoutError:
            raise
        except GatewayError as exc:
            self._checkout_failed(payment, now, str(exc))
            raise
        except Exception as exc:
            msg = (
                f"the payment provider failed to open a checkout for payment {payment.id!r} "
                f"({type(exc).__name__}: {exc}); the payment waits for the provider's callback"
            )
            raise GatewayError(msg) from exc
        event = PaymentStarted(
            account_id=payment.account_id,
            at=now,
            payment_id=payment.id,
            amount=payment.amount,
            total=payment.quote.total,
            url=session.url,
        )
        return CheckoutStarted(payment=payment, url=session.url, events=(event,))

    def _checkout_failed(self, payment: Payment, now: datetime, reason: str) -> None:
        """Fail a payment whose checkout the provider refused to open, and send its notice."""

        def book(uow: UnitOfWork, part: Booked) -> None:
            kept = uow.payments.get(payment.id)
            if kept.status is not PaymentStatus.NEW:
                return  # the provider's callback came first
            event = GatewayEvent(f"checkout:{payment.id}", PaymentEventKind.FAILED, now, reason)
            part.events += self._ctx.after_event(uow, kept, kept.apply(event), now)

        booked = self.book_alone(book)
        self._ctx.send(booked.queued)

    def call_and_book(
        self, account_id: str, attempt: ChargeAttempt, now: datetime, into: Booked
    ) -> Called:
        """Ask the provider (outside any unit of work), then book what it answered.

        The attempt must be committed (pending) before. What is booked is added to
        ``into``; an unknown outcome books nothing and leaves the attempt pending.

        Raises:
            ConflictError: when every try to book the answer conflicted with a concurrent
                change of the account; the attempt stays pending (asked again with its key).
        """
        called = self.call(attempt)
        if called.result is None:
            return called
        result = called.result
        failure = None if result.succeeded else (result.reason or result.status.value)

        def book(uow: UnitOfWork, part: Booked) -> None:
            profile = uow.profiles.get(account_id)
            latest = profile.attempt(attempt.series)
            if latest is None or latest.key != attempt.key or not latest.pending:
                return  # booked by another run or call meanwhile
            self.book_outcome(uow, profile, latest, now, part, failure=failure)

        into.merge(self.book_alone(book))
        return called

    def book_alone(self, book: Callable[[UnitOfWork, Booked], None]) -> Booked:
        """Book in a unit of work of its own, committed with its notices; again on conflicts.

        Raises:
            ConflictError: when all :data:`OUTCOME_TRIES` tries conflicted.
        """
        for tried in range(1, OUTCOME_TRIES + 1):
            part = Booked()
            try:
                with self._ctx.unit_of_work() as uow:
                    book(uow, part)
                    part.queued += self._ctx.commit(uow, [*part.events, *part.notices])
            except ConflictError:
                # A concurrent change of the account: book it again on fresh state.
                if tried == OUTCOME_TRIES:
                    raise
                continue
            return part
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def call(self, attempt: ChargeAttempt) -> Called:
        """One request to the provider for an attempt; never raises what the provider does."""
        gateway = self._ctx.gateway
        amount = attempt.quote.total
        try:
            if attempt.purpose is AttemptPurpose.CHECK:
                result = gateway.verify_card(attempt.token, amount, idempotency_key=attempt.key)
                if result.succeeded:
                    gateway.refund(
                        result.reference, amount, idempotency_key=f"{attempt.key}:refund"
                    )
            else:
                result = gateway.charge_saved_method(
                    attempt.token, amount, idempotency_key=attempt.key
                )
                if result.succeeded and _verifies(attempt):
                    gateway.refund(
                        result.reference, amount, idempotency_key=f"{attempt.key}:refund"
                    )
        except GatewayError as exc:
            return Called(None, exc)
        except Exception as exc:  # noqa: BLE001 - whatever the host's gateway raises
            error = GatewayError(
                f"the payment provider failed on charge {attempt.key!r} "
                f"({type(exc).__name__}: {exc}); the outcome is unknown, "
                "retry with the same key"
            )
            error.__cause__ = exc
            return Called(None, error)
        if result.status is ChargeStatus.PENDING:
            return Called(None)
        return Called(result)

    def book_outcome(
        self,
        uow: UnitOfWork,
        profile: BillingProfile,
        attempt: ChargeAttempt,
        now: datetime,
        booked: Booked,
        *,
        failure: str | None = None,
        by_provider: bool = True,
    ) -> None:
        """Book an attempt's outcome: the payment it made, or the failure and its notice.

        Args:
            uow: the unit of work to book in.
            profile: the account's billing profile (of ``uow``).
            attempt: the attempt, still pending.
            now: the instant booked.
            booked: where events and notices go.
            failure: why it failed (``None``: the provider took the money).
            by_provider: whether the provider refused it (the method is then marked not
                working) rather than the run before calling.
        """
        if failure is None:
            self._book_success(uow, profile, attempt, now, booked)
        else:
            self._book_failure(
                uow, profile, attempt, now, booked, failure=failure, by_provider=by_provider
            )

    def _book_failure(
        self,
        uow: UnitOfWork,
        profile: BillingProfile,
        attempt: ChargeAttempt,
        now: datetime,
        booked: Booked,
        *,
        failure: str,
        by_provider: bool,
    ) -> None:
        today = attempt.started_on
        method = method_of(profile, attempt.method_id)
        profile.record_attempt(attempt.finished(AttemptStatus.FAILED, failure))
        if by_provider and method is not None:
            if method.status is not SavedMethodStatus.NOT_WORKING:
                method.mark_failed(now, failure)
            elif attempt.purpose is AttemptPurpose.INVOICE:
                method.check_failed(now, failure)
        if attempt.purpose is AttemptPurpose.CHECK:
            sub = profile.subscription(attempt.service_id or "")
            if sub is not None and sub.last_failure_on != today:
                sub.check_failed(today)
            return
        booked.failed_charges += 1
        if attempt.purpose is AttemptPurpose.RENEWAL:
            self._renewal_failed(booked, profile, attempt, failure, now)
        elif by_provider and attempt.purpose not in CUSTOMER_PURPOSES:
            # A declined card autopay or top-up is a failed payment the customer sees.
            payment = self._payment(uow, profile, attempt, now)
            payment.apply(GatewayEvent(attempt.key, PaymentEventKind.FAILED, now, failure))
            booked.events.append(
                PaymentFailed(
                    account_id=profile.account_id, at=now, payment_id=payment.id, reason=failure
                ),
            )

    def _book_success(
        self,
        uow: UnitOfWork,
        profile: BillingProfile,
        attempt: ChargeAttempt,
        now: datetime,
        booked: Booked,
    ) -> None:
        profile.record_attempt(attempt.finished(AttemptStatus.SUCCEEDED))
        method = method_of(profile, attempt.method_id)
        fixes = attempt.purpose is AttemptPurpose.CHECK or attempt.purpose in CUSTOMER_PURPOSES
        if fixes and method is not None and not method.working:
            method.mark_working(now)
        if attempt.purpose is AttemptPurpose.BINDING and method is not None:
            self._start_card_autopay(profile, method, now)
        if attempt.purpose is AttemptPurpose.CHECK or _verifies(attempt):
            return  # checked (and refunded): nothing was paid
        payment = self._payment(uow, profile, attempt, now)
        payment.apply(GatewayEvent(attempt.key, PaymentEventKind.CREDITED, now))
        booked.events += self._ctx.book_credited(uow, payment, now)
        booked.charges += 1
        if attempt.purpose is AttemptPurpose.AUTOPAY:
            profile.record_autopay(attempt.started_on, attempt.quote.total)
            booked.events.append(
                AutoTopUp(
                    account_id=profile.account_id,
                    at=now,
                    payment_id=payment.id,
                    amount=attempt.quote.base,
                ),
            )
        elif attempt.purpose is AttemptPurpose.CARD_AUTOPAY and attempt.invoice_id is not None:
            booked.events += _renewed_by_card(uow.invoices.get(attempt.invoice_id), now)
        elif attempt.purpose is AttemptPurpose.RENEWAL:
            sub = profile.subscription(attempt.service_id or "")
            if sub is not None and renewal_key(sub.service_id, sub.paid_until) == attempt.series:
                renewed(
                    booked,
                    profile,
                    sub,
                    key=attempt.series,
                    amount=attempt.quote.base,
                    today=attempt.started_on,
                    now=now,
                )
            elif attempt.series not in profile.keys:
                profile.record(attempt.series)

    def _start_card_autopay(
        self, profile: BillingProfile, method: SavedPaymentMethod, now: datetime
    ) -> None:
        """A card bound with a charge starts card autopay on invoice day, when offered (R7)."""
        autopay = profile.card_autopay or CardAutopay(profile.account_id)
        if (
            self._ctx.settings.card_autopay_on_invoice_day
            and method.kind is MethodKind.CARD
            and autopay.status is not CardAutopayStatus.STOPPED
        ):
            # A stopped card autopay stays stopped: the customer chose bank transfer.
            autopay.record_card_payment(method.id, now.date())
            profile.card_autopay = autopay

    def _payment(
        self, uow: UnitOfWork, profile: BillingProfile, attempt: ChargeAttempt, now: datetime
    ) -> Payment:
        """The payment record of a charge, kept in the unit of work."""
        seq = self._ctx.next_id(uow, "payment")
        # The customer's own charges are payments like any; automatic ones say so.
        payment_id = seq if attempt.purpose in CUSTOMER_PURPOSES else f"charge-{seq}"
        payment = (
            Payment.for_invoice(
                payment_id,
                profile.account_id,
                attempt.invoice_id,
                attempt.quote,
                now,
                method_id=attempt.method_id,
            )
            if attempt.invoice_id is not None
            else Payment.top_up(
                payment_id, profile.account_id, attempt.quote, now, method_id=attempt.method_id
            )
        )
        uow.payments.add(payment)
        return payment

    def _renewal_failed(
        self,
        booked: Booked,
        profile: BillingProfile,
        attempt: ChargeAttempt,
        reason: str,
        now: datetime,
    ) -> None:
        sub = profile.subscription(attempt.service_id or "")
        if sub is None or renewal_key(sub.service_id, sub.paid_until) != attempt.series:
            return  # the period was paid another way meanwhile
        sub.charge_failed(attempt.started_on)
        booked.events.append(
            RenewalFailed(
                account_id=profile.account_id,
                at=now,
                service_id=sub.service_id,
                amount=attempt.quote.base,
                reason=reason,
            ),
        )
        booked.notices.append(
            renewal_failure_notice(sub, now, reason, self._ctx.settings.renewal),
        )


def _verifies(attempt: ChargeAttempt) -> bool:
    """Whether an attempt is a binding's charge that is refunded (no invoice to pay)."""
    return attempt.purpose is AttemptPurpose.BINDING and attempt.invoice_id is None


def plain_quote(amount: Money) -> PaymentQuote:
    """A charge without a fee or cashback."""
    zero = Money.zero(amount.code)
    return PaymentQuote(base=amount, fee=zero, total=amount, cashback=zero)


def method_of(profile: BillingProfile, method_id: str) -> SavedPaymentMethod | None:
    """The account's saved method of that id, if it still has it."""
    return next((m for m in profile.methods if m.id == method_id), None)


def renewed(
    booked: Booked,
    profile: BillingProfile,
    sub: Subscription,
    *,
    key: str,
    amount: Money,
    today: date,
    now: datetime,
) -> None:
    """Record a paid renewal: its key, the next period of the subscription, the event."""
    if key not in profile.keys:
        profile.record(key)
    sub.renewed(today)
    booked.events.append(
        ServiceRenewed(
            account_id=profile.account_id,
            at=now,
            service_id=sub.service_id,
            paid_until=sub.paid_until,
            amount=amount,
            source=sub.source.value,
        ),
    )


def _renewed_by_card(invoice: Invoice, now: datetime) -> list[BillingEvent]:
    """Card autopay paying a renewal invoice renews its services (Horoshop)."""
    if invoice.kind is not InvoiceKind.RENEWAL or invoice.is_open():
        return []
    return [
        ServiceRenewed(
            account_id=invoice.account_id,
            at=now,
            service_id=line.service_id,
            paid_until=line.paid_until,
            amount=line.amounts.gross,
            source="card_autopay",
        )
        for line in invoice.lines
        if line.service_id is not None and line.paid_until is not None
    ]
