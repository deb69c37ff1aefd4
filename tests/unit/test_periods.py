from __future__ import annotations

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.periods import (
    BillingCycle,
    DateRange,
    Period,
    PeriodUnit,
    days_in_month,
    days_left,
    period_end,
    period_index,
    periods_between,
)
from cabinet_billing.errors import ValidationError

pytestmark = pytest.mark.spec("C2")


def test_ac_month_renewal_from_2023_05_27_ends_2023_06_27() -> None:
    assert period_end(date(2023, 5, 27), Period.months()) == date(2023, 6, 27)


def test_service_started_on_31st_renews_on_last_day_of_short_months_and_returns() -> None:
    anchor = date(2023, 1, 31)
    ends = [period_end(anchor, Period.months(), n) for n in range(1, 7)]
    assert ends == [
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
        date(2023, 6, 30),
        date(2023, 7, 31),
    ]


def test_leap_year_february() -> None:
    assert period_end(date(2024, 1, 31), Period.months()) == date(2024, 2, 29)
    assert period_end(date(2024, 2, 29), Period.year()) == date(2025, 2, 28)
    assert period_end(date(2024, 2, 29), Period.year(), 4) == date(2028, 2, 29)


def test_anchored_differs_from_chained() -> None:
    anchor = date(2023, 1, 31)
    chained = anchor + relativedelta(months=1) + relativedelta(months=1)
    assert chained == date(2023, 3, 28)
    assert period_end(anchor, Period.months(), 2) == date(2023, 3, 31)


def test_zero_periods_is_the_anchor() -> None:
    assert period_end(date(2023, 5, 27), Period.quarter(), 0) == date(2023, 5, 27)


def test_day_periods() -> None:
    assert period_end(date(2023, 5, 27), Period.days()) == date(2023, 5, 28)
    assert period_end(date(2023, 5, 27), Period.days(7), 2) == date(2023, 6, 10)


def test_quarter_half_year_and_year() -> None:
    assert period_end(date(2023, 11, 30), Period.quarter()) == date(2024, 2, 29)
    assert period_end(date(2023, 8, 31), Period.half_year()) == date(2024, 2, 29)
    assert period_end(date(2023, 5, 27), Period.year()) == date(2024, 5, 27)


@pytest.mark.parametrize("n", [-1, True])
def test_period_end_refuses_bad_n(n: int) -> None:
    with pytest.raises(ValidationError, match=r"n=.* is invalid: .*whole number >= 0") as err:
        period_end(date(2023, 5, 27), Period.months(), n)
    assert err.value.field == "n"
    assert err.value.value == n


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("month", Period.months()),
        ("1 month", Period.months()),
        ("Monthly", Period.months()),
        ("3 months", Period.months(3)),
        ("quarter", Period.months(3)),
        ("half-year", Period.months(6)),
        ("half year", Period.months(6)),
        ("year", Period.months(12)),
        ("2 years", Period.months(24)),
        ("annually", Period.months(12)),
        ("day", Period.days(1)),
        ("7 days", Period.days(7)),
        ("  7days ", Period.days(7)),
        ("week", Period.days(7)),
        ("2 weeks", Period.days(14)),
    ],
)
def test_parse(text: str, expected: Period) -> None:
    assert Period.parse(text) == expected


def test_parse_returns_a_period_unchanged() -> None:
    p = Period.quarter()
    assert Period.parse(p) is p


@pytest.mark.parametrize("text", ["", "fortnight", "month 3", "-1 month", "1.5 months", "mon"])
def test_parse_refuses_unknown_text_and_names_accepted_words(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        Period.parse(text)
    assert err.value.field == "period"
    assert err.value.value == text
    assert repr(text) in str(err.value)
    assert "month, monthly, months, quarter" in str(err.value)


def test_parse_refuses_zero_count() -> None:
    with pytest.raises(ValidationError, match=r"period='0 months' is invalid: .*at least 1"):
        Period.parse("0 months")


@pytest.mark.parametrize("count", [0, -3, True])
def test_period_refuses_bad_count(count: int) -> None:
    with pytest.raises(ValidationError, match=r"count=.* is invalid: .*at least 1"):
        Period(PeriodUnit.MONTH, count)


def test_period_refuses_bad_unit() -> None:
    with pytest.raises(
        ValidationError, match=r"unit='month' is invalid: expected one of day, month"
    ):
        Period("month", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("period", "text"),
    [
        (Period.days(), "1 day"),
        (Period.days(7), "7 days"),
        (Period.months(), "1 month"),
        (Period.quarter(), "3 months"),
        (Period.half_year(), "6 months"),
        (Period.year(), "1 year"),
        (Period.months(24), "2 years"),
        (Period.months(18), "18 months"),
    ],
)
def test_str(period: Period, text: str) -> None:
    assert str(period) == text
    assert Period.parse(text) == period


def test_periods_are_hashable_values() -> None:
    prices = {Period.quarter(): 1, Period.months(): 2}
    assert prices[Period.months(3)] == 1


def test_period_index() -> None:
    anchor = date(2023, 1, 31)
    m = Period.months()
    assert period_index(anchor, m, date(2023, 1, 31)) == 0
    assert period_index(anchor, m, date(2023, 2, 27)) == 0
    assert period_index(anchor, m, date(2023, 2, 28)) == 1
    assert period_index(anchor, m, date(2023, 3, 30)) == 1
    assert period_index(anchor, m, date(2023, 3, 31)) == 2
    assert period_index(anchor, m, date(2023, 1, 30)) == -1
    assert period_index(anchor, Period.days(7), date(2023, 2, 14)) == 2


def test_periods_between() -> None:
    assert periods_between(date(2023, 5, 27), date(2023, 6, 27), Period.months()) == 1
    assert periods_between(date(2023, 5, 27), date(2023, 6, 26), Period.months()) == 0
    assert periods_between(date(2023, 1, 1), date(2024, 1, 1), Period.quarter()) == 4


def test_periods_between_refuses_end_before_start() -> None:
    with pytest.raises(ValidationError, match=r"end=.* must not be before the start 2023-05-27"):
        periods_between(date(2023, 5, 27), date(2023, 5, 26), Period.months())


def test_days_left() -> None:
    assert days_left(date(2023, 6, 27), date(2023, 6, 20)) == 7
    assert days_left(date(2023, 6, 27), date(2023, 6, 27)) == 0
    assert days_left(date(2023, 6, 27), date(2023, 7, 27)) == 0


def test_days_in_month() -> None:
    assert days_in_month(date(2023, 2, 1)) == 28
    assert days_in_month(date(2024, 2, 29)) == 29
    assert days_in_month(date(2023, 12, 31)) == 31
    assert days_in_month(date(2023, 4, 15)) == 30


def test_date_range() -> None:
    r = DateRange(date(2023, 5, 2), date(2023, 6, 1))
    assert r.days == 30
    assert r.last_day == date(2023, 5, 31)
    assert date(2023, 5, 2) in r
    assert date(2023, 6, 1) not in r
    assert "2023-05-02" not in r
    assert str(r) == "[2023-05-02, 2023-06-01)"
    assert DateRange(date(2023, 5, 2), date(2023, 5, 2)).days == 0


def test_date_range_refuses_end_before_start() -> None:
    with pytest.raises(ValidationError, match=r"end=.* must not be before the start 2023-05-02"):
        DateRange(date(2023, 5, 2), date(2023, 5, 1))


def test_billing_cycle_boundaries_and_intervals() -> None:
    cycle = BillingCycle(date(2023, 1, 31), "month")
    assert cycle.period == Period.months()
    boundaries = cycle.boundaries()
    assert [next(boundaries) for _ in range(4)] == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
    ]
    assert list(cycle.intervals(2, start=1)) == [
        DateRange(date(2023, 2, 28), date(2023, 3, 31)),
        DateRange(date(2023, 3, 31), date(2023, 4, 30)),
    ]
    assert cycle.interval_at(date(2023, 3, 1)) == DateRange(date(2023, 2, 28), date(2023, 3, 31))
    assert cycle.next_boundary(date(2023, 2, 28)) == date(2023, 3, 31)
    assert cycle.next_boundary(date(2022, 12, 1)) == date(2023, 1, 31)
    assert cycle.is_boundary(date(2023, 4, 30))
    assert not cycle.is_boundary(date(2023, 4, 29))
    assert not cycle.is_boundary(date(2022, 12, 31))


def test_billing_cycle_interval_at_refuses_day_before_anchor() -> None:
    cycle = BillingCycle(date(2023, 1, 31), Period.months())
    with pytest.raises(ValidationError, match=r"must not be before the anchor 2023-01-31"):
        cycle.interval_at(date(2023, 1, 30))


def test_billing_cycle_extend_returns_to_anchor_day() -> None:
    cycle = BillingCycle(date(2023, 1, 31), Period.months())
    assert cycle.extend(date(2023, 2, 28)) == date(2023, 3, 31)
    assert cycle.extend(date(2023, 2, 28), 2) == date(2023, 4, 30)
    assert cycle.extend(date(2023, 1, 31), 0) == date(2023, 1, 31)


def test_billing_cycle_extend_off_cycle_date_extends_from_itself() -> None:
    cycle = BillingCycle(date(2023, 1, 31), Period.months())
    assert cycle.extend(date(2023, 3, 10)) == date(2023, 4, 10)


def test_ac_renewal_through_the_cycle() -> None:
    cycle = BillingCycle(date(2023, 4, 27), Period.months())
    assert cycle.extend(date(2023, 5, 27)) == date(2023, 6, 27)


def test_billing_cycle_refuses_bad_period_text() -> None:
    with pytest.raises(ValidationError, match=r"period='monthy' is invalid"):
        BillingCycle(date(2023, 1, 31), "monthy")
