"""Settings that would give two accounts one invoice number are refused when built (L4)."""

from datetime import UTC, datetime

import pytest

from cabinet_billing import Account, BillingSettings, Cart, Money, PaymentMethod, Plan, ProductKind
from cabinet_billing.adapters.memory import in_memory_billing
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import PerAccountNumberingError


@pytest.mark.spec("L4")
def test_invoice_numbers_per_account_sequence_needs_the_account_in_the_template() -> None:
    with pytest.raises(PerAccountNumberingError) as error:
        BillingSettings(invoice_sequence_per_account=True)
    assert str(error.value).startswith("template='{prefix}-{seq:06}' is invalid: with a sequence")
    with pytest.raises(PerAccountNumberingError):
        BillingSettings(
            invoice_numbers=NumberFormat("{prefix}-{year}-{seq:05}"),
            invoice_sequence_per_account=True,
        )


@pytest.mark.spec("L4")
def test_invoice_numbers_per_account_sequence_numbers_each_account_from_one() -> None:
    s = in_memory_billing(
        BillingSettings(
            invoice_numbers=NumberFormat("{prefix}-{account}-{seq:03}"),
            invoice_prefix="HOR",
            invoice_sequence_per_account=True,
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
        ),
        now=datetime(2024, 5, 1, tzinfo=UTC),
    )
    numbers = []
    for account_id in ("11111", "22222"):
        s.billing.open_account(
            Account.open(account_id, f"shop{account_id}", currency="UAH", country="UA"),
            owner_id=f"u{account_id}",
            owner_name="Owner",
        )
        cart = Cart(account_id, "UAH")
        cart.add(Plan("b", "Business", ProductKind.SAAS, {"month": Money("100", "UAH")}), "month")
        order = cart.checkout(
            "card",
            s.clock.today(),
            order_id=f"o-{account_id}",
            tax=s.billing.settings.tax,
            country="UA",
        )
        placed = s.billing.cabinet(account_id, f"u{account_id}").orders.place(order)
        numbers.append(placed.invoice.number)
    assert numbers == ["HOR-11111-001", "HOR-22222-001"]
