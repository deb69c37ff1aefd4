"""A scripted payment gateway for tests, simulations and demos.

:class:`SandboxGateway` behaves like a real provider: checkout pages, signed callbacks,
charges of saved methods with idempotency keys, refunds and card verification. What each
charge does is scripted per token (succeed, decline, insufficient funds, time out), so a
test can play a card that fails once and then works.

>>> from datetime import datetime, timezone
>>> from cabinet_billing import Money
>>> gw = SandboxGateway(secret=b"s" * 32)
>>> gw.script("tok-1", Outcome.DECLINE, Outcome.SUCCEED)
>>> gw.charge_saved_method("tok-1", Money("250.00", "RUB"), idempotency_key="r-1").status.value
'declined'
>>> gw.charge_saved_method("tok-1", Money("250.00", "RUB"), idempotency_key="r-2").status.value
'succeeded'
>>> gw.charge_saved_method("tok-1", Money("250.00", "RUB"), idempotency_key="r-2").reference
'ch-2'
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping
from datetime import datetime

import attrs

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind
from cabinet_billing.errors import (
    BillingError,
    GatewayTimeoutError,
    InvalidWebhookError,
    ValidationError,
)
from cabinet_billing.ports.gateway import ChargeResult, ChargeStatus, CheckoutSession, WebhookEvent

__all__ = ["Charge", "Outcome", "SandboxGateway"]

_SIGNATURE = "X-Sandbox-Signature"
_MIN_SECRET = 32


class Outcome(enum.Enum):
    """What a scripted charge does."""

    SUCCEED = "succeed"
    DECLINE = "decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    TIMEOUT = "timeout"


_STATUS = {
    Outcome.SUCCEED: ChargeStatus.SUCCEEDED,
    Outcome.DECLINE: ChargeStatus.DECLINED,
    Outcome.INSUFFICIENT_FUNDS: ChargeStatus.INSUFFICIENT_FUNDS,
}


@attrs.frozen
class Charge:
    """A charge, refund or verification the sandbox performed."""

    operation: str
    token: str
    amount: Money
    key: str
    result: ChargeResult


class SandboxGateway:
    """A payment provider that runs in memory and does what it is told.

    Args:
        secret: the key callbacks are signed with (at least 32 bytes).
        default: what a charge does when its token has nothing scripted.
    """

    def __init__(self, secret: bytes, default: Outcome = Outcome.SUCCEED) -> None:
        if len(secret) < _MIN_SECRET:
            raise ValidationError("secret", f"{len(secret)} bytes", "use at least 32 bytes")
        self._secret = secret
        self.default = default
        self._scripts: dict[str, deque[Outcome]] = {}
        self._by_key: dict[str, Charge] = {}
        self.charges: list[Charge] = []
        self.checkouts: list[CheckoutSession] = []
        self._events = 0

    # ------------------------------------------------------------------ scripting

    def script(self, token: str, *outcomes: Outcome) -> None:
        """Queue what the next charges of ``token`` do, in order."""
        self._scripts.setdefault(token, deque()).extend(outcomes)

    def _next(self, token: str) -> Outcome:
        queue = self._scripts.get(token)
        return queue.popleft() if queue else self.default

    # ------------------------------------------------------------------ port

    def checkout(self, payment: Payment, *, return_url: str | None = None) -> CheckoutSession:
        """A checkout page for the payment (the sandbox never serves it)."""
        suffix = f"?return={return_url}" if return_url else ""
        session = CheckoutSession(payment.id, f"https://sandbox.invalid/pay/{payment.id}{suffix}")
        self.checkouts.append(session)
        return session

    def _move(self, operation: str, token: str, amount: Money, key: str) -> ChargeResult:
        done = self._by_key.get(key)
        if done is not None:
            return done.result
        outcome = self._next(token)
        if outcome is Outcome.TIMEOUT:
            raise GatewayTimeoutError(operation, key)
        reference = f"ch-{len(self.charges) + 1}"
        reason = "" if outcome is Outcome.SUCCEED else outcome.value.replace("_", " ")
        result = ChargeResult(_STATUS[outcome], reference, reason)
        charge = Charge(operation, token, amount, key, result)
        self._by_key[key] = charge
        self.charges.append(charge)
        return result

    def charge_saved_method(
        self,
        token: str,
        amount: Money,
        *,
        idempotency_key: str,
    ) -> ChargeResult:
        """Charge a saved method; the same key returns the first result again."""
        return self._move("charge", token, amount, idempotency_key)

    def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        """Refund a payment; the same key returns the first result again."""
        return self._move("refund", reference, amount, idempotency_key)

    def verify_card(self, token: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        """Verify a card with a small charge; the same key returns the first result again."""
        return self._move("verify", token, amount, idempotency_key)

    # ------------------------------------------------------------------ callbacks

    def webhook(
        self,
        payment_id: str,
        kind: PaymentEventKind,
        at: datetime,
        *,
        reason: str = "",
        event_key: str | None = None,
        amount: Money | None = None,
        method_token: str = "",
        method_label: str = "",
        method_kind: str = "card",
    ) -> tuple[dict[str, str], bytes]:
        """The signed callback the sandbox sends about a payment: ``(headers, body)``.

        Deliver it to the application as many times as you like: a real provider may.
        A refund may name the ``amount`` returned (a partial refund); without one it
        refunds all that is left. A credit may carry the token of the card or wallet the
        provider saved during the checkout (``method_token``, with its masked
        ``method_label`` and ``method_kind``).
        """
        if event_key is None:
            self._events += 1
            event_key = f"evt-{self._events}"
        data = {
            "id": event_key,
            "payment": payment_id,
            "type": kind.value,
            "at": at.isoformat(),
            "reason": reason,
        }
        if amount is not None:
            data |= {"amount": str(amount.amount), "currency": amount.code}
        if method_token:
            data |= {"token": method_token, "label": method_label, "method": method_kind}
        body = json.dumps(data, sort_keys=True).encode()
        return {_SIGNATURE: self._sign(body)}, body

    def _sign(self, body: bytes) -> str:
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verify the signature and parse a callback.

        Raises:
            InvalidWebhookError: when the signature is missing or wrong, or the body is
                not a well-formed event.
        """
        signature = {k.lower(): v for k, v in headers.items()}.get(_SIGNATURE.lower())
        if signature is None:
            raise InvalidWebhookError(f"no {_SIGNATURE} header")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidWebhookError("the signature does not match the body")
        try:
            data = json.loads(body)
            amount = Money(str(data["amount"]), str(data["currency"])) if "amount" in data else None
            event = GatewayEvent(
                str(data["id"]),
                PaymentEventKind(data["type"]),
                datetime.fromisoformat(data["at"]),
                str(data.get("reason", "")),
                amount=amount,
            )
            return WebhookEvent(
                str(data["payment"]),
                event,
                method_token=str(data.get("token", "")),
                method_label=str(data.get("label", "")),
                method_kind=str(data.get("method", "card")),
            )
        except (BillingError, ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhookError(f"malformed event: {exc}") from None
