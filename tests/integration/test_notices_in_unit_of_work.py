"""Every use case commits its notices with its change (item 26), on memory, SQLite and PostgreSQL.

A use case queues the notifications of what it did in the outbox of the unit of work that
does it, before that unit of work commits, and hands them to the notifier only after. A
process that dies right after the commit therefore loses no notice (a later delivery sends
it), and a change that is rolled back leaves none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

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
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import ConflictError
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("R9", "P")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


class ProcessDied(BaseException):
    """The host's process is killed: nothing after this point runs."""


@attrs.define
class Faults:
    """What the store does at the next commit, and what it saw at each commit."""

    #: Commit, then kill the process.
    die_after_commit: bool = False
    #: Refuse the commit (roll back) as if another unit of work had won a race.
    refuse_commit: bool = False
    #: The kinds of the notifications waiting in the outbox of each committing unit of work.
    commits: list[list[str]] = attrs.field(factory=list)


class FaultyUnitOfWork:
    """A real unit of work whose commit may be refused or followed by the process's death."""

    def __init__(self, inner: UnitOfWork, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        faults = self._faults
        if faults.refuse_commit:
            faults.refuse_commit = False
            self._inner.rollback()
            raise ConflictError("ledger 'acc-1'", "was changed by another unit of work; retry")
        waiting = [m.notification.kind for m in self._inner.outbox.pending(100)]
        self._inner.commit()
        faults.commits.append(waiting)
        if faults.die_after_commit:
            faults.die_after_commit = False
            raise ProcessDied

    def rollback(self) -> None:
        self._inner.rollback()


class MailServer(InMemoryNotifier):
    """A notifier that refuses connections while it is down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def send(self, notification: Notification) -> None:
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
    faults: Faults
    uow: Callable[[], UnitOfWork]

    def pending(self) -> list[str]:
        with self.uow() as uow:
            return [m.notification.kind for m in uow.outbox.pending(100)]


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


VPS = Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")})


def wire(make_uow: Callable[[], UnitOfWork]) -> Host:
    """Account acc-1 with 300.00 RUB and a 100.00 RUB monthly VPS paid from it."""
    clock = FixedClock(START)
    gateway = SandboxGateway(b"notice tests: a sandbox signing key of 40 bytes")
    mail = MailServer()
    faults = Faults()
    billing = Billing(
        Ports(
            unit_of_work=lambda: FaultyUnitOfWork(make_uow(), faults),
            clock=clock,
            gateway=gateway,
            notifier=mail,
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),)
        ),
    )
    host = Host(billing, clock, gateway, mail, faults, make_uow)
    account = Account.open("acc-1", "login-1", email="j@example.com", country="RU", currency="RUB")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    credit(host, "300.00")
    place(host, "o-1")
    clock.advance(minutes=1)
    assert billing.run.deliver().delivered == 0
    assert host.pending() == []
    return host


def credit(host: Host, amount: str) -> None:
    started = host.billing.cabinet("acc-1", "u1").payments.top_up(rub(amount), "wallet")
    host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )


def place(host: Host, order_id: str) -> None:
    cart = Cart("acc-1", "RUB")
    cart.add(VPS, "month")
    order = cart.checkout(
        "balance",
        host.clock.today(),
        order_id=order_id,
        tax=host.billing.settings.tax,
        country="RU",
    )
    host.billing.cabinet("acc-1", "u1").orders.place(order)


def cabinet(host: Host) -> Any:
    return host.billing.cabinet("acc-1", "u1")


def service_id(host: Host) -> str:
    (service,) = cabinet(host).services.list().services
    return str(service.id)


def open_ticket(host: Host) -> str:
    ticket = cabinet(host).tickets.open(department="finance", subject="Invoice", text="Wrong VAT")
    return str(ticket.id)


def pay_renewal(host: Host) -> Callable[[], object]:
    invoice = cabinet(host).services.renew(service_id(host))
    return lambda: cabinet(host).invoices.pay(invoice.id)


def callback(host: Host) -> Callable[[], object]:
    started = cabinet(host).payments.top_up(rub("50.00"), "wallet")
    headers, body = host.gateway.webhook(
        started.payment.id, PaymentEventKind.CREDITED, host.clock.now()
    )
    return lambda: host.billing.webhooks.handle(headers, body)


def staff_reply(host: Host) -> Callable[[], object]:
    ticket_id = open_ticket(host)
    return lambda: host.billing.staff.reply_to_ticket("acc-1", ticket_id, "Fixed", author="Ann")


def confirm_deletion(host: Host) -> Callable[[], object]:
    cabinet(host).profile.request_deletion()
    return lambda: host.billing.staff.confirm_deletion("acc-1", by="ann")


#: Use cases of each kind of path: what prepares the call, and the notices it queues.
CALLS: dict[str, tuple[Callable[[Host], Callable[[], object]], list[str]]] = {
    "webhooks.handle": (callback, ["payment.credited"]),
    "cabinet.orders.place": (
        lambda h: lambda: place(h, "o-2"),
        ["invoice.issued", "invoice.paid", "service.paid"],
    ),
    "cabinet.services.renew": (
        lambda h: lambda: cabinet(h).services.renew(service_id(h)),
        ["invoice.issued"],
    ),
    "cabinet.invoices.pay": (pay_renewal, ["invoice.paid", "service.paid"]),
    "cabinet.tickets.open": (lambda h: lambda: open_ticket(h), ["ticket.opened"]),
    "cabinet.profile.request_deletion": (
        lambda h: cabinet(h).profile.request_deletion,
        ["account.deletion_requested"],
    ),
    "staff.reply_to_ticket": (staff_reply, ["ticket.staff_replied"]),
    "staff.confirm_deletion": (confirm_deletion, ["account.deletion_confirmed"]),
}


def prepared(host: Host, name: str) -> tuple[Callable[[], object], list[str]]:
    prepare, notices = CALLS[name]
    call = prepare(host)
    host.clock.advance(minutes=1)
    host.billing.run.deliver()
    assert host.pending() == []
    host.faults.commits.clear()
    return call, notices


@pytest.mark.parametrize("name", CALLS)
def test_item_26_a_process_killed_right_after_the_commit_loses_no_notice(
    make_uow: Callable[[], UnitOfWork], name: str
) -> None:
    host = wire(make_uow)
    call, notices = prepared(host, name)
    sent = list(host.mail.sent)
    host.faults.die_after_commit = True

    with pytest.raises(ProcessDied):
        call()

    # The change is committed and so are its notices: nothing was sent, nothing is lost.
    assert host.mail.sent == sent
    assert host.pending() == notices
    host.clock.advance(minutes=1)
    assert host.billing.run.deliver().delivered == len(notices)
    assert host.mail.kinds("acc-1")[-len(notices) :] == notices
    assert host.pending() == []


@pytest.mark.parametrize("name", CALLS)
def test_item_26_notices_are_committed_or_rolled_back_with_the_change(
    make_uow: Callable[[], UnitOfWork], name: str
) -> None:
    host = wire(make_uow)
    call, notices = prepared(host, name)
    sent = list(host.mail.sent)

    # Rolled back: neither the change nor a notice of it.
    host.faults.refuse_commit = True
    with pytest.raises(ConflictError):
        call()
    assert host.pending() == []
    assert host.mail.sent == sent

    # Committed while the mail server is down: the notices were in the outbox of the
    # unit of work that committed the change, and wait there for a later delivery.
    host.mail.down = True
    call()
    assert host.faults.commits[0] == notices
    assert host.pending() == notices
    assert host.mail.sent == sent
    host.mail.down = False
    host.clock.advance(minutes=1)
    assert host.billing.run.deliver().delivered == len(notices)
    assert host.mail.kinds("acc-1")[-len(notices) :] == notices
