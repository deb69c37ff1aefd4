"""Payments and the gateway events that move them (SPEC L6).

A payment goes *new → paying → credited*, or ends *failed* or *cancelled*; a credited
payment may later be refunded, in one go (*refunded*) or in parts (*partially refunded*
until nothing is left). The payment provider reports progress with events, and
every event carries an idempotency key: an event seen before changes nothing and says so,
and so does an event that arrives after the payment has moved past it (a late "paying"
after "credited").

>>> from datetime import datetime, timezone
>>> from cabinet_billing import Money, Payment
>>> from cabinet_billing.domain.payment import GatewayEvent, PaymentEventKind
>>> at = datetime(2024, 3, 21, 9, tzinfo=timezone.utc)
>>> payment = Payment.top_up("pay-1", "acc-1", Money("100.00", "RUB"), at, method_id="card")
>>> payment.apply(GatewayEvent("evt-1", PaymentEventKind.CREDITED, at)).outcome.value
'applied'
>>> payment.apply(GatewayEvent("evt-1", PaymentEventKind.CREDITED, at)).outcome.value
'duplicate'
>>> payment.status.value
'credited'
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
import moneyed

from cabinet_billing.domain.checks import aware, id_field, shared_copies
from cabinet_billing.domain.money import HALF_UP, Money, Rounding
from cabinet_billing.domain.payment_method import PaymentQuote
from cabinet_billing.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidTransitionError,
    ValidationError,
)

__all__ = [
    "BALANCE_METHOD",
    "EventOutcome",
    "GatewayEvent",
    "Payment",
    "PaymentEventKind",
    "PaymentPurpose",
    "PaymentStatus",
    "PaymentTransition",
    "ProcessedEvent",
]

#: The method id an order is checked out with to be paid from the account's balance; an
#: order checked out with any other method is paid by that method only (SPEC C4).
BALANCE_METHOD = "balance"


class PaymentStatus(enum.Enum):
    """Where a payment stands."""

    NEW = "new"
    PAYING = "paying"
    CREDITED = "credited"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class PaymentPurpose(enum.Enum):
    """What a payment is for: the balance (advance payment) or one invoice directly."""

    TOP_UP = "top_up"
    INVOICE = "invoice"
    CASHBACK = "cashback"


class PaymentEventKind(enum.Enum):
    """What a gateway reports about a payment."""

    PAYING = "paying"
    CREDITED = "credited"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class EventOutcome(enum.Enum):
    """What a gateway event did."""

    APPLIED = "applied"
    """The payment moved to a new status."""
    DUPLICATE = "duplicate"
    """The event's key was seen before: nothing changed."""
    STALE = "stale"
    """The payment is already past this event (out of order): nothing changed."""


_TARGET: dict[PaymentEventKind, PaymentStatus] = {
    PaymentEventKind.PAYING: PaymentStatus.PAYING,
    PaymentEventKind.CREDITED: PaymentStatus.CREDITED,
    PaymentEventKind.FAILED: PaymentStatus.FAILED,
    PaymentEventKind.CANCELLED: PaymentStatus.CANCELLED,
    PaymentEventKind.REFUNDED: PaymentStatus.REFUNDED,
}

#: The allowed transitions of a payment.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.NEW: frozenset(
        {
            PaymentStatus.PAYING,
            PaymentStatus.CREDITED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        },
    ),
    PaymentStatus.PAYING: frozenset(
        {PaymentStatus.CREDITED, PaymentStatus.FAILED, PaymentStatus.CANCELLED},
    ),
    PaymentStatus.CREDITED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    ),
    PaymentStatus.REFUNDED: frozenset(),
}

_REFUNDABLE = frozenset({PaymentStatus.CREDITED, PaymentStatus.PARTIALLY_REFUNDED})

# How far along each status is; an event for a status not beyond the current one is
# stale rather than illegal (the gateway is late, not wrong).
_RANK = {
    PaymentStatus.NEW: 0,
    PaymentStatus.PAYING: 1,
    PaymentStatus.CREDITED: 2,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELLED: 2,
    PaymentStatus.PARTIALLY_REFUNDED: 3,
    PaymentStatus.REFUNDED: 4,
}


def _refund_amount(
    instance: GatewayEvent, attribute: attrs.Attribute[Money | None], value: Money | None
) -> None:
    if value is None:
        return
    if instance.kind is not PaymentEventKind.REFUNDED:
        raise ValidationError(
            attribute.name,
            value,
            f"only a refund carries an amount, not a {instance.kind.value!r} event",
        )
    value.require_places().require_positive()


def _optional_money(value: object) -> Money | None:
    if value is None or isinstance(value, Money):
        return value
    if isinstance(value, moneyed.Money):
        return Money(value.amount, value.currency)
    raise ValidationError("amount", value, "must be Money, e.g. Money('50.00', 'RUB')")


@shared_copies
@attrs.frozen
class GatewayEvent:
    """One callback of the payment provider, already parsed and verified.

    Args:
        key: the provider's id of the event, unique per event (its idempotency key).
        kind: what it reports.
        at: when it happened.
        reason: the provider's message (a decline reason, ...).
        amount: for a refund, the amount returned to the customer out of what they paid
            (the payment's :attr:`~cabinet_billing.domain.payment_method.PaymentQuote.total`);
            ``None`` refunds all that is left. Other events carry none.

    Raises:
        ValidationError: for an amount on an event that is not a refund, or one that is
            not Money.
        InvalidAmountError: for a refund amount that is not positive or is finer than
            the currency's minor unit.
    """

    key: str = attrs.field(validator=attrs.validators.min_len(1))
    kind: PaymentEventKind
    at: datetime = attrs.field(validator=aware)
    reason: str = ""
    amount: Money | None = attrs.field(
        default=None, converter=_optional_money, validator=_refund_amount
    )


@shared_copies
@attrs.frozen
class PaymentTransition:
    """One recorded change of a payment's status."""

    before: PaymentStatus
    after: PaymentStatus
    at: datetime
    event_key: str | None
    reason: str = ""


@shared_copies
@attrs.frozen
class ProcessedEvent:
    """The result of applying a gateway event."""

    outcome: EventOutcome
    status: PaymentStatus
    event: GatewayEvent
    refunded: Money | None = None
    """For an applied refund: the amount this event refunded (of what was paid)."""

    @property
    def changed(self) -> bool:
        """Whether the payment moved."""
        return self.outcome is EventOutcome.APPLIED


@attrs.define
class Payment:
    """A payment through a method: its amounts, status and history.

    Build one with :meth:`top_up` (advance payment to the balance) or :meth:`for_invoice`
    (direct payment of one invoice, not touching the balance).
    """

    id: str = attrs.field(validator=id_field())
    account_id: str = attrs.field(validator=id_field())
    purpose: PaymentPurpose
    quote: PaymentQuote
    created_at: datetime = attrs.field(validator=aware)
    method_id: str | None = None
    invoice_id: str | None = None
    payer_id: str | None = None
    _status: PaymentStatus = attrs.field(default=PaymentStatus.NEW, alias="_status")
    _history: list[PaymentTransition] = attrs.field(factory=list, alias="_history")
    _events: dict[str, ProcessedEvent] = attrs.field(factory=dict, alias="_events")
    _refunded: Money | None = attrs.field(default=None, alias="_refunded")

    @classmethod
    def top_up(
        cls,
        payment_id: str,
        account_id: str,
        amount: moneyed.Money | PaymentQuote,
        created_at: datetime,
        *,
        method_id: str | None = None,
        payer_id: str | None = None,
        invoice_id: str | None = None,
    ) -> Payment:
        """An advance payment: the amount is credited to the balance.

        Args:
            payment_id: the payment's id.
            account_id: the account paying.
            amount: the amount to credit, or a method's quote with its fee and cashback.
            created_at: when it was created.
            method_id: the payment method used.
            payer_id: the payer who pays, if the account has payers.
            invoice_id: the advance-payment invoice the payment pays, if one was issued.
        """
        return cls(
            id=payment_id,
            account_id=account_id,
            purpose=PaymentPurpose.TOP_UP,
            quote=_as_quote(amount),
            created_at=created_at,
            method_id=method_id,
            invoice_id=invoice_id,
            payer_id=payer_id,
        )

    @classmethod
    def for_invoice(
        cls,
        payment_id: str,
        account_id: str,
        invoice_id: str,
        amount: moneyed.Money | PaymentQuote,
        created_at: datetime,
        *,
        method_id: str | None = None,
        payer_id: str | None = None,
    ) -> Payment:
        """A direct payment of one invoice by a method, not touching the balance."""
        return cls(
            id=payment_id,
            account_id=account_id,
            purpose=PaymentPurpose.INVOICE,
            quote=_as_quote(amount),
            created_at=created_at,
            method_id=method_id,
            invoice_id=invoice_id,
            payer_id=payer_id,
        )

    @property
    def status(self) -> PaymentStatus:
        """The current status."""
        return self._status

    @property
    def amount(self) -> Money:
        """The amount credited (to the balance or the invoice), fee excluded."""
        return self.quote.base

    @property
    def paid(self) -> Money:
        """What the customer paid: the amount credited plus the method's fee."""
        return self.quote.total

    @property
    def refunded(self) -> Money:
        """How much of what was paid has been refunded so far."""
        return self._refunded if self._refunded is not None else Money.zero(self.paid.code)

    @property
    def refundable(self) -> Money:
        """What may still be refunded: what was paid less what was refunded so far.

        Zero unless the payment is credited or partially refunded.
        """
        if self._status not in _REFUNDABLE:
            return Money.zero(self.paid.code)
        return self.paid - self.refunded

    def refunded_share(
        self,
        of: moneyed.Money,
        rounding: Rounding = HALF_UP,
        *,
        refunded: moneyed.Money | None = None,
    ) -> Money:
        """The part of ``of`` that the refunds so far (or ``refunded``) take back.

        A refund takes back the same share of what was credited (and of the cashback) as
        it returns of what was paid: half of the total refunded takes back half of the
        amount credited. The share is of the refunds' running total, rounded to the minor
        unit, so the parts of several partial refunds always add up to ``of`` exactly
        once all is refunded.

        >>> from datetime import datetime, timezone
        >>> from cabinet_billing.domain.payment_method import PaymentQuote
        >>> at = datetime(2024, 3, 21, 9, tzinfo=timezone.utc)
        >>> rub = lambda a: Money(a, "RUB")
        >>> quote = PaymentQuote(base=rub("100.00"), fee=rub("15.00"), total=rub("115.00"),
        ...                      cashback=rub("11.50"))
        >>> payment = Payment.top_up("pay-1", "acc-1", quote, at, method_id="card")
        >>> _ = payment.apply(GatewayEvent("e1", PaymentEventKind.CREDITED, at))
        >>> _ = payment.apply(GatewayEvent("e2", PaymentEventKind.REFUNDED, at, amount=rub("57.50")))
        >>> payment.status.value, payment.refunded_share(payment.amount), payment.refunded_share(quote.cashback)
        ('partially_refunded', Money('50.00', 'RUB'), Money('5.75', 'RUB'))
        """
        money = Money(of.amount, of.currency)
        total = self.refunded if refunded is None else Money(refunded.amount, refunded.currency)
        if total == self.paid:
            return money
        if not total.amount:
            return Money.zero(money.code)
        return rounding.minor(money * (total / self.paid))

    @property
    def refunds(self) -> int:
        """How many refunds have been applied."""
        targets = (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
        return sum(1 for t in self._history if t.after in targets)

    @property
    def history(self) -> tuple[PaymentTransition, ...]:
        """Every status change, oldest first."""
        return tuple(self._history)

    def has_seen(self, key: str) -> bool:
        """Whether an event with this key was processed."""
        return key in self._events

    def seen_event(self, key: str) -> GatewayEvent | None:
        """The event processed under this key, if any."""
        seen = self._events.get(key)
        return None if seen is None else seen.event

    def apply(self, event: GatewayEvent) -> ProcessedEvent:
        """Apply a gateway event.

        A refund returns its amount (all that is left when it names none): the payment
        is *partially refunded* while something is left, *refunded* once nothing is.

        Returns:
            What happened: applied, duplicate (key seen before) or stale (the payment is
            already past the reported status). Only "applied" changes the payment.

        Raises:
            InvalidTransitionError: when the event contradicts the payment, e.g. a refund
                of a payment that was never credited, or "credited" after "failed".
            InvalidAmountError: for a refund of more than is left to refund.
            CurrencyMismatchError: for a refund in another currency than the payment.
        """
        seen = self._events.get(event.key)
        if seen is not None:
            return ProcessedEvent(EventOutcome.DUPLICATE, self._status, event)
        if event.kind is PaymentEventKind.REFUNDED and (
            self._status in _REFUNDABLE or event.amount is not None
        ):
            return self._refund(event)
        target = _TARGET[event.kind]
        if target in TRANSITIONS[self._status]:
            self._move(target, event.at, event.key, event.reason)
            result = ProcessedEvent(EventOutcome.APPLIED, self._status, event)
        elif target is self._status or (
            _RANK[target] < _RANK[self._status] and self._went_through(target)
        ):
            result = ProcessedEvent(EventOutcome.STALE, self._status, event)
        else:
            raise InvalidTransitionError(
                self._status.value,
                target.value,
                sorted(s.value for s in TRANSITIONS[self._status]),
            )
        self._events[event.key] = result
        return result

    def _refund(self, event: GatewayEvent) -> ProcessedEvent:
        if self._status not in _REFUNDABLE:
            if self._status is PaymentStatus.REFUNDED:
                raise InvalidAmountError(
                    str(event.amount),
                    f"payment {self.id} is refunded in full already: nothing is left to refund",
                )
            raise InvalidTransitionError(
                self._status.value,
                PaymentStatus.REFUNDED.value,
                sorted(s.value for s in TRANSITIONS[self._status]),
            )
        left = self.refundable
        amount = left if event.amount is None else event.amount
        if amount.code != left.code:
            raise CurrencyMismatchError(amount.code, left.code, f"refund of payment {self.id}")
        if amount > left:
            raise InvalidAmountError(
                str(amount),
                f"payment {self.id} has only {left} left to refund of {self.paid} paid",
            )
        self._refunded = self.refunded + amount
        target = (
            PaymentStatus.REFUNDED
            if self._refunded == self.paid
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        self._move(target, event.at, event.key, event.reason)
        result = ProcessedEvent(EventOutcome.APPLIED, self._status, event, refunded=amount)
        self._events[event.key] = result
        return result

    def cancel(self, at: datetime, reason: str = "") -> None:
        """Cancel a payment that has not been credited.

        Raises:
            InvalidTransitionError: when the payment is credited, failed or refunded.
        """
        self._transition(PaymentStatus.CANCELLED, at, reason)

    def _went_through(self, status: PaymentStatus) -> bool:
        # A late event is stale only if the payment could have passed that status.
        return status is PaymentStatus.PAYING or any(t.after is status for t in self._history)

    def _transition(self, target: PaymentStatus, at: datetime, reason: str) -> None:
        if target not in TRANSITIONS[self._status]:
            raise InvalidTransitionError(
                self._status.value,
                target.value,
                sorted(s.value for s in TRANSITIONS[self._status]),
            )
        self._move(target, at, None, reason)

    def _move(self, target: PaymentStatus, at: datetime, key: str | None, reason: str) -> None:
        aware(None, attrs.fields(PaymentTransition).at, at)
        self._history.append(PaymentTransition(self._status, target, at, key, reason))
        self._status = target


def _as_quote(amount: moneyed.Money | PaymentQuote) -> PaymentQuote:
    if isinstance(amount, PaymentQuote):
        return amount
    base = Money(amount.amount, amount.currency).require_places().require_positive()
    zero = Money.zero(base.code)
    return PaymentQuote(base=base, fee=zero, total=base, cashback=zero)
