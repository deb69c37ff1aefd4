"""Taxes: tax-inclusive and tax-exclusive prices, per-country rates, invoice breakdowns (SPEC M3).

A price is either *inclusive* (the customer pays the price; the tax is the part of it that
goes to the state) or *exclusive* (the tax is added on top). Astra Cloud's examples:

>>> from cabinet_billing import Money, TaxMode, TaxRate
>>> from cabinet_billing.domain.tax import tax_amounts
>>> vat = TaxRate("20")
>>> [str(tax_amounts(Money(p, "RUB"), vat, TaxMode.INCLUSIVE).tax) for p in ("20.00", "100.00", "250.00")]
['3.33 RUB', '16.67 RUB', '41.67 RUB']
>>> line = tax_amounts(Money("638.71", "RUB"), TaxRate("10"), TaxMode.EXCLUSIVE)
>>> str(line.net), str(line.tax), str(line.gross)
('638.71 RUB', '63.87 RUB', '702.58 RUB')

An invoice shows net, tax and gross per line and in total; :func:`tax_breakdown` rounds
the lines so that they agree with the totals to the cent (see :mod:`allocation`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs
import moneyed

from cabinet_billing.domain.allocation import round_lines
from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.domain.money import (
    HALF_UP,
    MONEY_CONTEXT,
    Money,
    Rounding,
    currency_places,
    in_money_context,
    scaled,
    sum_money,
    to_decimal,
)
from cabinet_billing.errors import CurrencyMismatchError, NotFoundError, ValidationError

__all__ = [
    "TaxAmounts",
    "TaxBreakdown",
    "TaxMode",
    "TaxPolicy",
    "TaxRate",
    "tax_amounts",
    "tax_breakdown",
]

_HUNDRED = Decimal(100)


class TaxMode(enum.Enum):
    """Whether prices include the tax or have it added on top."""

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"


def _percent(value: object) -> Decimal:
    percent = to_decimal(value)
    if not Decimal(0) <= percent < Decimal(1000):
        raise ValidationError("percent", value, "a tax rate is a percentage from 0 up to 1000")
    return percent


@shared_copies
@attrs.frozen
class TaxRate:
    """A tax rate in percent, e.g. ``TaxRate("20", "VAT")`` for 20% VAT.

    Args:
        percent: the rate in percent (``"20"`` means 20%), 0 or more.
        name: how the tax is called on documents.
    """

    percent: Decimal = attrs.field(converter=_percent)
    name: str = "VAT"

    @in_money_context
    def included_in(self, gross: moneyed.Money) -> Money:
        """The exact (unrounded) tax contained in a tax-inclusive amount.

        >>> TaxRate("20").included_in(Money("120", "EUR"))
        Money('20', 'EUR')
        """
        return Money(gross.amount, gross.currency) * self.percent / (_HUNDRED + self.percent)

    @in_money_context
    def added_to(self, net: moneyed.Money) -> Money:
        """The exact (unrounded) tax on a tax-exclusive amount.

        >>> TaxRate("10").added_to(Money("638.71", "RUB"))
        Money('63.871', 'RUB')
        """
        return Money(net.amount, net.currency) * self.percent / _HUNDRED

    def exact_tax(self, amount: Decimal, mode: TaxMode) -> Decimal:
        """:meth:`included_in` or :meth:`added_to` (by ``mode``) of a bare amount.

        >>> TaxRate("20").exact_tax(Decimal("120"), TaxMode.INCLUSIVE)
        Decimal('20')
        """
        if mode is TaxMode.INCLUSIVE:
            return scaled(amount, self.percent, MONEY_CONTEXT.add(_HUNDRED, self.percent))
        return scaled(amount, self.percent, _HUNDRED)

    def __str__(self) -> str:
        return f"{self.name} {self.percent.normalize():f}%"


@shared_copies
@attrs.frozen
class TaxAmounts:
    """Net, tax and gross of one line or of a total; ``net + tax == gross`` always.

    Raises:
        ValidationError: when the three amounts do not add up.
        CurrencyMismatchError: when they are in different currencies.
    """

    net: Money
    tax: Money
    gross: Money

    def __attrs_post_init__(self) -> None:
        if self.net + self.tax != self.gross:
            raise ValidationError(
                "gross",
                str(self.gross),
                f"must equal net {self.net} + tax {self.tax}",
            )


def tax_amounts(
    amount: moneyed.Money,
    rate: TaxRate,
    mode: TaxMode,
    rounding: Rounding = HALF_UP,
) -> TaxAmounts:
    """Net, tax and gross of one amount, each rounded to the currency's minor unit.

    Args:
        amount: the price: gross when ``mode`` is inclusive, net when exclusive.
        rate: the tax rate.
        mode: whether ``amount`` includes the tax.
        rounding: the rounding mode.
    """
    if mode is TaxMode.INCLUSIVE:
        gross = rounding.minor(amount)
        tax = rounding.minor(rate.included_in(gross))
        return TaxAmounts(net=gross - tax, tax=tax, gross=gross)
    net = rounding.minor(amount)
    tax = rounding.minor(rate.added_to(net))
    return TaxAmounts(net=net, tax=tax, gross=net + tax)


@attrs.frozen
class TaxBreakdown:
    """Net, tax and gross per line, per rate and in total, consistent to the cent.

    Attributes:
        lines: one :class:`TaxAmounts` per input amount, in order.
        by_rate: the totals of each distinct rate, in order of first appearance.
        total: the totals of the whole document.
    """

    lines: tuple[TaxAmounts, ...]
    by_rate: tuple[tuple[TaxRate, TaxAmounts], ...]
    total: TaxAmounts


def tax_breakdown(
    amounts: Sequence[moneyed.Money],
    rates: TaxRate | Sequence[TaxRate],
    mode: TaxMode,
    rounding: Rounding = HALF_UP,
) -> TaxBreakdown:
    """Break lines of exact amounts (e.g. 4-decimal expenses) into net, tax and gross.

    The amounts as given (gross if inclusive, net if exclusive) are rounded with
    :func:`round_lines` so that the lines sum to the rounded exact total. Each rate's tax
    total is the rounded sum of its lines' exact taxes, and is spread over those lines
    the same way. The remaining column is the difference, so every line satisfies
    ``net + tax == gross``.

    Args:
        amounts: the line amounts, one currency, at least one.
        rates: one rate for all lines, or one rate per line.
        mode: whether the amounts include the tax.
        rounding: the rounding mode.

    Raises:
        ValidationError: when there are no lines or the number of rates does not match.
        CurrencyMismatchError: when the lines are in different currencies.

    >>> from cabinet_billing import Money, TaxMode, TaxRate
    >>> expenses = [Money(a, "RUB") for a in ("22.4137", "34.4827", "22.4137", "21.3464")]
    >>> result = tax_breakdown(expenses, TaxRate("20"), TaxMode.INCLUSIVE)
    >>> [str(line.tax) for line in result.lines], str(result.total.tax)
    (['3.74 RUB', '5.75 RUB', '3.73 RUB', '3.56 RUB'], '16.78 RUB')
    """
    if len(amounts) == 1 and isinstance(rates, TaxRate):
        # The most common invoice, a renewal, has one line: its rate's total and the
        # document's. Worked out on the bare amount, in the money context.
        return _one_line(amounts[0], rates, mode, rounding)
    return _breakdown(amounts, rates, mode, rounding)


def _rounded(amount: Decimal, places: int, rounding: Rounding) -> Decimal:
    """A line rounded as :func:`round_lines` rounds the only line it is given."""
    units = int(rounding.decimal(amount, places).scaleb(places, MONEY_CONTEXT))
    return Decimal(units).scaleb(-places, MONEY_CONTEXT)


def _one_line(
    amount: moneyed.Money, rate: TaxRate, mode: TaxMode, rounding: Rounding
) -> TaxBreakdown:
    currency, exact = amount.currency, amount.amount
    places = currency_places(currency)
    given = _rounded(exact, places, rounding)
    tax = _rounded(rate.exact_tax(exact, mode), places, rounding)
    if mode is TaxMode.INCLUSIVE:
        net, gross = MONEY_CONTEXT.subtract(given, tax), given
    else:
        net, gross = given, MONEY_CONTEXT.add(given, tax)
    make = Money._make  # amounts of a known currency, checked for size only
    line = TaxAmounts(net=make(net, currency), tax=make(tax, currency), gross=make(gross, currency))
    return TaxBreakdown(lines=(line,), by_rate=((rate, line),), total=line)


@in_money_context
def _breakdown(
    amounts: Sequence[moneyed.Money],
    rates: TaxRate | Sequence[TaxRate],
    mode: TaxMode,
    rounding: Rounding,
) -> TaxBreakdown:
    if not amounts:
        raise ValidationError("amounts", [], "a breakdown needs at least one line")
    per_line = [rates] * len(amounts) if isinstance(rates, TaxRate) else list(rates)
    if len(per_line) != len(amounts):
        raise ValidationError(
            "rates",
            len(per_line),
            f"give one rate, or one per line ({len(amounts)})",
        )
    currency = amounts[0].currency
    for m in amounts:
        if m.currency != currency:
            raise CurrencyMismatchError(m.currency.code, currency.code)
    given = round_lines(amounts, rounding)
    taxes: list[Money | None] = [None] * len(amounts)
    distinct: list[TaxRate] = list(dict.fromkeys(per_line))
    for rate in distinct:
        idx = [i for i, r in enumerate(per_line) if r == rate]
        exact = [
            rate.included_in(amounts[i]) if mode is TaxMode.INCLUSIVE else rate.added_to(amounts[i])
            for i in idx
        ]
        for i, tax in zip(idx, round_lines(exact, rounding), strict=True):
            taxes[i] = tax
    lines = tuple(
        TaxAmounts(net=g - t, tax=t, gross=g)
        if mode is TaxMode.INCLUSIVE
        else TaxAmounts(net=g, tax=t, gross=g + t)
        for g, t in zip(given, (t for t in taxes if t is not None), strict=True)
    )
    if len(lines) == 1:
        # One line is its rate's total and the document's: a sum of one amount is that
        # amount (the most common invoice, a renewal, has one line).
        return TaxBreakdown(lines=lines, by_rate=((distinct[0], lines[0]),), total=lines[0])
    by_rate = tuple(
        (rate, _total([ln for ln, r in zip(lines, per_line, strict=True) if r == rate]))
        for rate in distinct
    )
    return TaxBreakdown(lines=lines, by_rate=by_rate, total=_total(lines))


def _total(lines: Sequence[TaxAmounts]) -> TaxAmounts:
    code = lines[0].net.code
    return TaxAmounts(
        net=sum_money((ln.net for ln in lines), code),
        tax=sum_money((ln.tax for ln in lines), code),
        gross=sum_money((ln.gross for ln in lines), code),
    )


def _rate_map(rates: Mapping[str, TaxRate]) -> dict[str, TaxRate]:
    return {country.upper(): rate for country, rate in rates.items()}


def _check_rates(_instance: object, _attribute: object, value: Mapping[str, TaxRate]) -> None:
    for country in value:
        if len(country) != 2 or not country.isalpha() or not country.isupper():  # noqa: PLR2004
            raise ValidationError("country", country, "use an ISO 3166 alpha-2 code such as 'RU'")


@attrs.frozen
class TaxPolicy:
    """How a provider taxes: inclusive or exclusive prices and a rate per country.

    Args:
        mode: whether catalogue prices include the tax.
        rates: the rate of each country (ISO 3166 alpha-2 code).
        default: the rate for countries not listed, or ``None`` to refuse them.

    >>> policy = TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20", "НДС")})
    >>> str(policy.rate_for("RU"))
    'НДС 20%'
    >>> policy.rate_for("DE")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.NotFoundError: no tax rate for country with id 'DE'
    """

    mode: TaxMode
    rates: Mapping[str, TaxRate] = attrs.field(
        factory=dict,
        converter=_rate_map,
        validator=_check_rates,
    )
    default: TaxRate | None = None

    def rate_for(self, country: str) -> TaxRate:
        """The rate that applies to customers in ``country``.

        Raises:
            NotFoundError: when the country has no rate and there is no default.
        """
        rate = self.rates.get(country.upper(), self.default)
        if rate is None:
            raise NotFoundError("tax rate for country", country)
        return rate

    def amounts(
        self, amount: moneyed.Money, country: str, rounding: Rounding = HALF_UP
    ) -> TaxAmounts:
        """Net, tax and gross of one price for a customer in ``country``."""
        return tax_amounts(amount, self.rate_for(country), self.mode, rounding)

    def breakdown(
        self,
        amounts: Sequence[moneyed.Money],
        country: str,
        rounding: Rounding = HALF_UP,
    ) -> TaxBreakdown:
        """The invoice breakdown of lines for a customer in ``country``."""
        return tax_breakdown(amounts, self.rate_for(country), self.mode, rounding)
