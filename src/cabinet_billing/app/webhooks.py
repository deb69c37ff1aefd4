"""The payment provider's callbacks (SPEC L6).

A callback is verified and parsed by the gateway adapter, then applied to its payment
once. Event ids are unique across the installation: each processed event is recorded
with a fingerprint of its content (the payment, what it reports, when, why and how
much), so a callback delivered again changes nothing and says so, whichever payment it
names, and an id seen before with other content is refused with
:class:`~cabinet_billing.errors.EventIdReusedError` (and logged), changing nothing. An
event the payment has already moved past (a late "paying" after "credited") changes
nothing either.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NoReturn

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.results import CallbackHandled
from cabinet_billing.domain.events import BillingEvent
from cabinet_billing.domain.payment import EventOutcome, Payment, PaymentStatus
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod
from cabinet_billing.errors import EventIdReusedError
from cabinet_billing.ports.gateway import WebhookEvent
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["Webhooks", "event_fingerprint"]

_log = logging.getLogger(__name__)


def event_fingerprint(parsed: WebhookEvent) -> str:
    """The fingerprint of a callback's content: the same event gives the same one.

    It covers the payment, the kind, the instant (in UTC), the reason and the amount,
    not the event id itself.

    >>> from datetime import datetime, timezone
    >>> from cabinet_billing.domain.payment import GatewayEvent, PaymentEventKind
    >>> at = datetime(2024, 3, 21, 9, tzinfo=timezone.utc)
    >>> one = WebhookEvent("pay-1", GatewayEvent("evt-1", PaymentEventKind.CREDITED, at))
    >>> other = WebhookEvent("pay-2", GatewayEvent("evt-1", PaymentEventKind.CREDITED, at))
    >>> event_fingerprint(one) == event_fingerprint(one), event_fingerprint(one) == event_fingerprint(other)
    (True, False)
    """
    event = parsed.event
    amount = event.amount
    content = {
        "payment": parsed.payment_id,
        "kind": event.kind.value,
        "at": event.at.astimezone(UTC).isoformat(),
        "reason": event.reason,
        "amount": None if amount is None else [str(amount.amount), amount.code],
    }
    if parsed.method_token:
        # Only when there is one: events without a token keep their fingerprints.
        content["token"] = [parsed.method_token, parsed.method_label, parsed.method_kind]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def remember_key(payment_id: str) -> str:
    """The key that records "remember this method" for a payment's checkout."""
    return f"remember-method:{payment_id}"


def remember_method(
    uow: UnitOfWork, payment: Payment, parsed: WebhookEvent, now: datetime
) -> SavedPaymentMethod | None:
    """Save the card or wallet a credited payment was made with, if the customer asked.

    The method is saved only when the checkout asked to remember it (the provider's
    token alone saves nothing), once, as working, named after its kind and label.
    """
    profile = uow.profiles.get(payment.account_id)
    method_id = f"sm-{payment.id}"
    if not profile.done(remember_key(payment.id)) or any(
        m.id == method_id for m in profile.methods
    ):
        return None
    kind = MethodKind.WALLET if parsed.method_kind == MethodKind.WALLET.value else MethodKind.CARD
    label = parsed.method_label or kind.value
    method = SavedPaymentMethod(
        method_id,
        payment.account_id,
        kind,
        parsed.method_token,
        f"{kind.value.title()} {label}",
        label,
        provider=payment.method_id or "",
    )
    method.mark_working(now)
    profile.add_method(method)
    return method


def _refuse(parsed: WebhookEvent) -> NoReturn:
    _log.warning(
        "gateway event %r reused with other content (%s of payment %r): refused",
        parsed.event.key,
        parsed.event.kind.value,
        parsed.payment_id,
    )
    raise EventIdReusedError(parsed.event.key, parsed.payment_id, parsed.event.kind.value)


class Webhooks:
    """Applies the payment provider's callbacks."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def handle(self, headers: Mapping[str, str], body: bytes) -> CallbackHandled:
        """Apply a payment provider's callback (SPEC L6).

        A credited payment is booked to the balance (with its cashback as a separate
        payment, SPEC M6); a direct invoice payment then pays its invoice; and, when the
        settings say so, the balance pays other open invoices. A refund, in full or in
        part, takes its share of the payment and of its cashback back from the balance;
        what was already spent is owed (see :meth:`Context.book_refund`).

        Raises:
            InvalidWebhookError: for a callback that fails verification.
            EventIdReusedError: for an event id processed before with other content.
            NotFoundError: for an unknown payment.
            InvalidTransitionError: for an event that contradicts the payment.
            InvalidAmountError: for a refund of more than is left to refund.
            InvalidArgumentError: for headers that are not a mapping of text, a body that
                is not bytes or is longer than
                :data:`~cabinet_billing.app.checks.MAX_CALLBACK_BYTES`.
            InvalidTextError: for an event or payment id that is not an id (empty, over
                200 characters, with NUL or control characters).
        """
        ctx = self._ctx
        parsed = ctx.gateway.parse_webhook(
            checks.callback_headers(headers), checks.callback_body(body)
        )
        checks.identifier("event id", parsed.event.key)
        checks.identifier("payment id", parsed.payment_id)
        fingerprint = event_fingerprint(parsed)
        key = f"gateway-event:{parsed.event.key}"
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            seen = uow.keys.fingerprint(key)
            if seen is not None and seen not in {"", fingerprint}:
                _refuse(parsed)
            payment = uow.payments.get(parsed.payment_id)
            if seen == "":
                # Recorded before fingerprints were kept: the payment it was applied to
                # still tells whether this is the same event.
                before = payment.seen_event(parsed.event.key)
                if before is None or before.kind is not parsed.event.kind:
                    _refuse(parsed)
            if seen is not None:
                return CallbackHandled(
                    payment_id=payment.id,
                    outcome=EventOutcome.DUPLICATE,
                    status=payment.status,
                    events=(),
                )
            result = payment.apply(parsed.event)
            events: list[BillingEvent] = []
            if result.changed:
                events = ctx.after_event(uow, payment, result, now)
                if payment.status is PaymentStatus.CREDITED and parsed.method_token:
                    remember_method(uow, payment, parsed, now)
            uow.keys.record(key, fingerprint)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return CallbackHandled(
            payment_id=payment.id,
            outcome=result.outcome,
            status=payment.status,
            events=tuple(events),
        )
