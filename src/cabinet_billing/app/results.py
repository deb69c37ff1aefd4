"""What the use cases return: plain frozen values a host can show, store or serialise.

Every result carries the domain events the call produced (in the order they happened),
so a host that reacts to events does not have to diff state.
"""

from __future__ import annotations

from datetime import date

import attrs

from cabinet_billing.app.paging import Page
from cabinet_billing.app.settings import PaymentMethod
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.ledger import LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import EventOutcome, Payment, PaymentStatus
from cabinet_billing.domain.payment_method import PaymentQuote
from cabinet_billing.domain.saved_method import BindingAction, SavedPaymentMethod
from cabinet_billing.rules.credit_limit import CreditDashboard, CreditState
from cabinet_billing.rules.matching import StatementMatch

__all__ = [
    "BindingResult",
    "CallbackHandled",
    "CheckoutStarted",
    "CreditStatusView",
    "ExpenseList",
    "InvoiceReissued",
    "InvoiceSettled",
    "LedgerStatement",
    "OrderResult",
    "PayResult",
    "StatementResult",
    "TopUpNeeded",
]


@attrs.frozen(kw_only=True)
class CheckoutStarted:
    """A payment created and waiting for the customer on the provider's page."""

    payment: Payment
    url: str
    events: tuple[BillingEvent, ...]
    invoice: Invoice | None = None
    """For a top-up, the advance-payment invoice the payment pays."""

    @property
    def quote(self) -> PaymentQuote:
        """What is credited, the fee, the total to pay and the cashback."""
        return self.payment.quote


@attrs.frozen(kw_only=True)
class OrderResult:
    """An order placed: its services, its invoice, and whether the balance paid it."""

    invoice: Invoice
    service_ids: tuple[str, ...]
    paid_from_balance: bool
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class InvoiceSettled:
    """An invoice paid from the balance."""

    invoice: Invoice
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class TopUpNeeded:
    """The balance does not cover the invoice: how much is missing and how to pay it."""

    invoice: Invoice
    balance: Money
    missing: Money
    methods: tuple[PaymentMethod, ...]
    events: tuple[BillingEvent, ...] = ()


#: What paying an invoice returns: paid from the balance, a checkout started, or a top-up
#: needed first.
PayResult = InvoiceSettled | CheckoutStarted | TopUpNeeded


@attrs.frozen(kw_only=True)
class CallbackHandled:
    """What a gateway callback did: applied, a duplicate, or stale (out of order)."""

    payment_id: str
    outcome: EventOutcome
    status: PaymentStatus
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class StatementResult:
    """A bank statement matched: the lines that paid invoices and those left for review."""

    match: StatementMatch
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class BindingResult:
    """How a card was bound: the invoice it paid, or the verification charge it refunded."""

    method: SavedPaymentMethod
    action: BindingAction
    invoice_id: str | None
    amount: Money
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class CreditStatusView:
    """The credit line's state and dashboard on a day (SPEC R1, R2)."""

    state: CreditState
    dashboard: CreditDashboard


@attrs.frozen(kw_only=True)
class ExpenseList:
    """A page of expenses and the totals of every expense the filters chose (SPEC L3).

    Attributes:
        page: the expenses of this page.
        total: what all the chosen expenses amount to, at accrual precision.
        unpaid: how much of that is still unpaid.
        tax: the tax they contain.
    """

    page: Page[Expense]
    total: Money
    unpaid: Money
    tax: Money


@attrs.frozen(kw_only=True)
class LedgerStatement:
    """The ledger of one currency over the days [start, end) (SPEC L1).

    ``closing`` is ``opening + credits - debits`` and equals the balance after the last
    entry of the period.

    Attributes:
        currency: the balance's currency.
        start: the first day.
        end: the day after the last.
        opening: the balance before ``start``.
        credits: the money in during the period (entries above zero).
        debits: the money out during the period, as a positive amount.
        closing: the balance at the end of the period.
        entries: a page of the period's entries.
    """

    currency: str
    start: date
    end: date
    opening: Money
    credits: Money
    debits: Money
    closing: Money
    entries: Page[LedgerEntry]


@attrs.frozen(kw_only=True)
class InvoiceReissued:
    """An unpaid invoice deleted and issued again under a new number (SPEC L4).

    Attributes:
        deleted: the invoice as it was deleted.
        invoice: the new invoice: the same lines, issued today.
        events: the deletion and the issue.
    """

    deleted: Invoice
    invoice: Invoice
    events: tuple[BillingEvent, ...]
