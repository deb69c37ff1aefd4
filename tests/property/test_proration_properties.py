from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.domain.periods import DateRange, Period
from cabinet_billing.rules.proration import (
    ProrationMethod,
    ProrationPolicy,
    alignment_date,
    change_plan,
    prorate,
)

pytestmark = pytest.mark.spec("C3")

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31))
amounts = st.decimals(min_value=0, max_value=Decimal(10**7), places=2).map(
    lambda d: Money(d, "RUB")
)
policies = st.builds(
    ProrationPolicy,
    st.sampled_from(list(ProrationMethod)),
    st.integers(min_value=1, max_value=31),
)
periods = st.sampled_from(
    [Period.days(), Period.days(7), Period.months(), Period.quarter(), Period.year()]
)


@given(policies, st.lists(amounts, min_size=1, max_size=6), periods, days)
def test_prorated_amount_is_between_zero_and_the_full_price_and_lines_sum(
    policy: ProrationPolicy, lines: list[Money], period: Period, ordered_on: date
) -> None:
    p = prorate(policy, lines, period, ordered_on)
    assert Money("0", "RUB") <= p.now <= p.then
    assert sum_money(p.now_lines) == p.now
    assert sum_money(p.then_lines) == p.then
    assert 0 < p.days <= p.period_days
    assert p.covered.start == ordered_on


@given(st.integers(min_value=1, max_value=31), amounts, days)
def test_ordering_on_the_alignment_day_pays_the_full_price(
    alignment_day: int, price: Money, some_day: date
) -> None:
    policy = ProrationPolicy(alignment_day=alignment_day)
    aligned = alignment_date(some_day, alignment_day)
    p = prorate(policy, price, "month", aligned)
    assert p.now == p.then
    assert p.is_full


@given(st.integers(min_value=1, max_value=31), days)
def test_calendar_coverage_ends_on_the_next_alignment_day(alignment_day: int, day: date) -> None:
    p = prorate(ProrationPolicy(alignment_day=alignment_day), Money("1", "RUB"), "month", day)
    end = p.covered.end
    assert end > day
    assert end == alignment_date(end, alignment_day)


@given(amounts, amounts, days, st.integers(min_value=0, max_value=31))
def test_plan_change_keeps_the_paid_until_date_and_bounds_credit(
    old: Money, new: Money, start: date, offset: int
) -> None:
    paid = DateRange(start, start + Period.months().delta())
    changed_on = min(date.fromordinal(start.toordinal() + offset), paid.end)
    change = change_plan(ProrationPolicy(), old, new, paid, changed_on)
    assert change.paid_until == paid.end
    assert Money("0", "RUB") <= change.credit <= old
    assert Money("0", "RUB") <= change.charge <= new
    assert change.net == change.charge - change.credit
