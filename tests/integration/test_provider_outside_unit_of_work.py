"""The payment provider is never called inside an open unit of work (items 3 and 27).

Every cabinet call that reaches the provider records what it asks first (the payment, or
the charge's attempt with its idempotency key) and commits; the provider is called with
no unit of work open, and its answer is booked in a unit of work of its own. A crash
between the provider's charge and the booking is finished by a retry or by the next
billing run with the same key, so the card is charged once; a provider that fails is a
typed error that leaves the attempt recorded and credits nothing. On memory, SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    SavedPaymentMethod,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import Outcome, SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.cabinet import Cabinet
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkSigner
from cabinet_billing.domain.payment import Payment, PaymentStatus
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import GatewayError, GatewayTimeoutError
from cabinet_billing.ports.gateway import ChargeResult, CheckoutSession, WebhookEvent
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("R4", "R5", "L2", "P")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
CARD = "tok-visa"


class ProcessDied(BaseException):
    """The host's process is killed: nothing after this point runs."""


@attrs.define
class Store:
    """What the units of work are doing, and the fault to inject."""

    #: Units of work open right now.
    open: int = 0
    #: Set by the provider once it took money.
    charged: bool = False
    #: Kill the process at the first commit after the provider took money.
    die_after_charge: bool = False


class WatchedUnitOfWork:
    """A real unit of work that counts itself open and may die at its commit."""

    def __init__(self, inner: UnitOfWork, store: Store) -> None:
        self._inner = inner
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        self._store.open += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.open -= 1
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._store.die_after_charge and self._store.charged:
            self._store.die_after_charge = False
            raise ProcessDied
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


class WatchingGateway:
    """The sandbox, noting every call made while a unit of work was open."""

    def __init__(self, sandbox: SandboxGateway, store: Store) -> None:
        self.sandbox = sandbox
        self._store = store
        self.calls: list[str] = []
        self.inside: list[str] = []
        #: What the next call of an operation raises instead of answering.
        self.fail: dict[str, Exception] = {}

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if self._store.open:
            self.inside.append(operation)
        error = self.fail.pop(operation, None)
        if error is not None:
            raise error

    def checkout(self, payment: Payment, *, return_url: str | None = None) -> CheckoutSession:
        self._call("checkout")
        return self.sandbox.checkout(payment, return_url=return_url)

    def charge_saved_method(
        self, token: str, amount: Money, *, idempotency_key: str
    ) -> ChargeResult:
        self._call("charge")
        result = self.sandbox.charge_saved_method(token, amount, idempotency_key=idempotency_key)
        self._store.charged = self._store.charged or result.succeeded
        return result

    def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        self._call("refund")
        return self.sandbox.refund(reference, amount, idempotency_key=idempotency_key)

    def verify_card(self, token: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        self._call("verify")
        return self.sandbox.verify_card(token, amount, idempotency_key=idempotency_key)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return self.sandbox.parse_webhook(headers, body)


@attrs.frozen
class Host:
    billing: Billing
    gateway: WatchingGateway
    store: Store
    uow: Callable[[], UnitOfWork]

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def charges(self) -> list[tuple[str, str]]:
        """The provider's charges that moved money: (operation, idempotency key)."""
        return [(c.operation, c.key) for c in self.gateway.sandbox.charges if c.result.succeeded]

    def pending(self) -> list[str]:
        with self.uow() as uow:
            return [a.key for a in uow.profiles.get("acc-1").pending_attempts]

    def invoice_status(self, invoice_id: str) -> InvoiceStatus:
        with self.uow() as uow:
            return uow.invoices.get(invoice_id).status

    def credited(self) -> list[str]:
        with self.uow() as uow:
            return [
                p.id
                for p in uow.payments.for_account("acc-1")
                if p.status is PaymentStatus.CREDITED
            ]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: MemoryUnitOfWork(memory)
    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(name)
    return lambda: SqlUnitOfWork(sql)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def wire(make_uow: Callable[[], UnitOfWork]) -> Host:
    """Account acc-1, ready to pay, with no money and no invoice yet."""
    store = Store()
    clock = FixedClock(START)
    gateway = WatchingGateway(
        SandboxGateway(b"provider tests: a sandbox signing key of 40 bytes"), store
    )
    billing = Billing(
        Ports(
            unit_of_work=lambda: WatchedUnitOfWork(make_uow(), store),
            clock=clock,
            gateway=gateway,
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
            pay_links=PayLinkSigner(
                PayLinkKeys("k1", {"k1": b"provider tests: a pay-link key of 32 bytes"})
            ),
        ),
    )
    account = Account.open("acc-1", "login-1", email="j@example.com", country="RU", currency="RUB")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    return Host(billing, gateway, store, make_uow)


def order(host: Host, order_id: str = "o-1") -> str:
    """A 100.00 RUB monthly VPS checked out for the card; its invoice, unpaid."""
    cart = Cart("acc-1", "RUB")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")}), "month")
    checked_out = cart.checkout(
        "card", START.date(), order_id=order_id, tax=host.billing.settings.tax, country="RU"
    )
    return host.owner.orders.place(checked_out).invoice.id


def card(method_id: str = "card-1") -> SavedPaymentMethod:
    return SavedPaymentMethod(method_id, "acc-1", "card", CARD, "Visa", "•••• 4242")


def pay_by_method(host: Host) -> Callable[[], object]:
    invoice_id = order(host)
    return lambda: host.owner.invoices.pay(invoice_id, method_id="card")


def pay_by_link(host: Host) -> Callable[[], object]:
    invoice_id = order(host)
    host.owner.payments.set_pay_without_login(True)
    link = host.owner.invoices.pay_link(invoice_id)
    return lambda: host.billing.pay_links.pay(link.token, "card")


def saved_card_charge(host: Host) -> tuple[Callable[[], object], str]:
    host.owner.payments.bind_card(card())  # checked with a small charge, refunded
    invoice_id = order(host)
    return lambda: host.owner.payments.pay_invoice(invoice_id, "card-1"), invoice_id


def binding_charge(host: Host) -> tuple[Callable[[], object], str]:
    invoice_id = order(host)
    return lambda: host.owner.payments.bind_card(card()), invoice_id


def renew_from_saved_card(host: Host) -> Callable[[], object]:
    order(host)
    host.owner.payments.bind_card(card())  # pays the order's invoice
    (service,) = host.owner.services.list().services
    host.billing.services.finish(service.id)
    host.owner.services.set_auto_renewal(service.id, method_id="card-1")
    day = host.owner.services.view(service.id).paid_until
    assert day is not None
    return lambda: host.billing.run.day(day)


#: Each cabinet call that reaches the provider: what prepares it, and the calls it makes.
CALLS: dict[str, tuple[Callable[[Host], Callable[[], object]], list[str]]] = {
    "cabinet.payments.top_up": (
        lambda h: lambda: h.owner.payments.top_up(rub("50.00"), "card"),
        ["checkout"],
    ),
    "cabinet.invoices.pay": (pay_by_method, ["checkout"]),
    "billing.pay_links.pay": (pay_by_link, ["checkout"]),
    "cabinet.payments.bind_card (pays the invoice)": (
        lambda h: (order(h), lambda: h.owner.payments.bind_card(card()))[1],
        ["charge"],
    ),
    "cabinet.payments.bind_card (checked and refunded)": (
        lambda h: lambda: h.owner.payments.bind_card(card()),
        ["charge", "refund"],
    ),
    "cabinet.payments.pay_invoice": (lambda h: saved_card_charge(h)[0], ["charge"]),
    # The billing run, for comparison: a renewal charged to the saved card.
    "billing.run.day": (renew_from_saved_card, ["charge"]),
}


@pytest.mark.parametrize("name", CALLS)
def test_item_3_the_provider_is_called_with_no_unit_of_work_open(
    make_uow: Callable[[], UnitOfWork], name: str
) -> None:
    host = wire(make_uow)
    prepare, expected = CALLS[name]
    call = prepare(host)
    host.gateway.calls.clear()
    host.gateway.inside.clear()

    call()

    assert host.gateway.calls == expected
    assert host.gateway.inside == []
    assert host.store.open == 0


#: The cabinet calls that charge a saved card: what prepares the charge, and its invoice.
CHARGES: dict[str, Callable[[Host], tuple[Callable[[], object], str]]] = {
    "cabinet.payments.pay_invoice": saved_card_charge,
    "cabinet.payments.bind_card": binding_charge,
}


@pytest.mark.parametrize("then", ["retry", "next run"])
@pytest.mark.parametrize("name", CHARGES)
def test_item_3_a_crash_after_the_provider_charged_is_booked_once_with_the_same_key(
    make_uow: Callable[[], UnitOfWork], name: str, then: str
) -> None:
    host = wire(make_uow)
    call, invoice_id = CHARGES[name](host)
    before = host.charges()
    host.store.charged = False
    host.store.die_after_charge = True

    with pytest.raises(ProcessDied):
        call()

    # The provider took the money; the booking died with the process: the attempt waits.
    (charged,) = host.charges()[len(before) :]
    (pending,) = host.pending()
    assert charged == ("charge", pending)
    assert host.invoice_status(invoice_id) is InvoiceStatus.UNPAID

    if then == "retry":
        call()
    else:
        host.billing.run.day(START.date())

    # Asked again with the same key: the provider answered the first charge, booked once.
    assert host.charges()[len(before) :] == [charged]
    assert host.pending() == []
    assert host.invoice_status(invoice_id) is InvoiceStatus.PAID
    assert host.owner.balance.get("RUB") == rub("0")


@pytest.mark.parametrize("name", CHARGES)
@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(GatewayTimeoutError("charge", "tok-visa"), id="timeout"),
        pytest.param(ConnectionError("[Errno 111] Connection refused"), id="connection"),
    ],
)
def test_item_3_a_provider_that_raises_is_a_typed_error_and_credits_nothing(
    make_uow: Callable[[], UnitOfWork], name: str, failure: Exception
) -> None:
    host = wire(make_uow)
    call, invoice_id = CHARGES[name](host)
    before = host.charges()
    credited = host.credited()
    host.gateway.fail["charge"] = failure

    with pytest.raises(GatewayError, match="retry with the same key"):
        call()

    # Recorded, not charged, nothing credited.
    (pending,) = host.pending()
    assert host.charges() == before
    assert host.credited() == credited
    assert host.invoice_status(invoice_id) is InvoiceStatus.UNPAID
    assert host.store.open == 0

    call()  # the provider is back: the same request, the same key

    assert host.charges()[len(before) :] == [("charge", pending)]
    assert host.invoice_status(invoice_id) is InvoiceStatus.PAID


def test_item_3_a_declined_charge_then_a_new_try_uses_a_new_key(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow)
    call, _ = saved_card_charge(host)
    host.gateway.sandbox.script(CARD, Outcome.DECLINE)

    declined = call()
    again = call()

    keys = [c.key for c in host.gateway.sandbox.charges if c.operation == "charge"][-2:]
    assert keys[0] != keys[1]
    assert [declined.succeeded, again.succeeded] == [False, True]  # type: ignore[attr-defined]
    assert host.pending() == []


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        pytest.param(
            GatewayError("the provider refused: merchant blocked"), "failed", id="refused"
        ),
        pytest.param(GatewayTimeoutError("checkout", "pay-1"), "new", id="timeout"),
        pytest.param(ConnectionError("[Errno 111] Connection refused"), "new", id="connection"),
    ],
)
def test_item_3_a_checkout_the_provider_fails_to_open_credits_nothing(
    make_uow: Callable[[], UnitOfWork], failure: Exception, status: str
) -> None:
    host = wire(make_uow)
    host.gateway.fail["checkout"] = failure

    with pytest.raises(GatewayError):
        host.owner.payments.top_up(rub("50.00"), "card")

    # The payment was committed before the call: refused, it failed (its advance invoice
    # cancelled); with no answer, it stays new for the provider's callback.
    with host.uow() as uow:
        (payment,) = uow.payments.for_account("acc-1")
        assert payment.status.value == status
        assert payment.invoice_id is not None
        advance = uow.invoices.get(payment.invoice_id).status
    assert advance is (InvoiceStatus.CANCELLED if status == "failed" else InvoiceStatus.UNPAID)
    assert host.credited() == []
    assert host.store.open == 0
