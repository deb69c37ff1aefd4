"""Orders over every store: promo redemptions and free orders are stored (SPEC C4, P)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.catalog import AddOn, Catalog
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.limits import Limit
from cabinet_billing.domain.promo import PromoCode
from cabinet_billing.domain.service import Actor, BillingMode, ServiceOperation, ServiceStatus
from cabinet_billing.errors import PromoCodeError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("C4")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
VPS = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "EUR")})
WELCOME = PromoCode.percentage("WELCOME", 10, once_per_customer=True)
FREE = PromoCode.percentage("FREE", 100)


@pytest.fixture
def new_uow(billing_unit_of_work: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    return billing_unit_of_work


def cabinet_over(new_uow: Callable[[], UnitOfWork]) -> Cabinet:
    """A fresh Billing over the store, as another worker or a restarted process sees it."""
    billing = Billing(
        Ports(
            unit_of_work=new_uow,
            clock=FixedClock(START),
            gateway=SandboxGateway(b"orders storage tests: 32+ bytes of key"),
        ),
        BillingSettings(
            catalog=Catalog([VPS, SHOP]),
            promo_codes=(WELCOME, FREE),
            proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
        ),
    )
    return billing.cabinet("acc-1", "u-1")


def provider_over(new_uow: Callable[[], UnitOfWork]) -> Billing:
    """The provider's side over the store, as another process sees it."""
    return Billing(
        Ports(
            unit_of_work=new_uow,
            clock=FixedClock(START),
            gateway=SandboxGateway(b"orders storage tests: 32+ bytes of key"),
        ),
    )


def cart_with(code: PromoCode) -> Cart:
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month")
    cart.apply_promo(code, START.date())
    return cart


@pytest.fixture
def opened(new_uow: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    billing = Billing(
        Ports(
            unit_of_work=new_uow,
            clock=FixedClock(START),
            gateway=SandboxGateway(b"orders storage tests: 32+ bytes of key"),
        ),
    )
    billing.open_account(
        Account.open("acc-1", "anna", currency="EUR"), owner_id="u-1", owner_name="Anna"
    )
    return new_uow


def test_item_15_once_per_customer_code_is_stored_and_refused_the_second_time(
    opened: Callable[[], UnitOfWork],
) -> None:
    placed = cabinet_over(opened).orders.checkout(cart_with(WELCOME), "card", order_id="o-1")
    assert str(placed.invoice.total.gross) == "90.00 EUR"
    with pytest.raises(PromoCodeError) as err:
        cabinet_over(opened).orders.checkout(cart_with(WELCOME), "card", order_id="o-2")
    assert err.value.reason == "it was already used; each customer may use it once"
    with opened() as uow:
        assert len(uow.invoices.for_account("acc-1")) == 1


def test_item_15_full_discount_order_is_stored_paid(opened: Callable[[], UnitOfWork]) -> None:
    placed = cabinet_over(opened).orders.checkout(cart_with(FREE), "card", order_id="o-1")
    with opened() as uow:
        invoice = uow.invoices.get(placed.invoice.id)
        service = uow.services.get(placed.service_ids[0])
    assert (str(invoice.total.gross), invoice.status) == ("0.00 EUR", InvoiceStatus.PAID)
    assert invoice.closed_on == date(2024, 3, 5)
    assert (service.status, service.operation, service.paid_until) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.OPENING,
        date(2024, 4, 5),
    )


SHOP = Plan(
    "shop",
    "Shop",
    ProductKind.SAAS,
    {"month": Money("50.00", "EUR")},
    [AddOn("ipv4", "IPv4", {"month": Money("5.00", "EUR")}, included=1)],
    limits=[Limit("products", 1000)],
)


@pytest.mark.spec("C5", "C6", "C7")
def test_a_services_ip_configuration_limits_and_state_are_stored(
    opened: Callable[[], UnitOfWork],
) -> None:
    cart = Cart("acc-1", "EUR")
    cart.add(SHOP, "month", {"ipv4": 3})
    placed = cabinet_over(opened).orders.checkout(cart, "card", order_id="o-1")
    [service_id] = placed.service_ids
    with opened() as uow:
        invoice = uow.invoices.get(placed.invoice.id)
        # Paid by hand here: the stores keep what the cabinet does next.
        service = uow.services.get(service_id)
        service.mark_paid(date(2024, 4, 5), Actor.system(), START, f"invoice {invoice.number}")
        service.begin_processing(ServiceOperation.OPENING, Actor.system(), START)
        uow.commit()
    provider = provider_over(opened)
    provider.services.finish(service_id, ip="203.0.113.5")
    provider.limits.record(service_id, "products", 998)
    cabinet_over(opened).services.stop(service_id)
    view = cabinet_over(opened).services.view(service_id)
    assert (view.ip, view.configuration, view.status, view.paid_until) == (
        "203.0.113.5",
        {"ipv4": Decimal(3)},
        ServiceStatus.STOPPED_BY_CLIENT,
        date(2024, 4, 5),
    )
    [products] = cabinet_over(opened).services.limits(service_id)
    assert str(products) == "products: 998 of 1000 (as of 2024-03-05)"
    page = cabinet_over(opened).services.list(limit=1)
    assert ([v.id for v in page.services], page.next_after) == ([service_id], None)
    assert [v.id for v in page] == [service_id]  # a page iterates over its services


@pytest.mark.spec("C5", "X6")
def test_a_daily_order_and_the_upcoming_invoices_over_every_store(
    opened: Callable[[], UnitOfWork],
) -> None:
    with opened() as uow:
        # A profile that may pay, and money for the first day of the cloud server.
        account = uow.accounts.get("acc-1")
        account.change_name("Fairy", "Anna")
        account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
        account.change_email("a@example.com")
        uow.ledgers.get("acc-1").top_up(Money("150.00", "EUR"), START, ref="gift", key="gift")
        uow.commit()
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month")
    [cloud] = cabinet_over(opened).orders.checkout_daily(cart, order_id="o-1").service_ids
    provider_over(opened).services.finish(cloud)
    view = cabinet_over(opened).services.view(cloud)
    assert (view.billing_mode, view.paid_until, view.status) == (
        BillingMode.DAILY,
        date(2024, 3, 5),
        ServiceStatus.ACTIVE,
    )
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month")
    [vps] = cabinet_over(opened).orders.checkout(cart, "balance", order_id="o-2").service_ids
    provider_over(opened).services.finish(vps)
    cabinet_over(opened).services.set_auto_renewal(vps)
    upcoming = cabinet_over(opened).services.upcoming(until=date(2024, 5, 31))
    assert [(i.service_id, i.period_end, str(i.total)) for i in upcoming.invoices] == [
        (vps, date(2024, 5, 5), "100.00 EUR"),
        (vps, date(2024, 6, 5), "100.00 EUR"),
    ]
