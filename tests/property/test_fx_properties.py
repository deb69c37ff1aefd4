from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money, Rounding
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.domain.fx import Conversion, ExchangeRate, MoneyBag, convert
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.money import currency_places, sum_money
from cabinet_billing.errors import ConversionTooSmallError

pytestmark = pytest.mark.spec("M4")

CURRENCIES = ["EUR", "RUB", "UAH", "USD", "JPY", "KWD"]
MODES = st.sampled_from(["ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_CEILING"])
DAY = date(2024, 3, 1)
AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


def unit(code: str) -> Fraction:
    return Fraction(1, 10 ** currency_places(code))


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(st.sampled_from(CURRENCIES))
    quote = draw(st.sampled_from([c for c in CURRENCIES if c != base]))
    return base, quote


def rates(min_value: Decimal = Decimal("0.000001")) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=min_value, max_value=Decimal(100000), places=6)


def converted(
    amount: Money, to: str, rate: ExchangeRate, rounding: Rounding | None = None
) -> Conversion | None:
    """The conversion, or None when it is refused: only for something that rounds to nothing."""
    mode = Rounding() if rounding is None else rounding
    exact = Money(rate.apply(amount.amount), to)
    if amount.amount and not mode.minor(exact).amount:
        with pytest.raises(ConversionTooSmallError) as refused:
            convert(amount, to, rate, mode)
        minimum = refused.value.minimum
        assert isinstance(minimum, Money)
        assert minimum > abs(amount)
        assert convert(minimum, to, rate, mode).target.amount != 0
        return None
    return convert(amount, to, rate, mode)


@st.composite
def minor_amounts(draw: st.DrawFn, code: str) -> Money:
    places = currency_places(code)
    value = draw(st.decimals(min_value=0, max_value=10**9, places=places))
    return Money(value, code)


@given(st.data(), pairs(), rates(), MODES)
def test_the_difference_is_exact_minus_rounded_and_value_is_kept(
    data: st.DataObject,
    pair: tuple[str, str],
    rate_value: Decimal,
    mode: str,
) -> None:
    base, quote = pair
    rate = ExchangeRate(base, quote, rate_value, DAY)
    amount = data.draw(minor_amounts(base))
    c = converted(amount, quote, rate, Rounding(mode))
    if c is None:
        return
    assert c.source == amount
    assert c.rate is rate
    assert c.difference == c.exact - c.target
    assert c.target + c.difference == c.exact
    assert c.target.places() <= currency_places(quote)
    assert Fraction(c.exact.amount) == Fraction(amount.amount) * Fraction(rate_value)
    assert abs(Fraction(c.difference.amount)) < unit(quote)


@given(st.data(), pairs(), rates())
def test_a_round_trip_loses_at_most_half_a_unit_on_each_side(
    data: st.DataObject,
    pair: tuple[str, str],
    rate_value: Decimal,
) -> None:
    base, quote = pair
    rate = ExchangeRate(base, quote, rate_value, DAY)
    amount = data.draw(minor_amounts(base))
    there = converted(amount, quote, rate)
    back = None if there is None else converted(there.target, base, rate.inverse())
    if there is None or back is None:
        return
    assert back.difference == back.exact - back.target
    bound = unit(base) / 2 + unit(quote) / (2 * Fraction(rate_value))
    assert abs(Fraction(back.target.amount) - Fraction(amount.amount)) <= bound


@given(st.data(), pairs())
def test_a_round_trip_through_a_finer_currency_stays_within_one_minor_unit(
    data: st.DataObject,
    pair: tuple[str, str],
) -> None:
    base, quote = pair
    # The quote's minor unit is worth at most the base's: no precision is lost on the way.
    smallest = Decimal(10) ** (currency_places(base) - currency_places(quote))
    rate_value = data.draw(rates(min_value=max(smallest, Decimal("0.000001"))))
    rate = ExchangeRate(base, quote, rate_value, DAY)
    amount = data.draw(minor_amounts(base))
    there = converted(amount, quote, rate)
    back = None if there is None else converted(there.target, base, rate.inverse())
    if there is None or back is None:
        return
    assert abs(Fraction(back.target.amount) - Fraction(amount.amount)) <= unit(base)
    assert back.difference == back.exact - back.target


@given(st.data(), pairs(), rates())
def test_a_conversion_through_an_inverse_divides_by_the_direct_rate(
    data: st.DataObject,
    pair: tuple[str, str],
    rate_value: Decimal,
) -> None:
    base, quote = pair
    amount = data.draw(minor_amounts(quote))
    inverse = FixedRates({(base, quote): rate_value}).rate(quote, base, DAY)
    c = converted(amount, base, inverse)
    if c is None:
        return
    expected = Fraction(amount.amount) / Fraction(rate_value)
    assert abs(Fraction(c.exact.amount) - expected) <= expected * Fraction(1, 10**48)
    assert c.target == Rounding().minor(Money(c.exact.amount, base))


operations = st.lists(
    st.tuples(
        st.sampled_from(CURRENCIES),
        st.decimals(min_value=-(10**9), max_value=10**9, places=4),
        st.booleans(),
    ),
    max_size=30,
)


@given(operations)
def test_a_bags_totals_are_the_sums_of_what_was_added(ops: list[tuple[str, Decimal, bool]]) -> None:
    bag = MoneyBag()
    expected: defaultdict[str, Decimal] = defaultdict(Decimal)
    for code, value, subtract in ops:
        money = Money(value, code)
        bag = bag - money if subtract else bag + money
        expected[code] += -value if subtract else value
    assert bag.currencies == tuple(sorted(expected))
    for code in CURRENCIES:
        assert bag.get(code) == Money(expected.get(code, Decimal(0)), code)
    assert [m.code for m in bag] == sorted(expected)


@given(operations, operations)
def test_adding_bags_is_order_independent(
    left: list[tuple[str, Decimal, bool]],
    right: list[tuple[str, Decimal, bool]],
) -> None:
    a = MoneyBag.of(*(Money(v, c) for c, v, _ in left))
    b = MoneyBag.of(*(Money(v, c) for c, v, _ in right))
    assert list(a + b) == list(b + a)
    assert (a + b - b).currencies == (a + b).currencies
    for m in a + b - b:
        assert m == a.get(m.code)


@given(st.data(), pairs(), rates(), MODES, st.booleans())
def test_conversion_entries_and_their_difference_net_to_the_rate_exactly(
    data: st.DataObject,
    pair: tuple[str, str],
    rate_value: Decimal,
    mode: str,
    through_inverse: bool,
) -> None:
    base, quote = pair
    direct = ExchangeRate(quote, base, rate_value, DAY) if through_inverse else None
    rate = direct.inverse() if direct is not None else ExchangeRate(base, quote, rate_value, DAY)
    amount = data.draw(minor_amounts(base))
    ledger = Ledger("acc-1")
    if amount.amount:
        ledger.top_up(amount, AT)
    c = converted(amount, quote, rate, Rounding(mode))
    if c is None:
        return
    out, into = ledger.convert(c, AT)
    differences = ledger.rounding_entries()
    arrived = into.amount + sum_money((d.amount for d in differences), quote)
    assert out.amount == -amount
    assert into.amount == c.target
    if direct is None:
        # The target leg and its difference are the source at the rate, to the last digit.
        assert Fraction(arrived.amount) == Fraction(amount.amount) * Fraction(rate_value)
    else:
        # Through an inverse: the source divided by the direct rate, to 50 digits.
        assert arrived == c.exact
        expected = Fraction(amount.amount) / Fraction(rate_value)
        assert abs(Fraction(arrived.amount) - expected) <= expected * Fraction(1, 10**48)
    assert len(differences) == (1 if c.difference.amount else 0)
    assert ledger.balance(quote) == c.target
    assert ledger.rounding(quote) == c.difference
    assert ledger.verify()
