"""Credit notices on a schedule, each sent exactly once (SPEC R3).

The schedule is the ``notices`` of a :class:`~cabinet_billing.rules.credit_limit.CreditPolicy`:
by default a notice when a statement is issued, 3 days before its due date, the day after
it, 5 days before the credit line is blocked and on the blocking day. Notices are only
for statements that still have something to pay.

Each notice has a stable key, ``"<statement id>:<kind>"``. The billing run passes the
keys it has already sent, so running twice on one day sends nothing new. A run that
comes late sends every notice whose day has come *and whose window is still open*: a
notice becomes stale when its rule's ``until`` date comes (by default the issue and
before-due notices on the day after the due date, the after-due and before-block notices
on the blocking day), so a customer never reads "3 days before due" after the due date.

>>> from datetime import date
>>> from cabinet_billing.domain.credit import CreditLine
>>> from cabinet_billing.domain.money import Money
>>> from cabinet_billing.rules.credit_limit import CreditPolicy, issue_statement
>>> policy = CreditPolicy()
>>> line = CreditLine("acc-1", Money("150000.00", "RUB"))
>>> _ = line.record_usage(Money("800.00", "RUB"), date(2023, 12, 12))
>>> _ = issue_statement(policy, line, date(2024, 1, 1))
>>> sent: set[str] = set()
>>> for day in range(1, 32):
...     for notice in due_notifications(policy, line, date(2024, 1, day), sent):
...         sent.add(notice.key)
...         print(notice.on.isoformat(), notice.kind)
2024-01-01 issued
2024-01-12 before_due
2024-01-16 after_due
2024-01-25 before_block
2024-01-30 blocked
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType

import attrs

from cabinet_billing.domain.credit import CreditLine, CreditStatement
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.rules.credit_limit import (
    CreditPolicy,
    NoticeAnchor,
    NoticeRule,
    block_date,
)

__all__ = ["CreditNotice", "due_notifications", "next_notice_day", "notice_key", "notice_window"]


def _frozen_params(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def notice_key(statement_id: str, kind: str) -> str:
    """The key that makes a notice unique: ``"<statement id>:<kind>"``.

    >>> notice_key("acc-1:2023-12", "before_due")
    'acc-1:2023-12:before_due'
    """
    return f"{statement_id}:{kind}"


@attrs.frozen
class CreditNotice:
    """A credit notice that is due to be sent.

    Args:
        key: ``"<statement id>:<kind>"``, unique per statement and kind.
        kind: the rule's kind (``"issued"``, ``"before_due"`` ...).
        account_id: the account to notify.
        statement_id: the statement it is about.
        on: the day it was scheduled for (earlier than the run day when the run is late).
        message_id: the message to render.
        params: the values the message needs: ``amount`` (left to pay), ``month``,
            ``due_on`` and, when the policy blocks, ``block_on``.
    """

    key: str
    kind: str
    account_id: str
    statement_id: str
    on: date
    message_id: str
    params: Mapping[str, object] = attrs.field(converter=_frozen_params)

    def to_notification(self, tz: tzinfo = UTC) -> Notification:
        """The finance :class:`Notification` for a host to deliver.

        Its instant is the start of the scheduled day in ``tz``, so its key is the same
        whichever run emits it; its params are the values as text (amounts as
        ``'800.00 RUB'``, dates in ISO format).

        >>> n = CreditNotice("s1:issued", "issued", "acc-1", "s1", date(2024, 1, 1),
        ...                  "credit.notice.issued", {"due_on": date(2024, 1, 15)})
        >>> n.to_notification().key, dict(n.to_notification().params)
        ('acc-1:credit.issued:2024-01-01T00:00:00+00:00:s1', {'due_on': '2024-01-15'})
        """
        return Notification(
            self.account_id,
            NotificationCategory.FINANCE,
            f"credit.{self.kind}",
            datetime.combine(self.on, time(), tzinfo=tz),
            {name: _text(value) for name, value in self.params.items()},
            dedup=self.statement_id,
        )


def _anchor(anchor: NoticeAnchor, statement: CreditStatement, block_on: date | None) -> date | None:
    if anchor is NoticeAnchor.ISSUED:
        return statement.issued_on
    if anchor is NoticeAnchor.DUE:
        return statement.due_on
    return block_on


def notice_window(
    rule: NoticeRule, statement: CreditStatement, block_on: date | None
) -> tuple[date, date | None] | None:
    """The days a notice may be sent: ``(first day, stale day or None)``.

    Returns ``None`` when the rule is anchored on a block date and there is none.

    >>> from cabinet_billing.domain.money import Money
    >>> from cabinet_billing.rules.credit_limit import DEFAULT_NOTICES
    >>> s = CreditStatement("s1", date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15),
    ...                     date(2024, 1, 30), Money("800.00", "RUB"))
    >>> [(a.isoformat(), b and b.isoformat()) for a, b in
    ...  (notice_window(r, s, date(2024, 1, 30)) for r in DEFAULT_NOTICES)]
    [('2024-01-01', '2024-01-16'), ('2024-01-12', '2024-01-16'), ('2024-01-16', '2024-01-30'), ('2024-01-25', '2024-01-30'), ('2024-01-30', None)]
    """
    start = _anchor(rule.anchor, statement, block_on)
    if start is None:
        return None
    first = start + timedelta(days=rule.offset_days)
    if rule.until is None:
        return first, None
    end = _anchor(rule.until, statement, block_on)
    return first, None if end is None else end + timedelta(days=rule.until_offset_days)


def due_notifications(
    policy: CreditPolicy, line: CreditLine, today: date, already_sent: AbstractSet[str]
) -> list[CreditNotice]:
    """The credit notices to send on ``today`` that were not sent before.

    For each statement issued by ``today`` with something left to pay, and each rule of
    the policy's schedule: the notice is due when its first day has come, its window is
    still open (``today`` is before its stale day) and its key is not in
    ``already_sent``. The block date is the one the policy gives for the statement.

    Args:
        policy: the credit policy with the schedule.
        line: the credit line.
        today: the day of the run.
        already_sent: the keys of the notices sent before.

    Returns:
        The notices to send, by scheduled day, then statement, then schedule order.
    """
    found: list[tuple[date, int, int, CreditNotice]] = []
    for s_index, statement in enumerate(line.statements):
        if statement.is_paid or statement.issued_on > today:
            continue
        block_on = block_date(policy, statement.issued_on, statement.due_on)
        params: dict[str, object] = {
            "amount": statement.outstanding,
            "month": statement.month,
            "due_on": statement.due_on,
        }
        if block_on is not None:
            params["block_on"] = block_on
        for r_index, rule in enumerate(policy.notices):
            window = notice_window(rule, statement, block_on)
            key = notice_key(statement.id, rule.kind)
            if window is None or key in already_sent:
                continue
            first, stale = window
            if first > today or (stale is not None and today >= stale):
                continue
            notice = CreditNotice(
                key=key,
                kind=rule.kind,
                account_id=line.account_id,
                statement_id=statement.id,
                on=max(first, statement.issued_on),
                message_id=rule.message_id,
                params=params,
            )
            found.append((first, s_index, r_index, notice))
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found]


def next_notice_day(
    policy: CreditPolicy, line: CreditLine, today: date, already_sent: AbstractSet[str]
) -> date | None:
    """The first day after ``today`` on which :func:`due_notifications` has a notice to send.

    A notice not sent yet whose window is open then: its first day, or tomorrow when that
    day has come already (a notice due today is sent by today's run). ``None`` when no
    notice is left for the unpaid statements.

    >>> from cabinet_billing.domain.money import Money
    >>> from cabinet_billing.rules.credit_limit import issue_statement
    >>> policy = CreditPolicy()
    >>> line = CreditLine("acc-1", Money("150000.00", "RUB"))
    >>> _ = line.record_usage(Money("800.00", "RUB"), date(2023, 12, 12))
    >>> _ = issue_statement(policy, line, date(2024, 1, 1))
    >>> sent = {n.key for n in due_notifications(policy, line, date(2024, 1, 1), set())}
    >>> next_notice_day(policy, line, date(2024, 1, 1), sent).isoformat()
    '2024-01-12'
    """
    tomorrow = today + timedelta(days=1)
    days: list[date] = []
    for statement in line.statements:
        if statement.is_paid:
            continue
        block_on = block_date(policy, statement.issued_on, statement.due_on)
        for rule in policy.notices:
            window = notice_window(rule, statement, block_on)
            if window is None or notice_key(statement.id, rule.kind) in already_sent:
                continue
            first, stale = window
            day = max(first, statement.issued_on, tomorrow)
            if stale is None or day < stale:
                days.append(day)
    return min(days, default=None)
