"""An id no database could hold is refused before one sees it, on every store.

PostgreSQL refuses a NUL character in text outright (the driver raises before the
statement is sent); SQLite stores it and truncates it in places. The use cases check ids
first, so a NUL byte in an account, user, ticket or gateway event id is the same typed
error on every store, naming the field, and nothing is written.
"""

# One shape for every call: (billing, gateway, the pending payment id).
# ruff: noqa: ARG005

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cabinet_billing import Account, Money, PaymentMethod, PostalAddress
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import InvalidTextError
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("A1", "L6")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


@pytest.fixture
def make_uow(billing_unit_of_work: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    return billing_unit_of_work


def keys(make_uow: Callable[[], UnitOfWork]) -> list[str]:
    with make_uow() as uow:
        return sorted(uow.keys.all())


@pytest.mark.parametrize(
    ("what", "call", "field"),
    [
        (
            "cabinet account id",
            lambda b, g, pid: b.cabinet("acc\x00", "u-1").balance.get(),
            "account_id",
        ),
        ("cabinet user id", lambda b, g, pid: b.cabinet("acc-1", "u\x00").balance.get(), "user_id"),
        ("staff account id", lambda b, g, pid: b.staff.balance("acc\x00", "RUB"), "account_id"),
        ("staff ticket id", lambda b, g, pid: b.staff.close_ticket("acc-1", "t\x00"), "ticket_id"),
        (
            "run account id",
            lambda b, g, pid: b.run.day(START.date(), accounts=["acc\x00"]),
            "accounts[0]",
        ),
        (
            "gateway event id",
            lambda b, g, pid: b.webhooks.handle(
                *g.webhook(pid, PaymentEventKind.CREDITED, START, event_key="evt\x00")
            ),
            "event id",
        ),
        (
            "gateway payment id",
            lambda b, g, pid: b.webhooks.handle(
                *g.webhook("pay\x00", PaymentEventKind.CREDITED, START, event_key="e-1")
            ),
            "payment id",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_nul_byte_in_an_id_is_refused_on_every_store(
    make_uow: Callable[[], UnitOfWork],
    what: str,
    call: Callable[[Billing, SandboxGateway, str], object],
    field: str,
) -> None:
    del what
    gateway = SandboxGateway(b"ids in storage: a sandbox signing key of 48 bytes!!")
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=FixedClock(START), gateway=gateway),
        BillingSettings(
            payment_methods=[PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB"))]
        ),
    )
    account = Account.open("acc-1", "jfairy", email="j@example.com", currency="RUB")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="u-1", owner_name="Jill")
    payment = billing.cabinet("acc-1", "u-1").payments.top_up(Money("10.00", "RUB"), "wallet")
    before = keys(make_uow)
    with pytest.raises(InvalidTextError) as info:
        call(billing, gateway, payment.payment.id)
    assert info.value.field == field
    assert "must not contain the NUL character" in str(info.value)
    assert keys(make_uow) == before
    with make_uow() as uow:
        assert uow.payments.get(payment.payment.id).status.value == "new"
