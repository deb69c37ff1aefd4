"""A year of an Introserv-style prepaid customer: EUR balance, renewals at period end."""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.events import ServiceRenewed
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.testing.scenario import Scenario

#: What one renewal from the balance tells the customer.
RENEWAL = ["invoice.issued", "invoice.paid", "service.paid", "service.renewed"]


def _first_months() -> Scenario:
    """Top up 100.00 EUR and order a 30.00 EUR VPS on 10 January 2024."""
    return (
        Scenario("introserv", start=date(2024, 1, 10))
        .account("acc-1")
        .top_up("acc-1", "100.00 EUR")
        .order("acc-1", "vps", price="30.00 EUR")
        .expect_balance("acc-1", "70.00 EUR")
        .expect_status("vps", "active")
        .expect_paid_until("vps", date(2024, 2, 10))
        .expect_notifications(
            "acc-1", ["payment.credited", "invoice.issued", "invoice.paid", "service.paid"]
        )
    )


@pytest.mark.spec("R4", "R8")
def test_renewals_from_the_balance_until_it_runs_out() -> None:
    s = _first_months()
    s.advance(to=date(2024, 2, 9)).expect_balance("acc-1", "70.00 EUR")
    s.expect_notifications("acc-1", [])
    # The renewal happens on the last paid day, from the balance.
    s.advance(to=date(2024, 2, 10)).expect_balance("acc-1", "40.00 EUR")
    s.expect_paid_until("vps", date(2024, 3, 10)).expect_notifications("acc-1", RENEWAL)
    # 40.00 -> 10.00 crosses the 20.00 EUR threshold: one low-balance notice.
    s.advance(to=date(2024, 3, 10)).expect_balance("acc-1", "10.00 EUR")
    s.expect_notifications("acc-1", [*RENEWAL, "balance.low"])
    # 10.00 EUR does not pay another 30.00 EUR month: the VPS expires on its last day.
    s.advance(to=date(2024, 4, 10)).expect_status("vps", "expired")
    s.expect_paid_until("vps", date(2024, 4, 10)).expect_balance("acc-1", "10.00 EUR")
    s.expect_notifications("acc-1", ["service.expired"])
    # Staying below the threshold notifies no more.
    s.advance(to=date(2024, 4, 19)).expect_notifications("acc-1", [])
    assert s.days[-1].renewals == 0


@pytest.mark.spec("R4", "R8")
def test_a_top_up_brings_an_expired_service_back_with_auto_renewal_on() -> None:
    s = _first_months().advance(to=date(2024, 4, 20))
    s.expect_notifications("acc-1", [*RENEWAL, *RENEWAL, "balance.low", "service.expired"])
    s.top_up("acc-1", "100.00 EUR").expect_balance("acc-1", "110.00 EUR")
    # The top-up alone does not renew: the next day's run does.
    s.expect_status("vps", "expired").expect_notifications("acc-1", ["payment.credited"])
    s.advance(to=date(2024, 4, 21)).expect_status("vps", "active")
    # The renewed period continues from the old end: 10 April to 10 May is charged.
    s.expect_paid_until("vps", date(2024, 5, 10)).expect_balance("acc-1", "80.00 EUR")
    s.expect_notifications("acc-1", RENEWAL)


@pytest.mark.spec("R4", "R8")
def test_a_whole_year() -> None:
    s = _first_months()
    s.advance(to=date(2024, 4, 20)).top_up("acc-1", "100.00 EUR")
    s.advance(to=date(2024, 7, 1)).expect_balance("acc-1", "20.00 EUR")
    s.top_up("acc-1", "50.00 EUR")
    s.advance(to=date(2024, 9, 10)).expect_status("vps", "expired")
    s.expect_balance("acc-1", "10.00 EUR")
    # With auto-renewal off, a top-up leaves the expired service alone.
    s.auto_renew_off("vps").top_up("acc-1", "100.00 EUR")
    s.advance(to=date(2025, 1, 10)).expect_status("vps", "expired")
    s.expect_balance("acc-1", "110.00 EUR").expect_paid_until("vps", date(2024, 9, 10))

    low = [n.at.date() for n in s.cabinet.notifier.sent if n.kind == "balance.low"]
    assert low == [date(2024, 3, 10), date(2024, 8, 10)]
    expired = [n.at.date() for n in s.cabinet.notifier.sent if n.kind == "service.expired"]
    assert expired == [date(2024, 4, 10), date(2024, 9, 10)]
    renewed = [e.paid_until for e in s.events if isinstance(e, ServiceRenewed)]
    assert renewed == [
        date(2024, 3, 10),
        date(2024, 4, 10),
        date(2024, 5, 10),
        date(2024, 6, 10),
        date(2024, 7, 10),
        date(2024, 8, 10),
        date(2024, 9, 10),
    ]
    # The invoices for services; each top-up has its own advance-payment invoice besides.
    invoices = sorted(
        (i for i in s.cabinet.store.invoices.rows.values() if i.kind is not InvoiceKind.TOP_UP),
        key=lambda i: i.number,
    )
    assert [(i.number, i.issued_on, str(i.total.gross), i.status.value) for i in invoices] == [
        ("IS-000001", date(2024, 1, 10), "30.00 EUR", "paid"),
        ("IS-000002", date(2024, 2, 10), "30.00 EUR", "paid"),
        ("IS-000003", date(2024, 3, 10), "30.00 EUR", "paid"),
        ("IS-000004", date(2024, 4, 21), "30.00 EUR", "paid"),
        ("IS-000005", date(2024, 5, 10), "30.00 EUR", "paid"),
        ("IS-000006", date(2024, 6, 10), "30.00 EUR", "paid"),
        ("IS-000007", date(2024, 7, 10), "30.00 EUR", "paid"),
        ("IS-000008", date(2024, 8, 10), "30.00 EUR", "paid"),
    ]
    # 350.00 EUR paid in, 8 x 30.00 EUR spent, 110.00 EUR left.
    assert s.balance("acc-1") == Money("350.00", "EUR") - Money("240.00", "EUR")

    months = {m.month: m for m in s.months()}
    assert len(months) == 13
    assert len(s.days) == 366  # 11 January 2024 to 10 January 2025, a leap year
    assert [(k, m.invoices, m.renewals, m.expired) for k, m in months.items() if m.invoices] == [
        ("2024-01", 1, 0, 0),
        ("2024-02", 1, 1, 0),
        ("2024-03", 1, 1, 0),
        ("2024-04", 1, 1, 1),
        ("2024-05", 1, 1, 0),
        ("2024-06", 1, 1, 0),
        ("2024-07", 1, 1, 0),
        ("2024-08", 1, 1, 0),
    ]
    # Billed: one 30.00 EUR invoice a month until the VPS expires for good in September.
    assert {k: str(m.billed["EUR"]) for k, m in months.items() if m.billed} == {
        f"2024-{n:02}": "30.00 EUR" for n in range(1, 9)
    }
    # Collected: the top-ups.
    assert {k: str(m.collected["EUR"]) for k, m in months.items() if m.collected} == {
        "2024-01": "100.00 EUR",
        "2024-04": "100.00 EUR",
        "2024-07": "50.00 EUR",
        "2024-09": "100.00 EUR",
    }
    assert months["2024-09"].expired == 1
    assert all(m.failures == 0 and not m.blocked_accounts for m in months.values())
    assert sum(m.notifications for m in months.values()) == len(s.notifications("acc-1"))


@pytest.mark.spec("R4")
def test_the_timeline_tells_the_story() -> None:
    s = _first_months().advance(to=date(2024, 4, 21))
    sid = s.service_id("vps")
    lines = [(d.isoformat(), text) for d, text in s.timeline("acc-1")]
    assert lines[:5] == [
        ("2024-01-10", "payment pay-1 credited 100.00 EUR"),
        ("2024-01-10", f"order order-1 placed: services {sid}"),
        ("2024-01-10", "invoice IS-000001 issued: 30.00 EUR"),
        ("2024-01-10", "invoice IS-000001 paid from the balance: 30.00 EUR"),
        ("2024-01-10", f"service {sid} paid until 2024-02-10"),
    ]
    assert ("2024-03-10", "notice balance.low") in lines
    assert lines[-1] == ("2024-04-10", f"service {sid} expired (paid until 2024-04-10)")
