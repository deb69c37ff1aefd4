"""'Remember this method' during checkout: the provider's token arrives by webhook (R5)."""

# The tokens are the sandbox provider's made-up card references, not secrets.
# ruff: noqa: S106

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    CheckoutStarted,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.payment import EventOutcome, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.saved_method import MethodKind, SavedMethodStatus
from cabinet_billing.ports.repositories import UnitOfWork

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def wired(billing_unit_of_work: Callable[[], UnitOfWork]) -> tuple[Billing, SandboxGateway]:
    make_uow = billing_unit_of_work
    gateway = SandboxGateway(b"remember: a sandbox signing key of 32 bytes")
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(START),
            gateway=gateway,
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),)
        ),
    )
    account = Account.open("acc-1", "jill", email="jill@example.com", country="DE")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    billing.open_account(account, owner_id="u-1", owner_name="Jill")
    return billing, gateway


def owner(billing: Billing) -> Cabinet:
    return billing.cabinet("acc-1", "u-1")


@pytest.mark.spec("R5", "L6")
def test_a_method_remembered_at_checkout_is_saved_when_the_token_arrives(
    wired: tuple[Billing, SandboxGateway],
) -> None:
    billing, gateway = wired
    started = owner(billing).payments.top_up(Money("20.00", "EUR"), "card", remember=True)
    assert owner(billing).payments.methods() == ()
    credited = gateway.webhook(
        started.payment.id,
        PaymentEventKind.CREDITED,
        START,
        event_key="evt-1",
        method_token="tok_saved_4242",
        method_label="•••• 4242",
    )
    assert billing.webhooks.handle(*credited).outcome is EventOutcome.APPLIED
    assert billing.webhooks.handle(*credited).outcome is EventOutcome.DUPLICATE
    [view] = owner(billing).payments.methods()
    method = view.method
    assert (method.id, method.kind, method.label, method.name, method.status) == (
        f"sm-{started.payment.id}",
        MethodKind.CARD,
        "•••• 4242",
        "Card •••• 4242",
        SavedMethodStatus.ENABLED,
    )
    assert (method.token, method.provider, view.renews) == ("tok_saved_4242", "card", ())
    assert owner(billing).balance.get("EUR") == Money("20.00", "EUR")


@pytest.mark.spec("R5")
def test_a_token_the_customer_did_not_ask_to_remember_saves_nothing(
    wired: tuple[Billing, SandboxGateway],
) -> None:
    billing, gateway = wired
    started = owner(billing).payments.top_up(Money("20.00", "EUR"), "card")
    billing.webhooks.handle(
        *gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, START, method_token="tok_x")
    )
    assert owner(billing).payments.methods() == ()
    assert owner(billing).balance.get("EUR") == Money("20.00", "EUR")


@pytest.mark.spec("R5", "L2")
def test_paying_an_invoice_by_a_method_may_remember_it(
    wired: tuple[Billing, SandboxGateway],
) -> None:
    billing, gateway = wired
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
    placed = owner(billing).orders.place(
        cart.checkout("card", START.date(), order_id="o-1", tax=billing.settings.tax, country="DE")
    )
    started = owner(billing).invoices.pay(placed.invoice.id, method_id="card", remember=True)
    assert isinstance(started, CheckoutStarted)
    billing.webhooks.handle(
        *gateway.webhook(
            started.payment.id,
            PaymentEventKind.CREDITED,
            START,
            method_token="tok_1111",
            method_label="•••• 1111",
        )
    )
    [view] = owner(billing).payments.methods()
    assert (view.method.token, view.method.name) == ("tok_1111", "Card •••• 1111")
    # The saved card then pays by itself: the next invoice is paid with it.
    renewal = owner(billing).services.renew(placed.service_ids[0])
    paid = owner(billing).payments.pay_invoice(renewal.id, view.method.id)
    assert (paid.succeeded, paid.amount) == (True, Money("30.00", "EUR"))
