from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import (
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidTransitionError,
    Money,
    Period,
    ValidationError,
)
from cabinet_billing.domain.notifications import NotificationCategory
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.rules.autopay import (
    AutopayMode,
    AutopayPolicy,
    CardAutopay,
    CardAutopayStatus,
    PayWay,
    ScheduledCharge,
    autopay_amount,
    forecast,
    low_balance_crossed,
    low_balance_notice,
    recommended_cap,
)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def top_up_to(target: str, cap: str | None = "682.00", **kwargs: Money) -> AutopayPolicy:
    return AutopayPolicy(
        rub("100.00"),
        AutopayMode.TOP_UP_TO,
        rub(target),
        monthly_cap=None if cap is None else rub(cap),
        **kwargs,
    )


# ----------------------------------------------------------------------------- R6


@pytest.mark.spec("R6")
def test_the_recommended_cap_is_the_forecast_plus_10_percent() -> None:
    assert recommended_cap(rub("620.00")) == rub("682.00")


@pytest.mark.spec("R6")
def test_the_recommended_cap_is_rounded_to_the_minor_unit_with_a_settable_margin() -> None:
    assert recommended_cap(rub("60.00"), 15) == rub("69.00")
    assert recommended_cap(rub("33.33")) == rub("36.66")
    assert recommended_cap(Money("1235", "JPY"), "12.5") == Money("1389", "JPY")
    assert recommended_cap(rub("0")) == rub("0.00")


@pytest.mark.spec("R6")
def test_a_negative_forecast_or_margin_is_refused() -> None:
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        recommended_cap(rub("-1"))
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        recommended_cap(rub("620.00"), -10)


@pytest.mark.spec("R6")
def test_nothing_is_paid_while_the_balance_is_at_or_above_the_threshold() -> None:
    assert autopay_amount(top_up_to("700.00"), rub("100.00"), rub("0")) is None
    assert autopay_amount(top_up_to("700.00"), rub("500.00"), rub("0")) is None


@pytest.mark.spec("R6")
def test_a_low_balance_is_topped_up_to_the_target() -> None:
    assert autopay_amount(top_up_to("700.00"), rub("99.99"), rub("0")) == rub("600.01")
    # Accruals have four decimals: the top-up is rounded up so the target is reached.
    assert autopay_amount(top_up_to("700.00"), rub("22.4137"), rub("0")) == rub("677.59")
    assert autopay_amount(top_up_to("700.00"), rub("-50.00"), rub("0")) == rub("682.00")


@pytest.mark.spec("R6")
def test_a_fixed_amount_is_paid_as_set() -> None:
    policy = AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("300.00"), rub("682.00"))
    assert autopay_amount(policy, rub("10.00"), rub("0")) == rub("300.00")


@pytest.mark.spec("R6")
def test_no_automatic_payment_exceeds_the_monthly_cap() -> None:
    policy = top_up_to("700.00")
    assert autopay_amount(policy, rub("40.00"), rub("600.00")) == rub("82.00")
    assert autopay_amount(policy, rub("40.00"), rub("682.00")) is None
    assert autopay_amount(policy, rub("40.00"), rub("700.00")) is None


@pytest.mark.spec("R6")
def test_without_a_cap_nothing_limits_the_payments() -> None:
    policy = top_up_to("700.00", cap=None)
    assert autopay_amount(policy, rub("40.00"), rub("100000.00")) == rub("660.00")


@pytest.mark.spec("R6")
def test_the_method_range_is_respected_within_the_cap() -> None:
    policy = top_up_to("700.00", minimum=rub("10.00"), maximum=rub("300.00"))
    assert autopay_amount(policy, rub("40.00"), rub("0")) == rub("300.00")
    # Below the method's minimum: raised to it while the cap leaves room ...
    assert autopay_amount(policy, rub("99.00"), rub("0")) == rub("300.00")
    small = top_up_to("101.00", minimum=rub("10.00"))
    assert autopay_amount(small, rub("99.00"), rub("0")) == rub("10.00")
    # ... and nothing when what is left of the cap is below the minimum.
    assert autopay_amount(small, rub("99.00"), rub("675.00")) is None


@pytest.mark.spec("R6")
@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: top_up_to("100.00"),
            ValidationError,
            "the target balance must be above the threshold 100.00 RUB",
        ),
        (
            lambda: AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("0")),
            ValidationError,
            "amount=Money('0', 'RUB') is invalid: must be greater than zero",
        ),
        (
            lambda: top_up_to("700.00", minimum=rub("400.00"), maximum=rub("300.00")),
            ValidationError,
            "must not be above the maximum 300.00 RUB",
        ),
        (
            lambda: top_up_to("700.00", cap=None, maximum=rub("3000.00")),
            ValidationError,
            "a payment method with limits needs a monthly cap",
        ),
        (
            lambda: AutopayPolicy(rub("100.00"), AutopayMode.FIXED, Money("5", "EUR")),
            CurrencyMismatchError,
            "amount is in EUR, expected RUB",
        ),
        (
            lambda: AutopayPolicy(rub("-1.00"), AutopayMode.FIXED, rub("5")),
            InvalidAmountError,
            "must not be negative",
        ),
        (
            lambda: AutopayPolicy(rub("1.001"), AutopayMode.FIXED, rub("5")),
            InvalidAmountError,
            "at most 2 decimal",
        ),
    ],
)
def test_bad_policies_are_refused(
    build: object,
    error: type[Exception],
    message: str,
) -> None:
    assert callable(build)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


@pytest.mark.spec("R6")
def test_amounts_in_another_currency_are_refused() -> None:
    with pytest.raises(CurrencyMismatchError, match="amount is in EUR, expected RUB"):
        autopay_amount(top_up_to("700.00"), Money("1", "EUR"), rub("0"))


@pytest.mark.spec("R6")
def test_the_forecast_sums_the_charges_that_fall_in_the_month() -> None:
    charges = [
        ScheduledCharge(rub("250.00"), Period.months(), date(2024, 3, 21)),
        ScheduledCharge(rub("20.00"), Period.days(), date(2024, 4, 1)),
        ScheduledCharge(rub("1200.00"), Period.year(), date(2024, 9, 1)),
        ScheduledCharge(rub("100.00"), Period.months(), date(2024, 5, 2)),
    ]
    assert forecast(charges, date(2024, 4, 15), "RUB") == rub("850.00")
    assert forecast([], date(2024, 4, 1), "RUB") == rub("0")


@pytest.mark.spec("R6")
def test_the_forecast_follows_the_anchor_of_a_31st_subscription() -> None:
    sub = Subscription(
        "1", "a", rub("100.00"), "month", date(2024, 2, 29), anchor=date(2024, 1, 31)
    )
    charge = ScheduledCharge.from_subscription(sub)
    assert charge.dates_in(date(2024, 3, 1), date(2024, 5, 1)) == (
        date(2024, 3, 31),
        date(2024, 4, 30),
    )
    assert forecast([charge], date(2024, 3, 1), "RUB") == rub("100.00")


@pytest.mark.spec("R6")
def test_the_forecast_refuses_another_currency() -> None:
    charge = ScheduledCharge(Money("5", "EUR"), Period.months(), date(2024, 4, 2))
    with pytest.raises(CurrencyMismatchError):
        forecast([charge], date(2024, 4, 1), "RUB")


# ----------------------------------------------------------------------------- R7


@pytest.mark.spec("R7")
def test_invoices_are_charged_on_issue_day_after_the_first_card_payment() -> None:
    autopay = CardAutopay("acc-1")
    assert autopay.status is CardAutopayStatus.AWAITING_CARD
    assert not autopay.charge_on_issue(date(2024, 3, 1), date(2024, 3, 1))
    autopay.record_card_payment("card-1", date(2024, 3, 5))
    assert (autopay.status, autopay.method_id, autopay.since) == (
        CardAutopayStatus.ACTIVE,
        "card-1",
        date(2024, 3, 5),
    )
    assert autopay.charge_on_issue(date(2024, 4, 1), date(2024, 4, 1))
    assert not autopay.charge_on_issue(date(2024, 4, 1), date(2024, 4, 2))
    # An invoice issued before the first card payment is not charged automatically.
    assert not autopay.charge_on_issue(date(2024, 3, 1), date(2024, 3, 1))
    assert autopay.pay_ways == (PayWay.CARD_AUTOPAY, PayWay.CARD, PayWay.BANK_TRANSFER)


@pytest.mark.spec("R7")
def test_changing_the_card_keeps_autopay_with_the_new_card() -> None:
    autopay = CardAutopay("acc-1")
    autopay.record_card_payment("card-1", date(2024, 3, 5))
    autopay.record_card_payment("card-2", date(2024, 4, 7))
    assert (autopay.method_id, autopay.since) == ("card-2", date(2024, 3, 5))


@pytest.mark.spec("R7")
def test_stopping_leaves_bank_transfer_as_the_only_way() -> None:
    autopay = CardAutopay("acc-1")
    autopay.record_card_payment("card-1", date(2024, 3, 5))
    autopay.stop()
    assert autopay.bank_transfer_only
    assert autopay.pay_ways == (PayWay.BANK_TRANSFER,)
    assert (autopay.status, autopay.method_id) == (CardAutopayStatus.STOPPED, None)
    assert not autopay.charge_on_issue(date(2024, 4, 1), date(2024, 4, 1))


@pytest.mark.spec("R7")
def test_a_stopped_autopay_takes_no_card_and_is_not_stopped_twice() -> None:
    autopay = CardAutopay("acc-1")
    autopay.stop()
    with pytest.raises(InvalidTransitionError) as error:
        autopay.record_card_payment("card-1", date(2024, 3, 5))
    assert str(error.value) == (
        "cannot go from stopped to active; allowed from stopped: bank_transfer"
    )
    assert autopay.status is CardAutopayStatus.STOPPED
    with pytest.raises(InvalidTransitionError, match="allowed from stopped: none"):
        autopay.stop()


@pytest.mark.spec("R7")
def test_card_autopay_validates_its_state() -> None:
    with pytest.raises(ValidationError, match="an active card autopay has a card"):
        CardAutopay("acc-1", CardAutopayStatus.ACTIVE)
    autopay = CardAutopay("acc-1")
    with pytest.raises(ValidationError, match="must be a non-empty string"):
        autopay.record_card_payment(" ", date(2024, 3, 5))
    assert autopay.status is CardAutopayStatus.AWAITING_CARD
    assert not autopay.bank_transfer_only


# ----------------------------------------------------------------------------- R8


@pytest.mark.spec("R8")
@pytest.mark.parametrize(
    ("before", "after", "crossed"),
    [
        ("60.00", "49.99", True),
        ("50.00", "49.99", True),
        ("50.00", "50.00", False),
        ("49.99", "10.00", False),
        ("10.00", "60.00", False),
        ("60.00", "55.00", False),
    ],
)
def test_the_notice_fires_only_when_the_balance_falls_below_the_threshold(
    before: str,
    after: str,
    crossed: bool,
) -> None:
    assert low_balance_crossed(rub(before), rub(after), rub("50.00")) is crossed


@pytest.mark.spec("R8")
def test_the_low_balance_notice_names_the_balance_and_threshold() -> None:
    at = datetime(2024, 3, 21, 9, 0, tzinfo=UTC)
    notice = low_balance_notice("acc-1", rub("60.00"), rub("40.00"), rub("50.00"), at)
    assert notice is not None
    assert (notice.account_id, notice.category, notice.kind, dict(notice.params)) == (
        "acc-1",
        NotificationCategory.FINANCE,
        "balance.low",
        {"balance": "40.00 RUB", "threshold": "50.00 RUB"},
    )
    assert low_balance_notice("acc-1", rub("40.00"), rub("30.00"), rub("50.00"), at) is None
    assert low_balance_notice("acc-1", rub("60.00"), rub("40.00"), None, at) is None


@pytest.mark.spec("R8")
def test_a_threshold_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        low_balance_crossed(rub("60"), rub("40"), Money("50", "EUR"))
