from __future__ import annotations

from collections.abc import Callable

import pytest

from cabinet_billing import AccessDeniedError, ConflictError, NotFoundError, ValidationError
from cabinet_billing.domain.access import (
    DEFAULT_CATALOGUE,
    AccountUsers,
    Right,
    RightsCatalogue,
    User,
    can,
    ensure_can,
)

pytestmark = pytest.mark.spec("A3")


def astra_users() -> AccountUsers:
    """The Astra Cloud example: an owner, an accountant and a support administrator."""
    users = AccountUsers.create("acc-1", "u-1", "Jill Fairy", "j-fairy@test.com")
    users.add("u-2", "Anna", "anna@test.com", rights=["invoices.view", "invoices.pay"])
    users.add("u-3", "Sam", "sam@test.com", rights=["support.view", "support.write"])
    return users


def test_catalogue_is_data_and_holds_the_named_actions() -> None:
    assert DEFAULT_CATALOGUE.actions == (
        "invoices.view",
        "invoices.pay",
        "documents.view",
        "services.view",
        "services.order",
        "services.renew",
        "services.delete",
        "services.manage",
        "support.view",
        "support.write",
        "payers.manage",
        "users.manage",
        "settings.manage",
    )
    assert all(r.description for r in DEFAULT_CATALOGUE.rights)


def test_catalogue_can_be_extended_by_a_host() -> None:
    catalogue = DEFAULT_CATALOGUE.extended(Right("reports.export", "export reports"))
    assert "reports.export" in catalogue
    assert "reports.export" not in DEFAULT_CATALOGUE
    users = AccountUsers.create("acc-1", "u-1", "Jill", "j@test.com", catalogue=catalogue)
    users.add("u-2", "Anna", "anna@test.com", rights=["reports.export"])
    assert users.can("u-2", "reports.export")
    assert users.can("u-1", "reports.export")


def test_catalogue_refuses_duplicates_and_malformed_actions() -> None:
    with pytest.raises(ValidationError) as info:
        DEFAULT_CATALOGUE.extended(Right("invoices.pay"))
    assert info.value.value == "invoices.pay"
    assert "each action may appear once" in str(info.value)
    for bad in ("pay", "Invoices.pay", "invoices..pay", "invoices.pay now"):
        with pytest.raises(ValidationError) as bad_info:
            Right(bad)
        assert bad_info.value.value == bad
        assert "'invoices.pay'" in str(bad_info.value)


def test_owner_has_every_right() -> None:
    users = astra_users()
    owner = users.get("u-1")
    assert owner.is_owner
    assert owner.rights == frozenset(DEFAULT_CATALOGUE.actions)
    assert [users.can("u-1", a) for a in DEFAULT_CATALOGUE.actions] == [True] * 13


def test_rights_are_per_action() -> None:
    users = astra_users()
    assert users.can("u-2", "invoices.pay")
    assert users.can("u-2", "invoices.view")
    assert not users.can("u-2", "support.write")
    assert users.can("u-3", "support.write")
    assert not users.can("u-3", "invoices.pay")


def test_rights_are_switched_on_and_off() -> None:
    users = astra_users()
    users.grant("u-3", "services.renew", "services.view")
    assert users.get("u-3").rights == {
        "support.view",
        "support.write",
        "services.renew",
        "services.view",
    }
    users.revoke("u-3", "support.write", "services.renew")
    assert users.get("u-3").rights == {"support.view", "services.view"}
    assert not users.can("u-3", "support.write")


def test_unknown_action_is_refused_and_changes_nothing() -> None:
    users = astra_users()
    with pytest.raises(ValidationError) as info:
        users.grant("u-2", "services.renew", "invoices.delete")
    assert info.value.field == "action"
    assert info.value.value == "invoices.delete"
    assert "known: invoices.view, invoices.pay" in str(info.value)
    assert users.get("u-2").rights == {"invoices.view", "invoices.pay"}
    with pytest.raises(ValidationError):
        users.can("u-2", "invoices.payy")
    with pytest.raises(ValidationError):
        users.add("u-4", "Bob", "bob@test.com", rights=["everything"])
    assert len(users) == 3


def test_ensure_can_names_user_and_action() -> None:
    users = astra_users()
    users.ensure_can("u-2", "invoices.pay")
    with pytest.raises(AccessDeniedError) as info:
        users.ensure_can("u-2", "services.delete")
    assert info.value.who == users.get("u-2")
    assert info.value.action == "services.delete"
    assert str(info.value) == (
        "user 'u-2' (anna@test.com) may not services.delete: "
        "the right services.delete is switched off"
    )
    assert isinstance(info.value, PermissionError)


def test_disabled_user_can_do_nothing() -> None:
    users = astra_users()
    users.disable("u-2")
    assert not users.get("u-2").enabled
    assert [users.can("u-2", a) for a in DEFAULT_CATALOGUE.actions] == [False] * 13
    with pytest.raises(AccessDeniedError) as info:
        users.ensure_can("u-2", "invoices.pay")
    assert str(info.value) == (
        "user 'u-2' (anna@test.com) may not invoices.pay: the user is disabled"
    )
    users.enable("u-2")
    assert users.can("u-2", "invoices.pay")


def test_owner_cannot_be_deleted_disabled_or_lose_rights() -> None:
    users = astra_users()
    attempts: list[tuple[Callable[[], object], str]] = [
        (lambda: users.remove("u-1"), "be deleted"),
        (lambda: users.disable("u-1"), "be disabled"),
        (lambda: users.revoke("u-1", "invoices.pay"), "lose rights"),
    ]
    for attempt, what in attempts:
        with pytest.raises(ConflictError) as info:
            attempt()
        assert str(info.value) == (
            f"user 'u-1' (j-fairy@test.com): is the account's first user and cannot {what}; "
            "create another user with full rights or ask the provider"
        )
    owner = users.get("u-1")
    assert owner.enabled
    assert owner.rights == frozenset(DEFAULT_CATALOGUE.actions)
    assert len(users) == 3


def test_other_users_can_be_deleted() -> None:
    users = astra_users()
    removed = users.remove("u-3")
    assert removed.id == "u-3"
    assert [u.id for u in users] == ["u-1", "u-2"]
    with pytest.raises(NotFoundError) as info:
        users.get("u-3")
    assert str(info.value) == "no user with id 'u-3'"


def test_user_ids_and_emails_are_unique() -> None:
    users = astra_users()
    with pytest.raises(ConflictError) as info:
        users.add("u-2", "Other", "other@test.com")
    assert str(info.value) == "user 'u-2': already exists in this account"
    with pytest.raises(ConflictError) as email_info:
        users.add("u-9", "Other", "ANNA@test.com")
    assert str(email_info.value) == "email 'ANNA@test.com': is already used by another user"
    assert len(users) == 3


def test_unknown_user_is_not_found() -> None:
    users = astra_users()
    attempts: list[Callable[[], object]] = [
        lambda: users.grant("u-9", "invoices.pay"),
        lambda: users.enable("u-9"),
        lambda: users.can("u-9", "invoices.pay"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError) as info:
            attempt()
        assert info.value.key == "u-9"


def test_free_functions_work_on_a_user_value() -> None:
    user = User("u-7", "Kim", "kim@test.com", rights=["services.renew"])
    assert can(user, "services.renew")
    assert not can(user, "services.delete")
    with pytest.raises(AccessDeniedError):
        ensure_can(user, "services.delete")
    catalogue = RightsCatalogue([Right("shop.open")])
    with pytest.raises(ValidationError):
        can(user, "services.renew", catalogue)
    assert str(User("u-8", "Anonymous", "")) == "user 'u-8'"
