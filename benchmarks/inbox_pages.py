"""Cost against history of the notification inbox: a page and the unread count.

Run it with ``.venv/bin/python benchmarks/inbox_pages.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). For each store it builds two accounts whose inboxes
hold 100 and 10,000 notifications, the user having read every other one, and measures in
the same run:

- ``cabinet.notifications.inbox(limit=50)``, the first page;
- ``cabinet.notifications.inbox(unread=True, limit=20, after=...)``, a page from the
  middle of the inbox;
- ``cabinet.notifications.unread_count()``.

It prints the medians and the ratio 10,000 / 100. On PostgreSQL it measures twice: right
after the inserts, with the planner's statistics of empty tables (it then picks a nested
loop for the read marks), and after ``ANALYZE``, as autovacuum runs it once tables grow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from history import median_ms, sql_store

from cabinet_billing import Account, BillingSettings
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.ports.repositories import UnitOfWork

NOW = datetime(2024, 7, 2, 9, tzinfo=UTC)
SIZES = (100, 10_000)

UowFactory = Callable[[], UnitOfWork]


def _billing(make_uow: UowFactory) -> Billing:
    return Billing(
        Ports(unit_of_work=make_uow, clock=FixedClock(NOW), gateway=SandboxGateway(b"i" * 32)),
        BillingSettings(),
    )


def populate(billing: Billing, make_uow: UowFactory) -> None:
    """``acc-100`` and ``acc-10000``: one notification a minute, every other one read."""
    for size in SIZES:
        account_id = f"acc-{size}"
        billing.open_account(Account.open(account_id, account_id), owner_id="u1", owner_name="U")
        start = NOW - timedelta(minutes=size)
        notes = [
            Notification(
                account_id,
                NotificationCategory.FINANCE,
                "invoice.paid",
                start + timedelta(minutes=n),
                {"n": str(n)},
            )
            for n in range(size)
        ]
        for first in range(0, size, 1000):
            with make_uow() as uow:
                for note in notes[first : first + 1000]:
                    uow.inbox.add(note)
                uow.inbox.mark_read(
                    account_id, "u1", [n.key for n in notes[first : first + 1000 : 2]], NOW
                )
                uow.commit()


def analyze(make_uow: UowFactory) -> None:
    """ANALYZE the inbox tables, as autovacuum does once they have grown."""
    from sqlalchemy import text  # noqa: PLC0415 - the sql extra

    with make_uow() as uow:
        connection = uow.inbox._connection()  # type: ignore[attr-defined]  # noqa: SLF001
        connection.execute(text("ANALYZE cb_inbox"))
        connection.execute(text("ANALYZE cb_inbox_reads"))
        uow.commit()


def measure(name: str, billing: Billing, rounds: int) -> list[tuple[str, float, float]]:
    timings: dict[str, dict[int, float]] = {}
    for size in SIZES:
        inbox = billing.cabinet(f"acc-{size}", "u1").notifications
        half = NOW - timedelta(minutes=size - size // 2)
        middle = f"acc-{size}:invoice.paid:{half.isoformat()}"  # the key of the middle one

        def first_page(inbox: object = inbox) -> None:
            assert len(inbox.inbox(limit=50)) == 50  # type: ignore[attr-defined]

        def middle_page(inbox: object = inbox, middle: str = middle) -> None:
            assert len(inbox.inbox(unread=True, limit=20, after=middle)) == 20  # type: ignore[attr-defined]

        def unread(inbox: object = inbox, size: int = size) -> None:
            assert inbox.unread_count() == size // 2  # type: ignore[attr-defined]

        for what, fn in (
            ("inbox(limit=50), first page", first_page),
            ("inbox(unread=True, limit=20), mid page", middle_page),
            ("unread_count()", unread),
        ):
            timings.setdefault(what, {})[size] = median_ms(fn, rounds)
    return [(f"{name}: {what}", t[SIZES[0]], t[SIZES[1]]) for what, t in timings.items()]


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
            url = f"sqlite:///{Path(folder) / 'inbox.db'}"
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
            results += measure("postgresql, fresh statistics", billing, args.rounds)
            analyze(make_uow)
            results += measure("postgresql, analyzed", billing, args.rounds)
    elif "postgresql" in chosen:
        print("postgresql: skipped, CABINET_BILLING_PG_DSN is not set")
    print(f"{'':<68}{'100':>12}{'10,000':>12}{'ratio':>8}")
    for what, small, large in results:
        print(f"{what:<68}{small:>9.3f} ms{large:>9.3f} ms{large / small:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
