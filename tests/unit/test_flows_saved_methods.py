"""Saved payment methods through the cabinet: list, rename, pay with one, delete (SPEC R5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    InvoiceStatus,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.adapters.sandbox import Outcome
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.saved_method import MethodKind, SavedMethodStatus, mask_card
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import (
    NotFoundError,
    PaymentMethodFixedError,
    ProfileIncompleteError,
    ValidationError,
)

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def visa(method_id: str = "m-1", last4: str = "4242") -> SavedPaymentMethod:
    return SavedPaymentMethod(
        method_id, "acc-1", MethodKind.CARD, f"tok_{last4}", f"Visa {last4}", mask_card(last4)
    )


@pytest.fixture
def s() -> InMemoryBilling:
    setup = in_memory_billing(
        BillingSettings(
            payment_methods=(
                PaymentMethod("card", "Card", PaymentMethodPricing("EUR", fee_percent="2")),
                PaymentMethod("crypto", "Crypto", PaymentMethodPricing("EUR")),
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


def place(s: InMemoryBilling, method: str, order_id: str) -> tuple[str, str]:
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": eur("50.00")}), "month")
    placed = owner(s).orders.place(
        cart.checkout(
            method, s.clock.today(), order_id=order_id, tax=s.billing.settings.tax, country="DE"
        )
    )
    return placed.service_ids[0], placed.invoice.id


@pytest.mark.spec("R5", "L2")
def test_an_invoice_is_paid_with_a_saved_method_at_its_fee(s: InMemoryBilling) -> None:
    owner(s).payments.bind_card(visa())  # verified with a refunded 1.00 EUR charge
    service_id, invoice_id = place(s, "card", "o-1")
    paid = owner(s).payments.pay_invoice(invoice_id, "m-1")
    assert (paid.invoice_id, paid.amount, paid.succeeded) == (invoice_id, eur("51.00"), True)
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.PAID
    assert s.store.services.rows[service_id].paid
    # The balance is left as it was: the payment went to its invoice.
    assert owner(s).balance.get("EUR") == eur("0")


@pytest.mark.spec("R5")
def test_a_declined_saved_method_leaves_the_invoice_unpaid_and_may_be_tried_again(
    s: InMemoryBilling,
) -> None:
    owner(s).payments.bind_card(visa())
    _, invoice_id = place(s, "card", "o-1")
    s.gateway.script("tok_4242", Outcome.DECLINE, Outcome.SUCCEED)
    declined = owner(s).payments.pay_invoice(invoice_id, "m-1")
    assert (declined.succeeded, declined.method.status) == (False, SavedMethodStatus.NOT_WORKING)
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.UNPAID
    # A new try is a new charge (a new key), not the declined answer again.
    again = owner(s).payments.pay_invoice(invoice_id, "m-1")
    assert (again.succeeded, again.method.status) == (True, SavedMethodStatus.ENABLED)
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.PAID


@pytest.mark.spec("R5", "C4", "A2")
def test_paying_with_a_saved_method_follows_the_rules_of_paying(s: InMemoryBilling) -> None:
    owner(s).payments.bind_card(visa())
    _, crypto_invoice = place(s, "crypto", "o-1")
    with pytest.raises(PaymentMethodFixedError, match="by 'crypto', not by 'card'"):
        owner(s).payments.pay_invoice(crypto_invoice, "m-1")
    with pytest.raises(NotFoundError, match="m-9"):
        owner(s).payments.pay_invoice(crypto_invoice, "m-9")
    with MemoryUnitOfWork(s.store) as uow:
        uow.accounts.get("acc-1").change_name("", "Jill")
        uow.commit()
    with pytest.raises(ProfileIncompleteError):
        owner(s).payments.pay_invoice(crypto_invoice, "m-1")
    assert s.store.invoices.rows[crypto_invoice].status is InvoiceStatus.UNPAID


@pytest.mark.spec("R5", "R4")
def test_saved_methods_are_listed_with_what_they_renew_renamed_and_deleted(
    s: InMemoryBilling,
) -> None:
    owner(s).payments.bind_card(visa("m-1", "4242"))
    owner(s).payments.bind_card(visa("m-2", "1111"))
    service_id, invoice_id = place(s, "card", "o-1")
    owner(s).payments.pay_invoice(invoice_id, "m-1")
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    owner(s).services.set_auto_renewal(service_id, method_id="m-1")
    listed = owner(s).payments.methods()
    assert [(v.method.id, v.method.name, v.renews) for v in listed] == [
        ("m-1", "Visa 4242", (service_id,)),
        ("m-2", "Visa 1111", ()),
    ]
    renamed = owner(s).payments.rename_method("m-1", "Company card")
    assert renamed.name == "Company card"
    with pytest.raises(ValidationError):
        owner(s).payments.rename_method("m-1", "4242 4242 4242 4242")
    assert owner(s).payments.methods()[0].method.name == "Company card"
    # Deleting it switches its services' renewal by card off.
    assert owner(s).payments.delete_method("m-1") == (service_id,)
    assert [v.method.id for v in owner(s).payments.methods()] == ["m-2"]
    assert not s.store.services.rows[service_id].auto_renew
    subscription = s.store.profiles.rows["acc-1"].subscription(service_id)
    assert subscription is not None
    assert not subscription.enabled
