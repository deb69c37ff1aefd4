"""Sums and pages the SQL store computes in the database, for the cabinet's lists.

Amounts are added up by the database, exactly: on PostgreSQL ``SUM`` of a ``NUMERIC``
column; on SQLite, which keeps a ``NUMERIC`` value as an integer or a double, the sum of
each amount in ten-thousandths as an integer (the column has 4 places), so no floating
point sum is ever taken. A page is read with ``ORDER BY ... LIMIT``, after the cursor's
row in that order: the rows before it and after the page are not read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    RowMapping,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)

from cabinet_billing.adapters.sql.mapping import AMOUNT_PLACES
from cabinet_billing.domain.money import Money, currency_places
from cabinet_billing.ports.listing import Window, unknown_cursor

__all__ = ["after_cursor", "after_row", "exact_sum", "in_order", "money_of"]

_SCALE = 10**AMOUNT_PLACES


def exact_sum(
    amount: ColumnElement[Any], dialect: str, where: ColumnElement[bool] | None = None
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The exact sum of an amount column (of the rows ``where`` holds, when given).

    Two columns: the sum, and the most decimal places an amount of it has (so that the
    sum has the places the same amounts added up in Python would have). Read them back
    with :func:`money_of`.
    """
    scaled = cast(func.round(func.abs(amount) * literal_column(str(_SCALE))), BigInteger)
    value: ColumnElement[Any] = (
        amount
        if dialect == "postgresql"
        else scaled * case((amount < literal_column("0"), -1), else_=1)
    )
    places: ColumnElement[Any] = case(
        *(
            (
                scaled % literal_column(str(10**step)) != literal_column("0"),
                AMOUNT_PLACES - step + 1,
            )
            for step in range(1, AMOUNT_PLACES + 1)
        ),
        else_=0,
    )
    if where is not None:
        value = case((where, value), else_=None)
        places = case((where, places), else_=None)
    return func.sum(value), func.max(places)


def money_of(found: Sequence[object], dialect: str, currency: str) -> Money:
    """The Money of an :func:`exact_sum`'s two columns as the database returned them.

    No rows (a sum of NULL) is zero, as :func:`~cabinet_billing.domain.money.sum_money`
    gives it; otherwise the sum has the places of its most precise amount (at least the
    currency's), as the amounts read back and added up would have.
    """
    total, places = found
    if total is None:
        return Money.zero(currency)
    if dialect == "postgresql":
        value = total if isinstance(total, Decimal) else Decimal(str(total))
    else:
        value = Decimal(int(str(total))).scaleb(-AMOUNT_PLACES)
    shown = max(currency_places(currency), int(str(places or 0)))
    return Money(value.quantize(Decimal(1).scaleb(-shown)), currency)


def after_row(
    columns: Sequence[ColumnElement[Any]], values: Sequence[object], *, descending: bool
) -> ColumnElement[bool]:
    """The rows that come after the row with ``values`` in the order of ``columns``.

    ``columns`` are the sort key, the last one unique; ascending unless ``descending``.
    Written as ``a > x OR (a = x AND b > y) ...`` so every database reads it.
    """
    terms: list[ColumnElement[bool]] = []
    for i, column in enumerate(columns):
        beyond = column < values[i] if descending else column > values[i]
        same = [c == v for c, v in zip(columns[:i], values[:i], strict=True)]
        terms.append(and_(*same, beyond) if same else beyond)
    return or_(*terms)


def after_cursor(
    read: Callable[[Any], list[RowMapping]],
    order: Sequence[ColumnElement[Any]],
    base: Sequence[ColumnElement[bool]],
    key: ColumnElement[Any],
    window: Window,
) -> list[ColumnElement[bool]]:
    """The condition of the rows after a window's cursor (none for the first page).

    The cursor's row is looked for among the rows of ``base`` (the unfiltered listing).

    Raises:
        ValidationError: when no row of the listing has the cursor's key.
    """
    if window.after is None:
        return []
    found = read(select(*order).where(*base, key == window.after))
    if not found:
        raise unknown_cursor(window.after)
    values = [found[0][column.name] for column in order]
    return [after_row(order, values, descending=window.newest_first)]


def in_order(order: Sequence[ColumnElement[Any]], window: Window) -> list[Any]:
    """The ``ORDER BY`` of a window: the listing's order, or its reverse newest first."""
    return [c.desc() for c in order] if window.newest_first else list(order)
