"""Reads of card autopay, automatic charges, a service's history and the outbox, on every store.

SPEC C5, R4, R7, R9.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    ConflictError,
    Money,
    NotFoundError,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import Outcome, SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.attempts import AttemptPurpose, AttemptStatus
from cabinet_billing.domain.autopay import CardAutopayStatus, PayWay
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.outbox import DeliveryPolicy, OutboxStatus
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import (
    Actor,
    ServiceAction,
    ServiceChange,
    ServiceOperation,
    ServiceStatus,
)
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.renewal import RenewalPolicy

START = datetime(2024, 3, 5, 10, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier
    unit_of_work: Callable[[], UnitOfWork]

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def order(self, order_id: str = "o-1") -> str:
        """Order a monthly VPS; its invoice stays unpaid. Returns the service's id."""
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub("300.00")})
        cart = Cart("acc-1", "RUB")
        cart.add(plan, "month")
        placed = self.owner.orders.place(
            cart.checkout(
                "card",
                self.clock.today(),
                order_id=order_id,
                tax=self.billing.settings.tax,
                country="RU",
            )
        )
        return placed.service_ids[0]

    def bind(self, method_id: str = "card-1") -> None:
        card = SavedPaymentMethod(method_id, "acc-1", "card", f"tok-{method_id}", "Visa", "4242")
        self.owner.payments.bind_card(card)


def wire(request: pytest.FixtureRequest, store_kind: str, *, card_autopay: bool = False) -> Wired:
    if store_kind == "memory":
        store = MemoryStore()
        unit_of_work: Callable[[], UnitOfWork] = lambda: MemoryUnitOfWork(store)  # noqa: E731
    else:
        from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

        fixture = "billing_sqlite_store" if store_kind == "sqlite" else "billing_pg_store"
        sql: SqlStore = request.getfixturevalue(fixture)
        unit_of_work = lambda: SqlUnitOfWork(sql)  # noqa: E731
    clock = FixedClock(START)
    gateway = SandboxGateway(b"reads: a sandbox signing key of 32+ bytes")
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(unit_of_work=unit_of_work, clock=clock, gateway=gateway, notifier=notifier),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
            card_autopay_on_invoice_day=card_autopay,
            renewal=RenewalPolicy(retry_days=(2, 3)),
            notification_delivery=DeliveryPolicy(retry_delays=(timedelta(minutes=1),)),
        ),
    )
    for account_id, owner in (("acc-1", "u1"), ("acc-2", "u2")):
        account = Account.open(account_id, owner, email=f"{owner}@example.com", currency="RUB")
        account.change_name("Fairy", "Jill")
        account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
        billing.open_account(account, owner_id=owner, owner_name="Jill")
    return Wired(billing, clock, gateway, notifier, unit_of_work)


STORES = ["memory", "sqlite", "postgresql"]


@pytest.mark.spec("R7")
@pytest.mark.parametrize("store_kind", STORES)
def test_card_autopay_reads_its_state_card_ways_and_services(
    request: pytest.FixtureRequest, store_kind: str
) -> None:
    s = wire(request, store_kind, card_autopay=True)
    payments = s.owner.payments
    before = payments.card_autopay()
    assert (before.offered, before.status, before.method, before.since) == (
        True,
        CardAutopayStatus.AWAITING_CARD,
        None,
        None,
    )
    assert before.pay_ways == (PayWay.CARD, PayWay.BANK_TRANSFER)
    assert (before.active, before.services) == (False, ())
    service_id = s.order()
    s.bind()  # pays the order's invoice: card autopay starts
    on = payments.card_autopay()
    assert on.active
    assert on.status is CardAutopayStatus.ACTIVE
    assert on.method is not None
    assert on.method.id == "card-1"
    assert on.since == date(2024, 3, 5)
    assert on.pay_ways == (PayWay.CARD_AUTOPAY, PayWay.CARD, PayWay.BANK_TRANSFER)
    assert on.services == (service_id,)
    # Another account sees its own (none).
    other = s.billing.cabinet("acc-2", "u2").payments.card_autopay()
    assert other.status is CardAutopayStatus.AWAITING_CARD
    assert other.services == ()
    payments.stop_card_autopay()
    off = payments.card_autopay()
    assert (off.status, off.method, off.since, off.services, off.active) == (
        CardAutopayStatus.STOPPED,
        None,
        None,
        (),
        False,
    )
    assert off.pay_ways == (PayWay.BANK_TRANSFER,)


@pytest.mark.spec("R7")
def test_card_autopay_not_offered_by_the_settings_is_never_active(
    request: pytest.FixtureRequest,
) -> None:
    s = wire(request, "memory", card_autopay=False)
    s.order()
    s.bind()
    view = s.owner.payments.card_autopay()
    assert (view.offered, view.active, view.services) == (False, False, ())


@pytest.mark.spec("R4")
@pytest.mark.parametrize("store_kind", STORES)
def test_attempts_show_each_automatic_charge_and_the_next_retry(
    request: pytest.FixtureRequest, store_kind: str
) -> None:
    s = wire(request, store_kind)
    service_id = s.order()
    s.bind()  # pays the order: the service is paid until 5 April
    s.billing.services.finish(service_id)
    s.owner.services.set_auto_renewal(service_id, method_id="card-1")
    payments = s.owner.payments
    assert payments.attempts().items == ()
    s.gateway.default = Outcome.DECLINE
    paid_until = s.owner.services.view(service_id).paid_until
    assert paid_until == date(2024, 4, 5)
    s.clock.set(datetime(2024, 4, 5, 9, tzinfo=UTC))
    s.billing.run.day()
    (tried,) = payments.attempts()
    assert (tried.key, tried.number, tried.purpose, tried.status) == (
        "renewal:" + service_id + ":2024-04-05#1",
        1,
        AttemptPurpose.RENEWAL,
        AttemptStatus.FAILED,
    )
    assert (tried.reason, tried.amount, tried.method_id, tried.service_id) == (
        "decline",
        rub("300.00"),
        "card-1",
        service_id,
    )
    assert tried.started_on == date(2024, 4, 5)
    assert tried.invoice_id is not None
    assert tried.paid_until == date(2024, 5, 5)
    assert tried.next_attempt_on == date(2024, 4, 7)  # retry_days=(2, 3)
    # On the retry day the card is checked first (it stopped working): a second
    # attempt, newest first; the renewal waits three more days.
    s.clock.set(datetime(2024, 4, 7, 9, tzinfo=UTC))
    s.billing.run.day()
    page = payments.attempts()
    assert [a.purpose for a in page] == [AttemptPurpose.CHECK, AttemptPurpose.RENEWAL]
    check = page.items[0]
    assert check.status is AttemptStatus.FAILED
    assert check.next_attempt_on == date(2024, 4, 10)
    assert page.items[1].next_attempt_on == date(2024, 4, 10)
    # Filters and pages.
    assert [a.purpose for a in payments.attempts(purpose="renewal")] == [AttemptPurpose.RENEWAL]
    assert len(payments.attempts(status=AttemptStatus.FAILED)) == 2
    assert payments.attempts(status="pending").items == ()
    assert len(payments.attempts(service_id=service_id)) == 2
    assert payments.attempts(service_id="ser-none").items == ()
    first = payments.attempts(limit=1)
    assert first.items == (check,)
    assert first.next_after == check.key
    assert first.total == 2
    second = payments.attempts(limit=1, after=first.next_after)
    assert second.items == (page.items[1],)
    assert second.next_after is None
    # The schedule used up: no next attempt.
    s.clock.set(datetime(2024, 4, 10, 9, tzinfo=UTC))
    s.billing.run.day()
    (renewal,) = payments.attempts(purpose="renewal")
    assert renewal.status is AttemptStatus.FAILED
    assert renewal.next_attempt_on is None
    # Another account sees none of them.
    assert s.billing.cabinet("acc-2", "u2").payments.attempts().items == ()


@pytest.mark.spec("R4")
def test_attempts_refuse_bad_filters_and_cursors(request: pytest.FixtureRequest) -> None:
    payments = wire(request, "memory").owner.payments
    with pytest.raises(ValidationError, match="status='tried' is invalid: expected one of"):
        payments.attempts(status="tried")
    with pytest.raises(ValidationError, match="purpose='gift' is invalid: expected one of"):
        payments.attempts(purpose="gift")
    with pytest.raises(ValidationError, match="limit=0 is invalid"):
        payments.attempts(limit=0)
    with pytest.raises(ValidationError, match="after='renewal:x#1' is invalid"):
        payments.attempts(after="renewal:x#1")
    with pytest.raises(ValidationError, match="service_id"):
        payments.attempts(service_id="")


@pytest.mark.spec("C5")
@pytest.mark.parametrize("store_kind", STORES)
def test_a_services_history_is_read_a_page_at_a_time(
    request: pytest.FixtureRequest, store_kind: str
) -> None:
    s = wire(request, store_kind)
    service_id = s.order()
    s.bind()
    s.billing.services.finish(service_id)
    s.owner.services.stop(service_id)
    services = s.owner.services
    page = services.history(service_id)
    assert [c.action for c in page] == [
        ServiceAction.STOP,
        ServiceAction.FINISH_PROCESSING,
        ServiceAction.BEGIN_PROCESSING,
        ServiceAction.PAY,
        ServiceAction.ORDER,
    ]
    assert page.total == 5
    assert page.next_after is None
    latest = page.items[0]
    assert (latest.from_status, latest.to_status, latest.reason) == (
        ServiceStatus.ACTIVE,
        ServiceStatus.STOPPED_BY_CLIENT,
        "stopped by the client",
    )
    assert str(latest.actor) == "client u1"
    assert latest.at == START
    oldest_first = services.history(service_id, newest_first=False, limit=4)
    assert [c.action for c in oldest_first] == [
        ServiceAction.ORDER,
        ServiceAction.PAY,
        ServiceAction.BEGIN_PROCESSING,
        ServiceAction.FINISH_PROCESSING,
    ]
    assert oldest_first.next_after == "4"
    rest = services.history(service_id, newest_first=False, after=oldest_first.next_after)
    assert rest.items == (latest,)
    with pytest.raises(ValidationError, match="after='9' is invalid"):
        services.history(service_id, after="9")
    with pytest.raises(ValidationError, match="limit=501 is invalid"):
        services.history(service_id, limit=501)
    with pytest.raises(NotFoundError):
        s.billing.cabinet("acc-2", "u2").services.history(service_id)


@pytest.mark.spec("C5")
@pytest.mark.parametrize("store_kind", STORES)
def test_a_long_history_is_read_by_range_a_page_at_a_time(
    request: pytest.FixtureRequest, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = wire(request, store_kind)
    service_id = s.order()
    s.bind()
    s.billing.services.finish(service_id)
    with s.unit_of_work() as uow:
        service = uow.services.get(service_id)
        for n in range(300):
            at = START + timedelta(minutes=n)
            service.begin_processing(ServiceOperation.REBOOTING, Actor.admin("ops"), at)
            service.finish_processing(Actor.system(), at, reason=f"reboot {n + 1}")
        uow.commit()
    made: list[ServiceChange] = []
    init = ServiceChange.__init__

    def counting(self: ServiceChange, *args: object, **kwargs: object) -> None:
        made.append(self)
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ServiceChange, "__init__", counting)
    services = s.owner.services
    page = services.history(service_id, limit=3)
    assert [c.reason for c in page] == ["reboot 300", None, "reboot 299"]
    assert (page.total, page.next_after) == (604, "602")
    assert len(made) <= 3  # the page's records are read, and only they
    made.clear()
    after = services.history(service_id, limit=2, after="5")
    assert [c.action for c in after] == [
        ServiceAction.FINISH_PROCESSING,
        ServiceAction.BEGIN_PROCESSING,
    ]
    assert after.next_after == "3"
    oldest = services.history(service_id, newest_first=False, limit=2, after="602")
    assert [c.reason for c in oldest] == [None, "reboot 300"]
    assert oldest.next_after is None
    assert len(made) <= 4


@pytest.mark.spec("R9")
@pytest.mark.parametrize("store_kind", STORES)
def test_the_staff_read_the_outbox_pending_and_given_up_a_page_at_a_time(
    request: pytest.FixtureRequest, store_kind: str
) -> None:
    s = wire(request, store_kind)
    deliver = s.notifier.send

    def refuse(notification: Notification) -> None:  # noqa: ARG001 - the notifier's shape
        raise ConnectionError("smtp.example.com:587 refused the connection")

    s.notifier.send = refuse  # type: ignore[method-assign]
    first = s.owner.tickets.open(department="technical", subject="VPS is down", text="Since 8")
    s.clock.advance(minutes=5)
    s.owner.tickets.open(department="technical", subject="Still down", text="Help")
    staff = s.billing.staff
    pending = staff.outbox()
    assert [m.notification.kind for m in pending] == ["ticket.opened", "ticket.opened"]
    assert pending.total == 2
    assert pending.next_after is None
    oldest = pending.items[0]
    assert oldest.notification.params["ticket_id"] == first.id
    assert (oldest.status, oldest.attempts) == (OutboxStatus.PENDING, 1)
    assert oldest.last_error == "ConnectionError: smtp.example.com:587 refused the connection"
    assert oldest.next_attempt_at == START + timedelta(minutes=1)
    page = staff.outbox("pending", limit=1)
    assert page.items == (oldest,)
    assert page.next_after == oldest.key
    assert page.total == 2
    assert staff.outbox(limit=1, after=page.next_after).items == (pending.items[1],)
    assert staff.outbox(account_id="acc-2").items == ()
    assert staff.outbox("given_up").items == ()
    # The first one's second attempt fails too: it is given up; the cursor keeps its place.
    s.billing.run.deliver()
    given_up = staff.outbox(OutboxStatus.GIVEN_UP, account_id="acc-1")
    assert [m.key for m in given_up] == [oldest.key]
    assert given_up.items[0].attempts == 2
    assert [m.key for m in staff.outbox(after=oldest.key)] == [pending.items[1].key]
    s.notifier.send = deliver  # type: ignore[method-assign]
    s.clock.advance(minutes=1)
    s.billing.run.deliver()
    assert staff.outbox().items == ()
    assert [m.key for m in staff.outbox("delivered")] == [pending.items[1].key]
    # The mail server is back: the staff queue the given-up notice again, once.
    again = staff.retry_message(oldest.key)
    assert (again.status, again.attempts, again.next_attempt_at) == (OutboxStatus.PENDING, 0, None)
    assert again.last_error == oldest.last_error
    with pytest.raises(ConflictError, match="is pending; only a given-up message"):
        staff.retry_message(oldest.key)
    assert staff.outbox("given_up").items == ()
    assert s.billing.run.deliver().delivered == 1
    assert s.notifier.kinds() == ["ticket.opened", "ticket.opened"]
    with pytest.raises(ConflictError, match="is delivered; only a given-up message"):
        staff.retry_message(oldest.key)


@pytest.mark.spec("R9")
def test_the_outbox_read_refuses_bad_filters_and_cursors(request: pytest.FixtureRequest) -> None:
    staff = wire(request, "memory").billing.staff
    with pytest.raises(ValidationError, match="status='failed' is invalid: expected one of"):
        staff.outbox("failed")
    with pytest.raises(ValidationError, match="after='nothing' is invalid"):
        staff.outbox(after="nothing")
    with pytest.raises(ValidationError, match="after=3 is invalid"):
        staff.outbox(after=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="limit=0 is invalid"):
        staff.outbox(limit=0)
    with pytest.raises(ValidationError, match="account_id"):
        staff.outbox(account_id="")
    with pytest.raises(NotFoundError, match="outbox message"):
        staff.retry_message("ticket.opened:nothing")
    with pytest.raises(ValidationError, match="key"):
        staff.retry_message("")
