"""The cart: configured items, a promo code, tax lines, totals and checkout (SPEC C4).

Each item is a plan, a billing period and a configuration of add-on quantities. Pricing
the cart on a day gives, per item, the *now-price* (prorated by a proration rule, e.g. a
:class:`~cabinet_billing.rules.proration.ProrationPolicy`) and the *then-price* of every
following period, applies the promo code's discount to the now-prices **before tax**, and
adds the tax lines of the provider's :class:`~cabinet_billing.domain.tax.TaxPolicy`.

:meth:`Cart.checkout` turns the cart into an immutable :class:`Order` bound to exactly one
payment method. The method of an order never changes: to pay another way, put the order
back in the cart (:meth:`Cart.reorder`) and check out again, which makes a new order.

>>> from datetime import date
>>> from cabinet_billing import Money, Plan, ProductKind, TaxMode, TaxPolicy, TaxRate
>>> from cabinet_billing.domain.cart import Cart
>>> test = Plan("test", "Test", ProductKind.OTHER, {"month": Money("20.00", "RUB")})
>>> cart = Cart("c1", "RUB")
>>> item = cart.add(test, "month")
>>> vat = TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")})
>>> summary = cart.price(date(2023, 4, 20), tax=vat, country="RU")
>>> str(summary.totals.gross), str(summary.totals.tax)
('20.00 RUB', '3.33 RUB')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

import attrs

from cabinet_billing.domain.allocation import allocate, round_lines
from cabinet_billing.domain.catalog import Plan, Quote
from cabinet_billing.domain.checks import id_field
from cabinet_billing.domain.money import HALF_UP, Money, Rounding, currency_places, sum_money
from cabinet_billing.domain.periods import DateRange, Period, period_end
from cabinet_billing.domain.promo import PromoCode
from cabinet_billing.domain.tax import TaxAmounts, TaxPolicy, TaxRate
from cabinet_billing.errors import (
    NotFoundError,
    PromoCodeError,
    UnknownCurrencyError,
    ValidationError,
)

__all__ = [
    "Cart",
    "CartItem",
    "CartLine",
    "CartSummary",
    "FullPeriod",
    "Order",
    "OrderLine",
    "ProratedLines",
    "ProrationRule",
]


class ProratedLines(Protocol):
    """What a proration rule returns: the now and then amounts per line, and the days."""

    @property
    def now_lines(self) -> tuple[Money, ...]:
        """The now-price per line, rounded to the minor unit."""
        ...  # pragma: no cover

    @property
    def then_lines(self) -> tuple[Money, ...]:
        """The price per line of each following period."""
        ...  # pragma: no cover

    @property
    def covered(self) -> DateRange:
        """The days the now-price pays for."""
        ...  # pragma: no cover

    @property
    def anchor(self) -> date:
        """The first day of the billing cycle: period ``n`` ends at ``anchor + n * period``."""
        ...  # pragma: no cover


class ProrationRule(Protocol):
    """Anything that prices a new order's lines: a proration policy, or :class:`FullPeriod`."""

    def prorate(
        self,
        price: Sequence[Money],
        period: Period,
        ordered_on: date,
    ) -> ProratedLines:
        """Return the now and then amounts of ``price`` ordered on ``ordered_on``."""
        ...  # pragma: no cover


@attrs.frozen
class _FullLines:
    now_lines: tuple[Money, ...]
    then_lines: tuple[Money, ...]
    covered: DateRange

    @property
    def anchor(self) -> date:
        return self.covered.start


@attrs.frozen
class FullPeriod:
    """The rule without proration: the now-price is a full period from the order day.

    Args:
        rounding: how the lines are rounded to the minor unit.
    """

    rounding: Rounding = HALF_UP

    def prorate(self, price: Sequence[Money], period: Period, ordered_on: date) -> _FullLines:
        """Return the full price of one period starting on ``ordered_on``."""
        lines = tuple(round_lines(price, self.rounding))
        return _FullLines(lines, lines, DateRange(ordered_on, period_end(ordered_on, period)))


def _to_quantities(value: Mapping[str, object] | None) -> tuple[tuple[str, object], ...]:
    return tuple(sorted((value or {}).items()))


def _check_item_id(_instance: object, _attribute: object, value: str) -> None:
    if not value:
        raise ValidationError("item_id", value, "must be a non-empty string")


def _to_period(value: Period | str) -> Period:
    return Period.parse(value)


@attrs.frozen
class CartItem:
    """One configured item in a cart.

    Args:
        id: the item's id within the cart.
        plan: the plan ordered.
        period: the billing period (a :class:`Period` or its text).
        quantities: the chosen add-on quantities; add-ons not named get their default.
    """

    id: str = attrs.field(validator=_check_item_id)
    plan: Plan
    period: Period = attrs.field(converter=_to_period)
    quantities: tuple[tuple[str, object], ...] = attrs.field(
        default=(),
        converter=_to_quantities,
    )

    def quote(self, currency: str) -> Quote:
        """The price of this configuration for one period in ``currency``.

        Raises:
            PriceNotFoundError: when the plan or a billed add-on has no price.
            ValidationError: for an unknown add-on or a quantity outside its range.
        """
        return self.plan.quote(self.period, currency, dict(self.quantities))


@attrs.frozen
class CartLine:
    """The priced form of a :class:`CartItem`.

    Args:
        item: the item.
        quote: the then-price of the configuration, line by line.
        covered: the days the now-price pays for.
        now_lines: the prorated now-price per configuration line.
        now: the now-price before the discount.
        discount: the promo code's discount on the now-price.
        then: the price of each following period (without discounts).
        tax: net, tax and gross of the discounted now-price.
        anchor: the first day of the service's billing cycle (see
            :attr:`ProratedLines.anchor`); ``None``: the start of ``covered``.
        rate: the tax rate of the line (the customer's country's).
    """

    item: CartItem
    quote: Quote
    covered: DateRange
    now_lines: tuple[Money, ...]
    now: Money
    discount: Money
    then: Money
    tax: TaxAmounts
    anchor: date | None = None
    rate: TaxRate | None = None

    @property
    def price(self) -> Money:
        """The now-price after the discount, before tax is added (as priced in the plan)."""
        return self.now - self.discount


@attrs.frozen
class CartSummary:
    """The priced cart: lines, discount, tax and totals.

    Args:
        lines: one :class:`CartLine` per item, in cart order.
        subtotal: the sum of the now-prices before the discount.
        discount: the total discount.
        totals: net, tax and gross of the whole cart after the discount.
        then: the sum of the then-prices.
        promo_code: the applied code, or ``None``.
    """

    lines: tuple[CartLine, ...]
    subtotal: Money
    discount: Money
    totals: TaxAmounts
    then: Money
    promo_code: str | None

    @property
    def to_pay(self) -> Money:
        """What the customer pays now: the gross total."""
        return self.totals.gross


@attrs.frozen
class OrderLine:
    """One line of an :class:`Order`, as it was priced at checkout.

    ``anchor`` is the first day of the service's billing cycle: pass it to
    :meth:`~cabinet_billing.domain.service.Service.order` so that every period of the
    service ends at ``anchor + n * period`` (``None`` on orders priced before it
    existed: the start of ``covered``).
    """

    item_id: str
    plan_id: str
    plan_name: str
    period: Period
    quantities: tuple[tuple[str, Decimal], ...]
    covered: DateRange
    now: Money
    discount: Money
    then: Money
    tax: TaxAmounts
    anchor: date | None = None
    #: The tax rate of the line, as priced at checkout (``None`` on older orders).
    rate: TaxRate | None = None


def _check_method(_instance: object, _attribute: object, value: str) -> None:
    if not value.strip():
        raise ValidationError(
            "payment_method_id",
            value,
            "an order needs exactly one payment method",
        )


@attrs.frozen
class Order:
    """A checked-out cart, bound to exactly one payment method; it never changes.

    To pay with another method, place a new order (see :meth:`Cart.reorder`).

    Args:
        id: the order's id.
        customer_id: who ordered.
        payment_method_id: the one payment method of the order.
        placed_on: the day of checkout.
        currency: the currency of every amount.
        lines: the priced lines.
        totals: net, tax and gross after the discount.
        discount: the total discount.
        then: the sum of the then-prices.
        promo_code: the applied promo code, or ``None``.
        items: the cart items, so that the order can be placed again.
    """

    id: str
    customer_id: str
    payment_method_id: str = attrs.field(validator=_check_method)
    placed_on: date
    currency: str
    lines: tuple[OrderLine, ...]
    totals: TaxAmounts
    discount: Money
    then: Money
    promo_code: str | None
    items: tuple[CartItem, ...]

    @property
    def to_pay(self) -> Money:
        """What the order costs now: the gross total."""
        return self.totals.gross


def _discounts(
    promo: PromoCode | None,
    items: Sequence[CartItem],
    nows: Sequence[Money],
    currency: str,
    rounding: Rounding,
) -> list[Money]:
    zero = Money(0, currency)
    if promo is None:
        return [rounding.minor(zero) for _ in nows]
    eligible = [promo.applies_to(item.plan.id, item.period) for item in items]
    if promo.percent is not None:
        exact = [
            promo.discount_on(now) if ok else zero for now, ok in zip(nows, eligible, strict=True)
        ]
        return round_lines(exact, rounding)
    base = sum_money((now for now, ok in zip(nows, eligible, strict=True) if ok), currency)
    weights = [now.amount if ok else Decimal(0) for now, ok in zip(nows, eligible, strict=True)]
    if base.amount == 0:
        return [rounding.minor(zero) for _ in nows]
    return allocate(promo.discount_on(base), weights, rounding)


def _currency_code(value: object) -> str:
    """The ISO 4217 code of a cart: known to the library, in upper case."""
    if not isinstance(value, str):
        raise UnknownCurrencyError(value)
    code = value.upper()
    currency_places(code)  # raises UnknownCurrencyError for an unknown code
    return code


def _to_items(value: Sequence[CartItem]) -> list[CartItem]:
    return list(value)


@attrs.define
class Cart:
    """A customer's cart in one currency.

    Args:
        customer_id: whose cart it is.
        currency: the currency every item is priced in.

    Every method that changes the cart checks first and leaves the cart unchanged when
    it raises.
    """

    customer_id: str = attrs.field(validator=id_field())
    currency: str = attrs.field(converter=_currency_code)
    _items: list[CartItem] = attrs.field(factory=list, converter=_to_items, alias="items")
    _promo: PromoCode | None = attrs.field(default=None, alias="promo")
    _next_id: int = attrs.field(default=1, init=False)

    @property
    def items(self) -> tuple[CartItem, ...]:
        """The items, in the order they were added."""
        return tuple(self._items)

    @property
    def promo(self) -> PromoCode | None:
        """The applied promo code, if any."""
        return self._promo

    def item(self, item_id: str) -> CartItem:
        """The item with id ``item_id``.

        Raises:
            NotFoundError: for an id not in the cart.
        """
        for item in self._items:
            if item.id == item_id:
                return item
        raise NotFoundError("cart item", item_id)

    def _new_id(self) -> str:
        taken = {item.id for item in self._items}
        while str(self._next_id) in taken:
            self._next_id += 1
        return str(self._next_id)

    def add(
        self,
        plan: Plan,
        period: Period | str = "month",
        quantities: Mapping[str, object] | None = None,
    ) -> CartItem:
        """Add a configured plan and return the new item.

        Raises:
            PriceNotFoundError: when the plan (or a billed add-on) has no price for the
                period in the cart's currency.
            ValidationError: for an unknown add-on or a quantity outside its range.
        """
        item = CartItem(self._new_id(), plan, period, quantities)
        item.quote(self.currency)
        self._items.append(item)
        self._next_id += 1
        return item

    def change(
        self,
        item_id: str,
        *,
        period: Period | str | None = None,
        quantities: Mapping[str, object] | None = None,
    ) -> CartItem:
        """Change an item's period and/or add-on quantities; return the new item.

        Raises:
            NotFoundError: for an id not in the cart.
            PriceNotFoundError: when the new period has no price.
            ValidationError: for an unknown add-on or a quantity outside its range.
        """
        old = self.item(item_id)
        new = CartItem(
            old.id,
            old.plan,
            old.period if period is None else period,
            dict(old.quantities) if quantities is None else quantities,
        )
        new.quote(self.currency)
        self._items[self._items.index(old)] = new
        return new

    def remove(self, item_id: str) -> None:
        """Remove an item.

        Raises:
            NotFoundError: for an id not in the cart.
        """
        self._items.remove(self.item(item_id))

    def clear(self) -> None:
        """Empty the cart and drop the promo code."""
        self._items.clear()
        self._promo = None

    def apply_promo(self, promo: PromoCode, today: date, *, already_used: bool = False) -> None:
        """Apply a promo code, replacing any other.

        Args:
            promo: the code.
            today: the day it is applied.
            already_used: whether this customer used the code before.

        Raises:
            PromoCodeError: when the code is not valid on ``today``, was used up, is a
                fixed discount in another currency, or applies to no item in the cart.
        """
        promo.check(today, already_used=already_used)
        if promo.amount is not None and promo.amount.code != self.currency:
            raise PromoCodeError(
                promo.code,
                f"it is a discount in {promo.amount.code}; the cart is in {self.currency}",
            )
        if not any(promo.applies_to(item.plan.id, item.period) for item in self._items):
            raise PromoCodeError(
                promo.code,
                f"it applies to no item in the cart ({promo.describe_scope()})",
            )
        self._promo = promo

    def remove_promo(self) -> None:
        """Drop the promo code."""
        self._promo = None

    def price(
        self,
        today: date,
        *,
        tax: TaxPolicy,
        country: str,
        proration: ProrationRule | None = None,
        rounding: Rounding = HALF_UP,
    ) -> CartSummary:
        """Price the cart for an order placed on ``today``.

        Args:
            today: the order day (proration starts here).
            tax: the provider's tax policy (inclusive or exclusive, rate per country).
            country: the customer's country, for the tax rate.
            proration: how now-prices are prorated (default: :class:`FullPeriod`).
            rounding: how discounts and taxes are rounded.

        Raises:
            ValidationError: for an empty cart.
            NotFoundError: when the country has no tax rate.
            PriceNotFoundError: when an item has no price.
        """
        if not self._items:
            raise ValidationError("cart", self.customer_id, "the cart is empty")
        rule: ProrationRule = FullPeriod(rounding) if proration is None else proration
        quotes = [item.quote(self.currency) for item in self._items]
        prorated = [rule.prorate(list(q.amounts()), q.period, today) for q in quotes]
        nows = [sum_money(p.now_lines, self.currency) for p in prorated]
        thens = [sum_money(p.then_lines, self.currency) for p in prorated]
        discounts = _discounts(self._promo, self._items, nows, self.currency, rounding)
        breakdown = tax.breakdown(
            [now - d for now, d in zip(nows, discounts, strict=True)],
            country,
            rounding,
        )
        lines = tuple(
            CartLine(
                item=item,
                quote=q,
                covered=p.covered,
                now_lines=tuple(p.now_lines),
                now=now,
                discount=d,
                then=then,
                tax=t,
                anchor=p.anchor,
                rate=tax.rate_for(country),
            )
            for item, q, p, now, d, then, t in zip(
                self._items,
                quotes,
                prorated,
                nows,
                discounts,
                thens,
                breakdown.lines,
                strict=True,
            )
        )
        return CartSummary(
            lines=lines,
            subtotal=sum_money(nows, self.currency),
            discount=sum_money(discounts, self.currency),
            totals=breakdown.total,
            then=sum_money(thens, self.currency),
            promo_code=None if self._promo is None else self._promo.code,
        )

    def checkout(
        self,
        payment_method_id: str,
        today: date,
        *,
        order_id: str,
        tax: TaxPolicy,
        country: str,
        proration: ProrationRule | None = None,
        rounding: Rounding = HALF_UP,
        promo_already_used: bool = False,
    ) -> Order:
        """Turn the cart into an order paid by ``payment_method_id``, and empty the cart.

        The promo code is checked again for ``today``. On any error the cart is left
        as it was.

        Args:
            payment_method_id: the one payment method of the order.
            today: the day of checkout (proration starts here).
            order_id: the id of the new order (ids come from the host).
            tax: the provider's tax policy.
            country: the customer's country, for the tax rate.
            proration: how now-prices are prorated (default: :class:`FullPeriod`).
            rounding: how discounts and taxes are rounded.
            promo_already_used: whether this customer used the promo code before.

        Raises:
            ValidationError: for an empty cart or an empty payment method id.
            PromoCodeError: when the promo code is no longer valid.
            NotFoundError: when the country has no tax rate.
        """
        if not payment_method_id.strip():
            raise ValidationError(
                "payment_method_id",
                payment_method_id,
                "an order needs exactly one payment method",
            )
        if self._promo is not None:
            self._promo.check(today, already_used=promo_already_used)
        summary = self.price(
            today,
            tax=tax,
            country=country,
            proration=proration,
            rounding=rounding,
        )
        order = Order(
            id=order_id,
            customer_id=self.customer_id,
            payment_method_id=payment_method_id,
            placed_on=today,
            currency=self.currency,
            lines=tuple(
                OrderLine(
                    item_id=line.item.id,
                    plan_id=line.item.plan.id,
                    plan_name=line.item.plan.name,
                    period=line.item.period,
                    quantities=tuple((ln.code, ln.quantity) for ln in line.quote.lines[1:]),
                    covered=line.covered,
                    now=line.now,
                    discount=line.discount,
                    then=line.then,
                    tax=line.tax,
                    anchor=line.anchor,
                    rate=line.rate,
                )
                for line in summary.lines
            ),
            totals=summary.totals,
            discount=summary.discount,
            then=summary.then,
            promo_code=summary.promo_code,
            items=self.items,
        )
        self.clear()
        return order

    def reorder(self, order: Order) -> None:
        """Put an order's items back in the cart, to check out again with another method.

        The promo code is not restored; apply it again if it is still valid.

        Raises:
            ValidationError: when the order is in another currency than the cart.
        """
        if order.currency != self.currency:
            raise ValidationError(
                "order",
                order.id,
                f"is in {order.currency}; the cart is in {self.currency}",
            )
        start = len(self._items)
        try:
            for item in order.items:
                self.add(item.plan, item.period, dict(item.quantities))
        except BaseException:
            del self._items[start:]
            raise
