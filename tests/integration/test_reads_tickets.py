"""Tickets through the cabinet and the staff, on every store (SPEC S1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    InvalidTransitionError,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.support import TicketPolicy, TicketStatus
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("S1")

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    notifier: InMemoryNotifier

    def cabinet(self, account_id: str = "acc-1", user_id: str = "u1") -> Cabinet:
        return self.billing.cabinet(account_id, user_id)


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    clock = FixedClock(START)
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=SandboxGateway(b"reads: a sandbox signing key of 32+ bytes"),
            notifier=notifier,
        ),
        BillingSettings(tickets=TicketPolicy(departments={"technical", "finance", "sales"})),
    )
    for account_id, owner in (("acc-1", "u1"), ("acc-2", "u2")):
        billing.open_account(
            Account.open(account_id, owner, email=f"{owner}@example.com"),
            owner_id=owner,
            owner_name="Owner",
        )
    return Wired(billing, clock, notifier)


def ids(page: object) -> list[str]:
    return [t.id for t in page]  # type: ignore[attr-defined]


def test_the_customer_reads_archives_and_pages_tickets_in_the_settings_departments(
    s: Wired,
) -> None:
    tickets = s.cabinet().tickets
    assert tickets.departments() == ("finance", "sales", "technical")
    first = tickets.open(department="sales", subject="A bigger plan?", text="Prices?")
    s.clock.advance(minutes=5)
    second = tickets.open(department="technical", subject="Reboot", text="It hangs")
    with pytest.raises(ValidationError, match="department"):
        tickets.open(department="abuse", subject="Spam", text="From 10.0.0.1")
    s.clock.advance(minutes=5)
    s.billing.staff.reply_to_ticket("acc-1", first.id, "Here are the prices", author="Olga")
    assert ids(tickets.list("unread")) == [first.id]
    assert ids(tickets.list("open")) == [first.id, second.id]
    page = tickets.list(limit=1)
    assert (ids(page), page.next_after, page.total) == ([first.id], first.id, 2)
    assert ids(tickets.list(limit=1, after=page.next_after)) == [second.id]
    read = tickets.mark_read(first.id)
    assert not read.unread_by_customer
    assert ids(tickets.list("unread")) == []
    assert tickets.get(first.id).unread_by_customer is False
    s.clock.advance(minutes=5)
    archived = tickets.archive(first.id)
    assert archived.status is TicketStatus.ARCHIVED
    assert ids(tickets.list("archived")) == [first.id]
    with pytest.raises(InvalidTransitionError):
        tickets.reply(first.id, "One more thing")
    # The staff still work on the second one: it cannot be archived yet.
    with pytest.raises(InvalidTransitionError):
        tickets.archive(second.id)
    with pytest.raises(ValidationError, match="which='waiting' is invalid"):
        tickets.list("waiting")
    assert ids(s.cabinet("acc-2", "u2").tickets.list()) == []


def test_the_staff_work_through_the_queue_read_and_mark_tickets_viewed(s: Wired) -> None:
    alice, bob = s.cabinet().tickets, s.cabinet("acc-2", "u2").tickets
    a = alice.open(department="finance", subject="VAT", text="Looks wrong")
    s.clock.advance(minutes=1)
    b = bob.open(department="technical", subject="Down", text="Since 8:40")
    s.clock.advance(minutes=1)
    c = alice.open(department="technical", subject="DNS", text="Not resolving")
    staff = s.billing.staff
    assert ids(staff.ticket_queue()) == [a.id, b.id, c.id]
    assert ids(staff.ticket_queue(department="technical")) == [b.id, c.id]
    with pytest.raises(ValidationError, match="department"):
        staff.ticket_queue(department="abuse")
    assert staff.read_ticket("acc-2", b.id).unread_by_staff is False
    s.clock.advance(minutes=1)
    seen = staff.see_ticket("acc-1", a.id)
    assert (seen.status, seen.unread_by_staff) == (TicketStatus.SEEN_AND_CLOSED, False)
    assert ids(staff.ticket_queue()) == [b.id, c.id]
    assert ids(alice.list("closed")) == [a.id]
    with pytest.raises(InvalidTransitionError):
        staff.see_ticket("acc-1", a.id)
    s.clock.advance(minutes=1)
    staff.reply_to_ticket("acc-2", b.id, "Rebooted", author="Ivan")
    assert ids(staff.ticket_queue()) == [c.id]
    assert s.notifier.kinds("acc-1")[-1] == "ticket.seen_and_closed"
