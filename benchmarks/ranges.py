"""Cost against history of the reads by range: a month's reconciliation and a statement page.

Run it with ``.venv/bin/python benchmarks/ranges.py`` (PostgreSQL too when
``CABINET_BILLING_PG_DSN`` is set). For each store it builds two accounts whose ledgers
hold 240 and 10,000 entries: the last 240 in June 2024 (one every three hours), the
others before June. So both months are the same and only the history differs. It
measures, in the same run:

- ``cabinet.documents.reconciliation("EUR", June 1st, July 1st)``;
- ``cabinet.balance.statement(June 1st, July 1st, limit=50)``, the first page;
- for comparison, the reconciliation worked out as before: every entry of the ledger
  read and passed to ``build_reconciliation``;
- with ``--lists``, the first page (50) of ``cabinet.invoices.list("all")``,
  ``cabinet.payments.list()`` and ``cabinet.balance.expenses()`` of accounts with 240
  and 10,000 of each, and for comparison the invoices' page worked out as before: every
  invoice of the account loaded and paged in Python.

It prints the medians and the ratio 10,000 / 240.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from history import median_ms, sql_store

from cabinet_billing import Account, BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.paging import paginate
from cabinet_billing.domain.documents import build_reconciliation
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice, InvoiceLine, InvoiceStatus, invoice_order
from cabinet_billing.domain.payment import Payment
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV

JUNE = date(2024, 6, 1)
JULY = date(2024, 7, 1)
NOW = datetime(2024, 7, 2, 9, tzinfo=UTC)
SIZES = (240, 10_000)
IN_JUNE = 240

UowFactory = Callable[[], UnitOfWork]


def _billing(make_uow: UowFactory) -> Billing:
    return Billing(
        Ports(
            unit_of_work=make_uow,
            clock=FixedClock(NOW),
            gateway=SandboxGateway(b"r" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def populate(billing: Billing, make_uow: UowFactory) -> None:
    """``acc-240`` and ``acc-10000``: the entries before June, then June's, every 3 hours."""
    for size in SIZES:
        account_id = f"acc-{size}"
        billing.open_account(
            Account.open(account_id, f"user{size}", currency="EUR"),
            owner_id=f"u{size}",
            owner_name="Owner",
        )
        start = datetime(2024, 6, 1, 1, tzinfo=UTC)
        before = size - IN_JUNE
        with make_uow() as uow:
            ledger = uow.ledgers.get(account_id)
            for n in range(size):
                at = (
                    start - timedelta(minutes=10) * (before - n)
                    if n < before
                    else start + timedelta(hours=3) * (n - before)
                )
                if n % 4 == 3:
                    ledger.charge(Money("0.75", "EUR"), at, ref=f"exp-{n}")
                else:
                    ledger.top_up(Money("1.00", "EUR"), at, ref=f"pay-{n}")
            uow.commit()


def populate_lists(billing: Billing, make_uow: UowFactory) -> None:
    """``list-240`` and ``list-10000``: that many invoices, payments and expenses each."""
    for size in SIZES:
        account_id = f"list-{size}"
        billing.open_account(
            Account.open(account_id, f"lists{size}", currency="EUR"),
            owner_id=f"l{size}",
            owner_name="Owner",
        )
        with make_uow() as uow:
            book = uow.expenses.get(account_id)
            for n in range(size):
                day = JUNE - timedelta(days=n % 300)
                uow.invoices.add(
                    Invoice.issue(
                        f"{account_id}-inv-{n}",
                        f"{account_id}-{n + 1}",
                        account_id,
                        [InvoiceLine("VPS", Money("9.90", "EUR"))],
                        issued_on=day,
                    )
                )
                at = NOW - timedelta(hours=n)
                uow.payments.add(
                    Payment.top_up(f"{account_id}-pay-{n}", account_id, Money("9.90", "EUR"), at)
                )
                book.add(
                    Expense(f"{account_id}-exp-{n}", account_id, "VPS", day, Money("9.90", "EUR"))
                )
            uow.commit()


def measure_lists(
    name: str, billing: Billing, make_uow: UowFactory, rounds: int
) -> list[tuple[str, float, float]]:
    """(what, ms at 240, ms at 10,000) for each list's first page."""
    timings: dict[str, dict[int, float]] = {}
    for size in SIZES:
        account_id = f"list-{size}"
        cabinet = billing.cabinet(account_id, f"l{size}")

        def old_invoices(account_id: str = account_id) -> None:
            with make_uow() as uow:
                every = sorted(uow.invoices.for_account(account_id), key=invoice_order)
            paginate(every, _invoice_id, matches=lambda i: i.status is not InvoiceStatus.DELETED)

        for what, fn in (
            ("invoices.list('all'), first page", lambda c=cabinet: c.invoices.list("all")),
            ("payments.list(), first page", lambda c=cabinet: c.payments.list()),
            ("balance.expenses(), first page", lambda c=cabinet: c.balance.expenses()),
            ("invoices, every one loaded (as before)", old_invoices),
        ):
            timings.setdefault(what, {})[size] = median_ms(fn, rounds)
    return [(f"{name}: {what}", t[SIZES[0]], t[SIZES[1]]) for what, t in timings.items()]


def _invoice_id(invoice: Invoice) -> str:
    return invoice.id


def measure(
    name: str, billing: Billing, make_uow: UowFactory, rounds: int
) -> list[tuple[str, float, float]]:
    """(what, ms at 10, ms at 10,000) for each read."""
    timings: dict[str, dict[int, float]] = {}
    for size in SIZES:
        cabinet = billing.cabinet(f"acc-{size}", f"u{size}")

        def reconciliation(cabinet: object = cabinet) -> None:
            cabinet.documents.reconciliation("EUR", JUNE, JULY)  # type: ignore[attr-defined]

        def statement(cabinet: object = cabinet) -> None:
            cabinet.balance.statement(JUNE, JULY, limit=50)  # type: ignore[attr-defined]

        def every_entry(account_id: str = f"acc-{size}") -> None:
            with make_uow() as uow:
                entries = uow.ledgers.get(account_id).entries()
            build_reconciliation(
                entries, account_id=account_id, currency="EUR", start=JUNE, end=JULY
            )

        for what, fn in (
            ("reconciliation(June)", reconciliation),
            ("statement(June), first page", statement),
            ("every entry read (as before)", every_entry),
        ):
            timings.setdefault(what, {})[size] = median_ms(fn, rounds)
    return [(f"{name}: {what}", t[SIZES[0]], t[SIZES[1]]) for what, t in timings.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stores", default="memory,sqlite,postgresql")
    parser.add_argument("--lists", action="store_true", help="measure the lists too")
    args = parser.parse_args(argv)

    def run(name: str, billing: Billing, make_uow: UowFactory) -> list[tuple[str, float, float]]:
        populate(billing, make_uow)
        found = measure(name, billing, make_uow, args.rounds)
        if args.lists:
            populate_lists(billing, make_uow)
            found += measure_lists(name, billing, make_uow, args.rounds)
        return found

    chosen = args.stores.split(",")
    results: list[tuple[str, float, float]] = []
    if "memory" in chosen:
        store = MemoryStore()

        def memory_uow() -> UnitOfWork:
            return MemoryUnitOfWork(store)

        results += run("memory", _billing(memory_uow), memory_uow)
    if "sqlite" in chosen:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'ranges.db'}"
            with sql_store(url) as make_uow:
                results += run("sqlite", _billing(make_uow), make_uow)
    dsn = os.environ.get("CABINET_BILLING_PG_DSN")
    if "postgresql" in chosen and dsn:
        from sqlalchemy import make_url  # noqa: PLC0415

        url = (
            make_url(dsn).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        )
        with sql_store(url, f"bench_{uuid.uuid4().hex[:10]}") as make_uow:
            results += run("postgresql", _billing(make_uow), make_uow)
    elif "postgresql" in chosen:
        print("postgresql: skipped, CABINET_BILLING_PG_DSN is not set")
    print(f"{'':<56}{'240 items':>12}{'10,000':>12}{'ratio':>8}")
    for what, small, large in results:
        print(f"{what:<56}{small:>9.3f} ms{large:>9.3f} ms{large / small:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
