from decimal import Decimal

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from cabinet_billing import AmountOutOfRangeError, Money, Rounding
from cabinet_billing.domain.money import currency_places
from cabinet_billing.domain.payment_method import LimitBasis, PaymentMethodPricing

pytestmark = pytest.mark.spec("M5")

MODES = st.sampled_from(["ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_UP"])


@st.composite
def methods(draw: st.DrawFn) -> PaymentMethodPricing:
    code = draw(st.sampled_from(["RUB", "EUR", "JPY", "KWD"]))
    places = currency_places(code)

    def money(low: int, high: int) -> Money:
        return Money(draw(st.decimals(min_value=low, max_value=high, places=places)), code)

    minimum = money(1, 100) if draw(st.booleans()) else None
    maximum = money(100, 100000) if draw(st.booleans()) else None
    return PaymentMethodPricing(
        currency=code,
        fee_percent=draw(st.decimals(min_value=0, max_value=100, places=2)),
        fixed_fee=money(0, 50),
        minimum=minimum,
        maximum=maximum,
        cashback_percent=draw(st.none() | st.decimals(min_value=0, max_value=100, places=2)),
        rounding=Rounding(draw(MODES)),
        limits_apply_to=draw(st.sampled_from(list(LimitBasis))),
    )


@st.composite
def bases(draw: st.DrawFn, method: PaymentMethodPricing) -> Money:
    places = currency_places(method.currency)
    low = method.minimum.amount if method.minimum is not None else method.unit.amount
    high = method.maximum.amount if method.maximum is not None else Decimal(10**9)
    value = draw(st.decimals(min_value=low, max_value=high, places=places))
    return Money(value, method.currency)


def quote_or_skip(method: PaymentMethodPricing, base: Money) -> Money:
    try:
        return method.quote(base).total
    except AmountOutOfRangeError:
        # With LimitBasis.TOTAL the base range is only an upper bound of the accepted one.
        reject()


@pytest.mark.spec("M6")
@given(st.data(), methods())
def test_the_total_minus_the_fee_is_the_base(
    data: st.DataObject, method: PaymentMethodPricing
) -> None:
    base = data.draw(bases(method))
    quote_or_skip(method, base)
    q = method.quote(base)
    assert q.base == base
    assert q.total - q.fee == base
    assert q.fee == method.fee_for(base)
    assert q.fee.places() <= currency_places(method.currency)
    assert q.cashback == method.cashback_for(q.total)
    assert Money(0, method.currency) <= q.cashback <= q.total


@given(st.data(), methods())
def test_base_for_total_gives_back_the_quoted_base(
    data: st.DataObject, method: PaymentMethodPricing
) -> None:
    base = data.draw(bases(method))
    total = quote_or_skip(method, base)
    assert method.base_for_total(total) == method.quote(base)


@given(st.data(), methods())
def test_base_for_total_credits_the_largest_base_that_fits(
    data: st.DataObject,
    method: PaymentMethodPricing,
) -> None:
    base = data.draw(bases(method))
    total = quote_or_skip(method, base) + method.unit
    try:
        q = method.base_for_total(total)
    except AmountOutOfRangeError:
        reject()
    assert q.base + q.fee == q.total == total
    assert method.quote(q.base).total <= total
    assert method.fee_for(q.base + method.unit) + q.base + method.unit > total
    assert q.fee >= method.fee_for(q.base)


@given(st.data(), methods())
def test_the_total_grows_with_the_base(data: st.DataObject, method: PaymentMethodPricing) -> None:
    base = data.draw(bases(method))
    after = base + method.unit
    assert base + method.fee_for(base) < after + method.fee_for(after)
