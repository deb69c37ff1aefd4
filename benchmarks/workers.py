"""Billing workers on PostgreSQL: a due day of 5,000 renewals, one worker process against two.

Run it with ``CABINET_BILLING_PG_DSN=postgresql://… .venv/bin/python benchmarks/workers.py``
(``make bench-workers``; ``--accounts N``, ``--rounds N``). Each run creates a schema of
its own, writes 5,000 accounts of the Introserv preset with one monthly service each, all
due on the same day with money on the balance, and starts the workers: processes that
share the accounts with ``claim_accounts`` (``FOR UPDATE SKIP LOCKED``) and run the day
for what they claimed. It prints the renewals per second of each run, the lock waits
sampled from ``pg_locks`` every 5 ms while they run, and what the database holds
afterwards: renewals, invoices, charges and their duplicates (target: none), and whether
the invoice numbers run from 1 with no gap and none twice. Beside them it prints the CPU
the worker processes used and how busy the whole machine was while they ran
(``/proc/stat``, PostgreSQL and any other work included): on a machine whose cores are
all busy, a second worker cannot add throughput.

``--rounds N`` makes N pairs of runs, one worker then two, one then two... (1, 2, 1,
2 ...), and prints the ratio of each pair (target: 2 workers at least 1.6 times 1) and
their median: the first run of a session is slower than the next (cold caches), so one
pair alone overstates or understates the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from multiprocessing.synchronize import Event
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, make_url, select, text

from cabinet_billing import BillingSettings
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

AT = datetime(2024, 1, 10, 9, tzinfo=UTC)
DUE = date(2024, 2, 10)
BATCH = 25


def _engine(url: str, schema: str) -> Engine:
    # The application name tells the benchmark's connections apart in pg_stat_activity.
    # Commits do not wait for the disk (synchronous_commit=off): what is measured is how
    # the workers wait for each other, not how fast this machine's disk syncs.
    return create_engine(
        url,
        connect_args={
            "options": f"-csearch_path={schema} -csynchronous_commit=off",
            "application_name": schema,
        },
    )


def populate(store: SqlStore, accounts: int) -> None:
    """``accounts`` accounts with 100.00 EUR and one 30.00 EUR monthly service due on DUE."""
    chunk = 250
    for first in range(0, accounts, chunk):
        with SqlUnitOfWork(store) as uow:
            for n in range(first, min(first + chunk, accounts)):
                add_subscriber(
                    uow, f"acc-{n:06}", f"user{n}", service_id=f"ser-{n:06}", paid_until=DUE, at=AT
                )
            uow.commit()


def worker(url: str, schema: str, start: Event) -> None:
    """Claim batches of accounts and run the due day for them until none is left."""
    store = SqlStore(_engine(url, schema))
    billing = Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=FixedClock(datetime(2024, 2, 10, 3, tzinfo=UTC)),
            gateway=SandboxGateway(b"w" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    start.wait()
    cursor = None
    while True:
        with SqlUnitOfWork(store) as claim:
            mine = claim.claim_accounts(BATCH, after=cursor, due_by=DUE)
            if not mine:
                return
            summary = billing.run.day(DUE, accounts=mine)
            if summary.failures:
                raise SystemExit(f"failures: {summary.failures[:3]}")
            claim.commit()
        cursor = mine[-1]


def sample_locks(engine: Engine, schema: str, stop: threading.Event, found: list[int]) -> None:
    """Every 5 ms: how many lock requests of the workers wait (``pg_locks`` not granted)."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.application_name = :name"
    )
    with engine.connect() as connection:
        while not stop.is_set():
            waiting = connection.execute(query, {"name": schema}).scalar_one()
            connection.commit()
            found.append(int(waiting))
            time.sleep(0.005)


def cpu_ticks() -> tuple[int, int]:
    """The machine's (busy, total) CPU ticks since boot, from ``/proc/stat``; (0, 0) elsewhere."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return 0, 0
    fields = [int(f) for f in first.split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def counted(store: SqlStore) -> dict[str, int]:
    """What the database holds: renewals, invoices, charges, and their duplicates."""
    t = store.tables
    with store.engine.connect() as connection:

        def one(query: object) -> int:
            return int(connection.execute(query).scalar_one())  # type: ignore[call-overload]

        lines = t.invoice_lines
        per_period = (
            select(lines.c.service_id, lines.c.paid_until, func.count().label("n"))
            .group_by(lines.c.service_id, lines.c.paid_until)
            .subquery()
        )
        entries = t.ledger_entries
        charges = (
            select(entries.c.account_id, func.count().label("n"))
            .where(entries.c.kind == "charge")
            .group_by(entries.c.account_id)
            .subquery()
        )
        return {
            "renewed": one(
                select(func.count()).select_from(t.services).where(t.services.c.paid_until > DUE)
            ),
            "invoices": one(select(func.count()).select_from(t.invoices)),
            "numbers": one(select(func.count(func.distinct(t.invoices.c.number)))),
            "duplicate renewals": one(
                select(func.count()).select_from(per_period).where(per_period.c.n > 1)
            ),
            "charges": one(select(func.coalesce(func.sum(charges.c.n), 0))),
            "duplicate charges": one(
                select(func.count()).select_from(charges).where(charges.c.n > 1)
            ),
            "numbers from 1 without gap": int(
                gapless(connection.execute(select(t.invoices.c.number)).scalars())
            ),
        }


def gapless(numbers: Iterable[str]) -> bool:
    """Whether invoice numbers (``IS-000001`` ...) are 1 to their count, each once."""
    found = sorted(int(re.findall(r"\d+", number)[-1]) for number in numbers)
    return found == list(range(1, len(found) + 1))


def run(url: str, accounts: int, workers: int) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = _engine(url, schema)
    store = SqlStore(engine)
    try:
        store.create_schema()
        populate(store, accounts)
        start = multiprocessing.Event()
        processes = [
            multiprocessing.Process(target=worker, args=(url, schema, start))
            for _ in range(workers)
        ]
        for p in processes:
            p.start()
        time.sleep(2)  # every worker is connected and waiting
        stop, waits = threading.Event(), list[int]()
        sampler = threading.Thread(target=sample_locks, args=(admin, schema, stop, waits))
        sampler.start()
        busy_before, total_before = cpu_ticks()
        children_before = os.times()
        began = time.perf_counter()
        start.set()
        for p in processes:
            p.join()
        took = time.perf_counter() - began
        children = os.times()
        busy_after, total_after = cpu_ticks()
        worker_cpu = (children.children_user - children_before.children_user) + (
            children.children_system - children_before.children_system
        )
        cores = os.cpu_count() or 1
        stop.set()
        sampler.join()
        if any(p.exitcode for p in processes):
            raise SystemExit(f"a worker failed: {[p.exitcode for p in processes]}")
        result: dict[str, float] = dict(counted(store))
        result |= {
            "seconds": took,
            "per second": result["renewed"] / took,
            "lock waits sampled": sum(waits),
            "samples": len(waits),
            "waiting per sample": sum(waits) / max(len(waits), 1),
            "worker cpu": worker_cpu,
            "cores": cores,
            "machine busy": (busy_after - busy_before) / max(total_after - total_before, 1),
        }
        return result
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def report(workers: int, found: dict[str, float]) -> None:
    """One line for a run of ``workers`` workers."""
    print(
        f"{workers} worker(s): {found['renewed']:.0f} renewed in {found['seconds']:.1f} s = "
        f"{found['per second']:.1f} renewals/s; invoices {found['invoices']:.0f} "
        f"(distinct numbers {found['numbers']:.0f}, from 1 without gap: "
        f"{'yes' if found['numbers from 1 without gap'] else 'NO'}), "
        f"charges {found['charges']:.0f}; "
        f"duplicates: renewals {found['duplicate renewals']:.0f}, "
        f"charges {found['duplicate charges']:.0f}; lock waits: "
        f"{found['waiting per sample']:.3f} waiting per sample over {found['samples']:.0f} "
        f"samples, {found['lock waits sampled'] / max(found['renewed'], 1):.3f} per renewal; "
        f"CPU: workers {found['worker cpu']:.1f} s "
        f"({found['worker cpu'] / found['seconds']:.2f} cores), machine "
        f"{found['machine busy']:.0%} busy of {found['cores']:.0f} cores",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="pairs of runs, 1 worker then 2 (1, 2, 1, 2 ...)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if not dsn:
        print("skipped: CABINET_BILLING_PG_DSN is not set (a PostgreSQL server is needed)")
        return 0
    url = make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    ratios: list[float] = []
    for round_ in range(1, args.rounds + 1):
        per_second = {}
        for n in (1, 2):
            found = run(url, args.accounts, n)
            report(n, found)
            per_second[n] = found["per second"]
        ratios.append(per_second[2] / per_second[1])
        print(f"round {round_}: throughput of 2 workers / 1 worker: {ratios[-1]:.2f}x", flush=True)
    print(
        f"throughput of 2 workers / 1 worker: median {statistics.median(ratios):.2f}x of "
        f"{len(ratios)} round(s) ({', '.join(f'{r:.2f}x' for r in ratios)}; target 1.6x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
