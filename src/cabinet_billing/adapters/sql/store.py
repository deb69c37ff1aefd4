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
aggregate. Aggregates that were only read are not written.

Ledgers and expense books grow every day, so their children are rows of their own
(``ledger_entries``, ``expense_items``) and the aggregate's row keeps the rest. They are
read together in one statement; a commit first writes the aggregate's row with the
version check (whenever the row or a child changed), then inserts only the entries
booked since loading, and inserts or updates only the expenses that are new or whose
text changed. A commit writes as much as the unit of work changed, however long the
history: one charge is one ``ledger_entries`` row.

Counters are taken with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` inside the
transaction: the row stays locked until the end, so two transactions never get the same
number, and a number taken by a transaction that rolls back is handed out again.
Idempotency keys are inserted at once with ``ON CONFLICT DO NOTHING``: a key recorded by
another transaction raises :class:`~cabinet_billing.errors.ConflictError`.

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

import abc
import json
from collections.abc import Callable, Iterable
from operator import attrgetter
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

import attrs
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cabinet_billing.adapters.sql import schema
from cabinet_billing.adapters.sql.codec import JsonValue, canonical, decode, dumps, encode, loads
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import AccountDocuments
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.ledger import Ledger, LedgerEntry
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.service import Service
from cabinet_billing.domain.support import Ticket
from cabinet_billing.errors import ConflictError, NotFoundError

__all__ = ["SqlStore", "SqlUnitOfWork"]

T = TypeVar("T")


class SqlStore:
    """A database that keeps the aggregates: an engine plus the store's tables.

    Args:
        engine: a SQLAlchemy engine (``sqlite:///billing.db``, ``sqlite://``,
            ``postgresql+psycopg://user@host/db`` ...).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the store's tables that do not exist yet (see :mod:`.schema`)."""
        schema.create_schema(self.engine)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work over this store."""
        return SqlUnitOfWork(self)


class _Session:
    """The connection and transaction of one unit of work, opened at the first statement."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def connection(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            connection.begin()
            self._connection = connection
        return self._connection

    def commit(self) -> None:
        if self._connection is not None:
            try:
                self._connection.commit()
            finally:
                self.close()

    def rollback(self) -> None:
        if self._connection is not None:
            try:
                self._connection.rollback()
            finally:
                self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


@attrs.define
class _Loaded(Generic[T]):
    """An aggregate in the identity map: its object, the version and text that were read."""

    aggregate: T
    version: int | None = None
    text: str | None = None


class _Repository(Generic[T]):
    def __init__(
        self,
        session: _Session,
        table: Table,
        *,
        cls: type[T],
        kind: str,
        key_of: Callable[[T], str],
        account_of: Callable[[T], str],
    ) -> None:
        self._session = session
        self._table = table
        self._cls = cls
        self._kind = kind
        self._key_of = key_of
        self._account_of = account_of
        self.loaded: dict[str, _Loaded[T]] = {}

    def add(self, row: T) -> None:
        key = self._key_of(row)
        if key in self.loaded or self._stored(key) is not None:
            raise ConflictError(f"{self._kind} {key!r}", "already exists")
        self.loaded[key] = _Loaded(row)

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        stored = self._stored(key)
        if stored is None:
            raise NotFoundError(self._kind, key)
        return self._adopt(key, *stored)

    def ids(self) -> list[str]:
        query = select(self._table.c.id)
        stored = self._session.connection().execute(query).scalars()
        return sorted(set(stored) | set(self.loaded))

    def for_account(self, account_id: str) -> list[T]:
        table = self._table
        query = (
            select(table.c.id, table.c.version, table.c.data)
            .where(table.c.account_id == account_id)
            .order_by(table.c.row_id)
        )
        rows = self._session.connection().execute(query).all()
        found = [self._adopt(row.id, row.version, row.data) for row in rows]
        found += [
            loaded.aggregate
            for loaded in self.loaded.values()
            if loaded.version is None and self._account_of(loaded.aggregate) == account_id
        ]
        return found

    def _stored(self, key: str) -> tuple[int, str] | None:
        table = self._table
        query = select(table.c.version, table.c.data).where(table.c.id == key)
        row = self._session.connection().execute(query).first()
        return None if row is None else (row.version, row.data)

    def _adopt(self, key: str, version: int, text: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        aggregate = loads(self._cls, text)
        self.loaded[key] = _Loaded(aggregate, version, text)
        return aggregate

    def _columns(self, row: T) -> dict[str, object]:
        """Query columns besides the JSON data."""
        del row
        return {}

    def flush(self, connection: Connection) -> None:
        for key, loaded in self.loaded.items():
            text = dumps(loaded.aggregate, self._cls)
            if loaded.version is None:
                self._insert_row(connection, key, loaded, text)
            elif text != loaded.text:
                self._update_row(connection, key, loaded, text)

    def _insert_row(self, connection: Connection, key: str, loaded: _Loaded[T], text: str) -> None:
        """Insert a new aggregate's row with version 1."""
        values = {"id": key, "account_id": self._account_of(loaded.aggregate)}
        columns = self._columns(loaded.aggregate)
        try:
            connection.execute(
                insert(self._table).values(version=1, data=text, **values, **columns),
            )
        except IntegrityError as error:
            raise ConflictError(
                f"{self._kind} {key!r}",
                "was stored by another unit of work at the same time; nothing was stored",
            ) from error

    def _update_row(self, connection: Connection, key: str, loaded: _Loaded[T], text: str) -> None:
        """Write a changed aggregate's row if it still has the version that was read."""
        table = self._table
        version = cast("int", loaded.version)
        result = connection.execute(
            update(table)
            .where(table.c.id == key, table.c.version == version)
            .values(version=version + 1, data=text, **self._columns(loaded.aggregate)),
        )
        if result.rowcount != 1:
            raise ConflictError(
                f"{self._kind} {key!r}",
                f"was changed by another unit of work after version {version} "
                "was read; nothing was stored, load it again and retry",
            )


class _PerAccount(_Repository[T]):
    """One aggregate per account, created empty on first use."""

    def __init__(
        self,
        session: _Session,
        table: Table,
        *,
        cls: type[T],
        kind: str,
        account_of: Callable[[T], str],
        factory: Callable[[str], T],
    ) -> None:
        super().__init__(
            session, table, cls=cls, kind=kind, key_of=account_of, account_of=account_of
        )
        self._factory = factory

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        stored = self._stored(key)
        if stored is None:
            created = self._factory(key)
            self.loaded[key] = _Loaded(created)
            return created
        return self._adopt(key, *stored)


@attrs.frozen
class _Child:
    """A child row read with its aggregate: its position, its key and its JSON text."""

    position: int
    key: str
    text: str


@attrs.define
class _ChildWrites:
    """The child rows a commit writes for one aggregate."""

    clear: bool = False
    updates: list[dict[str, object]] = attrs.Factory(list)
    inserts: list[dict[str, object]] = attrs.Factory(list)
    deletes: list[str] = attrs.Factory(list)

    def __bool__(self) -> bool:
        return bool(self.clear or self.updates or self.inserts or self.deletes)


class _Split(_PerAccount[T], abc.ABC):
    """A per-account aggregate whose children are rows of a table of their own.

    The aggregate's row keeps everything but the children, and the version. Loading reads
    the row and its children in one statement (one snapshot of the database). A commit
    writes the row first, with the version check, whenever the row or any child changed,
    then only the child rows that are new, changed or gone: the cost of a commit follows
    what the unit of work changed, not the length of the history.

    Subclasses say how the aggregate is split into a row and children and put together
    again (:meth:`_assemble`, :meth:`_row_text`, :meth:`_child_writes`).
    """

    def __init__(
        self,
        session: _Session,
        table: Table,
        children: Table,
        *,
        position: str,
        child_key: str | None,
        cls: type[T],
        kind: str,
        factory: Callable[[str], T],
    ) -> None:
        account_of = cast("Callable[[T], str]", attrgetter("account_id"))
        super().__init__(session, table, cls=cls, kind=kind, account_of=account_of, factory=factory)
        self._children = children
        self._position = position
        self._child_key = child_key
        self._whole: set[str] = set()
        """The keys whose row was read with its children inside it (stored in one piece)."""

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        rows = self._read(key, with_row=True)
        if not rows or rows[0].part != 0:
            created = self._factory(key)
            self.loaded[key] = _Loaded(created)
            return created
        head = rows[0]
        children = [_Child(r.position, r.child, r.data) for r in rows[1:]]
        return self._take(key, head.version, head.data, children)

    def _adopt(self, key: str, version: int, text: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found.aggregate
        children = [_Child(r.position, r.child, r.data) for r in self._read(key, with_row=False)]
        return self._take(key, version, text, children)

    def _read(self, key: str, *, with_row: bool) -> list[Row[Any]]:
        """The aggregate's row (part 0, when asked) and its children (part 1), in order."""
        children = self._children
        child_key = children.c[self._child_key] if self._child_key else literal_column("''")
        tail = select(
            literal_column("1").label("part"),
            literal_column("0").label("version"),
            children.c[self._position].label("position"),
            child_key.label("child"),
            children.c.data.label("data"),
        ).where(children.c.account_id == key)
        if not with_row:
            return list(
                self._session.connection().execute(tail.order_by(tail.selected_columns.position))
            )
        table = self._table
        head = select(
            literal_column("0").label("part"),
            table.c.version.label("version"),
            literal_column("0").label("position"),
            literal_column("''").label("child"),
            table.c.data.label("data"),
        ).where(table.c.id == key)
        both = union_all(head, tail)
        query = both.order_by(both.selected_columns.part, both.selected_columns.position)
        return list(self._session.connection().execute(query))

    def _take(self, key: str, version: int, text: str, children: list[_Child]) -> T:
        aggregate = self._assemble(key, text, children)
        self.loaded[key] = _Loaded(aggregate, version, text)
        return aggregate

    @abc.abstractmethod
    def _assemble(self, key: str, text: str, children: list[_Child]) -> T:
        """The aggregate from its row and its children; remembers what was read."""

    @abc.abstractmethod
    def _row_text(self, aggregate: T) -> str:
        """The text of the aggregate's row: everything but the children."""

    @abc.abstractmethod
    def _child_writes(self, key: str, aggregate: T) -> _ChildWrites:
        """The child rows to write: those new, changed or gone since they were read."""

    def flush(self, connection: Connection) -> None:
        for key, loaded in self.loaded.items():
            if key in self._whole and dumps(loaded.aggregate, self._cls) == loaded.text:
                continue  # only read: a row written whole stays so until it changes
            text = self._row_text(loaded.aggregate)
            writes = self._child_writes(key, loaded.aggregate)
            if loaded.version is None:
                self._insert_row(connection, key, loaded, text)
            elif text != loaded.text or writes:
                self._update_row(connection, key, loaded, text)
            else:
                continue
            self._write_children(connection, key, writes)

    def _write_children(self, connection: Connection, key: str, writes: _ChildWrites) -> None:
        children = self._children
        mine = children.c.account_id == key
        try:
            if writes.clear:
                connection.execute(delete(children).where(mine))
            if writes.deletes and self._child_key:
                column = children.c[self._child_key]
                connection.execute(delete(children).where(mine, column.in_(writes.deletes)))
            if writes.updates and self._child_key:
                column = children.c[self._child_key]
                statement = (
                    update(children)
                    .where(mine, column == bindparam("child_key"))
                    .values(
                        {
                            self._position: bindparam("child_position"),
                            "data": bindparam("child_data"),
                        }
                    )
                )
                connection.execute(statement, writes.updates)
            if writes.inserts:
                connection.execute(insert(children), writes.inserts)
        except IntegrityError as error:
            raise ConflictError(
                f"{self._kind} {key!r}",
                "was changed by another unit of work at the same time; nothing was stored",
            ) from error


def _keys_of(entries: Iterable[LedgerEntry]) -> dict[str, tuple[LedgerEntry, ...]]:
    """The idempotency keys of a ledger as booking leaves them: each key's entries, in order."""
    grouped: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.key is not None:
            grouped.setdefault(entry.key, []).append(entry)
    return {key: tuple(booked) for key, booked in grouped.items()}


_ENTRIES = "_entries"
_KEYS = "_keys"
_EXPENSES = "_expenses"


class _Ledgers(_Split[Ledger]):
    """Ledgers: the row keeps the balances, the entries are rows of ``ledger_entries``.

    The keys index (each idempotency key's entries) is rebuilt from the entries, which
    carry their key; the row keeps it only when it is not what booking leaves. A row
    written whole (with its entries) is still read, and its entries get rows of their own
    at the next commit.
    """

    def __init__(self, session: _Session) -> None:
        super().__init__(
            session,
            schema.ledgers,
            schema.ledger_entries,
            position="seq",
            child_key=None,
            cls=Ledger,
            kind="ledger",
            factory=Ledger,
        )
        self._read_entries: dict[str, tuple[LedgerEntry, ...]] = {}

    def _assemble(self, key: str, text: str, children: list[_Child]) -> Ledger:
        data = json.loads(text)
        row = cast("Ledger", decode(data, Ledger))
        if _ENTRIES in data:
            self._whole.add(key)
            self._read_entries[key] = ()
            return row
        entries = [loads(LedgerEntry, child.text) for child in children]
        keys = getattr(row, _KEYS) if _KEYS in data else _keys_of(entries)
        self._read_entries[key] = tuple(entries)
        return attrs.evolve(row, _entries=entries, _keys=keys)

    def _row_text(self, aggregate: Ledger) -> str:
        data = cast(
            "dict[str, JsonValue]", encode(attrs.evolve(aggregate, _entries=[], _keys={}), Ledger)
        )
        del data[_ENTRIES]
        keys = getattr(aggregate, _KEYS)
        if keys == _keys_of(getattr(aggregate, _ENTRIES)):
            del data[_KEYS]
        else:
            data[_KEYS] = encode(keys, dict[str, tuple[LedgerEntry, ...]])
        return canonical(data)

    def _child_writes(self, key: str, aggregate: Ledger) -> _ChildWrites:
        entries: list[LedgerEntry] = getattr(aggregate, _ENTRIES)
        stored = self._read_entries.get(key, ())
        appended = len(entries) >= len(stored) and all(
            now is then for now, then in zip(entries, stored, strict=False)
        )
        start = len(stored) if appended else 0
        inserts: list[dict[str, object]] = [
            {"account_id": key, "seq": seq, "data": dumps(entry, LedgerEntry)}
            for seq, entry in enumerate(entries[start:], start + 1)
        ]
        return _ChildWrites(clear=not appended, inserts=inserts)


class _ExpenseBooks(_Split[ExpenseBook]):
    """Expense books: the row keeps the funds, the expenses are rows of ``expense_items``.

    Expenses change after they are recorded (payments are applied to them), so each one's
    text is remembered when read and only those whose text changed are written again.
    """

    def __init__(self, session: _Session) -> None:
        super().__init__(
            session,
            schema.expenses,
            schema.expense_items,
            position="position",
            child_key="expense_id",
            cls=ExpenseBook,
            kind="expense book",
            factory=ExpenseBook,
        )
        self._read_items: dict[str, dict[str, tuple[int, str]]] = {}

    def _assemble(self, key: str, text: str, children: list[_Child]) -> ExpenseBook:
        data = json.loads(text)
        row = cast("ExpenseBook", decode(data, ExpenseBook))
        if _EXPENSES in data:
            self._whole.add(key)
            self._read_items[key] = {}
            return row
        expenses = {child.key: loads(Expense, child.text) for child in children}
        self._read_items[key] = {child.key: (child.position, child.text) for child in children}
        return attrs.evolve(row, _expenses=expenses)

    def _row_text(self, aggregate: ExpenseBook) -> str:
        data = cast(
            "dict[str, JsonValue]", encode(attrs.evolve(aggregate, _expenses={}), ExpenseBook)
        )
        del data[_EXPENSES]
        return canonical(data)

    def _child_writes(self, key: str, aggregate: ExpenseBook) -> _ChildWrites:
        expenses: dict[str, Expense] = getattr(aggregate, _EXPENSES)
        stored = self._read_items.get(key, {})
        writes = _ChildWrites(deletes=sorted(stored.keys() - expenses.keys()))
        for position, (expense_id, expense) in enumerate(expenses.items()):
            text = dumps(expense, Expense)
            read = stored.get(expense_id)
            if read is None:
                writes.inserts.append(
                    {
                        "account_id": key,
                        "expense_id": expense_id,
                        "position": position,
                        "data": text,
                    }
                )
            elif read != (position, text):
                writes.updates.append(
                    {"child_key": expense_id, "child_position": position, "child_data": text}
                )
        return writes


class _Invoices(_Repository[Invoice]):
    def __init__(self, session: _Session) -> None:
        super().__init__(
            session,
            schema.invoices,
            cls=Invoice,
            kind="invoice",
            key_of=lambda i: i.id,
            account_of=lambda i: i.account_id,
        )

    def add(self, row: Invoice) -> None:
        if self._number_owner(row.number) is not None:
            raise ConflictError(f"invoice number {row.number!r}", "already used")
        super().add(row)

    def _number_owner(self, number: str) -> str | None:
        for key, loaded in self.loaded.items():
            if loaded.aggregate.number == number:
                return key
        table = self._table
        query = select(table.c.id).where(table.c.number == number)
        found: str | None = self._session.connection().execute(query).scalar_one_or_none()
        return found

    def by_number(self, number: str) -> Invoice:
        key = self._number_owner(number)
        if key is None:
            raise NotFoundError("invoice with number", number)
        return self.get(key)

    def open(self) -> list[Invoice]:
        table = self._table
        query = (
            select(table.c.id, table.c.version, table.c.data)
            .where(table.c.is_open.is_(True))
            .order_by(table.c.row_id)
        )
        rows = self._session.connection().execute(query).all()
        found = [self._adopt(row.id, row.version, row.data) for row in rows]
        found += [loaded.aggregate for loaded in self.loaded.values() if loaded.version is None]
        unique = {id(i): i for i in found}.values()
        return sorted((i for i in unique if i.is_open()), key=lambda i: (i.issued_on, i.number))

    def _columns(self, row: Invoice) -> dict[str, object]:
        return {"number": row.number, "is_open": row.is_open(), "issued_on": row.issued_on}


class _Sequences:
    def __init__(self, session: _Session) -> None:
        self._session = session

    def next(self, name: str) -> int:
        table = schema.sequences
        connection = self._session.connection()
        dialect = self._session.dialect
        if dialect in {"postgresql", "sqlite"}:
            module = postgresql if dialect == "postgresql" else sqlite
            statement = (
                module.insert(table)
                .values(name=name, value=1)
                .on_conflict_do_update(
                    index_elements=[table.c.name],
                    set_={"value": table.c.value + 1},
                )
                .returning(table.c.value)
            )
            value: int = connection.execute(statement).scalar_one()
            return value
        query = select(table.c.value).where(table.c.name == name).with_for_update()
        current: int | None = connection.execute(query).scalar_one_or_none()
        if current is None:
            connection.execute(insert(table).values(name=name, value=1))
            return 1
        connection.execute(update(table).where(table.c.name == name).values(value=current + 1))
        return current + 1


class _Keys:
    def __init__(self, session: _Session) -> None:
        self._session = session

    def seen(self, key: str) -> bool:
        table = schema.keys
        query = select(func.count()).select_from(table).where(table.c.key == key)
        return bool(self._session.connection().execute(query).scalar_one())

    def record(self, key: str) -> None:
        table = schema.keys
        connection = self._session.connection()
        dialect = self._session.dialect
        if dialect in {"postgresql", "sqlite"}:
            module = postgresql if dialect == "postgresql" else sqlite
            statement = (
                module.insert(table).values(key=key).on_conflict_do_nothing().returning(table.c.key)
            )
            inserted = connection.execute(statement).first() is not None
        else:
            inserted = not self.seen(key)
            if inserted:
                connection.execute(insert(table).values(key=key))
        if not inserted:
            raise ConflictError(f"key {key!r}", "already recorded")

    def all(self, prefix: str = "") -> Iterable[str]:
        table = schema.keys
        query = select(table.c.key).where(table.c.key.startswith(prefix, autoescape=True))
        return sorted(self._session.connection().execute(query).scalars())


class SqlUnitOfWork:
    """A unit of work over a SQL database: one transaction, an identity map, optimistic locks.

    Args:
        store: the :class:`SqlStore` (or just its engine) to work on.
    """

    def __init__(self, store: SqlStore | Engine) -> None:
        self.store = store if isinstance(store, SqlStore) else SqlStore(store)
        self.committed = False
        self._session = _Session(self.store.engine)
        self._begin()

    def _begin(self) -> None:
        session = self._session

        def table(
            rows: Table, cls: type[T], kind: str, key_of: Callable[[T], str]
        ) -> _Repository[T]:
            account_of = cast("Callable[[T], str]", attrgetter("account_id"))
            return _Repository(
                session, rows, cls=cls, kind=kind, key_of=key_of, account_of=account_of
            )

        def per_account(rows: Table, cls: type[T], kind: str) -> _PerAccount[T]:
            account_of = cast("Callable[[T], str]", attrgetter("account_id"))
            return _PerAccount(
                session, rows, cls=cls, kind=kind, account_of=account_of, factory=cls
            )

        self.accounts = _Repository(
            session,
            schema.accounts,
            cls=Account,
            kind="account",
            key_of=lambda a: a.id,
            account_of=lambda a: a.id,
        )
        self.users = table(schema.users, AccountUsers, "users of account", lambda u: u.account_id)
        self.services = table(schema.services, Service, "service", lambda s: s.id)
        self.tickets = table(schema.tickets, Ticket, "ticket", lambda t: t.id)
        self.invoices = _Invoices(session)
        self.payments = table(schema.payments, Payment, "payment", lambda p: p.id)
        self.ledgers = _Ledgers(session)
        self.expenses = _ExpenseBooks(session)
        self.payers = per_account(schema.payers, PayerBook, "payers")
        self.documents = per_account(schema.documents, AccountDocuments, "documents")
        self.profiles = per_account(schema.profiles, BillingProfile, "billing profile")
        self.sequences = _Sequences(session)
        self.keys = _Keys(session)

    def _repositories(self) -> tuple[_Repository[Any], ...]:
        return (
            self.accounts,
            self.users,
            self.services,
            self.tickets,
            self.invoices,
            self.payments,
            self.ledgers,
            self.expenses,
            self.payers,
            self.documents,
            self.profiles,
        )

    def __enter__(self) -> Self:
        self._session.rollback()
        self.committed = False
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def claim_accounts(self, limit: int, after: str | None = None) -> list[str]:
        """Lock up to ``limit`` accounts for this unit of work, skipping those locked by others.

        Billing workers on PostgreSQL call it to share the accounts: each gets ids that no
        other open transaction holds, and keeps them until it commits or rolls back. On
        SQLite, with one writer, it returns the first ids.

        Args:
            limit: how many accounts at most.
            after: only ids after this one (a worker's cursor through the accounts).

        Returns:
            The claimed account ids, sorted.
        """
        table = schema.accounts
        query = select(table.c.id).order_by(table.c.id).limit(limit)
        if after is not None:
            query = query.where(table.c.id > after)
        if self._session.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self._session.connection().execute(query).scalars())

    def commit(self) -> None:
        """Write every new and changed aggregate in this transaction and commit it.

        Raises:
            ConflictError: when an aggregate was changed or created by another unit of
                work meanwhile; the whole transaction is rolled back.
        """
        try:
            connection = self._session.connection()
            for repository in self._repositories():
                repository.flush(connection)
        except BaseException:
            self.rollback()
            raise
        try:
            self._session.commit()
        finally:
            self._begin()
        self.committed = True

    def rollback(self) -> None:
        """Discard every change not yet committed."""
        self._session.rollback()
        self._begin()
