"""The range-read contract, run against every shipped store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.testing.reads_contract import READ_CHECKS

pytestmark = pytest.mark.spec("P")


@pytest.fixture
def make_uow(billing_unit_of_work: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    return billing_unit_of_work


@pytest.mark.parametrize("check", READ_CHECKS, ids=lambda c: c.__name__)
def test_the_store_keeps_the_range_read_contract(
    make_uow: Callable[[], UnitOfWork], check: Callable[[Callable[[], UnitOfWork]], None]
) -> None:
    check(make_uow)
