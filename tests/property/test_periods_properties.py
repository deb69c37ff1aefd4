from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing.domain.periods import (
    BillingCycle,
    Period,
    PeriodUnit,
    days_in_month,
    period_end,
    period_index,
)

pytestmark = pytest.mark.spec("C2")

anchors = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
periods = st.builds(
    Period,
    st.sampled_from(list(PeriodUnit)),
    st.integers(min_value=1, max_value=24),
)
ns = st.integers(min_value=0, max_value=60)


@given(anchors, periods, ns)
def test_end_of_period_n_is_the_nth_boundary_of_the_schedule(
    anchor: date, period: Period, n: int
) -> None:
    cycle = BillingCycle(anchor, period)
    assert next(itertools.islice(cycle.boundaries(), n, None)) == period_end(anchor, period, n)
    assert cycle.interval(n).end == period_end(anchor, period, n + 1)


@given(anchors, st.integers(min_value=1, max_value=12), ns)
def test_day_of_month_returns_to_the_anchor_day_when_the_month_has_it(
    anchor: date, months: int, n: int
) -> None:
    end = period_end(anchor, Period.months(months), n)
    assert end.day == min(anchor.day, days_in_month(end))


@given(anchors, periods, ns)
def test_boundaries_strictly_increase(anchor: date, period: Period, n: int) -> None:
    assert period_end(anchor, period, n) < period_end(anchor, period, n + 1)


@given(anchors, periods, st.integers(min_value=-400, max_value=4000))
def test_period_index_locates_the_day(anchor: date, period: Period, offset: int) -> None:
    day = date.fromordinal(anchor.toordinal() + offset)
    k = period_index(anchor, period, day)
    start = anchor + period.delta(k)
    end = anchor + period.delta(k + 1)
    assert start <= day < end


@given(periods)
def test_str_and_parse_round_trip(period: Period) -> None:
    assert Period.parse(str(period)) == period


@given(anchors, periods, ns)
def test_period_end_is_the_calendar_offset_of_n_periods(
    anchor: date, period: Period, n: int
) -> None:
    # period_end does its own month arithmetic; it must agree with dateutil's.
    assert period_end(anchor, period, n) == anchor + period.delta(n)


@given(anchors, periods, st.integers(min_value=-400, max_value=4000), st.integers(0, 3))
def test_a_boundary_and_a_renewal_are_found_from_the_period_index(
    anchor: date, period: Period, offset: int, n: int
) -> None:
    day = date.fromordinal(anchor.toordinal() + offset)
    k = period_index(anchor, period, day)
    on_cycle = k >= 0 and period_end(anchor, period, k) == day
    cycle = BillingCycle(anchor, period)
    assert cycle.is_boundary(day) == on_cycle
    assert cycle.extend(day, n) == (
        period_end(anchor, period, k + n) if on_cycle else period_end(day, period, n)
    )
