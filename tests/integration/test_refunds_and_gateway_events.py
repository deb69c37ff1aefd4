"""Refunds and gateway events through the use cases, on every store (memory, SQLite, PostgreSQL).

A refund is booked whatever was done with the money: what was spent is owed, the
cashback goes back with its payment, a partial refund takes back its share; a gateway
event id names one event across the installation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    InvalidAmountError,
    InvoiceStatus,
    Money,
    OrderResult,
    PaymentMethod,
    PaymentStatus,
    Plan,
    PostalAddress,
    ProductKind,
    ServiceStatus,
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.events import PaymentRefunded
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import EventOutcome, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import EventIdReusedError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def settings(**kw: object) -> BillingSettings:
    card = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=rub("10.00"),
        minimum=rub("10.00"),
        maximum=rub("3000.00"),
        cashback_percent="10",
    )
    return BillingSettings(
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
        payment_methods=(
            PaymentMethod("card", "Bank card", card),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
        **kw,  # type: ignore[arg-type]
    )


def complete_account(account_id: str) -> Account:
    account = Account.open(
        account_id, f"login-{account_id}", email="j@example.com", country="RU", currency="RUB"
    )
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    return account


@attrs.frozen
class Host:
    """A billing wired the way a host wires it, over one store."""

    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier

    def cabinet(self, account_id: str = "acc-1") -> Cabinet:
        return self.billing.cabinet(account_id, f"owner-{account_id}")

    def callback(
        self,
        payment_id: str,
        kind: PaymentEventKind,
        *,
        event_key: str | None = None,
        amount: Money | None = None,
    ) -> tuple[dict[str, str], bytes]:
        return self.gateway.webhook(
            payment_id, kind, self.clock.now(), event_key=event_key, amount=amount
        )

    def top_up(self, amount: str, method: str = "wallet", account_id: str = "acc-1") -> str:
        payment = self.cabinet(account_id).payments.top_up(rub(amount), method).payment
        self.billing.webhooks.handle(*self.callback(payment.id, PaymentEventKind.CREDITED))
        return payment.id

    def order(self, price: str, order_id: str = "o-1") -> OrderResult:
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
        cart = Cart("acc-1", "RUB")
        cart.add(plan, "month")
        order = cart.checkout(
            "balance",
            self.clock.today(),
            order_id=order_id,
            tax=self.billing.settings.tax,
            country="RU",
        )
        return self.cabinet().orders.place(order)

    def balance(self, account_id: str = "acc-1") -> Money:
        return self.cabinet(account_id).balance.get("RUB")

    def books_agree(self, account_id: str = "acc-1") -> None:
        """The ledger's balance is the unspent funds less what is owed, and it verifies."""
        with self.uow() as uow:
            ledger = uow.ledgers.get(account_id)
            book = uow.expenses.get(account_id)
            assert ledger.verify()
            assert ledger.balance("RUB") == book.available("RUB") - book.owed("RUB")


def wire(make_uow: Callable[[], UnitOfWork], billing_settings: BillingSettings) -> Host:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"refunds and events: a sandbox signing key of 48 bytes")
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=notifier),
        billing_settings,
    )
    host = Host(billing, make_uow, clock, gateway, notifier)
    for account_id in ("acc-1", "acc-2"):
        billing.open_account(
            complete_account(account_id), owner_id=f"owner-{account_id}", owner_name="Jill"
        )
    return host


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: MemoryUnitOfWork(memory)
    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    store: SqlStore = request.getfixturevalue(name)
    return lambda: SqlUnitOfWork(store)


@pytest.fixture
def host(make_uow: Callable[[], UnitOfWork]) -> Host:
    return wire(make_uow, settings())


# ----------------------------------------------------------------------------- spent money


@pytest.mark.spec("L6", "L1", "L3")
def test_refund_of_spent_money_is_booked_as_debt(host: Host) -> None:
    payment_id = host.top_up("100.00")
    placed = host.order("100.00")
    assert placed.paid_from_balance
    assert host.balance() == rub("0.00")

    handled = host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))

    assert (handled.outcome, handled.status) == (EventOutcome.APPLIED, PaymentStatus.REFUNDED)
    (refunded,) = handled.events
    assert refunded == PaymentRefunded(
        account_id="acc-1",
        at=START,
        payment_id=payment_id,
        amount=rub("100.00"),
        from_balance=rub("100.00"),
        cashback=rub("0"),
        owed=rub("100.00"),
    )
    assert host.balance() == rub("-100.00")
    with host.uow() as uow:
        assert [(e.kind, e.amount) for e in uow.ledgers.get("acc-1")][-1] == (
            EntryKind.REFUND,
            rub("-100.00"),
        )
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.unpaid, expense.payment_ids) == (rub("100.00"), ())
        # What the refund paid stays paid: the balance paid it, and the balance owes.
        assert uow.invoices.get(placed.invoice.id).status is InvoiceStatus.PAID
        assert uow.services.get(placed.service_ids[0]).status is ServiceStatus.PROCESSING
    host.books_agree()
    assert host.notifier.kinds("acc-1")[-1] == "payment.refunded"

    # The next money that comes in pays the debt off first.
    later = host.top_up("150.00")
    assert host.balance() == rub("50.00")
    with host.uow() as uow:
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.unpaid, expense.payment_ids) == (rub("0.00"), (later,))
    host.books_agree()


@pytest.mark.spec("L6", "L1", "L3")
def test_refund_of_partly_spent_money_takes_the_rest_and_books_what_was_spent_as_debt(
    host: Host,
) -> None:
    payment_id = host.top_up("100.00")
    placed = host.order("60.00")
    handled = host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))
    (refunded,) = handled.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.from_balance, refunded.owed) == (rub("100.00"), rub("60.00"))
    assert host.balance() == rub("-60.00")
    with host.uow() as uow:
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert expense.unpaid == rub("60.00")
        assert uow.expenses.get("acc-1").available("RUB") == rub("0")
        assert uow.invoices.get(placed.invoice.id).status is InvoiceStatus.PAID
    host.books_agree()


@pytest.mark.spec("L6", "L3")
def test_refund_of_spent_money_is_paid_by_other_unspent_money_first(host: Host) -> None:
    refunded = host.top_up("100.00")
    host.order("100.00")
    host.top_up("30.00")
    host.billing.webhooks.handle(*host.callback(refunded, PaymentEventKind.REFUNDED))
    assert host.balance() == rub("-70.00")
    with host.uow() as uow:
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.paid, expense.unpaid) == (rub("30.00"), rub("70.00"))
    host.books_agree()


@pytest.mark.spec("L6", "R1")
def test_refund_of_spent_money_is_owed_on_the_credit_line_and_billed_on_the_statement(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(
        make_uow,
        settings(credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15)),
    )
    host.billing.staff.open_credit_line("acc-1", rub("1000.00"))
    payment_id = host.top_up("100.00")
    host.order("100.00")
    host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))
    assert host.balance() == rub("-100.00")
    status = host.cabinet().credit.status()
    assert status.dashboard.available == rub("900.00")

    host.clock.set(datetime(2024, 4, 1, 6, tzinfo=UTC))
    host.billing.run.day()
    with host.uow() as uow:
        (statement,) = [i for i in uow.invoices.for_account("acc-1") if i.kind.value == "statement"]
        assert statement.total.gross == rub("100.00")
        assert statement.due_on == date(2024, 4, 15)


# ----------------------------------------------------------------------------- cashback


@pytest.mark.spec("M6", "L6")
def test_refund_takes_back_the_cashback_booked_with_it(host: Host) -> None:
    payment_id = host.top_up("100.00", "card")
    assert host.balance() == rub("111.50")

    handled = host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))

    (refunded,) = handled.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount, refunded.from_balance, refunded.cashback, refunded.owed) == (
        rub("115.00"),
        rub("100.00"),
        rub("11.50"),
        rub("0"),
    )
    assert host.balance() == rub("0.00")
    with host.uow() as uow:
        entries = [(e.kind, e.amount, e.ref) for e in uow.ledgers.get("acc-1")]
        assert entries == [
            (EntryKind.TOP_UP, rub("100.00"), payment_id),
            (EntryKind.CASHBACK, rub("11.50"), f"{payment_id}-cashback"),
            (EntryKind.REFUND, rub("-100.00"), payment_id),
            (EntryKind.REFUND, rub("-11.50"), f"{payment_id}-cashback"),
        ]
        cashback = uow.payments.get(f"{payment_id}-cashback")
        assert (cashback.status, cashback.refunded) == (PaymentStatus.REFUNDED, rub("11.50"))
    host.books_agree()


@pytest.mark.spec("M6", "L6")
def test_partial_refund_takes_back_its_share_of_the_payment_and_of_the_cashback(
    host: Host,
) -> None:
    payment_id = host.top_up("100.00", "card")  # 115.00 paid: 100.00 credited, 11.50 cashback
    half = host.billing.webhooks.handle(
        *host.callback(payment_id, PaymentEventKind.REFUNDED, amount=rub("57.50"))
    )
    assert half.status is PaymentStatus.PARTIALLY_REFUNDED
    (refunded,) = half.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount, refunded.from_balance, refunded.cashback) == (
        rub("57.50"),
        rub("50.00"),
        rub("5.75"),
    )
    assert host.balance() == rub("55.75")

    # A third of what is left, then the rest: the parts add up to what was credited.
    third = host.billing.webhooks.handle(
        *host.callback(payment_id, PaymentEventKind.REFUNDED, amount=rub("19.17"))
    )
    assert third.status is PaymentStatus.PARTIALLY_REFUNDED
    rest = host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))
    assert rest.status is PaymentStatus.REFUNDED
    assert host.balance() == rub("0.00")
    with host.uow() as uow:
        payment = uow.payments.get(payment_id)
        assert (payment.refunded, payment.refundable) == (rub("115.00"), rub("0"))
        cashback = uow.payments.get(f"{payment_id}-cashback")
        assert (cashback.status, cashback.refunded) == (PaymentStatus.REFUNDED, rub("11.50"))
        refunds = [e.amount for e in uow.ledgers.get("acc-1") if e.kind is EntryKind.REFUND]
        assert sum(r.amount for r in refunds) == rub("-111.50").amount
    host.books_agree()


@pytest.mark.spec("L6")
def test_refund_of_more_than_is_left_is_refused_and_changes_nothing(host: Host) -> None:
    payment_id = host.top_up("100.00", "card")
    host.billing.webhooks.handle(
        *host.callback(payment_id, PaymentEventKind.REFUNDED, amount=rub("100.00"))
    )
    with pytest.raises(InvalidAmountError, match=r"has only 15\.00 RUB left to refund"):
        host.billing.webhooks.handle(
            *host.callback(payment_id, PaymentEventKind.REFUNDED, amount=rub("15.01"))
        )
    with host.uow() as uow:
        payment = uow.payments.get(payment_id)
        assert (payment.status, payment.refunded) == (
            PaymentStatus.PARTIALLY_REFUNDED,
            rub("100.00"),
        )
    host.billing.webhooks.handle(*host.callback(payment_id, PaymentEventKind.REFUNDED))
    with pytest.raises(InvalidAmountError, match="refunded in full already"):
        host.billing.webhooks.handle(
            *host.callback(payment_id, PaymentEventKind.REFUNDED, amount=rub("0.01"))
        )
    assert host.balance() == rub("0.00")
    host.books_agree()


# ----------------------------------------------------------------------------- event ids


@pytest.mark.spec("L6")
def test_event_id_reused_with_other_content_is_refused_and_changes_nothing(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    payment = host.cabinet().payments.top_up(rub("100.00"), "wallet").payment
    paying = host.callback(payment.id, PaymentEventKind.PAYING, event_key="evt-1")
    assert host.billing.webhooks.handle(*paying).outcome is EventOutcome.APPLIED
    credited = host.callback(payment.id, PaymentEventKind.CREDITED, event_key="evt-1")
    with (
        caplog.at_level(logging.WARNING, logger="cabinet_billing.app.webhooks"),
        pytest.raises(EventIdReusedError, match="'evt-1': was processed before with other"),
    ):
        host.billing.webhooks.handle(*credited)
    assert "reused with other content" in caplog.text
    with host.uow() as uow:
        assert uow.payments.get(payment.id).status is PaymentStatus.PAYING
    assert host.balance() == rub("0")
    # The provider's real event for it, under its own id, credits the money.
    again = host.callback(payment.id, PaymentEventKind.CREDITED, event_key="evt-2")
    assert host.billing.webhooks.handle(*again).outcome is EventOutcome.APPLIED
    assert host.balance() == rub("100.00")


@pytest.mark.spec("L6")
def test_event_id_reused_for_another_accounts_payment_is_refused(host: Host) -> None:
    first = host.cabinet("acc-1").payments.top_up(rub("100.00"), "wallet").payment
    second = host.cabinet("acc-2").payments.top_up(rub("50.00"), "wallet").payment
    host.billing.webhooks.handle(
        *host.callback(first.id, PaymentEventKind.CREDITED, event_key="evt-1")
    )
    with pytest.raises(EventIdReusedError) as refused:
        host.billing.webhooks.handle(
            *host.callback(second.id, PaymentEventKind.CREDITED, event_key="evt-1")
        )
    assert (refused.value.event_id, refused.value.payment_id) == ("evt-1", second.id)
    assert (host.balance("acc-1"), host.balance("acc-2")) == (rub("100.00"), rub("0"))
    with host.uow() as uow:
        assert uow.payments.get(second.id).status is PaymentStatus.NEW


@pytest.mark.spec("L6")
def test_event_delivered_again_is_a_duplicate_that_changes_nothing(host: Host) -> None:
    payment = host.cabinet().payments.top_up(rub("100.00"), "card").payment
    callback = host.callback(payment.id, PaymentEventKind.CREDITED, event_key="evt-1")
    assert host.billing.webhooks.handle(*callback).outcome is EventOutcome.APPLIED
    for _ in range(3):
        again = host.billing.webhooks.handle(*callback)
        assert (again.outcome, again.status, again.events) == (
            EventOutcome.DUPLICATE,
            PaymentStatus.CREDITED,
            (),
        )
    assert host.balance() == rub("111.50")
    refund = host.callback(
        payment.id, PaymentEventKind.REFUNDED, event_key="evt-2", amount=rub("57.50")
    )
    host.billing.webhooks.handle(*refund)
    assert host.billing.webhooks.handle(*refund).outcome is EventOutcome.DUPLICATE
    assert host.balance() == rub("55.75")
    assert host.notifier.kinds("acc-1") == ["payment.credited", "payment.refunded"]
