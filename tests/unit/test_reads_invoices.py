"""Quotes, re-issuing and cancelling invoices through the cabinet and the staff (SPEC L4)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    InvalidTransitionError,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    ValidationError,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.app.results import OrderResult
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceStatus
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing

START = datetime(2024, 3, 5, 10, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.fixture
def s() -> InMemoryBilling:
    setup = in_memory_billing(
        BillingSettings(
            payment_methods=(
                PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),
                PaymentMethod("bank_transfer", "Bank transfer", PaymentMethodPricing("RUB")),
            ),
        ),
        now=START,
    )
    account = Account.open("acc-1", "jfairy", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    setup.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return setup


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u1")


def order(s: InMemoryBilling, price: str = "500.00") -> OrderResult:
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
    cart = Cart("acc-1", "RUB")
    cart.add(plan, "month")
    return owner(s).orders.place(
        cart.checkout(
            "card", s.clock.today(), order_id="o-1", tax=s.billing.settings.tax, country="RU"
        )
    )


@pytest.mark.spec("L4")
def test_a_quote_is_requested_for_an_unpaid_invoice_only(s: InMemoryBilling) -> None:
    placed = order(s)
    invoices = owner(s).invoices
    s.clock.advance(days=1)
    quoted = invoices.request_quote(placed.invoice.id)
    assert quoted.quote_requests == (date(2024, 3, 6),)
    assert invoices.get(placed.invoice.id).quote_requests == (date(2024, 3, 6),)
    invoices.delete(placed.invoice.id)
    with pytest.raises(InvalidTransitionError, match="request a quote"):
        invoices.request_quote(placed.invoice.id)


@pytest.mark.spec("L4", "C4")
def test_an_unpaid_invoice_is_reissued_with_the_same_lines_and_a_new_number(
    s: InMemoryBilling,
) -> None:
    placed = order(s)
    service_id = placed.service_ids[0]
    s.clock.advance(days=20)  # past its due date
    invoices = owner(s).invoices
    assert [i.id for i in invoices.list("overdue")] == [placed.invoice.id]
    again = invoices.reissue(placed.invoice.id)
    new = again.invoice
    assert (again.deleted.status, new.status) == (InvoiceStatus.DELETED, InvoiceStatus.UNPAID)
    assert (new.number, new.issued_on, new.due_on) == (
        "INV-000002",
        date(2024, 3, 25),
        date(2024, 4, 8),
    )
    assert (new.lines, new.total, new.kind, new.payment_method_id) == (
        placed.invoice.lines,
        placed.invoice.total,
        InvoiceKind.ORDER,
        "card",
    )
    assert [i.id for i in invoices.list()] == [new.id]
    assert [i.id for i in invoices.list("all", service_id=service_id)] == [new.id]
    assert s.notifier.kinds("acc-1")[-1] == "invoice.issued"
    # The order's service still waits for payment: paying the new invoice opens it.
    assert s.store.services.rows[service_id].awaiting_payment
    # An order is paid by the method chosen at checkout (C4).
    with pytest.raises(ValidationError, match="method chosen at checkout \\(card\\)"):
        invoices.reissue(new.id, method_id="bank_transfer")
    with pytest.raises(InvalidTransitionError):
        invoices.reissue(placed.invoice.id)
    assert [i.id for i in invoices.list("all")] == [new.id]


@pytest.mark.spec("L4")
def test_a_renewal_invoice_is_reissued_for_another_method(s: InMemoryBilling) -> None:
    placed = order(s, "100.00")
    started = owner(s).invoices.pay(placed.invoice.id, method_id="card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())  # type: ignore[union-attr]
    )
    renewal = owner(s).services.renew(placed.service_ids[0])
    again = owner(s).invoices.reissue(renewal.id, method_id="bank_transfer")
    assert (again.invoice.kind, again.invoice.payment_method_id) == (
        InvoiceKind.RENEWAL,
        "bank_transfer",
    )
    assert again.invoice.lines[0].paid_until == renewal.lines[0].paid_until


@pytest.mark.spec("L4")
def test_the_provider_cancels_an_unpaid_invoice_with_a_reason(s: InMemoryBilling) -> None:
    placed = order(s)
    with pytest.raises(ValidationError, match="say why"):
        s.billing.staff.cancel_invoice("acc-1", placed.invoice.id, reason=" ")
    cancelled = s.billing.staff.cancel_invoice("acc-1", placed.invoice.id, reason="out of stock")
    assert (cancelled.status, cancelled.reason) == (InvoiceStatus.CANCELLED, "out of stock")
    invoices = owner(s).invoices
    assert [i.status for i in invoices.list("all")] == [InvoiceStatus.CANCELLED]
    assert invoices.list().total == 0
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        owner(s).invoices.reissue(placed.invoice.id)
    assert s.store.services.rows[placed.service_ids[0]].status.value == "deleted"
