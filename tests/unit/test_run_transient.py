"""The billing run after transient storage failures: tried again, then reported for that account.

A unit of work that fails on a deadlock, a serialization failure or a lost connection
is rolled back; the run tries the account again a bounded number of times and, when
every try fails, names the account with a typed error and goes on with the others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
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
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import TransientStorageError
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("P", "R4")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
RENEWAL_DAY = date(2024, 4, 20)


@attrs.define
class Faults:
    """How many more commits touching each account fail, and how many did."""

    left: dict[str, int] = attrs.field(factory=dict)
    failed: dict[str, int] = attrs.field(factory=dict)


class FailingUnitOfWork:
    """A memory unit of work whose commit fails like a deadlocked database transaction."""

    def __init__(self, inner: MemoryUnitOfWork, faults: Faults) -> None:
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
        touched = set(self._inner.ledgers.loaded) | set(self._inner.profiles.loaded)
        for account_id in sorted(touched):
            if self._faults.left.get(account_id, 0) > 0:
                self._faults.left[account_id] -= 1
                self._faults.failed[account_id] = self._faults.failed.get(account_id, 0) + 1
                self._inner.rollback()
                raise TransientStorageError("deadlock", "40P01", "deadlock detected")
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


@attrs.frozen
class Host:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    store: MemoryStore
    faults: Faults


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def wire(**settings: object) -> Host:
    store = MemoryStore()
    faults = Faults()
    clock = FixedClock(START)
    gateway = SandboxGateway(b"transient tests: a sandbox signing key of 40 bytes")
    make_uow: Callable[[], UnitOfWork] = lambda: FailingUnitOfWork(MemoryUnitOfWork(store), faults)  # noqa: E731
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=InMemoryNotifier()),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),),
            **settings,  # type: ignore[arg-type]
        ),
    )
    host = Host(billing, clock, gateway, store, faults)
    for account_id in ("acc-1", "acc-2", "acc-3"):
        open_with_vps(host, account_id)
    clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))
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
    cabinet.orders.place(
        cart.checkout(
            "balance",
            host.clock.today(),
            order_id=f"o-{account_id}",
            tax=host.billing.settings.tax,
            country="RU",
        )
    )


def state(host: Host, account_id: str) -> tuple[Money, list[date | None], int]:
    balance = host.billing.cabinet(account_id, "u1").balance.get("RUB")
    services = [
        s.paid_until for s in host.store.services.rows.values() if s.account_id == account_id
    ]
    # The invoices for services (each top-up has its advance-payment invoice besides).
    invoices = sum(
        i.account_id == account_id and i.kind is not InvoiceKind.TOP_UP
        for i in host.store.invoices.rows.values()
    )
    return balance, services, invoices


def test_item_27_a_transient_failure_is_tried_again_and_bills_the_account_once() -> None:
    host = wire()
    host.faults.left["acc-1"] = 2

    summary = host.billing.run.day(RENEWAL_DAY)

    assert (summary.accounts, summary.renewals, summary.failures) == (3, 3, ())
    assert host.faults.failed == {"acc-1": 2}
    for account_id in ("acc-1", "acc-2", "acc-3"):
        assert state(host, account_id) == (rub("100.00"), [date(2024, 5, 21)], 2)


def test_item_27_a_failure_every_try_meets_is_reported_for_that_account_only() -> None:
    host = wire(transient_retries=2)
    before = state(host, "acc-2")
    host.faults.left["acc-2"] = 100

    summary = host.billing.run.day(RENEWAL_DAY)

    (failure,) = summary.failures
    assert failure.account_id == "acc-2"
    assert isinstance(failure.error, TransientStorageError)
    assert (failure.error.kind, failure.error.code, failure.attempts) == ("deadlock", "40P01", 3)
    assert failure.reason == (
        "the store failed with a deadlock (SQLSTATE 40P01): deadlock detected; "
        "nothing was stored, try again (tried 3 times)"
    )
    assert host.faults.failed == {"acc-2": 3}
    # The others were billed; the failed one is as it was, and the next run bills it.
    assert (summary.accounts, summary.renewals) == (3, 2)
    assert state(host, "acc-1") == state(host, "acc-3") == (rub("100.00"), [date(2024, 5, 21)], 2)
    assert state(host, "acc-2") == before
    host.faults.left.clear()
    again = host.billing.run.day(RENEWAL_DAY)
    assert (again.accounts, again.not_due, again.renewals, again.failures) == (1, 2, 1, ())
    assert state(host, "acc-2") == (rub("100.00"), [date(2024, 5, 21)], 2)


def test_item_27_transient_retries_is_a_count() -> None:
    with pytest.raises(ValueError, match=r"transient_retries=-1 is invalid: must be 0 or more"):
        BillingSettings(transient_retries=-1)
