"""The use cases through the public API, on every store: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    CheckoutStarted,
    InvalidTransitionError,
    InvalidWebhookError,
    InvoiceSettled,
    InvoiceStatus,
    Money,
    OrderResult,
    PaymentMethod,
    PaymentStatus,
    Plan,
    PostalAddress,
    ProductKind,
    ProfileIncompleteError,
    ServiceStatus,
    TaxMode,
    TaxPolicy,
    TaxRate,
    TopUpNeeded,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import EventOutcome, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import GatewayError
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("P")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


def owner(s: Host) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def settings(**kw: object) -> BillingSettings:
    card = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=rub("10.00"),
        minimum=rub("10.00"),
        maximum=rub("3000.00"),
        cashback_percent="10",
    )
    return BillingSettings(
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
        payment_methods=(
            PaymentMethod("card", "Bank card", card),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
        **kw,  # type: ignore[arg-type]
    )


def complete_account(account_id: str = "acc-1") -> Account:
    account = Account.open(account_id, f"login-{account_id}", email="j@example.com", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    return account


@attrs.frozen
class Host:
    billing: Billing
    make_uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier

    def uow(self) -> UnitOfWork:
        return self.make_uow()


def wire(
    make_uow: Callable[[], UnitOfWork], billing_settings: BillingSettings | None = None
) -> Host:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"use cases: a sandbox signing key of 36 bytes")
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=notifier),
        billing_settings or settings(),
    )
    return Host(billing, make_uow, clock, gateway, notifier)


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "postgresql"])
def store(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    """Makes units of work over a fresh store of each kind."""
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: MemoryUnitOfWork(memory)
    names = {"sqlite-file": "billing_sqlite_store", "sqlite-memory": "billing_sqlite_memory_store"}
    found: SqlStore = request.getfixturevalue(names.get(request.param, "billing_pg_store"))
    return lambda: SqlUnitOfWork(found)


@pytest.fixture
def setup(store: Callable[[], UnitOfWork]) -> Host:
    s = wire(store)
    s.billing.open_account(complete_account(), owner_id="u1", owner_name="Jill")
    return s


def credit(
    s: Host, payment_id: str, kind: PaymentEventKind = PaymentEventKind.CREDITED
) -> tuple[dict[str, str], bytes]:
    return s.gateway.webhook(payment_id, kind, s.clock.now())


def vps_order(
    s: Host, order_id: str = "o-1", price: str = "100.00", method: str = "balance"
) -> OrderResult:
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
    cart = Cart("acc-1", "RUB")
    cart.add(plan, "month")
    order = cart.checkout(
        method,
        s.clock.today(),
        order_id=order_id,
        tax=s.billing.settings.tax,
        country="RU",
    )
    return owner(s).orders.place(order)


def invoice_status(s: Host, invoice_id: str) -> InvoiceStatus:
    with s.uow() as uow:
        return uow.invoices.get(invoice_id).status


def test_open_an_account_stores_it_with_its_owner_ledger_and_expenses(setup: Host) -> None:
    with setup.uow() as uow:
        assert uow.accounts.ids() == ["acc-1"]
        assert uow.accounts.get("acc-1") == complete_account()
        assert uow.users.get("acc-1").owner_id == "u1"
        assert len(uow.ledgers.get("acc-1")) == 0
    assert owner(setup).balance.get("RUB") == rub("0")


@pytest.mark.spec("L6", "M5", "M6", "L1")
def test_top_up_by_card_with_fee_and_cashback_and_idempotent_callbacks(setup: Host) -> None:
    started = owner(setup).payments.top_up(rub("100.00"), "card")
    assert (started.quote.base, started.quote.fee, started.quote.total) == (
        rub("100.00"),
        rub("15.00"),
        rub("115.00"),
    )
    assert started.url.endswith(started.payment.id)
    assert owner(setup).balance.get("RUB") == rub("0")

    headers, body = credit(setup, started.payment.id)
    handled = setup.billing.webhooks.handle(headers, body)
    assert (handled.outcome, handled.status) == (EventOutcome.APPLIED, PaymentStatus.CREDITED)
    assert owner(setup).balance.get("RUB") == rub("111.50")
    with setup.uow() as uow:
        ledger = uow.ledgers.get("acc-1")
        assert [(e.kind, e.amount) for e in ledger] == [
            (EntryKind.TOP_UP, rub("100.00")),
            (EntryKind.CASHBACK, rub("11.50")),
        ]
        cashback = uow.payments.get(f"{started.payment.id}-cashback")
        assert cashback.status is PaymentStatus.CREDITED

    again = setup.billing.webhooks.handle(headers, body)
    assert again.outcome is EventOutcome.DUPLICATE
    late = setup.billing.webhooks.handle(
        *credit(setup, started.payment.id, PaymentEventKind.PAYING)
    )
    assert late.outcome is EventOutcome.STALE
    assert owner(setup).balance.get("RUB") == rub("111.50")
    assert setup.notifier.kinds("acc-1") == ["payment.credited"]


@pytest.mark.spec("L6")
def test_forged_callback_is_refused_and_changes_nothing(setup: Host) -> None:
    started = owner(setup).payments.top_up(rub("100.00"), "card")
    headers, body = credit(setup, started.payment.id)
    with pytest.raises(InvalidWebhookError, match="signature"):
        setup.billing.webhooks.handle(headers, body.replace(b"credited", b"refunded"))
    with pytest.raises(InvalidWebhookError, match="header"):
        setup.billing.webhooks.handle({}, body)
    with setup.uow() as uow:
        assert uow.payments.get(started.payment.id).status is PaymentStatus.NEW


@pytest.mark.spec("L2", "C5")
def test_order_paid_from_the_balance_when_it_covers_the_price(setup: Host) -> None:
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("200.00"), "wallet").payment.id),
    )
    result = vps_order(setup)
    assert result.paid_from_balance
    assert result.invoice.status is InvoiceStatus.PAID
    assert owner(setup).balance.get("RUB") == rub("100.00")
    with setup.uow() as uow:
        service = uow.services.get(result.service_ids[0])
        assert service.status is ServiceStatus.PROCESSING
        assert service.paid_until == date(2024, 4, 21)
        (expense,) = uow.expenses.get("acc-1").expenses()
        (payment,) = uow.payments.for_account("acc-1")
        assert (expense.amount, expense.tax, expense.payment_ids) == (
            rub("100.00"),
            rub("16.67"),
            (payment.id,),
        )
        assert expense.is_paid
        assert uow.invoices.get(result.invoice.id).status is InvoiceStatus.PAID
        assert uow.invoices.open() == []


@pytest.mark.spec("L2")
def test_order_waits_then_top_up_pays_it_oldest_first(setup: Host) -> None:
    first = vps_order(setup, "o-1", "100.00")
    second = vps_order(setup, "o-2", "50.00")
    assert not first.paid_from_balance
    assert first.invoice.status is InvoiceStatus.UNPAID
    with setup.uow() as uow:
        assert [i.id for i in uow.invoices.open()] == [first.invoice.id, second.invoice.id]
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("120.00"), "wallet").payment.id),
    )
    assert invoice_status(setup, first.invoice.id) is InvoiceStatus.PAID
    assert invoice_status(setup, second.invoice.id) is InvoiceStatus.UNPAID
    assert owner(setup).balance.get("RUB") == rub("20.00")
    with setup.uow() as uow:
        assert [i.id for i in uow.invoices.open()] == [second.invoice.id]
        assert uow.invoices.by_number(first.invoice.number).id == first.invoice.id


@pytest.mark.spec("L2")
def test_pay_invoice_from_balance_or_learn_what_is_missing(setup: Host) -> None:
    placed = vps_order(setup, "o-1", "100.00")
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("30.00"), "wallet").payment.id),
    )
    needed = owner(setup).invoices.pay(placed.invoice.id)
    assert isinstance(needed, TopUpNeeded)
    assert needed.missing == rub("70.00")
    assert [m.id for m in needed.methods] == ["card", "wallet"]
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("70.00"), "wallet").payment.id),
    )
    assert invoice_status(setup, placed.invoice.id) is InvoiceStatus.PAID
    with pytest.raises(InvalidTransitionError, match="paid"):
        owner(setup).invoices.pay(placed.invoice.id)


@pytest.mark.spec("L2", "L3")
def test_pay_invoice_explicitly_from_balance_when_auto_apply_is_off(
    store: Callable[[], UnitOfWork],
) -> None:
    s = wire(store, settings(apply_balance_to_open_invoices=False))
    s.billing.open_account(complete_account(), owner_id="u1", owner_name="Jill")
    placed = vps_order(s, "o-1", "100.00")
    s.billing.webhooks.handle(
        *credit(s, owner(s).payments.top_up(rub("150.00"), "wallet").payment.id),
    )
    assert invoice_status(s, placed.invoice.id) is InvoiceStatus.UNPAID
    settled = owner(s).invoices.pay(placed.invoice.id)
    assert isinstance(settled, InvoiceSettled)
    assert settled.invoice.status is InvoiceStatus.PAID
    assert owner(s).balance.get("RUB") == rub("50.00")


@pytest.mark.spec("L2", "L6")
def test_direct_payment_pays_the_invoice_and_leaves_the_balance_as_it_was(
    setup: Host,
) -> None:
    placed = vps_order(setup, "o-1", "100.00", method="card")
    started = owner(setup).invoices.pay(placed.invoice.id, method_id="card")
    assert isinstance(started, CheckoutStarted)
    assert started.quote.total == rub("115.00")
    setup.billing.webhooks.handle(*credit(setup, started.payment.id))
    assert invoice_status(setup, placed.invoice.id) is InvoiceStatus.PAID
    assert owner(setup).balance.get("RUB") == rub("11.50")
    with setup.uow() as uow:
        ledger = uow.ledgers.get("acc-1")
        assert [e.kind for e in ledger] == [EntryKind.TOP_UP, EntryKind.CHARGE, EntryKind.CASHBACK]
        assert ledger.verify()


@pytest.mark.spec("L4")
def test_renewal_invoice_extends_the_anchored_period(setup: Host) -> None:
    setup.clock.set(datetime(2023, 4, 27, 9, tzinfo=UTC))
    placed = vps_order(setup, "o-1", "100.00")
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("100.00"), "wallet").payment.id),
    )
    service_id = placed.service_ids[0]
    with setup.uow() as uow:
        assert uow.services.get(service_id).paid_until == date(2023, 5, 27)
    renewal = owner(setup).services.renew(service_id)
    assert renewal.kind is InvoiceKind.RENEWAL
    assert renewal.lines[0].paid_until == date(2023, 6, 27)
    assert renewal.due_on == date(2023, 5, 11)
    with pytest.raises(Exception, match="unpaid; pay or delete it"):
        owner(setup).services.renew(service_id)
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("100.00"), "wallet").payment.id),
    )
    with setup.uow() as uow:
        assert uow.services.get(service_id).paid_until == date(2023, 6, 27)


@pytest.mark.spec("L4")
def test_delete_an_unpaid_invoice_to_pay_another_way_without_touching_the_balance(
    setup: Host,
) -> None:
    placed = vps_order(setup, "o-1", "100.00")
    deleted = owner(setup).invoices.delete(placed.invoice.id)
    assert deleted.number == placed.invoice.number
    with pytest.raises(InvalidTransitionError, match="deleted"):
        owner(setup).invoices.delete(placed.invoice.id)
    assert owner(setup).balance.get("RUB") == rub("0")
    with setup.uow() as uow:
        assert len(uow.ledgers.get("acc-1")) == 0
        assert uow.invoices.open() == []


@pytest.mark.spec("A2", "A3")
def test_rights_and_profile_gate_paying_and_nothing_changes(setup: Host) -> None:
    with setup.uow() as uow:
        uow.users.get("acc-1").add("u2", "Accountant", "acc@example.com", ["invoices.view"])
        uow.commit()
    with pytest.raises(AccessDeniedError, match=r"invoices\.pay"):
        setup.billing.cabinet("acc-1", "u2").payments.top_up(rub("100.00"), "card")
    setup.billing.open_account(
        Account.open("acc-2", "bare", email="b@example.com"),
        owner_id="u1",
        owner_name="B",
    )
    with pytest.raises(ProfileIncompleteError, match="last_name, first_name, city"):
        setup.billing.cabinet("acc-2", "u1").payments.top_up(rub("100.00"), "card")
    with setup.uow() as uow:
        assert uow.payments.for_account("acc-1") == []
        assert uow.payments.for_account("acc-2") == []


@pytest.mark.spec("P")
def test_a_failing_gateway_is_a_typed_error_and_credits_nothing(setup: Host) -> None:
    def broken(*_args: object, **_kw: object) -> object:
        raise ConnectionError("provider down")

    setup.gateway.checkout = broken  # type: ignore[method-assign, assignment]
    with pytest.raises(GatewayError, match="ConnectionError: provider down"):
        owner(setup).payments.top_up(rub("100.00"), "card")
    with setup.uow() as uow:
        # Committed before the provider was called: the payment waits for a callback.
        (payment,) = uow.payments.for_account("acc-1")
        assert payment.status is PaymentStatus.NEW
        assert uow.ledgers.get("acc-1").balance("RUB") == rub("0")


def test_placing_the_same_order_twice_is_refused(setup: Host) -> None:
    vps_order(setup, "o-1")
    with pytest.raises(Exception, match="was placed already"):
        vps_order(setup, "o-1")
    with setup.uow() as uow:
        assert len(uow.services.for_account("acc-1")) == 1
        assert list(uow.keys.all("order:")) == ["order:o-1"]


@pytest.mark.spec("L9")
def test_deletion_request_stops_services_and_automatic_charges(setup: Host) -> None:
    setup.billing.webhooks.handle(
        *credit(setup, owner(setup).payments.top_up(rub("200.00"), "wallet").payment.id),
    )
    placed = vps_order(setup)
    service_id = placed.service_ids[0]
    with setup.uow() as uow:
        svc = uow.services.get(service_id)
        assert svc.status is ServiceStatus.PROCESSING
        svc.finish_processing(Actor.admin("ops"), setup.clock.now())
        svc.set_auto_renew(True)
        uow.users.get("acc-1").add("u2", "Admin", "admin@example.com", ["invoices.pay"])
        uow.commit()
    with pytest.raises(AccessDeniedError, match="only the account's owner"):
        setup.billing.cabinet("acc-1", "u2").profile.request_deletion()
    event = owner(setup).profile.request_deletion()
    assert event.service_ids == (service_id,)
    with setup.uow() as uow:
        service = uow.services.get(service_id)
        assert service.status is ServiceStatus.STOPPED_BY_ADMIN
        assert not service.auto_renew
    assert "account.deletion_requested" in setup.notifier.kinds("acc-1")
