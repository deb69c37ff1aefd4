"""Bank-transfer matching: which statement lines pay which invoices (SPEC L7).

Horoshop credits a bank transfer to an invoice automatically only when the purpose of
the payment contains the exact invoice number (``HOR-11111-007``) and the amount equals
the invoice amount exactly; anything else waits for a person. :func:`match_line` decides
for one line, :func:`match_statement` for a whole statement:

>>> from datetime import date
>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.numbering import NumberFormat
>>> numbers = NumberFormat("{prefix}-{service_code}-{seq:03}")
>>> invoice = InvoiceCandidate("inv-7", "HOR-11111-007", Money("1500.00", "UAH"))
>>> line = StatementLine(
...     "stmt-1/1", date(2024, 5, 2), Money("1500.00", "UAH"), "FOP Ivanenko",
...     "Оплата за рахунком HOR-11111-007, без ПДВ",
... )
>>> result = match_line(line, [invoice], numbers)
>>> result.outcome, result.invoice_id, result.amount
(<MatchOutcome.MATCHED: 'matched'>, 'inv-7', Money('1500.00', 'UAH'))
>>> short = attrs.evolve(line, amount=Money("1400.00", "UAH"))
>>> review = match_line(short, [invoice], numbers)
>>> review.reason, review.message
(<ReviewReason.AMOUNT_DIFFERS: 'amount_differs'>, 'paid 1400.00 UAH for HOR-11111-007, 100.00 UAH less than the 1500.00 UAH due')

A number counts only as a whole token: ``HOR-11111-0071`` is not ``HOR-11111-007`` (see
:meth:`NumberFormat.pattern`). A line that mentions more than one distinct invoice
number goes to review even when one of them would match, because a transfer that pays
several invoices, or names a second one, needs a person to split or check it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import date

import attrs

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.errors import ValidationError

__all__ = [
    "AmountDirection",
    "CandidateStatus",
    "InvoiceCandidate",
    "MatchOutcome",
    "MatchResult",
    "ReviewReason",
    "StatementLine",
    "StatementMatch",
    "match_line",
    "match_statement",
]


class CandidateStatus(enum.Enum):
    """Whether an invoice can still be paid."""

    #: Issued and not fully paid (also partially paid or overdue): it can take a payment.
    OPEN = "open"
    #: Fully paid.
    PAID = "paid"
    #: Cancelled or deleted.
    CANCELLED = "cancelled"


class MatchOutcome(enum.Enum):
    """What happens to a statement line."""

    #: Credited to an invoice automatically.
    MATCHED = "matched"
    #: Put on the manual-review queue, with a :class:`ReviewReason`.
    REVIEW = "review"
    #: Already processed (same line id): nothing happens.
    DUPLICATE = "duplicate"


class ReviewReason(enum.Enum):
    """Why a statement line needs a person."""

    #: The purpose contains no invoice number.
    NO_NUMBER = "no_number"
    #: The purpose contains more than one distinct invoice number.
    SEVERAL_NUMBERS = "several_numbers"
    #: The number found is not the number of any known invoice.
    UNKNOWN_NUMBER = "unknown_number"
    #: The invoice is already paid.
    INVOICE_PAID = "invoice_paid"
    #: The invoice is cancelled.
    INVOICE_CANCELLED = "invoice_cancelled"
    #: An earlier line of the same statement was already credited to the invoice.
    ALREADY_MATCHED = "already_matched"
    #: The line's currency is not the invoice's.
    CURRENCY_DIFFERS = "currency_differs"
    #: The amount is not exactly the amount due.
    AMOUNT_DIFFERS = "amount_differs"


class AmountDirection(enum.Enum):
    """Which way a paid amount differs from the amount due."""

    #: More than the amount due was paid.
    OVERPAID = "overpaid"
    #: Less than the amount due was paid.
    UNDERPAID = "underpaid"


def _non_empty(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, value, "must be a non-empty string")


def _money(_instance: object, attribute: attrs.Attribute[Money], value: object) -> None:
    if not isinstance(value, Money):
        raise ValidationError(attribute.name, value, "must be a Money amount")


def _check_text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError(attribute.name, value, "must be a string (it may be empty)")


def _check_date(_instance: object, attribute: attrs.Attribute[date], value: object) -> None:
    if not isinstance(value, date):
        raise ValidationError(attribute.name, value, "must be a date")


def _check_payer_account(
    _instance: object, attribute: attrs.Attribute[str | None], value: object
) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(attribute.name, value, "must be a non-empty string or None")


@attrs.frozen
class InvoiceCandidate:
    """An invoice as far as matching needs it.

    Args:
        invoice_id: the invoice's id.
        number: its number, e.g. ``HOR-11111-007``.
        amount_due: what is still to be paid; its currency is the invoice's currency.
        status: whether it can still be paid (open by default).

    Raises:
        ValidationError: for an empty id or number.
        InvalidAmountError: for a negative amount due.
    """

    invoice_id: str = attrs.field(validator=_non_empty)
    number: str = attrs.field(validator=_non_empty)
    amount_due: Money = attrs.field(validator=_money)
    status: CandidateStatus = CandidateStatus.OPEN

    def __attrs_post_init__(self) -> None:
        self.amount_due.require_non_negative()

    @property
    def currency(self) -> str:
        """The invoice's currency code."""
        return self.amount_due.code


@attrs.frozen
class StatementLine:
    """One incoming payment on a bank statement.

    Args:
        line_id: the line's id, unique across statements; it is the idempotency key.
        value_date: the date the money arrived.
        amount: the amount received, greater than zero.
        payer_name: who paid, as the bank shows it.
        purpose: the purpose of payment, free text.
        payer_account: the payer's account or IBAN, when the bank gives it.

    Raises:
        ValidationError: for an empty line id or a value of the wrong type.
        InvalidAmountError: for an amount that is zero or negative (an outgoing line is
            not a payment to match).
    """

    line_id: str = attrs.field(validator=_non_empty)
    value_date: date = attrs.field(validator=_check_date)
    amount: Money = attrs.field(validator=_money)
    payer_name: str = attrs.field(validator=_check_text)
    purpose: str = attrs.field(validator=_check_text)
    payer_account: str | None = attrs.field(default=None, validator=_check_payer_account)

    def __attrs_post_init__(self) -> None:
        self.amount.require_positive()


@attrs.frozen
class MatchResult:
    """The decision for one statement line.

    Attributes:
        line_id: the line decided on.
        outcome: matched, review or duplicate.
        message: a sentence for the person reading the review queue.
        numbers_found: the distinct invoice numbers found in the purpose, in order.
        invoice_id: the invoice credited, or the one the line points at when it is
            reviewed for a reason about that invoice; otherwise ``None``.
        amount: the amount credited when matched, else ``None``.
        reason: why the line needs review, else ``None``.
        difference: paid minus due, when the amount differs; positive when overpaid.
    """

    line_id: str
    outcome: MatchOutcome
    message: str
    numbers_found: tuple[str, ...] = ()
    invoice_id: str | None = None
    amount: Money | None = None
    reason: ReviewReason | None = None
    difference: Money | None = None

    @property
    def matched(self) -> bool:
        """Whether the line was credited to an invoice."""
        return self.outcome is MatchOutcome.MATCHED

    @property
    def direction(self) -> AmountDirection | None:
        """Over- or underpaid, when the amount differs."""
        if self.difference is None:
            return None
        return AmountDirection.OVERPAID if self.difference.amount > 0 else AmountDirection.UNDERPAID


def _review(
    line: StatementLine,
    numbers: tuple[str, ...],
    problem: _Problem,
) -> MatchResult:
    return MatchResult(
        line.line_id,
        MatchOutcome.REVIEW,
        problem.message,
        numbers,
        problem.invoice.invoice_id if problem.invoice else None,
        reason=problem.reason,
        difference=problem.difference,
    )


@attrs.frozen
class _Problem:
    reason: ReviewReason
    message: str
    invoice: InvoiceCandidate | None = None
    difference: Money | None = None


def _index(invoices: Iterable[InvoiceCandidate]) -> dict[str, InvoiceCandidate]:
    index: dict[str, InvoiceCandidate] = {}
    for invoice in invoices:
        if invoice.number in index:
            raise ValidationError(
                "number", invoice.number, "invoice numbers must be unique among the candidates"
            )
        index[invoice.number] = invoice
    return index


def _find_invoice(
    numbers: tuple[str, ...],
    invoices: Mapping[str, InvoiceCandidate],
    numbering: NumberFormat,
) -> InvoiceCandidate | _Problem:
    if not numbers:
        return _Problem(
            ReviewReason.NO_NUMBER,
            f"no invoice number of the format {numbering.template!r} in the purpose",
        )
    if len(numbers) > 1:
        return _Problem(
            ReviewReason.SEVERAL_NUMBERS,
            f"the purpose names several invoice numbers: {', '.join(numbers)}",
        )
    invoice = invoices.get(numbers[0])
    if invoice is None:
        return _Problem(ReviewReason.UNKNOWN_NUMBER, f"no invoice has the number {numbers[0]}")
    return invoice


def _check_invoice(
    line: StatementLine,
    invoice: InvoiceCandidate,
    matched_before: AbstractSet[str],
) -> _Problem | None:
    number = invoice.number
    if invoice.status is CandidateStatus.PAID:
        return _Problem(ReviewReason.INVOICE_PAID, f"invoice {number} is already paid", invoice)
    if invoice.status is CandidateStatus.CANCELLED:
        return _Problem(ReviewReason.INVOICE_CANCELLED, f"invoice {number} is cancelled", invoice)
    if invoice.invoice_id in matched_before:
        return _Problem(
            ReviewReason.ALREADY_MATCHED,
            f"invoice {number} was already matched in this statement",
            invoice,
        )
    if line.amount.code != invoice.currency:
        return _Problem(
            ReviewReason.CURRENCY_DIFFERS,
            f"paid {line.amount} for {number}, which is due in {invoice.currency}",
            invoice,
        )
    if line.amount != invoice.amount_due:
        difference = line.amount - invoice.amount_due
        more_or_less = "more" if difference.amount > 0 else "less"
        return _Problem(
            ReviewReason.AMOUNT_DIFFERS,
            f"paid {line.amount} for {number}, {abs(difference)} {more_or_less} than the "
            f"{invoice.amount_due} due",
            invoice,
            difference,
        )
    return None


def _decide(
    line: StatementLine,
    invoices: Mapping[str, InvoiceCandidate],
    numbering: NumberFormat,
    matched_before: AbstractSet[str],
) -> MatchResult:
    numbers = numbering.find(line.purpose)
    found = _find_invoice(numbers, invoices, numbering)
    if isinstance(found, _Problem):
        return _review(line, numbers, found)
    problem = _check_invoice(line, found, matched_before)
    if problem is not None:
        return _review(line, numbers, problem)
    return MatchResult(
        line.line_id,
        MatchOutcome.MATCHED,
        f"credited {line.amount} to invoice {found.number}",
        numbers,
        found.invoice_id,
        line.amount,
    )


def match_line(
    line: StatementLine,
    invoices: Iterable[InvoiceCandidate],
    numbering: NumberFormat,
) -> MatchResult:
    """Decide whether ``line`` pays one of ``invoices`` (SPEC L7).

    The line is matched only when its purpose names exactly one invoice number, that
    invoice is open, and the line's amount equals the amount due exactly, in the same
    currency. Otherwise it is put on review with the reason.

    Args:
        line: the statement line.
        invoices: the invoices that may be paid, each with a distinct number.
        numbering: the format of invoice numbers, used to find them in the purpose.

    Returns:
        The decision; never a duplicate (see :func:`match_statement`).

    Raises:
        ValidationError: when two candidates share a number, or ``numbering`` cannot be
            read back (see :attr:`NumberFormat.parseable`).
    """
    numbering.pattern()
    return _decide(line, _index(invoices), numbering, frozenset())


@attrs.frozen
class StatementMatch:
    """The decisions for a whole statement, in the order of its lines.

    Attributes:
        results: one :class:`MatchResult` per line.
    """

    results: tuple[MatchResult, ...]

    @property
    def matched(self) -> tuple[MatchResult, ...]:
        """The lines credited to invoices."""
        return self._having(MatchOutcome.MATCHED)

    @property
    def review(self) -> tuple[MatchResult, ...]:
        """The lines for the manual-review queue."""
        return self._having(MatchOutcome.REVIEW)

    @property
    def duplicates(self) -> tuple[MatchResult, ...]:
        """The lines already processed before, or earlier in the same statement."""
        return self._having(MatchOutcome.DUPLICATE)

    def _having(self, outcome: MatchOutcome) -> tuple[MatchResult, ...]:
        return tuple(r for r in self.results if r.outcome is outcome)


def match_statement(
    lines: Iterable[StatementLine],
    invoices: Iterable[InvoiceCandidate],
    numbering: NumberFormat,
    processed: AbstractSet[str] = frozenset(),
) -> StatementMatch:
    """Decide every line of a statement (SPEC L7).

    Each line is decided as by :func:`match_line`, and further:

    * a line whose id is in ``processed``, or repeats an earlier line of this statement,
      is a duplicate and changes nothing (statements overlap; re-importing is safe);
    * no invoice is credited twice: once a line is matched to an invoice, later lines
      that would match it go to review with :attr:`ReviewReason.ALREADY_MATCHED`.

    Args:
        lines: the statement's incoming lines, in order.
        invoices: the invoices that may be paid, each with a distinct number.
        numbering: the format of invoice numbers.
        processed: the ids of lines processed by earlier runs.

    Returns:
        One decision per line, in order.

    Raises:
        ValidationError: when two candidates share a number, or ``numbering`` cannot be
            read back.
    """
    numbering.pattern()
    index = _index(invoices)
    seen: set[str] = set()
    matched: set[str] = set()
    results: list[MatchResult] = []
    for line in lines:
        if line.line_id in processed or line.line_id in seen:
            when = "by an earlier run" if line.line_id in processed else "earlier in this statement"
            results.append(
                MatchResult(
                    line.line_id,
                    MatchOutcome.DUPLICATE,
                    f"line {line.line_id!r} was already processed {when}",
                )
            )
            continue
        seen.add(line.line_id)
        result = _decide(line, index, numbering, matched)
        if result.matched and result.invoice_id is not None:
            matched.add(result.invoice_id)
        results.append(result)
    return StatementMatch(tuple(results))
