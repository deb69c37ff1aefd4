"""The notification outbox in SQL: the ``outbox`` table and its repository.

One row per queued notification, keyed by ``(account_id, key)`` (the notification's
key), with its status (``pending``, ``delivered``, ``given_up``), the failed attempts,
when it may next be tried and the last error. The notification's category, kind and
instant are columns; its parameters and the instant as it was written (with its UTC
offset, which is part of the key) are the ``data`` JSON.

A message is queued with ``INSERT ... ON CONFLICT DO NOTHING`` inside the unit of work's
transaction (the messages of one change with one multi-row insert): it is committed with
the change that queued it, and a key queued before (by this or another transaction) is
not queued again. What became of it is written
with ``UPDATE ... WHERE status = 'pending'``: a message another delivery finished
meanwhile is not written again (:class:`~cabinet_billing.errors.ConflictError`).
Pending messages are found by the ``(status, row_order)`` index, so the delivered ones
cost nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from cabinet_billing.adapters.sql.codec import JsonValue, canonical
from cabinet_billing.adapters.sql.errors import StoredDataError
from cabinet_billing.adapters.sql.execution import Prepared, run
from cabinet_billing.domain.notifications import (
    DeliveryReason,
    Notification,
    NotificationCategory,
    NotificationChannel,
    Recipient,
)
from cabinet_billing.domain.outbox import OutboxMessage, OutboxStatus
from cabinet_billing.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping
    from sqlalchemy.engine import Dialect

__all__ = ["SqlOutbox", "insert_new", "outbox_table"]

#: The longest notification key the table keeps.
KEY_LENGTH = 1000


@functools.lru_cache(maxsize=64)
def new_rows_only(dialect: ModuleType, table: Table) -> Any:  # noqa: ANN401
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING key`` of a table, built once.

    Its values are bound at execution, so every insert runs the same cached statement.
    """
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.key)


PREPARED_ROWS = 16
"""The most rows of a multi-row insert run as a statement prepared for its row count."""


@functools.lru_cache(maxsize=256)
def _new_rows_prepared(dialect: Dialect, table: Table, count: int) -> Prepared:
    """``INSERT ... VALUES (...) x count ON CONFLICT DO NOTHING RETURNING key``, compiled once.

    The parameter of column ``c`` of row ``i`` is ``c__i``.
    """
    module = postgresql if dialect.name == "postgresql" else sqlite
    values = [
        {c.name: bindparam(f"{c.name}__{i}", type_=c.type) for c in table.c} for i in range(count)
    ]
    statement = module.insert(table).values(values).on_conflict_do_nothing()
    return Prepared(statement.returning(table.c.key), dialect)


def insert_new(
    connection: Connection, dialect: str, table: Table, rows: Sequence[dict[str, object]]
) -> set[str]:
    """Insert the rows whose ``(account_id, key)`` is not in the table yet; their keys.

    One ``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING key`` on
    PostgreSQL and SQLite: up to :data:`PREPARED_ROWS` rows a statement compiled once per
    row count and run on the driver's cursor (:mod:`~cabinet_billing.adapters.sql.execution`),
    more the cached statement of :func:`new_rows_only` sent as one multi-row insert;
    elsewhere one query for the keys there already and one insert of the others. The
    rows' keys must differ from each other, and every row gives every column.
    """
    if not rows:
        return set()
    if dialect in {"postgresql", "sqlite"}:
        if len(rows) <= PREPARED_ROWS:
            prepared = _new_rows_prepared(connection.dialect, table, len(rows))
            params = {
                f"{name}__{i}": value for i, row in enumerate(rows) for name, value in row.items()
            }
            ran = run(connection, prepared, params)
            return {str(row["key"]) for row in ran.rows or ()}
        module = postgresql if dialect == "postgresql" else sqlite
        return set(connection.execute(new_rows_only(module, table), list(rows)).scalars())
    probe = select(table.c.account_id, table.c.key).where(
        table.c.key.in_(sorted({str(row["key"]) for row in rows}))
    )
    there = {(a, k) for a, k in connection.execute(probe)}
    new = [row for row in rows if (row["account_id"], row["key"]) not in there]
    if new:
        connection.execute(insert(table), new)
    return {str(row["key"]) for row in new}


def outbox_table(metadata: MetaData, prefix: str) -> Table:
    """The outbox table of a store's tables."""
    from cabinet_billing.adapters.sql.schema import Instant, Payload  # noqa: PLC0415 - cycle

    name = f"{prefix}outbox"
    table = Table(
        name,
        metadata,
        Column("account_id", String(200), nullable=False),
        Column("key", String(KEY_LENGTH), nullable=False),
        Column("category", String(20), nullable=False),
        Column("kind", String(200), nullable=False),
        Column("at", Instant(), nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", Instant(), nullable=True),
        Column("last_error", Text, nullable=False),
        Column("done_at", Instant(), nullable=True),
        Column("row_order", BigInteger, nullable=False),
        Column("data", Payload(), nullable=False),
        PrimaryKeyConstraint("account_id", "key", name=f"{name}_pkey"),
    )
    Index(f"{name}_status_idx", table.c.status, table.c.row_order)
    return table


class SqlOutbox:
    """The outbox of one unit of work: statements in its transaction.

    Args:
        connection: gives the unit of work's connection (opening its transaction).
        dialect: the database's dialect name.
        table: the outbox table.
        order: gives the next insertion order.
    """

    def __init__(
        self,
        connection: Any,  # noqa: ANN401 - a callable returning the session's Connection
        dialect: str,
        table: Table,
        order: Any,  # noqa: ANN401 - a callable returning an int
    ) -> None:
        self._connection = connection
        self._dialect = dialect
        self._table = table
        self._order = order

    def add(self, notification: Notification) -> bool:
        """Queue a notification; False when its key was queued before."""
        values = self._values(notification)
        connection: Connection = self._connection()
        if self._dialect in {"postgresql", "sqlite"}:
            module = postgresql if self._dialect == "postgresql" else sqlite
            statement = new_rows_only(module, self._table)
            return connection.execute(statement, values).first() is not None
        if self._find(connection, notification.key) is not None:
            return False
        connection.execute(insert(self._table).values(values))
        return True

    def add_many(self, notifications: Iterable[Notification]) -> list[str]:
        """Queue several notifications in one statement; the keys queued (see the port)."""
        rows: dict[str, dict[str, object]] = {}
        for notification in notifications:
            if notification.key not in rows:
                rows[notification.key] = self._values(notification)
        if not rows:
            return []
        new = insert_new(self._connection(), self._dialect, self._table, list(rows.values()))
        return [key for key in rows if key in new]

    def _values(self, notification: Notification) -> dict[str, object]:
        """The row of a newly queued notification."""
        key = notification.key
        if len(key) > KEY_LENGTH:
            raise StoredDataError(self._table.name, f"a notification key longer than {KEY_LENGTH}")
        return {
            "account_id": notification.account_id,
            "key": key,
            "category": notification.category.value,
            "kind": notification.kind,
            "at": notification.at,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": "",
            "done_at": None,
            "row_order": self._order(),
            "data": canonical(
                {
                    "at": notification.at.isoformat(),
                    "params": dict(notification.params),
                    "dedup": notification.dedup,
                    **_recipients(notification.to),
                }
            ),
        }

    def pending(
        self, limit: int, account_id: str | None = None, *, due_by: datetime | None = None
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages to deliver, oldest first (see the port)."""
        table = self._table
        query = (
            select(table)
            .where(table.c.status == OutboxStatus.PENDING.value)
            .order_by(table.c.row_order)
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(table.c.account_id == account_id)
        if due_by is not None:
            query = query.where(
                or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= due_by)
            )
        rows = self._connection().execute(query).mappings()
        return [_message(row) for row in rows]

    def listed(
        self,
        status: OutboxStatus,
        limit: int,
        *,
        account_id: str | None = None,
        after: str | None = None,
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages in ``status``, in queue order (see the port)."""
        table = self._table
        connection: Connection = self._connection()
        query = (
            select(table)
            .where(table.c.status == OutboxStatus(status).value)
            .order_by(table.c.row_order)
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(table.c.account_id == account_id)
        if after is not None:
            position = connection.execute(
                select(table.c.row_order).where(table.c.key == after)
            ).scalar()
            if position is None:
                raise NotFoundError("outbox message", after)
            query = query.where(table.c.row_order > position)
        return [_message(row) for row in connection.execute(query).mappings()]

    def count(self, status: OutboxStatus, *, account_id: str | None = None) -> int:
        """How many messages are in ``status`` (see the port)."""
        table = self._table
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c.status == OutboxStatus(status).value)
        )
        if account_id is not None:
            query = query.where(table.c.account_id == account_id)
        return int(self._connection().execute(query).scalar_one())

    def get(self, key: str) -> OutboxMessage:
        """The message of a notification key."""
        found = self._find(self._connection(), key)
        if found is None:
            raise NotFoundError("outbox message", key)
        return found

    def update(self, message: OutboxMessage) -> None:
        """Store what became of a queued message."""
        self._write(message, OutboxStatus.PENDING, "was delivered or given up")

    def requeue(self, message: OutboxMessage) -> None:
        """Store a given-up message queued again (see the port)."""
        self._write(message, OutboxStatus.GIVEN_UP, "is not given up any more")

    def _write(self, message: OutboxMessage, stored: OutboxStatus, refusal: str) -> None:
        """Write the message over the stored one, which must still be in ``stored``."""
        table = self._table
        result = self._connection().execute(
            update(table)
            .where(
                and_(
                    table.c.account_id == message.account_id,
                    table.c.key == message.key,
                    table.c.status == stored.value,
                )
            )
            .values(
                status=message.status.value,
                attempts=message.attempts,
                next_attempt_at=message.next_attempt_at,
                last_error=message.last_error,
                done_at=message.done_at,
            )
        )
        if result.rowcount != 1:
            if self._find(self._connection(), message.key) is None:
                raise NotFoundError("outbox message", message.key)
            raise ConflictError(
                f"outbox message {message.key!r}",
                f"{refusal}: changed by another unit of work meanwhile",
            )

    def purge(
        self,
        done_before: datetime,
        statuses: frozenset[OutboxStatus],
        *,
        account_id: str | None = None,
    ) -> int:
        """Forget finished messages in ``statuses`` done before ``done_before`` (see the port)."""
        finished = sorted(s.value for s in statuses - {OutboxStatus.PENDING})
        if not finished:
            return 0
        table = self._table
        where = [table.c.status.in_(finished), table.c.done_at < done_before]
        if account_id is not None:
            where.append(table.c.account_id == account_id)
        result = self._connection().execute(delete(table).where(*where))
        return int(result.rowcount)

    def _find(self, connection: Connection, key: str) -> OutboxMessage | None:
        table = self._table
        row = connection.execute(select(table).where(table.c.key == key)).mappings().first()
        return None if row is None else _message(row)


def _recipients(to: tuple[Recipient, ...] | None) -> dict[str, JsonValue]:
    """The ``to`` of the data: left out for a notification not addressed to users."""
    if to is None:
        return {}
    return {"to": [[r.user_id, r.channel.value, r.address, r.reason.value] for r in to]}


def _addressed(value: object) -> tuple[Recipient, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise StoredDataError("outbox", f"recipients that are not a list: {value!r}")
    return tuple(
        Recipient(user, NotificationChannel(channel), address, DeliveryReason(reason))
        for user, channel, address, reason in value
    )


def _message(row: RowMapping) -> OutboxMessage:
    data = json.loads(row["data"])
    notification = Notification(
        row["account_id"],
        NotificationCategory(row["category"]),
        row["kind"],
        datetime.fromisoformat(data["at"]),
        data["params"],
        data["dedup"],
        _addressed(data.get("to")),
    )
    return OutboxMessage(
        notification,
        OutboxStatus(row["status"]),
        int(row["attempts"]),
        row["next_attempt_at"],
        row["last_error"],
        row["done_at"],
    )
