"""The payment method is fixed at checkout (SPEC C4), through the cabinet's use cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    CheckoutStarted,
    InvoiceStatus,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkPolicy, PayLinkSigner
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.saved_method import (
    BindingAction,
    MethodKind,
    SavedPaymentMethod,
    mask_card,
)
from cabinet_billing.errors import ConflictError, PaymentMethodFixedError

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


@pytest.fixture
def s() -> InMemoryBilling:
    setup = in_memory_billing(
        BillingSettings(
            payment_methods=tuple(
                PaymentMethod(m, m.title(), PaymentMethodPricing("EUR"))
                for m in ("card", "crypto", "wallet")
            ),
            pay_links=PayLinkSigner(
                PayLinkKeys("k1", {"k1": b"pay links: a signing key of 32 bytes or more"}),
                PayLinkPolicy(),
            ),
        ),
        now=START,
    )
    account = Account.open("acc-1", "jill", email="jill@example.com", country="DE")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    setup.billing.open_account(account, owner_id="u-1", owner_name="Jill")
    return setup


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u-1")


def place(s: InMemoryBilling, method: str, order_id: str = "o-1") -> str:
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": eur("30.00")}), "month")
    order = cart.checkout(
        method, s.clock.today(), order_id=order_id, tax=s.billing.settings.tax, country="DE"
    )
    return owner(s).orders.place(order).invoice.id


def top_up(s: InMemoryBilling, amount: str) -> None:
    payment = owner(s).payments.top_up(eur(amount), "wallet").payment
    s.billing.webhooks.handle(*s.gateway.webhook(payment.id, PaymentEventKind.CREDITED, START))


def state(s: InMemoryBilling) -> tuple[object, ...]:
    return (
        owner(s).balance.get("EUR"),
        sorted(p.id for p in s.store.payments.rows.values()),
        sorted((i.id, i.status) for i in s.store.invoices.rows.values()),
    )


@pytest.mark.spec("C4")
def test_item_14_an_order_checked_out_for_card_is_not_paid_by_another_method(
    s: InMemoryBilling,
) -> None:
    invoice_id = place(s, "card")
    before = state(s)
    with pytest.raises(PaymentMethodFixedError) as refused:
        owner(s).invoices.pay(invoice_id, method_id="crypto")
    assert isinstance(refused.value, ConflictError)
    assert (refused.value.invoice_id, refused.value.fixed, refused.value.asked) == (
        invoice_id,
        "card",
        "crypto",
    )
    assert str(refused.value) == (
        f"invoice {invoice_id!r}: was checked out to be paid by 'card', not by 'crypto': "
        "pay it by 'card', or delete it and place a new order to pay another way"
    )
    assert state(s) == before
    # Its own method pays it.
    started = owner(s).invoices.pay(invoice_id, method_id="card")
    assert isinstance(started, CheckoutStarted)
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, START)
    )
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.PAID


@pytest.mark.spec("C4", "L2")
def test_item_14_an_order_checked_out_for_card_is_not_paid_from_the_balance(
    s: InMemoryBilling,
) -> None:
    invoice_id = place(s, "card")
    # Money arriving later does not pay it either: the order waits for its card.
    top_up(s, "100.00")
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.UNPAID
    before = state(s)
    assert before[0] == eur("100.00")
    with pytest.raises(PaymentMethodFixedError, match="not by 'balance'"):
        owner(s).invoices.pay(invoice_id)
    assert state(s) == before


@pytest.mark.spec("C4", "L2")
def test_item_14_an_order_checked_out_for_the_balance_is_paid_from_it_only(
    s: InMemoryBilling,
) -> None:
    invoice_id = place(s, "balance")
    with pytest.raises(PaymentMethodFixedError, match="by 'balance', not by 'card'"):
        owner(s).invoices.pay(invoice_id, method_id="card")
    # A top-up is the way: the balance then pays it.
    top_up(s, "50.00")
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.PAID
    assert owner(s).balance.get("EUR") == eur("20.00")


@pytest.mark.spec("C4", "L5")
def test_item_14_a_pay_link_pays_only_by_the_method_of_the_order(s: InMemoryBilling) -> None:
    invoice_id = place(s, "card")
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link(invoice_id)
    before = state(s)
    with pytest.raises(PaymentMethodFixedError, match="not by 'crypto'"):
        s.billing.pay_links.pay(link.token, "crypto")
    assert state(s) == before
    assert isinstance(s.billing.pay_links.pay(link.token, "card"), CheckoutStarted)


@pytest.mark.spec("C4", "L5")
def test_item_14_no_pay_link_for_an_order_checked_out_for_the_balance(s: InMemoryBilling) -> None:
    invoice_id = place(s, "balance")
    owner(s).payments.set_pay_without_login(True)
    before = state(s)
    with pytest.raises(PaymentMethodFixedError) as refused:
        owner(s).invoices.pay_link(invoice_id)
    assert (refused.value.fixed, refused.value.asked) == ("balance", "a pay link")
    assert state(s) == before
    # An order checked out for a method gets its link.
    assert owner(s).invoices.pay_link(place(s, "card", order_id="o-2")).token


@pytest.mark.spec("C4", "L4")
def test_item_14_changing_the_method_needs_a_new_order(s: InMemoryBilling) -> None:
    first = place(s, "card")
    owner(s).invoices.delete(first)
    second = place(s, "crypto", order_id="o-2")
    started = owner(s).invoices.pay(second, method_id="crypto")
    assert isinstance(started, CheckoutStarted)
    assert started.payment.invoice_id == second


@pytest.mark.spec("C4", "L2")
def test_item_14_an_order_checked_out_for_card_is_not_paid_from_the_balance_when_placed(
    s: InMemoryBilling,
) -> None:
    top_up(s, "100.00")
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": eur("30.00")}), "month")
    placed = owner(s).orders.checkout(cart, "card", order_id="o-1")
    # The balance covers it, but the customer chose the card: the order waits for it.
    assert (placed.paid_from_balance, placed.invoice.status) == (False, InvoiceStatus.UNPAID)
    assert owner(s).balance.get("EUR") == eur("100.00")
    assert [
        e.kind.value
        for e in owner(s).balance.statement(START.date(), START.date() + timedelta(days=1)).entries
    ] == ["top_up"]
    # The same order checked out with the balance is paid from it at once.
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": eur("30.00")}), "month")
    by_balance = owner(s).orders.checkout(cart, "balance", order_id="o-2")
    assert (by_balance.paid_from_balance, by_balance.invoice.status) == (True, InvoiceStatus.PAID)
    assert owner(s).balance.get("EUR") == eur("70.00")
    assert s.store.invoices.rows[placed.invoice.id].status is InvoiceStatus.UNPAID


@pytest.mark.spec("C4", "R5")
def test_item_14_binding_a_card_pays_only_an_invoice_the_card_may_pay(
    s: InMemoryBilling,
) -> None:
    crypto = place(s, "crypto")
    by_balance = place(s, "balance", order_id="o-2")
    card = SavedPaymentMethod(
        "m-1", "acc-1", MethodKind.CARD, "tok_4242", "Visa", mask_card("4242")
    )
    # Older invoices checked out for crypto and the balance: the card pays neither of them.
    bound = owner(s).payments.bind_card(card)
    assert (bound.action, bound.invoice_id) == (BindingAction.VERIFY_AND_REFUND, None)
    assert [s.store.invoices.rows[i].status for i in (crypto, by_balance)] == [
        InvoiceStatus.UNPAID,
        InvoiceStatus.UNPAID,
    ]
    # An order checked out for a card is what a card binding pays.
    by_card = place(s, "card", order_id="o-3")
    other = SavedPaymentMethod("m-2", "acc-1", MethodKind.CARD, "tok_5555", "MC", mask_card("5555"))
    bound = owner(s).payments.bind_card(other)
    assert (bound.action, bound.invoice_id) == (BindingAction.PAY_INVOICE, by_card)
    assert s.store.invoices.rows[by_card].status is InvoiceStatus.PAID
    assert s.store.invoices.rows[crypto].status is InvoiceStatus.UNPAID


@pytest.mark.spec("C4", "R5")
def test_item_14_a_saved_card_pays_an_order_checked_out_for_its_provider_or_for_card(
    s: InMemoryBilling,
) -> None:
    card = SavedPaymentMethod(
        "m-1", "acc-1", MethodKind.CARD, "tok_4242", "Visa", mask_card("4242"), provider="wallet"
    )
    owner(s).payments.bind_card(card)
    by_card = place(s, "card")
    by_provider = place(s, "wallet", order_id="o-2")
    by_crypto = place(s, "crypto", order_id="o-3")
    assert owner(s).payments.pay_invoice(by_card, "m-1").succeeded
    assert owner(s).payments.pay_invoice(by_provider, "m-1").succeeded
    before = state(s)
    with pytest.raises(PaymentMethodFixedError, match="by 'crypto', not by 'wallet'"):
        owner(s).payments.pay_invoice(by_crypto, "m-1")
    assert state(s) == before
