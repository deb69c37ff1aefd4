"""The SQL store under concurrency: optimistic versions, claimed accounts, counters, keys."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cabinet_billing import Account, Money
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.adapters.sql.store import _Session
from cabinet_billing.errors import ConflictError
from cabinet_billing.testing.contract import check_keys, check_sequences

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


def open_accounts(store: SqlStore, *ids: str) -> None:
    with store.unit_of_work() as uow:
        for account_id in ids:
            uow.accounts.add(Account.open(account_id, f"login-{account_id}"))
            uow.ledgers.get(account_id)
        uow.commit()


def row_version(store: SqlStore, account_id: str) -> int:
    table = store.tables.ledgers
    with store.engine.connect() as connection:
        version: int = connection.execute(
            select(table.c.version).where(table.c.account_id == account_id)
        ).scalar_one()
    return version


def test_the_second_of_two_racing_commits_fails_and_changes_nothing(store: SqlStore) -> None:
    open_accounts(store, "acc-1")
    first, second = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with first, second:
        first.ledgers.get("acc-1").top_up(rub("10.00"), AT, key="first")
        second.ledgers.get("acc-1").top_up(rub("99.00"), AT, key="second")
        second.accounts.add(Account.open("acc-2", "bob"))
        first.commit()
        with pytest.raises(ConflictError) as raised:
            second.commit()
    assert str(raised.value) == (
        "ledger 'acc-1': was changed by another unit of work after version 1 was read; "
        "nothing was stored, load it again and retry"
    )
    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        assert [e.key for e in ledger] == ["first"]
        assert ledger.balance("RUB") == rub("10.00")
        assert uow.accounts.ids() == ["acc-1"]
    assert row_version(store, "acc-1") == 2


def test_after_a_conflict_the_unit_of_work_reloads_and_succeeds(store: SqlStore) -> None:
    open_accounts(store, "acc-1")
    first, second = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with first, second:
        first.ledgers.get("acc-1").top_up(rub("10.00"), AT, key="first")
        second.ledgers.get("acc-1").top_up(rub("5.00"), AT, key="second")
        first.commit()
        with pytest.raises(ConflictError, match="after version 1 was read"):
            second.commit()
        second.ledgers.get("acc-1").top_up(rub("5.00"), AT, key="second")
        second.commit()
    with store.unit_of_work() as uow:
        assert uow.ledgers.get("acc-1").balance("RUB") == rub("15.00")
    assert row_version(store, "acc-1") == 3


def test_reading_does_not_write_nor_raise_the_version(store: SqlStore) -> None:
    open_accounts(store, "acc-1")
    with store.unit_of_work() as uow:
        uow.ledgers.get("acc-1").balance("RUB")
        uow.accounts.get("acc-1")
        uow.commit()
    assert row_version(store, "acc-1") == 1


def test_two_units_of_work_creating_the_same_account_conflict(store: SqlStore) -> None:
    first, second = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with first, second:
        first.accounts.add(Account.open("acc-1", "alice"))
        second.accounts.add(Account.open("acc-1", "bob"))
        first.commit()
        with pytest.raises(ConflictError) as raised:
            second.commit()
    assert str(raised.value) == (
        "account 'acc-1': was stored by another unit of work at the same time; nothing was stored"
    )
    with store.unit_of_work() as uow:
        assert uow.accounts.get("acc-1").login == "alice"


def test_a_failed_commit_keeps_the_counters_it_took_free(store: SqlStore) -> None:
    open_accounts(store, "acc-1")
    with store.unit_of_work() as winner:
        winner.ledgers.get("acc-1").top_up(rub("1.00"), AT)
        winner.commit()
    with store.unit_of_work() as loser:
        stale = loser.ledgers.get("acc-1")
        with store.unit_of_work() as other:
            other.ledgers.get("acc-1").top_up(rub("1.00"), AT)
            other.commit()
        stale.top_up(rub("2.00"), AT)
        with pytest.raises(ConflictError):
            loser.commit()
    with store.unit_of_work() as uow:
        assert uow.sequences.next("invoice-number") == 1


def test_claim_accounts_on_sqlite_returns_the_first_ids(billing_sqlite_store: SqlStore) -> None:
    open_accounts(billing_sqlite_store, "acc-3", "acc-1", "acc-2")
    with billing_sqlite_store.unit_of_work() as uow:
        assert uow.claim_accounts(2) == ["acc-1", "acc-2"]


def test_workers_claim_accounts_no_other_open_transaction_holds(billing_pg_store: SqlStore) -> None:
    open_accounts(billing_pg_store, *(f"acc-{n}" for n in range(1, 6)))
    first, second, third, fourth = (SqlUnitOfWork(billing_pg_store) for _ in range(4))
    with first, second, third, fourth:
        assert first.claim_accounts(2) == ["acc-1", "acc-2"]
        assert second.claim_accounts(2) == ["acc-3", "acc-4"]
        assert third.claim_accounts(5) == ["acc-5"]
        first.rollback()
        assert fourth.claim_accounts(5) == ["acc-1", "acc-2"]
        second.commit()
        with SqlUnitOfWork(billing_pg_store) as fifth:
            assert fifth.claim_accounts(5) == ["acc-3", "acc-4"]


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``count`` threads that start together; results or errors by i."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except ConflictError as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_counters_never_repeat_nor_skip_under_concurrent_transactions(
    billing_pg_store: SqlStore,
) -> None:
    def take(i: int) -> list[int]:
        taken = []
        for n in range(10):
            with billing_pg_store.unit_of_work() as uow:
                value = uow.sequences.next("invoice-number")
                if (i + n) % 3 == 0:
                    continue  # rolled back: the value is handed out again
                taken.append(value)
                uow.commit()
        return taken

    results = run_together(4, take)
    values = [v for result in results for v in result]  # type: ignore[attr-defined]
    assert len(values) == sum(1 for i in range(4) for n in range(10) if (i + n) % 3)
    # A number given back by a rollback after the last claim, or while another claimer
    # passed it by, waits for the next claim: take numbers until a new one comes.
    top = max(values)
    while True:
        with billing_pg_store.unit_of_work() as uow:
            value = uow.sequences.next("invoice-number")
            uow.commit()
        values.append(value)
        if value > top:
            break
    assert sorted(values) == list(range(1, len(values) + 1))


def test_a_counter_waits_for_the_transaction_that_holds_it(billing_pg_store: SqlStore) -> None:
    holder = billing_pg_store.unit_of_work()
    with holder:
        assert holder.sequences.next("payment") == 1
        got: list[int] = []
        waiter = threading.Thread(target=lambda: got.append(next_committed(billing_pg_store)))
        waiter.start()
        holder.commit()
        waiter.join()
    assert got == [2]


def next_committed(store: SqlStore) -> int:
    with store.unit_of_work() as uow:
        value = uow.sequences.next("payment")
        uow.commit()
    return value


def test_an_idempotency_key_is_recorded_once_under_a_race(billing_pg_store: SqlStore) -> None:
    def record(i: int) -> str:
        with billing_pg_store.unit_of_work() as uow:
            uow.keys.record("bank:line-1")
            uow.accounts.add(Account.open(f"acc-{i}", f"login-{i}"))
            uow.commit()
        return f"acc-{i}"

    results = run_together(5, record)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == 1
    assert len(losers) == 4
    assert all(str(e) == "key 'bank:line-1': already recorded" for e in losers)
    with billing_pg_store.unit_of_work() as uow:
        assert uow.accounts.ids() == winners
        assert list(uow.keys.all("bank:")) == ["bank:line-1"]


def test_racing_commits_on_one_aggregate_each_win_or_conflict_and_lose_nothing(
    billing_pg_store: SqlStore,
) -> None:
    open_accounts(billing_pg_store, "acc-1")

    def top_up(i: int) -> int:
        with billing_pg_store.unit_of_work() as uow:
            uow.ledgers.get("acc-1").top_up(rub("1.00"), AT, key=f"k-{i}")
            uow.commit()
        return i

    results = run_together(4, top_up)
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) >= 1
    assert all(isinstance(r, int | ConflictError) for r in results)
    with billing_pg_store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        assert sorted(e.key or "" for e in ledger) == sorted(f"k-{i}" for i in wins)
        assert ledger.balance("RUB") == rub("1.00") * len(wins)
    assert row_version(billing_pg_store, "acc-1") == 1 + len(wins)


def test_other_databases_take_counters_and_keys_with_portable_statements(
    billing_sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dialect without ON CONFLICT: counters by SELECT ... FOR UPDATE, keys by look-up.
    monkeypatch.setattr(_Session, "dialect", property(lambda _self: "other"))
    check_sequences(billing_sqlite_store.unit_of_work)
    check_keys(billing_sqlite_store.unit_of_work)
