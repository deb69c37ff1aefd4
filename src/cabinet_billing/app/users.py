"""The cabinet's users and their rights (SPEC A3).

Astra Cloud ("Client — Users"): the owner of an account adds users (an accountant for
invoices, an administrator for support), edits them, switches their rights on and off
per action, disables, enables and deletes them. Every call needs the right
``users.manage``, and three rules keep a user manager from reaching beyond their own
rights:

- a user can grant or revoke only rights they hold themselves (the owner holds all);
- a user can change only users whose rights they hold all of (nobody manages a user
  more powerful than themselves);
- nobody disables or deletes themselves.

The first user, the owner, cannot be disabled, lose a right, or have their name or email
changed from the cabinet (Astra Cloud: ask the provider,
:meth:`cabinet_billing.app.staff.Staff.edit_user`). Ownership passes on in two ways: the
owner hands it to an enabled user who holds every right
(:meth:`CabinetUsers.transfer_ownership`), or such a user deletes the owner
(:meth:`CabinetUsers.delete`) and becomes the owner. Until another user with full rights
exists, the first user cannot be deleted (Astra Cloud: "create a new user with full
rights or ask the provider"); the provider may hand ownership to any enabled user
(:meth:`cabinet_billing.app.staff.Staff.transfer_ownership`).
"""

from __future__ import annotations

from collections.abc import Iterable

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import OWNER, Call, Gate
from cabinet_billing.domain.access import User
from cabinet_billing.errors import AccessDeniedError, ConflictError, ValidationError

__all__ = ["CabinetUsers"]

_RIGHT = "users.manage"


def _actions(rights: Iterable[str], field: str = "rights") -> tuple[str, ...]:
    if isinstance(rights, str):
        raise ValidationError(field, rights, "give a list of actions, e.g. ['invoices.view']")
    return tuple(rights)


def _hold(call: Call, actions: Iterable[str], what: str) -> None:
    """Refuse ``what`` unless the caller holds every one of ``actions``."""
    mine = call.users.rights_of(call.user.id)
    wanted = set(actions)
    missing = [a for a in call.users.catalogue.actions if a in wanted and a not in mine]
    if missing:
        raise AccessDeniedError(
            call.user,
            what,
            f"you do not hold {', '.join(missing)} yourself",
        )


def _target(call: Call, user_id: str, what: str) -> User:
    """The user ``user_id`` of the account, once the caller may manage them."""
    user = call.users.get(user_id)
    _hold(call, call.users.rights_of(user_id), f"{what} {user}")
    return user


def _not_self(call: Call, user_id: str, what: str) -> None:
    if user_id == call.user.id:
        raise ConflictError(call.user, f"cannot {what} themselves; ask another user")


class CabinetUsers:
    """The account's users and their rights (right ``users.manage``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def list(self) -> tuple[User, ...]:
        """The account's users, the owner first, then by id.

        Raises:
            AccessDeniedError: without the right ``users.manage``.
        """
        with self._gate.open(_RIGHT) as call:
            users = list(call.users)
        return tuple(sorted(users, key=lambda u: (not u.is_owner, u.id)))

    def add(
        self,
        user_id: str,
        name: str,
        email: str,
        rights: Iterable[str] = (),
        *,
        enabled: bool = True,
    ) -> User:
        """Add a user with some of the caller's own rights.

        Raises:
            AccessDeniedError: without ``users.manage``, or for a right the caller does
                not hold.
            ConflictError: when the id or the email is taken.
            ValidationError: for an unknown action, an empty id or name, or a malformed
                email.
        """
        actions = _actions(rights)
        with self._gate.open(_RIGHT) as call:
            users = call.users
            for action in actions:
                users.catalogue.require(action)
            _hold(call, actions, f"add user {user_id!r} with {', '.join(actions)}")
            user = users.add(user_id, name, email, actions, enabled=enabled)
            call.uow.commit()
        return user

    def edit(self, user_id: str, *, name: str | None = None, email: str | None = None) -> User:
        """Change a user's name or email (``None`` leaves it as it is).

        Raises:
            AccessDeniedError: without ``users.manage``, or for a user with rights the
                caller does not hold.
            ConflictError: for the first user (ask the provider), or an email taken.
            ValidationError: for an empty name or a malformed email.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            user = _target(call, user_id, "edit")
            if user.is_owner:
                raise ConflictError(
                    user,
                    "is the account's first user: ask the provider to change their name or email",
                )
            edited = call.users.edit(user_id, name=name, email=email)
            call.uow.commit()
        return edited

    def grant(self, user_id: str, *rights: str) -> User:
        """Switch rights on for a user; the caller must hold each of them.

        Raises:
            AccessDeniedError: without ``users.manage``, for a right the caller does not
                hold, or for a user with rights the caller does not hold.
            ValidationError: for an unknown action; no right is changed.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            _target(call, user_id, "grant rights to")
            for action in rights:
                call.users.catalogue.require(action)
            _hold(call, rights, f"grant {', '.join(rights)}")
            user = call.users.grant(user_id, *rights)
            call.uow.commit()
        return user

    def revoke(self, user_id: str, *rights: str) -> User:
        """Switch rights off for a user; the caller must hold each of them.

        Raises:
            AccessDeniedError: without ``users.manage``, for a right the caller does not
                hold, or for a user with rights the caller does not hold.
            ConflictError: for the first user, who always holds every right.
            ValidationError: for an unknown action; no right is changed.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            _target(call, user_id, "revoke rights of")
            for action in rights:
                call.users.catalogue.require(action)
            _hold(call, rights, f"revoke {', '.join(rights)}")
            user = call.users.revoke(user_id, *rights)
            call.uow.commit()
        return user

    def disable(self, user_id: str) -> User:
        """Shut a user out: a disabled user can do nothing.

        Raises:
            AccessDeniedError: without ``users.manage``, or for a user with rights the
                caller does not hold.
            ConflictError: for the caller themselves and for the first user.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            _not_self(call, user_id, "disable")
            _target(call, user_id, "disable")
            user = call.users.disable(user_id)
            call.uow.commit()
        return user

    def enable(self, user_id: str) -> User:
        """Let a disabled user in again.

        Raises:
            AccessDeniedError: without ``users.manage``, or for a user with rights the
                caller does not hold.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            _target(call, user_id, "enable")
            user = call.users.enable(user_id)
            call.uow.commit()
        return user

    def delete(self, user_id: str) -> User:
        """Delete a user; deleting the first user hands ownership to the caller.

        The first user can be deleted only by another enabled user who holds every
        right, who then becomes the account's owner (Astra Cloud: "create a new user
        with full rights").

        Returns:
            The deleted user.

        Raises:
            AccessDeniedError: without ``users.manage``, or for a user with rights the
                caller does not hold (the first user holds every right).
            ConflictError: for the caller themselves.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(_RIGHT) as call:
            _not_self(call, user_id, "delete")
            user = _target(call, user_id, "delete")
            if user.is_owner:
                call.users.transfer_ownership(call.user.id)
            deleted = call.users.remove(user_id)
            call.uow.commit()
        return deleted

    def transfer_ownership(self, to_user_id: str) -> User:
        """Hand the account's ownership to an enabled user who holds every right.

        The caller stays a user with every right, and may then be deleted.

        Returns:
            The new owner.

        Raises:
            AccessDeniedError: unless the caller is the owner.
            ConflictError: when the user is disabled, lacks a right or is the owner.
            NotFoundError: for an unknown user.
        """
        with self._gate.open(OWNER) as call:
            owner = call.users.transfer_ownership(to_user_id)
            call.uow.commit()
        return owner
