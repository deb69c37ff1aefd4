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

import moneyed

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import ANY_USER, Call, Gate
from cabinet_billing.domain.access import User
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import (
    DEFAULT_CHOICES,
    MandatoryNotices,
    NotificationCategory,
    NotificationChannel,
    NotificationPreferences,
)

__all__ = ["CabinetNotifications", "preferences_of"]


def preferences_of(user: User, mandatory: MandatoryNotices) -> NotificationPreferences:
    """A user's matrix: their choices (the defaults until they chose) and the mandatory cells."""
    chosen = DEFAULT_CHOICES if user.notifications is None else user.notifications
    return NotificationPreferences(chosen | mandatory.cells, mandatory)


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

    def _mine(self, call: Call) -> NotificationPreferences:
        return preferences_of(call.user, self._ctx.settings.mandatory_notices)

    @staticmethod
    def _keep(call: Call, prefs: NotificationPreferences) -> NotificationPreferences:
        call.users.set_notifications(call.user.id, prefs.enabled)
        call.uow.commit()
        return prefs
