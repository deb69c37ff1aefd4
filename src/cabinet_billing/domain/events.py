"""Domain events: what happened, as returned by the use cases.

Each event is a frozen value naming the account, the instant and the ids involved. A
host can log them, publish them, or turn them into notifications; the use cases already
turn the ones a customer cares about into :class:`~cabinet_billing.Notification` values.
"""

from __future__ import annotations

from datetime import date, datetime

import attrs

from cabinet_billing.domain.money import Money

__all__ = [
    "AccountOpened",
    "AutoTopUp",
    "BankTransferForReview",
    "BankTransferMatched",
    "BillingEvent",
    "DeletionConfirmed",
    "DeletionRequested",
    "DeletionWithdrawn",
    "InvoiceDeleted",
    "InvoiceIssued",
    "InvoicePaid",
    "OrderPlaced",
    "PaymentCredited",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentStarted",
    "RenewalFailed",
    "ServiceExpired",
    "ServicePaid",
    "ServiceRenewed",
    "ServiceStopped",
    "StatementIssued",
]


@attrs.frozen(kw_only=True)
class BillingEvent:
    """Base of every event: the account and the instant."""

    account_id: str
    at: datetime


@attrs.frozen(kw_only=True)
class AccountOpened(BillingEvent):
    """A new account with its owner."""

    owner_id: str


@attrs.frozen(kw_only=True)
class OrderPlaced(BillingEvent):
    """An order became services awaiting payment and an invoice."""

    order_id: str
    invoice_id: str
    service_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class InvoiceIssued(BillingEvent):
    """An invoice was issued."""

    invoice_id: str
    number: str
    amount: Money


@attrs.frozen(kw_only=True)
class InvoicePaid(BillingEvent):
    """An invoice was paid in full."""

    invoice_id: str
    number: str
    amount: Money
    from_balance: bool


@attrs.frozen(kw_only=True)
class InvoiceDeleted(BillingEvent):
    """An unpaid invoice was deleted."""

    invoice_id: str
    number: str


@attrs.frozen(kw_only=True)
class PaymentStarted(BillingEvent):
    """A payment was created and sent to the provider's checkout."""

    payment_id: str
    amount: Money
    total: Money
    url: str


@attrs.frozen(kw_only=True)
class PaymentCredited(BillingEvent):
    """The provider confirmed a payment; the money was booked."""

    payment_id: str
    amount: Money
    cashback: Money


@attrs.frozen(kw_only=True)
class PaymentFailed(BillingEvent):
    """The provider reported a payment as failed or cancelled."""

    payment_id: str
    reason: str


@attrs.frozen(kw_only=True)
class PaymentRefunded(BillingEvent):
    """A credited payment was refunded, in full or in part.

    Attributes:
        payment_id: the payment.
        amount: what the provider returned to the customer (of what they paid).
        from_balance: what the refund took from the balance (its share of the amount
            credited).
        cashback: the cashback taken back with it.
        owed: how much of that was already spent: what the customer owes because of it
            (booked on the credit line when the account has one).
    """

    payment_id: str
    amount: Money
    from_balance: Money
    cashback: Money
    owed: Money


@attrs.frozen(kw_only=True)
class ServicePaid(BillingEvent):
    """A service was paid until a date."""

    service_id: str
    paid_until: date


@attrs.frozen(kw_only=True)
class ServiceStopped(BillingEvent):
    """A service was stopped (for example by a deletion request)."""

    service_id: str
    reason: str


@attrs.frozen(kw_only=True)
class ServiceExpired(BillingEvent):
    """A service's paid period ended without renewal."""

    service_id: str
    paid_until: date


@attrs.frozen(kw_only=True)
class ServiceRenewed(BillingEvent):
    """A service was renewed automatically for another period."""

    service_id: str
    paid_until: date
    amount: Money
    source: str


@attrs.frozen(kw_only=True)
class RenewalFailed(BillingEvent):
    """An automatic renewal charge failed; it is retried by the renewal policy."""

    service_id: str
    amount: Money
    reason: str


@attrs.frozen(kw_only=True)
class AutoTopUp(BillingEvent):
    """An automatic top-up was charged to a saved method (autopayment)."""

    payment_id: str
    amount: Money


@attrs.frozen(kw_only=True)
class StatementIssued(BillingEvent):
    """A credit statement turned a month's credit usage into an invoice."""

    statement_id: str
    invoice_id: str
    amount: Money
    due_on: date


@attrs.frozen(kw_only=True)
class DeletionRequested(BillingEvent):
    """The customer asked to delete the account: services and automatic charges stop."""

    service_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class DeletionWithdrawn(BillingEvent):
    """The customer withdrew a deletion request: the services it stopped run again."""

    service_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class DeletionConfirmed(BillingEvent):
    """The provider confirmed a deletion request: the account's services are deleted."""

    service_ids: tuple[str, ...]
    by: str


@attrs.frozen(kw_only=True)
class BankTransferMatched(BillingEvent):
    """A bank statement line paid an invoice."""

    line_id: str
    invoice_id: str
    amount: Money


@attrs.frozen(kw_only=True)
class BankTransferForReview(BillingEvent):
    """A bank statement line needs a person to look at it."""

    line_id: str
    reason: str
