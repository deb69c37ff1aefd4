"""Support tickets through the use cases (SPEC S1)."""

from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.support import TicketPriority, TicketStatus

pytestmark = pytest.mark.spec("S1")


@pytest.fixture
def setup() -> InMemoryBilling:
    s = in_memory_billing(now=datetime(2024, 3, 1, 9, tzinfo=UTC))
    s.billing.open_account(
        Account.open("acc-1", "alice", email="a@example.com"), owner_id="u1", owner_name="Alice"
    )
    s.billing.open_account(
        Account.open("acc-2", "bob", email="b@example.com"), owner_id="u2", owner_name="Bob"
    )
    return s


def test_a_ticket_goes_back_and_forth_and_notifies_the_customer(setup: InMemoryBilling) -> None:
    alice = setup.billing.cabinet("acc-1", "u1")
    ticket = alice.tickets.open(
        department="finance",
        subject="Invoice INV-000007",
        text="The VAT looks wrong",
        priority=TicketPriority.HIGH,
    )
    assert ticket.status is TicketStatus.AWAITING_STAFF
    setup.clock.advance(minutes=30)
    answered = setup.billing.staff.reply_to_ticket(
        "acc-1", ticket.id, "Corrected, see the new invoice", author="Olga (finance)"
    )
    assert answered.status is TicketStatus.AWAITING_CUSTOMER
    assert answered.unread_by_customer
    assert [t.id for t in alice.tickets.list("unread")] == [ticket.id]
    setup.clock.advance(minutes=5)
    closed = alice.tickets.close(ticket.id)
    assert closed.is_closed
    assert [t.id for t in alice.tickets.list("closed")] == [ticket.id]
    assert list(alice.tickets.list("open")) == []
    setup.clock.advance(minutes=5)
    reopened = alice.tickets.reply(ticket.id, "One more question")
    assert reopened.is_open
    assert setup.notifier.kinds("acc-1")[0] == "ticket.opened"
    assert len(setup.notifier.kinds("acc-1")) >= 4


def test_tickets_stay_within_their_account_and_need_rights(setup: InMemoryBilling) -> None:
    alice = setup.billing.cabinet("acc-1", "u1")
    ticket = alice.tickets.open(department="technical", subject="Server down", text="Ping fails")
    with pytest.raises(NotFoundError, match=ticket.id):
        setup.billing.cabinet("acc-2", "u2").tickets.reply(ticket.id, "Not mine")
    setup.store.users.rows["acc-1"].add("u3", "Accountant", "acc@example.com", ["invoices.view"])
    with pytest.raises(AccessDeniedError, match=r"support\.write"):
        setup.billing.cabinet("acc-1", "u3").tickets.open(
            department="finance", subject="x", text="y"
        )
    with pytest.raises(ValidationError, match="department"):
        alice.tickets.open(department="legal", subject="x", text="y")
    with pytest.raises(NotFoundError, match="'ser-9'"):
        alice.tickets.open(
            department="technical", subject="x", text="y", related_service_id="ser-9"
        )
    alice.tickets.close(ticket.id)
    with pytest.raises(InvalidTransitionError):
        alice.tickets.close(ticket.id)
    assert len(setup.store.tickets.rows) == 1
