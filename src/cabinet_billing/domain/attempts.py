"""Attempts of charges: recorded before the payment provider is called (SPEC R4, R5).

A charge of a saved method (a renewal from a saved method, card autopay of an invoice, an
automatic top-up, a check of a card that stopped working, and in the cabinet an invoice
paid with a saved card or the charge that binds one) is a call to the payment provider
that moves money outside the library's transactions. The billing run and the cabinet
therefore record a :class:`ChargeAttempt` (the intent) with the provider's idempotency
key and commit it *before* calling, and record the outcome in a unit of work of its own
after the call. When that second unit of work fails (a conflict with a concurrent change, a
lost connection, a crash), the attempt stays :attr:`AttemptStatus.PENDING`: its outcome is
unknown, and the next run asks the provider again **with the same key**, which answers with
the first result instead of charging again.

Attempts of one thing to pay form a *series* (the renewal of one service for one period,
card autopay of one invoice, the automatic top-up of one day, the check of one card on one
day); the ``n``-th attempt of a series has the key ``<series>#<n>``, so a retry after a
known failure reaches the provider as a new request, and nothing ever reuses a key for
another request.

>>> from datetime import date
>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.payment_method import PaymentQuote
>>> rub = Money("250.00", "RUB")
>>> first = ChargeAttempt.first("renewal:8558:2024-03-21", AttemptPurpose.RENEWAL,
...     method_id="card-1", token="tok_1",
...     quote=PaymentQuote(rub, Money("0", "RUB"), rub, Money("0", "RUB")),
...     started_on=date(2024, 3, 20))
>>> first.key, first.status.value
('renewal:8558:2024-03-21#1', 'pending')
>>> failed = first.finished(AttemptStatus.FAILED, "declined")
>>> failed.next_attempt(date(2024, 3, 21)).key
'renewal:8558:2024-03-21#2'
"""

from __future__ import annotations

import enum
from datetime import date

import attrs

from cabinet_billing.domain.checks import enum_member
from cabinet_billing.domain.payment_method import PaymentQuote
from cabinet_billing.errors import ConflictError, ValidationError

__all__ = ["AttemptPurpose", "AttemptStatus", "ChargeAttempt"]


class AttemptPurpose(enum.StrEnum):
    """What an automatic charge pays for.

    Attributes:
        RENEWAL: the next period of a service, from its saved method (SPEC R4).
        CARD_AUTOPAY: an invoice, charged to the bound card (SPEC R7).
        AUTOPAY: an automatic top-up of the balance (SPEC R6).
        CHECK: a small charge, refunded, that checks whether a card works again (R4, R5).
        INVOICE: an invoice the customer pays with a saved method in the cabinet (R5).
        BINDING: the charge that binds a card: it pays the oldest unpaid invoice, or is
            a small amount refunded at once (R5).
    """

    RENEWAL = "renewal"
    CARD_AUTOPAY = "card_autopay"
    AUTOPAY = "autopay"
    CHECK = "check"
    INVOICE = "invoice"
    BINDING = "binding"


class AttemptStatus(enum.StrEnum):
    """Where an attempt stands.

    Attributes:
        PENDING: recorded, the provider called or about to be; the outcome is unknown.
        SUCCEEDED: the provider took the money (for a check: and gave it back).
        FAILED: the provider refused, or the charge could not be made (e.g. an amount
            outside the method's range).
    """

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _check_text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, value, "must be a non-empty string")


def _check_number(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("number", value, "must be a whole number >= 1")


def _to_purpose(value: object) -> AttemptPurpose:
    return enum_member(AttemptPurpose, "purpose", value)


def _to_status(value: object) -> AttemptStatus:
    return enum_member(AttemptStatus, "status", value)


@attrs.frozen(kw_only=True)
class ChargeAttempt:
    """One call to the payment provider for an automatic charge, recorded before it is made.

    Args:
        series: what is being paid; every attempt of it shares the series.
        number: 1 for the first attempt of the series, then 2, 3 ...
        purpose: what the charge pays for.
        method_id: the saved method charged.
        token: the provider's token of the method, so that an attempt whose outcome is
            unknown can be asked about again even if the method was deleted meanwhile.
        quote: the base credited, the method's fee, the total charged and the cashback.
        started_on: the billing day the attempt was made.
        status: pending until the outcome is recorded.
        reason: why it failed.
        invoice_id: the invoice it pays (renewals and card autopay).
        service_id: the service renewed (renewals) or whose renewal asked for the check.

    Raises:
        ValidationError: for an empty series, method id or token, a number below 1, or a
            reason on a pending attempt.
    """

    series: str = attrs.field(validator=_check_text)
    number: int = attrs.field(validator=_check_number)
    purpose: AttemptPurpose = attrs.field(converter=_to_purpose)
    method_id: str = attrs.field(validator=_check_text)
    token: str = attrs.field(validator=_check_text, repr=False)
    quote: PaymentQuote = attrs.field(validator=attrs.validators.instance_of(PaymentQuote))
    started_on: date = attrs.field(validator=attrs.validators.instance_of(date))
    status: AttemptStatus = attrs.field(default=AttemptStatus.PENDING, converter=_to_status)
    reason: str = ""
    invoice_id: str | None = None
    service_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.status is AttemptStatus.PENDING and self.reason:
            raise ValidationError("reason", self.reason, "a pending attempt has no outcome yet")

    @classmethod
    def first(
        cls,
        series: str,
        purpose: AttemptPurpose,
        *,
        method_id: str,
        token: str,
        quote: PaymentQuote,
        started_on: date,
        invoice_id: str | None = None,
        service_id: str | None = None,
    ) -> ChargeAttempt:
        """The first attempt of a series."""
        return cls(
            series=series,
            number=1,
            purpose=purpose,
            method_id=method_id,
            token=token,
            quote=quote,
            started_on=started_on,
            invoice_id=invoice_id,
            service_id=service_id,
        )

    @property
    def key(self) -> str:
        """The provider's idempotency key of this attempt: ``<series>#<number>``."""
        return f"{self.series}#{self.number}"

    @property
    def pending(self) -> bool:
        """Whether the outcome is still unknown."""
        return self.status is AttemptStatus.PENDING

    def finished(self, status: AttemptStatus, reason: str = "") -> ChargeAttempt:
        """The attempt with its outcome.

        Raises:
            ConflictError: when the outcome is already recorded.
            ValidationError: for :attr:`AttemptStatus.PENDING`.
        """
        if not self.pending:
            raise ConflictError(f"attempt {self.key!r}", f"is {self.status} already")
        if _to_status(status) is AttemptStatus.PENDING:
            raise ValidationError("status", status, "an outcome is succeeded or failed")
        return attrs.evolve(self, status=status, reason=reason)

    def next_attempt(
        self,
        started_on: date,
        *,
        quote: PaymentQuote | None = None,
        method_id: str | None = None,
        token: str | None = None,
        invoice_id: str | None = None,
        service_id: str | None = None,
    ) -> ChargeAttempt:
        """The next attempt of the same series, once this one's outcome is known.

        Raises:
            ConflictError: while this attempt's outcome is unknown: ask the provider again
                with this attempt's key instead.
        """
        if self.pending:
            raise ConflictError(
                f"attempt {self.key!r}", "has no outcome yet; retry it with the same key"
            )
        return attrs.evolve(
            self,
            number=self.number + 1,
            status=AttemptStatus.PENDING,
            reason="",
            started_on=started_on,
            quote=self.quote if quote is None else quote,
            method_id=self.method_id if method_id is None else method_id,
            token=self.token if token is None else token,
            invoice_id=self.invoice_id if invoice_id is None else invoice_id,
            service_id=self.service_id if service_id is None else service_id,
        )
