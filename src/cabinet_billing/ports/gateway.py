"""The payment gateway port: what the library needs from a payment provider.

Card and wallet tokens stay with the provider; the library only keeps their ids. Every
request that moves money carries an idempotency key, so a retry after a timeout can never
charge twice. Callbacks arrive as raw headers and body; the gateway verifies and parses
them into typed events.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import attrs

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import GatewayEvent, Payment

__all__ = ["ChargeResult", "ChargeStatus", "CheckoutSession", "PaymentGateway", "WebhookEvent"]


@attrs.frozen
class CheckoutSession:
    """Where to send the customer to pay one payment."""

    payment_id: str
    url: str
    expires_at: datetime | None = None


class ChargeStatus(enum.Enum):
    """The outcome of a charge, refund or card verification."""

    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PENDING = "pending"


@attrs.frozen
class ChargeResult:
    """What the provider answered to a charge, refund or verification."""

    status: ChargeStatus
    reference: str
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        """Whether the money moved."""
        return self.status is ChargeStatus.SUCCEEDED


@attrs.frozen
class WebhookEvent:
    """A verified callback: which payment it is about, and the event.

    A provider that saved the payer's card or wallet during the checkout (the customer
    ticked "remember this method") sends its token with the credit: ``method_token``, with
    the masked ``method_label`` and the ``method_kind`` (``"card"`` or ``"wallet"``).
    """

    payment_id: str
    event: GatewayEvent
    method_token: str = ""
    method_label: str = ""
    method_kind: str = "card"


class PaymentGateway(Protocol):
    """A payment provider."""

    def checkout(self, payment: Payment, *, return_url: str | None = None) -> CheckoutSession:
        """Start paying ``payment`` on the provider's page; the result arrives by callback."""
        ...

    def charge_saved_method(
        self,
        token: str,
        amount: Money,
        *,
        idempotency_key: str,
    ) -> ChargeResult:
        """Charge a saved card or wallet without the customer present.

        Raises:
            GatewayTimeoutError: when the provider does not answer; retry with the key.
        """
        ...

    def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        """Return (part of) a payment to the customer."""
        ...

    def verify_card(self, token: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        """Charge a small amount to check a newly bound card (it is refunded afterwards)."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verify and parse a callback.

        Raises:
            InvalidWebhookError: when the callback is malformed or its signature is wrong.
        """
        ...
