from __future__ import annotations

from datetime import date

import attrs
import pytest

from cabinet_billing.domain.cart import Cart, FullPeriod, Order
from cabinet_billing.domain.catalog import AddOn, Plan, ProductKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import DateRange, Period
from cabinet_billing.domain.promo import PromoCode
from cabinet_billing.domain.tax import TaxMode, TaxPolicy, TaxRate
from cabinet_billing.errors import (
    NotFoundError,
    PriceNotFoundError,
    PromoCodeError,
    ValidationError,
)
from cabinet_billing.rules.proration import ProrationPolicy

pytestmark = pytest.mark.spec("C4")

MAY_2 = date(2023, 5, 2)
EXCLUSIVE_10 = TaxPolicy(TaxMode.EXCLUSIVE, {"RU": TaxRate("10")})
INCLUSIVE_20 = TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")})
CALENDAR = ProrationPolicy()


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def dc16() -> Plan:
    return Plan(
        "dc16",
        "DC16",
        ProductKind.SERVER,
        {"month": rub("495.00")},
        addons=[
            AddOn("traffic", "Traffic", {"month": rub("110.00")}, "GiB", block=5120),
            AddOn("ipv4", "Public IPv4", {"month": rub("150.00")}, included=3, maximum=8),
            AddOn("power", "Power", {"month": rub("55.00")}, "kWh", minimum=1),
        ],
    )


def simple_plan() -> Plan:
    return Plan("test", "Test", ProductKind.OTHER, {"month": rub("20.00"), "day": rub("1.00")})


def ac_cart() -> Cart:
    cart = Cart("c1", "RUB")
    cart.add(dc16(), "month", {"traffic": 5120})
    return cart


@pytest.mark.spec("C3")
def test_ac_cart_now_price_then_price_and_exclusive_tax() -> None:
    summary = ac_cart().price(MAY_2, tax=EXCLUSIVE_10, country="RU", proration=CALENDAR)
    (line,) = summary.lines
    assert line.now == rub("638.71")
    assert line.then == rub("660.00")
    assert line.covered == DateRange(MAY_2, date(2023, 6, 1))
    assert line.now_lines == (rub("479.03"), rub("106.45"), rub("0.00"), rub("53.23"))
    assert line.discount == rub("0.00")
    assert (line.tax.net, line.tax.tax, line.tax.gross) == (
        rub("638.71"),
        rub("63.87"),
        rub("702.58"),
    )
    assert summary.subtotal == rub("638.71")
    assert summary.then == rub("660.00")
    assert summary.to_pay == rub("702.58")
    assert summary.promo_code is None


def test_ac_inclusive_tax_one_item_for_20() -> None:
    cart = Cart("c1", "RUB")
    cart.add(simple_plan(), "month")
    summary = cart.price(date(2023, 4, 20), tax=INCLUSIVE_20, country="RU")
    assert summary.totals.gross == rub("20.00")
    assert summary.totals.tax == rub("3.33")
    assert summary.totals.net == rub("16.67")
    assert summary.lines[0].covered == DateRange(date(2023, 4, 20), date(2023, 5, 20))


def test_without_a_proration_rule_the_now_price_is_a_full_period() -> None:
    summary = ac_cart().price(MAY_2, tax=EXCLUSIVE_10, country="RU", proration=FullPeriod())
    assert summary.lines[0].now == rub("660.00")
    assert summary.lines[0].covered == DateRange(MAY_2, date(2023, 6, 2))


def test_percentage_promo_is_applied_before_tax() -> None:
    cart = ac_cart()
    cart.apply_promo(PromoCode.percentage("TEN", 10), MAY_2)
    summary = cart.price(MAY_2, tax=EXCLUSIVE_10, country="RU", proration=CALENDAR)
    line = summary.lines[0]
    assert line.discount == rub("63.87")
    assert line.price == rub("574.84")
    assert line.tax.tax == rub("57.48")
    assert summary.totals.gross == rub("632.32")
    assert summary.discount == rub("63.87")
    assert line.then == rub("660.00")
    assert summary.promo_code == "TEN"


def test_promo_limited_to_a_plan_discounts_only_its_items() -> None:
    cart = ac_cart()
    cart.add(simple_plan(), "month")
    cart.apply_promo(PromoCode.percentage("TEST50", 50, plan_ids=["test"]), MAY_2)
    summary = cart.price(MAY_2, tax=INCLUSIVE_20, country="RU", proration=CALENDAR)
    assert [line.discount for line in summary.lines] == [rub("0.00"), rub("9.68")]
    # test: 20.00 * 30/31 = 19.35, half of it 9.675 -> 9.68.
    assert summary.lines[1].now == rub("19.35")
    assert summary.totals.gross == rub("648.38")


def test_fixed_promo_is_spread_over_eligible_items() -> None:
    cart = Cart("c1", "RUB")
    cart.add(simple_plan(), "month")
    cart.add(simple_plan(), "month")
    cart.add(simple_plan(), "day")
    cart.apply_promo(PromoCode.fixed("TEN", rub("10.00"), periods=["month"]), MAY_2)
    summary = cart.price(MAY_2, tax=INCLUSIVE_20, country="RU")
    assert [line.discount for line in summary.lines] == [rub("5.00"), rub("5.00"), rub("0.00")]
    assert summary.discount == rub("10.00")
    assert summary.totals.gross == rub("31.00")


def test_fixed_promo_larger_than_the_order_makes_it_free() -> None:
    cart = Cart("c1", "RUB")
    cart.add(simple_plan(), "month")
    cart.apply_promo(PromoCode.fixed("BIG", rub("100.00")), MAY_2)
    summary = cart.price(MAY_2, tax=INCLUSIVE_20, country="RU")
    assert summary.discount == rub("20.00")
    assert summary.to_pay == rub("0.00")


def test_expired_promo_is_refused_and_the_cart_is_unchanged() -> None:
    cart = ac_cart()
    with pytest.raises(PromoCodeError, match=r"it expired on 2023-04-30"):
        cart.apply_promo(PromoCode.percentage("OLD", 10, expires_on=date(2023, 4, 30)), MAY_2)
    assert cart.promo is None


def test_used_promo_is_refused() -> None:
    cart = ac_cart()
    with pytest.raises(PromoCodeError, match=r"already used"):
        cart.apply_promo(PromoCode.percentage("ONCE", 10), MAY_2, already_used=True)
    assert cart.promo is None


def test_promo_for_no_item_in_the_cart_is_refused() -> None:
    cart = ac_cart()
    with pytest.raises(PromoCodeError) as err:
        cart.apply_promo(PromoCode.percentage("Y", 10, periods=["year"]), MAY_2)
    assert str(err.value) == (
        "promo code 'Y' cannot be applied: it applies to no item in the cart "
        "(plans: any plan; periods: 1 year)"
    )
    assert cart.promo is None


def test_fixed_promo_in_another_currency_is_refused() -> None:
    cart = ac_cart()
    with pytest.raises(PromoCodeError, match=r"a discount in EUR; the cart is in RUB"):
        cart.apply_promo(PromoCode.fixed("E", Money("5.00", "EUR")), MAY_2)
    assert cart.promo is None


def test_remove_promo() -> None:
    cart = ac_cart()
    cart.apply_promo(PromoCode.percentage("TEN", 10), MAY_2)
    cart.remove_promo()
    assert cart.promo is None


def test_add_change_and_remove_items() -> None:
    cart = Cart("c1", "RUB")
    first = cart.add(dc16(), "month", {"traffic": 5120})
    second = cart.add(simple_plan(), "day")
    assert [i.id for i in cart.items] == ["1", "2"]
    changed = cart.change(second.id, period="month")
    assert changed.period == Period.months()
    assert cart.item("2").period == Period.months()
    cart.change(first.id, quantities={"traffic": 5120, "ipv4": 5})
    assert dict(cart.item("1").quantities) == {"traffic": 5120, "ipv4": 5}
    cart.remove("1")
    assert [i.id for i in cart.items] == ["2"]
    third = cart.add(simple_plan())
    assert third.id == "3"


def test_adding_an_unpriced_period_is_refused_and_the_cart_is_unchanged() -> None:
    cart = ac_cart()
    with pytest.raises(
        PriceNotFoundError, match=r"plan 'dc16' for 1 year in RUB; available: 1 month RUB"
    ):
        cart.add(dc16(), "year")
    assert len(cart.items) == 1


def test_changing_to_a_bad_quantity_is_refused_and_the_item_is_unchanged() -> None:
    cart = ac_cart()
    with pytest.raises(
        ValidationError, match=r"quantity of ipv4=9 is invalid: allowed from 0 to 8"
    ):
        cart.change("1", quantities={"ipv4": 9})
    assert dict(cart.item("1").quantities) == {"traffic": 5120}


def test_unknown_item_is_not_found() -> None:
    cart = ac_cart()
    with pytest.raises(NotFoundError, match=r"no cart item with id '9'"):
        cart.remove("9")
    with pytest.raises(NotFoundError, match=r"no cart item with id '9'"):
        cart.change("9", period="month")
    assert len(cart.items) == 1


def test_pricing_an_empty_cart_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cart='c1' is invalid: the cart is empty"):
        Cart("c1", "RUB").price(MAY_2, tax=EXCLUSIVE_10, country="RU")


def test_unknown_tax_country_is_refused() -> None:
    with pytest.raises(NotFoundError, match=r"no tax rate for country with id 'DE'"):
        ac_cart().price(MAY_2, tax=EXCLUSIVE_10, country="DE")


def test_checkout_creates_an_immutable_order_with_one_payment_method() -> None:
    cart = ac_cart()
    cart.apply_promo(PromoCode.percentage("TEN", 10), MAY_2)
    order = cart.checkout(
        "card-1111", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU", proration=CALENDAR
    )
    assert isinstance(order, Order)
    assert order.payment_method_id == "card-1111"
    assert order.to_pay == rub("632.32")
    assert order.discount == rub("63.87")
    assert order.then == rub("660.00")
    assert order.promo_code == "TEN"
    assert order.placed_on == MAY_2
    (line,) = order.lines
    assert (line.plan_id, line.period, line.now, line.then) == (
        "dc16",
        Period.months(),
        rub("638.71"),
        rub("660.00"),
    )
    assert dict(line.quantities) == {"traffic": 5120, "ipv4": 3, "power": 1}
    assert line.covered == DateRange(MAY_2, date(2023, 6, 1))
    assert cart.items == ()
    assert cart.promo is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.payment_method_id = "balance"  # type: ignore[misc]


def test_another_payment_method_needs_a_new_order() -> None:
    cart = ac_cart()
    first = cart.checkout(
        "card-1111", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU", proration=CALENDAR
    )
    cart.reorder(first)
    second = cart.checkout(
        "balance", MAY_2, order_id="o2", tax=EXCLUSIVE_10, country="RU", proration=CALENDAR
    )
    assert (first.id, first.payment_method_id) == ("o1", "card-1111")
    assert (second.id, second.payment_method_id) == ("o2", "balance")
    assert second.to_pay == first.to_pay


def test_reorder_in_another_currency_is_refused() -> None:
    cart = ac_cart()
    order = cart.checkout("card", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU")
    eur_cart = Cart("c1", "EUR")
    with pytest.raises(
        ValidationError, match=r"order='o1' is invalid: is in RUB; the cart is in EUR"
    ):
        eur_cart.reorder(order)
    assert eur_cart.items == ()


def test_checkout_without_payment_method_is_refused_and_the_cart_is_kept() -> None:
    cart = ac_cart()
    with pytest.raises(
        ValidationError, match=r"payment_method_id=' ' is invalid: .*exactly one payment method"
    ):
        cart.checkout(" ", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU")
    assert len(cart.items) == 1


def test_checkout_rechecks_the_promo_and_keeps_the_cart_on_error() -> None:
    cart = ac_cart()
    cart.apply_promo(PromoCode.percentage("MAY", 10, expires_on=date(2023, 5, 2)), MAY_2)
    with pytest.raises(PromoCodeError, match=r"expired on 2023-05-02"):
        cart.checkout("card", date(2023, 5, 3), order_id="o1", tax=EXCLUSIVE_10, country="RU")
    assert len(cart.items) == 1
    assert cart.promo is not None
    with pytest.raises(PromoCodeError, match=r"already used"):
        cart.checkout(
            "card", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU", promo_already_used=True
        )
    assert len(cart.items) == 1


def test_checkout_of_an_empty_cart_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"the cart is empty"):
        Cart("c1", "RUB").checkout("card", MAY_2, order_id="o1", tax=EXCLUSIVE_10, country="RU")


def test_clear() -> None:
    cart = ac_cart()
    cart.apply_promo(PromoCode.percentage("TEN", 10), MAY_2)
    cart.clear()
    assert (cart.items, cart.promo) == ((), None)


@pytest.mark.parametrize("percent", ["1", "33.33", "50", "99.99", "100"])
@pytest.mark.parametrize("ordered_on", [date(2023, 2, 27), MAY_2, date(2023, 5, 31)])
def test_totals_agree_with_lines_and_discounts_never_exceed_prices(
    percent: str, ordered_on: date
) -> None:
    cart = ac_cart()
    cart.add(simple_plan(), "month")
    cart.add(simple_plan(), "day")
    cart.apply_promo(PromoCode.percentage("P", percent), ordered_on)
    summary = cart.price(ordered_on, tax=EXCLUSIVE_10, country="RU", proration=CALENDAR)
    for line in summary.lines:
        assert rub("0") <= line.discount <= line.now
        assert line.tax.net == line.price
        assert sum(line.now_lines, rub("0")) == line.now
    assert summary.totals.net == summary.subtotal - summary.discount
    assert summary.totals.gross == sum((ln.tax.gross for ln in summary.lines), rub("0"))
