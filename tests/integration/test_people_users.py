"""Users and their rights through the cabinet, on every store (SPEC A3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    Cabinet,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.access import DEFAULT_CATALOGUE, AccountUsers
from cabinet_billing.ports.repositories import UnitOfWork

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
EVERY = DEFAULT_CATALOGUE.actions


@attrs.frozen
class Wired:
    billing: Billing
    uow: Callable[[], UnitOfWork]

    def cabinet(self, user_id: str) -> Cabinet:
        return self.billing.cabinet("acc-1", user_id)

    def users(self) -> AccountUsers:
        with self.uow() as uow:
            return uow.users.get("acc-1")


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=FixedClock(START),
            gateway=SandboxGateway(b"people: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier(),
        ),
    )
    billing.open_account(
        Account.open("acc-1", "jfairy", email="j@example.com"), owner_id="u1", owner_name="Jill"
    )
    return Wired(billing, unit_of_work)


def summary(s: Wired) -> list[tuple[str, bool, bool, int]]:
    return [(u.id, u.is_owner, u.enabled, len(u.rights)) for u in s.cabinet("u1").users.list()]


@pytest.mark.spec("A3")
def test_the_owner_adds_edits_switches_rights_disables_enables_and_deletes_users(
    s: Wired,
) -> None:
    owner = s.cabinet("u1").users
    anna = owner.add("u2", "Anna", "anna@example.com", ["invoices.view", "invoices.pay"])
    assert (anna.rights, anna.enabled, anna.is_owner) == (
        frozenset({"invoices.view", "invoices.pay"}),
        True,
        False,
    )
    owner.add("u3", "Sam", "sam@example.com", ["support.view"])
    assert [u.id for u in owner.list()] == ["u1", "u2", "u3"]
    assert s.cabinet("u2").balance.get("EUR").amount == 0

    assert owner.grant("u3", "support.write", "services.view").rights == frozenset(
        {"support.view", "support.write", "services.view"}
    )
    assert owner.revoke("u3", "services.view").rights == frozenset(
        {"support.view", "support.write"}
    )
    assert owner.edit("u3", name="Sam Admin", email="admin@example.com").email == (
        "admin@example.com"
    )
    assert owner.disable("u2").enabled is False
    with pytest.raises(AccessDeniedError, match="the user is disabled"):
        s.cabinet("u2").balance.get("EUR")
    assert owner.enable("u2").enabled is True
    assert s.cabinet("u2").balance.get("EUR").amount == 0
    assert owner.delete("u3").id == "u3"
    with pytest.raises(AccessDeniedError, match="not a user of account 'acc-1'"):
        s.cabinet("u3").tickets.list()
    assert summary(s) == [("u1", True, True, len(EVERY)), ("u2", False, True, 2)]


@pytest.mark.spec("A3")
def test_refused_changes_name_the_value_and_change_nothing(s: Wired) -> None:
    owner = s.cabinet("u1").users
    owner.add("u2", "Anna", "anna@example.com", ["invoices.view"])
    before = summary(s)
    with pytest.raises(ConflictError, match=r"email 'ANNA@example\.com'"):
        owner.add("u3", "Other", "ANNA@example.com")
    with pytest.raises(ConflictError, match="already exists"):
        owner.add("u2", "Anna again", "")
    with pytest.raises(ValidationError, match=r"invoices\.payy"):
        owner.add("u3", "Typo", "", ["invoices.payy"])
    with pytest.raises(ValidationError, match="give a list of actions"):
        owner.add("u3", "Str", "", "invoices.view")
    with pytest.raises(ValidationError, match="user_id"):
        owner.add(" ", "Blank", "")
    with pytest.raises(ValidationError, match="email='anna@'"):
        owner.edit("u2", email="anna@")
    with pytest.raises(ConflictError, match=r"email 'j@example\.com'"):
        owner.edit("u2", email="j@example.com")
    with pytest.raises(NotFoundError, match="'u9'"):
        owner.disable("u9")
    with pytest.raises(ValidationError, match=r"services\.nope"):
        owner.grant("u2", "invoices.pay", "services.nope")
    assert summary(s) == before


@pytest.mark.spec("A3")
def test_nobody_grants_a_right_they_do_not_hold_or_manages_a_stronger_user(s: Wired) -> None:
    owner = s.cabinet("u1").users
    owner.add("m", "Manager", "m@example.com", ["users.manage", "invoices.view"])
    owner.add("acct", "Accountant", "acct@example.com", ["invoices.view", "invoices.pay"])
    manager = s.cabinet("m").users
    with pytest.raises(AccessDeniedError, match=r"you do not hold invoices\.pay yourself"):
        manager.add("u5", "Helper", "", ["invoices.view", "invoices.pay"])
    helper = manager.add("u5", "Helper", "", ["invoices.view"])
    assert helper.rights == frozenset({"invoices.view"})
    with pytest.raises(AccessDeniedError, match=r"you do not hold support\.write yourself"):
        manager.grant("u5", "support.write")
    with pytest.raises(AccessDeniedError, match=r"disable user 'acct'.*invoices\.pay"):
        manager.disable("acct")
    with pytest.raises(AccessDeniedError, match=r"invoices\.pay"):
        manager.delete("acct")
    with pytest.raises(AccessDeniedError, match=r"you do not hold"):
        manager.grant("m", "invoices.pay")  # not even to themselves
    with pytest.raises(ConflictError, match="cannot disable themselves"):
        manager.disable("m")
    with pytest.raises(ConflictError, match="cannot delete themselves"):
        manager.delete("m")
    with pytest.raises(AccessDeniedError, match=r"edit user 'u1'"):
        manager.edit("u1", name="Hacked")
    with pytest.raises(AccessDeniedError, match=r"users\.manage"):
        s.cabinet("acct").users.list()
    assert manager.revoke("u5", "invoices.view").rights == frozenset()
    assert s.users().get("acct").enabled is True


@pytest.mark.spec("A3")
def test_the_first_user_stays_until_a_user_with_full_rights_takes_over(s: Wired) -> None:
    owner = s.cabinet("u1").users
    owner.add("m", "Manager", "m@example.com", ["users.manage"])
    with pytest.raises(ConflictError, match="cannot delete themselves"):
        owner.delete("u1")
    with pytest.raises(AccessDeniedError, match=r"delete user 'u1'"):
        s.cabinet("m").users.delete("u1")
    with pytest.raises(ConflictError, match="first user and cannot lose rights"):
        owner.revoke("u1", "invoices.pay")
    with pytest.raises(ConflictError, match="ask the provider to change their name or email"):
        owner.edit("u1", name="Jill F.")

    owner.add("full", "Full", "full@example.com", EVERY)
    with pytest.raises(ConflictError, match="first user and cannot be disabled"):
        s.cabinet("full").users.disable("u1")
    deleted = s.cabinet("full").users.delete("u1")
    assert deleted.id == "u1"
    users = s.users()
    assert (users.owner_id, users.get("full").is_owner) == ("full", True)
    with pytest.raises(AccessDeniedError, match="not a user of account 'acc-1'"):
        s.cabinet("u1").balance.get("EUR")
    with pytest.raises(ConflictError, match="first user and cannot lose rights"):
        s.cabinet("full").users.revoke("full", "invoices.pay")
    assert [u.id for u in s.cabinet("full").users.list()] == ["full", "m"]


@pytest.mark.spec("A3")
def test_the_owner_hands_ownership_to_a_user_with_full_rights(s: Wired) -> None:
    owner = s.cabinet("u1").users
    owner.add("part", "Part", "part@example.com", ["invoices.view"])
    owner.add("full", "Full", "full@example.com", EVERY)
    owner.add("off", "Off", "off@example.com", EVERY, enabled=False)
    with pytest.raises(ConflictError, match=r"does not hold every right \(missing invoices\.pay"):
        owner.transfer_ownership("part")
    with pytest.raises(ConflictError, match="is disabled"):
        owner.transfer_ownership("off")
    with pytest.raises(AccessDeniedError, match="only the account's owner may"):
        s.cabinet("full").users.transfer_ownership("full")
    new = owner.transfer_ownership("full")
    assert (new.id, new.is_owner) == ("full", True)
    former = s.users().get("u1")
    assert (former.is_owner, former.rights) == (False, frozenset(EVERY))
    assert s.cabinet("full").users.delete("u1").id == "u1"


@pytest.mark.spec("A3")
def test_the_provider_hands_ownership_on_and_edits_the_first_user(s: Wired) -> None:
    s.cabinet("u1").users.add("part", "Part", "part@example.com", ["invoices.view"])
    new = s.billing.staff.transfer_ownership("acc-1", "part")
    assert (new.is_owner, new.rights) == (True, frozenset(EVERY))
    edited = s.billing.staff.edit_user("acc-1", "part", name="Part Owner", email="po@example.com")
    assert (edited.name, edited.email) == ("Part Owner", "po@example.com")
    with pytest.raises(ConflictError, match="owner already"):
        s.billing.staff.transfer_ownership("acc-1", "part")
    with pytest.raises(NotFoundError, match="'nobody'"):
        s.billing.staff.transfer_ownership("acc-1", "nobody")
    assert s.users().owner_id == "part"
