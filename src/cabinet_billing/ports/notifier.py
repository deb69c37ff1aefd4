"""The notifier port: how notifications leave the library.

Use cases emit :class:`~cabinet_billing.domain.notifications.Notification` values; the
host delivers them. A notification the outbox addressed to the account's users carries
its recipients in ``to`` (user, channel, address), as each user's matrix decides (SPEC
R9): the host sends to exactly those; the cabinet's inbox already keeps every one.
"""

from __future__ import annotations

from typing import Protocol

from cabinet_billing.domain.notifications import Notification

__all__ = ["Notifier"]


class Notifier(Protocol):
    """Delivers notifications to customers."""

    def send(self, notification: Notification) -> None:
        """Deliver one notification. It is called after the unit of work committed."""
        ...
