"""The SQL inbox and outbox write the notifications of one change with one statement each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.notifications import Notification, NotificationCategory

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(str(args[2]).lstrip().split()[0].upper())

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def notes(count: int) -> list[Notification]:
    return [
        Notification("acc-1", NotificationCategory.FINANCE, f"k{n}", AT + timedelta(minutes=n))
        for n in range(count)
    ]


def test_the_inbox_keeps_several_entries_with_one_insert(store: SqlStore) -> None:
    first, *rest = notes(4)
    with store.unit_of_work() as uow:
        uow.inbox.add(first)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.inbox.count(InboxQuery(account_id="acc-1", user_id="u1"))  # the transaction is open
        with statements(store.engine) as seen:
            kept = uow.inbox.add_many([InboxEntry(n) for n in [*rest, first, rest[0]]])
            assert uow.inbox.add_many([]) == []
        assert seen == ["INSERT"]
        assert kept == [n.key for n in rest]
        uow.commit()


def test_the_outbox_queues_several_notifications_with_one_insert(store: SqlStore) -> None:
    first, *rest = notes(4)
    with store.unit_of_work() as uow:
        uow.outbox.add(first)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.outbox.pending(1)  # the transaction is open
        with statements(store.engine) as seen:
            queued = uow.outbox.add_many([*rest, first, rest[0]])
            assert uow.outbox.add_many([]) == []
        assert seen == ["INSERT"]
        assert queued == [n.key for n in rest]
        uow.commit()
    with store.unit_of_work() as uow:
        assert [m.key for m in uow.outbox.pending(10)] == [first.key, *(n.key for n in rest)]
