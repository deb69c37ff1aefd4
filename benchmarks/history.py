"""Cost against history: an idle account-day and a balance read at 10 and 10,000 entries.

Run it with ``.venv/bin/python benchmarks/history.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). For each store it builds two accounts, one whose
ledger has 10 entries and one with 10,000, each with a monthly service paid well ahead
(nothing due), and measures, in the same run:

- an idle account-day: ``billing.run.day(day, accounts=[account])`` on a new day each time;
- a balance read: ``cabinet.balance.get(currency)`` through the cabinet.

It prints the medians and the ratio 10,000 / 10 (the target: within 1.2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cabinet_billing import Account, BillingSettings, Money, Period, Service
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.service import Actor
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
START = date(2024, 1, 2)
SIZES = (10, 10_000)

UowFactory = Callable[[], UnitOfWork]


def _billing(make_uow: UowFactory) -> Billing:
    return Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"h" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def populate(billing: Billing, make_uow: UowFactory) -> None:
    """Two accounts: ``acc-10`` with 10 ledger entries, ``acc-10000`` with 10,000."""
    for size in SIZES:
        account_id = f"acc-{size}"
        billing.open_account(
            Account.open(account_id, f"user{size}", currency="EUR"),
            owner_id=f"u{size}",
            owner_name="Owner",
        )
        with make_uow() as uow:
            service = Service.order(
                id=f"ser-{size}",
                account_id=account_id,
                plan_id="vps",
                plan_name="VPS",
                kind="vps",
                price=Money("9.90", "EUR"),
                period=Period.months(),
                created_at=AT,
                actor=Actor.system(),
                auto_renew=True,
            )
            service.mark_paid(START + timedelta(days=400), Actor.system(), AT)
            service.activate(Actor.system(), AT)
            uow.services.add(service)
            ledger = uow.ledgers.get(account_id)
            for n in range(size):
                ledger.top_up(Money("1.00", "EUR"), AT, ref=f"pay-{n}", key=f"top-up:{n}")
            uow.commit()


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(name: str, billing: Billing, rounds: int) -> list[tuple[str, float, float]]:
    """(what, ms at 10, ms at 10,000) for an idle account-day and a balance read."""
    days = {size: iter(START + timedelta(days=d) for d in range(10_000)) for size in SIZES}
    idle: dict[int, float] = {}
    balance: dict[int, float] = {}
    for size in SIZES:
        account_id = f"acc-{size}"

        def one_day(size: int = size, account_id: str = account_id) -> None:
            summary = billing.run.day(next(days[size]), accounts=[account_id])
            if summary.failures or summary.renewals:
                raise AssertionError(summary)

        cabinet = billing.cabinet(account_id, f"u{size}")

        def read(cabinet: object = cabinet, size: int = size) -> None:
            found = cabinet.balance.get("EUR")  # type: ignore[attr-defined]
            if found != Money(size, "EUR"):
                raise AssertionError(found)

        idle[size] = median_ms(one_day, rounds)
        balance[size] = median_ms(read, rounds)
    return [
        (f"{name}: idle account-day", idle[SIZES[0]], idle[SIZES[1]]),
        (f"{name}: balance()", balance[SIZES[0]], balance[SIZES[1]]),
    ]


@contextmanager
def sql_store(url: str, schema: str | None = None) -> Iterator[UowFactory]:
    from sqlalchemy import create_engine, text  # noqa: PLC0415 - the sql extra

    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415

    args = {"options": f"-csearch_path={schema}"} if schema else {}
    if schema:
        with create_engine(url).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args=args)
    store = SqlStore(engine)
    store.create_schema()
    try:
        yield lambda: SqlUnitOfWork(store)
    finally:
        engine.dispose()
        if schema:
            with create_engine(url).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stores", default="memory,sqlite,postgresql")
    args = parser.parse_args(argv)
    chosen = args.stores.split(",")
    results: list[tuple[str, float, float]] = []
    if "memory" in chosen:
        store = MemoryStore()

        def memory_uow() -> UnitOfWork:
            return MemoryUnitOfWork(store)

        billing = _billing(memory_uow)
        populate(billing, memory_uow)
        results += measure("memory", billing, args.rounds)
    if "sqlite" in chosen:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'history.db'}"
            with sql_store(url) as make_uow:
                billing = _billing(make_uow)
                populate(billing, make_uow)
                results += measure("sqlite", billing, args.rounds)
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if "postgresql" in chosen and dsn:
        from sqlalchemy import make_url  # noqa: PLC0415

        url = (
            make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        )
        with sql_store(url, f"bench_{uuid.uuid4().hex[:10]}") as make_uow:
            billing = _billing(make_uow)
            populate(billing, make_uow)
            results += measure("postgresql", billing, args.rounds)
    elif "postgresql" in chosen:
        print("postgresql: skipped, CABINET_BILLING_PG_DSN is not set")
    print(f"{'':<34}{'10 entries':>12}{'10,000':>12}{'ratio':>8}")
    for what, small, large in results:
        print(f"{what:<34}{small:>9.3f} ms{large:>9.3f} ms{large / small:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
