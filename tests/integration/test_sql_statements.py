"""What the SQL store asks the database: one query where one does, nothing for what is untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from cabinet_billing import Account, Money
from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.errors import ConflictError

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


def invoice(invoice_id: str, number: str) -> Invoice:
    return Invoice.issue(
        invoice_id,
        number,
        "acc-1",
        [InvoiceLine("VPS", Money("30.00", "EUR"))],
        issued_on=date(2024, 3, 1),
    )


def test_adding_an_invoice_asks_once_for_its_number_and_its_id(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice", currency="EUR"))
        uow.invoices.add(invoice("inv-1", "INV-1"))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.accounts.get("acc-1")
        with statements(store.engine) as seen:
            uow.invoices.add(invoice("inv-2", "INV-2"))
        assert seen == ["SELECT"]
        with pytest.raises(ConflictError, match="invoice number 'INV-1'"):
            uow.invoices.add(invoice("inv-3", "INV-1"))
        with pytest.raises(ConflictError, match="invoice 'inv-1'"):
            uow.invoices.add(invoice("inv-1", "INV-9"))
        with pytest.raises(ConflictError, match="invoice number 'INV-2'"):
            uow.invoices.add(invoice("inv-4", "INV-2"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert [i.number for i in uow.invoices.for_account("acc-1")] == ["INV-1", "INV-2"]


def payer_books(store: SqlStore) -> int:
    table = store.tables.aggregates["payer_books"]
    with store.engine.connect() as connection:
        found: int = connection.execute(select(func.count()).select_from(table)).scalar_one()
    return found


def test_a_book_made_empty_and_only_read_is_not_stored(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice"))
        assert uow.payers.get("acc-1") == PayerBook("acc-1")
        uow.commit()
    assert payer_books(store) == 0
    with store.unit_of_work() as uow, statements(store.engine) as seen:
        # Nothing stored: one query finds no book, none for its payers.
        assert uow.payers.get("acc-1") == PayerBook("acc-1")
    assert seen == ["SELECT"]


def test_a_book_made_empty_and_then_changed_is_stored(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice"))
        uow.profiles.get("acc-1").last_run = date(2024, 3, 1)
        uow.profiles.get("acc-2")  # only read: not stored
        uow.commit()
    table = store.tables.aggregates["billing_profiles"]
    with store.engine.connect() as connection:
        stored = connection.execute(select(table.c.account_id)).scalars().all()
    assert stored == ["acc-1"]
    with store.unit_of_work() as uow:
        assert uow.profiles.get("acc-1").last_run == date(2024, 3, 1)
        assert uow.profiles.get("acc-2").last_run is None


def test_the_books_of_an_account_are_read_in_one_statement(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice"))
        uow.profiles.get("acc-1").last_run = date(2024, 3, 1)
        uow.commit()
    with store.unit_of_work() as uow, statements(store.engine) as seen:
        # The profile's row, with those of the payers, expenses and documents (none
        # stored) and a flag per child table (all empty): one statement in all.
        assert uow.profiles.get("acc-1").last_run == date(2024, 3, 1)
        assert uow.payers.get("acc-1") == PayerBook("acc-1")
        assert not uow.expenses.get("acc-1").expenses()
        assert not uow.documents.get("acc-1").acts
        assert seen == ["SELECT"]
        uow.rollback()
        # What was read ahead is forgotten with the transaction: read again.
        assert uow.payers.get("acc-1") == PayerBook("acc-1")
        assert uow.profiles.get("acc-1").last_run == date(2024, 3, 1)
    assert seen == ["SELECT", "SELECT"]
