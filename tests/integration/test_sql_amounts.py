"""Amounts are bound as text or Decimal, never a float, and stored and added up exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, insert, select

from cabinet_billing import Money
from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.adapters.sql.execution import Prepared, run
from cabinet_billing.adapters.sql.queries import exact_sum, money_of
from cabinet_billing.adapters.sql.schema import Amount

pytestmark = pytest.mark.spec("P")

# PostgreSQL keeps NUMERIC(38, 4) exactly; SQLite keeps 15 significant digits (a number
# in a NUMERIC column is an integer or a double), every amount below 100 billion.
LARGE = {"postgresql": Decimal("12345678901234.5678"), "sqlite": Decimal("99999999999.9999")}


@pytest.fixture(params=["sqlite", "postgresql"])
def amounts(request: pytest.FixtureRequest) -> Iterator[tuple[SqlStore, Table]]:
    name = "billing_pg_store" if request.param == "postgresql" else "billing_sqlite_store"
    store: SqlStore = request.getfixturevalue(name)
    table = Table(
        f"cb_amounts_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", Amount()),
    )
    table.create(store.engine)
    yield store, table
    table.drop(store.engine)


def test_a_large_amount_with_four_places_is_stored_read_and_summed_exactly(
    amounts: tuple[SqlStore, Table],
) -> None:
    store, table = amounts
    dialect = store.engine.dialect
    large = LARGE[dialect.name]
    bound: list[Any] = []

    def note(*args: Any) -> None:
        bound.append(args[3])

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        with store.engine.begin() as connection:
            connection.execute(insert(table), [{"id": 1, "amount": large}])
            written = Prepared(insert(table), dialect, ("id", "amount"))
            run(connection, written, [{"id": 2, "amount": -large}, {"id": 3, "amount": large}])
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    sent = [v for p in bound for v in _values(p) if not isinstance(v, int)]
    # SQLite takes the text (no float rounds it on the way); psycopg the Decimal.
    expected = [large, -large, large]
    assert sent == (expected if dialect.name == "postgresql" else [str(v) for v in expected])
    with store.engine.connect() as connection:
        back = connection.execute(select(table.c.amount).order_by(table.c.id)).scalars().all()
        on_driver = run(connection, Prepared(select(table.c.amount), dialect)).rows
        total = connection.execute(select(*exact_sum(table.c.amount, dialect.name))).one()
        positive = table.c.amount > 0
        above = connection.execute(select(*exact_sum(table.c.amount, dialect.name, positive))).one()
    assert back == [large, -large, large]
    assert sorted(r["amount"] for r in on_driver or []) == [-large, large, large]
    assert money_of(total, dialect.name, "RUB") == Money(large, "RUB")
    assert money_of(above, dialect.name, "RUB") == Money(2 * large, "RUB")


def _values(parameters: Any) -> list[Any]:
    """The values of one parameter set or many, positional or by name."""
    sets = parameters if isinstance(parameters, list) else [parameters]
    found: list[Any] = []
    for one in sets:
        found.extend(one.values() if isinstance(one, dict) else one)
    return found
