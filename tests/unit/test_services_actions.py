"""Every client action the service lifecycle allows, as a cabinet use case (SPEC C5, C6)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
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
from cabinet_billing.domain.catalog import AddOn
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceStatus
from cabinet_billing.domain.orders import OrdersQuery, ServiceUseCase
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import (
    BillingMode,
    Service,
    ServiceAction,
    ServiceOperation,
    ServiceStatus,
)
from cabinet_billing.errors import (
    InsufficientFundsError,
    InvalidTransitionError,
    ValidationError,
)
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("C5")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
IPV4 = AddOn("ipv4", "IPv4", {"month": Money("5.00", "EUR")}, included=1)
VPS = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "EUR")}, [IPV4])
U = ServiceUseCase


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),),
            proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
            # Money in stays on the balance: renew_now is what pays a renewal here.
            apply_balance_to_open_invoices=False,
        ),
        now=START,
    )
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


def ordered(s: InMemoryBilling, order_id: str = "o-1", ipv4: int = 2) -> str:
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month", {"ipv4": ipv4})
    return owner(s).orders.checkout(cart, BALANCE_METHOD, order_id=order_id).service_ids[0]


def active(s: InMemoryBilling, order_id: str = "o-1") -> str:
    top_up(s, "105.00")
    service_id = ordered(s, order_id)
    s.billing.services.finish(service_id, ip="192.0.2.10")
    return service_id


def stored(s: InMemoryBilling, service_id: str) -> Service:
    with MemoryUnitOfWork(s.store) as uow:
        return uow.services.get(service_id)


def state(s: InMemoryBilling) -> object:
    store = s.store
    return (
        {n: copy.deepcopy(getattr(store, n).rows) for n in ("services", "invoices", "ledgers")},
        set(store.keys),
        dict(store.sequences),
    )


def test_view_shows_ip_configuration_paid_until_days_left_and_actions(s: InMemoryBilling) -> None:
    service_id = active(s)
    view = owner(s).services.view(service_id)
    assert (view.id, view.ip, view.paid_until, view.days_left, view.status) == (
        service_id,
        "192.0.2.10",
        date(2024, 4, 5),
        31,
        ServiceStatus.ACTIVE,
    )
    assert view.configuration == {"ipv4": Decimal(2)}
    assert view.billing_mode is BillingMode.PERIODIC
    assert str(view.row.price) == "105.00 EUR"
    assert view.actions == (
        U.RENEW,
        U.RENEW_NOW,
        U.CHANGE_PLAN,
        U.STOP,
        U.REBOOT,
        U.DELETE,
        U.TERMINATE,
    )


def test_an_unpaid_order_offers_pay_and_cancel(s: InMemoryBilling) -> None:
    view = owner(s).services.view(ordered(s))
    assert view.actions == (U.PAY, U.CANCEL)
    assert (view.paid_until, view.days_left) == (None, None)


def test_actions_follow_the_users_rights(s: InMemoryBilling) -> None:
    service_id = active(s)
    with MemoryUnitOfWork(s.store) as uow:
        uow.users.get("acc-1").add("u-2", "Viewer", "v@example.com", ["services.view"])
        uow.commit()
    assert s.billing.cabinet("acc-1", "u-2").services.view(service_id).actions == ()


def test_stop_and_start_a_periodically_billed_service(s: InMemoryBilling) -> None:
    service_id = active(s)
    stopped = owner(s).services.stop(service_id)
    assert stopped.status is ServiceStatus.STOPPED_BY_CLIENT
    assert stopped.history[-1].reason == "stopped by the client"
    assert owner(s).services.view(service_id).actions == (
        U.RENEW,
        U.RENEW_NOW,
        U.START,
        U.DELETE,
        U.TERMINATE,
    )
    assert owner(s).services.start(service_id).status is ServiceStatus.ACTIVE
    assert stored(s, service_id).status is ServiceStatus.ACTIVE


def test_suspend_is_refused_for_periodic_billing(s: InMemoryBilling) -> None:
    service_id = active(s)
    before = state(s)
    with pytest.raises(InvalidTransitionError) as err:
        owner(s).services.suspend(service_id)
    assert "allowed from active" in str(err.value)
    assert state(s) == before


def test_reboot_is_processing_until_the_panel_reports_it(s: InMemoryBilling) -> None:
    service_id = active(s)
    rebooting = owner(s).services.reboot(service_id)
    assert (rebooting.status, rebooting.operation) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.REBOOTING,
    )
    assert owner(s).services.view(service_id).actions == ()
    assert s.billing.services.finish(service_id).status is ServiceStatus.ACTIVE


def test_delete_a_paid_service_stops_its_renewal(s: InMemoryBilling) -> None:
    service_id = active(s)
    owner(s).services.set_auto_renewal(service_id)
    deleting = owner(s).services.delete(service_id)
    assert (deleting.status, deleting.operation, deleting.auto_renew) == (
        ServiceStatus.PROCESSING,
        ServiceOperation.DELETING,
        False,
    )
    assert s.billing.services.finish(service_id).status is ServiceStatus.DELETED


def test_delete_an_unpaid_order_is_refused_naming_cancel(s: InMemoryBilling) -> None:
    service_id = ordered(s)
    with pytest.raises(InvalidTransitionError) as err:
        owner(s).services.delete(service_id)
    assert str(err.value) == (
        f"cannot go from service {service_id} (awaiting payment) to delete; "
        f"allowed from service {service_id} (awaiting payment): cancel"
    )


def test_cancel_an_unpaid_order_cancels_its_invoice(s: InMemoryBilling) -> None:
    cart = Cart("acc-1", "EUR")
    cart.add(VPS, "month")
    cart.add(VPS, "month")
    placed = owner(s).orders.checkout(cart, "card", order_id="o-1")
    assert owner(s).services.cancel(placed.service_ids[1]) == placed.service_ids
    with MemoryUnitOfWork(s.store) as uow:
        assert uow.invoices.get(placed.invoice.id).status is InvoiceStatus.DELETED
        assert [uow.services.get(i).status for i in placed.service_ids] == [
            ServiceStatus.DELETED,
            ServiceStatus.DELETED,
        ]


def test_cancel_a_paid_service_is_refused(s: InMemoryBilling) -> None:
    service_id = active(s)
    with pytest.raises(InvalidTransitionError):
        owner(s).services.cancel(service_id)


def test_renew_now_pays_the_next_period_from_the_balance(s: InMemoryBilling) -> None:
    service_id = active(s)
    top_up(s, "105.00")
    invoice = owner(s).services.renew_now(service_id)
    assert (invoice.kind, invoice.status, str(invoice.total.gross)) == (
        InvoiceKind.RENEWAL,
        InvoiceStatus.PAID,
        "105.00 EUR",
    )
    assert stored(s, service_id).paid_until == date(2024, 5, 5)
    assert owner(s).balance.get("EUR") == eur("0.00")


def test_renew_now_pays_an_open_renewal_invoice(s: InMemoryBilling) -> None:
    service_id = active(s)
    issued = owner(s).services.renew(service_id)
    top_up(s, "105.00")
    assert owner(s).services.renew_now(service_id).id == issued.id
    assert stored(s, service_id).paid_until == date(2024, 5, 5)


def test_renew_now_without_the_money_changes_nothing(s: InMemoryBilling) -> None:
    service_id = active(s)
    before = state(s)
    with pytest.raises(InsufficientFundsError) as err:
        owner(s).services.renew_now(service_id)
    assert str(err.value.missing) == "105.00 EUR"
    assert state(s) == before


@pytest.mark.spec("C6")
def test_list_pages_with_a_cursor_and_filters(s: InMemoryBilling) -> None:
    ids = [ordered(s, f"o-{n}") for n in range(1, 6)]
    first = owner(s).services.list(limit=2)
    assert ([v.id for v in first.services], first.total, first.next_after) == (ids[:2], 5, ids[1])
    second = owner(s).services.list(limit=2, after=first.next_after)
    assert [v.id for v in second.services] == ids[2:4]
    last = owner(s).services.list(limit=2, after=second.next_after)
    assert ([v.id for v in last.services], last.next_after) == (ids[4:], None)
    owner(s).services.cancel(ids[0])
    deleted = owner(s).services.list(OrdersQuery(statuses=["deleted"]))
    assert [v.id for v in deleted.services] == [ids[0]]
    newest = owner(s).services.list(OrdersQuery(sort_by="id", descending=True), limit=1)
    assert [v.id for v in newest.services] == [ids[4]]


@pytest.mark.spec("C6")
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"limit": 0}, "limit=0 is invalid: a page holds 1 to 500 services"),
        (
            {"after": "svc-99"},
            "after='svc-99' is invalid: not a service of this list; read it again from the start",
        ),
    ],
)
def test_list_refuses_a_bad_page(s: InMemoryBilling, kw: dict[str, object], message: str) -> None:
    ordered(s)
    with pytest.raises(ValidationError) as err:
        owner(s).services.list(**kw)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_the_panel_keeps_the_ip_and_reports_failures(s: InMemoryBilling) -> None:
    service_id = active(s)
    assert s.billing.services.assign_ip(service_id, "2001:db8::1").ip == "2001:db8::1"
    with pytest.raises(ValidationError):
        s.billing.services.assign_ip(service_id, "not-an-ip")
    owner(s).services.reboot(service_id)
    failed = s.billing.services.fail(service_id, "hypervisor unreachable")
    assert failed.status is ServiceStatus.ACTIVE
    assert failed.history[-1].action is ServiceAction.FAIL_PROCESSING


# ----------------------------------------------------------------- daily billing


def daily_cloud(s: InMemoryBilling) -> str:
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("cloud", "Cloud", ProductKind.VPS, {"month": eur("310.00")}), "month")
    [service_id] = owner(s).orders.checkout_daily(cart, order_id="o-cloud").service_ids
    return service_id


def test_order_a_daily_billed_service_charged_by_the_run(s: InMemoryBilling) -> None:
    top_up(s, "25.00")
    service_id = daily_cloud(s)
    opening = stored(s, service_id)
    assert (opening.billing_mode, opening.paid_until, opening.status) == (
        BillingMode.DAILY,
        date(2024, 3, 5),
        ServiceStatus.PROCESSING,
    )
    s.billing.services.finish(service_id, ip="198.51.100.7")
    s.billing.run.day()
    # 310.00 over the 31 days of March: 10.00 a day, from the balance.
    assert owner(s).balance.get("EUR") == eur("15.0000")
    view = owner(s).services.view(service_id)
    assert (view.paid_until, view.actions) == (
        date(2024, 3, 6),
        (U.CHANGE_PLAN, U.SUSPEND, U.REBOOT, U.DELETE, U.TERMINATE),
    )
    assert owner(s).services.suspend(service_id).status is ServiceStatus.SUSPENDED_BY_CLIENT
    s.clock.advance(days=1)
    s.billing.run.day()
    assert owner(s).balance.get("EUR") == eur("15.0000")  # not charged while suspended
    assert owner(s).services.resume(service_id).status is ServiceStatus.ACTIVE


def test_a_daily_billed_order_needs_the_first_day_on_the_balance(s: InMemoryBilling) -> None:
    before = state(s)
    with pytest.raises(InsufficientFundsError) as err:
        daily_cloud(s)
    assert str(err.value.missing) == "10.0000 EUR"
    assert state(s) == before


@pytest.mark.spec("C6")
def test_list_splits_orders_awaiting_payment_from_paid_ones(s: InMemoryBilling) -> None:
    paid = active(s)
    unpaid = ordered(s, "o-2")
    awaiting = owner(s).services.list(OrdersQuery(paid=False))
    done = owner(s).services.list(OrdersQuery(paid=True))
    assert ([v.id for v in awaiting.services], [v.id for v in done.services]) == (
        [unpaid],
        [paid],
    )
    with pytest.raises(ValidationError) as err:
        OrdersQuery(paid="yes")  # type: ignore[arg-type]
    assert str(err.value) == "paid='yes' is invalid: must be True, False or None"
