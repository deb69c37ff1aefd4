"""Bank transfers: crediting statement lines to the invoices they name (SPEC L7).

A line is credited automatically only when its purpose contains the exact number of one
open invoice and its amount equals that invoice's amount due; everything else is left
for review with its reason. Each line is processed once.
"""

from __future__ import annotations

from collections.abc import Sequence

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.results import StatementResult
from cabinet_billing.domain.events import BankTransferForReview, BillingEvent
from cabinet_billing.domain.invoice import Invoice, InvoiceStatus
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.matching import (
    CandidateStatus,
    InvoiceCandidate,
    StatementLine,
    match_statement,
)

__all__ = ["Bank"]


class Bank:
    """Imports bank statements."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def match(self, lines: Sequence[StatementLine]) -> StatementResult:
        """Credit bank transfers that name exactly one invoice and pay exactly its amount.

        Everything else is left for review with its reason (SPEC L7). Each line is
        processed once: a statement imported twice changes nothing the second time.

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
            candidates = [
                InvoiceCandidate(
                    invoice_id=i.id,
                    number=i.number,
                    amount_due=i.amount_due if i.is_open() else i.total.gross,
                    status=_candidate_status(i),
                )
                for i in _all_invoices(uow)
            ]
            processed = {k.removeprefix("bank:") for k in uow.keys.all("bank:")}
            match = match_statement(
                lines,
                candidates,
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
                events.append(
                    BankTransferForReview(
                        account_id="",
                        at=now,
                        line_id=result.line_id,
                        reason=result.message,
                    ),
                )
            uow.commit()
        ctx.notify(events)
        return StatementResult(match=match, events=tuple(events))


def _candidate_status(invoice: Invoice) -> CandidateStatus:
    if invoice.is_open():
        return CandidateStatus.OPEN
    if invoice.status is InvoiceStatus.PAID:
        return CandidateStatus.PAID
    return CandidateStatus.CANCELLED


def _all_invoices(uow: UnitOfWork) -> list[Invoice]:
    return [i for account_id in uow.accounts.ids() for i in uow.invoices.for_account(account_id)]
