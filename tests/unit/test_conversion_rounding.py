"""A conversion never creates or destroys value silently (SPEC M4)."""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from cabinet_billing import Money, Rounding
from cabinet_billing.domain.fx import Conversion, ExchangeRate, convert, smallest_convertible
from cabinet_billing.domain.ledger import EntryKind, Ledger
from cabinet_billing.errors import ConversionTooSmallError

pytestmark = pytest.mark.spec("M4", "L1")

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)
DAY = date(2024, 3, 1)
UAH_EUR = ExchangeRate("UAH", "EUR", "0.0225", DAY)
EUR_USD = ExchangeRate("EUR", "USD", "1.0875", DAY)


def funded(amount: Money) -> Ledger:
    ledger = Ledger("acc-1")
    ledger.top_up(amount, AT, ref="pay-1")
    return ledger


def test_conversion_rounding_to_zero_is_refused_naming_the_smallest_amount() -> None:
    with pytest.raises(ConversionTooSmallError) as error:
        convert(Money("0.01", "UAH"), "EUR", UAH_EUR)
    assert str(error.value) == (
        "invalid amount '0.01 UAH': it is 0.000225 EUR at UAH/EUR 0.0225, which rounds to "
        "0.00 EUR; convert at least 0.23 UAH"
    )
    assert error.value.minimum == Money("0.23", "UAH")
    assert error.value.exact == Money("0.000225", "EUR")
    assert isinstance(error.value, ValueError)
    assert convert(Money("0.23", "UAH"), "EUR", UAH_EUR).target == Money("0.01", "EUR")
    assert convert(Money("0", "UAH"), "EUR", UAH_EUR).target == Money("0.00", "EUR")


def test_conversion_rounding_to_zero_is_refused_by_the_ledger_and_books_nothing() -> None:
    ledger = funded(Money("1.00", "UAH"))
    nothing = Conversion(
        source=Money("0.01", "UAH"),
        target=Money("0.00", "EUR"),
        exact=Money("0.000225", "EUR"),
        rate=UAH_EUR,
    )
    with pytest.raises(ConversionTooSmallError) as error:
        ledger.convert(nothing, AT, key="fx-1")
    assert str(error.value) == (
        "invalid amount '0.01 UAH': it is 0.000225 EUR at UAH/EUR 0.0225, which rounds to "
        "0.00 EUR; convert at least one that converts to a minor unit"
    )
    assert (len(ledger), ledger.rounding_entries(), ledger.by_key("fx-1")) == (1, (), ())
    assert ledger.balance("UAH") == Money("1.00", "UAH")


@pytest.mark.parametrize(
    ("mode", "smallest"),
    [
        (decimal.ROUND_HALF_UP, "0.23"),
        (decimal.ROUND_HALF_EVEN, "0.23"),
        (decimal.ROUND_DOWN, "0.45"),
        (decimal.ROUND_UP, "0.01"),
    ],
)
def test_conversion_smallest_convertible_amount_depends_on_the_rounding(
    mode: str, smallest: str
) -> None:
    found = smallest_convertible("UAH", UAH_EUR, Rounding(mode))
    assert found == Money(smallest, "UAH")
    assert convert(found, "EUR", UAH_EUR, Rounding(mode)).target == Money("0.01", "EUR")
    below = found - Money("0.01", "UAH")
    if below.amount:
        with pytest.raises(ConversionTooSmallError):
            convert(below, "EUR", UAH_EUR, Rounding(mode))


def test_conversion_the_half_cent_is_booked_as_a_rounding_entry() -> None:
    ledger = funded(Money("10.00", "EUR"))
    conversion = convert(Money("10.00", "EUR"), "USD", EUR_USD)
    out, into = ledger.convert(conversion, AT, key="fx-1", memo="to USD")
    assert (out.kind, out.amount) == (EntryKind.CONVERSION, Money("-10.00", "EUR"))
    assert (into.kind, into.amount) == (EntryKind.CONVERSION, Money("10.88", "USD"))
    (difference,) = ledger.rounding_entries()
    assert difference.amount == Money("-0.005", "USD")
    assert (difference.seq, difference.target_seq, difference.key) == (1, into.seq, "fx-1")
    assert difference.conversion == conversion
    assert into.amount + difference.amount == Money("10.875", "USD") == conversion.exact
    # The customer holds the rounded amount; the rounding account shows the provider's side.
    assert ledger.balance("USD") == Money("10.88", "USD")
    assert ledger.balance("EUR") == Money("0.00", "EUR")
    assert ledger.rounding("USD") == Money("-0.005", "USD")
    assert ledger.rounding("EUR") == Money("0", "EUR")
    assert ledger.verify()


def test_conversion_booked_again_under_its_key_books_no_second_difference() -> None:
    ledger = funded(Money("20.00", "EUR"))
    conversion = convert(Money("10.00", "EUR"), "USD", EUR_USD)
    first = ledger.convert(conversion, AT, key="fx-1")
    assert ledger.convert(conversion, AT, key="fx-1") == first
    assert len(ledger.rounding_entries()) == 1
    assert ledger.balance("USD") == Money("10.88", "USD")


def test_conversion_differences_add_up_in_the_rounding_account() -> None:
    ledger = funded(Money("100.00", "EUR"))
    for amount in ("10.00", "10.00", "0.02"):
        ledger.convert(convert(Money(amount, "EUR"), "USD", EUR_USD), AT)
    # 10.875 -> 10.88 twice (-0.005 each), 0.02175 -> 0.02 (+0.00175)
    assert [r.amount for r in ledger.rounding_entries("USD")] == [
        Money("-0.005", "USD"),
        Money("-0.005", "USD"),
        Money("0.00175", "USD"),
    ]
    assert [r.total_after for r in ledger.rounding_entries()] == [
        Money("-0.005", "USD"),
        Money("-0.010", "USD"),
        Money("-0.00825", "USD"),
    ]
    assert ledger.balance("USD") == Money("21.78", "USD")
    assert ledger.verify()


def test_conversion_without_a_difference_books_no_rounding_entry() -> None:
    ledger = funded(Money("10.00", "EUR"))
    ledger.convert(
        convert(Money("10.00", "EUR"), "USD", ExchangeRate("EUR", "USD", "1.08", DAY)), AT
    )
    assert ledger.rounding_entries() == ()
    assert ledger.balance("USD") == Money("10.80", "USD")


def test_conversion_through_an_inverse_rate_books_its_exact_quotient() -> None:
    ledger = funded(Money("100.00", "RUB"))
    rate = ExchangeRate("EUR", "RUB", "98.50", DAY).inverse()
    conversion = convert(Money("100.00", "RUB"), "EUR", rate)
    _, into = ledger.convert(conversion, AT)
    (difference,) = ledger.rounding_entries()
    assert into.amount == Money("1.02", "EUR")
    assert into.amount + difference.amount == conversion.exact
    assert conversion.exact.amount == Decimal("1.0152284263959390862944162436548223350253807106599")
    assert ledger.verify()


def test_conversion_a_ledger_whose_rounding_account_was_altered_does_not_verify() -> None:
    ledger = funded(Money("10.00", "EUR"))
    ledger.convert(convert(Money("10.00", "EUR"), "USD", EUR_USD), AT)
    (entry,) = ledger.rounding_entries()
    tampered = attrs.evolve(ledger, _rounding=[attrs.evolve(entry, amount=Money("0", "USD"))])
    assert not tampered.verify()
