"""A due renewal against the account's expense history: 10 and 10,000 paid expenses.

Run it with ``.venv/bin/python benchmarks/expense_history.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). Two accounts of the Introserv preset, one whose expense
book holds 10 paid expenses, one with 10,000, each with a 30 EUR monthly service due on the
1st and a balance that pays for it; the run of the 1st of each month renews the account
(``billing.run.day(day, accounts=[account])``), the two taking turns. It prints the median
CPU time of this process per renewal (less sensitive than wall time to a shared machine)
over the months after the first (which also creates the billing profile) and the ratio
10,000 / 10.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from history import sql_store

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.expense import Expense
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
SIZES = (10, 10_000)
UowFactory = Callable[[], UnitOfWork]


def populate(make_uow: UowFactory) -> None:
    """``acc-10`` and ``acc-10000``: that many paid expenses, a service due on Feb 1."""
    for size in SIZES:
        account_id = f"acc-{size}"
        with make_uow() as uow:
            add_subscriber(
                uow,
                account_id,
                f"user{size}",
                service_id=f"ser-{size}",
                paid_until=date(2024, 2, 1),
                at=AT,
                balance=Money("1000.00", "EUR"),
            )
            book = uow.expenses.get(account_id)
            book.fund(f"pay-{size}", Money(size, "EUR"))
            for n in range(size):
                charged = date(2023, 1, 1) + timedelta(days=n % 365)
                book.add(Expense(f"old-{n}", account_id, "VPS", charged, Money("1", "EUR")))
            uow.commit()


def measure(name: str, make_uow: UowFactory, months: int) -> None:
    populate(make_uow)
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"e" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    times: dict[int, list[float]] = {size: [] for size in SIZES}
    for month in range(months):
        day = date(2024 + (1 + month) // 12, (1 + month) % 12 + 1, 1)
        # The two accounts take turns within each month, in reverse order every other
        # month, so that the machine's drift and the heap's growth fall on both.
        for size in SIZES if month % 2 == 0 else SIZES[::-1]:
            start = time.process_time()
            summary = billing.run.day(day, accounts=[f"acc-{size}"])
            times[size].append(time.process_time() - start)
            if summary.renewals != 1 or summary.failures:
                raise SystemExit(f"{name}: {summary}")
    median = {size: statistics.median(found[1:]) * 1e3 for size, found in times.items()}
    low, high = median[SIZES[0]], median[SIZES[1]]
    print(f"{name}: a renewal at 10 {low:.2f} ms, at 10,000 {high:.2f} ms, {high / low:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=16)
    args = parser.parse_args(argv)
    memory = MemoryStore()
    measure("memory", lambda: MemoryUnitOfWork(memory), args.months)
    with (
        tempfile.TemporaryDirectory() as folder,
        sql_store(f"sqlite:///{Path(folder) / 'expenses.db'}") as make_uow,
    ):
        measure("SQLite", make_uow, args.months)
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if dsn:
        url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        with sql_store(url, f"expenses_{uuid.uuid4().hex[:10]}") as make_uow:
            measure("PostgreSQL", make_uow, args.months)
    return 0


if __name__ == "__main__":
    sys.exit(main())
