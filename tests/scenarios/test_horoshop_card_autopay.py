"""A Horoshop-style shop in UAH: card binding, renewals from the card, card autopay."""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing.errors import InvalidTransitionError
from cabinet_billing.testing.scenario import Scenario

#: What paying the first invoice with the card tells the customer.
_FIRST = ["invoice.issued", "payment.credited", "invoice.paid", "service.paid"]


def _shop() -> Scenario:
    return Scenario("horoshop", start=date(2024, 3, 1)).account("shop-1", country="UA")


def _charges(s: Scenario) -> list[tuple[str, str, str]]:
    return [(c.operation, c.token, str(c.amount)) for c in s.cabinet.gateway.charges]


def _invoices(s: Scenario) -> list[tuple[str, date, str, str]]:
    rows = sorted(s.cabinet.store.invoices.rows.values(), key=lambda i: i.number)
    return [(i.number, i.issued_on, str(i.amount_due), i.status.value) for i in rows]


def _card(s: Scenario) -> tuple[str, str | None]:
    method = s.cabinet.store.profiles.rows["shop-1"].method("card-1")
    reason = method.last_failure.reason if method.last_failure else None
    return method.status.value, reason


def _bound_with_open_invoice() -> Scenario:
    """The plan (1 000.00 UAH a month) is ordered for the card, whose binding pays it."""
    s = _shop().order("shop-1", "business", price="1000.00 UAH", kind="saas", method="card")
    s.expect_status("business", "ordered")
    return s.save_card("shop-1", "card-1", "tok-1")


@pytest.mark.spec("R5")
def test_binding_without_an_open_invoice_charges_1_uah_and_refunds_it() -> None:
    s = _shop().top_up("shop-1", "1000.00 UAH", method="card")
    s.order("shop-1", "business", price="1000.00 UAH", kind="saas")
    s.expect_status("business", "active").expect_balance("shop-1", "0.00 UAH")
    s.expect_notifications(
        "shop-1", ["payment.credited", "invoice.issued", "invoice.paid", "service.paid"]
    )
    s.save_card("shop-1", "card-1", "tok-1")
    assert _charges(s) == [("charge", "tok-1", "1.00 UAH"), ("refund", "ch-1", "1.00 UAH")]
    assert _card(s) == ("enabled", None)
    # The verification is no payment: the balance and the notifications stay as they were.
    s.expect_balance("shop-1", "0.00 UAH").expect_notifications("shop-1", [])
    autopay = s.cabinet.store.profiles.rows["shop-1"].card_autopay
    assert autopay is not None
    assert (autopay.status.value, autopay.method_id, autopay.since) == (
        "active",
        "card-1",
        date(2024, 3, 1),
    )


@pytest.mark.spec("R5", "R7")
def test_binding_with_an_open_invoice_pays_it_with_the_card() -> None:
    s = _bound_with_open_invoice()
    assert _charges(s) == [("charge", "tok-1", "1000.00 UAH")]
    assert _invoices(s) == [("HOR-11111-001", date(2024, 3, 1), "0 UAH", "paid")]
    s.expect_status("business", "active").expect_paid_until("business", date(2024, 4, 1))
    s.expect_balance("shop-1", "0.00 UAH")
    s.expect_notifications(
        "shop-1", ["invoice.issued", "payment.credited", "invoice.paid", "service.paid"]
    )
    sub = s.cabinet.store.profiles.rows["shop-1"].subscription(s.service_id("business"))
    assert sub is not None
    assert (sub.source.value, sub.method_id, sub.enabled) == ("saved_method", "card-1", True)


@pytest.mark.spec("R4", "R5", "R7")
def test_the_next_invoice_is_issued_five_days_ahead_and_charged_to_the_card_that_day() -> None:
    s = _bound_with_open_invoice().expect_notifications("shop-1", _FIRST)
    s.advance(to=date(2024, 3, 26)).expect_notifications("shop-1", [])
    s.advance(to=date(2024, 3, 27)).expect_paid_until("business", date(2024, 5, 1))
    s.expect_status("business", "active").expect_balance("shop-1", "0.00 UAH")
    assert _charges(s)[-1] == ("charge", "tok-1", "1000.00 UAH")
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 27), "0 UAH", "paid")
    s.expect_notifications("shop-1", [*_FIRST, "service.renewed"])
    # The renewal day itself charges nothing more: the period is paid.
    s.advance(to=date(2024, 4, 2))
    assert len(_charges(s)) == 2


@pytest.mark.spec("R4", "R5", "R7")
def test_a_declined_card_autopay_marks_the_card_not_working_and_notifies() -> None:
    s = _bound_with_open_invoice().expect_notifications("shop-1", _FIRST)
    s.script_card("tok-1", "decline")
    s.advance(to=date(2024, 3, 27))
    assert _card(s) == ("not_working", "decline")
    assert _charges(s)[-1] == ("charge", "tok-1", "1000.00 UAH")
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 27), "1000.00 UAH", "unpaid")
    s.expect_notifications("shop-1", ["invoice.issued", "payment.failed"])
    assert (s.days[-1].charges, s.days[-1].failed_charges) == (0, 1)
    # The shop still has until its last paid day; nothing is tried before the renewal day.
    s.advance(to=date(2024, 3, 31)).expect_status("business", "active")
    assert len(_charges(s)) == 2


@pytest.mark.spec("R4", "R5")
def test_the_card_is_checked_and_charged_on_the_renewal_day_when_it_works_again() -> None:
    s = _bound_with_open_invoice().expect_notifications("shop-1", _FIRST)
    s.script_card("tok-1", "decline")
    s.advance(to=date(2024, 4, 1))
    assert _charges(s)[2:] == [
        ("verify", "tok-1", "1.00 UAH"),
        ("refund", "ch-3", "1.00 UAH"),
        ("charge", "tok-1", "1000.00 UAH"),
    ]
    s.expect_status("business", "active").expect_paid_until("business", date(2024, 5, 1))
    assert _card(s) == ("enabled", None)
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 27), "0 UAH", "paid")


@pytest.mark.spec("R4", "R5")
def test_a_card_that_still_declines_on_the_renewal_day_lets_the_service_expire() -> None:
    s = _bound_with_open_invoice().expect_notifications("shop-1", _FIRST)
    s.script_card("tok-1", "decline", "decline")
    s.advance(to=date(2024, 4, 1))
    assert _charges(s)[2:] == [("verify", "tok-1", "1.00 UAH")]
    s.expect_status("business", "expired").expect_paid_until("business", date(2024, 4, 1))
    # The check was the renewal's one attempt of the schedule (retry_days=(1,)): one
    # more the next day, then nothing.
    s.advance(to=date(2024, 4, 20))
    assert [c[0] for c in _charges(s)[2:]] == ["verify", "verify", "refund", "charge"]
    s.expect_status("business", "active").expect_paid_until("business", date(2024, 5, 1))


@pytest.mark.spec("R7")
def test_a_shop_paying_by_bank_transfer_gets_its_next_invoice_and_keeps_its_service() -> None:
    s = _shop().order(
        "shop-1", "business", price="1000.00 UAH", kind="saas", method="bank_transfer"
    )
    s.bank_transfer("shop-1").expect_status("business", "active")
    s.expect_notifications("shop-1", _FIRST)
    s.advance(to=date(2024, 3, 27))
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 27), "1000.00 UAH", "unpaid")
    s.expect_notifications("shop-1", ["invoice.issued"])
    s.bank_transfer("shop-1")
    s.advance(to=date(2024, 4, 2)).expect_status("business", "active")
    s.expect_paid_until("business", date(2024, 5, 1))
    assert _charges(s) == []


def _second_service_ordered_on(s: Scenario, day: date, plan: str, price: str) -> Scenario:
    """Order on ``day`` before that day's billing run."""
    s.advance(to=day, run_last_day=False)
    return s.order("shop-1", plan, price=price, kind="saas", method="card").cycle()


@pytest.mark.spec("R7")
def test_card_autopay_charges_a_new_invoice_on_its_issue_day() -> None:
    s = _bound_with_open_invoice()
    _second_service_ordered_on(s, date(2024, 3, 10), "seo", "500.00 UAH")
    assert _charges(s)[-1] == ("charge", "tok-1", "500.00 UAH")
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 10), "0 UAH", "paid")
    s.expect_status("seo", "active").expect_paid_until("seo", date(2024, 4, 10))
    s.expect_balance("shop-1", "0.00 UAH")
    assert s.days[-1].charges == 1


@pytest.mark.spec("R7")
def test_stopping_card_autopay_leaves_bank_transfer_only() -> None:
    s = _bound_with_open_invoice().stop_card_autopay("shop-1")
    charged = _charges(s)
    _second_service_ordered_on(s, date(2024, 3, 15), "crm", "300.00 UAH")
    s.advance(to=date(2024, 3, 17))
    # Nothing charged the card: the invoice waits for a bank transfer.
    assert _charges(s) == charged
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 15), "300.00 UAH", "unpaid")
    s.expect_status("crm", "ordered")
    s.bank_transfer("shop-1")
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 15), "0 UAH", "paid")
    s.expect_status("crm", "active").expect_paid_until("crm", date(2024, 4, 15))
    assert ("2024-03-17", "bank transfer line-1 matched: 300.00 UAH") in [
        (d.isoformat(), text) for d, text in s.timeline("shop-1")
    ]
    # Stopping it twice is refused, naming the state.
    with pytest.raises(InvalidTransitionError, match="stopped"):
        s.stop_card_autopay("shop-1")


@pytest.mark.spec("R5", "R7")
def test_a_new_card_after_stopping_pays_its_invoice_but_autopay_stays_stopped() -> None:
    s = _bound_with_open_invoice().stop_card_autopay("shop-1")
    s.order("shop-1", "crm", price="300.00 UAH", kind="saas", method="card")
    s.save_card("shop-1", "card-2", "tok-2", subscribe_services=False)
    assert _charges(s)[-1] == ("charge", "tok-2", "300.00 UAH")
    assert _invoices(s)[-1] == ("HOR-11111-002", date(2024, 3, 1), "0 UAH", "paid")
    s.expect_status("crm", "active")
    profile = s.cabinet.store.profiles.rows["shop-1"]
    assert [m.id for m in profile.methods] == ["card-1", "card-2"]
    assert profile.card_autopay is not None
    assert (profile.card_autopay.status.value, profile.card_autopay.method_id) == (
        "stopped",
        None,
    )
    # The next invoice is not charged to either card on its issue day.
    charged = _charges(s)
    _second_service_ordered_on(s, date(2024, 3, 20), "ads", "200.00 UAH")
    assert _charges(s) == charged
    s.expect_status("ads", "ordered")
