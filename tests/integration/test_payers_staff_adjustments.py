"""The provider's staff adjust balances and open credit lines, on every store (SPEC R1, L3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    Cabinet,
    Cart,
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidAmountError,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.events import InvoicePaid
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import PrecisionError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 5, 9, tzinfo=UTC)


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


@attrs.frozen
class Wired:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    gateway: SandboxGateway
    clock: FixedClock

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def top_up(self, amount: str) -> None:
        started = self.owner.payments.top_up(uah(amount), "card")
        self.billing.webhooks.handle(
            *self.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.clock.now()),
        )

    def order(self, price: str, order_id: str) -> str:
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": uah(price)})
        cart = Cart("acc-1", "UAH")
        cart.add(plan, "month")
        placed = self.owner.orders.place(
            cart.checkout(
                "balance",
                self.clock.today(),
                order_id=order_id,
                tax=self.billing.settings.tax,
                country="UA",
            ),
        )
        return placed.invoice.id

    def state(self) -> tuple[object, ...]:
        with self.uow() as uow:
            ledger = uow.ledgers.get("acc-1")
            book = uow.expenses.get("acc-1")
            line = uow.profiles.get("acc-1").credit
            return (
                len(ledger.entries()),
                ledger.balance("UAH"),
                book.available("UAH"),
                None if line is None else (line.limit, line.debt),
            )


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    clock = FixedClock(START)
    gateway = SandboxGateway(b"staff: a sandbox signing key of 32+ bytes")
    billing = Billing(
        Ports(unit_of_work=unit_of_work, clock=clock, gateway=gateway, notifier=InMemoryNotifier()),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
            credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
            credit_limit=uah("1000.00"),
        ),
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH", country="UA")
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    billing.open_account(account, owner_id="u1", owner_name="Taras")
    return Wired(billing, unit_of_work, gateway, clock)


@pytest.mark.spec("L3")
def test_staff_credit_and_debit_a_balance_with_a_reason(s: Wired) -> None:
    staff = s.billing.staff
    credit = staff.adjust_balance(
        "acc-1", uah("25.00"), reason="goodwill credit for the outage of 3 March", by="bob"
    )
    assert (credit.amount, credit.balance, credit.by, credit.reason, credit.events) == (
        uah("25.00"),
        uah("25.00"),
        "bob",
        "goodwill credit for the outage of 3 March",
        (),
    )
    debit = staff.adjust_balance("acc-1", uah("-10.00"), reason="duplicate credit", by="alice")
    assert (debit.amount, debit.balance) == (uah("-10.00"), uah("15.00"))
    with s.uow() as uow:
        entries = uow.ledgers.get("acc-1").entries()
        available = uow.expenses.get("acc-1").available("UAH")
    assert [(e.kind, e.amount, e.memo, e.ref) for e in entries] == [
        (
            EntryKind.ADJUSTMENT,
            uah("25.00"),
            "goodwill credit for the outage of 3 March",
            "staff:bob",
        ),
        (EntryKind.ADJUSTMENT, uah("-10.00"), "duplicate credit", "staff:alice"),
    ]
    assert [e.seq for e in entries] == [credit.entry_seq, debit.entry_seq]
    assert available == uah("15.00")
    assert s.owner.balance.get("UAH") == uah("15.00")


@pytest.mark.spec("L3", "M1")
def test_a_refused_adjustment_names_the_value_and_changes_nothing(s: Wired) -> None:
    staff = s.billing.staff
    s.top_up("40.00")
    before = s.state()
    refusals: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (
            InvalidAmountError,
            "an adjustment of zero changes nothing",
            lambda: staff.adjust_balance("acc-1", uah("0.00"), reason="x", by="bob"),
        ),
        (
            PrecisionError,
            "10.005",
            lambda: staff.adjust_balance("acc-1", uah("10.005"), reason="x", by="bob"),
        ),
        (
            CurrencyMismatchError,
            "EUR",
            lambda: staff.adjust_balance("acc-1", Money("5.00", "EUR"), reason="x", by="bob"),
        ),
        (
            InsufficientFundsError,
            "40.01",
            lambda: staff.adjust_balance("acc-1", uah("-40.01"), reason="x", by="bob"),
        ),
        (
            ValidationError,
            "reason",
            lambda: staff.adjust_balance("acc-1", uah("5.00"), reason=" ", by="bob"),
        ),
        (
            ValidationError,
            "by",
            lambda: staff.adjust_balance("acc-1", uah("5.00"), reason="x", by=""),
        ),
        (
            ValidationError,
            "amount",
            lambda: staff.adjust_balance("acc-1", "5.00", reason="x", by="bob"),  # type: ignore[arg-type]
        ),
    ]
    for error, text, call in refusals:
        with pytest.raises(error, match=text):
            call()
        assert s.state() == before


@pytest.mark.spec("L3")
def test_an_adjustment_with_a_key_is_booked_once(s: Wired) -> None:
    staff = s.billing.staff
    first = staff.adjust_balance("acc-1", uah("5.00"), reason="promo", by="bob", key="t-77")
    again = staff.adjust_balance("acc-1", uah("5.00"), reason="promo", by="bob", key="t-77")
    assert (again.entry_seq, again.balance) == (first.entry_seq, uah("5.00"))
    with pytest.raises(ConflictError, match=r"already used for an adjustment of 5\.00 UAH"):
        staff.adjust_balance("acc-1", uah("6.00"), reason="promo", by="bob", key="t-77")
    assert s.state()[:2] == (1, uah("5.00"))


@pytest.mark.spec("L3", "R1")
def test_a_credit_pays_off_the_debt_first_then_open_invoices(s: Wired) -> None:
    staff = s.billing.staff
    staff.open_credit_line("acc-1")
    bought = s.order("100.00", "o-1")
    s.owner.invoices.pay(bought)  # on credit
    waiting = s.order("30.00", "o-2")
    assert s.state()[1:] == (uah("-100.00"), uah("0"), (uah("1000.00"), uah("100.00")))
    credit = staff.adjust_balance("acc-1", uah("130.00"), reason="settlement", by="bob")
    assert [type(e) for e in credit.events if isinstance(e, InvoicePaid)] == [InvoicePaid]
    assert credit.balance == uah("0.00")
    with s.uow() as uow:
        assert all(e.is_paid for e in uow.expenses.get("acc-1").expenses())
        assert not uow.invoices.get(waiting).is_open()
        line = uow.profiles.get("acc-1").credit
        assert line is not None
        assert line.debt == uah("0.00")


@pytest.mark.spec("R1")
def test_a_credit_line_is_opened_in_the_accounts_currency_only(s: Wired) -> None:
    staff = s.billing.staff
    with pytest.raises(CurrencyMismatchError, match=r"credit limit 500\.00 EUR of account 'acc-1'"):
        staff.open_credit_line("acc-1", Money("500.00", "EUR"))
    assert s.state()[3] is None
    line = staff.open_credit_line("acc-1", uah("500.00"))
    assert (line.limit, line.currency) == (uah("500.00"), "UAH")
    with pytest.raises(CurrencyMismatchError):
        staff.open_credit_line("acc-1", Money("600.00", "EUR"))
    with pytest.raises(PrecisionError):
        staff.open_credit_line("acc-1", uah("600.005"))
    assert s.state()[3] == (uah("500.00"), uah("0"))
