"""Cost against history: an idle account-day and a balance read at 10 and 10,000 entries.

Run it with ``.venv/bin/python benchmarks/history.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). For each store it builds two accounts, one whose
ledger has 10 entries and one with 10,000, each with a monthly service paid well ahead
(nothing due), and measures, in the same run:

- an idle account-day, forced visit: ``billing.run.day(day, accounts=[account])`` on a new
  day each time (the account is given, so it is loaded and passed over though nothing is
  due);
- an idle account-day, due-only run: ``billing.run.day(day)`` on a new day each time, in a
  store of its own holding only that account (after the first run has dated it): what the
  daily run really costs for an account with nothing due, the due index's counts and query;
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
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cabinet_billing import Account, BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import monthly_service

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
START = date(2024, 1, 2)
SIZES = (10, 10_000)

UowFactory = Callable[[], UnitOfWork]
Opened = Callable[[], AbstractContextManager[UowFactory]]


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


def populate(billing: Billing, make_uow: UowFactory, sizes: tuple[int, ...] = SIZES) -> None:
    """An account per size: ``acc-10`` with 10 ledger entries, ``acc-10000`` with 10,000."""
    for size in sizes:
        account_id = f"acc-{size}"
        billing.open_account(
            Account.open(account_id, f"user{size}", currency="EUR"),
            owner_id=f"u{size}",
            owner_name="Owner",
        )
        with make_uow() as uow:
            paid_until = START + timedelta(days=400)
            price = Money("9.90", "EUR")
            uow.services.add(
                monthly_service(account_id, f"ser-{size}", paid_until, AT, price=price)
            )
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
        (f"{name}: idle day, forced visit", idle[SIZES[0]], idle[SIZES[1]]),
        (f"{name}: balance()", balance[SIZES[0]], balance[SIZES[1]]),
    ]


def measure_due(name: str, opened: Opened, rounds: int) -> tuple[str, float, float]:
    """(what, ms at 10, ms at 10,000) for the due-only run of a day with one idle account."""
    cost: dict[int, float] = {}
    for size in SIZES:
        with opened() as make_uow:
            billing = _billing(make_uow)
            populate(billing, make_uow, (size,))
            days = iter(START + timedelta(days=d) for d in range(10_000))
            first = billing.run.day(next(days))  # a new account is due at once: dated here
            if first.accounts != 1 or first.failures:
                raise AssertionError(first)

            def one_day(days: Iterator[date] = days, billing: Billing = billing) -> None:
                summary = billing.run.day(next(days))
                if summary.accounts or summary.not_due != 1 or summary.failures:
                    raise AssertionError(summary)

            cost[size] = median_ms(one_day, rounds)
    return (f"{name}: idle day, due-only run", cost[SIZES[0]], cost[SIZES[1]])


@contextmanager
def memory_store() -> Iterator[UowFactory]:
    store = MemoryStore()
    yield lambda: MemoryUnitOfWork(store)


@contextmanager
def sqlite_store() -> Iterator[UowFactory]:
    with (
        tempfile.TemporaryDirectory() as folder,
        sql_store(f"sqlite:///{Path(folder) / 'history.db'}") as make_uow,
    ):
        yield make_uow


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
    stores: list[tuple[str, Opened]] = [("memory", memory_store), ("sqlite", sqlite_store)]
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if dsn:
        from sqlalchemy import make_url  # noqa: PLC0415

        url = (
            make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        )
        stores.append(
            ("postgresql", lambda: sql_store(url, f"bench_{uuid.uuid4().hex[:10]}")),
        )
    elif "postgresql" in chosen:
        print("postgresql: skipped, CABINET_BILLING_PG_DSN is not set")
    results: list[tuple[str, float, float]] = []
    for name, opened in stores:
        if name not in chosen:
            continue
        with opened() as make_uow:
            billing = _billing(make_uow)
            populate(billing, make_uow)
            results += measure(name, billing, args.rounds)
        results.append(measure_due(name, opened, args.rounds))
    print(f"{'':<34}{'10 entries':>12}{'10,000':>12}{'ratio':>8}")
    for what, small, large in results:
        print(f"{what:<34}{small:>9.3f} ms{large:>9.3f} ms{large / small:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
