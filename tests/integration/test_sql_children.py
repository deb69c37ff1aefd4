"""The SQL store keeps ledger entries, balances and expenses as rows of their own: a commit
writes what changed, whatever the length of the history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from sqlalchemy import Engine, event, func, select

from cabinet_billing import Money
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.adapters.sql.schema import tables
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.fx import ExchangeRate, convert
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.errors import ConflictError
from cabinet_billing.testing.contract import check_unit_of_work

pytestmark = pytest.mark.spec("P")

T = tables()

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)
DAY = date(2024, 3, 1)
ENTRIES = 500
EXPENSES = 200


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    """Every store; concurrent tests use `shared` (an in-memory SQLite has one connection)."""
    names = {
        "sqlite": "billing_sqlite_store",
        "memory": "billing_sqlite_memory_store",
        "postgresql": "billing_pg_store",
    }
    found: SqlStore = request.getfixturevalue(names[request.param])
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


@attrs.define
class Writes:
    """The INSERT, UPDATE and DELETE statements sent to the database, with their row counts."""

    statements: list[tuple[str, str, int]] = attrs.Factory(list)

    def record(self, statement: str, parameters: Any, *, executemany: bool) -> None:
        words = statement.split()
        verb = words[0].upper()
        if verb not in {"INSERT", "UPDATE", "DELETE"}:
            return
        table = words[2] if verb in {"INSERT", "DELETE"} else words[1]
        rows = len(parameters) if executemany else 1
        self.statements.append((verb, table.strip('"').split("(")[0], rows))

    def rows(self, verb: str, table: str) -> int:
        return sum(n for v, t, n in self.statements if (v, t) == (verb, table))


@contextmanager
def recording(engine: Engine) -> Iterator[Writes]:
    writes = Writes()

    def listener(*args: Any) -> None:
        # The arguments: connection, cursor, statement, parameters, context, executemany.
        writes.record(args[2], args[3], executemany=args[5])

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", listener)


class Reads(list[str]):
    """The SELECT statements sent to the database."""

    @property
    def rows(self) -> int:
        return len(self)


@contextmanager
def recording_reads(engine: Engine) -> Iterator[Reads]:
    reads = Reads()

    def listener(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            reads.append(args[2])

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def count(store: SqlStore, table: Any, account_id: str = "acc-1") -> int:
    with store.engine.connect() as connection:
        found: int = connection.execute(
            select(func.count()).select_from(table).where(table.c.account_id == account_id)
        ).scalar_one()
    return found


def version(store: SqlStore, table: Any, account_id: str = "acc-1") -> int:
    with store.engine.connect() as connection:
        found: int = connection.execute(
            select(table.c.version).where(table.c.account_id == account_id)
        ).scalar_one()
    return found


def expense(n: int, amount: str = "1.5000") -> Expense:
    return Expense(f"exp-{n}", "acc-1", "VPS", DAY + timedelta(days=n % 30), rub(amount))


def build_history(store: SqlStore) -> tuple[Ledger, ExpenseBook]:
    """A ledger of 500 entries and a book of 200 expenses, committed in one unit of work."""
    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        book = uow.expenses.get("acc-1")
        ledger.top_up(rub("100000.00"), AT, ref="pay-1", key="payment:pay-1")
        for n in range(1, ENTRIES):
            ledger.charge(rub("1.5000"), AT + timedelta(minutes=n), key=f"day:{n}", ref=f"s{n}")
        book.fund("pay-1", rub("100.00"))
        for n in range(EXPENSES):
            book.add(expense(n))
        uow.commit()
    return ledger, book


def test_a_commit_of_one_charge_and_one_expense_writes_two_child_rows(store: SqlStore) -> None:
    build_history(store)
    with recording(store.engine) as writes, store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        book = uow.expenses.get("acc-1")
        ledger.charge(rub("1.5000"), AT + timedelta(days=1), key="day:new", ref="s-new")
        book.add(expense(EXPENSES))
        uow.commit()
    assert sorted(writes.statements) == [
        ("INSERT", "cb_expenses", 1),
        ("INSERT", "cb_ledger_entries", 1),
        ("INSERT", "cb_next_due", 1),  # the account is due (an upsert)
        ("UPDATE", "cb_balances", 1),
        ("UPDATE", "cb_expense_books", 1),
        ("UPDATE", "cb_ledgers", 1),
    ]
    assert count(store, T.ledger_entries) == ENTRIES + 1
    assert count(store, T.expenses) == EXPENSES + 1
    assert version(store, T.ledgers) == version(store, T.expense_books) == 2
    with store.unit_of_work() as again:
        assert again.ledgers.get("acc-1") == ledger
        assert again.expenses.get("acc-1") == book
        assert again.ledgers.get("acc-1").by_key("day:new") == ledger.by_key("day:new")


def test_the_first_commit_writes_every_child_once_and_reads_them_back_equal(
    store: SqlStore,
) -> None:
    with recording(store.engine) as writes:
        ledger, book = build_history(store)
    assert writes.rows("INSERT", "cb_ledger_entries") == ENTRIES
    assert writes.rows("INSERT", "cb_expenses") == EXPENSES
    assert writes.rows("INSERT", "cb_ledgers") == writes.rows("INSERT", "cb_expense_books") == 1
    assert writes.rows("UPDATE", "cb_ledger_entries") == writes.rows("UPDATE", "cb_expenses") == 0
    with store.unit_of_work() as uow:
        back = uow.ledgers.get("acc-1")
        assert back == ledger
        assert back.balance("RUB") == rub("99251.50")
        assert back.verify()
        assert uow.expenses.get("acc-1") == book
        assert [e.id for e in uow.expenses.get("acc-1").expenses()] == [
            e.id for e in book.expenses()
        ]


def test_the_aggregate_rows_keep_no_children(store: SqlStore) -> None:
    build_history(store)
    with store.engine.connect() as connection:
        ledger_row = json.loads(connection.execute(select(T.ledgers.c.data)).scalar_one())
        book_row = json.loads(connection.execute(select(T.expense_books.c.data)).scalar_one())
        balances = connection.execute(select(T.balances.c.currency, T.balances.c.amount)).all()
    assert ledger_row == {"$v": 1, "_reversed": [], "_rounding": []}
    assert sorted(book_row) == ["$v", "_debts", "_funds", "_payments"]
    assert [(c, Decimal(str(a))) for c, a in balances] == [("RUB", Decimal("99251.5"))]


def test_only_the_expenses_a_payment_changed_are_written_again(store: SqlStore) -> None:
    build_history(store)
    with store.unit_of_work() as uow:
        unpaid = uow.expenses.get("acc-1").unpaid("RUB")
    assert len(unpaid) == EXPENSES - 66
    amount = sum(e.unpaid.amount for e in unpaid[:3])
    with recording(store.engine) as writes, store.unit_of_work() as uow:
        book = uow.expenses.get("acc-1")
        paid = book.fund("pay-2", rub(str(amount)))
        uow.ledgers.get("acc-1").top_up(rub(str(amount)), AT, ref="pay-2", key="payment:pay-2")
        uow.commit()
    assert [a.expense_id for a in paid] == [e.id for e in unpaid[:3]]
    assert sorted(writes.statements) == [
        ("INSERT", "cb_ledger_entries", 1),
        ("INSERT", "cb_next_due", 1),  # the account is due (an upsert)
        ("UPDATE", "cb_balances", 1),
        ("UPDATE", "cb_expense_books", 1),
        ("UPDATE", "cb_expenses", 3),
        ("UPDATE", "cb_ledgers", 1),
    ]
    with store.unit_of_work() as again:
        assert again.expenses.get("acc-1") == book


def test_reading_writes_nothing(store: SqlStore) -> None:
    build_history(store)
    with recording(store.engine) as writes, store.unit_of_work() as uow:
        uow.ledgers.get("acc-1").balance("RUB")
        uow.expenses.get("acc-1").totals("RUB")
        uow.commit()
    assert writes.statements == []


def test_keys_reversals_and_conversions_survive_the_split(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        ledger.top_up(rub("1000.00"), AT, key="pay-1", ref="pay-1")
        ledger.charge(rub("100.1234"), AT + timedelta(hours=1), key="exp-1", memo="VPS")
        rate = ExchangeRate("RUB", "EUR", Decimal("0.0101"), DAY)
        ledger.convert(convert(rub("300.00"), "EUR", rate), AT + timedelta(hours=2), key="fx-1")
        ledger.reverse(2, AT + timedelta(hours=3), key="rev-2")
        uow.commit()
    with store.unit_of_work() as uow:
        back = uow.ledgers.get("acc-1")
        assert back == ledger
        assert back.by_key("fx-1") == ledger.by_key("fx-1")
        assert back.is_reversed(2)
        assert back.balance("EUR") == Money("3.03", "EUR")
        assert back.top_up(rub("1000.00"), AT, key="pay-1", ref="pay-1") == back.entry(1)
        with pytest.raises(ConflictError, match="idempotency key 'exp-1'"):
            back.charge(rub("1.00"), AT, key="exp-1")


def test_a_ledger_loads_its_balances_and_reads_entries_only_when_asked(
    store: SqlStore,
) -> None:
    ledger, _ = build_history(store)
    with recording_reads(store.engine) as reads, store.unit_of_work() as uow:
        back = uow.ledgers.get("acc-1")
        assert back.balance("RUB") == rub("99251.50")
        assert len(back) == ENTRIES
        loaded = list(reads)
        assert back.by_key("day:7") == ledger.by_key("day:7")
        assert back.entries(first=ENTRIES - 1) == ledger.entries()[-2:]
        assert back.entry(3) == ledger.entry(3)
    # one statement: the ledger's row with the number of its entries and its balances
    # (joined); no entry is read
    assert len(loaded) == 1
    assert "cb_balances" in loaded[0]
    entries = [r for r in loaded if "cb_ledger_entries" in r]
    assert len(entries) == 1
    assert "max(" in entries[0].lower()
    # then one statement per question: by key, by range, one entry
    assert reads.rows == len(loaded) + 3


def test_rewritten_histories_are_stored_exactly(store: SqlStore) -> None:
    build_history(store)
    with store.unit_of_work() as uow:
        book = uow.expenses.get("acc-1")
        assert len(book.expenses()) == EXPENSES  # the whole history, to rewrite it
        removed = book._expenses.pop("exp-0")
        book._expenses["exp-0"] = removed
        del book._expenses["exp-1"]
        uow.commit()
    with store.unit_of_work() as uow:
        back = uow.expenses.get("acc-1")
        assert back == book
        assert list(back._expenses)[-1] == "exp-0"
    assert count(store, T.expenses) == EXPENSES - 1


def test_the_contract_holds(store: SqlStore) -> None:
    check_unit_of_work(lambda: SqlUnitOfWork(store))


def test_a_concurrent_change_to_a_ledger_conflicts_and_leaves_no_child_rows(
    shared: SqlStore,
) -> None:
    build_history(shared)
    first, second = SqlUnitOfWork(shared), SqlUnitOfWork(shared)
    with first, second:
        first.ledgers.get("acc-1").charge(rub("1.0000"), AT, key="first")
        second.ledgers.get("acc-1").charge(rub("2.0000"), AT, key="second")
        second.expenses.get("acc-1").add(expense(EXPENSES))
        first.commit()
        with pytest.raises(ConflictError) as raised:
            second.commit()
    assert str(raised.value) == (
        "ledger 'acc-1': was changed by another unit of work after version 1 was read; "
        "nothing was stored, load it again and retry"
    )
    assert count(shared, T.ledger_entries) == ENTRIES + 1
    assert count(shared, T.expenses) == EXPENSES
    with shared.unit_of_work() as uow:
        assert [e.key for e in uow.ledgers.get("acc-1").entries()[-1:]] == ["first"]
        assert uow.ledgers.get("acc-1").by_key("second") == ()


def test_a_conflict_on_the_expenses_rolls_back_the_ledger_entries_already_written(
    shared: SqlStore,
) -> None:
    build_history(shared)
    first, second = SqlUnitOfWork(shared), SqlUnitOfWork(shared)
    with first, second:
        first.expenses.get("acc-1").add(expense(EXPENSES))
        second.ledgers.get("acc-1").charge(rub("2.0000"), AT, key="second")
        second.expenses.get("acc-1").add(expense(EXPENSES + 1))
        first.commit()
        with pytest.raises(ConflictError, match="expense book 'acc-1': was changed"):
            second.commit()
    assert count(shared, T.ledger_entries) == ENTRIES
    assert count(shared, T.expenses) == EXPENSES + 1
    assert version(shared, T.ledgers) == 1
    assert version(shared, T.expense_books) == 2
    with shared.unit_of_work() as uow:
        assert uow.ledgers.get("acc-1").by_key("second") == ()
        assert "exp-201" not in [e.id for e in uow.expenses.get("acc-1").expenses()]


def test_ledgers_and_books_found_by_account_come_with_their_children(store: SqlStore) -> None:
    ledger, book = build_history(store)
    with store.unit_of_work() as uow:
        assert uow.ledgers.for_account("acc-1") == [ledger]
        assert uow.expenses.for_account("acc-1") == [book]
        assert uow.ledgers.get("acc-1") is uow.ledgers.for_account("acc-1")[0]


def test_new_expenses_go_after_the_stored_ones_without_asking_where_the_last_is(
    store: SqlStore,
) -> None:
    # The book is read with the account's other books, with the position of its last
    # expense, so a commit puts new expenses after it without another statement.
    build_history(store)
    with recording_reads(store.engine) as reads:
        for n in (EXPENSES, EXPENSES + 1):
            with store.unit_of_work() as uow:
                uow.profiles.get("acc-1")
                uow.expenses.get("acc-1").add(expense(n))
                uow.commit()
    assert not [s for s in reads if s.lstrip().upper().startswith("SELECT COALESCE(MAX(")]
    table = store.tables.children["expenses"]
    with store.engine.connect() as connection:
        read = select(table.c.expense_id, table.c.position).order_by(table.c.position)
        rows = connection.execute(read.where(table.c.account_id == "acc-1")).all()
    assert [r.expense_id for r in rows[-2:]] == [f"exp-{EXPENSES}", f"exp-{EXPENSES + 1}"]
    assert len({r.position for r in rows}) == len(rows) == EXPENSES + 2
