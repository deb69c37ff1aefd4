"""Tariff plans, add-ons and the price of a configuration (SPEC C1).

A :class:`Plan` has a base price per billing period and currency, optional add-ons
(traffic, IP addresses, licences, power, limits) each with its own unit price and an
included quantity, optional capped metrics (:mod:`cabinet_billing.domain.limits`) and
a list of features. The price of a configuration is the base price plus, for every
add-on, the units beyond the included ones times the add-on's unit price.

The Astra Cloud renewal form offers a service for 20.00 RUB a day, 100.00 RUB a month
or 1200.00 RUB a year:

>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.catalog import Plan, ProductKind
>>> plan = Plan(
...     "test",
...     "Test",
...     ProductKind.VPS,
...     {
...         "day": Money("20.00", "RUB"),
...         "month": Money("100.00", "RUB"),
...         "year": Money("1200.00", "RUB"),
...     },
... )
>>> plan.price("month", "RUB")
Money('100.00', 'RUB')
>>> plan.price("quarter", "RUB")
Traceback (most recent call last):
...
cabinet_billing.errors.PriceNotFoundError: no price for plan 'test' for 3 months in RUB; available: 1 day RUB, 1 month RUB, 1 year RUB
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

import attrs
import moneyed

from cabinet_billing.domain.checks import check_id, text_field
from cabinet_billing.domain.limits import Limit, PlanLimits
from cabinet_billing.domain.money import Money, currency_places, sum_money, to_decimal
from cabinet_billing.domain.periods import Period
from cabinet_billing.errors import (
    ConflictError,
    InvalidAmountError,
    NotFoundError,
    PriceNotFoundError,
    ValidationError,
)

__all__ = [
    "AddOn",
    "Catalog",
    "Plan",
    "PriceLine",
    "PriceList",
    "ProductKind",
    "Quote",
]


class ProductKind(enum.Enum):
    """What a plan sells; rules such as the renewal lead time may differ per kind."""

    SERVER = "server"
    VPS = "vps"
    HOSTING = "hosting"
    DOMAIN = "domain"
    SSL = "ssl"
    SAAS = "saas"
    LICENSE = "license"
    OTHER = "other"


#: What :class:`PriceList` accepts: a mapping of period (or its text) to one price or
#: several prices in different currencies, or an iterable of ``(period, price)`` pairs.
PriceInput = (
    Mapping[Period, moneyed.Money | Iterable[moneyed.Money]]
    | Mapping[str, moneyed.Money | Iterable[moneyed.Money]]
    | Iterable[tuple[Period | str, moneyed.Money]]
)


def _as_money(value: object) -> Money:
    if not isinstance(value, moneyed.Money):
        raise InvalidAmountError(value, "a price must be a Money amount")
    price = value if isinstance(value, Money) else Money(value.amount, value.currency)
    return price.require_non_negative()


def _pairs(value: object) -> Iterator[tuple[Period | str, object]]:
    if isinstance(value, Mapping):
        for period, prices in value.items():
            if isinstance(prices, moneyed.Money | str) or not isinstance(prices, Iterable):
                yield period, prices
            else:
                for price in prices:
                    yield period, price
    elif isinstance(value, Iterable):
        for period, price in value:
            yield period, price
    else:
        raise ValidationError("prices", value, "expected a mapping of period to price")


def _to_entries(
    value: PriceInput | tuple[tuple[Period, Money], ...],
) -> tuple[tuple[Period, Money], ...]:
    entries: list[tuple[Period, Money]] = []
    seen: set[tuple[Period, str]] = set()
    for raw_period, raw_price in _pairs(value):
        period = Period.parse(raw_period)
        price = _as_money(raw_price)
        key = (period, price.code)
        if key in seen:
            raise ValidationError(
                "prices",
                f"{period} {price.code}",
                "each period and currency may have only one price",
            )
        seen.add(key)
        entries.append((period, price))
    return tuple(entries)


@attrs.frozen
class PriceList:
    """Prices per billing period and currency, in the order the provider lists them.

    Args:
        entries: a mapping ``{period: price or [prices in several currencies]}`` or
            ``(period, price)`` pairs; periods may be given as text (``"month"``).

    Raises:
        ValidationError: when a period and currency pair is given twice, or a period
            cannot be parsed.
        InvalidAmountError: for a negative price or one that is not Money.

    >>> prices = PriceList({"month": [Money("100.00", "RUB"), Money("1.00", "EUR")]})
    >>> prices.get(Period.months(), "EUR")
    Money('1.00', 'EUR')
    >>> prices.available()
    ('1 month RUB', '1 month EUR')
    """

    entries: tuple[tuple[Period, Money], ...] = attrs.field(converter=_to_entries)

    def get(self, period: Period | str, currency: str, item: str = "item") -> Money:
        """The price for ``period`` in ``currency``.

        Raises:
            PriceNotFoundError: naming the period, the currency and the available pairs.
        """
        wanted = Period.parse(period)
        for p, price in self.entries:
            if p == wanted and price.code == currency:
                return price
        raise PriceNotFoundError(item, wanted, currency, self.available())

    def available(self) -> tuple[str, ...]:
        """The priced pairs as text, e.g. ``('1 month RUB', '1 year RUB')``."""
        return tuple(f"{p} {price.code}" for p, price in self.entries)

    def periods(self, currency: str | None = None) -> tuple[Period, ...]:
        """The priced periods (in ``currency`` when given), without repeats."""
        found = [p for p, price in self.entries if currency is None or price.code == currency]
        return tuple(dict.fromkeys(found))

    def currencies(self) -> tuple[str, ...]:
        """The currency codes that have at least one price, without repeats."""
        return tuple(dict.fromkeys(price.code for _, price in self.entries))

    def __len__(self) -> int:
        return len(self.entries)


def _to_price_list(value: PriceList | PriceInput) -> PriceList:
    return value if isinstance(value, PriceList) else PriceList(value)


def _to_quantity(value: object) -> Decimal:
    try:
        return to_decimal(value)
    except InvalidAmountError as err:
        raise ValidationError("quantity", value, err.reason) from None


def _to_optional_quantity(value: object) -> Decimal | None:
    return None if value is None else _to_quantity(value)


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_id(attribute.name, value)


def _check_non_negative(
    _instance: object, attribute: attrs.Attribute[Decimal], value: Decimal
) -> None:
    if value < 0:
        raise ValidationError(attribute.name, value, "must not be negative")


def _check_positive(_instance: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if value <= 0:
        raise ValidationError(attribute.name, value, "must be greater than zero")


@attrs.frozen
class AddOn:
    """An add-on of a plan: traffic, IP addresses, a licence, power, a raised limit ...

    The customer chooses a quantity between ``minimum`` and ``maximum`` (default: the
    included quantity). The units beyond ``included`` are billed in blocks of ``block``
    units at the add-on's price per block for the period and currency; a part of a
    block counts as a whole block.

    Args:
        id: the add-on's id within its plan.
        name: what the customer sees.
        prices: price of one block per period and currency (see :class:`PriceList`).
        unit: the unit of the quantity (``"GiB"``, ``"pcs"``, ``"kWh"``).
        included: units included in the base price.
        minimum: the smallest quantity that may be chosen.
        maximum: the largest quantity that may be chosen, or ``None``.
        block: units per billed block (e.g. 1024 GiB of traffic), default 1.

    Raises:
        ValidationError: for an empty id, negative quantities, a zero block or
            ``minimum > maximum``.

    >>> ip = AddOn("ipv4", "Public IPv4", {"month": Money("150.00", "RUB")}, "pcs", included=1)
    >>> ip.charge(3, "month", "RUB")
    Money('300.00', 'RUB')
    """

    id: str = attrs.field(validator=_check_id)
    name: str
    prices: PriceList = attrs.field(converter=_to_price_list)
    unit: str = "pcs"
    included: Decimal = attrs.field(
        default=Decimal(0),
        converter=_to_quantity,
        validator=_check_non_negative,
    )
    minimum: Decimal = attrs.field(
        default=Decimal(0),
        converter=_to_quantity,
        validator=_check_non_negative,
    )
    maximum: Decimal | None = attrs.field(default=None, converter=_to_optional_quantity)
    block: Decimal = attrs.field(
        default=Decimal(1), converter=_to_quantity, validator=_check_positive
    )

    @maximum.validator
    def _check_maximum(self, _attribute: object, value: Decimal | None) -> None:
        if value is not None and value < self.minimum:
            raise ValidationError(
                "maximum",
                value,
                f"must not be below the minimum {self.minimum}",
            )

    @property
    def default_quantity(self) -> Decimal:
        """The quantity a configuration gets when it does not name this add-on."""
        return max(self.included, self.minimum)

    def check_quantity(self, quantity: object) -> Decimal:
        """Return ``quantity`` as a Decimal if it may be chosen.

        Raises:
            ValidationError: naming the quantity and the allowed range.
        """
        q = _to_quantity(quantity)
        if q < self.minimum or (self.maximum is not None and q > self.maximum):
            upper = "" if self.maximum is None else f" to {self.maximum}"
            raise ValidationError(
                f"quantity of {self.id}",
                quantity,
                f"allowed from {self.minimum}{upper} {self.unit}",
            )
        return q

    def billable_blocks(self, quantity: object) -> Decimal:
        """The number of billed blocks for ``quantity``: units beyond the included ones.

        >>> traffic = AddOn("traffic", "Traffic", {"month": Money("110.00", "RUB")}, "GiB", block=1024)
        >>> traffic.billable_blocks(5120), traffic.billable_blocks(5121)
        (Decimal('5'), Decimal('6'))
        """
        extra = self.check_quantity(quantity) - self.included
        if extra <= 0:
            return Decimal(0)
        whole, part = divmod(extra, self.block)
        return whole + (1 if part else 0)

    def charge(self, quantity: object, period: Period | str, currency: str) -> Money:
        """The price of ``quantity`` units for one period, in ``currency``.

        Raises:
            ValidationError: for a quantity outside the allowed range.
            PriceNotFoundError: when a billed add-on has no price for the period and currency.
        """
        blocks = self.billable_blocks(quantity)
        if blocks == 0:
            # A zero shown with the currency's decimals, like the priced lines next to it.
            return Money(Decimal(0).scaleb(-currency_places(currency)), currency)
        price = self.prices.get(period, currency, f"add-on {self.id!r}")
        return price * blocks


def _to_addons(value: Iterable[AddOn]) -> tuple[AddOn, ...]:
    addons = tuple(value)
    ids = [a.id for a in addons]
    for i, addon_id in enumerate(ids):
        if addon_id in ids[:i]:
            raise ValidationError("addons", addon_id, "add-on ids must be unique within a plan")
    return addons


def _to_limits(value: Iterable[Limit]) -> tuple[Limit, ...]:
    limits = tuple(value)
    PlanLimits(limits)  # validates that no metric is capped twice
    return limits


def _to_features(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value))


@attrs.frozen
class PriceLine:
    """One line of a :class:`Quote`: the base price or one add-on.

    Args:
        code: ``"base"`` or the add-on's id.
        name: what the customer sees.
        quantity: the chosen quantity (1 for the base price).
        amount: the price of the line for one period.
    """

    code: str
    name: str
    quantity: Decimal
    amount: Money


@attrs.frozen
class Quote:
    """The price of a configuration of a plan for one period and currency.

    Args:
        plan_id: the plan's id.
        period: the billing period.
        currency: the currency code.
        lines: the base price first, then one line per add-on.
    """

    plan_id: str
    period: Period
    currency: str
    lines: tuple[PriceLine, ...]

    @property
    def total(self) -> Money:
        """The sum of the lines."""
        return sum_money((line.amount for line in self.lines), self.currency)

    @property
    def base(self) -> Money:
        """The base price line's amount."""
        return self.lines[0].amount

    @property
    def configuration(self) -> Money:
        """The add-ons' part of the total ("for the configuration")."""
        return self.total - self.base

    def amounts(self) -> tuple[Money, ...]:
        """The line amounts in order, e.g. for allocation or proration."""
        return tuple(line.amount for line in self.lines)


@attrs.frozen
class Plan:
    """A tariff plan.

    Args:
        id: the plan's id.
        name: what the customer sees.
        kind: what the plan sells.
        prices: the base price per period and currency (see :class:`PriceList`).
        addons: the add-ons that can be configured.
        limits: capped metrics (e.g. products in a shop, orders a month).
        features: the plan's features, e.g. to list what other plans offer extra.

    Raises:
        ValidationError: for an empty id, a plan without prices, duplicate add-on ids
            or a metric capped twice.
    """

    id: str = attrs.field(validator=_check_id)
    name: str = attrs.field(validator=text_field())
    kind: ProductKind
    prices: PriceList = attrs.field(converter=_to_price_list)
    addons: tuple[AddOn, ...] = attrs.field(default=(), converter=_to_addons)
    limits: tuple[Limit, ...] = attrs.field(default=(), converter=_to_limits)
    features: tuple[str, ...] = attrs.field(default=(), converter=_to_features)

    @prices.validator
    def _check_prices(self, _attribute: object, value: PriceList) -> None:
        if not len(value):
            raise ValidationError("prices", self.id, "a plan needs at least one price")

    def price(self, period: Period | str, currency: str) -> Money:
        """The base price for one period in ``currency``.

        Raises:
            PriceNotFoundError: naming the period, the currency and what is available.
        """
        return self.prices.get(period, currency, f"plan {self.id!r}")

    def addon(self, addon_id: str) -> AddOn:
        """The add-on with id ``addon_id``.

        Raises:
            ValidationError: for an unknown id, naming the plan's add-ons.
        """
        for addon in self.addons:
            if addon.id == addon_id:
                return addon
        known = ", ".join(a.id for a in self.addons) or "none"
        raise ValidationError("addon", addon_id, f"plan {self.id!r} has the add-ons: {known}")

    def quote(
        self,
        period: Period | str,
        currency: str,
        quantities: Mapping[str, object] | None = None,
    ) -> Quote:
        """The price of a configuration for one period in ``currency``.

        Args:
            period: the billing period.
            currency: the currency code.
            quantities: chosen quantity per add-on id; add-ons not named get their
                default quantity (the included one).

        Raises:
            ValidationError: for an unknown add-on or a quantity outside its range.
            PriceNotFoundError: when the plan or a billed add-on has no price.

        >>> ip = AddOn("ipv4", "IPv4", {"month": Money("150.00", "RUB")}, included=1)
        >>> vps = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("495.00", "RUB")}, [ip])
        >>> q = vps.quote("month", "RUB", {"ipv4": 3})
        >>> [str(line.amount) for line in q.lines], str(q.total)
        (['495.00 RUB', '300.00 RUB'], '795.00 RUB')
        """
        chosen = dict(quantities or {})
        for addon_id in chosen:
            self.addon(addon_id)
        wanted = Period.parse(period)
        lines = [PriceLine("base", self.name, Decimal(1), self.price(wanted, currency))]
        for addon in self.addons:
            quantity = addon.check_quantity(chosen.get(addon.id, addon.default_quantity))
            amount = addon.charge(quantity, wanted, currency)
            lines.append(PriceLine(addon.id, addon.name, quantity, amount))
        return Quote(self.id, wanted, currency, tuple(lines))

    def price_list(
        self, currency: str, quantities: Mapping[str, object] | None = None
    ) -> PriceList:
        """The price of a configuration for every period the plan sells it in ``currency``.

        A period is left out when the plan has no base price for it in ``currency`` or a
        billed add-on of the configuration has none. A service keeps this list from its
        order, so that a renewal for another period is priced from the plan (SPEC X1).

        Raises:
            ValidationError: for an unknown add-on or a quantity outside its range.

        >>> ip = AddOn("ipv4", "IPv4", {"month": Money("150.00", "RUB")}, included=1)
        >>> vps = Plan("vps", "VPS", ProductKind.VPS,
        ...            {"month": Money("495.00", "RUB"), "year": Money("4950.00", "RUB")}, [ip])
        >>> vps.price_list("RUB").available(), vps.price_list("RUB", {"ipv4": 2}).available()
        (('1 month RUB', '1 year RUB'), ('1 month RUB',))
        """
        entries: list[tuple[Period, Money]] = []
        for period in self.prices.periods(currency):
            try:
                entries.append((period, self.quote(period, currency, quantities).total))
            except PriceNotFoundError:
                continue
        return PriceList(entries)

    def new_limits(self) -> PlanLimits:
        """A fresh :class:`PlanLimits` with this plan's caps and no counts yet."""
        return PlanLimits(self.limits)

    def extra_features(self, other: Plan) -> tuple[str, ...]:
        """The features of ``other`` that this plan lacks, in ``other``'s order.

        >>> basic = Plan("basic", "Basic", ProductKind.SAAS, {"month": Money("10", "EUR")}, features=["shop"])
        >>> pro = Plan("pro", "Pro", ProductKind.SAAS, {"month": Money("20", "EUR")}, features=["shop", "api"])
        >>> basic.extra_features(pro)
        ('api',)
        """
        return tuple(f for f in other.features if f not in self.features)


def _index_plans(plans: Iterable[Plan]) -> dict[str, Plan]:
    index: dict[str, Plan] = {}
    for plan in plans:
        if plan.id in index:
            raise ConflictError(f"plan {plan.id!r}", "a plan with this id already exists")
        index[plan.id] = plan
    return index


@attrs.define
class Catalog:
    """The plans a provider offers, by id.

    Args:
        plans: the plans; ids must be unique.

    Raises:
        ConflictError: when two plans share an id.
    """

    _plans: dict[str, Plan] = attrs.field(default=(), converter=_index_plans, alias="plans")

    def add(self, plan: Plan) -> None:
        """Add a plan.

        Raises:
            ConflictError: when a plan with the same id exists; the catalog is unchanged.
        """
        if plan.id in self._plans:
            raise ConflictError(f"plan {plan.id!r}", "a plan with this id already exists")
        self._plans[plan.id] = plan

    def plan(self, plan_id: str) -> Plan:
        """The plan with id ``plan_id``.

        Raises:
            NotFoundError: for an unknown id.
        """
        try:
            return self._plans[plan_id]
        except KeyError:
            raise NotFoundError("plan", plan_id) from None

    def plans(self, kind: ProductKind | None = None) -> tuple[Plan, ...]:
        """All plans (of ``kind`` when given), in the order they were added."""
        return tuple(p for p in self._plans.values() if kind is None or p.kind is kind)

    def extra_features(self, plan_id: str) -> dict[str, tuple[str, ...]]:
        """For every other plan, the features it has and plan ``plan_id`` lacks (HS).

        Plans that offer nothing extra are left out.

        Raises:
            NotFoundError: for an unknown id.
        """
        current = self.plan(plan_id)
        result: dict[str, tuple[str, ...]] = {}
        for other in self._plans.values():
            if other.id != plan_id and (extra := current.extra_features(other)):
                result[other.id] = extra
        return result

    def __contains__(self, plan_id: object) -> bool:
        return plan_id in self._plans

    def __len__(self) -> int:
        return len(self._plans)
