"""Logins, the billing IP allowlist and the code word through the use cases, on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    BillingSettings,
    ConflictError,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.security import CabinetSecurity
from cabinet_billing.domain.security import ScryptParams
from cabinet_billing.errors import WeakHashParametersError
from cabinet_billing.ports.repositories import UnitOfWork

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    uow: Callable[[], UnitOfWork]


@pytest.fixture
def unit_of_work(billing_unit_of_work: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    return billing_unit_of_work


def wire(unit_of_work: Callable[[], UnitOfWork], settings: BillingSettings | None = None) -> Wired:
    clock = FixedClock(START)
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=SandboxGateway(b"people: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier(),
        ),
        settings,
    )
    billing.open_account(
        Account.open("acc-1", "jfairy", email="j@example.com"), owner_id="u1", owner_name="Jill"
    )
    billing.open_account(
        Account.open("acc-2", "other", email="o@example.com"), owner_id="u9", owner_name="Olga"
    )
    with unit_of_work() as uow:
        users = uow.users.get("acc-1")
        users.add("u2", "Anna", "anna@example.com", ["invoices.view"])
        users.add("u3", "Sam", "sam@example.com", ["settings.manage"], enabled=False)
        uow.commit()
    return Wired(billing, clock, unit_of_work)


@pytest.fixture
def s(unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    return wire(unit_of_work)


def logins(s: Wired) -> list[tuple[str, str]]:
    with s.uow() as uow:
        security = uow.accounts.get("acc-1").security
    return [(str(login.ip), login.user_id) for login in security.recent_logins]


@pytest.mark.spec("A5")
def test_logins_are_remembered_newest_first_up_to_the_setting(
    unit_of_work: Callable[[], UnitOfWork],
) -> None:
    s = wire(unit_of_work, BillingSettings(logins_kept=3))
    for minute, (user, ip) in enumerate(
        [("u1", "10.0.0.1"), ("u2", "10.0.0.2"), ("u1", "2001:db8::1"), ("u1", "10.0.0.4")]
    ):
        s.clock.set(START + timedelta(minutes=minute))
        cabinet = s.billing.login("acc-1", user, ip=ip)
        assert cabinet.ip == ip
    assert logins(s) == [("10.0.0.4", "u1"), ("2001:db8::1", "u1"), ("10.0.0.2", "u2")]
    view = s.billing.cabinet("acc-1", "u1").security.view()
    assert [(str(r.ip), r.at) for r in view.recent_logins] == [
        ("10.0.0.4", START + timedelta(minutes=3)),
        ("2001:db8::1", START + timedelta(minutes=2)),
        ("10.0.0.2", START + timedelta(minutes=1)),
    ]
    hidden = s.billing.cabinet("acc-1", "u1").security.show_login_ips(enabled=False)
    assert (hidden.show_login_ips, hidden.recent_logins) == (False, ())
    assert len(logins(s)) == 3  # hidden, not forgotten


@pytest.mark.spec("A5")
def test_a_refused_login_records_nothing(s: Wired) -> None:
    s.billing.cabinet("acc-1", "u1", ip="10.0.0.1").security.set_ip_allowlist("10.0.0.0-10.0.0.9")
    with pytest.raises(AccessDeniedError, match="the user is disabled"):
        s.billing.login("acc-1", "u3", ip="10.0.0.1")
    with pytest.raises(AccessDeniedError, match="not a user of account 'acc-1'"):
        s.billing.login("acc-1", "u9", ip="10.0.0.1")
    with pytest.raises(AccessDeniedError, match=r"192\.0\.2\.1 may not access billing"):
        s.billing.login("acc-1", "u1", ip="192.0.2.1")
    with pytest.raises(ValidationError, match="a login is recorded with the address"):
        s.billing.login("acc-1", "u1", ip=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="expected an IPv4 or IPv6 address"):
        s.billing.login("acc-1", "u1", ip="10.0.0.300")
    assert logins(s) == []
    s.billing.login("acc-1", "u2", ip="10.0.0.9")
    assert logins(s) == [("10.0.0.9", "u2")]


@pytest.mark.spec("A5")
def test_an_allowlist_that_locks_the_caller_out_is_saved_only_when_confirmed(s: Wired) -> None:
    cabinet = s.billing.cabinet("acc-1", "u1", ip="203.0.113.5")
    change = cabinet.security.set_ip_allowlist("192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10")
    assert change.applied is False
    assert change.warning == (
        "your address 203.0.113.5 is not in the new allowlist: you would lose access to billing"
    )
    assert change.ip_allowlist == "192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10"
    assert cabinet.security.view().restricted is False  # nothing saved

    with_mine = cabinet.security.set_ip_allowlist("192.15.3.2, 203.0.113.0-203.0.113.255")
    assert (with_mine.applied, with_mine.warning) == (True, None)
    assert cabinet.security.view().ip_allowlist == "192.15.3.2\n203.0.113.0-203.0.113.255"

    confirmed = cabinet.security.set_ip_allowlist("192.15.3.2", confirm_lockout=True)
    assert confirmed.applied is True
    assert confirmed.warning is not None
    with pytest.raises(AccessDeniedError, match=r"203\.0\.113\.5 may not access billing"):
        cabinet.security.view()
    inside = s.billing.cabinet("acc-1", "u1", ip="192.15.3.2")
    assert inside.security.view().ip_allowlist == "192.15.3.2"

    with pytest.raises(ValidationError, match=r"line 2: '10\.10\.1\.x'"):
        inside.security.set_ip_allowlist("192.15.3.2\n10.10.1.x")
    assert inside.security.set_ip_allowlist("").applied is True
    assert s.billing.cabinet("acc-1", "u1").security.view().restricted is False


@pytest.mark.spec("A5")
def test_a_call_without_an_address_is_warned_before_restricting(s: Wired) -> None:
    cabinet = s.billing.cabinet("acc-1", "u1")
    change = cabinet.security.set_ip_allowlist("10.0.0.1")
    assert change.applied is False
    assert change.caller_ip is None
    assert change.warning == (
        "this call gave no address, and once the allowlist is saved every call without an "
        "address is refused"
    )
    assert cabinet.security.view().restricted is False


@pytest.mark.spec("A5")
def test_the_code_word_is_set_once_and_only_the_provider_resets_it(s: Wired) -> None:
    cabinet = s.billing.cabinet("acc-1", "u1")
    assert cabinet.security.view().has_code_word is False
    assert cabinet.security.set_code_word("blue falcon").has_code_word is True
    with pytest.raises(ConflictError, match="ask the provider to reset it"):
        cabinet.security.set_code_word("red falcon")
    public = {name for name in dir(CabinetSecurity) if not name.startswith("_")}
    assert public == {"view", "set_ip_allowlist", "set_code_word", "show_login_ips"}
    assert s.billing.staff.verify_code_word("acc-1", "blue falcon") is True
    assert s.billing.staff.verify_code_word("acc-1", "red falcon") is False

    with pytest.raises(ValidationError, match="reason"):
        s.billing.staff.reset_code_word("acc-1", by="bob", reason=" ")
    assert s.billing.staff.verify_code_word("acc-1", "blue falcon") is True
    reset = s.billing.staff.reset_code_word("acc-1", by="bob", reason="identity checked by phone")
    assert (reset.by, reset.at, reset.reason) == ("bob", START, "identity checked by phone")
    with s.uow() as uow:
        assert uow.accounts.get("acc-1").security.code_word_reset == reset
    with pytest.raises(ConflictError, match="there is nothing to reset"):
        s.billing.staff.reset_code_word("acc-1", by="bob", reason="again")
    assert s.billing.staff.verify_code_word("acc-1", "blue falcon") is False
    cabinet.security.set_code_word("red falcon")
    assert s.billing.staff.verify_code_word("acc-1", "red falcon") is True


@pytest.mark.spec("A5")
def test_the_code_word_is_hashed_with_the_settings_cost_and_weak_costs_are_refused(
    unit_of_work: Callable[[], UnitOfWork],
) -> None:
    s = wire(unit_of_work, BillingSettings(code_word_hashing=ScryptParams(n=2**15)))
    s.billing.cabinet("acc-1", "u1").security.set_code_word("blue falcon")
    with s.uow() as uow:
        word = uow.accounts.get("acc-1").security.code_word
    assert word is not None
    assert (word.params.n, word.params.r) == (2**15, 8)
    assert s.billing.staff.verify_code_word("acc-1", "blue falcon") is True
    with pytest.raises(WeakHashParametersError, match="n=1024 is invalid"):
        BillingSettings(code_word_hashing=ScryptParams(n=2**10))
    with pytest.raises(WeakHashParametersError, match="r=1 is invalid"):
        BillingSettings(code_word_hashing=ScryptParams(r=1))
    with pytest.raises(ValidationError, match="code_word_hashing"):
        BillingSettings(code_word_hashing={"n": 2})  # type: ignore[arg-type]


@pytest.mark.spec("A5")
def test_security_settings_need_settings_manage(s: Wired) -> None:
    with pytest.raises(AccessDeniedError, match=r"settings\.manage"):
        s.billing.cabinet("acc-1", "u2").security.set_code_word("blue falcon")
    assert s.billing.cabinet("acc-1", "u1").security.view().has_code_word is False
