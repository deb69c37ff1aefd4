from decimal import ROUND_DOWN, ROUND_UP, Decimal

import pytest

from cabinet_billing import (
    AmountOutOfRangeError,
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    Rounding,
    ValidationError,
)
from cabinet_billing.domain.payment_method import LimitBasis, PaymentMethodPricing, PaymentQuote
from cabinet_billing.errors import PrecisionError


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def yookassa(**overrides: object) -> PaymentMethodPricing:
    """The Astra Cloud method: 5% + 10.00 RUB, 10.00 to 3000.00 RUB, cashback 10%."""
    settings: dict[str, object] = {
        "currency": "RUB",
        "fee_percent": Decimal(5),
        "fixed_fee": rub("10.00"),
        "minimum": rub("10.00"),
        "maximum": rub("3000.00"),
        "cashback_percent": Decimal(10),
    }
    settings.update(overrides)
    return PaymentMethodPricing(**settings)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- M5 fees


@pytest.mark.spec("M5")
@pytest.mark.parametrize(
    ("base", "fee", "total"),
    [("20.00", "11.00", "31.00"), ("100.00", "15.00", "115.00")],
)
def test_astra_fee_five_percent_plus_ten_roubles(base: str, fee: str, total: str) -> None:
    q = yookassa().quote(rub(base))
    assert (q.base, q.fee, q.total) == (rub(base), rub(fee), rub(total))


@pytest.mark.spec("M5")
def test_the_fee_is_rounded_at_the_minor_unit_with_the_rounding_setting() -> None:
    # 5% of 10.10 is 0.505.
    assert yookassa().quote(rub("10.10")).fee == rub("10.51")
    assert yookassa(rounding=Rounding(ROUND_DOWN)).quote(rub("10.10")).fee == rub("10.50")
    assert yookassa(rounding=Rounding(ROUND_UP)).quote(rub("10.11")).fee == rub("10.51")


@pytest.mark.spec("M5")
def test_a_method_without_fees_charges_the_amount() -> None:
    free = PaymentMethodPricing("EUR")
    q = free.quote(Money("12.34", "EUR"))
    assert (q.fee, q.total, q.cashback) == (
        Money("0.00", "EUR"),
        Money("12.34", "EUR"),
        Money("0.00", "EUR"),
    )
    assert free.fixed_fee == Money(0, "EUR")
    assert free.base_for_total(Money("12.34", "EUR")).base == Money("12.34", "EUR")


@pytest.mark.spec("M5")
def test_fees_follow_the_minor_unit_of_the_method_currency() -> None:
    yen = PaymentMethodPricing("JPY", Decimal("3.6"), Money(30, "JPY"))
    assert yen.quote(Money(1000, "JPY")).total == Money(1066, "JPY")
    assert yen.unit == Money(1, "JPY")
    assert yookassa().unit == rub("0.01")


# ----------------------------------------------------------------------------- M5 limits


@pytest.mark.spec("M5")
@pytest.mark.parametrize("amount", ["10.00", "3000.00"])
def test_the_limits_are_inclusive(amount: str) -> None:
    assert yookassa().quote(rub(amount)).base == rub(amount)


@pytest.mark.spec("M5")
@pytest.mark.parametrize("amount", ["9.99", "3000.01"])
def test_an_amount_outside_the_range_is_refused_naming_it_and_the_range(amount: str) -> None:
    method = yookassa()
    with pytest.raises(AmountOutOfRangeError) as exc:
        method.quote(rub(amount))
    assert str(exc.value) == (
        f"amount {amount} RUB is out of range: allowed from 10.00 RUB to 3000.00 RUB"
    )
    assert (exc.value.amount, exc.value.minimum, exc.value.maximum) == (
        f"{amount} RUB",
        "10.00 RUB",
        "3000.00 RUB",
    )
    assert isinstance(exc.value, ValueError)
    assert method == yookassa()


@pytest.mark.spec("M5")
def test_the_range_applies_to_the_base_not_the_fee_inclusive_total() -> None:
    # 3000.00 credited costs 3160.00: accepted, as the cabinet's range is for the amount.
    assert yookassa().quote(rub("3000.00")).total == rub("3160.00")


@pytest.mark.spec("M5")
def test_a_method_may_limit_the_total_instead() -> None:
    method = yookassa(limits_apply_to=LimitBasis.TOTAL)
    assert method.quote(rub("2847.62")).total == rub("3000.00")
    with pytest.raises(AmountOutOfRangeError, match=r"amount 3000\.01 RUB is out of range"):
        method.quote(rub("2847.63"))
    with pytest.raises(AmountOutOfRangeError, match=r"amount 9\.99 RUB is out of range"):
        method.base_for_total(rub("9.99"))
    assert method.base_for_total(rub("3000.00")).base == rub("2847.62")


@pytest.mark.spec("M5")
def test_the_limit_basis_is_a_setting_with_known_values() -> None:
    assert yookassa(limits_apply_to="total").limits_apply_to is LimitBasis.TOTAL
    with pytest.raises(
        ValidationError, match="limits_apply_to='net' is invalid: expected one of base, total"
    ):
        yookassa(limits_apply_to="net")
    with pytest.raises(TypeError):
        yookassa(rounding="ROUND_HALF_UP")


@pytest.mark.spec("M5")
def test_one_sided_limits() -> None:
    at_least = PaymentMethodPricing("RUB", minimum=rub("10.00"))
    at_most = PaymentMethodPricing("RUB", maximum=rub("100.00"))
    assert at_least.quote(rub("1000000.00")).total == rub("1000000.00")
    with pytest.raises(
        AmountOutOfRangeError, match=r"9\.99 RUB is out of range: allowed at least 10\.00 RUB"
    ):
        at_least.quote(rub("9.99"))
    with pytest.raises(AmountOutOfRangeError, match=r"allowed at most 100\.00 RUB"):
        at_most.quote(rub("100.01"))


# ----------------------------------------------------------------------------- M5 amounts


@pytest.mark.spec("M5")
def test_an_amount_finer_than_the_minor_unit_is_refused() -> None:
    with pytest.raises(PrecisionError) as exc:
        yookassa().quote(rub("10.005"))
    assert str(exc.value) == "invalid amount '10.005 RUB': at most 2 decimal place(s) allowed"
    assert exc.value.places == 2


@pytest.mark.spec("M5")
@pytest.mark.parametrize("amount", ["0", "-20.00"])
def test_an_amount_must_be_positive(amount: str) -> None:
    with pytest.raises(InvalidAmountError, match="must be greater than zero"):
        yookassa().quote(rub(amount))
    with pytest.raises(InvalidAmountError, match="must be greater than zero"):
        yookassa().base_for_total(rub(amount))


@pytest.mark.spec("M5")
def test_an_amount_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError) as exc:
        yookassa().quote(Money("20.00", "EUR"))
    assert str(exc.value) == "amount is in EUR, expected RUB"
    with pytest.raises(CurrencyMismatchError, match="amount is in EUR, expected RUB"):
        yookassa().base_for_total(Money("20.00", "EUR"))


@pytest.mark.spec("M5")
def test_an_amount_must_be_money() -> None:
    with pytest.raises(InvalidAmountError, match=r"'20\.00': expected a Money amount"):
        yookassa().quote("20.00")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- M5 construction


@pytest.mark.spec("M5")
@pytest.mark.parametrize("field", ["fixed_fee", "minimum", "maximum"])
def test_every_amount_of_a_method_is_in_its_currency(field: str) -> None:
    with pytest.raises(CurrencyMismatchError) as exc:
        yookassa(**{field: Money("10.00", "EUR")})
    assert str(exc.value) == f"{field} is in EUR, expected RUB"


@pytest.mark.spec("M5")
def test_a_method_refuses_bad_settings() -> None:
    with pytest.raises(
        ValidationError, match=r"fee_percent=Decimal\('-1'\) is invalid: must be 0 or more"
    ):
        yookassa(fee_percent=Decimal(-1))
    with pytest.raises(ValidationError, match=r"cashback_percent=.* must be from 0 to 100"):
        yookassa(cashback_percent=Decimal(101))
    with pytest.raises(
        ValidationError,
        match=r"minimum='20\.00 RUB' is invalid: must not exceed the maximum 10\.00 RUB",
    ):
        yookassa(minimum=rub("20.00"), maximum=rub("10.00"))
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        yookassa(fixed_fee=rub("-1.00"))
    with pytest.raises(InvalidAmountError, match="must be greater than zero"):
        yookassa(minimum=rub("0.00"))
    with pytest.raises(PrecisionError):
        yookassa(fixed_fee=rub("0.001"))
    with pytest.raises(InvalidAmountError, match="floats are not exact"):
        yookassa(fee_percent=5.0)
    with pytest.raises(ValidationError, match="currency=5 is invalid"):
        PaymentMethodPricing(5)


@pytest.mark.spec("M5")
def test_a_method_is_immutable() -> None:
    method = yookassa()
    with pytest.raises(AttributeError):
        method.fee_percent = Decimal(0)  # type: ignore[misc]
    assert method.fee_percent == Decimal(5)


# ----------------------------------------------------------------------------- M5 reverse


@pytest.mark.spec("M5")
@pytest.mark.parametrize(("total", "base"), [("31.00", "20.00"), ("115.00", "100.00")])
def test_base_for_total_reverses_the_astra_examples(total: str, base: str) -> None:
    q = yookassa().base_for_total(rub(total))
    assert q == yookassa().quote(rub(base))


@pytest.mark.spec("M5")
def test_an_unreachable_total_gives_the_extra_cent_to_the_fee() -> None:
    method = yookassa()
    # 19.99 -> 30.99 and 20.00 -> 31.00: every cent is reachable at 5%... until rounding
    # jumps: 10.09 costs 20.59 (fee 10.50) and 10.10 costs 20.61 (fee 10.51).
    assert method.quote(rub("10.09")).total == rub("20.59")
    assert method.quote(rub("10.10")).total == rub("20.61")
    q = method.base_for_total(rub("20.60"))
    assert (q.base, q.fee, q.total) == (rub("10.09"), rub("10.51"), rub("20.60"))


@pytest.mark.spec("M5")
def test_a_total_that_does_not_reach_the_range_is_refused_naming_the_totals() -> None:
    method = yookassa()
    with pytest.raises(AmountOutOfRangeError) as exc:
        method.base_for_total(rub("20.49"))
    assert (
        str(exc.value) == "amount 20.49 RUB is out of range: allowed from 20.50 RUB to 3160.00 RUB"
    )
    with pytest.raises(AmountOutOfRangeError, match=r"3160\.01 RUB is out of range"):
        method.base_for_total(rub("3160.01"))


@pytest.mark.spec("M5")
def test_a_total_that_does_not_cover_the_fixed_fee_is_refused() -> None:
    method = PaymentMethodPricing("RUB", Decimal(5), rub("10.00"))
    with pytest.raises(AmountOutOfRangeError) as exc:
        method.base_for_total(rub("10.00"))
    assert str(exc.value) == "amount 10.00 RUB is out of range: allowed at least 10.01 RUB"


# ----------------------------------------------------------------------------- M6 cashback


@pytest.mark.spec("M6")
def test_astra_cashback_is_ten_percent_of_the_payment() -> None:
    q = yookassa().quote(rub("100.00"))
    assert q == PaymentQuote(
        base=rub("100.00"), fee=rub("15.00"), total=rub("115.00"), cashback=rub("11.50")
    )


@pytest.mark.spec("M6")
def test_cashback_is_rounded_at_the_minor_unit() -> None:
    assert yookassa().quote(rub("20.00")).cashback == rub("3.10")
    assert yookassa().cashback_for(rub("0.05")) == rub("0.01")
    assert yookassa(rounding=Rounding(ROUND_DOWN)).cashback_for(rub("0.05")) == rub("0.00")


@pytest.mark.spec("M6")
def test_a_method_without_cashback_returns_zero() -> None:
    q = yookassa(cashback_percent=None).quote(rub("100.00"))
    assert q.cashback == rub("0.00")
    assert yookassa().base_for_total(rub("115.00")).cashback == rub("11.50")
