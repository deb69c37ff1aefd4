"""The upcoming invoices of an account (SPEC X6), like Stripe's upcoming invoice.

:func:`upcoming_invoices` walks every day from today to a given day and says which
renewal invoices the billing run will issue on each, for how much and for which period,
as the run would issue them: every service that renews automatically (from the balance
or a saved method), at its renewal day (the settings' lead time, or
``renewal_invoice_days`` ahead when the run issues renewal invoices ahead), priced from
its renewal period with the account's tax, counting every period from the service's
anchor. It reads the store and changes nothing.

What is not invoiced is not shown: daily-billed services are charged day by day from the
balance, and a service without automatic renewal is not renewed (it expires). A renewal
whose invoice is already issued and unpaid is shown by the invoices list, not here.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta

import attrs

from cabinet_billing.app.context import Context
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, InvoiceLine
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.domain.service import BillingMode, ServiceStatus
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import ValidationError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.renewal import renewal_date

__all__ = ["MAX_DAYS_AHEAD", "Upcoming", "UpcomingInvoice", "upcoming_invoices"]

#: How far ahead an upcoming-invoice preview may look (about ten years).
MAX_DAYS_AHEAD = 3660

#: The states in which a paid service renews.
_RENEWING = frozenset(
    {
        ServiceStatus.ACTIVE,
        ServiceStatus.SUSPENDED_BY_CLIENT,
        ServiceStatus.STOPPED_BY_CLIENT,
        ServiceStatus.STOPPED_BY_ADMIN,
        ServiceStatus.STOPPED_FOR_ABUSE,
        ServiceStatus.PROCESSING,
        ServiceStatus.EXPIRED,
    }
)


@attrs.frozen
class UpcomingInvoice:
    """One invoice the billing run will issue.

    Attributes:
        issued_on: the day the run issues it.
        service_id: the service it renews.
        period_start: the first day of the period it pays for.
        period_end: the day the service will be paid until.
        invoice: the invoice as it will be issued (its id and number are placeholders:
            ``upcoming-<n>``).
    """

    issued_on: date
    service_id: str
    period_start: date
    period_end: date
    invoice: Invoice

    @property
    def total(self) -> Money:
        """What the invoice will ask for: its gross total."""
        return self.invoice.total.gross


@attrs.frozen
class Upcoming:
    """The invoices an account will be issued up to a day, in issue order.

    Attributes:
        until: the last day looked at.
        invoices: the invoices, by issue day, then service.
    """

    until: date
    invoices: tuple[UpcomingInvoice, ...]

    def total(self, currency: str) -> Money:
        """What the invoices in ``currency`` add up to."""
        return sum_money((i.total for i in self.invoices if i.total.code == currency), currency)

    def __len__(self) -> int:
        return len(self.invoices)


def _check_until(until: object, today: date) -> date:
    if not isinstance(until, date) or type(until) is not date:
        raise ValidationError("until", until, "give the last day as a datetime.date")
    if until < today:
        raise ValidationError("until", until, f"must not be before today {today.isoformat()}")
    if (until - today).days > MAX_DAYS_AHEAD:
        raise ValidationError(
            "until", until, f"look at most {MAX_DAYS_AHEAD} days ahead of today {today}"
        )
    return until


def upcoming_invoices(
    ctx: Context, uow: UnitOfWork, account_id: str, today: date, until: date
) -> Upcoming:
    """The renewal invoices the run will issue to an account from ``today`` to ``until``.

    Raises:
        ValidationError: for an ``until`` before today, more than :data:`MAX_DAYS_AHEAD`
            days ahead, or not a date.
    """
    last = _check_until(until, today)
    settings = ctx.settings
    account = uow.accounts.get(account_id)
    profile = uow.profiles.get(account_id)
    issued = {
        (ln.service_id, ln.paid_until)
        for invoice in uow.invoices.for_account(account_id)
        if invoice.is_open() and invoice.kind is InvoiceKind.RENEWAL
        for ln in invoice.lines
    }
    found: list[UpcomingInvoice] = []
    for service in uow.services.for_account(account_id):
        if (
            not service.paid
            or service.paid_until is None
            or service.status not in _RENEWING
            or service.billing_mode is BillingMode.DAILY
        ):
            continue
        stored = profile.subscription(service.id)
        if stored is None:
            if not service.auto_renew:
                continue
            sub = Subscription.for_service(service, RenewalSource.BALANCE)
        elif not stored.enabled:
            continue
        else:
            sub = copy.deepcopy(stored)
            sub.follow(service.paid_until, service.anchor)
        while True:
            due = renewal_date(sub.paid_until, sub.kind, settings.renewal)
            if settings.renewal_invoice_days is not None:
                due = min(due, sub.paid_until - timedelta(days=settings.renewal_invoice_days))
            day = max(due, today)
            if day > last:
                break
            start, end = sub.paid_until, sub.next_paid_until
            if (service.id, end) not in issued:
                invoice = Invoice.issue(
                    f"upcoming-{len(found) + 1}",
                    f"upcoming-{len(found) + 1}",
                    account_id,
                    [
                        InvoiceLine.of(
                            LineText.of("line.renewal", plan=service.next_plan_name, until=end),
                            sub.price,
                            service_id=service.id,
                            paid_until=end,
                        ),
                    ],
                    issued_on=day,
                    tax_rate=ctx.tax_rate(account),
                    tax_mode=settings.tax.mode,
                    kind=InvoiceKind.RENEWAL,
                    rounding=settings.rounding,
                )
                found.append(UpcomingInvoice(day, service.id, start, end, invoice))
            sub.renewed(day)
    found.sort(key=lambda i: (i.issued_on, i.service_id))
    return Upcoming(last, tuple(found))
