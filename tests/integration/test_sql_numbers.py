"""Document numbers and ids on PostgreSQL: no unit of work waits for another's number."""

from __future__ import annotations

import math
import threading

import pytest
from sqlalchemy import event, select, text

from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.adapters.sql.store import _NumberBlocks
from cabinet_billing.errors import TransientStorageError

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
    # What is left free is above every number taken: reserved ahead, not a gap.
    assert min(free_numbers(store, "invoice-number"), default=4) >= 4


def free_numbers(store: SqlStore, name: str) -> list[int]:
    claims = store.tables.number_claims
    with store.engine.connect() as connection:
        query = select(claims.c.value).where(claims.c.name == name).order_by(claims.c.value)
        return [int(v) for v in connection.execute(query).scalars()]


def stored_numbers(store: SqlStore, prefix: str) -> list[int]:
    """The numbers committed with what they number (here: idempotency keys), sorted."""
    with SqlUnitOfWork(store) as uow:
        return sorted(int(key.removeprefix(prefix)) for key in uow.keys.all(prefix))


def test_a_number_taken_is_one_statement_of_the_unit_of_work_and_a_block_is_reserved_once(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    store.number_blocks = _NumberBlocks(hot=math.inf)  # however slow the machine
    statements: list[str] = []
    commits: list[object] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    event.listen(store.engine, "commit", commits.append)
    taken = []
    for _ in range(40):
        with SqlUnitOfWork(store) as uow:
            taken.append(uow.sequences.next("invoice-number"))
            uow.keys.record(f"number:{taken[-1]}")
            uow.commit()
    assert taken == list(range(1, 41))
    reserved = [s for s in statements if "generate_series" in s]
    # Blocks of 1, 2, 4, 8, 16, 32 when taken in a row: 6 reservations for 40 numbers
    # (each its own short commit), the other 34 numbers cost one statement and no commit.
    assert len(reserved) == 6
    assert len(commits) == 40 + 6
    assert free_numbers(store, "invoice-number") == list(range(41, 64))


def test_numbers_of_two_concurrent_writers_are_gapless_counted_from_the_database(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    start = threading.Barrier(2)
    failed: list[BaseException] = []

    def writer(me: int) -> None:
        try:
            start.wait(timeout=10)
            for n in range(60):
                with SqlUnitOfWork(store) as uow:
                    number = uow.sequences.next("invoice-number")
                    if (n + me) % 4 == 0:
                        continue  # rolls back: its number goes to the next taker
                    uow.keys.record(f"number:{number}")
                    uow.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            failed.append(error)

    threads = [threading.Thread(target=writer, args=(me,)) for me in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failed
    committed = stored_numbers(store, "number:")
    assert len(committed) == len(set(committed)) == 2 * 60 - 2 * 15  # 90 numbers, none twice
    # A number given back is the next taker's. Only writer 1's last unit of work gives
    # one back with no take after it: when writer 0 took the next number meanwhile
    # (skipping the locked one), that number is left free, a hole until the next document.
    holes = sorted(set(range(1, max(committed) + 1)) - set(committed))
    assert len(holes) <= 1
    assert free_numbers(store, "invoice-number")[: len(holes)] == holes
    for _ in holes:
        with SqlUnitOfWork(store) as uow:
            uow.keys.record(f"number:{uow.sequences.next('invoice-number')}")
            uow.commit()
    assert stored_numbers(store, "number:") == list(range(1, 90 + len(holes) + 1))


def test_a_unit_of_work_that_dies_with_its_number_leaves_no_gap(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    with SqlUnitOfWork(store) as uow:
        uow.keys.record(f"number:{uow.sequences.next('invoice-number')}")
        uow.commit()
    dying = SqlUnitOfWork(store)
    with pytest.raises(TransientStorageError):
        take_and_lose_the_connection(store, dying)
    for _ in range(3):
        with SqlUnitOfWork(store) as uow:
            uow.keys.record(f"number:{uow.sequences.next('invoice-number')}")
            uow.commit()
    assert stored_numbers(store, "number:") == [1, 2, 3, 4]


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


def take_and_lose_the_connection(store: SqlStore, dying: SqlUnitOfWork) -> None:
    """Take a number, then the server ends the connection (a crash, a failover)."""
    with dying:
        assert dying.sequences.next("invoice-number") == 2
        connection = dying._session.connection()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with store.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        connection.execute(text("SELECT 1"))


def test_ids_taken_in_a_row_come_a_block_at_a_time_and_never_repeat_across_stores(
    billing_pg_store: SqlStore,
) -> None:
    store = billing_pg_store
    # Another process's store on the same database (its own blocks).
    other = SqlStore(store.engine, prefix=store.tables.prefix, schema=store.tables.schema)
    taken: list[str] = []

    def note(*args: object) -> None:
        if "nextval" in str(args[2]):
            taken.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        mine: list[int] = []
        theirs: list[int] = []
        for _ in range(40):
            for owner, ids in ((store, mine), (other, theirs)):
                with SqlUnitOfWork(owner) as uow:
                    ids.append(uow.sequences.next("payment"))
                    uow.commit()
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    # Each store hands its ids out in order; no id is given twice.
    assert mine == sorted(mine)
    assert theirs == sorted(theirs)
    assert len(set(mine) | set(theirs)) == 80  # 40 each
    # Blocks of 1, 2, 4, 8, 16, then 32: 6 statements a store for 40 ids, not 40.
    assert len(taken) == 12
    # A store that starts again skips what the last one did not hand out, and goes on.
    with SqlUnitOfWork(
        SqlStore(store.engine, prefix=store.tables.prefix, schema=store.tables.schema)
    ) as uow:
        assert uow.sequences.next("payment") > max(mine + theirs)
