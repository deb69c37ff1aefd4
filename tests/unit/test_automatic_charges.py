"""Automatic charges of the billing run: the retry schedule, the method's range and fee,
card autopay on invoice day and its stop, through the cabinet and ``billing.run.day``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import pytest

from cabinet_billing import (
    Account,
    AutopayPolicy,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.adapters.sandbox import Outcome
from cabinet_billing.domain.autopay import AutopayMode
from cabinet_billing.domain.payment import PaymentEventKind, PaymentStatus
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.presets import ASTRA_CLOUD, HOROSHOP, CabinetPreset
from cabinet_billing.rules.renewal import RenewalPolicy


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


def wired(
    preset: CabinetPreset,
    start: date,
    currency: str,
    **changes: Any,
) -> InMemoryBilling:
    settings = attrs.evolve(BillingSettings.from_preset(preset), **changes)
    s = in_memory_billing(settings, now=datetime.combine(start, time(9), tzinfo=UTC))
    account = Account.open("acc-1", "jill", email="j@example.com", currency=currency)
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u1")


def top_up(s: InMemoryBilling, amount: Money) -> None:
    started = owner(s).payments.top_up(amount, "bank_transfer")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )


def order(s: InMemoryBilling, price: Money, plan_id: str = "vps", method: str = "balance") -> str:
    cart = Cart("acc-1", price.code)
    cart.add(Plan(plan_id, plan_id.upper(), ProductKind.VPS, {"month": price}), "month")
    placed = owner(s).orders.place(
        cart.checkout(
            method,
            s.clock.today(),
            order_id=f"o-{plan_id}-{s.clock.now().isoformat()}",
            tax=s.billing.settings.tax,
            country="",
        )
    )
    service_id = placed.service_ids[0]
    if s.store.services.rows[service_id].paid:
        with MemoryUnitOfWork(s.store) as uow:
            uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
            uow.commit()
    return service_id


def bind(s: InMemoryBilling, token: str = "tok-1") -> None:  # noqa: S107 - a sandbox token
    card = SavedPaymentMethod("card-1", "acc-1", "card", token, "Visa", "•••• 4242")
    owner(s).payments.bind_card(card)


def run_days(s: InMemoryBilling, last: date) -> dict[date, list[str]]:
    """Run every day up to ``last``; the provider's operations of each day that had any."""
    calls: dict[date, list[str]] = {}
    day = s.clock.today()
    while day < last:
        day += timedelta(days=1)
        s.clock.set(datetime.combine(day, time(3), tzinfo=UTC))
        seen = len(s.gateway.charges)
        s.billing.run.day(day)
        if len(s.gateway.charges) > seen:
            calls[day] = [c.operation for c in s.gateway.charges[seen:]]
    return calls


# ----------------------------------------------------------------------------- retry schedule


def declining_card(**renewal: Any) -> tuple[InMemoryBilling, str]:
    """An Astra Cloud VPS (100.00 RUB, paid until 1 April) renewing from a card that always
    declines from its first renewal on."""
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB", renewal=RenewalPolicy(**renewal))
    top_up(s, rub("100.00"))
    service_id = order(s, rub("100.00"))
    bind(s)
    owner(s).services.set_auto_renewal(service_id, method_id="card-1")
    s.gateway.default = Outcome.DECLINE
    return s, service_id


@pytest.mark.spec("R4")
def test_never_ending_card_probes_stop_when_the_retry_schedule_is_used_up() -> None:
    s, service_id = declining_card()
    calls = run_days(s, date(2024, 7, 1))
    # One charge on the renewal day, one check the next day (retry_days=(1,)), then nothing
    # for three months: 2 calls instead of one probe every day.
    assert calls == {date(2024, 3, 31): ["charge"], date(2024, 4, 1): ["verify"]}
    assert s.store.services.rows[service_id].status.value == "expired"
    sub = s.store.profiles.rows["acc-1"].subscription(service_id)
    assert sub is not None
    assert (sub.failed_attempts, sub.last_failure_on) == (2, date(2024, 4, 1))


@pytest.mark.spec("R4")
def test_never_ending_card_probes_with_equal_intervals_follow_the_schedule_days() -> None:
    s, _ = declining_card(retry_days=(8, 8, 8))
    calls = run_days(s, date(2024, 7, 1))
    assert calls == {
        date(2024, 3, 31): ["charge"],
        date(2024, 4, 8): ["verify"],
        date(2024, 4, 16): ["verify"],
        date(2024, 4, 24): ["verify"],
    }


@pytest.mark.spec("R4")
def test_never_ending_card_probes_do_not_restart_with_an_expired_service() -> None:
    s, _ = declining_card(restart_after_expiry=True)
    calls = run_days(s, date(2024, 7, 1))
    assert calls == {date(2024, 3, 31): ["charge"], date(2024, 4, 1): ["verify"]}


@pytest.mark.spec("R4")
def test_never_ending_card_probes_a_new_method_starts_a_new_schedule() -> None:
    s, service_id = declining_card()
    run_days(s, date(2024, 4, 10))
    s.gateway.default = Outcome.SUCCEED
    card = SavedPaymentMethod("card-2", "acc-1", "card", "tok-2", "Mir", "•••• 2222")
    owner(s).payments.bind_card(card)  # pays the open renewal invoice
    owner(s).services.set_auto_renewal(service_id, method_id="card-2")
    assert s.store.services.rows[service_id].paid_until == date(2024, 5, 1)
    calls = run_days(s, date(2024, 5, 1))
    assert calls == {date(2024, 4, 30): ["charge"]}
    assert s.store.services.rows[service_id].paid_until == date(2024, 6, 1)


# ----------------------------------------------------------------------------- range and fee


def card_autopay(**policy: Any) -> InMemoryBilling:
    """Astra Cloud: the card takes 10.00 to 3000.00 RUB with a 5% + 10.00 fee, 10% back."""
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    bind(s)
    owner(s).balance.set_autopay(
        "card-1",
        AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("5000.00"), **policy),
    )
    return s


@pytest.mark.spec("R6", "M5")
def test_autopayment_ignores_the_methods_range_and_fee_no_more() -> None:
    s = card_autopay(monthly_cap=rub("10000.00"))
    summary = s.billing.run.day(date(2024, 3, 1))
    assert summary.charges == 1
    # 5000.00 wanted, the method takes at most 3000.00, plus its fee of 5% + 10.00.
    assert [(c.operation, c.amount) for c in s.gateway.charges[-1:]] == [("charge", rub("3160.00"))]
    [payment] = [p for p in s.store.payments.rows.values() if p.purpose.value == "top_up"]
    assert (payment.amount, payment.quote.fee, payment.quote.total) == (
        rub("3000.00"),
        rub("160.00"),
        rub("3160.00"),
    )
    # 3000.00 credited and 316.00 cashback (10% of 3160.00).
    assert owner(s).balance.get("RUB") == rub("3316.00")


@pytest.mark.spec("R6", "M5")
def test_autopayment_counts_the_fee_towards_the_monthly_cap() -> None:
    s = card_autopay(monthly_cap=rub("4000.00"))
    s.billing.run.day(date(2024, 3, 1))
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(rub("3316.00"), s.clock.now())
        uow.commit()
    s.billing.run.day(date(2024, 3, 2))
    # 840.00 of the cap is left: the largest payment whose total fits.
    assert s.gateway.charges[-1].amount == rub("840.00")
    totals = [c.amount for c in s.gateway.charges if c.operation == "charge"][1:]
    assert sum(totals, rub("0")) == rub("4000.00")
    s.billing.run.day(date(2024, 3, 3))
    assert len(s.gateway.charges) == 3 + 1  # binding: charge and refund; no third top-up


@pytest.mark.spec("R6", "M5")
def test_autopayment_without_a_cap_on_a_method_with_a_range_is_refused() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    bind(s)
    with pytest.raises(ValidationError) as error:
        owner(s).balance.set_autopay(
            "card-1", AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("5000.00"))
        )
    assert str(error.value) == (
        "monthly_cap=None is invalid: method 'card-1' takes payments from 10.00 RUB to "
        "3000.00 RUB: a payment method with limits needs a monthly cap"
    )
    assert s.store.profiles.rows["acc-1"].autopay is None


@pytest.mark.spec("R4", "M5")
def test_a_renewal_outside_the_methods_range_is_refused_without_charging_the_card() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    top_up(s, rub("3500.00"))
    service_id = order(s, rub("3500.00"))
    bind(s)
    owner(s).services.set_auto_renewal(service_id, method_id="card-1")
    calls = run_days(s, date(2024, 4, 5))
    assert calls == {}
    method = s.store.profiles.rows["acc-1"].method("card-1")
    assert method.working
    # Refused on the renewal day and on the retry day of the schedule, then no more.
    assert s.notifier.kinds("acc-1")[-4:] == [
        "invoice.issued",
        "renewal.failed",
        "service.expired",
        "renewal.failed",
    ]
    reasons = {n.params["reason"] for n in s.notifier.sent if n.kind == "renewal.failed"}
    assert reasons == {"amount 3500.00 RUB is out of range: allowed from 10.00 RUB to 3000.00 RUB"}


@pytest.mark.spec("R4", "M5", "M6")
def test_a_renewal_from_a_saved_card_pays_the_methods_fee_and_gets_its_cashback() -> None:
    s = wired(ASTRA_CLOUD, date(2024, 3, 1), "RUB")
    top_up(s, rub("100.00"))
    service_id = order(s, rub("100.00"))
    bind(s)
    owner(s).services.set_auto_renewal(service_id, method_id="card-1")
    assert run_days(s, date(2024, 3, 31)) == {date(2024, 3, 31): ["charge"]}
    assert s.gateway.charges[-1].amount == rub("115.00")
    assert s.store.services.rows[service_id].paid_until == date(2024, 5, 1)
    assert owner(s).balance.get("RUB") == rub("11.50")


# ----------------------------------------------------------------------------- card autopay


def shop(**changes: Any) -> InMemoryBilling:
    s = wired(HOROSHOP, date(2024, 3, 1), "UAH", **changes)
    service_id = order(s, uah("1000.00"), "business", method="card")
    bind(s)  # pays the order's invoice: card autopay starts
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    return s


@pytest.mark.spec("R7")
def test_card_autopay_charges_an_invoice_issued_after_the_days_run() -> None:
    s = shop()
    s.clock.set(datetime(2024, 3, 10, 3, tzinfo=UTC))
    s.billing.run.day(date(2024, 3, 10))
    s.clock.set(datetime(2024, 3, 10, 18, tzinfo=UTC))
    seo = order(s, uah("500.00"), "seo", method="card")
    assert not s.store.services.rows[seo].paid
    s.clock.set(datetime(2024, 3, 11, 3, tzinfo=UTC))
    summary = s.billing.run.day(date(2024, 3, 11))
    assert summary.charges == 1
    assert s.gateway.charges[-1].amount == uah("500.00")
    assert s.store.services.rows[seo].paid_until == date(2024, 4, 10)
    # Charged once: later runs leave it alone.
    assert run_days(s, date(2024, 3, 20)) == {}


@pytest.mark.spec("R7", "C4")
def test_item_14_card_autopay_leaves_an_order_checked_out_for_another_method() -> None:
    s = shop()
    s.clock.set(datetime(2024, 3, 10, 3, tzinfo=UTC))
    s.billing.run.day(date(2024, 3, 10))
    s.clock.set(datetime(2024, 3, 10, 18, tzinfo=UTC))
    by_transfer = order(s, uah("500.00"), "seo", method="bank_transfer")
    by_card = order(s, uah("300.00"), "crm", method="card")
    charges = len(s.gateway.charges)
    s.clock.set(datetime(2024, 3, 11, 3, tzinfo=UTC))
    summary = s.billing.run.day(date(2024, 3, 11))
    # The card pays the order checked out for it; the one for a bank transfer waits.
    assert summary.charges == 1
    assert [c.amount for c in s.gateway.charges[charges:]] == [uah("300.00")]
    assert s.store.services.rows[by_card].paid
    assert not s.store.services.rows[by_transfer].paid


@pytest.mark.spec("R7")
def test_card_autopay_issues_the_monthly_invoice_itself_and_charges_it() -> None:
    s = shop()
    service_id = next(iter(s.store.services.rows))
    owner(s).services.set_auto_renewal(service_id)  # renews; paid by card autopay
    calls = run_days(s, date(2024, 4, 2))
    assert calls == {date(2024, 3, 27): ["charge"]}
    assert s.store.services.rows[service_id].paid_until == date(2024, 5, 1)
    issued = sorted((i.issued_on, i.number) for i in s.store.invoices.rows.values())
    assert issued == [(date(2024, 3, 1), "HOR-11111-001"), (date(2024, 3, 27), "HOR-11111-002")]


@pytest.mark.spec("R7", "R4")
def test_card_autopay_stopped_no_subscription_charges_the_card_any_more() -> None:
    s = shop()
    service_id = next(iter(s.store.services.rows))
    owner(s).services.set_auto_renewal(service_id, method_id="card-1")
    owner(s).payments.stop_card_autopay()
    assert not s.store.services.rows[service_id].auto_renew
    calls = run_days(s, date(2024, 4, 5))
    assert calls == {}
    assert s.store.services.rows[service_id].status.value == "expired"
    with pytest.raises(Exception, match="card autopay is stopped"):
        owner(s).services.set_auto_renewal(service_id, method_id="card-1")


@pytest.mark.spec("R7")
def test_card_autopay_a_declined_charge_is_a_failed_payment_the_customer_is_told_of() -> None:
    s = shop()
    service_id = next(iter(s.store.services.rows))
    owner(s).services.set_auto_renewal(service_id)
    s.gateway.script("tok-1", Outcome.DECLINE)
    assert run_days(s, date(2024, 3, 27)) == {date(2024, 3, 27): ["charge"]}
    failed = [p for p in s.store.payments.rows.values() if p.status is PaymentStatus.FAILED]
    assert [(p.amount, p.method_id) for p in failed] == [(uah("1000.00"), "card-1")]
    assert s.notifier.kinds("acc-1")[-2:] == ["invoice.issued", "payment.failed"]
    assert not s.store.profiles.rows["acc-1"].method("card-1").working
