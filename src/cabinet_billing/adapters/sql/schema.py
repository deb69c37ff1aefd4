"""The tables of the SQL store: one per aggregate, with the columns finance and support query.

Every table starts with ``account_id``, so the schema can be distributed by account;
aggregates that are many per account (services, invoices, payments, tickets) are keyed by
``(account_id, <kind>_id)`` and their id is unique on its own too. Money is
``NUMERIC(38, 4)`` next to a ``currency`` column; statuses, kinds and modes are their
enum values as text; days are ``DATE`` and instants ``TIMESTAMP WITH TIME ZONE`` (UTC).
What nobody filters or sums stays in a ``data`` column as JSON (``JSONB`` on
PostgreSQL), marked with its format version. Each aggregate row has a ``version`` that
grows on every change (optimistic locking).

Collections that grow or that people query are child tables keyed by their parent:
``invoice_lines`` and ``invoice_payments``, ``ledger_entries`` and ``balances``,
``expenses``, ``service_history``, ``ticket_messages``, ``payment_events``,
``payers``, ``acts``, ``contracts`` and ``credit_notes``, ``saved_methods``, ``subscriptions``,
``credit_lines`` and ``credit_statements``, ``done_keys`` (what the billing run did for an
account, once per key) and ``users``. Counters are rows of ``counters`` keyed by
``(account_id, name)`` and idempotency keys rows of ``keys``, each with the fingerprint of
what it stands for (a gateway event's content), when it has one. Notifications waiting to
be delivered are rows of ``outbox`` (see :mod:`cabinet_billing.adapters.sql.outbox`), and
the accounts' notification inboxes rows of ``inbox`` and ``inbox_reads``
(:mod:`cabinet_billing.adapters.sql.inbox`).
The due index, each account's next event date for the billing run, is ``next_due``
(see :class:`~cabinet_billing.adapters.sql.store.SqlStore` and ``docs/scaling.md``).

Every table name carries the store's prefix (``cb_`` by default), and the tables may live
in a schema of their own: ``Tables(prefix="billing_", schema="finance")``.

>>> from sqlalchemy import create_engine, inspect
>>> engine = create_engine("sqlite://")
>>> tables = Tables()
>>> tables.metadata.create_all(engine)
>>> sorted(inspect(engine).get_table_names())  # doctest: +NORMALIZE_WHITESPACE
['cb_account_users', 'cb_accounts', 'cb_acts', 'cb_balances', 'cb_bank_reviews',
 'cb_billing_profiles',
 'cb_contracts', 'cb_counters', 'cb_credit_lines', 'cb_credit_notes', 'cb_credit_statements',
 'cb_document_books', 'cb_done_keys', 'cb_expense_books', 'cb_expenses', 'cb_inbox',
 'cb_inbox_reads', 'cb_invoice_lines',
 'cb_invoice_payments', 'cb_invoices', 'cb_keys', 'cb_ledger_entries', 'cb_ledgers',
 'cb_next_due', 'cb_number_claims', 'cb_outbox', 'cb_payer_books', 'cb_payers', 'cb_payment_events', 'cb_payments', 'cb_saved_methods',
 'cb_service_history', 'cb_services', 'cb_subscriptions', 'cb_ticket_messages',
 'cb_tickets', 'cb_users']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from cabinet_billing.adapters.sql.codec import canonical
from cabinet_billing.adapters.sql.errors import StoredDataError
from cabinet_billing.adapters.sql.inbox import inbox_tables
from cabinet_billing.adapters.sql.mapping import (
    AMOUNT_PLACES,
    Children,
    Col,
    Form,
    Kind,
    Shape,
)
from cabinet_billing.adapters.sql.outbox import outbox_table
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import AccountDocuments
from cabinet_billing.domain.expense import ExpenseBook
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.numbering import document_collation_key
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.service import Service
from cabinet_billing.domain.support import Ticket

__all__ = ["DEFAULT_PREFIX", "SHAPES", "Amount", "Instant", "Payload", "Tables"]

DEFAULT_PREFIX = "cb_"
"""The prefix of every table name unless the store is told otherwise."""


# ----------------------------------------------------------------------------- column types


class Amount(TypeDecorator[Decimal]):
    """``NUMERIC(38, 4)``: exact on PostgreSQL; on SQLite a number (SQLite has no decimal type).

    No float is made from an amount: the value is bound as a :class:`~decimal.Decimal`
    on PostgreSQL and as its text on SQLite, and read back as the driver's Decimal on
    PostgreSQL; on SQLite, whose driver gives the stored integer or double, as the
    Decimal of that number's shortest text (which is the amount, within the limit below).
    (``Numeric``'s own processors would go through a float: its bind processor on
    SQLite, its result processor without ``asdecimal``.) SQLite keeps text that reads
    as a number in a ``NUMERIC`` column as an integer or a double, so there an amount is
    exact up to 15 significant digits, every amount below 100 billion at 4 places, which
    the store's sums also add up exactly; SQLite rounds one with more digits to 15.
    """

    impl = Numeric(38, AMOUNT_PLACES, asdecimal=False)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """The value as sent to the database: the Decimal, or on SQLite its text."""
        if dialect.name == "postgresql":
            return None
        return _as_text

    def result_processor(
        self,
        dialect: Dialect,
        coltype: object,
    ) -> Callable[[Any], Any] | None:
        """The value as read from the database, a Decimal."""
        del dialect, coltype
        return _as_decimal


def _as_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _as_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


class Instant(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE``; on SQLite ISO 8601 text in UTC (so it sorts)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """The type the database sees."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:  # noqa: ANN401
        """The value as sent to the database."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise StoredDataError("instant", f"{value} has no time zone")
        utc = value.astimezone(UTC)
        return utc.isoformat(sep=" ") if dialect.name == "sqlite" else utc

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        """The value as read from the database."""
        del dialect
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise StoredDataError("instant", f"{value!r} is not a time")
        return value.astimezone(UTC)


class Payload(TypeDecorator[str]):
    """JSON text on the Python side; ``JSONB`` on PostgreSQL, ``TEXT`` elsewhere."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """The type the database sees."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:  # noqa: ANN401
        """The value as sent to the database."""
        if value is None or dialect.name != "postgresql":
            return value
        return json.loads(value)

    def process_result_value(self, value: object, dialect: Dialect) -> str | None:
        """The value as read from the database."""
        if value is None or dialect.name != "postgresql":
            return value  # type: ignore[return-value]
        return canonical(value)  # type: ignore[arg-type]


_TYPES: dict[Kind, Any] = {
    Kind.ID: lambda: String(200),
    Kind.TEXT: lambda: String(200),
    Kind.LONG_TEXT: Text,
    Kind.INT: BigInteger,
    Kind.BOOL: Boolean,
    Kind.DATE: Date,
    Kind.INSTANT: Instant,
    Kind.AMOUNT: Amount,
    Kind.RATE: lambda: Numeric(12, 6),
    Kind.CURRENCY: lambda: String(3),
    Kind.SORT_KEY: lambda: Text().with_variant(Text(collation="C"), "postgresql"),
}


# ----------------------------------------------------------------------------- the shapes


def _id(name: str, path: str = "id") -> Col:
    return Col(name, Kind.ID, path)


_ACCOUNT = Col("account_id", Kind.ID)
_CURRENCY = Col("currency", Kind.CURRENCY, "")


def _money(name: str, path: str | None = None, *, nullable: bool = False) -> Col:
    return Col(name, Kind.AMOUNT, path, nullable=nullable, currency="currency")


ACCOUNTS = Shape(
    "accounts",
    Account,
    (
        _id("account_id"),
        Col("login", Kind.TEXT),
        Col("email", Kind.TEXT, "profile.email"),
        Col("profile_type", Kind.TEXT, "profile.profile_type"),
        Col("country", Kind.TEXT, "profile.country", nullable=True),
        Col("language", Kind.TEXT, "profile.language"),
        Col("currency", Kind.CURRENCY, "profile.currency"),
        Col("company_name", Kind.TEXT, "profile.company_name"),
        Col("tax_id", Kind.TEXT, "profile.tax_id"),
        Col("verification", Kind.TEXT),
        Col("service_code", Kind.TEXT, "settings.service_code"),
    ),
)

ACCOUNT_USERS = Shape(
    "account_users",
    AccountUsers,
    (_ACCOUNT, Col("owner_id", Kind.ID)),
    children=(
        Children(
            "users",
            "_users",
            Form.DICT,
            key="user_id",
            key_path="id",
            cols=(
                Col("name", Kind.TEXT),
                Col("email", Kind.TEXT),
                Col("enabled", Kind.BOOL),
                Col("is_owner", Kind.BOOL),
            ),
        ),
    ),
)

SERVICES = Shape(
    "services",
    Service,
    (
        _id("service_id"),
        _ACCOUNT,
        Col("plan_id", Kind.ID),
        Col("plan_name", Kind.LONG_TEXT),
        Col("kind", Kind.TEXT),
        Col("status", Kind.TEXT, index=True),
        Col("billing_mode", Kind.TEXT),
        _money("price"),
        _CURRENCY,
        Col("period_unit", Kind.TEXT, "period.unit"),
        Col("period_count", Kind.INT, "period.count"),
        Col("created_at", Kind.INSTANT),
        Col("ip", Kind.TEXT, nullable=True),
        Col("paid_until", Kind.DATE, nullable=True, index=True),
        Col("anchor", Kind.DATE, nullable=True),
        Col("auto_renew", Kind.BOOL),
        Col("paid", Kind.BOOL),
    ),
)
"""A service's row: what loading a service reads (with its number of records and the
time of the last one, from ``service_history``)."""

SERVICE_HISTORY = Children(
    "service_history",
    "_new",
    Form.LIST,
    cols=(
        Col("at", Kind.INSTANT),
        Col("action", Kind.TEXT),
        Col("from_status", Kind.TEXT, nullable=True),
        Col("to_status", Kind.TEXT),
        Col("actor_role", Kind.TEXT, "actor.role"),
        Col("actor_name", Kind.TEXT, "actor.name"),
        Col("reason", Kind.LONG_TEXT, nullable=True),
    ),
)
"""A service's records: rows of their own by ``position`` (from 0, the order), written
once (the unsaved records of a commit) and read by range, never with the service."""

SERVICE_WRITES = Shape(
    "services", Service, (_id("service_id"), _ACCOUNT), children=(SERVICE_HISTORY,)
)
"""The shape that turns a service's unsaved records into ``service_history`` rows."""

TICKETS = Shape(
    "tickets",
    Ticket,
    (
        _id("ticket_id"),
        _ACCOUNT,
        Col("department", Kind.TEXT),
        Col("subject", Kind.LONG_TEXT),
        Col("priority", Kind.TEXT),
        Col("status", Kind.TEXT, index=True),
        Col("related_service_id", Kind.ID, nullable=True),
        Col("unread_by_customer", Kind.BOOL),
        Col("unread_by_staff", Kind.BOOL),
    ),
    children=(
        Children(
            "ticket_messages",
            "messages",
            Form.LIST,
            cols=(
                Col("at", Kind.INSTANT),
                Col("author", Kind.TEXT),
                Col("author_name", Kind.TEXT),
                Col("text", Kind.LONG_TEXT),
            ),
        ),
    ),
)

_TOTALS = (_money("net", "total.net"), _money("tax", "total.tax"), _money("gross", "total.gross"))

INVOICES = Shape(
    "invoices",
    Invoice,
    (
        _id("invoice_id"),
        _ACCOUNT,
        Col("number", Kind.TEXT),
        # Nullable only because revision 0011 added it to stored invoices (see there).
        Col(
            "number_key",
            Kind.SORT_KEY,
            nullable=True,
            derive=lambda i: document_collation_key(i.number),
        ),
        Col("kind", Kind.TEXT),
        Col("status", Kind.TEXT, "_status", index=True),
        Col("issued_on", Kind.DATE, index=True),
        Col("due_on", Kind.DATE, nullable=True),
        Col("closed_on", Kind.DATE, "_closed_on", nullable=True),
        _CURRENCY,
        *_TOTALS,
        Col("amount_paid", Kind.AMOUNT, currency="currency", derive=lambda i: i.paid),
        Col("amount_due", Kind.AMOUNT, currency="currency", derive=lambda i: i.amount_due),
        Col("is_open", Kind.BOOL, derive=lambda i: i.is_open(), index=True),
        Col("payment_method_id", Kind.ID, nullable=True),
        Col("payer_id", Kind.ID, nullable=True),
        Col("reason", Kind.LONG_TEXT, "_reason"),
    ),
    children=(
        Children(
            "invoice_lines",
            "lines",
            Form.LIST,
            cols=(
                Col("description", Kind.LONG_TEXT),
                Col("service_id", Kind.ID, nullable=True, index=True),
                Col("expense_id", Kind.ID, nullable=True),
                Col("paid_until", Kind.DATE, nullable=True),
                _CURRENCY,
                _money("net", "amounts.net"),
                _money("tax", "amounts.tax"),
                _money("gross", "amounts.gross"),
                Col("tax_rate", Kind.RATE, "rate.percent", nullable=True),
                Col("tax_name", Kind.TEXT, "rate.name", nullable=True),
            ),
        ),
        Children(
            "invoice_payments",
            "_payments",
            Form.LIST,
            cols=(
                Col("payment_id", Kind.ID),
                _CURRENCY,
                _money("amount"),
                Col("paid_on", Kind.DATE, "on"),
            ),
            payload=False,
        ),
    ),
)

PAYMENTS = Shape(
    "payments",
    Payment,
    (
        _id("payment_id"),
        _ACCOUNT,
        Col("purpose", Kind.TEXT),
        Col("status", Kind.TEXT, "_status", index=True),
        Col("created_at", Kind.INSTANT, index=True),
        Col("method_id", Kind.ID, nullable=True),
        Col("invoice_id", Kind.ID, nullable=True),
        Col("payer_id", Kind.ID, nullable=True),
        _CURRENCY,
        _money("base", "quote.base"),
        _money("fee", "quote.fee"),
        _money("total", "quote.total"),
        _money("cashback", "quote.cashback"),
        _money("refunded", "_refunded", nullable=True),
    ),
    children=(
        Children(
            "payment_events",
            "_events",
            Form.DICT,
            key="event_key",
            key_path="event.key",
            cols=(
                Col("kind", Kind.TEXT, "event.kind"),
                Col("at", Kind.INSTANT, "event.at"),
                Col("reason", Kind.LONG_TEXT, "event.reason"),
                Col("outcome", Kind.TEXT),
                Col("status", Kind.TEXT),
                Col("currency", Kind.CURRENCY, "", nullable=True),
                _money("amount", "event.amount", nullable=True),
                _money("refunded", nullable=True),
            ),
            payload=False,
        ),
    ),
)

LEDGERS = Shape(
    "ledgers",
    Ledger,
    (_ACCOUNT,),
    children=(
        Children(
            "balances",
            "_balances",
            Form.DICT,
            key="currency",
            cols=(Col("amount", Kind.AMOUNT, "@", currency="currency"),),
            payload=False,
        ),
    ),
)
"""A ledger's row and its running balances: what loading a ledger reads."""

LEDGER_ENTRIES = Children(
    "ledger_entries",
    "_new",
    Form.LIST,
    key="seq",
    key_path="seq",
    inherit=("account_id",),
    cols=(
        Col("at", Kind.INSTANT),
        Col("kind", Kind.TEXT),
        _CURRENCY,
        _money("amount"),
        _money("balance_after"),
        Col("memo", Kind.LONG_TEXT),
        Col("ref", Kind.ID, nullable=True),
        Col("idempotency_key", Kind.LONG_TEXT, "key", nullable=True),
        Col("reverses", Kind.INT, nullable=True),
    ),
)
"""A ledger's entries: rows of their own, written once (the unsaved entries of a commit)
and read by range of ``seq`` or by idempotency key, never with the ledger."""

LEDGER_WRITES = Shape("ledgers", Ledger, (_ACCOUNT,), children=(LEDGER_ENTRIES,))
"""The shape that turns a ledger's unsaved entries into ``ledger_entries`` rows."""

LEDGER_KEY_INDEX = "ledger_entries_key_idx"
"""The index of ledger entries by ``(account_id, idempotency_key)`` (schema revision 0005)."""

UNPAID_EXPENSES_INDEX = "expenses_unpaid_idx"
"""The partial index of an account's unpaid expenses by ``(account_id, position)``
(``unpaid != 0``; revision 0012 on ``account_id`` alone, 0013 with the position)."""

PAID_EXPENSES_INDEX = "expenses_paid_idx"
"""The partial index of an account's paid expenses by ``(account_id, position)``
(``unpaid = 0``, revision 0013): with :data:`UNPAID_EXPENSES_INDEX`, a book's last
position in two index seeks, and each index the only one that fits its question."""


def unpaid_expenses(expenses: Table) -> ColumnElement[bool]:
    """The condition of :data:`UNPAID_EXPENSES_INDEX`: a query with it can use the index."""
    return expenses.c.unpaid != literal_column("0")


def paid_expenses(expenses: Table) -> ColumnElement[bool]:
    """The condition of :data:`PAID_EXPENSES_INDEX`: a query with it can use the index."""
    return expenses.c.unpaid == literal_column("0")


EXPENSE_BOOKS = Shape(
    "expense_books",
    ExpenseBook,
    (_ACCOUNT,),
    children=(
        Children(
            "expenses",
            "_expenses",
            Form.DICT,
            key="expense_id",
            key_path="id",
            inherit=("account_id",),
            cols=(
                Col("charged_on", Kind.DATE),
                Col("service_id", Kind.ID, nullable=True),
                Col("service_name", Kind.LONG_TEXT),
                _CURRENCY,
                _money("amount"),
                _money("tax"),
                Col("unpaid", Kind.AMOUNT, currency="currency", derive=lambda e: e.unpaid),
                Col("payer_id", Kind.ID, nullable=True),
                Col("act_id", Kind.ID, nullable=True),
            ),
        ),
    ),
)

PAYER_BOOKS = Shape(
    "payer_books",
    PayerBook,
    (_ACCOUNT,),
    children=(
        Children(
            "payers",
            "_payers",
            Form.DICT,
            key="payer_id",
            key_path="id",
            cols=(
                Col("kind", Kind.TEXT),
                Col("country", Kind.TEXT),
                Col("name", Kind.LONG_TEXT),
                Col("email", Kind.TEXT),
                Col("phone", Kind.TEXT),
            ),
        ),
    ),
)

DOCUMENT_BOOKS = Shape(
    "document_books",
    AccountDocuments,
    (_ACCOUNT,),
    children=(
        Children(
            "acts",
            "_acts",
            Form.LIST,
            key="act_id",
            key_path="id",
            inherit=("account_id",),
            cols=(
                Col("number", Kind.TEXT),
                Col("month", Kind.DATE),
                Col("payer_id", Kind.ID, nullable=True),
                Col("tax_rate", Kind.RATE, "rate.percent"),
                Col("tax_name", Kind.TEXT, "rate.name"),
                Col("tax_mode", Kind.TEXT, "mode"),
                _CURRENCY,
                *_TOTALS,
            ),
            unique=("number",),
        ),
        Children(
            "contracts",
            "_contracts",
            Form.LIST,
            key="number",
            key_path="number",
            cols=(
                Col("payer_id", Kind.ID),
                Col("started_on", Kind.DATE),
                Col("payment_id", Kind.ID, nullable=True),
                Col("status", Kind.TEXT),
                Col("terminated_on", Kind.DATE, nullable=True),
            ),
            payload=False,
        ),
        Children(
            "credit_notes",
            "_credit_notes",
            Form.LIST,
            key="credit_note_id",
            key_path="id",
            inherit=("account_id",),
            cols=(
                Col("number", Kind.TEXT),
                Col("issued_on", Kind.DATE),
                Col("reason", Kind.TEXT),
                Col("status", Kind.TEXT),
                Col("invoice_id", Kind.ID, nullable=True),
                Col("payment_id", Kind.ID, nullable=True),
                Col("payer_id", Kind.ID, nullable=True),
                _CURRENCY,
                *_TOTALS,
            ),
            unique=("number",),
        ),
    ),
)

BILLING_PROFILES = Shape(
    "billing_profiles",
    BillingProfile,
    (_ACCOUNT,),
    children=(
        Children(
            "saved_methods",
            "_methods",
            Form.DICT,
            key="method_id",
            key_path="id",
            inherit=("account_id",),
            cols=(
                Col("kind", Kind.TEXT),
                Col("name", Kind.LONG_TEXT),
                Col("label", Kind.LONG_TEXT),
                Col("provider", Kind.TEXT),
                Col("token", Kind.LONG_TEXT),
                Col("status", Kind.TEXT),
                Col("for_purchases", Kind.BOOL),
                Col("for_subscriptions", Kind.BOOL),
                Col("changed_at", Kind.INSTANT, nullable=True),
            ),
        ),
        Children(
            "subscriptions",
            "_subscriptions",
            Form.DICT,
            key="service_id",
            key_path="service_id",
            inherit=("account_id",),
            cols=(
                Col("kind", Kind.TEXT),
                Col("source", Kind.TEXT),
                Col("method_id", Kind.ID, nullable=True),
                _CURRENCY,
                _money("price"),
                Col("period_unit", Kind.TEXT, "period.unit"),
                Col("period_count", Kind.INT, "period.count"),
                Col("paid_until", Kind.DATE),
                Col("anchor", Kind.DATE, nullable=True),
                Col("enabled", Kind.BOOL),
                Col("failed_attempts", Kind.INT),
                Col("last_failure_on", Kind.DATE, nullable=True),
            ),
            payload=False,
        ),
        Children(
            "credit_lines",
            "credit",
            Form.OPTIONAL,
            inherit=("account_id",),
            cols=(_CURRENCY, _money("credit_limit", "limit")),
        ),
        Children(
            "credit_statements",
            "credit._statements",
            Form.LIST,
            key="statement_id",
            key_path="id",
            cols=(
                Col("month", Kind.DATE),
                Col("issued_on", Kind.DATE),
                Col("due_on", Kind.DATE),
                Col("block_on", Kind.DATE, nullable=True),
                _CURRENCY,
                _money("amount"),
                _money("paid"),
                Col("repaid_on", Kind.DATE, nullable=True),
            ),
            payload=False,
        ),
        Children("done_keys", "_done", Form.SET, key="done_key", payload=False),
    ),
)

BANK_REVIEWS = Shape(
    "bank_reviews",
    BankReview,
    (
        _id("line_id", "line_id"),
        _ACCOUNT,
        Col("status", Kind.TEXT, index=True),
        Col("reason", Kind.TEXT),
        Col("value_date", Kind.DATE),
        _money("amount"),
        _CURRENCY,
        Col("received_at", Kind.INSTANT),
        Col("invoice_id", Kind.ID, nullable=True),
        Col("credited_to", Kind.ID),
        Col("payment_id", Kind.ID, nullable=True),
        Col("resolved_by", Kind.TEXT),
        Col("resolved_at", Kind.INSTANT, nullable=True),
    ),
)

SHAPES = (
    ACCOUNTS,
    ACCOUNT_USERS,
    SERVICES,
    TICKETS,
    INVOICES,
    PAYMENTS,
    LEDGERS,
    EXPENSE_BOOKS,
    PAYER_BOOKS,
    DOCUMENT_BOOKS,
    BILLING_PROFILES,
    BANK_REVIEWS,
)
"""Every aggregate's shape, in the order a unit of work writes them."""


# ----------------------------------------------------------------------------- tables


def _column(col: Col, *, nullable: bool | None = None) -> Column[Any]:
    kind = _TYPES[col.kind]
    return Column(col.name, kind(), nullable=col.nullable if nullable is None else nullable)


class Tables:
    """The store's tables, named with a prefix, optionally in a schema of their own.

    Args:
        prefix: put before every table (and constraint) name.
        schema: the database schema (PostgreSQL) the tables live in; None: the default.

    Attributes:
        metadata: every table, for ``create_all`` and migrations.
        version_table: the name of the table that keeps the schema revision.
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, schema: str | None = None) -> None:
        self.prefix = prefix
        self.schema = schema
        self.metadata = MetaData(schema=schema)
        self.version_table = f"{prefix}alembic_version"
        self.aggregates: dict[str, Table] = {}
        self.children: dict[str, Table] = {}
        for shape in SHAPES:
            self._aggregate(shape)
        self.counters = Table(
            f"{prefix}counters",
            self.metadata,
            Column("account_id", String(200), nullable=False),
            Column("name", String(200), nullable=False),
            Column("value", BigInteger, nullable=False),
            PrimaryKeyConstraint("account_id", "name", name=f"{prefix}counters_pkey"),
            CheckConstraint("value >= 1", name=f"{prefix}counters_value_check"),
        )
        self.number_claims = Table(
            f"{prefix}number_claims",
            self.metadata,
            Column("account_id", String(200), nullable=False),
            Column("name", String(200), nullable=False),
            Column("value", BigInteger, nullable=False),
            PrimaryKeyConstraint("account_id", "name", "value", name=f"{prefix}number_claims_pkey"),
        )
        self.keys = Table(
            f"{prefix}keys",
            self.metadata,
            Column("key", String(500), nullable=False),
            Column("fingerprint", String(128), nullable=False, server_default=""),
            PrimaryKeyConstraint("key", name=f"{prefix}keys_pkey"),
        )
        self.outbox = outbox_table(self.metadata, prefix)
        self.inbox = inbox_tables(self.metadata, prefix)
        # The due index: each account's next event date, and how many commits made it
        # due (a table of its own, so that a worker's claim of an account's row never
        # waits for it, nor it for the claim).
        self.next_due = Table(
            f"{prefix}next_due",
            self.metadata,
            Column("account_id", String(200), nullable=False),
            Column("next_due", Date, nullable=False),
            Column("due_marks", Integer, nullable=False),
            PrimaryKeyConstraint("account_id", name=f"{prefix}next_due_pkey"),
            ForeignKeyConstraint(
                ["account_id"],
                [self.aggregates[ACCOUNTS.table].c.account_id],
                name=f"{prefix}next_due_account_fkey",
                ondelete="CASCADE",
            ),
        )
        Index(f"{prefix}next_due_idx", self.next_due.c.next_due, self.next_due.c.account_id)

    def name(self, table: str) -> str:
        """A table's full name (with the prefix)."""
        return f"{self.prefix}{table}"

    def __getattr__(self, table: str) -> Table:
        if table.startswith("_") or "children" not in self.__dict__:
            raise AttributeError(table)
        found = self.aggregates.get(table)
        if found is None:
            found = self.children.get(table)
        if found is None:
            raise AttributeError(table)
        return found

    def _aggregate(self, shape: Shape) -> None:
        name = self.name(shape.table)
        key = shape.key.name
        parts: list[Any] = [_column(c) for c in shape.cols]
        parts += [
            Column("version", Integer, nullable=False),
            Column("data", Payload(), nullable=True),
            CheckConstraint("version >= 1", name=f"{name}_version_check"),
        ]
        if shape.per_account:
            parts.append(PrimaryKeyConstraint("account_id", name=f"{name}_pkey"))
        else:
            parts.append(Column("row_order", BigInteger, nullable=False))
            parts.append(PrimaryKeyConstraint("account_id", key, name=f"{name}_pkey"))
            parts.append(UniqueConstraint(key, name=f"{name}_{key}_key"))
        if shape is INVOICES:
            parts.append(UniqueConstraint("number", name=f"{name}_number_key"))
        parts.extend(_amount_checks(name, shape.cols))
        table = Table(name, self.metadata, *parts)
        for col in shape.cols:
            if col.index:
                Index(f"{name}_{col.name}_idx", table.c[col.name])
        if shape is INVOICES:
            # The invoice list's order (day, then the number naturally), paged in SQL.
            c = table.c
            Index(f"{name}_listing_idx", c.account_id, c.issued_on, c.number_key, c.invoice_id)
        self.aggregates[shape.table] = table
        for children in shape.children:
            self._children(shape, table, children)
        if shape is SERVICES:
            self._children(shape, table, SERVICE_HISTORY)
        if shape is EXPENSE_BOOKS:
            self._expense_indexes()
        if shape is LEDGERS:
            self._children(shape, table, LEDGER_ENTRIES)
            entries = self.children[LEDGER_ENTRIES.table]
            Index(
                self.name(LEDGER_KEY_INDEX),
                entries.c.account_id,
                entries.c.idempotency_key,
            )

    def _expense_indexes(self) -> None:
        """The partial indexes of an account's unpaid and paid expenses by position.

        An expense book is loaded with its unpaid expenses only, found in their order by
        the first without reading the account's paid ones; where a commit puts its new
        expenses (after the last position of either) is found by both. Two partial
        indexes rather than one on all the rows: without statistics SQLite would pick
        either for the unpaid ones.
        """
        expenses = self.children[EXPENSE_BOOKS.children[0].table]
        for name, only in (
            (UNPAID_EXPENSES_INDEX, unpaid_expenses(expenses)),
            (PAID_EXPENSES_INDEX, paid_expenses(expenses)),
        ):
            Index(
                self.name(name),
                expenses.c.account_id,
                expenses.c.position,
                postgresql_where=only,
                sqlite_where=only,
            )

    def _children(self, shape: Shape, parent: Table, spec: Children) -> None:
        name = self.name(spec.table)
        owner = list(shape.parent_columns())
        parts: list[Any] = [Column(c, String(200), nullable=False) for c in owner]
        identity: list[str] = []
        if spec.form is not Form.OPTIONAL:
            identity = [spec.identity]
            if spec.key in {None, "seq"}:
                key_type: Any = Integer()
            elif spec.form is Form.SET:
                key_type = Text()
            else:
                key_type = String(200)
            parts.append(Column(spec.identity, key_type, nullable=False))
            if spec.positioned and spec.key is not None:
                parts.append(Column("position", Integer, nullable=False))
        parts += [_column(c) for c in spec.cols]
        if spec.payload:
            parts.append(Column("data", Payload(), nullable=True))
        parts.append(PrimaryKeyConstraint(*owner, *identity, name=f"{name}_pkey"))
        referred = (
            [parent.c.account_id]
            if shape.per_account
            else [parent.c.account_id, parent.c[shape.key.name]]
        )
        if spec.path.startswith("credit."):
            referred = [self.children["credit_lines"].c.account_id]
        parts.append(
            ForeignKeyConstraint(owner, referred, name=f"{name}_parent_fkey", ondelete="CASCADE")
        )
        parts += [UniqueConstraint(u, name=f"{name}_{u}_key") for u in spec.unique]
        parts.extend(_amount_checks(name, spec.cols))
        table = Table(name, self.metadata, *parts)
        for col in spec.cols:
            if col.index:
                Index(f"{name}_{col.name}_idx", table.c[col.name])
        self.children[spec.table] = table


def _amount_checks(table: str, cols: Iterable[Col]) -> list[CheckConstraint]:
    """Every amount has a currency."""
    holders = sorted({c.currency for c in cols if c.kind is Kind.AMOUNT and c.currency})
    return [CheckConstraint(f"length({h}) = 3", name=f"{table}_{h}_check") for h in holders]


@cache
def tables(prefix: str = DEFAULT_PREFIX, schema: str | None = None) -> Tables:
    """The tables for a prefix and schema, built once per process."""
    return Tables(prefix, schema)
