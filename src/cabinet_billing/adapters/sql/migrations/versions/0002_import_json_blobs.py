"""Bring in the data of a database made by earlier versions (one JSON blob per aggregate).

Earlier versions kept each aggregate as JSON text in unprefixed tables (``accounts``,
``invoices``, ``ledgers`` with ``ledger_entries``, ``expenses`` with ``expense_items``,
``sequences``, ``keys`` ...). When those tables are there, every aggregate is read with
the codec (so it passes the classes' validation), written into the relational tables,
and the old tables are dropped; counters and idempotency keys are copied as they are.
On a database without them this revision does nothing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types
from cabinet_billing.adapters.sql.codec import decode, loads
from cabinet_billing.adapters.sql.store import write_new
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.ledger import Ledger, LedgerEntry, RoundingEntry
from cabinet_billing.domain.service import Service, ServiceChange

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LEGACY = (
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
"""The aggregate tables of earlier versions, in the order their rows are brought in."""

_SHAPES = dict(
    zip(
        LEGACY,
        (
            types.ACCOUNTS,
            types.ACCOUNT_USERS,
            types.SERVICES,
            types.TICKETS,
            types.INVOICES,
            types.PAYMENTS,
            types.LEDGERS,
            types.EXPENSE_BOOKS,
            types.PAYER_BOOKS,
            types.DOCUMENT_BOOKS,
            types.BILLING_PROFILES,
        ),
        strict=True,
    )
)
_CHILDREN = ("ledger_entries", "expense_items")
_COUNTERS = ("sequences", "keys")


def _legacy(connection: sa.Connection, schema: str | None) -> set[str]:
    found = set(sa.inspect(connection).get_table_names(schema=schema))
    if not {"accounts", "sequences", "keys"} <= found:
        return set()
    columns = {c["name"] for c in sa.inspect(connection).get_columns("accounts", schema=schema)}
    if not {"row_id", "data"} <= columns:
        return set()
    return found & {*LEGACY, *_CHILDREN, *_COUNTERS}


def _rows(connection: sa.Connection, table: sa.Table, order: str) -> list[Any]:
    return list(connection.execute(sa.select(table).order_by(table.c[order])).mappings())


def _ledger(data: dict[str, Any], entries: list[str]) -> Ledger:
    # The entries were inline (``_entries``) or rows of their own; the index of keys
    # (``_keys``) and the balances are recomputed from them.
    inline = data.pop("_entries", None)
    data.pop("_keys", None)
    data.pop("_balances", None)
    data.pop("_reversed", None)
    rounding = data.pop("_rounding", [])
    if inline is not None:
        booked = [decode(item, LedgerEntry) for item in inline]
    else:
        booked = [loads(LedgerEntry, text) for text in entries]
    return Ledger.rebuilt(
        str(data["account_id"]), booked, [decode(r, RoundingEntry) for r in rounding]
    )


def _book(data: dict[str, Any], items: list[tuple[str, str]]) -> ExpenseBook:
    book: ExpenseBook = decode(data, ExpenseBook)
    if "_expenses" in data:
        return book
    return attrs.evolve(book, _expenses={key: loads(Expense, text) for key, text in items})


def _service(data: dict[str, Any]) -> Service:
    # The records were inline (``history``); they are rows of their own now.
    records = data.pop("history", [])
    service: Service = decode(data, Service)
    return service.restore_history(decode(record, ServiceChange) for record in records)


def upgrade() -> None:  # noqa: C901, PLR0912 - one step per kind of old table
    """Copy the aggregates, counters and keys of the old tables, then drop those."""
    tables: types.Tables = context.config.attributes["tables"]
    connection = op.get_bind()
    found = _legacy(connection, tables.schema)
    if not found:
        return
    if tables.prefix == "":
        msg = "the tables of earlier versions need a table prefix to be brought in"
        raise RuntimeError(msg)
    old = sa.MetaData(schema=tables.schema)
    sa.MetaData.reflect(old, connection, only=sorted(found))
    legacy = {t.name: t for t in old.tables.values()}
    entries: dict[str, list[str]] = {}
    for row in (
        _rows(connection, legacy["ledger_entries"], "seq") if "ledger_entries" in legacy else ()
    ):
        entries.setdefault(row["account_id"], []).append(row["data"])
    items: dict[str, list[tuple[str, str]]] = {}
    for row in (
        _rows(connection, legacy["expense_items"], "position") if "expense_items" in legacy else ()
    ):
        items.setdefault(row["account_id"], []).append((row["expense_id"], row["data"]))
    for name in LEGACY:
        if name not in legacy:
            continue
        shape = _SHAPES[name]
        aggregates: list[object] = []
        for row in _rows(connection, legacy[name], "row_id"):
            data = json.loads(row["data"])
            if name == "ledgers":
                aggregates.append(_ledger(data, entries.get(row["id"], [])))
            elif name == "expenses":
                aggregates.append(_book(data, items.get(row["id"], [])))
            elif name == "services":
                aggregates.append(_service(data))
            else:
                aggregates.append(decode(data, shape.cls))
        write_new(connection, tables, shape, aggregates)
    if "sequences" in legacy:
        counters = [
            {"account_id": "", "name": r["name"], "value": r["value"]}
            for r in _rows(connection, legacy["sequences"], "name")
        ]
        if counters:
            connection.execute(sa.insert(tables.counters), counters)
    if "keys" in legacy:
        keys = [{"key": r["key"]} for r in _rows(connection, legacy["keys"], "key")]
        if keys:
            connection.execute(sa.insert(tables.keys), keys)
    for table in reversed(old.sorted_tables):
        table.drop(connection)
