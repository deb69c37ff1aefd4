"""Notifications the library emits, and the customer's choice of channels (SPEC R9).

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

Which channels carry it is the customer's choice: :class:`NotificationPreferences` is the
matrix of categories × channels from Astra Cloud's "Notification settings", and
:class:`MandatoryNotices` is the provider's list of notices that go out whatever the
customer chose. :class:`DeliveryContacts` holds where each channel reaches the customer;
:func:`cabinet_billing.rules.notify.deliveries` combines the three into
:class:`Delivery` values.

>>> prefs = NotificationPreferences.defaults()
>>> prefs.allows(NotificationCategory.FINANCE, NotificationChannel.EMAIL)
True
>>> prefs.allows(NotificationCategory.NEWS, NotificationChannel.SMS)
False
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.checks import aware
from cabinet_billing.domain.customer import (
    Account,
    NotificationEmails,
    NotificationPurpose,
    check_email,
    check_phone,
)
from cabinet_billing.errors import ValidationError

__all__ = [
    "DEFAULT_CHOICES",
    "DEFAULT_MANDATORY",
    "Delivery",
    "DeliveryContacts",
    "DeliveryReason",
    "MandatoryNotices",
    "Notification",
    "NotificationCategory",
    "NotificationChannel",
    "NotificationPreferences",
    "Recipient",
]


class NotificationCategory(enum.Enum):
    """The categories a customer subscribes to (Astra Cloud's notification settings)."""

    FINANCE = "finance"
    NEWS = "news"
    SERVICES = "services"
    SUPPORT = "support"


def _params(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _recipients(value: Iterable[Recipient] | None) -> tuple[Recipient, ...] | None:
    return None if value is None else tuple(value)


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
        to: the users of the account it goes to, one :class:`Recipient` per user and
            channel outside the cabinet, as each user's matrix decides (SPEC R9); set by
            the outbox when it queues the notification. ``None``: not addressed to users
            (the notifier decides); ``()``: no user wants it outside the cabinet.
    """

    account_id: str
    category: NotificationCategory
    kind: str = attrs.field(validator=attrs.validators.min_len(1))
    at: datetime = attrs.field(validator=aware)
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_params)
    dedup: str = ""
    to: tuple[Recipient, ...] | None = attrs.field(default=None, converter=_recipients)
    # Asked for many times on the way to the outbox, the inbox and the notifier: made once.
    _key: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        suffix = f":{self.dedup}" if self.dedup else ""
        object.__setattr__(
            self, "_key", f"{self.account_id}:{self.kind}:{self.at.isoformat()}{suffix}"
        )

    @property
    def key(self) -> str:
        """A key that identifies this notification, so it is sent once."""
        return self._key


# ----------------------------------------------------------------------------- channels


class NotificationChannel(enum.StrEnum):
    """How a notification reaches the customer.

    Astra Cloud offers email, SMS to the mobile phone, a messenger (Telegram) and the
    cabinet's own notification menu.
    """

    EMAIL = "email"
    SMS = "sms"
    MESSENGER = "messenger"
    CABINET = "cabinet"


_Cell = tuple[NotificationCategory, NotificationChannel]

_CATEGORIES: Final = ", ".join(c.value for c in NotificationCategory)
_CHANNELS: Final = ", ".join(c.value for c in NotificationChannel)


def _category(value: object) -> NotificationCategory:
    try:
        return NotificationCategory(value)
    except ValueError:
        raise ValidationError("category", value, f"expected one of {_CATEGORIES}") from None


def _channel(value: object) -> NotificationChannel:
    if isinstance(value, NotificationChannel):
        return value
    if isinstance(value, str) and value in NotificationChannel.__members__.values():
        return NotificationChannel(value)
    raise ValidationError("channel", value, f"expected one of {_CHANNELS}")


def _cells(value: Iterable[tuple[object, object]]) -> frozenset[_Cell]:
    return frozenset((_category(category), _channel(channel)) for category, channel in value)


def _describe(cells: Iterable[_Cell]) -> str:
    return ", ".join(f"{cat.value}/{ch.value}" for cat, ch in sorted(cells, key=_cell_order))


def _cell_order(cell: _Cell) -> tuple[str, str]:
    return (cell[0].value, cell[1].value)


def _kind_rules(
    value: Mapping[str, Iterable[object]] | Iterable[tuple[object, object]],
) -> frozenset[tuple[str, NotificationChannel]]:
    pairs: Iterable[tuple[object, object]]
    if isinstance(value, Mapping):
        pairs = [
            (pattern, ch)
            for pattern, channels in value.items()
            for ch in ([channels] if isinstance(channels, str) else channels)
        ]
    else:
        pairs = value
    rules: set[tuple[str, NotificationChannel]] = set()
    for pattern, channel in pairs:
        if not isinstance(pattern, str) or not pattern.strip() or pattern != pattern.strip():
            raise ValidationError(
                "kinds",
                pattern,
                "expected a notification kind such as 'payment.failed' or a prefix "
                "ending in '.' such as 'security.'",
            )
        rules.add((pattern, _channel(channel)))
    return frozenset(rules)


def _kind_matches(pattern: str, kind: str) -> bool:
    return kind.startswith(pattern) if pattern.endswith(".") else kind == pattern


@attrs.frozen
class MandatoryNotices:
    """The notices a provider sends whatever the customer chose: data, not code.

    Args:
        cells: (category, channel) pairs that every notification of the category always
            takes; a customer cannot switch such a cell off.
        kinds: notification kinds (or kind prefixes ending in ``"."``) mapped to the
            channels they always take, for notices that are mandatory by law or for
            security (an issued invoice, a failed payment, a stopped service, a login
            from a new address ...). Given as a mapping; stored as (pattern, channel)
            pairs.

    >>> from datetime import timezone
    >>> notices = MandatoryNotices(kinds={"security.": ["email", "cabinet"]})
    >>> n = Notification("acc-1", NotificationCategory.SERVICES, "security.new_ip",
    ...                  datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> sorted(notices.channels_for(n))
    [<NotificationChannel.CABINET: 'cabinet'>, <NotificationChannel.EMAIL: 'email'>]
    """

    cells: frozenset[_Cell] = attrs.field(factory=frozenset, converter=_cells)
    kinds: frozenset[tuple[str, NotificationChannel]] = attrs.field(
        factory=frozenset,
        converter=_kind_rules,
    )

    def is_mandatory(self, category: NotificationCategory, channel: NotificationChannel) -> bool:
        """Whether every notification of ``category`` always goes to ``channel``."""
        return (category, channel) in self.cells

    def channels_for(self, notification: Notification) -> frozenset[NotificationChannel]:
        """The channels ``notification`` takes whatever the customer chose."""
        return _mandatory_channels(self, notification.category, notification.kind)


@functools.lru_cache(maxsize=1024)
def _mandatory_channels(
    notices: MandatoryNotices, category: NotificationCategory, kind: str
) -> frozenset[NotificationChannel]:
    # Asked for every notification queued; the answer depends on its category and kind.
    by_cell = {ch for cat, ch in notices.cells if cat is category}
    by_kind = {ch for pattern, ch in notices.kinds if _kind_matches(pattern, kind)}
    return frozenset(by_cell | by_kind)


#: The default mandatory notices. The cabinet keeps every notification (Astra Cloud
#: stores each one under "Support — Notifications"), so each category's cabinet cell is
#: fixed on; security notices and the finance and service notices a customer must not
#: miss (an issued invoice, a failed payment, a stopped service, a deletion request) also
#: always go by email.
DEFAULT_MANDATORY: Final = MandatoryNotices(
    cells={(category, NotificationChannel.CABINET) for category in NotificationCategory},
    kinds=dict.fromkeys(
        (
            "security.",
            "invoice.issued",
            "payment.failed",
            "service.stopped",
            "account.deletion_requested",
        ),
        (NotificationChannel.EMAIL, NotificationChannel.CABINET),
    ),
)

#: The customer's choices before they change anything: finance, services and support
#: by email and in the cabinet; news in the cabinet only (email news is an opt-in, as
#: Introserv's news subscription); SMS and messenger off until the customer turns them on.
DEFAULT_CHOICES: Final[frozenset[_Cell]] = frozenset(
    {
        (NotificationCategory.FINANCE, NotificationChannel.EMAIL),
        (NotificationCategory.FINANCE, NotificationChannel.CABINET),
        (NotificationCategory.SERVICES, NotificationChannel.EMAIL),
        (NotificationCategory.SERVICES, NotificationChannel.CABINET),
        (NotificationCategory.SUPPORT, NotificationChannel.EMAIL),
        (NotificationCategory.SUPPORT, NotificationChannel.CABINET),
        (NotificationCategory.NEWS, NotificationChannel.CABINET),
    },
)

_ALL_CELLS: Final = frozenset(
    (category, channel) for category in NotificationCategory for channel in NotificationChannel
)


@attrs.frozen
class NotificationPreferences:
    """The customer's matrix of categories × channels (Astra Cloud "Notification settings").

    A cell that is on means "send notifications of this category by this channel". The
    provider's :class:`MandatoryNotices` fix some cells on; the matrix always contains
    them, and switching one off is refused. Every change returns a new value.

    Args:
        enabled: the cells that are on.
        mandatory: the provider's mandatory notices (default :data:`DEFAULT_MANDATORY`).

    >>> prefs = NotificationPreferences.defaults()
    >>> prefs = prefs.switch(NotificationCategory.NEWS, NotificationChannel.EMAIL, on=True)
    >>> sorted(ch.value for ch in prefs.channels(NotificationCategory.NEWS))
    ['cabinet', 'email']
    >>> prefs.switch(NotificationCategory.FINANCE, NotificationChannel.CABINET, on=False)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: finance/cabinet=False is invalid: finance notifications always go to cabinet; the provider does not allow switching this off
    """

    enabled: frozenset[_Cell] = attrs.field(converter=_cells)
    mandatory: MandatoryNotices = attrs.field(
        default=DEFAULT_MANDATORY,
        validator=attrs.validators.instance_of(MandatoryNotices),
    )

    @mandatory.validator
    def _check_mandatory(self, _attribute: object, value: MandatoryNotices) -> None:
        missing = value.cells - self.enabled
        if missing:
            raise ValidationError(
                "enabled",
                _describe(self.enabled),
                f"must include the mandatory cells {_describe(missing)}",
            )

    @classmethod
    def defaults(cls, mandatory: MandatoryNotices = DEFAULT_MANDATORY) -> NotificationPreferences:
        """The starting matrix :data:`DEFAULT_CHOICES` plus the mandatory cells."""
        return cls(DEFAULT_CHOICES | mandatory.cells, mandatory)

    @classmethod
    def everything(cls, mandatory: MandatoryNotices = DEFAULT_MANDATORY) -> NotificationPreferences:
        """Every cell on, as in Astra Cloud's screenshot of the settings.

        >>> len(NotificationPreferences.everything().enabled)
        16
        """
        return cls(_ALL_CELLS, mandatory)

    @classmethod
    def only_mandatory(
        cls,
        mandatory: MandatoryNotices = DEFAULT_MANDATORY,
    ) -> NotificationPreferences:
        """Every cell off that the customer may switch off."""
        return cls(mandatory.cells, mandatory)

    def allows(self, category: NotificationCategory, channel: NotificationChannel) -> bool:
        """Whether the cell (``category``, ``channel``) is on."""
        return (category, channel) in self.enabled

    def channels(self, category: NotificationCategory) -> frozenset[NotificationChannel]:
        """The channels switched on for ``category``."""
        return frozenset(ch for cat, ch in self.enabled if cat is category)

    def switch(
        self,
        category: NotificationCategory | str,
        channel: NotificationChannel | str,
        *,
        on: bool,
    ) -> NotificationPreferences:
        """A copy with one cell switched on or off.

        Raises:
            ValidationError: for an unknown category or channel, an ``on`` that is not a
                bool, or switching off a mandatory cell.
        """
        cell = (_category(category), _channel(channel))
        if not isinstance(on, bool):
            raise ValidationError("on", on, "expected True or False")
        if on:
            return attrs.evolve(self, enabled=self.enabled | {cell})
        if self.mandatory.is_mandatory(*cell):
            raise ValidationError(
                f"{cell[0].value}/{cell[1].value}",
                on,
                f"{cell[0].value} notifications always go to {cell[1].value}; "
                "the provider does not allow switching this off",
            )
        return attrs.evolve(self, enabled=self.enabled - {cell})

    def switch_category(
        self,
        category: NotificationCategory | str,
        *,
        on: bool,
    ) -> NotificationPreferences:
        """A copy with every channel of ``category`` on, or off except the mandatory ones.

        >>> prefs = NotificationPreferences.defaults().switch_category("finance", on=False)
        >>> sorted(ch.value for ch in prefs.channels(NotificationCategory.FINANCE))
        ['cabinet']
        """
        cat = _category(category)
        if not isinstance(on, bool):
            raise ValidationError("on", on, "expected True or False")
        row = {(cat, ch) for ch in NotificationChannel}
        if on:
            return attrs.evolve(self, enabled=self.enabled | row)
        return attrs.evolve(self, enabled=(self.enabled - row) | (row & self.mandatory.cells))

    def matrix(self) -> dict[str, dict[str, bool]]:
        """The matrix as plain data for a settings form: category → channel → on.

        >>> NotificationPreferences.defaults().matrix()["news"]
        {'email': False, 'sms': False, 'messenger': False, 'cabinet': True}
        """
        return {
            cat.value: {ch.value: self.allows(cat, ch) for ch in NotificationChannel}
            for cat in NotificationCategory
        }


# ----------------------------------------------------------------------------- contacts


def _messenger_id(value: object) -> str:
    if not isinstance(value, str) or any(ch.isspace() for ch in value.strip()):
        raise ValidationError(
            "messenger_id",
            value,
            "expected a messenger user name without blanks, such as 'jfairy'",
        )
    return value.strip().removeprefix("@")


def _main_email(value: object) -> str:
    return check_email(value, "main_email")


@attrs.frozen
class DeliveryContacts:
    """Where each channel reaches one account.

    Email goes to the address for the notification's purpose (Introserv "Sending email
    messages": invoices and orders, support, abuse), falling back to the main email. SMS
    needs a confirmed phone; the messenger needs a linked user name (Astra Cloud: the
    Telegram login after ``/start`` to the provider's bot). The cabinet always works.

    Args:
        account_id: the account.
        main_email: the main email (``""``: none).
        emails: addresses per purpose.
        phone: the mobile phone (``""``: none).
        phone_confirmed: whether the phone was confirmed.
        messenger_id: the linked messenger user name (``""``: not linked).

    >>> c = DeliveryContacts("acc-1", phone="+7 999 111 22 33")
    >>> c.address(NotificationChannel.SMS) is None
    True
    >>> c.address(NotificationChannel.CABINET)
    'acc-1'
    """

    account_id: str = attrs.field(validator=attrs.validators.min_len(1))
    main_email: str = attrs.field(default="", converter=_main_email)
    emails: NotificationEmails = attrs.field(
        factory=NotificationEmails,
        validator=attrs.validators.instance_of(NotificationEmails),
    )
    phone: str = attrs.field(default="", converter=check_phone)
    phone_confirmed: bool = attrs.field(default=False)
    messenger_id: str = attrs.field(default="", converter=_messenger_id)

    @phone_confirmed.validator
    def _check_confirmed(self, _attribute: object, value: object) -> None:
        if not isinstance(value, bool):
            raise ValidationError("phone_confirmed", value, "expected True or False")
        if value and not self.phone:
            raise ValidationError("phone_confirmed", value, "a phone must be set to be confirmed")

    @classmethod
    def from_account(
        cls,
        account: Account,
        *,
        phone_confirmed: bool = False,
        messenger_id: str = "",
    ) -> DeliveryContacts:
        """The contacts of an :class:`~cabinet_billing.domain.customer.Account`.

        >>> from cabinet_billing.domain.customer import Account, NotificationPurpose
        >>> account = Account.open("acc-1", "jfairy", email="j-fairy@test.com")
        >>> account.set_notification_email(NotificationPurpose.SUPPORT, "admin@test.com")
        >>> DeliveryContacts.from_account(account).email_for(NotificationPurpose.SUPPORT)
        'admin@test.com'
        """
        return cls(
            account.id,
            main_email=account.profile.email,
            emails=account.notification_emails,
            phone=account.profile.phone,
            phone_confirmed=phone_confirmed,
            messenger_id=messenger_id,
        )

    def email_for(self, purpose: NotificationPurpose | None) -> str:
        """The address for ``purpose`` (``None``: the main email); ``""`` when there is none."""
        if purpose is None:
            return self.main_email
        return self.emails.for_purpose(purpose, self.main_email)

    def address(
        self,
        channel: NotificationChannel,
        purpose: NotificationPurpose | None = None,
    ) -> str | None:
        """Where ``channel`` reaches the account, or ``None`` when it cannot."""
        found: str
        if channel is NotificationChannel.EMAIL:
            found = self.email_for(purpose)
        elif channel is NotificationChannel.SMS:
            found = self.phone if self.phone_confirmed else ""
        elif channel is NotificationChannel.MESSENGER:
            found = self.messenger_id
        else:
            found = self.account_id
        return found or None


# ----------------------------------------------------------------------------- deliveries


class DeliveryReason(enum.StrEnum):
    """Why a notification goes to a channel."""

    #: The provider's mandatory notices send it there; the customer cannot opt out.
    MANDATORY = "mandatory"
    #: The customer switched the cell on.
    CHOSEN = "chosen"
    #: No chosen or mandatory channel could reach the customer; the cabinet keeps it.
    FALLBACK = "fallback"


@attrs.frozen
class Recipient:
    """One user a notification goes to on one channel, and where.

    Attributes:
        user_id: the user of the account.
        channel: email, SMS or messenger (the cabinet keeps every notification in the
            account's inbox).
        address: where the channel reaches the user.
        reason: why: the user chose it, or the provider's notices make it mandatory.
    """

    user_id: str
    channel: NotificationChannel = attrs.field(
        validator=attrs.validators.instance_of(NotificationChannel),
    )
    address: str = attrs.field(validator=attrs.validators.min_len(1))
    reason: DeliveryReason = attrs.field(validator=attrs.validators.instance_of(DeliveryReason))


@attrs.frozen
class Delivery:
    """One notification on one channel to one address.

    Its :attr:`key` (the notification's key and the channel) lets a sender deliver it
    exactly once.

    >>> from datetime import timezone
    >>> n = Notification("acc-1", NotificationCategory.FINANCE, "invoice.issued",
    ...                  datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> Delivery(n, NotificationChannel.EMAIL, "j@test.com", DeliveryReason.MANDATORY).key
    'acc-1:invoice.issued:2024-03-01T00:00:00+00:00:email'
    """

    notification: Notification = attrs.field(validator=attrs.validators.instance_of(Notification))
    channel: NotificationChannel = attrs.field(
        validator=attrs.validators.instance_of(NotificationChannel),
    )
    address: str = attrs.field(validator=attrs.validators.min_len(1))
    reason: DeliveryReason = attrs.field(validator=attrs.validators.instance_of(DeliveryReason))

    @property
    def key(self) -> str:
        """The notification's key and the channel: a delivery is sent once."""
        return f"{self.notification.key}:{self.channel.value}"
