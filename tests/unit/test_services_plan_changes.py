"""Plan, period and configuration changes and the end of a paid service, through the cabinet (SPEC X1, X2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.catalog import AddOn, Catalog
from cabinet_billing.domain.documents import CreditNoteReason
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceStatus
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.orders import ServiceUseCase
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Service, ServiceOperation, ServiceStatus
from cabinet_billing.errors import (
    ConflictError,
    InvalidTransitionError,
    OrderRejectedError,
    PriceNotFoundError,
    ValidationError,
)
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("X1")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
IPV4 = AddOn("ipv4", "IPv4", {"month": Money("5.00", "EUR")}, included=1)
# Astra Cloud's renewal form: 20.00 a day, 100.00 a month, 1200.00 a year.
VPS_S = Plan(
    "vps-s",
    "VPS S",
    ProductKind.VPS,
    {
        "day": Money("20.00", "EUR"),
        "month": Money("100.00", "EUR"),
        "year": Money("1200.00", "EUR"),
    },
    [IPV4],
)
VPS_M = Plan("vps-m", "VPS M", ProductKind.VPS, {"month": Money("200.00", "EUR")}, [IPV4])
SHOP = Plan("shop", "Shop", ProductKind.SAAS, {"month": Money("10.00", "EUR")})


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def settings() -> BillingSettings:
    return BillingSettings(
        catalog=Catalog([VPS_S, VPS_M, SHOP]),
        payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),),
        proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
        apply_balance_to_open_invoices=False,
    )


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(settings(), now=START)
    account = Account.open("acc-1", "anna", currency="EUR", email="a@example.com")
    account.change_name("Fairy", "Anna")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    s.billing.open_account(account, owner_id="u-1", owner_name="Anna")
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u-1")


def top_up(s: InMemoryBilling, amount: str) -> None:
    started = owner(s).payments.top_up(eur(amount), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )


def active(s: InMemoryBilling, plan: Plan = VPS_S, ipv4: int = 1) -> str:
    """A service paid from the balance on 5 March until 5 April (31 days)."""
    top_up(s, "300.00")
    cart = Cart("acc-1", "EUR")
    cart.add(plan, "month", {"ipv4": ipv4})
    service_id = owner(s).orders.checkout(cart, "balance", order_id="o-1").service_ids[0]
    s.billing.services.finish(service_id)
    return service_id


def stored(s: InMemoryBilling, service_id: str) -> Service:
    with MemoryUnitOfWork(s.store) as uow:
        return uow.services.get(service_id)


def on(s: InMemoryBilling, day: date) -> None:
    s.clock.set(datetime(day.year, day.month, day.day, 9, tzinfo=UTC))


def test_an_upgrade_now_invoices_the_rest_of_the_period_and_changes_once_paid(
    s: InMemoryBilling,
) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))  # 16 of 31 days left
    before = owner(s).balance.get()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert result.settlement is not None
    # 100.00 * 16/31 = 51.61 back, 200.00 * 16/31 = 103.23 on: 51.62 to pay.
    assert (result.settlement.credit, result.settlement.charge) == (eur("51.61"), eur("103.23"))
    assert result.invoice is not None
    assert result.invoice.total.gross == eur("51.62")
    assert result.invoice.kind is InvoiceKind.ORDER
    assert result.paid_from_balance
    assert result.changed
    assert result.invoice.status is InvoiceStatus.PAID
    assert owner(s).balance.get() == before - eur("51.62")
    service = stored(s, service_id)
    assert (service.plan_id, service.price, service.paid_until) == (
        "vps-m",
        eur("200.00"),
        date(2024, 4, 5),
    )
    assert service.scheduled is None
    assert service.history[-1].reason == f"plan vps-s -> vps-m, invoice {result.invoice.number}"


def test_an_upgrade_waits_for_its_invoice_and_cancel_change_deletes_it(s: InMemoryBilling) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    with MemoryUnitOfWork(s.store) as uow:  # spend the balance elsewhere
        uow.ledgers.get("acc-1").charge(eur("200.00"), s.clock.now(), memo="elsewhere")
        uow.commit()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert not result.changed
    assert not result.paid_from_balance
    assert result.invoice is not None
    assert result.invoice.status is InvoiceStatus.UNPAID
    assert stored(s, service_id).plan_id == "vps-s"
    with pytest.raises(ConflictError, match="withdraw that change first"):
        owner(s).services.change_plan(service_id, "vps-m", when="period_end")
    withdrawn = owner(s).services.cancel_change(service_id)
    assert withdrawn.invoice_id == result.invoice.id
    assert owner(s).invoices.get(result.invoice.id).status is InvoiceStatus.DELETED
    assert stored(s, service_id).scheduled is None


def test_a_paid_upgrade_invoice_changes_the_plan(s: InMemoryBilling) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(eur("200.00"), s.clock.now(), memo="elsewhere")
        uow.commit()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert result.invoice is not None
    top_up(s, "100.00")
    owner(s).invoices.pay(result.invoice.id)
    service = stored(s, service_id)
    assert (service.plan_id, service.price, service.scheduled) == ("vps-m", eur("200.00"), None)


def test_an_upgrade_paid_once_the_service_is_stopped_still_changes_the_plan(
    s: InMemoryBilling,
) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(eur("200.00"), s.clock.now(), memo="elsewhere")
        uow.commit()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert result.invoice is not None
    owner(s).services.stop(service_id)
    top_up(s, "100.00")
    owner(s).invoices.pay(result.invoice.id)
    service = stored(s, service_id)
    assert (service.plan_id, service.status, service.scheduled) == (
        "vps-m",
        ServiceStatus.STOPPED_BY_CLIENT,
        None,
    )


def test_an_upgrade_paid_while_the_service_is_processing_goes_back_to_the_balance(
    s: InMemoryBilling,
) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(eur("200.00"), s.clock.now(), memo="elsewhere")
        uow.commit()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert result.invoice is not None
    owner(s).services.reboot(service_id)
    top_up(s, "100.00")
    before = owner(s).balance.get()
    owner(s).invoices.pay(result.invoice.id)
    assert owner(s).balance.get() == before  # paid, then given back
    service = stored(s, service_id)
    assert (service.plan_id, service.scheduled) == ("vps-s", None)
    with MemoryUnitOfWork(s.store) as uow:
        (note,) = uow.documents.get("acc-1").credit_notes
    assert (note.reason, note.total.gross) == (CreditNoteReason.BALANCE_CREDIT, eur("51.62"))


def test_a_downgrade_now_credits_the_balance_with_a_credit_note(s: InMemoryBilling) -> None:
    service_id = active(s, VPS_M)
    on(s, date(2024, 3, 20))
    before = owner(s).balance.get()
    result = owner(s).services.change_plan(service_id, "vps-s")
    assert result.changed
    assert result.invoice is None
    assert result.settlement is not None
    assert result.settlement.net == eur("-51.62")
    assert owner(s).balance.get() == before + eur("51.62")
    assert result.credit_note is not None
    assert result.credit_note.reason is CreditNoteReason.BALANCE_CREDIT
    assert result.credit_note.total.gross == eur("51.62")
    assert result.credit_note.lines[0].text is not None
    assert result.credit_note.lines[0].text.msgid == "line.unused_days"
    with MemoryUnitOfWork(s.store) as uow:
        ledger = uow.ledgers.get("acc-1")
        assert [e.kind for e in ledger.by_key(f"balance-credit:{result.credit_note.id}")] == [
            EntryKind.ADJUSTMENT
        ]
        assert result.credit_note in uow.documents.get("acc-1").credit_notes
    assert stored(s, service_id).price == eur("100.00")


def test_adding_an_addon_mid_period_is_prorated(s: InMemoryBilling) -> None:
    service_id = active(s, ipv4=1)
    on(s, date(2024, 3, 20))
    result = owner(s).services.change_plan(service_id, "vps-s", quantities={"ipv4": 3})
    # Two more IPs: 10.00 a month, 16/31 of it.
    assert result.invoice is not None
    assert result.invoice.total.gross == eur("5.16")
    service = stored(s, service_id)
    assert (service.price, service.configuration) == (eur("110.00"), (("ipv4", Decimal(3)),))


def test_a_change_at_the_period_end_is_what_the_next_renewal_invoices(s: InMemoryBilling) -> None:
    service_id = active(s)
    result = owner(s).services.change_plan(service_id, "vps-s", period="year", when="period_end")
    assert not result.changed
    assert result.scheduled is not None
    assert stored(s, service_id).period == Period.months()
    invoice = owner(s).services.renew(service_id)
    assert invoice.total.gross == eur("1200.00")
    assert invoice.lines[0].paid_until == date(2025, 4, 5)
    top_up(s, "1200.00")
    owner(s).services.renew_now(service_id)
    service = stored(s, service_id)
    assert (service.period, service.price, service.paid_until, service.scheduled) == (
        Period.year(),
        eur("1200.00"),
        date(2025, 4, 5),
        None,
    )
    assert service.next_paid_until() == date(2026, 4, 5)


def test_the_billing_run_renews_into_the_scheduled_plan(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.set_auto_renewal(service_id)
    owner(s).services.change_plan(service_id, "vps-m", when="period_end")
    top_up(s, "200.00")
    on(s, date(2024, 4, 5))
    s.billing.run.day()
    service = stored(s, service_id)
    assert (service.plan_id, service.price, service.paid_until, service.status) == (
        "vps-m",
        eur("200.00"),
        date(2024, 5, 5),
        ServiceStatus.ACTIVE,
    )
    renewal = [i for i in owner(s).invoices.list("all") if i.kind is InvoiceKind.RENEWAL]
    assert [i.total.gross for i in renewal] == [eur("200.00")]


def test_cancel_change_gives_the_renewal_its_price_back(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.set_auto_renewal(service_id)
    owner(s).services.change_plan(service_id, "vps-s", period="day", when="period_end")
    with MemoryUnitOfWork(s.store) as uow:
        sub = uow.profiles.get("acc-1").subscription(service_id)
        assert sub is not None
        assert (sub.price, sub.period) == (eur("20.00"), Period.days())
    owner(s).services.cancel_change(service_id)
    with MemoryUnitOfWork(s.store) as uow:
        sub = uow.profiles.get("acc-1").subscription(service_id)
        assert sub is not None
        assert (sub.price, sub.period, sub.next_paid_until) == (
            eur("100.00"),
            Period.months(),
            date(2024, 5, 5),
        )
    assert owner(s).services.renew(service_id).total.gross == eur("100.00")


def test_changes_are_refused_by_name_and_change_nothing(s: InMemoryBilling) -> None:
    service_id = active(s)
    cabinet = owner(s).services
    with pytest.raises(PriceNotFoundError, match="3 months"):
        cabinet.change_plan(service_id, "vps-s", period="quarter", when="period_end")
    with pytest.raises(OrderRejectedError, match="'vps-x'"):
        cabinet.change_plan(service_id, "vps-x")
    with pytest.raises(OrderRejectedError, match="changes to the plans vps-s, vps-m"):
        cabinet.change_plan(service_id, "shop")
    with pytest.raises(ValidationError, match="pass when='period_end'"):
        cabinet.change_plan(service_id, "vps-s", period="year")
    with pytest.raises(ValidationError, match="allowed: now, period_end"):
        cabinet.change_plan(service_id, "vps-m", when="tomorrow")
    with pytest.raises(ValidationError, match="has this plan"):
        cabinet.change_plan(service_id, "vps-s")
    with pytest.raises(ConflictError, match="no scheduled change"):
        cabinet.cancel_change(service_id)
    cabinet.stop(service_id)
    with pytest.raises(InvalidTransitionError, match="stopped_by_client"):
        cabinet.change_plan(service_id, "vps-m")
    assert stored(s, service_id).plan_id == "vps-s"


@pytest.mark.spec("X2")
def test_ending_at_the_period_end_stops_renewing_then_deletes(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.set_auto_renewal(service_id)
    ended = owner(s).services.terminate(service_id)
    assert ended.ends_on == date(2024, 4, 5)
    assert ended.credit is None
    assert not stored(s, service_id).auto_renew
    with pytest.raises(ConflictError, match="ends at its period end"):
        owner(s).services.renew(service_id)
    with pytest.raises(ConflictError, match="withdraw that change first"):
        owner(s).services.set_auto_renewal(service_id)
    on(s, date(2024, 4, 5))
    s.billing.run.day()
    service = stored(s, service_id)
    assert (service.status, service.operation) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.DELETING,
    )
    s.billing.services.finish(service_id)
    assert stored(s, service_id).status is ServiceStatus.DELETED


@pytest.mark.spec("X2")
def test_an_end_at_the_period_end_can_be_withdrawn(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.terminate(service_id)
    owner(s).services.cancel_change(service_id)
    owner(s).services.set_auto_renewal(service_id)
    top_up(s, "100.00")
    on(s, date(2024, 4, 5))
    s.billing.run.day()
    assert stored(s, service_id).paid_until == date(2024, 5, 5)


@pytest.mark.spec("X2")
def test_ending_now_credits_the_unused_days_and_deletes(s: InMemoryBilling) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    before = owner(s).balance.get()
    ended = owner(s).services.terminate(service_id, when="now")
    assert ended.credit == eur("51.61")  # 100.00 * 16/31
    assert ended.credit_note is not None
    assert ended.credit_note.reason is CreditNoteReason.BALANCE_CREDIT
    assert owner(s).balance.get() == before + eur("51.61")
    service = stored(s, service_id)
    assert (service.status, service.operation, service.auto_renew) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.DELETING,
        False,
    )
    with pytest.raises(InvalidTransitionError, match="terminate"):
        owner(s).services.terminate(service_id, when="now")


@pytest.mark.spec("X2")
def test_ending_an_unpaid_order_is_refused_in_favour_of_cancel(s: InMemoryBilling) -> None:
    cart = Cart("acc-1", "EUR")
    cart.add(VPS_S, "month")
    service_id = owner(s).orders.checkout(cart, "card", order_id="o-9").service_ids[0]
    with pytest.raises(InvalidTransitionError, match="cancel"):
        owner(s).services.terminate(service_id, when="now")
    assert stored(s, service_id).status is ServiceStatus.ORDERED
    assert s.clock.now() - START < timedelta(days=1)


def test_the_view_shows_what_waits(s: InMemoryBilling) -> None:
    service_id = active(s)
    assert owner(s).services.view(service_id).scheduled is None
    owner(s).services.change_plan(service_id, "vps-m", when="period_end")
    view = owner(s).services.view(service_id)
    assert view.scheduled is not None
    assert (view.scheduled.plan_id, view.scheduled.at_period_end) == ("vps-m", True)
    # What waits can be withdrawn; another change or an end waits for that.
    assert ServiceUseCase.CANCEL_CHANGE in view.actions
    assert ServiceUseCase.CHANGE_PLAN not in view.actions
    assert ServiceUseCase.TERMINATE not in view.actions


def test_deleting_a_service_withdraws_the_upgrade_waiting_for_its_invoice(
    s: InMemoryBilling,
) -> None:
    service_id = active(s)
    on(s, date(2024, 3, 20))
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(eur("200.00"), s.clock.now(), memo="elsewhere")
        uow.commit()
    result = owner(s).services.change_plan(service_id, "vps-m")
    assert result.invoice is not None
    owner(s).services.delete(service_id)
    assert owner(s).invoices.get(result.invoice.id).status is InvoiceStatus.DELETED
    assert stored(s, service_id).scheduled is None


def test_an_expired_service_renewed_by_hand_comes_back_on_the_scheduled_plan(
    s: InMemoryBilling,
) -> None:
    service_id = active(s)
    owner(s).services.change_plan(service_id, "vps-s", period="year", when="period_end")
    on(s, date(2024, 4, 5))
    s.billing.run.day()
    assert stored(s, service_id).status is ServiceStatus.EXPIRED
    top_up(s, "1200.00")
    on(s, date(2024, 4, 6))
    invoice = owner(s).services.renew_now(service_id)
    assert invoice.total.gross == eur("1200.00")
    service = stored(s, service_id)
    assert (service.status, service.period, service.price, service.scheduled) == (
        ServiceStatus.ACTIVE,
        Period.year(),
        eur("1200.00"),
        None,
    )
    assert service.paid_until == date(2025, 4, 5)


def test_the_upcoming_invoices_show_the_scheduled_plan(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.set_auto_renewal(service_id)
    owner(s).services.change_plan(service_id, "vps-m", when="period_end")
    upcoming = owner(s).services.upcoming(until=date(2024, 4, 10))
    [next_one] = upcoming.invoices
    assert (next_one.total, next_one.period_end) == (eur("200.00"), date(2024, 5, 5))
    text = next_one.invoice.lines[0].text
    assert text is not None
    assert dict(text.params)["plan"] == "VPS M"


def test_removing_addons_mid_period_credits_their_unused_days(s: InMemoryBilling) -> None:
    service_id = active(s, ipv4=3)
    on(s, date(2024, 3, 20))
    before = owner(s).balance.get()
    result = owner(s).services.change_plan(service_id, "vps-s", quantities={"ipv4": 1})
    assert result.changed
    assert result.credit_note is not None
    assert owner(s).balance.get() == before + eur("5.16")  # 10.00 * 16/31
    assert stored(s, service_id).configuration == (("ipv4", Decimal(1)),)


@pytest.mark.spec("X2")
def test_a_daily_billed_service_changes_and_ends_now_only(s: InMemoryBilling) -> None:
    top_up(s, "300.00")
    cart = Cart("acc-1", "EUR")
    cart.add(VPS_S, "month")
    [service_id] = owner(s).orders.checkout_daily(cart, order_id="o-d").service_ids
    s.billing.services.finish(service_id)
    with pytest.raises(ValidationError, match="charged day by day: it changes now"):
        owner(s).services.change_plan(service_id, "vps-m", when="period_end")
    with pytest.raises(ValidationError, match="charged day by day: it ends now"):
        owner(s).services.terminate(service_id)
    changed = owner(s).services.change_plan(service_id, "vps-m")
    assert changed.changed
    assert changed.invoice is None
    assert stored(s, service_id).price == eur("200.00")
    ended = owner(s).services.terminate(service_id, when="now")
    assert ended.credit is None
    assert ended.service.operation is ServiceOperation.DELETING


@pytest.mark.spec("X2")
@pytest.mark.parametrize("end", ["now", "period_end", "delete"])
def test_ending_a_service_withdraws_its_unpaid_renewal_invoice(
    s: InMemoryBilling, end: str
) -> None:
    service_id = active(s)
    renewal = owner(s).services.renew(service_id)
    assert owner(s).invoices.get(renewal.id).status is InvoiceStatus.UNPAID
    on(s, date(2024, 3, 20))
    if end == "delete":
        owner(s).services.delete(service_id)
    else:
        owner(s).services.terminate(service_id, when=end)
    assert owner(s).invoices.get(renewal.id).status is InvoiceStatus.DELETED
    assert [i.id for i in owner(s).invoices.list()] == []
    before = owner(s).balance.get()
    with pytest.raises(InvalidTransitionError):
        owner(s).invoices.pay(renewal.id)
    assert owner(s).balance.get() == before
    assert stored(s, service_id).paid_until == date(2024, 4, 5)
