"""The payment provider's callbacks (SPEC L6).

A callback is verified and parsed by the gateway adapter, then applied to its payment
once: a callback seen before, or one the payment has already moved past, changes nothing
and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from cabinet_billing.app.context import Context
from cabinet_billing.app.results import CallbackHandled
from cabinet_billing.domain.events import BillingEvent

__all__ = ["Webhooks"]


class Webhooks:
    """Applies the payment provider's callbacks."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def handle(self, headers: Mapping[str, str], body: bytes) -> CallbackHandled:
        """Apply a payment provider's callback (SPEC L6).

        A credited payment is booked to the balance (with its cashback as a separate
        payment, SPEC M6); a direct invoice payment then pays its invoice; and, when the
        settings say so, the balance pays other open invoices.

        Raises:
            InvalidWebhookError: for a callback that fails verification.
            NotFoundError: for an unknown payment.
            InvalidTransitionError: for an event that contradicts the payment.
        """
        ctx = self._ctx
        parsed = ctx.gateway.parse_webhook(headers, body)
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            payment = uow.payments.get(parsed.payment_id)
            result = payment.apply(parsed.event)
            events: list[BillingEvent] = []
            if result.changed:
                events = ctx.after_event(uow, payment, parsed.event, now)
            uow.commit()
        ctx.notify(events)
        return CallbackHandled(
            payment_id=payment.id,
            outcome=result.outcome,
            status=payment.status,
            events=tuple(events),
        )
