"""The billing run: its cost per service stays the same whatever the number of services.

Accounts of about ten services each are written straight into the in-memory store (the
use cases would take far longer to build a million services than the run takes), with
renewal days spread over the month, so each day about a thirtieth of the services renew
from the balance. Each round is the next day's real billing run. The floor is the least
such a run could cost: one price added and quantized per service, on bare ``Decimal``.

The 1 000 000-service case takes minutes and gigabytes: it runs only with
``CABINET_BILLING_BENCH_FULL=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest

from cabinet_billing import Account, Money
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Service, ServiceStatus
from cabinet_billing.rules.presets import INTROSERV


class Measure(Protocol):
    """The ``measure`` fixture of conftest.py."""

    def __call__(
        self,
        name: str,
        fn: Callable[[], object],
        floor: str | None = None,
        *,
        rounds: int = 15,
        warmup: int = 2,
        units: tuple[int, str] | None = None,
    ) -> None: ...


START = date(2024, 1, 1)
AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
PER_ACCOUNT = 10
PRICES = tuple(Money(p, "EUR") for p in ("9.90", "19.90", "39.90", "79.00", "3.00"))
CENT = Decimal("0.01")
FULL = os.environ.get("CABINET_BILLING_BENCH_FULL") == "1"

#: services -> (rounds, warm-up rounds): fewer rounds where one takes seconds.
SIZES = {10_000: (5, 1), 100_000: (3, 1), 1_000_000: (2, 0)}


def build(services: int) -> InMemoryBilling:
    """An Introserv billing with ``services`` active services, ten per account."""
    setup = in_memory_billing(
        BillingSettings.from_preset(INTROSERV), now=AT, rates=FixedRates(INTROSERV.exchange_rates)
    )
    month = Period.months()
    accounts = services // PER_ACCOUNT
    chunk = 1_000
    for first in range(0, accounts, chunk):
        with MemoryUnitOfWork(setup.store) as uow:
            for a in range(first, min(first + chunk, accounts)):
                account_id = f"acc-{a:07}"
                uow.accounts.add(Account.open(account_id, f"user{a}", currency="EUR"))
                uow.ledgers.get(account_id).top_up(Money("10000.00", "EUR"), AT)
                for s in range(PER_ACCOUNT):
                    n = a * PER_ACCOUNT + s
                    paid_until = START + timedelta(days=1 + n % 30)
                    uow.services.add(
                        Service(
                            id=f"ser-{n:08}",
                            account_id=account_id,
                            plan_id="vps",
                            plan_name="VPS",
                            kind=ProductKind.VPS,
                            price=PRICES[n % len(PRICES)],
                            period=month,
                            created_at=AT,
                            paid_until=paid_until,
                            anchor=paid_until,
                            auto_renew=True,
                            paid=True,
                            status=ServiceStatus.ACTIVE,
                        ),
                    )
            uow.commit()
    return setup


def sizes() -> list[object]:
    return [
        size
        if size < 1_000_000 or FULL
        else pytest.param(size, marks=pytest.mark.skip(reason="CABINET_BILLING_BENCH_FULL=1"))
        for size in SIZES
    ]


@pytest.mark.parametrize("size", sizes())
def test_cycle_floor(measure: Measure, size: int) -> None:
    prices = [p.amount for p in PRICES] * (size // len(PRICES))
    rounds, warmup = SIZES[size]

    def floor() -> None:
        total = Decimal(0)
        for price in prices:
            total = (total + price).quantize(CENT)

    measure(f"cycle floor: {size:>9} Decimal adds", floor, None, rounds=rounds, warmup=warmup)


@pytest.mark.parametrize("size", sizes())
def test_cycle(measure: Measure, size: int) -> None:
    setup = build(size)
    days = iter(START + timedelta(days=d) for d in range(1, 1000))
    renewals: list[int] = []

    def one_day() -> None:
        summary = setup.billing.run.day(next(days))
        assert not summary.failures
        renewals.append(summary.renewals)

    rounds, warmup = SIZES[size]
    measure(
        f"billing run: {size:>9} services",
        one_day,
        f"cycle floor: {size:>9} Decimal adds",
        rounds=rounds,
        warmup=warmup,
        units=(size, "service"),
    )
    # about a thirtieth of the services renewed each day, from the balance
    assert all(size // 40 <= r <= size // 25 for r in renewals)
