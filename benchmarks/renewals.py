"""Cost of a renewal against the account's invoices: 10 paid invoices and 1,000.

Run it with ``.venv/bin/python benchmarks/renewals.py``. Twelve accounts of the Introserv
preset each have one monthly service due on the day and ``n`` paid invoices of earlier
periods; the due day's run renews each account (``billing.run.day(day, accounts=[one])``)
and the median account-day is printed for 10 and 1,000 invoices, with the ratio (flat when
the open renewal invoice is found through the invoice-line index, not by reading every
invoice of the account).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
DUE = date(2024, 2, 1)
ACCOUNTS = 12
EUR30 = Money("30.00", "EUR")


def populate(make_uow: Callable[[], UnitOfWork], invoices: int) -> None:
    for a in range(ACCOUNTS):
        account_id, service_id = f"acc-{a}", f"ser-{a}"
        with make_uow() as uow:
            add_subscriber(
                uow,
                account_id,
                f"u{a}",
                service_id=service_id,
                paid_until=DUE,
                at=AT,
                balance=Money("1000.00", "EUR"),
            )
            for n in range(invoices):
                old = Invoice.issue(
                    f"old-{a}-{n}",
                    f"OLD-{a}-{n}",
                    account_id,
                    [InvoiceLine("VPS", EUR30, service_id=service_id)],
                    issued_on=date(2020, 1, 1),
                )
                old.pay(f"pay-{a}-{n}", EUR30, date(2020, 1, 1))
                uow.invoices.add(old)
            uow.commit()


def median_ms(make_uow: Callable[[], UnitOfWork], invoices: int) -> float:
    populate(make_uow, invoices)
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"r" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    times = []
    for a in range(ACCOUNTS):
        began = time.perf_counter()
        summary = billing.run.day(DUE, accounts=[f"acc-{a}"])
        times.append(time.perf_counter() - began)
        if summary.renewals != 1:
            raise AssertionError(summary)
    return statistics.median(times[2:]) * 1e3


def memory_units() -> Callable[[], UnitOfWork]:
    store = MemoryStore()

    def make() -> UnitOfWork:
        return MemoryUnitOfWork(store)

    return make


def main() -> int:
    for name in ("memory", "sqlite"):
        found: dict[int, float] = {}
        for invoices in (10, 1000):
            if name == "memory":
                found[invoices] = median_ms(memory_units(), invoices)
                continue
            with tempfile.TemporaryDirectory() as folder:
                sql = SqlStore(create_engine(f"sqlite:///{Path(folder) / 'renewals.db'}"))
                sql.create_schema()
                found[invoices] = median_ms(sql.unit_of_work, invoices)
                sql.engine.dispose()
        print(
            f"{name}: a renewal's account-day with 10 / 1,000 paid invoices: "
            f"{found[10]:.2f} ms / {found[1000]:.2f} ms = {found[1000] / found[10]:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
