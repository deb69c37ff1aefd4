"""Delivering the outbox: notifications leave after the change that caused them committed.

Every use case and the billing run queue their notifications in the unit of work that
makes the change (``uow.outbox``, through ``Context.commit``), so they are committed
with it or rolled back with it. Once committed they are handed to the
:class:`~cabinet_billing.ports.notifier.Notifier`, outside any unit of work. A notifier
that raises (a mail server that refuses the connection) loses nothing and stops nothing:
the message stays in the outbox with the error and is tried again after the
:class:`~cabinet_billing.domain.outbox.DeliveryPolicy`'s delay, by the next delivery
(``billing.run.deliver()`` or the next billing run), until its attempts are spent; it is
then kept as ``given_up``.

Every notification queued is also kept in its account's inbox (``uow.inbox``), in the
same unit of work, whether or not a notifier is plugged in: the cabinet's notification
list (``cabinet.notifications.inbox()``) reads it. What the notifier gets is addressed to
the account's users as each user's matrix decides (``Notification.to``, one
:class:`~cabinet_billing.domain.notifications.Recipient` per user and channel, see
:func:`~cabinet_billing.rules.notify.recipients`): a category a user switched off for a
channel does not reach that user there, unless the provider's notices make it mandatory.

Delivery is at least once: a process that dies between the notifier's answer and the
commit that records it delivers the message again. A notifier that must never repeat
itself keeps the keys it sent (the notification's ``key`` is stable), as the in-memory
notifiers do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import attrs

from cabinet_billing.domain.inbox import InboxEntry
from cabinet_billing.domain.notifications import (
    DEFAULT_MANDATORY,
    MandatoryNotices,
    Notification,
    NotificationCategory,
    NotificationChannel,
)
from cabinet_billing.domain.outbox import DeliveryPolicy, OutboxMessage, OutboxStatus
from cabinet_billing.errors import ConflictError, NotFoundError
from cabinet_billing.ports.clock import Clock
from cabinet_billing.ports.notifier import Notifier
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.notify import recipients

__all__ = ["DeliveryReport", "Outbox"]


@attrs.frozen
class DeliveryReport:
    """What one delivery of the outbox did.

    Attributes:
        delivered: messages the notifier took.
        retrying: messages the notifier failed to take, to be tried again later.
        given_up: the keys of messages whose last attempt failed; they stay in the outbox.
        errors: what the notifier raised, one line per failed message (key and error).
    """

    delivered: int = 0
    retrying: int = 0
    given_up: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        """Messages the notifier failed to take in this delivery."""
        return self.retrying + len(self.given_up)

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.given_up + other.given_up,
            self.errors + other.errors,
        )


class Outbox:
    """Queues notifications in units of work and delivers them once committed.

    Args:
        unit_of_work: makes a fresh unit of work.
        notifier: where notifications go; without one nothing is queued.
        policy: the retries of a failed delivery.
        clock: the clock deliveries are stamped with.
        address: completes a notification, in the unit of work it is queued in, with
            what the store knows of its recipient (a payer's email, SPEC A4).
        mandatory: the provider's mandatory notices: an inbox entry they send to the
            cabinet is shown to every user whatever their matrix.
    """

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        notifier: Notifier | None,
        policy: DeliveryPolicy,
        clock: Clock,
        *,
        address: Callable[[UnitOfWork, Notification], Notification] | None = None,
        mandatory: MandatoryNotices = DEFAULT_MANDATORY,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._notifier = notifier
        self._policy = policy
        self._clock = clock
        self._address = address
        self._mandatory = mandatory
        # Whether the cabinet always shows a notification depends on its category and
        # kind alone: asked once per pair.
        self._shown: dict[tuple[NotificationCategory, str], bool] = {}

    def queue(
        self, uow: UnitOfWork, notifications: Iterable[Notification | None]
    ) -> list[OutboxMessage]:
        """Queue notifications in ``uow`` (committed with it); the new messages.

        Each is kept in its account's inbox too. A notification whose key was queued
        before (or earlier in ``notifications``) is not queued again. The inbox entries
        are written with one ``add_many``, the messages with another.
        """
        address, known = self._address, self._shown
        entries: list[InboxEntry] = []
        for notification in notifications:
            if notification is None:
                continue
            addressed = notification if address is None else address(uow, notification)
            cell = (addressed.category, addressed.kind)
            shown = known.get(cell)
            if shown is None:
                channels = self._mandatory.channels_for(addressed)
                shown = known[cell] = NotificationChannel.CABINET in channels
            entries.append(InboxEntry(addressed, shown))
        uow.inbox.add_many(entries)
        if self._notifier is None:
            return []
        to_send: dict[str, Notification] = {}
        for entry in entries:
            to_send.setdefault(entry.id, self._to_users(uow, entry.notification))
        new = set(uow.outbox.add_many(to_send.values()))
        return [OutboxMessage(n) for key, n in to_send.items() if key in new]

    def _to_users(self, uow: UnitOfWork, notification: Notification) -> Notification:
        """The notification addressed to the account's users by their matrices (SPEC R9)."""
        if notification.to is not None:
            return notification
        try:
            account = uow.accounts.get(notification.account_id)
            users = uow.users.get(notification.account_id)
        except NotFoundError:
            return notification  # no users to address: the notifier decides
        to = recipients(notification, account, users, self._mandatory)
        n = notification  # built directly, as attrs.evolve would, for every message queued
        return Notification(n.account_id, n.category, n.kind, n.at, n.params, n.dedup, to)

    def send(self, messages: Sequence[OutboxMessage]) -> DeliveryReport:
        """Hand committed messages to the notifier and record what became of each."""
        notifier = self._notifier
        if notifier is None or not messages:
            return DeliveryReport()
        outcomes: list[OutboxMessage] = []
        errors: list[str] = []
        for message in messages:
            now = self._clock.now()
            try:
                notifier.send(message.notification)
            except Exception as exc:  # noqa: BLE001 - whatever the host's notifier raises
                error = f"{type(exc).__name__}: {exc}"
                errors.append(f"{message.key}: {error}")
                outcomes.append(message.failed(now, error, self._policy))
            else:
                outcomes.append(message.delivered(now))
        self._record(outcomes)
        return DeliveryReport(
            delivered=sum(m.status is OutboxStatus.DELIVERED for m in outcomes),
            retrying=sum(m.status is OutboxStatus.PENDING for m in outcomes),
            given_up=tuple(m.key for m in outcomes if m.status is OutboxStatus.GIVEN_UP),
            errors=tuple(errors),
        )

    def deliver(
        self, now: datetime | None = None, *, account_id: str | None = None
    ) -> DeliveryReport:
        """Deliver every message that is due at ``now`` (default: the clock's now).

        Messages that failed before are due once their retry delay has passed. Each is
        tried once per delivery, oldest first, in batches of the policy's batch size.
        """
        if self._notifier is None:
            return DeliveryReport()
        at = now if now is not None else self._clock.now()
        report = DeliveryReport()
        tried: set[str] = set()
        while True:
            with self._unit_of_work() as uow:
                batch = [
                    m
                    for m in uow.outbox.pending(
                        self._policy.batch_size + len(tried), account_id, due_by=at
                    )
                    if m.key not in tried
                ]
            if not batch:
                return report
            tried.update(m.key for m in batch)
            report += self.send(batch)

    def _record(self, outcomes: Sequence[OutboxMessage]) -> None:
        """Store the outcomes; a message another delivery recorded meanwhile keeps its own."""
        try:
            with self._unit_of_work() as uow:
                for message in outcomes:
                    uow.outbox.update(message)
                uow.commit()
        except ConflictError:
            for message in outcomes:
                try:
                    with self._unit_of_work() as uow:
                        uow.outbox.update(message)
                        uow.commit()
                except ConflictError:
                    continue
