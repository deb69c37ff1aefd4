from __future__ import annotations

from datetime import date

import attrs
import pytest

from cabinet_billing.domain.credit import CreditLine, CreditStatement, StatementStatus
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import (
    AmountOutOfRangeError,
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    PrecisionError,
    ValidationError,
)

pytestmark = pytest.mark.spec("R1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def snapshot(line: CreditLine) -> tuple[object, ...]:
    return (line.limit, line.unbilled_usage, line.statements)


def december_line() -> CreditLine:
    line = CreditLine("acc-1", rub("150000.00"))
    line.record_usage(rub("500.00"), date(2023, 12, 5), "VPS-1")
    line.record_usage(rub("300.00"), date(2023, 12, 20), "VPS-2")
    return line


def test_december_usage_becomes_one_statement_on_january_1() -> None:
    line = december_line()
    line.record_usage(rub("42.00"), date(2024, 1, 1))
    s = line.issue_statement(
        date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15), date(2024, 1, 30)
    )
    assert s == CreditStatement(
        "acc-1:2023-12",
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 1, 15),
        date(2024, 1, 30),
        rub("800.00"),
    )
    assert s.status is StatementStatus.TO_PAY
    assert line.statements == (s,)
    # January's usage waits for the next statement.
    assert line.unbilled == rub("42.00")
    assert line.outstanding == rub("800.00")
    assert line.debt == rub("842.00")
    assert line.available == rub("149158.00")
    assert line.billed_through == date(2023, 12, 1)


def test_nothing_to_bill_gives_no_statement() -> None:
    line = CreditLine("acc-1", rub("1000.00"))
    line.record_usage(rub("10.00"), date(2024, 1, 3))
    assert line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15)) is None
    assert line.statements == ()
    assert line.unbilled == rub("10.00")


def test_a_month_is_never_billed_twice() -> None:
    line = december_line()
    line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15))
    before = snapshot(line)
    with pytest.raises(ConflictError) as err:
        line.issue_statement(date(2023, 12, 1), date(2024, 1, 2), date(2024, 1, 15))
    assert "2023-12" in str(err.value)
    assert "next month to bill is 2024-01" in str(err.value)
    assert snapshot(line) == before
    with pytest.raises(ConflictError):
        line.issue_statement(date(2023, 11, 1), date(2024, 1, 2), date(2024, 1, 15))
    assert snapshot(line) == before


def test_usage_in_a_billed_month_is_refused() -> None:
    line = december_line()
    line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15))
    before = snapshot(line)
    with pytest.raises(ConflictError) as err:
        line.record_usage(rub("1.00"), date(2023, 12, 31))
    assert "2023-12-31" in str(err.value)
    assert "on or after 2024-01-01" in str(err.value)
    assert snapshot(line) == before


D = date


@pytest.mark.parametrize(
    ("dates", "field", "allowed"),
    [
        ((D(2023, 12, 2), D(2024, 1, 1), D(2024, 1, 15), None), "month", "first day"),
        ((D(2023, 12, 1), D(2023, 12, 31), D(2024, 1, 15), None), "issued_on", "2024-01-01"),
        ((D(2023, 12, 1), D(2024, 1, 1), D(2023, 12, 31), None), "due_on", "2024-01-01"),
        ((D(2023, 12, 1), D(2024, 1, 1), D(2024, 1, 15), D(2024, 1, 14)), "block_on", "2024-01-15"),
    ],
)
def test_statement_dates_are_validated(
    dates: tuple[date, date, date, date | None], field: str, allowed: str
) -> None:
    line = december_line()
    before = snapshot(line)
    with pytest.raises(ValidationError) as err:
        line.issue_statement(*dates)
    assert err.value.field == field
    assert allowed in str(err.value)
    assert snapshot(line) == before


def test_payments_repay_the_oldest_statement_first_and_return_the_rest() -> None:
    line = december_line()
    dec = line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15))
    line.record_usage(rub("2400.00"), date(2024, 1, 10))
    jan = line.issue_statement(date(2024, 1, 1), date(2024, 2, 1), date(2024, 2, 15))
    assert dec is not None
    assert jan is not None

    first = line.apply_payment(rub("300.00"), date(2024, 2, 2))
    assert first.applied == (("acc-1:2023-12", rub("300.00")),)
    assert first.remainder == rub("0.00")
    assert line.statements[0].status is StatementStatus.PARTIALLY_PAID
    assert line.statements[0].outstanding == rub("500.00")

    second = line.apply_payment(rub("3000.00"), date(2024, 2, 3))
    assert second.applied == (
        ("acc-1:2023-12", rub("500.00")),
        ("acc-1:2024-01", rub("2400.00")),
    )
    assert second.remainder == rub("100.00")
    assert [s.status for s in line.statements] == [StatementStatus.FULLY_REPAID] * 2
    assert [s.repaid_on for s in line.statements] == [date(2024, 2, 3)] * 2
    assert line.outstanding == rub("0.00")
    assert line.available == line.limit


def test_overpayment_with_nothing_to_repay_is_all_remainder() -> None:
    line = CreditLine("acc-1", rub("1000.00"))
    result = line.apply_payment(rub("5.00"), date(2024, 1, 1))
    assert result.applied == ()
    assert result.remainder == rub("5.00")


def test_usage_beyond_the_limit_is_refused() -> None:
    line = CreditLine("acc-1", rub("1000.00"))
    line.record_usage(rub("999.00"), date(2024, 1, 1))
    before = snapshot(line)
    with pytest.raises(AmountOutOfRangeError) as err:
        line.record_usage(rub("1.01"), date(2024, 1, 2))
    assert str(err.value) == "amount 1.01 RUB is out of range: allowed at most 1.00 RUB"
    assert snapshot(line) == before
    line.record_usage(rub("1.00"), date(2024, 1, 2))
    assert line.available == rub("0.00")


@pytest.mark.parametrize(
    ("amount", "error", "text"),
    [
        (Money("10.00", "EUR"), CurrencyMismatchError, "amount is in EUR, expected RUB"),
        (rub("10.001"), PrecisionError, "at most 2 decimal place(s)"),
        (rub("0.00"), InvalidAmountError, "must be greater than zero"),
        (rub("-5.00"), InvalidAmountError, "must be greater than zero"),
    ],
)
def test_bad_amounts_are_refused_without_a_change(
    amount: Money, error: type[Exception], text: str
) -> None:
    line = december_line()
    line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15))
    before = snapshot(line)
    with pytest.raises(error) as err:
        line.record_usage(amount, date(2024, 1, 5))
    assert text in str(err.value)
    with pytest.raises(error):
        line.apply_payment(amount, date(2024, 1, 5))
    assert snapshot(line) == before


def test_non_money_is_refused() -> None:
    line = december_line()
    with pytest.raises(ValidationError) as err:
        line.record_usage("10.00", date(2024, 1, 5))  # type: ignore[arg-type]
    assert str(err.value) == "amount='10.00' is invalid: must be Money in RUB"
    with pytest.raises(ValidationError) as err:
        line.record_usage(rub("10.00"), "2024-01-05")  # type: ignore[arg-type]
    assert err.value.field == "on"


def test_the_limit_changes_but_never_below_the_debt() -> None:
    line = december_line()
    assert line.change_limit(rub("2000.00")) == rub("150000.00")
    assert line.available == rub("1200.00")
    before = snapshot(line)
    with pytest.raises(AmountOutOfRangeError) as err:
        line.change_limit(rub("799.99"))
    assert str(err.value) == "amount 799.99 RUB is out of range: allowed at least 800.00 RUB"
    assert snapshot(line) == before
    with pytest.raises(CurrencyMismatchError):
        line.change_limit(Money("2000.00", "EUR"))
    with pytest.raises(InvalidAmountError):
        line.change_limit(rub("-1.00"))
    assert snapshot(line) == before
    line.change_limit(rub("800.00"))
    assert line.available == rub("0.00")


def test_limit_is_validated_at_construction() -> None:
    with pytest.raises(PrecisionError):
        CreditLine("acc-1", rub("1.001"))
    with pytest.raises(InvalidAmountError):
        CreditLine("acc-1", rub("-1"))
    with pytest.raises(ValidationError):
        CreditLine("acc-1", "1000")  # type: ignore[arg-type]


def test_statement_paid_must_lie_between_zero_and_the_amount() -> None:
    s = CreditStatement(
        "s", date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15), None, rub("800.00")
    )
    with pytest.raises(AmountOutOfRangeError) as err:
        attrs.evolve(s, paid=rub("800.01"))
    assert "from 0 RUB to 800.00 RUB" in str(err.value)


def test_statement_ids_are_unique() -> None:
    line = december_line()
    line.issue_statement(date(2023, 12, 1), date(2024, 1, 1), date(2024, 1, 15), statement_id="x")
    line.record_usage(rub("1.00"), date(2024, 1, 2))
    before = snapshot(line)
    with pytest.raises(ConflictError) as err:
        line.issue_statement(
            date(2024, 1, 1), date(2024, 2, 1), date(2024, 2, 15), statement_id="x"
        )
    assert "'x'" in str(err.value)
    assert snapshot(line) == before
    assert line.statement("x") is line.statements[0]
    assert line.statement("nope") is None
