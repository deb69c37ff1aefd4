"""The billing run on PostgreSQL meets a real deadlock and a lost connection, and goes on.

The deadlock is induced, not simulated: while the run's unit of work for acc-1 holds one
counter row, another transaction takes a second row and then waits for the first, and
the run's transaction waits for the second. PostgreSQL aborts one of the two with SQLSTATE
40P01; the run's is the one that waited first, so it is the one aborted. The run tries the
account again and bills it once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

import attrs
import pytest
from sqlalchemy import text

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
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import TransientStorageError

pytestmark = pytest.mark.spec("P", "R4")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
RENEWAL_DAY = date(2024, 4, 20)


@attrs.define
class Trap:
    """What the next commit of the run's unit of work for ``account_id`` runs into."""

    store: SqlStore
    account_id: str = "acc-1"
    deadlocks: int = 0
    lost_connections: int = 0
    met: list[str] = attrs.field(factory=list)
    others: list[threading.Thread] = attrs.field(factory=list)


class TrappedUnitOfWork:
    """A SQL unit of work whose commit first meets what the trap holds for it."""

    def __init__(self, trap: Trap) -> None:
        self._inner = SqlUnitOfWork(trap.store)
        self._trap = trap

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
        trap = self._trap
        if trap.account_id in self._inner.ledgers.loaded:
            if trap.deadlocks > 0:
                trap.deadlocks -= 1
                trap.met.append("deadlock")
                self._deadlock()
            if trap.lost_connections > 0:
                trap.lost_connections -= 1
                trap.met.append("lost connection")
                self._lose_connection()
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()

    def _deadlock(self) -> None:
        """Wait for a row another transaction holds while it waits for one this one holds."""
        trap = self._trap
        _lock(self._inner, 1)  # this transaction now holds lock A
        holds_b = threading.Event()

        def other() -> None:
            with SqlUnitOfWork(trap.store) as uow:
                _lock(uow, 2)
                holds_b.set()
                time.sleep(0.3)  # the run's transaction is waiting for row B by now
                _lock(uow, 1)  # waits for the run's transaction: a cycle
                uow.commit()

        thread = threading.Thread(target=other)
        trap.others.append(thread)
        thread.start()
        holds_b.wait(10)
        _lock(self._inner, 2)  # PostgreSQL aborts this: deadlock detected

    def _lose_connection(self) -> None:
        """The server ends this transaction's connection (a restart, a failover)."""
        pid = _backend_pid(self._inner)
        with self._trap.store.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        _lock(self._inner, 3)


def _lock(uow: SqlUnitOfWork, key: int) -> None:
    """Take a transaction-level advisory lock (counters no longer hold row locks)."""
    uow._session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _backend_pid(uow: SqlUnitOfWork) -> int:
    connection = uow._session.connection()
    pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class Host:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    trap: Trap


@pytest.fixture
def host(billing_pg_store: SqlStore) -> Iterator[Host]:
    trap = Trap(billing_pg_store)
    clock = FixedClock(START)
    gateway = SandboxGateway(b"transient tests: a sandbox signing key of 40 bytes")
    billing = Billing(
        Ports(
            unit_of_work=lambda: TrappedUnitOfWork(trap),
            clock=clock,
            gateway=gateway,
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),),
        ),
    )
    wired = Host(billing, clock, gateway, trap)
    for account_id in ("acc-1", "acc-2"):
        open_with_vps(wired, account_id)
    clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))
    yield wired
    for thread in trap.others:
        thread.join(10)


def open_with_vps(host: Host, account_id: str) -> None:
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
    cabinet.orders.place(
        cart.checkout(
            "balance",
            host.clock.today(),
            order_id=f"o-{account_id}",
            tax=host.billing.settings.tax,
            country="RU",
        )
    )


def renewals_in_database(host: Host, account_id: str) -> tuple[Money, date | None, int]:
    with SqlUnitOfWork(host.trap.store) as uow:
        (service,) = uow.services.for_account(account_id)
        # The invoices for services (each top-up has its advance-payment invoice besides).
        invoices = sum(
            i.kind is not InvoiceKind.TOP_UP for i in uow.invoices.for_account(account_id)
        )
        return uow.ledgers.get(account_id).balance("RUB"), service.paid_until, invoices


def test_item_27_a_real_deadlock_is_tried_again_and_bills_the_account_once(host: Host) -> None:
    host.trap.deadlocks = 1

    summary = host.billing.run.day(RENEWAL_DAY)

    assert host.trap.met == ["deadlock"]
    assert (summary.accounts, summary.renewals, summary.failures) == (2, 2, ())
    for account_id in ("acc-1", "acc-2"):
        assert renewals_in_database(host, account_id) == (rub("100.00"), date(2024, 5, 21), 2)


def test_item_27_a_lost_connection_every_time_is_reported_for_that_account_only(
    host: Host,
) -> None:
    host.trap.lost_connections = 10

    summary = host.billing.run.day(RENEWAL_DAY)

    (failure,) = summary.failures
    assert failure.account_id == "acc-1"
    assert isinstance(failure.error, TransientStorageError)
    assert (failure.error.kind, failure.attempts) == ("lost connection", 4)
    assert host.trap.met == ["lost connection"] * 4
    assert renewals_in_database(host, "acc-1") == (rub("200.00"), date(2024, 4, 21), 1)
    assert renewals_in_database(host, "acc-2") == (rub("100.00"), date(2024, 5, 21), 2)
