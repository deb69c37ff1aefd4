"""A day's run visits only the accounts that are due, and bills exactly what visiting all would.

Each account carries its next event date (the due index of the store); the run reads
the accounts due by the day, and a committed change of an account makes it due at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import pytest
from sqlalchemy import event

from cabinet_billing import Account, BillingSettings, Money, Period, Service
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.run import BillingRun, CycleSummary
from cabinet_billing.domain.service import Actor
from cabinet_billing.ports.repositories import DUE_NOW, UnitOfWork
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.population import Population
from cabinet_billing.testing.scenario import Scenario

pytestmark = pytest.mark.spec("P", "R4")


# ----------------------------------------------------------------------------- idle accounts


class CountingUnitOfWork:
    """A unit of work that counts, per account, the billing profiles loaded through it."""

    def __init__(self, inner: UnitOfWork, loads: dict[str, int]) -> None:
        self._inner = inner
        self._loads = loads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def profiles(self) -> Any:
        inner, loads = self._inner.profiles, self._loads

        class Counting:
            def get(self, account_id: str) -> Any:
                loads[account_id] = loads.get(account_id, 0) + 1
                return inner.get(account_id)

        return Counting()

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)


def _vps(account_id: str, paid_until: date, *, at: datetime, auto_renew: bool = True) -> Service:
    service = Service.order(
        id=f"ser-{account_id}",
        account_id=account_id,
        plan_id="vps",
        plan_name="VPS",
        kind="vps",
        price=Money("30.00", "EUR"),
        period=Period.months(),
        created_at=at,
        actor=Actor.system(),
        auto_renew=auto_renew,
    )
    service.mark_paid(paid_until, Actor.system(), at)
    service.activate(Actor.system(), at)
    return service


def _open(uow: UnitOfWork, account_id: str, balance: str, paid_until: date, at: datetime) -> None:
    uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
    uow.ledgers.get(account_id).top_up(Money(balance, "EUR"), at)
    uow.services.add(_vps(account_id, paid_until, at=at))


AT = datetime(2024, 1, 10, 9, tzinfo=UTC)


def test_an_idle_account_is_not_loaded_on_its_idle_days() -> None:
    store, loads = MemoryStore(), dict[str, int]()
    clock = FixedClock(AT)
    billing = Billing(
        Ports(
            unit_of_work=lambda: CountingUnitOfWork(MemoryUnitOfWork(store), loads),
            clock=clock,
            gateway=SandboxGateway(b"d" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    with MemoryUnitOfWork(store) as uow:
        _open(uow, "acc-1", "100.00", date(2024, 2, 10), AT)
        uow.commit()
    days = [date(2024, 1, 10) + timedelta(days=n) for n in range(40)]
    visited = []
    for day in days:
        clock.set(datetime.combine(day, AT.timetz()))
        before = loads.get("acc-1", 0)
        summary = billing.run.day(day)
        visited.append((day, summary.accounts, loads.get("acc-1", 0) - before))
    # The first day (a new account is due at once) and the renewal day (Feb 10, the end
    # of the period); on the 38 other days, nothing of the account is even loaded.
    assert [(d, n) for d, n, _ in visited if n] == [(date(2024, 1, 10), 1), (date(2024, 2, 10), 1)]
    assert all(loaded == 0 for _, n, loaded in visited if not n)
    with MemoryUnitOfWork(store) as uow:
        assert uow.services.get("ser-acc-1").paid_until == date(2024, 3, 10)
        assert uow.ledgers.get("acc-1").balance("EUR") == Money("70.00", "EUR")
        assert uow.accounts.next_due("acc-1") == date(2024, 3, 10)


def test_an_idle_day_on_sqlite_costs_the_due_query_only(billing_sqlite_store: SqlStore) -> None:
    store = billing_sqlite_store
    clock = FixedClock(AT)
    billing = Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=clock,
            gateway=SandboxGateway(b"d" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )
    with SqlUnitOfWork(store) as uow:
        for n in range(20):
            _open(uow, f"acc-{n:02}", "100.00", date(2024, 2, 10) + timedelta(days=n), AT)
        uow.commit()
    billing.run.day(date(2024, 1, 10))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        idle = billing.run.day(date(2024, 1, 11))
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert (idle.accounts, idle.not_due) == (0, 20)
    # Counting the due and all accounts, and reading the due ones: nothing per account.
    assert len(statements) <= 4, statements


# ----------------------------------------------------------------------------- use cases


def test_switching_auto_renewal_on_makes_the_account_due_the_same_day() -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR", auto_renew=False)
    s.advance(to=date(2024, 1, 20))
    assert s.days[-1].not_due == 1  # only its expiry on Feb 10 is ahead
    s.owner("acc-1").services.set_auto_renewal(s.service_id("vps"))
    s.cycle()
    assert s.days[-1].accounts == 1
    s.advance(to=date(2024, 2, 12))
    s.expect_paid_until("vps", "2024-03-10").expect_balance("acc-1", "40.00 EUR")
    s.expect_status("vps", "active")


def test_an_order_below_the_autopay_threshold_tops_up_in_the_same_days_run() -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR").save_card("acc-1", "card-1", "tok-1")
    s.autopay("acc-1", "card-1", "10.00 EUR", "50.00 EUR", monthly_cap="100.00 EUR")
    s.advance(to=date(2024, 1, 15))
    assert s.days[-1].not_due == 1  # above the threshold, nothing to renew
    s.order("acc-1", "vps", price="95.00 EUR", auto_renew=False)
    s.cycle()
    assert (s.days[-1].accounts, s.days[-1].charges) == (1, 1)
    s.expect_balance("acc-1", "55.00 EUR")


def test_a_top_up_after_its_run_makes_the_account_due_the_next_day() -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR")
    s.advance(to=date(2024, 1, 12))
    assert s.days[-1].not_due == 1  # the renewal is a month away
    s.top_up("acc-1", "30.00 EUR")
    with MemoryUnitOfWork(s.cabinet.store) as uow:
        assert uow.accounts.next_due("acc-1") == DUE_NOW
    s.advance(to=date(2024, 1, 13))
    assert s.days[-1].accounts == 1
    with MemoryUnitOfWork(s.cabinet.store) as uow:
        assert uow.accounts.next_due("acc-1") == s.service("vps").paid_until


# ----------------------------------------------------------------------------- the same results


def _every_account(run: BillingRun, ids: Callable[[], list[str]]) -> Callable[..., CycleSummary]:
    """The run of a day told to visit every account, as the run before the due index did."""
    plain = BillingRun.day

    def day(on: date | None = None, **kwargs: Any) -> CycleSummary:
        return plain(run, on, accounts=ids(), **kwargs)

    return day


@pytest.mark.parametrize(
    ("preset", "seed"), [("introserv", 11), ("horoshop", 12), ("astra_cloud", 13)]
)
def test_months_of_due_runs_bill_what_visiting_every_account_bills(preset: str, seed: int) -> None:
    due = Population(preset, accounts=30, start=date(2024, 1, 5), seed=seed, card_share=0.5)
    every = Population(preset, accounts=30, start=date(2024, 1, 5), seed=seed, card_share=0.5)
    run = every.setup.billing.run
    run.day = _every_account(run, every.setup.store.accounts.ids)  # type: ignore[method-assign]
    assert due.run(months=3) == every.run(months=3)
    mine, theirs = due.setup.store, every.setup.store
    for table in ("services", "invoices", "payments", "ledgers", "expenses"):
        assert getattr(mine, table).rows == getattr(theirs, table).rows, table
    assert mine.keys - theirs.keys == set()
    assert [(n.account_id, n.kind, n.at) for n in due.setup.notifier.sent] == [
        (n.account_id, n.kind, n.at) for n in every.setup.notifier.sent
    ]
    assert due.setup.gateway.charges == every.setup.gateway.charges
    for account_id, profile in mine.profiles.rows.items():
        other = theirs.profiles.rows[account_id]
        assert (profile.credit, profile.subscriptions, profile.attempts) == (
            other.credit,
            other.subscriptions,
            other.attempts,
        )
    # The due runs visited far fewer accounts.
    visits = sum(1 for d in due.setup.store.keys if d.startswith("cycle:"))
    assert visits < sum(1 for d in theirs.keys if d.startswith("cycle:")) / 2


def _sql_population(store: SqlStore, seed: int) -> Callable[[date], None]:
    """Accounts opened with varied periods, balances and switches; then a change per day."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    with SqlUnitOfWork(store) as uow:
        for n in range(16):
            account_id = f"acc-{n:02}"
            uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
            uow.ledgers.get(account_id).top_up(Money(rng.choice(("5", "35", "100")), "EUR"), AT)
            paid_until = date(2024, 1, 11) + timedelta(days=rng.randrange(40))
            uow.services.add(_vps(account_id, paid_until, at=AT, auto_renew=rng.random() < 0.8))
        uow.commit()

    def change(day: date) -> None:
        account_id = f"acc-{rng.randrange(16):02}"
        at = datetime.combine(day, AT.timetz())
        with SqlUnitOfWork(store) as uow:
            uow.ledgers.get(account_id).top_up(Money("30.00", "EUR"), at, ref=f"top-{day}")
            uow.commit()

    return change


def _sql_billing(store: SqlStore, clock: FixedClock) -> Billing:
    return Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=clock,
            gateway=SandboxGateway(b"s" * 32),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def _state(store: SqlStore) -> list[object]:
    with SqlUnitOfWork(store) as uow:
        ids = uow.accounts.ids()
        return [
            (
                uow.ledgers.get(a).balance("EUR"),
                [(s.status, s.paid_until) for s in uow.services.for_account(a)],
                [(i.number, i.amount_due, i.status) for i in uow.invoices.for_account(a)],
            )
            for a in ids
        ]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_months_of_due_runs_on_sql_bill_what_visiting_every_account_bills(
    kind: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    if kind == "sqlite":
        stores = [
            request.getfixturevalue("billing_sqlite_store"),
            SqlStore(_engine(f"sqlite:///{tmp_path / 'every.db'}")),
        ]
        stores[1].create_schema()
    else:
        stores = [request.getfixturevalue("billing_pg_store"), _second_pg(request)]
    clocks = [FixedClock(AT), FixedClock(AT)]
    billings = [_sql_billing(store, clock) for store, clock in zip(stores, clocks, strict=True)]
    changes = [_sql_population(store, seed=5) for store in stores]
    due_events, every_events = [], []
    visited = [0, 0]
    day = AT.date()
    while day < date(2024, 3, 10):
        for n in range(2):
            clocks[n].set(datetime.combine(day, AT.timetz()))
            changes[n](day)
        due = billings[0].run.day(day)
        with SqlUnitOfWork(stores[1]) as uow:
            ids = uow.accounts.ids()
        every = billings[1].run.day(day, accounts=ids)
        assert (due.failures, every.failures) == ((), ())
        due_events.append(due.events)
        every_events.append(every.events)
        visited[0] += due.accounts
        visited[1] += every.accounts
        day += timedelta(days=1)
    assert due_events == every_events
    assert _state(stores[0]) == _state(stores[1])
    assert visited[0] < visited[1] / 3


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine  # noqa: PLC0415

    return create_engine(url)


def _second_pg(request: pytest.FixtureRequest) -> SqlStore:
    """A second PostgreSQL store: the same server, another table prefix."""
    first: SqlStore = request.getfixturevalue("billing_pg_store")
    other = SqlStore(first.engine, prefix="every_")
    other.create_schema()
    request.addfinalizer(other.drop_schema)
    return other
