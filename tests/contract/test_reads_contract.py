"""The range-read contract, run against every shipped store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.testing.reads_contract import READ_CHECKS

pytestmark = pytest.mark.spec("P")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

    fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(fixture)
    return lambda: SqlUnitOfWork(sql)


@pytest.mark.parametrize("check", READ_CHECKS, ids=lambda c: c.__name__)
def test_the_store_keeps_the_range_read_contract(
    make_uow: Callable[[], UnitOfWork], check: Callable[[Callable[[], UnitOfWork]], None]
) -> None:
    check(make_uow)
