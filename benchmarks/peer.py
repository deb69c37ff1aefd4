"""Months of renewals, side by side with django-silver's months of draft invoices.

``make bench-peer`` installs django-silver into ``.bench/`` (a virtual environment of its
own, from the peer's pinned requirements) and runs this with the project's Python. Both
sides bill the same two months in the same run: ``--subscriptions`` customers, each with
one monthly subscription, their renewal days spread over the month, and a billing run
every day — silver's ``DocumentsGenerator().generate(billing_date=day)`` over SQLite
(``benchmarks/peer_silver.py``, in the peer's environment), and this library's
``billing.run.day(day)`` over SQLite (and PostgreSQL when ``CABINET_BILLING_PG_DSN`` is
set). Each month is timed on its own: the first bills each subscription for the first
time (here its first day also visits every account once, as after an import), the second
is a month like every later one, and the targets (100 on SQLite, 30 on PostgreSQL) are
for that one; the first month's ratio is printed too. The sides take turns for
``--rounds`` rounds (3 by default: the shared machine's noise moves single months by a
factor of two); it prints the cost per subscription of each month and the medians'
ratios, silver / ours. Without the peer's environment it says why and stops.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from cabinet_billing import BillingSettings
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE.parent / ".bench" / "bin" / "python"
AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
MONTH = date(2024, 2, 1)


MONTHS = ("first month", "later month")
"""What each of the two months billed is called in the report."""


def silver(subscriptions: int) -> list[tuple[float, int]] | str:
    """Silver's seconds and invoices made in each month, or why it could not run."""
    if not PEER_PYTHON.exists():
        return f"no {PEER_PYTHON}: run `make bench-peer` to install django-silver there"
    script = HERE / "peer_silver.py"
    done = subprocess.run(  # noqa: S603 - our own script in the peer's environment
        [str(PEER_PYTHON), str(script), "--subscriptions", str(subscriptions)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("silver ")]
    if done.returncode or len(lines) != len(MONTHS):
        return f"django-silver did not run: {(done.stderr or done.stdout).strip()[-500:]}"
    months = []
    for line in lines:
        _, _, seconds, invoices = line.split()
        months.append((float(seconds), int(invoices)))
    return months


def populate(make_uow: Callable[[], UnitOfWork], subscriptions: int) -> None:
    """One account per subscription, one monthly service renewing on a day of MONTH."""
    chunk = 250
    for first in range(0, subscriptions, chunk):
        with make_uow() as uow:
            for n in range(first, min(first + chunk, subscriptions)):
                add_subscriber(
                    uow,
                    f"acc-{n:06}",
                    f"user{n}",
                    service_id=f"ser-{n:06}",
                    paid_until=MONTH + timedelta(days=n % 28),
                    at=AT,
                )
            uow.commit()


def ours(make_uow: Callable[[], UnitOfWork], subscriptions: int) -> list[tuple[float, int]]:
    """Our seconds and renewals in each month of daily runs (February, then March)."""
    populate(make_uow, subscriptions)
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"p" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    months = []
    day = MONTH
    for end in (date(2024, 3, 1), date(2024, 4, 1)):
        renewals = 0
        began = time.perf_counter()
        while day < end:
            summary = billing.run.day(day)
            if summary.failures:
                raise SystemExit(f"failures: {summary.failures[:3]}")
            renewals += summary.renewals
            day += timedelta(days=1)
        months.append((time.perf_counter() - began, renewals))
    return months


@contextmanager
def sqlite() -> Iterator[Callable[[], UnitOfWork]]:
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(create_engine(f"sqlite:///{Path(folder) / 'ours.db'}"))
        store.create_schema()
        yield lambda: SqlUnitOfWork(store)
        store.engine.dispose()


@contextmanager
def postgresql(dsn: str) -> Iterator[Callable[[], UnitOfWork]]:
    url = make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    schema = f"peer_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = SqlStore(create_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    try:
        store.create_schema()
        yield lambda: SqlUnitOfWork(store)
    finally:
        store.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="months billed by each side, taking turns; the medians are compared",
    )
    args = parser.parse_args(argv)
    n = args.subscriptions
    stores: list[tuple[str, Callable[[], AbstractContextManager[Callable[[], UnitOfWork]]], int]]
    stores = [("SQLite", sqlite, 100)]
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if dsn:
        stores.append(("PostgreSQL", lambda: postgresql(dsn), 30))
    silvers: list[list[float]] = [[] for _ in MONTHS]
    mine: dict[str, list[list[float]]] = {name: [[] for _ in MONTHS] for name, _, _ in stores}
    for turn in range(1, args.rounds + 1):
        peer = silver(n)
        if isinstance(peer, str):
            print(f"bench-peer skipped: {peer}")
            return 0
        for m, (seconds, invoices) in enumerate(peer):
            silvers[m].append(seconds / n * 1e3)
            print(
                f"round {turn}, {MONTHS[m]}: django-silver, SQLite: {n} subscriptions, "
                f"{invoices} draft invoices in {seconds:.2f} s = {silvers[m][-1]:.3f} ms per "
                "subscription"
            )
        for name, opened, _ in stores:
            with opened() as make_uow:
                months = ours(make_uow, n)
            for m, (took, renewals) in enumerate(months):
                mine[name][m].append(took / n * 1e3)
                print(
                    f"round {turn}, {MONTHS[m]}: cabinet_billing, {name}: {n} subscriptions, "
                    f"{renewals} renewals in {took:.2f} s = {mine[name][m][-1]:.3f} ms per "
                    f"subscription; silver / ours = {silvers[m][-1] / mine[name][m][-1]:.2f}x"
                )
    for m, month in enumerate(MONTHS):
        per_silver = statistics.median(silvers[m])
        print(
            f"median of {args.rounds}, {month}: django-silver, SQLite: {per_silver:.3f} ms per "
            "subscription"
        )
        for name, _, target in stores:
            per = statistics.median(mine[name][m])
            aim = f" (target {target}x)" if m == len(MONTHS) - 1 else ""
            print(
                f"median of {args.rounds}, {month}: cabinet_billing, {name}: {per:.3f} ms per "
                f"subscription; silver / ours = {per_silver / per:.2f}x{aim}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
