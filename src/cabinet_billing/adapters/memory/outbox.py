"""The in-memory outbox of notifications, and a multi-channel sender for tests and demos.

:class:`OutboxTable` keeps the notifications the use cases queued with their changes
(the store's part of :class:`~cabinet_billing.ports.repositories.OutboxRepository`); a
:class:`~cabinet_billing.adapters.memory.store.MemoryUnitOfWork` stages what it queues
and delivers in an :class:`OutboxRepository` and writes it back on commit, like every
other aggregate.

:class:`InMemoryOutbox` is a :class:`~cabinet_billing.ports.notifier.Notifier`: a
notification the library addressed to the account's users (``Notification.to``) is
delivered to those recipients; any other is split into deliveries by
:func:`~cabinet_billing.rules.notify.deliveries`, using the preferences and contacts
registered for its account. Each delivery is recorded once per channel and address.

>>> from datetime import datetime, timezone
>>> from cabinet_billing.domain.notifications import (
...     DeliveryContacts, Notification, NotificationCategory, NotificationChannel,
... )
>>> outbox = InMemoryOutbox()
>>> outbox.register(DeliveryContacts("acc-1", main_email="j-fairy@test.com"))
>>> n = Notification("acc-1", NotificationCategory.FINANCE, "invoice.paid",
...                  datetime(2024, 3, 1, tzinfo=timezone.utc))
>>> outbox.send(n)
>>> outbox.send(n)  # the same notification again: nothing new
>>> outbox.addresses(NotificationChannel.EMAIL)
['j-fairy@test.com']
>>> outbox.kinds(NotificationChannel.CABINET)
['invoice.paid']
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cabinet_billing.domain.notifications import (
    Delivery,
    DeliveryContacts,
    DeliveryReason,
    Notification,
    NotificationChannel,
    NotificationPreferences,
)
from cabinet_billing.domain.outbox import OutboxMessage, OutboxStatus
from cabinet_billing.errors import ConflictError, NotFoundError
from cabinet_billing.rules.notify import DEFAULT_ROUTING, EmailRouting, deliveries

__all__ = ["InMemoryOutbox", "OutboxRepository", "OutboxTable"]


class OutboxTable:
    """Committed outbox messages by notification key, in the order they were queued.

    Each message has a version, raised by every commit that changes it; the keys of the
    pending ones are kept in queue order, so finding what to deliver never walks the
    delivered ones.
    """

    def __init__(self) -> None:
        self.messages: dict[str, OutboxMessage] = {}
        self.versions: dict[str, int] = {}
        self.pending: dict[str, None] = {}

    def put(self, message: OutboxMessage) -> None:
        """Store a message, committed."""
        key = message.key
        self.messages[key] = message
        self.versions[key] = self.versions.get(key, 0) + 1
        if message.status is OutboxStatus.PENDING:
            self.pending.setdefault(key, None)
        else:
            self.pending.pop(key, None)

    def forget(self, key: str) -> None:
        """Remove a finished message, committed."""
        self.messages.pop(key, None)
        self.versions.pop(key, None)
        self.pending.pop(key, None)


class OutboxRepository:
    """The outbox as one unit of work sees it: committed messages plus its own changes."""

    def __init__(self, table: OutboxTable) -> None:
        self._table = table
        self.added: dict[str, OutboxMessage] = {}
        self.updated: dict[str, OutboxMessage] = {}
        self.purged: set[str] = set()
        self._read: dict[str, int] = {}
        self._requeued: dict[str, int] = {}

    def add(self, notification: Notification) -> bool:
        """Queue a notification; False when its key was queued before."""
        key = notification.key
        if key in self.added or (key in self._table.messages and key not in self.purged):
            return False
        self.added[key] = OutboxMessage(notification)
        return True

    def add_many(self, notifications: Iterable[Notification]) -> list[str]:
        """Queue several notifications at once; the keys of those queued (see the port)."""
        return [n.key for n in notifications if self.add(n)]

    def pending(
        self, limit: int, account_id: str | None = None, *, due_by: datetime | None = None
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages to deliver, oldest first (see the port)."""
        found: list[OutboxMessage] = []
        for key in [*self._table.pending, *self.added]:
            if len(found) >= limit:
                break
            message = self.get(key)
            if (
                message.status is OutboxStatus.PENDING
                and (account_id is None or message.account_id == account_id)
                and (due_by is None or message.due(due_by))
            ):
                found.append(message)
        return found

    def listed(
        self,
        status: OutboxStatus,
        limit: int,
        *,
        account_id: str | None = None,
        after: str | None = None,
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages in ``status``, in queue order (see the port)."""
        keys = self._queue()
        if after is not None:
            if after not in keys:
                raise NotFoundError("outbox message", after)
            keys = keys[keys.index(after) + 1 :]
        found: list[OutboxMessage] = []
        for key in keys:
            if len(found) >= limit:
                break
            message = self.get(key)
            if self._matches(message, status, account_id):
                found.append(message)
        return found

    def count(self, status: OutboxStatus, *, account_id: str | None = None) -> int:
        """How many messages are in ``status`` (see the port)."""
        return sum(self._matches(self.get(key), status, account_id) for key in self._queue())

    def _queue(self) -> list[str]:
        kept = (k for k in self._table.messages if k not in self.purged)
        return [*kept, *(k for k in self.added if k not in self._table.messages)]

    @staticmethod
    def _matches(message: OutboxMessage, status: OutboxStatus, account_id: str | None) -> bool:
        return message.status is status and account_id in {None, message.account_id}

    def get(self, key: str) -> OutboxMessage:
        """The message of a notification key."""
        found = self.updated.get(key) or self.added.get(key)
        if found is None and key not in self.purged:
            found = self._table.messages.get(key)
        if found is None:
            raise NotFoundError("outbox message", key)
        return found

    def requeue(self, message: OutboxMessage) -> None:
        """Store a given-up message queued again (see the port)."""
        key = message.key
        stored = self._table.messages.get(key)
        if stored is None:
            raise NotFoundError("outbox message", key)
        if stored.status is not OutboxStatus.GIVEN_UP:
            raise ConflictError(
                f"outbox message {key!r}", f"is {stored.status.value}, not given up"
            )
        self._requeued.setdefault(key, self._table.versions[key])
        self.updated[key] = message

    def update(self, message: OutboxMessage) -> None:
        """Store what became of a queued message."""
        key = message.key
        if key in self.added:
            self.added[key] = message
            return
        if key not in self._table.messages:
            raise NotFoundError("outbox message", key)
        self._read.setdefault(key, self._table.versions[key])
        self.updated[key] = message

    def purge(
        self,
        done_before: datetime,
        statuses: frozenset[OutboxStatus],
        *,
        account_id: str | None = None,
    ) -> int:
        """Forget finished messages in ``statuses`` done before ``done_before`` (see the port)."""
        finished = statuses - {OutboxStatus.PENDING}
        chosen = {
            key
            for key, message in self._table.messages.items()
            if key not in self.updated
            and account_id in {None, message.account_id}
            and message.status in finished
            and message.done_at is not None
            and message.done_at < done_before
        }
        fresh = chosen - self.purged
        self.purged |= fresh
        return len(fresh)

    def check(self) -> None:
        """Refuse to write messages another unit of work queued or changed meanwhile."""
        for key in self.added:
            if key in self._table.messages and key not in self.purged:
                raise ConflictError(
                    f"outbox message {key!r}", "was queued by another unit of work meanwhile; retry"
                )
        for key, read in self._read.items():
            if (
                self._table.versions.get(key) != read
                or self._table.messages[key].status is not OutboxStatus.PENDING
            ):
                raise ConflictError(
                    f"outbox message {key!r}",
                    f"was changed by another unit of work after version {read}; retry",
                )

        for key, read in self._requeued.items():
            if self._table.versions.get(key) != read:
                raise ConflictError(
                    f"outbox message {key!r}",
                    f"was changed by another unit of work after version {read}; retry",
                )

    def flush(self) -> None:
        """Write the staged messages to the table (and forget the purged ones)."""
        for key in self.purged:
            self._table.forget(key)
        for message in (*self.added.values(), *self.updated.values()):
            self._table.put(message)


class InMemoryOutbox:
    """Delivers notifications per channel into memory, each delivery once.

    An account that was never registered has no contacts but the cabinet and the default
    preferences.

    Args:
        routing: which notification email an email goes to.
    """

    def __init__(self, routing: EmailRouting = DEFAULT_ROUTING) -> None:
        self.routing = routing
        self.delivered: list[Delivery] = []
        self._keys: set[str] = set()
        self._contacts: dict[str, DeliveryContacts] = {}
        self._preferences: dict[str, NotificationPreferences] = {}

    def register(
        self,
        contacts: DeliveryContacts,
        preferences: NotificationPreferences | None = None,
    ) -> None:
        """Set the contacts (and, optionally, the preferences) of ``contacts.account_id``."""
        self._contacts[contacts.account_id] = contacts
        if preferences is not None:
            self._preferences[contacts.account_id] = preferences

    def set_preferences(self, account_id: str, preferences: NotificationPreferences) -> None:
        """Set the preferences of one account."""
        self._preferences[account_id] = preferences

    def contacts(self, account_id: str) -> DeliveryContacts:
        """The registered contacts of ``account_id`` (only the cabinet when unknown)."""
        return self._contacts.get(account_id) or DeliveryContacts(account_id)

    def preferences(self, account_id: str) -> NotificationPreferences:
        """The preferences of ``account_id`` (the defaults when unknown)."""
        return self._preferences.get(account_id) or NotificationPreferences.defaults()

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` on every channel it takes (the Notifier port)."""
        self.deliver(notification)

    def deliver(self, notification: Notification) -> tuple[Delivery, ...]:
        """Deliver ``notification``; return the deliveries that were new.

        A notification the library addressed to the account's users (``to``) goes to
        those recipients and to the cabinet; one not addressed is split by the
        preferences and contacts registered for its account.
        """
        if notification.to is not None:
            cabinet = Delivery(
                notification,
                NotificationChannel.CABINET,
                notification.account_id,
                DeliveryReason.MANDATORY,
            )
            planned: tuple[Delivery, ...] = (
                *(Delivery(notification, r.channel, r.address, r.reason) for r in notification.to),
                cabinet,
            )
        else:
            planned = deliveries(
                notification,
                self.preferences(notification.account_id),
                self.contacts(notification.account_id),
                self.routing,
            )
        return tuple(d for d in planned if self.record(d))

    def record(self, delivery: Delivery) -> bool:
        """Record one delivery unless it was seen before (its key and address); whether it was new."""
        seen = f"{delivery.key}:{delivery.address}"
        if seen in self._keys:
            return False
        self._keys.add(seen)
        self.delivered.append(delivery)
        return True

    def to(self, channel: NotificationChannel, account_id: str | None = None) -> list[Delivery]:
        """The deliveries on ``channel``, in order, optionally for one account."""
        return [
            d
            for d in self.delivered
            if d.channel is channel
            and (account_id is None or d.notification.account_id == account_id)
        ]

    def kinds(self, channel: NotificationChannel, account_id: str | None = None) -> list[str]:
        """The notification kinds delivered on ``channel``, in order."""
        return [d.notification.kind for d in self.to(channel, account_id)]

    def addresses(self, channel: NotificationChannel) -> list[str]:
        """The addresses ``channel`` delivered to, in order."""
        return [d.address for d in self.to(channel)]
