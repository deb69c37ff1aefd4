"""The notifier port: how notifications leave the library.

Use cases emit :class:`~cabinet_billing.domain.notifications.Notification` values; the
host decides how to deliver them (email, SMS, messenger, the cabinet's inbox).
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
