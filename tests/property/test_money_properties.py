from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money, Rounding, TaxMode, TaxRate
from cabinet_billing.domain.allocation import allocate, round_lines
from cabinet_billing.domain.money import currency_places, sum_money
from cabinet_billing.domain.tax import tax_amounts, tax_breakdown

CURRENCIES = st.sampled_from(["EUR", "RUB", "UAH", "USD", "JPY", "KWD"])
MODES = st.sampled_from(["ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_CEILING"])


def amounts(places: int = 4, max_value: int = 10**9) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=-max_value,
        max_value=max_value,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def money_lists(draw: st.DrawFn, min_size: int = 1) -> list[Money]:
    code = draw(CURRENCIES)
    values = draw(st.lists(amounts(), min_size=min_size, max_size=12))
    return [Money(v, code) for v in values]


@pytest.mark.spec("M2")
@given(
    total=amounts(),
    code=CURRENCIES,
    ratios=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
        any,
    ),
    mode=MODES,
)
def test_allocation_sums_to_the_rounded_total_and_parts_stay_within_a_unit(
    total: Decimal,
    code: str,
    ratios: list[int],
    mode: str,
) -> None:
    rounding = Rounding(mode)
    parts = allocate(Money(total, code), ratios, rounding)
    rounded_total = rounding.minor(Money(total, code))
    assert sum(parts) == rounded_total
    unit = Fraction(1, 10 ** currency_places(code))
    weight = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact_share = Fraction(rounded_total.amount) * ratio / weight
        assert abs(Fraction(part.amount) - exact_share) < unit
        assert part.places() <= currency_places(code)


@pytest.mark.spec("M2")
@given(lines=money_lists(), mode=MODES)
def test_round_lines_sum_to_the_rounded_exact_total(lines: list[Money], mode: str) -> None:
    rounding = Rounding(mode)
    rounded = round_lines(lines, rounding)
    assert sum(rounded) == rounding.minor(sum_money(lines))
    unit = Fraction(1, 10 ** currency_places(lines[0].code))
    for exact, part in zip(lines, rounded, strict=True):
        assert abs(Fraction(part.amount) - Fraction(exact.amount)) < unit


@pytest.mark.spec("M3")
@given(
    amount=amounts(places=4, max_value=10**7),
    code=CURRENCIES,
    percent=st.decimals(min_value=0, max_value=100, places=2),
    mode=st.sampled_from(TaxMode),
)
def test_net_plus_tax_is_gross_for_any_amount_and_rate(
    amount: Decimal,
    code: str,
    percent: Decimal,
    mode: TaxMode,
) -> None:
    rate = TaxRate(percent)
    line = tax_amounts(Money(amount, code), rate, mode)
    assert line.net + line.tax == line.gross
    for part in (line.net, line.tax, line.gross):
        assert part.places() <= currency_places(code)
    if mode is TaxMode.INCLUSIVE:
        assert line.gross == Rounding().minor(Money(amount, code))
        assert line.tax == Rounding().minor(rate.included_in(line.gross))
    else:
        assert line.net == Rounding().minor(Money(amount, code))


@pytest.mark.spec("M3")
@given(
    lines=money_lists(),
    percent=st.decimals(min_value=0, max_value=30, places=1),
    mode=st.sampled_from(TaxMode),
)
def test_breakdown_columns_add_up_per_line_and_in_total(
    lines: list[Money],
    percent: Decimal,
    mode: TaxMode,
) -> None:
    result = tax_breakdown(lines, TaxRate(percent), mode)
    for part in ("net", "tax", "gross"):
        assert sum(getattr(ln, part) for ln in result.lines) == getattr(result.total, part)
    for ln in result.lines:
        assert ln.net + ln.tax == ln.gross
    exact_tax = sum_money(
        TaxRate(percent).included_in(m)
        if mode is TaxMode.INCLUSIVE
        else TaxRate(percent).added_to(m)
        for m in lines
    )
    assert result.total.tax == Rounding().minor(exact_tax)


@pytest.mark.spec("M1")
@given(a=amounts(), b=amounts(), code=CURRENCIES)
def test_money_arithmetic_is_exact_decimal_arithmetic(a: Decimal, b: Decimal, code: str) -> None:
    assert (Money(a, code) + Money(b, code)).amount == a + b
    assert (Money(a, code) - Money(b, code)).amount == a - b
    assert (Money(a, code) < Money(b, code)) == (a < b)
    assert Money(a, code) + Money(b, code) - Money(b, code) == Money(a, code)
