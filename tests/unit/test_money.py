import decimal
import pickle
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import moneyed
import pytest

from cabinet_billing import CurrencyMismatchError, InvalidAmountError, Money, Rounding
from cabinet_billing.domain.money import currency_places, sum_money, to_decimal
from cabinet_billing.errors import PrecisionError, UnknownCurrencyError

pytestmark = pytest.mark.spec("M1")


def test_accrual_precision_keeps_four_places_as_in_the_astra_expense() -> None:
    assert Rounding().accrual(Money("22.41365", "RUB")) == Money("22.4137", "RUB")
    assert str(Rounding().accrual(Money("22.41365", "RUB"))) == "22.4137 RUB"


@pytest.mark.parametrize(
    ("code", "places"),
    [("EUR", 2), ("RUB", 2), ("UAH", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLP", 0)],
)
def test_minor_units_come_from_cldr(code: str, places: int) -> None:
    assert currency_places(code) == places
    assert currency_places(moneyed.get_currency(code)) == places


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [
        ("10.005", "EUR", "10.01"),
        ("10.004", "EUR", "10.00"),
        ("-10.005", "EUR", "-10.01"),
        ("1234.5", "JPY", "1235"),
        ("1.0005", "KWD", "1.001"),
    ],
)
def test_round_to_minor_unit_half_up_by_default(amount: str, code: str, expected: str) -> None:
    assert Rounding().minor(Money(amount, code)) == Money(expected, code)


def test_rounding_mode_is_a_setting() -> None:
    assert Rounding(ROUND_HALF_EVEN).minor(Money("0.125", "EUR")) == Money("0.12", "EUR")
    assert Rounding(ROUND_DOWN).minor(Money("0.129", "EUR")) == Money("0.12", "EUR")
    assert Rounding(accrual_places=2).accrual(Money("1.005", "EUR")) == Money("1.01", "EUR")


def test_rounding_ignores_the_ambient_decimal_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.rounding = decimal.ROUND_FLOOR
        ctx.prec = 3
        assert Rounding().minor(Money("12345.675", "EUR")) == Money("12345.68", "EUR")


def test_unknown_rounding_mode_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="ROUND_HALF_UP"):
        Rounding("ROUND_SOMETIMES")


@pytest.mark.parametrize("value", [0.1, float("nan"), True])
def test_floats_and_bools_are_refused(value: object) -> None:
    with pytest.raises(InvalidAmountError) as info:
        Money(value, "EUR")
    assert info.value.value is value


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "sNaN", "ten", ""])
def test_non_finite_or_unparsable_text_is_refused(value: str) -> None:
    with pytest.raises(InvalidAmountError, match=repr(value)):
        Money(value, "EUR")


def test_float_error_names_the_value_and_the_fix() -> None:
    with pytest.raises(InvalidAmountError, match=r"0\.1.*pass a str or Decimal"):
        to_decimal(0.1)


def test_construction_from_str_int_and_decimal() -> None:
    assert Money(" 1000.50 ", "eur") == Money(Decimal("1000.5"), "EUR")
    assert Money("1E+3", "EUR") == Money(1000, "EUR")
    assert Money(7, "JPY").amount == Decimal(7)


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrencyError, match="'ZZZ'"):
        Money("1", "ZZZ")
    with pytest.raises(UnknownCurrencyError):
        currency_places("ZZZ")


def test_mixing_currencies_raises_currency_mismatch() -> None:
    eur, usd = Money("10", "EUR"), Money("5", "USD")
    for op in (
        lambda: eur + usd,
        lambda: eur - usd,
        lambda: eur < usd,
        lambda: eur >= usd,
        lambda: eur / usd,
    ):
        with pytest.raises(CurrencyMismatchError) as info:
            op()
        assert (info.value.got, info.value.expected) == ("USD", ("EUR",))
    # a CurrencyMismatchError is also a TypeError, as py-moneyed's own error was
    with pytest.raises(TypeError):
        _ = eur + usd


def test_mixing_with_plain_py_moneyed_values_is_checked_too() -> None:
    assert Money("1", "EUR") + moneyed.Money("2", "EUR") == Money("3", "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money("1", "EUR") + moneyed.Money("2", "USD")


def test_sum_refuses_mixed_currencies_and_needs_a_currency_when_empty() -> None:
    assert sum_money([Money("0.10", "EUR")] * 3) == Money("0.30", "EUR")
    assert sum([Money("0.10", "EUR")] * 3) == Money("0.30", "EUR")
    assert sum_money([], "JPY") == Money(0, "JPY")
    with pytest.raises(CurrencyMismatchError):
        sum_money([Money(1, "EUR"), Money(1, "USD")])
    with pytest.raises(CurrencyMismatchError):
        sum_money([Money(1, "USD")], "EUR")
    with pytest.raises(ValueError, match="needs a currency"):
        sum_money([])


def test_money_is_immutable_and_hashes_by_value() -> None:
    m = Money("1.50", "EUR")
    with pytest.raises(AttributeError, match="immutable"):
        m.amount = Decimal(2)  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del m.currency
    assert m == Money("1.5", "EUR")
    assert hash(m) == hash(Money("1.5", "EUR"))
    assert {m: 1}[Money("1.500", "EUR")] == 1
    assert pickle.loads(pickle.dumps(m)) == m  # noqa: S301 - our own value


def test_str_is_locale_independent_and_round_is_refused() -> None:
    assert str(Money("1827.41", "EUR")) == "1827.41 EUR"
    assert f"{Money('2', 'EUR'):.2f}" == "2.00 EUR"
    with pytest.raises(TypeError, match="Rounding"):
        Money("1.005", "EUR").round(2)


def test_arithmetic() -> None:
    m = Money("100.00", "RUB")
    assert m * 3 == Money("300", "RUB")
    assert 3 * m == Money("300", "RUB")
    assert m * "0.05" == Money("5", "RUB")
    assert m / 4 == Money("25", "RUB")
    assert m / Money("50", "RUB") == Decimal(2)
    assert -m == Money("-100", "RUB")
    assert abs(-m) == m
    assert m - m == Money.zero("RUB")
    assert Money.zero("RUB").code == "RUB"
    with pytest.raises(InvalidAmountError):
        _ = m * 0.5
    with pytest.raises(InvalidAmountError, match="zero"):
        _ = m / 0
    with pytest.raises(InvalidAmountError, match="zero"):
        _ = m / Money(0, "RUB")
    with pytest.raises(TypeError):
        _ = m * m


def test_comparisons() -> None:
    assert Money("1", "EUR") < Money("2", "EUR") <= Money("2.00", "EUR")
    assert Money("3", "EUR") > Money("2", "EUR") >= Money("2", "EUR")
    assert Money("1", "EUR") != Money("1", "USD")
    assert Money("1", "EUR") != Decimal(1)


def test_input_checks_name_the_value_and_the_rule() -> None:
    with pytest.raises(PrecisionError, match=r"10\.005 EUR.*at most 2") as info:
        Money("10.005", "EUR").require_places()
    assert info.value.places == 2
    assert Money("10.0050", "EUR").require_places(3) == Money("10.005", "EUR")
    assert Money("10.500", "EUR").require_places() == Money("10.5", "EUR")
    with pytest.raises(PrecisionError, match="at most 0"):
        Money("1.5", "JPY").require_places()
    with pytest.raises(InvalidAmountError, match="greater than zero"):
        Money(0, "EUR").require_positive()
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        Money(-1, "EUR").require_non_negative()
    assert Money(0, "EUR").require_non_negative() == Money(0, "EUR")
    with pytest.raises(CurrencyMismatchError, match="USD, expected EUR or RUB"):
        Money(1, "USD").require_currency("EUR", "RUB")
