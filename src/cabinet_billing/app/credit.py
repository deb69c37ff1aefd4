"""The cabinet's credit line: its state, message and dashboard (SPEC R1, R2).

The provider opens a credit line (:meth:`~cabinet_billing.app.staff.Staff.open_credit_line`);
the customer sees its dashboard, whose amounts always sum to the limit.
"""

from __future__ import annotations

from datetime import date

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.results import CreditStatusView
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import credit_dashboard, evaluate_credit

__all__ = ["CabinetCredit", "credit_view"]


class CabinetCredit:
    """The credit line of the account (right ``invoices.view``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def status(self) -> CreditStatusView:
        """The credit line's state, message and dashboard today (SPEC R1, R2).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            NotFoundError: when the account has no credit line.
        """
        with self._gate.open("invoices.view") as call:
            return credit_view(self._ctx, call.uow, call.account.id, call.today)


def credit_view(ctx: Context, uow: UnitOfWork, account_id: str, today: date) -> CreditStatusView:
    """The credit status of an account on a day.

    Raises:
        NotFoundError: when the account has no credit line (or the settings give none).
    """
    policy = ctx.settings.credit
    line = uow.profiles.get(account_id).credit
    if line is None or policy is None:
        raise NotFoundError("credit line of account", account_id)
    return CreditStatusView(
        state=evaluate_credit(policy, line, today),
        dashboard=credit_dashboard(policy, line, today),
    )
