from __future__ import annotations

from datetime import date, timedelta

import pytest

from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import CreditBlockedError, ValidationError
from cabinet_billing.l10n import render_message
from cabinet_billing.rules.credit_limit import (
    BLOCKED_WHILE_BLOCKED,
    CreditAction,
    CreditPolicy,
    CreditStage,
    CreditStatus,
    NoticeAnchor,
    NoticeRule,
    StageAnchor,
    actions_restored,
    billable_month,
    credit_dashboard,
    due_date,
    ensure_allowed,
    evaluate_credit,
    is_allowed,
    issue_statement,
    service_stays_active,
    statement_date,
    statement_month,
    statement_status,
)

POLICY = CreditPolicy()


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def december_line() -> CreditLine:
    line = CreditLine("acc-1", rub("150000.00"))
    line.record_usage(rub("800.00"), date(2023, 12, 12))
    return line


# ---------------------------------------------------------------------- R1: the AC month


@pytest.mark.spec("R1")
def test_ac_december_credit_statement_jan_1_due_jan_15_overdue_jan_16_blocked_jan_30() -> None:
    line = december_line()
    assert statement_month(POLICY, date(2024, 1, 1)) == date(2023, 12, 1)
    s = issue_statement(POLICY, line, date(2024, 1, 1))
    assert s is not None
    assert (s.month, s.issued_on, s.due_on, s.block_on) == (
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 1, 15),
        date(2024, 1, 30),
    )
    assert s.amount == rub("800.00")
    for day in days(date(2024, 1, 1), date(2024, 1, 15)):
        state = evaluate_credit(POLICY, line, day)
        assert state.status is CreditStatus.AWAITING_PAYMENT
        assert (state.due_on, state.block_on, state.pay_by) == (
            date(2024, 1, 15),
            date(2024, 1, 30),
            date(2024, 1, 15),
        )
        assert state.blocked_actions == frozenset()
    for day in days(date(2024, 1, 16), date(2024, 1, 29)):
        state = evaluate_credit(POLICY, line, day)
        assert state.status is CreditStatus.OVERDUE
        assert state.pay_by == date(2024, 1, 29)
        assert state.blocked_actions == frozenset()
    for day in days(date(2024, 1, 30), date(2024, 3, 1)):
        state = evaluate_credit(POLICY, line, day)
        assert state.status is CreditStatus.BLOCKED
        assert state.pay_by is None
        assert state.block_on == date(2024, 1, 30)
        assert state.blocked_actions == BLOCKED_WHILE_BLOCKED


@pytest.mark.spec("R1")
def test_while_blocked_paying_and_renewing_is_refused_top_up_and_subscriptions_are_not() -> None:
    line = december_line()
    issue_statement(POLICY, line, date(2024, 1, 1))
    today = date(2024, 1, 30)
    refused = {
        CreditAction.PAY_FROM_CREDIT,
        CreditAction.PAY_FROM_BALANCE,
        CreditAction.RENEW_THROUGH_CART,
        CreditAction.AUTO_RENEW_FROM_BALANCE,
    }
    for action in CreditAction:
        assert is_allowed(POLICY, line, today, action) is (action not in refused)
        assert is_allowed(POLICY, line, date(2024, 1, 29), action)
    assert ensure_allowed(POLICY, line, today, CreditAction.TOP_UP).is_blocked
    statements = line.statements
    with pytest.raises(CreditBlockedError) as err:
        ensure_allowed(POLICY, line, today, CreditAction.RENEW_THROUGH_CART)
    assert str(err.value) == (
        "acc-1 may not renew_through_cart: the credit line is blocked since 2024-01-30; "
        "pay the overdue 800.00 RUB to unblock it "
        "(still allowed: auto_renew_from_saved_method, top_up)"
    )
    assert err.value.overdue == rub("800.00")
    assert isinstance(err.value, PermissionError)
    assert line.statements == statements


@pytest.mark.spec("R1")
def test_ac_a_service_paid_until_feb_20_stays_active_after_the_jan_30_block() -> None:
    line = december_line()
    issue_statement(POLICY, line, date(2024, 1, 1))
    assert evaluate_credit(POLICY, line, date(2024, 1, 30)).is_blocked
    for day in days(date(2024, 1, 30), date(2024, 2, 19)):
        assert service_stays_active(date(2024, 2, 20), day)
    assert not service_stays_active(date(2024, 2, 20), date(2024, 2, 20))


@pytest.mark.spec("R1")
def test_paying_the_overdue_amount_unblocks() -> None:
    line = december_line()
    issue_statement(POLICY, line, date(2024, 1, 1))
    line.apply_payment(rub("799.99"), date(2024, 2, 1))
    assert evaluate_credit(POLICY, line, date(2024, 2, 1)).status is CreditStatus.BLOCKED
    line.apply_payment(rub("0.01"), date(2024, 2, 1))
    state = evaluate_credit(POLICY, line, date(2024, 2, 1))
    assert state.status is CreditStatus.OK
    assert state.blocked_actions == frozenset()
    assert state.message_id == "credit.ok"
    assert dict(state.params) == {"limit": rub("150000.00"), "available": rub("150000.00")}


@pytest.mark.spec("R1")
def test_paying_the_overdue_statement_leaves_the_newer_one_awaiting() -> None:
    line, today = blocked_line()
    line.apply_payment(rub("800.00"), today)
    state = evaluate_credit(POLICY, line, today)
    assert state.status is CreditStatus.AWAITING_PAYMENT
    assert (state.due_on, state.block_on) == (date(2024, 9, 15), date(2024, 9, 30))
    d = credit_dashboard(POLICY, line, today)
    assert (d.overdue, d.awaiting, d.available, d.unavailable) == (
        rub("0.00"),
        rub("2400.00"),
        rub("147600.00"),
        rub("0.00"),
    )


@pytest.mark.spec("R1")
def test_the_statement_day_bills_the_previous_month() -> None:
    assert statement_date(POLICY, date(2023, 12, 1)) == date(2024, 1, 1)
    assert billable_month(POLICY, date(2024, 1, 1)) == date(2023, 12, 1)
    assert billable_month(POLICY, date(2024, 1, 31)) == date(2023, 12, 1)
    assert statement_month(POLICY, date(2024, 1, 2)) is None
    on_31st = CreditPolicy(statement_day=31)
    assert statement_date(on_31st, date(2023, 1, 1)) == date(2023, 2, 28)
    assert statement_month(on_31st, date(2023, 2, 28)) == date(2023, 1, 1)
    assert billable_month(on_31st, date(2023, 2, 27)) == date(2022, 12, 1)


@pytest.mark.spec("R1")
def test_due_dates_by_day_of_month_or_net_days() -> None:
    assert due_date(POLICY, date(2024, 1, 1)) == date(2024, 1, 15)
    assert due_date(POLICY, date(2024, 1, 15)) == date(2024, 2, 15)
    assert due_date(CreditPolicy(due_day=31), date(2024, 2, 1)) == date(2024, 2, 29)
    assert due_date(CreditPolicy(statement_day=25, due_day=10), date(2024, 1, 25)) == date(
        2024, 2, 10
    )
    assert due_date(CreditPolicy(net_days=14), date(2024, 1, 1)) == date(2024, 1, 15)


@pytest.mark.spec("R1")
def test_issuing_is_safe_to_repeat_and_a_late_run_bills_the_same_month() -> None:
    line = december_line()
    assert issue_statement(POLICY, line, date(2023, 12, 31)) is None  # November: nothing
    s = issue_statement(POLICY, line, date(2024, 1, 3))
    assert s is not None
    assert (s.month, s.issued_on, s.due_on) == (
        date(2023, 12, 1),
        date(2024, 1, 3),
        date(2024, 1, 15),
    )
    assert issue_statement(POLICY, line, date(2024, 1, 3)) is None
    assert issue_statement(POLICY, line, date(2024, 1, 31)) is None
    assert len(line.statements) == 1


@pytest.mark.spec("R1")
def test_a_policy_that_never_blocks() -> None:
    policy = CreditPolicy(blocked_actions=frozenset())
    line = december_line()
    s = issue_statement(policy, line, date(2024, 1, 1))
    assert s is not None
    assert s.block_on is None
    state = evaluate_credit(policy, line, date(2024, 3, 1))
    assert state.status is CreditStatus.BLOCKED  # the stage still names the state
    assert state.blocked_actions == frozenset()
    assert state.message_id == "credit.blocked"
    awaiting = evaluate_credit(policy, line, date(2024, 1, 2))
    assert awaiting.message_id == "credit.awaiting.no_block"
    overdue = evaluate_credit(policy, line, date(2024, 1, 16))
    assert (overdue.message_id, overdue.pay_by) == ("credit.overdue.no_block", None)


@pytest.mark.spec("R1")
def test_another_dunning_style_is_another_stage_tuple() -> None:
    # Purchases on credit stop a week after the due date; everything else a month later.
    policy = CreditPolicy(
        net_days=10,
        stages=(
            CreditStage(CreditStatus.AWAITING_PAYMENT, 0, StageAnchor.ISSUED),
            CreditStage(CreditStatus.OVERDUE, 1),
            CreditStage(
                CreditStatus.OVERDUE,
                7,
                blocks=frozenset({CreditAction.PAY_FROM_CREDIT}),
                message_id="credit.overdue",
            ),
            CreditStage(CreditStatus.BLOCKED, 30, blocks=BLOCKED_WHILE_BLOCKED),
        ),
    )
    line = december_line()
    issue_statement(policy, line, date(2024, 1, 1))
    statuses = {
        d: (
            evaluate_credit(policy, line, d).status,
            evaluate_credit(policy, line, d).blocked_actions,
        )
        for d in (date(2024, 1, 11), date(2024, 1, 12), date(2024, 1, 18), date(2024, 2, 10))
    }
    assert statuses == {
        date(2024, 1, 11): (CreditStatus.AWAITING_PAYMENT, frozenset()),
        date(2024, 1, 12): (CreditStatus.OVERDUE, frozenset()),
        date(2024, 1, 18): (CreditStatus.OVERDUE, frozenset({CreditAction.PAY_FROM_CREDIT})),
        date(2024, 2, 10): (CreditStatus.BLOCKED, BLOCKED_WHILE_BLOCKED),
    }
    # The block date is the first stage that blocks anything.
    assert evaluate_credit(policy, line, date(2024, 1, 12)).block_on == date(2024, 1, 18)
    # Once purchases are stopped, the message warns about the next, wider block.
    state = evaluate_credit(policy, line, date(2024, 1, 18))
    assert (state.block_on, state.pay_by, state.message_id) == (
        date(2024, 1, 18),
        date(2024, 2, 9),
        "credit.overdue",
    )
    assert state.params["block_on"] == date(2024, 2, 10)


@pytest.mark.spec("R1")
@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ({"statement_day": 0}, "statement_day", "from 1 to 31"),
        ({"due_day": 32}, "due_day", "from 1 to 31"),
        ({"grace_days": -1}, "grace_days", "at least 0"),
        ({"net_days": -1}, "net_days", "at least 0"),
        ({"overdue_after_days": True}, "overdue_after_days", "whole number"),
        ({"blocked_actions": {"top_up"}}, "actions", "PAY_FROM_CREDIT"),
        ({"stages": ("x",)}, "stages", "CreditStage"),
        (
            {
                "notices": (
                    NoticeRule("a", NoticeAnchor.DUE, 0),
                    NoticeRule("a", NoticeAnchor.DUE, 1),
                )
            },
            "notices",
            "once",
        ),
    ],
)
def test_policy_values_are_validated(kwargs: dict[str, object], field: str, allowed: str) -> None:
    with pytest.raises(ValidationError) as err:
        CreditPolicy(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert allowed in str(err.value)


@pytest.mark.spec("R1")
def test_a_stage_cannot_be_ok() -> None:
    with pytest.raises(ValidationError) as err:
        CreditStage(CreditStatus.OK, 0)
    assert "AWAITING_PAYMENT, OVERDUE or BLOCKED" in str(err.value)


# ---------------------------------------------------------------------- R2: the dashboards


@pytest.mark.spec("R2")
def test_ac_dashboard_just_issued_400_000_rub() -> None:
    line = CreditLine("acc-1", rub("400000.00"))
    line.record_usage(rub("30000.00"), date(2024, 7, 3))
    line.record_usage(rub("4134.48"), date(2024, 7, 28))
    issue_statement(POLICY, line, date(2024, 8, 1))
    d = credit_dashboard(POLICY, line, date(2024, 8, 5))
    assert d.limit == rub("400000.00")
    assert d.awaiting == rub("34134.48")
    assert d.available == rub("365865.52")
    assert (d.overdue, d.spent, d.unavailable) == (rub("0.00"), rub("0"), rub("0"))
    assert sum(d.parts()) == d.limit
    text = render_message(d.state.message_id, "ru", date_format="day_month", **d.state.params)
    assert text == (
        "До 15 августа вы должны оплатить услуги, купленные в кредит, "
        "или 30 августа продление и покупка услуг будут заблокированы"
    )


@pytest.mark.spec("R2")
def test_ac_dashboard_overdue_2_000_eur() -> None:
    # With the default 15-day grace an overdue statement is blocked before the next one is
    # issued; the seed's screen shows an overdue and an awaiting statement together, which
    # a longer grace gives: July's statement is due July 15 and blocks on August 30.
    policy = CreditPolicy(grace_days=46)
    line = CreditLine("acc-2", eur("2000.00"))
    line.record_usage(eur("41.60"), date(2024, 6, 14))
    issue_statement(policy, line, date(2024, 7, 1))
    line.record_usage(eur("88.00"), date(2024, 7, 9))
    issue_statement(policy, line, date(2024, 8, 1))
    line.record_usage(eur("42.99"), date(2024, 8, 2))
    d = credit_dashboard(policy, line, date(2024, 8, 5))
    assert d.state.status is CreditStatus.OVERDUE
    assert (d.limit, d.overdue, d.awaiting, d.spent, d.available, d.unavailable) == (
        eur("2000.00"),
        eur("41.60"),
        eur("88.00"),
        eur("42.99"),
        eur("1827.41"),
        eur("0"),
    )
    assert sum(d.parts()) == d.limit
    text = render_message(d.state.message_id, "ru", date_format="day_month", **d.state.params)
    assert text == (
        "До 29 августа вы должны оплатить услуги, купленные в кредит, "
        "или продление и покупка услуг будут заблокированы"
    )


@pytest.mark.spec("R2")
def test_ac_overdue_message_with_the_default_policy() -> None:
    line = CreditLine("acc-2", eur("2000.00"))
    line.record_usage(eur("41.60"), date(2024, 7, 14))
    issue_statement(POLICY, line, date(2024, 8, 1))
    line.record_usage(eur("42.99"), date(2024, 8, 2))
    for day in days(date(2024, 8, 16), date(2024, 8, 29)):
        d = credit_dashboard(POLICY, line, day)
        assert (d.overdue, d.spent, d.available) == (eur("41.60"), eur("42.99"), eur("1915.41"))
        assert d.state.pay_by == date(2024, 8, 29)
        assert render_message(
            d.state.message_id, "en", date_format="day_month", **d.state.params
        ) == (
            "Pay for the services bought on credit by August 29, "
            "or renewals and purchases will be blocked"
        )


def blocked_line() -> tuple[CreditLine, date]:
    line = CreditLine("acc-3", rub("150000.00"))
    line.record_usage(rub("800.00"), date(2024, 7, 20))
    issue_statement(POLICY, line, date(2024, 8, 1))
    line.record_usage(rub("2400.00"), date(2024, 8, 10))
    issue_statement(POLICY, line, date(2024, 9, 1))
    return line, date(2024, 9, 3)


@pytest.mark.spec("R2")
def test_ac_dashboard_blocked_150_000_rub() -> None:
    line, today = blocked_line()
    d = credit_dashboard(POLICY, line, today)
    assert d.state.status is CreditStatus.BLOCKED
    assert d.state.block_on == date(2024, 8, 30)
    assert (d.limit, d.overdue, d.awaiting, d.spent, d.available, d.unavailable) == (
        rub("150000.00"),
        rub("800.00"),
        rub("2400.00"),
        rub("0"),
        rub("0"),
        rub("146800.00"),
    )
    assert sum(d.parts()) == d.limit
    assert dict(d.state.params) == {"overdue": rub("800.00")}
    assert render_message(d.state.message_id, "ru", **d.state.params) == (
        "Продление и покупка услуг заблокированы до погашения задолженности"
    )


@pytest.mark.spec("R2")
def test_dashboard_of_an_unused_line_is_all_available() -> None:
    line = CreditLine("acc-1", rub("5000.00"))
    d = credit_dashboard(POLICY, line, date(2024, 1, 1))
    assert d.parts() == (rub("0"), rub("0"), rub("0"), rub("5000.00"), rub("0"))
    assert d.state.status is CreditStatus.OK
    assert render_message(d.state.message_id, "ru", **d.state.params).replace("\xa0", " ") == (
        "Вы можете покупать и продлевать услуги в кредит в рамках кредитного лимита (5 000,00 ₽)"
    )


@pytest.mark.spec("R2")
def test_dashboard_on_a_past_day_counts_later_statements_as_spent() -> None:
    line = december_line()
    issue_statement(POLICY, line, date(2024, 1, 1))
    d = credit_dashboard(POLICY, line, date(2023, 12, 20))
    assert (d.overdue, d.awaiting, d.spent) == (rub("0"), rub("0"), rub("800.00"))
    assert d.state.status is CreditStatus.OK
    assert sum(d.parts()) == d.limit


@pytest.mark.spec("R1")
def test_statement_status_and_restored_actions() -> None:
    line = december_line()
    s = issue_statement(POLICY, line, date(2024, 1, 1))
    assert s is not None
    assert statement_status(POLICY, s, date(2023, 12, 31)) is CreditStatus.OK
    assert statement_status(POLICY, s, date(2024, 1, 1)) is CreditStatus.AWAITING_PAYMENT
    assert statement_status(POLICY, s, date(2024, 1, 16)) is CreditStatus.OVERDUE
    assert statement_status(POLICY, s, date(2024, 1, 30)) is CreditStatus.BLOCKED
    before = evaluate_credit(POLICY, line, date(2024, 2, 1))
    line.apply_payment(rub("800.00"), date(2024, 2, 1))
    after = evaluate_credit(POLICY, line, date(2024, 2, 1))
    assert CreditAction.AUTO_RENEW_FROM_BALANCE in actions_restored(before, after)
    assert actions_restored(before, after) == BLOCKED_WHILE_BLOCKED
    assert actions_restored(after, after) == frozenset()
    assert statement_status(POLICY, line.statements[0], date(2024, 2, 1)) is CreditStatus.OK


@pytest.mark.spec("R2")
def test_the_dashboard_counts_a_statement_as_overdue_from_the_overdue_stage() -> None:
    policy = CreditPolicy(overdue_after_days=3)
    line = december_line()
    issue_statement(policy, line, date(2024, 1, 1))
    d = credit_dashboard(policy, line, date(2024, 1, 17))
    assert (d.state.status, d.overdue, d.awaiting) == (
        CreditStatus.AWAITING_PAYMENT,
        rub("0"),
        rub("800.00"),
    )
    d = credit_dashboard(policy, line, date(2024, 1, 18))
    assert (d.state.status, d.overdue, d.awaiting) == (
        CreditStatus.OVERDUE,
        rub("800.00"),
        rub("0"),
    )
