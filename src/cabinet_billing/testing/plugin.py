"""A pytest plugin: fixtures for tests of code built on this library.

Installed with the package (entry point group ``pytest11``), it offers:

* ``cabinet``: a fresh :func:`~cabinet_billing.adapters.memory.in_memory_billing` with the
  default settings, its clock at 2024-01-01 00:00 UTC;
* ``billing_scenario``: a factory of :class:`~cabinet_billing.testing.scenario.Scenario`
  objects, each with its own store and clock, so tests may run in parallel;
* ``billing_sqlite_store``, ``billing_sqlite_memory_store`` and ``billing_pg_store``: a
  :class:`~cabinet_billing.adapters.sql.SqlStore` with its tables, in a SQLite file, in an
  in-memory SQLite database, or on PostgreSQL in a schema of its own (dropped at the end;
  the server comes from ``CABINET_BILLING_PG_DSN``, and the test is skipped with the reason
  when it is not set). They need the ``sql`` extra.
* ``billing_unit_of_work``: what makes units of work over a fresh store, once per store
  the library ships (the test runs three times: ``memory``, ``sqlite``, ``postgresql``).

.. code-block:: python

    def test_renewal(billing_scenario):
        s = billing_scenario("introserv", start=date(2024, 1, 10))
        s.account("acc-1").top_up("acc-1", "100.00 EUR").order("acc-1", "vps")
        s.advance(to=date(2024, 2, 10)).expect_balance("acc-1", "40.00 EUR")
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cabinet_billing.adapters.memory import (
    InMemoryBilling,
    MemoryStore,
    MemoryUnitOfWork,
    in_memory_billing,
)
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.rules.presets import CabinetPreset
from cabinet_billing.testing.scenario import Scenario

if TYPE_CHECKING:
    from cabinet_billing.adapters.sql import SqlStore
    from cabinet_billing.ports.repositories import UnitOfWork

__all__ = [
    "PG_DSN",
    "ScenarioFactory",
    "billing_pg_store",
    "billing_scenario",
    "billing_sqlite_memory_store",
    "billing_sqlite_store",
    "billing_unit_of_work",
    "cabinet",
]

#: The environment variable naming the PostgreSQL server of the SQL tests.
PG_DSN = "CABINET_BILLING_PG_DSN"

#: What the ``billing_scenario`` fixture returns: ``Scenario``'s own signature.
ScenarioFactory = Callable[..., Scenario]


def _new_scenario(
    preset: str | CabinetPreset | None = None,
    *,
    settings: BillingSettings | None = None,
    start: date = date(2024, 1, 1),
) -> Scenario:
    return Scenario(preset, settings=settings, start=start)


@pytest.fixture
def billing_scenario() -> ScenarioFactory:
    """A factory of fresh scenarios: ``billing_scenario("horoshop", start=date(...))``."""
    return _new_scenario


@pytest.fixture
def cabinet() -> InMemoryBilling:
    """A fresh in-memory billing with the default settings."""
    return in_memory_billing()


# SQLAlchemy is an optional extra: it is imported only when a SQL fixture is used.


def _sql_store(url: str, **engine_options: object) -> SqlStore:
    from sqlalchemy import create_engine  # noqa: PLC0415 - optional dependency

    from cabinet_billing.adapters.sql import SqlStore  # noqa: PLC0415 - optional dependency

    store = SqlStore(create_engine(url, **engine_options))
    store.create_schema()
    return store


@pytest.fixture
def billing_sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A SQL store in a SQLite file."""
    store = _sql_store(f"sqlite:///{tmp_path / 'billing.db'}")
    yield store
    store.engine.dispose()


@pytest.fixture
def billing_sqlite_memory_store() -> Iterator[SqlStore]:
    """A SQL store in an in-memory SQLite database (one unit of work at a time)."""
    store = _sql_store("sqlite://")
    yield store
    store.engine.dispose()


@pytest.fixture
def billing_pg_store() -> Iterator[SqlStore]:
    """A SQL store on PostgreSQL, in a schema of its own dropped at the end."""
    dsn = os.environ.get(PG_DSN)
    if not dsn:
        pytest.skip(f"{PG_DSN} is not set: PostgreSQL tests need a server")
    from sqlalchemy import create_engine, make_url, text  # noqa: PLC0415 - optional dependency

    url = make_url(dsn).set(drivername="postgresql+psycopg")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    store = _sql_store(
        url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={name}"},
    )
    try:
        yield store
    finally:
        store.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def billing_unit_of_work(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    """Makes units of work over a fresh store: in memory, in a SQLite file, on PostgreSQL.

    The SQL ones need the ``sql`` extra; PostgreSQL is skipped without a server (see
    ``billing_pg_store``).
    """
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: MemoryUnitOfWork(memory)
    from cabinet_billing.adapters.sql import SqlUnitOfWork  # noqa: PLC0415 - optional dependency

    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    store: SqlStore = request.getfixturevalue(name)
    return lambda: SqlUnitOfWork(store)
