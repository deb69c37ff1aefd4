"""The account's notification inbox, read by each user, on memory, SQLite and PostgreSQL (R9).

Astra Cloud keeps every notification the account got under "Support — Notifications",
open to every user of the account; each user reads it with their own read marks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import MandatoryNotices
from cabinet_billing.errors import InvalidArgumentError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.testing.inbox_contract import INBOX_CHECKS

pytestmark = pytest.mark.spec("R9")

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

    fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(fixture)
    return lambda: SqlUnitOfWork(sql)


def wire(
    make_uow: Callable[[], UnitOfWork], *, notifier: bool = True, **settings: object
) -> tuple[Billing, FixedClock]:
    clock = FixedClock(START)
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=clock,
            gateway=SandboxGateway(b"inbox: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier() if notifier else None,
        ),
        BillingSettings(**settings),  # type: ignore[arg-type]
    )
    billing.open_account(
        Account.open("acc-1", "jfairy", email="j@example.com", currency="EUR"),
        owner_id="u1",
        owner_name="Jill",
    )
    billing.cabinet("acc-1", "u1").users.add("u2", "Anna", "anna@example.com", [])
    return billing, clock


def open_tickets(billing: Billing, clock: FixedClock, count: int) -> None:
    tickets = billing.cabinet("acc-1", "u1").tickets
    for n in range(count):
        clock.advance(minutes=1)
        tickets.open(department="technical", subject=f"Ticket {n}", text="Please look")


@pytest.mark.parametrize("check", INBOX_CHECKS, ids=lambda c: c.__name__)
def test_the_inbox_keeps_its_contract(
    make_uow: Callable[[], UnitOfWork], check: Callable[[Callable[[], UnitOfWork]], None]
) -> None:
    check(make_uow)


def test_every_notification_lands_in_the_inbox_read_page_by_page(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    billing, clock = wire(make_uow)
    open_tickets(billing, clock, 5)
    inbox = billing.cabinet("acc-1", "u1").notifications
    first = inbox.inbox(limit=2)
    assert [e.params["subject"] for e in first] == ["Ticket 4", "Ticket 3"]
    assert (first.total, first.is_last) == (5, False)
    second = inbox.inbox(limit=2, after=first.next_after)
    third = inbox.inbox(limit=2, after=second.next_after)
    assert [e.params["subject"] for e in [*second, *third]] == ["Ticket 2", "Ticket 1", "Ticket 0"]
    assert third.is_last
    assert {e.kind for e in first} == {"ticket.opened"}
    with pytest.raises(ValidationError, match="after='nope' is invalid"):
        inbox.inbox(after="nope")
    with pytest.raises(ValidationError, match="category='fax' is invalid"):
        inbox.inbox(category="fax")
    with pytest.raises(ValidationError, match="unread='yes' is invalid"):
        inbox.inbox(unread="yes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="limit=0 is invalid"):
        inbox.inbox(limit=0)


def test_each_user_has_their_own_read_marks(make_uow: Callable[[], UnitOfWork]) -> None:
    billing, clock = wire(make_uow)
    open_tickets(billing, clock, 3)
    jill = billing.cabinet("acc-1", "u1").notifications
    anna = billing.cabinet("acc-1", "u2").notifications
    newest, middle, oldest = jill.inbox()
    assert jill.unread_count() == anna.unread_count() == 3
    clock.advance(minutes=5)
    assert jill.mark_read([newest.id]) == 2
    assert [e.id for e in jill.inbox(unread=True)] == [middle.id, oldest.id]
    assert [(e.id, e.read_at) for e in jill.inbox(unread=False)] == [(newest.id, clock.now())]
    assert anna.unread_count() == 3
    # An unknown id marks nothing, the ids before it included.
    with pytest.raises(NotFoundError, match="nope"):
        jill.mark_read([middle.id, "nope"])
    with pytest.raises(InvalidArgumentError, match="expected a list of notification ids"):
        jill.mark_read(middle.id)
    assert jill.unread_count() == 2
    assert anna.mark_all_read() == 3
    assert anna.mark_all_read() == 0
    assert (anna.unread_count(), jill.unread_count(category="support")) == (0, 2)
    assert jill.unread_count(category="finance") == 0


def test_the_inbox_keeps_notifications_without_a_notifier(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    billing, clock = wire(make_uow, notifier=False)
    open_tickets(billing, clock, 1)
    assert [e.kind for e in billing.cabinet("acc-1", "u2").notifications.inbox()] == [
        "ticket.opened"
    ]


def test_a_category_whose_cabinet_channel_is_off_is_not_shown_to_that_user(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    # This provider leaves the support cabinet cell optional, but always shows
    # ``ticket.closed`` in the cabinet.
    billing, clock = wire(
        make_uow,
        mandatory_notices=MandatoryNotices(
            cells={("finance", "cabinet")}, kinds={"ticket.closed": ["cabinet"]}
        ),
    )
    open_tickets(billing, clock, 1)
    jill = billing.cabinet("acc-1", "u1")
    (ticket,) = jill.tickets.list()
    clock.advance(minutes=1)
    jill.tickets.close(ticket.id)
    jill.notifications.switch("support", "cabinet", on=False)
    assert [e.kind for e in jill.notifications.inbox()] == ["ticket.closed"]
    assert jill.notifications.unread_count() == 1
    assert jill.notifications.mark_all_read() == 1
    anna = billing.cabinet("acc-1", "u2").notifications
    assert [e.kind for e in anna.inbox()] == ["ticket.closed", "ticket.opened"]
    assert anna.unread_count() == 2
