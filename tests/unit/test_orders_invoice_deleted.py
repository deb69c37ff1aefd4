"""Deleting an order's invoice cancels the order's services (SPEC C4, C5, L4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cabinet_billing import Account, BillingSettings, Cabinet, Cart, Money, Plan, ProductKind
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.orders import list_orders
from cabinet_billing.domain.service import Actor, Service, ServiceAction, ServiceStatus
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("C5")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
VPS = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "EUR")})


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY)), now=START
    )
    s.billing.open_account(
        Account.open("acc-1", "anna", currency="EUR"), owner_id="u-1", owner_name="Anna"
    )
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u-1")


def services(s: InMemoryBilling) -> list[Service]:
    with MemoryUnitOfWork(s.store) as uow:
        return list(uow.services.for_account("acc-1"))


def order(s: InMemoryBilling, order_id: str, items: int = 1) -> tuple[str, tuple[str, ...]]:
    cart = Cart("acc-1", "EUR")
    for _ in range(items):
        cart.add(VPS, "month")
    placed = owner(s).orders.checkout(cart, "card", order_id=order_id)
    return placed.invoice.id, placed.service_ids


def test_item_19_deleting_an_order_invoice_cancels_its_services(s: InMemoryBilling) -> None:
    invoice_id, service_ids = order(s, "o-1", items=2)
    owner(s).invoices.delete(invoice_id)
    cancelled = services(s)
    assert [(x.id, x.status) for x in cancelled] == [
        (service_ids[0], ServiceStatus.DELETED),
        (service_ids[1], ServiceStatus.DELETED),
    ]
    last = cancelled[0].history[-1]
    assert (last.action, last.actor, last.reason) == (
        ServiceAction.CANCEL,
        Actor.client("u-1"),
        "invoice INV-000001 deleted",
    )
    # Nothing is left awaiting payment, and nothing offers "pay" for the dead order.
    view = list_orders(cancelled, START.date())
    assert view.awaiting_payment == ()


def test_item_19_other_orders_and_paid_services_are_left_alone(s: InMemoryBilling) -> None:
    first, (kept,) = order(s, "o-1")
    second, _ = order(s, "o-2")
    owner(s).invoices.delete(second)
    statuses = {x.id: x.status for x in services(s)}
    assert statuses[kept] is ServiceStatus.ORDERED
    with MemoryUnitOfWork(s.store) as uow:
        assert uow.invoices.get(first).status is InvoiceStatus.UNPAID
        assert uow.invoices.get(second).status is InvoiceStatus.DELETED
