"""A commit's writes go together (one pipeline on PostgreSQL); a conflict names its own aggregate."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from cabinet_billing import Account, Money
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.errors import ConflictError

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def open_accounts(store: SqlStore, *ids: str) -> None:
    with store.unit_of_work() as uow:
        for account_id in ids:
            uow.accounts.add(Account.open(account_id, f"login-{account_id}"))
            uow.ledgers.get(account_id).top_up(rub("1.00"), AT, key=f"open-{account_id}")
        uow.commit()


def invoice(invoice_id: str, number: str, account_id: str = "acc-1") -> Invoice:
    return Invoice.issue(
        invoice_id,
        number,
        account_id,
        [InvoiceLine("VPS", Money("30.00", "RUB"))],
        issued_on=date(2024, 3, 1),
    )


def balances(store: SqlStore) -> dict[str, Money]:
    with store.unit_of_work() as uow:
        return {a: uow.ledgers.get(a).balance("RUB") for a in uow.accounts.ids()}


def versions(store: SqlStore) -> dict[str, int]:
    table = store.tables.ledgers
    with store.engine.connect() as connection:
        rows = connection.execute(select(table.c.account_id, table.c.version)).all()
    return {str(a): int(v) for a, v in rows}


@pytest.mark.parametrize("stale", ["acc-1", "acc-2", "acc-3"])
def test_of_the_aggregates_one_commit_writes_the_conflict_names_the_one_changed_meanwhile(
    store: SqlStore, stale: str
) -> None:
    open_accounts(store, "acc-1", "acc-2", "acc-3")
    mine, theirs = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with mine:
        for account_id in ("acc-1", "acc-2", "acc-3"):
            mine.ledgers.get(account_id).top_up(rub("5.00"), AT, key=f"mine-{account_id}")
        with theirs:
            theirs.ledgers.get(stale).top_up(rub("7.00"), AT, key="theirs")
            theirs.commit()
        with pytest.raises(ConflictError) as raised:
            mine.commit()
    assert str(raised.value) == (
        f"ledger {stale!r}: was changed by another unit of work after version 1 was read; "
        "nothing was stored, load it again and retry"
    )
    # Nothing of the failed commit is kept, the other unit of work's change is.
    expected = {a: rub("8.00" if a == stale else "1.00") for a in ("acc-1", "acc-2", "acc-3")}
    assert balances(store) == expected
    assert versions(store) == {a: 2 if a == stale else 1 for a in expected}


def test_a_conflict_in_a_later_repository_names_its_aggregate_not_an_earlier_one(
    store: SqlStore,
) -> None:
    open_accounts(store, "acc-1", "acc-2")
    mine, theirs = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with mine:
        # Accounts are written before ledgers: the account's write goes first and holds.
        mine.accounts.get("acc-1").change_email("alice@example.com")
        mine.ledgers.get("acc-2").top_up(rub("5.00"), AT, key="mine")
        with theirs:
            theirs.ledgers.get("acc-2").top_up(rub("7.00"), AT, key="theirs")
            theirs.commit()
        with pytest.raises(ConflictError, match=r"^ledger 'acc-2': was changed"):
            mine.commit()
    with store.unit_of_work() as uow:
        assert uow.accounts.get("acc-1").profile.email != "alice@example.com"
        assert uow.ledgers.get("acc-2").balance("RUB") == rub("8.00")


def test_a_row_stored_meanwhile_names_the_aggregate_whose_insert_it_stops(
    store: SqlStore,
) -> None:
    open_accounts(store, "acc-1", "acc-2")
    mine, theirs = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with mine:
        # An account's update before the invoice's insert, a ledger's update after it.
        mine.accounts.get("acc-1").change_email("alice@example.com")
        mine.invoices.add(invoice("inv-2", "INV-2"))
        mine.ledgers.get("acc-2").top_up(rub("5.00"), AT, key="mine")
        with theirs:
            theirs.invoices.add(invoice("inv-2", "INV-2"))
            theirs.commit()
        with pytest.raises(ConflictError) as raised:
            mine.commit()
    assert str(raised.value) == (
        "invoice 'inv-2': was stored by another unit of work at the same time; nothing was stored"
    )
    assert balances(store) == {"acc-1": rub("1.00"), "acc-2": rub("1.00")}
    with store.unit_of_work() as uow:
        assert uow.accounts.get("acc-1").profile.email != "alice@example.com"
        assert [i.id for i in uow.invoices.for_account("acc-1")] == ["inv-2"]


def test_a_version_conflict_before_a_row_stored_meanwhile_is_the_one_named(
    store: SqlStore,
) -> None:
    open_accounts(store, "acc-1")
    mine, theirs = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with mine:
        mine.accounts.get("acc-1").change_email("alice@example.com")
        mine.invoices.add(invoice("inv-2", "INV-2"))
        with theirs:
            theirs.accounts.get("acc-1").change_email("bob@example.com")
            theirs.invoices.add(invoice("inv-2", "INV-2"))
            theirs.commit()
        with pytest.raises(
            ConflictError, match=r"^account 'acc-1': was changed .* after version 1"
        ):
            mine.commit()
    with store.unit_of_work() as uow:
        assert uow.accounts.get("acc-1").profile.email == "bob@example.com"


def test_after_a_conflict_the_unit_of_work_writes_again_and_commits(store: SqlStore) -> None:
    open_accounts(store, "acc-1", "acc-2")
    mine, theirs = SqlUnitOfWork(store), SqlUnitOfWork(store)
    with mine:
        mine.ledgers.get("acc-1").top_up(rub("5.00"), AT, key="mine-1")
        mine.ledgers.get("acc-2").top_up(rub("5.00"), AT, key="mine-2")
        with theirs:
            theirs.ledgers.get("acc-2").top_up(rub("7.00"), AT, key="theirs")
            theirs.commit()
        with pytest.raises(ConflictError, match="ledger 'acc-2'"):
            mine.commit()
        mine.ledgers.get("acc-1").top_up(rub("5.00"), AT, key="mine-1")
        mine.ledgers.get("acc-2").top_up(rub("5.00"), AT, key="mine-2")
        mine.commit()
    assert balances(store) == {"acc-1": rub("6.00"), "acc-2": rub("13.00")}
    assert versions(store) == {"acc-1": 2, "acc-2": 3}


def test_the_writes_of_a_commit_are_pipelined_on_postgresql_only(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        pipelined = uow._session.pipelined
    assert pipelined is (store.engine.dialect.name == "postgresql")
