"""Acts of a month: only finished months close, and late expenses go into an additional act."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import Money
from cabinet_billing.errors import MonthNotFinishedError
from cabinet_billing.testing.scenario import Scenario

pytestmark = pytest.mark.spec("L8")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def _two_services() -> Scenario:
    """A VPS ordered on Jan 31 (renews Feb 29, Mar 31) and a web plan ordered on Mar 5."""
    s = Scenario("introserv", start=date(2024, 1, 31)).account("acc-1")
    s.top_up("acc-1", "200.00 EUR").order("acc-1", "vps", price="30.00 EUR", ref="vps")
    s.advance(to=date(2024, 3, 5))
    s.order("acc-1", "web", price="10.00 EUR", ref="web")
    return s.advance(to=date(2024, 3, 30))


def _acts(s: Scenario) -> list[tuple[str, date, int, list[date], Money]]:
    documents = s.cabinet.store.documents.rows["acc-1"]
    return [
        (a.number, a.month, a.additional, [ln.charged_on for ln in a.lines], a.total.gross)
        for a in documents.acts
    ]


def test_item_11_the_current_or_a_future_month_does_not_close() -> None:
    s = _two_services()
    keys = set(s.cabinet.store.keys)
    for month in (date(2024, 3, 1), date(2024, 3, 30), date(2024, 4, 1)):
        with pytest.raises(MonthNotFinishedError) as refused:
            s.billing.staff.close_month("acc-1", month)
    assert str(refused.value) == (
        "month 2024-04 is not finished on 2024-03-30: it can be closed from 2024-05-01 on"
    )
    assert set(s.cabinet.store.keys) == keys
    assert "acc-1" not in s.cabinet.store.documents.rows or _acts(s) == []


def test_item_11_expenses_that_arrive_after_the_closing_go_into_an_additional_act() -> None:
    s = _two_services()
    # April 1st, before the run for March 31 ran: March is closed with what it has.
    s.cabinet.clock.set(datetime(2024, 4, 1, 0, 30, tzinfo=UTC))
    (march,) = s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    assert (march.additional, [ln.charged_on for ln in march.lines]) == (0, [date(2024, 3, 5)])
    # The run for March 31 renews the VPS: an expense of March, after its closing.
    summary = s.billing.run.day(date(2024, 3, 31))
    assert summary.renewals == 1
    assert s.service("vps").paid_until == date(2024, 4, 30)

    (late,) = s.billing.staff.close_month("acc-1", date(2024, 3, 1))

    assert _acts(s) == [
        ("A-202403-00001", date(2024, 3, 1), 0, [date(2024, 3, 5)], eur("10.00")),
        ("A-202403-00002", date(2024, 3, 1), 1, [date(2024, 3, 31)], eur("30.00")),
    ]
    assert late.additional == 1
    expenses = s.cabinet.store.expenses.rows["acc-1"].expenses()
    march_ids = {e.id for e in expenses if date(2024, 3, 1) <= e.charged_on < date(2024, 4, 1)}
    assert {e.act_id for e in expenses if e.id in march_ids} == {march.id, late.id}
    # Nothing new: nothing more.
    assert s.billing.staff.close_month("acc-1", date(2024, 3, 1)) == ()


def test_item_11_closing_a_later_month_takes_the_late_expenses_of_a_closed_one() -> None:
    s = _two_services()
    s.cabinet.clock.set(datetime(2024, 4, 1, 0, 30, tzinfo=UTC))
    s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    s.billing.run.day(date(2024, 3, 31))
    s.advance(to=date(2024, 5, 1))

    made = s.billing.staff.close_month("acc-1", date(2024, 4, 1))

    assert [(a.month, a.additional, [ln.charged_on for ln in a.lines]) for a in made] == [
        (date(2024, 3, 1), 1, [date(2024, 3, 31)]),
        (date(2024, 4, 1), 0, [date(2024, 4, 5), date(2024, 4, 30)]),
    ]
