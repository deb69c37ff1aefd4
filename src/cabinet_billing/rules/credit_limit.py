"""The credit limit as a policy: statements, due dates, overdue states, the dashboard (SPEC R1, R2).

A :class:`CreditPolicy` is data: the statement day, the due day (or net days), and the
overdue *stages*, each a condition "days since the earliest unpaid statement's due date
(or issue date) >= N" leading to a :class:`CreditStatus` and the :class:`CreditAction` s it
blocks. The defaults are the Astra Cloud terms: the statement on the 1st bills the
previous month, it is due on the 15th, overdue from the 16th, and the credit line is
blocked on the 30th (a grace of 15 days). Other dunning styles are other stage tuples.

The state is always computed from the line's statements and the date, so paying the
overdue amount unblocks the line with no flag to reset.

The AC month: credit used in December is billed on January 1, due January 15, overdue
from January 16 and blocked on January 30:

>>> from datetime import date
>>> from cabinet_billing.domain.credit import CreditLine
>>> from cabinet_billing.domain.money import Money
>>> policy = CreditPolicy()
>>> line = CreditLine("acc-1", Money("150000.00", "RUB"))
>>> _ = line.record_usage(Money("800.00", "RUB"), date(2023, 12, 12))
>>> s = issue_statement(policy, line, date(2024, 1, 1))
>>> s.issued_on.isoformat(), s.due_on.isoformat(), s.block_on.isoformat()
('2024-01-01', '2024-01-15', '2024-01-30')
>>> [evaluate_credit(policy, line, date(2024, 1, d)).status.name for d in (15, 16, 29, 30)]
['AWAITING_PAYMENT', 'OVERDUE', 'OVERDUE', 'BLOCKED']
>>> _ = line.apply_payment(Money("800.00", "RUB"), date(2024, 2, 2))
>>> evaluate_credit(policy, line, date(2024, 2, 2)).status.name
'OK'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.credit import CreditLine, CreditStatement, month_start, next_month
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.errors import CreditBlockedError, ValidationError

__all__ = [
    "BLOCKED_WHILE_BLOCKED",
    "DEFAULT_NOTICES",
    "CreditAction",
    "CreditDashboard",
    "CreditPolicy",
    "CreditStage",
    "CreditState",
    "CreditStatus",
    "NoticeAnchor",
    "NoticeRule",
    "StageAnchor",
    "actions_restored",
    "billable_month",
    "block_date",
    "credit_dashboard",
    "due_date",
    "ensure_allowed",
    "evaluate_credit",
    "is_allowed",
    "issue_statement",
    "next_credit_change",
    "next_statement_day",
    "service_stays_active",
    "stage_start",
    "statement_date",
    "statement_month",
    "statement_status",
]

_LAST_DAY_OF_MONTH: Final = 31
_ONE_DAY: Final = timedelta(days=1)


class CreditAction(enum.Enum):
    """What a customer or the billing run may do that a blocked credit line can forbid."""

    #: Pay for a service (an order or a renewal) from the credit line.
    PAY_FROM_CREDIT = "pay_from_credit"
    #: Pay for a service from the balance.
    PAY_FROM_BALANCE = "pay_from_balance"
    #: Renew a service through the cart.
    RENEW_THROUGH_CART = "renew_through_cart"
    #: Renew a service automatically from the balance.
    AUTO_RENEW_FROM_BALANCE = "auto_renew_from_balance"
    #: Top up the balance.
    TOP_UP = "top_up"
    #: Renew a service automatically from a saved payment method (a subscription).
    AUTO_RENEW_FROM_SAVED_METHOD = "auto_renew_from_saved_method"


#: What the Astra Cloud cabinet forbids while the credit line is blocked: paying for
#: services, renewing through the cart, auto-renewal from the balance. Topping up and
#: auto-renewal from a saved payment method stay allowed.
BLOCKED_WHILE_BLOCKED: Final = frozenset(
    {
        CreditAction.PAY_FROM_CREDIT,
        CreditAction.PAY_FROM_BALANCE,
        CreditAction.RENEW_THROUGH_CART,
        CreditAction.AUTO_RENEW_FROM_BALANCE,
    },
)


class CreditStatus(enum.Enum):
    """The state of a credit line on a day."""

    #: Nothing billed is unpaid.
    OK = "ok"
    #: A statement is issued and not yet due.
    AWAITING_PAYMENT = "awaiting_payment"
    #: A statement is past its due date.
    OVERDUE = "overdue"
    #: A statement stayed unpaid past the grace period: the blocked actions are refused.
    BLOCKED = "blocked"


# The statuses whose statements count as overdue on the dashboard.
_PAST_DUE: Final = frozenset({CreditStatus.OVERDUE, CreditStatus.BLOCKED})

_MESSAGES: Final = {
    CreditStatus.OK: "credit.ok",
    CreditStatus.AWAITING_PAYMENT: "credit.awaiting",
    CreditStatus.OVERDUE: "credit.overdue",
    CreditStatus.BLOCKED: "credit.blocked",
}


class StageAnchor(enum.Enum):
    """The date of the earliest unpaid statement a stage counts its days from."""

    ISSUED = "issued"
    DUE = "due"


def _whole(field: str, value: object, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, "must be a whole number of days")
    if minimum is not None and value < minimum:
        raise ValidationError(field, value, f"must be at least {minimum}")
    return value


def _day_of_month(field: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= _LAST_DAY_OF_MONTH
    ):
        raise ValidationError(field, value, "must be a day of month from 1 to 31")


def _actions(value: Iterable[object]) -> frozenset[CreditAction]:
    actions: set[CreditAction] = set()
    for action in value:
        if not isinstance(action, CreditAction):
            raise ValidationError(
                "actions", action, f"expected one of {', '.join(a.name for a in CreditAction)}"
            )
        actions.add(action)
    return frozenset(actions)


@attrs.frozen
class CreditStage:
    """One overdue stage: from ``after_days`` days after the anchor date on, ``status``.

    Args:
        status: the status in this stage (not ``OK``).
        after_days: the stage starts when the days since the anchor date of the earliest
            unpaid statement reach this number (may be negative: "3 days before due").
        anchor: count from its due date (default) or its issue date.
        blocks: the actions refused in this stage.
        message_id: the message shown in this stage (default: one per status).

    >>> CreditStage(CreditStatus.BLOCKED, 15, blocks=BLOCKED_WHILE_BLOCKED).message_id
    'credit.blocked'
    """

    status: CreditStatus = attrs.field()
    after_days: int = attrs.field()
    anchor: StageAnchor = attrs.field(default=StageAnchor.DUE)
    blocks: frozenset[CreditAction] = attrs.field(default=frozenset(), converter=_actions)
    message_id: str = attrs.field()

    @status.validator
    def _check_status(self, _attribute: object, value: object) -> None:
        if not isinstance(value, CreditStatus) or value is CreditStatus.OK:
            raise ValidationError(
                "status", value, "must be AWAITING_PAYMENT, OVERDUE or BLOCKED (OK has no stage)"
            )

    @after_days.validator
    def _check_days(self, _attribute: object, value: object) -> None:
        _whole("after_days", value)

    @anchor.validator
    def _check_anchor(self, _attribute: object, value: object) -> None:
        if not isinstance(value, StageAnchor):
            raise ValidationError("anchor", value, "must be StageAnchor.ISSUED or StageAnchor.DUE")

    @message_id.default
    def _default_message(self) -> str:
        return _MESSAGES[self.status]


class NoticeAnchor(enum.Enum):
    """The statement date a notice is scheduled from."""

    ISSUED = "issued"
    DUE = "due"
    BLOCK = "block"


@attrs.frozen
class NoticeRule:
    """When one kind of credit notice is sent for an unpaid statement.

    The notice is due ``offset_days`` after the anchor date and may still be sent until
    (not including) ``until_offset_days`` after ``until``; ``until=None`` means while the
    statement is unpaid. A rule anchored on the block date does nothing when the policy
    never blocks.

    Args:
        kind: a stable name such as ``"before_due"``.
        anchor: the date the notice is scheduled from.
        offset_days: days after the anchor (negative: before).
        until: the date after which the notice is stale, or ``None``.
        until_offset_days: days after ``until``.
        message_id: the message to render (default ``"credit.notice.<kind>"``).

    >>> NoticeRule("before_due", NoticeAnchor.DUE, -3, NoticeAnchor.DUE, 1).message_id
    'credit.notice.before_due'
    """

    kind: str = attrs.field(validator=attrs.validators.min_len(1))
    anchor: NoticeAnchor = attrs.field(validator=attrs.validators.instance_of(NoticeAnchor))
    offset_days: int = attrs.field()
    until: NoticeAnchor | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(NoticeAnchor)),
    )
    until_offset_days: int = attrs.field(default=0)
    message_id: str = attrs.field()

    @offset_days.validator
    @until_offset_days.validator
    def _check_days(self, attribute: attrs.Attribute[int], value: object) -> None:
        _whole(attribute.name, value)

    @message_id.default
    def _default_message(self) -> str:
        return f"credit.notice.{self.kind}"


#: The Astra Cloud schedule: on issue; 3 days before the due date; the day after it;
#: 5 days before blocking; on the blocking day. Each may be sent late only while it
#: still makes sense (the issue and before-due notices until the due day, the after-due
#: and before-block notices until the block day, the blocked notice while unpaid).
DEFAULT_NOTICES: Final = (
    NoticeRule("issued", NoticeAnchor.ISSUED, 0, NoticeAnchor.DUE, 1),
    NoticeRule("before_due", NoticeAnchor.DUE, -3, NoticeAnchor.DUE, 1),
    NoticeRule("after_due", NoticeAnchor.DUE, 1, NoticeAnchor.BLOCK, 0),
    NoticeRule("before_block", NoticeAnchor.BLOCK, -5, NoticeAnchor.BLOCK, 0),
    NoticeRule("blocked", NoticeAnchor.BLOCK, 0),
)


def _default_stages(policy: CreditPolicy) -> tuple[CreditStage, ...]:
    # Runs before the field validators: check the values it builds from first.
    _whole("overdue_after_days", policy.overdue_after_days, 0)
    _whole("grace_days", policy.grace_days, 0)
    return (
        CreditStage(CreditStatus.AWAITING_PAYMENT, 0, StageAnchor.ISSUED),
        CreditStage(CreditStatus.OVERDUE, policy.overdue_after_days),
        CreditStage(CreditStatus.BLOCKED, policy.grace_days, blocks=policy.blocked_actions),
    )


def _stages(value: Iterable[object]) -> tuple[CreditStage, ...]:
    stages: list[CreditStage] = []
    for stage in value:
        if not isinstance(stage, CreditStage):
            raise ValidationError("stages", stage, "expected CreditStage values")
        stages.append(stage)
    return tuple(stages)


def _notices(value: Iterable[object]) -> tuple[NoticeRule, ...]:
    rules: list[NoticeRule] = []
    for rule in value:
        if not isinstance(rule, NoticeRule):
            raise ValidationError("notices", rule, "expected NoticeRule values")
        rules.append(rule)
    kinds = [r.kind for r in rules]
    if len(set(kinds)) != len(kinds):
        raise ValidationError("notices", kinds, "each notice kind may appear once")
    return tuple(rules)


@attrs.frozen
class CreditPolicy:
    """The terms of a credit line.

    Args:
        statement_day: the day of month statements are issued (1 to 31; the last day in
            shorter months). The statement bills the usage of the previous month.
        due_day: the day of month a statement is due: the first such day after the issue
            day (default 15).
        net_days: when set, a statement is due this many days after its issue instead,
            and ``due_day`` is not used.
        overdue_after_days: days after the due date when a statement becomes overdue
            (default 1: the 16th).
        grace_days: days after the due date when the line is blocked (default 15: the
            30th).
        blocked_actions: what the blocked stage refuses (default
            :data:`BLOCKED_WHILE_BLOCKED`).
        stages: the overdue stages in escalating order; the state is the last stage
            whose condition holds. Default: awaiting payment from the issue day, overdue
            from ``overdue_after_days`` and blocked from ``grace_days`` after the due
            date, built from the fields above.
        notices: the notification schedule (default :data:`DEFAULT_NOTICES`).

    >>> p = CreditPolicy()
    >>> [(s.status.name, s.anchor.name, s.after_days) for s in p.stages]
    [('AWAITING_PAYMENT', 'ISSUED', 0), ('OVERDUE', 'DUE', 1), ('BLOCKED', 'DUE', 15)]
    >>> CreditPolicy(due_day=32)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: due_day=32 is invalid: must be a day of month from 1 to 31
    """

    statement_day: int = attrs.field(default=1)
    due_day: int = attrs.field(default=15)
    net_days: int | None = attrs.field(default=None)
    overdue_after_days: int = attrs.field(default=1)
    grace_days: int = attrs.field(default=15)
    blocked_actions: frozenset[CreditAction] = attrs.field(
        default=BLOCKED_WHILE_BLOCKED, converter=_actions
    )
    stages: tuple[CreditStage, ...] = attrs.field(
        default=attrs.Factory(_default_stages, takes_self=True), converter=_stages
    )
    notices: tuple[NoticeRule, ...] = attrs.field(default=DEFAULT_NOTICES, converter=_notices)

    @statement_day.validator
    @due_day.validator
    def _check_day(self, attribute: attrs.Attribute[int], value: object) -> None:
        _day_of_month(attribute.name, value)

    @net_days.validator
    def _check_net(self, _attribute: object, value: object) -> None:
        if value is not None:
            _whole("net_days", value, 0)

    @overdue_after_days.validator
    @grace_days.validator
    def _check_days(self, attribute: attrs.Attribute[int], value: object) -> None:
        _whole(attribute.name, value, 0)


# ---------------------------------------------------------------------- calendar


def _on_day(month: date, day: int) -> date:
    """``day`` in the month of ``month``, or its last day when the month is shorter."""
    last = next_month(month) - _ONE_DAY
    return month_start(month).replace(day=min(day, last.day))


def statement_date(policy: CreditPolicy, month: date) -> date:
    """The day the statement for ``month`` is issued: the statement day of the next month.

    >>> statement_date(CreditPolicy(), date(2023, 12, 1)).isoformat()
    '2024-01-01'
    >>> statement_date(CreditPolicy(statement_day=31), date(2024, 1, 1)).isoformat()
    '2024-02-29'
    """
    return _on_day(next_month(month), policy.statement_day)


def billable_month(policy: CreditPolicy, today: date) -> date:
    """The latest month whose statement day has come by ``today`` (first day of the month).

    A run on the statement day bills the previous month; a late run bills the same month.

    >>> billable_month(CreditPolicy(), date(2024, 1, 1)).isoformat()
    '2023-12-01'
    >>> billable_month(CreditPolicy(statement_day=5), date(2024, 1, 3)).isoformat()
    '2023-11-01'
    """
    previous = month_start(month_start(today) - _ONE_DAY)
    if statement_date(policy, previous) <= today:
        return previous
    return month_start(previous - _ONE_DAY)


def statement_month(policy: CreditPolicy, today: date) -> date | None:
    """The month to bill if ``today`` is a statement day, else ``None``.

    >>> statement_month(CreditPolicy(), date(2024, 1, 1)).isoformat()
    '2023-12-01'
    >>> statement_month(CreditPolicy(), date(2024, 1, 2)) is None
    True
    """
    month = billable_month(policy, today)
    return month if statement_date(policy, month) == today else None


def due_date(policy: CreditPolicy, issued_on: date) -> date:
    """The due date of a statement issued on ``issued_on``.

    With ``net_days``, that many days later; otherwise the first ``due_day`` after the
    issue day.

    >>> due_date(CreditPolicy(), date(2024, 1, 1)).isoformat()
    '2024-01-15'
    >>> due_date(CreditPolicy(), date(2024, 1, 20)).isoformat()
    '2024-02-15'
    >>> due_date(CreditPolicy(net_days=10), date(2024, 1, 1)).isoformat()
    '2024-01-11'
    """
    if policy.net_days is not None:
        return issued_on + timedelta(days=policy.net_days)
    candidate = _on_day(issued_on, policy.due_day)
    return candidate if candidate > issued_on else _on_day(next_month(issued_on), policy.due_day)


def stage_start(stage: CreditStage, issued_on: date, due_on: date) -> date:
    """The first day of ``stage`` for a statement with these dates.

    >>> stage_start(CreditPolicy().stages[2], date(2024, 1, 1), date(2024, 1, 15)).isoformat()
    '2024-01-30'
    """
    anchor = issued_on if stage.anchor is StageAnchor.ISSUED else due_on
    return anchor + timedelta(days=stage.after_days)


def block_date(policy: CreditPolicy, issued_on: date, due_on: date) -> date | None:
    """The first day of the first stage that blocks something, or ``None``.

    >>> block_date(CreditPolicy(), date(2024, 8, 1), date(2024, 8, 15)).isoformat()
    '2024-08-30'
    """
    starts = [stage_start(s, issued_on, due_on) for s in policy.stages if s.blocks]
    return starts[0] if starts else None


def issue_statement(policy: CreditPolicy, line: CreditLine, today: date) -> CreditStatement | None:
    """Issue the statement that is due by ``today``, if any; safe to run again.

    Bills the latest month whose statement day has come (see :func:`billable_month`),
    with ``today`` as the issue day and the due and block dates the policy gives. A late
    run counts the due date from the day it actually issues the statement.

    Returns:
        The new statement, or ``None`` when that month is already billed or there is
        nothing to bill.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("1000.00", "EUR"))
    >>> _ = line.record_usage(Money("42.99", "EUR"), date(2024, 7, 3))
    >>> issue_statement(CreditPolicy(), line, date(2024, 8, 1)).id
    'acc-1:2024-07'
    >>> issue_statement(CreditPolicy(), line, date(2024, 8, 1)) is None
    True
    """
    month = billable_month(policy, today)
    billed = line.billed_through
    if billed is not None and month <= billed:
        return None
    due = due_date(policy, today)
    return line.issue_statement(month, today, due, block_date(policy, today, due))


def next_statement_day(
    policy: CreditPolicy, line: CreditLine, today: date, *, pending: bool = False
) -> date | None:
    """The first statement day after ``today`` that issues a statement for ``line``.

    A statement day bills the usage dated before its month (see :func:`billable_month`):
    the next statement day when some usage is that old, else the one after it (usage is
    never dated after ``today``). ``None`` when nothing is unbilled, unless ``pending``
    says something goes on the next statement anyway (the billing run's leftover
    fractions of daily charges).

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("1000.00", "EUR"))
    >>> next_statement_day(CreditPolicy(), line, date(2024, 7, 3)) is None
    True
    >>> _ = line.record_usage(Money("42.99", "EUR"), date(2024, 7, 3))
    >>> next_statement_day(CreditPolicy(), line, date(2024, 7, 3)).isoformat()
    '2024-08-01'
    >>> next_statement_day(CreditPolicy(statement_day=5), line, date(2024, 7, 3)).isoformat()
    '2024-08-05'
    """
    first = _on_day(today, policy.statement_day)
    if first <= today:
        first = _on_day(next_month(today), policy.statement_day)
    if pending:
        return first
    usage = line.unbilled_usage
    if not usage:
        return None
    if any(u.on < month_start(first) for u in usage):
        return first
    return _on_day(next_month(first), policy.statement_day)


def next_credit_change(policy: CreditPolicy, line: CreditLine, today: date) -> date | None:
    """The first day after ``today`` on which what ``line`` blocks changes by time alone.

    The state follows the stages of the unpaid statements; only a payment (or a new
    statement) changes it otherwise. ``None`` when no stage ahead changes the actions
    blocked.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("1000.00", "EUR"))
    >>> _ = line.record_usage(Money("42.99", "EUR"), date(2024, 7, 3))
    >>> _ = issue_statement(CreditPolicy(), line, date(2024, 8, 1))
    >>> next_credit_change(CreditPolicy(), line, date(2024, 8, 1)).isoformat()
    '2024-08-30'
    >>> next_credit_change(CreditPolicy(), line, date(2024, 8, 30)) is None
    True
    """
    unpaid = [s for s in line.statements if not s.is_paid]
    starts = sorted(
        {
            start
            for s in unpaid
            for start in (
                s.issued_on,
                *(stage_start(stage, s.issued_on, s.due_on) for stage in policy.stages),
            )
            if start > today
        },
    )
    now = evaluate_credit(policy, line, today).blocked_actions
    return next(
        (d for d in starts if evaluate_credit(policy, line, d).blocked_actions != now), None
    )


# ---------------------------------------------------------------------- state


def _frozen_params(value: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(value))


@attrs.frozen
class CreditState:
    """The state of a credit line on a day, with what to show and what is refused.

    Args:
        status: OK, awaiting payment, overdue or blocked.
        today: the day it was evaluated for.
        statement_id: the earliest unpaid statement, or ``None``.
        due_on: its due date.
        block_on: the first day anything is (or was) blocked because of it, if the
            policy blocks.
        pay_by: the last day to pay to avoid the next consequence (the due date while
            awaiting payment, the day before more gets blocked while overdue), or ``None``.
        blocked_actions: the actions refused today.
        message_id: the message to show (see :func:`cabinet_billing.l10n.render_message`).
        params: the values the message needs.
    """

    status: CreditStatus
    today: date
    statement_id: str | None
    due_on: date | None
    block_on: date | None
    pay_by: date | None
    blocked_actions: frozenset[CreditAction]
    message_id: str
    params: Mapping[str, object] = attrs.field(converter=_frozen_params)

    @property
    def is_blocked(self) -> bool:
        """Whether any action is refused today."""
        return bool(self.blocked_actions)

    def allows(self, action: CreditAction) -> bool:
        """Whether ``action`` is allowed today."""
        return action not in self.blocked_actions


def _stage(policy: CreditPolicy, statement: CreditStatement, today: date) -> CreditStage | None:
    current: CreditStage | None = None
    for stage in policy.stages:
        if stage_start(stage, statement.issued_on, statement.due_on) <= today:
            current = stage
    return current


def statement_status(policy: CreditPolicy, statement: CreditStatement, today: date) -> CreditStatus:
    """The status one statement gives on ``today``: the last stage whose day has come.

    A paid statement, or one issued after ``today``, gives ``OK``; an unpaid one before
    any stage has begun counts as awaiting payment.

    >>> from cabinet_billing.domain.money import Money
    >>> s = CreditStatement("s1", date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15),
    ...                     date(2024, 1, 30), Money("800.00", "RUB"))
    >>> [statement_status(CreditPolicy(), s, date(2024, 1, d)).name for d in (15, 16, 30)]
    ['AWAITING_PAYMENT', 'OVERDUE', 'BLOCKED']
    """
    if statement.is_paid or statement.issued_on > today:
        return CreditStatus.OK
    stage = _stage(policy, statement, today)
    return CreditStatus.AWAITING_PAYMENT if stage is None else stage.status


def evaluate_credit(policy: CreditPolicy, line: CreditLine, today: date) -> CreditState:
    """The state of ``line`` on ``today`` under ``policy``.

    The earliest unpaid statement (by due date) decides: its state is the last stage of
    the policy whose start day has come. With no unpaid statement the line is OK.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("400000.00", "RUB"))
    >>> _ = line.record_usage(Money("34134.48", "RUB"), date(2024, 7, 20))
    >>> _ = issue_statement(CreditPolicy(), line, date(2024, 8, 1))
    >>> st = evaluate_credit(CreditPolicy(), line, date(2024, 8, 5))
    >>> st.status.name, st.message_id, {k: str(v) for k, v in st.params.items()}
    ('AWAITING_PAYMENT', 'credit.awaiting', {'due_on': '2024-08-15', 'block_on': '2024-08-30', 'pay_by': '2024-08-15'})
    >>> st = evaluate_credit(CreditPolicy(), line, date(2024, 8, 16))
    >>> st.status.name, st.pay_by.isoformat()
    ('OVERDUE', '2024-08-29')
    """
    unpaid = [s for s in line.statements if not s.is_paid and s.issued_on <= today]
    if not unpaid:
        return CreditState(
            status=CreditStatus.OK,
            today=today,
            statement_id=None,
            due_on=None,
            block_on=None,
            pay_by=None,
            blocked_actions=frozenset(),
            message_id=_MESSAGES[CreditStatus.OK],
            params={"limit": line.limit, "available": line.available},
        )
    earliest = min(unpaid, key=lambda s: (s.due_on, s.issued_on))
    current = _stage(policy, earliest, today)
    status = CreditStatus.AWAITING_PAYMENT if current is None else current.status
    blocks: frozenset[CreditAction] = frozenset() if current is None else current.blocks
    message = _MESSAGES[status] if current is None else current.message_id
    block_on = block_date(policy, earliest.issued_on, earliest.due_on)
    # The next day more gets blocked: what the messages warn about.
    upcoming = [
        start
        for stage in policy.stages
        if stage.blocks - blocks
        and (start := stage_start(stage, earliest.issued_on, earliest.due_on)) > today
    ]
    next_block = min(upcoming, default=None)
    pay_by: date | None = None
    if status is CreditStatus.AWAITING_PAYMENT:
        pay_by = earliest.due_on
    elif status is CreditStatus.OVERDUE and next_block is not None:
        pay_by = next_block - _ONE_DAY
    params: dict[str, object] = {"due_on": earliest.due_on}
    if next_block is not None:
        params["block_on"] = next_block
    if pay_by is not None:
        params["pay_by"] = pay_by
    if status is CreditStatus.BLOCKED:
        params = {"overdue": _overdue(policy, line, today)}
    elif next_block is None:
        message = f"{message}.no_block"
    return CreditState(
        status=status,
        today=today,
        statement_id=earliest.id,
        due_on=earliest.due_on,
        block_on=block_on,
        pay_by=pay_by,
        blocked_actions=blocks,
        message_id=message,
        params=params,
    )


def _overdue(policy: CreditPolicy, line: CreditLine, today: date) -> Money:
    return sum_money(
        (s.outstanding for s in line.statements if statement_status(policy, s, today) in _PAST_DUE),
        line.currency,
    )


def is_allowed(policy: CreditPolicy, line: CreditLine, today: date, action: CreditAction) -> bool:
    """Whether ``action`` is allowed for ``line`` on ``today``."""
    return evaluate_credit(policy, line, today).allows(action)


def ensure_allowed(
    policy: CreditPolicy, line: CreditLine, today: date, action: CreditAction
) -> CreditState:
    """Return the state if ``action`` is allowed today, else raise.

    Raises:
        CreditBlockedError: naming the account, the action, the block date, the overdue
            amount that unblocks the line and the actions still allowed.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("150000.00", "RUB"))
    >>> _ = line.record_usage(Money("800.00", "RUB"), date(2023, 12, 12))
    >>> _ = issue_statement(CreditPolicy(), line, date(2024, 1, 1))
    >>> ensure_allowed(CreditPolicy(), line, date(2024, 1, 30), CreditAction.TOP_UP).status.name
    'BLOCKED'
    >>> ensure_allowed(CreditPolicy(), line, date(2024, 1, 30), CreditAction.PAY_FROM_CREDIT)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.CreditBlockedError: acc-1 may not pay_from_credit: the credit line is blocked since 2024-01-30; pay the overdue 800.00 RUB to unblock it (still allowed: auto_renew_from_saved_method, top_up)
    """
    state = evaluate_credit(policy, line, today)
    if state.allows(action):
        return state
    allowed = sorted(a.value for a in CreditAction if state.allows(a))
    raise CreditBlockedError(
        line.account_id,
        action.value,
        state.block_on.isoformat() if state.block_on else today.isoformat(),
        _overdue(policy, line, today),
        allowed,
    )


def actions_restored(before: CreditState, after: CreditState) -> frozenset[CreditAction]:
    """The actions refused in ``before`` and allowed again in ``after``.

    After a payment, a host compares the states: when
    ``CreditAction.AUTO_RENEW_FROM_BALANCE`` comes back, it switches auto-renewal from the
    balance back on for the services that had it.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("150000.00", "RUB"))
    >>> _ = line.record_usage(Money("800.00", "RUB"), date(2023, 12, 12))
    >>> _ = issue_statement(CreditPolicy(), line, date(2024, 1, 1))
    >>> before = evaluate_credit(CreditPolicy(), line, date(2024, 2, 1))
    >>> _ = line.apply_payment(Money("800.00", "RUB"), date(2024, 2, 1))
    >>> after = evaluate_credit(CreditPolicy(), line, date(2024, 2, 1))
    >>> sorted(a.value for a in actions_restored(before, after))
    ['auto_renew_from_balance', 'pay_from_balance', 'pay_from_credit', 'renew_through_cart']
    """
    return before.blocked_actions - after.blocked_actions


def service_stays_active(paid_until: date, today: date) -> bool:
    """Whether a service paid until ``paid_until`` (exclusive) is still running on ``today``.

    Blocking a credit line stops new charges and auto-renewal from the balance; it does
    not cut a period that is already paid, so this does not depend on the credit state.

    >>> service_stays_active(date(2024, 2, 20), date(2024, 1, 30))
    True
    >>> service_stays_active(date(2024, 2, 20), date(2024, 2, 20))
    False
    """
    return today < paid_until


# ---------------------------------------------------------------------- dashboard


@attrs.frozen
class CreditDashboard:
    """The credit-limit widget: amounts that always sum to the limit (SPEC R2).

    Args:
        limit: the credit limit.
        overdue: what is left to pay of the statements that are overdue or blocked
            (see :func:`statement_status`).
        awaiting: what is left to pay of the statements awaiting payment.
        spent: usage since the last statement ("spent", not billed yet).
        available: what may still be used; zero while blocked.
        unavailable: what is left of the limit but cannot be used because the line is
            blocked; zero otherwise.
        state: the state, for the message and dates to show.
    """

    limit: Money
    overdue: Money
    awaiting: Money
    spent: Money
    available: Money
    unavailable: Money
    state: CreditState

    def parts(self) -> tuple[Money, Money, Money, Money, Money]:
        """Overdue, awaiting, spent, available and unavailable: they sum to the limit."""
        return (self.overdue, self.awaiting, self.spent, self.available, self.unavailable)


def credit_dashboard(policy: CreditPolicy, line: CreditLine, today: date) -> CreditDashboard:
    """The dashboard of ``line`` on ``today``.

    >>> from cabinet_billing.domain.money import Money
    >>> line = CreditLine("acc-1", Money("400000.00", "RUB"))
    >>> _ = line.record_usage(Money("34134.48", "RUB"), date(2024, 7, 20))
    >>> _ = issue_statement(CreditPolicy(), line, date(2024, 8, 1))
    >>> d = credit_dashboard(CreditPolicy(), line, date(2024, 8, 5))
    >>> str(d.awaiting), str(d.available)
    ('34134.48 RUB', '365865.52 RUB')
    """
    state = evaluate_credit(policy, line, today)
    code = line.currency
    statuses = [(s, statement_status(policy, s, today)) for s in line.statements]
    overdue = sum_money((s.outstanding for s, st in statuses if st in _PAST_DUE), code)
    awaiting = sum_money(
        (s.outstanding for s, st in statuses if st is CreditStatus.AWAITING_PAYMENT), code
    )
    # Statements dated after ``today`` (a view of the past) still hold their usage.
    later = sum_money((s.outstanding for s in line.statements if s.issued_on > today), code)
    spent = line.unbilled + later
    rest = line.limit - overdue - awaiting - spent
    zero = Money.zero(code)
    blocked = CreditAction.PAY_FROM_CREDIT in state.blocked_actions
    return CreditDashboard(
        limit=line.limit,
        overdue=overdue,
        awaiting=awaiting,
        spent=spent,
        available=zero if blocked else rest,
        unavailable=rest if blocked else zero,
        state=state,
    )
