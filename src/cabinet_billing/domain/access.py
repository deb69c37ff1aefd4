"""Users of one account and their rights per action (SPEC A3).

An account may let several people in: an accountant who pays invoices, an administrator
who writes to support. Rights are switched on and off per action from a catalogue that is
plain data (:data:`DEFAULT_CATALOGUE`, extensible by a host). The first user, the owner,
holds every right, cannot lose one, cannot be disabled and cannot be deleted while owner;
ownership passes to another user with every right (:meth:`AccountUsers.transfer_ownership`).
A disabled user can do nothing.

>>> from cabinet_billing.domain.access import AccountUsers
>>> users = AccountUsers.create("acc-1", "u-1", "Jill Fairy", "j-fairy@test.com")
>>> accountant = users.add("u-2", "Anna Accountant", "anna@test.com", rights=["invoices.view", "invoices.pay"])
>>> users.can("u-2", "invoices.pay"), users.can("u-2", "support.write")
(True, False)
>>> users.ensure_can("u-2", "services.delete")
Traceback (most recent call last):
...
cabinet_billing.errors.AccessDeniedError: user 'u-2' (anna@test.com) may not services.delete: the right services.delete is switched off
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from cabinet_billing.domain.customer import check_email
from cabinet_billing.domain.notifications import NotificationCategory, NotificationChannel
from cabinet_billing.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidTextError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "DEFAULT_CATALOGUE",
    "AccountUsers",
    "Right",
    "RightsCatalogue",
    "User",
    "can",
    "ensure_can",
]


@attrs.frozen
class Right:
    """One action a user may be allowed to take, e.g. ``invoices.pay``.

    Args:
        action: a dotted name, area first (``invoices.pay``).
        description: what the right lets a user do, for a rights screen.
    """

    action: str = attrs.field()
    description: str = ""

    @action.validator
    def _check(self, _attribute: object, value: object) -> None:
        parts = value.split(".") if isinstance(value, str) else []
        if len(parts) < 2 or not all(p.isidentifier() and p.islower() for p in parts):  # noqa: PLR2004 - area.verb
            raise ValidationError(
                "action",
                value,
                "expected a dotted lower-case name such as 'invoices.pay'",
            )


def _rights(value: Iterable[Right]) -> tuple[Right, ...]:
    return tuple(value)


@attrs.frozen
class RightsCatalogue:
    """The actions rights can be granted for.

    >>> "invoices.pay" in DEFAULT_CATALOGUE
    True
    >>> DEFAULT_CATALOGUE.extended(Right("reports.export", "export reports")).actions[-1]
    'reports.export'
    """

    rights: tuple[Right, ...] = attrs.field(converter=_rights)

    @rights.validator
    def _check(self, _attribute: object, value: tuple[Right, ...]) -> None:
        actions = [r.action for r in value]
        repeated = sorted({a for a in actions if actions.count(a) > 1})
        if repeated:
            raise ValidationError("rights", ", ".join(repeated), "each action may appear once")

    @property
    def actions(self) -> tuple[str, ...]:
        """The action names, in catalogue order."""
        return tuple(r.action for r in self.rights)

    def __contains__(self, action: object) -> bool:
        return any(r.action == action for r in self.rights)

    def extended(self, *rights: Right) -> RightsCatalogue:
        """A catalogue with ``rights`` added at the end.

        Raises:
            ValidationError: when an action is already in the catalogue.
        """
        return RightsCatalogue((*self.rights, *rights))

    def require(self, action: str) -> str:
        """Return ``action`` if it is in the catalogue.

        Raises:
            ValidationError: naming the action and the catalogue's actions.
        """
        if action not in self:
            raise ValidationError(
                "action",
                action,
                f"not a known action; known: {', '.join(self.actions)}",
            )
        return action


#: The shipped catalogue of actions (Astra Cloud's examples: an accountant for invoices
#: and documents, an administrator for support).
DEFAULT_CATALOGUE: Final = RightsCatalogue(
    (
        Right("invoices.view", "see invoices, payments and expenses"),
        Right("invoices.pay", "pay invoices and top up the balance"),
        Right("documents.view", "see and download acts, contracts and statements"),
        Right("services.view", "see services and orders"),
        Right("services.order", "order new services"),
        Right("services.renew", "renew services and change auto-renewal"),
        Right("services.delete", "delete services"),
        Right("services.manage", "stop, start, suspend, resume and reboot services"),
        Right("support.view", "read support tickets"),
        Right("support.write", "open and answer support tickets"),
        Right("payers.manage", "create, edit, merge and delete payers"),
        Right("users.manage", "create, edit, disable and delete users and their rights"),
        Right("settings.manage", "change the account settings and security"),
    ),
)


def _action_set(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _user_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise InvalidTextError("user_id", value, "expected a non-empty printable id")
    return value


def _user_name(value: object) -> str:
    if not isinstance(value, str) or not value.isprintable() or len(value) > 200:  # noqa: PLR2004 - a generous bound for a name
        raise InvalidTextError("name", value, "expected printable text of at most 200 characters")
    return value.strip()


@attrs.frozen
class User:
    """A person who may log in to an account.

    Attributes:
        id: the user's id.
        name: full name.
        email: login email.
        rights: the actions switched on for this user (an owner implicitly has all).
        enabled: a disabled user can do nothing.
        is_owner: whether this is the account's first user.
        notifications: the cells (category, channel) of the notification matrix the user
            switched on; ``None`` until they change it (the provider's defaults).
    """

    id: str
    name: str = attrs.field(converter=_user_name)
    email: str = attrs.field(converter=check_email)
    rights: frozenset[str] = attrs.field(factory=frozenset, converter=_action_set)
    enabled: bool = True
    is_owner: bool = False
    notifications: frozenset[tuple[NotificationCategory, NotificationChannel]] | None = None

    def __str__(self) -> str:
        return f"user {self.id!r} ({self.email})" if self.email else f"user {self.id!r}"


def _denial(user: User, action: str) -> str | None:
    if not user.enabled:
        return "the user is disabled"
    if not user.is_owner and action not in user.rights:
        return f"the right {action} is switched off"
    return None


def can(user: User, action: str, catalogue: RightsCatalogue = DEFAULT_CATALOGUE) -> bool:
    """Whether ``user`` may take ``action``.

    Raises:
        ValidationError: when ``action`` is not in the catalogue (a typo must not read as
            "no").

    >>> can(User("u-1", "Jill", "j@test.com", is_owner=True), "services.delete")
    True
    """
    return _denial(user, catalogue.require(action)) is None


def ensure_can(user: User, action: str, catalogue: RightsCatalogue = DEFAULT_CATALOGUE) -> None:
    """Raise unless ``user`` may take ``action``.

    Raises:
        AccessDeniedError: naming the user, the action and why.
        ValidationError: when ``action`` is not in the catalogue.
    """
    reason = _denial(user, catalogue.require(action))
    if reason is not None:
        raise AccessDeniedError(user, action, reason)


@attrs.define
class AccountUsers:
    """The users of one account and their rights (Astra Cloud "Client — Users").

    Create it with :meth:`create`, which makes the owner.
    """

    account_id: str
    owner_id: str
    catalogue: RightsCatalogue = DEFAULT_CATALOGUE
    _users: dict[str, User] = attrs.field(factory=dict, alias="users")

    @classmethod
    def create(
        cls,
        account_id: str,
        owner_id: str,
        name: str,
        email: str,
        catalogue: RightsCatalogue = DEFAULT_CATALOGUE,
    ) -> AccountUsers:
        """The users of a new account: just the owner, with every right."""
        owner = User(owner_id, name, email, rights=catalogue.actions, is_owner=True)
        return cls(account_id, owner_id, catalogue, {owner_id: owner})

    def __iter__(self) -> Iterator[User]:
        return iter(self._users.values())

    def __len__(self) -> int:
        return len(self._users)

    def get(self, user_id: str) -> User:
        """The user with ``user_id``.

        Raises:
            NotFoundError: when there is none.
        """
        try:
            return self._users[user_id]
        except KeyError:
            raise NotFoundError("user", user_id) from None

    def _not_owner(self, user: User, what: str) -> None:
        if user.is_owner:
            raise ConflictError(
                user,
                f"is the account's first user and cannot {what}; "
                "create another user with full rights or ask the provider",
            )

    def add(
        self,
        user_id: str,
        name: str,
        email: str,
        rights: Iterable[str] = (),
        *,
        enabled: bool = True,
    ) -> User:
        """Add a user with the given rights.

        Raises:
            ConflictError: when the id or the email is taken.
            ValidationError: for an unknown action, an empty id or a malformed email.
        """
        actions = frozenset(self.catalogue.require(a) for a in rights)
        user = User(_user_id(user_id), name, email, rights=actions, enabled=enabled)
        if user_id in self._users:
            raise ConflictError(f"user {user_id!r}", "already exists in this account")
        self._ensure_email_free(user.email, user_id)
        self._users[user_id] = user
        return user

    def _ensure_email_free(self, email: str, user_id: str) -> None:
        if email and any(
            u.email.lower() == email.lower() and u.id != user_id for u in self._users.values()
        ):
            raise ConflictError(f"email {email!r}", "is already used by another user")

    def rights_of(self, user_id: str) -> frozenset[str]:
        """The rights a user holds: every action of the catalogue for the owner.

        Raises:
            NotFoundError: for an unknown user.

        >>> users = AccountUsers.create("acc-1", "u-1", "Jill", "j@test.com")
        >>> _ = users.add("u-2", "Anna", "anna@test.com", rights=["invoices.view"])
        >>> sorted(users.rights_of("u-2")), len(users.rights_of("u-1"))
        (['invoices.view'], 13)
        """
        user = self.get(user_id)
        return frozenset(self.catalogue.actions) if user.is_owner else user.rights

    def holds_every_right(self, user_id: str) -> bool:
        """Whether a user holds every action of the catalogue (the owner always does).

        Raises:
            NotFoundError: for an unknown user.
        """
        return self.rights_of(user_id) >= frozenset(self.catalogue.actions)

    def edit(self, user_id: str, *, name: str | None = None, email: str | None = None) -> User:
        """Change a user's name or email; ``None`` leaves it as it is.

        Raises:
            NotFoundError: for an unknown user.
            ConflictError: when the email is used by another user.
            ValidationError: for a malformed email; nothing changes.
        """
        user = self.get(user_id)
        changed = attrs.evolve(
            user,
            name=user.name if name is None else name,
            email=user.email if email is None else email,
        )
        self._ensure_email_free(changed.email, user_id)
        self._users[user_id] = changed
        return changed

    def set_notifications(
        self,
        user_id: str,
        cells: frozenset[tuple[NotificationCategory, NotificationChannel]],
    ) -> User:
        """Keep the cells of the notification matrix a user switched on (SPEC R9).

        Raises:
            NotFoundError: for an unknown user.
        """
        changed = attrs.evolve(self.get(user_id), notifications=frozenset(cells))
        self._users[user_id] = changed
        return changed

    def transfer_ownership(self, to_user_id: str, *, grant_every_right: bool = False) -> User:
        """Make another user the account's owner; the former owner keeps every right.

        The new owner must be enabled and, unless ``grant_every_right`` (the provider's
        decision), already hold every right.

        Returns:
            The new owner.

        Raises:
            NotFoundError: for an unknown user.
            ConflictError: when the user is the owner already, is disabled or lacks a
                right; nothing changes.

        >>> users = AccountUsers.create("acc-1", "u-1", "Jill", "j@test.com")
        >>> _ = users.add("u-2", "Anna", "anna@test.com", rights=DEFAULT_CATALOGUE.actions)
        >>> users.transfer_ownership("u-2").is_owner, users.owner_id, users.get("u-1").is_owner
        (True, 'u-2', False)
        """
        user = self.get(to_user_id)
        if user.is_owner:
            raise ConflictError(user, "is the account's owner already")
        if not user.enabled:
            raise ConflictError(user, "is disabled; enable the user before handing ownership")
        missing = [a for a in self.catalogue.actions if a not in user.rights]
        if missing and not grant_every_right:
            raise ConflictError(
                user,
                f"does not hold every right (missing {', '.join(missing)}); only a user "
                "with full rights can become the owner",
            )
        every = frozenset(self.catalogue.actions)
        former = self.get(self.owner_id)
        self._users[former.id] = attrs.evolve(former, is_owner=False, rights=every)
        self._users[user.id] = attrs.evolve(user, is_owner=True, rights=every)
        self.owner_id = user.id
        return self._users[user.id]

    def grant(self, user_id: str, *actions: str) -> User:
        """Switch rights on for a user.

        Raises:
            NotFoundError: for an unknown user.
            ValidationError: for an unknown action; no right is changed.
        """
        user = self.get(user_id)
        added = frozenset(self.catalogue.require(a) for a in actions)
        self._users[user_id] = attrs.evolve(user, rights=user.rights | added)
        return self._users[user_id]

    def revoke(self, user_id: str, *actions: str) -> User:
        """Switch rights off for a user.

        Raises:
            NotFoundError: for an unknown user.
            ValidationError: for an unknown action; no right is changed.
            ConflictError: for the owner, who always has every right.
        """
        user = self.get(user_id)
        removed = frozenset(self.catalogue.require(a) for a in actions)
        self._not_owner(user, "lose rights")
        self._users[user_id] = attrs.evolve(user, rights=user.rights - removed)
        return self._users[user_id]

    def enable(self, user_id: str) -> User:
        """Let a disabled user in again.

        Raises:
            NotFoundError: for an unknown user.
        """
        self._users[user_id] = attrs.evolve(self.get(user_id), enabled=True)
        return self._users[user_id]

    def disable(self, user_id: str) -> User:
        """Shut a user out: a disabled user can do nothing.

        Raises:
            NotFoundError: for an unknown user.
            ConflictError: for the owner, who would lock everybody out.
        """
        user = self.get(user_id)
        self._not_owner(user, "be disabled")
        self._users[user_id] = attrs.evolve(user, enabled=False)
        return self._users[user_id]

    def remove(self, user_id: str) -> User:
        """Delete a user and return it.

        Raises:
            NotFoundError: for an unknown user.
            ConflictError: for the owner (the first user).
        """
        user = self.get(user_id)
        self._not_owner(user, "be deleted")
        del self._users[user_id]
        return user

    def can(self, user_id: str, action: str) -> bool:
        """Whether the user may take ``action`` (see :func:`can`).

        Raises:
            NotFoundError: for an unknown user.
            ValidationError: for an unknown action.
        """
        return can(self.get(user_id), action, self.catalogue)

    def ensure_can(self, user_id: str, action: str) -> None:
        """Raise unless the user may take ``action`` (see :func:`ensure_can`).

        Raises:
            NotFoundError: for an unknown user.
            AccessDeniedError: naming the user and the action.
            ValidationError: for an unknown action.
        """
        ensure_can(self.get(user_id), action, self.catalogue)
