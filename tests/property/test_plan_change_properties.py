"""Plan changes now: what is charged comes back to the cent (SPEC X1, C3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import BillingCycle, Period
from cabinet_billing.rules.proration import ProrationPolicy, settle_rest

pytestmark = pytest.mark.spec("X1", "C3")

amounts = st.decimals(min_value=0, max_value=Decimal(10**6), places=2).map(
    lambda d: Money(d, "EUR")
)
periods = st.sampled_from([Period.days(), Period.months(), Period.quarter(), Period.year()])
anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@given(amounts, amounts, periods, anchors, st.data())
def test_upgrade_then_downgrade_on_the_same_day_gives_back_exactly_what_was_charged(
    small: Money, big: Money, period: Period, anchor: date, data: st.DataObject
) -> None:
    paid = data.draw(st.integers(min_value=1, max_value=4))
    into = data.draw(st.integers(min_value=0, max_value=2000))
    cycle = BillingCycle(anchor, period)
    paid_until = cycle.boundary(paid)
    on = min(anchor + timedelta(days=into), paid_until - timedelta(days=1))
    policy = ProrationPolicy()
    up = settle_rest(policy, small, big, cycle=cycle, paid_until=paid_until, on=on)
    down = settle_rest(policy, big, small, cycle=cycle, paid_until=paid_until, on=on)
    assert up.net == -down.net
    assert (up.charge, up.credit) == (down.credit, down.charge)
    for money in (up.charge, up.credit):
        assert money.amount == money.amount.quantize(Decimal("0.01"))


@given(amounts, periods, anchors, st.integers(min_value=1, max_value=4), st.data())
def test_the_unused_days_are_worth_their_share_of_the_price_to_the_cent_per_period(
    price: Money, period: Period, anchor: date, paid: int, data: st.DataObject
) -> None:
    cycle = BillingCycle(anchor, period)
    paid_until = cycle.boundary(paid)
    left = data.draw(st.integers(min_value=1, max_value=(paid_until - anchor).days))
    on = paid_until - timedelta(days=left)
    rest = settle_rest(
        ProrationPolicy(), price, Money("0.00", "EUR"), cycle=cycle, paid_until=paid_until, on=on
    )
    exact = sum(
        Fraction(price.amount) * Fraction((min(r.end, paid_until) - max(r.start, on)).days, r.days)
        for r in cycle.intervals(paid)
        if r.end > on
    )
    # Each period touched is rounded once, half a cent at most.
    assert abs(Fraction(rest.credit.amount) - exact) <= Fraction(1, 200) * paid
    assert rest.charge == Money("0.00", "EUR")
    if on <= anchor:
        assert rest.credit == price * paid
