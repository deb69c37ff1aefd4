"""The contract every :class:`~cabinet_billing.ports.repositories.UnitOfWork` keeps.

A host that stores the aggregates in its own database proves its implementation with the
same checks the shipped stores pass. With pytest, subclass :class:`UnitOfWorkContract`
and say how to make a unit of work over a fresh store::

    class TestMyStore(UnitOfWorkContract):
        @pytest.fixture(autouse=True)
        def _store(self, tmp_path):
            self.store = MyStore(tmp_path / "billing.db")

        def make_uow(self) -> UnitOfWork:
            return MyUnitOfWork(self.store)

Every ``test_*`` method of the class is one check. Without pytest's collection,
:func:`check_unit_of_work` runs every check against a factory of units of work. The
checks make their own ids, so they may share one store, even one that holds data:

>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> check_unit_of_work(lambda: MemoryUnitOfWork(store))
>>> len(CHECKS)
24

What the checks hold a store to:

* commit persists; leaving without commit, an exception and :meth:`rollback` keep the
  committed state exactly as it was; a unit of work can go on after a commit, and the
  aggregates it handed out before stay its own: a change to one is stored by the next
  commit and only by it, a rollback discards it;
* the identity map: one object per id within a unit of work, whichever query found it;
* adding an existing id raises :class:`~cabinet_billing.errors.ConflictError` naming the
  id, getting an unknown one raises :class:`~cabinet_billing.errors.NotFoundError`;
* per-account aggregates (ledger, expense book, payers, documents, billing profile)
  start empty, and tickets round-trip;
* ``services.view`` lists what ``for_account`` lists, and a viewed service either
  refuses a change or is the unit of work's own (committed or rolled back with it);
* a service's history is read by range: a service with many records loads without
  reading them (by id, with its account and in the view), pages of it come back in
  order, a record made after a reload is stored once (also by a unit of work that goes
  on after a commit) and a rolled back one not at all;
* an expense book of 300 expenses, most of them paid, behaves as if it were loaded whole
  (a store may load only the unpaid ones and read the rest from a shelf): putting old
  paid expenses in an act and releasing it, a refund that makes paid ones unpaid, the
  payment that pays them off and a charge booked late are stored exactly and change
  nothing else, and the expense list, page by page, in either order, by range or
  filter, lists the expenses with their amounts and totals as they were recorded;
* invoice numbers are unique; ``by_number``, ``for_account`` (oldest first, new ones
  included) and ``open`` (oldest first, paid and deleted ones left out) answer from the
  committed and the pending state alike;
* counters start at 1 and grow by one; a value taken by a unit of work that rolls back
  is handed out again, so numbers never skip;
* idempotency keys are recorded once and listed by prefix, literally (``%`` and ``_``
  are not wildcards), and keep the fingerprint they were recorded with;
* the due index: a new account is due at once; a scheduled date holds until a commit
  changes one of the account's aggregates, which makes it due again (a read does not);
  ``due`` lists the accounts due by a day in id order, after an id, up to a limit, and
  ``count`` counts them.

:class:`OverlappingUnitsOfWorkContract` adds what a store that serves several units of
work at once must promise (:data:`OVERLAP_CHECKS`): when two of them change the same
aggregate (a service's history too), add the same id or record the same key, the
second commit raises :class:`~cabinet_billing.errors.ConflictError` and the first one's
change stays; a unit
of work that only read an aggregate another one changed commits without a conflict; an
account changed while another unit of work scheduled it stays due; a change made to an
aggregate after its unit of work committed is not seen by the others before the next commit.
"""

from __future__ import annotations

import abc
import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import attrs
import pytest
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import Act, assign_expenses_to_act, build_act, release_act
from cabinet_billing.domain.expense import Expense, ExpenseBook, ExpenseTotals
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.domain.limits import Limit, PlanLimits
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.domain.payer import Payer, PayerKind
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.periods import Period, PeriodUnit
from cabinet_billing.domain.service import Actor, Service, ServiceChange, ServiceOperation
from cabinet_billing.domain.support import Ticket
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import ConflictError, NotFoundError, ValidationError
from cabinet_billing.ports.listing import ExpenseQuery, Window
from cabinet_billing.ports.repositories import DUE_NOW, UnitOfWork

__all__ = [
    "CHECKS",
    "OVERLAP_CHECKS",
    "OverlappingUnitsOfWorkContract",
    "UnitOfWorkContract",
    "UowFactory",
    "check_unit_of_work",
]

UowFactory = Callable[[], UnitOfWork]
"""Makes a new unit of work over the store under test."""

_AT = datetime(2024, 3, 1, 9, tzinfo=UTC)
_ON = date(2024, 3, 1)


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _rub(amount: str) -> Money:
    return Money(amount, "RUB")


def _service(service_id: str, account_id: str) -> Service:
    return Service.order(
        id=service_id,
        account_id=account_id,
        plan_id="vps",
        plan_name="VPS",
        kind=ProductKind.VPS,
        price=_rub("100.00"),
        period=Period(PeriodUnit.MONTH),
        created_at=_AT,
        actor=Actor.client("owner"),
        ip="192.0.2.10",
        configuration={"ipv4": 2},
        limits=PlanLimits([Limit("products", 1000)]),
    )


_RECORDS = 240
"""How many records the aged service of the history checks has."""


def _aged_service(service_id: str, account_id: str, records: int = _RECORDS) -> Service:
    """An active service with ``records`` records: ordered, paid, opened, then reboots."""
    service = _service(service_id, account_id)
    system, staff = Actor.system(), Actor.admin("ops")
    service.mark_paid(date(2024, 4, 1), system, _AT)
    service.activate(system, _AT)
    for n in range((records - 3) // 2):
        at = _AT + timedelta(minutes=n + 1)
        service.begin_processing(ServiceOperation.REBOOTING, staff, at)
        service.finish_processing(system, at, reason=f"reboot {n + 1}")
    if (records - 3) % 2:
        service.change_plan("vps", "VPS", service.price, actor=system, at=_AT + timedelta(days=1))
    return service


@contextlib.contextmanager
def _records_made() -> Iterator[list[int]]:
    """Count the service records made meanwhile (a record read from a store is one)."""
    made = [0]
    init = ServiceChange.__init__

    def counting(self: ServiceChange, *args: object, **kwargs: object) -> None:
        made[0] += 1
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    ServiceChange.__init__ = counting  # type: ignore[method-assign]
    try:
        yield made
    finally:
        ServiceChange.__init__ = init  # type: ignore[method-assign]


def _invoice(invoice_id: str, account_id: str, number: str, on: date = _ON) -> Invoice:
    return Invoice.issue(
        invoice_id,
        number,
        account_id,
        [InvoiceLine("VPS, 1 month", _rub("100.00"))],
        issued_on=on,
    )


def _expense(expense_id: str, account_id: str) -> Expense:
    return Expense(expense_id, account_id, "VPS, 1 day", _ON, _rub("1.00"))


def _payment(payment_id: str, account_id: str) -> Payment:
    return Payment.top_up(payment_id, account_id, _rub("100.00"), _AT, method_id="card")


def check_commit_persists(make_uow: UowFactory) -> None:
    """What a committed unit of work stored is there, equal, for the next one."""
    account = Account.open(_fresh("acc"), "alice", email="alice@example.com")
    with make_uow() as uow:
        uow.accounts.add(account)
        uow.ledgers.get(account.id).top_up(_rub("10.00"), _AT, key="first")
        uow.commit()
    with make_uow() as uow:
        _expect(uow.accounts.get(account.id) == account, "the committed account differs")
        _expect(account.id in uow.accounts.ids(), "ids() misses the committed account")
        ledger = uow.ledgers.get(account.id)
        _expect(ledger.balance("RUB") == _rub("10.00"), "the committed ledger differs")
        ledger.top_up(_rub("5.00"), _AT, key="second")
        uow.commit()
    with make_uow() as uow:
        _expect(
            uow.ledgers.get(account.id).balance("RUB") == _rub("15.00"),
            "a change to a stored aggregate was not committed",
        )


def check_exit_without_commit_rolls_back(make_uow: UowFactory) -> None:
    """Leaving the block without commit stores nothing, new or changed."""
    kept = Account.open(_fresh("acc"), "kept")
    with make_uow() as uow:
        uow.accounts.add(kept)
        uow.commit()
    dropped = _fresh("acc")
    with make_uow() as uow:
        uow.accounts.add(Account.open(dropped, "dropped"))
        uow.accounts.get(kept.id).change_name("Changed", "Name")
        uow.ledgers.get(kept.id).top_up(_rub("10.00"), _AT)
    with make_uow() as uow:
        _expect(dropped not in uow.accounts.ids(), "an uncommitted account was stored")
        _expect(uow.accounts.get(kept.id) == kept, "an uncommitted change was stored")
        _expect(len(uow.ledgers.get(kept.id)) == 0, "an uncommitted ledger entry was stored")


def check_exception_rolls_back(make_uow: UowFactory) -> None:
    """An exception inside the block rolls everything back and propagates."""
    kept = Account.open(_fresh("acc"), "kept")
    with make_uow() as uow:
        uow.accounts.add(kept)
        uow.commit()
    dropped = _fresh("acc")

    def fail_midway() -> None:
        with make_uow() as uow:
            uow.accounts.add(Account.open(dropped, "dropped"))
            uow.accounts.get(kept.id).change_name("Changed", "Name")
            raise RuntimeError("provider down")

    with pytest.raises(RuntimeError, match="provider down"):
        fail_midway()
    with make_uow() as uow:
        _expect(dropped not in uow.accounts.ids(), "an account added before an error was stored")
        _expect(uow.accounts.get(kept.id) == kept, "a change made before an error was stored")


def check_rollback_and_work_after_commit(make_uow: UowFactory) -> None:
    """``rollback`` discards pending work; after ``commit`` a unit of work goes on."""
    first, second, third = _fresh("acc"), _fresh("acc"), _fresh("acc")
    with make_uow() as uow:
        uow.accounts.add(Account.open(first, "first"))
        uow.rollback()
        uow.accounts.add(Account.open(second, "second"))
        uow.commit()
        uow.accounts.add(Account.open(third, "third"))
    with make_uow() as uow:
        ids = uow.accounts.ids()
        _expect(first not in ids, "a rolled back account was stored")
        _expect(second in ids, "an account committed before more work was lost")
        _expect(third not in ids, "work after a commit was stored without a second commit")


def check_aggregates_after_commit(make_uow: UowFactory) -> None:
    """The aggregates handed out before a commit stay the unit of work's own after it.

    A change made to one after the commit is stored by the next commit, once (the
    ledger's entries and the expenses are not written twice, a new aggregate is not
    added twice), and only by it: a rollback discards it. A schedule made after a commit
    that changed the account holds.
    """
    account_id, service_id = _fresh("acc"), _fresh("ser")
    with make_uow() as uow:
        account = Account.open(account_id, "alice")
        uow.accounts.add(account)
        uow.commit()
        account.change_email("alice@example.com")
        uow.services.add(_service(service_id, account_id))
        uow.commit()
    with make_uow() as uow:
        ledger, book = uow.ledgers.get(account_id), uow.expenses.get(account_id)
        service = uow.services.get(service_id)
        ledger.top_up(_rub("5.00"), _AT, ref="pay-1")
        book.add(_expense("exp-1", account_id))
        uow.commit()
        ledger.charge(_rub("2.00"), _AT, ref="exp-2")
        book.add(_expense("exp-2", account_id))
        service.set_auto_renew(enabled=True)
        uow.commit()
        uow.accounts.schedule(account_id, date(2024, 3, 20))
        uow.commit()
        uow.commit()  # nothing changed since: nothing is written, the schedule holds
        ledger.charge(_rub("1.00"), _AT, ref="exp-3")
        book.add(_expense("exp-3", account_id))
        service.set_auto_renew(enabled=False)
        uow.rollback()
    with make_uow() as uow:
        stored = uow.accounts.get(account_id).profile.email
        _expect(stored == "alice@example.com", f"a change after a commit was lost: {stored!r}")
        ledger = uow.ledgers.get(account_id)
        balance = ledger.balance("RUB")
        _expect(balance == _rub("3.00"), f"after commits and a rollback the balance is {balance}")
        refs = [entry.ref for entry in ledger.entries()]
        _expect(refs == ["pay-1", "exp-2"], f"the ledger holds the entries of {refs}")
        expenses = [e.id for e in uow.expenses.get(account_id).expenses("RUB")]
        _expect(expenses == ["exp-1", "exp-2"], f"the expense book holds {expenses}")
        _expect(uow.services.get(service_id).auto_renew, "a change after a commit was lost")
    _expect(
        _next_due(make_uow, account_id) == date(2024, 3, 20),
        "a schedule made after a commit that changed the account did not hold",
    )


def check_identity_map(make_uow: UowFactory) -> None:
    """Within a unit of work one id is one object, whichever query found it."""
    account_id = _fresh("acc")
    service_id, invoice_id, number = _fresh("ser"), _fresh("inv"), _fresh("N")
    with make_uow() as uow:
        uow.accounts.add(Account.open(account_id, "alice"))
        uow.services.add(_service(service_id, account_id))
        uow.invoices.add(_invoice(invoice_id, account_id, number))
        uow.commit()
    with make_uow() as uow:
        account = uow.accounts.get(account_id)
        _expect(uow.accounts.get(account_id) is account, "get() returned a second object")
        service = uow.services.get(service_id)
        (listed,) = uow.services.for_account(account_id)
        _expect(listed is service, "for_account() returned another object than get()")
        invoice = uow.invoices.by_number(number)
        _expect(uow.invoices.get(invoice_id) is invoice, "by_number() and get() differ")
        _expect(any(i is invoice for i in uow.invoices.open()), "open() returned another object")
        _expect(uow.ledgers.get(account_id) is uow.ledgers.get(account_id), "two ledgers")
        invoice.pay("pay-1", _rub("100.00"), _ON)
        _expect(
            invoice_id not in {i.id for i in uow.invoices.open()},
            "open() lists an invoice paid in this unit of work",
        )
        uow.commit()
    with make_uow() as uow:
        _expect(uow.invoices.get(invoice_id).paid == _rub("100.00"), "the payment was lost")


def check_add_existing_raises_conflict(make_uow: UowFactory) -> None:
    """Adding an id that exists, committed or pending, raises ConflictError naming it."""
    account_id, service_id, payment_id = _fresh("acc"), _fresh("ser"), _fresh("pay")
    with make_uow() as uow:
        uow.accounts.add(Account.open(account_id, "alice"))
        uow.users.add(AccountUsers.create(account_id, "u1", "Alice", "alice@example.com"))
        uow.services.add(_service(service_id, account_id))
        uow.payments.add(_payment(payment_id, account_id))
        with pytest.raises(ConflictError, match=re.escape(f"{payment_id!r}: already exists")):
            uow.payments.add(_payment(payment_id, account_id))
        uow.commit()
    with make_uow() as uow:
        with pytest.raises(ConflictError, match=re.escape(f"{account_id!r}: already exists")):
            uow.accounts.add(Account.open(account_id, "other"))
        with pytest.raises(ConflictError, match=re.escape(f"{account_id!r}: already exists")):
            uow.users.add(AccountUsers.create(account_id, "u2", "Bob", "bob@example.com"))
        with pytest.raises(ConflictError, match=re.escape(f"{service_id!r}: already exists")):
            uow.services.add(_service(service_id, account_id))
        with pytest.raises(ConflictError, match=re.escape(f"{payment_id!r}: already exists")):
            uow.payments.add(_payment(payment_id, account_id))
        _expect(uow.accounts.get(account_id).login == "alice", "a refused add changed state")
        _expect(uow.users.get(account_id).owner_id == "u1", "a refused add changed the users")
        uow.commit()


def check_get_unknown_raises_not_found(make_uow: UowFactory) -> None:
    """Getting an id nobody stored raises NotFoundError naming it."""
    unknown = _fresh("missing")
    with make_uow() as uow:
        for repository in (uow.accounts, uow.users, uow.services, uow.invoices, uow.payments):
            with pytest.raises(NotFoundError, match=re.escape(unknown)):
                repository.get(unknown)
        with pytest.raises(NotFoundError, match=re.escape(unknown)):
            uow.invoices.by_number(unknown)
        _expect(uow.services.for_account(unknown) == [], "services of an unknown account")
        _expect(uow.invoices.for_account(unknown) == [], "invoices of an unknown account")
        _expect(uow.payments.for_account(unknown) == [], "payments of an unknown account")


def check_per_account_start_empty(make_uow: UowFactory) -> None:
    """The ledger, expense book, payers and documents of a new account are empty."""
    account_id = _fresh("acc")
    with make_uow() as uow:
        ledger = uow.ledgers.get(account_id)
        _expect(ledger.account_id == account_id and len(ledger) == 0, "a new ledger")
        book = uow.expenses.get(account_id)
        _expect(book.account_id == account_id and book.expenses() == [], "a new book")
        payers = uow.payers.get(account_id)
        _expect(payers.account_id == account_id and len(payers) == 0, "new payers")
        documents = uow.documents.get(account_id)
        _expect(
            documents.account_id == account_id and documents.acts == () == documents.contracts,
            "new documents are not empty",
        )
        payers.add(Payer(_fresh("payer"), PayerKind.PRIVATE_PERSON, "RU", "Jill Fairy"))
        uow.commit()
    with make_uow() as uow:
        _expect(len(uow.payers.get(account_id)) == 1, "a payer added to a new book was lost")


def check_invoice_numbers_unique(make_uow: UowFactory) -> None:
    """An invoice number is used once, across ids and units of work."""
    account_id, number = _fresh("acc"), _fresh("N")
    first = _invoice(_fresh("inv"), account_id, number)
    with make_uow() as uow:
        uow.invoices.add(first)
        with pytest.raises(ConflictError, match=re.escape(f"{number!r}: already used")):
            uow.invoices.add(_invoice(_fresh("inv"), account_id, number))
        uow.commit()
    with make_uow() as uow:
        with pytest.raises(ConflictError, match=re.escape(f"{number!r}: already used")):
            uow.invoices.add(_invoice(_fresh("inv"), account_id, number))
        _expect(uow.invoices.for_account(account_id) == [first], "a refused invoice was kept")
        uow.commit()


def check_queries(make_uow: UowFactory) -> None:
    """``for_account`` and ``open`` list oldest first, committed and pending alike."""
    account_id, other_id = _fresh("acc"), _fresh("acc")
    old = _invoice(_fresh("inv"), account_id, _fresh("N"), date(2024, 1, 10))
    paid = _invoice(_fresh("inv"), account_id, _fresh("N"), date(2024, 1, 5))
    other = _invoice(_fresh("inv"), other_id, _fresh("N"), date(2024, 1, 1))
    newer = _invoice(_fresh("inv"), account_id, _fresh("N"), date(2024, 2, 1))
    services = [_service(_fresh("ser"), account_id) for _ in range(3)]
    with make_uow() as uow:
        for invoice in (old, paid, other):
            uow.invoices.add(invoice)
        uow.services.add(services[0])
        uow.services.add(services[1])
        uow.payments.add(_payment(_fresh("pay"), other_id))
        uow.commit()
    with make_uow() as uow:
        uow.invoices.get(paid.id).pay("pay-1", _rub("100.00"), _ON)
        uow.commit()
    with make_uow() as uow:
        uow.invoices.add(newer)
        uow.services.add(services[2])
        mine = {old.id, paid.id, newer.id}
        listed = [i.id for i in uow.invoices.for_account(account_id)]
        _expect(listed == [old.id, paid.id, newer.id], f"for_account() order: {listed}")
        opened = [i.id for i in uow.invoices.open() if i.id in mine | {other.id}]
        _expect(opened == [other.id, old.id, newer.id], f"open() order: {opened}")
        ids = [s.id for s in uow.services.for_account(account_id)]
        _expect(ids == [s.id for s in services], f"services order: {ids}")
        _expect(uow.payments.for_account(account_id) == [], "another account's payment")
        _expect(len(uow.payments.for_account(other_id)) == 1, "the account's payment")
        _expect(uow.invoices.by_number(newer.number) is newer, "by_number() of a new invoice")
    service_id = _fresh("ser")
    renewal = Invoice.issue(
        _fresh("inv"),
        _fresh("N"),
        account_id,
        [InvoiceLine("VPS", _rub("10.00"), service_id=service_id)],
        issued_on=date(2024, 3, 1),
    )
    settled = Invoice.issue(
        _fresh("inv"),
        _fresh("N"),
        account_id,
        [InvoiceLine("VPS", _rub("10.00"), service_id=service_id)],
        issued_on=date(2024, 2, 1),
    )
    with make_uow() as uow:
        uow.invoices.add(settled)
        uow.invoices.add(renewal)
        uow.commit()
    with make_uow() as uow:
        found = [i.id for i in uow.invoices.open_for_service(service_id)]
        _expect(found == [settled.id, renewal.id], f"open_for_service(): {found}")
        uow.invoices.get(settled.id).pay("pay-1", _rub("10.00"), _ON)
        found = [i.id for i in uow.invoices.open_for_service(service_id)]
        _expect(found == [renewal.id], f"open_for_service() after paying one: {found}")
        uow.commit()
    with make_uow() as uow:
        found = [i.id for i in uow.invoices.open_for_service(service_id)]
        _expect(found == [renewal.id], f"open_for_service() once paid: {found}")
        _expect(uow.invoices.open_for_service(_fresh("ser")) == [], "another service's invoices")


def check_sequences(make_uow: UowFactory) -> None:
    """Counters start at 1 and grow; a rolled back document number is handed out again.

    An id (a counter :func:`~cabinet_billing.ports.repositories.is_gapless` says is not a
    document number) never repeats but may skip what a rolled back unit of work took.
    """
    name = "invoice-number:" + _fresh("counter")
    with make_uow() as uow:
        taken = [uow.sequences.next(name), uow.sequences.next(name)]
        _expect(taken == [1, 2], f"a new counter gave {taken}")
        _expect(
            uow.sequences.next("invoice-number:" + _fresh("counter")) == 1,
            "counters are not independent",
        )
        uow.commit()
    with make_uow() as uow:
        third = uow.sequences.next(name)
        _expect(third == taken[-1] + 1, "a counter did not go on after a commit")
    with make_uow() as uow:
        _expect(uow.sequences.next(name) == third, "a rolled back number was skipped")
        uow.commit()
    with make_uow() as uow:
        _expect(uow.sequences.next(name) == third + 1, "a committed number was handed out again")
        uow.commit()
    ids = _fresh("ids")
    with make_uow() as uow:
        first = [uow.sequences.next(ids), uow.sequences.next(ids)]
        _expect(first == [1, 2], f"a new id counter gave {first}")
        uow.commit()
    with make_uow() as uow:
        dropped = uow.sequences.next(ids)
    with make_uow() as uow:
        again = uow.sequences.next(ids)
        _expect(again >= dropped > first[-1], f"ids went {first}, {dropped}, then {again}")
        uow.commit()
    with make_uow() as uow:
        _expect(uow.sequences.next(ids) > again, "a committed id was handed out again")


def check_keys(make_uow: UowFactory) -> None:
    """A key is recorded once; an uncommitted one is forgotten; ``all`` filters by prefix."""
    prefix = _fresh("bank") + ":"
    with make_uow() as uow:
        _expect(not uow.keys.seen(prefix + "1"), "a key nobody recorded is seen")
        uow.keys.record(prefix + "1")
        _expect(uow.keys.seen(prefix + "1"), "a key just recorded is not seen")
        with pytest.raises(ConflictError, match=re.escape(f"{prefix + '1'!r}: already recorded")):
            uow.keys.record(prefix + "1")
        uow.keys.record(prefix + "2")
        uow.keys.record(prefix + "a_%")
        uow.commit()
    with make_uow() as uow:
        with pytest.raises(ConflictError, match="already recorded"):
            uow.keys.record(prefix + "2")
        uow.keys.record(prefix + "3")
    with make_uow() as uow:
        _expect(not uow.keys.seen(prefix + "3"), "an uncommitted key was recorded")
        listed = list(uow.keys.all(prefix))
        _expect(listed == [prefix + "1", prefix + "2", prefix + "a_%"], f"all(): {listed}")
        _expect(list(uow.keys.all(prefix + "a_")) == [prefix + "a_%"], "a literal prefix")
        _expect(list(uow.keys.all(prefix + "%")) == [], "'%' is not a wildcard")


def check_key_fingerprints(make_uow: UowFactory) -> None:
    """A key keeps the fingerprint it was recorded with, before and after the commit."""
    prefix = _fresh("gateway-event") + ":"
    fingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    with make_uow() as uow:
        _expect(uow.keys.fingerprint(prefix + "1") is None, "a key nobody recorded has one")
        uow.keys.record(prefix + "1", fingerprint=fingerprint)
        uow.keys.record(prefix + "2")
        _expect(uow.keys.fingerprint(prefix + "1") == fingerprint, "an uncommitted fingerprint")
        _expect(uow.keys.fingerprint(prefix + "2") == "", "a key without a fingerprint")
        uow.commit()
    with make_uow() as uow:
        _expect(uow.keys.fingerprint(prefix + "1") == fingerprint, "the fingerprint was not kept")
        _expect(uow.keys.fingerprint(prefix + "2") == "", "a key recorded without one has one")
        with pytest.raises(ConflictError, match="already recorded"):
            uow.keys.record(prefix + "1", fingerprint="other")
        uow.keys.record(prefix + "3", fingerprint="forgotten")
    with make_uow() as uow:
        _expect(uow.keys.fingerprint(prefix + "1") == fingerprint, "a refused key changed it")
        _expect(uow.keys.fingerprint(prefix + "3") is None, "an uncommitted key was kept")


def check_users_and_payments_round_trip(make_uow: UowFactory) -> None:
    """Users and payments come back equal, with their changes."""
    account_id, payment_id = _fresh("acc"), _fresh("pay")
    users = AccountUsers.create(account_id, "u1", "Alice", "alice@example.com")
    payment = _payment(payment_id, account_id)
    with make_uow() as uow:
        uow.users.add(users)
        uow.payments.add(payment)
        uow.commit()
    with make_uow() as uow:
        _expect(uow.users.get(account_id) == users, "the users differ")
        stored = uow.payments.get(payment_id)
        _expect(stored == payment, "the payment differs")
        stored.cancel(_AT, "changed my mind")
        uow.users.get(account_id).add("u2", "Bob", "bob@example.com", ["invoices.view"])
        uow.commit()
    with make_uow() as uow:
        _expect(uow.payments.get(payment_id).history != (), "the payment's change was lost")
        user_ids = {user.id for user in uow.users.get(account_id)}
        _expect(user_ids == {"u1", "u2"}, "the added user was lost")


def check_per_account_conflict(make_uow: UowFactory) -> None:
    """Users are added once per account: a second set for the account conflicts."""
    account_id = _fresh("acc")
    with make_uow() as uow:
        uow.users.add(AccountUsers.create(account_id, "u1", "Alice", "alice@example.com"))
        with pytest.raises(ConflictError, match=re.escape(f"{account_id!r}: already exists")):
            uow.users.add(AccountUsers.create(account_id, "u2", "Bob", "bob@example.com"))
        uow.commit()
    with make_uow() as uow:
        _expect(uow.users.get(account_id).owner_id == "u1", "a refused add replaced the users")


def check_services_change(make_uow: UowFactory) -> None:
    """A service (history, IP, configuration, limits) survives the store with its changes.

    A later change is committed, also one made inside the service's limits.
    """
    account_id, service_id = _fresh("acc"), _fresh("ser")
    service = _service(service_id, account_id)
    with make_uow() as uow:
        uow.services.add(service)
        uow.commit()
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        _expect(stored == service, "the service differs")
        stored.set_auto_renew(enabled=True)
        # A count changes inside the service's limits: the store must keep it too.
        stored.limits.refresh("products", 998, _ON)
        uow.commit()
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        _expect(stored.auto_renew and stored.history == service.history, "the change was lost")
        _expect(
            stored.limits.status("products").current == 998,  # noqa: PLR2004 - the count above
            "a count refreshed inside the service's limits was lost",
        )
        _expect(
            (stored.ip, stored.configuration) == (service.ip, service.configuration),
            "the service's IP or configuration differs",
        )


def check_services_view(make_uow: UowFactory) -> None:
    """``services.view`` answers what ``for_account`` does, and a change never slips past it.

    It lists an account's services oldest first, committed and added ones, with this unit
    of work's changes. A viewed service refuses a change (``FrozenInstanceError``, or a
    ``TypeError`` inside its limits), or it is the unit of work's own: then the change
    shows in :meth:`get`, goes with a rollback and is written by a commit.
    """
    account_id, first, second, third = _fresh("acc"), _fresh("ser"), _fresh("ser"), _fresh("ser")
    with make_uow() as uow:
        uow.services.add(_service(first, account_id))
        uow.services.add(_service(second, account_id))
        uow.services.add(_service(_fresh("ser"), _fresh("acc")))
        uow.commit()
    with make_uow() as uow:
        uow.services.add(_service(third, account_id))
        uow.services.get(second).set_auto_renew(enabled=True)
        viewed = uow.services.view(account_id)
        _expect([s.id for s in viewed] == [first, second, third], "the view lists other services")
        _expect([s.auto_renew for s in viewed] == [False, True, False], "the view misses a change")
        loaded = uow.services.for_account(account_id)
        _expect(all(v == s for v, s in zip(viewed, loaded, strict=True)), "for_account differs")
        own = _change_viewed(viewed[0])
        _expect(not own or uow.services.get(first).auto_renew, "a change to a viewed one is lost")
    with make_uow() as uow:
        stored = uow.services.get(first)
        _expect(not stored.auto_renew, "a viewed service kept a change without a commit")
        _expect(stored.limits.status("products").current == 0, "its limits kept a change")
        own = _change_viewed(uow.services.view(account_id)[0])
        uow.commit()
    with make_uow() as uow:
        viewed = uow.services.view(account_id)
        _expect([s.auto_renew for s in viewed] == [own, False], "a commit wrote what it should not")
        _expect(viewed[0].limits.status("products").current == (7 if own else 0), "the limits")


def check_service_history_by_range(make_uow: UowFactory) -> None:
    """A service with many records loads without reading them and reads them by range.

    Loading it by id, with its account's services and in the view makes one record at
    most (a store may read the last one with the service); it knows its number of
    records and the last one's time, and the records it is asked for come back in order.
    """
    account_id, service_id = _fresh("acc"), _fresh("ser")
    service = _aged_service(service_id, account_id)
    records = service.history
    with make_uow() as uow:
        uow.services.add(service)
        uow.commit()
    with make_uow() as uow:
        with _records_made() as made:
            stored = uow.services.get(service_id)
            listed = uow.services.for_account(account_id)
            viewed = uow.services.view(account_id)
        _expect(made[0] <= 1, f"loading a service of {_RECORDS} records read {made[0]} of them")
        _expect([s.id for s in (*listed, *viewed)] == [service_id] * 2, "the account's services")
        for found in (stored, *viewed):
            _expect(
                (found.change_count, found.last_changed_at) == (_RECORDS, records[-1].at),
                "a loaded service has another number of records or last change",
            )
        _expect(stored.changes(1, 10) == records[:10], "the first page of the history")
        _expect(stored.changes(101, 160) == records[100:160], "a page in the middle")
        _expect(stored.changes(_RECORDS - 4, _RECORDS + 9) == records[-5:], "the last page")
        _expect(stored.changes(_RECORDS + 1) == (), "a page after the last record")
        _expect(stored.last_change == records[-1], "the last record")
        _expect(viewed[0].changes(2, 3) == records[1:3], "a page of the viewed service")
        _expect(stored.history == records, "the whole history, in order")


def check_service_history_appended_once(make_uow: UowFactory) -> None:
    """A record made after a reload is stored once; a rolled back one is not stored.

    The unit of work goes on after its commit: a record made then is stored by the next
    commit, after the first one. A unit of work left without a commit, or rolled back,
    leaves the history as it was.
    """
    account_id, service_id = _fresh("acc"), _fresh("ser")
    service = _aged_service(service_id, account_id)
    records = service.history
    later = records[-1].at + timedelta(days=2)
    client = Actor.client("owner")
    with make_uow() as uow:
        uow.services.add(service)
        uow.commit()
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        renewed = stored.renew(stored.next_paid_until(), Actor.system(), later)
        uow.commit()
        stopped = stored.stop(client, later)
        uow.commit()
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        _expect(stored.change_count == _RECORDS + 2, f"{stored.change_count} records stored")
        _expect(stored.changes(_RECORDS - 1) == (*records[-2:], renewed, stopped), "new records")
        _expect(stored.history == (*records, renewed, stopped), "the stored history changed")
        stored.start(client, later)
        uow.rollback()
        _expect(uow.services.get(service_id).change_count == _RECORDS + 2, "a rollback kept it")
    with make_uow() as uow:
        uow.services.get(service_id).start(client, later)  # left without a commit
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        _expect(
            (stored.change_count, stored.last_changed_at) == (_RECORDS + 2, later),
            "a record of a unit of work that was not committed was stored",
        )
        _expect(stored.changes(_RECORDS + 1, _RECORDS + 5) == (renewed, stopped), "new records")
        _expect(stored.status is stopped.to_status, "the service's state changed")


def _change_viewed(service: Service) -> bool:
    """Change a viewed service; whether it let the change in (it is the unit of work's own)."""
    try:
        service.set_auto_renew(enabled=True)
    except attrs.exceptions.FrozenInstanceError:
        with pytest.raises((attrs.exceptions.FrozenInstanceError, TypeError)):
            service.limits.refresh("products", 7, _ON)
        _expect(not service.auto_renew, "a viewed service refused a change but shows it")
        return False
    service.limits.refresh("products", 7, _ON)
    return True


def check_profiles_and_tickets(make_uow: UowFactory) -> None:
    """Billing profiles start empty and keep what they are given; tickets round-trip."""
    account_id = _fresh("acc")
    with make_uow() as uow:
        profile = uow.profiles.get(account_id)
        _expect(profile.account_id == account_id and profile.methods == (), "a new profile")
        profile.record("renewal:s-1:2024-01-01")
        ticket, _ = Ticket.open(
            _fresh("tic"),
            account_id,
            department="finance",
            subject="Invoice",
            text="Wrong VAT",
            at=datetime(2024, 3, 1, tzinfo=UTC),
        )
        uow.tickets.add(ticket)
        uow.commit()
    with make_uow() as uow:
        _expect(uow.profiles.get(account_id).done("renewal:s-1:2024-01-01"), "a profile key")
        stored = uow.tickets.get(ticket.id)
        _expect(stored == ticket, "a ticket changed on its way through the store")
        _expect(uow.tickets.for_account(account_id) == [stored], "tickets of an account")
        with pytest.raises(ConflictError):
            uow.tickets.add(ticket)


def check_bank_reviews(make_uow: UowFactory) -> None:
    """Lines left for review round-trip; a decided one leaves the pending list."""
    account_id = _fresh("acc")
    at = datetime(2024, 5, 2, 9, tzinfo=UTC)
    first, second = (
        BankReview(
            _fresh("line"),
            date(2024, 5, 2),
            Money(amount, "UAH"),
            "FOP Petrenko",
            "for hosting",
            reason="no_number",
            message="no invoice number in the purpose",
            received_at=at,
            account_id=account_id,
        )
        for amount in ("700.00", "50.00")
    )
    with make_uow() as uow:
        uow.bank_reviews.add(first)
        uow.bank_reviews.add(second)
        uow.commit()
    with make_uow() as uow:
        stored = uow.bank_reviews.get(first.line_id)
        _expect(stored == first, "a bank review changed on its way through the store")
        mine = [r.line_id for r in uow.bank_reviews.pending() if r.account_id == account_id]
        _expect(mine == [first.line_id, second.line_id], "pending reviews, oldest first")
        stored.reject(by="olga", at=at, note="sent back")
        uow.commit()
    with make_uow() as uow:
        _expect(uow.bank_reviews.get(first.line_id).status.value == "rejected", "a decision")
        mine = [r.line_id for r in uow.bank_reviews.pending() if r.account_id == account_id]
        _expect(mine == [second.line_id], "a decided review is no longer pending")
        with pytest.raises(ConflictError):
            uow.bank_reviews.add(second)
        with pytest.raises(NotFoundError):
            uow.bank_reviews.get(_fresh("line"))


def _next_due(make_uow: UowFactory, account_id: str) -> date:
    with make_uow() as uow:
        return uow.accounts.next_due(account_id)


def _schedule(make_uow: UowFactory, account_id: str, day: date) -> None:
    with make_uow() as uow:
        uow.accounts.schedule(account_id, day)
        uow.commit()


def check_due_index(make_uow: UowFactory) -> None:
    """Next event dates: scheduled by the run, made due by every change of the account."""
    later = date(2024, 3, 20)
    prefix = _fresh("due")
    first, second, third = (f"{prefix}-{n}" for n in (1, 2, 3))
    with make_uow() as uow:
        total, due = uow.accounts.count(), uow.accounts.count(due_by=_ON)
        for account_id in (first, second, third):
            uow.accounts.add(Account.open(account_id, "dora"))
        uow.commit()
    with make_uow() as uow:
        _expect(uow.accounts.next_due(first) == DUE_NOW, "a new account is not due at once")
        _expect(uow.accounts.count() == total + 3, "count() misses the new accounts")
        _expect(uow.accounts.count(due_by=_ON) == due + 3, "count(due_by) misses new accounts")
        found = uow.accounts.due(_ON, after=first)
        _expect(first not in found, "due(after=) lists the account it starts after")
        _expect({second, third} <= set(found), "due(after=) misses accounts after it")
        _expect(found == sorted(found), "due() is not in id order")
        _expect(uow.accounts.due(_ON, after=first, limit=1) == [second], "due(limit=1)")
    _schedule(make_uow, first, later)
    with make_uow() as uow:
        _expect(uow.accounts.next_due(first) == later, "a scheduled date was not kept")
        _expect(first not in uow.accounts.due(_ON), "an account scheduled later is due")
        _expect(first in uow.accounts.due(later), "an account is not due on its date")
        _expect(uow.accounts.count(due_by=_ON) == due + 2, "count(due_by) counts it still")
        uow.accounts.get(first)
        uow.services.for_account(first)
        uow.commit()
    _expect(_next_due(make_uow, first) == later, "a unit of work that only read made it due")
    changes: tuple[Callable[[UnitOfWork], object], ...] = (
        lambda uow: uow.services.add(_service(_fresh("ser"), first)),
        lambda uow: uow.ledgers.get(first).top_up(_rub("1.00"), _AT, ref=_fresh("pay")),
        lambda uow: uow.profiles.get(first).record(_fresh("key")),
        lambda uow: uow.invoices.add(_invoice(_fresh("inv"), first, _fresh("N"))),
    )
    for change in changes:
        _schedule(make_uow, first, later)
        with make_uow() as uow:
            change(uow)
            uow.commit()
        _expect(_next_due(make_uow, first) == DUE_NOW, "a change left the account not due")
    with make_uow() as uow:
        uow.ledgers.get(first).top_up(_rub("1.00"), _AT, ref=_fresh("pay"))
        uow.accounts.schedule(first, later)
        uow.commit()
    _expect(_next_due(make_uow, first) == later, "a change made due what its unit scheduled")
    with pytest.raises(NotFoundError):
        _next_due(make_uow, _fresh("acc"))


# ----------------------------------------------------------------------------- a large book

_BOOK = 300
"""How many expenses the large book of :func:`check_large_expense_book` has."""

_PAID_BY_FIRST = 150
"""How many of the book's RUB expenses (oldest first) its first payment pays."""


@attrs.frozen
class _Kept:
    """What one expense of the large book must be, kept apart from every store."""

    id: str
    service_name: str
    charged_on: date
    amount: Money
    tax: Money
    service_id: str
    unpaid: Money
    act_id: str | None = None

    @classmethod
    def of(cls, expense: Expense) -> _Kept:
        """What a store's expense is, to compare."""
        return cls(
            expense.id,
            expense.service_name,
            expense.charged_on,
            expense.amount,
            expense.tax,
            expense.service_id or "",
            expense.unpaid,
            expense.act_id,
        )

    def chosen_by(self, query: ExpenseQuery) -> bool:
        """Whether the expense list of ``query`` shows this expense."""
        return (
            (query.since is None or self.charged_on >= query.since)
            and (query.until is None or self.charged_on < query.until)
            and (query.service_id is None or self.service_id == query.service_id)
            and (not query.unpaid_only or self.unpaid.amount != 0)
        )

    def expense(self, account_id: str) -> Expense:
        """A new expense as this one was recorded (nothing paid, in no act)."""
        return Expense(
            self.id,
            account_id,
            self.service_name,
            self.charged_on,
            self.amount,
            tax=self.tax,
            service_id=self.service_id,
        )


def _large_book(prefix: str) -> dict[str, _Kept]:
    """The expenses of the large book in the order they are recorded, nothing paid yet.

    Fifty a month from January to June 2024, not in charge order within a month, with
    exact amounts at 4 places; three are in USD (no USD payment ever pays them).
    """
    kept: dict[str, _Kept] = {}
    for n in range(_BOOK):
        code = "USD" if n % 97 == 13 else "RUB"  # noqa: PLR2004 - three USD expenses
        amount = Money(Decimal(f"{1 + n % 23}.{n * 7919 % 10000:04d}"), code)
        tax = Money((amount.amount / 6).quantize(Decimal("0.0001"), ROUND_DOWN), code)
        expense_id = f"{prefix}-{n:03d}"
        kept[expense_id] = _Kept(
            expense_id,
            f"VPS-{n % 3}, 1 day",
            date(2024, 1 + n // 50, 1 + n * 11 % 28),
            amount,
            tax,
            f"{prefix}-ser-{n % 3}",
            amount,
        )
    return kept


def _listing(
    kept: dict[str, _Kept],
    code: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[_Kept]:
    """The expected listing: oldest first by charge day, then in the order recorded."""
    chosen = [
        k
        for k in kept.values()
        if (code is None or k.amount.code == code)
        and (since is None or k.charged_on >= since)
        and (until is None or k.charged_on < until)
    ]
    return sorted(chosen, key=lambda k: k.charged_on)


def _kept_totals(chosen: list[_Kept], code: str) -> ExpenseTotals:
    return ExpenseTotals(
        total=sum_money((k.amount for k in chosen), code),
        unpaid=sum_money((k.unpaid for k in chosen), code),
        tax=sum_money((k.tax for k in chosen), code),
        count=len(chosen),
    )


def _pay(kept: dict[str, _Kept], expense_ids: list[str], unpaid: Money | None = None) -> None:
    """Mark expenses as paid (or as having ``unpaid`` left) in the expected state."""
    for expense_id in expense_ids:
        was = kept[expense_id]
        left = Money.zero(was.amount.code) if unpaid is None else unpaid
        kept[expense_id] = attrs.evolve(was, unpaid=left)


def _put_in_act(kept: dict[str, _Kept], expense_ids: tuple[str, ...], act_id: str | None) -> None:
    for expense_id in expense_ids:
        kept[expense_id] = attrs.evolve(kept[expense_id], act_id=act_id)


def _walk(
    make_uow: UowFactory, account_id: str, query: ExpenseQuery, *, load: bool, newest_first: bool
) -> tuple[list[_Kept], set[ExpenseTotals], set[int]]:
    """Every page of a listing, 37 expenses a page: the expenses, the totals and counts."""
    found: list[_Kept] = []
    totals: set[ExpenseTotals] = set()
    counts: set[int] = set()
    with make_uow() as uow:
        if load:
            uow.expenses.get(account_id)
        after: str | None = None
        for _ in range(_BOOK):
            window = Window(37, after=after, newest_first=newest_first)
            page, sums = uow.expenses.page(account_id, query, window)
            found += [_Kept.of(e) for e in page.items]
            totals.add(sums)
            counts.add(page.total)
            if not page.more or not page.items:
                return found, totals, counts
            after = page.items[-1].id
    raise AssertionError(f"the pages of {query} never end")


def _check_large_book(
    make_uow: UowFactory,
    account_id: str,
    kept: dict[str, _Kept],
    reference: ExpenseBook,
    *,
    acts: tuple[Act, ...],
    when: str,
) -> None:
    """A fresh unit of work finds the large book as ``kept`` and ``reference`` say.

    First through the questions a book loaded with its unpaid expenses only answers from
    its shelf (by id, the unbilled ones, the unpaid ones), then the whole book; then the
    expense list, page by page, with and without the book loaded.
    """
    listed = _listing(kept)
    old = [k for k in listed if k.unpaid.amount == 0][::40]
    with make_uow() as uow:
        book = uow.expenses.get(account_id)
        for sample in old:
            one = _Kept.of(book.get(sample.id))
            _expect(one == sample, f"{when}: expense {sample.id} is {one}")
        for code in ("RUB", "USD"):
            owing = [k for k in _listing(kept, code) if k.unpaid.amount]
            unpaid = [_Kept.of(e) for e in book.unpaid(code)]
            _expect(unpaid == owing, f"{when}: the unpaid {code} expenses are {unpaid}")
            owed = sum_money((k.unpaid for k in owing), code)
            _expect(book.owed(code) == owed, f"{when}: {book.owed(code)} owed, not {owed}")
            _expect(book.available(code) == Money.zero(code), f"{when}: unspent {code} funds")
        until = date(2024, 3, 1)
        unbilled = [_Kept.of(e) for e in book.unbilled(until)]
        expected_unbilled = [k for k in _listing(kept, until=until) if k.act_id is None]
        _expect(unbilled == expected_unbilled, f"{when}: unbilled() lists {len(unbilled)}")
        whole = [_Kept.of(e) for e in book.expenses()]
        _expect(whole == listed, f"{when}: the book holds another {len(whole)} expenses")
        _expect(book == reference, f"{when}: the book differs from the book kept whole")
        spring = [
            _Kept.of(e)
            for e in book.expenses("RUB", since=date(2024, 3, 1), until=date(2024, 5, 1))
        ]
        _expect(spring == _listing(kept, "RUB", date(2024, 3, 1), date(2024, 5, 1)), "a range")
        for code in ("RUB", "USD"):
            sums = book.totals(code)
            _expect(sums == _kept_totals(_listing(kept, code), code), f"{when}: {code} totals")
        stored_acts = uow.documents.get(account_id).acts
        _expect(stored_acts == acts, f"{when}: the account's acts are {stored_acts}")
    queries = (
        ExpenseQuery("RUB"),
        ExpenseQuery("USD"),
        ExpenseQuery("RUB", since=date(2024, 2, 10), until=date(2024, 4, 20)),
        ExpenseQuery("RUB", service_id=listed[0].service_id),
        ExpenseQuery("RUB", unpaid_only=True),
    )
    for query in queries:
        expected = [k for k in _listing(kept, query.currency) if k.chosen_by(query)]
        sums = _kept_totals(expected, query.currency)
        for load, newest_first in ((False, False), (False, True), (True, False)):
            found, totals, counts = _walk(
                make_uow, account_id, query, load=load, newest_first=newest_first
            )
            order = expected[::-1] if newest_first else expected
            how = f"{when}: {query} {'loaded' if load else 'unloaded'}, newest first {newest_first}"
            _expect(found == order, f"{how}: the pages list {len(found)} expenses")
            _expect(totals == {sums}, f"{how}: the totals are {totals}, not {sums}")
            _expect(counts == {len(expected)}, f"{how}: the pages count {counts}")


def check_large_expense_book(make_uow: UowFactory) -> None:  # noqa: PLR0915 - one story
    """A book of 300 expenses, most of them paid, behaves as if it were loaded whole.

    A store may load a book with its unpaid expenses only and a shelf over the rest
    (:class:`~cabinet_billing.domain.expense.ExpenseShelf`). Putting old paid expenses
    in an act (found by the book as the month's closing finds them, or by id), taking
    them out again, a refund that makes paid expenses unpaid and the payment that pays
    them off, and a charge booked late for an old month are stored exactly, and nothing
    else changes: every expense, the funds and the acts are what a book kept whole in
    memory says (another account's book stays as it was), and the expense list, page by
    page, range or filter, lists the same expenses in the same order with the same
    amounts and totals, with the book loaded or not.
    """
    account_id, neighbour_id = _fresh("acc"), _fresh("acc")
    kept = _large_book(_fresh("exp"))
    reference = ExpenseBook(account_id)
    rub = _listing(kept, "RUB")
    partial, owing = rub[-4], rub[-3:]
    march = _listing(kept, "RUB", date(2024, 3, 1), date(2024, 4, 1))
    first = sum_money((k.amount for k in rub[:_PAID_BY_FIRST]), "RUB")
    half = Money("0.5000", "RUB")
    second = sum_money((k.amount for k in rub[_PAID_BY_FIRST:-4]), "RUB") + partial.amount - half
    theirs = [
        Expense(_fresh("exp"), neighbour_id, "VPS", date(2024, month, 3), _rub("7.0000"))
        for month in (1, 1, 2, 2, 3)
    ]
    with make_uow() as uow:
        book = uow.expenses.get(account_id)
        for k in kept.values():
            book.add(k.expense(account_id))
            reference.add(k.expense(account_id))
        for payment_id, amount in (("pay-1", first), ("pay-2", second)):
            book.fund(payment_id, amount)
            reference.fund(payment_id, amount)
        other = uow.expenses.get(neighbour_id)
        for expense in theirs:
            other.add(expense)
        other.fund("pay-n", _rub("35.00"))
        uow.commit()
    _pay(kept, [k.id for k in rub[:-4]])
    _pay(kept, [partial.id], half)
    _check_large_book(make_uow, account_id, kept, reference, acts=(), when="once committed")

    # January as the month's closing makes its act (the unbilled expenses charged before
    # February), and February from the expected expenses: the book reads those by id.
    january, february = date(2024, 1, 1), date(2024, 2, 1)
    copies = [k.expense(account_id) for k in kept.values()]
    with make_uow() as uow:
        book, documents = uow.expenses.get(account_id), uow.documents.get(account_id)
        with pytest.raises(ConflictError, match="already recorded"):
            book.add(march[0].expense(account_id))  # a paid one of March, not read yet
        unbilled = book.unbilled(february)
        expected = _listing(kept, until=february)
        _expect([_Kept.of(e) for e in unbilled] == expected, "the expenses of January")
        made = [
            build_act(
                _fresh("act"),
                _fresh("A"),
                account_id=account_id,
                month=month,
                expenses=chosen,
                rate=TaxRate("20"),
                currency="RUB",
            )
            for month, chosen in ((january, unbilled), (february, copies))
        ]
        acts = tuple(a for a in made if a is not None)
        _expect(len(acts) == 2, "no act of January or February")  # noqa: PLR2004
        for act, month in zip(acts, (january, february), strict=True):
            lines = [k.id for k in _listing(kept, "RUB", month, month + relativedelta(months=1))]
            _expect(
                list(act.expense_ids) == lines, f"the act of {month:%Y-%m} lists {act.expense_ids}"
            )
        jan_act, feb_act = acts
        with pytest.raises(ValidationError):
            book.assign_act(feb_act.id, (*feb_act.expense_ids, theirs[2].id))
        refused = [book.get(i).act_id for i in feb_act.expense_ids]
        _expect(refused == [None] * len(refused), "an act refused put expenses in it")
        for act in acts:
            documents.add_act(act)
            marked = assign_expenses_to_act(act, book)
            _expect(marked == act.expense_ids, f"the act marked {marked}")
            reference.assign_act(act.id, act.expense_ids)
            _put_in_act(kept, act.expense_ids, act.id)
        uow.commit()
    _check_large_book(make_uow, account_id, kept, reference, acts=acts, when="in acts")

    # The act of February is deleted: its expenses are released, January's stay.
    with make_uow() as uow:
        book = uow.expenses.get(account_id)
        none = book.release_act(jan_act.id, feb_act.expense_ids)
        _expect(none == (), f"releasing the act of January released {none}")
        released = release_act(feb_act, book)
        _expect(released == feb_act.expense_ids, f"releasing the act released {released}")
        reference.release_act(feb_act.id, feb_act.expense_ids)
        _put_in_act(kept, feb_act.expense_ids, None)
        uow.commit()
    _check_large_book(make_uow, account_id, kept, reference, acts=acts, when="released")

    # A refund of the second payment takes back what it paid last: the part of the
    # partly paid expense and the two paid before it are unpaid again.
    refunded = rub[-6:-4]
    taken = partial.amount - half + sum_money((k.amount for k in refunded), "RUB")
    with make_uow() as uow:
        owed = uow.expenses.get(account_id).refund("pay-2", taken)
        _expect(owed == taken, f"the refund made {owed} owed, not {taken}")
        reference.refund("pay-2", taken)
        uow.commit()
    for k in (*refunded, partial):
        kept[k.id] = attrs.evolve(kept[k.id], unpaid=k.amount)
    _check_large_book(make_uow, account_id, kept, reference, acts=acts, when="refunded")
    # A charge booked late for March is recorded last and listed after March's of its day;
    # the next payment pays it first, then what the refund left unpaid.
    late = attrs.evolve(
        march[0], id=_fresh("exp"), charged_on=date(2024, 3, 15), unpaid=march[0].amount
    )
    kept[late.id] = late
    due = [late, *refunded, partial, *owing]
    with make_uow() as uow:
        book = uow.expenses.get(account_id)
        _expect(book.add(late.expense(account_id)) == (), "a late charge found unspent funds")
        reference.add(late.expense(account_id))
        amount = sum_money((k.amount for k in due), "RUB")
        applied = [(a.expense_id, a.amount) for a in book.fund("pay-3", amount)]
        reference.fund("pay-3", amount)
        _expect(applied == [(k.id, k.amount) for k in due], f"a payment paid {applied}")
        uow.commit()
    _pay(kept, [k.id for k in due])
    _check_large_book(make_uow, account_id, kept, reference, acts=acts, when="paid off")
    with make_uow() as uow:
        stored = [(e.id, e.act_id, e.unpaid) for e in uow.expenses.get(neighbour_id).expenses()]
        expected_theirs = [(e.id, None, _rub("0")) for e in theirs]
        _expect(stored == expected_theirs, f"another account's book changed: {stored}")


CHECKS: tuple[Callable[[UowFactory], None], ...] = (
    check_commit_persists,
    check_exit_without_commit_rolls_back,
    check_exception_rolls_back,
    check_rollback_and_work_after_commit,
    check_aggregates_after_commit,
    check_identity_map,
    check_add_existing_raises_conflict,
    check_get_unknown_raises_not_found,
    check_per_account_start_empty,
    check_per_account_conflict,
    check_invoice_numbers_unique,
    check_queries,
    check_sequences,
    check_keys,
    check_key_fingerprints,
    check_users_and_payments_round_trip,
    check_services_change,
    check_services_view,
    check_service_history_by_range,
    check_service_history_appended_once,
    check_profiles_and_tickets,
    check_bank_reviews,
    check_due_index,
    check_large_expense_book,
)
"""Every check, in the order :func:`check_unit_of_work` runs them."""


def check_unit_of_work(make_uow: UowFactory) -> None:
    """Run every check of the contract against units of work made by ``make_uow``.

    Args:
        make_uow: makes a new unit of work over the store under test; every call must
            see what earlier units of work committed.

    Raises:
        AssertionError: naming the first broken promise.
    """
    for check in CHECKS:
        check(make_uow)


class UnitOfWorkContract(abc.ABC):
    """The contract as a pytest test class: subclass it and define :meth:`make_uow`.

    Each ``test_*`` method runs one check against the units of work that
    :meth:`make_uow` makes (use a fixture or ``setup_method`` to give each test a fresh
    store).
    """

    @abc.abstractmethod
    def make_uow(self) -> UnitOfWork:
        """A new unit of work over the store under test."""

    def test_commit_persists(self) -> None:
        """See :func:`check_commit_persists`."""
        check_commit_persists(self.make_uow)

    def test_exit_without_commit_rolls_back(self) -> None:
        """See :func:`check_exit_without_commit_rolls_back`."""
        check_exit_without_commit_rolls_back(self.make_uow)

    def test_exception_rolls_back(self) -> None:
        """See :func:`check_exception_rolls_back`."""
        check_exception_rolls_back(self.make_uow)

    def test_rollback_and_work_after_commit(self) -> None:
        """See :func:`check_rollback_and_work_after_commit`."""
        check_rollback_and_work_after_commit(self.make_uow)

    def test_aggregates_after_commit(self) -> None:
        """See :func:`check_aggregates_after_commit`."""
        check_aggregates_after_commit(self.make_uow)

    def test_identity_map(self) -> None:
        """See :func:`check_identity_map`."""
        check_identity_map(self.make_uow)

    def test_add_existing_raises_conflict(self) -> None:
        """See :func:`check_add_existing_raises_conflict`."""
        check_add_existing_raises_conflict(self.make_uow)

    def test_get_unknown_raises_not_found(self) -> None:
        """See :func:`check_get_unknown_raises_not_found`."""
        check_get_unknown_raises_not_found(self.make_uow)

    def test_per_account_start_empty(self) -> None:
        """See :func:`check_per_account_start_empty`."""
        check_per_account_start_empty(self.make_uow)

    def test_per_account_conflict(self) -> None:
        """See :func:`check_per_account_conflict`."""
        check_per_account_conflict(self.make_uow)

    def test_invoice_numbers_unique(self) -> None:
        """See :func:`check_invoice_numbers_unique`."""
        check_invoice_numbers_unique(self.make_uow)

    def test_queries(self) -> None:
        """See :func:`check_queries`."""
        check_queries(self.make_uow)

    def test_sequences(self) -> None:
        """See :func:`check_sequences`."""
        check_sequences(self.make_uow)

    def test_keys(self) -> None:
        """See :func:`check_keys`."""
        check_keys(self.make_uow)

    def test_key_fingerprints(self) -> None:
        """See :func:`check_key_fingerprints`."""
        check_key_fingerprints(self.make_uow)

    def test_users_and_payments_round_trip(self) -> None:
        """See :func:`check_users_and_payments_round_trip`."""
        check_users_and_payments_round_trip(self.make_uow)

    def test_services_change(self) -> None:
        """See :func:`check_services_change`."""
        check_services_change(self.make_uow)

    def test_services_view(self) -> None:
        """See :func:`check_services_view`."""
        check_services_view(self.make_uow)

    def test_service_history_by_range(self) -> None:
        """See :func:`check_service_history_by_range`."""
        check_service_history_by_range(self.make_uow)

    def test_service_history_appended_once(self) -> None:
        """See :func:`check_service_history_appended_once`."""
        check_service_history_appended_once(self.make_uow)

    def test_profiles_and_tickets(self) -> None:
        """See :func:`check_profiles_and_tickets`."""
        check_profiles_and_tickets(self.make_uow)

    def test_bank_reviews(self) -> None:
        """See :func:`check_bank_reviews`."""
        check_bank_reviews(self.make_uow)

    def test_due_index(self) -> None:
        """See :func:`check_due_index`."""
        check_due_index(self.make_uow)

    def test_large_expense_book(self) -> None:
        """See :func:`check_large_expense_book`."""
        check_large_expense_book(self.make_uow)

    def test_every_check_runs_in_one_store(self) -> None:
        """Every check again, one after the other, in the same store."""
        check_unit_of_work(self.make_uow)


# ----------------------------------------------------------------------------- overlapping


def check_overlapping_changes_conflict(make_uow: UowFactory) -> None:
    """Two units of work change one ledger: the second commit is refused, the first stays.

    Without the check the second commit would overwrite the first one's entry (a lost
    update: a balance of 2.00 instead of -2.00 after two charges of 2.00 on 2.00).
    """
    account_id = _fresh("acc")
    with make_uow() as uow:
        uow.ledgers.get(account_id).top_up(_rub("2.00"), _AT, ref="pay-1")
        uow.commit()
    first, second = make_uow(), make_uow()
    with first, second:
        first.ledgers.get(account_id).charge(_rub("2.00"), _AT, ref="exp-1")
        second.ledgers.get(account_id).charge(_rub("2.00"), _AT, ref="exp-2")
        first.commit()
        with pytest.raises(ConflictError, match="another unit of work"):
            second.commit()
    with make_uow() as uow:
        balance = uow.ledgers.get(account_id).balance("RUB")
        _expect(balance == _rub("0.00"), f"after one refused charge the balance is {balance}")


def check_overlapping_reads_do_not_conflict(make_uow: UowFactory) -> None:
    """A unit of work that only read an aggregate commits after another changed it."""
    account_id, service_id = _fresh("acc"), _fresh("ser")
    with make_uow() as uow:
        uow.services.add(_service(service_id, account_id))
        uow.commit()
    reader, writer = make_uow(), make_uow()
    with reader, writer:
        _expect(not reader.services.get(service_id).auto_renew, "a new service auto-renews")
        writer.services.get(service_id).set_auto_renew(enabled=True)
        writer.commit()
        reader.ledgers.get(account_id).top_up(_rub("1.00"), _AT, ref="pay-1")
        reader.commit()
    with make_uow() as uow:
        _expect(uow.services.get(service_id).auto_renew, "the writer's change was lost")
        _expect(uow.ledgers.get(account_id).balance("RUB") == _rub("1.00"), "the top-up")


def check_overlapping_adds_conflict(make_uow: UowFactory) -> None:
    """Two units of work add the same id, or record the same key: the second is refused.

    The second one is refused when it records the key (if the first one's commit is
    visible by then) or at its commit, and nothing of it is written.
    """
    account_id, service_id, key = _fresh("acc"), _fresh("ser"), _fresh("key")
    first, second = make_uow(), make_uow()
    with first, second:
        first.services.add(_service(service_id, account_id))
        second.services.add(_service(service_id, account_id))
        second.ledgers.get(account_id).top_up(_rub("1.00"), _AT, ref="pay-1")
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    first, second = make_uow(), make_uow()
    with first, second:
        _expect(not second.keys.seen(key), "a key nobody recorded is seen")
        first.keys.record(key)
        first.commit()
        with pytest.raises(ConflictError):
            _record_and_commit(second, key)
    with make_uow() as uow:
        _expect(uow.keys.seen(key), "the first unit of work's key was lost")
        balance = uow.ledgers.get(account_id).balance("RUB")
        _expect(balance == _rub("0"), f"a refused unit of work left a balance of {balance}")


def check_overlapping_change_keeps_an_account_due(make_uow: UowFactory) -> None:
    """A change committed while another unit of work schedules the account keeps it due.

    The run reads the account, bills its day and schedules its next event date; a use
    case that changed the account meanwhile must not be overwritten by that date.
    """
    account_id = _fresh("acc")
    with make_uow() as uow:
        uow.accounts.add(Account.open(account_id, "erin"))
        uow.commit()
    run, change = make_uow(), make_uow()
    with run, change:
        run.accounts.get(account_id)
        change.services.add(_service(_fresh("ser"), account_id))
        change.commit()
        run.profiles.get(account_id).record(_fresh("key"))
        run.accounts.schedule(account_id, date(2024, 3, 20))
        run.commit()
    _expect(_next_due(make_uow, account_id) == DUE_NOW, "a change was overwritten by a schedule")


def check_overlapping_change_after_commit_unseen(make_uow: UowFactory) -> None:
    """A change made to an aggregate after its unit of work committed is not seen by others.

    Until the next commit of that unit of work, another one reads what was committed.
    """
    account_id = _fresh("acc")
    with make_uow() as uow:
        uow.ledgers.get(account_id).top_up(_rub("2.00"), _AT, ref="pay-1")
        uow.commit()
    writer, reader = make_uow(), make_uow()
    with writer:
        ledger = writer.ledgers.get(account_id)
        ledger.charge(_rub("1.00"), _AT, ref="exp-1")
        writer.commit()
        ledger.charge(_rub("1.00"), _AT, ref="exp-2")
        with reader:
            balance = reader.ledgers.get(account_id).balance("RUB")
            _expect(balance == _rub("1.00"), f"another unit of work read a balance of {balance}")
        writer.commit()
    with make_uow() as uow:
        balance = uow.ledgers.get(account_id).balance("RUB")
        _expect(balance == _rub("0.00"), f"after the second commit the balance is {balance}")


def check_overlapping_records_conflict(make_uow: UowFactory) -> None:
    """Two units of work each record a change of one service: the second commit is refused.

    The history keeps the first one's record, once, and nothing of the second.
    """
    account_id, service_id = _fresh("acc"), _fresh("ser")
    service = _aged_service(service_id, account_id, 9)
    records = service.history
    with make_uow() as uow:
        uow.services.add(service)
        uow.commit()
    later = records[-1].at + timedelta(hours=1)
    first, second = make_uow(), make_uow()
    with first, second:
        why = "from the first unit of work"
        kept = first.services.get(service_id).change_plan(
            "vps", "VPS", service.price, actor=Actor.system(), at=later, reason=why
        )
        second.services.get(service_id).change_plan(
            "vps", "VPS", service.price, actor=Actor.system(), at=later, reason="second"
        )
        first.commit()
        with pytest.raises(ConflictError, match="another unit of work"):
            second.commit()
    with make_uow() as uow:
        stored = uow.services.get(service_id)
        _expect(stored.history == (*records, kept), "the history after one refused record")


def _record_and_commit(uow: UnitOfWork, key: str) -> None:
    uow.keys.record(key)
    uow.commit()


#: The checks that need two units of work open at once (a store that allows only one at a
#: time, such as in-memory SQLite, cannot run them).
OVERLAP_CHECKS: tuple[Callable[[UowFactory], None], ...] = (
    check_overlapping_changes_conflict,
    check_overlapping_reads_do_not_conflict,
    check_overlapping_adds_conflict,
    check_overlapping_change_keeps_an_account_due,
    check_overlapping_change_after_commit_unseen,
    check_overlapping_records_conflict,
)


class OverlappingUnitsOfWorkContract(abc.ABC):
    """The overlap checks as a pytest test class (see :class:`UnitOfWorkContract`)."""

    @abc.abstractmethod
    def make_uow(self) -> UnitOfWork:
        """A new unit of work over the store under test."""

    def test_overlapping_changes_conflict(self) -> None:
        """See :func:`check_overlapping_changes_conflict`."""
        check_overlapping_changes_conflict(self.make_uow)

    def test_overlapping_reads_do_not_conflict(self) -> None:
        """See :func:`check_overlapping_reads_do_not_conflict`."""
        check_overlapping_reads_do_not_conflict(self.make_uow)

    def test_overlapping_adds_conflict(self) -> None:
        """See :func:`check_overlapping_adds_conflict`."""
        check_overlapping_adds_conflict(self.make_uow)

    def test_overlapping_change_keeps_an_account_due(self) -> None:
        """See :func:`check_overlapping_change_keeps_an_account_due`."""
        check_overlapping_change_keeps_an_account_due(self.make_uow)

    def test_overlapping_change_after_commit_unseen(self) -> None:
        """See :func:`check_overlapping_change_after_commit_unseen`."""
        check_overlapping_change_after_commit_unseen(self.make_uow)

    def test_overlapping_records_conflict(self) -> None:
        """See :func:`check_overlapping_records_conflict`."""
        check_overlapping_records_conflict(self.make_uow)
