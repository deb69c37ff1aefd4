"""The upcoming invoices of an account, changing nothing (SPEC X6)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

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
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy
from cabinet_billing.rules.renewal import RenewalPolicy

pytestmark = pytest.mark.spec("X6")

START = datetime(2024, 1, 31, 9, tzinfo=UTC)
VPS = Plan(
    "vps",
    "VPS",
    ProductKind.VPS,
    {"month": Money("100.00", "EUR"), "year": Money("1000.00", "EUR")},
)


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            tax=TaxPolicy(TaxMode.EXCLUSIVE, {"DE": TaxRate("19")}),
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),),
            proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
            renewal=RenewalPolicy(lead_days=1, lead_days_by_kind={}),
        ),
        now=START,
    )
    account = Account.open("acc-1", "anna", currency="EUR", country="DE", email="a@example.com")
    account.change_name("Fairy", "Anna")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    s.billing.open_account(account, owner_id="u-1", owner_name="Anna")
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u-1")


def paid_vps(s: InMemoryBilling, order_id: str = "o-1") -> str:
    started = owner(s).payments.top_up(Money("119.00", "EUR"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month")
    service_id = owner(s).orders.checkout(cart, BALANCE_METHOD, order_id=order_id).service_ids[0]
    s.billing.services.finish(service_id)
    return service_id


def test_every_renewal_up_to_the_day_month_ends_kept(s: InMemoryBilling) -> None:
    service_id = paid_vps(s)
    owner(s).services.set_auto_renewal(service_id)
    before = copy.deepcopy(s.store.invoices.rows), dict(s.store.sequences)
    upcoming = owner(s).services.upcoming(until=date(2024, 5, 31))
    assert [
        (i.issued_on, i.period_start, i.period_end, str(i.total)) for i in upcoming.invoices
    ] == [
        (date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 31), "119.00 EUR"),
        (date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 30), "119.00 EUR"),
        (date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 31), "119.00 EUR"),
        (date(2024, 5, 30), date(2024, 5, 31), date(2024, 6, 30), "119.00 EUR"),
    ]
    assert str(upcoming.total("EUR")) == "476.00 EUR"
    assert str(upcoming.invoices[0].invoice.total.tax) == "19.00 EUR"
    # Nothing was issued or numbered.
    assert (copy.deepcopy(s.store.invoices.rows), dict(s.store.sequences)) == before


def test_a_renewal_period_changed_to_a_year_is_previewed_at_the_yearly_price(
    s: InMemoryBilling,
) -> None:
    service_id = paid_vps(s)
    owner(s).services.set_auto_renewal(service_id, period="year")
    [first] = owner(s).services.upcoming(until=date(2025, 1, 1)).invoices
    assert (first.issued_on, first.period_start, first.period_end, str(first.total)) == (
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2025, 2, 28),
        "1190.00 EUR",
    )


def test_a_service_without_auto_renewal_has_no_upcoming_invoice(s: InMemoryBilling) -> None:
    service_id = paid_vps(s)
    owner(s).services.switch_auto_renewal_off(service_id)
    assert len(owner(s).services.upcoming(until=date(2024, 12, 31))) == 0


def test_an_issued_renewal_invoice_is_not_upcoming(s: InMemoryBilling) -> None:
    service_id = paid_vps(s)
    owner(s).services.set_auto_renewal(service_id)
    owner(s).services.renew(service_id)
    upcoming = owner(s).services.upcoming(until=date(2024, 3, 31))
    assert [i.period_end for i in upcoming.invoices] == [date(2024, 4, 30)]


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (
            date(2024, 1, 30),
            "until=datetime.date(2024, 1, 30) is invalid: must not be before today 2024-01-31",
        ),
        (
            date(2040, 1, 1),
            "until=datetime.date(2040, 1, 1) is invalid: look at most 3660 days ahead of today 2024-01-31",
        ),
        ("2024-05-01", "until='2024-05-01' is invalid: give the last day as a datetime.date"),
    ],
)
def test_upcoming_refuses_a_bad_day(s: InMemoryBilling, until: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        owner(s).services.upcoming(until=until)  # type: ignore[arg-type]
    assert str(err.value) == message
