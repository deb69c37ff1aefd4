"""The cabinet's paged lists on every store: invoices, payments, expenses, the ledger (L1, L3, L4, L6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    NotFoundError,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.results import OrderResult
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 5, 10, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class Wired:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def top_up(self, amount: str) -> str:
        started = self.owner.payments.top_up(rub(amount), "card")
        self.billing.webhooks.handle(
            *self.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.clock.now())
        )
        return started.payment.id

    def order(self, price: str, order_id: str) -> OrderResult:
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
        cart = Cart("acc-1", "RUB")
        cart.add(plan, "month")
        return self.owner.orders.place(
            cart.checkout(
                "balance",
                self.clock.today(),
                order_id=order_id,
                tax=self.billing.settings.tax,
                country="RU",
            ),
        )

    def skip_invoice_numbers(self, to: int) -> None:
        """Let the invoice counter stand at ``to`` (as after years of invoices)."""
        with self.uow() as uow:
            while uow.sequences.next("invoice-number") < to:
                pass
            uow.commit()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def s(request: pytest.FixtureRequest) -> Wired:
    if request.param == "memory":
        store = MemoryStore()
        unit_of_work: Callable[[], UnitOfWork] = lambda: MemoryUnitOfWork(store)  # noqa: E731
    else:
        from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

        fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
        sql: SqlStore = request.getfixturevalue(fixture)
        unit_of_work = lambda: SqlUnitOfWork(sql)  # noqa: E731
    clock = FixedClock(START)
    gateway = SandboxGateway(b"reads: a sandbox signing key of 32+ bytes")
    billing = Billing(
        Ports(unit_of_work=unit_of_work, clock=clock, gateway=gateway, notifier=InMemoryNotifier()),
        BillingSettings(
            invoice_numbers=NumberFormat("{prefix}-{service_code}-{seq:03}"),
            invoice_prefix="HOR",
            service_code="11111",
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
            credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
            credit_limit=rub("1000.00"),
        ),
    )
    for account_id, owner in (("acc-1", "u1"), ("acc-2", "u2")):
        account = Account.open(account_id, owner, email=f"{owner}@example.com", currency="RUB")
        account.change_name("Fairy", "Jill")
        account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
        billing.open_account(account, owner_id=owner, owner_name="Jill")
    return Wired(billing, unit_of_work, clock, gateway)


def numbers(page: object) -> list[str]:
    return [i.number for i in page]  # type: ignore[attr-defined]


@pytest.mark.spec("L4")
def test_the_invoice_list_filters_sorts_naturally_and_pages(s: Wired) -> None:
    s.top_up("150.00")
    paid = s.order("100.00", "o-1")  # HOR-11111-001, paid from the balance
    unpaid = s.order("5000.00", "o-2")  # HOR-11111-002
    s.skip_invoice_numbers(998)
    s.order("900.00", "o-3")  # HOR-11111-999
    s.order("800.00", "o-4")  # HOR-11111-1000
    invoices = s.owner.invoices
    # Unpaid by default, newest first: on one day the numbers sort naturally.
    assert numbers(invoices.list()) == ["HOR-11111-1000", "HOR-11111-999", "HOR-11111-002"]
    assert numbers(invoices.list(newest_first=False)) == [
        "HOR-11111-002",
        "HOR-11111-999",
        "HOR-11111-1000",
    ]
    # The top-up's advance-payment invoice, paid by it, is listed with the others.
    assert numbers(invoices.list("paid")) == ["HOR-11111-001", "AV-2024-00001"]
    assert numbers(invoices.list("overdue")) == []
    # All invoices of one order (Introserv), two at a time.
    assert numbers(invoices.list("all", service_id=paid.service_ids[0])) == ["HOR-11111-001"]
    first = invoices.list("all", limit=2)
    assert (numbers(first), first.total, first.is_last) == (
        ["HOR-11111-1000", "HOR-11111-999"],
        5,
        False,
    )
    # An invoice deleted between two pages keeps its place: the next page starts after it.
    s.owner.invoices.delete(first.items[-1].id)
    second = invoices.list("all", limit=2, after=first.next_after)
    assert (numbers(second), second.total) == (["HOR-11111-002", "HOR-11111-001"], 4)
    last = invoices.list("all", limit=2, after=second.next_after)
    assert (numbers(last), last.next_after) == (["AV-2024-00001"], None)
    assert invoices.get(unpaid.invoice.id).number == "HOR-11111-002"
    # Past the due date (14 days), what is left to pay is overdue.
    s.clock.advance(days=15)
    assert numbers(invoices.list("overdue")) == ["HOR-11111-1000", "HOR-11111-002"]


@pytest.mark.spec("L4")
def test_the_invoice_list_refuses_a_bad_filter_page_or_cursor(s: Wired) -> None:
    s.order("100.00", "o-1")
    invoices = s.owner.invoices
    with pytest.raises(ValidationError, match="status='open' is invalid: expected one of unpaid"):
        invoices.list("open")
    with pytest.raises(ValidationError, match="limit=501 is invalid: expected a whole number"):
        invoices.list(limit=501)
    with pytest.raises(ValidationError, match="after='inv-9' is invalid: expected the next_after"):
        invoices.list(after="inv-9")
    other = s.billing.cabinet("acc-2", "u2")
    with pytest.raises(NotFoundError):
        other.invoices.list(service_id="ser-1")
    with pytest.raises(NotFoundError):
        other.invoices.get("inv-1")
    assert numbers(other.invoices.list("all")) == []


@pytest.mark.spec("L6")
def test_the_payment_list_filters_by_status_and_purpose(s: Wired) -> None:
    first = s.top_up("150.00")
    second = s.owner.payments.top_up(rub("40.00"), "card").payment.id  # left unpaid: "new"
    s.clock.advance(days=1)
    third = s.top_up("60.00")
    payments = s.owner.payments
    assert [p.id for p in payments.list()] == [third, second, first]
    assert [p.id for p in payments.list(status="credited", newest_first=False)] == [first, third]
    assert [p.id for p in payments.list(status="new")] == [second]
    assert [p.id for p in payments.list(purpose="invoice")] == []
    page = payments.list(limit=1, after=third)
    assert ([p.id for p in page], page.next_after, page.total) == ([second], second, 3)
    with pytest.raises(ValidationError, match="status='paid' is invalid"):
        payments.list(status="paid")


@pytest.mark.spec("L3")
def test_expenses_page_with_the_total_and_the_unpaid_total(s: Wired) -> None:
    s.top_up("150.00")
    first = s.order("100.00", "o-1")  # paid from the balance: 50.00 left
    s.billing.staff.open_credit_line("acc-1")
    s.clock.advance(days=2)
    second = s.order("80.00", "o-2")
    # The balance pays 50.00, the credit line the other 30.00: the expense is unpaid by 30.00.
    s.owner.invoices.pay(second.invoice.id)
    expenses = s.owner.balance.expenses()
    assert [(e.service_id, e.amount, e.unpaid) for e in expenses.page] == [
        (second.service_ids[0], rub("80.00"), rub("30.00")),
        (first.service_ids[0], rub("100.00"), rub("0.00")),
    ]
    assert (expenses.total, expenses.unpaid) == (rub("180.00"), rub("30.00"))
    unpaid = s.owner.balance.expenses(unpaid_only=True)
    assert [e.service_id for e in unpaid.page] == [second.service_ids[0]]
    assert (unpaid.total, unpaid.unpaid) == (rub("80.00"), rub("30.00"))
    march_5 = s.owner.balance.expenses(since=date(2024, 3, 5), until=date(2024, 3, 6))
    assert (march_5.total, march_5.page.total) == (rub("100.00"), 1)
    by_service = s.owner.balance.expenses(service_id=first.service_ids[0], limit=1)
    assert (by_service.total, by_service.page.is_last) == (rub("100.00"), True)
    with pytest.raises(ValidationError, match=r"until=datetime.date\(2024, 3, 1\) is invalid"):
        s.owner.balance.expenses(since=date(2024, 3, 5), until=date(2024, 3, 1))


@pytest.mark.spec("L1")
def test_the_ledger_statement_of_a_period(s: Wired) -> None:
    s.top_up("150.00")  # March 5
    s.order("100.00", "o-1")
    s.clock.advance(days=27)  # April 1
    s.top_up("60.00")
    march = s.owner.balance.statement(date(2024, 3, 1), date(2024, 4, 1))
    assert (march.opening, march.credits, march.debits, march.closing) == (
        rub("0"),
        rub("150.00"),
        rub("100.00"),
        rub("50.00"),
    )
    assert [(e.kind.value, e.amount) for e in march.entries] == [
        ("top_up", rub("150.00")),
        ("charge", rub("-100.00")),
    ]
    april = s.owner.balance.statement(date(2024, 4, 1), date(2024, 5, 1), limit=1)
    assert (april.opening, april.closing, april.entries.total) == (
        rub("50.00"),
        rub("110.00"),
        1,
    )
    both = s.owner.balance.statement(date(2024, 3, 1), date(2024, 5, 1), limit=2)
    rest = s.owner.balance.statement(
        date(2024, 3, 1), date(2024, 5, 1), limit=2, after=both.entries.next_after
    )
    assert [e.amount for e in rest.entries] == [rub("60.00")]
    assert rest.closing == s.owner.balance.get("RUB")
    with pytest.raises(ValidationError, match=r"end=datetime.date\(2024, 3, 1\) is invalid"):
        s.owner.balance.statement(date(2024, 3, 1), date(2024, 3, 1))
