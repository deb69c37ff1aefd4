from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import pytest

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.errors import InvalidAmountError, ValidationError
from cabinet_billing.rules.matching import (
    AmountDirection,
    CandidateStatus,
    InvoiceCandidate,
    MatchOutcome,
    MatchResult,
    ReviewReason,
    StatementLine,
    StatementMatch,
    match_line,
    match_statement,
)

pytestmark = pytest.mark.spec("L7")

HS = NumberFormat("{prefix}-{service_code}-{seq:03}")
INV_7 = InvoiceCandidate("inv-7", "HOR-11111-007", Money("1500.00", "UAH"))
INV_8 = InvoiceCandidate("inv-8", "HOR-11111-008", Money("900.00", "UAH"))
INVOICES = (INV_7, INV_8)
DAY = date(2024, 5, 2)


def line(
    purpose: str, amount: str = "1500.00", currency: str = "UAH", line_id: str = "L1"
) -> StatementLine:
    return StatementLine(line_id, DAY, Money(amount, currency), "ФОП Іваненко", purpose)


def test_horoshop_exact_number_and_exact_amount_is_credited() -> None:
    result = match_line(line("Оплата за рахунком HOR-11111-007, без ПДВ"), INVOICES, HS)
    assert result == MatchResult(
        "L1",
        MatchOutcome.MATCHED,
        "credited 1500.00 UAH to invoice HOR-11111-007",
        ("HOR-11111-007",),
        "inv-7",
        Money("1500.00", "UAH"),
    )
    assert result.matched
    assert result.reason is None
    assert result.direction is None


def test_equal_amounts_written_differently_match() -> None:
    assert match_line(line("HOR-11111-007", amount="1500"), INVOICES, HS).matched


def test_partially_paid_invoice_matches_its_remaining_amount_due() -> None:
    rest = InvoiceCandidate("inv-9", "HOR-11111-009", Money("250.50", "UAH"))
    assert match_line(line("HOR-11111-009", amount="250.50"), [rest], HS).amount == Money(
        "250.50", "UAH"
    )


def test_a_longer_number_does_not_match_the_shorter_one() -> None:
    result = match_line(line("HOR-11111-0071"), INVOICES, HS)
    assert result.outcome is MatchOutcome.REVIEW
    assert result.reason is ReviewReason.NO_NUMBER
    assert result.numbers_found == ()


def test_no_number() -> None:
    result = match_line(line("Оплата за послуги"), INVOICES, HS)
    assert (result.reason, result.message, result.invoice_id) == (
        ReviewReason.NO_NUMBER,
        "no invoice number of the format '{prefix}-{service_code}-{seq:03}' in the purpose",
        None,
    )


def test_several_numbers() -> None:
    result = match_line(line("HOR-11111-007, HOR-11111-008", amount="2400.00"), INVOICES, HS)
    assert (result.reason, result.message, result.numbers_found) == (
        ReviewReason.SEVERAL_NUMBERS,
        "the purpose names several invoice numbers: HOR-11111-007, HOR-11111-008",
        ("HOR-11111-007", "HOR-11111-008"),
    )
    assert result.invoice_id is None


def test_one_known_and_one_unknown_number_is_several() -> None:
    result = match_line(line("HOR-11111-007 замість HOR-11111-005"), INVOICES, HS)
    assert result.reason is ReviewReason.SEVERAL_NUMBERS


def test_the_same_number_twice_is_one_number() -> None:
    assert match_line(line("HOR-11111-007 / HOR-11111-007"), INVOICES, HS).matched


def test_unknown_number() -> None:
    result = match_line(line("HOR-11111-042"), INVOICES, HS)
    assert (result.reason, result.message, result.numbers_found) == (
        ReviewReason.UNKNOWN_NUMBER,
        "no invoice has the number HOR-11111-042",
        ("HOR-11111-042",),
    )


def test_underpaid_says_by_how_much() -> None:
    result = match_line(line("HOR-11111-007", amount="1400.00"), INVOICES, HS)
    assert result.outcome is MatchOutcome.REVIEW
    assert result.reason is ReviewReason.AMOUNT_DIFFERS
    assert result.message == (
        "paid 1400.00 UAH for HOR-11111-007, 100.00 UAH less than the 1500.00 UAH due"
    )
    assert result.difference == Money("-100.00", "UAH")
    assert result.direction is AmountDirection.UNDERPAID
    assert result.invoice_id == "inv-7"
    assert result.amount is None


def test_overpaid_says_by_how_much() -> None:
    result = match_line(line("HOR-11111-007", amount="1500.01"), INVOICES, HS)
    assert result.message == (
        "paid 1500.01 UAH for HOR-11111-007, 0.01 UAH more than the 1500.00 UAH due"
    )
    assert result.difference == Money("0.01", "UAH")
    assert result.direction is AmountDirection.OVERPAID


def test_currency_differs() -> None:
    result = match_line(line("HOR-11111-007", currency="EUR"), INVOICES, HS)
    assert (result.reason, result.message, result.invoice_id) == (
        ReviewReason.CURRENCY_DIFFERS,
        "paid 1500.00 EUR for HOR-11111-007, which is due in UAH",
        "inv-7",
    )
    assert result.difference is None


def test_paid_invoice() -> None:
    paid = attrs.evolve(INV_7, amount_due=Money("0.00", "UAH"), status=CandidateStatus.PAID)
    result = match_line(line("HOR-11111-007"), [paid], HS)
    assert (result.reason, result.message) == (
        ReviewReason.INVOICE_PAID,
        "invoice HOR-11111-007 is already paid",
    )


def test_cancelled_invoice() -> None:
    cancelled = attrs.evolve(INV_7, status=CandidateStatus.CANCELLED)
    result = match_line(line("HOR-11111-007"), [cancelled], HS)
    assert (result.reason, result.message) == (
        ReviewReason.INVOICE_CANCELLED,
        "invoice HOR-11111-007 is cancelled",
    )


def test_numbers_are_case_sensitive_exact() -> None:
    assert match_line(line("hor-11111-007"), INVOICES, HS).reason is ReviewReason.UNKNOWN_NUMBER


# ----------------------------------------------------------------------------- statements


def test_statement_credits_each_invoice_once() -> None:
    lines = [
        line("HOR-11111-007", line_id="L1"),
        line("HOR-11111-007 again", line_id="L2"),
        line("HOR-11111-008", amount="900.00", line_id="L3"),
        line("Оплата", line_id="L4"),
    ]
    result = match_statement(lines, INVOICES, HS)
    assert [r.outcome for r in result.results] == [
        MatchOutcome.MATCHED,
        MatchOutcome.REVIEW,
        MatchOutcome.MATCHED,
        MatchOutcome.REVIEW,
    ]
    assert [(r.line_id, r.invoice_id) for r in result.matched] == [("L1", "inv-7"), ("L3", "inv-8")]
    second = result.review[0]
    assert (second.line_id, second.reason, second.message, second.invoice_id) == (
        "L2",
        ReviewReason.ALREADY_MATCHED,
        "invoice HOR-11111-007 was already matched in this statement",
        "inv-7",
    )
    assert result.duplicates == ()


def test_an_unmatched_line_does_not_block_a_later_exact_one() -> None:
    lines = [
        line("HOR-11111-007", amount="1.00", line_id="L1"),
        line("HOR-11111-007", line_id="L2"),
    ]
    result = match_statement(lines, INVOICES, HS)
    assert [r.outcome for r in result.results] == [MatchOutcome.REVIEW, MatchOutcome.MATCHED]


def test_processed_lines_are_duplicates_and_change_nothing() -> None:
    lines = [
        line("HOR-11111-007", line_id="L1"),
        line("HOR-11111-008", amount="900.00", line_id="L2"),
    ]
    result = match_statement(lines, INVOICES, HS, processed={"L1"})
    assert result.duplicates == (
        MatchResult(
            "L1", MatchOutcome.DUPLICATE, "line 'L1' was already processed by an earlier run"
        ),
    )
    assert [r.line_id for r in result.matched] == ["L2"]


def test_a_line_repeated_within_a_statement_is_a_duplicate() -> None:
    lines = [line("HOR-11111-007", line_id="L1"), line("HOR-11111-007", line_id="L1")]
    result = match_statement(lines, INVOICES, HS)
    assert [r.outcome for r in result.results] == [MatchOutcome.MATCHED, MatchOutcome.DUPLICATE]
    assert result.results[1].message == "line 'L1' was already processed earlier in this statement"


def test_rerunning_with_the_processed_ids_changes_nothing() -> None:
    lines = [line("HOR-11111-007", line_id="L1"), line("x", line_id="L2")]
    first = match_statement(lines, INVOICES, HS)
    again = match_statement(lines, INVOICES, HS, processed={r.line_id for r in first.results})
    assert again.matched == ()
    assert again.review == ()
    assert len(again.duplicates) == 2


def test_empty_statement() -> None:
    assert match_statement([], INVOICES, HS) == StatementMatch(())


# ----------------------------------------------------------------------------- errors


def test_candidates_with_the_same_number_are_refused() -> None:
    twin = InvoiceCandidate("inv-70", "HOR-11111-007", Money("1.00", "UAH"))
    with pytest.raises(
        ValidationError, match="number='HOR-11111-007' is invalid: invoice numbers must be unique"
    ):
        match_statement([], [INV_7, twin], HS)


def test_an_ambiguous_number_format_is_refused() -> None:
    with pytest.raises(ValidationError, match="numbers cannot be read back"):
        match_line(line("x"), INVOICES, NumberFormat("{account}{seq}"))
    with pytest.raises(ValidationError, match="numbers cannot be read back"):
        match_statement([], INVOICES, NumberFormat("{account}{seq}"))


@pytest.mark.parametrize("amount", ["0.00", "-10.00"])
def test_outgoing_lines_are_not_payments(amount: str) -> None:
    with pytest.raises(InvalidAmountError, match="must be greater than zero") as info:
        line("HOR-11111-007", amount=amount)
    assert info.value.value == f"{amount} UAH"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"line_id": ""}, "line_id", "must be a non-empty string"),
        ({"value_date": "2024-05-02"}, "value_date", "must be a date"),
        ({"amount": "1500.00"}, "amount", "must be a Money amount"),
        ({"purpose": None}, "purpose", "must be a string"),
        ({"payer_account": ""}, "payer_account", "must be a non-empty string or None"),
    ],
)
def test_statement_line_validation(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        attrs.evolve(line("HOR-11111-007"), **changes)
    assert info.value.field == field


def test_payer_account_is_kept() -> None:
    iban = "UA213223130000026007233566001"
    assert attrs.evolve(line("x"), payer_account=iban).payer_account == iban


def test_candidate_validation() -> None:
    with pytest.raises(ValidationError, match="invoice_id=' ' is invalid"):
        InvoiceCandidate(" ", "HOR-11111-007", Money("1.00", "UAH"))
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        InvoiceCandidate("inv-7", "HOR-11111-007", Money("-1.00", "UAH"))
    assert INV_7.currency == "UAH"
