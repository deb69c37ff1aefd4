"""Money is exact whatever the caller's decimal context, and refuses what is not an amount."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal

import moneyed
import pytest

from cabinet_billing import BillingError, InvalidAmountError, Money
from cabinet_billing.domain.allocation import allocate
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.money import MAX_AMOUNT, MONEY_CONTEXT, money_context, sum_money
from cabinet_billing.errors import (
    AmountTooLargeError,
    InvalidOperandError,
    PrecisionError,
    UnknownCurrencyError,
)

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)
TOO_LARGE = (
    "more than 34 integer digits; amounts are stored as NUMERIC(38) with 4 decimal places, "
    "so at most 9999999999999999999999999999999999.9999 is allowed"
)


@pytest.fixture
def hostile() -> decimal.Context:
    """The ambient context of a careless host: 6 digits, rounding down, traps off."""
    return decimal.Context(prec=6, rounding=decimal.ROUND_DOWN, traps=[])


@pytest.mark.spec("M1")
def test_ambient_context_precision_six_does_not_round_a_difference(
    hostile: decimal.Context,
) -> None:
    with decimal.localcontext(hostile):
        assert Money("99999.99", "EUR") - Money("1.00", "EUR") == Money("99998.99", "EUR")
        assert str(Money("99999.99", "EUR") - Money("1.00", "EUR")) == "99998.99 EUR"
        assert Money("99999.99", "EUR") * 3 == Money("299999.97", "EUR")
        assert Money("99999.99", "EUR") > Money("99999.98", "EUR")


@pytest.mark.spec("M1", "L1")
def test_ambient_context_a_top_up_of_1e27_keeps_the_next_cent(hostile: decimal.Context) -> None:
    ledger = Ledger("acc-1")
    for context in (decimal.Context(), hostile):  # the default context has only 28 digits
        with decimal.localcontext(context):
            ledger = Ledger("acc-1")
            ledger.top_up(Money("1E+27", "EUR"), AT)
            ledger.top_up(Money("0.01", "EUR"), AT)
            ledger.charge(Money("22.4137", "EUR"), AT)
            assert ledger.balance("EUR") == Money("999999999999999999999999977.5963", "EUR")
            assert ledger.verify()


@pytest.mark.spec("M1", "M2")
def test_ambient_context_allocation_and_sums_with_traps_on() -> None:
    strict = decimal.Context(
        prec=3, traps=[decimal.Inexact, decimal.Rounded, decimal.FloatOperation]
    )
    with decimal.localcontext(strict):
        parts = allocate(Money("100000.00", "EUR"), [1, 1, 1])
        assert parts == [
            Money("33333.34", "EUR"),
            Money("33333.33", "EUR"),
            Money("33333.33", "EUR"),
        ]
        assert sum_money(parts) == Money("100000.00", "EUR")
        assert Money.of(moneyed.Money("12345.67", "EUR")) == Money("12345.67", "EUR")


@pytest.mark.spec("M1")
def test_ambient_context_money_context_is_the_library_s() -> None:
    with decimal.localcontext(prec=2), money_context() as context:
        assert context.prec == MONEY_CONTEXT.prec == 200
        assert Decimal("99999.99") - Decimal("1.00") == Decimal("99998.99")


@pytest.mark.spec("M1")
def test_storage_limit_the_largest_amount_is_accepted_and_one_more_unit_refused() -> None:
    largest = Money(MAX_AMOUNT, "EUR")
    assert str(largest) == "9999999999999999999999999999999999.9999 EUR"
    with pytest.raises(AmountTooLargeError) as error:
        largest + Money("0.0001", "EUR")
    assert str(error.value) == (
        f"invalid amount '10000000000000000000000000000000000.0000 EUR': {TOO_LARGE}"
    )
    assert error.value.digits == 34


@pytest.mark.spec("M1")
@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda: Money("1E+34", "EUR"), "'1E+34'"),
        (lambda: Money(10**34, "EUR"), "10000000000000000000000000000000000"),
        (lambda: Money("9" * 34, "EUR") * 10, "'99999999999999999999999999999999990 EUR'"),
        (
            lambda: -Money("9" * 34, "EUR") - Money("1", "EUR"),
            "'-10000000000000000000000000000000000 EUR'",
        ),
    ],
)
def test_storage_limit_refuses_more_than_34_integer_digits(make: object, shown: str) -> None:
    with pytest.raises(AmountTooLargeError) as error:
        make()  # type: ignore[operator]
    assert str(error.value) == f"invalid amount {shown}: {TOO_LARGE}"
    assert isinstance(error.value, ValueError)


@pytest.mark.spec("M1")
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (
            "１０",
            "invalid amount '１０': not a decimal number: use ASCII digits with an optional sign and decimal point, such as '1000.00' (no '_', no other digits)",
        ),
        (
            "1_000",
            "invalid amount '1_000': not a decimal number: use ASCII digits with an optional sign and decimal point, such as '1000.00' (no '_', no other digits)",
        ),
        (
            "١٠",
            "invalid amount '١٠': not a decimal number: use ASCII digits with an optional sign and decimal point, such as '1000.00' (no '_', no other digits)",
        ),
        (
            "10,00",
            "invalid amount '10,00': not a decimal number: use ASCII digits with an optional sign and decimal point, such as '1000.00' (no '_', no other digits)",
        ),
        ("NaN", "invalid amount 'NaN': only finite amounts are allowed"),
        ("-Infinity", "invalid amount '-Infinity': only finite amounts are allowed"),
        ("sNaN", "invalid amount 'sNaN': only finite amounts are allowed"),
        (Decimal("NaN"), "invalid amount Decimal('NaN'): only finite amounts are allowed"),
        (1.5, "invalid amount 1.5: floats are not exact; pass a str or Decimal such as '1.5'"),
        (True, "invalid amount True: a bool is not an amount"),
        (None, "invalid amount None: expected str, int or Decimal, got NoneType"),
        (
            "1" * 101,
            f"invalid amount '{'1' * 80}... (101 characters)': at most 100 significant digits and decimal places are allowed",
        ),
        (
            "1E-101",
            "invalid amount '1E-101': at most 100 significant digits and decimal places are allowed",
        ),
        (
            "12" * 600,
            f"invalid amount '{'12' * 40}... (1200 characters)': at most 100 significant digits and decimal places are allowed",
        ),
    ],
)
def test_bad_amount_text_is_refused_naming_it(amount: object, message: str) -> None:
    with pytest.raises(InvalidAmountError) as error:
        Money(amount, "EUR")
    assert str(error.value) == message
    assert isinstance(error.value, BillingError)
    assert isinstance(error.value, ValueError)


@pytest.mark.spec("M1")
@pytest.mark.parametrize(
    ("currency", "shown"),
    [
        (978, "978"),
        ("EURO", "'EURO'"),
        ("", "''"),
        ("ZZZ", "'ZZZ'"),
        ("E\x00R", "'E\\x00R'"),
        (None, "None"),
    ],
)
def test_bad_currency_is_refused_naming_it(currency: object, shown: str) -> None:
    with pytest.raises(UnknownCurrencyError) as error:
        Money("10", currency)  # type: ignore[arg-type]
    assert str(error.value) == f"unknown currency {shown}: expected an ISO 4217 code such as 'EUR'"
    assert isinstance(error.value, LookupError)


@pytest.mark.spec("M1")
@pytest.mark.parametrize(
    ("operate", "message"),
    [
        (
            lambda m: m + 1,
            "cannot add 1 (int) and Money('10.00', 'EUR'): add a Money amount in EUR instead",
        ),
        (
            lambda m: 1 + m,
            "cannot add 1 (int) and Money('10.00', 'EUR'): add a Money amount in EUR instead",
        ),
        (
            lambda m: m + Decimal(1),
            "cannot add Decimal('1') (Decimal) and Money('10.00', 'EUR'): add a Money amount in EUR instead",
        ),
        (
            lambda m: m - 5,
            "cannot subtract 5 (int) and Money('10.00', 'EUR'): subtract a Money amount in EUR instead",
        ),
        (
            lambda m: 5 - m,
            "cannot subtract from 5 (int) and Money('10.00', 'EUR'): subtract from a Money amount in EUR instead",
        ),
        (
            lambda m: m < 1,
            "cannot compare 1 (int) and Money('10.00', 'EUR'): compare a Money amount in EUR instead",
        ),
        (
            lambda m: m >= "1",
            "cannot compare '1' (str) and Money('10.00', 'EUR'): compare a Money amount in EUR instead",
        ),
        (
            lambda m: m * m,
            "cannot multiply Money('10.00', 'EUR') (Money) and Money('10.00', 'EUR'): multiply it by a str, int or Decimal number",
        ),
        (
            lambda m: m * None,
            "cannot multiply None (NoneType) and Money('10.00', 'EUR'): multiply it by a str, int or Decimal number",
        ),
        (
            lambda m: 1 / m,
            "cannot divide 1 (int) and Money('10.00', 'EUR'): divide it by a str, int or Decimal number, or by an amount in EUR",
        ),
        (
            lambda m: m / [],
            "cannot divide [] (list) and Money('10.00', 'EUR'): divide it by a str, int or Decimal number, or by an amount in EUR",
        ),
    ],
)
def test_bad_operand_is_a_typed_type_error(operate: object, message: str) -> None:
    ten = Money("10.00", "EUR")
    with pytest.raises(InvalidOperandError) as error:
        operate(ten)  # type: ignore[operator]
    assert str(error.value) == message
    assert isinstance(error.value, TypeError)
    assert isinstance(error.value, BillingError)
    assert error.value.amount == ten


@pytest.mark.spec("M1")
def test_bad_operand_equality_with_a_number_is_just_false() -> None:
    assert Money("0", "EUR") != 0
    assert not Money("10", "EUR") == Decimal(10)  # noqa: SIM201 - the operator is the subject


@pytest.mark.spec("M1")
def test_bad_amount_a_float_backed_moneyed_money_is_refused() -> None:
    floaty = moneyed.Money(Decimal(19.99), "EUR")  # noqa: RUF032 - the float is the subject
    with pytest.raises(InvalidAmountError) as error:
        Money.of(floaty)
    assert str(error.value) == (
        "invalid amount Decimal('19.989999999999998436805981327779591083526611328125'): this "
        "amount was made from the float 19.99 and carries its binary error; pass a str or "
        "Decimal such as '19.99'"
    )
    # What py-moneyed makes of a float itself is the float's shortest text: exact enough.
    assert Money.of(moneyed.Money(19.99, "EUR")) == Money("19.99", "EUR")
    assert Money.of(Money("1.00", "EUR")) == Money("1.00", "EUR")
    with pytest.raises(InvalidAmountError) as refused:
        Money.of(Decimal("1.00"))
    assert str(refused.value) == (
        "invalid amount Decimal('1.00'): expected a Money amount such as Money('10.00', 'EUR'), "
        "got Decimal"
    )


@pytest.mark.spec("M1")
def test_bad_amount_over_precise_where_a_minor_unit_amount_is_required() -> None:
    with pytest.raises(PrecisionError) as error:
        Money("10.005", "EUR").require_places()
    assert str(error.value) == "invalid amount '10.005 EUR': at most 2 decimal place(s) allowed"
    with pytest.raises(PrecisionError) as yen:
        Money("10.5", "JPY").require_places()
    assert str(yen.value) == "invalid amount '10.5 JPY': at most 0 decimal place(s) allowed"
    assert isinstance(yen.value, ValueError)
