import pytest

from cabinet_billing import CurrencyMismatchError, Money, Rounding, ValidationError
from cabinet_billing.domain.allocation import allocate, round_lines

pytestmark = pytest.mark.spec("M2")

AC_EXPENSES = ("22.4137", "34.4827", "22.4137", "21.3464")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def test_astra_vat_lines_sum_to_the_rounded_total_tax() -> None:
    exact_taxes = [rub(e) * 20 / 120 for e in AC_EXPENSES]
    lines = round_lines(exact_taxes)
    assert lines == [rub("3.74"), rub("5.75"), rub("3.73"), rub("3.56")]
    assert sum(lines) == rub("16.78")
    # the two equal expenses get different cents, so that nothing is lost
    assert lines[0] != lines[2]


def test_allocate_by_ratios_gives_leftover_cents_to_the_largest_remainders() -> None:
    assert allocate(Money("100", "EUR"), [1, 1, 1]) == [
        Money("33.34", "EUR"),
        Money("33.33", "EUR"),
        Money("33.33", "EUR"),
    ]
    assert allocate(Money("10", "EUR"), ["0.7", "0.2", "0.1"]) == [
        Money("7", "EUR"),
        Money("2", "EUR"),
        Money("1", "EUR"),
    ]
    assert allocate(Money("0.05", "EUR"), [3, 7]) == [Money("0.02", "EUR"), Money("0.03", "EUR")]


def test_allocate_rounds_the_total_first_and_handles_zero_weights_and_negatives() -> None:
    assert allocate(Money("1.005", "EUR"), [1, 0, 1]) == [
        Money("0.51", "EUR"),
        Money("0", "EUR"),
        Money("0.50", "EUR"),
    ]
    assert allocate(Money("-1", "EUR"), [1, 2]) == [Money("-0.33", "EUR"), Money("-0.67", "EUR")]
    assert allocate(Money("5", "JPY"), [1, 1]) == [Money("3", "JPY"), Money("2", "JPY")]
    assert allocate(Money("1", "EUR"), [1, 1, 1], places=4) == [
        Money("0.3334", "EUR"),
        Money("0.3333", "EUR"),
        Money("0.3333", "EUR"),
    ]


def test_allocate_refuses_bad_ratios() -> None:
    with pytest.raises(ValidationError, match="at least one ratio"):
        allocate(Money("1", "EUR"), [])
    with pytest.raises(ValidationError, match="must not be negative"):
        allocate(Money("1", "EUR"), [1, -1])
    with pytest.raises(ValidationError, match="must be positive"):
        allocate(Money("1", "EUR"), [0, 0])


def test_round_lines_with_discount_lines_and_rounding_modes() -> None:
    lines = [Money("10.005", "EUR"), Money("-2.0025", "EUR"), Money("5.0025", "EUR")]
    rounded = round_lines(lines)
    assert sum(rounded) == Money("13.01", "EUR")
    # floors 10.00, -2.01, 5.00; the two missing cents go to the largest remainders
    assert rounded == [Money("10.01", "EUR"), Money("-2.00", "EUR"), Money("5.00", "EUR")]
    down = round_lines(lines, Rounding("ROUND_DOWN"))
    assert sum(down) == Money("13.00", "EUR")


def test_round_lines_refuses_empty_and_mixed_input() -> None:
    with pytest.raises(ValidationError, match="at least one amount"):
        round_lines([])
    with pytest.raises(CurrencyMismatchError):
        round_lines([Money(1, "EUR"), Money(1, "USD")])
