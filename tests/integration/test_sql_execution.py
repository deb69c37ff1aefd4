"""Statements run on the driver store and read every value as SQLAlchemy's execute does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.adapters.sql.execution import Prepared, run
from cabinet_billing.adapters.sql.schema import Amount, Instant, Payload
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


def renewed(store: SqlStore) -> None:
    """Two accounts with a balance, a monthly service each, renewed twice."""
    with SqlUnitOfWork(store) as uow:
        for n in range(2):
            add_subscriber(
                uow,
                f"acc-{n}",
                f"user{n}",
                service_id=f"ser-{n}",
                paid_until=date(2024, 2, 1),
                at=AT,
                balance=Money("1000.00", "EUR"),
            )
        uow.commit()
    billing = Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"c" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    for day in (date(2024, 2, 1), date(2024, 3, 1)):
        assert billing.run.day(day, accounts=["acc-0", "acc-1"]).renewals == 2


def test_every_stored_row_reads_the_same_on_the_driver(store: SqlStore) -> None:
    renewed(store)
    compared = 0
    with store.engine.connect() as connection:
        for table in store.tables.metadata.sorted_tables:
            query = select(table)
            expected = [dict(row) for row in connection.execute(query).mappings()]
            found = run(connection, Prepared(query, store.engine.dialect)).rows
            assert found == expected, table.name
            assert [{k: type(v) for k, v in r.items()} for r in found or []] == [
                {k: type(v) for k, v in r.items()} for r in expected
            ], table.name
            compared += len(expected)
    assert compared > 20


@pytest.fixture
def typed(store: SqlStore) -> Iterator[tuple[SqlStore, Table]]:
    """A table of every column type the store's tables use."""
    table = Table(
        f"cb_typed_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", Amount()),
        Column("at", Instant()),
        Column("data", Payload()),
        Column("day", Date),
        Column("flag", Boolean),
        Column("rate", Numeric(12, 6)),
        Column("big", BigInteger),
        Column("name", String(200)),
        Column("key", Text().with_variant(Text(collation="C"), "postgresql")),
    )
    table.create(store.engine)
    yield store, table
    table.drop(store.engine)


VALUES: dict[str, Any] = {
    "amount": Decimal("12345.6789"),
    "at": datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3))),
    "data": '{"a":[1,"2",{"b":null}],"z":"ü"}',
    "day": date(2024, 2, 29),
    "flag": True,
    "rate": Decimal("1.234567"),
    "big": 2**40,
    "name": "Ärger ' \" %s %(x)s ?",
    "key": "HOR-0001",
}


def test_values_written_on_the_driver_are_stored_as_sqlalchemy_stores_them(
    typed: tuple[SqlStore, Table],
) -> None:
    store, table = typed
    dialect = store.engine.dialect
    with store.engine.begin() as connection:
        connection.execute(insert(table), [{"id": 1, **VALUES}])
        written = Prepared(insert(table), dialect, ("id", *VALUES))
        assert run(connection, written, [{"id": 2, **VALUES}]).rowcount == 1
        run(connection, written, [{"id": 3, **VALUES}, {"id": 4, **VALUES, "flag": None}])
    with store.engine.connect() as connection:
        by_sqlalchemy = [dict(r) for r in connection.execute(select(table)).mappings()]
        query = select(table).where(table.c.id.in_(bindparam("ids", expanding=True)))
        on_driver = run(connection, Prepared(query, dialect), {"ids": [1, 2, 3, 4]}).rows
    assert on_driver == by_sqlalchemy
    first, second, third, fourth = by_sqlalchemy
    assert {k: v for k, v in first.items() if k != "id"} == {
        k: v for k, v in second.items() if k != "id"
    }
    assert first["at"] == VALUES["at"]
    assert first["day"] == VALUES["day"]
    assert first["name"] == VALUES["name"]
    assert first["data"] == VALUES["data"] or store.engine.dialect.name == "postgresql"
    assert third == {**second, "id": 3}
    assert fourth["flag"] is None


def test_a_statement_on_the_driver_fires_the_cursor_events_and_raises_sqlalchemy_errors(
    typed: tuple[SqlStore, Table],
) -> None:
    store, table = typed
    seen: list[tuple[str, bool]] = []

    def listener(*args: Any) -> None:
        seen.append((str(args[2]).split()[0], bool(args[5])))

    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        written = Prepared(insert(table), store.engine.dialect, ("id", "name"))
        with store.engine.begin() as connection:
            run(connection, written, [{"id": 1, "name": "a"}])
            run(connection, written, [{"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
        with pytest.raises(IntegrityError), store.engine.begin() as connection:
            run(connection, written, [{"id": 1, "name": "again"}])
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    assert seen == [("INSERT", False), ("INSERT", True), ("INSERT", False)]
    with store.engine.connect() as connection:
        assert connection.execute(select(table.c.name).order_by(table.c.id)).scalars().all() == [
            "a",
            "b",
            "c",
        ]
