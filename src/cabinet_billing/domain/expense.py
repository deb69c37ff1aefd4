"""Expenses and the payments that paid them (SPEC L3).

Each charge of a service is an :class:`Expense`: its id, the service's name, the charge
date, the amount at accrual precision (4 places), its tax, the part still unpaid, and the
payment(s) that paid it. An :class:`ExpenseBook` follows the money of one account the way
a billing panel does: payments arrive as *funds*, expenses consume funds oldest first, and
a payment that arrives while expenses are unpaid (bought on credit, or charged when the
balance was short) pays them off oldest first. Partial payments are normal.

A refund takes its payment's money back (:meth:`ExpenseBook.refund`): what is left of it
unspent first, then what it paid for, whose expenses are unpaid again. Other unspent
funds pay those at once; what they cannot pay is what the customer now owes, and the next
payment pays it off like any unpaid expense. So the book always agrees with the ledger:
the balance is the unspent funds less the unpaid expenses and debts.

>>> from datetime import date
>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.expense import Expense, ExpenseBook
>>> book = ExpenseBook("acc-1")
>>> _ = book.add(Expense("e1", "acc-1", "VPS-1", date(2024, 1, 5), Money("22.4137", "RUB")))
>>> _ = book.add(Expense("e2", "acc-1", "VPS-1", date(2024, 1, 6), Money("34.4827", "RUB")))
>>> [(p.expense_id, str(p.amount)) for p in book.fund("pay-1", Money("30.00", "RUB"))]
[('e1', '22.4137 RUB'), ('e2', '7.5863 RUB')]
>>> str(book.totals("RUB").unpaid)
'26.8964 RUB'
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Protocol

import attrs
import moneyed

from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.domain.money import ACCRUAL_PLACES, Money, sum_money
from cabinet_billing.errors import (
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "Allocation",
    "Expense",
    "ExpenseBook",
    "ExpenseShelf",
    "ExpenseTotals",
    "in_other_acts",
    "in_other_acts_error",
    "totals_of",
]


def _accrual_positive(_instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, moneyed.Money):
        raise ValidationError(attribute.name, value, "must be Money")
    Money(value.amount, value.currency).require_places(ACCRUAL_PLACES).require_positive()


def _to_money(value: moneyed.Money) -> Money:
    return value if isinstance(value, Money) else Money(value.amount, value.currency)


@shared_copies
@attrs.frozen
class Allocation:
    """Part of a payment applied to an expense."""

    payment_id: str
    expense_id: str
    amount: Money


@attrs.define
class Expense:
    """One charge of a service, and what has paid it so far.

    Args:
        id: the expense id.
        account_id: the account charged.
        service_name: the name shown in the expense history.
        charged_on: the charge date.
        amount: the amount, positive, at most 4 decimal places.
        tax: the tax contained in the amount (at most 4 places, from 0 to the amount).
        service_id: the service charged, if any.
        payer_id: the payer the expense is billed to, if any.
    """

    id: str
    account_id: str
    service_name: str
    charged_on: date
    amount: Money = attrs.field(converter=_to_money, validator=_accrual_positive)
    tax: Money = attrs.field(
        default=attrs.Factory(lambda self: Money.zero(self.amount.code), takes_self=True),
        converter=_to_money,
    )
    service_id: str | None = None
    payer_id: str | None = None
    act_id: str | None = None
    _allocations: list[Allocation] = attrs.field(factory=list, alias="_allocations")

    def __attrs_post_init__(self) -> None:
        tax = self.tax
        if tax.code != self.amount.code:
            raise CurrencyMismatchError(tax.code, self.amount.code, "tax")
        tax.require_places(ACCRUAL_PLACES).require_non_negative()
        if tax > self.amount:
            raise ValidationError("tax", str(tax), f"cannot exceed the amount {self.amount}")

    @property
    def currency(self) -> str:
        """The expense's currency code."""
        return self.amount.code

    @property
    def allocations(self) -> tuple[Allocation, ...]:
        """The payments applied to this expense, in the order they were applied."""
        return tuple(self._allocations)

    @property
    def payment_ids(self) -> tuple[str, ...]:
        """The ids of the payments that paid (part of) this expense."""
        return tuple(dict.fromkeys(a.payment_id for a in self._allocations))

    @property
    def paid(self) -> Money:
        """How much of the expense has been paid."""
        return sum_money((a.amount for a in self._allocations), self.amount.code)

    @property
    def unpaid(self) -> Money:
        """How much of the expense is still unpaid."""
        return self.amount - self.paid

    @property
    def is_paid(self) -> bool:
        """Whether nothing is left to pay."""
        return self.unpaid.amount == 0

    def _apply(self, payment_id: str, available: Money) -> Allocation | None:
        take = min(self.unpaid, available)
        if take.amount <= 0:
            return None
        allocation = Allocation(payment_id, self.id, take)
        self._allocations.append(allocation)
        return allocation

    def _unapply(self, payment_id: str, up_to: Money) -> Money:
        """Take back up to ``up_to`` of what a payment paid, its latest part first."""
        left = up_to
        for i in range(len(self._allocations) - 1, -1, -1):
            allocation = self._allocations[i]
            if allocation.payment_id != payment_id or not left.amount:
                continue
            take = min(allocation.amount, left)
            if take == allocation.amount:
                del self._allocations[i]
            else:
                self._allocations[i] = Allocation(payment_id, self.id, allocation.amount - take)
            left -= take
        return up_to - left


@attrs.frozen
class ExpenseTotals:
    """Totals of a set of expenses in one currency."""

    total: Money
    unpaid: Money
    tax: Money
    count: int


@attrs.frozen
class _Fund:
    payment_id: str
    remaining: Money


@attrs.frozen
class _Debt:
    """What a refund took back that no expense stands for (e.g. money since converted)."""

    payment_id: str
    remaining: Money


class ExpenseShelf(Protocol):
    """Where a store keeps the paid expenses of a book it loaded without them.

    Funding an expense or a payment needs only the unpaid expenses (they are paid oldest
    first), so a store may load a book with only those and attach a shelf for the rest
    (:meth:`ExpenseBook.attach`); the book reads the rest the first time a question needs
    every expense (a history, totals, a refund, a payer's expenses), and the few it is
    asked for by id (:meth:`ExpenseBook.get`, putting expenses in an act) when it needs
    only those. Whatever the shelf hands out is the book's own from then on: a store
    tracks and writes back its changes like those of the expenses it loaded.
    """

    def holds(self, expense_id: str) -> bool:
        """Whether a stored expense of the book has this id."""
        ...

    def find(self, expense_ids: Collection[str]) -> dict[str, Expense]:
        """The stored expenses of the book with these ids, by id (the ids it has)."""
        ...

    def unbilled(self, until: date, loaded: Mapping[str, Expense]) -> list[Expense]:
        """The expenses in no act charged before ``until`` (at least), in the order recorded.

        Args:
            until: the first day not chosen.
            loaded: the expenses the book holds: those objects are given for their ids,
                and the ones recorded since loading come last, in their order.
        """
        ...

    def complete(self, loaded: Mapping[str, Expense]) -> dict[str, Expense]:
        """Every expense of the book in the order it was recorded.

        Args:
            loaded: the expenses the book holds (loaded or recorded since): those objects
                are kept, and the ones recorded since loading come last, in their order.
        """
        ...


@attrs.define
class ExpenseBook:
    """The expenses of one account and the payments that fund them, oldest first.

    Args:
        account_id: the account.
    """

    account_id: str
    _expenses: dict[str, Expense] = attrs.field(factory=dict, alias="_expenses")
    _funds: list[_Fund] = attrs.field(factory=list, alias="_funds")
    _payments: set[str] = attrs.field(factory=set, alias="_payments")
    _debts: list[_Debt] = attrs.field(factory=list, alias="_debts")
    _shelf: ExpenseShelf | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExpenseBook):
            return NotImplemented
        self._complete()
        other._complete()
        return (self.account_id, self._expenses, self._funds, self._payments, self._debts) == (
            other.account_id,
            other._expenses,
            other._funds,
            other._payments,
            other._debts,
        )

    __hash__ = None  # type: ignore[assignment]

    def attach(self, shelf: ExpenseShelf) -> None:
        """Let a book loaded with only its unpaid expenses read the others when asked."""
        self._shelf = shelf

    @property
    def complete(self) -> bool:
        """Whether the book holds every expense (not only the unpaid ones a store loaded)."""
        return self._shelf is None

    def _complete(self) -> None:
        if self._shelf is not None:
            shelf, self._shelf = self._shelf, None
            self._expenses = shelf.complete(self._expenses)

    def _holds(self, expense_id: str) -> bool:
        if expense_id in self._expenses:
            return True
        return self._shelf is not None and self._shelf.holds(expense_id)

    def _find(self, expense_ids: Sequence[str]) -> dict[str, Expense]:
        """The expenses with these ids that the book has, read from its shelf if need be."""
        held = self._expenses
        missing = [i for i in expense_ids if i not in held]
        if missing and self._shelf is not None:
            for expense_id, expense in self._shelf.find(missing).items():
                held.setdefault(expense_id, expense)
        return {i: held[i] for i in expense_ids if i in held}

    def add(self, expense: Expense) -> tuple[Allocation, ...]:
        """Record an expense and pay what the available funds can, oldest fund first.

        Raises:
            ValidationError: when the expense belongs to another account.
            ConflictError: when an expense with this id exists.
        """
        if expense.account_id != self.account_id:
            raise ValidationError(
                "account_id",
                expense.account_id,
                f"this book is for account {self.account_id!r}",
            )
        if self._holds(expense.id):
            raise ConflictError(f"expense {expense.id!r}", "already recorded")
        self._expenses[expense.id] = expense
        applied: list[Allocation] = []
        for i, fund in enumerate(self._funds):
            if expense.is_paid:
                break
            if fund.remaining.code != expense.currency or fund.remaining.amount == 0:
                continue
            allocation = expense._apply(fund.payment_id, fund.remaining)  # noqa: SLF001
            if allocation is not None:
                self._funds[i] = _Fund(fund.payment_id, fund.remaining - allocation.amount)
                applied.append(allocation)
        self._funds = [f for f in self._funds if f.remaining.amount]
        return tuple(applied)

    def fund(self, payment_id: str, amount: moneyed.Money) -> tuple[Allocation, ...]:
        """Apply a payment to what is owed, oldest first; keep the rest as funds.

        What refunds left owed without an expense comes first, then the unpaid expenses.

        Raises:
            ConflictError: when this payment was already applied.
            InvalidAmountError: when the amount is not positive or too precise.
        """
        money = _to_money(amount).require_places(ACCRUAL_PLACES).require_positive()
        if payment_id in self._payments:
            raise ConflictError(f"payment {payment_id!r}", "already applied to the expenses")
        self._payments.add(payment_id)
        left = self._repay_debts(money)
        if not left.amount:
            return ()
        applied: list[Allocation] = []
        for expense in self.unpaid(money.code):
            allocation = expense._apply(payment_id, left)  # noqa: SLF001
            if allocation is not None:
                applied.append(allocation)
                left -= allocation.amount
            if left.amount == 0:
                break
        if left.amount:
            self._funds.append(_Fund(payment_id, left))
        return tuple(applied)

    def withdraw(self, amount: moneyed.Money) -> None:
        """Take unallocated funds out (a refund), newest fund first.

        Raises:
            InvalidAmountError: when more is asked than is available.
        """
        money = _to_money(amount).require_positive()
        if money > self.available(money.code):
            raise InvalidAmountError(
                str(money),
                f"only {self.available(money.code)} is not yet spent",
            )
        left = money
        for i in range(len(self._funds) - 1, -1, -1):
            fund = self._funds[i]
            if fund.remaining.code != money.code or left.amount == 0:
                continue
            take = min(fund.remaining, left)
            self._funds[i] = _Fund(fund.payment_id, fund.remaining - take)
            left -= take
        self._funds = [f for f in self._funds if f.remaining.amount]

    def refund(self, payment_id: str, amount: moneyed.Money) -> Money:
        """Take back the money of a refunded payment; return what the customer now owes.

        The refund takes what is left unspent of the payment first, then what the
        payment paid, latest expense first: those expenses are unpaid again. Other unspent
        funds pay them at once (oldest expense first); what a refund takes that no
        expense of this currency stands for (money since converted to another currency)
        comes from other unspent funds too. Whatever they cannot cover is owed: unpaid
        expenses, or a debt of the refund, and the next payment pays it off
        (:meth:`fund`).

        Args:
            payment_id: the refunded payment (or its cashback payment).
            amount: how much of it is taken back, positive.

        Returns:
            How much more the customer owes because of the refund (zero when unspent
            money covered it).

        Raises:
            InvalidAmountError: when the amount is not positive or too precise.

        >>> from datetime import date
        >>> book = ExpenseBook("acc-1")
        >>> _ = book.fund("pay-1", Money("100.00", "RUB"))
        >>> _ = book.add(Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("60.00", "RUB")))
        >>> book.refund("pay-1", Money("100.00", "RUB"))
        Money('60.00', 'RUB')
        >>> str(book.get("e1").unpaid), str(book.owed("RUB"))
        ('60.00 RUB', '60.00 RUB')
        """
        money = _to_money(amount).require_places(ACCRUAL_PLACES).require_positive()
        code = money.code
        owed_before = self.owed(code)
        left = money
        for i, fund in enumerate(self._funds):
            if fund.payment_id == payment_id and fund.remaining.code == code and left.amount:
                take = min(fund.remaining, left)
                self._funds[i] = _Fund(payment_id, fund.remaining - take)
                left -= take
        self._complete()
        for expense in reversed(self.expenses(code)):
            if not left.amount:
                break
            left -= expense._unapply(payment_id, left)  # noqa: SLF001
        if left.amount:
            # Not traceable to an expense of this currency: other unspent money covers it.
            taken = min(left, self.available(code))
            if taken.amount:
                self.withdraw(taken)
                left -= taken
        if left.amount:
            self._debts.append(_Debt(payment_id, left))
        self._funds = [f for f in self._funds if f.remaining.amount]
        self._refund_unpaid(code)
        return self.owed(code) - owed_before

    def _refund_unpaid(self, code: str) -> None:
        """Let unspent funds pay the unpaid expenses of a currency, oldest first."""
        for expense in self.unpaid(code):
            for i, fund in enumerate(self._funds):
                if expense.is_paid:
                    break
                if fund.remaining.code != code or not fund.remaining.amount:
                    continue
                allocation = expense._apply(fund.payment_id, fund.remaining)  # noqa: SLF001
                if allocation is not None:
                    self._funds[i] = _Fund(fund.payment_id, fund.remaining - allocation.amount)
        self._funds = [f for f in self._funds if f.remaining.amount]

    def _repay_debts(self, money: Money) -> Money:
        left = money
        kept: list[_Debt] = []
        for debt in self._debts:
            if debt.remaining.code != money.code or not left.amount:
                kept.append(debt)
                continue
            take = min(debt.remaining, left)
            left -= take
            if take < debt.remaining:
                kept.append(_Debt(debt.payment_id, debt.remaining - take))
        self._debts = kept
        return left

    def rebill(self, payer_id: str, to: str) -> tuple[str, ...]:
        """Bill a payer's expenses that are in no act to the payer ``to`` (merging payers).

        An expense already in an act stays with the payer the act is made out to.

        Returns:
            The ids of the expenses billed to ``to`` now, oldest first.

        >>> from datetime import date
        >>> book = ExpenseBook("acc-1")
        >>> _ = book.add(Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("10", "RUB"), payer_id="p-2"))
        >>> book.rebill("p-2", "p-1"), book.get("e1").payer_id
        (('e1',), 'p-1')
        """
        moved = [e for e in self.expenses() if e.payer_id == payer_id and e.act_id is None]
        for expense in moved:
            expense.payer_id = to
        return tuple(e.id for e in moved)

    def assign_act(self, act_id: str, expense_ids: Iterable[str]) -> tuple[Expense, ...]:
        """Put expenses in an act: each one's ``act_id`` becomes ``act_id``, all or none.

        Only the expenses asked for are read (paid ones too, from the store's shelf of a
        book loaded without them), and they are the book's own: the store writes the
        change back with the book. Putting an expense in the act it is in is harmless.

        Returns:
            The expenses, in the order asked.

        Raises:
            ValidationError: when the book has no expense with one of the ids.
            ConflictError: when one of them is in another act.

        >>> book = ExpenseBook("acc-1")
        >>> _ = book.add(Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("10", "RUB")))
        >>> [e.act_id for e in book.assign_act("act-1", ["e1"])]
        ['act-1']
        """
        ids = tuple(expense_ids)
        found = self._find(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValidationError(
                "expense_ids",
                missing,
                f"act {act_id!r} lists expenses the book of account {self.account_id!r} lacks",
            )
        chosen = [found[i] for i in ids]
        taken = in_other_acts(chosen, act_id)
        if taken:
            raise in_other_acts_error(taken)
        for expense in chosen:
            expense.act_id = act_id
        return tuple(chosen)

    def release_act(self, act_id: str, expense_ids: Iterable[str]) -> tuple[str, ...]:
        """Take expenses out of an act (it is deleted): their ``act_id`` is cleared.

        Of the expenses asked for, those in the act ``act_id`` are released; the others,
        and ids the book lacks, are left alone.

        Returns:
            The ids of the expenses released, in the order asked.

        >>> book = ExpenseBook("acc-1")
        >>> _ = book.add(Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("10", "RUB")))
        >>> _ = book.assign_act("act-1", ["e1"])
        >>> book.release_act("act-1", ["e1"]), book.get("e1").act_id
        (('e1',), None)
        """
        ids = tuple(expense_ids)
        found = self._find(ids)
        released = [found[i] for i in ids if i in found and found[i].act_id == act_id]
        for expense in released:
            expense.act_id = None
        return tuple(e.id for e in released)

    # ------------------------------------------------------------------ queries

    def get(self, expense_id: str) -> Expense:
        """The expense with an id.

        Raises:
            NotFoundError: when there is none.
        """
        found = self._find((expense_id,))
        if not found:
            raise NotFoundError("expense", expense_id)
        return found[expense_id]

    def expenses(
        self,
        currency: str | None = None,
        *,
        since: date | None = None,
        until: date | None = None,
    ) -> list[Expense]:
        """Expenses oldest first (by charge date, then by the order they were added).

        Args:
            currency: only this currency.
            since: only expenses charged on or after this date.
            until: only expenses charged before this date.
        """
        self._complete()
        return self._chosen(currency, since, until)

    def _chosen(
        self, currency: str | None, since: date | None, until: date | None
    ) -> list[Expense]:
        code = currency.upper() if currency else None
        found = [
            e
            for e in self._expenses.values()
            if (code is None or e.currency == code)
            and (since is None or e.charged_on >= since)
            and (until is None or e.charged_on < until)
        ]
        return sorted(found, key=lambda e: e.charged_on)

    def unbilled(self, until: date) -> list[Expense]:
        """The expenses in no act yet charged before ``until``, oldest first.

        A book loaded without its paid expenses reads only these from its store.

        >>> book = ExpenseBook("acc-1")
        >>> _ = book.add(Expense("e1", "acc-1", "VPS", date(2024, 3, 1), Money("10", "RUB")))
        >>> _ = book.add(Expense("e2", "acc-1", "VPS", date(2024, 4, 1), Money("10", "RUB")))
        >>> [e.id for e in book.unbilled(date(2024, 4, 1))]
        ['e1']
        """
        if self._shelf is None:
            chosen = list(self._expenses.values())
        else:
            chosen = self._shelf.unbilled(until, self._expenses)
            for expense in chosen:
                self._expenses.setdefault(expense.id, expense)
        found = [e for e in chosen if e.act_id is None and e.charged_on < until]
        return sorted(found, key=lambda e: e.charged_on)

    def unpaid(self, currency: str | None = None) -> list[Expense]:
        """The expenses with something left to pay, oldest first."""
        # Paid expenses are never unpaid again without the book being complete (a refund).
        return [e for e in self._chosen(currency, None, None) if not e.is_paid]

    def available(self, currency: str) -> Money:
        """Funds received and not yet spent on expenses."""
        code = currency.upper()
        return sum_money((f.remaining for f in self._funds if f.remaining.code == code), code)

    def debts(self, currency: str) -> Money:
        """What refunds took back that no expense stands for, still unpaid."""
        code = currency.upper()
        return sum_money((d.remaining for d in self._debts if d.remaining.code == code), code)

    def owed(self, currency: str) -> Money:
        """Everything the customer owes in a currency: unpaid expenses and debts of refunds."""
        code = currency.upper()
        unpaid = sum_money((e.unpaid for e in self.unpaid(code)), code)
        return unpaid + self.debts(code)

    def totals(
        self,
        currency: str,
        *,
        since: date | None = None,
        until: date | None = None,
    ) -> ExpenseTotals:
        """Total, unpaid and tax of the expenses in a currency, optionally in a date range."""
        chosen = self.expenses(currency, since=since, until=until)
        return totals_of(chosen, currency.upper())


def in_other_acts(expenses: Iterable[Expense], act_id: str) -> list[Expense]:
    """The expenses that are in an act other than ``act_id``."""
    return [e for e in expenses if e.act_id is not None and e.act_id != act_id]


def in_other_acts_error(taken: Sequence[Expense]) -> ConflictError:
    """The error that refuses to put expenses already in other acts in one more."""
    listing = ", ".join(f"{e.id} (act {e.act_id})" for e in taken)
    return ConflictError(
        f"expense(s) {listing}",
        "already in another act; an expense can be in one act only "
        "(release that act first to make it out again)",
    )


def totals_of(expenses: Iterable[Expense], code: str) -> ExpenseTotals:
    """Total, unpaid and tax of some expenses of one currency, and how many there are."""
    chosen = list(expenses)
    return ExpenseTotals(
        total=sum_money((e.amount for e in chosen), code),
        unpaid=sum_money((e.unpaid for e in chosen), code),
        tax=sum_money((e.tax for e in chosen), code),
        count=len(chosen),
    )
