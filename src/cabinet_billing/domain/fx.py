"""Exchange rates, exact conversions and multi-currency amounts (SPEC M4).

An :class:`ExchangeRate` says how many units of the *quote* currency one unit of the
*base* currency buys. A :class:`RateTable` answers for the pairs it holds and for their
inverses. :func:`convert` turns an amount into another currency and returns a
:class:`Conversion` that records everything a ledger needs to book it without creating
or destroying value: the source amount, the target rounded to the target currency's minor
unit, the exact (unrounded) target, the rate used and the rounding difference.

A conversion never creates or destroys value silently: a conversion whose target
rounds to nothing (0.01 UAH in EUR) is refused with
:class:`~cabinet_billing.errors.ConversionTooSmallError`, and a ledger books the rounding
difference as an entry of its own (:meth:`cabinet_billing.Ledger.convert`).

A :class:`MoneyBag` holds one amount per currency (an account's multi-currency balance),
and :func:`equivalents` shows what a top-up in one currency is worth in the others at the
current rate, as the Introserv cabinet does, and says which currencies have no rate.

>>> from datetime import date
>>> from decimal import Decimal
>>> from cabinet_billing import Money
>>> eur_rub = ExchangeRate("EUR", "RUB", Decimal("98.50"), date(2024, 3, 1))
>>> c = convert(Money("10.00", "EUR"), "RUB", eur_rub)
>>> c.target
Money('985.00', 'RUB')
>>> back = convert(Money("100.00", "RUB"), "EUR", eur_rub.inverse())
>>> back.target, back.exact.amount.quantize(Decimal("1e-6")), back.difference.amount < 0
(Money('1.02', 'EUR'), Decimal('1.015228'), True)
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Final

import attrs
import moneyed

from cabinet_billing.domain.money import (
    Money,
    Rounding,
    currency_places,
    in_money_context,
    to_decimal,
)
from cabinet_billing.errors import (
    ConversionTooSmallError,
    CurrencyMismatchError,
    ExchangeRateNotFoundError,
    ValidationError,
)

__all__ = [
    "RATE_PRECISION",
    "Conversion",
    "Equivalents",
    "ExchangeRate",
    "MoneyBag",
    "RateLookup",
    "RateTable",
    "convert",
    "equivalents",
    "smallest_convertible",
    "source_for",
]

#: Significant digits kept when a rate must be divided (an inverse rate, or a conversion
#: through an inverse). Products of amounts and direct rates are always exact.
RATE_PRECISION: Final = 50

_DIVISION: Final = decimal.Context(
    prec=RATE_PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


_HALF_UP: Final = Rounding()


def _exact_product(a: Decimal, b: Decimal) -> Decimal:
    # A context as wide as both operands together makes the product exact.
    digits = len(a.as_tuple().digits) + len(b.as_tuple().digits)
    ctx = decimal.Context(prec=max(digits, 1), traps=[decimal.Inexact, decimal.Overflow])
    return ctx.multiply(a, b)


def _code(value: object) -> str:
    # Validates the code against ISO 4217 (UnknownCurrencyError) and normalises its case.
    if isinstance(value, moneyed.Currency):
        return str(value.code)
    if not isinstance(value, str):
        raise ValidationError("currency", value, "expected an ISO 4217 code such as 'EUR'")
    return Money.zero(value).code


def _positive_rate(value: object) -> Decimal:
    rate = to_decimal(value)
    if rate <= 0:
        raise ValidationError("rate", value, "an exchange rate must be greater than zero")
    return rate


def _inverse_of(value: object) -> Decimal | None:
    return None if value is None else _positive_rate(value)


def _check_as_of(_instance: object, _attribute: object, value: date) -> None:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValidationError(
                "as_of",
                value,
                "a datetime must be timezone-aware; pass a date or an aware datetime",
            )
    elif not isinstance(value, date):
        raise ValidationError("as_of", value, "expected a date or an aware datetime")


def _as_of_date(as_of: date) -> date:
    return as_of.date() if isinstance(as_of, datetime) else as_of


@attrs.frozen
class ExchangeRate:
    """One unit of ``base`` buys ``rate`` units of ``quote``, as of a date or instant.

    Args:
        base: the currency converted from (ISO 4217 code).
        quote: the currency converted to.
        rate: units of ``quote`` per unit of ``base``; a Decimal, int or str greater than 0.
        as_of: when the rate was published: a ``date`` or a timezone-aware ``datetime``.
        inverse_of: set by :meth:`inverse` only: the direct rate this one inverts.
            Conversions then divide by it, so their exact result is as exact as the direct
            conversion's.

    Raises:
        ValidationError: for a rate that is not greater than zero, a naive datetime, or
            the same currency on both sides.
        UnknownCurrencyError: for a code that is not ISO 4217.

    >>> from datetime import date
    >>> r = ExchangeRate("eur", "RUB", "98.50", date(2024, 3, 1))
    >>> r.base, r.quote, r.rate, r.pair
    ('EUR', 'RUB', Decimal('98.50'), 'EUR/RUB')
    >>> ExchangeRate("EUR", "RUB", "0", date(2024, 3, 1))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: rate='0' is invalid: an exchange rate must be greater than zero
    """

    base: str = attrs.field(converter=_code)
    quote: str = attrs.field(converter=_code)
    rate: Decimal = attrs.field(converter=_positive_rate)
    as_of: date = attrs.field(validator=_check_as_of)
    inverse_of: Decimal | None = attrs.field(default=None, kw_only=True, converter=_inverse_of)

    def __attrs_post_init__(self) -> None:
        if self.base == self.quote:
            raise ValidationError(
                "quote",
                self.quote,
                f"must differ from the base {self.base}: nothing to convert",
            )
        if self.inverse_of is not None and self.rate != _DIVISION.divide(1, self.inverse_of):
            raise ValidationError(
                "rate",
                self.rate,
                f"must be 1 / {self.inverse_of} (to {RATE_PRECISION} digits) for an inverse rate",
            )

    @property
    def pair(self) -> str:
        """The pair as ``'BASE/QUOTE'``."""
        return f"{self.base}/{self.quote}"

    @property
    def on(self) -> date:
        """The calendar date of :attr:`as_of` (the date itself, or the datetime's date)."""
        return _as_of_date(self.as_of)

    def inverse(self) -> ExchangeRate:
        """The rate of the opposite direction, ``1 / rate``.

        The inverse of an inverse is the original rate again, exactly.

        >>> from datetime import date
        >>> r = ExchangeRate("EUR", "USD", "1.25", date(2024, 3, 1))
        >>> r.inverse().pair, r.inverse().rate
        ('USD/EUR', Decimal('0.8'))
        >>> r.inverse().inverse() == r
        True
        """
        if self.inverse_of is not None:
            return ExchangeRate(self.quote, self.base, self.inverse_of, self.as_of)
        return ExchangeRate(
            self.quote,
            self.base,
            _DIVISION.divide(Decimal(1), self.rate),
            self.as_of,
            inverse_of=self.rate,
        )

    def apply(self, amount: Decimal) -> Decimal:
        """The exact value of ``amount`` units of base in the quote currency.

        A product with a direct rate is exact; a conversion through an inverse divides by
        the direct rate with :data:`RATE_PRECISION` significant digits, so a quotient that
        terminates (``0.015 / 3 = 0.005``) is exact and rounds correctly.
        """
        if self.inverse_of is not None:
            return _DIVISION.divide(amount, self.inverse_of)
        return _exact_product(amount, self.rate)


def _rates_tuple(rates: Iterable[ExchangeRate]) -> tuple[ExchangeRate, ...]:
    result = tuple(rates)
    seen: set[str] = set()
    for r in result:
        if not isinstance(r, ExchangeRate):
            raise ValidationError("rates", r, "expected ExchangeRate values")
        if r.pair in seen:
            raise ValidationError(
                "rates",
                r.pair,
                "each pair may appear once in a rate table; keep dated rates in a provider",
            )
        seen.add(r.pair)
    return result


@attrs.frozen
class RateTable:
    """The rates in force at one moment: direct pairs, and their inverses on demand.

    Args:
        rates: at most one :class:`ExchangeRate` per ordered pair. When both ``A/B`` and
            ``B/A`` are given, each direction uses its own rate (a buy and a sell rate).

    Raises:
        ValidationError: when a pair appears twice.

    >>> from datetime import date
    >>> table = RateTable.from_mapping({("EUR", "RUB"): "100", ("USD", "RUB"): "90"}, date(2024, 3, 1))
    >>> table.get("RUB", "EUR").rate
    Decimal('0.01')
    >>> table.get("EUR", "USD")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ExchangeRateNotFoundError: no exchange rate from EUR to USD; known pairs: EUR/RUB, USD/RUB
    """

    rates: tuple[ExchangeRate, ...] = attrs.field(converter=_rates_tuple, default=())

    @classmethod
    def from_mapping(
        cls,
        rates: Mapping[tuple[str, str], Decimal | int | str],
        as_of: date,
    ) -> RateTable:
        """Build a table from ``{(base, quote): rate}``, all published ``as_of``."""
        return cls(ExchangeRate(b, q, r, as_of) for (b, q), r in rates.items())

    @property
    def pairs(self) -> tuple[str, ...]:
        """The direct pairs held, as ``'BASE/QUOTE'``, sorted."""
        return tuple(sorted(r.pair for r in self.rates))

    def get(self, base: str, quote: str) -> ExchangeRate:
        """The rate from ``base`` to ``quote``: a direct pair, else the inverse of ``quote/base``.

        Raises:
            ExchangeRateNotFoundError: naming the pair and the pairs the table knows.
            ValidationError: when ``base`` and ``quote`` are the same currency.
        """
        b, q = _code(base), _code(quote)
        if b == q:
            raise ValidationError("quote", q, f"must differ from the base {b}: nothing to convert")
        inverse: ExchangeRate | None = None
        for r in self.rates:
            if r.base == b and r.quote == q:
                return r
            if r.base == q and r.quote == b:
                inverse = r
        if inverse is not None:
            return inverse.inverse()
        raise ExchangeRateNotFoundError(b, q, self.pairs)

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2:  # noqa: PLR2004 - a pair has two sides
            return False
        return any({r.base, r.quote} == set(pair) for r in self.rates)


@attrs.frozen
class Conversion:
    """The record of one conversion: what a ledger books as a pair of entries.

    The source amount leaves the source currency, :attr:`target` (rounded to the target's
    minor unit) arrives in the target currency, and :attr:`difference` (exact - rounded,
    in the target currency) is booked explicitly, so value is neither created nor lost.

    Attributes:
        source: the amount converted.
        target: the converted amount, rounded to the target currency's minor unit.
        exact: the converted amount before rounding.
        rate: the rate used.
    """

    source: Money
    target: Money
    exact: Money
    rate: ExchangeRate

    @property
    def difference(self) -> Money:
        """Exact minus rounded, in the target currency: what rounding kept or gave away.

        >>> from datetime import date
        >>> rate = ExchangeRate("EUR", "RUB", "98.555", date(2024, 3, 1))
        >>> convert(Money("1.00", "EUR"), "RUB", rate).difference
        Money('-0.00500', 'RUB')
        """
        return self.exact - self.target


def _conversion(source: Money, to: str, rate: ExchangeRate, rounding: Rounding) -> Conversion:
    if source.code != rate.base:
        raise CurrencyMismatchError(source.code, rate.base, f"amount to convert at {rate.pair}")
    target_code = _code(to)
    if target_code != rate.quote:
        raise CurrencyMismatchError(target_code, rate.quote, f"target of a rate {rate.pair}")
    # Computed here, not given: an exact quotient may look like a float's binary
    # fraction (1 / 33.554432 is 2**-25) and is no float.
    exact = Money._make(rate.apply(source.amount), Money.zero(target_code).currency)
    return Conversion(source=source, target=rounding.minor(exact), exact=exact, rate=rate)


@in_money_context
def smallest_convertible(
    currency: str,
    rate: ExchangeRate,
    rounding: Rounding = _HALF_UP,
) -> Money:
    """The smallest amount of ``currency`` (in its minor unit) that converts to something.

    Args:
        currency: the currency converted from, ``rate.base``.
        rate: the rate to use.
        rounding: how the target is rounded to its minor unit.

    Raises:
        CurrencyMismatchError: when ``currency`` is not the rate's base currency.

    >>> from datetime import date
    >>> smallest_convertible("UAH", ExchangeRate("UAH", "EUR", "0.0225", date(2024, 3, 1)))
    Money('0.23', 'UAH')
    """
    code = _code(currency)
    unit = Money(Decimal(1).scaleb(-currency_places(code)), code)
    value = _conversion(unit, rate.quote, rate, rounding)
    if value.target.amount:
        return unit
    # Conversion is linear: the smallest count of units reaches half the target's minor
    # unit (half-way modes) or a whole one (modes that round down).
    target_unit = Decimal(1).scaleb(-currency_places(rate.quote))
    per_unit = value.exact.amount
    half = (target_unit / 2 / per_unit).to_integral_value(decimal.ROUND_FLOOR)
    whole = (target_unit / per_unit).to_integral_value(decimal.ROUND_CEILING)
    for units in sorted({max(int(half), 1), int(half) + 1, int(whole), int(whole) + 1}):
        if _conversion(unit * units, rate.quote, rate, rounding).target.amount:
            return unit * units
    return unit * (int(whole) + 2)  # pragma: no cover - a whole unit more always converts


def convert(
    amount: moneyed.Money,
    to: str,
    rate: ExchangeRate,
    rounding: Rounding = _HALF_UP,
) -> Conversion:
    """Convert an amount at a rate, rounding only the final money.

    A conversion that would turn an amount into nothing is refused: the source would be
    gone and nothing would arrive.

    Args:
        amount: the amount to convert, in ``rate.base``.
        to: the target currency, which must be ``rate.quote``.
        rate: the rate to use.
        rounding: how the target is rounded to its minor unit.

    Returns:
        The :class:`Conversion`, with the exact value and the rounding difference.

    Raises:
        CurrencyMismatchError: when ``amount`` is not in the rate's base currency or
            ``to`` is not its quote currency.
        ConversionTooSmallError: when the amount is not zero and its target rounds to
            zero; the error names the smallest amount that converts.

    >>> from datetime import date
    >>> rate = ExchangeRate("EUR", "JPY", "161.237", date(2024, 3, 1))
    >>> c = convert(Money("10.00", "EUR"), "JPY", rate)
    >>> c.target, c.exact, c.difference
    (Money('1612', 'JPY'), Money('1612.37000', 'JPY'), Money('0.37000', 'JPY'))
    >>> convert(Money("10.00", "USD"), "JPY", rate)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.CurrencyMismatchError: amount to convert at EUR/JPY is in USD, expected EUR
    >>> convert(Money("0.01", "UAH"), "EUR", ExchangeRate("UAH", "EUR", "0.0225", date(2024, 3, 1)))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ConversionTooSmallError: invalid amount '0.01 UAH': it is 0.000225 EUR at UAH/EUR 0.0225, which rounds to 0.00 EUR; convert at least 0.23 UAH
    """
    source = Money(amount.amount, amount.currency)
    conversion = _conversion(source, to, rate, rounding)
    if source.amount and not conversion.target.amount:
        raise ConversionTooSmallError(
            source,
            conversion.exact,
            abs(conversion.target),
            f"{rate.pair} {rate.rate}",
            smallest_convertible(source.code, rate, rounding),
        )
    return conversion


@in_money_context
def source_for(
    target: moneyed.Money,
    rate: ExchangeRate,
    rounding: Rounding = _HALF_UP,
) -> Money:
    """The smallest amount of ``rate.base`` (in its minor unit) that converts to ``target`` or more.

    What a balance in another currency gives up to pay an amount (Introserv pays from a
    balance in any currency at the current rate): converting the result gives at least
    the target, and one minor unit less gives less.

    Args:
        target: the amount needed, in ``rate.quote``.
        rate: the rate to use.
        rounding: how the converted amount is rounded to its minor unit.

    Raises:
        CurrencyMismatchError: when ``target`` is not in the rate's quote currency.

    >>> from datetime import date
    >>> rate = ExchangeRate("USD", "EUR", "0.92", date(2024, 3, 1))
    >>> source_for(Money("30.00", "EUR"), rate)
    Money('32.61', 'USD')
    >>> convert(Money("32.61", "USD"), "EUR", rate).target, convert(Money("32.60", "USD"), "EUR", rate).target
    (Money('30.00', 'EUR'), Money('29.99', 'EUR'))
    """
    needed = Money(target.amount, target.currency)
    if needed.code != rate.quote:
        raise CurrencyMismatchError(needed.code, rate.quote, f"amount to get at {rate.pair}")
    places = currency_places(rate.base)
    unit = Decimal(1).scaleb(-places)
    per_unit = _conversion(Money(1, rate.base), rate.quote, rate, rounding).exact.amount
    guess = (needed.amount / per_unit).quantize(unit, rounding=decimal.ROUND_FLOOR)
    # Rounding makes the exact quotient a guess: step up from just below it.
    amount = max(guess - unit, Decimal(0))
    while _conversion(Money(amount, rate.base), rate.quote, rate, rounding).target < needed:
        amount += unit
    return Money(amount, rate.base)


#: Where :func:`equivalents` finds rates: a :class:`RateTable`, or a function giving the
#: rate from a base to a quote currency (raising ExchangeRateNotFoundError when it has
#: none), such as ``lambda base, quote: provider.rate(base, quote, today)``.
RateLookup = RateTable | Callable[[str, str], ExchangeRate]


class Equivalents(dict[str, Conversion]):
    """What :func:`equivalents` returns: a conversion per currency that has a rate.

    A ``dict`` keyed by currency code, with :attr:`missing`, the currencies asked for
    that have no rate (in the order asked).
    """

    missing: tuple[str, ...] = ()

    def __init__(self, found: Mapping[str, Conversion], missing: Iterable[str] = ()) -> None:
        super().__init__(found)
        self.missing = tuple(missing)


def equivalents(
    amount: moneyed.Money,
    currencies: Iterable[str],
    rates: RateLookup,
    rounding: Rounding = _HALF_UP,
) -> Equivalents:
    """What an amount is worth in each other currency at the current rates.

    The amount's own currency is skipped; the result is keyed by currency code in the
    order given. A currency without a rate is left out and listed in ``missing``: one
    missing rate does not hide the others. An equivalent may round to zero (it is only
    shown, nothing is converted).

    Args:
        amount: the amount, e.g. a top-up.
        currencies: the currencies to show it in.
        rates: a :class:`RateTable`, or a function ``(base, quote) -> ExchangeRate``.
        rounding: how each equivalent is rounded to its minor unit.

    >>> from datetime import date
    >>> table = RateTable.from_mapping({("EUR", "RUB"): "98.50", ("EUR", "USD"): "1.08"}, date(2024, 3, 1))
    >>> top_up = Money("50.00", "EUR")
    >>> shown = equivalents(top_up, ["EUR", "USD", "RUB", "UAH"], table)
    >>> {code: str(c.target) for code, c in shown.items()}, shown.missing
    ({'USD': '54.00 USD', 'RUB': '4925.00 RUB'}, ('UAH',))
    """
    source = Money(amount.amount, amount.currency)
    lookup = rates.get if isinstance(rates, RateTable) else rates
    found: dict[str, Conversion] = {}
    missing: list[str] = []
    for currency in currencies:
        code = _code(currency)
        if code == source.code or code in found or code in missing:
            continue
        try:
            rate = lookup(source.code, code)
        except ExchangeRateNotFoundError:
            missing.append(code)
            continue
        found[code] = _conversion(source, code, rate, rounding)
    return Equivalents(found, missing)


def _bag_items(items: Iterable[Money]) -> tuple[Money, ...]:
    totals: dict[str, Money] = {}
    for m in items:
        money = Money(m.amount, m.currency)
        totals[money.code] = totals[money.code] + money if money.code in totals else money
    return tuple(totals[code] for code in sorted(totals))


@attrs.frozen
class MoneyBag:
    """An immutable amount in several currencies: one :class:`Money` per currency.

    A currency, once used, keeps its entry even when it returns to zero (an account keeps
    one balance per currency it uses). Iteration is in currency-code order.

    >>> bag = MoneyBag.of(Money("10.00", "EUR"), Money("500.00", "RUB"))
    >>> bag = bag + Money("5.50", "EUR") - Money("100.00", "RUB")
    >>> [str(m) for m in bag]
    ['15.50 EUR', '400.00 RUB']
    >>> bag.get("USD")
    Money('0', 'USD')
    """

    items: tuple[Money, ...] = attrs.field(default=(), converter=_bag_items)

    @classmethod
    def of(cls, *amounts: moneyed.Money) -> MoneyBag:
        """A bag of the given amounts; amounts of one currency are added together."""
        return cls(Money(m.amount, m.currency) for m in amounts)

    @property
    def currencies(self) -> tuple[str, ...]:
        """The currency codes held, sorted."""
        return tuple(m.code for m in self.items)

    def get(self, currency: str) -> Money:
        """The amount in a currency, or zero in it when the bag holds none."""
        code = _code(currency)
        for m in self.items:
            if m.code == code:
                return m
        return Money.zero(code)

    def __iter__(self) -> Iterator[Money]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, currency: object) -> bool:
        return isinstance(currency, str) and currency.upper() in self.currencies

    def __add__(self, other: object) -> MoneyBag:
        if isinstance(other, moneyed.Money):
            return MoneyBag((*self.items, Money(other.amount, other.currency)))
        if isinstance(other, MoneyBag):
            return MoneyBag((*self.items, *other.items))
        return NotImplemented

    def __sub__(self, other: object) -> MoneyBag:
        if isinstance(other, moneyed.Money):
            return MoneyBag((*self.items, -Money(other.amount, other.currency)))
        if isinstance(other, MoneyBag):
            return MoneyBag((*self.items, *(-m for m in other.items)))
        return NotImplemented

    def __neg__(self) -> MoneyBag:
        return MoneyBag(-m for m in self.items)

    def is_zero(self) -> bool:
        """Whether every amount in the bag is zero (an empty bag is zero)."""
        return all(m.amount == 0 for m in self.items)
