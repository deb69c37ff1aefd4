"""The standing billing arrangements of one account.

What the billing run needs to know about an account beyond its balance: its saved
payment methods (SPEC R5), the auto-renewal of each service (R4), its autopayment (R6),
card autopay on invoice day (R7), its credit line (R1), and the keys of what was already
done or sent, so that every run can be repeated safely.

>>> from datetime import date
>>> from cabinet_billing import Money, SavedPaymentMethod
>>> profile = BillingProfile("acc-1")
>>> profile.add_method(SavedPaymentMethod("m1", "acc-1", "card", "tok_1", "Visa", "•••• 4242"))
>>> profile.method("m1").name
'Visa'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_FLOOR

import attrs

from cabinet_billing.domain.attempts import ChargeAttempt
from cabinet_billing.domain.autopay import AutopayPolicy, CardAutopay
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.money import Money, Rounding, sum_money
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.subscription import (
    RenewalSource,
    Subscription,
    subscriptions_to_switch_off,
)
from cabinet_billing.errors import ConflictError, NotFoundError, ValidationError

__all__ = ["DATED_KEYS_KEPT", "AutopaySettings", "BillingProfile"]


@attrs.frozen
class AutopaySettings:
    """Which saved method pays automatic top-ups, and under which policy (SPEC R6)."""

    method_id: str
    policy: AutopayPolicy


DATED_KEYS_KEPT = timedelta(days=92)
"""How long the billing run keeps the keys of dated work after their day (a quarter):
longer than any retry of a charge, any repeated gateway event and any run repeated for
a past day (see :meth:`BillingProfile.forget_dated_keys`)."""

_DATED_KINDS = ("daily:", "renewal:", "renewal-invoice:")


def _dated_before(key: str, before: date) -> bool:
    """Whether a key is of dated work (see ``_DATED_KINDS``) for a day before ``before``."""
    if not key.startswith(_DATED_KINDS):
        return False
    try:
        day = date.fromisoformat(key.rsplit(":", 1)[1])
    except ValueError:
        return False
    return day < before


@attrs.define
class BillingProfile:
    """Saved methods, subscriptions, autopayment, card autopay and credit of an account.

    Args:
        account_id: the account.

    Attributes:
        last_run: the last billing day the run finished for the account (``None`` before
            the first); a dry run for a later day starts from the day after it.
    """

    account_id: str
    _methods: dict[str, SavedPaymentMethod] = attrs.field(factory=dict, alias="_methods")
    _subscriptions: dict[str, Subscription] = attrs.field(factory=dict, alias="_subscriptions")
    credit: CreditLine | None = None
    autopay: AutopaySettings | None = None
    card_autopay: CardAutopay | None = None
    _autopaid: dict[str, Money] = attrs.field(factory=dict, alias="_autopaid")
    _done: set[str] = attrs.field(factory=set, alias="_done")
    _statement_invoices: dict[str, str] = attrs.field(factory=dict, alias="_statement_invoices")
    last_balance: Money | None = None
    credit_carry: Money | None = None
    _attempts: dict[str, ChargeAttempt] = attrs.field(factory=dict, alias="_attempts")
    last_run: date | None = None

    # ------------------------------------------------------------------ methods

    @property
    def methods(self) -> tuple[SavedPaymentMethod, ...]:
        """The saved methods, in the order they were added."""
        return tuple(self._methods.values())

    def method(self, method_id: str) -> SavedPaymentMethod:
        """The saved method with an id.

        Raises:
            NotFoundError: when there is none.
        """
        try:
            return self._methods[method_id]
        except KeyError:
            raise NotFoundError("saved payment method", method_id) from None

    def add_method(self, method: SavedPaymentMethod) -> None:
        """Keep a saved method.

        Raises:
            ValidationError: for a method of another account.
            ConflictError: when its id is taken.
        """
        if method.account_id != self.account_id:
            raise ValidationError("account_id", method.account_id, f"expected {self.account_id!r}")
        if method.id in self._methods:
            raise ConflictError(f"saved payment method {method.id!r}", "already exists")
        self._methods[method.id] = method

    def remove_method(self, method_id: str) -> tuple[str, ...]:
        """Delete a saved method; auto-renewal is switched off for the services it paid.

        Returns:
            The ids of the services whose auto-renewal was switched off.

        Raises:
            NotFoundError: for an unknown method.
        """
        self.method(method_id)
        off = subscriptions_to_switch_off(self._subscriptions.values(), method_id)
        for sub in off:
            sub.switch_off()
        del self._methods[method_id]
        if self.autopay is not None and self.autopay.method_id == method_id:
            self.autopay = None
        return tuple(s.service_id for s in off)

    # ------------------------------------------------------------------ subscriptions

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The auto-renewal settings, by service, in the order they were made."""
        return tuple(self._subscriptions.values())

    def subscription(self, service_id: str) -> Subscription | None:
        """The auto-renewal of a service, if it has one."""
        return self._subscriptions.get(service_id)

    def subscribe(self, subscription: Subscription) -> None:
        """Set (or replace) a service's auto-renewal.

        Raises:
            ValidationError: for a subscription of another account.
            NotFoundError: for a saved method the account does not have.
        """
        if subscription.account_id != self.account_id:
            raise ValidationError(
                "account_id",
                subscription.account_id,
                f"expected {self.account_id!r}",
            )
        if subscription.source is RenewalSource.SAVED_METHOD and subscription.method_id:
            self.method(subscription.method_id)
        self._subscriptions[subscription.service_id] = subscription

    # ------------------------------------------------------------------ autopay

    def autopaid(self, month: date, currency: str) -> Money:
        """What automatic top-ups charged in a month."""
        return self._autopaid.get(f"{month:%Y-%m}:{currency}", Money.zero(currency))

    def record_autopay(self, on: date, amount: Money) -> None:
        """Count an automatic top-up towards its month's cap."""
        key = f"{on:%Y-%m}:{amount.code}"
        self._autopaid[key] = self.autopaid(on, amount.code) + amount

    # ------------------------------------------------------------------ credit

    def link_statement(self, statement_id: str, invoice_id: str) -> None:
        """Remember the invoice a credit statement was issued as."""
        self._statement_invoices[statement_id] = invoice_id

    def statement_invoice(self, statement_id: str) -> str | None:
        """The invoice a credit statement was issued as, if any."""
        return self._statement_invoices.get(statement_id)

    def carry_credit(self, shortfall: Money, places: int) -> Money:
        """Add a sub-cent credit shortfall of a daily accrual; return the whole units due.

        Daily accruals are kept to 4 decimal places while the credit line counts whole
        minor units: the fractions are carried over until they make a unit, so credit
        usage never drifts from the balance by a unit or more.
        """
        carry = (self.credit_carry or Money.zero(shortfall.code)) + shortfall
        whole = Rounding(ROUND_FLOOR).quantize(carry, places)
        self.credit_carry = carry - whole
        return whole

    # ------------------------------------------------------------------ charge attempts

    def attempt(self, series: str) -> ChargeAttempt | None:
        """The latest attempt of a series of automatic charges, if any was made."""
        return self._attempts.get(series)

    @property
    def attempts(self) -> tuple[ChargeAttempt, ...]:
        """The latest attempt of each series, in the order the series began."""
        return tuple(self._attempts.values())

    @property
    def pending_attempts(self) -> tuple[ChargeAttempt, ...]:
        """The attempts whose outcome is unknown: the provider must be asked again."""
        return tuple(a for a in self._attempts.values() if a.pending)

    def record_attempt(self, attempt: ChargeAttempt) -> None:
        """Keep an attempt as the latest of its series (a new one, or one's outcome).

        Raises:
            ConflictError: for a new attempt while the series' latest has no outcome, or
                an outcome of an attempt that is not the series' latest.
        """
        latest = self._attempts.get(attempt.series)
        if latest is not None and attempt.number != latest.number:
            if attempt.number != latest.number + 1 or latest.pending:
                raise ConflictError(
                    f"attempt {attempt.key!r}",
                    f"does not follow attempt {latest.key!r} ({latest.status})",
                )
        elif latest is None and attempt.number != 1:
            raise ConflictError(f"attempt {attempt.key!r}", "its series has no attempt yet")
        self._attempts[attempt.series] = attempt

    def forget_attempt(self, series: str) -> None:
        """Forget a series whose attempts will never be needed again (its outcome is known)."""
        latest = self._attempts.get(series)
        if latest is not None and latest.pending:
            raise ConflictError(f"attempt {latest.key!r}", "has no outcome yet")
        self._attempts.pop(series, None)

    # ------------------------------------------------------------------ idempotency

    def done(self, key: str) -> bool:
        """Whether work under a key was done (a renewal, a notice ...)."""
        return key in self._done

    def record(self, key: str) -> None:
        """Record work under a key.

        Raises:
            ConflictError: when it was recorded before.
        """
        if key in self._done:
            raise ConflictError(f"key {key!r}", "already recorded")
        self._done.add(key)

    @property
    def keys(self) -> frozenset[str]:
        """Every recorded key."""
        return frozenset(self._done)

    def forget_dated_keys(self, before: date) -> tuple[str, ...]:
        """Forget the keys of dated work for days before ``before``; the keys forgotten.

        The keys of a day's charge of a daily service (``daily:<service>:<day>``), of a
        renewal (``renewal:<service>:<period start>``) and of a renewal invoice issued
        ahead (``renewal-invoice:<service>:<paid until>``) are asked only while their day
        is the one the run bills: the service's paid-until date and the subscription's
        next period move past it once the work is done, and guard it on their own after
        that. Keeping them a while longer than any repeat (see
        :data:`DATED_KEYS_KEPT`) covers a run repeated for a past day; after that they
        can no longer be asked about. Every other key (notices, reminders, bindings,
        payments) is kept.
        """
        gone = tuple(sorted(k for k in self._done if _dated_before(k, before)))
        self._done.difference_update(gone)
        return gone

    def total_subscribed(self, currency: str, services: Iterable[str]) -> Money:
        """The per-period price of the given services' enabled subscriptions."""
        wanted = set(services)
        return sum_money(
            (
                s.price
                for s in self._subscriptions.values()
                if s.enabled and s.service_id in wanted and s.price.code == currency
            ),
            currency,
        )
