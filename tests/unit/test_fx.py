from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

import moneyed
import pytest

from cabinet_billing import (
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    Rounding,
    ValidationError,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.domain.fx import (
    Conversion,
    ExchangeRate,
    MoneyBag,
    RateTable,
    convert,
    equivalents,
)
from cabinet_billing.errors import ExchangeRateNotFoundError, UnknownCurrencyError
from cabinet_billing.ports.fx import ExchangeRateProvider

pytestmark = pytest.mark.spec("M4")

MARCH_1 = date(2024, 3, 1)


def eur_rub(rate: str = "98.50", as_of: date = MARCH_1) -> ExchangeRate:
    return ExchangeRate("EUR", "RUB", Decimal(rate), as_of)


# ----------------------------------------------------------------------------- ExchangeRate


def test_a_rate_normalises_codes_and_keeps_the_exact_decimal() -> None:
    rate = ExchangeRate("eur", "rub", "98.50", MARCH_1)
    assert (rate.base, rate.quote, rate.rate, rate.as_of) == (
        "EUR",
        "RUB",
        Decimal("98.50"),
        MARCH_1,
    )
    assert rate.pair == "EUR/RUB"
    assert rate.on == MARCH_1
    assert rate.inverse_of is None


def test_a_rate_is_immutable() -> None:
    rate = eur_rub()
    with pytest.raises(AttributeError):
        rate.rate = Decimal(1)  # type: ignore[misc]
    assert rate.rate == Decimal("98.50")


@pytest.mark.parametrize("bad", ["0", "-1.5", 0, Decimal("-0.01")])
def test_a_rate_must_be_positive(bad: object) -> None:
    with pytest.raises(ValidationError) as exc:
        ExchangeRate("EUR", "RUB", bad, MARCH_1)
    assert exc.value.field == "rate"
    assert exc.value.value == bad
    assert "greater than zero" in str(exc.value)


def test_a_rate_refuses_floats() -> None:
    with pytest.raises(InvalidAmountError, match=r"0\.5.*floats are not exact"):
        ExchangeRate("EUR", "RUB", 0.5, MARCH_1)


def test_a_rate_refuses_the_same_currency_on_both_sides() -> None:
    with pytest.raises(
        ValidationError, match="quote='EUR' is invalid: must differ from the base EUR"
    ):
        ExchangeRate("EUR", "eur", "1", MARCH_1)


def test_a_rate_refuses_unknown_currencies() -> None:
    with pytest.raises(UnknownCurrencyError, match="'XYZ'"):
        ExchangeRate("XYZ", "EUR", "1", MARCH_1)


def test_a_rate_refuses_a_naive_datetime_and_accepts_an_aware_one() -> None:
    with pytest.raises(ValidationError, match="timezone-aware") as exc:
        ExchangeRate("EUR", "RUB", "98.50", datetime(2024, 3, 1, 12, 0))  # noqa: DTZ001
    assert exc.value.field == "as_of"
    moscow = timezone(timedelta(hours=3))
    rate = ExchangeRate("EUR", "RUB", "98.50", datetime(2024, 3, 1, 23, 30, tzinfo=moscow))
    assert rate.on == date(2024, 3, 1)


def test_a_rate_refuses_an_as_of_that_is_not_a_date() -> None:
    with pytest.raises(ValidationError, match="as_of='2024-03-01' is invalid"):
        ExchangeRate("EUR", "RUB", "98.50", "2024-03-01")  # type: ignore[arg-type]


def test_the_inverse_is_one_over_the_rate_and_inverts_back_exactly() -> None:
    rate = ExchangeRate("EUR", "USD", "1.25", MARCH_1)
    inverse = rate.inverse()
    assert (inverse.pair, inverse.rate, inverse.inverse_of) == (
        "USD/EUR",
        Decimal("0.8"),
        Decimal("1.25"),
    )
    assert inverse.inverse() == rate
    third = ExchangeRate("EUR", "XAU", "3", MARCH_1).inverse().rate
    assert third == Decimal("0." + "3" * 50)


def test_an_inverse_rate_must_agree_with_the_rate_it_inverts() -> None:
    with pytest.raises(ValidationError, match=r"rate=Decimal\('0.5'\) is invalid: must be 1 / 3"):
        ExchangeRate("USD", "EUR", "0.5", MARCH_1, inverse_of=Decimal(3))
    assert ExchangeRate("USD", "EUR", "0.5", MARCH_1, inverse_of=Decimal(2)).apply(
        Decimal(3)
    ) == Decimal("1.5")


# ----------------------------------------------------------------------------- RateTable


def test_a_table_finds_direct_pairs_and_their_inverses() -> None:
    table = RateTable.from_mapping({("EUR", "RUB"): "100", ("USD", "RUB"): "90"}, MARCH_1)
    assert table.get("EUR", "RUB").rate == Decimal(100)
    assert table.get("rub", "eur").rate == Decimal("0.01")
    assert table.get("RUB", "EUR").inverse_of == Decimal(100)
    assert table.pairs == ("EUR/RUB", "USD/RUB")
    assert ("RUB", "EUR") in table
    assert ("EUR", "USD") not in table


def test_a_table_prefers_a_direct_rate_over_an_inverse() -> None:
    buy = ExchangeRate("EUR", "RUB", "98", MARCH_1)
    sell = ExchangeRate("RUB", "EUR", "0.0101", MARCH_1)
    table = RateTable([buy, sell])
    assert table.get("EUR", "RUB") is buy
    assert table.get("RUB", "EUR") is sell


def test_an_unknown_pair_names_the_pair_and_the_known_pairs() -> None:
    table = RateTable.from_mapping({("EUR", "RUB"): "100", ("USD", "RUB"): "90"}, MARCH_1)
    with pytest.raises(ExchangeRateNotFoundError) as exc:
        table.get("EUR", "USD")
    assert str(exc.value) == "no exchange rate from EUR to USD; known pairs: EUR/RUB, USD/RUB"
    assert (exc.value.base, exc.value.quote, exc.value.available) == (
        "EUR",
        "USD",
        ("EUR/RUB", "USD/RUB"),
    )
    assert isinstance(exc.value, LookupError)
    assert table.pairs == ("EUR/RUB", "USD/RUB")


def test_an_empty_table_says_it_knows_no_pairs() -> None:
    with pytest.raises(ExchangeRateNotFoundError, match="known pairs: none"):
        RateTable().get("EUR", "RUB")


def test_a_table_refuses_a_pair_given_twice() -> None:
    with pytest.raises(
        ValidationError, match="rates='EUR/RUB' is invalid: each pair may appear once"
    ):
        RateTable([eur_rub("98"), eur_rub("99")])


def test_a_table_refuses_values_that_are_not_rates() -> None:
    with pytest.raises(ValidationError, match="expected ExchangeRate values"):
        RateTable([("EUR", "RUB", "98")])  # type: ignore[list-item]


def test_a_table_refuses_a_lookup_of_one_currency_with_itself() -> None:
    with pytest.raises(ValidationError, match="must differ from the base EUR"):
        RateTable([eur_rub()]).get("EUR", "EUR")


# ----------------------------------------------------------------------------- convert


def test_convert_rounds_the_target_and_records_the_exact_value_and_rate() -> None:
    rate = ExchangeRate("EUR", "RUB", "98.555", MARCH_1)
    c = convert(Money("1.00", "EUR"), "RUB", rate)
    assert c == Conversion(
        source=Money("1.00", "EUR"),
        target=Money("98.56", "RUB"),
        exact=Money("98.55500", "RUB"),
        rate=rate,
    )
    assert c.difference == Money("-0.005", "RUB")
    assert c.exact - c.target == c.difference


def test_convert_uses_the_minor_unit_of_the_target_currency() -> None:
    c = convert(Money("10.00", "EUR"), "JPY", ExchangeRate("EUR", "JPY", "161.237", MARCH_1))
    assert (c.target, c.difference) == (Money("1612", "JPY"), Money("0.37", "JPY"))
    k = convert(Money("10.00", "EUR"), "KWD", ExchangeRate("EUR", "KWD", "0.33335", MARCH_1))
    assert (k.target, k.difference) == (Money("3.334", "KWD"), Money("-0.0005", "KWD"))


def test_convert_takes_the_rounding_mode_as_a_setting() -> None:
    rate = ExchangeRate("EUR", "RUB", "98.555", MARCH_1)
    c = convert(Money("1.00", "EUR"), "RUB", rate, Rounding(ROUND_DOWN))
    assert (c.target, c.difference) == (Money("98.55", "RUB"), Money("0.005", "RUB"))


def test_convert_through_an_inverse_divides_exactly() -> None:
    # 0.015 / 3 is exactly 0.005; multiplying by a rounded 1/3 would give 0.00499... and
    # round the wrong way.
    rate = ExchangeRate("USD", "EUR", "3", MARCH_1).inverse()
    c = convert(Money("0.015", "EUR"), "USD", rate)
    assert c.exact == Money("0.005", "USD")
    assert c.target == Money("0.01", "USD")


def test_convert_keeps_accrual_precision_of_the_source() -> None:
    c = convert(Money("22.4137", "RUB"), "EUR", eur_rub("100").inverse())
    assert c.source == Money("22.4137", "RUB")
    assert c.exact == Money("0.224137", "EUR")
    assert c.target == Money("0.22", "EUR")
    assert c.difference == Money("0.004137", "EUR")


def test_convert_refuses_an_amount_in_another_currency() -> None:
    with pytest.raises(CurrencyMismatchError) as exc:
        convert(Money("10.00", "USD"), "RUB", eur_rub())
    assert str(exc.value) == "amount to convert at EUR/RUB is in USD, expected EUR"
    assert (exc.value.got, exc.value.expected) == ("USD", ("EUR",))


def test_convert_refuses_a_target_that_is_not_the_rates_quote() -> None:
    with pytest.raises(
        CurrencyMismatchError, match="target of a rate EUR/RUB is in USD, expected RUB"
    ):
        convert(Money("10.00", "EUR"), "USD", eur_rub())


# ----------------------------------------------------------------------------- equivalents


def test_a_top_up_shows_its_equivalent_in_the_other_allowed_currencies() -> None:
    table = RateTable.from_mapping(
        {("EUR", "RUB"): "98.50", ("EUR", "USD"): "1.08", ("USD", "UAH"): "38.9"},
        MARCH_1,
    )
    shown = equivalents(Money("50.00", "EUR"), ["EUR", "USD", "RUB"], table)
    assert list(shown) == ["USD", "RUB"]
    assert shown["USD"].target == Money("54.00", "USD")
    assert shown["RUB"].target == Money("4925.00", "RUB")
    from_rub = equivalents(Money("4925.00", "RUB"), ["EUR"], table)
    assert from_rub["EUR"].target == Money("50.00", "EUR")
    assert from_rub["EUR"].rate.inverse_of == Decimal("98.50")


@pytest.mark.spec("M4")
def test_conversion_equivalents_show_what_has_a_rate_and_name_what_has_none() -> None:
    table = RateTable.from_mapping({("EUR", "RUB"): "98.50"}, MARCH_1)
    shown = equivalents(Money("50.00", "EUR"), ["RUB", "UAH", "USD", "UAH"], table)
    assert {code: c.target for code, c in shown.items()} == {"RUB": Money("4925.00", "RUB")}
    assert shown.missing == ("UAH", "USD")


@pytest.mark.spec("M4")
def test_conversion_equivalents_ask_a_rate_provider_currency_by_currency() -> None:
    table = RateTable.from_mapping({("EUR", "RUB"): "98.50", ("EUR", "USD"): "1.08"}, MARCH_1)
    asked: list[tuple[str, str]] = []

    def provider(base: str, quote: str) -> ExchangeRate:
        asked.append((base, quote))
        if quote == "UAH":
            raise ExchangeRateNotFoundError(base, quote, table.pairs)
        return table.get(base, quote)

    shown = equivalents(Money("50.00", "EUR"), ["USD", "UAH", "RUB"], provider)
    assert list(shown) == ["USD", "RUB"]
    assert (shown["USD"].target, shown["RUB"].target) == (
        Money("54.00", "USD"),
        Money("4925.00", "RUB"),
    )
    assert shown.missing == ("UAH",)
    assert asked == [("EUR", "USD"), ("EUR", "UAH"), ("EUR", "RUB")]


@pytest.mark.spec("M4")
def test_conversion_equivalents_show_an_amount_too_small_to_convert_as_zero() -> None:
    table = RateTable.from_mapping({("UAH", "EUR"): "0.0225"}, MARCH_1)
    shown = equivalents(Money("0.01", "UAH"), ["EUR"], table)
    assert shown["EUR"].target == Money("0.00", "EUR")
    assert shown["EUR"].exact == Money("0.000225", "EUR")


# ----------------------------------------------------------------------------- MoneyBag


def test_a_bag_holds_one_amount_per_currency_in_code_order() -> None:
    bag = MoneyBag.of(Money("500.00", "RUB"), Money("10.00", "EUR"), Money("2.00", "EUR"))
    assert list(bag) == [Money("12.00", "EUR"), Money("500.00", "RUB")]
    assert bag.currencies == ("EUR", "RUB")
    assert len(bag) == 2
    assert "EUR" in bag
    assert "USD" not in bag


def test_a_bag_gives_zero_for_a_currency_it_does_not_hold() -> None:
    bag = MoneyBag.of(Money("10.00", "EUR"))
    assert bag.get("USD") == Money(0, "USD")
    assert bag.get("eur") == Money("10.00", "EUR")


def test_adding_and_subtracting_returns_new_bags() -> None:
    bag = MoneyBag.of(Money("10.00", "EUR"))
    more = bag + Money("5.00", "USD") + MoneyBag.of(Money("1.50", "EUR"))
    less = more - Money("5.00", "USD") - MoneyBag.of(Money("0.50", "EUR"))
    assert list(bag) == [Money("10.00", "EUR")]
    assert list(more) == [Money("11.50", "EUR"), Money("5.00", "USD")]
    assert list(less) == [Money("11.00", "EUR"), Money("0.00", "USD")]
    assert list(-less) == [Money("-11.00", "EUR"), Money("0.00", "USD")]


def test_a_currency_once_used_keeps_its_entry_at_zero() -> None:
    bag = MoneyBag.of(Money("10.00", "EUR")) - Money("10.00", "EUR")
    assert bag.currencies == ("EUR",)
    assert bag.is_zero()
    assert MoneyBag().is_zero()
    assert not MoneyBag.of(Money("0.01", "EUR")).is_zero()


def test_a_bag_is_immutable_and_refuses_other_operands() -> None:
    bag = MoneyBag.of(Money("10.00", "EUR"))
    with pytest.raises(AttributeError):
        bag.items = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        bag + 5
    with pytest.raises(TypeError):
        bag - "5"
    assert list(bag) == [Money("10.00", "EUR")]


def test_a_bag_revalidates_plain_moneyed_amounts() -> None:
    with pytest.raises(InvalidAmountError, match="only finite amounts"):
        MoneyBag.of(moneyed.Money("NaN", "EUR"))
    bag = MoneyBag.of(moneyed.Money("1.50", "EUR"))
    assert type(bag.get("EUR")) is Money


# ----------------------------------------------------------------------------- FixedRates


def test_fixed_rates_is_an_exchange_rate_provider() -> None:
    provider: ExchangeRateProvider = FixedRates({("EUR", "RUB"): "100"})
    assert provider.rate("EUR", "RUB", MARCH_1).rate == Decimal(100)
    assert provider.rate("RUB", "EUR", MARCH_1).rate == Decimal("0.01")


def test_fixed_rates_from_a_table() -> None:
    table = RateTable([eur_rub()])
    rates = FixedRates(table)
    assert rates.rate("EUR", "RUB", MARCH_1) is table.rates[0]
    assert rates.rate("EUR", "RUB", date(2030, 1, 1)) is table.rates[0]


def test_fixed_rates_from_a_mapping_are_in_force_from_since() -> None:
    rates = FixedRates({("EUR", "RUB"): "100"}, since=MARCH_1)
    assert rates.rate("EUR", "RUB", MARCH_1).as_of == MARCH_1
    with pytest.raises(
        ExchangeRateNotFoundError, match=r"known pairs: EUR/RUB \(from 2024-03-01\)"
    ):
        rates.rate("EUR", "RUB", date(2024, 2, 29))


def test_the_rate_in_force_is_the_latest_on_or_before_the_date() -> None:
    rates = FixedRates([eur_rub("99.10", date(2024, 3, 15)), eur_rub("98.50", MARCH_1)])
    assert rates.rate("EUR", "RUB", date(2024, 3, 14)).rate == Decimal("98.50")
    assert rates.rate("EUR", "RUB", date(2024, 3, 15)).rate == Decimal("99.10")
    assert rates.rate("RUB", "EUR", date(2024, 4, 1)).inverse_of == Decimal("99.10")
    assert rates.table(date(2024, 3, 14)).get("EUR", "RUB").rate == Decimal("98.50")


def test_an_instant_is_later_than_a_bare_date_of_the_same_day() -> None:
    noon = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    rates = FixedRates([eur_rub("98.50"), eur_rub("98.70", noon)])
    assert rates.rate("EUR", "RUB", MARCH_1).rate == Decimal("98.70")


def test_fixed_rates_name_the_missing_pair_and_the_known_ones() -> None:
    rates = FixedRates({("EUR", "RUB"): "100", ("USD", "RUB"): "90"})
    with pytest.raises(ExchangeRateNotFoundError) as exc:
        rates.rate("EUR", "UAH", MARCH_1)
    assert str(exc.value) == "no exchange rate from EUR to UAH; known pairs: EUR/RUB, USD/RUB"


def test_fixed_rates_refuse_two_rates_for_one_pair_and_date() -> None:
    with pytest.raises(ValidationError, match=r"EUR/RUB as of 2024-03-01.*one rate per as_of"):
        FixedRates([eur_rub("98.50"), eur_rub("98.70")])
