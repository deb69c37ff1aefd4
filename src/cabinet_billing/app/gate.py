"""The one place a cabinet call is let in: the user, their right and their address.

Every call of a :class:`~cabinet_billing.app.cabinet.Cabinet` namespace opens its unit of
work through :meth:`Gate.open`, which, before the use case sees anything:

1. finds the user among the account's users (a user of another account is refused as
   if they had no right: nothing about the account is revealed);
2. refuses a disabled user, and a user without the right the action needs (the owner
   holds every right; a few actions are the owner's alone, :data:`OWNER`; a few any
   enabled user of the account may take, :data:`ANY_USER`);
3. refuses an address the account's billing IP allowlist does not allow (SPEC A5); an
   account with an allowlist refuses a call that gives no address at all.

A refusal raises :class:`~cabinet_billing.errors.AccessDeniedError` naming the user and
the right (or the address), before anything is changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import attrs

from cabinet_billing.app.checks import identifier
from cabinet_billing.app.context import Context
from cabinet_billing.domain.access import AccountUsers, User
from cabinet_billing.domain.customer import Account
from cabinet_billing.errors import AccessDeniedError, NotFoundError, ValidationError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["ANY_USER", "OWNER", "Call", "Gate"]

#: The "right" of actions only the account's owner may take (e.g. requesting deletion).
OWNER = "owner"

#: The "right" of actions every enabled user of the account may take (e.g. reading the
#: profile the account is registered to).
ANY_USER = "any user"


@attrs.frozen
class Call:
    """One admitted call: its unit of work, the instant and the billing day it runs at.

    The clock is read once, when the call is admitted, so every step of a use case books
    at the same instant. ``ip`` is the address the call came from (``None`` when the host
    gave none).
    """

    uow: UnitOfWork
    now: datetime
    today: date
    account: Account
    users: AccountUsers
    user: User
    ip: str | None = None


# How the special "rights" read in a refusal.
_ACTIONS = {OWNER: "act as the account's owner", ANY_USER: "use the cabinet"}


class Gate:
    """Admits the calls of one user of one account.

    Args:
        context: the billing's shared machinery.
        account_id: the account.
        user_id: the user acting in it.
        ip: the address the user calls from (checked against the account's allowlist).
    """

    def __init__(
        self,
        context: Context,
        account_id: str,
        user_id: str,
        ip: str | None = None,
    ) -> None:
        self.context = context
        self.account_id = identifier("account_id", account_id)
        self.user_id = identifier("user_id", user_id)
        if ip is not None and not isinstance(ip, str):
            raise ValidationError("ip", ip, "give the caller's address as text, or None")
        self.ip = ip

    @contextmanager
    def open(self, right: str) -> Iterator[Call]:
        """A unit of work for one call that needs ``right`` (or :data:`OWNER`, :data:`ANY_USER`).

        Nothing is committed unless the use case commits; a refusal changes nothing.

        Raises:
            AccessDeniedError: for a user of another account, a disabled user, a missing
                right or an address the allowlist refuses.
            NotFoundError: for an unknown account.
        """
        with self.context.unit_of_work() as uow:
            yield self.admit(uow, right)

    def admit(self, uow: UnitOfWork, right: str) -> Call:
        """Check the call inside an open unit of work (see :meth:`open`)."""
        now = self.context.clock.now()
        today = self.context.clock.today()
        account = uow.accounts.get(self.account_id)
        users = uow.users.get(self.account_id)
        action = _ACTIONS.get(right, right)
        try:
            user = users.get(self.user_id)
        except NotFoundError:
            raise AccessDeniedError(
                f"user {self.user_id!r}",
                action,
                f"not a user of account {self.account_id!r}",
            ) from None
        if right in _ACTIONS:
            if not user.enabled:
                raise AccessDeniedError(user, action, "the user is disabled")
            if right == OWNER and not user.is_owner:
                raise AccessDeniedError(user, action, "only the account's owner may")
        else:
            users.ensure_can(self.user_id, right)
        allowlist = account.security.ip_allowlist
        if allowlist.restricted:
            if self.ip is None:
                raise AccessDeniedError(
                    user,
                    action,
                    "the account allows billing only from listed addresses and the call "
                    "gave none (pass ip=...)",
                )
            account.security.ensure_allowed(self.ip)
        return Call(uow, now, today, account, users, user, self.ip)
