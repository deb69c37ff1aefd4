"""Renewals through the cabinet and the billing run: dates, prices and the account's switch."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    InvalidTransitionError,
    Money,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.errors import PriceNotFoundError, ValidationError
from cabinet_billing.rules.presets import ASTRA_CLOUD, INTROSERV, CabinetPreset

#: Astra Cloud's renewal form: one plan, three periods (SPEC C1, X1).
AC_PRICES = {
    "day": Money("20.00", "RUB"),
    "month": Money("100.00", "RUB"),
    "year": Money("1200.00", "RUB"),
}


def wired(preset: CabinetPreset, start: date, currency: str) -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings.from_preset(preset),
        now=datetime.combine(start, time(9), tzinfo=UTC),
        rates=FixedRates(preset.exchange_rates) if preset.exchange_rates else None,
    )
    account = Account.open("acc-1", "jill", email="j@example.com", currency=currency)
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u1")


def top_up(s: InMemoryBilling, amount: Money, method: str = "card") -> None:
    started = owner(s).payments.top_up(amount, method)
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )


def order(s: InMemoryBilling, plan: Plan, period: str) -> str:
    cart = Cart("acc-1", s.store.accounts.rows["acc-1"].profile.currency)
    cart.add(plan, period)
    placed = owner(s).orders.place(
        cart.checkout(
            BALANCE_METHOD,
            s.clock.today(),
            order_id=f"o-{len(s.store.services.rows) + 1}",
            tax=s.billing.settings.tax,
            country="",
        )
    )
    service_id = placed.service_ids[0]
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    return service_id


def service(s: InMemoryBilling, service_id: str) -> Service:
    return s.store.services.rows[service_id]


def run_until(s: InMemoryBilling, last: date) -> list[date]:
    """Run the billing every day up to ``last``; the paid-until dates seen, in order."""
    seen: list[date] = []
    day = s.clock.today()
    sid = next(iter(s.store.services.rows))
    while day < last:
        day += timedelta(days=1)
        s.clock.set(datetime.combine(day, time(3), tzinfo=UTC))
        s.billing.run.day(day)
        until = service(s, sid).paid_until
        if until is not None and (not seen or seen[-1] != until):
            seen.append(until)
    return seen


# ----------------------------------------------------------------------------- month ends


@pytest.mark.spec("C2", "R4")
def test_month_end_anchor_holds_through_the_billing_run() -> None:
    s = wired(INTROSERV, date(2024, 1, 31), "EUR")
    top_up(s, Money("500.00", "EUR"))
    sid = order(s, Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
    owner(s).services.set_auto_renewal(sid)
    assert service(s, sid).paid_until == date(2024, 2, 29)
    assert run_until(s, date(2024, 5, 1)) == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert owner(s).balance.get("EUR") == Money("380.00", "EUR")


@pytest.mark.spec("C2", "L4")
def test_month_end_anchor_holds_through_renewal_invoices_by_hand() -> None:
    s = wired(INTROSERV, date(2024, 1, 31), "EUR")
    top_up(s, Money("500.00", "EUR"))
    sid = order(s, Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
    seen = []
    for _ in range(3):
        invoice = owner(s).services.renew(sid)
        owner(s).invoices.pay(invoice.id)
        seen.append(service(s, sid).paid_until)
    assert seen == [date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]
    assert owner(s).services.renew(sid, periods=2).lines[0].paid_until == date(2024, 7, 31)


@pytest.mark.spec("C2", "R4")
def test_month_end_anchor_of_a_yearly_service_from_29_february_through_the_run() -> None:
    s = wired(INTROSERV, date(2024, 2, 29), "EUR")
    top_up(s, Money("500.00", "EUR"))
    sid = order(s, Plan("vps", "VPS", ProductKind.VPS, {"year": Money("30.00", "EUR")}), "year")
    owner(s).services.set_auto_renewal(sid)
    assert run_until(s, date(2028, 3, 1)) == [
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
        date(2029, 2, 28),
    ]


@pytest.mark.spec("C2", "R4")
def test_month_end_anchor_of_a_quarterly_service_from_30_november_through_the_run() -> None:
    s = wired(INTROSERV, date(2023, 11, 30), "EUR")
    top_up(s, Money("500.00", "EUR"))
    plan = Plan("vps", "VPS", ProductKind.VPS, {"quarter": Money("30.00", "EUR")})
    sid = order(s, plan, "quarter")
    owner(s).services.set_auto_renewal(sid)
    assert run_until(s, date(2024, 12, 1)) == [
        date(2024, 2, 29),
        date(2024, 5, 30),
        date(2024, 8, 30),
        date(2024, 11, 30),
        date(2025, 2, 28),
    ]


# ----------------------------------------------------------------------------- prices


def ac_service(s: InMemoryBilling) -> str:
    top_up(s, Money("3000.00", "RUB"), "bank_transfer")
    return order(s, Plan("test", "Test", ProductKind.VPS, AC_PRICES), "month")


@pytest.mark.spec("C1", "R4")
def test_renewal_period_changed_to_a_year_is_sold_at_the_yearly_price() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    sid = ac_service(s)
    assert owner(s).balance.get("RUB") == Money("2900.00", "RUB")
    sub = owner(s).services.set_auto_renewal(sid, period="year")
    assert (str(sub.period), sub.price) == ("1 year", Money("1200.00", "RUB"))
    summary = s.billing.run.day(date(2024, 3, 31))
    assert summary.renewals == 1
    assert service(s, sid).paid_until == date(2025, 4, 1)
    assert owner(s).balance.get("RUB") == Money("1700.00", "RUB")
    [invoice] = [i for i in s.store.invoices.rows.values() if i.kind.value == "renewal"]
    assert (invoice.total.gross, invoice.lines[0].paid_until) == (
        Money("1200.00", "RUB"),
        date(2025, 4, 1),
    )


@pytest.mark.spec("C1", "R4")
def test_renewal_period_changed_to_a_day_is_sold_at_the_daily_price() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    sid = ac_service(s)
    owner(s).services.set_auto_renewal(sid, period="day")
    for day in (date(2024, 3, 31), date(2024, 4, 1), date(2024, 4, 2)):
        s.billing.run.day(day)
    assert service(s, sid).paid_until == date(2024, 4, 4)
    assert owner(s).balance.get("RUB") == Money("2840.00", "RUB")
    owner(s).services.set_auto_renewal(sid, period="month")
    assert s.store.profiles.rows["acc-1"].subscription(sid).price == Money("100.00", "RUB")  # type: ignore[union-attr]


@pytest.mark.spec("C1", "R4")
def test_renewal_period_the_plan_has_no_price_for_is_refused_and_changes_nothing() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    sid = ac_service(s)
    owner(s).services.set_auto_renewal(sid)
    before = s.store.profiles.rows["acc-1"].subscription(sid)
    with pytest.raises(PriceNotFoundError) as error:
        owner(s).services.set_auto_renewal(sid, period="quarter")
    assert str(error.value) == (
        "no price for plan 'test' for 3 months in RUB; available: 1 day RUB, 1 month RUB, "
        "1 year RUB"
    )
    assert s.store.profiles.rows["acc-1"].subscription(sid) == before
    # A service sold for one period only is renewed for that period only.
    other = order(s, Plan("one", "One", ProductKind.VPS, {"month": Money("10.00", "RUB")}), "month")
    with pytest.raises(PriceNotFoundError, match="available: 1 month RUB"):
        owner(s).services.set_auto_renewal(other, period="year")


@pytest.mark.spec("R4")
def test_renewal_period_of_a_service_that_is_not_active_is_refused() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    sid = ac_service(s)
    owner(s).services.set_auto_renewal(sid)
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(sid).stop(Actor.client("u1"), s.clock.now())
        uow.commit()
    with pytest.raises(InvalidTransitionError, match="only while the service is active"):
        owner(s).services.set_auto_renewal(sid, period="year")
    assert s.store.profiles.rows["acc-1"].subscription(sid).price == Money("100.00", "RUB")  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- account switch


def introserv_with_two_services() -> tuple[InMemoryBilling, str, str]:
    s = wired(INTROSERV, date(2024, 3, 1), "EUR")
    top_up(s, Money("200.00", "EUR"))
    vps = order(s, Plan("vps", "VPS", ProductKind.VPS, {"month": Money("30.00", "EUR")}), "month")
    web = order(
        s, Plan("web", "Web", ProductKind.HOSTING, {"month": Money("10.00", "EUR")}), "month"
    )
    return s, vps, web


@pytest.mark.spec("R4")
def test_account_wide_auto_renewal_off_stops_renewals_of_existing_services() -> None:
    s, vps, web = introserv_with_two_services()
    assert owner(s).services.set_auto_renewal_default(True) == (vps, web)
    owner(s).payments.bind_card(SavedPaymentMethod("m1", "acc-1", "card", "tok", "Visa", "4242"))
    owner(s).services.set_auto_renewal(web, method_id="m1")
    s.billing.run.day(date(2024, 4, 1))
    assert [service(s, x).paid_until for x in (vps, web)] == [date(2024, 5, 1)] * 2
    assert owner(s).services.set_auto_renewal_default(False) == (vps, web)
    assert not s.store.accounts.rows["acc-1"].settings.auto_renew_default
    charges = len(s.gateway.charges)
    for day in (date(2024, 5, 1), date(2024, 5, 2)):
        summary = s.billing.run.day(day)
        assert summary.renewals == 0
    assert [service(s, x).status.value for x in (vps, web)] == ["expired", "expired"]
    assert len(s.gateway.charges) == charges
    assert owner(s).balance.get("EUR") == Money("130.00", "EUR")
    # New services are ordered without it too.
    new = order(
        s, Plan("mail", "Mail", ProductKind.OTHER, {"month": Money("5.00", "EUR")}), "month"
    )
    assert not service(s, new).auto_renew


@pytest.mark.spec("R4")
def test_account_wide_auto_renewal_on_renews_every_service_from_the_balance() -> None:
    s, vps, web = introserv_with_two_services()
    owner(s).services.set_auto_renewal(vps)
    owner(s).services.switch_auto_renewal_off(vps)
    assert owner(s).services.set_auto_renewal_default(True) == (vps, web)
    assert owner(s).services.set_auto_renewal_default(True) == ()
    assert s.billing.run.day(date(2024, 4, 1)).renewals == 2
    assert owner(s).balance.get("EUR") == Money("120.00", "EUR")
    new = order(
        s, Plan("mail", "Mail", ProductKind.OTHER, {"month": Money("5.00", "EUR")}), "month"
    )
    assert service(s, new).auto_renew


@pytest.mark.spec("R4")
def test_account_wide_auto_renewal_refuses_a_value_that_is_not_a_switch() -> None:
    s, _, _ = introserv_with_two_services()
    with pytest.raises(ValidationError, match=r"enabled='no' is invalid: must be True or False"):
        owner(s).services.set_auto_renewal_default("no")  # type: ignore[arg-type]
