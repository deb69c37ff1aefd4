"""Sums and pages the SQL store computes in the database, for the cabinet's lists.

Amounts are added up by the database, exactly: on PostgreSQL ``SUM`` of a ``NUMERIC``
column; on SQLite, which keeps a ``NUMERIC`` value as an integer or a double, the sum of
each amount in ten-thousandths as an integer (the column has 4 places), so no floating
point sum is ever taken. A page is read with ``ORDER BY ... LIMIT``, after the cursor's
row in that order: the rows before it and after the page are not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, literal_column, or_

from cabinet_billing.adapters.sql.mapping import AMOUNT_PLACES, canonical_amount
from cabinet_billing.domain.money import Money

__all__ = ["after_row", "exact_sum", "money_of"]

_SCALE = 10**AMOUNT_PLACES


def exact_sum(
    amount: ColumnElement[Any], dialect: str, where: ColumnElement[bool] | None = None
) -> ColumnElement[Any]:
    """The exact sum of an amount column (of the rows ``where`` holds, when given).

    Read it back with :func:`money_of`.
    """
    value: ColumnElement[Any] = amount
    if dialect != "postgresql":
        value = cast(func.round(amount * literal_column(str(_SCALE))), BigInteger)
    if where is not None:
        value = case((where, value), else_=None)
    return func.sum(value)


def money_of(total: object, dialect: str, currency: str) -> Money:
    """The Money of an :func:`exact_sum` as the database returned it (None, no rows: zero)."""
    if total is None:
        return Money.zero(currency)
    if dialect == "postgresql":
        value = total if isinstance(total, Decimal) else Decimal(str(total))
    else:
        value = Decimal(int(str(total))).scaleb(-AMOUNT_PLACES)
    return Money(canonical_amount(value, currency), currency)


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
