"""The contract of a store's range reads: sums and pages computed by the store.

The cabinet's lists and statements ask the store for one page and for the totals of
what their filters choose, instead of reading everything and counting in Python. A
host's store proves its range reads with the checks the shipped stores pass:

>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> check_reads(lambda: MemoryUnitOfWork(store))
>>> len(READ_CHECKS)
4

Each check compares the store's answer with the same answer worked out from every
item, for the committed state and for what the unit of work added and has not
committed yet. The checks make their own account ids, so they may share a store.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from cabinet_billing.domain.expense import Expense, totals_of
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceLine, invoice_order
from cabinet_billing.domain.ledger import EntrySums, Ledger, LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import Payment, PaymentPurpose, PaymentStatus
from cabinet_billing.errors import ValidationError
from cabinet_billing.ports.listing import (
    ExpenseQuery,
    InvoiceQuery,
    PaymentQuery,
    Slice,
    Window,
    take,
)
from cabinet_billing.ports.repositories import UnitOfWork

T = TypeVar("T")

__all__ = ["READ_CHECKS", "check_reads"]

_AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _book(ledger: Ledger, count: int, start: int) -> None:
    """Entries in two currencies, of both signs, booked at instants out of ``seq`` order."""
    for i in range(start, start + count):
        at = _AT + timedelta(hours=(i * 7) % 50)
        code = "RUB" if i % 3 else "EUR"
        if i % 4 == 1:
            ledger.charge(Money(f"{i}.0137", code), at, ref=f"e{i}")
        else:
            ledger.top_up(Money(f"{i * 2}.50", code), at, ref=f"p{i}")


def _expected(
    entries: tuple[LedgerEntry, ...],
    since: datetime | None,
    until: datetime | None,
    *,
    after: int | None,
    limit: int | None,
    newest_first: bool,
) -> tuple[LedgerEntry, ...]:
    chosen = [
        e for e in entries if (since is None or e.at >= since) and (until is None or e.at < until)
    ]
    if newest_first:
        chosen.reverse()
        chosen = [e for e in chosen if after is None or e.seq < after]
    else:
        chosen = [e for e in chosen if after is None or e.seq > after]
    return tuple(chosen if limit is None else chosen[:limit])


def _compare(ledger: Ledger, what: str) -> None:
    spans = [
        (None, None),
        (_AT + timedelta(hours=10), _AT + timedelta(hours=30)),
        (None, _AT + timedelta(hours=21)),
        (_AT + timedelta(hours=21), None),
    ]
    for code in ("RUB", "EUR", "USD"):
        every = ledger.entries(code)
        for since, until in spans:
            sums = ledger.sums(code, since=since, until=until)
            chosen = _expected(every, since, until, after=None, limit=None, newest_first=False)
            _check(
                sums == EntrySums.of(chosen, code),
                f"{what}: sums of {code} in [{since}, {until}) are {sums}",
            )
            for newest_first in (False, True):
                for after in (None, 5, 17, 29, 40):
                    for limit in (None, 1, 4):
                        found = ledger.page(
                            code,
                            since=since,
                            until=until,
                            after=after,
                            limit=limit,
                            newest_first=newest_first,
                        )
                        expected = _expected(
                            every,
                            since,
                            until,
                            after=after,
                            limit=limit,
                            newest_first=newest_first,
                        )
                        _check(
                            found == expected,
                            f"{what}: page of {code} in [{since}, {until}) after {after}, "
                            f"limit {limit}, newest first {newest_first}: "
                            f"{[e.seq for e in found]} != {[e.seq for e in expected]}",
                        )


def check_ledger_sums_and_pages(make_uow: Callable[[], UnitOfWork]) -> None:
    """A ledger's sums and pages by range of time are those of its entries, stored or new."""
    account = f"reads-{uuid.uuid4().hex[:12]}"
    with make_uow() as uow:
        _book(uow.ledgers.get(account), 30, 1)
        uow.commit()
    with make_uow() as uow:
        ledger = uow.ledgers.get(account)
        _compare(ledger, "stored entries")
        _book(ledger, 12, 31)
        _compare(ledger, "stored and new entries")
        _check(ledger.verify(), "the ledger's balances are the sums of its entries")


def _windows(ids: Sequence[str]) -> Iterator[Window]:
    """Pages of every size and order, from the start and after items of the listing."""
    cursors: list[str | None] = [None, ids[0], ids[len(ids) // 2], ids[-1]]
    for limit, after, newest_first in itertools.product((1, 3, 500), cursors, (True, False)):
        yield Window(limit, after, newest_first=newest_first)


def _same(found: Slice[Any], expected: Slice[Any], ident: Callable[[Any], str], what: str) -> None:
    got = ([ident(i) for i in found.items], found.more, found.total)
    want = ([ident(i) for i in expected.items], expected.more, expected.total)
    _check(got == want, f"{what}: {got} != {want}")


def _refuses_an_unknown_cursor(page: Callable[[Window], object], what: str) -> None:
    try:
        page(Window(3, "not-an-item"))
    except ValidationError:
        return
    raise AssertionError(f"{what}: a cursor that is not an item is refused")


def _invoice_id(invoice: Invoice) -> str:
    return invoice.id


def _payment_id(payment: Payment) -> str:
    return payment.id


def _expense_id(expense: Expense) -> str:
    return expense.id


def check_invoice_pages(make_uow: Callable[[], UnitOfWork]) -> None:
    """A page of invoices is the one worked out from every invoice of the account."""
    account = f"reads-{uuid.uuid4().hex[:12]}"
    today = date(2024, 3, 20)
    with make_uow() as uow:
        for n in range(14):
            service = f"ser-{n % 3}"
            # Numbers that sort naturally (C-9 before C-10, c-007 beside C-7), several on
            # one day.
            letter = "C" if n % 4 else "c"
            invoice = Invoice.issue(
                f"{account}-inv-{n}",
                f"{account}-{letter}-{(n * 5) % 14 + 1:0{1 + n % 3}d}",
                account,
                [InvoiceLine(f"VPS {n}", Money(f"{n + 1}.00", "RUB"), service_id=service)],
                issued_on=date(2024, 3, 1 + n // 4),
                due_on=date(2024, 3, 10 + n),
            )
            if n in {1, 5, 9, 13}:
                invoice.pay(f"pay-{n}", invoice.amount_due, date(2024, 3, 5))
            if n in {2, 7, 12}:
                invoice.delete(date(2024, 3, 5))
            uow.invoices.add(invoice)
        uow.commit()
    with make_uow() as uow:
        ids = [i.id for i in sorted(uow.invoices.for_account(account), key=invoice_order)]
    for shown, service_id in itertools.product(InvoiceFilter, (None, "ser-1")):
        query = InvoiceQuery(shown, today, service_id)
        for window in _windows(ids):
            with make_uow() as uow:
                ordered = sorted(uow.invoices.for_account(account), key=invoice_order)
                expected = take(ordered, _invoice_id, window=window, matches=query.matches)
            with make_uow() as uow:
                found = uow.invoices.page(account, query, window)
                _check(
                    all(uow.invoices.get(i.id) is i for i in found.items),
                    "a page's invoices are those of the identity map",
                )
            _same(found, expected, _invoice_id, f"invoices {shown.value} {service_id} {window}")
    with make_uow() as uow:
        # What this unit of work changed is part of its answer.
        uow.invoices.get(ids[0]).pay("pay-x", uow.invoices.get(ids[0]).amount_due, today)
        found = uow.invoices.page(account, InvoiceQuery(InvoiceFilter.PAID, today), Window(500))
        _check(ids[0] in [i.id for i in found.items], "an invoice paid here is listed as paid")
        query = InvoiceQuery(InvoiceFilter.ALL, today)
        _refuses_an_unknown_cursor(lambda w: uow.invoices.page(account, query, w), "invoices")
    with make_uow() as uow:
        _refuses_an_unknown_cursor(lambda w: uow.invoices.page(account, query, w), "invoices")


def check_payment_pages(make_uow: Callable[[], UnitOfWork]) -> None:
    """A page of payments is the one worked out from every payment of the account."""
    account = f"reads-{uuid.uuid4().hex[:12]}"
    with make_uow() as uow:
        for n in range(13):
            at = _AT + timedelta(hours=n // 3)  # three payments created at each instant
            if n in {2, 5, 8, 11}:
                payment = Payment.for_invoice(
                    f"{account}-pay-{n}", account, f"inv-{n % 2}", Money("5.00", "RUB"), at
                )
            else:
                payment = Payment.top_up(f"{account}-pay-{n}", account, Money("9.00", "RUB"), at)
            if n % 4 == 0:
                payment.cancel(at)
            uow.payments.add(payment)
        uow.commit()

    def ordered(uow: UnitOfWork) -> list[Payment]:
        found = enumerate(uow.payments.for_account(account))
        return [p for _, p in sorted(found, key=lambda x: (x[1].created_at, x[0]))]

    with make_uow() as uow:
        ids = [p.id for p in ordered(uow)]
    queries = [
        PaymentQuery(),
        PaymentQuery(status=PaymentStatus.CANCELLED),
        PaymentQuery(purpose=PaymentPurpose.INVOICE, invoice_id="inv-1"),
        PaymentQuery(status=PaymentStatus.NEW, purpose=PaymentPurpose.TOP_UP),
    ]
    for query in queries:
        for window in _windows(ids):
            with make_uow() as uow:
                expected = take(ordered(uow), _payment_id, window=window, matches=query.matches)
            with make_uow() as uow:
                found = uow.payments.page(account, query, window)
            _same(found, expected, _payment_id, f"payments {query} {window}")
    with make_uow() as uow:
        uow.payments.get(ids[1]).cancel(_AT)
        found = uow.payments.page(account, queries[1], Window(500))
        _check(ids[1] in [p.id for p in found.items], "a payment cancelled here is listed so")
        _refuses_an_unknown_cursor(lambda w: uow.payments.page(account, queries[0], w), "payments")
    with make_uow() as uow:
        _refuses_an_unknown_cursor(lambda w: uow.payments.page(account, queries[0], w), "payments")


def check_expense_pages_and_totals(make_uow: Callable[[], UnitOfWork]) -> None:
    """A page of expenses and its totals are those worked out from the whole book."""
    account = f"reads-{uuid.uuid4().hex[:12]}"
    with make_uow() as uow:
        book = uow.expenses.get(account)
        book.fund("pay-1", Money("100.00", "RUB"))
        for n in range(15):
            code = "EUR" if n in {4, 9, 14} else "RUB"
            book.add(
                Expense(
                    f"{account}-e{n}",
                    account,
                    "VPS",
                    date(2024, 3, 1 + (n * 7) % 9),  # charged out of the order recorded
                    Money(f"{n + 3}.0125", code),
                    tax=Money(f"{n % 3}.10", code),
                    service_id=f"ser-{n % 2}",
                )
            )
        uow.commit()
    queries = [
        ExpenseQuery("RUB"),
        ExpenseQuery("RUB", since=date(2024, 3, 3), until=date(2024, 3, 8)),
        ExpenseQuery("RUB", service_id="ser-1", unpaid_only=True),
        ExpenseQuery("EUR", unpaid_only=True),
        ExpenseQuery("USD"),
    ]
    for query in queries:
        with make_uow() as uow:
            ids = [e.id for e in uow.expenses.get(account).expenses(query.currency)]
        windows = list(_windows(ids)) if ids else [Window(3), Window(3, newest_first=False)]
        for window in windows:
            with make_uow() as uow:
                every = uow.expenses.get(account).expenses(query.currency)
                expected = take(every, _expense_id, window=window, matches=query.matches)
                totals = totals_of([e for e in every if query.matches(e)], query.currency)
            with make_uow() as uow:
                found, sums = uow.expenses.page(account, query, window)
            _same(found, expected, _expense_id, f"expenses {query} {window}")
            _check(
                [(e.amount, e.unpaid, e.tax) for e in found.items]
                == [(e.amount, e.unpaid, e.tax) for e in expected.items],
                "a page's expenses are those of the book",
            )
            _check(sums == totals, f"expenses {query}: totals {sums} != {totals}")
        with make_uow() as uow:
            # A cursor that is no expense of the listing is refused.
            page = functools.partial(uow.expenses.page, account, query)
            _refuses_an_unknown_cursor(page, "expenses")
    with make_uow() as uow:
        uow.expenses.get(account).fund("pay-2", Money("500.00", "RUB"))
        _, sums = uow.expenses.page(account, queries[0], Window(3))
        _check(sums.unpaid == Money.zero("RUB"), "what this unit of work paid is paid")


READ_CHECKS = (
    check_ledger_sums_and_pages,
    check_invoice_pages,
    check_payment_pages,
    check_expense_pages_and_totals,
)
"""Every check, in the order :func:`check_reads` runs them."""


def check_reads(make_uow: Callable[[], UnitOfWork]) -> None:
    """Run every range-read check against units of work made by ``make_uow``.

    Raises:
        AssertionError: naming the first broken promise.
    """
    for check in READ_CHECKS:
        check(make_uow)
