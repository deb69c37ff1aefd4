"""A day's run visits only the accounts that are due, and bills exactly what visiting all would.

Each account carries its next event date (the due index of the store); the run reads
the accounts due by the day, and a committed change of an account makes it due at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import attrs
import pytest
from sqlalchemy import event

from cabinet_billing import Account, BillingSettings, Money, Period, Service, ServiceStatus
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import (
    InMemoryBilling,
    MemoryStore,
    MemoryUnitOfWork,
    in_memory_billing,
)
from cabinet_billing.adapters.sandbox import Outcome, SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.run import BillingRun, CycleSummary
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.fx import ExchangeRate
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod, mask_card
from cabinet_billing.domain.service import Actor, ServiceOperation
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.ports.repositories import DUE_NOW, NEVER_DUE, UnitOfWork
from cabinet_billing.rules.credit_limit import DEFAULT_NOTICES, CreditPolicy, NoticeRule
from cabinet_billing.rules.presets import ASTRA_CLOUD, INTROSERV
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


def _vps(
    account_id: str,
    paid_until: date,
    *,
    at: datetime,
    auto_renew: bool = True,
    price: Money | None = None,
    billing_mode: str = "periodic",
    ref: str = "",
) -> Service:
    service = Service.order(
        id=f"ser-{account_id}{ref}",
        account_id=account_id,
        plan_id="vps",
        plan_name="VPS",
        kind="vps",
        price=price or Money("30.00", "EUR"),
        period=Period.months(),
        created_at=at,
        actor=Actor.system(),
        auto_renew=auto_renew,
        billing_mode=billing_mode,
    )
    service.mark_paid(paid_until, Actor.system(), at)
    service.activate(Actor.system(), at)
    return service


def _open(uow: UnitOfWork, account_id: str, balance: str, paid_until: date, at: datetime) -> None:
    uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
    uow.ledgers.get(account_id).top_up(Money(balance, "EUR"), at)
    uow.services.add(_vps(account_id, paid_until, at=at))


AT = datetime(2024, 1, 10, 9, tzinfo=UTC)
RATES = FixedRates(INTROSERV.exchange_rates)


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


# ----------------------------------------------------------------------------- what time brings


def _visits(setup: InMemoryBilling, until: date, top_ups: Mapping[date, Money] = {}) -> list[date]:
    """Run every day from the clock's day to ``until``: the days acc-1 was visited.

    ``top_ups`` credits acc-1's balance before the run of a day (a change, so the account
    is due that day).
    """
    day, visited = setup.clock.today(), []
    while day <= until:
        setup.clock.set(datetime.combine(day, AT.timetz()))
        if day in top_ups:
            with MemoryUnitOfWork(setup.store) as uow:
                uow.ledgers.get("acc-1").top_up(top_ups[day], setup.clock.now(), ref=f"top-{day}")
                uow.commit()
        summary = setup.billing.run.day(day)
        assert summary.failures == ()
        if summary.accounts:
            visited.append(day)
        day += timedelta(days=1)
    return visited


def _one_account(setup: InMemoryBilling, currency: str, *balances: Money) -> None:
    with MemoryUnitOfWork(setup.store) as uow:
        uow.accounts.add(Account.open("acc-1", "acc-1", currency=currency))
        for balance in balances:
            uow.ledgers.get("acc-1").top_up(balance, setup.clock.now())
        uow.commit()


def _add(setup: InMemoryBilling, service: Service) -> None:
    with MemoryUnitOfWork(setup.store) as uow:
        uow.services.add(service)
        uow.commit()


def test_an_expired_service_the_balance_cannot_renew_waits_for_a_top_up() -> None:
    setup = in_memory_billing(BillingSettings.from_preset(INTROSERV), now=AT, rates=RATES)
    _one_account(setup, "EUR", Money("12.00", "EUR"))
    _add(setup, _vps("acc-1", date(2024, 1, 20), at=AT))
    top_up = {date(2024, 3, 4): Money("18.00", "EUR")}
    visited = _visits(setup, date(2024, 3, 31), top_up)
    # Opened; expired on Jan 20 (the renewal that day found 12.00 of 30.00); then not
    # visited for 43 days, until the top-up renews it the same day, from Jan 20 on.
    assert visited == [date(2024, 1, 10), date(2024, 1, 20), date(2024, 3, 4)]
    with MemoryUnitOfWork(setup.store) as uow:
        service = uow.services.get("ser-acc-1")
        assert (service.status, service.paid_until) == (ServiceStatus.EXPIRED, date(2024, 2, 20))
        assert uow.ledgers.get("acc-1").balance("EUR") == Money("0.00", "EUR")


@pytest.mark.parametrize(
    ("notices", "days"),
    [
        # The statement (and its notice), 3 days before due, the day after, 5 days
        # before blocking, the blocking day.
        (DEFAULT_NOTICES, [(2, 1), (2, 12), (2, 16), (2, 25), (3, 1)]),
        # Without notices: the statement and the day the line blocks renewals.
        ((), [(2, 1), (3, 1)]),
    ],
)
def test_a_credit_account_is_visited_on_its_statement_and_notice_days_only(
    notices: tuple[NoticeRule, ...], days: list[tuple[int, int]]
) -> None:
    settings = BillingSettings.from_preset(ASTRA_CLOUD)
    assert settings.credit is not None
    settings = attrs.evolve(settings, credit=attrs.evolve(settings.credit, notices=notices))
    setup = in_memory_billing(settings, now=AT)
    _one_account(setup, "RUB")
    with MemoryUnitOfWork(setup.store) as uow:
        line = CreditLine("acc-1", Money("10000.00", "RUB"))
        line.record_usage(Money("800.00", "RUB"), date(2024, 1, 9))
        uow.profiles.get("acc-1").credit = line
        uow.commit()
    _add(setup, _vps("acc-1", date(2024, 5, 20), at=AT, price=Money("490.00", "RUB")))
    visited = _visits(setup, date(2024, 4, 30))
    assert visited == [date(2024, 1, 10), *(date(2024, m, d) for m, d in days)]
    assert [n.kind for n in setup.notifier.sent if n.kind.startswith("credit.")] == [
        f"credit.{rule.kind}" for rule in notices
    ]
    billed = setup.store.profiles.rows["acc-1"].credit
    assert billed is not None
    assert [(s.issued_on, s.due_on) for s in billed.statements] == [
        (date(2024, 2, 1), date(2024, 2, 15))
    ]


def test_a_renewal_the_other_currencies_cover_at_a_later_rate_renews_on_that_day() -> None:
    rates = FixedRates(
        [
            ExchangeRate("EUR", "USD", "1.10", date(2024, 1, 1)),
            ExchangeRate("EUR", "USD", "0.95", date(2024, 2, 5)),
        ]
    )
    setup = in_memory_billing(BillingSettings.from_preset(INTROSERV), now=AT, rates=rates)
    _one_account(setup, "EUR", Money("30.00", "USD"))
    _add(setup, _vps("acc-1", date(2024, 1, 20), at=AT))
    visited = _visits(setup, date(2024, 2, 19))
    # 30.00 USD is 27.27 EUR until Feb 5, then 31.57 EUR: the rates alone renew it, so
    # the account is looked at every day while it holds the other currency.
    assert visited == [date(2024, 1, 10), *(date(2024, 1, 20) + timedelta(n) for n in range(17))]
    with MemoryUnitOfWork(setup.store) as uow:
        service = uow.services.get("ser-acc-1")
        assert (service.status, service.paid_until) == (ServiceStatus.ACTIVE, date(2024, 2, 20))
        assert uow.ledgers.get("acc-1").balance("USD") == Money("1.50", "USD")
    renewed = [e for e in setup.notifier.sent if e.kind == "service.renewed"]
    assert [n.at.date() for n in renewed] == [date(2024, 2, 5)]


def test_a_daily_service_stopped_in_a_short_month_comes_back_on_the_first_of_a_long_one() -> None:
    at = datetime(2024, 6, 1, 9, tzinfo=UTC)
    setup = in_memory_billing(BillingSettings.from_preset(ASTRA_CLOUD), now=at)
    # 620.00 a month: 20.6667 a day in June, 20.0000 in July.
    _one_account(setup, "RUB", Money("82.30", "RUB"))
    service = _vps(
        "acc-1", date(2024, 6, 1), at=at, price=Money("620.00", "RUB"), billing_mode="daily"
    )
    _add(setup, service)
    visited = _visits(setup, date(2024, 9, 30))
    # Three days paid, 20.2999 left: stopped on Jun 4, back on Jul 1 for one day; the
    # 0.2999 left covers no later month.
    assert visited == [date(2024, 6, d) for d in (1, 2, 3, 4)] + [
        date(2024, 7, 1),
        date(2024, 7, 2),
    ]
    with MemoryUnitOfWork(setup.store) as uow:
        assert uow.ledgers.get("acc-1").balance("RUB") == Money("0.2999", "RUB")
        assert uow.accounts.next_due("acc-1") == NEVER_DUE


def test_a_declining_card_is_tried_on_its_retry_days_only() -> None:
    settings = BillingSettings.from_preset(INTROSERV)
    settings = attrs.evolve(settings, renewal=attrs.evolve(settings.renewal, retry_days=(3, 7)))
    setup = in_memory_billing(settings, now=AT, rates=RATES)
    _one_account(setup, "EUR")
    service = _vps("acc-1", date(2024, 1, 20), at=AT)
    _add(setup, service)
    card = SavedPaymentMethod(
        "card-1", "acc-1", MethodKind.CARD, "tok-1", "Card", mask_card("4242")
    )
    card.mark_working(AT)
    with MemoryUnitOfWork(setup.store) as uow:
        profile = uow.profiles.get("acc-1")
        profile.add_method(card)
        profile.subscribe(Subscription.for_service(service, "saved_method", method_id=card.id))
        uow.commit()
    setup.gateway.script("tok-1", *[Outcome.DECLINE] * 10)
    visited = _visits(setup, date(2024, 3, 31))
    # The renewal day (the charge fails, the service expires), the retries 3 and 7 days
    # after each failure (a check of the card, which fails), each check's record
    # forgotten the day after; then the schedule is used up.
    assert visited == [date(2024, 1, d) for d in (10, 20, 23, 24, 30, 31)]
    one = Money("1.00", "EUR")
    assert [(c.operation, c.amount) for c in setup.gateway.charges] == [
        ("charge", Money("30.00", "EUR")),
        ("verify", one),
        ("verify", one),
    ]


# ----------------------------------------------------------------------------- the same results


def _every_account(run: BillingRun, ids: Callable[[], list[str]]) -> Callable[..., CycleSummary]:
    """The run of a day told to visit every account, as the run before the due index did."""
    plain = BillingRun.day

    def day(on: date | None = None, **kwargs: Any) -> CycleSummary:
        return plain(run, on, accounts=ids(), **kwargs)

    return day


@attrs.define
class _Cases:
    """Writes accounts and services into a population's store, in its currency."""

    population: Population
    uow: MemoryUnitOfWork

    @property
    def code(self) -> str:
        return self.population.preset.currency

    @property
    def at(self) -> datetime:
        return datetime.combine(self.population.start, AT.timetz())

    def price(self, amount: str, currency: str | None = None) -> Money:
        code = currency or self.code
        return Money(amount, code) * (40 if code in {"RUB", "UAH"} else 1)

    def account(self, name: str, balance: str = "0", currency: str | None = None) -> str:
        account_id = f"hard-{name}"
        self.uow.accounts.add(Account.open(account_id, account_id, currency=self.code))
        if balance != "0":
            self.uow.ledgers.get(account_id).top_up(self.price(balance, currency), self.at)
        return account_id

    def service(self, account_id: str, days: int, amount: str = "30.00", **kw: Any) -> Service:
        paid_until = self.population.start + timedelta(days=days)
        made = _vps(account_id, paid_until, at=self.at, price=self.price(amount), **kw)
        self.uow.services.add(made)
        return made

    def card(self, n: int, script: tuple[Outcome, ...], *, subscriptions: bool) -> None:
        account_id = self.account(f"card-{n}")
        token = f"tok-hard-{n}"
        self.population.setup.gateway.script(token, *script)
        card = SavedPaymentMethod(
            f"card-hard-{n}",
            account_id,
            MethodKind.CARD,
            token,
            "Card",
            mask_card("4242"),
            for_subscriptions=subscriptions,
        )
        card.mark_working(self.at)
        profile = self.uow.profiles.get(account_id)
        profile.add_method(card)
        service = self.service(account_id, 3 + 4 * n)
        profile.subscribe(Subscription.for_service(service, "saved_method", method_id=card.id))

    def leaving(self, name: str, *, confirmed: bool, busy: bool = False) -> None:
        account = Account.open(f"hard-{name}", f"hard-{name}", currency=self.code)
        account.request_deletion(by="owner", at=self.at)
        if confirmed:
            account.confirm_deletion(by="staff", at=self.at)
        self.uow.accounts.add(account)
        service = self.service(account.id, 5, "30.00")
        if busy:
            service.begin_processing(ServiceOperation.REBOOTING, Actor.client(account.id), self.at)

    def credit(self, name: str, limit: str, usage: str, balance: str = "0") -> str:
        account_id = self.account(name, balance)
        line = CreditLine(account_id, self.price(limit))
        if usage != "0":
            line.record_usage(self.price(usage), self.population.start - timedelta(days=10))
        self.uow.profiles.get(account_id).credit = line
        return account_id


def _hard_cases(population: Population) -> None:
    """Accounts the days bring little to, added to a population: each a case of its own.

    Auto-renewing services that expire because the balance cannot pay them (nothing at
    all, or too little), renewals from saved cards that decline for good, decline once,
    or may not pay subscriptions, a daily-billed service the balance stops paying,
    balances in a second currency (which pay across currencies where the preset says
    so), accounts being deleted (a request pending, one confirmed, one whose service
    is still rebooting), and, with credit, credit lines with old usage and renewals on credit that are
    never paid, so their statements go overdue and blocked.
    """
    other = "USD" if population.preset.currency != "USD" else "EUR"
    with MemoryUnitOfWork(population.setup.store) as uow:
        cases = _Cases(population, uow)
        for n, (balance, days) in enumerate((("0", 2), ("7.00", 9), ("0", 24), ("29.99", 40))):
            cases.service(cases.account(f"broke-{n}", balance), days)
        cases.card(0, (Outcome.DECLINE,) * 40, subscriptions=True)
        cases.card(1, (Outcome.DECLINE,), subscriptions=True)
        cases.card(2, (), subscriptions=False)
        cases.service(cases.account("daily", "25.00"), 0, "31.00", billing_mode="daily")
        cases.leaving("leaving", confirmed=False)
        cases.leaving("gone", confirmed=True)
        cases.leaving("gone-busy", confirmed=True, busy=True)
        for n, (held, days) in enumerate((("5.00", 4), ("70.00", 6), ("0.50", 30))):
            account_id = cases.account(f"two-{n}", held, other)
            uow.ledgers.get(account_id).top_up(cases.price("1.00"), cases.at)
            cases.service(account_id, days, "9.90")
        if population.preset.credit is not None:
            for n, (usage, days) in enumerate((("100.00", 3), ("0", 12), ("300.00", 50))):
                cases.service(cases.credit(f"credit-{n}", "1000.00", usage), days)
            account_id = cases.credit("credit-daily", "20.00", "0", balance="3.00")
            cases.service(account_id, 0, "31.00", billing_mode="daily")
        uow.commit()


@pytest.mark.parametrize(
    ("preset", "seed"), [("introserv", 11), ("horoshop", 12), ("astra_cloud", 13)]
)
def test_months_of_due_runs_bill_what_visiting_every_account_bills(preset: str, seed: int) -> None:
    due = Population(preset, accounts=30, start=date(2024, 1, 5), seed=seed, card_share=0.5)
    every = Population(preset, accounts=30, start=date(2024, 1, 5), seed=seed, card_share=0.5)
    _hard_cases(due)
    _hard_cases(every)
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


#: The dollar's rate moves, so balances in dollars cover a renewal in euros on some days
#: and not on others.
_MOVING_RATES = FixedRates(
    [
        *INTROSERV.exchange_rates,
        ExchangeRate("EUR", "USD", "0.90", date(2024, 1, 25)),
        ExchangeRate("EUR", "USD", "1.25", date(2024, 2, 3)),
        ExchangeRate("EUR", "USD", "0.85", date(2024, 2, 21)),
    ]
)


def _sql_hard_cases(uow: UnitOfWork, gateway: SandboxGateway) -> None:
    """Accounts time alone does little for (see :func:`_hard_cases`), in euros.

    Balances in dollars that cover a renewal at some of the days' rates, cards that
    decline, decline once or may not pay subscriptions, credit lines with usage and
    renewals on credit that are never paid, a daily-billed service the balance stops.
    """
    for n, (dollars, days) in enumerate((("20.00", 3), ("28.00", 8), ("33.00", 20), ("3", 1))):
        account_id = f"two-{n}"
        uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
        uow.ledgers.get(account_id).top_up(Money(dollars, "USD"), AT)
        uow.ledgers.get(account_id).top_up(Money("2.00", "EUR"), AT)
        uow.services.add(_vps(account_id, AT.date() + timedelta(days=days), at=AT))
    for n, (script, subscriptions) in enumerate(
        (((Outcome.DECLINE,) * 20, True), ((Outcome.DECLINE,), True), ((), False))
    ):
        account_id = f"card-{n}"
        uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
        gateway.script(f"tok-{n}", *script)
        card = SavedPaymentMethod(
            f"card-{n}",
            account_id,
            MethodKind.CARD,
            f"tok-{n}",
            "Card",
            mask_card("4242"),
            for_subscriptions=subscriptions,
        )
        card.mark_working(AT)
        service = _vps(account_id, AT.date() + timedelta(days=2 + 5 * n), at=AT)
        uow.services.add(service)
        profile = uow.profiles.get(account_id)
        profile.add_method(card)
        profile.subscribe(Subscription.for_service(service, "saved_method", method_id=card.id))
    for n, (usage, days) in enumerate((("100.00", 3), ("0", 12), ("45.00", 30))):
        account_id = f"credit-{n}"
        uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
        line = CreditLine(account_id, Money("200.00", "EUR"))
        if usage != "0":
            line.record_usage(Money(usage, "EUR"), date(2023, 12, 28))
        uow.profiles.get(account_id).credit = line
        uow.services.add(_vps(account_id, AT.date() + timedelta(days=days), at=AT))
    uow.accounts.add(Account.open("daily-0", "daily-0", currency="EUR"))
    uow.ledgers.get("daily-0").top_up(Money("25.50", "EUR"), AT)
    daily = _vps("daily-0", AT.date(), at=AT, price=Money("31.00", "EUR"), billing_mode="daily")
    uow.services.add(daily)


def _sql_population(store: SqlStore, seed: int, gateway: SandboxGateway) -> Callable[[date], None]:
    """Accounts opened with varied periods, balances and switches; then a change per day."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    with SqlUnitOfWork(store) as uow:
        for n in range(16):
            account_id = f"acc-{n:02}"
            uow.accounts.add(Account.open(account_id, account_id, currency="EUR"))
            uow.ledgers.get(account_id).top_up(Money(rng.choice(("5", "35", "100")), "EUR"), AT)
            paid_until = date(2024, 1, 11) + timedelta(days=rng.randrange(40))
            uow.services.add(_vps(account_id, paid_until, at=AT, auto_renew=rng.random() < 0.8))
        _sql_hard_cases(uow, gateway)
        uow.commit()

    def change(day: date) -> None:
        account_id = f"acc-{rng.randrange(16):02}"
        at = datetime.combine(day, AT.timetz())
        with SqlUnitOfWork(store) as uow:
            uow.ledgers.get(account_id).top_up(Money("30.00", "EUR"), at, ref=f"top-{day}")
            uow.commit()

    return change


def _sql_billing(store: SqlStore, clock: FixedClock, gateway: SandboxGateway) -> Billing:
    settings = BillingSettings.from_preset(INTROSERV)
    return Billing(
        Ports(
            unit_of_work=lambda: SqlUnitOfWork(store),
            clock=clock,
            gateway=gateway,
            rates=_MOVING_RATES,
        ),
        # With credit, for the credit lines of the population.
        attrs.evolve(settings, credit=CreditPolicy()),
    )


def _state(store: SqlStore) -> list[object]:
    with SqlUnitOfWork(store) as uow:
        ids = uow.accounts.ids()
        return [
            (
                uow.ledgers.get(a).balance("EUR"),
                uow.ledgers.get(a).balance("USD"),
                [(s.status, s.paid_until) for s in uow.services.for_account(a)],
                [(i.number, i.amount_due, i.status) for i in uow.invoices.for_account(a)],
                uow.profiles.get(a).subscriptions,
                uow.profiles.get(a).attempts,
                uow.profiles.get(a).credit,
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
    gateways = [SandboxGateway(b"s" * 32), SandboxGateway(b"s" * 32)]
    billings = [
        _sql_billing(store, clock, gateway)
        for store, clock, gateway in zip(stores, clocks, gateways, strict=True)
    ]
    changes = [
        _sql_population(store, 5, gateway) for store, gateway in zip(stores, gateways, strict=True)
    ]
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
