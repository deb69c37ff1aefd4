"""Money arithmetic, rounding and allocation against bare Decimal arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from cabinet_billing import Money, Rounding, TaxMode, TaxRate
from cabinet_billing.domain.allocation import round_lines
from cabinet_billing.domain.money import sum_money
from cabinet_billing.domain.tax import tax_breakdown

N = 10_000
AMOUNTS = [Decimal(f"{(i * 7919) % 100_000}.{(i * 31) % 10_000:04d}") for i in range(N)]
MONEYS = [Money(a, "RUB") for a in AMOUNTS]
CENT = Decimal("0.01")

#: The ``measure`` fixture of conftest.py: (name, function, floor name or None).
Measure = Callable[[str, Callable[[], object], str | None], None]


def test_sum_and_round_floor(measure: Measure) -> None:
    def floor() -> Decimal:
        return sum(AMOUNTS, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)

    measure("sum+round: Decimal floor", floor, None)


def test_sum_and_round_money(measure: Measure) -> None:
    rounding = Rounding()
    measure(
        "sum+round: sum_money",
        lambda: rounding.minor(sum_money(MONEYS, "RUB")),
        "sum+round: Decimal floor",
    )


def test_round_each_floor(measure: Measure) -> None:
    def floor() -> list[Decimal]:
        return [a.quantize(CENT, rounding=ROUND_HALF_UP) for a in AMOUNTS]

    measure("round each: Decimal floor", floor, None)


def test_round_each_money(measure: Measure) -> None:
    rounding = Rounding()
    measure(
        "round each: Rounding.minor",
        lambda: [rounding.minor(m) for m in MONEYS],
        "round each: Decimal floor",
    )


def test_round_lines(measure: Measure) -> None:
    measure(
        "round_lines (largest remainder)", lambda: round_lines(MONEYS), "round each: Decimal floor"
    )


def test_tax_breakdown(measure: Measure) -> None:
    rate = TaxRate("20")
    measure(
        "tax_breakdown of 10k lines",
        lambda: tax_breakdown(MONEYS, rate, TaxMode.INCLUSIVE),
        "round each: Decimal floor",
    )
