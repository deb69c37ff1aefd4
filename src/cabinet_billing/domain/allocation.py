"""Splitting and rounding amounts without losing a cent (SPEC M2).

Both functions use the largest-remainder method: every part is first rounded down to the
minor unit, then the cents still missing go one each to the parts with the largest
remainders (earlier parts win ties). The rounded parts therefore always sum exactly to the
rounded total, and no part is a whole minor unit or more away from its exact share.

The Astra Cloud example: four expenses with 20% VAT included. Their exact taxes round to
3.74, 3.73 … rather than 3.74 twice, so that the lines add up to the rounded total tax.

>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.allocation import round_lines
>>> exact_taxes = [Money(e, "RUB") / 6 for e in ("22.4137", "34.4827", "22.4137", "21.3464")]
>>> [str(t) for t in round_lines(exact_taxes)]
['3.74 RUB', '5.75 RUB', '3.73 RUB', '3.56 RUB']
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

import moneyed

from cabinet_billing.domain.money import (
    HALF_UP,
    Money,
    Rounding,
    currency_places,
    in_money_context,
    to_decimal,
)
from cabinet_billing.errors import CurrencyMismatchError, ValidationError

__all__ = ["allocate", "round_lines"]


def _units(amount: Decimal, places: int) -> Fraction:
    return Fraction(amount.scaleb(places))


def _to_money(units: int, places: int, currency: moneyed.Currency) -> Money:
    return Money._make(Decimal(units).scaleb(-places), currency)


def _largest_remainder(exact: Sequence[Fraction], target: int) -> list[int]:
    floors = [e.numerator // e.denominator for e in exact]
    return _distribute(floors, [e - f for e, f in zip(exact, floors, strict=True)], target)


def _distribute(
    floors: list[int], remainders: Sequence[Fraction | Decimal], target: int
) -> list[int]:
    missing = target - sum(floors)
    if missing:
        # The largest remainders get a unit each; ties go to the earlier part.
        order = sorted(range(len(floors)), key=lambda i: (-remainders[i], i))
        for i in order[:missing]:
            floors[i] += 1
    return floors


@in_money_context
def allocate(
    total: moneyed.Money,
    ratios: Sequence[Decimal | int | str],
    rounding: Rounding = HALF_UP,
    places: int | None = None,
) -> list[Money]:
    """Split ``total`` in proportion to ``ratios``; the parts sum to the rounded total.

    Args:
        total: the amount to split; it is first rounded to ``places``.
        ratios: non-negative weights, at least one of them positive.
        rounding: how the total is rounded.
        places: decimal places of the parts (default: the currency's minor unit).

    Returns:
        One part per ratio, in order.

    Raises:
        ValidationError: when there are no ratios, a negative one, or all are zero.

    >>> [str(m) for m in allocate(Money("100.00", "EUR"), [1, 1, 1])]
    ['33.34 EUR', '33.33 EUR', '33.33 EUR']
    >>> [str(m) for m in allocate(Money("-0.05", "EUR"), [1, 1])]
    ['-0.03 EUR', '-0.02 EUR']
    """
    weights = [Fraction(to_decimal(r)) for r in ratios]
    if not weights:
        raise ValidationError("ratios", list(ratios), "at least one ratio is needed")
    if any(w < 0 for w in weights):
        raise ValidationError("ratios", list(ratios), "ratios must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValidationError("ratios", list(ratios), "at least one ratio must be positive")
    digits = currency_places(total.currency) if places is None else places
    target = int(_units(rounding.decimal(total.amount, digits), digits))
    sign = -1 if target < 0 else 1
    exact = [abs(target) * w / weight_sum for w in weights]
    parts = _largest_remainder(exact, abs(target))
    return [_to_money(sign * p, digits, total.currency) for p in parts]


@in_money_context
def round_lines(
    amounts: Sequence[moneyed.Money],
    rounding: Rounding = HALF_UP,
    places: int | None = None,
) -> list[Money]:
    """Round each amount so that the rounded amounts sum to their rounded exact total.

    Use it for invoice lines, taxes and prorated parts: rounding each line on its own
    can make the lines disagree with the total by a few cents; this never does. Lines
    may be negative (discounts); every rounded line is less than one minor unit away from
    its exact value.

    Args:
        amounts: exact amounts of one currency, at least one.
        rounding: how the exact total is rounded.
        places: decimal places of the result (default: the currency's minor unit).

    Raises:
        ValidationError: when ``amounts`` is empty.
        CurrencyMismatchError: when the amounts are in different currencies.

    >>> [str(m) for m in round_lines([Money("0.333", "EUR")] * 3)]
    ['0.34 EUR', '0.33 EUR', '0.33 EUR']
    """
    if not amounts:
        raise ValidationError("amounts", [], "at least one amount is needed")
    currency = amounts[0].currency
    for m in amounts:
        if m.currency != currency:
            raise CurrencyMismatchError(m.currency.code, currency.code)
    digits = currency_places(currency) if places is None else places
    # Scaling by a power of ten and flooring are exact in Decimal: no Fraction needed.
    units = [m.amount.scaleb(digits) for m in amounts]
    floors = [int(u.to_integral_value(rounding=ROUND_FLOOR)) for u in units]
    remainders = [u - f for u, f in zip(units, floors, strict=True)]
    total = sum((m.amount for m in amounts), Decimal(0))
    target = int(rounding.decimal(total, digits).scaleb(digits))
    return [_to_money(p, digits, currency) for p in _distribute(floors, remainders, target)]
