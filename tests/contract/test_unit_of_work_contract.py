"""The unit-of-work contract, run against every shipped store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.testing.contract import CHECKS, UnitOfWorkContract

pytestmark = pytest.mark.spec("P")

PG_DSN = "CABINET_BILLING_PG_DSN"


def postgres_engine() -> Iterator[Engine]:
    """An engine on a schema of its own, dropped at the end; skips without a server."""
    dsn = os.environ.get(PG_DSN)
    if not dsn:
        pytest.skip(f"{PG_DSN} is not set: PostgreSQL tests need a server")
    url = make_url(dsn).set(drivername="postgresql+psycopg")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class TestMemoryUnitOfWork(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self) -> None:
        self.store = MemoryStore()

    def make_uow(self) -> UnitOfWork:
        return MemoryUnitOfWork(self.store)


class TestSqliteFileUnitOfWork(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path: Path) -> Iterator[None]:
        engine = create_engine(f"sqlite:///{tmp_path / 'billing.db'}")
        self.store = SqlStore(engine)
        self.store.create_schema()
        yield
        engine.dispose()

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestSqliteMemoryUnitOfWork(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self) -> Iterator[None]:
        engine = create_engine("sqlite://")
        self.store = SqlStore(engine)
        self.store.create_schema()
        yield
        engine.dispose()

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestPostgresUnitOfWork(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self) -> Iterator[None]:
        for engine in postgres_engine():
            self.store = SqlStore(engine)
            self.store.create_schema()
            yield

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


def test_the_class_runs_every_check() -> None:
    methods = {name for name in dir(UnitOfWorkContract) if name.startswith("test_")}
    assert {f"test_{check.__name__.removeprefix('check_')}" for check in CHECKS} <= methods
    assert len(methods) == len(CHECKS) + 1


def test_a_store_that_keeps_nothing_fails_the_contract() -> None:
    class Forgetful(UnitOfWorkContract):
        def make_uow(self) -> UnitOfWork:
            return MemoryUnitOfWork(MemoryStore())

    with pytest.raises(NotFoundError, match="no account with id"):
        Forgetful().test_commit_persists()
