"""What the billing does with a service's plan changes and ends once money moves (SPEC X1, X2).

The client's side is :class:`~cabinet_billing.app.services.CabinetServices`
(``change_plan``, ``cancel_change``, ``terminate``); this module is the shared part the
payment paths call too: a paid invoice makes the change it pays for
(:func:`apply_paid_change`), unused days go back to the balance with a credit note
(:func:`credit_unused`), and the automatic renewal follows the service's new price
(:func:`reprice_subscription`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from cabinet_billing.domain.documents import CreditNote, credit_note_to_balance
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, IssuedLine
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.service import Actor, ActorRole, Service, ServiceAction
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import PriceNotFoundError
from cabinet_billing.ports.repositories import UnitOfWork

if TYPE_CHECKING:
    from cabinet_billing.app.context import Context

__all__ = [
    "apply_paid_change",
    "credit_unused",
    "prices_scheduled_change",
    "reprice_subscription",
]


def credit_unused(
    ctx: Context,
    uow: UnitOfWork,
    service: Service,
    amount: Money,
    *,
    plan_name: str,
    start: date,
    end: date,
    now: datetime,
) -> CreditNote:
    """Credit ``amount`` to the balance for the unused days ``[start, end)`` of a plan.

    The balance gets a ledger entry (an adjustment naming the service) and the account
    a numbered credit note of kind *balance credit*, taxed at the account's rate.
    """
    account_id = service.account_id
    on = now.date()
    seq = uow.sequences.next("credit-note")
    note = credit_note_to_balance(
        f"cre-{seq}",
        ctx.settings.credit_note_numbers.format(seq, year=on.year, month=on.month),
        account_id=account_id,
        amount=amount,
        on=on,
        text=LineText.of("line.unused_days", plan=plan_name, start=start, end=end),
        rate=ctx.tax_rate(uow.accounts.get(account_id)),
        payer_id=uow.payers.get(account_id).payer_of(service.id),
        rounding=ctx.settings.rounding,
    )
    uow.ledgers.get(account_id).adjust(
        amount,
        now,
        memo=f"unused days of {plan_name} on service {service.id}, credit note {note.number}",
        ref=service.id,
        key=f"balance-credit:{note.id}",
    )
    uow.documents.get(account_id).add_credit_note(note)
    return note


def reprice_subscription(uow: UnitOfWork, service: Service) -> None:
    """Bring the service's automatic renewal in line with its plan after a change.

    The renewal keeps its period when the new plan sells it, at the new plan's price;
    otherwise it renews the service's own period.
    """
    sub = uow.profiles.get(service.account_id).subscription(service.id)
    if sub is None:
        return
    try:
        price, period = service.price_for(sub.period), sub.period
    except PriceNotFoundError:
        price, period = service.price, service.period
    anchor = sub.anchor if period == sub.period else service.anchor
    if price.amount > 0:
        sub.renew_at(price, period, anchor)


def prices_scheduled_change(service: Service, invoice: Invoice, line: IssuedLine) -> bool:
    """Whether a paid renewal line buys the change scheduled for the service's period end."""
    change = service.scheduled
    return (
        change is not None
        and change.at_period_end
        and not change.ends
        and invoice.kind is InvoiceKind.RENEWAL
        and line.paid_until is not None
        and line.paid_until > (service.paid_until or line.paid_until)
    )


def apply_paid_change(
    ctx: Context, uow: UnitOfWork, service: Service, invoice: Invoice, now: datetime
) -> bool:
    """Make the plan change ``invoice`` pays for, if it pays for one.

    A change *now* waits for its invoice: once paid, the plan changes, whether the
    service is still active or was stopped, blocked or expired meanwhile. A service that
    is processing (or deleted) does not change; what the invoice took goes back to the
    balance with a credit note, and the change is dropped.

    Returns:
        Whether the invoice paid for a change (made or given back).
    """
    change = service.scheduled
    if change is None or change.at_period_end or change.invoice_id != invoice.id:
        return False
    reason = f"invoice {invoice.number}"
    if service.can(ServiceAction.CHANGE_PLAN, ActorRole.SYSTEM):
        service.apply_scheduled(Actor.system(), now, reason)
        reprice_subscription(uow, service)
        return True
    service.withdraw_scheduled()
    if invoice.total.gross.amount > 0:
        credit_unused(
            ctx,
            uow,
            service,
            invoice.total.gross,
            plan_name=change.plan_name or service.plan_name,
            start=now.date(),
            end=service.paid_until or now.date(),
            now=now,
        )
    return True
