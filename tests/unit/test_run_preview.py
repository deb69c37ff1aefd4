"""A dry run for a later day bills every day up to it, and changes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.events import ServiceRenewed
from cabinet_billing.errors import ValidationError
from cabinet_billing.testing.scenario import Scenario

pytestmark = pytest.mark.spec("R4", "X6")


def _introserv() -> Scenario:
    """A 30.00 EUR VPS paid until Feb 10 (renewed on that day) on 100.00 EUR, billed to Feb 8."""
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR", ref="vps-1")
    return s.advance(to=date(2024, 2, 8))


def test_item_25_a_dry_run_for_a_later_day_walks_every_day_in_between() -> None:
    s = _introserv()
    store = s.cabinet.store
    keys, sent = set(store.keys), len(s.cabinet.notifier.sent)

    preview = s.billing.run.day(date(2024, 3, 10), dry_run=True)

    renewed = [e for e in preview.events if isinstance(e, ServiceRenewed)]
    assert [(e.at.date(), e.paid_until) for e in renewed] == [
        (date(2024, 2, 10), date(2024, 3, 10)),
        (date(2024, 3, 10), date(2024, 4, 10)),
    ]
    assert [(p.on, p.what, p.amount) for p in preview.previews] == [
        (
            date(2024, 2, 10),
            f"renew {s.service_id('vps-1')} from the balance",
            Money("30.00", "EUR"),
        ),
        (
            date(2024, 3, 10),
            f"renew {s.service_id('vps-1')} from the balance",
            Money("30.00", "EUR"),
        ),
    ]
    assert (preview.dry_run, preview.day, preview.renewals, preview.invoices) == (
        True,
        date(2024, 3, 10),
        2,
        2,
    )
    # Nothing changed: the service, the balance, the keys, the notifications.
    assert s.service("vps-1").paid_until == date(2024, 2, 10)
    assert s.balance("acc-1") == Money("70.00", "EUR")
    assert set(store.keys) == keys
    assert len(s.cabinet.notifier.sent) == sent
    # The daily runs up to that day do what the preview said.
    s.advance(to=date(2024, 3, 10))
    assert s.service("vps-1").paid_until == date(2024, 4, 10)
    assert s.balance("acc-1") == Money("10.00", "EUR")


def test_item_25_a_dry_run_for_today_or_a_past_day_runs_that_day_only() -> None:
    s = _introserv()
    assert s.billing.run.day(date(2024, 2, 8), dry_run=True).not_due == 1  # nothing due yet
    named = s.billing.run.day(date(2024, 2, 8), dry_run=True, accounts=["acc-1"])
    assert (named.accounts, named.previews, named.events) == (1, (), ())
    past = s.billing.run.day(date(2024, 2, 1), dry_run=True)
    assert (past.accounts, past.renewals) == (0, 0)


def test_item_25_a_dry_run_looks_two_years_ahead_at_most() -> None:
    s = _introserv()
    with pytest.raises(
        ValidationError,
        match=r"day=datetime.date\(2026, 2, 9\) is invalid: a dry run looks at most 731 days "
        r"ahead of 2024-02-08",
    ):
        s.billing.run.day(date(2026, 2, 9), dry_run=True)
    # Two years of days: the balance renews the VPS twice, then it expires.
    far = s.billing.run.day(date(2026, 2, 8), dry_run=True)
    assert (far.renewals, far.expired) == (2, 1)
