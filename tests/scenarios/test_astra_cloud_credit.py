"""An Astra Cloud customer on credit who pays late: statement, overdue, blocked, unblocked."""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.testing.scenario import Scenario

LIMIT = Money("150000.00", "RUB")


def _customer() -> Scenario:
    """A credit line of 150 000.00 RUB and two services renewing from the balance.

    * vps, 800.00 RUB a month, ordered 20 November (paid by a bank transfer): renewed on
      credit 19 December (a day ahead) and 19 January, paid until 20 February;
    * backup, 1 600.00 RUB a month, ordered 10 December: renewed on credit 9 January.
    """
    s = Scenario("astra_cloud", start=date(2023, 11, 20))
    s.account("acc-1", country="RU", credit_limit="150000.00 RUB")
    s.top_up("acc-1", "800.00 RUB", method="bank_transfer")
    s.order("acc-1", "vps", price="800.00 RUB")
    s.advance(to=date(2023, 12, 10)).top_up("acc-1", "1600.00 RUB", method="bank_transfer")
    s.order("acc-1", "backup", price="1600.00 RUB")
    return s.expect_balance("acc-1", "0.00 RUB").expect_credit("acc-1", "ok")


def _dashboard(s: Scenario) -> tuple[str, ...]:
    d = s.owner("acc-1").credit.status().dashboard
    return tuple(str(m) for m in (d.overdue, d.awaiting, d.spent, d.available, d.unavailable))


def _advance_checking_the_dashboard(s: Scenario, to: date) -> None:
    """Advance day by day; the dashboard sums to the limit every day (SPEC R2)."""
    while s.today < to:
        s.advance(days=1)
        d = s.owner("acc-1").credit.status().dashboard
        parts = (d.overdue, d.awaiting, d.spent, d.available, d.unavailable)
        assert sum(parts, Money("0", "RUB")) == LIMIT, (s.today, parts)


@pytest.mark.spec("R1", "R2", "R3", "R4")
def test_late_payer_is_blocked_and_unblocked() -> None:
    s = _customer()
    _advance_checking_the_dashboard(s, date(2023, 12, 19))
    # Credit used in December: the VPS renewal takes the balance below zero.
    s.expect_balance("acc-1", "-800.00 RUB").expect_paid_until("vps", date(2024, 1, 20))
    assert _dashboard(s) == ("0 RUB", "0 RUB", "800.00 RUB", "149200.00 RUB", "0 RUB")

    _advance_checking_the_dashboard(s, date(2024, 1, 1))
    s.expect_credit("acc-1", "awaiting_payment")
    s.expect_notifications("acc-1", ["credit.issued"], prefix="credit.")
    statements = [
        i for i in s.cabinet.store.invoices.rows.values() if i.kind is InvoiceKind.STATEMENT
    ]
    assert [(i.number, i.issued_on, i.due_on, str(i.total.gross)) for i in statements] == [
        ("AC-000004", date(2024, 1, 1), date(2024, 1, 15), "800.00 RUB"),
    ]
    assert statements[0].is_open()
    assert _dashboard(s) == ("0 RUB", "800.00 RUB", "0 RUB", "149200.00 RUB", "0 RUB")

    # The backup renews on credit on 9 January: still allowed while awaiting payment.
    _advance_checking_the_dashboard(s, date(2024, 1, 15))
    s.expect_credit("acc-1", "awaiting_payment").expect_paid_until("backup", date(2024, 2, 10))
    s.expect_notifications("acc-1", ["credit.before_due"], prefix="credit.")
    _advance_checking_the_dashboard(s, date(2024, 1, 16))
    s.expect_credit("acc-1", "overdue")
    s.expect_notifications("acc-1", ["credit.after_due"], prefix="credit.")

    # Overdue is not blocked: the VPS still renews on credit on 19 January.
    _advance_checking_the_dashboard(s, date(2024, 1, 29))
    s.expect_paid_until("vps", date(2024, 2, 20)).expect_balance("acc-1", "-3200.00 RUB")
    s.expect_credit("acc-1", "overdue")
    s.expect_notifications("acc-1", ["credit.before_block"], prefix="credit.")
    assert _dashboard(s) == ("800.00 RUB", "0 RUB", "2400.00 RUB", "146800.00 RUB", "0 RUB")

    _advance_checking_the_dashboard(s, date(2024, 1, 30))
    s.expect_credit("acc-1", "blocked")
    s.expect_notifications("acc-1", ["credit.blocked"], prefix="credit.")
    s.expect_status("vps", "active").expect_status("backup", "active")
    assert _dashboard(s) == ("800.00 RUB", "0 RUB", "2400.00 RUB", "0 RUB", "146800.00 RUB")

    # SPEC R2's blocked example: overdue 800.00, awaiting 2 400.00, unavailable 146 800.00.
    _advance_checking_the_dashboard(s, date(2024, 2, 1))
    assert _dashboard(s) == ("800.00 RUB", "2400.00 RUB", "0 RUB", "0 RUB", "146800.00 RUB")
    s.expect_notifications("acc-1", ["credit.issued"], prefix="credit.")

    # While blocked, renewal from the balance is refused: each service expires at its end.
    _advance_checking_the_dashboard(s, date(2024, 2, 10))
    s.expect_status("backup", "expired").expect_paid_until("backup", date(2024, 2, 10))
    s.expect_status("vps", "active")
    _advance_checking_the_dashboard(s, date(2024, 2, 20))
    s.expect_status("vps", "expired").expect_paid_until("vps", date(2024, 2, 20))
    s.expect_balance("acc-1", "-3200.00 RUB").expect_credit("acc-1", "blocked")
    s.expect_notifications("acc-1", ["credit.before_due", "credit.after_due"], prefix="credit.")
    assert _dashboard(s) == ("3200.00 RUB", "0 RUB", "0 RUB", "0 RUB", "146800.00 RUB")

    # Paying the overdue amount unblocks at once ...
    _advance_checking_the_dashboard(s, date(2024, 2, 21))
    s.top_up("acc-1", "3200.00 RUB", method="bank_transfer")
    s.expect_credit("acc-1", "ok").expect_balance("acc-1", "0.00 RUB")
    assert _dashboard(s) == ("0 RUB", "0 RUB", "0 RUB", "150000.00 RUB", "0 RUB")
    paid = [s.cabinet.store.invoices.rows[i.id].status.value for i in statements]
    assert paid == ["paid"]
    # ... and the next run renews both services from the balance (on credit) again.
    _advance_checking_the_dashboard(s, date(2024, 2, 22))
    s.expect_status("vps", "active").expect_paid_until("vps", date(2024, 3, 20))
    s.expect_status("backup", "active").expect_paid_until("backup", date(2024, 3, 10))
    s.expect_balance("acc-1", "-2400.00 RUB").expect_credit("acc-1", "ok")
    _advance_checking_the_dashboard(s, date(2024, 2, 29))
    s.expect_notifications("acc-1", [], prefix="credit.")


@pytest.mark.spec("R1", "R3")
def test_each_notice_of_a_statement_is_sent_once_on_its_day() -> None:
    s = _customer()
    s.advance(to=date(2024, 2, 29))
    december = [
        (n.at.date(), n.kind)
        for n in s.cabinet.notifier.sent
        if n.kind.startswith("credit.") and n.params.get("month") == "2023-12-01"
    ]
    assert december == [
        (date(2024, 1, 1), "credit.issued"),
        (date(2024, 1, 12), "credit.before_due"),
        (date(2024, 1, 16), "credit.after_due"),
        (date(2024, 1, 25), "credit.before_block"),
        (date(2024, 1, 30), "credit.blocked"),
    ]
    # A second run of a day sends nothing again.
    sent = len(s.cabinet.notifier.sent)
    s.cycle()
    assert len(s.cabinet.notifier.sent) == sent


@pytest.mark.spec("R1")
def test_the_month_report_names_the_overdue_and_blocked_account() -> None:
    s = _customer()
    s.advance(to=date(2024, 2, 20)).top_up("acc-1", "3200.00 RUB", method="bank_transfer")
    # The February statement (2 400.00 RUB, issued 1 March) is not paid either.
    s.advance(to=date(2024, 3, 31))
    months = {m.month: m for m in s.months()}
    assert [(k, m.overdue_accounts, m.blocked_accounts) for k, m in months.items()] == [
        ("2023-11", (), ()),
        ("2023-12", (), ()),
        ("2024-01", ("acc-1",), ("acc-1",)),
        ("2024-02", (), ("acc-1",)),
        ("2024-03", ("acc-1",), ("acc-1",)),
    ]
    assert [(k, m.renewals, m.expired) for k, m in months.items()] == [
        ("2023-11", 0, 0),
        ("2023-12", 1, 0),
        ("2024-01", 2, 0),
        ("2024-02", 2, 2),
        ("2024-03", 2, 0),
    ]
    timeline = [text for _, text in s.timeline("acc-1") if text.startswith("credit ")]
    assert timeline == [
        "credit awaiting payment",
        "credit overdue",
        "credit blocked",
        "credit ok",
        "credit awaiting payment",
        "credit overdue",
        "credit blocked",
    ]


def _card_while_blocked() -> Scenario:
    """Blocked since 30 January; on 5 February the VPS moves to a saved card."""
    s = _customer().advance(to=date(2024, 2, 5)).expect_credit("acc-1", "blocked")
    s.save_card("acc-1", "card-1", "tok-1", subscribe_services=["vps"])
    return s.advance(to=date(2024, 2, 19))


@pytest.mark.spec("R1", "R4", "R5")
def test_a_saved_card_still_renews_while_blocked() -> None:
    s = _card_while_blocked()
    # Binding with no open invoice (statements do not count) verifies 1.00 RUB, refunded.
    assert [(c.operation, c.token, str(c.amount)) for c in s.cabinet.gateway.charges] == [
        ("charge", "tok-1", "1.00 RUB"),
        ("refund", "ch-1", "1.00 RUB"),
        # The card's fee is charged with the renewal: 800.00 + 5% + 10.00.
        ("charge", "tok-1", "850.00 RUB"),
    ]
    s.expect_status("vps", "active").expect_paid_until("vps", date(2024, 3, 20))
    s.expect_status("backup", "expired")
    renewed = [e for e in s.days[-1].events if type(e).__name__ == "ServiceRenewed"]
    assert [(e.account_id, str(e.at.date())) for e in renewed] == [("acc-1", "2024-02-19")]


@pytest.mark.spec("R1", "R4")
def test_a_card_renewal_while_blocked_pays_only_its_invoice() -> None:
    s = _card_while_blocked()
    # The renewal pays its invoice only; its 10% cashback (85.00 of the 850.00 charged)
    # repays part of the overdue statement, which keeps the line blocked.
    s.expect_balance("acc-1", "-3115.00 RUB").expect_credit("acc-1", "blocked")
    assert _dashboard(s) == ("3115.00 RUB", "0 RUB", "0 RUB", "0 RUB", "146885.00 RUB")
