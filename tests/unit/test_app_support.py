"""Support tickets through the use cases (SPEC S1)."""

from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    InvalidTransitionError,
    NotFoundError,
    TicketPriority,
    TicketSide,
    TicketStatus,
    ValidationError,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing

pytestmark = pytest.mark.spec("S1")


@pytest.fixture
def cabinet() -> InMemoryBilling:
    s = in_memory_billing(now=datetime(2024, 3, 1, 9, tzinfo=UTC))
    s.billing.open_account(
        Account.open("acc-1", "alice", email="a@example.com"), owner_id="u1", owner_name="Alice"
    )
    s.billing.open_account(
        Account.open("acc-2", "bob", email="b@example.com"), owner_id="u2", owner_name="Bob"
    )
    return s


def test_a_ticket_goes_back_and_forth_and_notifies_the_customer(cabinet: InMemoryBilling) -> None:
    b = cabinet.billing
    ticket = b.open_ticket(
        "acc-1",
        "u1",
        department="finance",
        subject="Invoice INV-000007",
        text="The VAT looks wrong",
        priority=TicketPriority.HIGH,
    )
    assert ticket.status is TicketStatus.AWAITING_STAFF
    cabinet.clock.advance(minutes=30)
    answered = b.reply_to_ticket(
        "acc-1", "Olga (finance)", ticket.id, "Corrected, see the new invoice", by=TicketSide.STAFF
    )
    assert answered.status is TicketStatus.AWAITING_CUSTOMER
    assert answered.unread_by_customer
    assert [t.id for t in b.tickets("acc-1", "u1", "unread")] == [ticket.id]
    cabinet.clock.advance(minutes=5)
    closed = b.close_ticket("acc-1", "u1", ticket.id)
    assert closed.is_closed
    assert [t.id for t in b.tickets("acc-1", "u1", "closed")] == [ticket.id]
    assert b.tickets("acc-1", "u1", "open") == []
    cabinet.clock.advance(minutes=5)
    reopened = b.reply_to_ticket("acc-1", "u1", ticket.id, "One more question")
    assert reopened.is_open
    assert cabinet.notifier.kinds("acc-1")[0] == "ticket.opened"
    assert len(cabinet.notifier.kinds("acc-1")) >= 4


def test_tickets_stay_within_their_account_and_need_rights(cabinet: InMemoryBilling) -> None:
    b = cabinet.billing
    ticket = b.open_ticket(
        "acc-1", "u1", department="technical", subject="Server down", text="Ping fails"
    )
    with pytest.raises(NotFoundError, match=ticket.id):
        b.reply_to_ticket("acc-2", "u2", ticket.id, "Not mine")
    cabinet.store.users.rows["acc-1"].add("u3", "Accountant", "acc@example.com", ["invoices.view"])
    with pytest.raises(AccessDeniedError, match=r"support\.write"):
        b.open_ticket("acc-1", "u3", department="finance", subject="x", text="y")
    with pytest.raises(ValidationError, match="department"):
        b.open_ticket("acc-1", "u1", department="legal", subject="x", text="y")
    with pytest.raises(NotFoundError, match="'ser-9'"):
        b.open_ticket(
            "acc-1", "u1", department="technical", subject="x", text="y", related_service_id="ser-9"
        )
    b.close_ticket("acc-1", "u1", ticket.id)
    with pytest.raises(InvalidTransitionError):
        b.close_ticket("acc-1", "u1", ticket.id)
    assert len(cabinet.store.tickets.rows) == 1
