"""Automatic payments: balance autopay with a monthly cap, card autopay, low-balance notice.

Three rules live here:

* **Autopayment** (SPEC R6, Astra Cloud): when the balance runs low, it is topped up
  automatically, by a fixed amount or up to a target balance. The customer sets a monthly
  maximum and no automatic payment may take the month past it. The recommended maximum
  is next month's forecast plus 10%.
* **Card autopay on invoice day** (SPEC R7, Horoshop): after the first card payment, later
  invoices are charged to the card on the day they are issued; once stopped, invoices are
  paid by bank transfer only.
* **Low-balance notice** (SPEC R8, Introserv): the customer is told once each time the
  balance falls below their threshold.

>>> from cabinet_billing import Money
>>> str(recommended_cap(Money("620.00", "RUB")))
'682.00 RUB'
>>> policy = AutopayPolicy(Money("100.00", "RUB"), AutopayMode.TOP_UP_TO, Money("700.00", "RUB"),
...                        monthly_cap=Money("682.00", "RUB"))
>>> str(autopay_amount(policy, Money("40.00", "RUB"), Money("0.00", "RUB")))
'660.00 RUB'
>>> str(autopay_amount(policy, Money("40.00", "RUB"), Money("600.00", "RUB")))
'82.00 RUB'
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Final

import attrs
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.autopay import (
    AutopayMode,
    AutopayPolicy,
    CardAutopay,
    CardAutopayStatus,
    PayWay,
)
from cabinet_billing.domain.money import Money, Rounding, in_money_context, sum_money
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.payment_method import LimitBasis, PaymentMethodPricing, PaymentQuote
from cabinet_billing.domain.periods import BillingCycle, Period
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.errors import (
    AmountOutOfRangeError,
    CurrencyMismatchError,
    ValidationError,
)

__all__ = [
    "AutopayMode",
    "AutopayPolicy",
    "CardAutopay",
    "CardAutopayStatus",
    "PayWay",
    "ScheduledCharge",
    "autopay_amount",
    "autopay_charge",
    "forecast",
    "low_balance_crossed",
    "low_balance_notice",
    "recommended_cap",
]

#: Top-up amounts are rounded up to the minor unit, so that the target is reached.
_UP: Final = Rounding(decimal.ROUND_CEILING)


def autopay_amount(
    policy: AutopayPolicy, balance: Money, charged_this_month: Money
) -> Money | None:
    """The automatic payment to make now, or ``None``.

    Nothing is paid while the balance is at or above the threshold. Otherwise the wanted
    amount (the fixed amount, or the target minus the balance rounded up to the minor
    unit) is reduced to the method's maximum and to what is left of the monthly cap;
    one below the method's minimum is raised to it if the cap leaves room, else nothing
    is paid. So the automatic payments of a month never add up to more than the cap.

    Args:
        policy: the autopayment settings.
        balance: the balance now.
        charged_this_month: the automatic payments already made this calendar month.

    Raises:
        CurrencyMismatchError: when the amounts are not in the policy's currency.

    >>> policy = AutopayPolicy(Money("100.00", "RUB"), AutopayMode.FIXED, Money("300.00", "RUB"),
    ...                        monthly_cap=Money("682.00", "RUB"), minimum=Money("10.00", "RUB"))
    >>> str(autopay_amount(policy, Money("99.99", "RUB"), Money("600.00", "RUB")))
    '82.00 RUB'
    >>> autopay_amount(policy, Money("99.99", "RUB"), Money("675.00", "RUB")) is None
    True
    >>> autopay_amount(policy, Money("100.00", "RUB"), Money("0", "RUB")) is None
    True
    """
    code = policy.threshold.code
    balance.require_currency(code)
    charged_this_month.require_currency(code)
    if balance >= policy.threshold:
        return None
    if policy.mode is AutopayMode.FIXED:
        wanted = policy.amount
    else:
        wanted = _UP.minor(policy.amount - balance)
    ceiling = policy.maximum
    if policy.monthly_cap is not None:
        left = policy.monthly_cap - charged_this_month
        if left.amount <= 0:
            return None
        ceiling = left if ceiling is None else min(ceiling, left)
    if ceiling is not None:
        wanted = min(wanted, ceiling)
    if policy.minimum is not None and wanted < policy.minimum:
        if ceiling is not None and policy.minimum > ceiling:
            return None
        wanted = policy.minimum
    return wanted if wanted.amount > 0 else None


def autopay_charge(
    policy: AutopayPolicy,
    balance: Money,
    charged_this_month: Money,
    pricing: PaymentMethodPricing | None = None,
) -> PaymentQuote | None:
    """The automatic payment to make now, priced by its payment method, or ``None``.

    The amount wanted by the policy (:func:`autopay_amount`) is brought into the method's
    accepted range (SPEC M5: Astra Cloud's card takes 10.00 to 3000.00 RUB) and the
    method's fee is added; what the card is charged (the total, fee included) counts
    towards the monthly cap, so the charges of a month never add up to more than the cap:
    when the total would pass it, the payment is the largest one whose total fits. With
    no way to pay within the range and the cap, nothing is paid.

    Args:
        policy: the autopayment settings.
        balance: the balance now.
        charged_this_month: what automatic payments charged this calendar month, fees
            included.
        pricing: the fee and range of the method charged (``None``: no fee, any amount).

    Raises:
        CurrencyMismatchError: when the amounts or the pricing are not in the policy's
            currency.

    >>> card = PaymentMethodPricing("RUB", fee_percent="5", fixed_fee=Money("10.00", "RUB"),
    ...                             minimum=Money("10.00", "RUB"), maximum=Money("3000.00", "RUB"))
    >>> policy = AutopayPolicy(Money("100.00", "RUB"), AutopayMode.FIXED, Money("5000.00", "RUB"),
    ...                        monthly_cap=Money("10000.00", "RUB"))
    >>> q = autopay_charge(policy, Money("0", "RUB"), Money("0", "RUB"), card)
    >>> str(q.base), str(q.fee), str(q.total)
    ('3000.00 RUB', '160.00 RUB', '3160.00 RUB')
    >>> q = autopay_charge(policy, Money("0", "RUB"), Money("9000.00", "RUB"), card)
    >>> str(q.base), str(q.total)
    ('942.86 RUB', '1000.00 RUB')
    """
    code = policy.threshold.code
    wanted = autopay_amount(policy, balance, charged_this_month)
    if wanted is None:
        return None
    if pricing is None:
        zero = Money.zero(code)
        return PaymentQuote(base=wanted, fee=zero, total=wanted, cashback=zero)
    if pricing.currency != code:
        raise CurrencyMismatchError(pricing.currency, code, "payment method")
    left = None if policy.monthly_cap is None else policy.monthly_cap - charged_this_month
    quote = _in_range(pricing, wanted)
    if quote is None:
        # Limits on the total: charge the most the method takes.
        left = pricing.maximum if left is None else _smaller(left, pricing.maximum)
    elif left is None or quote.total <= left:
        return quote
    if left is None or left.amount <= 0:
        return None
    try:
        # The largest base whose total fits, charged exactly as the method quotes it.
        return pricing.quote(pricing.base_for_total(left).base)
    except AmountOutOfRangeError:
        return None


def _in_range(pricing: PaymentMethodPricing, wanted: Money) -> PaymentQuote | None:
    """The quote of ``wanted`` brought into a range on the base; ``None`` if it cannot be."""
    if pricing.limits_apply_to is LimitBasis.BASE:
        if pricing.maximum is not None:
            wanted = min(wanted, pricing.maximum)
        if pricing.minimum is not None:
            wanted = max(wanted, pricing.minimum)
    try:
        return pricing.quote(wanted)
    except AmountOutOfRangeError:
        return None


def _smaller(amount: Money, limit: Money | None) -> Money:
    return amount if limit is None else min(amount, limit)


@in_money_context
def recommended_cap(
    forecast: Money,
    markup_percent: Decimal | int | str = 10,
    rounding: Rounding = Rounding(),  # noqa: B008 - an immutable value
) -> Money:
    """The recommended monthly cap: the forecast plus a margin, rounded to the minor unit.

    Args:
        forecast: next month's expected charges (see :func:`forecast`).
        markup_percent: the margin in percent (default 10).
        rounding: how the result is rounded to the minor unit.

    Raises:
        InvalidAmountError: for a negative forecast or margin, or a float margin.

    >>> str(recommended_cap(Money("620.00", "RUB"))), str(recommended_cap(Money("0.05", "EUR")))
    ('682.00 RUB', '0.06 EUR')
    """
    forecast.require_non_negative()
    percent = Money(markup_percent, forecast.currency).require_non_negative().amount
    return rounding.minor(forecast * (1 + percent / 100))


def _check_period(_instance: object, _attribute: object, value: Period) -> None:
    if not isinstance(value, Period):
        raise ValidationError("period", value, "must be a Period")


def _check_price(_instance: object, _attribute: object, value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError("price", value, "must be a Money amount")
    value.require_non_negative()


@attrs.frozen
class ScheduledCharge:
    """A recurring charge for the forecast: a price per period from its next charge day.

    Args:
        price: the amount charged each period.
        period: the period.
        next_charge_on: the next day charged.
        anchor: the first boundary of its cycle (default ``next_charge_on``), so that a
            service anchored on the 31st is charged on the last day of short months.
    """

    price: Money = attrs.field(validator=_check_price)
    period: Period = attrs.field(validator=_check_period)
    next_charge_on: date
    anchor: date | None = None

    @classmethod
    def from_subscription(cls, sub: Subscription) -> ScheduledCharge:
        """The charges of a subscription: its price each period from its paid-until day."""
        return cls(sub.price, sub.period, sub.paid_until, sub.cycle.anchor)

    def dates_in(self, start: date, end: date) -> tuple[date, ...]:
        """The charge days in ``[start, end)``.

        >>> from datetime import date
        >>> c = ScheduledCharge(Money("1.00", "EUR"), Period.days(7), date(2024, 3, 4))
        >>> [d.day for d in c.dates_in(date(2024, 3, 1), date(2024, 4, 1))]
        [4, 11, 18, 25]
        """
        cycle = BillingCycle(self.anchor or self.next_charge_on, self.period)
        k = max(cycle.index_of(self.next_charge_on), 0)
        while cycle.boundary(k) < self.next_charge_on:
            k += 1
        found: list[date] = []
        while (day := cycle.boundary(k)) < end:
            if day >= start:
                found.append(day)
            k += 1
        return tuple(found)


def forecast(charges: Iterable[ScheduledCharge], month: date, currency: str) -> Money:
    """The sum of the charges that fall in the calendar month of ``month``.

    Args:
        charges: the recurring charges (e.g. services with auto-renewal).
        month: any day of the month forecast (usually next month).
        currency: the currency of the result (and of every charge).

    Raises:
        CurrencyMismatchError: when a charge is in another currency.

    >>> from datetime import date
    >>> charges = [
    ...     ScheduledCharge(Money("250.00", "RUB"), Period.months(), date(2024, 3, 21)),
    ...     ScheduledCharge(Money("20.00", "RUB"), Period.days(), date(2024, 4, 1)),
    ...     ScheduledCharge(Money("1200.00", "RUB"), Period.year(), date(2024, 9, 1)),
    ... ]
    >>> str(forecast(charges, date(2024, 4, 1), "RUB"))
    '850.00 RUB'
    """
    start = month.replace(day=1)
    end = start + relativedelta(months=1)
    amounts: list[Money] = []
    for charge in charges:
        amounts.extend(charge.price for _ in charge.dates_in(start, end))
    return sum_money(amounts, currency)


# ----------------------------------------------------------------------------- low balance


def low_balance_crossed(before: Money, after: Money, threshold: Money) -> bool:
    """Whether the balance fell below the threshold with this change.

    True only when ``before`` is at or above the threshold and ``after`` is below it,
    so the notice is sent once per crossing and not again while the balance stays low.

    Raises:
        CurrencyMismatchError: when the amounts are in different currencies.

    >>> t = Money("50.00", "EUR")
    >>> low_balance_crossed(Money("60", "EUR"), Money("49.99", "EUR"), t)
    True
    >>> low_balance_crossed(Money("49.99", "EUR"), Money("10", "EUR"), t)
    False
    """
    return before >= threshold > after


def low_balance_notice(
    account_id: str,
    before: Money,
    after: Money,
    threshold: Money | None,
    at: datetime,
) -> Notification | None:
    """The low-balance notice for a balance change, or ``None`` when none is due.

    Args:
        account_id: the account.
        before: the balance before the change.
        after: the balance after it.
        threshold: the customer's threshold (``None``: the customer wants no notice).
        at: when the balance changed (aware).

    >>> from datetime import datetime, timezone
    >>> n = low_balance_notice("acc-1", Money("60.00", "EUR"), Money("40.00", "EUR"),
    ...                        Money("50.00", "EUR"), datetime(2024, 3, 21, tzinfo=timezone.utc))
    >>> n.kind, n.params["balance"], n.params["threshold"]
    ('balance.low', '40.00 EUR', '50.00 EUR')
    """
    if threshold is None or not low_balance_crossed(before, after, threshold):
        return None
    return Notification(
        account_id,
        NotificationCategory.FINANCE,
        "balance.low",
        at,
        {"balance": str(after), "threshold": str(threshold)},
    )
