from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.l10n import render_message
from cabinet_billing.rules.credit_limit import (
    DEFAULT_NOTICES,
    CreditPolicy,
    NoticeAnchor,
    NoticeRule,
    issue_statement,
)
from cabinet_billing.rules.dunning import CreditNotice, due_notifications

pytestmark = pytest.mark.spec("R3")

POLICY = CreditPolicy()


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def december_line() -> CreditLine:
    line = CreditLine("acc-1", rub("150000.00"))
    line.record_usage(rub("800.00"), date(2023, 12, 12))
    issue_statement(POLICY, line, date(2024, 1, 1))
    return line


def run_daily(
    policy: CreditPolicy, line: CreditLine, days: list[date], sent: set[str] | None = None
) -> list[tuple[date, str]]:
    sent = set() if sent is None else sent
    out: list[tuple[date, str]] = []
    for day in days:
        for notice in due_notifications(policy, line, day, sent):
            sent.add(notice.key)
            out.append((day, notice.kind))
    return out


def january(first: int = 1, last: int = 31) -> list[date]:
    return [date(2024, 1, d) for d in range(first, last + 1)]


def test_ac_schedule_on_issue_3_days_before_due_day_after_5_days_before_block_on_block() -> None:
    assert run_daily(POLICY, december_line(), january()) == [
        (date(2024, 1, 1), "issued"),
        (date(2024, 1, 12), "before_due"),
        (date(2024, 1, 16), "after_due"),
        (date(2024, 1, 25), "before_block"),
        (date(2024, 1, 30), "blocked"),
    ]


def test_a_repeated_run_on_the_same_day_sends_nothing_new() -> None:
    line = december_line()
    sent: set[str] = set()
    first = due_notifications(POLICY, line, date(2024, 1, 1), sent)
    assert [n.key for n in first] == ["acc-1:2023-12:issued"]
    sent.update(n.key for n in first)
    assert due_notifications(POLICY, line, date(2024, 1, 1), sent) == []
    assert due_notifications(POLICY, line, date(2024, 1, 2), sent) == []


def test_a_late_run_sends_what_still_makes_sense() -> None:
    line = december_line()
    # Nothing ran from January 1: on the 14th both the issue and the reminder still apply.
    late = due_notifications(POLICY, line, date(2024, 1, 14), set())
    assert [(n.kind, n.on) for n in late] == [
        ("issued", date(2024, 1, 1)),
        ("before_due", date(2024, 1, 12)),
    ]
    # After the due date, "3 days before due" is stale.
    assert [n.kind for n in due_notifications(POLICY, line, date(2024, 1, 17), set())] == [
        "after_due"
    ]
    assert [n.kind for n in due_notifications(POLICY, line, date(2024, 1, 27), set())] == [
        "after_due",
        "before_block",
    ]
    # On the blocking day only the blocked notice is left.
    assert [n.kind for n in due_notifications(POLICY, line, date(2024, 2, 5), set())] == ["blocked"]


def test_the_last_day_of_each_window() -> None:
    line = december_line()
    assert [n.kind for n in due_notifications(POLICY, line, date(2024, 1, 15), set())] == [
        "issued",
        "before_due",
    ]
    assert [n.kind for n in due_notifications(POLICY, line, date(2024, 1, 29), set())] == [
        "after_due",
        "before_block",
    ]


def test_a_paid_statement_gets_no_more_notices() -> None:
    line = december_line()
    sent: set[str] = set()
    assert run_daily(POLICY, line, january(1, 10), sent) == [(date(2024, 1, 1), "issued")]
    line.apply_payment(rub("800.00"), date(2024, 1, 10))
    assert run_daily(POLICY, line, january(11, 31), sent) == []


def test_notices_carry_the_amount_left_to_pay_and_the_dates() -> None:
    line = december_line()
    line.apply_payment(rub("300.00"), date(2024, 1, 5))
    (notice,) = due_notifications(POLICY, line, date(2024, 1, 12), {"acc-1:2023-12:issued"})
    assert notice == CreditNotice(
        key="acc-1:2023-12:before_due",
        kind="before_due",
        account_id="acc-1",
        statement_id="acc-1:2023-12",
        on=date(2024, 1, 12),
        message_id="credit.notice.before_due",
        params={
            "amount": rub("500.00"),
            "month": date(2023, 12, 1),
            "due_on": date(2024, 1, 15),
            "block_on": date(2024, 1, 30),
        },
    )
    assert render_message(notice.message_id, "ru", **notice.params).replace("\xa0", " ") == (
        "Напоминаем: счёт на 500,00 ₽ за услуги, купленные в кредит, "
        "нужно оплатить до 15 января 2024\u202fг."
    )


def test_each_notice_maps_to_a_finance_notification_with_a_stable_key() -> None:
    line = december_line()
    (notice,) = due_notifications(POLICY, line, date(2024, 1, 30), set())
    kyiv = timezone(timedelta(hours=2))
    n = notice.to_notification(kyiv)
    assert n == Notification(
        "acc-1",
        NotificationCategory.FINANCE,
        "credit.blocked",
        datetime(2024, 1, 30, tzinfo=kyiv),
        {
            "amount": "800.00 RUB",
            "month": "2023-12-01",
            "due_on": "2024-01-15",
            "block_on": "2024-01-30",
        },
        dedup="acc-1:2023-12",
    )
    later = due_notifications(POLICY, line, date(2024, 2, 3), set())[0].to_notification(kyiv)
    assert later.key == n.key == "acc-1:credit.blocked:2024-01-30T00:00:00+02:00:acc-1:2023-12"


def test_each_statement_has_its_own_notices() -> None:
    line = december_line()
    line.record_usage(rub("2400.00"), date(2024, 1, 10))
    issue_statement(POLICY, line, date(2024, 2, 1))
    keys = [n.key for n in due_notifications(POLICY, line, date(2024, 2, 1), set())]
    assert keys == ["acc-1:2023-12:blocked", "acc-1:2024-01:issued"]


@pytest.mark.parametrize("kind", [rule.kind for rule in DEFAULT_NOTICES])
@pytest.mark.parametrize("locale", ["uk", "ru", "de", "en"])
def test_every_default_notice_renders_in_every_language(kind: str, locale: str) -> None:
    line = december_line()
    notices = {n.kind: n for n in due_notifications(POLICY, line, date(2024, 1, 14), set())}
    notices.update({n.kind: n for n in due_notifications(POLICY, line, date(2024, 1, 27), set())})
    notices.update({n.kind: n for n in due_notifications(POLICY, line, date(2024, 1, 30), set())})
    notice = notices[kind]
    text = render_message(notice.message_id, locale, **notice.params)
    assert "800" in text


def test_a_policy_without_blocking_skips_the_block_notices() -> None:
    policy = CreditPolicy(blocked_actions=frozenset())
    line = CreditLine("acc-1", rub("1000.00"))
    line.record_usage(rub("10.00"), date(2023, 12, 1))
    issue_statement(policy, line, date(2024, 1, 1))
    assert run_daily(policy, line, [*january(), date(2024, 3, 1)]) == [
        (date(2024, 1, 1), "issued"),
        (date(2024, 1, 12), "before_due"),
        (date(2024, 1, 16), "after_due"),
    ]
    # With no block date the after-due notice stays open while unpaid.
    assert [n.kind for n in due_notifications(policy, line, date(2024, 3, 1), set())] == [
        "after_due"
    ]


def test_a_custom_schedule() -> None:
    policy = CreditPolicy(
        notices=(
            NoticeRule("issued", NoticeAnchor.ISSUED, 0, NoticeAnchor.DUE, 1),
            NoticeRule(
                "weekly", NoticeAnchor.DUE, 7, NoticeAnchor.BLOCK, 0, "credit.notice.after_due"
            ),
        )
    )
    line = december_line()
    assert run_daily(policy, line, january()) == [
        (date(2024, 1, 1), "issued"),
        (date(2024, 1, 22), "weekly"),
    ]
