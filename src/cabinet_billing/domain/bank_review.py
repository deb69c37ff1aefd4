"""Bank transfers left for a person: the review queue and what the staff decide (SPEC L7).

A statement line that names no invoice, several, an unknown or a closed one, or pays
another amount than the one due, is not credited automatically: it waits in the review
queue as a :class:`BankReview`, with the reason, linked to the account (and the
invoice) its number names when it names one. A member of the staff then credits it to
an invoice or to an account's balance, or rejects it (the money is not for the provider,
or was sent back); each decision is recorded with who made it, when and why.

>>> from datetime import UTC, date, datetime
>>> from cabinet_billing import Money
>>> review = BankReview(
...     "st-1/4", date(2024, 5, 2), Money("700.00", "UAH"), "FOP Petrenko", "for hosting",
...     reason="no_number", message="no invoice number in the purpose",
...     received_at=datetime(2024, 5, 2, 9, tzinfo=UTC),
... )
>>> review.status.value, review.account_id
('pending', '')
>>> review.reject(by="olga", at=datetime(2024, 5, 2, 10, tzinfo=UTC), note="sent back")
>>> review.status.value, review.resolved_by, review.note
('rejected', 'olga', 'sent back')
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import attrs

from cabinet_billing.domain.checks import aware, check_aware, check_text
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import InvalidTransitionError

__all__ = ["BankReview", "ReviewStatus"]


class ReviewStatus(enum.Enum):
    """Where a statement line left for review stands."""

    #: Waiting for a person.
    PENDING = "pending"
    #: Credited to an invoice of an account.
    CREDITED_TO_INVOICE = "credited_to_invoice"
    #: Credited to an account's balance.
    CREDITED_TO_BALANCE = "credited_to_balance"
    #: Not credited: the money is not for the provider, or was sent back.
    REJECTED = "rejected"


_NOTE_LENGTH = 1000


@attrs.define
class BankReview:
    """A statement line in the review queue, and what became of it.

    Attributes:
        line_id: the statement line's id (the review's id).
        value_date: when the money arrived.
        amount: the amount received.
        payer_name: who paid, as the bank shows it.
        purpose: the purpose of payment.
        reason: why it needs a person (a :class:`~cabinet_billing.rules.matching.ReviewReason` value).
        message: the matcher's sentence for the person reading the queue.
        received_at: when the statement was imported.
        payer_account: the payer's account or IBAN, when the bank gave it.
        account_id: the account the line's invoice number belongs to (``""``: unknown).
        invoice_id: the invoice the line names, when it names one (then the one it was
            credited to, if the staff credited it to an invoice).
        status: pending, credited or rejected.
        credited_to: the account the line was credited to (``""``: not credited).
        resolved_by: who decided (``""`` while pending).
        resolved_at: when.
        note: why, in the staff's words.
        payment_id: the payment the line was credited as.
        refunded: the part of an overpaying line the staff decided to send back to the
            payer instead of crediting it (``None``: nothing is sent back).
    """

    line_id: str
    value_date: date
    amount: Money
    payer_name: str
    purpose: str
    reason: str
    message: str
    received_at: datetime = attrs.field(validator=aware)
    payer_account: str | None = None
    account_id: str = ""
    invoice_id: str | None = None
    status: ReviewStatus = ReviewStatus.PENDING
    credited_to: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(aware)
    )
    note: str = ""
    payment_id: str | None = None
    refunded: Money | None = None

    @property
    def id(self) -> str:
        """The statement line's id."""
        return self.line_id

    @property
    def is_pending(self) -> bool:
        """Whether it still waits for a person."""
        return self.status is ReviewStatus.PENDING

    def credit(
        self,
        *,
        account_id: str,
        invoice_id: str | None,
        payment_id: str,
        by: str,
        at: datetime,
        note: str = "",
        refunded: Money | None = None,
    ) -> None:
        """Record that the line was credited, to an invoice or to the account's balance.

        ``refunded`` is the part of the amount sent back to the payer rather than
        credited (only with an invoice).

        Raises:
            InvalidTransitionError: unless it is pending.
            InvalidTextError: without the name of who decided.
        """
        status = (
            ReviewStatus.CREDITED_TO_BALANCE
            if invoice_id is None
            else ReviewStatus.CREDITED_TO_INVOICE
        )
        self._resolve(status, by, at, note)
        self.credited_to = account_id
        self.invoice_id = invoice_id
        self.payment_id = payment_id
        self.refunded = refunded

    def reject(self, *, by: str, at: datetime, note: str) -> None:
        """Record that the line is not credited, and why.

        Raises:
            InvalidTransitionError: unless it is pending.
            InvalidTextError: without the name of who decided or the reason.
        """
        check_text("note", note, max_length=_NOTE_LENGTH, multiline=True)
        self._resolve(ReviewStatus.REJECTED, by, at, note)

    def _resolve(self, status: ReviewStatus, by: str, at: datetime, note: str) -> None:
        if not self.is_pending:
            raise InvalidTransitionError(
                f"bank transfer {self.line_id} ({self.status.value})", status.value, []
            )
        who = check_text("by", by)
        text = check_text("note", note, max_length=_NOTE_LENGTH, multiline=True, required=False)
        check_aware("at", at)
        self.status = status
        self.resolved_by = who
        self.resolved_at = at
        self.note = text
