from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cabinet_billing.domain.credit import CreditLine, StatementStatus
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.errors import AmountOutOfRangeError, CreditBlockedError
from cabinet_billing.l10n import render_message
from cabinet_billing.rules.credit_limit import (
    BLOCKED_WHILE_BLOCKED,
    CreditAction,
    CreditPolicy,
    CreditStatus,
    credit_dashboard,
    ensure_allowed,
    evaluate_credit,
    issue_statement,
)
from cabinet_billing.rules.dunning import due_notifications

POLICIES = st.sampled_from(
    [
        CreditPolicy(),
        CreditPolicy(grace_days=46),
        CreditPolicy(statement_day=31, due_day=10, grace_days=5),
        CreditPolicy(net_days=10, overdue_after_days=3, grace_days=20),
        CreditPolicy(blocked_actions=frozenset()),
    ],
)
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(6000), places=2)


def expected_status(policy: CreditPolicy, line: CreditLine, today: date) -> CreditStatus:
    """The state recomputed from the statements and the policy's numbers."""
    unpaid = [s for s in line.statements if s.amount != s.paid and s.issued_on <= today]
    if not unpaid:
        return CreditStatus.OK
    due = min(s.due_on for s in unpaid)
    late = (today - due).days
    if late >= policy.grace_days:
        return CreditStatus.BLOCKED
    if late >= policy.overdue_after_days:
        return CreditStatus.OVERDUE
    return CreditStatus.AWAITING_PAYMENT


def expected_due(policy: CreditPolicy, issued: date) -> date:
    if policy.net_days is not None:
        return issued + timedelta(days=policy.net_days)
    year, month = issued.year, issued.month
    while True:
        day = min(policy.due_day, calendar.monthrange(year, month)[1])
        candidate = date(year, month, day)
        if candidate > issued:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class CreditMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = CreditPolicy()
        self.line = CreditLine("acc-1", Money("10000.00", "EUR"))
        self.today = date(2023, 11, 20)
        self.sent: set[str] = set()
        self.used = Decimal(0)
        self.repaid = Decimal(0)

    @initialize(policy=POLICIES, start=st.integers(0, 60))
    def setup(self, policy: CreditPolicy, start: int) -> None:
        self.policy = policy
        self.today += timedelta(days=start)

    def _run_billing(self) -> None:
        s = issue_statement(self.policy, self.line, self.today)
        if s is not None:
            assert s.issued_on == self.today
            assert s.due_on == expected_due(self.policy, self.today)
            assert s.month < self.today.replace(day=1)
        again = issue_statement(self.policy, self.line, self.today)
        assert again is None
        notices = due_notifications(self.policy, self.line, self.today, self.sent)
        keys = [n.key for n in notices]
        assert len(keys) == len(set(keys))
        assert not self.sent.intersection(keys)
        for n in notices:
            assert n.on <= self.today
            render_message(n.message_id, "uk", **n.params)
        self.sent.update(keys)
        assert due_notifications(self.policy, self.line, self.today, self.sent) == []

    @rule(days=st.integers(1, 20))
    def advance(self, days: int) -> None:
        self.today += timedelta(days=days)
        self._run_billing()

    @rule()
    def run_again(self) -> None:
        self._run_billing()

    @rule(amount=AMOUNTS)
    def use_credit(self, amount: Decimal) -> None:
        money = Money(amount, "EUR")
        before = (self.line.unbilled_usage, self.line.statements)
        try:
            ensure_allowed(self.policy, self.line, self.today, CreditAction.PAY_FROM_CREDIT)
        except CreditBlockedError:
            assert (
                evaluate_credit(self.policy, self.line, self.today).status is CreditStatus.BLOCKED
            )
            return
        try:
            self.line.record_usage(money, self.today)
        except AmountOutOfRangeError:
            assert money > self.line.available
            assert (self.line.unbilled_usage, self.line.statements) == before
            return
        self.used += amount

    @precondition(lambda self: self.line.outstanding.amount > 0)
    @rule(share=st.integers(1, 120))
    def pay(self, share: int) -> None:
        owed = self.line.outstanding.amount
        amount = max((owed * share / 100).quantize(Decimal("0.01")), Decimal("0.01"))
        result = self.line.apply_payment(Money(amount, "EUR"), self.today)
        applied = sum_money((part for _, part in result.applied), "EUR")
        assert applied + result.remainder == Money(amount, "EUR")
        assert result.remainder.amount == max(amount - owed, Decimal(0))
        self.repaid += applied.amount
        state = evaluate_credit(self.policy, self.line, self.today)
        if not self.line.outstanding.amount:
            assert state.status is CreditStatus.OK

    @rule(amount=st.decimals(min_value=Decimal(0), max_value=Decimal(20000), places=2))
    def change_limit(self, amount: Decimal) -> None:
        new = Money(amount, "EUR")
        if new < self.line.debt:
            with pytest.raises(AmountOutOfRangeError):
                self.line.change_limit(new)
        else:
            self.line.change_limit(new)
        assert self.line.limit.amount >= self.line.debt.amount

    @invariant()
    def dashboard_sums_to_the_limit(self) -> None:
        d = credit_dashboard(self.policy, self.line, self.today)
        assert sum_money(d.parts(), "EUR") == d.limit == self.line.limit
        assert all(part.amount >= 0 for part in d.parts())
        assert d.available.amount == 0 or d.unavailable.amount == 0
        issued = [s for s in self.line.statements if s.issued_on <= self.today]
        late = [(self.today - s.due_on).days >= self.policy.overdue_after_days for s in issued]
        assert d.overdue == sum_money(
            (s.outstanding for s, x in zip(issued, late, strict=True) if x), "EUR"
        )
        assert d.awaiting == sum_money(
            (s.outstanding for s, x in zip(issued, late, strict=True) if not x), "EUR"
        )
        blocked = expected_status(self.policy, self.line, self.today) is CreditStatus.BLOCKED
        if blocked and self.policy.blocked_actions:
            assert d.available.amount == 0
        else:
            assert d.unavailable.amount == 0

    @invariant()
    def state_matches_the_policy(self) -> None:
        state = evaluate_credit(self.policy, self.line, self.today)
        event(f"status {state.status.name}")
        assert state.status is expected_status(self.policy, self.line, self.today)
        if state.status is CreditStatus.BLOCKED:
            assert state.blocked_actions == self.policy.blocked_actions
        else:
            assert state.blocked_actions == frozenset()
        assert self.policy.blocked_actions <= BLOCKED_WHILE_BLOCKED

    @invariant()
    def money_is_conserved(self) -> None:
        assert self.line.debt.amount == self.used - self.repaid
        for s in self.line.statements:
            expected = (
                StatementStatus.FULLY_REPAID
                if s.paid == s.amount
                else StatementStatus.PARTIALLY_PAID
                if s.paid.amount
                else StatementStatus.TO_PAY
            )
            assert s.status is expected


CreditMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestCreditMachine = pytest.mark.spec("R1", "R2", "R3")(CreditMachine.TestCase)
