"""Document numbers and ids on PostgreSQL: no unit of work waits for another's number."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork

pytestmark = pytest.mark.spec("P")


def take(store: SqlStore, name: str, out: list[int], ready: threading.Event) -> None:
    with SqlUnitOfWork(store) as uow:
        out.append(uow.sequences.next(name))
        ready.set()
        uow.commit()


def test_two_units_of_work_take_numbers_at_once_and_a_rolled_back_one_is_given_again(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    holder = SqlUnitOfWork(store)
    with holder:
        assert holder.sequences.next("invoice-number") == 1
        # another account's unit of work gets the next number while the first is open
        got: list[int] = []
        ready = threading.Event()
        other = threading.Thread(target=take, args=(store, "invoice-number", got, ready))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "the second number waited for the first transaction"
        assert got == [2]
        # the first unit of work rolls back: its number is the next one handed out
    with SqlUnitOfWork(store) as uow:
        assert uow.sequences.next("invoice-number") == 1
        assert uow.sequences.next("invoice-number") == 3
        uow.commit()
    with store.engine.connect() as connection:
        claims = store.tables.number_claims
        assert connection.execute(select(func.count()).select_from(claims)).scalar_one() == 0


def test_ids_come_from_sequences_that_never_wait_and_go_on_from_the_counter_row(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    with store.engine.begin() as connection:
        connection.execute(
            store.tables.counters.insert().values(account_id="", name="invoice", value=41)
        )
    holder = SqlUnitOfWork(store)
    with holder:
        assert holder.sequences.next("invoice") == 42
        got: list[int] = []
        other = threading.Thread(target=take, args=(store, "invoice", got, threading.Event()))
        other.start()
        other.join(timeout=10)
        assert got == [43]
    with SqlUnitOfWork(store) as uow:
        assert uow.sequences.next("invoice") == 44  # 42 was rolled back: ids may skip
    store.drop_schema()
    with store.engine.connect() as connection:
        assert store.engine.dialect.get_sequence_names(connection) == []
