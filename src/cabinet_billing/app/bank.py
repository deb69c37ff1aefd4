"""Bank transfers: crediting statement lines to the invoices they name (SPEC L7).

A line is credited automatically only when its purpose contains the exact number of one
open invoice and its amount equals that invoice's amount due; everything else waits in
the review queue (:class:`~cabinet_billing.domain.bank_review.BankReview`) with its
reason, linked to the account whose invoice it names. The staff credit a waiting line to
an invoice or to an account's balance, or reject it, each decision recorded with who
made it and why; after a fix (an invoice re-issued, say) the queue can be matched again.
Each line is processed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context, require_open
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, paginate
from cabinet_billing.app.results import StatementResult
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.events import BankTransferForReview, BillingEvent
from cabinet_billing.domain.invoice import Invoice, InvoiceStatus
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind
from cabinet_billing.errors import (
    CurrencyMismatchError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.matching import (
    CandidateStatus,
    InvoiceCandidate,
    MatchResult,
    StatementLine,
    match_statement,
)

__all__ = ["Bank"]


class Bank:
    """Imports bank statements and works through the review queue."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def match(self, lines: Sequence[StatementLine]) -> StatementResult:
        """Credit bank transfers that name exactly one invoice and pay exactly its amount.

        Everything else is put in the review queue with its reason (SPEC L7). Each line
        is processed once: a statement imported twice changes nothing the second time.

        Raises:
            InvalidArgumentError: for anything but a list of at most
                :data:`~cabinet_billing.app.checks.MAX_STATEMENT_LINES` statement lines.
        """
        lines = checks.items(
            "lines", lines, StatementLine, "StatementLine", maximum=checks.MAX_STATEMENT_LINES
        )
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            processed = {k.removeprefix("bank:") for k in uow.keys.all("bank:")}
            match = match_statement(
                lines,
                _candidates(uow),
                ctx.settings.invoice_numbers,
                processed=processed,
            )
            events: list[BillingEvent] = []
            by_id = {line.line_id: line for line in lines}
            for result in match.matched:
                line = by_id[result.line_id]
                assert result.invoice_id is not None  # noqa: S101 - matched results name one
                invoice = uow.invoices.get(result.invoice_id)
                events += ctx.bank_transfer(uow, invoice, line, now)
            for result in match.review:
                uow.keys.record(f"bank:{result.line_id}")
                review = _review(uow, by_id[result.line_id], result, now)
                uow.bank_reviews.add(review)
                events.append(
                    BankTransferForReview(
                        account_id=review.account_id,
                        at=now,
                        line_id=result.line_id,
                        reason=result.message,
                    ),
                )
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return StatementResult(match=match, events=tuple(events))

    def review_queue(
        self,
        *,
        account_id: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[BankReview]:
        """The statement lines waiting for a person, the oldest first.

        Args:
            account_id: only the lines linked to this account.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page (a line id).

        Raises:
            ValidationError: for a limit out of range or a cursor that is not a line of
                the queue.
        """
        with self._ctx.unit_of_work() as uow:
            waiting = uow.bank_reviews.pending()
        return paginate(
            waiting,
            _line_id,
            matches=lambda r: account_id is None or r.account_id == account_id,
            limit=limit,
            after=after,
            newest_first=False,
        )

    def review(self, line_id: str) -> BankReview:
        """One statement line of the review queue, waiting or decided.

        Raises:
            NotFoundError: for a line that was never left for review.
        """
        with self._ctx.unit_of_work() as uow:
            return uow.bank_reviews.get(line_id)

    def credit(
        self,
        line_id: str,
        *,
        by: str,
        account_id: str | None = None,
        invoice_id: str | None = None,
        note: str = "",
        refund_rest: bool = False,
    ) -> BankReview:
        """Credit a waiting statement line, to an invoice or to an account's balance.

        With ``invoice_id``, the line pays that open invoice as a bank-transfer payment:
        an amount short of what is due pays part of it, more than due leaves the rest on
        the balance (where it pays what the balance pays), or, with ``refund_rest``, is
        not credited at all: the review records it as ``refunded``, the amount the
        provider sends back to the payer (through its bank; the library books no money
        for it). Without ``invoice_id``, the whole amount is credited to the balance of
        ``account_id`` (default: the account the line's invoice number belongs to). The
        decision is recorded with ``by`` and ``note``.

        Raises:
            NotFoundError: for a line never left for review, an unknown account or
                invoice, or an invoice of another account than ``account_id``.
            InvalidTransitionError: for a line already decided, or an invoice with
                nothing left to pay.
            CurrencyMismatchError: for an invoice in another currency than the line.
            ValidationError: without an account or invoice when the line names none, or
                ``refund_rest`` without an invoice or for a line that does not pay more
                than the invoice's amount due.
            InvalidTextError: without the name of who decided.
        """
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            review = uow.bank_reviews.get(line_id)
            _ensure_pending(review)
            amount = review.amount
            refunded: Money | None = None
            method = ctx.settings.bank_transfer_method
            payment_id = f"bank-{line_id}"
            if invoice_id is not None:
                invoice = uow.invoices.get(invoice_id)
                if account_id is not None and invoice.account_id != account_id:
                    raise NotFoundError("invoice", invoice_id)
                require_open(invoice)
                if invoice.currency != amount.code:
                    raise CurrencyMismatchError(
                        amount.code, invoice.currency, f"bank transfer {line_id}"
                    )
                target = invoice.account_id
                if refund_rest:
                    if amount <= invoice.amount_due:
                        raise ValidationError(
                            "refund_rest",
                            refund_rest,
                            f"bank transfer {line_id} pays {amount} and invoice "
                            f"{invoice.number} has {invoice.amount_due} left to pay: "
                            "nothing is left over to send back",
                        )
                    refunded = amount - invoice.amount_due
                    amount = invoice.amount_due
                payment = Payment.for_invoice(
                    payment_id, target, invoice.id, amount, now, method_id=method
                )
            else:
                if refund_rest:
                    raise ValidationError(
                        "refund_rest",
                        refund_rest,
                        f"bank transfer {line_id}: only the rest of what pays an invoice "
                        "is sent back; say which invoice (invoice_id)",
                    )
                target = account_id or review.account_id
                if not target:
                    raise ValidationError(
                        "account_id",
                        account_id,
                        f"bank transfer {line_id} names no account: say which to credit",
                    )
                uow.accounts.get(target)
                if ctx.settings.currencies and amount.code not in ctx.settings.currencies:
                    raise CurrencyMismatchError(
                        amount.code, ctx.settings.currencies, f"bank transfer {line_id}"
                    )
                payment = Payment.top_up(payment_id, target, amount, now, method_id=method)
            review.credit(
                account_id=target,
                invoice_id=invoice_id,
                payment_id=payment_id,
                by=by,
                at=now,
                note=note,
                refunded=refunded,
            )
            uow.payments.add(payment)
            payment.apply(GatewayEvent(f"bank-review:{line_id}", PaymentEventKind.CREDITED, now))
            events = ctx.book_credited(uow, payment, now)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return review

    def reject(self, line_id: str, *, by: str, note: str) -> BankReview:
        """Leave a waiting statement line uncredited, and say why (sent back, not ours ...).

        Raises:
            NotFoundError: for a line never left for review.
            InvalidTransitionError: for a line already decided.
            InvalidTextError: without the name of who decided, or without a note.
        """
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            review = uow.bank_reviews.get(line_id)
            _ensure_pending(review)
            review.reject(by=by, at=now, note=note)
            uow.commit()
        return review

    def rematch(self, *, by: str) -> tuple[BankReview, ...]:
        """Match the waiting lines again, e.g. after an invoice was re-issued or fixed.

        A line that now names exactly one open invoice and pays exactly its amount is
        credited to it, recorded as decided by ``by``; the others keep waiting.

        Returns:
            The lines credited.
        """
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            waiting = uow.bank_reviews.pending()
            lines = [_line(r) for r in waiting]
            match = match_statement(lines, _candidates(uow), ctx.settings.invoice_numbers)
            by_id = {r.line_id: r for r in waiting}
            events: list[BillingEvent] = []
            credited: list[BankReview] = []
            for result in match.matched:
                assert result.invoice_id is not None  # noqa: S101 - matched results name one
                review = by_id[result.line_id]
                invoice = uow.invoices.get(result.invoice_id)
                payment_id = f"bank-{review.line_id}"
                review.credit(
                    account_id=invoice.account_id,
                    invoice_id=invoice.id,
                    payment_id=payment_id,
                    by=by,
                    at=now,
                    note="matched again",
                )
                payment = Payment.for_invoice(
                    payment_id,
                    invoice.account_id,
                    invoice.id,
                    review.amount,
                    now,
                    method_id=ctx.settings.bank_transfer_method,
                )
                uow.payments.add(payment)
                payment.apply(
                    GatewayEvent(f"bank-review:{review.line_id}", PaymentEventKind.CREDITED, now)
                )
                events += ctx.book_credited(uow, payment, now)
                credited.append(review)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return tuple(credited)


def _ensure_pending(review: BankReview) -> None:
    if not review.is_pending:
        raise InvalidTransitionError(
            f"bank transfer {review.line_id} ({review.status.value})", "decide", []
        )


def _review(uow: UnitOfWork, line: StatementLine, result: MatchResult, now: datetime) -> BankReview:
    account_id = ""
    if result.invoice_id is not None:
        account_id = uow.invoices.get(result.invoice_id).account_id
    return BankReview(
        line.line_id,
        line.value_date,
        line.amount,
        line.payer_name,
        line.purpose,
        reason=result.reason.value if result.reason is not None else "",
        message=result.message,
        received_at=now,
        payer_account=line.payer_account,
        account_id=account_id,
        invoice_id=result.invoice_id,
    )


def _line(review: BankReview) -> StatementLine:
    return StatementLine(
        review.line_id,
        review.value_date,
        review.amount,
        review.payer_name,
        review.purpose,
        review.payer_account,
    )


def _line_id(review: BankReview) -> str:
    return review.line_id


def _candidates(uow: UnitOfWork) -> list[InvoiceCandidate]:
    return [
        InvoiceCandidate(
            invoice_id=i.id,
            number=i.number,
            amount_due=i.amount_due if i.is_open() else i.total.gross,
            status=_candidate_status(i),
        )
        for i in _all_invoices(uow)
    ]


def _candidate_status(invoice: Invoice) -> CandidateStatus:
    if invoice.is_open():
        return CandidateStatus.OPEN
    if invoice.status is InvoiceStatus.PAID:
        return CandidateStatus.PAID
    return CandidateStatus.CANCELLED


def _all_invoices(uow: UnitOfWork) -> list[Invoice]:
    return [i for account_id in uow.accounts.ids() for i in uow.invoices.for_account(account_id)]
