"""A notifier that keeps what it was asked to send: for tests, simulations and demos."""

from __future__ import annotations

from cabinet_billing.domain.notifications import Notification

__all__ = ["InMemoryNotifier"]


class InMemoryNotifier:
    """Records notifications in order; a notification with a key seen before is skipped."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._keys: set[str] = set()

    def send(self, notification: Notification) -> None:
        """Record a notification once."""
        if notification.key in self._keys:
            return
        self._keys.add(notification.key)
        self.sent.append(notification)

    def kinds(self, account_id: str | None = None) -> list[str]:
        """The kinds sent, in order, optionally for one account."""
        return [n.kind for n in self.sent if account_id is None or n.account_id == account_id]
