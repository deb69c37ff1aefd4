"""Daily-billed services: charged every day at accrual precision (SPEC M1, L3, R1)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Money,
    Period,
    PostalAddress,
    Service,
    ServiceStatus,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.billing_profile import DATED_KEYS_KEPT, BillingProfile
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.service import Actor, ServiceOperation
from cabinet_billing.rules.presets import ASTRA_CLOUD


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def cloud(top_up: str | None = "100.00") -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings.from_preset(ASTRA_CLOUD), now=datetime(2023, 5, 1, 1, tzinfo=UTC)
    )
    account = Account.open("acc-1", "alice", email="a@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    if top_up is not None:
        started = owner(s).payments.top_up(rub(top_up), "bank_transfer")
        s.billing.webhooks.handle(
            *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
        )
    vm = Service.order(
        id="cloud-1",
        account_id="acc-1",
        plan_id="vm",
        plan_name="Cloud VM",
        kind="vps",
        price=rub("660.00"),
        period=Period.months(),
        created_at=s.clock.now(),
        actor=Actor.client("u1"),
        billing_mode="daily",
    )
    vm.mark_paid(date(2023, 5, 1), Actor.system(), s.clock.now())
    vm.begin_processing(ServiceOperation.OPENING, Actor.system(), s.clock.now())
    vm.finish_processing(Actor.system(), s.clock.now())
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.add(vm)
        uow.commit()
    return s


def run_day(s: InMemoryBilling, day: date) -> None:
    s.clock.set(datetime(day.year, day.month, day.day, 1, tzinfo=UTC))
    s.billing.run.day()


@pytest.mark.spec("M1", "L3")
def test_a_daily_service_costs_its_months_price_over_the_days_of_the_month() -> None:
    s = cloud()
    for day in range(1, 5):
        run_day(s, date(2023, 5, day))
    # 660.00 over the 31 days of May: 21.2903 a day, kept to four places
    assert owner(s).balance.get("RUB") == rub("14.8388")
    book = s.store.expenses.rows["acc-1"]
    first = book.expenses()[0]
    assert (first.amount, first.tax) == (rub("21.2903"), rub("3.5484"))
    assert book.totals("RUB").unpaid == rub("0")
    assert s.store.services.rows["cloud-1"].paid_until == date(2023, 5, 5)
    run_day(s, date(2023, 5, 4))  # a repeated run charges nothing
    assert owner(s).balance.get("RUB") == rub("14.8388")


@pytest.mark.spec("L3", "C5")
def test_a_daily_service_stops_when_the_balance_cannot_pay_a_day_and_resumes_after_a_top_up() -> (
    None
):
    s = cloud()
    for day in range(1, 6):
        run_day(s, date(2023, 5, day))
    assert s.store.services.rows["cloud-1"].status is ServiceStatus.EXPIRED
    assert owner(s).balance.get("RUB") == rub("14.8388")
    started = owner(s).payments.top_up(rub("50.00"), "bank_transfer")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    run_day(s, date(2023, 5, 6))
    service = s.store.services.rows["cloud-1"]
    assert (service.status, service.paid_until) == (ServiceStatus.ACTIVE, date(2023, 5, 7))
    assert owner(s).balance.get("RUB") == rub("43.5485")
    assert "service.expired" in s.notifier.kinds("acc-1")


@pytest.mark.spec("R1", "L3")
def test_daily_charges_on_credit_are_billed_whole_on_the_statement() -> None:
    s = cloud(top_up=None)
    s.billing.staff.open_credit_line("acc-1", rub("10000.00"))
    for day in range(1, 32):
        run_day(s, date(2023, 5, day))
    # 31 days of 21.2903: the balance is exact, the credit line counts whole kopecks
    assert owner(s).balance.get("RUB") == rub("-659.9993")
    view = owner(s).credit.status()
    assert view.dashboard.spent == rub("659.99")
    run_day(s, date(2023, 6, 1))
    statements = [i for i in s.store.invoices.rows.values() if i.kind is InvoiceKind.STATEMENT]
    assert [i.total.gross for i in statements] == [rub("660.00")]
    view = owner(s).credit.status()
    assert view.dashboard.awaiting == rub("660.00")
    assert (
        view.dashboard.limit
        == view.dashboard.awaiting + view.dashboard.spent + view.dashboard.available
    )


@pytest.mark.spec("R1")
def test_a_daily_service_keeps_a_quarter_of_day_keys_not_every_day_it_was_charged() -> None:
    s = cloud(top_up="5000.00")
    first = date(2023, 5, 1)
    days = 200
    for n in range(days):
        day = first + timedelta(days=n)
        s.clock.set(datetime(day.year, day.month, day.day, 1, tzinfo=UTC))
        s.billing.run.day()
    keys = s.store.profiles.rows["acc-1"].keys
    daily = sorted(k for k in keys if k.startswith("daily:"))
    last = first + timedelta(days=days - 1)
    assert daily[0] == f"daily:cloud-1:{(last - DATED_KEYS_KEPT).isoformat()}"
    assert len(daily) == DATED_KEYS_KEPT.days + 1
    # Every day was charged once all the same.
    assert len(s.store.expenses.rows["acc-1"].expenses()) == days


def test_only_the_keys_of_dated_work_before_the_day_are_forgotten() -> None:
    profile = BillingProfile("acc-1")
    kept = [
        "daily:vm-1:2024-03-01",
        "renewal:vps:1:2024-03-05",  # a service id with a colon in it
        "renewal-invoice:vps-2:2024-04-01",
        "pay-1:due-soon",
        "reminder:inv-1:3",
        "remember-method:pay-9",
        "daily:vm-1:not-a-day",
    ]
    gone = ["daily:vm-1:2024-02-29", "renewal:vps:1:2024-02-05", "renewal-invoice:vps-2:2024-01-01"]
    for key in (*kept, *gone):
        profile.record(key)
    assert profile.forget_dated_keys(date(2024, 3, 1)) == tuple(sorted(gone))
    assert profile.keys == frozenset(kept)
    assert profile.forget_dated_keys(date(2024, 3, 1)) == ()
