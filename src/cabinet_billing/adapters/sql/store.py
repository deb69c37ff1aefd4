"""The SQL store and unit of work (SQLAlchemy Core): SQLite for one process, PostgreSQL for many.

A :class:`SqlUnitOfWork` behaves like the in-memory one: repositories keep an identity
map (one object per id within the unit of work), aggregates are loaded into private
objects, and nothing reaches the database's committed state before
:meth:`~SqlUnitOfWork.commit`. Leaving the ``with`` block without committing, or with an
exception, rolls the database transaction back.

On commit each new aggregate is inserted with version 1, and each changed one is written
with ``UPDATE ... WHERE id = :id AND version = :read`` that also raises the version: when
another unit of work changed the row since it was read, no row matches, the whole
transaction is rolled back and :class:`~cabinet_billing.errors.ConflictError` names the
aggregate. Aggregates that were only read are not written. The writes of a commit are
sent together at its end: on PostgreSQL with psycopg 3 in one pipeline (one round trip),
and whichever write fails its version check or breaks a constraint names its own
aggregate in the error.

The statements of loads and commits are compiled once per dialect and run on the driver's
cursor of the unit of work's connection (:mod:`cabinet_billing.adapters.sql.execution`),
with the same type processors and the engine's cursor events; DDL, migrations and rare
queries go through SQLAlchemy's ``Connection.execute``.

An aggregate's row is read with a flag per child table (``EXISTS``) telling whether the
table holds any of its rows, and only the child tables that do are queried: a billing
profile without saved methods, credit or done keys costs one statement, not five. The
rows of an account's billing profile, payer book, expense book and document book are
read in one statement the first time any of them is asked for, and kept to the end of
the transaction for the others.

Ledgers and expense books grow every day, so their children are rows of their own
(``ledger_entries``, ``expenses``) and the aggregate's row keeps the rest. A ledger is
loaded with its row, its running balances and the number of its entries — never its
entries: those are read by range of ``seq``, by range of time a page at a time, or by
idempotency key when the use case asks, and the sums of a range of time are taken by the
database (:class:`~cabinet_billing.domain.ledger.LedgerHistory`,
:mod:`cabinet_billing.adapters.sql.queries`), so loading a ledger and reading its
balance cost the same after 10,000 entries as after 10. A commit first
writes the aggregate's row with the version check (whenever the row or a child
changed), then inserts only the entries booked since loading, and inserts or updates
only the expenses that are new or whose text changed. A commit writes as much as the
unit of work changed, however long the history: one charge is one ``ledger_entries``
row.

Counters are taken inside the transaction, and none makes another account's transaction
wait on PostgreSQL: ids come from a ``SEQUENCE`` per counter (they may skip a value a
rolled-back transaction took), document numbers are taken from the counter's free
numbers, reserved a block at a time, and freed again when the unit of work that took
them rolls back (see :class:`_Sequences`). On SQLite a counter is a row taken with one ``INSERT ... ON CONFLICT
DO UPDATE ... RETURNING``, locked to the end of the (single writer's) transaction.
Idempotency keys are inserted at once with ``ON CONFLICT DO NOTHING``: a key recorded by
another transaction raises :class:`~cabinet_billing.errors.ConflictError`.

A transient failure of the database inside a ``with`` block (a deadlock, a serialization
failure, a lost connection, SQLite busy: see :mod:`cabinet_billing.adapters.sql.transient`)
leaves it as :class:`~cabinet_billing.errors.TransientStorageError`, after the rollback,
so that callers (the billing run) can tell what is worth trying again.

SQLite serves one writer at a time (the driver opens the transaction at the first
write); PostgreSQL serves many, at READ COMMITTED, and billing workers share the accounts
with :meth:`SqlUnitOfWork.claim_accounts` (``FOR UPDATE SKIP LOCKED``).

>>> from sqlalchemy import create_engine
>>> from cabinet_billing import Account
>>> store = SqlStore(create_engine("sqlite://"))
>>> store.create_schema()
>>> with SqlUnitOfWork(store) as uow:
...     uow.accounts.add(Account.open("acc-1", "alice"))
...     uow.commit()
>>> with SqlUnitOfWork(store) as uow:
...     uow.accounts.add(Account.open("acc-2", "bob"))   # not committed
>>> with SqlUnitOfWork(store) as uow:
...     uow.accounts.ids()
['acc-1']
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar, cast

import attrs
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Integer,
    RowMapping,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import Sequence as DbSequence
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import NestedTransaction
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.schema import CreateSequence, DropSequence
from sqlalchemy.sql import Select

from cabinet_billing.adapters.sql import schema
from cabinet_billing.adapters.sql.codec import JsonValue, decode
from cabinet_billing.adapters.sql.errors import SchemaOutOfDateError, StoredDataError
from cabinet_billing.adapters.sql.execution import Prepared, Write, run, run_together, send
from cabinet_billing.adapters.sql.inbox import SqlInbox
from cabinet_billing.adapters.sql.mapping import Children, Form, Image, Shape, is_unchanged
from cabinet_billing.adapters.sql.outbox import SqlOutbox
from cabinet_billing.adapters.sql.queries import after_cursor, exact_sum, in_order, money_of
from cabinet_billing.adapters.sql.revision import HEAD
from cabinet_billing.adapters.sql.schema import DEFAULT_PREFIX, Tables, tables
from cabinet_billing.adapters.sql.transient import transient
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import AccountDocuments
from cabinet_billing.domain.expense import Expense, ExpenseBook, ExpenseTotals, totals_of
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceStatus, invoice_order
from cabinet_billing.domain.ledger import EntrySums, Ledger, LedgerEntry, ListHistory, Span
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.service import ListServiceHistory, Service, ServiceChange
from cabinet_billing.domain.support import Ticket
from cabinet_billing.errors import ConflictError, NotFoundError, TransientStorageError
from cabinet_billing.ports.listing import (
    ExpenseQuery,
    InvoiceQuery,
    PaymentQuery,
    Slice,
    Window,
    take,
)
from cabinet_billing.ports.repositories import AGGREGATE_REPOSITORIES, DUE_NOW, is_gapless

__all__ = ["SQLITE_PRAGMAS", "SqlStore", "SqlUnitOfWork", "write_new"]

T = TypeVar("T")

SQLITE_PRAGMAS = (
    ("journal_mode", "WAL"),
    ("synchronous", "NORMAL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "10000"),
    ("temp_store", "MEMORY"),
)
"""Set on every SQLite connection: a write-ahead log (readers never wait for the writer),
fsync at checkpoints rather than at every commit (a commit survives a crash of the
process; a power cut may lose the last commits, never corrupt the file), foreign keys
enforced, and waiting up to 10 s for a lock instead of failing at once."""


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


class SqlStore:
    """A database that keeps the aggregates: an engine plus the store's tables.

    Args:
        engine: a SQLAlchemy engine (``sqlite:///billing.db``, ``sqlite://``,
            ``postgresql+psycopg://user@host/db`` ...). SQLite connections get
            :data:`SQLITE_PRAGMAS`.
        prefix: put before every table name (default ``cb_``), so that the store's
            tables sit beside a host's own.
        schema: the database schema of the tables (PostgreSQL); None: the default one.
        batches: whether its units of work offer batches (:class:`SqlBatch`), so that
            the billing run commits many accounts at once. None (the default): on
            PostgreSQL and other servers, not on SQLite, where a batch holds the one
            write lock from one batch to the next and another process's writer (a
            webhook) may wait for it past ``busy_timeout`` and fail; True suits a SQLite
            database that nothing else writes to while the run runs.

    The first unit of work checks that the database is at the schema revision this
    library needs and raises :class:`~cabinet_billing.adapters.sql.errors.SchemaOutOfDateError`
    (run ``cabinet-billing db upgrade``) when it is not.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        prefix: str = DEFAULT_PREFIX,
        schema: str | None = None,
        batches: bool | None = None,
    ) -> None:
        self.engine = engine
        self.batches = engine.dialect.name != "sqlite" if batches is None else batches
        """Whether the units of work offer batches (see ``batches`` above)."""
        self.tables: Tables = tables(prefix, schema)
        self._checked = False
        self._sequences: dict[str, DbSequence] = {}
        self.number_blocks = _NumberBlocks()
        """How many document numbers each counter reserves at once (PostgreSQL)."""
        self.id_blocks = _IdBlocks()
        """The ids this store took from each id counter's sequence and did not hand out yet."""
        self.statements: dict[tuple[object, ...], Any] = {}
        """The statements the units of work run, each built once (with bound parameters)."""
        self.prepared: dict[tuple[object, ...], Prepared] = {}
        """The statements the units of work run on the driver, each compiled once."""
        self._threads = threading.local()
        if engine.dialect.name == "sqlite" and not event.contains(
            engine, "connect", _sqlite_pragmas
        ):
            event.listen(engine, "connect", _sqlite_pragmas)

    def create_schema(self) -> None:
        """Create the store's tables at the head revision, as ``db upgrade`` would.

        For tests and new databases; an existing database is brought up to date with
        ``cabinet-billing db upgrade`` instead.
        """
        with self.engine.begin() as connection:
            self.tables.metadata.create_all(connection)
            version = _version_table(self.tables)
            version.create(connection, checkfirst=True)
            connection.execute(delete(version))
            connection.execute(insert(version).values(version_num=HEAD))
        self._checked = True

    def drop_schema(self) -> None:
        """Drop every table of the store, with its data (and its id sequences)."""
        with self.engine.begin() as connection:
            self.tables.metadata.drop_all(connection)
            _version_table(self.tables).drop(connection, checkfirst=True)
            if self.engine.dialect.name == "postgresql":
                for named in inspect(connection).get_sequence_names(schema=self.tables.schema):
                    if named.startswith(f"{self.tables.prefix}seq_"):
                        connection.execute(
                            DropSequence(DbSequence(named, schema=self.tables.schema))
                        )
        self._checked = False
        self._sequences = {}
        self.statements.clear()
        self.prepared.clear()

    def revision(self) -> str | None:
        """The schema revision the database is at (None: none recorded)."""
        version = _version_table(self.tables)
        with self.engine.connect() as connection:
            try:
                found = connection.execute(select(version.c.version_num)).scalars().all()
            except (OperationalError, ProgrammingError):
                return None
        return found[0] if len(found) == 1 else None

    def check_schema(self) -> None:
        """Make sure the database is at the revision this library needs.

        Raises:
            SchemaOutOfDateError: when it is at another one, or at none.
        """
        if self._checked:
            return
        found = self.revision()
        if found != HEAD:
            raise SchemaOutOfDateError(found, HEAD)
        self._checked = True

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work over this store."""
        return SqlUnitOfWork(self)

    def batch(self) -> SqlBatch | None:
        """A batch of this store's units of work in one transaction (see :class:`SqlBatch`).

        None when the store offers none (:attr:`batches`).
        """
        return SqlBatch(self) if self.batches else None

    def joined_batch(self) -> SqlBatch | None:
        """The batch open in this thread, which the units of work entered now join."""
        found: SqlBatch | None = getattr(self._threads, "batch", None)
        return found

    def next_in_sequence(self, connection: Connection, name: str) -> int:
        """The next value of an id counter from its PostgreSQL sequence (made on first use).

        A new sequence starts after the value the counter's ``counters`` row reached, so
        ids go on where an earlier version of the library left them.
        """
        query = self.statements.get(("next value", name))
        if query is None:
            query = self.statements["next value", name] = self.next_value_query(name)
        value: int = connection.execute(query).scalar_one()
        return value

    def next_value_query(self, name: str) -> Select[Any]:
        """The query of the next value of an id counter's sequence (made on first use)."""
        sequence = self._sequences.get(name)
        if sequence is None:
            sequence = self._sequence(name)
        return select(sequence.next_value())

    def next_values_query(self, name: str) -> Select[Any]:
        """The query of the next ``:size`` values of an id counter's sequence."""
        sequence = self._sequences.get(name)
        if sequence is None:
            sequence = self._sequence(name)
        # The values come in no particular order: the caller sorts them.
        taken = func.generate_series(1, bindparam("size", type_=Integer))
        return select(sequence.next_value().label("value")).select_from(taken)

    def _sequence(self, name: str) -> DbSequence:
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower())[:24]
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        named = f"{self.tables.prefix}seq_{slug}_{digest}"
        schema_name = self.tables.schema
        qualified = f'"{schema_name}"."{named}"' if schema_name else f'"{named}"'
        counters = self.tables.counters
        with self.engine.begin() as own:
            # One process creates it; the others wait here and find it.
            own.execute(select(func.pg_advisory_xact_lock(func.hashtext(qualified))))
            if own.execute(select(func.to_regclass(qualified))).scalar_one_or_none() is None:
                reached = own.execute(
                    select(counters.c.value).where(
                        counters.c.account_id == "", counters.c.name == name
                    )
                ).scalar_one_or_none()
                start = int(reached or 0) + 1
                own.execute(CreateSequence(DbSequence(named, start=start, schema=schema_name)))
        sequence = DbSequence(named, schema=schema_name)
        self._sequences[name] = sequence
        return sequence


def _version_table(tables: Tables) -> Table:
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String  # noqa: PLC0415

    metadata = MetaData(schema=tables.schema)
    return Table(
        tables.version_table,
        metadata,
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{tables.version_table}_pkc"),
    )


class SqlBatch:
    """One transaction that the store's units of work entered in this thread join.

    Each unit of work that joins it runs in a ``SAVEPOINT`` of the batch's transaction:
    its commit releases the savepoint, its rollback rolls back to it, and nothing is
    durable before :meth:`commit`, which commits the whole transaction (and the batch
    goes on in a new one on the same connection). The unit of work's row locks are held
    until then. A batch is the
    :class:`~cabinet_billing.ports.repositories.Batch` of the ports; the billing run
    opens one through :meth:`SqlUnitOfWork.batch`.

    On SQLite the transaction begins with ``BEGIN IMMEDIATE``: the batch takes the one
    write lock at its first statement and holds it to its commit. The SQLite driver
    begins no transaction before the first write, so without it the first savepoint
    would open the transaction and its release would commit it; and a transaction that
    only read could not write any more after another connection wrote.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._connection: Connection | None = None
        self._begun = False
        self.joined = 0
        """How many units of work are in a savepoint of the batch now."""
        self.broken = False
        """Whether a savepoint could not be released or rolled back: the commit fails."""
        self.released: str | None = None
        """The savepoint of a unit of work that committed, released with the next statement
        a unit of work of the batch sends (pipelined batches, see _Session)."""
        self._savepoints = 0

    def savepoint_name(self) -> str:
        """A name for the savepoint of a unit of work that joins the batch."""
        self._savepoints += 1
        return f"cb_sp_{self._savepoints % 64}"

    def __enter__(self) -> Self:
        threads = self._store._threads  # noqa: SLF001 - the store's own batch register
        if getattr(threads, "batch", None) is not None:
            raise ConflictError("batch", "another batch of this store is open in this thread")
        threads.batch = self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._store._threads.batch = None  # noqa: SLF001
            self._close()

    def connection(self) -> Connection:
        """The batch's connection, in the batch's transaction (begun at its first use)."""
        connection = self._connection
        if connection is None:
            self._store.check_schema()
            connection = self._connection = self._store.engine.connect()
        if not self._begun:
            connection.begin()
            if self._store.engine.dialect.name == "sqlite":
                driver = connection.connection.driver_connection
                if not getattr(driver, "in_transaction", True):
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
            self._begun = True
        return connection

    def commit(self) -> None:
        """Commit what the units of work of the batch committed, or nothing of it.

        Raises:
            TransientStorageError: when the transaction was lost before or during the
                commit (nothing is kept; a connection lost during the commit itself
                may have committed it).
            ConflictError: when a unit of work of the batch is still open.
        """
        if self.joined:
            raise ConflictError("batch", "a unit of work of the batch is still open")
        if not self._begun:
            return
        connection = self._connection
        assert connection is not None  # noqa: S101 - begun on a connection
        self._begun = False
        self.released = None  # the commit releases every savepoint
        if self.broken or connection.invalidated or _failed(connection):
            self._abandon()
            raise TransientStorageError(
                "lost connection", None, "the batch's transaction was lost before its commit"
            )
        try:
            connection.commit()
        except DBAPIError as exc:
            self._abandon()
            failed = transient(exc)
            if failed is None:
                raise
            raise failed from exc
        except BaseException:
            self._abandon()
            raise

    def rollback(self) -> None:
        """Discard everything since the batch's last commit."""
        if not self._begun:
            return
        self._begun = False
        self.released = None
        connection = self._connection
        assert connection is not None  # noqa: S101 - begun on a connection
        try:
            connection.rollback()
        except DBAPIError:
            self._close()  # the connection is gone, and its transaction with it

    def _abandon(self) -> None:
        """Close after a failed commit, the driver's transaction rolled back for sure.

        The pool does not roll back a connection whose commit was tried, so a
        transaction left open by a failed commit would be found by the next batch.
        """
        connection = self._connection
        if connection is not None and not connection.invalidated:
            try:
                connection.connection.driver_connection.rollback()  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - whatever the driver raises, it is dropped
                connection.invalidate()
        self._close()

    def _close(self) -> None:
        self._begun = False
        self.broken = False
        self.released = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(DBAPIError):  # lost already: the pool forgets it
                connection.close()


Row = Mapping[Any, Any]
"""A row as read: its values by column name."""


def _first(rows: Sequence[Row]) -> Any:  # noqa: ANN401
    """The first value of the first row (None: no row)."""
    return next(iter(rows[0].values())) if rows else None


def _pipelines(engine: Engine) -> bool:
    """Whether an engine's connections send a commit's writes in one pipeline (psycopg 3)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return False
    try:
        import psycopg  # noqa: PLC0415 - only for PostgreSQL
    except ImportError:  # pragma: no cover - the sql extra installs it
        return False
    return bool(psycopg.Pipeline.is_supported())


def _failed(connection: Connection) -> bool:
    """Whether the driver says the transaction failed (a statement in it was refused)."""
    info = getattr(connection.connection.driver_connection, "info", None)
    status = getattr(info, "transaction_status", None)
    return getattr(status, "name", "") == "INERROR"


_READ_AHEAD_CHILDREN = frozenset({"subscriptions", "done_keys"})
"""The child tables of a billing profile :meth:`SqlUnitOfWork.read_ahead` reads: those
of every account a billing run bills (its subscriptions, the keys of what was done)."""


class _Read(NamedTuple):
    """A query a repository runs: its statement's key and maker, and its parameters."""

    key: tuple[object, ...]
    make: Callable[[], Any]
    params: Mapping[str, object]


def _frozen(params: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    """Parameters as a dictionary key (a list, of an ``IN``, as a tuple)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


class _Session:
    """The connection and transaction of one unit of work, opened at the first statement.

    While a :class:`SqlBatch` of the store is open in this thread, the transaction is a
    savepoint of the batch's.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._connection: Connection | None = None
        self._batch: SqlBatch | None = None
        self._savepoint: NestedTransaction | None = None
        self._own: str | None = None
        """The name of this unit of work's savepoint in a pipelined batch (see _opening)."""
        self._own_begun = False
        self._statements = store.statements
        self._prepared = store.prepared
        self._engine_dialect = store.engine.dialect
        self.pipelined = _pipelines(store.engine)
        """Whether the writes of a commit are sent in one pipeline (psycopg 3)."""
        self._pending: list[Write] = []
        self._deferring = False
        self.opened = 0
        """How many transactions this session opened (a repository reads only in one)."""
        self.read_ahead: dict[tuple[str, str], object] = {}
        """Rows read before they were asked for, by table and key (None: not stored);
        forgotten when the transaction ends."""
        self._ahead: dict[tuple[object, ...], list[Row]] = {}
        """The rows of queries sent together before they were run (:meth:`read_together`),
        by statement key and parameters: each served once, all forgotten at a write."""

    def statement(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        """The statement under a key, built by ``make`` the first time."""
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = make()
        return cast("T", found)

    def prepared(
        self,
        key: tuple[object, ...],
        make: Callable[[], Any],
        columns: tuple[str, ...] | None = None,
    ) -> Prepared:
        """The statement under a key compiled for the database (see :mod:`.execution`).

        ``columns``: for an insert or update without values of its own, the columns its
        parameters give.
        """
        full = key if columns is None else (*key, columns)
        found = self._prepared.get(full)
        if found is None:
            statement = self.statement(key, make)
            found = self._prepared[full] = Prepared(statement, self._engine_dialect, columns)
        return found

    def rows(
        self,
        key: tuple[object, ...],
        make: Callable[[], Any],
        params: Mapping[str, object] | None = None,
        *,
        columns: tuple[str, ...] | None = None,
    ) -> list[Row]:
        """The rows of the statement under a key, in the transaction (opened if need be)."""
        prepared = self.prepared(key, make, columns)
        if self._ahead:
            if self._forgets_ahead(prepared):
                self._ahead.clear()
            elif columns is None:
                ahead = self._ahead.pop((key, _frozen(params or {})), None)
                if ahead is not None:
                    return ahead
        found = run(self.connection(), prepared, params).rows
        return [] if found is None else found

    def _forgets_ahead(self, prepared: Prepared) -> bool:
        """Whether a statement writes rows that a query read ahead may have read.

        Taking a number (a counter, a free number) changes nothing the queries read ahead.
        """
        statement = prepared.statement
        if not getattr(statement, "is_dml", False):
            return False
        tables = self._store.tables
        return statement.table not in {tables.counters, tables.number_claims}

    def read_together(self, reads: Sequence[_Read]) -> None:
        """Run queries now, in one round trip, and keep their rows for when they are run.

        Only where the writes are pipelined (psycopg 3): elsewhere each query costs as
        much now as later, and nothing is read. A query run later with the same statement
        and parameters gets the rows read here, once; a write (other than taking a
        number) forgets them all, and so does the end of the transaction.
        """
        if not self.pipelined or not reads:
            return
        if self._pending:
            self.send()
        connection = self._open()
        first: list[tuple[Prepared, Mapping[str, object]]] = [(p, {}) for p in self._opening()]
        found = run_together(
            connection, [*first, *((self.prepared(r.key, r.make), r.params) for r in reads)]
        )
        for read, rows in zip(reads, found[len(first) :], strict=True):
            self._ahead[read.key, _frozen(read.params)] = rows

    def scalar(
        self,
        key: tuple[object, ...],
        make: Callable[[], Any],
        params: Mapping[str, object] | None = None,
        *,
        columns: tuple[str, ...] | None = None,
    ) -> Any:  # noqa: ANN401
        """The first column of the first row of a statement (None: no row)."""
        return _first(self.rows(key, make, params, columns=columns))

    def look(
        self,
        key: tuple[object, ...],
        make: Callable[[], Any],
        params: Mapping[str, object] | None = None,
    ) -> list[Row]:
        """As :meth:`read`, the statement under a key: no transaction is opened for it."""
        prepared = self.prepared(key, make)
        if self._connection is not None:
            return self.rows(key, make, params)
        batch = self._store.joined_batch()
        if batch is not None:
            return run(batch.connection(), prepared, params).rows or []
        with self._store.engine.connect() as connection:
            return run(connection, prepared, params).rows or []

    def write(
        self,
        key: tuple[object, ...],
        make: Callable[[], Any],
        params: list[Mapping[str, object]],
        *,
        columns: tuple[str, ...] | None = None,
        what: str | None = None,
        done: str = "changed",
        version: int | None = None,
    ) -> None:
        """Write with the statement under a key, once per parameter set.

        In :meth:`deferred` (a commit), the write waits to be sent with the others;
        ``what``, ``done`` and ``version`` say which aggregate a conflict in it is about
        (see :class:`~cabinet_billing.adapters.sql.execution.Write`).
        """
        self._open()
        self._ahead.clear()
        prepared = self.prepared(key, make, columns)
        self._pending.append(Write(prepared, params, what, done, version))
        if not self._deferring:
            self.send()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Keep the writes made in the block, and send them together at its end.

        A statement run meanwhile sends the writes made before it first. An exception
        in the block drops them (the transaction is rolled back).
        """
        self._deferring = True
        try:
            yield
            self.send()
        finally:
            self._deferring = False
            self._pending.clear()

    def send(self) -> None:
        """Send the writes waiting, in their order (in one pipeline on psycopg 3)."""
        writes, self._pending = self._pending, []
        if writes:
            connection = self._connection
            assert connection is not None  # noqa: S101 - a write opens the transaction
            first = [Write(p, [{}]) for p in self._opening()]
            send(connection, [*first, *writes], pipeline=self.pipelined)

    @property
    def dialect(self) -> str:
        return self._store.engine.dialect.name

    def connection(self) -> Connection:
        """The transaction's connection (opened at the first use), the writes waiting sent."""
        if self._pending:
            self.send()
        connection = self._open()
        if self._own is not None and not self._own_begun:
            run_together(connection, [(p, {}) for p in self._opening()])
        return connection

    def _opening(self) -> list[Prepared]:
        """The statements that begin this unit of work's savepoint, to send first.

        In a batch whose statements are pipelined (psycopg 3), a unit of work's
        ``SAVEPOINT`` goes in the same round trip as its first statements, and the
        ``RELEASE SAVEPOINT`` of the unit of work that committed before it goes with
        them: a commit in a batch sends nothing of its own (its writes went in its
        pipeline), and the batch's ``COMMIT`` releases the last one.
        """
        if self._own is None or self._own_begun:
            return []
        self._own_begun = True
        batch = self._batch
        assert batch is not None  # noqa: S101 - a savepoint of its own is in a batch
        first = []
        if batch.released is not None:
            first.append(self._savepoint_statement("RELEASE SAVEPOINT", batch.released))
            batch.released = None
        first.append(self._savepoint_statement("SAVEPOINT", self._own))
        return first

    def _savepoint_statement(self, verb: str, name: str) -> Prepared:
        return self.prepared(("savepoint", verb, name), lambda: text(f"{verb} {name}"))

    def _open(self) -> Connection:
        if self._connection is None:
            batch = self._store.joined_batch()
            if batch is not None:
                connection = batch.connection()
                if self.pipelined:
                    # Begun with the first statements it sends (_opening).
                    self._own, self._own_begun = batch.savepoint_name(), False
                else:
                    self._savepoint = connection.begin_nested()
                self._batch = batch
                batch.joined += 1
            else:
                self._store.check_schema()
                connection = self._store.engine.connect()
                connection.begin()
            self._connection = connection
            self.opened += 1
        return self._connection

    def read(self, query: Any, params: Mapping[str, object] | None = None) -> list[RowMapping]:  # noqa: ANN401
        """The rows of a query: in the open transaction (or batch), or on a connection of its own."""
        if self._connection is not None:
            return list(self.connection().execute(query, params).mappings())
        batch = self._store.joined_batch()
        if batch is not None:
            return list(batch.connection().execute(query, params).mappings())
        with self._store.engine.connect() as connection:
            return list(connection.execute(query, params).mappings())

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        """Commit or roll back the savepoint (in a batch) or the transaction, then close."""
        if self._connection is not None:
            try:
                if self._own is not None:
                    self._end_own(self._connection, commit=commit)
                else:
                    ending = self._savepoint if self._savepoint is not None else self._connection
                    ending.commit() if commit else ending.rollback()
            except DBAPIError:
                self._break()
                raise
            finally:
                self.close()

    def _end_own(self, connection: Connection, *, commit: bool) -> None:
        """End this unit of work's savepoint of a pipelined batch (see :meth:`_opening`).

        A commit leaves it to be released with the batch's next statement; a rollback
        rolls back to it at once (releasing first a savepoint left to release, which
        is inside it), and leaves it to be released the same way.
        """
        batch = self._batch
        assert batch is not None  # noqa: S101 - a savepoint of its own is in a batch
        if not self._own_begun or connection.invalidated:
            # Nothing was sent, or the connection is lost with the batch's transaction.
            return
        own = self._own
        assert own is not None  # noqa: S101 - begun
        if not commit:
            ending = []
            if batch.released is not None:
                ending.append(self._savepoint_statement("RELEASE SAVEPOINT", batch.released))
            ending.append(self._savepoint_statement("ROLLBACK TO SAVEPOINT", own))
            batch.released = None
            run_together(connection, [(p, {}) for p in ending])
        batch.released = own

    def _break(self) -> None:
        """A savepoint that failed to end leaves its batch's transaction unusable."""
        if self._batch is not None:
            self._batch.broken = True

    def close(self) -> None:
        self.read_ahead.clear()
        self._ahead.clear()
        self._pending.clear()
        connection, self._connection = self._connection, None
        batch, self._batch, self._savepoint = self._batch, None, None
        self._own, self._own_begun = None, False
        if batch is not None:
            batch.joined -= 1  # the batch keeps its connection
        elif connection is not None:
            connection.close()


@attrs.define
class _Loaded(Generic[T]):
    """An aggregate in the identity map: its object, and the version and rows that were read."""

    aggregate: T
    version: int | None = None
    image: Image | None = None
    elements: dict[str, dict[tuple[object, ...], object]] = attrs.Factory(dict)
    created: bool = False
    """Made empty by the repository because none was stored (one per account)."""


_LAST_ORDER = [0]


def _row_order() -> int:
    """Insertion order: nanoseconds since the epoch, strictly growing within a process."""
    order = max(time.time_ns(), _LAST_ORDER[0] + 1)
    _LAST_ORDER[0] = order
    return order


class _Repository(Generic[T]):
    """Aggregates of one shape: an identity map over its table and child tables."""

    def __init__(self, session: _Session, store_tables: Tables, shape: Shape, kind: str) -> None:
        self._session = session
        self._tables = store_tables
        self._shape = shape
        self._kind = kind
        self._table = store_tables.aggregates[shape.table]
        self._key = self._table.c[shape.key.name]
        self.loaded: dict[str, _Loaded[T]] = {}
        self.listed: dict[str, list[str]] = {}
        """The keys of each account's aggregates as read this transaction, in their order."""
        self.present: Mapping[str, set[str]] | None = None
        """For a migration: the columns each table has at its revision (None: all)."""
        self.touched: set[str] = set()
        """The accounts whose rows of this repository a flush wrote."""
        self.written: list[tuple[_Loaded[T], Image]] = []
        """The aggregates a flush wrote, with what it wrote (see :meth:`committed`)."""

    # ------------------------------------------------------------------ reading

    def add(self, row: T) -> None:
        key = self._shape.key_of(row)
        if key in self.loaded or self._exists(key):
            raise ConflictError(f"{self._kind} {key!r}", "already exists")
        self.loaded[key] = _Loaded(row)

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        adopted = self._load_key(key)
        if not adopted:
            raise NotFoundError(self._kind, key)
        return adopted[0]

    def ids(self) -> list[str]:
        stored = self._session.connection().execute(select(self._key)).scalars()
        return sorted(set(stored) | set(self.loaded))

    def for_account(self, account_id: str) -> list[T]:
        listed = self.listed.get(account_id)
        if listed is None:
            rows = self._session.rows(*self._account_read(account_id))
            found = self._adopt_rows(rows, account_id)
            self.listed[account_id] = [self._shape.key_of(x) for x in found]
        else:
            # Read once per transaction: the rows are in the identity map, in their order.
            found = [self.loaded[k].aggregate for k in listed]
            known = set(listed)
            found += [
                loaded.aggregate
                for key, loaded in self.loaded.items()
                if loaded.version is not None
                and key not in known
                and self._shape.account_of(loaded.aggregate) == account_id
            ]
        found += [
            loaded.aggregate
            for loaded in self.loaded.values()
            if loaded.version is None and self._shape.account_of(loaded.aggregate) == account_id
        ]
        return found

    def _exists(self, key: str) -> bool:
        found = self._session.scalar(
            (self._table, "exists"),
            lambda: (
                select(func.count()).select_from(self._table).where(self._key == bindparam("key"))
            ),
            {"key": key},
        )
        return bool(found)

    def _by_key(self) -> Any:  # noqa: ANN401
        """The query of one aggregate's row by its key (``:key``)."""
        return self._select().where(self._key == bindparam("key"))

    def _load_key(self, key: str, *, account_id: str | None = None) -> list[T]:
        """The aggregate of a key, with its children (none when it is not stored)."""
        return self._adopt_rows(self._session.rows(*self._key_read(key)), account_id)

    def _key_read(self, key: str) -> _Read:
        """The query of an aggregate's row by its key."""
        return _Read((self._table, "by key"), self._by_key, {"key": key})

    def _account_read(self, account_id: str) -> _Read:
        """The query of an account's rows (:meth:`for_account`), oldest first."""
        return _Read(
            (self._table, "load", "account"),
            lambda: self._ordered(self._table.c.account_id == bindparam("account")),
            {"account": account_id},
        )

    def _child_read(self, spec: Children, by: str, params: Mapping[str, object]) -> _Read:
        """The query of a child table's rows of one account, of accounts, or of keys."""
        return _Read(
            (self._table, spec.table, by), functools.partial(self._child_query, spec, by), params
        )

    def _select(self) -> Select[Any]:
        """The query of this repository's rows (before its condition)."""
        return select(self._table, *self._flags())

    def _flags(self) -> list[Any]:
        """Whether each child table holds rows of the row's aggregate, read with the row.

        A child table whose flag is false for every row read is not queried: an empty
        collection costs no statement.
        """
        return _flags_of(self._tables, self._shape)

    def _load(self, where: Any, *, account_id: str | None = None) -> list[T]:  # noqa: ANN401
        """The aggregates whose rows match, with their children, oldest first."""
        connection = self._session.connection()
        rows = connection.execute(self._ordered(where)).mappings().all()
        return self._adopt_rows(rows, account_id)

    def _load_by(
        self,
        name: str,
        where: Callable[[], Any],
        params: Mapping[str, object],
        *,
        account_id: str | None = None,
    ) -> list[T]:
        """As :meth:`_load`, by a condition with bound parameters, its statement built once."""
        rows = self._session.rows(
            (self._table, "load", name), lambda: self._ordered(where()), params
        )
        return self._adopt_rows(rows, account_id)

    def _ordered(self, where: Any) -> Select[Any]:  # noqa: ANN401
        table = self._table
        query = self._select().where(where)
        if "row_order" in table.c:
            query = query.order_by(table.c.row_order, self._key)
        return query

    def _adopt_rows(self, rows: Sequence[Row], account_id: str | None) -> list[T]:
        if not rows:
            return []
        keys = [str(row[self._key.name]) for row in rows]
        children = self._children(rows, keys, account_id)
        return [
            self._adopt(row, children.get(key, {})) for row, key in zip(rows, keys, strict=True)
        ]

    def _children(
        self, rows: Sequence[Row], keys: list[str], account_id: str | None
    ) -> dict[str, dict[str, list[Row]]]:
        shape = self._shape
        found: dict[str, dict[str, list[Row]]] = {}
        params: dict[str, object]
        if account_id is not None:
            by, params = "account", {"account": account_id}
        elif shape.per_account:
            by, params = "accounts", {"accounts": keys}
        else:
            accounts = sorted({str(row["account_id"]) for row in rows})
            by, params = "keys", {"accounts": accounts, "keys": keys}
        owned_by = "account_id" if shape.per_account else shape.key.name
        for spec in shape.children:
            flag = _flag(spec)
            if not any(row.get(flag, True) for row in rows):
                continue  # empty for every row read
            read = self._session.rows(*self._child_read(spec, by, params))
            for row in read:
                found.setdefault(str(row[owned_by]), {}).setdefault(spec.table, []).append(row)
        return found

    def _child_query(self, spec: Children, by: str) -> Any:  # noqa: ANN401
        """The query of a child table's rows of one account, of accounts, or of keys."""
        child = self._tables.children[spec.table]
        if by == "account":
            where = child.c.account_id == bindparam("account")
        elif by == "accounts":
            where = child.c.account_id.in_(bindparam("accounts", expanding=True))
        else:
            where = and_(
                child.c.account_id.in_(bindparam("accounts", expanding=True)),
                child.c[self._shape.key.name].in_(bindparam("keys", expanding=True)),
            )
        order = [child.c.position] if "position" in child.c else []
        if spec.form is Form.SET:
            order = [child.c[spec.identity]]
        return select(child).where(where, *_loaded_only(spec, child)).order_by(*order)

    def _adopt(self, row: Row, children: Mapping[str, list[Row]]) -> T:
        key = str(row[self._key.name])
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        shape = self._shape
        aggregate = cast("T", shape.assemble(row, children))
        self.loaded[key] = _Loaded(
            aggregate,
            int(row["version"]),
            shape.read_image(row, children),
            shape.elements_of(aggregate),
        )
        return aggregate

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Write the new and changed aggregates (:meth:`_Session.write`).

        In a commit the writes are sent together at its end; a write that breaks a
        constraint, or whose version check fails, raises the ConflictError of its
        aggregate then.
        """
        for key, loaded in self.loaded.items():
            image = self._image(key, loaded)
            what = f"{self._kind} {key!r}"
            done = "stored" if loaded.image is None else "changed"
            appended = self._appended(loaded.aggregate)
            if loaded.image is None:
                if not appended and self._untouched(key, loaded, image):
                    continue
                self._insert(image, what)
                self._write_children({}, image, what, done)
            elif appended or self._changed(loaded.image, image):
                self._update(key, loaded, image)
                self._write_children(loaded.image.children, image, what, done)
            else:
                continue
            if appended:
                self._write_appended(loaded.aggregate, what, done)
            self.touched.add(self._shape.account_of(loaded.aggregate))
            self.written.append((loaded, image))

    def _appended(self, aggregate: T) -> bool:
        """Whether the aggregate holds records kept apart from its rows, new since read."""
        del aggregate
        return False

    def _write_appended(self, aggregate: T, what: str, done: str) -> None:
        """Insert the records :meth:`_appended` found (a ledger's entries, a service's history)."""
        del aggregate, what, done

    def committed(self) -> None:
        """The flushed rows are committed: each aggregate is read now at what was written.

        The identity map outlives the commit (see ``UnitOfWork``), so the next commit
        compares with, and checks the version of, what this one stored.
        """
        for loaded, image in self.written:
            loaded.version = 1 if loaded.version is None else loaded.version + 1
            loaded.image = _as_read(loaded.image, image)
            loaded.elements = image.elements
            loaded.created = False
        self.written = []
        self.touched = set()
        self.listed = {}  # the next transaction reads the lists again

    def _image(self, key: str, loaded: _Loaded[T]) -> Image:
        """The rows a commit would write for an aggregate of the identity map."""
        del key
        return self._shape.image(loaded.aggregate, loaded.elements)

    def _untouched(self, key: str, loaded: _Loaded[T], image: Image) -> bool:
        """Whether an aggregate made empty on first use is still as it was made."""
        del key, loaded, image
        return False

    @staticmethod
    def _changed(read: Image, now: Image) -> bool:
        if read.row != now.row:
            return True
        for table, rows in now.children.items():
            before = read.children.get(table, {})
            if before.keys() != rows.keys():
                return True
            if any(not is_unchanged(v) and v != before[k] for k, v in rows.items()):
                return True
        return False

    def _insert(self, image: Image, what: str) -> None:
        values = {**image.row, "version": 1}
        if "row_order" in self._table.c:
            values["row_order"] = _row_order()
        self._insert_rows(self._table, [self._fit(self._table, values)], what, "stored")

    def _insert_rows(
        self, table: Table, rows: list[dict[str, object]], what: str, done: str
    ) -> None:
        """Insert rows of a table (all with the same columns) for an aggregate."""
        self._session.write(
            (table, "insert"),
            lambda: insert(table),
            cast("list[Mapping[str, object]]", rows),
            columns=tuple(rows[0]),
            what=what,
            done=done,
        )

    def _fit(self, table: Table, values: Mapping[str, object]) -> dict[str, object]:
        """The values a table has columns for at a migration's revision.

        A later revision adds a column empty; a value it would have to hold is refused,
        unless the column is derived from the aggregate (that revision computes it).
        """
        present = None if self.present is None else self.present.get(table.name)
        if present is None:
            return dict(values)
        # A derived column a later revision adds is filled in by that revision.
        derived = {c.name for c in self._shape.cols if c.derive is not None}
        if table is not self._table:
            derived = {
                c.name
                for spec in self._shape.children
                if self._tables.children[spec.table] is table
                for c in spec.cols
                if c.derive is not None
            }
        missing = sorted(
            c for c, v in values.items() if c not in present and v is not None and c not in derived
        )
        if missing:
            raise StoredDataError(table.name, f"has no column for {missing} at this revision")
        return {c: v for c, v in values.items() if c in present}

    def _update(self, key: str, loaded: _Loaded[T], image: Image) -> None:
        """Write an aggregate's row where its version is still the one read (its check).

        Only the columns whose values changed are set (the version check makes the rest
        what was read); the key columns never change, so they are never set.
        """
        version = cast("int", loaded.version)
        read = cast("Image", loaded.image).row
        columns = tuple(c for c, v in image.row.items() if read.get(c, _ABSENT) != v)
        table = self._table
        params: dict[str, object] = {f"v_{c}": image.row[c] for c in columns}
        params.update(b_key=key, b_version=version, v_version=version + 1)
        self._session.write(
            (table, "update", columns),
            lambda: (
                update(table)
                .where(self._key == bindparam("b_key"), table.c.version == bindparam("b_version"))
                .values(
                    {"version": bindparam("v_version"), **{c: bindparam(f"v_{c}") for c in columns}}
                )
            ),
            [params],
            what=f"{self._kind} {key!r}",
            version=version,
        )

    def _write_children(
        self,
        before: Mapping[str, Mapping[tuple[object, ...], Mapping[str, object]]],
        image: Image,
        what: str,
        done: str,
    ) -> None:
        shape = self._shape
        for spec in shape.children:
            table = self._tables.children[spec.table]
            read = before.get(spec.table, {})
            now = image.children.get(spec.table, {})
            gone = [k for k in read if k not in now]
            new = [now[k] for k in now if k not in read and not is_unchanged(now[k])]
            changed = [
                (now[k], read[k])
                for k in now
                if k in read and not is_unchanged(now[k]) and now[k] != read[k]
            ]
            keys = (*shape.parent_columns(),)
            if spec.form is not Form.OPTIONAL:
                keys = (*keys, spec.identity)
            if gone:
                parent = {f"b_{c}": image.row[c] for c in shape.parent_columns()}
                self._write_child_rows(
                    table,
                    keys,
                    None,
                    [{**parent, **({f"b_{spec.identity}": k[0]} if k else {})} for k in gone],
                    what,
                    done,
                )
            # A changed row sets only the columns that changed: rows that changed the
            # same columns are written by one statement.
            by_columns: dict[tuple[str, ...], list[Mapping[str, object]]] = {}
            for row, was in changed:
                columns = tuple(
                    c for c, v in row.items() if c not in keys and was.get(c, _ABSENT) != v
                )
                by_columns.setdefault(columns, []).append(
                    {**{f"b_{c}": row[c] for c in keys}, **{f"v_{c}": row[c] for c in columns}}
                )
            for columns, params in by_columns.items():
                self._write_child_rows(table, keys, columns, params, what, done)
            if new:
                self._insert_rows(table, [self._fit(table, row) for row in new], what, done)

    def _write_child_rows(  # noqa: PLR0917 - the statement's parts, then whose rows
        self,
        table: Table,
        keys: tuple[str, ...],
        columns: tuple[str, ...] | None,
        params: list[Mapping[str, object]],
        what: str,
        done: str,
    ) -> None:
        """Delete (no columns) or update child rows by their keys (``:b_<key>``)."""

        def make() -> Any:  # noqa: ANN401
            where = [table.c[c] == bindparam(f"b_{c}") for c in keys]
            if columns is None:
                return delete(table).where(*where)
            return update(table).where(*where).values({c: bindparam(f"v_{c}") for c in columns})

        self._session.write((table, "children", keys, columns), make, params, what=what, done=done)


class _PerAccount(_Repository[T]):
    """One aggregate per account, created empty on first use."""

    def __init__(
        self,
        session: _Session,
        store_tables: Tables,
        shape: Shape,
        kind: str,
        factory: Callable[[str], T],
    ) -> None:
        super().__init__(session, store_tables, shape, kind)
        self._factory = factory

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        adopted = self._load_key(key, account_id=key)
        if adopted:
            return adopted[0]
        created = self._factory(key)
        self.loaded[key] = _Loaded(created, created=True)
        return created

    def _load_key(self, key: str, *, account_id: str | None = None) -> list[T]:
        shape, session = self._shape, self._session
        if shape not in _READ_TOGETHER:
            return super()._load_key(key, account_id=account_id)
        found = session.read_ahead.pop((shape.table, key), _NOT_READ)
        if found is _NOT_READ:
            rows = session.rows(*self._together_read(key))
            held = {str(row[_SHAPE]): row for row in rows}
            for other in _READ_TOGETHER:
                if other is not shape:
                    session.read_ahead[other.table, key] = held.get(other.table)
            found = held.get(shape.table)
        rows = [] if found is None else [cast("Row", found)]
        return self._adopt_rows(rows, account_id)

    def _together_read(self, key: str) -> _Read:
        """The query of an account's rows of every shape read together (_READ_TOGETHER)."""
        return _Read((_READ_TOGETHER, "rows"), lambda: _rows_together(self._tables), {"key": key})

    def _untouched(self, key: str, loaded: _Loaded[T], image: Image) -> bool:
        # Not stored: the next unit of work makes the same empty one.
        if not loaded.created:
            return False
        empty = self._shape.image(self._factory(key), {})
        return image.row == empty.row and image.children == empty.children


class _Paged(_Repository[T]):
    """Aggregates many per account whose lists a store pages: only the page is loaded."""

    def _holds(self, account_id: str) -> bool:
        """Whether this unit of work loaded or added an aggregate of the account."""
        shape = self._shape
        return any(shape.account_of(x.aggregate) == account_id for x in self.loaded.values())

    def _loaded_in_order(self, keys: Sequence[str]) -> tuple[T, ...]:
        """The aggregates of some keys, loaded into the identity map, in that order."""
        if not keys:
            return ()
        found = {
            self._shape.key_of(x): x
            for x in self._load_by(
                "keys", lambda: self._key.in_(bindparam("keys", expanding=True)), {"keys": keys}
            )
        }
        return tuple(found[k] for k in keys)

    def _window(
        self,
        base: Sequence[Any],
        chosen: Sequence[Any],
        order: Sequence[Any],
        window: Window,
    ) -> tuple[list[str], bool, int]:
        """The keys of a page in SQL: rows of ``base`` that ``chosen`` filters, by ``order``.

        ``order`` ends with the key. Returns the page's keys, whether more follow and how
        many rows the filters choose.
        """
        read = self._session.read
        where = [*base, *chosen]
        (counted,) = read(select(func.count()).select_from(self._table).where(*where))
        total = int(str(next(iter(counted.values()))))
        where += after_cursor(read, order, base, self._key, window)
        query = select(self._key).where(*where).order_by(*in_order(order, window))
        keys = [str(next(iter(row.values()))) for row in read(query.limit(window.limit + 1))]
        return keys[: window.limit], len(keys) > window.limit, total


class _Services(_Repository[Service]):
    """Services: the row is loaded with its number of records and the last one's time.

    The records stay in ``service_history`` and are read by range when asked for
    (:class:`_SqlServiceHistory`), so loading and renewing a service cost the same after
    a thousand records as after three. A commit writes the row (with its version check)
    when it changed or records were made, and inserts the new records after the stored
    ones; it never reads or rewrites those.
    """

    def view(self, account_id: str) -> list[Service]:
        """:meth:`for_account`: the services read from their rows are this unit of work's own."""
        return self.for_account(account_id)

    def _select(self) -> Select[Any]:
        # The last record's position and time, each from the history's primary key.
        history = self._tables.children[schema.SERVICE_HISTORY.table]
        table = self._table
        own = (
            history.c.account_id == table.c.account_id,
            history.c.service_id == table.c.service_id,
        )
        last = select(func.max(history.c.position)).where(*own).scalar_subquery()
        last_at = (
            select(history.c.at).where(*own).order_by(history.c.position.desc()).limit(1)
        ).scalar_subquery()
        return super()._select().add_columns(last.label(_LAST_RECORD), last_at.label(_LAST_AT))

    def _adopt(self, row: Row, children: Mapping[str, list[Row]]) -> Service:
        key = str(row[self._key.name])
        if key in self.loaded:
            return self.loaded[key].aggregate
        service = super()._adopt(row, children)
        history = _SqlServiceHistory(self._session, self._tables, service.account_id, key)
        if _LAST_RECORD in row:
            last = row[_LAST_RECORD]
            count = 0 if last is None else int(last) + 1
            return service.attach(history, count, row[_LAST_AT])
        return service.attach(history, history.count())

    def _appended(self, aggregate: Service) -> bool:
        return bool(aggregate.unsaved())

    def committed(self) -> None:
        for loaded, _ in self.written:
            service = loaded.aggregate
            new = service.unsaved()
            history = service.stored_history
            if new and isinstance(history, ListServiceHistory):
                # A service new here holds every record: its own list keeps them, unread.
                history.append(new, after=service.change_count - len(new))
            service.saved()
        super().committed()

    def _write_appended(self, service: Service, what: str, done: str) -> None:
        spec = schema.SERVICE_HISTORY
        rows, _ = schema.SERVICE_WRITES._child_rows(spec, service, service.account_id, {})  # noqa: SLF001 - the shape's own writing
        table = self._tables.children[spec.table]
        first = service.change_count - len(service.unsaved())
        parent = {"account_id": service.account_id, "service_id": service.id}
        values = [
            self._fit(table, {**row, **parent, "position": first + n})
            for n, row in enumerate(rows.values())
        ]
        if values:
            self._insert_rows(table, values, what, done)


class _SqlServiceHistory:
    """A service's records in ``service_history``: read by range of position."""

    def __init__(
        self, session: _Session, store_tables: Tables, account_id: str, service_id: str
    ) -> None:
        self._session = session
        self._table = store_tables.children[schema.SERVICE_HISTORY.table]
        self._params = {"account": account_id, "service": service_id}

    def read(self, first: int, last: int) -> list[ServiceChange]:
        table = self._table
        # Positions count from 0, records from 1.
        rows = self._session.look(
            (table, "range"),
            lambda: (
                select(table)
                .where(
                    table.c.account_id == bindparam("account"),
                    table.c.service_id == bindparam("service"),
                    table.c.position >= bindparam("first"),
                    table.c.position <= bindparam("last"),
                )
                .order_by(table.c.position)
            ),
            {**self._params, "first": first - 1, "last": last - 1},
        )
        account = str(self._params["account"])
        spec = schema.SERVICE_HISTORY
        found = schema.SERVICE_WRITES._collection(spec, rows, account, bool(rows))  # noqa: SLF001 - the shape's own reading
        return [decode(data, ServiceChange) for data in cast("list[JsonValue]", found)]

    def count(self) -> int:
        """How many records are stored (the last position plus one)."""
        table = self._table
        rows = self._session.look(
            (table, "count"),
            lambda: select(func.max(table.c.position)).where(
                table.c.account_id == bindparam("account"),
                table.c.service_id == bindparam("service"),
            ),
            self._params,
        )
        found = _first(rows)
        return 0 if found is None else int(found) + 1

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        del memo
        return self


class _Payments(_Paged[Payment]):
    def page(self, account_id: str, query: PaymentQuery, window: Window) -> Slice[Payment]:
        if self._holds(account_id):
            # What this unit of work changed decides: the list is worked out from it.
            rows = self.for_account(account_id)
            ordered = [p for _, p in sorted(enumerate(rows), key=lambda x: (x[1].created_at, x[0]))]
            return take(ordered, self._shape.key_of, window=window, matches=query.matches)
        table = self._table
        chosen = []
        if query.status is not None:
            chosen.append(table.c.status == query.status.value)
        if query.purpose is not None:
            chosen.append(table.c.purpose == query.purpose.value)
        if query.invoice_id is not None:
            chosen.append(table.c.invoice_id == query.invoice_id)
        keys, more, total = self._window(
            [table.c.account_id == account_id],
            chosen,
            [table.c.created_at, table.c.row_order, self._key],
            window,
        )
        return Slice(self._loaded_in_order(keys), more, total)


class _Expenses(_PerAccount[ExpenseBook]):
    """Expense books; a page of expenses and its totals are read from ``expenses`` rows.

    A book is loaded with its unpaid expenses only (what funding reads: expenses are paid
    oldest first) and reads the paid ones the first time a question needs them
    (:class:`_SqlShelf`), so booking a charge costs the same after 10,000 paid expenses
    as after 10. A commit keeps each stored expense's position and puts new ones after
    the last.
    """

    def __init__(
        self,
        session: _Session,
        store_tables: Tables,
        shape: Shape,
        kind: str,
        factory: Callable[[str], ExpenseBook],
    ) -> None:
        super().__init__(session, store_tables, shape, kind, factory)
        self._last: dict[str, int] = {}
        """The position of each loaded book's last stored expense, when read with it."""

    def _adopt(self, row: Row, children: Mapping[str, list[Row]]) -> ExpenseBook:
        key = str(row[self._key.name])
        if key in self.loaded:
            return self.loaded[key].aggregate
        book = super()._adopt(row, children)
        book.attach(_SqlShelf(self, key, row))
        last = row.get(_LAST_POSITION)
        if last is not None:
            self._last[key] = int(last)
        return book

    def _image(self, key: str, loaded: _Loaded[ExpenseBook]) -> Image:
        image = super()._image(key, loaded)
        if loaded.image is None or loaded.aggregate.complete:
            return image
        table = self._shape.children[0].table
        read = loaded.image.children.get(table, {})
        rows = image.children[table]
        new = [k for k in rows if k not in read]
        for identity, values in rows.items():
            if identity in read and not is_unchanged(values):
                values["position"] = read[identity]["position"]
        if new:
            after = self._last_position(key) + 1
            for offset, identity in enumerate(new):
                rows[identity]["position"] = after + offset
            self._last[key] = after + len(new) - 1
        return image

    def _last_position(self, account_id: str) -> int:
        # Read with the book: a concurrent commit that added expenses since changed the
        # book's version, so this commit's version check fails before any row is written.
        if account_id in self._last:
            return self._last[account_id]
        table = self._tables.children[self._shape.children[0].table]
        (row,) = self._session.read(
            select(func.coalesce(func.max(table.c.position), -1)).where(
                table.c.account_id == account_id
            )
        )
        (last,) = row.values()
        return int(str(last))

    def rows(self, account_id: str, where: Any = None) -> list[RowMapping]:  # noqa: ANN401
        """The ``expenses`` rows of an account in the order they were recorded."""
        table = self._tables.children[self._shape.children[0].table]
        query = select(table).where(table.c.account_id == account_id)
        if where is not None:
            query = query.where(where)
        return self._session.read(query.order_by(table.c.position))

    def holds(self, account_id: str, expense_id: str) -> bool:
        """Whether an account's ``expenses`` rows hold an expense (its statement built once)."""
        table = self._tables.children[self._shape.children[0].table]
        found = self._session.look(
            (table, "holds"),
            lambda: select(table.c.expense_id).where(
                table.c.account_id == bindparam("account"),
                table.c.expense_id == bindparam("expense"),
            ),
            {"account": account_id, "expense": expense_id},
        )
        return bool(found)

    def stored(self, account_id: str) -> Mapping[tuple[object, ...], object]:
        """The expense rows of a loaded book read so far, by identity."""
        held = self.loaded[account_id].image
        return {} if held is None else held.children.get(self._shape.children[0].table, {})

    def read_more(self, account_id: str, parent: Row, rows: list[RowMapping]) -> dict[str, Expense]:
        """Decode expense rows read after the book, and remember them as read."""
        spec = self._shape.children[0]
        read = self._shape.read_image(parent, {spec.table: rows}).children[spec.table]
        held = self.loaded[account_id].image
        if held is not None:
            held.children.setdefault(spec.table, {}).update(read)
        elements = self._shape._collection(spec, rows, account_id, bool(rows))  # noqa: SLF001 - the shape's own reading
        pairs = cast("list[list[JsonValue]]", elements)
        return {str(pair[0]): decode(pair[1], Expense) for pair in pairs}

    def page(
        self, account_id: str, query: ExpenseQuery, window: Window
    ) -> tuple[Slice[Expense], ExpenseTotals]:
        held = self.loaded.get(account_id)
        if held is not None:
            ordered = held.aggregate.expenses(query.currency)
            found = take(ordered, _expense_id, window=window, matches=query.matches)
            return found, totals_of((e for e in ordered if query.matches(e)), query.currency)
        spec = self._shape.children[0]
        table = self._tables.children[spec.table]
        dialect = self._session.dialect
        base = [table.c.account_id == account_id, table.c.currency == query.currency]
        chosen = []
        if query.since is not None:
            chosen.append(table.c.charged_on >= query.since)
        if query.until is not None:
            chosen.append(table.c.charged_on < query.until)
        if query.service_id is not None:
            chosen.append(table.c.service_id == query.service_id)
        if query.unpaid_only:
            chosen.append(schema.unpaid_expenses(table))
        sums = select(
            func.count(),
            *exact_sum(table.c.amount, dialect),
            *exact_sum(table.c.unpaid, dialect),
            *exact_sum(table.c.tax, dialect),
        ).where(*base, *chosen)
        (row,) = self._session.read(sums)
        count, *added = row.values()
        code = query.currency
        totals = ExpenseTotals(
            total=money_of(added[0:2], dialect, code),
            unpaid=money_of(added[2:4], dialect, code),
            tax=money_of(added[4:6], dialect, code),
            count=int(str(count)),
        )
        order = [table.c.charged_on, table.c.position, table.c.expense_id]
        read = self._session.read
        where = [*base, *chosen, *after_cursor(read, order, base, table.c.expense_id, window)]
        rows = read(
            select(table).where(*where).order_by(*in_order(order, window)).limit(window.limit + 1)
        )
        elements = self._shape._collection(spec, rows, account_id, bool(rows))  # noqa: SLF001 - the shape's own reading
        # A book keeps its expenses by id: the collection is of (id, expense) pairs.
        pairs = cast("list[list[JsonValue]]", elements)
        items = tuple(decode(pair[1], Expense) for pair in pairs)
        return Slice(items[: window.limit], len(items) > window.limit, totals.count), totals


class _SqlShelf:
    """The paid expenses of a book loaded without them, read from ``expenses`` when asked."""

    def __init__(self, repository: _Expenses, account_id: str, parent: Row) -> None:
        self._repository = repository
        self._account_id = account_id
        self._parent = parent

    def holds(self, expense_id: str) -> bool:
        return self._repository.holds(self._account_id, expense_id)

    def find(self, expense_ids: Collection[str]) -> dict[str, Expense]:
        table = self._repository._tables.children[schema.EXPENSE_BOOKS.children[0].table]  # noqa: SLF001
        if not expense_ids:
            return {}
        where = table.c.expense_id.in_(list(expense_ids))
        return self._read(self._repository.rows(self._account_id, where), {})

    def unbilled(self, until: date, loaded: Mapping[str, Expense]) -> list[Expense]:
        table = self._repository._tables.children[schema.EXPENSE_BOOKS.children[0].table]  # noqa: SLF001
        where = and_(table.c.act_id.is_(None), table.c.charged_on < until)
        found = self._read(self._repository.rows(self._account_id, where), loaded)
        stored = self._repository.stored(self._account_id)
        found.update((k, e) for k, e in loaded.items() if k not in found and (k,) not in stored)
        return list(found.values())

    def complete(self, loaded: Mapping[str, Expense]) -> dict[str, Expense]:
        found = self._read(self._repository.rows(self._account_id), loaded)
        found.update((k, e) for k, e in loaded.items() if k not in found)
        return found

    def _read(self, rows: list[RowMapping], loaded: Mapping[str, Expense]) -> dict[str, Expense]:
        """The expenses of rows in their order: the loaded objects, the others decoded."""
        rest = [row for row in rows if str(row["expense_id"]) not in loaded]
        decoded = self._repository.read_more(self._account_id, self._parent, rest)
        found: dict[str, Expense] = {}
        for row in rows:
            expense_id = str(row["expense_id"])
            found[expense_id] = loaded[expense_id] if expense_id in loaded else decoded[expense_id]
        return found

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


class _SqlHistory:
    """A ledger's entries in ``ledger_entries``: read by range of ``seq`` or by key."""

    def __init__(self, session: _Session, store_tables: Tables, account_id: str) -> None:
        self._session = session
        self._table = store_tables.children[schema.LEDGER_ENTRIES.table]
        self._account_id = account_id

    def read(self, first: int, last: int, currency: str | None = None) -> list[LedgerEntry]:
        table = self._table
        where = [
            table.c.account_id == self._account_id,
            table.c.seq >= first,
            table.c.seq <= last,
        ]
        if currency is not None:
            where.append(table.c.currency == currency)
        return self._entries(select(table).where(*where).order_by(table.c.seq))

    def with_key(self, key: str) -> list[LedgerEntry]:
        table = self._table
        rows = self._session.look(
            (table, "with key"),
            lambda: (
                select(table)
                .where(
                    table.c.account_id == bindparam("account"),
                    table.c.idempotency_key == bindparam("key"),
                )
                .order_by(table.c.seq)
            ),
            {"account": self._account_id, "key": key},
        )
        return self._decoded(rows)

    def sums(self, span: Span) -> EntrySums:
        table = self._table
        amount, dialect = table.c.amount, self._session.dialect
        query = select(
            func.count(),
            *exact_sum(amount, dialect, amount > literal_column("0")),
            *exact_sum(amount, dialect, amount < literal_column("0")),
        ).where(*self._span(span))
        (row,) = self._session.read(query)
        count, *found = row.values()
        code = span.currency
        return EntrySums(
            money_of(found[0:2], dialect, code),
            -money_of(found[2:4], dialect, code),
            int(str(count)),
        )

    def page(
        self, span: Span, *, after: int | None, limit: int | None, newest_first: bool
    ) -> list[LedgerEntry]:
        table = self._table
        where = self._span(span)
        if after is not None:
            where.append(table.c.seq < after if newest_first else table.c.seq > after)
        order = table.c.seq.desc() if newest_first else table.c.seq
        return self._entries(select(table).where(*where).order_by(order).limit(limit))

    def _span(self, span: Span) -> list[Any]:
        table = self._table
        where = [table.c.account_id == self._account_id, table.c.currency == span.currency]
        if span.since is not None:
            where.append(table.c.at >= span.since)
        if span.until is not None:
            where.append(table.c.at < span.until)
        if span.last is not None:
            where.append(table.c.seq <= span.last)
        return where

    def count(self) -> int:
        table = self._table
        rows = self._session.look(
            (table, "count"),
            lambda: select(func.max(table.c.seq)).where(table.c.account_id == bindparam("account")),
            {"account": self._account_id},
        )
        return int(_first(rows) or 0)

    def _entries(self, query: Any, params: Mapping[str, object] | None = None) -> list[LedgerEntry]:  # noqa: ANN401
        return self._decoded(self._session.read(query, params))

    def _decoded(self, rows: Sequence[Row]) -> list[LedgerEntry]:
        spec = schema.LEDGER_ENTRIES
        found = schema.LEDGER_WRITES._collection(spec, rows, self._account_id, bool(rows))  # noqa: SLF001 - the shape's own reading
        return [decode(data, LedgerEntry) for data in cast("list[JsonValue]", found)]

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        del memo
        return self


class _Ledgers(_PerAccount[Ledger]):
    """Ledgers: the row and running balances are loaded, the entries read when asked for.

    A commit writes the ledger's row (with its version check) and balances when they
    changed, and inserts the entries booked since loading; it never reads or rewrites
    the stored entries.
    """

    def __init__(self, session: _Session, store_tables: Tables) -> None:
        super().__init__(session, store_tables, schema.LEDGERS, "ledger", Ledger)

    def _by_key(self) -> Any:  # noqa: ANN401
        # One statement: the row, the number of entries (the last seq, from the primary
        # key) and the balances, one row per currency (joined, a few at most).
        entries = self._tables.children[schema.LEDGER_ENTRIES.table]
        balances = self._tables.children[self._shape.children[0].table]
        last = (
            select(func.max(entries.c.seq))
            .where(entries.c.account_id == self._table.c.account_id)
            .scalar_subquery()
        )
        joined = self._table.outerjoin(balances, balances.c.account_id == self._table.c.account_id)
        held = [c.label(f"{_BALANCE}{c.name}") for c in balances.c if c.name != "account_id"]
        return (
            select(self._table, last.label(_LAST_SEQ), *held)
            .select_from(joined)
            .where(self._key == bindparam("key"))
            .order_by(balances.c.position)
        )

    def _load_key(self, key: str, *, account_id: str | None = None) -> list[Ledger]:
        del account_id
        rows = self._session.rows(*self._key_read(key))
        if not rows:
            return []
        spec = self._shape.children[0]
        names = [c.name for c in self._tables.children[spec.table].c if c.name != "account_id"]
        held = [
            {"account_id": row["account_id"], **{n: row[f"{_BALANCE}{n}"] for n in names}}
            for row in rows
            if row[f"{_BALANCE}{spec.identity}"] is not None
        ]
        return [self._adopt(rows[0], {spec.table: cast("list[Row]", held)})]

    def _adopt(self, row: Row, children: Mapping[str, list[Row]]) -> Ledger:
        key = str(row[self._key.name])
        if key in self.loaded:
            return self.loaded[key].aggregate
        ledger = super()._adopt(row, children)
        history = _SqlHistory(self._session, self._tables, key)
        count = int(row[_LAST_SEQ] or 0) if _LAST_SEQ in row else history.count()
        return ledger.attach(history, count)

    def _appended(self, aggregate: Ledger) -> bool:
        return bool(aggregate.unsaved())

    def _untouched(self, key: str, loaded: _Loaded[Ledger], image: Image) -> bool:
        del key, loaded, image
        return False  # a ledger made in a unit of work is stored, entries or not

    def committed(self) -> None:
        for loaded, _ in self.written:
            ledger = loaded.aggregate
            history = ledger.history
            if isinstance(history, ListHistory):
                # A ledger new here holds every entry: its own list keeps them, unread.
                history.append(ledger.unsaved())
            ledger.saved()
        super().committed()

    def _write_appended(self, ledger: Ledger, what: str, done: str) -> None:
        spec = schema.LEDGER_ENTRIES
        shape = schema.LEDGER_WRITES
        account = ledger.account_id
        rows, _ = shape._child_rows(spec, ledger, account, {})  # noqa: SLF001 - the shape's own writing
        table = self._tables.children[spec.table]
        values = [
            self._fit(table, {**row, "account_id": account, "position": int(str(row["seq"])) - 1})
            for row in rows.values()
        ]
        if values:
            self._insert_rows(table, values, what, done)


def _as_read(before: Image | None, written: Image) -> Image:
    """The rows of an aggregate as stored after ``written``: its unchanged rows as read."""
    held = {} if before is None else before.children
    children = {
        table: {k: held[table][k] if is_unchanged(values) else values for k, values in rows.items()}
        for table, rows in written.children.items()
    }
    return Image(row=written.row, children=children)


_ABSENT = object()
"""A column a row as read has no value for."""

_LAST_SEQ = "cb_last_seq"
"""The column of a ledger's row as loaded that holds the seq of its last entry."""

_LAST_RECORD = "cb_last_record"
"""The column of a service's row as loaded that holds its last record's position."""

_LAST_AT = "cb_last_at"
"""The column of a service's row as loaded that holds when its last record was made."""

_BALANCE = "cb_balance_"
"""What the columns of a balance joined to a ledger's row as loaded start with."""


def _flag(spec: Children) -> str:
    """The column of a row as loaded that tells whether a child table holds its rows."""
    return f"cb_has_{spec.table}"


def _loaded_only(spec: Children, child: Table) -> list[Any]:
    """The conditions on a child table's rows that loading its parent reads (none: all).

    An expense book is loaded with its unpaid expenses only (see :class:`_Expenses`).
    """
    if spec is schema.EXPENSE_BOOKS.children[0]:
        return [schema.unpaid_expenses(child)]
    return []


def _flags_of(store_tables: Tables, shape: Shape) -> list[Any]:
    """For each child table of a shape, whether it holds rows of the row's aggregate."""
    table = store_tables.aggregates[shape.table]
    flags = []
    for spec in shape.children:
        child = store_tables.children[spec.table]
        where = [child.c.account_id == table.c.account_id]
        if not shape.per_account:
            where.append(child.c[shape.key.name] == table.c[shape.key.name])
        where += _loaded_only(spec, child)
        flags.append(exists().where(*where).label(_flag(spec)))
    return flags


_READ_TOGETHER = (
    schema.BILLING_PROFILES,
    schema.PAYER_BOOKS,
    schema.EXPENSE_BOOKS,
    schema.DOCUMENT_BOOKS,
)
"""The aggregates one per account whose rows are read in one statement, the first time
any of them is asked for: a renewal that reads the profile, the payers and the expenses
of an account reads their rows once."""

_SHAPE = "cb_shape"
"""The column of a row read with :func:`_rows_together` that names its table."""

_LAST_POSITION = "cb_last_position"
"""The column of an expense book's row read with :func:`_rows_together`: the position of
its last stored expense (-1: none)."""


_NOT_READ = object()


def _rows_together(store_tables: Tables) -> Any:  # noqa: ANN401
    """The rows of an account's (``:key``) aggregates of :data:`_READ_TOGETHER`, tagged.

    Each row comes with the flags of every shape's child tables (false where they are
    another shape's), so that the rows are alike for ``UNION ALL``.
    """
    names = [_flag(spec) for shape in _READ_TOGETHER for spec in shape.children]
    parts = []
    for shape in _READ_TOGETHER:
        table = store_tables.aggregates[shape.table]
        own = {flag.name: flag for flag in _flags_of(store_tables, shape)}
        last: Any = sql_cast(null(), Integer)
        if shape is schema.EXPENSE_BOOKS:
            # Where a commit puts the book's new expenses: after the last stored one.
            # The greater of the unpaid and the paid ones' last position, each found by
            # its partial index (see schema.UNPAID_EXPENSES_INDEX).
            expenses = store_tables.children[shape.children[0].table]
            unpaid, paid = (
                select(func.coalesce(func.max(expenses.c.position), -1))
                .where(expenses.c.account_id == table.c.account_id, only)
                .scalar_subquery()
                for only in (schema.unpaid_expenses(expenses), schema.paid_expenses(expenses))
            )
            last = case((unpaid > paid, unpaid), else_=paid)
        parts.append(
            select(
                literal(shape.table, String(200)).label(_SHAPE),
                table.c.account_id,
                table.c.version,
                table.c.data,
                *(own.get(name, false().label(name)) for name in names),
                last.label(_LAST_POSITION),
            ).where(table.c.account_id == bindparam("key"))
        )
    return union_all(*parts)


class _Accounts(_Repository[Account]):
    """Accounts, and the due index: the ``next_due`` table, a row per account.

    A commit that wrote any aggregate of an account sets its ``next_due`` to
    :data:`~cabinet_billing.ports.repositories.DUE_NOW` and counts one more of its
    ``due_marks``; a schedule is written only where ``due_marks`` is still what this
    unit of work read with the account (``UPDATE ... WHERE due_marks = :read``), so a
    change committed by another unit of work meanwhile keeps the account due.
    """

    def __init__(self, session: _Session, store_tables: Tables) -> None:
        super().__init__(session, store_tables, schema.ACCOUNTS, "account")
        self._due = store_tables.next_due
        self._marks_read: dict[str, int] = {}
        self.scheduled: dict[str, date] = {}
        self._marked: list[str] = []

    def _select(self) -> Select[Any]:
        due = self._due
        joined = self._table.outerjoin(due, due.c.account_id == self._table.c.account_id)
        return select(self._table, due.c.due_marks, *self._flags()).select_from(joined)

    def _adopt(self, row: Row, children: Mapping[str, list[Row]]) -> Account:
        key = str(row["account_id"])
        if key not in self._marks_read:
            # Read with the account's row (see _select), or on its own when not.
            marks = row["due_marks"] if "due_marks" in row else self._marks(key)
            self._marks_read[key] = int(marks or 0)
        return super()._adopt(row, children)

    def _marks(self, account_id: str) -> int | None:
        due = self._due
        query = select(due.c.due_marks).where(due.c.account_id == account_id)
        found: int | None = self._session.connection().execute(query).scalar_one_or_none()
        return found

    def due(self, day: date, *, after: str | None = None, limit: int | None = None) -> list[str]:
        due = self._due

        def make() -> Any:  # noqa: ANN401
            query = select(due.c.account_id).where(due.c.next_due <= bindparam("day"))
            if after is not None:
                query = query.where(due.c.account_id > bindparam("after"))
            query = query.order_by(due.c.account_id)
            return query if limit is None else query.limit(bindparam("limit", type_=Integer))

        params = {"day": day, "after": after, "limit": limit}
        rows = self._session.rows((due, "due", after is None, limit is None), make, params)
        return [str(row["account_id"]) for row in rows]

    def count(self, *, due_by: date | None = None) -> int:
        due = self._due

        def make() -> Any:  # noqa: ANN401
            if due_by is None:
                return select(func.count()).select_from(self._table)
            return select(func.count()).select_from(due).where(due.c.next_due <= bindparam("day"))

        found = self._session.scalar((due, "count", due_by is None), make, {"day": due_by})
        return int(found)

    def next_due(self, account_id: str) -> date:
        due = self._due
        query = select(due.c.next_due).where(due.c.account_id == account_id)
        found: date | None = self._session.connection().execute(query).scalar_one_or_none()
        if found is None:
            raise NotFoundError(self._kind, account_id)
        return found

    def schedule(self, account_id: str, day: date) -> None:
        if account_id not in self._marks_read:
            marks = self._marks(account_id)
            if marks is None:
                raise NotFoundError(self._kind, account_id)
            self._marks_read[account_id] = marks
        self.scheduled[account_id] = day

    def flush_due(self, touched: set[str]) -> None:
        """Write the schedules nobody overtook, and make the other changed accounts due."""
        due = self._due
        session = self._session
        if self.scheduled:
            session.write(
                (due, "schedule"),
                lambda: (
                    update(due)
                    .where(
                        due.c.account_id == bindparam("b_account"),
                        due.c.due_marks == bindparam("b_marks"),
                    )
                    .values(next_due=bindparam("v_day"))
                ),
                [
                    {"b_account": a, "b_marks": self._marks_read[a], "v_day": day}
                    for a, day in sorted(self.scheduled.items())
                ],
            )
        marked = self._marked = sorted(touched - self.scheduled.keys())
        if not marked:
            return
        columns = ["account_id", "next_due", "due_marks"]

        def accounts() -> Select[Any]:
            return select(
                self._table.c.account_id, literal(DUE_NOW, Date), literal(1, Integer)
            ).where(self._table.c.account_id.in_(bindparam("marked", expanding=True)))

        dialect = session.dialect
        if dialect in {"postgresql", "sqlite"}:
            module = postgresql if dialect == "postgresql" else sqlite
            session.write(
                (due, "mark"),
                lambda: (
                    module.insert(due)
                    .from_select(columns, accounts())
                    .on_conflict_do_update(
                        index_elements=[due.c.account_id],
                        set_={"next_due": DUE_NOW, "due_marks": due.c.due_marks + 1},
                    )
                ),
                [{"marked": marked}],
            )
            return
        connection = session.connection()
        connection.execute(
            update(due)
            .where(due.c.account_id.in_(marked))
            .values(next_due=DUE_NOW, due_marks=due.c.due_marks + 1)
        )
        held = select(due.c.account_id)
        connection.execute(
            insert(due).from_select(
                columns, accounts().where(self._table.c.account_id.not_in(held))
            ),
            {"marked": marked},
        )

    def committed(self) -> None:
        marks_read = self._marks_read
        for account_id in self._marked:
            if account_id in marks_read:
                # This unit of work's own mark: a schedule after this commit holds.
                marks_read[account_id] += 1
        self._marked = []
        self.scheduled = {}
        super().committed()


class _Invoices(_Paged[Invoice]):
    def add(self, row: Invoice) -> None:
        if any(loaded.aggregate.number == row.number for loaded in self.loaded.values()):
            raise ConflictError(f"invoice number {row.number!r}", "already used")
        # One statement finds a stored invoice of the same number or the same id.
        table = self._table
        stored = self._session.rows(
            (table, "number or id"),
            lambda: select(self._key, table.c.number).where(
                or_(table.c.number == bindparam("number"), self._key == bindparam("key"))
            ),
            {"number": row.number, "key": row.id},
        )
        if any(found["number"] == row.number for found in stored):
            raise ConflictError(f"invoice number {row.number!r}", "already used")
        if row.id in self.loaded or stored:
            raise ConflictError(f"invoice {row.id!r}", "already exists")
        self.loaded[row.id] = _Loaded(row)

    def _number_owner(self, number: str) -> str | None:
        for key, loaded in self.loaded.items():
            if loaded.aggregate.number == number:
                return key
        table = self._table
        found = self._session.scalar(
            (table, "by number"),
            lambda: select(self._key).where(table.c.number == bindparam("number")),
            {"number": number},
        )
        return None if found is None else str(found)

    def by_number(self, number: str) -> Invoice:
        key = self._number_owner(number)
        if key is None:
            raise NotFoundError("invoice with number", number)
        return self.get(key)

    def page(self, account_id: str, query: InvoiceQuery, window: Window) -> Slice[Invoice]:
        if self._holds(account_id):
            ordered = sorted(self.for_account(account_id), key=invoice_order)
            return take(ordered, _invoice_id, window=window, matches=query.matches)
        # Invoice numbers sort naturally (HOR-999 before HOR-1000): ``number_key`` is the
        # number's collation key, which SQL orders by its characters.
        table = self._table
        keys, more, total = self._window(
            [table.c.account_id == account_id],
            [self._shows(query)],
            [table.c.issued_on, table.c.number_key, self._key],
            window,
        )
        return Slice(self._loaded_in_order(keys), more, total)

    def _shows(self, query: InvoiceQuery) -> Any:  # noqa: ANN401
        table = self._table
        shown = query.shown
        if shown is InvoiceFilter.UNPAID:
            where: Any = table.c.is_open.is_(True)
        elif shown is InvoiceFilter.PAID:
            where = table.c.status == InvoiceStatus.PAID.value
        elif shown is InvoiceFilter.OVERDUE:
            where = and_(
                table.c.is_open.is_(True),
                table.c.due_on.is_not(None),
                table.c.due_on < query.today,
            )
        else:
            where = table.c.status != InvoiceStatus.DELETED.value
        if query.service_id is not None:
            lines = self._tables.children["invoice_lines"]
            owners = select(lines.c.invoice_id).where(lines.c.service_id == query.service_id)
            where = and_(where, self._key.in_(owners))
        return where

    def open_for_service(self, service_id: str) -> list[Invoice]:
        lines = self._tables.children["invoice_lines"]

        def where() -> Any:  # noqa: ANN401
            owners = select(lines.c.invoice_id).where(lines.c.service_id == bindparam("service"))
            return and_(self._table.c.is_open.is_(True), self._key.in_(owners))

        found = self._load_by("open for service", where, {"service": service_id})
        found += [loaded.aggregate for loaded in self.loaded.values()]
        chosen = {
            i.id: i
            for i in found
            if i.is_open() and any(line.service_id == service_id for line in i.lines)
        }
        return sorted(chosen.values(), key=invoice_order)

    def open(self) -> list[Invoice]:
        found = self._load(self._table.c.is_open.is_(True))
        found += [loaded.aggregate for loaded in self.loaded.values() if loaded.version is None]
        unique = {id(i): i for i in found}.values()
        return sorted((i for i in unique if i.is_open()), key=invoice_order)


class _BankReviews(_Repository[BankReview]):
    def pending(self) -> list[BankReview]:
        found = self._load(self._table.c.status == "pending")
        found += [loaded.aggregate for loaded in self.loaded.values() if loaded.version is None]
        unique = {id(r): r for r in found}.values()
        return [r for r in unique if r.is_pending]


class _Sequences:
    """Counters: PostgreSQL sequences for ids, free numbers for documents, rows elsewhere.

    On PostgreSQL a counter named for an id (see
    :func:`~cabinet_billing.ports.repositories.is_gapless`) is a ``SEQUENCE`` of its own:
    ``nextval`` never waits for another transaction, and a value a transaction took and
    rolled back is skipped. A document number is taken, in the unit of work's own
    transaction and with one statement, from the counter's *free* numbers
    (``number_claims``): the lowest one no other transaction holds is deleted (``FOR
    UPDATE SKIP LOCKED``), so the unit of work holds that row, and nothing another
    account needs, to its end. Its commit removes the number with the document that
    carries it; its rollback (or death) frees it again, and the next number taken is that
    one. Only when none is free does it reserve a block in a short transaction of its own
    (one statement that advances the ``counters`` row by the block and frees the numbers
    it passed, committed at once: the row is locked for that instant only); the block is
    one number, or up to 32 for a counter taken again within seconds
    (:class:`_NumberBlocks`), so a billing run commits once per renewal and reserves once
    per 32 of them. Numbers never repeat nor skip: every number up to the counter's value is
    stored with its document or free, and the lowest free one is always taken first
    (``counters.value`` is the last number reserved, not the last issued). No
    transaction waits for another account's. On SQLite (one writer) and other databases
    a counter is a row of ``counters``, locked to the end of the transaction.
    """

    def __init__(self, session: _Session, store: SqlStore) -> None:
        self._session = session
        self._store = store
        self._table = store.tables.counters

    def next(self, name: str) -> int:
        if self._session.dialect == "postgresql":
            if is_gapless(name):
                return self._claim(name)
            return self._store.id_blocks.next(name, self._take)
        return self._row(name)

    def _take(self, name: str, size: int) -> list[int]:
        """The next ``size`` values of an id counter's PostgreSQL sequence."""
        store = self._store
        rows = self._session.rows(
            ("next values", name), lambda: store.next_values_query(name), {"size": size}
        )
        return sorted(int(row["value"]) for row in rows)

    def _row(self, name: str) -> int:
        table = self._table
        dialect = self._session.dialect
        if dialect in {"postgresql", "sqlite"}:
            module = postgresql if dialect == "postgresql" else sqlite
            params = {"account_id": "", "name": name, "value": 1}
            value = self._session.scalar(
                (table, "next"),
                lambda: (
                    module.insert(table)
                    .on_conflict_do_update(
                        index_elements=[table.c.account_id, table.c.name],
                        set_={"value": table.c.value + 1},
                    )
                    .returning(table.c.value)
                ),
                params,
                columns=tuple(params),
            )
            return int(value)
        connection = self._session.connection()
        mine = and_(table.c.account_id == "", table.c.name == name)
        query = select(table.c.value).where(mine).with_for_update()
        current: int | None = connection.execute(query).scalar_one_or_none()
        if current is None:
            connection.execute(insert(table).values(account_id="", name=name, value=1))
            return 1
        connection.execute(update(table).where(mine).values(value=current + 1))
        return current + 1

    def _claim(self, name: str) -> int:
        claims = self._store.tables.number_claims
        while True:
            taken = self._session.scalar(
                (claims, "reuse"), lambda: self._reuse_statement(claims), {"claim": name}
            )
            if taken is not None:
                return int(taken)
            # None is free: reserve the next block (others may take from it before this
            # unit of work does; then it reserves again).
            self._reserve(name, self._store.number_blocks.size(name))

    def _reserve(self, name: str, size: int) -> None:
        """Advance a counter by ``size`` and free the numbers it passed, in one commit."""
        reserve = self._session.statement(
            (self._store.tables.number_claims, "reserve"),
            lambda: _reserve_statement(self._table, self._store.tables.number_claims),
        )
        with self._store.engine.begin() as own:
            # Its commit need not wait for the disk: the commit of the unit of work that
            # stores a document with one of these numbers, later in the log, makes it
            # durable; lost in a crash before that, no number of the block was stored
            # anywhere and the counter is where it was.
            own.execute(text("SET LOCAL synchronous_commit TO OFF"))
            own.execute(reserve, {"claim": name, "size": size})

    @staticmethod
    def _reuse_statement(claims: Table) -> Any:  # noqa: ANN401
        """Take the lowest free number (``:claim`` names the counter), if any."""
        mine = and_(claims.c.account_id == "", claims.c.name == bindparam("claim"))
        free = (
            select(claims.c.value)
            .where(mine)
            .order_by(claims.c.value)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return delete(claims).where(mine, claims.c.value == free).returning(claims.c.value)


def _reserve_statement(counters: Table, claims: Table) -> Any:  # noqa: ANN401
    """One statement that advances a counter by ``:size`` and frees the numbers passed.

    ``WITH moved AS (INSERT INTO counters ... ON CONFLICT DO UPDATE SET value = value +
    :size RETURNING value) INSERT INTO number_claims SELECT '', :claim,
    generate_series(moved.value - :size + 1, moved.value) FROM moved``.
    """
    upsert = postgresql.insert(counters).values(
        account_id="", name=bindparam("claim"), value=bindparam("size")
    )
    moved = (
        upsert.on_conflict_do_update(
            index_elements=[counters.c.account_id, counters.c.name],
            set_={"value": counters.c.value + upsert.excluded.value},
        )
        .returning(counters.c.value)
        .cte("moved")
    )
    size = bindparam("size", type_=Integer)
    numbers = select(
        literal(""),
        bindparam("claim"),
        func.generate_series(moved.c.value - size + 1, moved.c.value),
    )
    return insert(claims).from_select(["account_id", "name", "value"], numbers)


class _NumberBlocks:
    """How many document numbers a counter reserves at once (PostgreSQL, see _Sequences).

    One when the counter's last block was reserved more than ``hot`` seconds ago (a
    counter taken now and then, such as one account's own invoice numbers: nothing is
    reserved ahead of need); twice the last block, up to ``most``, when it was reserved
    within them (a counter a billing run takes for every renewal).
    """

    KEPT = 4096

    def __init__(self, *, hot: float = 5.0, most: int = 32) -> None:
        self.hot = hot
        self.most = most
        self._last: dict[str, tuple[int, float]] = {}

    def size(self, name: str) -> int:
        """The size of the block to reserve now for a counter (and remember it)."""
        now = time.monotonic()
        size, at = self._last.get(name, (0, now))
        size = min(2 * size, self.most) if size and now - at < self.hot else 1
        if len(self._last) >= self.KEPT:
            self._last = {n: (s, t) for n, (s, t) in self._last.items() if now - t < self.hot}
        self._last[name] = (size, now)
        return size


class _IdBlocks:
    """Ids taken from PostgreSQL sequences a block at a time, handed out one by one.

    An id counter's sequence gives one value per ``nextval``, a round trip each; a
    counter taken again within seconds (one id per renewal in a billing run) takes the
    next values in blocks, of twice the last one's size up to 32 (:class:`_NumberBlocks`),
    and the store hands them out in order. An id is unique all the same (every value
    comes from the sequence once); what a process did not hand out when it stops is
    skipped, as a value a rolled-back transaction took always was. Threads of a process
    share the blocks (taking from and adding to a deque are atomic).
    """

    def __init__(self) -> None:
        self._sizes = _NumberBlocks()
        self._free: dict[str, collections.deque[int]] = {}

    def next(self, name: str, take: Callable[[str, int], list[int]]) -> int:
        """The next id of a counter; ``take(name, size)`` takes the next block when none is left."""
        free = self._free.get(name)
        if free is None:
            free = self._free.setdefault(name, collections.deque())
        while True:
            try:
                return free.popleft()
            except IndexError:
                free.extend(take(name, self._sizes.size(name)))


class _Keys:
    def __init__(self, session: _Session, store_tables: Tables) -> None:
        self._session = session
        self._table = store_tables.keys

    def seen(self, key: str) -> bool:
        return bool(self._session.scalar(*self.seen_read(key)))

    def seen_read(self, key: str) -> _Read:
        """The query :meth:`seen` runs."""
        table = self._table
        return _Read(
            (table, "seen"),
            lambda: select(func.count()).select_from(table).where(table.c.key == bindparam("key")),
            {"key": key},
        )

    def record(self, key: str, fingerprint: str = "") -> None:
        table = self._table
        dialect = self._session.dialect
        values = {"key": key, "fingerprint": fingerprint}
        if dialect in {"postgresql", "sqlite"}:
            module = postgresql if dialect == "postgresql" else sqlite
            inserted = bool(
                self._session.rows(
                    (table, "record"),
                    lambda: module.insert(table).on_conflict_do_nothing().returning(table.c.key),
                    values,
                    columns=tuple(values),
                )
            )
        else:
            inserted = not self.seen(key)
            if inserted:
                self._session.connection().execute(insert(table).values(values))
        if not inserted:
            raise ConflictError(f"key {key!r}", "already recorded")

    def fingerprint(self, key: str) -> str | None:
        table = self._table
        query = select(table.c.fingerprint).where(table.c.key == key)
        found = self._session.connection().execute(query).scalar_one_or_none()
        return None if found is None else str(found)

    def all(self, prefix: str = "") -> Iterable[str]:
        table = self._table
        query = select(table.c.key).where(table.c.key.startswith(prefix, autoescape=True))
        return sorted(self._session.connection().execute(query).scalars())


class SqlUnitOfWork:
    """A unit of work over a SQL database: one transaction, an identity map, optimistic locks.

    Args:
        store: the :class:`SqlStore` (or just its engine, with the default tables) to work on.
    """

    def __init__(self, store: SqlStore | Engine) -> None:
        self.store = store if isinstance(store, SqlStore) else SqlStore(store)
        self.committed = False
        self._session = _Session(self.store)
        self._begin()

    def _begin(self, keep: tuple[str, ...] = ()) -> None:
        # The repositories are made when first used: a unit of work that reads three of
        # them does not build twelve.
        self._built_at = self._session.opened
        for name in _MADE_ON_USE:
            if name not in keep:
                self.__dict__.pop(name, None)

    @functools.cached_property
    def accounts(self) -> _Accounts:
        """Accounts, and the due index."""
        return _Accounts(self._session, self.store.tables)

    @functools.cached_property
    def users(self) -> _Repository[AccountUsers]:
        """The users of each account."""
        return _Repository(
            self._session, self.store.tables, schema.ACCOUNT_USERS, "users of account"
        )

    @functools.cached_property
    def services(self) -> _Services:
        """Services."""
        return _Services(self._session, self.store.tables, schema.SERVICES, "service")

    @functools.cached_property
    def tickets(self) -> _Repository[Ticket]:
        """Support tickets."""
        return _Repository(self._session, self.store.tables, schema.TICKETS, "ticket")

    @functools.cached_property
    def invoices(self) -> _Invoices:
        """Invoices."""
        return _Invoices(self._session, self.store.tables, schema.INVOICES, "invoice")

    @functools.cached_property
    def payments(self) -> _Payments:
        """Payments."""
        return _Payments(self._session, self.store.tables, schema.PAYMENTS, "payment")

    @functools.cached_property
    def ledgers(self) -> _Ledgers:
        """Ledgers, one per account."""
        return _Ledgers(self._session, self.store.tables)

    @functools.cached_property
    def expenses(self) -> _Expenses:
        """Expense books, one per account."""
        return _Expenses(
            self._session, self.store.tables, schema.EXPENSE_BOOKS, "expense book", ExpenseBook
        )

    @functools.cached_property
    def payers(self) -> _PerAccount[PayerBook]:
        """Payer books, one per account."""
        return _PerAccount(
            self._session, self.store.tables, schema.PAYER_BOOKS, "payers", PayerBook
        )

    @functools.cached_property
    def documents(self) -> _PerAccount[AccountDocuments]:
        """Document books, one per account."""
        return _PerAccount(
            self._session, self.store.tables, schema.DOCUMENT_BOOKS, "documents", AccountDocuments
        )

    @functools.cached_property
    def profiles(self) -> _PerAccount[BillingProfile]:
        """Billing profiles, one per account."""
        return _PerAccount(
            self._session,
            self.store.tables,
            schema.BILLING_PROFILES,
            "billing profile",
            BillingProfile,
        )

    @functools.cached_property
    def bank_reviews(self) -> _BankReviews:
        """Bank transfers waiting for review."""
        return _BankReviews(
            self._session, self.store.tables, schema.BANK_REVIEWS, "bank transfer for review"
        )

    @functools.cached_property
    def sequences(self) -> _Sequences:
        """Counters."""
        return _Sequences(self._session, self.store)

    @functools.cached_property
    def keys(self) -> _Keys:
        """Idempotency keys."""
        return _Keys(self._session, self.store.tables)

    @functools.cached_property
    def outbox(self) -> SqlOutbox:
        """The notification outbox."""
        session = self._session
        return SqlOutbox(session.connection, session.dialect, self.store.tables.outbox, _row_order)

    @functools.cached_property
    def inbox(self) -> SqlInbox:
        """The notification inbox."""
        session = self._session
        return SqlInbox(session.connection, session.dialect, self.store.tables.inbox, _row_order)

    def batch(self) -> SqlBatch | None:
        """A batch of this unit of work's store (see :class:`SqlBatch`); None: it has none.

        The units of work of the store entered while it is open join its one transaction.
        """
        return self.store.batch()

    def _repositories(self) -> tuple[_Repository[Any], ...]:
        """The repositories this unit of work used, in the order a commit writes them."""
        made = self.__dict__
        return tuple(made[name] for name in AGGREGATE_REPOSITORIES if name in made)

    def __enter__(self) -> Self:
        self._session.rollback()
        self.committed = False
        self._afresh()
        return self

    def _afresh(self) -> None:
        """New repositories, unless nothing was read or written since they were made."""
        if self._session.opened != self._built_at:
            self._begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = None if exc is None else transient(exc)
        try:
            self.rollback()
        except DBAPIError as lost:
            # The connection is gone (so is the transaction): nothing to roll back.
            if exc is None:
                failed = transient(lost)
                if failed is None:
                    raise
                raise failed from lost
        if failed is not None:
            # A deadlock, a serialization failure, a lost connection: the caller may try
            # again (the billing run does, a few times).
            raise failed from exc

    def read_ahead(self, account_id: str, keys: Sequence[str] = ()) -> None:
        """Read what a day's billing of an account reads first, in one round trip.

        The :class:`~cabinet_billing.ports.repositories.ReadsAhead` of the ports: on
        PostgreSQL with psycopg 3 the account, the keys' records (``keys.seen``), its
        billing profile with the aggregates read together with it, the profile's
        subscriptions and done keys, its services, its ledger and its expense book's
        unpaid expenses are queried in one pipeline; each query's rows are served to the
        repository that runs it next, once, in this transaction. What this unit of work
        loaded already is not read again. Elsewhere nothing is read (a query costs as
        much now as later).
        """
        if not self._session.pipelined:
            return
        profiles, expenses = self.profiles, self.expenses
        reads: list[_Read] = []
        if account_id not in self.accounts.loaded:
            reads.append(self.accounts._key_read(account_id))  # noqa: SLF001
        reads += [self.keys.seen_read(key) for key in keys]
        if account_id not in profiles.loaded:
            reads.append(profiles._together_read(account_id))  # noqa: SLF001
            reads += [
                profiles._child_read(spec, "account", {"account": account_id})  # noqa: SLF001
                for spec in schema.BILLING_PROFILES.children
                if spec.table in _READ_AHEAD_CHILDREN
            ]
        if account_id not in self.services.listed:
            reads.append(self.services._account_read(account_id))  # noqa: SLF001
        if account_id not in self.ledgers.loaded:
            reads.append(self.ledgers._key_read(account_id))  # noqa: SLF001
        if account_id not in expenses.loaded:
            reads += [
                expenses._child_read(spec, "account", {"account": account_id})  # noqa: SLF001
                for spec in schema.EXPENSE_BOOKS.children
            ]
        self._session.read_together(reads)

    def claim_accounts(
        self, limit: int, after: str | None = None, *, due_by: date | None = None
    ) -> list[str]:
        """Lock up to ``limit`` accounts for this unit of work, skipping those locked by others.

        Billing workers on PostgreSQL call it to share the accounts: each gets ids that no
        other open transaction holds, and keeps them until it commits or rolls back. On
        SQLite, with one writer, it returns the first ids.

        Args:
            limit: how many accounts at most.
            after: only ids after this one (a worker's cursor through the accounts).
            due_by: only the accounts due by this day (next event date on or before it,
                see :meth:`_Accounts.due`): what a worker's run of that day visits.

        Returns:
            The claimed account ids, sorted.
        """
        table = self.store.tables.accounts
        query = select(table.c.account_id).order_by(table.c.account_id).limit(limit)
        if after is not None:
            query = query.where(table.c.account_id > after)
        if due_by is not None:
            due = self.store.tables.next_due
            query = query.join(due, due.c.account_id == table.c.account_id).where(
                due.c.next_due <= due_by
            )
        if self._session.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=table)
        return list(self._session.connection().execute(query).scalars())

    def commit(self) -> None:
        """Write every new and changed aggregate in this transaction and commit it.

        Raises:
            ConflictError: when an aggregate was changed or created by another unit of
                work meanwhile; the whole transaction is rolled back.
        """
        try:
            session = self._session
            session.connection()
            repositories = self._repositories()
            # The writes go together at the end of the block (one round trip on psycopg 3).
            with session.deferred():
                for repository in repositories:
                    repository.flush()
                # Every account whose aggregates were written is due at once (see _Accounts).
                self.accounts.flush_due(set().union(*(r.touched for r in repositories)))
        except BaseException:
            self.rollback()
            raise
        try:
            self._session.commit()
        except BaseException:
            self._begin()
            raise
        for repository in self._repositories():
            repository.committed()
        # The aggregates handed out stay tracked (see UnitOfWork); the rest starts anew,
        # and a rollback forgets them.
        self._begin(keep=AGGREGATE_REPOSITORIES)
        self._built_at = -1
        self.committed = True

    def rollback(self) -> None:
        """Discard every change not yet committed."""
        self._session.rollback()
        self._afresh()


_MADE_ON_USE = (*AGGREGATE_REPOSITORIES, "sequences", "keys", "outbox", "inbox")


class _BoundSession(_Session):
    """A session on a connection someone else holds (a migration's)."""

    def __init__(self, connection: Connection) -> None:
        self._bound = self._connection = connection
        self._statements = {}
        self._prepared = {}
        self._engine_dialect = connection.dialect
        self.pipelined = False
        self._pending = []
        self._deferring = False
        self.opened = 1
        self.read_ahead = {}
        self._ahead = {}
        self._own, self._own_begun = None, False

    @property
    def dialect(self) -> str:
        return self._bound.dialect.name

    def _open(self) -> Connection:
        return self._bound

    def read(self, query: Any, params: Mapping[str, object] | None = None) -> list[RowMapping]:  # noqa: ANN401
        return list(self._bound.execute(query, params).mappings())

    def commit(self) -> None:
        """The holder commits."""

    def rollback(self) -> None:
        """The holder rolls back."""

    def close(self) -> None:
        """The holder closes."""


def write_new(
    connection: Connection, store_tables: Tables, shape: Shape, aggregates: Iterable[object]
) -> None:
    """Insert aggregates of one shape as new rows, on a connection in a transaction.

    Migrations use it to bring in data; each aggregate gets version 1.

    Args:
        connection: the connection (its transaction is the caller's).
        store_tables: the store's tables.
        shape: the aggregates' shape.
        aggregates: the aggregates, in the order to keep.
    """
    bound = _BoundSession(connection)
    repository: _Repository[Any] = (
        _Ledgers(bound, store_tables)
        if shape is schema.LEDGERS
        else _Services(bound, store_tables, shape, shape.table)
        if shape is schema.SERVICES
        else _Repository(bound, store_tables, shape, shape.table)
    )
    # The database is at the migration's revision: later revisions' columns and tables
    # are not there (a table that is not there takes no rows).
    found = inspect(connection)
    tables = [shape.table, *(c.table for c in shape.children)]
    if shape is schema.LEDGERS:
        tables.append(schema.LEDGER_ENTRIES.table)
    if shape is schema.SERVICES:
        tables.append(schema.SERVICE_HISTORY.table)
    names = [store_tables.name(n) for n in tables]
    repository.present = {
        n: (
            {c["name"] for c in found.get_columns(n, schema=store_tables.schema)}
            if found.has_table(n, schema=store_tables.schema)
            else set()
        )
        for n in names
    }
    for aggregate in aggregates:
        repository.loaded[shape.key_of(aggregate)] = _Loaded(aggregate)
    repository.flush()


def _invoice_id(invoice: Invoice) -> str:
    return invoice.id


def _expense_id(expense: Expense) -> str:
    return expense.id
