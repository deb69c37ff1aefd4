"""The in-memory notification inbox: each account's entries and each user's read marks.

:class:`InboxTable` is the committed state; a unit of work stages its additions and read
marks in an :class:`InboxRepository` and writes them back on commit.

>>> from datetime import datetime, timezone
>>> from cabinet_billing.domain.inbox import InboxQuery
>>> from cabinet_billing.domain.notifications import Notification, NotificationCategory
>>> at = datetime(2024, 3, 1, tzinfo=timezone.utc)
>>> table = InboxTable()
>>> inbox = InboxRepository(table)
>>> inbox.add(Notification("acc-1", NotificationCategory.FINANCE, "invoice.paid", at))
True
>>> inbox.flush()
>>> query = InboxQuery(account_id="acc-1", user_id="u1", unread=True)
>>> [e.kind for e in InboxRepository(table).page(query, 10)]
['invoice.paid']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.errors import NotFoundError

__all__ = ["InboxRepository", "InboxTable"]


class InboxTable:
    """Committed inbox entries by key, each account's keys in the order they came."""

    def __init__(self) -> None:
        self.entries: dict[str, InboxEntry] = {}
        self.order: dict[str, list[str]] = {}
        self.reads: dict[tuple[str, str], datetime] = {}

    def put(self, entry: InboxEntry) -> None:
        """Store a new entry, committed (an entry already there is kept)."""
        key = entry.id
        if key in self.entries:
            return
        self.entries[key] = entry
        self.order.setdefault(entry.notification.account_id, []).append(key)


class InboxRepository:
    """The inbox as one unit of work sees it: committed entries plus its own changes."""

    def __init__(self, table: InboxTable) -> None:
        self._table = table
        self.added: dict[str, InboxEntry] = {}
        self.reads: dict[tuple[str, str], datetime] = {}

    def add(self, notification: Notification, *, always_shown: bool = False) -> bool:
        """Keep a notification in the inbox; False when its key is there already."""
        key = notification.key
        if key in self.added or key in self._table.entries:
            return False
        self.added[key] = InboxEntry(notification, always_shown)
        return True

    def add_many(self, entries: Iterable[InboxEntry]) -> list[str]:
        """Keep several notifications at once; the ids of those kept (see the port).

        An unread entry is kept as it is given (entries never change); the others are
        kept unread, as :meth:`add` keeps a notification.
        """
        kept: list[str] = []
        added, committed = self.added, self._table.entries
        for entry in entries:
            key = entry.id
            if key in added or key in committed:
                continue
            unread = entry.read_at is None and type(entry) is InboxEntry
            added[key] = entry if unread else InboxEntry(entry.notification, entry.always_shown)
            kept.append(key)
        return kept

    def page(self, query: InboxQuery, limit: int, after: str | None = None) -> list[InboxEntry]:
        """Up to ``limit`` entries matching ``query``, newest first (see the port)."""
        keys = self._newest_first(query.account_id)
        if after is not None:
            if self._entry(query.account_id, after) is None:
                raise NotFoundError("notification", after)
            keys = _after(keys, after)
        found: list[InboxEntry] = []
        for entry in self._seen(keys, query.user_id):
            if len(found) >= limit:
                break
            if query.matches(entry):
                found.append(entry)
        return found

    def count(self, query: InboxQuery) -> int:
        """How many entries match ``query``."""
        keys = self._newest_first(query.account_id)
        return sum(1 for entry in self._seen(keys, query.user_id) if query.matches(entry))

    def mark_read(
        self, account_id: str, user_id: str, ids: Iterable[str], at: datetime
    ) -> set[str]:
        """Mark entries read by the user; the ids that are entries of the account."""
        known: set[str] = set()
        for key in ids:
            if self._entry(account_id, key) is None:
                continue
            known.add(key)
            if self._read_at(key, user_id) is None:
                self.reads[(key, user_id)] = at
        return known

    def mark_all_read(self, query: InboxQuery, at: datetime) -> int:
        """Mark every unread entry matching ``query`` read; how many were marked."""
        unread = InboxQuery(
            account_id=query.account_id,
            user_id=query.user_id,
            unread=True,
            category=query.category,
            shown=query.shown,
        )
        keys = self._newest_first(query.account_id)
        marked = [e.id for e in self._seen(keys, query.user_id) if unread.matches(e)]
        for key in marked:
            self.reads[(key, query.user_id)] = at
        return len(marked)

    def flush(self) -> None:
        """Write the staged entries and read marks to the table."""
        for entry in self.added.values():
            self._table.put(entry)
        for read, at in self.reads.items():
            self._table.reads.setdefault(read, at)

    def _newest_first(self, account_id: str) -> list[str]:
        committed = self._table.order.get(account_id, [])
        staged = [k for k, e in self.added.items() if e.account_id == account_id]
        return [*reversed(staged), *reversed(committed)]

    def _entry(self, account_id: str, key: str) -> InboxEntry | None:
        entry = self.added.get(key) or self._table.entries.get(key)
        return entry if entry is not None and entry.account_id == account_id else None

    def _read_at(self, key: str, user_id: str) -> datetime | None:
        return self._table.reads.get((key, user_id)) or self.reads.get((key, user_id))

    def _seen(self, keys: Iterable[str], user_id: str) -> Iterator[InboxEntry]:
        for key in keys:
            entry = self.added.get(key) or self._table.entries[key]
            read_at = self._read_at(key, user_id)
            yield (
                entry
                if read_at is None
                else InboxEntry(entry.notification, entry.always_shown, read_at)
            )


def _after(keys: list[str], after: str) -> list[str]:
    return keys[keys.index(after) + 1 :]
