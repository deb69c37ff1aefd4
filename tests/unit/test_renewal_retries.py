"""The retry schedule is the limit: no charge, probe or check outside it (SPEC R4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cabinet_billing import Money, Period
from cabinet_billing.domain.saved_method import (
    MethodKind,
    SavedMethodStatus,
    SavedPaymentMethod,
)
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.errors import ConflictError
from cabinet_billing.rules.renewal import (
    RenewalAction,
    RenewalDecision,
    RenewalPolicy,
    SkipReason,
    decide_renewal,
)

pytestmark = pytest.mark.spec("R4")

PAID_UNTIL = date(2024, 3, 21)
DUE = date(2024, 3, 20)


def at(day: date) -> datetime:
    return datetime.combine(day, time(3), tzinfo=UTC)


def on_card() -> Subscription:
    return Subscription(
        "8558",
        "acc-1",
        Money("250.00", "RUB"),
        Period.months(),
        PAID_UNTIL,
        source=RenewalSource.SAVED_METHOD,
        method_id="card-1111",
    )


def card(status: SavedMethodStatus = SavedMethodStatus.ENABLED) -> SavedPaymentMethod:
    return SavedPaymentMethod(
        "card-1111", "acc-1", MethodKind.CARD, "tok_1111", "Bank card", "•••• 1111", status=status
    )


def declining_card_run(policy: RenewalPolicy, days: int) -> list[tuple[date, str]]:
    """A billing run that obeys the decisions, with a card that always declines."""
    sub, method = on_card(), card()
    attempts: list[tuple[date, str]] = []
    today = DUE
    for _ in range(days):
        decision = decide_renewal(sub, today, policy, method=method)
        if decision.next_attempt_on is not None:
            assert decision.next_attempt_on >= today
        if decision.action is RenewalAction.CHARGE_METHOD:
            attempts.append((today, "charge"))
            method.mark_failed(at(today), "declined")
            sub.charge_failed(today)
        elif decision.probe:
            attempts.append((today, "probe"))
            method.check_failed(at(today), "declined")
            sub.check_failed(today)
        today += timedelta(days=1)
    return attempts


def test_never_ending_probes_equal_intervals_are_a_schedule() -> None:
    assert RenewalPolicy(retry_days=(8, 8, 8)).retry_days == (8, 8, 8)
    assert RenewalPolicy(retry_days=(3, 1)).retry_days == (3, 1)


def test_never_ending_probes_one_retry_means_one_probe_in_three_months() -> None:
    assert declining_card_run(RenewalPolicy(), 92) == [
        (date(2024, 3, 20), "charge"),
        (date(2024, 3, 21), "probe"),
    ]


def test_never_ending_probes_offsets_count_from_the_previous_attempt() -> None:
    assert declining_card_run(RenewalPolicy(retry_days=(8, 8, 8)), 92) == [
        (date(2024, 3, 20), "charge"),
        (date(2024, 3, 28), "probe"),
        (date(2024, 4, 5), "probe"),
        (date(2024, 4, 13), "probe"),
    ]
    assert declining_card_run(RenewalPolicy(retry_days=(1, 3, 7)), 92) == [
        (date(2024, 3, 20), "charge"),
        (date(2024, 3, 21), "probe"),
        (date(2024, 3, 24), "probe"),
        (date(2024, 3, 31), "probe"),
    ]


def test_never_ending_probes_the_decision_says_when_to_try_and_when_to_give_up() -> None:
    policy = RenewalPolicy(retry_days=(8,))
    sub, method = on_card(), card(SavedMethodStatus.NOT_WORKING)
    not_due = decide_renewal(sub, date(2024, 3, 1), policy, method=method)
    assert (not_due.reason, not_due.probe, not_due.next_attempt_on) == (
        SkipReason.NOT_DUE,
        False,
        DUE,
    )
    first = decide_renewal(sub, DUE, policy, method=method)
    assert (first.reason, first.probe, first.next_attempt_on) == (
        SkipReason.METHOD_NOT_WORKING,
        True,
        DUE,
    )
    sub.check_failed(DUE)
    waiting = decide_renewal(sub, date(2024, 3, 21), policy, method=method)
    assert (waiting.reason, waiting.probe, waiting.retry_on, waiting.next_attempt_on) == (
        SkipReason.WAITING_FOR_RETRY,
        False,
        date(2024, 3, 28),
        date(2024, 3, 28),
    )
    sub.check_failed(date(2024, 3, 28))
    gave_up = decide_renewal(sub, date(2024, 3, 29), policy, method=method)
    assert gave_up == RenewalDecision(
        RenewalAction.SKIP,
        "8558",
        PAID_UNTIL,
        date(2024, 4, 21),
        DUE,
        "renewal:8558:2024-03-21",
        reason=SkipReason.RETRIES_EXHAUSTED,
    )
    assert gave_up.gives_up
    assert (gave_up.probe, gave_up.next_attempt_on) == (False, None)
    # Even a card that works again is not charged for this period: the customer acts.
    assert decide_renewal(sub, date(2024, 3, 30), policy, method=card()).gives_up


def test_never_ending_probes_nothing_is_tried_on_a_method_that_is_gone_or_barred() -> None:
    barred = card(SavedMethodStatus.NOT_WORKING)
    barred.set_use(subscriptions=False)
    for method in (None, barred):
        decision = decide_renewal(on_card(), DUE, method=method)
        assert (decision.reason, decision.probe, decision.next_attempt_on) == (
            SkipReason.METHOD_NOT_WORKING,
            False,
            None,
        )


def test_never_ending_probes_a_new_method_starts_a_new_schedule() -> None:
    sub = on_card()
    sub.charge_failed(DUE)
    sub.check_failed(date(2024, 3, 21))
    assert decide_renewal(sub, date(2024, 3, 22), method=card()).gives_up
    sub.change_source(RenewalSource.SAVED_METHOD, "card-1111")
    assert decide_renewal(sub, date(2024, 3, 22), method=card()).charges


def test_never_ending_probes_a_failed_check_is_kept_on_the_method() -> None:
    method = card(SavedMethodStatus.NOT_WORKING)
    method.check_failed(at(DUE), "do not honour")
    assert method.last_failure is not None
    assert (method.status, method.last_failure.reason) == (
        SavedMethodStatus.NOT_WORKING,
        "do not honour",
    )
    with pytest.raises(ConflictError) as error:
        card().check_failed(at(DUE), "declined")
    assert str(error.value) == (
        "saved method 'card-1111': is enabled; only a method that is not working is checked"
    )
