"""A multi-channel sender that keeps what it delivered: for tests, simulations and demos.

:class:`InMemoryOutbox` is a :class:`~cabinet_billing.ports.notifier.Notifier`: each
notification is split into deliveries by
:func:`~cabinet_billing.rules.notify.deliveries`, using the preferences and contacts
registered for its account, and each delivery is recorded once per channel.

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

from cabinet_billing.domain.notifications import (
    Delivery,
    DeliveryContacts,
    Notification,
    NotificationChannel,
    NotificationPreferences,
)
from cabinet_billing.rules.notify import DEFAULT_ROUTING, EmailRouting, deliveries

__all__ = ["InMemoryOutbox"]


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
        """Deliver ``notification``; return the deliveries that were new."""
        planned = deliveries(
            notification,
            self.preferences(notification.account_id),
            self.contacts(notification.account_id),
            self.routing,
        )
        return tuple(d for d in planned if self.record(d))

    def record(self, delivery: Delivery) -> bool:
        """Record one delivery unless its key was seen before; whether it was new."""
        if delivery.key in self._keys:
            return False
        self._keys.add(delivery.key)
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
