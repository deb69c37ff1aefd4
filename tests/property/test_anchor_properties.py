"""Period n of a service ends at anchor + n x period, whichever way it is renewed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cabinet_billing import Money
from cabinet_billing.domain.periods import (
    BillingCycle,
    Period,
    PeriodUnit,
    days_in_month,
    period_end,
)
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy, prorate
from cabinet_billing.rules.renewal import decide_renewal

pytestmark = pytest.mark.spec("C2", "R4")

BILLING = Actor.system()

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31))
# Month ends and the days before them, where chaining periods goes wrong.
late_days = st.builds(
    lambda year, month, day: date(year, month, min(day, days_in_month(date(year, month, 1)))),
    st.integers(min_value=2000, max_value=2080),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=28, max_value=31),
)
periods = st.sampled_from(
    [
        Period.days(),
        Period.days(7),
        Period.days(30),
        Period.months(),
        Period.months(2),
        Period.quarter(),
        Period.half_year(),
        Period.year(),
    ],
)
policies = st.one_of(
    st.none(),
    st.just(ProrationPolicy(method=ProrationMethod.ANNIVERSARY)),
    st.integers(min_value=1, max_value=31).map(lambda d: ProrationPolicy(alignment_day=d)),
)
# Each step renews by hand for k periods, or as the billing run does (one period).
steps = st.lists(
    st.one_of(st.tuples(st.just("hand"), st.integers(1, 3)), st.tuples(st.just("run"), st.just(1))),
    min_size=1,
    max_size=30,
)


def _order(day: date, period: Period, anchor: date | None) -> Service:
    return Service.order(
        id="s-1",
        account_id="acc-1",
        plan_id="plan",
        plan_name="Plan",
        kind="vps",
        price=Money("10.00", "EUR"),
        period=period,
        created_at=datetime.combine(day, time(9), tzinfo=UTC),
        actor=Actor.client("alice"),
        anchor=anchor,
    )


@given(st.one_of(days, late_days), periods, policies, st.booleans(), steps)
# A yearly period aligned to the 30th ending on 29 February: no day a year earlier leads
# to it, the anchor is a leap day.
@example(
    ordered_on=date(2000, 2, 1),
    period=Period.months(12),
    policy=ProrationPolicy(alignment_day=30),
    order_gives_anchor=False,
    renewals=[("run", 1)],
)
def test_month_end_anchor_every_renewal_path_counts_from_the_anchor(
    ordered_on: date,
    period: Period,
    policy: ProrationPolicy | None,
    order_gives_anchor: bool,
    renewals: list[tuple[str, int]],
) -> None:
    if policy is None:
        anchor, first_until = ordered_on, period_end(ordered_on, period)
    else:
        priced = prorate(policy, Money("10.00", "EUR"), period, ordered_on)
        anchor, first_until = priced.anchor, priced.paid_until
    if policy is not None and policy.alignment_day > 28 and not order_gives_anchor:
        # Only the order knows an anchor on the 29th to 31st of a prorated order.
        order_gives_anchor = policy.method is ProrationMethod.CALENDAR
    service = _order(ordered_on, period, anchor if order_gives_anchor else None)
    when = service.created_at
    service.mark_paid(first_until, BILLING, when)
    service.activate(BILLING, when)
    assert service.anchor == anchor
    n = BillingCycle(anchor, period).index_of(first_until)
    assert period_end(anchor, period, n) == first_until
    sub = Subscription.for_service(service)
    for how, k in renewals:
        if how == "hand":
            until = service.next_paid_until(k)
        else:
            decision = decide_renewal(sub, sub.paid_until, available=Money("10.00", "EUR"))
            assert decision.period_start == service.paid_until
            sub.renewed(sub.paid_until)
            until = decision.period_end
            assert until == sub.paid_until
        service.renew(until, BILLING, when)
        assert service.paid_until is not None
        sub.follow(service.paid_until, service.anchor)
        n += k
        assert service.paid_until == period_end(anchor, period, n)
        assert sub.paid_until == service.paid_until
        assert service.anchor == anchor
        if period.unit is PeriodUnit.MONTH and anchor.day > 28:
            # Back on the anchor's day whenever the month has it.
            assert service.paid_until.day in {anchor.day, days_in_month(service.paid_until)}


@given(st.one_of(days, late_days), periods, st.one_of(days, late_days), st.integers(1, 24))
def test_month_end_anchor_a_service_back_after_expiry_counts_from_its_return(
    ordered_on: date, period: Period, back_on: date, renewals: int
) -> None:
    service = _order(ordered_on, period, None)
    when = service.created_at
    first_until = period_end(ordered_on, period)
    service.mark_paid(first_until, BILLING, when)
    service.activate(BILLING, when)
    service.expire(BILLING, when)
    if back_on <= first_until:
        return
    back_at = datetime.combine(back_on, time(9), tzinfo=UTC)
    service.renew(period_end(back_on, period), BILLING, back_at, starts_on=back_on)
    assert service.paid_until == period_end(back_on, period)
    # Back on a day of its old cycle, it stays on it; otherwise a new cycle starts.
    old_cycle = BillingCycle(ordered_on, period)
    first_back = period_end(back_on, period)
    on_old = old_cycle.is_boundary(back_on) and old_cycle.is_boundary(first_back)
    anchor = ordered_on if on_old else back_on
    assert service.anchor == anchor
    n = BillingCycle(anchor, period).index_of(service.paid_until)
    assert service.paid_until == period_end(anchor, period, n)
    for _ in range(renewals):
        service.renew(service.next_paid_until(), BILLING, back_at)
        n += 1
        assert service.paid_until == period_end(anchor, period, n)
