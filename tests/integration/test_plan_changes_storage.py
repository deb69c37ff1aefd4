"""Plan changes and ends of paid services over every store: what waits is stored (SPEC X1, X2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.catalog import AddOn, Catalog
from cabinet_billing.domain.documents import CreditNoteReason
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.limits import Limit
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import ServiceOperation, ServiceStatus
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("X1", "X2")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
IPV4 = AddOn("ipv4", "IPv4", {"month": Money("5.00", "EUR")}, included=1)
VPS_S = Plan(
    "vps-s",
    "VPS S",
    ProductKind.VPS,
    {
        "day": Money("20.00", "EUR"),
        "month": Money("100.00", "EUR"),
        "year": Money("1200.00", "EUR"),
    },
    [IPV4],
    limits=[Limit("sites", 2)],
)
VPS_M = Plan(
    "vps-m",
    "VPS M",
    ProductKind.VPS,
    {"month": Money("200.00", "EUR")},
    [IPV4],
    limits=[Limit("sites", 10), Limit("mailboxes", 50)],
)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def new_uow(request: pytest.FixtureRequest) -> Iterator[Callable[[], UnitOfWork]]:
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(name)
    yield lambda: SqlUnitOfWork(sql)


@attrs.frozen
class Host:
    new_uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway

    def billing(self) -> Billing:
        """A fresh Billing over the store, as another worker or a restarted process sees it."""
        return Billing(
            Ports(unit_of_work=self.new_uow, clock=self.clock, gateway=self.gateway),
            BillingSettings(
                catalog=Catalog([VPS_S, VPS_M]),
                payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),),
                proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
                apply_balance_to_open_invoices=False,
            ),
        )

    def cabinet(self) -> Cabinet:
        return self.billing().cabinet("acc-1", "u-1")

    def top_up(self, amount: str) -> None:
        started = self.cabinet().payments.top_up(eur(amount), "card")
        self.billing().webhooks.handle(
            *self.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.clock.now())
        )

    def on(self, day: date) -> None:
        self.clock.set(datetime(day.year, day.month, day.day, 9, tzinfo=UTC))


@pytest.fixture
def host(new_uow: Callable[[], UnitOfWork]) -> Host:
    host = Host(new_uow, FixedClock(START), SandboxGateway(b"plan change storage: 32+ bytes key"))
    account = Account.open("acc-1", "anna", currency="EUR", email="a@example.com")
    account.change_name("Fairy", "Anna")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    host.billing().open_account(account, owner_id="u-1", owner_name="Anna")
    return host


def active(host: Host) -> str:
    host.top_up("300.00")
    cart = Cart("acc-1", "EUR")
    cart.add(VPS_S, "month")
    [service_id] = host.cabinet().orders.checkout(cart, "balance", order_id="o-1").service_ids
    host.billing().services.finish(service_id)
    return service_id


def test_a_change_at_the_period_end_is_stored_and_renewed_into(host: Host) -> None:
    service_id = active(host)
    host.cabinet().services.set_auto_renewal(service_id)
    host.cabinet().services.change_plan(service_id, "vps-s", period="year", when="period_end")
    with host.new_uow() as uow:
        change = uow.services.get(service_id).scheduled
        sub = uow.profiles.get("acc-1").subscription(service_id)
    assert change is not None
    assert (change.plan_id, change.period, change.price, change.at_period_end) == (
        "vps-s",
        Period.year(),
        eur("1200.00"),
        True,
    )
    assert change.renewal_period == Period.months()
    assert sub is not None
    assert (sub.price, sub.next_paid_until) == (
        eur("1200.00"),
        date(2025, 4, 5),
    )
    host.top_up("1200.00")
    host.on(date(2024, 4, 5))
    host.billing().run.day()
    with host.new_uow() as uow:
        service = uow.services.get(service_id)
    assert (service.period, service.price, service.paid_until, service.scheduled) == (
        Period.year(),
        eur("1200.00"),
        date(2025, 4, 5),
        None,
    )


def test_an_upgrade_waiting_for_its_invoice_is_stored_and_made_once_paid(host: Host) -> None:
    cart = Cart("acc-1", "EUR")
    cart.add(VPS_S, "month")
    host.top_up("100.00")
    [service_id] = host.cabinet().orders.checkout(cart, "balance", order_id="o-1").service_ids
    host.billing().services.finish(service_id)
    host.on(date(2024, 3, 20))
    result = host.cabinet().services.change_plan(service_id, "vps-m")
    assert result.invoice is not None
    assert not result.paid_from_balance
    with host.new_uow() as uow:
        change = uow.services.get(service_id).scheduled
    assert change is not None
    assert change.invoice_id == result.invoice.id
    host.top_up("60.00")
    host.cabinet().invoices.pay(result.invoice.id)
    assert host.cabinet().invoices.get(result.invoice.id).status is InvoiceStatus.PAID
    with host.new_uow() as uow:
        service = uow.services.get(service_id)
    assert (service.plan_id, service.price, service.scheduled) == ("vps-m", eur("200.00"), None)


def test_a_downgrade_and_an_end_now_keep_their_credit_notes(host: Host) -> None:
    service_id = active(host)
    host.on(date(2024, 3, 20))
    host.cabinet().services.change_plan(service_id, "vps-m")
    down = host.cabinet().services.change_plan(service_id, "vps-s")
    ended = host.cabinet().services.terminate(service_id, when="now")
    assert down.credit_note is not None
    assert ended.credit_note is not None
    with host.new_uow() as uow:
        notes = uow.documents.get("acc-1").credit_notes
        service = uow.services.get(service_id)
    assert [(n.reason, n.total.gross) for n in notes] == [
        (CreditNoteReason.BALANCE_CREDIT, eur("51.62")),
        (CreditNoteReason.BALANCE_CREDIT, eur("51.61")),
    ]
    assert (service.status, service.operation) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.DELETING,
    )


def test_an_end_at_the_period_end_is_stored_and_carried_out_by_the_run(host: Host) -> None:
    service_id = active(host)
    host.cabinet().services.terminate(service_id)
    with host.new_uow() as uow:
        change = uow.services.get(service_id).scheduled
    assert change is not None
    assert change.ends
    host.on(date(2024, 4, 5))
    host.billing().run.day()
    with host.new_uow() as uow:
        service = uow.services.get(service_id)
    assert (service.status, service.operation) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.DELETING,
    )


@pytest.mark.spec("C7")
def test_a_plan_change_takes_the_new_plans_caps_and_keeps_the_counts(host: Host) -> None:
    service_id = active(host)
    host.billing().limits.record(service_id, "sites", 2)
    host.cabinet().services.change_plan(service_id, "vps-m", when="period_end")
    with host.new_uow() as uow:
        change = uow.services.get(service_id).scheduled
    assert change is not None
    assert change.limits == (Limit("sites", 10), Limit("mailboxes", 50))
    host.top_up("200.00")
    host.cabinet().services.renew_now(service_id)
    [sites, mailboxes] = host.cabinet().services.limits(service_id)
    assert (sites.metric, sites.status.maximum, sites.status.current) == ("sites", 10, 2)
    assert (mailboxes.metric, mailboxes.status.maximum) == ("mailboxes", 50)
