"""Autopayment settings and card autopay state of an account (SPEC R6, R7).

The values live in the domain so that an account's billing profile can keep them; the
rules that use them (how much to top up, the recommended cap, the forecast) are in
:mod:`cabinet_billing.rules.autopay`.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Final

import attrs

from cabinet_billing.domain.money import Money
from cabinet_billing.errors import (
    CurrencyMismatchError,
    InvalidTransitionError,
    ValidationError,
)

__all__ = [
    "AutopayMode",
    "AutopayPolicy",
    "CardAutopay",
    "CardAutopayStatus",
    "PayWay",
]


class AutopayMode(enum.StrEnum):
    """How much an automatic payment tops up.

    Attributes:
        FIXED: always the policy's amount.
        TOP_UP_TO: the difference between the policy's target and the balance.
    """

    FIXED = "fixed"
    TOP_UP_TO = "top_up_to"


def _check_money(_instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError(attribute.name, value, "must be a Money amount")
    value.require_non_negative().require_places()


def _check_optional_money(
    instance: object,
    attribute: attrs.Attribute[Money | None],
    value: Money | None,
) -> None:
    if value is not None:
        _check_money(instance, attribute, value)  # type: ignore[arg-type]  # same checks


@attrs.frozen
class AutopayPolicy:
    """The customer's autopayment settings.

    Args:
        threshold: an automatic payment is made when the balance is below this.
        mode: a fixed amount, or top up to a target balance.
        amount: the fixed amount, or the target balance (above the threshold).
        monthly_cap: the most all automatic payments of a calendar month may add up to;
            ``None`` for no limit.
        minimum: the smallest payment the payment method accepts, if any.
        maximum: the largest payment the payment method accepts, if any.

    Raises:
        ValidationError: for negative amounts or more decimals than the minor unit, a
            zero amount, a target not above the threshold, a minimum above the maximum,
            or a method with limits while the cap is unlimited (Astra Cloud offers such
            methods only with a cap).
        CurrencyMismatchError: when the amounts are not all in one currency.

    >>> AutopayPolicy(Money("100.00", "RUB"), AutopayMode.FIXED, Money("500.00", "RUB"),
    ...               minimum=Money("10.00", "RUB"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: minimum=Money('10.00', 'RUB') is invalid: a payment method with limits needs a monthly cap; set monthly_cap
    """

    threshold: Money = attrs.field(validator=_check_money)
    mode: AutopayMode = attrs.field(validator=attrs.validators.instance_of(AutopayMode))
    amount: Money = attrs.field(validator=_check_money)
    monthly_cap: Money | None = attrs.field(default=None, validator=_check_optional_money)
    minimum: Money | None = attrs.field(default=None, validator=_check_optional_money)
    maximum: Money | None = attrs.field(default=None, validator=_check_optional_money)

    def __attrs_post_init__(self) -> None:
        code = self.threshold.code
        for name in ("amount", "monthly_cap", "minimum", "maximum"):
            value = getattr(self, name)
            if value is not None and value.code != code:
                raise CurrencyMismatchError(value.code, code, name)
        if self.amount.amount == 0:
            raise ValidationError("amount", self.amount, "must be greater than zero")
        if self.mode is AutopayMode.TOP_UP_TO and self.amount <= self.threshold:
            raise ValidationError(
                "amount",
                self.amount,
                f"the target balance must be above the threshold {self.threshold}",
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValidationError(
                "minimum",
                self.minimum,
                f"must not be above the maximum {self.maximum}",
            )
        if self.monthly_cap is None:
            for name in ("minimum", "maximum"):
                if getattr(self, name) is not None:
                    raise ValidationError(
                        name,
                        getattr(self, name),
                        "a payment method with limits needs a monthly cap; set monthly_cap",
                    )


# ----------------------------------------------------------------------------- card autopay


class CardAutopayStatus(enum.StrEnum):
    """The card autopay of an account.

    Attributes:
        AWAITING_CARD: no card payment yet; invoices are paid by hand.
        ACTIVE: invoices are charged to the card on the day they are issued.
        STOPPED: stopped; invoices are paid by bank transfer only.
    """

    AWAITING_CARD = "awaiting_card"
    ACTIVE = "active"
    STOPPED = "stopped"


class PayWay(enum.StrEnum):
    """A way an invoice can be paid."""

    CARD = "card"
    CARD_AUTOPAY = "card_autopay"
    BANK_TRANSFER = "bank_transfer"


_WAYS: Final = {
    CardAutopayStatus.AWAITING_CARD: (PayWay.CARD, PayWay.BANK_TRANSFER),
    CardAutopayStatus.ACTIVE: (PayWay.CARD_AUTOPAY, PayWay.CARD, PayWay.BANK_TRANSFER),
    CardAutopayStatus.STOPPED: (PayWay.BANK_TRANSFER,),
}


@attrs.define(on_setattr=attrs.setters.frozen)
class CardAutopay:
    """Card autopay on invoice day (Horoshop).

    After the first successful card payment, the card is recorded and every later
    invoice is charged to it on the day it is issued. Stopping it leaves bank transfer as
    the only way to pay.

    Args:
        account_id: the account.
        status: where it stands (default: awaiting the first card payment).
        method_id: the saved card charged, once known.
        since: the day of the first card payment.

    >>> from datetime import date
    >>> autopay = CardAutopay("acc-1")
    >>> autopay.record_card_payment("card-1", date(2024, 3, 1))
    >>> autopay.charge_on_issue(date(2024, 4, 1), date(2024, 4, 1))
    True
    >>> autopay.stop()
    >>> autopay.charge_on_issue(date(2024, 5, 1), date(2024, 5, 1)), autopay.pay_ways
    (False, (<PayWay.BANK_TRANSFER: 'bank_transfer'>,))
    """

    account_id: str
    status: CardAutopayStatus = CardAutopayStatus.AWAITING_CARD
    method_id: str | None = None
    since: date | None = None

    def __attrs_post_init__(self) -> None:
        if (self.status is CardAutopayStatus.ACTIVE) != (self.method_id is not None) or (
            self.status is CardAutopayStatus.ACTIVE
        ) != (self.since is not None):
            raise ValidationError(
                "method_id",
                self.method_id,
                "an active card autopay has a card and a start day; others have neither",
            )

    def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            object.__setattr__(self, name, value)

    @property
    def pay_ways(self) -> tuple[PayWay, ...]:
        """The ways an invoice of the account can be paid now."""
        return _WAYS[self.status]

    @property
    def bank_transfer_only(self) -> bool:
        """Whether bank transfer is the only way to pay (after :meth:`stop`)."""
        return self.pay_ways == (PayWay.BANK_TRANSFER,)

    def record_card_payment(self, method_id: object, on: date) -> None:
        """Record a successful card payment.

        The first one starts autopay; a later one with another card (a card change)
        switches the card charged.

        Raises:
            InvalidTransitionError: once stopped (card payments are no longer offered).
            ValidationError: for an empty method id.
        """
        if self.status is CardAutopayStatus.STOPPED:
            raise InvalidTransitionError(
                self.status,
                CardAutopayStatus.ACTIVE,
                [PayWay.BANK_TRANSFER],
            )
        if not isinstance(method_id, str) or not method_id.strip():
            raise ValidationError("method_id", method_id, "must be a non-empty string")
        since = self.since if self.since is not None else on
        self._set(status=CardAutopayStatus.ACTIVE, method_id=method_id, since=since)

    def charge_on_issue(self, invoice_issued_on: date, today: date) -> bool:
        """Whether an invoice issued on ``invoice_issued_on`` is charged to the card today.

        True only while active, on the issue day itself, for invoices issued after the
        first card payment.
        """
        return (
            self.status is CardAutopayStatus.ACTIVE
            and self.since is not None
            and invoice_issued_on == today
            and invoice_issued_on >= self.since
        )

    def covers(self, invoice_issued_on: date) -> bool:
        """Whether an invoice issued on that day is one card autopay charges.

        True while active, for invoices issued on or after the first card payment. The
        billing run charges each such invoice once, at its first run on or after the issue
        day.

        >>> autopay = CardAutopay("acc-1")
        >>> autopay.record_card_payment("card-1", date(2024, 3, 1))
        >>> autopay.covers(date(2024, 2, 29)), autopay.covers(date(2024, 3, 10))
        (False, True)
        """
        return (
            self.status is CardAutopayStatus.ACTIVE
            and self.since is not None
            and invoice_issued_on >= self.since
        )

    def stop(self) -> None:
        """Stop card autopay: from now on invoices are paid by bank transfer only.

        Raises:
            InvalidTransitionError: when it is already stopped.
        """
        if self.status is CardAutopayStatus.STOPPED:
            raise InvalidTransitionError(self.status, CardAutopayStatus.STOPPED, [])
        self._set(status=CardAutopayStatus.STOPPED, method_id=None, since=None)
