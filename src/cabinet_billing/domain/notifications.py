"""Notifications the library emits for a host to deliver (SPEC R9).

A notification names its account, its category (finance, news, services, support), what
happened (``kind``, a stable machine name such as ``"payment.credited"``) and the values
a template needs. Rendering and delivery belong to the host, through the
:class:`~cabinet_billing.ports.notifier.Notifier` port.

>>> from datetime import datetime, timezone
>>> n = Notification(
...     "acc-1", NotificationCategory.FINANCE, "payment.credited",
...     datetime(2024, 3, 21, tzinfo=timezone.utc), {"amount": "100.00 RUB"},
... )
>>> n.key
'acc-1:payment.credited:2024-03-21T00:00:00+00:00'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from cabinet_billing.errors import ValidationError

__all__ = ["Notification", "NotificationCategory"]


class NotificationCategory(enum.Enum):
    """The categories a customer subscribes to (Astra Cloud's notification settings)."""

    FINANCE = "finance"
    NEWS = "news"
    SERVICES = "services"
    SUPPORT = "support"


def _params(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _aware(_instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(attribute.name, value, "give an aware datetime (with a time zone)")


@attrs.frozen
class Notification:
    """One notification to deliver.

    Args:
        account_id: the account to notify.
        category: its category.
        kind: what happened, a stable name such as ``"invoice.issued"``.
        at: when it happened.
        params: the values a template needs, as text.
        dedup: a discriminator that makes the notification's key unique when the same
            kind may be sent twice at one instant (default: none).
    """

    account_id: str
    category: NotificationCategory
    kind: str = attrs.field(validator=attrs.validators.min_len(1))
    at: datetime = attrs.field(validator=_aware)
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_params)
    dedup: str = ""

    @property
    def key(self) -> str:
        """A key that identifies this notification, so it is sent once."""
        suffix = f":{self.dedup}" if self.dedup else ""
        return f"{self.account_id}:{self.kind}:{self.at.isoformat()}{suffix}"
