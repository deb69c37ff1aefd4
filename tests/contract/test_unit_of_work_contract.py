"""The unit-of-work contract, run against every shipped store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import pytest

from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import Batching, UnitOfWork
from cabinet_billing.testing.batch_contract import BATCH_CHECKS, BatchContract
from cabinet_billing.testing.contract import (
    CHECKS,
    OVERLAP_CHECKS,
    OverlappingUnitsOfWorkContract,
    UnitOfWorkContract,
)

pytestmark = pytest.mark.spec("P")


class TestMemoryUnitOfWork(UnitOfWorkContract, OverlappingUnitsOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self) -> None:
        self.store = MemoryStore()

    def make_uow(self) -> UnitOfWork:
        return MemoryUnitOfWork(self.store)


class TestSqliteFileUnitOfWork(UnitOfWorkContract, OverlappingUnitsOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_sqlite_store: SqlStore) -> None:
        self.store = billing_sqlite_store

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestSqliteMemoryUnitOfWork(UnitOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_sqlite_memory_store: SqlStore) -> None:
        self.store = billing_sqlite_memory_store

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestPostgresUnitOfWork(UnitOfWorkContract, OverlappingUnitsOfWorkContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_pg_store: SqlStore) -> None:
        self.store = billing_pg_store

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


def test_the_class_runs_every_check() -> None:
    methods = {name for name in dir(UnitOfWorkContract) if name.startswith("test_")}
    assert {f"test_{check.__name__.removeprefix('check_')}" for check in CHECKS} <= methods
    assert len(methods) == len(CHECKS) + 1
    overlap = {n for n in dir(OverlappingUnitsOfWorkContract) if n.startswith("test_")}
    assert overlap == {f"test_{c.__name__.removeprefix('check_')}" for c in OVERLAP_CHECKS}


def test_a_store_that_keeps_nothing_fails_the_contract() -> None:
    class Forgetful(UnitOfWorkContract):
        def make_uow(self) -> UnitOfWork:
            return MemoryUnitOfWork(MemoryStore())

    with pytest.raises(NotFoundError, match="no account with id"):
        Forgetful().test_commit_persists()


class TestSqliteFileBatch(BatchContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_sqlite_store: SqlStore) -> None:
        self.store = billing_sqlite_store
        self.store.batches = True

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestSqliteMemoryBatch(BatchContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_sqlite_memory_store: SqlStore) -> None:
        self.store = billing_sqlite_memory_store
        self.store.batches = True

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


class TestPostgresBatch(BatchContract):
    @pytest.fixture(autouse=True)
    def _store(self, billing_pg_store: SqlStore) -> None:
        self.store = billing_pg_store

    def make_uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.store)


def test_the_batch_class_runs_every_check() -> None:
    methods = {name for name in dir(BatchContract) if name.startswith("test_")}
    assert methods == {f"test_{c.__name__.removeprefix('check_')}" for c in BATCH_CHECKS}


def test_a_sqlite_store_offers_batches_only_when_asked(billing_sqlite_store: SqlStore) -> None:
    # A SQLite batch holds the one write lock: another process's writer could starve.
    assert SqlUnitOfWork(billing_sqlite_store).batch() is None
    assert SqlUnitOfWork(SqlStore(billing_sqlite_store.engine, batches=True)).batch() is not None


def test_a_postgresql_store_offers_batches_unless_told_not_to(billing_pg_store: SqlStore) -> None:
    assert SqlUnitOfWork(billing_pg_store).batch() is not None
    assert SqlUnitOfWork(SqlStore(billing_pg_store.engine, batches=False)).batch() is None


def test_the_memory_store_offers_no_batch() -> None:
    # A memory commit writes a few dictionaries: there is nothing to save by batching.
    assert not isinstance(MemoryUnitOfWork(MemoryStore()), Batching)
