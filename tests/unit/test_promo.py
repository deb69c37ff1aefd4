from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.promo import PromoCode, PromoRedemptions, normalize_code
from cabinet_billing.errors import (
    InvalidAmountError,
    PromoCodeError,
    ValidationError,
)

pytestmark = pytest.mark.spec("C4")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def test_percentage_discount() -> None:
    promo = PromoCode.percentage("TEN", "10")
    assert promo.percent == Decimal(10)
    assert promo.amount is None
    assert promo.discount_on(rub("638.71")) == Money("63.871", "RUB")


def test_fixed_discount_never_exceeds_the_amount() -> None:
    promo = PromoCode.fixed("FIVE", rub("50.00"))
    assert promo.discount_on(rub("638.71")) == rub("50.00")
    assert promo.discount_on(rub("20.00")) == rub("20.00")


def test_fixed_discount_in_another_currency_is_refused() -> None:
    promo = PromoCode.fixed("EURO", Money("5.00", "EUR"))
    with pytest.raises(PromoCodeError) as err:
        promo.discount_on(rub("20.00"))
    assert str(err.value) == (
        "promo code 'EURO' cannot be applied: it is a discount in EUR; the order is in RUB"
    )
    assert err.value.code == "EURO"


def test_scope_by_plan_and_period() -> None:
    promo = PromoCode.percentage("VPS", 5, plan_ids=["vps-1"], periods=["month", "year"])
    assert promo.applies_to("vps-1", Period.months())
    assert promo.applies_to("vps-1", Period.year())
    assert not promo.applies_to("vps-1", Period.days())
    assert not promo.applies_to("dedic", Period.months())
    assert promo.describe_scope() == "plans: vps-1; periods: 1 month, 1 year"
    assert PromoCode.percentage("ALL", 5).describe_scope() == "plans: any plan; periods: any period"


def test_validity_dates() -> None:
    promo = PromoCode.percentage(
        "SPRING",
        10,
        starts_on=date(2024, 3, 1),
        expires_on=date(2024, 3, 31),
    )
    promo.check(date(2024, 3, 1))
    promo.check(date(2024, 3, 31))
    with pytest.raises(
        PromoCodeError, match=r"'SPRING' cannot be applied: it expired on 2024-03-31"
    ):
        promo.check(date(2024, 4, 1))
    with pytest.raises(
        PromoCodeError, match=r"'SPRING' cannot be applied: it is valid from 2024-03-01"
    ):
        promo.check(date(2024, 2, 29))


def test_once_per_customer() -> None:
    promo = PromoCode.percentage("ONCE", 10)
    with pytest.raises(PromoCodeError, match=r"already used; each customer may use it once"):
        promo.check(date(2024, 3, 1), already_used=True)
    reusable = PromoCode.percentage("MANY", 10, once_per_customer=False)
    reusable.check(date(2024, 3, 1), already_used=True)


def test_codes_compare_case_insensitively() -> None:
    promo = PromoCode.percentage("Spring", 10)
    assert promo.matches(" spring ")
    assert promo.key == "SPRING"
    assert normalize_code("a b") == "A B"


def test_redemptions() -> None:
    used = PromoRedemptions()
    used.redeem("Spring", "c1")
    assert used.has_used("SPRING", "c1")
    assert not used.has_used("SPRING", "c2")
    with pytest.raises(PromoCodeError, match=r"'spring' cannot be applied: it was already used"):
        used.redeem("spring", "c1")
    used.redeem("spring", "c1", once=False)
    assert used.has_used("spring", "c1")


@pytest.mark.parametrize("percent", ["0", "100.01", "-5"])
def test_percentage_outside_range_is_refused(percent: str) -> None:
    with pytest.raises(ValidationError, match=r"percent=.* is invalid: .*above 0 and at most 100"):
        PromoCode.percentage("BAD", percent)


def test_fixed_amount_must_be_positive() -> None:
    with pytest.raises(InvalidAmountError, match=r"'0.00 RUB': must be greater than zero"):
        PromoCode.fixed("ZERO", rub("0.00"))


def test_exactly_one_kind_of_discount() -> None:
    with pytest.raises(ValidationError, match=r"exactly one of a percentage and a fixed amount"):
        PromoCode("BOTH", percent=Decimal(10), amount=rub("1.00"))
    with pytest.raises(ValidationError, match=r"exactly one of a percentage and a fixed amount"):
        PromoCode("NONE")


def test_expiry_before_start_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"expires_on=.* must not be before starts_on 2024-03-01"
    ):
        PromoCode.percentage("X", 1, starts_on=date(2024, 3, 1), expires_on=date(2024, 2, 1))


@pytest.mark.parametrize("code", ["", " X", "X "])
def test_bad_code_text_is_refused(code: str) -> None:
    with pytest.raises(
        ValidationError, match=r"code=.* is invalid: a promo code is non-empty text"
    ):
        PromoCode.percentage(code, 1)
