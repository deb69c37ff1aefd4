"""Notifications of the billing run go through the outbox, on memory, SQLite and PostgreSQL.

The notifier is the host's mail server: when it refuses connections the run goes on for
every account, and what it could not deliver waits in the outbox, committed with the
account's changes, until a later delivery takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cart,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.outbox import DeliveryPolicy, OutboxStatus
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.testing.outbox_contract import OUTBOX_CHECKS

pytestmark = pytest.mark.spec("R9", "P")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
RENEWAL_DAY = date(2024, 4, 20)

#: What one account's renewal from the balance tells the customer, in order.
RENEWAL_NOTICES = ["invoice.issued", "invoice.paid", "service.paid", "service.renewed"]


class MailServer(InMemoryNotifier):
    """A notifier that refuses connections while it is down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        if self.down:
            msg = "[Errno 111] Connection refused: smtp.example.com:587"
            raise ConnectionError(msg)
        super().send(notification)


@attrs.frozen
class Host:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    mail: MailServer
    uow: Callable[[], UnitOfWork]

    def pending(self) -> list[tuple[str, str, int]]:
        with self.uow() as uow:
            return [
                (m.account_id, m.notification.kind, m.attempts) for m in uow.outbox.pending(100)
            ]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: MemoryUnitOfWork(memory)
    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    store: SqlStore = request.getfixturevalue(name)
    return lambda: SqlUnitOfWork(store)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def wire(make_uow: Callable[[], UnitOfWork], **settings: object) -> Host:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"outbox tests: a sandbox signing key of 40 bytes")
    mail = MailServer()
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=mail),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),),
            **settings,  # type: ignore[arg-type]
        ),
    )
    host = Host(billing, clock, gateway, mail, make_uow)
    for account_id in ("acc-1", "acc-2"):
        open_with_vps(host, account_id)
    return host


def open_with_vps(host: Host, account_id: str) -> None:
    """An account with 300.00 RUB and a 100.00 RUB monthly VPS renewing from the balance."""
    account = Account.open(
        account_id, f"login-{account_id}", email="j@example.com", country="RU", currency="RUB"
    )
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    account.set_auto_renew_default(True)
    host.billing.open_account(account, owner_id="u1", owner_name="Jill")
    cabinet = host.billing.cabinet(account_id, "u1")
    started = cabinet.payments.top_up(rub("300.00"), "wallet")
    host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )
    cart = Cart(account_id, "RUB")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")}), "month")
    order = cart.checkout(
        "balance",
        host.clock.today(),
        order_id=f"o-{account_id}",
        tax=host.billing.settings.tax,
        country="RU",
    )
    cabinet.orders.place(order)


def paid_until(host: Host, account_id: str) -> date | None:
    with host.uow() as uow:
        (service,) = uow.services.for_account(account_id)
        return service.paid_until


def test_item_26_notifier_failure_keeps_the_run_going(make_uow: Callable[[], UnitOfWork]) -> None:
    host = wire(make_uow)
    before = list(host.mail.sent)
    host.mail.down = True
    host.clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))

    summary = host.billing.run.day(RENEWAL_DAY)

    # Every account was billed; nothing was delivered, nothing was lost.
    assert (summary.accounts, summary.renewals, summary.failures) == (2, 2, ())
    assert summary.undelivered == 2 * len(RENEWAL_NOTICES)
    assert [paid_until(host, a) for a in ("acc-1", "acc-2")] == [date(2024, 5, 21)] * 2
    assert host.mail.sent == before
    assert host.pending() == [
        (account, kind, 1) for account in ("acc-1", "acc-2") for kind in RENEWAL_NOTICES
    ]

    # Running the day again changes nothing and tries nothing before the retry delay.
    calls = host.mail.calls
    again = host.billing.run.day(RENEWAL_DAY)
    assert (again.accounts, again.not_due, again.undelivered) == (0, 2, 0)
    assert host.mail.calls == calls

    # Once the mail server is back, a delivery after the delay takes every one, in order.
    host.mail.down = False
    assert host.billing.run.deliver().delivered == 0  # not due yet
    host.clock.advance(minutes=1)
    report = host.billing.run.deliver()
    assert (report.delivered, report.retrying, report.given_up) == (8, 0, ())
    assert host.mail.kinds("acc-1")[-4:] == RENEWAL_NOTICES
    assert host.mail.kinds("acc-2")[-4:] == RENEWAL_NOTICES
    assert host.pending() == []
    assert host.billing.run.deliver().delivered == 0


def test_item_26_the_next_run_delivers_what_the_notifier_refused(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow)
    host.mail.down = True
    host.clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))
    host.billing.run.day(RENEWAL_DAY)
    host.mail.down = False
    host.clock.set(datetime(2024, 4, 21, 6, tzinfo=UTC))

    summary = host.billing.run.day(RENEWAL_DAY + timedelta(days=1))

    # Nothing is due for the accounts that day; the run delivers all the same.
    assert (summary.accounts, summary.not_due, summary.undelivered) == (0, 2, 0)
    assert host.mail.kinds("acc-1")[-4:] == RENEWAL_NOTICES
    assert host.pending() == []


def test_item_26_delivery_is_retried_a_bounded_number_of_times(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(
        make_uow,
        notification_delivery=DeliveryPolicy(retry_delays=(timedelta(minutes=5),) * 2),
    )
    host.mail.down = True
    host.clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))
    calls = host.mail.calls
    host.billing.run.day(RENEWAL_DAY)
    assert host.mail.calls - calls == 8
    host.clock.advance(minutes=5)
    second = host.billing.run.deliver()
    assert (second.delivered, second.retrying, second.given_up) == (0, 8, ())
    assert second.errors[0].endswith(
        "ConnectionError: [Errno 111] Connection refused: smtp.example.com:587"
    )
    host.clock.advance(minutes=5)
    third = host.billing.run.deliver()
    assert (third.delivered, third.retrying, len(third.given_up)) == (0, 0, 8)
    assert host.mail.calls - calls == 24

    # Given up: kept with the error, never tried again.
    host.mail.down = False
    host.clock.advance(days=7)
    assert host.billing.run.deliver().delivered == 0
    assert host.mail.calls - calls == 24
    assert host.pending() == []
    with host.uow() as uow:
        kept = uow.outbox.get(third.given_up[0])
    assert (kept.status, kept.attempts) == (OutboxStatus.GIVEN_UP, 3)
    assert (
        kept.last_error == "ConnectionError: [Errno 111] Connection refused: smtp.example.com:587"
    )


def test_item_26_a_use_case_is_not_failed_by_the_notifier(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow)
    host.mail.down = True
    cabinet = host.billing.cabinet("acc-1", "u1")
    started = cabinet.payments.top_up(rub("50.00"), "wallet")
    handled = host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )
    assert handled.status.value == "credited"
    assert cabinet.balance.get("RUB") == rub("250.00")
    assert host.pending() == [("acc-1", "payment.credited", 1)]
    host.mail.down = False
    host.clock.advance(minutes=1)
    assert host.billing.run.deliver().delivered == 1
    assert host.mail.kinds("acc-1")[-1] == "payment.credited"


# ----------------------------------------------------------------------------- the port


@pytest.mark.parametrize("check", OUTBOX_CHECKS, ids=lambda c: c.__name__)
def test_item_26_the_outbox_keeps_its_contract(
    make_uow: Callable[[], UnitOfWork], check: Callable[[Callable[[], UnitOfWork]], None]
) -> None:
    check(make_uow)
