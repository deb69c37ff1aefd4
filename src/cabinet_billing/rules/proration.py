"""Proration: what an order or a plan change costs now, and what it costs after (SPEC C3).

Two widely used methods, chosen by a :class:`ProrationPolicy`:

* **Calendar pro-rata** (:attr:`ProrationMethod.CALENDAR`, BILLmanager): services are
  aligned to a day of the month (the 1st by default). An order placed between two
  alignment days pays only the days until the next one; from then on it pays the full
  price per period. Aligned to the 1st, the part is ``(days in month - day of order + 1)
  / days in month``. Ordering *on* the alignment day pays the full period, as
  BILLmanager does for an order placed on the 1st.
* **Anniversary** (:attr:`ProrationMethod.ANNIVERSARY`): no alignment; a new order pays
  the full period from the day it is placed.

With either method, changing plan mid-period (:func:`change_plan`) is settled at a daily
rate: the unused days of the old plan are credited, the new plan is charged for the same
days, and the paid-until date does not move.

The Astra Cloud cart: a 660.00 RUB monthly configuration ordered on the 2nd of a 31-day
month costs 638.71 now (660 * 30/31), then 660.00 a month:

>>> from datetime import date
>>> from cabinet_billing import Money
>>> from cabinet_billing.rules.proration import ProrationPolicy, prorate
>>> p = prorate(ProrationPolicy(), Money("660.00", "RUB"), "month", date(2023, 5, 2))
>>> str(p.now), str(p.then), str(p.covered), p.ratio
('638.71 RUB', '660.00 RUB', '[2023-05-02, 2023-06-01)', Fraction(30, 31))
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from typing import Final

import attrs
import moneyed
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.allocation import round_lines
from cabinet_billing.domain.money import Money, Rounding, sum_money
from cabinet_billing.domain.periods import (
    BillingCycle,
    DateRange,
    Period,
    PeriodUnit,
    days_in_month,
    period_end,
)
from cabinet_billing.errors import CurrencyMismatchError, ValidationError

__all__ = [
    "PlanChange",
    "ProratedPrice",
    "ProrationMethod",
    "ProrationPolicy",
    "alignment_date",
    "change_plan",
    "prorate",
    "settle_rest",
]

# Exact enough for any amount a billing system sees, and independent of the ambient context.
_CONTEXT: Final = decimal.Context(prec=38)

_LAST_DAY_OF_MONTH: Final = 31


class ProrationMethod(enum.Enum):
    """How the first charge of a new order is computed."""

    #: Pay the days until the next alignment day, then full periods (BILLmanager).
    CALENDAR = "calendar"
    #: Pay a full period from the order day; no alignment.
    ANNIVERSARY = "anniversary"


@attrs.frozen
class ProrationPolicy:
    """How orders and plan changes are prorated.

    Args:
        method: calendar pro-rata (default) or anniversary billing.
        alignment_day: the day of month services are aligned to (1 to 31, default 1);
            in months without that day, the month's last day.
        rounding: how prorated amounts are rounded to the currency's minor unit.

    Raises:
        ValidationError: for an alignment day outside 1 to 31.
    """

    method: ProrationMethod = ProrationMethod.CALENDAR
    alignment_day: int = attrs.field(default=1)
    rounding: Rounding = attrs.field(factory=Rounding)

    @alignment_day.validator
    def _check_day(self, _attribute: object, value: int) -> None:
        if not _is_day_of_month(value):
            raise ValidationError("alignment_day", value, "must be a day of month from 1 to 31")

    def prorate(
        self,
        price: moneyed.Money | Sequence[moneyed.Money],
        period: Period | str,
        ordered_on: date,
    ) -> ProratedPrice:
        """Price a new order with this policy; see :func:`prorate`.

        >>> p = ProrationPolicy().prorate(Money("660.00", "RUB"), "month", date(2023, 5, 2))
        >>> str(p.now)
        '638.71 RUB'
        """
        return prorate(self, price, period, ordered_on)


def _is_day_of_month(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _LAST_DAY_OF_MONTH
    )


def _aligned(year: int, month: int, day: int) -> date:
    first = date(year, month, 1)
    return first.replace(day=min(day, days_in_month(first)))


def alignment_date(day: date, alignment_day: int = 1) -> date:
    """The first alignment day on or after ``day``.

    An alignment day beyond the end of a short month falls on its last day.

    Raises:
        ValidationError: for an alignment day outside 1 to 31.

    >>> alignment_date(date(2023, 5, 2)).isoformat(), alignment_date(date(2023, 5, 1)).isoformat()
    ('2023-06-01', '2023-05-01')
    >>> alignment_date(date(2023, 2, 10), 31).isoformat()
    '2023-02-28'
    """
    if not _is_day_of_month(alignment_day):
        raise ValidationError("alignment_day", alignment_day, "must be a day of month from 1 to 31")
    this_month = _aligned(day.year, day.month, alignment_day)
    if this_month >= day:
        return this_month
    following = this_month + relativedelta(months=1)
    return _aligned(following.year, following.month, alignment_day)


def _period_start_before(end: date, period: Period, alignment_day: int) -> date:
    # The start of the full period that ends on the alignment date ``end``, itself
    # aligned (so that a period ending 28 February, aligned to the 31st, starts 31 January).
    start = end - period.delta()
    return _aligned(start.year, start.month, alignment_day)


# How far back a calendar anchor is looked for: two years of months always hold a month
# with any day up to the 31st, except for yearly periods ending in February.
_ANCHOR_SEARCH: Final = 24


def _calendar_anchor(end: date, period: Period, alignment_day: int) -> date:
    # A boundary ``end`` of a calendar cycle aligned to ``alignment_day``: the cycle's anchor
    # is the latest earlier boundary that falls on the alignment day itself, so that
    # counting whole periods from it lands on the alignment day, or on the last day of
    # shorter months (aligned to the 31st: 31 March, 30 April, 31 May ...).
    for n in range(1, _ANCHOR_SEARCH + 1):
        candidate = end - period.delta(n)
        month_days = days_in_month(candidate)
        if month_days >= alignment_day:
            day = candidate.replace(day=alignment_day)
            if day + period.delta(n) == end:
                return day
    # Yearly periods ending in February, aligned to the 30th or 31st: no February has the
    # alignment day, and no 28 February leads to a 29 February (28 February 1999 + 12
    # months is 28 February 2000). A leap day is the anchor then: counting whole years
    # from 29 February lands on the last day of every February, leap or not.
    for n in range(1, _ANCHOR_SEARCH + 1):
        candidate = end - period.delta(n)
        if candidate.month == 2 and days_in_month(candidate) == 29:  # noqa: PLR2004 - leap
            leap_day = candidate.replace(day=29)
            if leap_day + period.delta(n) == end:
                return leap_day
    fallback: date = end - period.delta()
    return fallback


def _scale(amount: moneyed.Money, ratio: Fraction) -> Money:
    exact = _CONTEXT.divide(
        _CONTEXT.multiply(amount.amount, ratio.numerator),
        ratio.denominator,
    )
    return Money(exact, amount.currency)


def _lines(price: moneyed.Money | Sequence[moneyed.Money]) -> list[Money]:
    items = [price] if isinstance(price, moneyed.Money) else list(price)
    if not items:
        raise ValidationError("price", [], "at least one price line is needed")
    lines = [m if isinstance(m, Money) else Money(m.amount, m.currency) for m in items]
    currency = lines[0].code
    for line in lines:
        if line.code != currency:
            raise CurrencyMismatchError(line.code, currency, "price line")
        line.require_non_negative()
    return lines


@attrs.frozen
class ProratedPrice:
    """The now-price and then-price of an order, as the cart shows them.

    Args:
        now: what the order costs now, for the ``covered`` days.
        then: the full price of each following period.
        covered: the days the now-price pays for: from the order day to the alignment
            day (or a full period).
        period: the billing period of the then-price.
        days: the number of days paid now.
        period_days: the number of days of the full period the part is taken of.
        now_lines: the now-price per line (base, add-ons); they sum to ``now``.
        then_lines: the then-price per line; they sum to ``then``.
        anchor: the first day of the billing cycle the order joins: period ``n`` of the
            service ends at ``anchor + n * period``. The order day for a full period;
            for prorated days, the start of the full period they end (a day of the
            alignment day, e.g. 1 May for days from 2 May to 1 June).
    """

    now: Money
    then: Money
    covered: DateRange
    period: Period
    days: int
    period_days: int
    now_lines: tuple[Money, ...]
    then_lines: tuple[Money, ...]
    anchor: date

    @property
    def ratio(self) -> Fraction:
        """The exact part of the period paid now, e.g. ``Fraction(30, 31)``."""
        return Fraction(self.days, self.period_days)

    @property
    def paid_until(self) -> date:
        """The day after the last day paid now: the first day of the next period."""
        return self.covered.end

    @property
    def is_full(self) -> bool:
        """Whether the now-price pays a full period."""
        return self.days == self.period_days


def prorate(
    policy: ProrationPolicy,
    price: moneyed.Money | Sequence[moneyed.Money],
    period: Period | str,
    ordered_on: date,
) -> ProratedPrice:
    """Price a new order placed on ``ordered_on``: the now-price and the then-price.

    With :attr:`ProrationMethod.CALENDAR`, the now-price pays the days from the order
    day up to the next alignment day, as the share of the full period that ends there:
    ``days / period_days``. Ordering on the alignment day pays a full period. Day
    periods are never prorated. With :attr:`ProrationMethod.ANNIVERSARY`, the now-price
    is a full period from the order day.

    When ``price`` is several lines (base price and add-ons), every line is prorated
    and the rounded lines sum exactly to the rounded total.

    Args:
        policy: the proration policy.
        price: the full price for one period, or its lines.
        period: the billing period.
        ordered_on: the day of the order.

    Raises:
        ValidationError: for no lines at all.
        CurrencyMismatchError: for lines in different currencies.
        InvalidAmountError: for a negative line.

    >>> p = prorate(ProrationPolicy(), Money("660.00", "RUB"), "month", date(2023, 5, 1))
    >>> str(p.now), str(p.covered)
    ('660.00 RUB', '[2023-05-01, 2023-06-01)')
    """
    lines = _lines(price)
    wanted = Period.parse(period)
    start = ordered_on
    full_end = period_end(start, wanted)
    end = full_end
    anchor = start
    period_days = (full_end - start).days
    if policy.method is ProrationMethod.CALENDAR and wanted.unit is PeriodUnit.MONTH:
        aligned = alignment_date(ordered_on, policy.alignment_day)
        if aligned == ordered_on:
            # A full period, ending on the alignment day (the 29th stays the 29th after
            # a February that ended on the 28th).
            end = _aligned(full_end.year, full_end.month, policy.alignment_day)
            period_days = (end - start).days
        else:
            end = aligned
            period_start = _period_start_before(aligned, wanted, policy.alignment_day)
            period_days = (aligned - period_start).days
        anchor = _calendar_anchor(end, wanted, policy.alignment_day)
    days = (end - start).days
    ratio = Fraction(days, period_days)
    then_lines = round_lines(lines, policy.rounding)
    now_lines = round_lines([_scale(line, ratio) for line in lines], policy.rounding)
    currency = lines[0].code
    return ProratedPrice(
        now=sum_money(now_lines, currency),
        then=sum_money(then_lines, currency),
        covered=DateRange(start, end),
        period=wanted,
        days=days,
        period_days=period_days,
        now_lines=tuple(now_lines),
        then_lines=tuple(then_lines),
        anchor=anchor,
    )


@attrs.frozen
class PlanChange:
    """The settlement of a plan change in the middle of a paid period.

    Args:
        credit: the unused days of the old plan, given back.
        charge: the new plan for the same days.
        remaining: the days from the change to the paid-until date.
        period_days: the number of days of the paid period.

    ``net`` is ``charge - credit``: positive to pay, negative to credit to the balance.
    The paid-until date (``remaining.end``) does not change.
    """

    credit: Money
    charge: Money
    remaining: DateRange
    period_days: int

    @property
    def net(self) -> Money:
        """What the customer pays (positive) or gets back (negative)."""
        return self.charge - self.credit

    @property
    def paid_until(self) -> date:
        """The unchanged paid-until date."""
        return self.remaining.end

    @property
    def days(self) -> int:
        """The number of days settled."""
        return self.remaining.days


def change_plan(
    policy: ProrationPolicy,
    old_price: moneyed.Money,
    new_price: moneyed.Money,
    paid: DateRange,
    changed_on: date,
) -> PlanChange:
    """Settle a change from a plan costing ``old_price`` to one costing ``new_price``.

    Both prices are for the whole paid period ``paid``. The unused days from
    ``changed_on`` to ``paid.end`` are credited at the old plan's daily rate and charged
    at the new plan's; each amount is rounded to the minor unit with the policy's
    rounding. The paid-until date is unchanged.

    Args:
        policy: the proration policy (its rounding is used).
        old_price: the old plan's price for the paid period.
        new_price: the new plan's price for the same period.
        paid: the paid period ``[start, paid until)``.
        changed_on: the day of the change, within the paid period.

    Raises:
        ValidationError: when ``changed_on`` lies outside the paid period or the period
            is empty.
        CurrencyMismatchError: when the two prices are in different currencies.
        InvalidAmountError: for a negative price.

    >>> paid = DateRange(date(2023, 5, 1), date(2023, 6, 1))
    >>> c = change_plan(ProrationPolicy(), Money("310.00", "RUB"), Money("620.00", "RUB"), paid, date(2023, 5, 22))
    >>> str(c.credit), str(c.charge), str(c.net), c.paid_until.isoformat()
    ('100.00 RUB', '200.00 RUB', '100.00 RUB', '2023-06-01')
    """
    old, new = _lines([old_price, new_price])
    if paid.days == 0:
        raise ValidationError("paid", str(paid), "the paid period must not be empty")
    if not paid.start <= changed_on <= paid.end:
        raise ValidationError(
            "changed_on",
            changed_on,
            f"must lie within the paid period {paid}",
        )
    remaining = DateRange(changed_on, paid.end)
    ratio = Fraction(remaining.days, paid.days)
    return PlanChange(
        credit=policy.rounding.minor(_scale(old, ratio)),
        charge=policy.rounding.minor(_scale(new, ratio)),
        remaining=remaining,
        period_days=paid.days,
    )


def settle_rest(
    policy: ProrationPolicy,
    old_price: moneyed.Money,
    new_price: moneyed.Money,
    *,
    cycle: BillingCycle,
    paid_until: date,
    on: date,
) -> PlanChange:
    """Settle a change on ``on`` for every day paid from then up to ``paid_until``.

    Like :func:`change_plan`, but over the billing cycle: each period of ``cycle`` that
    the days from ``on`` to ``paid_until`` touch is settled at its own daily rate (the
    price over that period's days), so a service renewed several periods ahead is
    settled for all of them. Each period's credit and charge is rounded to the minor
    unit on its own: changing back on the same day gives back exactly what was charged.

    Args:
        policy: the proration policy (its rounding is used).
        old_price: the old plan's price for one period of the cycle.
        new_price: the new plan's price for the same period.
        cycle: the service's billing cycle (its anchor and period).
        paid_until: the end of the paid days.
        on: the day of the change; the days from it on are settled.

    Raises:
        ValidationError: unless ``on`` is before ``paid_until``.
        CurrencyMismatchError: when the two prices are in different currencies.
        InvalidAmountError: for a negative price.

    >>> cycle = BillingCycle(date(2023, 5, 1), "month")
    >>> c = settle_rest(ProrationPolicy(), Money("310.00", "RUB"), Money("620.00", "RUB"),
    ...                 cycle=cycle, paid_until=date(2023, 7, 1), on=date(2023, 5, 22))
    >>> str(c.credit), str(c.charge), str(c.net), c.days
    ('410.00 RUB', '820.00 RUB', '410.00 RUB', 40)
    """
    old, new = _lines([old_price, new_price])
    if not on < paid_until:
        raise ValidationError(
            "on", on, f"must be before the paid-until date {paid_until.isoformat()}"
        )
    anchor = cycle.anchor
    while anchor > on:
        anchor = anchor - cycle.period.delta()
    cycle = BillingCycle(anchor, cycle.period)
    credit, charge = Money.zero(old.code), Money.zero(old.code)
    k = cycle.index_of(on)
    current = cycle.interval(k)
    while current.start < paid_until:
        days = (min(current.end, paid_until) - max(current.start, on)).days
        if days > 0:
            ratio = Fraction(days, current.days)
            credit += policy.rounding.minor(_scale(old, ratio))
            charge += policy.rounding.minor(_scale(new, ratio))
        k += 1
        current = cycle.interval(k)
    first = cycle.interval(cycle.index_of(on))
    return PlanChange(
        credit=credit,
        charge=charge,
        remaining=DateRange(on, paid_until),
        period_days=first.days,
    )
