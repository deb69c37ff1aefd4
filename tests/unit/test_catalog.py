from __future__ import annotations

from decimal import Decimal

import pytest

from cabinet_billing.domain.catalog import (
    AddOn,
    Catalog,
    Plan,
    PriceList,
    ProductKind,
    Quote,
)
from cabinet_billing.domain.limits import Limit
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import Period
from cabinet_billing.errors import (
    ConflictError,
    InvalidAmountError,
    NotFoundError,
    PriceNotFoundError,
    ValidationError,
)

pytestmark = pytest.mark.spec("C1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def ac_renewal_plan() -> Plan:
    return Plan(
        "test",
        "Test",
        ProductKind.VPS,
        {"day": rub("20.00"), "month": rub("100.00"), "year": rub("1200.00")},
    )


def dc16() -> Plan:
    """The Astra Cloud cart configuration: 495 + 110 + 55 = 660.00 RUB a month."""
    return Plan(
        "dc16",
        "DC16",
        ProductKind.SERVER,
        {"month": rub("495.00")},
        addons=[
            AddOn("panel", "Control panel licence", {"month": rub("0.00")}, "pcs"),
            AddOn(
                "traffic",
                "Traffic",
                {"month": rub("110.00")},
                "GiB",
                included=0,
                block=5120,
            ),
            AddOn("ipv4", "Public IPv4", {"month": rub("150.00")}, "pcs", included=3, maximum=8),
            AddOn("power", "Power", {"month": rub("55.00")}, "kWh", minimum=1),
        ],
    )


def test_ac_renewal_prices_per_period() -> None:
    plan = ac_renewal_plan()
    assert plan.price(Period.days(), "RUB") == rub("20.00")
    assert plan.price("month", "RUB") == rub("100.00")
    assert plan.price(Period.year(), "RUB") == rub("1200.00")
    assert plan.prices.periods() == (Period.days(), Period.months(), Period.year())
    assert plan.prices.currencies() == ("RUB",)


def test_missing_period_names_what_is_available() -> None:
    with pytest.raises(PriceNotFoundError) as err:
        ac_renewal_plan().price("quarter", "RUB")
    assert str(err.value) == (
        "no price for plan 'test' for 3 months in RUB; available: 1 day RUB, 1 month RUB, 1 year RUB"
    )
    assert isinstance(err.value, NotFoundError)
    assert isinstance(err.value, LookupError)
    assert err.value.period == Period.quarter()
    assert err.value.currency == "RUB"
    assert err.value.available == ("1 day RUB", "1 month RUB", "1 year RUB")


def test_missing_currency_names_what_is_available() -> None:
    with pytest.raises(PriceNotFoundError, match=r"for 1 month in EUR; available: 1 day RUB"):
        ac_renewal_plan().price("month", "EUR")


def test_prices_in_several_currencies() -> None:
    raw: dict[str, Money | list[Money]] = {
        "month": [rub("100.00"), Money("1.10", "EUR")],
        "year": rub("1200.00"),
    }
    prices = PriceList(raw)
    assert prices.get("month", "EUR") == Money("1.10", "EUR")
    assert prices.periods("EUR") == (Period.months(),)
    assert prices.periods() == (Period.months(), Period.year())
    assert prices.currencies() == ("RUB", "EUR")
    assert prices.available() == ("1 month RUB", "1 month EUR", "1 year RUB")
    assert len(prices) == 3


def test_prices_from_pairs() -> None:
    prices = PriceList([(Period.quarter(), rub("270.00"))])
    assert prices.get("3 months", "RUB") == rub("270.00")


def test_duplicate_price_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"prices='1 month RUB' is invalid: .*only one price"):
        PriceList([("month", rub("1.00")), (Period.months(), rub("2.00"))])


def test_negative_price_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match=r"'-1.00 RUB': must not be negative"):
        PriceList({"month": rub("-1.00")})


def test_non_money_price_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match=r"invalid amount '100': a price must be a Money"):
        PriceList({"month": "100"})  # type: ignore[arg-type]


def test_bad_period_text_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"period='montly' is invalid"):
        PriceList({"montly": rub("1.00")})


def test_plan_without_prices_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"prices='empty' is invalid: .*at least one price"):
        Plan("empty", "Empty", ProductKind.OTHER, {})


def test_plan_with_empty_id_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"id='' is invalid: must not be empty"):
        Plan("", "X", ProductKind.OTHER, {"month": rub("1.00")})


def test_plan_with_duplicate_addons_is_refused() -> None:
    ip = AddOn("ip", "IP", {"month": rub("1.00")})
    with pytest.raises(ValidationError, match=r"addons='ip' is invalid: .*unique"):
        Plan("p", "P", ProductKind.VPS, {"month": rub("1.00")}, [ip, ip])


def test_plan_with_metric_capped_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"metric='products' is invalid: .*only once"):
        Plan(
            "p",
            "P",
            ProductKind.SAAS,
            {"month": rub("1.00")},
            limits=[Limit("products", 10), Limit("products", 20)],
        )


def test_ac_cart_configuration_costs_660_a_month() -> None:
    quote = dc16().quote("month", "RUB", {"traffic": 5120, "power": 1})
    assert isinstance(quote, Quote)
    assert [(line.code, line.quantity, line.amount) for line in quote.lines] == [
        ("base", Decimal(1), rub("495.00")),
        ("panel", Decimal(0), rub("0")),
        ("traffic", Decimal(5120), rub("110.00")),
        ("ipv4", Decimal(3), rub("0")),
        ("power", Decimal(1), rub("55.00")),
    ]
    assert quote.total == rub("660.00")
    assert quote.base == rub("495.00")
    assert quote.configuration == rub("165.00")
    assert quote.amounts()[0] == rub("495.00")
    assert quote.period == Period.months()
    assert quote.plan_id == "dc16"


def test_quantities_beyond_included_are_billed() -> None:
    quote = dc16().quote("month", "RUB", {"ipv4": 5})
    assert quote.lines[3].amount == rub("300.00")
    assert quote.total == rub("850.00")


def test_partial_block_counts_as_a_whole_block() -> None:
    traffic = dc16().addon("traffic")
    assert traffic.billable_blocks(5121) == 2
    assert traffic.charge(5121, "month", "RUB") == rub("220.00")
    assert traffic.billable_blocks(0) == 0


def test_default_quantity_is_the_included_one_or_the_minimum() -> None:
    plan = dc16()
    assert plan.addon("ipv4").default_quantity == 3
    assert plan.addon("power").default_quantity == 1


def test_unknown_addon_names_the_plans_addons() -> None:
    with pytest.raises(ValidationError) as err:
        dc16().quote("month", "RUB", {"backup": 1})
    assert str(err.value) == (
        "addon='backup' is invalid: plan 'dc16' has the add-ons: panel, traffic, ipv4, power"
    )


def test_quantity_outside_the_range_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        dc16().quote("month", "RUB", {"ipv4": 9})
    assert str(err.value) == "quantity of ipv4=9 is invalid: allowed from 0 to 8 pcs"
    with pytest.raises(
        ValidationError, match=r"quantity of power=0 is invalid: allowed from 1 kWh"
    ):
        dc16().quote("month", "RUB", {"power": 0})


def test_float_quantity_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"quantity=0.5 is invalid: floats are not exact"):
        dc16().addon("ipv4").check_quantity(0.5)


def test_addon_without_price_for_the_period_names_what_is_available() -> None:
    with pytest.raises(
        PriceNotFoundError, match=r"add-on 'ipv4' for 1 year in RUB; available: 1 month RUB"
    ):
        dc16().addon("ipv4").charge(4, "year", "RUB")


def test_included_addon_without_price_costs_nothing() -> None:
    assert dc16().addon("ipv4").charge(3, "year", "RUB") == rub("0")


def test_addon_validation() -> None:
    with pytest.raises(
        ValidationError, match=r"included=Decimal\('-1'\) is invalid: must not be negative"
    ):
        AddOn("ip", "IP", {"month": rub("1.00")}, included=-1)
    with pytest.raises(
        ValidationError, match=r"block=Decimal\('0'\) is invalid: must be greater than zero"
    ):
        AddOn("ip", "IP", {"month": rub("1.00")}, block=0)
    with pytest.raises(
        ValidationError, match=r"maximum=Decimal\('1'\) is invalid: must not be below the minimum 2"
    ):
        AddOn("ip", "IP", {"month": rub("1.00")}, minimum=2, maximum=1)


@pytest.mark.spec("C7")
def test_plans_list_extra_features() -> None:
    basic = Plan(
        "basic", "Basic", ProductKind.SAAS, {"month": rub("1.00")}, features=["shop", "blog"]
    )
    pro = Plan(
        "pro",
        "Pro",
        ProductKind.SAAS,
        {"month": rub("2.00")},
        features=["shop", "blog", "api", "b2b"],
    )
    catalog = Catalog([basic, pro])
    assert basic.extra_features(pro) == ("api", "b2b")
    assert pro.extra_features(basic) == ()
    assert catalog.extra_features("basic") == {"pro": ("api", "b2b")}
    assert catalog.extra_features("pro") == {}


@pytest.mark.spec("C7")
def test_plan_limits_start_without_counts() -> None:
    plan = Plan(
        "shop",
        "Shop",
        ProductKind.SAAS,
        {"month": rub("1.00")},
        limits=[Limit("products", 1000)],
    )
    assert plan.new_limits().status("products").current == 0


def test_catalog_lookup_and_conflict() -> None:
    catalog = Catalog([ac_renewal_plan()])
    catalog.add(dc16())
    assert catalog.plan("dc16").name == "DC16"
    assert "test" in catalog
    assert len(catalog) == 2
    assert [p.id for p in catalog.plans(ProductKind.SERVER)] == ["dc16"]
    assert [p.id for p in catalog.plans()] == ["test", "dc16"]
    with pytest.raises(ConflictError, match=r"plan 'dc16': a plan with this id already exists"):
        catalog.add(dc16())
    assert len(catalog) == 2
    with pytest.raises(NotFoundError, match=r"no plan with id 'nope'"):
        catalog.plan("nope")


def test_catalog_refuses_duplicate_ids_at_construction() -> None:
    with pytest.raises(ConflictError, match=r"plan 'test'"):
        Catalog([ac_renewal_plan(), ac_renewal_plan()])
