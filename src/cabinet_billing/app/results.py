"""What the use cases return: plain frozen values a host can show, store or serialise.

Every result carries the domain events the call produced (in the order they happened),
so a host that reacts to events does not have to diff state.
"""

from __future__ import annotations

import attrs

from cabinet_billing.app.settings import PaymentMethod
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.invoice import Invoice
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
    "InvoiceSettled",
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
