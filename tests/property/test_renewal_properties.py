from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money, Period, ProductKind
from cabinet_billing.domain.periods import days_in_month, period_end
from cabinet_billing.domain.saved_method import SavedMethodStatus, SavedPaymentMethod
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.rules.renewal import (
    RenewalAction,
    RenewalPolicy,
    decide_renewal,
    renewal_date,
)

pytestmark = pytest.mark.spec("R4")

late_anchors = st.builds(
    date,
    st.integers(min_value=2000, max_value=2080),
    st.sampled_from([1, 3, 5, 7, 8, 10, 12]),
    st.integers(min_value=29, max_value=31),
)
month_counts = st.integers(min_value=1, max_value=12)


@given(late_anchors, month_counts, st.integers(min_value=1, max_value=40))
def test_renewals_from_the_anchor_never_drift(anchor: date, months: int, renewals: int) -> None:
    sub = Subscription("s", "a", Money("10.00", "EUR"), Period.months(months), anchor)
    for n in range(1, renewals + 1):
        sub.renewed(sub.paid_until)
        assert sub.paid_until == period_end(anchor, Period.months(months), n)
        # The anchor's day, or the last day of a month too short for it.
        assert sub.paid_until.day == min(anchor.day, days_in_month(sub.paid_until))


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31)),
    st.sampled_from(
        [Period.days(), Period.days(7), Period.months(), Period.quarter(), Period.year()]
    ),
    st.sampled_from(list(ProductKind)),
    st.lists(st.booleans(), min_size=1, max_size=400),
)
def test_every_period_is_charged_exactly_once_whatever_the_card_does(
    start: date,
    period: Period,
    kind: ProductKind,
    card_works: list[bool],
) -> None:
    policy = RenewalPolicy(retry_days=tuple(range(1, 1000)))
    sub = Subscription(
        "s",
        "a",
        Money("10.00", "EUR"),
        period,
        start,
        kind,
        RenewalSource.SAVED_METHOD,
        "card",
    )
    card = SavedPaymentMethod(
        "card", "a", "card", "tok", "Card", "•••• 0001", status=SavedMethodStatus.ENABLED
    )
    done: set[str] = set()
    charged: list[date] = []
    today = renewal_date(start, kind, policy) - timedelta(days=1)
    for works in card_works:
        at = datetime.combine(today, time(12), tzinfo=UTC)
        if works and not card.working:
            card.mark_working(at)  # the customer fixed the card
        decision = decide_renewal(sub, today, policy, method=card, done=done)
        if decision.action is RenewalAction.CHARGE_METHOD:
            assert decision.key not in done
            assert decision.period_start == sub.paid_until
            if works:
                done.add(decision.key)
                charged.append(decision.period_start)
                sub.renewed(today)
            else:
                card.mark_failed(at, "declined")
                sub.charge_failed(today)
        today += timedelta(days=1)
    assert charged == [period_end(start, period, n) for n in range(len(charged))]
    if len(card_works) > 1 and card_works[1]:
        assert charged, "the renewal day with a working card charges"


@given(
    st.lists(st.integers(min_value=1, max_value=10), max_size=6),
    st.lists(st.booleans(), min_size=1, max_size=120),
)
def test_never_ending_probes_the_retry_schedule_bounds_every_attempt(
    retry_days: list[int], card_recovers: list[bool]
) -> None:
    """Whatever the card does, a caller that obeys the decisions tries at most the
    schedule: the first attempt, then one per retry, each at least its offset after the
    previous one, and nothing once the decision gives up."""
    policy = RenewalPolicy(retry_days=tuple(retry_days))
    start = date(2024, 3, 21)
    sub = Subscription(
        "s", "a", Money("10.00", "EUR"), "month", start, source="saved_method", method_id="card"
    )
    card = SavedPaymentMethod(
        "card", "a", "card", "tok", "Card", "•••• 0001", status=SavedMethodStatus.ENABLED
    )
    attempts: list[date] = []
    gave_up_on: date | None = None
    today = renewal_date(start, ProductKind.OTHER, policy)
    for recovers in card_recovers:
        at = datetime.combine(today, time(12), tzinfo=UTC)
        decision = decide_renewal(sub, today, policy, method=card)
        if decision.gives_up and gave_up_on is None:
            gave_up_on = today
        if decision.action is RenewalAction.CHARGE_METHOD:
            attempts.append(today)
            card.mark_failed(at, "declined")  # this card declines every charge
            sub.charge_failed(today)
        elif decision.probe:
            attempts.append(today)
            if recovers:
                card.mark_working(at)  # the check passes; the charge follows today
                again = decide_renewal(sub, today, policy, method=card)
                assert again.action is RenewalAction.CHARGE_METHOD
                card.mark_failed(at, "declined")
                sub.charge_failed(today)
            else:
                card.check_failed(at, "declined")
                sub.check_failed(today)
        today += timedelta(days=1)
    assert len(attempts) <= 1 + len(retry_days)
    for n, (earlier, later) in enumerate(itertools.pairwise(attempts)):
        assert (later - earlier).days >= retry_days[n]
    if gave_up_on is not None:
        assert all(day < gave_up_on for day in attempts)
        assert len(attempts) == 1 + len(retry_days)
