"""Delivery decisions: which channels and addresses carry a notification (SPEC R9).

:func:`deliveries` combines a :class:`~cabinet_billing.domain.notifications.Notification`,
the customer's :class:`~cabinet_billing.domain.notifications.NotificationPreferences` and
the account's :class:`~cabinet_billing.domain.notifications.DeliveryContacts`:

1. a channel is wanted when the provider's mandatory notices send the notification there,
   or when the customer switched the cell (category, channel) on;
2. a wanted channel is used when it can reach the customer: email needs an address (the
   one for the notification's purpose, see :class:`EmailRouting`), SMS a confirmed phone,
   the messenger a linked user name; the cabinet always works;
3. when nothing is left, the cabinet keeps the notification (reason ``FALLBACK``), so
   every notification reaches at least one channel.

>>> from datetime import datetime, timezone
>>> from cabinet_billing.domain.notifications import (
...     DeliveryContacts, Notification, NotificationCategory, NotificationPreferences,
... )
>>> n = Notification("acc-1", NotificationCategory.FINANCE, "payment.credited",
...                  datetime(2024, 3, 21, tzinfo=timezone.utc))
>>> contacts = DeliveryContacts("acc-1", main_email="j-fairy@test.com")
>>> [(d.channel.value, d.address, d.reason.value)
...  for d in deliveries(n, NotificationPreferences.defaults(), contacts)]
[('email', 'j-fairy@test.com', 'chosen'), ('cabinet', 'acc-1', 'mandatory')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from cabinet_billing.domain.access import User
from cabinet_billing.domain.customer import Account, NotificationPurpose
from cabinet_billing.domain.notifications import (
    DEFAULT_CHOICES,
    Delivery,
    DeliveryContacts,
    DeliveryReason,
    MandatoryNotices,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationPreferences,
    Recipient,
)
from cabinet_billing.errors import ValidationError

__all__ = ["DEFAULT_ROUTING", "EmailRouting", "deliveries", "recipients", "user_preferences"]

_Pairs = tuple[tuple[str, NotificationPurpose], ...]


def _category_pairs(
    value: Mapping[NotificationCategory, NotificationPurpose],
) -> tuple[tuple[NotificationCategory, NotificationPurpose], ...]:
    pairs: list[tuple[NotificationCategory, NotificationPurpose]] = []
    items: list[tuple[object, object]] = list(value.items())
    for category, purpose in items:
        if not isinstance(category, NotificationCategory):
            raise ValidationError(
                "by_category",
                category,
                "expected a NotificationCategory such as NotificationCategory.FINANCE",
            )
        pairs.append((category, _purpose(purpose)))
    return tuple(sorted(pairs, key=lambda pair: pair[0].value))


def _prefix_pairs(value: Mapping[str, NotificationPurpose]) -> _Pairs:
    pairs: list[tuple[str, NotificationPurpose]] = []
    items: list[tuple[object, object]] = list(value.items())
    for prefix, purpose in items:
        if not isinstance(prefix, str) or not prefix.strip():
            raise ValidationError(
                "by_kind_prefix",
                prefix,
                "expected a kind prefix such as 'abuse.'",
            )
        pairs.append((prefix, _purpose(purpose)))
    # Longest prefix first: the most specific rule wins.
    return tuple(sorted(pairs, key=lambda pair: (-len(pair[0]), pair[0])))


def _purpose(value: object) -> NotificationPurpose:
    if not isinstance(value, NotificationPurpose):
        raise ValidationError(
            "purpose",
            value,
            f"expected one of {', '.join(p.value for p in NotificationPurpose)}",
        )
    return value


@attrs.frozen
class EmailRouting:
    """Which notification email (by purpose) an email notification goes to.

    A kind prefix wins over the category; a notification matching neither goes to the
    main email. The defaults follow Introserv's "Sending email messages": invoices and
    orders for finance and service notices, the support address for tickets, the abuse
    address for ``abuse.*`` kinds; news goes to the main email.

    Args:
        by_category: purpose per category.
        by_kind_prefix: purpose per kind prefix (the longest matching prefix wins).

    >>> from datetime import datetime, timezone
    >>> n = Notification("acc-1", NotificationCategory.SERVICES, "abuse.complaint",
    ...                  datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> DEFAULT_ROUTING.purpose_for(n)
    <NotificationPurpose.ABUSE: 'abuse'>
    """

    by_category: tuple[tuple[NotificationCategory, NotificationPurpose], ...] = attrs.field(
        converter=_category_pairs,
    )
    by_kind_prefix: _Pairs = attrs.field(factory=tuple, converter=_prefix_pairs)

    def purpose_for(self, notification: Notification) -> NotificationPurpose | None:
        """The purpose whose address receives ``notification``; ``None``: the main email."""
        for prefix, purpose in self.by_kind_prefix:
            if notification.kind.startswith(prefix):
                return purpose
        for category, purpose in self.by_category:
            if category is notification.category:
                return purpose
        return None


#: Introserv's routing: finance and services → invoices and orders, support → support,
#: ``abuse.*`` → abuse, news → the main email.
DEFAULT_ROUTING: Final = EmailRouting(
    by_category={
        NotificationCategory.FINANCE: NotificationPurpose.INVOICES_AND_ORDERS,
        NotificationCategory.SERVICES: NotificationPurpose.INVOICES_AND_ORDERS,
        NotificationCategory.SUPPORT: NotificationPurpose.SUPPORT,
    },
    by_kind_prefix={"abuse.": NotificationPurpose.ABUSE},
)


def _wanted(
    notification: Notification,
    preferences: NotificationPreferences,
) -> Iterable[tuple[NotificationChannel, DeliveryReason]]:
    mandatory = preferences.mandatory.channels_for(notification)
    for channel in NotificationChannel:
        if channel in mandatory:
            yield channel, DeliveryReason.MANDATORY
        elif preferences.allows(notification.category, channel):
            yield channel, DeliveryReason.CHOSEN


def deliveries(
    notification: Notification,
    preferences: NotificationPreferences,
    contacts: DeliveryContacts,
    routing: EmailRouting = DEFAULT_ROUTING,
) -> tuple[Delivery, ...]:
    """The deliveries of one notification, in channel order (email, SMS, messenger, cabinet).

    A mandatory channel is reported as ``MANDATORY`` even when the customer also chose it.
    A wanted channel that cannot reach the customer is skipped; when nothing is left, the
    cabinet keeps the notification as a ``FALLBACK``. A financial notice about a payer's
    invoice or payment carries the payer's email (param ``payer_email``, SPEC A4): its
    email goes there instead of the account's mailbox.

    Args:
        notification: what to deliver.
        preferences: the customer's matrix and the provider's mandatory notices.
        contacts: where each channel reaches the account.
        routing: which notification email an email goes to.

    Raises:
        ValidationError: when ``contacts`` belong to another account.

    >>> from datetime import datetime, timezone
    >>> news = Notification("acc-1", NotificationCategory.NEWS, "news.digest",
    ...                     datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> prefs = NotificationPreferences.defaults().switch("news", "sms", on=True)
    >>> unconfirmed = DeliveryContacts("acc-1", phone="+7 999 111 22 33")
    >>> [d.channel.value for d in deliveries(news, prefs, unconfirmed)]
    ['cabinet']
    >>> confirmed = attrs.evolve(unconfirmed, phone_confirmed=True)
    >>> [(d.channel.value, d.address) for d in deliveries(news, prefs, confirmed)]
    [('sms', '+7 999 111 22 33'), ('cabinet', 'acc-1')]
    """
    if contacts.account_id != notification.account_id:
        raise ValidationError(
            "contacts",
            contacts.account_id,
            f"belong to another account; expected the contacts of {notification.account_id!r}",
        )
    purpose = routing.purpose_for(notification)
    payer_email = notification.params.get("payer_email") or None
    found: list[Delivery] = []
    for channel, reason in _wanted(notification, preferences):
        address = contacts.address(channel, purpose)
        if channel is NotificationChannel.EMAIL and payer_email is not None:
            address = payer_email
        if address is not None:
            found.append(Delivery(notification, channel, address, reason))
    if not found:
        cabinet = NotificationChannel.CABINET
        address = contacts.address(cabinet) or contacts.account_id
        found.append(Delivery(notification, cabinet, address, DeliveryReason.FALLBACK))
    return tuple(found)


def user_preferences(user: User, mandatory: MandatoryNotices) -> NotificationPreferences:
    """A user's matrix: their choices (the defaults until they chose) and the mandatory cells."""
    chosen = DEFAULT_CHOICES if user.notifications is None else user.notifications
    return NotificationPreferences(chosen | mandatory.cells, mandatory)


def recipients(
    notification: Notification,
    account: Account,
    users: Iterable[User],
    mandatory: MandatoryNotices,
    routing: EmailRouting = DEFAULT_ROUTING,
) -> tuple[Recipient, ...]:
    """Who of the account's users gets a notification outside the cabinet, and how (SPEC R9).

    Each enabled user's own matrix decides (Astra Cloud keeps it per user), with the
    provider's mandatory notices: :func:`deliveries` for that user, without the cabinet
    (the account's inbox keeps every notification for all its users). The owner is
    reached at the account's contacts (the notification emails per purpose, a payer's
    email for its financial notices), falling back to their own login email; every
    other user at their login email.

    >>> from datetime import datetime, timezone
    >>> from cabinet_billing.domain.access import AccountUsers
    >>> from cabinet_billing.domain.notifications import DEFAULT_MANDATORY
    >>> account = Account.open("acc-1", "jfairy", email="jill@test.com")
    >>> users = AccountUsers.create("acc-1", "u1", "Jill", "jill@test.com")
    >>> anna = users.add("u2", "Anna", "anna@test.com", rights=[])
    >>> _ = users.set_notifications("u2", NotificationPreferences.only_mandatory().enabled)
    >>> paid = Notification("acc-1", NotificationCategory.FINANCE, "invoice.paid",
    ...                     datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> [(r.user_id, r.address) for r in recipients(paid, account, users, DEFAULT_MANDATORY)]
    [('u1', 'jill@test.com')]
    >>> issued = attrs.evolve(paid, kind="invoice.issued")  # mandatory by email
    >>> [(r.user_id, r.reason.value) for r in recipients(issued, account, users, DEFAULT_MANDATORY)]
    [('u1', 'mandatory'), ('u2', 'mandatory')]
    """
    found: list[Recipient] = []
    cabinet = NotificationChannel.CABINET
    for user in users:
        if not user.enabled:
            continue
        mine = notification
        if user.is_owner:
            contacts = DeliveryContacts.from_account(account)
            if not contacts.main_email and user.email:
                contacts = attrs.evolve(contacts, main_email=user.email)
        else:
            contacts = DeliveryContacts(account.id, main_email=user.email)
            mine = _for_user(notification)
        prefs = user_preferences(user, mandatory)
        found.extend(
            Recipient(user.id, d.channel, d.address, d.reason)
            for d in deliveries(mine, prefs, contacts, routing)
            if d.channel is not cabinet
        )
    return tuple(found)


def _for_user(notification: Notification) -> Notification:
    """A notification as a user who is not the owner gets it: at their own email."""
    if "payer_email" not in notification.params:
        return notification
    params = {k: v for k, v in notification.params.items() if k != "payer_email"}
    return attrs.evolve(notification, params=params)
