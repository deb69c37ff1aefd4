"""Random conversations against the ticket lifecycle (SPEC S1)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cabinet_billing.domain.support import (
    TICKET_TRANSITIONS,
    Ticket,
    TicketAction,
    TicketAttachment,
    TicketEventKind,
    TicketPolicy,
    TicketSide,
    TicketStatus,
    ticket_notification,
)
from cabinet_billing.errors import InvalidTransitionError, ValidationError

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
SIDES = st.sampled_from(list(TicketSide))
FILE = TicketAttachment("log.txt", 2_000, "text/plain")
REACHABLE = {TicketStatus.AWAITING_STAFF, TicketStatus.AWAITING_CUSTOMER} | {
    target for moves in TICKET_TRANSITIONS.values() for target in moves.values()
}
OTHER = {TicketSide.CUSTOMER: TicketSide.STAFF, TicketSide.STAFF: TicketSide.CUSTOMER}


class TicketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ticket: Ticket | None = None
        self.policy = TicketPolicy()
        self.clock = T0
        self.unread: dict[TicketSide, bool] = {}
        self.refused = 0

    @property
    def t(self) -> Ticket:
        assert self.ticket is not None
        return self.ticket

    @initialize(opened_by=SIDES, reopen=st.booleans())
    def open_ticket(self, opened_by: TicketSide, reopen: bool) -> None:
        self.policy = TicketPolicy(reopen_on_customer_reply=reopen)
        self.ticket, _ = Ticket.open(
            "t-1",
            "acc-1",
            department="technical",
            subject="Server down",
            text="Hello",
            at=self.clock,
            opened_by=opened_by,
            policy=self.policy,
        )
        self.unread = {opened_by: False, OTHER[opened_by]: True}

    # ------------------------------------------------------------------ helpers

    def _attempt(
        self,
        action: Callable[[], object],
        expected: TicketStatus | None,
    ) -> bool:
        """Run ``action``; a refusal must match the table and change nothing."""
        before = copy.deepcopy(self.t)
        try:
            action()
        except (InvalidTransitionError, ValidationError):
            assert self.t == before
            assert expected is None
            self.refused += 1
            return False
        assert expected is not None, f"{before.status} accepted a move the table refuses"
        assert self.t.status is expected
        return True

    def _target(self, action: TicketAction) -> TicketStatus | None:
        return TICKET_TRANSITIONS[self.t.status].get(action)

    # ------------------------------------------------------------------ rules

    @rule(minutes=st.integers(min_value=0, max_value=600))
    def time_passes(self, minutes: int) -> None:
        self.clock += timedelta(minutes=minutes)

    @rule(side=SIDES, files=st.integers(min_value=0, max_value=6))
    def reply(self, side: TicketSide, files: int) -> None:
        action = (
            TicketAction.CUSTOMER_REPLY if side is TicketSide.CUSTOMER else TicketAction.STAFF_REPLY
        )
        expected = self._target(action)
        if (
            expected is None
            and side is TicketSide.CUSTOMER
            and self.policy.reopen_on_customer_reply
            and self._target(TicketAction.REOPEN) is not None
        ):
            expected = TICKET_TRANSITIONS[TicketStatus.AWAITING_STAFF][action]
        if files > self.policy.max_attachments:
            expected = None
        before_events = len(self.t.events)
        accepted = self._attempt(
            lambda: self.t.reply(
                side, "text", self.clock, attachments=[FILE] * files, policy=self.policy
            ),
            expected,
        )
        if accepted:
            self.unread[side], self.unread[OTHER[side]] = False, True
            assert self.t.messages[-1].author is side
            assert self.t.events[-1].kind in {
                TicketEventKind.CUSTOMER_REPLIED,
                TicketEventKind.STAFF_REPLIED,
            }
            assert len(self.t.events) - before_events in {1, 2}

    @rule(side=SIDES)
    def close(self, side: TicketSide) -> None:
        if self._attempt(lambda: self.t.close(side, self.clock), self._target(TicketAction.CLOSE)):
            self.unread[side] = False

    @rule()
    def see_and_close(self) -> None:
        if self._attempt(
            lambda: self.t.see_and_close(self.clock),
            self._target(TicketAction.SEE_AND_CLOSE),
        ):
            self.unread[TicketSide.STAFF] = False

    @rule()
    def archive(self) -> None:
        if self._attempt(lambda: self.t.archive(self.clock), self._target(TicketAction.ARCHIVE)):
            self.unread[TicketSide.CUSTOMER] = False

    @rule(side=SIDES)
    def reopen(self, side: TicketSide) -> None:
        self._attempt(lambda: self.t.reopen(side, self.clock), self._target(TicketAction.REOPEN))

    @rule(side=SIDES)
    def read(self, side: TicketSide) -> None:
        self.t.mark_read(side)
        self.unread[side] = False

    @precondition(lambda self: self.clock > T0)
    @rule(side=SIDES)
    def reply_in_the_past(self, side: TicketSide) -> None:
        self._attempt(lambda: self.t.reply(side, "late", T0 - timedelta(seconds=1)), None)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def status_is_in_the_table(self) -> None:
        if self.ticket is None:
            return
        assert self.t.status in REACHABLE
        assert self.t.events[-1].status is self.t.status

    @invariant()
    def unread_flags_follow_the_messages(self) -> None:
        if self.ticket is None:
            return
        last = self.t.messages[-1].author
        assert not self.t.unread_for(last)
        assert self.t.unread_for(TicketSide.CUSTOMER) is self.unread[TicketSide.CUSTOMER]
        assert self.t.unread_for(TicketSide.STAFF) is self.unread[TicketSide.STAFF]

    @invariant()
    def events_are_numbered_and_ordered(self) -> None:
        if self.ticket is None:
            return
        events = self.t.events
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert all(a.at <= b.at for a, b in itertools.pairwise(events))
        keys = [n.key for e in events if (n := ticket_notification(e)) is not None]
        assert len(keys) == len(set(keys))

    @invariant()
    def archived_means_read_by_the_customer(self) -> None:
        if self.ticket is not None and self.t.status is TicketStatus.ARCHIVED:
            assert not self.t.unread_by_customer


TicketMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestTicketLifecycle = pytest.mark.spec("S1")(TicketMachine.TestCase)
