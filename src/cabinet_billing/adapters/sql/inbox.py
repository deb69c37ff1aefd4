"""The notification inbox in SQL: the ``inbox`` and ``inbox_reads`` tables and their repository.

``inbox`` has one row per notification an account got, keyed by ``(account_id, key)``
(the notification's key), with its category, kind, instant, whether the provider's
mandatory notices always show it in the cabinet, and the insertion order; its parameters
and the instant as written (with its UTC offset, part of the key) are the ``data`` JSON.
``inbox_reads`` has one row per entry a user read: ``(account_id, key, user_id,
read_at)``.

The entries of one change are added with one multi-row ``INSERT ... ON CONFLICT DO
NOTHING`` (``add_many``). A page is one query: the entries of the account after the cursor's position in
``(row_order, key)`` order, newest first, filtered by category, by the categories the
user sees and by the user's read marks (``NOT EXISTS`` on ``inbox_reads``), ``LIMIT``
the page size; the ``(account_id, row_order)`` index serves it. Marking everything read
is one ``INSERT ... SELECT``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from cabinet_billing.adapters.sql.codec import canonical
from cabinet_billing.adapters.sql.errors import StoredDataError
from cabinet_billing.adapters.sql.outbox import KEY_LENGTH, insert_new, new_rows_only
from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, RowMapping, Select

__all__ = ["SqlInbox", "inbox_tables"]


def inbox_tables(metadata: MetaData, prefix: str) -> tuple[Table, Table]:
    """The inbox table and its read marks, of a store's tables."""
    from cabinet_billing.adapters.sql.schema import Instant, Payload  # noqa: PLC0415 - cycle

    name = f"{prefix}inbox"
    inbox = Table(
        name,
        metadata,
        Column("account_id", String(200), nullable=False),
        Column("key", String(KEY_LENGTH), nullable=False),
        Column("category", String(20), nullable=False),
        Column("kind", String(200), nullable=False),
        Column("at", Instant(), nullable=False),
        Column("always_shown", Boolean(), nullable=False),
        Column("row_order", BigInteger, nullable=False),
        Column("data", Payload(), nullable=False),
        PrimaryKeyConstraint("account_id", "key", name=f"{name}_pkey"),
    )
    Index(f"{name}_order_idx", inbox.c.account_id, inbox.c.row_order)
    reads = Table(
        f"{name}_reads",
        metadata,
        Column("account_id", String(200), nullable=False),
        Column("key", String(KEY_LENGTH), nullable=False),
        Column("user_id", String(200), nullable=False),
        Column("read_at", Instant(), nullable=False),
        PrimaryKeyConstraint("account_id", "key", "user_id", name=f"{name}_reads_pkey"),
    )
    return inbox, reads


class SqlInbox:
    """The inbox of one unit of work: statements in its transaction.

    Args:
        connection: gives the unit of work's connection (opening its transaction).
        dialect: the database's dialect name.
        tables: the inbox table and its read marks.
        order: gives the next insertion order.
    """

    def __init__(
        self,
        connection: Any,  # noqa: ANN401 - a callable returning the session's Connection
        dialect: str,
        tables: tuple[Table, Table],
        order: Any,  # noqa: ANN401 - a callable returning an int
    ) -> None:
        self._connection = connection
        self._dialect = dialect
        self._inbox, self._reads = tables
        self._order = order

    def add(self, notification: Notification, *, always_shown: bool = False) -> bool:
        """Keep a notification in the inbox; False when its key is there already."""
        return self._insert_new(self._inbox, self._values(notification, always_shown))

    def add_many(self, entries: Iterable[InboxEntry]) -> list[str]:
        """Keep several notifications in one statement; the ids kept (see the port)."""
        rows: dict[str, dict[str, object]] = {}
        for entry in entries:
            if entry.id not in rows:
                rows[entry.id] = self._values(entry.notification, entry.always_shown)
        if not rows:
            return []
        new = insert_new(self._connection(), self._dialect, self._inbox, list(rows.values()))
        return [key for key in rows if key in new]

    def _values(self, notification: Notification, always_shown: bool) -> dict[str, object]:
        """The row of a new entry."""
        key = notification.key
        if len(key) > KEY_LENGTH:
            raise StoredDataError(self._inbox.name, f"a notification key longer than {KEY_LENGTH}")
        return {
            "account_id": notification.account_id,
            "key": key,
            "category": notification.category.value,
            "kind": notification.kind,
            "at": notification.at,
            "always_shown": always_shown,
            "row_order": self._order(),
            "data": canonical(
                {
                    "at": notification.at.isoformat(),
                    "params": dict(notification.params),
                    "dedup": notification.dedup,
                }
            ),
        }

    def page(self, query: InboxQuery, limit: int, after: str | None = None) -> list[InboxEntry]:
        """Up to ``limit`` entries matching ``query``, newest first (see the port)."""
        inbox, reads = self._inbox, self._reads
        connection: Connection = self._connection()
        read_at = (
            select(reads.c.read_at)
            .where(self._read_by(query.user_id))
            .scalar_subquery()
            .label("read_at")
        )
        statement = (
            select(inbox, read_at)
            .where(self._matching(query))
            .order_by(inbox.c.row_order.desc(), inbox.c.key.desc())
            .limit(limit)
        )
        if after is not None:
            cursor = connection.execute(
                select(inbox.c.row_order).where(
                    and_(inbox.c.account_id == query.account_id, inbox.c.key == after)
                )
            ).scalar()
            if cursor is None:
                raise NotFoundError("notification", after)
            statement = statement.where(
                or_(
                    inbox.c.row_order < cursor,
                    and_(inbox.c.row_order == cursor, inbox.c.key < after),
                )
            )
        return [_entry(row) for row in connection.execute(statement).mappings()]

    def count(self, query: InboxQuery) -> int:
        """How many entries match ``query``."""
        inbox = self._inbox
        statement = select(func.count()).select_from(inbox).where(self._matching(query))
        return int(self._connection().execute(statement).scalar_one())

    def mark_read(
        self, account_id: str, user_id: str, ids: Iterable[str], at: datetime
    ) -> set[str]:
        """Mark entries read by the user; the ids that are entries of the account."""
        inbox = self._inbox
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        connection: Connection = self._connection()
        known = set(
            connection.execute(
                select(inbox.c.key).where(
                    and_(inbox.c.account_id == account_id, inbox.c.key.in_(wanted))
                )
            ).scalars()
        )
        for key in sorted(known):
            self._insert_new(
                self._reads,
                {"account_id": account_id, "key": key, "user_id": user_id, "read_at": at},
            )
        return known

    def mark_all_read(self, query: InboxQuery, at: datetime) -> int:
        """Mark every unread entry matching ``query`` read; how many were marked."""
        inbox, reads = self._inbox, self._reads
        unread = InboxQuery(
            account_id=query.account_id,
            user_id=query.user_id,
            unread=True,
            category=query.category,
            shown=query.shown,
        )
        chosen = select(
            inbox.c.account_id,
            inbox.c.key,
            literal(query.user_id, String(200)),
            literal(at, reads.c.read_at.type),
        ).where(self._matching(unread))
        statement = insert(reads).from_select(["account_id", "key", "user_id", "read_at"], chosen)
        connection: Connection = self._connection()
        if self._dialect in {"postgresql", "sqlite"}:
            return len(connection.execute(statement.returning(reads.c.key)).all())
        return int(connection.execute(statement).rowcount)

    def _read_by(self, user_id: str) -> ColumnElement[bool]:
        inbox, reads = self._inbox, self._reads
        return and_(
            reads.c.account_id == inbox.c.account_id,
            reads.c.key == inbox.c.key,
            reads.c.user_id == user_id,
        )

    def _matching(self, query: InboxQuery) -> ColumnElement[bool]:
        inbox = self._inbox
        conditions: list[ColumnElement[bool]] = [inbox.c.account_id == query.account_id]
        if query.category is not None:
            conditions.append(inbox.c.category == query.category.value)
        if query.shown is not None:
            shown = sorted(c.value for c in query.shown)
            conditions.append(or_(inbox.c.always_shown.is_(True), inbox.c.category.in_(shown)))
        if query.unread is not None:
            read = exists().where(self._read_by(query.user_id))
            conditions.append(~read if query.unread else read)
        return and_(*conditions)

    def _insert_new(self, table: Table, values: dict[str, object]) -> bool:
        connection: Connection = self._connection()
        if self._dialect in {"postgresql", "sqlite"}:
            module = postgresql if self._dialect == "postgresql" else sqlite
            statement = new_rows_only(module, table)
            return connection.execute(statement, values).first() is not None
        primary = list(table.primary_key.columns)
        probe: Select[Any] = select(table.c.key).where(
            and_(*(c == values[c.name] for c in primary))
        )
        if connection.execute(probe).first() is not None:
            return False
        connection.execute(insert(table).values(values))
        return True


def _entry(row: RowMapping) -> InboxEntry:
    data = json.loads(row["data"])
    notification = Notification(
        row["account_id"],
        NotificationCategory(row["category"]),
        row["kind"],
        datetime.fromisoformat(data["at"]),
        data["params"],
        data["dedup"],
    )
    return InboxEntry(notification, bool(row["always_shown"]), row["read_at"])
