from datetime import date

import pytest

from cabinet_billing import (
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.errors import PrecisionError

pytestmark = pytest.mark.spec("L3")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def expense(eid: str, day: int, amount: str, tax: str = "0") -> Expense:
    return Expense(eid, "acc-1", "VPS-1", date(2024, 1, day), rub(amount), rub(tax))


def test_expense_keeps_accrual_precision_tax_and_unpaid_part() -> None:
    e = expense("e1", 5, "22.4137", "3.7356")
    assert e.amount == rub("22.4137")
    assert e.unpaid == rub("22.4137")
    assert not e.is_paid
    assert e.payment_ids == ()


def test_payments_pay_expenses_oldest_first_partially() -> None:
    book = ExpenseBook("acc-1")
    book.add(expense("e2", 6, "34.4827"))
    book.add(expense("e1", 5, "22.4137"))
    applied = book.fund("pay-1", rub("30.00"))
    assert [(a.expense_id, a.amount) for a in applied] == [
        ("e1", rub("22.4137")),
        ("e2", rub("7.5863")),
    ]
    assert book.get("e1").is_paid
    assert book.get("e2").unpaid == rub("26.8964")
    book.fund("pay-2", rub("100.00"))
    assert book.get("e2").payment_ids == ("pay-1", "pay-2")
    assert book.available("RUB") == rub("73.1036")


def test_new_expenses_consume_available_funds_oldest_first() -> None:
    book = ExpenseBook("acc-1")
    book.fund("pay-1", rub("10"))
    book.fund("pay-2", rub("10"))
    applied = book.add(expense("e1", 1, "15"))
    assert [(a.payment_id, a.amount) for a in applied] == [
        ("pay-1", rub("10")),
        ("pay-2", rub("5")),
    ]
    assert book.available("RUB") == rub("5")
    book.add(expense("e2", 2, "8"))
    assert book.get("e2").unpaid == rub("3")


def test_totals_unpaid_and_tax_in_a_date_range() -> None:
    book = ExpenseBook("acc-1")
    for eid, day, amount, tax in [
        ("e1", 5, "22.4137", "3.7356"),
        ("e2", 6, "34.4827", "5.7471"),
        ("e3", 20, "21.3464", "3.5577"),
    ]:
        book.add(expense(eid, day, amount, tax))
    book.fund("pay-1", rub("30"))
    totals = book.totals("RUB")
    assert (totals.total, totals.unpaid, totals.tax, totals.count) == (
        rub("78.2428"),
        rub("48.2428"),
        rub("13.0404"),
        3,
    )
    early = book.totals("rub", since=date(2024, 1, 1), until=date(2024, 1, 10))
    assert (early.total, early.count) == (rub("56.8964"), 2)
    assert [e.id for e in book.unpaid("RUB")] == ["e2", "e3"]


def test_refund_withdraws_unspent_funds_newest_first() -> None:
    book = ExpenseBook("acc-1")
    book.fund("pay-1", rub("10"))
    book.fund("pay-2", rub("10"))
    book.withdraw(rub("12"))
    assert book.available("RUB") == rub("8")
    with pytest.raises(InvalidAmountError, match="only 8 RUB is not yet spent"):
        book.withdraw(rub("9"))
    assert book.available("RUB") == rub("8")


def test_bad_expenses_and_payments_are_refused_without_change() -> None:
    book = ExpenseBook("acc-1")
    with pytest.raises(PrecisionError):
        expense("e1", 1, "1.00001")
    with pytest.raises(InvalidAmountError):
        expense("e1", 1, "-1")
    with pytest.raises(ValidationError, match="cannot exceed"):
        expense("e1", 1, "1", "2")
    with pytest.raises(CurrencyMismatchError):
        Expense("e1", "acc-1", "x", date(2024, 1, 1), rub("1"), Money("0", "EUR"))
    with pytest.raises(ValidationError, match="acc-1"):
        book.add(Expense("e1", "acc-2", "x", date(2024, 1, 1), rub("1")))
    book.add(expense("e1", 1, "5"))
    with pytest.raises(ConflictError, match="already recorded"):
        book.add(expense("e1", 1, "5"))
    book.fund("pay-1", rub("1"))
    with pytest.raises(ConflictError, match="already applied"):
        book.fund("pay-1", rub("1"))
    assert book.get("e1").unpaid == rub("4")
    with pytest.raises(NotFoundError, match="'nope'"):
        book.get("nope")
