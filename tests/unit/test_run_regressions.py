"""Renewal regressions proved through the daily billing run: month-end anchors, card retries."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from cabinet_billing import BillingSettings
from cabinet_billing.domain.events import ServiceRenewed
from cabinet_billing.rules.presets import ASTRA_CLOUD
from cabinet_billing.rules.renewal import RenewalPolicy
from cabinet_billing.testing.scenario import Scenario


def _renewals(s: Scenario, ref: str) -> list[date]:
    service_id = s.service_id(ref)
    return [
        e.paid_until
        for e in s.events
        if isinstance(e, ServiceRenewed) and e.service_id == service_id
    ]


@pytest.mark.spec("C2", "R4")
@pytest.mark.parametrize(
    ("start", "period", "until", "expected"),
    [
        (
            date(2024, 1, 31),
            "month",
            date(2024, 6, 1),
            [date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)],
        ),
        (
            date(2023, 11, 30),
            "quarter",
            date(2024, 9, 1),
            [date(2024, 5, 30), date(2024, 8, 30), date(2024, 11, 30)],
        ),
        (
            date(2024, 2, 29),
            "year",
            date(2028, 3, 1),
            [date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29), date(2029, 2, 28)],
        ),
    ],
)
def test_item_1_month_end_anchoring_holds_through_the_daily_run(
    start: date, period: str, until: date, expected: list[date]
) -> None:
    s = Scenario("introserv", start=start).account("acc-1")
    s.top_up("acc-1", "1000.00 EUR")
    s.order("acc-1", "vps", price="10.00 EUR", period=period, ref="vps")
    s.owner("acc-1").services.set_auto_renewal(s.service_id("vps"))
    first = s.service("vps").paid_until
    s.advance(to=until)
    # The first period ends one period after the order day; every later one is counted
    # from the order day, never chained from the end of the one before.
    assert [first, *_renewals(s, "vps")] == {
        "month": [date(2024, 2, 29), *expected],
        "quarter": [date(2024, 2, 29), *expected],
        "year": [date(2025, 2, 28), *expected],
    }[period]


@pytest.mark.spec("R4", "R5")
@pytest.mark.parametrize(
    ("retry_days", "checks"),
    [((1,), ["2024-04-01"]), ((8, 8, 8), ["2024-04-08", "2024-04-16", "2024-04-24"])],
)
def test_item_8_a_card_that_always_declines_is_tried_only_on_the_schedule(
    retry_days: tuple[int, ...], checks: list[str]
) -> None:
    settings = attrs.evolve(
        BillingSettings.from_preset(ASTRA_CLOUD),
        renewal=RenewalPolicy(retry_days=retry_days),
    )
    s = Scenario("astra_cloud", settings=settings, start=date(2024, 3, 1)).account("acc-1")
    s.top_up("acc-1", "200.00 RUB").order("acc-1", "vps", price="100.00 RUB", ref="vps")
    s.save_card("acc-1", "card-1", "tok-1")
    s.script_card("tok-1", *["decline"] * 500)
    bound = len(s.cabinet.gateway.charges)
    s.advance(to=date(2024, 6, 30))  # three months of daily runs
    tried = [(c.operation, str(c.amount), c.key) for c in s.cabinet.gateway.charges[bound:]]
    # The renewal is charged once (the day before April 1) and the card is checked on
    # the schedule's days only, each counted from the previous failure; nothing else is
    # tried, however long the card keeps declining.
    assert tried == [("charge", "115.00 RUB", "renewal:ser-1:2024-04-01#1")] + [
        ("verify", "1.00 RUB", f"check:card-1:{day}#1") for day in checks
    ]
    assert s.service("vps").status.value == "expired"


@pytest.mark.spec("R4")
def test_item_18_switching_the_account_wide_auto_renewal_off_stops_every_service() -> None:
    s = Scenario("introserv", start=date(2024, 3, 1)).account("acc-1")
    s.top_up("acc-1", "200.00 EUR")
    s.order("acc-1", "vps", price="30.00 EUR", ref="vps")
    s.order("acc-1", "web", price="10.00 EUR", ref="web")
    s.save_card("acc-1", "card-1", "tok-1", subscribe_services=["web"])
    charges = len(s.cabinet.gateway.charges)
    # Introserv's settings: "Вимкнено: Послуги не подовжуватимуться автоматично" (off:
    # services are not renewed automatically), whichever way each one was renewing.
    changed = s.owner("acc-1").services.set_auto_renewal_default(False)
    assert changed == (s.service_id("vps"), s.service_id("web"))
    s.advance(to=date(2024, 4, 2))
    assert [s.service(r).status.value for r in ("vps", "web")] == ["expired", "expired"]
    assert _renewals(s, "vps") == _renewals(s, "web") == []
    assert len(s.cabinet.gateway.charges) == charges
    assert str(s.balance("acc-1")) == "160.00 EUR"
    # A later choice for one service is that service's: it renews again, alone.
    s.owner("acc-1").services.set_auto_renewal(s.service_id("vps"))
    s.advance(to=date(2024, 4, 3))
    assert _renewals(s, "vps") == [date(2024, 5, 1)]
    assert s.service("web").status.value == "expired"
