"""Refunds through the use cases: whatever the order of top-ups, orders and (partial)
refunds, the books agree and nothing is taken back twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cabinet_billing import (
    Account,
    BillingSettings,
    Cart,
    Money,
    PaymentMethod,
    PaymentStatus,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


def rub(amount: Decimal | str) -> Money:
    return Money(amount, "RUB")


def wired() -> InMemoryBilling:
    card = PaymentMethodPricing(
        "RUB", fee_percent="5", fixed_fee=rub("10.00"), cashback_percent="10"
    )
    s = in_memory_billing(
        BillingSettings(
            payment_methods=(
                PaymentMethod("card", "Card", card),
                PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
            ),
        ),
        now=START,
    )
    account = Account.open("acc-1", "jill", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return s


CENTS = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), CENTS, st.sampled_from(["card", "wallet"])),
        st.tuples(st.just("order"), CENTS, st.just("")),
        # refund of the n-th payment: a share of what is left (1 = all of it)
        st.tuples(
            st.just("refund"),
            st.integers(min_value=0, max_value=9).map(Decimal),
            st.sampled_from(["all", "0.5", "0.33", "0.01"]),
        ),
    ),
    min_size=1,
    max_size=14,
)


@pytest.mark.spec("L6", "M6", "L1", "L3")
@settings(max_examples=60)
@given(steps=STEPS)
def test_refunds_keep_the_books_in_agreement(steps: list[tuple[str, Decimal, str]]) -> None:
    s = wired()
    cabinet = s.billing.cabinet("acc-1", "u1")
    payments: list[str] = []
    for n, (kind, value, extra) in enumerate(steps):
        if kind == "top_up":
            started = cabinet.payments.top_up(rub(value), extra)
            s.billing.webhooks.handle(
                *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, START)
            )
            payments.append(started.payment.id)
        elif kind == "order":
            cart = Cart("acc-1", "RUB")
            cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub(value)}), "month")
            # Checked out with the balance: the order spends what the top-ups brought.
            order = cart.checkout(
                "balance",
                s.clock.today(),
                order_id=f"o-{n}",
                tax=s.billing.settings.tax,
                country="RU",
            )
            cabinet.orders.place(order)
        elif payments:
            payment = s.store.payments.rows[payments[int(value) % len(payments)]]
            left = payment.refundable
            amount = (
                None if extra == "all" else s.billing.settings.rounding.minor(left * Decimal(extra))
            )
            if not left.amount or (amount is not None and not amount.amount):
                continue
            s.billing.webhooks.handle(
                *s.gateway.webhook(payment.id, PaymentEventKind.REFUNDED, START, amount=amount)
            )
        ledger = s.store.ledgers.rows.get("acc-1")
        book = s.store.expenses.rows.get("acc-1")
        if ledger is None or book is None:
            continue
        assert ledger.verify()
        assert ledger.balance("RUB") == book.available("RUB") - book.owed("RUB")
        for payment in s.store.payments.rows.values():
            taken = sum(
                (
                    -e.amount.amount
                    for e in ledger
                    if e.kind is EntryKind.REFUND and e.ref == payment.id
                ),
                Decimal(0),
            )
            assert rub(taken) == payment.refunded_share(payment.amount)
            assert payment.refunded <= payment.paid
            if payment.status is PaymentStatus.REFUNDED:
                assert rub(taken) == payment.amount
