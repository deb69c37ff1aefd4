"""Statements and lists read a page and the period's sums from the store, not the whole history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import attrs
import pytest

from cabinet_billing import Account, BillingSettings, Money, Period, PostalAddress, Service
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.paging import Page, paginate
from cabinet_billing.app.results import ExpenseList
from cabinet_billing.domain.documents import build_reconciliation
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceLine, invoice_order
from cabinet_billing.domain.ledger import Ledger, LedgerEntry
from cabinet_billing.domain.money import sum_money
from cabinet_billing.domain.payment import Payment, PaymentStatus
from cabinet_billing.domain.service import Actor
from cabinet_billing.ports.listing import ExpenseQuery, InvoiceQuery, PaymentQuery
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("L1")

T = TypeVar("T")

NOW = datetime(2024, 6, 1, 9, tzinfo=UTC)
FIRST = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)


@attrs.frozen
class Wired:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    kind: str

    def book(self, count: int, *, every: timedelta = timedelta(hours=5)) -> None:
        """``count`` ledger entries from March 1st on, charges and top-ups, some in EUR."""
        with self.uow() as uow:
            ledger = uow.ledgers.get("acc-1")
            for i in range(count):
                at = FIRST + every * i
                code = "EUR" if i % 5 == 4 else "RUB"
                if i % 3 == 2:
                    ledger.charge(Money(f"{i % 40}.1234", code), at, ref=f"e{i}")
                else:
                    ledger.top_up(Money(f"{i % 70 + 1}.50", code), at, ref=f"p{i}")
            uow.commit()


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    clock = FixedClock(NOW, tz="Europe/Moscow")
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=SandboxGateway(b"ranges: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(),
    )
    account = Account.open("acc-1", "u1", email="u1@example.com", currency="RUB")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    kind = "memory" if isinstance(unit_of_work(), MemoryUnitOfWork) else "sql"
    return Wired(billing, unit_of_work, clock, kind)


def _entry_id(entry: LedgerEntry) -> str:
    return str(entry.seq)


def _id(item: Invoice | Payment | Expense) -> str:
    return item.id


def _old_statement(
    s: Wired, start: date, end: date, *, limit: int, after: str | None, newest_first: bool
) -> tuple[Money, Money, Money, tuple[LedgerEntry, ...], str | None, int]:
    """The statement as it was worked out from every entry of the ledger."""
    tz = s.clock.now().tzinfo or UTC
    with s.uow() as uow:
        entries = uow.ledgers.get("acc-1").entries("RUB")
    before = [e for e in entries if e.at.astimezone(tz).date() < start]
    during = [e for e in entries if start <= e.at.astimezone(tz).date() < end]
    page = paginate(during, _entry_id, limit=limit, after=after, newest_first=newest_first)
    return (
        sum_money((e.amount for e in before), "RUB"),
        sum_money((e.amount for e in during if e.amount.amount > 0), "RUB"),
        sum_money((-e.amount for e in during if e.amount.amount < 0), "RUB"),
        page.items,
        page.next_after,
        page.total,
    )


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_statement_pages_as_it_did_when_it_read_every_entry(s: Wired, newest_first: bool) -> None:
    s.book(700, every=timedelta(hours=1))  # March 1st to 30th
    balance = s.billing.cabinet("acc-1", "u1").balance
    start, end = date(2024, 3, 3), date(2024, 3, 25)
    after: str | None = None
    pages = 0
    while True:
        statement = balance.statement(start, end, limit=50, after=after, newest_first=newest_first)
        opening, gained, spent, items, next_after, total = _old_statement(
            s, start, end, limit=50, after=after, newest_first=newest_first
        )
        assert (statement.opening, statement.credits, statement.debits) == (
            opening,
            gained,
            spent,
        )
        assert str(statement.opening) == str(opening)
        assert statement.closing == opening + gained - spent
        assert statement.entries.items == items
        assert (statement.entries.next_after, statement.entries.total) == (next_after, total)
        pages += 1
        if next_after is None:
            break
        after = next_after
    assert pages > 3


def test_a_statement_of_a_period_before_the_first_entry_or_after_the_last(s: Wired) -> None:
    s.book(20)
    balance = s.billing.cabinet("acc-1", "u1").balance
    early = balance.statement(date(2024, 1, 1), date(2024, 2, 1))
    assert (early.opening, early.closing, early.entries.total) == (
        Money.zero("RUB"),
        Money.zero("RUB"),
        0,
    )
    late = balance.statement(date(2024, 5, 1), date(2024, 5, 2))
    assert late.opening == late.closing == balance.get("RUB")
    assert late.entries.items == ()


@pytest.fixture
def decoded(s: Wired, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """The ledger entries the SQL store decodes from rows (the memory store decodes none)."""
    if s.kind == "memory":
        yield []
        return
    from cabinet_billing.adapters.sql import store  # noqa: PLC0415 - extra

    seen: list[object] = []
    decode = store.decode  # type: ignore[attr-defined]

    def counting(data: object, kind: type) -> object:
        if kind is LedgerEntry:
            seen.append(data)
        return decode(data, kind)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "decode", counting)
    yield seen


def test_a_statement_reads_a_page_of_a_long_ledger_not_its_history(
    s: Wired, decoded: list[object]
) -> None:
    s.book(10_000, every=timedelta(minutes=20))  # March 1st to mid-July
    balance = s.billing.cabinet("acc-1", "u1").balance
    decoded.clear()
    first = balance.statement(date(2024, 4, 1), date(2024, 5, 1), limit=50)
    assert (len(first.entries), first.entries.total) == (50, 1728)
    if s.kind != "memory":
        assert len(decoded) <= 51  # the page and the entry that tells whether one follows
    decoded.clear()
    second = balance.statement(
        date(2024, 4, 1), date(2024, 5, 1), limit=50, after=first.entries.next_after
    )
    assert second.entries.items[0].seq > first.entries.items[-1].seq
    if s.kind != "memory":
        assert len(decoded) <= 52  # and the cursor's entry
    with s.uow() as uow:
        ledger: Ledger = uow.ledgers.get("acc-1")
        assert ledger.verify()


@pytest.mark.spec("L8")
def test_a_reconciliation_reads_its_period_and_adds_up_the_rest_in_the_store(
    s: Wired, decoded: list[object]
) -> None:
    s.book(3_000, every=timedelta(hours=1))  # March 1st to about July 3rd
    documents = s.billing.cabinet("acc-1", "u1").documents
    decoded.clear()
    april = documents.reconciliation("RUB", date(2024, 4, 1), date(2024, 5, 1))
    if s.kind != "memory":
        assert len(decoded) == 30 * 24 * 4 // 5  # April's entries in roubles, no others
    tz = s.clock.now().tzinfo or UTC
    with s.uow() as uow:
        entries = uow.ledgers.get("acc-1").entries()
    assert april == build_reconciliation(
        entries,
        account_id="acc-1",
        currency="RUB",
        start=date(2024, 4, 1),
        end=date(2024, 5, 1),
        tz=tz,
    )
    assert str(april.opening) == str(
        sum_money(
            (
                e.amount
                for e in entries
                if e.amount.code == "RUB" and e.at.astimezone(tz).date() < date(2024, 4, 1)
            ),
            "RUB",
        )
    )


# ----------------------------------------------------------------------------- lists


def _many(s: Wired, count: int) -> None:
    """``count`` invoices, payments and expenses of acc-1, over a few weeks."""
    with s.uow() as uow:
        for n in range(4):
            uow.services.add(
                Service.order(
                    id=f"ser-{n}",
                    account_id="acc-1",
                    plan_id="vps",
                    plan_name="VPS",
                    kind="vps",
                    price=Money("9.00", "RUB"),
                    period=Period.months(),
                    created_at=FIRST,
                    actor=Actor.system(),
                )
            )
        book = uow.expenses.get("acc-1")
        book.fund("pay-seed", Money("2000.00", "RUB"))
        for n in range(count):
            day = date(2024, 3, 1) + timedelta(days=n % 23)
            invoice = Invoice.issue(
                f"inv-{n}",
                f"HOR-{n + 1}",
                "acc-1",
                [InvoiceLine("VPS", Money(f"{n % 9 + 1}.00", "RUB"), service_id=f"ser-{n % 4}")],
                issued_on=day,
                due_on=day + timedelta(days=14),
            )
            if n % 3 == 0:
                invoice.pay(f"pay-{n}", invoice.amount_due, day)
            uow.invoices.add(invoice)
            payment = Payment.top_up(
                f"pay-{n}", "acc-1", Money("10.00", "RUB"), FIRST + timedelta(hours=n % 50)
            )
            if n % 4 == 0:
                payment.cancel(FIRST)
            uow.payments.add(payment)
            book.add(
                Expense(
                    f"exp-{n}",
                    "acc-1",
                    "VPS",
                    day,
                    Money(f"{n % 7 + 1}.1250", "RUB"),
                    service_id=f"ser-{n % 4}",
                )
            )
        uow.commit()


def _all_pages(fetch: Callable[..., Page[Any]]) -> list[Page[Any]]:
    pages = [fetch(None)]
    while pages[-1].next_after is not None:
        pages.append(fetch(pages[-1].next_after))
    return pages


def _ids(pages: list[Page[Any]]) -> list[tuple[list[str], str | None, int]]:
    return [([x.id for x in p], p.next_after, p.total) for p in pages]


@pytest.mark.spec("L3", "L4", "L6")
@pytest.mark.parametrize("newest_first", [True, False])
def test_lists_page_as_they_did_when_they_read_every_item(s: Wired, newest_first: bool) -> None:
    _many(s, 180)
    cabinet = s.billing.cabinet("acc-1", "u1")
    today = s.clock.today()
    with s.uow() as uow:
        invoices = sorted(uow.invoices.for_account("acc-1"), key=invoice_order)
        payments = [
            p
            for _, p in sorted(
                enumerate(uow.payments.for_account("acc-1")),
                key=lambda x: (x[1].created_at, x[0]),
            )
        ]
        expenses = uow.expenses.get("acc-1").expenses("RUB")
    for shown, service_id in [
        ("all", None),
        ("unpaid", None),
        ("paid", "ser-1"),
        ("overdue", None),
    ]:
        query = InvoiceQuery(InvoiceFilter(shown), today, service_id)
        found = _all_pages(
            lambda after, shown=shown, service_id=service_id: cabinet.invoices.list(
                shown, service_id=service_id, limit=50, after=after, newest_first=newest_first
            )
        )
        expected = _all_pages(
            lambda after, query=query: paginate(
                invoices,
                _id,
                matches=query.matches,
                limit=50,
                after=after,
                newest_first=newest_first,
            )
        )
        assert _ids(found) == _ids(expected)
    assert len(expected) > 1
    for status in (None, "cancelled"):
        found = _all_pages(
            lambda after, status=status: cabinet.payments.list(
                status=status, limit=50, after=after, newest_first=newest_first
            )
        )
        wanted = PaymentQuery(status=None if status is None else PaymentStatus(status))
        expected = _all_pages(
            lambda after, wanted=wanted: paginate(
                payments,
                _id,
                matches=wanted.matches,
                limit=50,
                after=after,
                newest_first=newest_first,
            )
        )
        assert _ids(found) == _ids(expected)
    for chosen in (
        ExpenseQuery("RUB"),
        ExpenseQuery("RUB", since=date(2024, 3, 4), until=date(2024, 3, 19), service_id="ser-2"),
    ):
        lists: list[ExpenseList] = []
        after: str | None = None
        while True:
            lists.append(
                cabinet.balance.expenses(
                    since=chosen.since,
                    until=chosen.until,
                    service_id=chosen.service_id,
                    limit=50,
                    after=after,
                    newest_first=newest_first,
                )
            )
            after = lists[-1].page.next_after
            if after is None:
                break
        expected = _all_pages(
            lambda after, chosen=chosen: paginate(
                expenses,
                _id,
                matches=chosen.matches,
                limit=50,
                after=after,
                newest_first=newest_first,
            )
        )
        assert _ids([x.page for x in lists]) == _ids(expected)
        picked = [e for e in expenses if chosen.matches(e)]
        for listed in lists:
            assert (listed.total, listed.unpaid, listed.tax) == (
                sum_money((e.amount for e in picked), "RUB"),
                sum_money((e.unpaid for e in picked), "RUB"),
                sum_money((e.tax for e in picked), "RUB"),
            )
            assert str(listed.total) == str(sum_money((e.amount for e in picked), "RUB"))


@pytest.fixture
def loaded(s: Wired, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The invoices, payments and expenses a store loads (copies, assembles or decodes)."""
    seen: list[object] = []
    kinds = (Invoice, Payment, Expense)
    if s.kind == "memory":
        from cabinet_billing.adapters.memory import store as memory  # noqa: PLC0415

        copy = memory.clone

        def counting_clone(value: T) -> T:
            if isinstance(value, kinds):
                seen.append(value)
            return copy(value)

        monkeypatch.setattr(memory, "clone", counting_clone)
        return seen
    from cabinet_billing.adapters.sql import store  # noqa: PLC0415 - extra
    from cabinet_billing.adapters.sql.mapping import Shape  # noqa: PLC0415 - extra

    decode = store.decode  # type: ignore[attr-defined]
    assemble = Shape.assemble

    def counting_decode(data: Any, kind: type) -> object:
        if kind in kinds:
            seen.append(data)
        return decode(data, kind)

    def counting_assemble(shape: Any, row: Any, children: Any) -> object:
        found = assemble(shape, row, children)
        if isinstance(found, kinds):
            seen.append(found)
        return found

    monkeypatch.setattr(store, "decode", counting_decode)
    monkeypatch.setattr(Shape, "assemble", counting_assemble)
    return seen


@pytest.mark.spec("L3", "L4", "L6")
def test_a_list_loads_its_page_not_every_item(s: Wired, loaded: list[object]) -> None:
    _many(s, 400)
    cabinet = s.billing.cabinet("acc-1", "u1")
    for read in (
        lambda after: cabinet.invoices.list("all", limit=20, after=after),
        lambda after: cabinet.payments.list(limit=20, after=after),
        lambda after: cabinet.balance.expenses(limit=20, after=after).page,
    ):
        loaded.clear()
        first = read(None)
        assert (len(first), first.total) == (20, 400)
        assert len(loaded) <= 21
        loaded.clear()
        second = read(first.next_after)
        assert second.items[0].id != first.items[-1].id
        assert len(loaded) <= 21
