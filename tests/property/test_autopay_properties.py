from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money
from cabinet_billing.domain.money import sum_money
from cabinet_billing.domain.payment_method import LimitBasis, PaymentMethodPricing
from cabinet_billing.rules.autopay import (
    AutopayMode,
    AutopayPolicy,
    autopay_amount,
    autopay_charge,
    low_balance_crossed,
)

cents = st.integers(min_value=0, max_value=500_000).map(lambda c: Money(Decimal(c) / 100, "RUB"))
balances = st.integers(min_value=-5_000_000, max_value=5_000_000).map(
    lambda units: Money(Decimal(units) / 10_000, "RUB"),
)


positive_cents = st.integers(min_value=1, max_value=500_000).map(
    lambda c: Money(Decimal(c) / 100, "RUB"),
)


ANY_MODE = st.sampled_from(list(AutopayMode))
ANY_LIMITS = st.booleans()
NO_LIMITS = st.just(value=False)


@st.composite
def policies(
    draw: st.DrawFn,
    modes: st.SearchStrategy[AutopayMode] = ANY_MODE,
    limits: st.SearchStrategy[bool] = ANY_LIMITS,
) -> AutopayPolicy:
    threshold = draw(cents)
    mode = draw(modes)
    # A target balance lies above the threshold; a fixed amount is any positive amount.
    amount = draw(positive_cents)
    if mode is AutopayMode.TOP_UP_TO:
        amount = threshold + amount
    cap = draw(st.none() | cents)
    minimum = maximum = None
    if cap is not None and draw(limits):
        minimum = draw(st.none() | cents)
        maximum = draw(st.none() | cents)
        if minimum is not None and maximum is not None:
            maximum = minimum + maximum
    return AutopayPolicy(threshold, mode, amount, cap, minimum, maximum)


@pytest.mark.spec("R6")
@given(policies(), st.lists(balances, max_size=40))
def test_the_automatic_payments_of_a_month_never_exceed_the_cap(
    policy: AutopayPolicy,
    month: list[Money],
) -> None:
    paid: list[Money] = []
    for balance in month:
        amount = autopay_amount(policy, balance, sum_money(paid, "RUB"))
        if amount is None:
            continue
        assert amount.amount > 0
        assert amount.places() <= 2
        assert balance < policy.threshold
        if policy.minimum is not None:
            assert amount >= policy.minimum
        if policy.maximum is not None:
            assert amount <= policy.maximum
        paid.append(amount)
    if policy.monthly_cap is not None:
        assert sum_money(paid, "RUB") <= policy.monthly_cap


@pytest.mark.spec("R6")
@given(policies(st.just(AutopayMode.TOP_UP_TO), NO_LIMITS), balances)
def test_a_top_up_never_overshoots_the_target_by_a_minor_unit_or_more(
    policy: AutopayPolicy,
    balance: Money,
) -> None:
    amount = autopay_amount(policy, balance, Money("0", "RUB"))
    if amount is not None:
        assert balance + amount < policy.amount + Money("0.01", "RUB")


thresholds = st.integers(min_value=0, max_value=10_000).map(lambda c: Money(Decimal(c), "RUB"))
walk = st.lists(
    st.integers(min_value=-2_000, max_value=12_000).map(lambda c: Money(Decimal(c), "RUB")),
    min_size=1,
    max_size=60,
)


@pytest.mark.spec("R8")
@given(thresholds, walk)
def test_the_low_balance_notice_fires_once_per_downward_crossing(
    threshold: Money,
    balances: list[Money],
) -> None:
    fired = [
        i
        for i, (before, after) in enumerate(itertools.pairwise(balances), start=1)
        if low_balance_crossed(before, after, threshold)
    ]
    # Count the stretches below the threshold that were entered from at or above it.
    runs = [
        (low, len(list(group))) for low, group in itertools.groupby(b < threshold for b in balances)
    ]
    entered = sum(1 for k, (low, _) in enumerate(runs) if low and k > 0)
    assert len(fired) == entered
    # Between two notices the balance was back at or above the threshold.
    for first, second in itertools.pairwise(fired):
        assert any(b >= threshold for b in balances[first:second])
    # Each notice starts a stretch below the threshold.
    for i in fired:
        assert balances[i] < threshold <= balances[i - 1]


@st.composite
def pricings(draw: st.DrawFn) -> PaymentMethodPricing:
    low = draw(st.none() | positive_cents)
    high = draw(st.none() | positive_cents)
    if low is not None and high is not None:
        high = low + high
    return PaymentMethodPricing(
        "RUB",
        fee_percent=draw(st.integers(min_value=0, max_value=20)),
        fixed_fee=draw(cents.filter(lambda m: m <= Money("50.00", "RUB"))),
        minimum=low,
        maximum=high,
        limits_apply_to=draw(st.sampled_from(list(LimitBasis))),
    )


@pytest.mark.spec("R6", "M5")
@given(policies(), pricings(), st.lists(balances, max_size=30))
def test_automatic_payments_priced_by_their_method_keep_to_its_range_and_the_cap(
    policy: AutopayPolicy, pricing: PaymentMethodPricing, days: list[Money]
) -> None:
    charged = Money("0", "RUB")
    for balance in days:
        quote = autopay_charge(policy, balance, charged, pricing)
        if quote is None:
            continue
        # What the card is charged is the method's own quote of what is credited ...
        assert pricing.quote(quote.base) == quote
        assert quote.base.amount > 0
        charged += quote.total
        # ... and the month's totals, fees included, never pass the cap.
        if policy.monthly_cap is not None:
            assert charged <= policy.monthly_cap
