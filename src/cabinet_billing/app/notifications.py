"""The cabinet's notification settings: the matrix of each user and the low-balance notice.

Each user of an account keeps their own matrix of categories (finance, news, services,
support) × channels (email, SMS, messenger, cabinet), as in Astra Cloud's "Notification
settings" (SPEC R9): every user edits their own, starting from the provider's defaults;
the provider's mandatory notices (``settings.mandatory_notices``) fix some cells on. The
low-balance threshold (SPEC R8) is the account's: the daily run notifies when the
balance falls below it.

>>> from cabinet_billing import Account, Money
>>> from cabinet_billing.adapters.memory import in_memory_billing
>>> billing = in_memory_billing().billing
>>> _ = billing.open_account(Account.open("acc-1", "jfairy", currency="EUR"),
...                          owner_id="u1", owner_name="Jill")
>>> cabinet = billing.cabinet("acc-1", "u1")
>>> cabinet.notifications.switch("news", "email", on=True).matrix()["news"]
{'email': True, 'sms': False, 'messenger': False, 'cabinet': True}
>>> cabinet.notifications.set_low_balance_threshold(Money("20.00", "EUR"))
Money('20.00', 'EUR')
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import moneyed

from cabinet_billing.app.checks import items
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import ANY_USER, Call, Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, MAX_LIMIT, Page, check_limit, choice
from cabinet_billing.domain.access import User
from cabinet_billing.domain.documents import Act
from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import (
    MandatoryNotices,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationPreferences,
)
from cabinet_billing.errors import NotFoundError, ValidationError
from cabinet_billing.rules.notify import user_preferences

__all__ = ["CabinetNotifications", "documents_ready", "preferences_of"]


def preferences_of(user: User, mandatory: MandatoryNotices) -> NotificationPreferences:
    """A user's matrix: their choices (the defaults until they chose) and the mandatory cells."""
    return user_preferences(user, mandatory)


def documents_ready(
    account_id: str, month: date, acts: Sequence[Act], now: datetime
) -> Notification | None:
    """The "documents ready" notice of a closed month's new acts (``None``: no new acts).

    Astra Cloud notifies of "the forming of accounting documents": the notice names the
    month and the acts (``act_ids``, ``act_numbers``, comma-separated), in the finance
    category.
    """
    if not acts:
        return None
    ids = ",".join(a.id for a in acts)
    params = {
        "month": month.isoformat()[:7],
        "act_ids": ids,
        "act_numbers": ",".join(a.number for a in acts),
    }
    return Notification(
        account_id, NotificationCategory.FINANCE, "documents.ready", now, params, ids
    )


class CabinetNotifications:
    """The calling user's notification matrix (any user) and the account's threshold."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def preferences(self) -> NotificationPreferences:
        """The calling user's matrix of categories × channels (SPEC R9).

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
        """
        with self._gate.open(ANY_USER) as call:
            return preferences_of(call.user, self._ctx.settings.mandatory_notices)

    def switch(
        self,
        category: NotificationCategory | str,
        channel: NotificationChannel | str,
        *,
        on: bool,
    ) -> NotificationPreferences:
        """Switch one cell of the calling user's matrix on or off.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            ValidationError: for an unknown category or channel, an ``on`` that is not a
                bool, or a cell the provider's mandatory notices keep on.
        """
        with self._gate.open(ANY_USER) as call:
            prefs = self._mine(call).switch(category, channel, on=on)
            return self._keep(call, prefs)

    def switch_category(
        self, category: NotificationCategory | str, *, on: bool
    ) -> NotificationPreferences:
        """Switch every channel of a category on, or off but for the mandatory ones.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            ValidationError: for an unknown category or an ``on`` that is not a bool.
        """
        with self._gate.open(ANY_USER) as call:
            prefs = self._mine(call).switch_category(category, on=on)
            return self._keep(call, prefs)

    def low_balance_threshold(self) -> Money | None:
        """The balance below which the account is notified (``None``: no notice; SPEC R8).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
        """
        with self._gate.open("invoices.view") as call:
            return call.account.settings.low_balance_threshold

    def set_low_balance_threshold(self, threshold: moneyed.Money | None) -> Money | None:
        """Notify when the balance falls below ``threshold``; ``None`` switches it off (R8).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            CurrencyMismatchError: for a threshold in another currency than the account's.
            ValidationError: for a negative threshold or one finer than the minor unit.
        """
        money = None if threshold is None else Money.of(threshold)
        with self._gate.open("settings.manage") as call:
            call.account.set_low_balance_threshold(money)
            call.uow.commit()
            return call.account.settings.low_balance_threshold

    def inbox(
        self,
        *,
        unread: bool | None = None,
        category: NotificationCategory | str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[InboxEntry]:
        """A page of the account's notifications, newest first, with the caller's read state.

        Every notification sent to the account is kept here (Astra Cloud's "Support —
        Notifications", open to every user of the account); each user has their own
        read marks. A category whose cabinet channel the user switched off is not shown,
        but for the notices the provider always shows in the cabinet.

        Args:
            unread: only the unread (``True``), only the read (``False``), or all.
            category: only one category (``None``: all).
            limit: the page size, 1 to 500.
            after: the ``next_after`` of the previous page.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            ValidationError: for an ``unread`` that is not a bool or None, an unknown
                category, a limit out of range or a cursor that is not a notification
                of this account.
        """
        size = check_limit(limit)
        if after is not None and not isinstance(after, str):
            raise ValidationError(
                "after", after, "expected the next_after of a previous page (text), or None"
            )
        with self._gate.open(ANY_USER) as call:
            query = self._query(call, unread=unread, category=category)
            try:
                found = call.uow.inbox.page(query, size + 1, after)
            except NotFoundError:
                raise ValidationError(
                    "after", after, "expected the next_after of a previous page of this list"
                ) from None
            total = call.uow.inbox.count(query)
        shown = tuple(found[:size])
        more = len(found) > size
        return Page(items=shown, next_after=shown[-1].id if more else None, total=total)

    def unread_count(self, *, category: NotificationCategory | str | None = None) -> int:
        """How many of the notifications the caller sees they have not read.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            ValidationError: for an unknown category.
        """
        with self._gate.open(ANY_USER) as call:
            return call.uow.inbox.count(self._query(call, unread=True, category=category))

    def mark_read(self, ids: object) -> int:
        """Mark notifications of the inbox read for the caller; how many are unread now.

        A notification read before keeps the instant it was first read.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            InvalidArgumentError: for ``ids`` that are not a list of ids (at most 500).
            NotFoundError: for an id that is not a notification of this account;
                nothing is marked then.
        """
        wanted = items("ids", ids, str, "notification ids", maximum=MAX_LIMIT)
        with self._gate.open(ANY_USER) as call:
            known = call.uow.inbox.mark_read(call.account.id, call.user.id, wanted, call.now)
            missing = next((i for i in wanted if i not in known), None)
            if missing is not None:
                raise NotFoundError("notification", missing)
            call.uow.commit()
            return call.uow.inbox.count(self._query(call, unread=True))

    def mark_all_read(self, *, category: NotificationCategory | str | None = None) -> int:
        """Mark every notification the caller sees read (of one category if given).

        Returns how many were marked.

        Raises:
            AccessDeniedError: for a disabled user or a user of another account.
            ValidationError: for an unknown category.
        """
        with self._gate.open(ANY_USER) as call:
            marked = call.uow.inbox.mark_all_read(self._query(call, category=category), call.now)
            call.uow.commit()
            return marked

    def _query(
        self,
        call: Call,
        *,
        unread: object = None,
        category: NotificationCategory | str | None = None,
    ) -> InboxQuery:
        if unread is not None and not isinstance(unread, bool):
            raise ValidationError("unread", unread, "expected True, False or None")
        cabinet = NotificationChannel.CABINET
        prefs = self._mine(call)
        shown = frozenset(c for c in NotificationCategory if prefs.allows(c, cabinet))
        return InboxQuery(
            account_id=call.account.id,
            user_id=call.user.id,
            unread=unread,
            category=choice(NotificationCategory, category, "category"),
            shown=None if len(shown) == len(NotificationCategory) else shown,
        )

    def _mine(self, call: Call) -> NotificationPreferences:
        return preferences_of(call.user, self._ctx.settings.mandatory_notices)

    @staticmethod
    def _keep(call: Call, prefs: NotificationPreferences) -> NotificationPreferences:
        call.users.set_notifications(call.user.id, prefs.enabled)
        call.uow.commit()
        return prefs
