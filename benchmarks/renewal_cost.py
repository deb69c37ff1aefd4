"""What one due renewal costs on each store: time, statements and commits per renewal.

Run it with ``.venv/bin/python benchmarks/renewal_cost.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). ``--accounts`` accounts of the Introserv preset each
have one monthly service renewing on the 1st and a balance that pays for it; the run of
the 1st of each of ``--months`` months renews every one of them
(``billing.run.day(day, accounts=due)``: only the due accounts are visited, so this is
the cost of the renewal itself — the invoice issued and paid from the balance, the
expense, the ledger entry, the service's paid-until moved — and of the units of work
around it, without idle account-days). It prints, per renewal, the CPU time of this
process (less sensitive than wall time to a machine shared with other work) and the wall
time, the best and the median month after the first (the first also creates each
account's billing profile), and the SQL statements and commits.

With ``--records 3 1000`` each service first has that many history records (ordered,
paid, activated, then reboots begun and finished), one store after the other, and the
ratio of the largest to the smallest says how a renewal's cost grows with the age of
the service (the target: within 1.2).
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.service import Actor, ServiceOperation
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
Opened = tuple[Callable[[], UnitOfWork], Engine | None]


def measure(
    name: str,
    make_uow: Callable[[], UnitOfWork],
    engine: Engine | None,
    args: argparse.Namespace,
    records: int = 3,
) -> tuple[float, float, float]:
    """Print a store's renewal cost; (best CPU ms, median CPU ms, statements) per renewal."""
    accounts, months = args.accounts, args.months
    due = populate(make_uow, accounts, records)
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"c" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    counted = {"statements": 0, "commits": 0}
    if engine is not None:

        def statement(*_: object) -> None:
            counted["statements"] += 1

        def commit(*_: object) -> None:
            counted["commits"] += 1

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
    cpu: list[float] = []
    wall: list[float] = []
    per: dict[str, float] = {}
    for month in range(months):
        counted.update(statements=0, commits=0)
        began, began_cpu = time.perf_counter(), time.process_time()
        summary = billing.run.day(date(2024, 2 + month, 1), accounts=due)
        cpu.append((time.process_time() - began_cpu) / accounts * 1e3)
        wall.append((time.perf_counter() - began) / accounts * 1e3)
        if summary.renewals != accounts or summary.failures:
            raise SystemExit(f"{name}: {summary.renewals} renewals, {summary.failures[:1]}")
        per = {k: v / accounts for k, v in counted.items()}
    later_cpu, later_wall = cpu[1:], wall[1:]
    sql = f", {per['statements']:.0f} statements, {per['commits']:.0f} commits" if engine else ""
    aged = f" ({records} records)" if args.records else ""
    print(
        f"{name}{aged}: a renewal costs {min(later_cpu):.2f} ms CPU (median "
        f"{statistics.median(later_cpu):.2f}), {min(later_wall):.2f} ms wall (median "
        f"{statistics.median(later_wall):.2f}){sql}; the first month {cpu[0]:.2f} ms CPU",
        flush=True,
    )
    return min(later_cpu), statistics.median(later_cpu), per.get("statements", 0.0)


def populate(make_uow: Callable[[], UnitOfWork], accounts: int, records: int = 3) -> list[str]:
    """Accounts with a balance of 1,000 EUR and one 30 EUR monthly service due on Feb 1.

    Each service has ``records`` history records (3 at least: ordered, paid, activated),
    the others reboots begun and finished (and a plan change for an odd one).
    """
    ids = [f"acc-{n:06}" for n in range(accounts)]
    with make_uow() as uow:
        for n, account_id in enumerate(ids):
            service = add_subscriber(
                uow,
                account_id,
                f"user{n}",
                service_id=f"ser-{n:06}",
                paid_until=date(2024, 2, 1),
                at=AT,
                balance=Money("1000.00", "EUR"),
            )
            for _ in range((records - 3) // 2):
                service.begin_processing(ServiceOperation.REBOOTING, Actor.admin("ops"), AT)
                service.finish_processing(Actor.system(), AT)
            if (records - 3) % 2:
                service.change_plan("vps", "VPS", service.price, actor=Actor.system(), at=AT)
        uow.commit()
    return ids


@contextmanager
def memory() -> Iterator[Opened]:
    store = MemoryStore()
    yield (lambda: MemoryUnitOfWork(store)), None


@contextmanager
def sqlite() -> Iterator[Opened]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(create_engine(f"sqlite:///{Path(folder) / 'renewals.db'}"))
        store.create_schema()
        yield (lambda: SqlUnitOfWork(store)), store.engine
        store.engine.dispose()


@contextmanager
def postgresql(dsn: str) -> Iterator[Opened]:
    url = make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    schema = f"renewals_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = SqlStore(create_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    try:
        store.create_schema()
        yield (lambda: SqlUnitOfWork(store)), store.engine
    finally:
        store.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _best(measures: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The best CPU, the least median and the statements of a record count's measures."""
    return (
        min(m[0] for m in measures),
        min(m[1] for m in measures),
        measures[-1][2],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument(
        "--records",
        type=int,
        nargs="+",
        metavar="N",
        help="history records of each service, e.g. 3 1000: one measure per count and the ratio",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="with --records: how many times each count is measured, the counts taking turns",
    )
    args = parser.parse_args(argv)
    stores: list[tuple[str, Callable[[], Any]]] = [("memory", memory), ("SQLite", sqlite)]
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if dsn:
        stores.append(("PostgreSQL", lambda: postgresql(dsn)))
    for name, opened in stores:
        counts = args.records or [3]
        found: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
        for turn in range(args.rounds if len(counts) > 1 else 1):
            # The record counts take turns, in reverse order every other round: a process
            # measures its first store faster than the next (a smaller heap to collect).
            for records in counts if turn % 2 == 0 else counts[::-1]:
                with opened() as (make_uow, engine):
                    found[records].append(measure(name, make_uow, engine, args, records))
        if len(counts) > 1:
            (best, median, statements), (aged_best, aged_median, aged_statements) = (
                _best(found[counts[0]]),
                _best(found[counts[-1]]),
            )
            print(
                f"{name}: {args.records[-1]} / {args.records[0]} records: "
                f"{aged_best / best:.2f}x best CPU, {aged_median / median:.2f}x median"
                + (f", {aged_statements:.0f} / {statements:.0f} statements" if statements else ""),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
