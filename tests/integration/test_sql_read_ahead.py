"""A unit of work reads an account's first rows ahead, in one round trip, and serves them once.

On PostgreSQL (psycopg 3) :meth:`SqlUnitOfWork.read_ahead` sends the queries that billing
an account runs first in one pipeline; the repositories get exactly the rows they would
have read, each query's rows once, and never after a write that may have changed them.
The billing run reads ahead for every account it bills.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import ReadsAhead
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


@contextmanager
def statements(store: SqlStore) -> Iterator[list[str]]:
    """The text of every statement run on the store's engine in the block."""
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


def subscribers(store: SqlStore, count: int = 2) -> list[str]:
    ids = [f"acc-{n}" for n in range(count)]
    with SqlUnitOfWork(store) as uow:
        for n, account_id in enumerate(ids):
            add_subscriber(
                uow,
                account_id,
                f"user{n}",
                service_id=f"ser-{n}",
                paid_until=date(2024, 2, 1),
                at=AT,
                balance=Money("1000.00", "EUR"),
            )
        uow.commit()
    return ids


def billing(store: SqlStore) -> Billing:
    return Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"c" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def snapshot(store: SqlStore, account_id: str) -> tuple[object, ...]:
    """What an account holds, read without reading ahead."""
    with SqlUnitOfWork(store) as uow:
        return (
            uow.accounts.get(account_id),
            uow.profiles.get(account_id),
            uow.services.for_account(account_id),
            uow.ledgers.get(account_id).balance("EUR"),
            uow.expenses.get(account_id),
        )


def test_a_sql_unit_of_work_reads_ahead(store: SqlStore) -> None:
    assert isinstance(SqlUnitOfWork(store), ReadsAhead)


def test_the_rows_read_ahead_are_the_rows_read(store: SqlStore) -> None:
    (account_id, _) = subscribers(store)
    billing(store).run.day(date(2024, 2, 1), accounts=[account_id])
    expected = snapshot(store, account_id)
    with SqlUnitOfWork(store) as uow:
        uow.read_ahead(account_id, ["a key"])
        with statements(store) as ran:
            got = (
                uow.accounts.get(account_id),
                uow.profiles.get(account_id),
                uow.services.for_account(account_id),
                uow.ledgers.get(account_id).balance("EUR"),
                uow.expenses.get(account_id),
            )
            assert uow.keys.seen("a key") is False
    assert got == expected
    if store.engine.dialect.name == "postgresql":
        # All of it came in the round trip of the read-ahead.
        assert ran == []
    else:
        # Nothing to gain on SQLite: nothing is read ahead, the repositories read.
        assert ran


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_the_rows_read_ahead_are_served_once(dialect: str, billing_pg_store: SqlStore) -> None:
    del dialect
    store = billing_pg_store
    (account_id, _) = subscribers(store)
    with SqlUnitOfWork(store) as uow:
        with statements(store) as ran:
            uow.read_ahead(account_id, ["a key"])
        assert len(ran) >= 5  # sent together, in one pipeline
        with statements(store) as ran:
            assert uow.keys.seen("a key") is False
            assert uow.keys.seen("a key") is False
        # The first answer was read ahead; the second is asked again.
        assert len(ran) == 1


def test_a_write_forgets_what_was_read_ahead(store: SqlStore) -> None:
    (account_id, other) = subscribers(store)
    with SqlUnitOfWork(store) as uow:
        uow.read_ahead(account_id, ["a key"])
        uow.keys.record("a key")
        # Read ahead before the write, the key was not there; it is now.
        assert uow.keys.seen("a key") is True
        uow.read_ahead(other)
        uow.ledgers.get(other).top_up(Money("5.00", "EUR"), AT, memo="top-up")
        uow.commit()
    with SqlUnitOfWork(store) as uow:
        uow.read_ahead(other)
        assert uow.ledgers.get(other).balance("EUR") == Money("1005.00", "EUR")


def test_a_change_committed_before_the_read_ahead_is_read(store: SqlStore) -> None:
    (account_id, _) = subscribers(store)
    with SqlUnitOfWork(store) as uow:
        uow.ledgers.get(account_id).top_up(Money("7.00", "EUR"), AT, memo="top-up")
        uow.commit()
    with SqlUnitOfWork(store) as uow:
        uow.read_ahead(account_id)
        assert uow.ledgers.get(account_id).balance("EUR") == Money("1007.00", "EUR")


def test_reading_ahead_an_unknown_account_finds_nothing(store: SqlStore) -> None:
    with SqlUnitOfWork(store) as uow:
        uow.read_ahead("acc-missing", ["a key"])
        with pytest.raises(NotFoundError, match="acc-missing"):
            uow.accounts.get("acc-missing")
        assert uow.profiles.get("acc-missing").account_id == "acc-missing"
        assert uow.services.for_account("acc-missing") == []


def test_the_billing_run_reads_each_account_ahead_once(store: SqlStore) -> None:
    ids = subscribers(store, 3)
    run = billing(store).run
    run.day(date(2024, 2, 1), accounts=ids)
    with statements(store) as ran:
        summary = run.day(date(2024, 3, 1), accounts=ids)
    assert summary.renewals == len(ids)
    assert not summary.failures
    # Each query of the read-ahead ran once per account, never again for it.
    for table in ("cb_accounts", "cb_ledgers", "cb_keys"):
        reads = [s for s in ran if s.lstrip().startswith("SELECT") and f"FROM {table}" in s]
        assert len(reads) == len(ids), table
    assert snapshot(store, ids[0])[3] == Money("940.00", "EUR")


def test_in_a_batch_a_savepoint_begins_and_the_last_one_is_released_with_the_first_reads(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    ids = subscribers(store, 3)
    batch = SqlUnitOfWork(store).batch()
    assert batch is not None
    with batch, statements(store) as ran:
        for n, account_id in enumerate(ids):
            with SqlUnitOfWork(store) as uow:
                uow.read_ahead(account_id)
                uow.ledgers.get(account_id).top_up(Money("1.00", "EUR"), AT, memo=f"top-up {n}")
                if n == 1:
                    uow.rollback()  # this one alone is undone
                else:
                    uow.commit()
        batch.commit()
    savepoints = [s for s in ran if "SAVEPOINT" in s]
    assert savepoints == [
        "SAVEPOINT cb_sp_1",
        "RELEASE SAVEPOINT cb_sp_1",
        "SAVEPOINT cb_sp_2",
        "ROLLBACK TO SAVEPOINT cb_sp_2",
        "RELEASE SAVEPOINT cb_sp_2",
        "SAVEPOINT cb_sp_3",
    ]
    balances = [snapshot(store, account_id)[3] for account_id in ids]
    assert balances == [Money("1001.00", "EUR"), Money("1000.00", "EUR"), Money("1001.00", "EUR")]
