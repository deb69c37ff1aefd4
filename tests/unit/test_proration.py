from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN
from fractions import Fraction

import pytest

from cabinet_billing.domain.catalog import AddOn, Plan, ProductKind
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.periods import BillingCycle, DateRange, Period, period_end
from cabinet_billing.errors import CurrencyMismatchError, InvalidAmountError, ValidationError
from cabinet_billing.rules.proration import (
    ProrationMethod,
    ProrationPolicy,
    alignment_date,
    change_plan,
    prorate,
)

pytestmark = pytest.mark.spec("C3")

CALENDAR = ProrationPolicy()


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.mark.parametrize(
    "ordered_on",
    [date(2023, 5, 2), date(2023, 3, 2), date(2023, 1, 2), date(2024, 12, 2)],
)
def test_ac_cart_660_ordered_on_the_2nd_of_a_31_day_month(ordered_on: date) -> None:
    p = prorate(CALENDAR, rub("660.00"), "month", ordered_on)
    assert p.now == rub("638.71")
    assert p.then == rub("660.00")
    assert p.ratio == Fraction(30, 31)
    assert (p.days, p.period_days) == (30, 31)
    assert p.covered == DateRange(ordered_on, ordered_on.replace(day=1) + Period.months().delta())
    assert p.paid_until.day == 1
    assert not p.is_full


def test_part_is_days_in_month_minus_day_plus_one_over_days_in_month() -> None:
    # February 2023 has 28 days: ordered on the 10th -> (28 - 10 + 1) / 28 = 19/28.
    p = prorate(CALENDAR, rub("280.00"), Period.months(), date(2023, 2, 10))
    assert p.ratio == Fraction(19, 28)
    assert p.now == rub("190.00")
    assert p.covered == DateRange(date(2023, 2, 10), date(2023, 3, 1))


def test_ordering_on_the_alignment_day_pays_the_full_period() -> None:
    p = prorate(CALENDAR, rub("660.00"), "month", date(2023, 5, 1))
    assert p.now == rub("660.00")
    assert p.is_full
    assert p.covered == DateRange(date(2023, 5, 1), date(2023, 6, 1))


def test_ordering_on_the_last_day_pays_one_day() -> None:
    p = prorate(CALENDAR, rub("310.00"), "month", date(2023, 5, 31))
    assert p.ratio == Fraction(1, 31)
    assert p.now == rub("10.00")


def test_ac_cart_lines_sum_to_the_total() -> None:
    lines = [rub("495.00"), rub("0.00"), rub("110.00"), rub("0.00"), rub("0.00"), rub("55.00")]
    p = prorate(CALENDAR, lines, "month", date(2023, 5, 2))
    assert p.now_lines == (
        rub("479.03"),
        rub("0.00"),
        rub("106.45"),
        rub("0.00"),
        rub("0.00"),
        rub("53.23"),
    )
    assert p.now == rub("638.71")
    assert p.then_lines == tuple(lines)
    assert p.then == rub("660.00")


def test_quote_amounts_can_be_prorated() -> None:
    plan = Plan(
        "dc16",
        "DC16",
        ProductKind.SERVER,
        {"month": rub("495.00")},
        [AddOn("traffic", "Traffic", {"month": rub("110.00")}, "GiB", block=5120)],
    )
    quote = plan.quote("month", "RUB", {"traffic": 5120})
    p = prorate(CALENDAR, quote.amounts(), quote.period, date(2023, 5, 2))
    assert p.now == rub("585.48")
    assert sum(p.now_lines, rub("0")) == p.now


def test_alignment_to_another_day() -> None:
    policy = ProrationPolicy(alignment_day=15)
    p = prorate(policy, rub("300.00"), "month", date(2023, 4, 20))
    # [2023-04-15, 2023-05-15) has 30 days; 25 of them are paid now.
    assert p.covered == DateRange(date(2023, 4, 20), date(2023, 5, 15))
    assert p.ratio == Fraction(25, 30)
    assert p.now == rub("250.00")
    before = prorate(policy, rub("300.00"), "month", date(2023, 4, 10))
    assert before.covered == DateRange(date(2023, 4, 10), date(2023, 4, 15))
    assert before.ratio == Fraction(5, 31)


def test_alignment_to_the_31st_uses_the_last_day_of_short_months() -> None:
    policy = ProrationPolicy(alignment_day=31)
    p = prorate(policy, rub("280.00"), "month", date(2023, 2, 10))
    assert p.covered == DateRange(date(2023, 2, 10), date(2023, 2, 28))
    # The period ending 28 February starts on 31 January: 28 days.
    assert p.ratio == Fraction(18, 28)
    assert p.now == rub("180.00")


def test_longer_periods_pay_the_share_of_the_period_ending_at_the_alignment_day() -> None:
    p = prorate(CALENDAR, rub("920.00"), "quarter", date(2023, 5, 2))
    # [2023-03-01, 2023-06-01) has 92 days; 30 of them are paid now.
    assert p.ratio == Fraction(30, 92)
    assert p.now == rub("300.00")
    assert p.then == rub("920.00")
    assert p.covered.end == date(2023, 6, 1)


def test_day_periods_are_never_prorated() -> None:
    p = prorate(CALENDAR, rub("20.00"), "day", date(2023, 5, 2))
    assert p.now == rub("20.00")
    assert p.covered == DateRange(date(2023, 5, 2), date(2023, 5, 3))


def test_anniversary_pays_a_full_period_from_the_order_day() -> None:
    policy = ProrationPolicy(ProrationMethod.ANNIVERSARY)
    p = prorate(policy, rub("660.00"), "month", date(2023, 1, 31))
    assert p.now == rub("660.00")
    assert p.covered == DateRange(date(2023, 1, 31), date(2023, 2, 28))
    assert p.is_full


def test_rounding_mode_is_a_setting() -> None:
    policy = ProrationPolicy(rounding=Rounding(ROUND_DOWN))
    p = prorate(policy, rub("100.00"), "month", date(2023, 5, 2))
    # 100 * 30/31 = 96.774...
    assert p.now == rub("96.77")
    assert prorate(CALENDAR, rub("100.00"), "month", date(2023, 5, 2)).now == rub("96.77")
    assert prorate(CALENDAR, rub("1.00"), "month", date(2023, 5, 16)).now == rub("0.52")
    assert prorate(policy, rub("1.00"), "month", date(2023, 5, 16)).now == rub("0.51")


def test_jpy_rounds_to_whole_yen() -> None:
    p = prorate(CALENDAR, Money("1000", "JPY"), "month", date(2023, 5, 2))
    assert p.now == Money("968", "JPY")


def test_alignment_date() -> None:
    assert alignment_date(date(2023, 5, 2)) == date(2023, 6, 1)
    assert alignment_date(date(2023, 12, 2)) == date(2024, 1, 1)
    assert alignment_date(date(2023, 5, 1)) == date(2023, 5, 1)
    assert alignment_date(date(2024, 1, 31), 30) == date(2024, 2, 29)
    assert alignment_date(date(2024, 2, 29), 30) == date(2024, 2, 29)


@pytest.mark.parametrize("day", [0, 32, True])
def test_alignment_day_must_be_a_day_of_month(day: int) -> None:
    with pytest.raises(
        ValidationError, match=r"alignment_day=.* is invalid: must be a day of month from 1 to 31"
    ):
        ProrationPolicy(alignment_day=day)
    with pytest.raises(
        ValidationError, match=r"alignment_day=.* is invalid: must be a day of month from 1 to 31"
    ):
        alignment_date(date(2023, 5, 2), day)


def test_prorate_refuses_no_lines() -> None:
    with pytest.raises(ValidationError, match=r"price=\[\] is invalid: at least one price line"):
        prorate(CALENDAR, [], "month", date(2023, 5, 2))


def test_prorate_refuses_mixed_currencies() -> None:
    with pytest.raises(CurrencyMismatchError, match=r"price line is in EUR, expected RUB"):
        prorate(CALENDAR, [rub("1.00"), Money("1.00", "EUR")], "month", date(2023, 5, 2))


def test_prorate_refuses_negative_prices() -> None:
    with pytest.raises(InvalidAmountError, match=r"'-1.00 RUB': must not be negative"):
        prorate(CALENDAR, rub("-1.00"), "month", date(2023, 5, 2))


def test_change_plan_credits_unused_days_and_charges_the_new_plan() -> None:
    paid = DateRange(date(2023, 5, 1), date(2023, 6, 1))
    change = change_plan(CALENDAR, rub("310.00"), rub("620.00"), paid, date(2023, 5, 22))
    assert change.credit == rub("100.00")
    assert change.charge == rub("200.00")
    assert change.net == rub("100.00")
    assert change.days == 10
    assert change.period_days == 31
    assert change.paid_until == date(2023, 6, 1)
    assert change.remaining == DateRange(date(2023, 5, 22), date(2023, 6, 1))


def test_downgrade_gives_a_negative_net() -> None:
    paid = DateRange(date(2023, 5, 27), date(2023, 6, 27))
    change = change_plan(CALENDAR, rub("660.00"), rub("100.00"), paid, date(2023, 6, 11))
    # 16 of 31 days remain: credit 340.645... -> 340.65, charge 51.612... -> 51.61.
    assert change.credit == rub("340.65")
    assert change.charge == rub("51.61")
    assert change.net == rub("-289.04")
    assert change.paid_until == date(2023, 6, 27)


def test_change_on_the_first_day_settles_the_whole_period() -> None:
    paid = DateRange(date(2023, 5, 1), date(2023, 6, 1))
    change = change_plan(CALENDAR, rub("100.00"), rub("200.00"), paid, date(2023, 5, 1))
    assert (change.credit, change.charge) == (rub("100.00"), rub("200.00"))
    at_end = change_plan(CALENDAR, rub("100.00"), rub("200.00"), paid, date(2023, 6, 1))
    assert (at_end.credit, at_end.charge, at_end.days) == (rub("0.00"), rub("0.00"), 0)


def test_change_outside_the_paid_period_is_refused() -> None:
    paid = DateRange(date(2023, 5, 1), date(2023, 6, 1))
    with pytest.raises(ValidationError) as err:
        change_plan(CALENDAR, rub("1.00"), rub("2.00"), paid, date(2023, 6, 2))
    assert str(err.value) == (
        "changed_on=datetime.date(2023, 6, 2) is invalid: must lie within the paid period "
        "[2023-05-01, 2023-06-01)"
    )


def test_change_with_an_empty_paid_period_is_refused() -> None:
    paid = DateRange(date(2023, 5, 1), date(2023, 5, 1))
    with pytest.raises(ValidationError, match=r"must not be empty"):
        change_plan(CALENDAR, rub("1.00"), rub("2.00"), paid, date(2023, 5, 1))


def test_change_with_mixed_currencies_is_refused() -> None:
    paid = DateRange(date(2023, 5, 1), date(2023, 6, 1))
    with pytest.raises(CurrencyMismatchError, match=r"price line is in EUR, expected RUB"):
        change_plan(CALENDAR, rub("1.00"), Money("2.00", "EUR"), paid, date(2023, 5, 2))


def test_order_on_a_clamped_alignment_day_runs_to_the_next_alignment_day() -> None:
    # Aligned to the 29th: in February 2001 that is the 28th; the full month runs to 29 March.
    p = prorate(ProrationPolicy(alignment_day=29), rub("100.00"), "month", date(2001, 2, 28))
    assert p.covered == DateRange(date(2001, 2, 28), date(2001, 3, 29))
    assert p.is_full
    assert p.now == rub("100.00")


@pytest.mark.parametrize("alignment_day", [29, 30, 31])
@pytest.mark.parametrize("year", [1999, 2000, 2001, 2003, 2004])
def test_a_yearly_period_aligned_past_the_28th_ends_on_the_last_day_of_every_february(
    year: int, alignment_day: int
) -> None:
    # No February has the 30th or 31st, and 28 February + 12 months never reaches a
    # 29 February: the cycle is anchored on a leap day, so every later February ends it.
    period = Period.months(12)
    priced = prorate(
        ProrationPolicy(alignment_day=alignment_day),
        Money("120.00", "EUR"),
        period,
        date(year, 2, 1),
    )
    cycle = BillingCycle(priced.anchor, period)
    first = cycle.index_of(priced.paid_until)
    ends = [period_end(priced.anchor, period, first + k) for k in range(6)]
    assert ends[0] == priced.paid_until
    assert ends == [date(e.year, 3, 1) - timedelta(days=1) for e in ends]
