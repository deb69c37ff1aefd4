from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import NumberFormat, ParsedNumber
from cabinet_billing.rules.matching import (
    CandidateStatus,
    InvoiceCandidate,
    MatchOutcome,
    StatementLine,
    match_line,
    match_statement,
)

pytestmark = pytest.mark.spec("L7")

HS = NumberFormat("{prefix}-{service_code}-{seq:03}")
DAY = date(2024, 5, 2)
# Mostly open invoices, so that matches are common enough to be tested.
STATUSES = (*[CandidateStatus.OPEN] * 3, CandidateStatus.PAID, CandidateStatus.CANCELLED)

seqs = st.integers(min_value=1, max_value=2000)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2)
# Text without digits never contains an invoice number: every number has a sequence.
noise = st.text(
    st.characters(blacklist_categories=("Nd", "Cs")),
    max_size=30,
)


def number(seq: int) -> str:
    return HS.format(seq, prefix="HOR", service_code="11111")


@st.composite
def invoice_sets(draw: st.DrawFn) -> list[InvoiceCandidate]:
    chosen = draw(st.lists(seqs, min_size=1, max_size=6, unique=True))
    return [
        InvoiceCandidate(
            f"inv-{seq}",
            number(seq),
            Money(draw(amounts), "UAH"),
            draw(st.sampled_from(STATUSES)),
        )
        for seq in chosen
    ]


def statement_line(purpose: str, amount: Decimal, line_id: str = "L1") -> StatementLine:
    return StatementLine(line_id, DAY, Money(amount, "UAH"), "Payer", purpose)


@pytest.mark.spec("L4")
@given(
    seqs,
    st.text(st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=5),
    st.text("ABCXYZ0123456789", min_size=1, max_size=8),
)
def test_numbers_read_back_to_their_fields(seq: int, prefix: str, code: str) -> None:
    written = HS.format(seq, prefix=prefix, service_code=code)
    assert HS.parse(written) == ParsedNumber(seq=seq, prefix=prefix, service_code=code)
    assert HS.find(f"pay {written}.") == (written,)


@given(invoice_sets(), st.lists(seqs, max_size=2), amounts, st.data())
def test_a_line_matches_iff_one_known_open_number_and_the_exact_amount(
    invoices: list[InvoiceCandidate],
    other_seqs: list[int],
    amount: Decimal,
    data: st.DataObject,
) -> None:
    known = {i.number: i for i in invoices}
    mentioned = data.draw(st.lists(st.sampled_from(invoices), max_size=2))
    numbers = [i.number for i in mentioned] + [number(s) for s in other_seqs]
    numbers = data.draw(st.permutations(numbers))
    pay_exactly = data.draw(st.booleans())
    if mentioned and pay_exactly:
        amount = mentioned[0].amount_due.amount
    purpose = data.draw(noise) + " " + " ; ".join(numbers) + " " + data.draw(noise)
    result = match_line(statement_line(purpose, amount), invoices, HS)

    distinct = set(numbers)
    expected = (
        len(distinct) == 1
        and (target := known.get(next(iter(distinct)))) is not None
        and target.status is CandidateStatus.OPEN
        and target.amount_due == Money(amount, "UAH")
    )
    assert result.matched == expected
    assert result.numbers_found == tuple(dict.fromkeys(numbers))
    if result.matched:
        assert result.amount == Money(amount, "UAH")
        assert result.invoice_id == known[numbers[0]].invoice_id
    else:
        assert result.outcome is MatchOutcome.REVIEW
        assert result.reason is not None
        assert result.message


@given(invoice_sets(), noise, noise, amounts, st.data())
def test_text_around_the_number_does_not_change_the_result(
    invoices: list[InvoiceCandidate],
    before: str,
    after: str,
    amount: Decimal,
    data: st.DataObject,
) -> None:
    target = data.draw(st.sampled_from(invoices))
    if data.draw(st.booleans()):
        amount = target.amount_due.amount
    bare = match_line(statement_line(target.number, amount), invoices, HS)
    wrapped = match_line(statement_line(f"{before} {target.number} {after}", amount), invoices, HS)
    assert wrapped == bare


@given(invoice_sets(), st.lists(st.tuples(st.integers(0, 5), amounts, st.booleans()), max_size=12))
def test_a_statement_never_credits_more_than_the_amount_due(
    invoices: list[InvoiceCandidate],
    specs: list[tuple[int, Decimal, bool]],
) -> None:
    lines = []
    for n, (index, amount, exact) in enumerate(specs):
        invoice = invoices[index % len(invoices)]
        paid = invoice.amount_due.amount if exact else amount
        lines.append(statement_line(f"рахунок {invoice.number}", paid, f"L{n % 8}"))
    result = match_statement(lines, invoices, HS)

    by_id = {i.invoice_id: i for i in invoices}
    credited = Counter(r.invoice_id for r in result.matched)
    assert all(count == 1 for count in credited.values())
    for r in result.matched:
        assert r.invoice_id is not None
        invoice = by_id[r.invoice_id]
        assert invoice.status is CandidateStatus.OPEN
        assert r.amount == invoice.amount_due
    # Every line id is decided once; repeats are duplicates.
    decided = [r.line_id for r in result.results if r.outcome is not MatchOutcome.DUPLICATE]
    assert len(decided) == len(set(decided))
    assert len(result.results) == len(lines)
