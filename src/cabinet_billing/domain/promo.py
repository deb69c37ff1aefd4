"""Promo codes: percentage or fixed discounts with limits (SPEC C4).

A :class:`PromoCode` gives either a percentage off or a fixed amount off. It may be
limited to some plans and some billing periods, may be valid from and until given days,
and may be usable only once per customer. Time is always an argument: whether a code has
expired depends on the ``today`` the caller passes.

>>> from datetime import date
>>> from cabinet_billing import Money, Period
>>> from cabinet_billing.domain.promo import PromoCode
>>> spring = PromoCode.percentage("SPRING", "10", expires_on=date(2024, 3, 31))
>>> spring.discount_on(Money("660.00", "RUB"))
Money('66.00', 'RUB')
>>> spring.check(today=date(2024, 4, 1))
Traceback (most recent call last):
...
cabinet_billing.errors.PromoCodeError: promo code 'SPRING' cannot be applied: it expired on 2024-03-31
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

import attrs
import moneyed

from cabinet_billing.domain.money import Money, to_decimal
from cabinet_billing.domain.periods import Period
from cabinet_billing.errors import PromoCodeError, ValidationError

__all__ = ["PromoCode", "PromoRedemptions", "find_code", "normalize_code", "redemption_key"]

_HUNDRED: Final = Decimal(100)


def _is_code(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value == value.strip()


def _check_code(_instance: object, _attribute: object, value: str) -> None:
    if not _is_code(value):
        raise ValidationError("code", value, "a promo code is non-empty text without outer spaces")


def _to_percent(value: object) -> Decimal | None:
    if value is None:
        return None
    percent = to_decimal(value)
    if not Decimal(0) < percent <= _HUNDRED:
        raise ValidationError("percent", value, "a percentage discount is above 0 and at most 100")
    return percent


def _to_amount(value: moneyed.Money | None) -> Money | None:
    if value is None:
        return None
    amount = value if isinstance(value, Money) else Money(value.amount, value.currency)
    return amount.require_positive()


def _to_ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _to_periods(value: Iterable[Period | str]) -> frozenset[Period]:
    return frozenset(Period.parse(p) for p in value)


def normalize_code(code: str) -> str:
    """The form in which codes are compared: stripped and case-folded.

    >>> normalize_code(" Spring ")
    'SPRING'
    """
    return code.strip().upper()


def redemption_key(code: str, customer_id: str) -> str:
    """The idempotency key that records a customer's use of a code.

    >>> redemption_key(" spring ", "acc-1")
    'promo:SPRING:acc-1'
    """
    return f"promo:{normalize_code(code)}:{customer_id}"


def find_code(codes: Iterable[PromoCode], text: str) -> PromoCode:
    """The code of ``codes`` that ``text`` names (ignoring case and outer spaces).

    Raises:
        PromoCodeError: when none does; the offered codes are not listed, since they
            may be secret.

    >>> find_code([PromoCode.percentage("TEN", 10)], " ten ").code
    'TEN'
    >>> find_code([], "FREE")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.PromoCodeError: promo code 'FREE' cannot be applied: it is not a code this cabinet offers
    """
    for code in codes:
        if code.matches(text):
            return code
    raise PromoCodeError(text, "it is not a code this cabinet offers")


@attrs.frozen
class PromoCode:
    """A promo code: a percentage or a fixed amount off, with its limits.

    Build one with :meth:`percentage` or :meth:`fixed`.

    Args:
        code: the code the customer types (compared case-insensitively).
        percent: the percentage off (above 0, at most 100), or ``None``.
        amount: the fixed amount off per order, or ``None``; exactly one of
            ``percent`` and ``amount`` is set.
        plan_ids: the plans it applies to; empty means every plan.
        periods: the billing periods it applies to; empty means every period.
        starts_on: the first day it may be used, or ``None``.
        expires_on: the last day it may be used, or ``None``.
        once_per_customer: whether a customer may use it only once.

    Raises:
        ValidationError: for an empty code, a percentage outside (0, 100], both or
            neither of ``percent`` and ``amount``, or ``expires_on`` before ``starts_on``.
        InvalidAmountError: for a fixed amount that is not positive.
    """

    code: str = attrs.field(validator=_check_code)
    percent: Decimal | None = attrs.field(default=None, converter=_to_percent)
    amount: Money | None = attrs.field(default=None, converter=_to_amount)
    plan_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_to_ids)
    periods: frozenset[Period] = attrs.field(default=frozenset(), converter=_to_periods)
    starts_on: date | None = None
    expires_on: date | None = None
    once_per_customer: bool = True

    def __attrs_post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValidationError(
                "percent",
                self.percent,
                "give exactly one of a percentage and a fixed amount",
            )
        if (
            self.starts_on is not None
            and self.expires_on is not None
            and self.expires_on < self.starts_on
        ):
            raise ValidationError(
                "expires_on",
                self.expires_on,
                f"must not be before starts_on {self.starts_on.isoformat()}",
            )

    @classmethod
    def percentage(
        cls,
        code: str,
        percent: Decimal | int | str,
        *,
        plan_ids: Iterable[str] = (),
        periods: Iterable[Period | str] = (),
        starts_on: date | None = None,
        expires_on: date | None = None,
        once_per_customer: bool = True,
    ) -> PromoCode:
        """A code giving ``percent`` % off each item it applies to.

        >>> str(PromoCode.percentage("TEN", 10).discount_on(Money("20.00", "EUR")))
        '2.00 EUR'
        """
        return cls(
            code,
            percent=percent,
            plan_ids=_to_ids(plan_ids),
            periods=_to_periods(periods),
            starts_on=starts_on,
            expires_on=expires_on,
            once_per_customer=once_per_customer,
        )

    @classmethod
    def fixed(
        cls,
        code: str,
        amount: moneyed.Money,
        *,
        plan_ids: Iterable[str] = (),
        periods: Iterable[Period | str] = (),
        starts_on: date | None = None,
        expires_on: date | None = None,
        once_per_customer: bool = True,
    ) -> PromoCode:
        """A code giving ``amount`` off an order, never more than what it applies to.

        >>> str(PromoCode.fixed("FIVE", Money("5.00", "EUR")).discount_on(Money("3.00", "EUR")))
        '3.00 EUR'
        """
        return cls(
            code,
            amount=Money(amount.amount, amount.currency),
            plan_ids=_to_ids(plan_ids),
            periods=_to_periods(periods),
            starts_on=starts_on,
            expires_on=expires_on,
            once_per_customer=once_per_customer,
        )

    @property
    def key(self) -> str:
        """The code as compared: stripped and upper-case."""
        return normalize_code(self.code)

    def matches(self, text: str) -> bool:
        """Whether ``text`` is this code, ignoring case and outer spaces."""
        return normalize_code(text) == self.key

    def applies_to(self, plan_id: str, period: Period) -> bool:
        """Whether the code applies to an item of ``plan_id`` for ``period``."""
        return (not self.plan_ids or plan_id in self.plan_ids) and (
            not self.periods or period in self.periods
        )

    def describe_scope(self) -> str:
        """The plans and periods the code is limited to, as text."""
        plans = ", ".join(sorted(self.plan_ids)) if self.plan_ids else "any plan"
        periods = ", ".join(sorted(str(p) for p in self.periods)) if self.periods else "any period"
        return f"plans: {plans}; periods: {periods}"

    def check(self, today: date, *, already_used: bool = False) -> None:
        """Refuse the code if it is not valid on ``today`` or was used up.

        Args:
            today: the day it would be applied.
            already_used: whether this customer has used it before.

        Raises:
            PromoCodeError: naming the code and why it cannot be applied.
        """
        if self.starts_on is not None and today < self.starts_on:
            raise PromoCodeError(self.code, f"it is valid from {self.starts_on.isoformat()}")
        if self.expires_on is not None and today > self.expires_on:
            raise PromoCodeError(self.code, f"it expired on {self.expires_on.isoformat()}")
        if self.once_per_customer and already_used:
            raise PromoCodeError(self.code, "it was already used; each customer may use it once")

    def discount_on(self, amount: moneyed.Money) -> Money:
        """The exact (unrounded) discount on ``amount``, never more than ``amount``.

        Raises:
            PromoCodeError: for a fixed discount in another currency than ``amount``.
        """
        base = Money(amount.amount, amount.currency)
        if self.percent is not None:
            return base * self.percent / _HUNDRED
        assert self.amount is not None  # noqa: S101 - exactly one is set, see __attrs_post_init__
        if self.amount.code != base.code:
            raise PromoCodeError(
                self.code,
                f"it is a discount in {self.amount.code}; the order is in {base.code}",
            )
        return min(self.amount, base)


@attrs.define
class PromoRedemptions:
    """Which customers used which codes, for codes usable once per customer.

    >>> used = PromoRedemptions()
    >>> used.redeem("spring", "c1")
    >>> used.has_used("SPRING", "c1"), used.has_used("SPRING", "c2")
    (True, False)
    """

    _used: set[tuple[str, str]] = attrs.field(factory=set, init=False)

    def has_used(self, code: str, customer_id: str) -> bool:
        """Whether ``customer_id`` has redeemed ``code``."""
        return (normalize_code(code), customer_id) in self._used

    def redeem(self, code: str, customer_id: str, *, once: bool = True) -> None:
        """Record that ``customer_id`` used ``code``.

        Raises:
            PromoCodeError: when ``once`` and the customer used the code before; nothing
                is recorded then.
        """
        key = (normalize_code(code), customer_id)
        if once and key in self._used:
            raise PromoCodeError(code, "it was already used; each customer may use it once")
        self._used.add(key)
