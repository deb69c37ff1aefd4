"""Money computes in the library's own decimal context, whatever the caller's context is."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money, Rounding, TaxMode, TaxRate
from cabinet_billing.domain.allocation import allocate, round_lines
from cabinet_billing.domain.fx import ExchangeRate, convert
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.money import sum_money
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.tax import tax_breakdown
from cabinet_billing.errors import BillingError

pytestmark = pytest.mark.spec("M1")

T = TypeVar("T")

SIGNALS = [
    decimal.Clamped,
    decimal.DivisionByZero,
    decimal.Inexact,
    decimal.Rounded,
    decimal.Subnormal,
    decimal.Overflow,
    decimal.Underflow,
    decimal.InvalidOperation,
    decimal.FloatOperation,
]
ROUNDINGS = [
    decimal.ROUND_DOWN,
    decimal.ROUND_UP,
    decimal.ROUND_FLOOR,
    decimal.ROUND_CEILING,
    decimal.ROUND_HALF_UP,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_05UP,
]

#: A caller's context at its worst: few digits, any rounding, every trap off or on.
hostile = st.builds(
    lambda prec, rounding, traps: decimal.Context(prec=prec, rounding=rounding, traps=traps),
    st.integers(min_value=1, max_value=8),
    st.sampled_from(ROUNDINGS),
    st.sampled_from([[], SIGNALS, [decimal.Inexact, decimal.Rounded]]),
)
# 33 integer digits and the 4 places of accruals: sums stay within what storage holds.
amounts = st.decimals(
    min_value=Decimal("-999999999999999999999999999999999.9999"),
    max_value=Decimal("999999999999999999999999999999999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
small_amounts = st.decimals(min_value=-(10**12), max_value=10**12, places=4)
positive = st.decimals(min_value=Decimal("0.01"), max_value=10**12, places=2)
modes = st.sampled_from(ROUNDINGS)
AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


def both(context: decimal.Context, compute: Callable[[], T]) -> tuple[T, T]:
    """The result under the default context and under ``context``."""
    with decimal.localcontext(decimal.Context()):
        expected = compute()
    with decimal.localcontext(context):
        got = compute()
    return expected, got


@given(hostile, amounts, amounts)
def test_ambient_context_sums_differences_and_comparisons_are_exact(
    context: decimal.Context, a: Decimal, b: Decimal
) -> None:
    x, y = Money(a, "EUR"), Money(b, "EUR")
    exact = Fraction(a) + Fraction(b)
    for result in both(context, lambda: (x + y, x - y, -x, abs(x), x < y, x <= y, x == y)):
        total, difference, negated, absolute, less, at_most, equal = result
        assert Fraction(total.amount) == exact
        assert Fraction(difference.amount) == Fraction(a) - Fraction(b)
        assert (Fraction(negated.amount), Fraction(absolute.amount)) == (
            -Fraction(a),
            abs(Fraction(a)),
        )
        assert (less, at_most, equal) == (a < b, a <= b, a == b)


@given(hostile, st.lists(small_amounts, min_size=1, max_size=20))
def test_ambient_context_sum_money_is_exact(
    context: decimal.Context, values: list[Decimal]
) -> None:
    moneys = [Money(v, "RUB") for v in values]
    expected, got = both(context, lambda: (sum_money(moneys), sum(moneys, Money.zero("RUB"))))
    assert expected == got
    assert Fraction(got[0].amount) == sum(Fraction(v) for v in values)


@given(hostile, amounts, modes, st.integers(min_value=0, max_value=4))
def test_ambient_context_rounding_names_its_mode(
    context: decimal.Context, a: Decimal, mode: str, places: int
) -> None:
    m = Money(a, "EUR")
    rounding = Rounding(mode)
    expected, got = both(context, lambda: (rounding.minor(m), rounding.quantize(m, places)))
    assert expected == got
    assert got[0].amount == a.quantize(
        Decimal(1).scaleb(-2), rounding=mode, context=decimal.Context(prec=60)
    )


@given(
    hostile, positive, st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8)
)
def test_ambient_context_allocation_never_loses_a_cent(
    context: decimal.Context, total: Decimal, ratios: list[int]
) -> None:
    if not any(ratios):
        ratios = [*ratios, 1]
    money = Money(total, "EUR")
    lines = [Money(total / 3, "EUR"), Money(total / 7, "EUR"), Money(total, "EUR")]
    expected, got = both(context, lambda: (allocate(money, ratios), round_lines(lines)))
    assert expected == got
    parts, rounded = got
    assert sum_money(parts) == money
    assert sum_money(rounded) == Rounding().minor(sum_money(lines))


@given(hostile, st.lists(positive, min_size=1, max_size=6), st.sampled_from(["20", "10", "7.7"]))
def test_ambient_context_taxes_and_fees(
    context: decimal.Context, values: list[Decimal], percent: str
) -> None:
    lines = [Money(v, "RUB") for v in values]
    card = PaymentMethodPricing("RUB", fee_percent="5", fixed_fee=Money("10.00", "RUB"))

    def compute() -> object:
        inclusive = tax_breakdown(lines, TaxRate(percent), TaxMode.INCLUSIVE)
        exclusive = tax_breakdown(lines, TaxRate(percent), TaxMode.EXCLUSIVE)
        quote = card.quote(lines[0])
        return inclusive, exclusive, quote, card.base_for_total(quote.total)

    expected, got = both(context, compute)
    assert expected == got


@given(hostile, st.lists(st.tuples(st.booleans(), positive), min_size=1, max_size=15))
def test_ambient_context_the_ledger_balance_is_the_exact_sum(
    context: decimal.Context, moves: list[tuple[bool, Decimal]]
) -> None:
    def book() -> tuple[Money, bool]:
        ledger = Ledger("acc-1")
        ledger.top_up(Money("99999999999999999999999999.99", "EUR"), AT)
        for top_up, value in moves:
            if top_up:
                ledger.top_up(Money(value, "EUR"), AT)
            else:
                ledger.charge(Money(value, "EUR"), AT)
        return ledger.balance("EUR"), ledger.verify()

    expected, got = both(context, book)
    assert expected == got
    assert got[1] is True
    exact = Fraction(Decimal("99999999999999999999999999.99")) + sum(
        Fraction(v) if up else -Fraction(v) for up, v in moves
    )
    assert Fraction(got[0].amount) == exact


@given(hostile, positive, st.decimals(min_value=Decimal("0.0001"), max_value=10**4, places=4))
def test_ambient_context_conversions(
    context: decimal.Context, value: Decimal, rate: Decimal
) -> None:
    r = ExchangeRate("EUR", "USD", rate, date(2024, 3, 1))

    def compute() -> object:
        try:
            return convert(Money(value, "EUR"), "USD", r), convert(
                Money(value, "USD"), "EUR", r.inverse()
            )
        except BillingError as error:  # a target that rounds to nothing is refused either way
            return type(error)

    expected, got = both(context, compute)
    assert expected == got
