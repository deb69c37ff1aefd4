"""The ledger: reading the balance costs the same whatever the history's length."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.ledger import Ledger

#: The ``measure`` fixture of conftest.py: (name, function, floor name or None).
Measure = Callable[[str, Callable[[], object], str | None], None]

AT = datetime(2024, 1, 1, tzinfo=UTC)
READS = 1_000
_LEDGERS: dict[int, Ledger] = {}


def ledger_of(size: int) -> Ledger:
    if size not in _LEDGERS:
        ledger = Ledger("acc-1")
        for i in range(size):
            if i % 2:
                ledger.charge(Money("1.0001", "RUB"), AT)
            else:
                ledger.top_up(Money("2.50", "RUB"), AT)
        _LEDGERS[size] = ledger
    return _LEDGERS[size]


def test_balance_floor(measure: Measure) -> None:
    balances = {"RUB": Decimal("1.25")}

    def floor() -> None:
        for _ in range(READS):
            balances.get("RUB")

    measure("balance: dict lookup floor", floor, None)


@pytest.mark.parametrize("size", [10, 10_000, 100_000])
def test_balance_read(measure: Measure, size: int) -> None:
    ledger = ledger_of(size)

    def read() -> None:
        for _ in range(READS):
            ledger.balance("RUB")

    measure(f"balance after {size:>7} entries", read, "balance: dict lookup floor")


def test_posting_floor(measure: Measure) -> None:
    def floor() -> None:
        total = Decimal(0)
        for _ in range(READS):
            total += Decimal("1.0001")

    measure("posting: Decimal add floor", floor, None)


def test_posting(measure: Measure) -> None:
    def post() -> None:
        ledger = Ledger("acc-2")
        for _ in range(READS):
            ledger.charge(Money("1.0001", "RUB"), AT)

    measure("posting 1000 charges", post, "posting: Decimal add floor")
