"""Billing runs shared by several workers on PostgreSQL (DESIGN: scale)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from cabinet_billing import BillingSettings, Money
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.events import ServiceRenewed
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.subscribers import add_subscriber

pytestmark = pytest.mark.spec("P", "R4")

AT = datetime(2024, 1, 10, 9, tzinfo=UTC)
ACCOUNTS = 12


def billing(store: SqlStore, clock: FixedClock) -> Billing:
    return Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=clock,
            gateway=SandboxGateway(b"w" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def populate(store: SqlStore) -> None:
    with SqlUnitOfWork(store) as uow:
        for n in range(ACCOUNTS):
            add_subscriber(
                uow,
                f"acc-{n:03}",
                f"user{n}",
                service_id=f"ser-{n:03}",
                paid_until=date(2024, 2, 10),
                at=AT,
            )
        uow.commit()


def test_workers_claim_disjoint_accounts_and_renew_each_once(billing_pg_store: SqlStore) -> None:
    store = billing_pg_store
    populate(store)
    clock = FixedClock(datetime(2024, 2, 10, 3, tzinfo=UTC))
    processed: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(3)

    def worker() -> None:
        billing_run = billing(store, clock).run
        cursor = None
        first = True
        while True:
            with SqlUnitOfWork(store) as claim:
                mine = claim.claim_accounts(2, after=cursor, due_by=clock.today())
                if first:
                    ready.wait(timeout=30)  # the first claims are held at once
                    first = False
                if not mine:
                    return
                summary = billing_run.day(accounts=mine)
                with lock:
                    processed.extend(
                        e.account_id for e in summary.events if isinstance(e, ServiceRenewed)
                    )
                assert summary.failures == ()
                claim.commit()
            cursor = mine[-1]

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # every account was renewed exactly once, by whichever worker held it
    assert len(processed) == ACCOUNTS
    assert sorted(processed) == [f"acc-{n:03}" for n in range(ACCOUNTS)]
    again = billing(store, clock).run.day()
    assert (again.accounts, again.not_due, again.renewals) == (0, ACCOUNTS, 0)
    with SqlUnitOfWork(store) as uow:
        # Billed for the day, none is claimed again by a worker of that day.
        assert uow.claim_accounts(ACCOUNTS, due_by=clock.today()) == []
    with SqlUnitOfWork(store) as uow:
        for n in range(ACCOUNTS):
            assert uow.ledgers.get(f"acc-{n:03}").balance("EUR") == Money("70.00", "EUR")
            assert uow.services.get(f"ser-{n:03}").paid_until == date(2024, 3, 10)
    # The invoice numbers the workers took at once, counted from the database: one per
    # renewal, each once, from 1 with no gap.
    with store.engine.connect() as connection:
        numbers = connection.execute(select(store.tables.invoices.c.number)).scalars().all()
    assert sorted(int(re.findall(r"\d+", n)[-1]) for n in numbers) == list(range(1, ACCOUNTS + 1))
