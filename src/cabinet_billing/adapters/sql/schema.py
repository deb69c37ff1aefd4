"""The tables of the SQL store (SQLAlchemy Core).

Each aggregate kind has one table; a row keeps the whole aggregate as JSON text (see
:mod:`cabinet_billing.adapters.sql.codec`) next to the columns that queries need:

* ``row_id`` — an integer key in insertion order, so "oldest first" is ``ORDER BY row_id``;
* ``id`` — the aggregate's id, unique (the account id for the per-account aggregates);
* ``account_id`` — indexed, for "the services (invoices, payments) of an account";
* ``version`` — starts at 1 and grows by one on every update: an update names the
  version it read, so a concurrent change is detected instead of overwritten;
* ``data`` — the JSON text.

Invoices add ``number`` (unique), ``is_open`` (indexed) and ``issued_on``. Counters live
in ``sequences`` (name, value) and idempotency keys in ``keys`` (key, primary key).

The two aggregates that grow every day keep their children in tables of their own, so a
commit writes what changed instead of the whole history: a ledger's entries are rows of
``ledger_entries`` (``account_id``, ``seq``, ``data``; primary key ``(account_id, seq)``)
and an expense book's expenses rows of ``expense_items`` (``account_id``, ``expense_id``,
``position``, ``data``; primary key ``(account_id, expense_id)``). The rows of
``ledgers`` and ``expenses`` keep the rest of the aggregate and its version.

:func:`create_schema` creates whatever is missing: enough for tests, demos and small
hosts. In production run your own migrations (Alembic or plain SQL) from :data:`metadata`.

>>> from sqlalchemy import create_engine, inspect
>>> engine = create_engine("sqlite://")
>>> create_schema(engine)
>>> sorted(inspect(engine).get_table_names())  # doctest: +NORMALIZE_WHITESPACE
['accounts', 'documents', 'expense_items', 'expenses', 'invoices', 'keys',
 'ledger_entries', 'ledgers', 'payers', 'payments', 'profiles', 'sequences', 'services',
 'tickets', 'users']
"""

from __future__ import annotations

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
)

__all__ = [
    "AGGREGATE_TABLES",
    "accounts",
    "create_schema",
    "documents",
    "drop_schema",
    "expense_items",
    "expenses",
    "invoices",
    "keys",
    "ledger_entries",
    "ledgers",
    "metadata",
    "payers",
    "payments",
    "profiles",
    "sequences",
    "services",
    "tickets",
    "users",
]

metadata = MetaData()
"""Every table of the store."""


def _aggregate(name: str, *extra: Column[object]) -> Table:
    return Table(
        name,
        metadata,
        Column("row_id", Integer, primary_key=True, autoincrement=True),
        Column("id", String(200), nullable=False, unique=True),
        Column("account_id", String(200), nullable=False, index=True),
        Column("version", Integer, nullable=False),
        Column("data", Text, nullable=False),
        *extra,
    )


accounts = _aggregate("accounts")
users = _aggregate("users")
services = _aggregate("services")
tickets = _aggregate("tickets")
invoices = _aggregate(
    "invoices",
    Column("number", String(200), nullable=False, unique=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("issued_on", Date, nullable=False),
)
payments = _aggregate("payments")
ledgers = _aggregate("ledgers")
expenses = _aggregate("expenses")
payers = _aggregate("payers")
documents = _aggregate("documents")
profiles = _aggregate("profiles")
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
)
"""The entries of each ledger: ``seq`` is the entry's position in its ledger, from 1."""
expense_items = Table(
    "expense_items",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("expense_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("data", Text, nullable=False),
)
"""The expenses of each expense book; ``position`` keeps the order they were added in."""
sequences = Table(
    "sequences",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", Integer, nullable=False),
)
keys = Table("keys", metadata, Column("key", String(500), primary_key=True))

AGGREGATE_TABLES = (
    accounts,
    users,
    services,
    tickets,
    invoices,
    payments,
    ledgers,
    expenses,
    payers,
    documents,
    profiles,
)
"""The tables that keep aggregates, in the order a unit of work writes them."""


def create_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet.

    Args:
        engine: the database.
    """
    metadata.create_all(engine)


def drop_schema(engine: Engine) -> None:
    """Drop every table of the store, with its data.

    Args:
        engine: the database.
    """
    metadata.drop_all(engine)
