"""What paying by a method costs: fees, amount limits and cashback (SPEC M5, M6).

A payment method charges a percentage of the amount plus a fixed fee, accepts amounts in a
range, and may return a percentage of the payment as a separate "cashback" payment. The
Astra Cloud cabinet shows its YooKassa method with a fee of "5.00% + 10.00" RUB, an amount
"from 10.00 to 3000.00" RUB and "cashback 10%":

>>> from decimal import Decimal
>>> from cabinet_billing import Money
>>> yookassa = PaymentMethodPricing(
...     currency="RUB",
...     fee_percent=Decimal("5"),
...     fixed_fee=Money("10.00", "RUB"),
...     minimum=Money("10.00", "RUB"),
...     maximum=Money("3000.00", "RUB"),
...     cashback_percent=Decimal("10"),
... )
>>> q = yookassa.quote(Money("100.00", "RUB"))
>>> q.base, q.fee, q.total, q.cashback
(Money('100.00', 'RUB'), Money('15.00', 'RUB'), Money('115.00', 'RUB'), Money('11.50', 'RUB'))
>>> yookassa.base_for_total(Money("31.00", "RUB")).base
Money('20.00', 'RUB')

Which amount the range limits: the cabinet shows the range under "amount" next to the
cart's amount (20.00), and the fee-inclusive 31.00 under "to pay", so the range applies to the amount credited, the *base*. A host whose provider limits the charged
total instead sets ``limits_apply_to=LimitBasis.TOTAL``.
"""

from __future__ import annotations

import decimal
import enum
from decimal import Decimal
from typing import Final

import attrs
import moneyed

from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.domain.money import (
    Money,
    Rounding,
    currency_places,
    in_money_context,
    to_decimal,
)
from cabinet_billing.errors import (
    AmountOutOfRangeError,
    CurrencyMismatchError,
    InvalidAmountError,
    ValidationError,
)

__all__ = ["LimitBasis", "PaymentMethodPricing", "PaymentQuote"]

_HUNDRED: Final = Decimal(100)


class LimitBasis(enum.Enum):
    """Which amount a payment method's minimum and maximum apply to."""

    #: The amount credited, before the fee (the Astra Cloud reading).
    BASE = "base"
    #: The amount charged to the customer, fee included.
    TOTAL = "total"


@shared_copies
@attrs.frozen
class PaymentQuote:
    """The price of one payment by a method.

    Attributes:
        base: the amount credited (to the balance or the order).
        fee: the method's fee, rounded to the minor unit.
        total: what the customer pays: ``base + fee``, always exactly.
        cashback: what the method returns as a separate credited payment (zero when the
            method has no cashback).
    """

    base: Money
    fee: Money
    total: Money
    cashback: Money


def _fee_percent(value: object) -> Decimal:
    percent = to_decimal(value)
    if percent < 0:
        raise ValidationError("fee_percent", value, "must be 0 or more (5 means 5%)")
    return percent


def _cashback_percent(value: object) -> Decimal | None:
    if value is None:
        return None
    percent = to_decimal(value)
    if not 0 <= percent <= _HUNDRED:
        raise ValidationError("cashback_percent", value, "must be from 0 to 100 (10 means 10%)")
    return percent


def _currency_code(value: object) -> str:
    if isinstance(value, moneyed.Currency):
        return str(value.code)
    if not isinstance(value, str):
        raise ValidationError("currency", value, "expected an ISO 4217 code such as 'RUB'")
    return Money.zero(value).code


def _money(value: object) -> Money:
    if not isinstance(value, moneyed.Money):
        raise InvalidAmountError(value, "expected a Money amount")
    return Money(value.amount, value.currency)


def _optional_money(value: object) -> Money | None:
    return None if value is None else _money(value)


def _limit_basis(value: object) -> LimitBasis:
    try:
        return LimitBasis(value)
    except ValueError:
        allowed = ", ".join(b.value for b in LimitBasis)
        raise ValidationError("limits_apply_to", value, f"expected one of {allowed}") from None


def _fixed_fee_default(self: PaymentMethodPricing) -> Money:
    return Money.zero(self.currency)


_HALF_UP: Final = Rounding()
_FLOOR: Final = Rounding(decimal.ROUND_FLOOR)


@attrs.frozen
class PaymentMethodPricing:
    """A payment method's fee, accepted amounts and cashback, in one currency.

    Args:
        currency: the currency the method is priced in.
        fee_percent: the percentage fee on the base amount (``5`` means 5%).
        fixed_fee: a fixed fee added to every payment (default zero).
        minimum: the smallest accepted amount, or ``None`` for any positive amount.
        maximum: the largest accepted amount, or ``None`` for no upper limit.
        cashback_percent: the share of the payment (fee included) returned as a separate
            payment, or ``None``.
        rounding: how the fee and the cashback are rounded to the minor unit.
        limits_apply_to: whether ``minimum``/``maximum`` limit the base or the total.

    Raises:
        CurrencyMismatchError: when an amount is not in ``currency``.
        ValidationError: for a negative fee, a cashback outside 0-100%, or a minimum
            above the maximum.
        InvalidAmountError: for a negative fixed fee or a limit that is not positive.
        PrecisionError: for an amount finer than the currency's minor unit.

    >>> PaymentMethodPricing("RUB", fixed_fee=Money("10.00", "EUR"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.CurrencyMismatchError: fixed_fee is in EUR, expected RUB
    """

    currency: str = attrs.field(converter=_currency_code)
    fee_percent: Decimal = attrs.field(default=Decimal(0), converter=_fee_percent)
    fixed_fee: Money = attrs.field(
        default=attrs.Factory(_fixed_fee_default, takes_self=True),
        converter=_money,
    )
    minimum: Money | None = attrs.field(default=None, converter=_optional_money)
    maximum: Money | None = attrs.field(default=None, converter=_optional_money)
    cashback_percent: Decimal | None = attrs.field(default=None, converter=_cashback_percent)
    rounding: Rounding = attrs.field(
        default=_HALF_UP,
        validator=attrs.validators.instance_of(Rounding),
    )
    limits_apply_to: LimitBasis = attrs.field(
        default=LimitBasis.BASE,
        converter=_limit_basis,
    )

    def __attrs_post_init__(self) -> None:
        for name in ("fixed_fee", "minimum", "maximum"):
            value: Money | None = getattr(self, name)
            if value is None:
                continue
            if value.code != self.currency:
                raise CurrencyMismatchError(value.code, self.currency, name)
            value.require_places()
            if name == "fixed_fee":
                value.require_non_negative()
            else:
                value.require_positive()
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValidationError(
                "minimum",
                str(self.minimum),
                f"must not exceed the maximum {self.maximum}",
            )

    # ------------------------------------------------------------------ pricing

    @property
    def unit(self) -> Money:
        """The currency's minor unit, e.g. ``0.01 RUB``."""
        return Money(Decimal(1).scaleb(-currency_places(self.currency)), self.currency)

    @in_money_context
    def fee_for(self, base: moneyed.Money) -> Money:
        """The fee on a base amount, rounded to the minor unit, without checking limits.

        >>> PaymentMethodPricing("RUB", Decimal("5"), Money("10.00", "RUB")).fee_for(Money("20.00", "RUB"))
        Money('11.00', 'RUB')
        """
        exact = base.amount * self.fee_percent / _HUNDRED + self.fixed_fee.amount
        return self.rounding.minor(Money(exact, self.currency))

    @in_money_context
    def cashback_for(self, total: moneyed.Money) -> Money:
        """The cashback on a payment of ``total``: zero when the method has none.

        >>> m = PaymentMethodPricing("RUB", cashback_percent=Decimal("10"))
        >>> m.cashback_for(Money("115.00", "RUB"))
        Money('11.50', 'RUB')
        """
        if self.cashback_percent is None:
            return self.rounding.minor(Money.zero(self.currency))
        return self.rounding.minor(
            Money(total.amount * self.cashback_percent / _HUNDRED, self.currency),
        )

    def quote(self, amount: moneyed.Money) -> PaymentQuote:
        """The fee, total and cashback of crediting ``amount`` by this method.

        Args:
            amount: the base amount to be credited.

        Raises:
            CurrencyMismatchError: for an amount in another currency.
            InvalidAmountError: for an amount that is not positive.
            PrecisionError: for an amount finer than the minor unit (``10.005``).
            AmountOutOfRangeError: for an amount (or, with ``LimitBasis.TOTAL``, a total)
                outside the method's range; the error names the amount and the range.

        >>> m = PaymentMethodPricing("RUB", Decimal("5"), Money("10.00", "RUB"), Money("10.00", "RUB"), Money("3000.00", "RUB"))
        >>> m.quote(Money("20.00", "RUB")).total
        Money('31.00', 'RUB')
        >>> m.quote(Money("3000.01", "RUB"))
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.AmountOutOfRangeError: amount 3000.01 RUB is out of range: allowed from 10.00 RUB to 3000.00 RUB
        """
        base = self._validated(amount)
        if self.limits_apply_to is LimitBasis.BASE:
            self._check_range(base)
        result = self._quote(base)
        if self.limits_apply_to is LimitBasis.TOTAL:
            self._check_range(result.total)
        return result

    @in_money_context
    def base_for_total(self, total: moneyed.Money) -> PaymentQuote:
        """How much is credited when the customer pays ``total``, fee included.

        The base is the largest amount whose quoted total does not exceed ``total``, and
        the fee is ``total - base``, so ``base + fee == total`` always. For every total
        that :meth:`quote` can produce, this gives back the same base and fee. A
        percentage fee makes some totals unreachable (the total of the next cent can be
        two cents higher); for those the extra minor unit is part of the fee.

        Raises:
            CurrencyMismatchError, InvalidAmountError, PrecisionError: as for :meth:`quote`.
            AmountOutOfRangeError: when the total does not cover the fee, or the credited
                amount would fall outside the range; the error names the total and the
                range of totals that is accepted.

        >>> m = PaymentMethodPricing("RUB", Decimal("5"), Money("10.00", "RUB"))
        >>> q = m.base_for_total(Money("115.00", "RUB"))
        >>> q.base, q.fee
        (Money('100.00', 'RUB'), Money('15.00', 'RUB'))
        """
        paid = self._validated(total)
        if self.limits_apply_to is LimitBasis.TOTAL:
            self._check_range(paid)
        unit = self.unit.amount
        exact = (paid.amount - self.fixed_fee.amount) * _HUNDRED / (_HUNDRED + self.fee_percent)
        # The answer is at most one minor unit above the exact inverse, whatever the rounding
        # mode of the fee; walk down from there to the largest base that fits.
        candidate = _FLOOR.decimal(exact, currency_places(self.currency)) + unit
        while candidate > 0 and self._total_of(candidate) > paid.amount:
            candidate -= unit
        if candidate <= 0 or (
            self.limits_apply_to is LimitBasis.BASE
            and not self._in_range(Money(candidate, self.currency))
        ):
            raise AmountOutOfRangeError(str(paid), *self._total_range())
        base = Money(candidate, self.currency)
        return PaymentQuote(
            base=base,
            fee=paid - base,
            total=paid,
            cashback=self.cashback_for(paid),
        )

    # ------------------------------------------------------------------ helpers

    def _validated(self, amount: moneyed.Money) -> Money:
        value = _money(amount)
        if value.code != self.currency:
            raise CurrencyMismatchError(value.code, self.currency)
        return value.require_positive().require_places()

    def _quote(self, base: Money) -> PaymentQuote:
        fee = self.fee_for(base)
        total = base + fee
        return PaymentQuote(base=base, fee=fee, total=total, cashback=self.cashback_for(total))

    def _total_of(self, base: Decimal) -> Decimal:
        return base + self.fee_for(Money(base, self.currency)).amount

    def _in_range(self, amount: Money) -> bool:
        return not (
            (self.minimum is not None and amount < self.minimum)
            or (self.maximum is not None and amount > self.maximum)
        )

    def _check_range(self, amount: Money) -> None:
        if not self._in_range(amount):
            raise AmountOutOfRangeError(
                str(amount),
                None if self.minimum is None else str(self.minimum),
                None if self.maximum is None else str(self.maximum),
            )

    def _total_range(self) -> tuple[str, str | None]:
        # The totals base_for_total accepts, for its error message.
        smallest = self._quote(self.unit).total
        if self.limits_apply_to is LimitBasis.TOTAL:
            low = smallest if self.minimum is None else max(smallest, self.minimum)
            high = self.maximum
        else:
            low = smallest if self.minimum is None else self._quote(self.minimum).total
            high = None if self.maximum is None else self._quote(self.maximum).total
        return str(low), None if high is None else str(high)
