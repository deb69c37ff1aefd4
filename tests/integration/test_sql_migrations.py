"""Migrations: an empty database and one made by the JSON-blob schema of earlier versions.

The earlier schema is frozen here as it was shipped (one JSON text per aggregate, ledger
entries and expenses in tables of their own), with a writer that stores aggregates the
way that version did. Upgrading brings every aggregate, counter and key across.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
    text,
    update,
)

from cabinet_billing.adapters.memory import MemoryStore
from cabinet_billing.adapters.sql import SchemaOutOfDateError, SqlStore, StoredDataError
from cabinet_billing.adapters.sql.codec import canonical, dumps, encode
from cabinet_billing.adapters.sql.commands import HEAD, current, history, upgrade
from cabinet_billing.adapters.sql.schema import ACCOUNTS, INVOICES
from cabinet_billing.adapters.sql.store import write_new
from cabinet_billing.cli import main
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceLine
from cabinet_billing.domain.ledger import Ledger, LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import document_collation_key
from cabinet_billing.domain.service import Service, ServiceChange
from cabinet_billing.ports.listing import InvoiceQuery, Window
from cabinet_billing.testing.contract import check_unit_of_work
from cabinet_billing.testing.population import Population

pytestmark = pytest.mark.spec("P")

KINDS = (
    "accounts",
    "users",
    "services",
    "tickets",
    "invoices",
    "payments",
    "ledgers",
    "expenses",
    "payers",
    "documents",
    "profiles",
)

# ----------------------------------------------------------------------------- the old schema

legacy = MetaData()


def _aggregate(name: str, *extra: Column[Any]) -> Table:
    return Table(
        name,
        legacy,
        Column("row_id", Integer, primary_key=True, autoincrement=True),
        Column("id", String(200), nullable=False, unique=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("version", Integer, nullable=False),
        Column("data", Text, nullable=False),
        *extra,
    )


OLD = {name: _aggregate(name) for name in KINDS if name != "invoices"}
OLD["invoices"] = _aggregate(
    "invoices",
    Column("number", String(200), nullable=False, unique=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("issued_on", Date, nullable=False),
)
ENTRIES = Table(
    "ledger_entries",
    legacy,
    Column("account_id", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
)
ITEMS = Table(
    "expense_items",
    legacy,
    Column("account_id", String(200), primary_key=True),
    Column("expense_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("data", Text, nullable=False),
)
SEQUENCES = Table(
    "sequences",
    legacy,
    Column("name", String(200), primary_key=True),
    Column("value", Integer, nullable=False),
)
KEYS = Table("keys", legacy, Column("key", String(500), primary_key=True))


def legacy_ledger(ledger: Ledger, *, whole: bool) -> dict[str, Any]:
    """A ledger as the JSON-blob version kept it: with its entries and keys when whole."""
    data = encode(ledger, Ledger)
    assert isinstance(data, dict)
    if whole:
        entries = ledger.entries()
        data["_entries"] = [encode(e, LedgerEntry) for e in entries]
        keys = sorted({e.key for e in entries if e.key is not None})
        data["_keys"] = [[k, [encode(e, LedgerEntry) for e in ledger.by_key(k)]] for k in keys]
    return data


def legacy_service(service: Service) -> dict[str, Any]:
    """A service as the JSON-blob version kept it: with its records inline."""
    data = encode(service, Service)
    assert isinstance(data, dict)
    data["history"] = [encode(r, ServiceChange) for r in service.history]
    return data


def write_legacy(engine: Engine, store: MemoryStore, *, whole: str) -> None:
    """Store every aggregate as the JSON-blob version did; ``whole``'s ledger in one piece."""
    legacy.create_all(engine)
    with engine.begin() as connection:
        for kind in KINDS:
            for key, aggregate in getattr(store, kind).rows.items():
                values: dict[str, Any] = {
                    "id": key,
                    "account_id": getattr(aggregate, "account_id", key),
                    "version": 1,
                    "data": dumps(aggregate),
                }
                if isinstance(aggregate, Invoice):
                    values |= {
                        "number": aggregate.number,
                        "is_open": aggregate.is_open(),
                        "issued_on": aggregate.issued_on,
                    }
                if isinstance(aggregate, Ledger):
                    values["data"] = canonical(legacy_ledger(aggregate, whole=key == whole))
                if isinstance(aggregate, Service):
                    values["data"] = canonical(legacy_service(aggregate))
                if isinstance(aggregate, Ledger) and key != whole:
                    entries = [
                        {"account_id": key, "seq": n, "data": dumps(e, LedgerEntry)}
                        for n, e in enumerate(aggregate.entries(), 1)
                    ]
                    if entries:
                        connection.execute(insert(ENTRIES), entries)
                if isinstance(aggregate, ExpenseBook) and key != whole:
                    data = encode(attrs.evolve(aggregate, _expenses={}), ExpenseBook)
                    assert isinstance(data, dict)
                    del data["_expenses"]
                    values["data"] = canonical(data)
                    items = [
                        {
                            "account_id": key,
                            "expense_id": e.id,
                            "position": n,
                            "data": dumps(e, Expense),
                        }
                        for n, e in enumerate(aggregate._expenses.values())
                    ]
                    if items:
                        connection.execute(insert(ITEMS), items)
                connection.execute(insert(OLD[kind]), [values])
        connection.execute(
            insert(SEQUENCES), [{"name": k, "value": v} for k, v in store.sequences.items()]
        )
        connection.execute(insert(KEYS), [{"key": k} for k in sorted(store.keys)])


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def populations() -> list[MemoryStore]:
    """Three months of small populations of each preset: every aggregate kind, with history."""
    return [_run(name) for name in ("introserv", "astra_cloud", "horoshop")]


def _run(name: str) -> MemoryStore:
    population = Population(name, accounts=4, start=date(2024, 1, 1), seed=5)
    population.run(months=3)
    return population.setup.store


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        found = create_engine(f"sqlite:///{tmp_path / 'billing.db'}")
        yield found
        found.dispose()
        return
    store: SqlStore = request.getfixturevalue("billing_pg_store")
    store.drop_schema()
    yield store.engine


# ----------------------------------------------------------------------------- tests


def test_an_empty_database_upgrades_to_the_schema_the_store_uses(engine: Engine) -> None:
    assert current(engine) is None
    upgrade(engine)
    assert current(engine) == HEAD
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": "cb_alembic_version"}
        )
        assert compare_metadata(context, SqlStore(engine).tables.metadata) == []
    store = SqlStore(engine)
    check_unit_of_work(store.unit_of_work)
    upgrade(engine)  # nothing left to do
    assert current(engine) == HEAD


def test_the_head_is_the_last_revision() -> None:
    assert [r for r, _ in history()] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
    ]
    assert history()[-1][0] == HEAD


def test_a_database_of_the_json_blob_schema_upgrades_and_loses_nothing(
    engine: Engine, populations: list[MemoryStore]
) -> None:
    for memory in populations:
        _drop_everything(engine)
        whole = next(iter(memory.ledgers.rows))
        write_legacy(engine, memory, whole=whole)
        store = SqlStore(engine)
        with pytest.raises(SchemaOutOfDateError, match="cabinet-billing db upgrade"):
            store.unit_of_work().accounts.ids()
        upgrade(engine)
        assert not {"accounts", "ledger_entries", "sequences", "keys"} & set(
            inspect(engine).get_table_names()
        )
        store = SqlStore(engine)
        compared = 0
        with store.unit_of_work() as uow:
            for kind in KINDS:
                repository = getattr(uow, kind)
                for key, aggregate in getattr(memory, kind).rows.items():
                    stored = repository.get(key)
                    assert stored == aggregate, (kind, key)
                    if isinstance(aggregate, Service):
                        assert stored.history == aggregate.history, key
                    compared += 1
            assert list(uow.keys.all()) == sorted(memory.keys)
            for name, value in memory.sequences.items():
                assert uow.sequences.next(name) == value + 1
            # Every account is due at once (0010): the next run visits each and dates it.
            assert uow.accounts.due(date.min) == sorted(memory.accounts.rows)
        assert compared > 50


def test_an_out_of_date_database_names_the_command_that_upgrades_it(engine: Engine) -> None:
    upgrade(engine, revision="0001")
    store = SqlStore(engine)
    with pytest.raises(SchemaOutOfDateError) as raised:
        store.unit_of_work().accounts.ids()
    assert raised.value.found == "0001"
    assert str(raised.value) == (
        f"the database is at revision 0001, this version needs {HEAD}: "
        "run `cabinet-billing db upgrade --url URL`"
    )


def test_the_command_line_upgrades_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "current", "--url", url]) == 0
    assert (
        capsys.readouterr().out
        == f"no revision (head is {HEAD}: run `cabinet-billing db upgrade`)\n"
    )
    assert main(["db", "upgrade", "--url", url, "--prefix", "billing_"]) == 0
    assert capsys.readouterr().out == f"{HEAD} (head)\n"
    assert "billing_invoices" in inspect(create_engine(url)).get_table_names()
    assert main(["db", "history"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("(head)")


def test_stores_with_other_prefixes_share_a_database_without_meeting(engine: Engine) -> None:
    upgrade(engine, prefix="a_")
    upgrade(engine, prefix="b_")
    first, second = SqlStore(engine, prefix="a_"), SqlStore(engine, prefix="b_")
    with first.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice"))
        uow.commit()
    with second.unit_of_work() as uow:
        assert uow.accounts.ids() == []
    assert {"a_accounts", "b_accounts"} <= set(inspect(engine).get_table_names())


def _stored_account(engine: Engine) -> SqlStore:
    store = SqlStore(engine)
    store.create_schema()
    with store.unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "alice", email="a@example.com"))
        uow.commit()
    return store


def _edit_payload(store: SqlStore, change: Any) -> None:
    table = store.tables.accounts
    with store.engine.begin() as connection:
        data = json.loads(connection.execute(select(table.c.data)).scalar_one())
        connection.execute(update(table).values(data=canonical(change(data))))


def test_an_unknown_stored_field_is_an_error_that_drops_nothing(engine: Engine) -> None:
    store = _stored_account(engine)
    _edit_payload(store, lambda d: {**d, "colour": "red"})
    with pytest.raises(StoredDataError, match="colour"), store.unit_of_work() as uow:
        uow.accounts.get("acc-1")


def test_a_field_missing_from_a_stored_row_gets_its_default(engine: Engine) -> None:
    store = _stored_account(engine)

    def without_address(data: dict[str, Any]) -> dict[str, Any]:
        del data["profile"]["postal_address"]
        return data

    _edit_payload(store, without_address)
    with store.unit_of_work() as uow:
        account = uow.accounts.get("acc-1")
    assert account == Account.open("acc-1", "alice", email="a@example.com")


def test_a_field_without_default_missing_says_to_upgrade(engine: Engine) -> None:
    store = _stored_account(engine)
    login = {"ip": "10.0.0.1"}  # a login record without its time

    def half_a_login(data: dict[str, Any]) -> dict[str, Any]:
        data.setdefault("security", {})["last_login"] = login
        return data

    _edit_payload(store, half_a_login)
    with (
        pytest.raises(StoredDataError, match=r"LoginRecord lacks field\(s\) at .* db upgrade"),
        store.unit_of_work() as uow,
    ):
        uow.accounts.get("acc-1")


def test_data_of_a_newer_format_is_refused(engine: Engine) -> None:
    store = _stored_account(engine)
    _edit_payload(store, lambda d: {**d, "$v": 99})
    with pytest.raises(StoredDataError, match="newer"), store.unit_of_work() as uow:
        uow.accounts.get("acc-1")


def _drop_everything(engine: Engine) -> None:
    SqlStore(engine).drop_schema()
    legacy.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS cb_alembic_version"))


def test_invoices_stored_before_0011_get_number_keys_and_list_naturally(engine: Engine) -> None:
    upgrade(engine, revision="0010")
    numbers = ["HOR-1000", "HOR-999", "hor-0999", "HOR-9", "HOR-10", "HOR-1001"]
    invoices = [
        Invoice.issue(
            f"inv-{n}",
            number,
            "acc-1",
            [InvoiceLine("Tariff", Money("10.00", "EUR"))],
            issued_on=date(2024, 3, 1),
        )
        for n, number in enumerate(numbers)
    ]
    tables = SqlStore(engine).tables
    with engine.begin() as connection:
        write_new(connection, tables, ACCOUNTS, [Account.open("acc-1", "ann", currency="EUR")])
        write_new(connection, tables, INVOICES, invoices)
    upgrade(engine)
    with engine.connect() as connection:
        read = select(tables.invoices.c.number, tables.invoices.c.number_key)
        keys = dict(connection.execute(read).all())
    assert keys == {n: document_collation_key(n) for n in numbers}
    store = SqlStore(engine)
    query = InvoiceQuery(InvoiceFilter.ALL, date(2024, 3, 1))
    with store.unit_of_work() as uow:
        first = uow.invoices.page("acc-1", query, Window(limit=4, newest_first=False))
        rest = uow.invoices.page(
            "acc-1", query, Window(limit=4, after=first.items[-1].id, newest_first=False)
        )
    assert [i.number for i in (*first.items, *rest.items)] == [
        "HOR-9",
        "HOR-10",
        "hor-0999",
        "HOR-999",
        "HOR-1000",
        "HOR-1001",
    ]
    assert (first.more, first.total, rest.more) == (True, 6, False)
