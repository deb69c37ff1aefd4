"""The account's notification inbox: every notification the account got, kept to be read.

Astra Cloud keeps every notification under "Support — Notifications", "available to all
the account's trusted users": the inbox is the account's, one entry per notification,
and each user marks what they read (their own read state). An entry's id is its
notification's key, so a notification lands in the inbox once.

>>> from datetime import datetime, timezone
>>> from cabinet_billing.domain.notifications import Notification, NotificationCategory
>>> n = Notification("acc-1", NotificationCategory.FINANCE, "invoice.paid",
...                  datetime(2024, 3, 1, tzinfo=timezone.utc), {"number": "INV-7"})
>>> entry = InboxEntry(n)
>>> entry.id, entry.kind, entry.read
('acc-1:invoice.paid:2024-03-01T00:00:00+00:00', 'invoice.paid', False)

A user's matrix may switch the cabinet channel of a category off (when the provider's
mandatory notices leave it optional): the user then does not see that category in the
inbox, except the entries the provider's notices always show there (``always_shown``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cabinet_billing.domain.checks import aware
from cabinet_billing.domain.notifications import Notification, NotificationCategory

__all__ = ["InboxEntry", "InboxQuery"]


@attrs.frozen
class InboxEntry:
    """One notification in the account's inbox, as one user sees it.

    Attributes:
        notification: the notification as it was delivered.
        always_shown: whether the provider's mandatory notices send it to the cabinet, so
            every user sees it whatever their matrix.
        read_at: when the user reading the inbox marked it read (``None``: unread).
    """

    notification: Notification = attrs.field(validator=attrs.validators.instance_of(Notification))
    always_shown: bool = False
    read_at: datetime | None = attrs.field(default=None, validator=attrs.validators.optional(aware))

    @property
    def id(self) -> str:
        """The entry's id: its notification's key."""
        return self.notification.key

    @property
    def account_id(self) -> str:
        """The account the notification was sent to."""
        return self.notification.account_id

    @property
    def category(self) -> NotificationCategory:
        """The notification's category."""
        return self.notification.category

    @property
    def kind(self) -> str:
        """What happened, e.g. ``"invoice.paid"``."""
        return self.notification.kind

    @property
    def at(self) -> datetime:
        """When it happened."""
        return self.notification.at

    @property
    def params(self) -> Mapping[str, str]:
        """The values a template needs."""
        return self.notification.params

    @property
    def read(self) -> bool:
        """Whether the user marked it read."""
        return self.read_at is not None

    def visible(self, shown: frozenset[NotificationCategory] | None) -> bool:
        """Whether a user whose cabinet channel is on for ``shown`` sees it (``None``: all)."""
        return shown is None or self.always_shown or self.category in shown


@attrs.frozen(kw_only=True)
class InboxQuery:
    """Which entries of an account's inbox one user lists or counts.

    Attributes:
        account_id: the account.
        user_id: the user reading: their read state answers ``unread``.
        unread: only the entries the user did not read (``True``), only those they read
            (``False``), or both (``None``).
        category: only the entries of one category (``None``: every category).
        shown: the categories whose cabinet channel is on in the user's matrix; entries
            of other categories are left out unless ``always_shown`` (``None``: all).
    """

    account_id: str
    user_id: str
    unread: bool | None = None
    category: NotificationCategory | None = None
    shown: frozenset[NotificationCategory] | None = None

    def matches(self, entry: InboxEntry) -> bool:
        """Whether ``entry`` (with this user's read state) is in the listing."""
        return (
            entry.account_id == self.account_id
            and (self.unread is None or self.unread is not entry.read)
            and (self.category is None or entry.category is self.category)
            and entry.visible(self.shown)
        )
