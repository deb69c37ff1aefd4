"""Orders are priced by the cabinet, never taken as given (SPEC C1, C3, C4)."""

from __future__ import annotations

import copy
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
    ProductKind,
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.cart import Order
from cabinet_billing.domain.catalog import Catalog
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.promo import PromoCode
from cabinet_billing.domain.service import Service, ServiceOperation, ServiceStatus
from cabinet_billing.domain.tax import TaxAmounts
from cabinet_billing.errors import OrderRejectedError, PromoCodeError
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("C4")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
VPS = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "EUR")})
TEN = PromoCode.percentage("TEN", 10)
ONCE = PromoCode.percentage("WELCOME", 10, once_per_customer=True)
FREE = PromoCode.percentage("FREE", 100)
MANY = PromoCode.percentage("MANY", 10, once_per_customer=False)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def settings(**kw: object) -> BillingSettings:
    kw.setdefault("proration", ProrationPolicy(method=ProrationMethod.ANNIVERSARY))
    return BillingSettings(
        tax=TaxPolicy(TaxMode.EXCLUSIVE, {"DE": TaxRate("19"), "RU": TaxRate("20")}),
        payment_methods=(PaymentMethod("card", "Bank card", PaymentMethodPricing("EUR")),),
        currencies=("EUR",),
        catalog=Catalog([VPS]),
        promo_codes=(TEN, ONCE, FREE, MANY),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(settings(), now=START)
    for account_id in ("acc-1", "acc-2"):
        s.billing.open_account(
            Account.open(account_id, f"login-{account_id}", currency="EUR", country="DE"),
            owner_id=f"u-{account_id}",
            owner_name="Owner",
        )
    return s


def owner(s: InMemoryBilling, account_id: str = "acc-1") -> Cabinet:
    return s.billing.cabinet(account_id, f"u-{account_id}")


def cart_of(account_id: str = "acc-1", currency: str = "EUR", plan: Plan = VPS) -> Cart:
    cart = Cart(account_id, currency)
    cart.add(plan, "month")
    return cart


def checked_out(s: InMemoryBilling, cart: Cart, method: str = "card", **kw: object) -> Order:
    """An order checked out by the host, as a client could have sent it."""
    return cart.checkout(
        method,
        s.clock.today(),
        order_id=str(kw.pop("order_id", "o-1")),
        tax=kw.pop("tax", s.billing.settings.tax),  # type: ignore[arg-type]
        country=str(kw.pop("country", "DE")),
    )


def stored_service(s: InMemoryBilling, service_id: str) -> Service:
    with MemoryUnitOfWork(s.store) as uow:
        return uow.services.get(service_id)


def state(s: InMemoryBilling) -> object:
    store = s.store
    return (
        {
            name: copy.deepcopy(getattr(store, name).rows)
            for name in ("services", "invoices", "ledgers")
        },
        set(store.keys),
        dict(store.sequences),
        list(s.notifier.sent),
    )


def test_item_13_another_customers_order_is_refused(s: InMemoryBilling) -> None:
    order = checked_out(s, cart_of("acc-2"))
    before = state(s)
    with pytest.raises(OrderRejectedError) as err:
        owner(s).orders.place(order)
    assert str(err.value) == (
        "customer_id='acc-2' is invalid: this cabinet places orders of account 'acc-1' only"
    )
    assert state(s) == before


def test_item_13_unknown_method_is_refused(s: InMemoryBilling) -> None:
    before = state(s)
    with pytest.raises(OrderRejectedError) as err:
        owner(s).orders.place(checked_out(s, cart_of(), method="crypto"))
    assert str(err.value) == (
        "payment_method_id='crypto' is invalid: the methods offered in EUR are card, balance"
    )
    assert state(s) == before


def test_item_13_currency_the_settings_do_not_allow_is_refused(s: InMemoryBilling) -> None:
    usd = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "USD")})
    before = state(s)
    with pytest.raises(OrderRejectedError) as err:
        owner(s).orders.place(checked_out(s, cart_of(currency="USD", plan=usd)))
    assert str(err.value) == "currency='USD' is invalid: the settings take orders in EUR"
    assert state(s) == before


def test_item_13_tampered_line_price_is_repriced(s: InMemoryBilling) -> None:
    order = checked_out(s, cart_of())
    cheap = TaxAmounts(net=eur("0.01"), tax=eur("0.00"), gross=eur("0.01"))
    [line] = order.lines
    tampered = attrs.evolve(
        order, lines=(attrs.evolve(line, now=eur("0.01"), tax=cheap),), totals=cheap
    )
    placed = owner(s).orders.place(tampered)
    total = placed.invoice.total
    assert (str(total.net), str(total.tax), str(total.gross)) == (
        "100.00 EUR",
        "19.00 EUR",
        "119.00 EUR",
    )
    assert str(placed.invoice.lines[0].amounts.gross) == "119.00 EUR"


def test_item_13_tampered_plan_is_priced_from_the_catalog(s: InMemoryBilling) -> None:
    cheap = Plan("vps", "VPS", ProductKind.VPS, {"month": eur("1.00")})
    placed = owner(s).orders.place(checked_out(s, cart_of(plan=cheap)))
    assert str(placed.invoice.total.gross) == "119.00 EUR"
    service = stored_service(s, placed.service_ids[0])
    assert str(service.price) == "100.00 EUR"


def test_item_13_plan_the_catalog_does_not_sell_is_refused(s: InMemoryBilling) -> None:
    other = Plan("gold", "Gold", ProductKind.VPS, {"month": eur("1.00")})
    before = state(s)
    with pytest.raises(OrderRejectedError) as err:
        owner(s).orders.place(checked_out(s, cart_of(plan=other)))
    assert str(err.value) == "plan='gold' is invalid: the catalog sells the plans vps"
    assert state(s) == before


def test_item_13_tax_of_the_accounts_country(s: InMemoryBilling) -> None:
    # Checked out with Russia's 20 % although the account is in Germany (19 %).
    order = checked_out(s, cart_of(), country="RU")
    assert str(order.to_pay) == "120.00 EUR"
    placed = owner(s).orders.place(order)
    assert str(placed.invoice.total.tax) == "19.00 EUR"
    assert str(placed.invoice.total.gross) == "119.00 EUR"


def test_item_13_days_no_pricing_rule_gives_are_refused(s: InMemoryBilling) -> None:
    order = checked_out(s, cart_of())
    s.clock.advance(days=1)
    before = state(s)
    with pytest.raises(OrderRejectedError) as err:
        owner(s).orders.place(order)
    assert str(err.value) == (
        "covered='[2024-03-05, 2024-04-05)' is invalid: ordered on 2024-03-06 the order "
        "pays for [2024-03-06, 2024-04-06); check the cart out again"
    )
    assert state(s) == before


def test_item_13_unknown_promo_code_is_refused(s: InMemoryBilling) -> None:
    cart = cart_of()
    cart.apply_promo(PromoCode.percentage("MADEUP", 90), s.clock.today())
    before = state(s)
    with pytest.raises(PromoCodeError) as err:
        owner(s).orders.place(checked_out(s, cart))
    assert str(err.value) == (
        "promo code 'MADEUP' cannot be applied: it is not a code this cabinet offers"
    )
    assert state(s) == before


def test_checkout_prices_the_cart_for_the_account_and_empties_it(s: InMemoryBilling) -> None:
    cart = cart_of()
    cart.apply_promo(TEN, s.clock.today())
    placed = owner(s).orders.checkout(cart, "card", order_id="o-1")
    assert cart.items == ()
    total = placed.invoice.total
    assert (str(total.net), str(total.tax), str(total.gross)) == (
        "90.00 EUR",
        "17.10 EUR",
        "107.10 EUR",
    )
    assert placed.invoice.payment_method_id == "card"
    assert placed.invoice.status is InvoiceStatus.UNPAID


@pytest.mark.spec("C2")
def test_checkout_anchors_the_service_on_the_proration_cycle() -> None:
    s = in_memory_billing(
        settings(proration=ProrationPolicy(method=ProrationMethod.CALENDAR, alignment_day=1)),
        now=START,
    )
    s.billing.open_account(
        Account.open("acc-1", "jill", currency="EUR", country="DE"),
        owner_id="u-acc-1",
        owner_name="Jill",
    )
    placed = owner(s).orders.checkout(cart_of(), "card", order_id="o-1")
    # 5 to 31 March of a 31-day month: 27/31 of 100.00.
    assert str(placed.invoice.total.net) == "87.10 EUR"
    assert placed.invoice.lines[0].paid_until == date(2024, 4, 1)
    service = stored_service(s, placed.service_ids[0])
    assert service.anchor == date(2024, 3, 1)


def test_checkout_refused_leaves_the_cart(s: InMemoryBilling) -> None:
    cart = cart_of()
    with pytest.raises(OrderRejectedError):
        owner(s).orders.checkout(cart, "crypto", order_id="o-1")
    assert len(cart.items) == 1


# ----------------------------------------------------------------- promo codes (item 15)


@pytest.mark.parametrize("via", ["place", "checkout"])
def test_item_15_once_per_customer_code_is_refused_the_second_time(
    s: InMemoryBilling, via: str
) -> None:
    def order(order_id: str) -> object:
        cart = cart_of()
        cart.apply_promo(ONCE, s.clock.today())
        if via == "place":
            return owner(s).orders.place(checked_out(s, cart, order_id=order_id))
        return owner(s).orders.checkout(cart, "card", order_id=order_id)

    order("o-1")
    before = state(s)
    with pytest.raises(PromoCodeError) as err:
        order("o-2")
    assert str(err.value) == (
        "promo code 'WELCOME' cannot be applied: it was already used; each customer may use it once"
    )
    assert state(s) == before
    # Another customer may still use it.
    cart = Cart("acc-2", "EUR")
    cart.add(VPS, "month")
    cart.apply_promo(ONCE, s.clock.today())
    placed = owner(s, "acc-2").orders.checkout(cart, "card", order_id="o-3")
    assert str(placed.invoice.total.gross) == "107.10 EUR"


def test_item_15_code_usable_many_times_is_accepted_again(s: InMemoryBilling) -> None:
    for order_id in ("o-1", "o-2"):
        cart = cart_of()
        cart.apply_promo(MANY, s.clock.today())
        placed = owner(s).orders.checkout(cart, "card", order_id=order_id)
        assert str(placed.invoice.total.gross) == "107.10 EUR"


def test_item_15_full_discount_order_is_paid_at_once(s: InMemoryBilling) -> None:
    cart = cart_of()
    cart.apply_promo(FREE, s.clock.today())
    placed = owner(s).orders.checkout(cart, "card", order_id="o-1")
    invoice = placed.invoice
    assert str(invoice.total.gross) == "0.00 EUR"
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.closed_on == s.clock.today()
    service = stored_service(s, placed.service_ids[0])
    balance = owner(s).balance.get("EUR")
    assert service.paid
    assert service.paid_until == date(2024, 4, 5)
    assert (service.status, service.operation) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.OPENING,
    )
    assert balance == eur("0")
    assert [type(e).__name__ for e in placed.events] == [
        "OrderPlaced",
        "InvoiceIssued",
        "InvoicePaid",
        "ServicePaid",
    ]
