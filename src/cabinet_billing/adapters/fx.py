"""A fixed table of exchange rates: the :class:`ExchangeRateProvider` for tests and simulations.

Rates can be dated: the rate in force on a date is the one with the latest ``as_of`` on or
before that date. Rates given without a date are in force from :attr:`FixedRates.since`.

>>> from datetime import date
>>> from cabinet_billing.domain.fx import ExchangeRate
>>> rates = FixedRates(
...     [
...         ExchangeRate("EUR", "RUB", "98.50", date(2024, 3, 1)),
...         ExchangeRate("EUR", "RUB", "99.10", date(2024, 3, 15)),
...     ]
... )
>>> rates.rate("EUR", "RUB", date(2024, 3, 14)).rate
Decimal('98.50')
>>> rates.rate("EUR", "RUB", date(2024, 3, 15)).rate
Decimal('99.10')
>>> rates.rate("EUR", "RUB", date(2024, 2, 29))
Traceback (most recent call last):
...
cabinet_billing.errors.ExchangeRateNotFoundError: no exchange rate from EUR to RUB; known pairs: EUR/RUB (from 2024-03-01)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

from cabinet_billing.domain.fx import ExchangeRate, RateTable
from cabinet_billing.errors import ExchangeRateNotFoundError, ValidationError

__all__ = ["FixedRates"]

RateMapping = Mapping[tuple[str, str], Decimal | int | str]


def _order_key(rate: ExchangeRate) -> tuple[date, bool, float]:
    # A rate with an instant is later than a bare date of the same day.
    instant = rate.as_of.timestamp() if isinstance(rate.as_of, datetime) else 0.0
    return (rate.on, isinstance(rate.as_of, datetime), instant)


class FixedRates:
    """An exchange-rate provider over a fixed, possibly dated, set of rates.

    Args:
        rates: a :class:`RateTable`, an iterable of :class:`ExchangeRate` (several per
            pair for rates that change over time), or a mapping ``{(base, quote): rate}``.
        since: the ``as_of`` given to rates that come from a mapping (default: the
            earliest representable date, so they are always in force).

    Raises:
        ValidationError: when one pair has two rates with the same ``as_of``.

    >>> from datetime import date
    >>> rates = FixedRates({("EUR", "RUB"): "100"})
    >>> rates.rate("RUB", "EUR", date(2024, 3, 1)).rate
    Decimal('0.01')
    >>> rates.table(date(2024, 3, 1)).pairs
    ('EUR/RUB',)
    """

    __slots__ = ("_by_pair", "since")

    def __init__(
        self,
        rates: RateTable | Iterable[ExchangeRate] | RateMapping,
        since: date = date.min,
    ) -> None:
        self.since = since
        if isinstance(rates, RateTable):
            items: list[ExchangeRate] = list(rates.rates)
        elif isinstance(rates, Mapping):
            items = [ExchangeRate(b, q, r, since) for (b, q), r in rates.items()]
        else:
            items = list(rates)
        by_pair: dict[str, list[ExchangeRate]] = {}
        for r in items:
            by_pair.setdefault(r.pair, []).append(r)
        for pair, history in by_pair.items():
            history.sort(key=_order_key)
            for earlier, later in itertools.pairwise(history):
                if _order_key(earlier) == _order_key(later):
                    raise ValidationError(
                        "rates",
                        f"{pair} as of {later.as_of}",
                        "a pair may have one rate per as_of date or instant",
                    )
        self._by_pair = {pair: tuple(h) for pair, h in by_pair.items()}

    def table(self, on: date) -> RateTable:
        """The :class:`RateTable` of the rates in force on ``on``."""
        in_force: list[ExchangeRate] = []
        for history in self._by_pair.values():
            current = [r for r in history if r.on <= on]
            if current:
                in_force.append(current[-1])
        return RateTable(in_force)

    def rate(self, base: str, quote: str, on: date) -> ExchangeRate:
        """The rate from ``base`` to ``quote`` in force on ``on`` (direct or inverse).

        Raises:
            ExchangeRateNotFoundError: naming the pair and every known pair with the date
                from which it is in force.
        """
        try:
            return self.table(on).get(base, quote)
        except ExchangeRateNotFoundError as exc:
            known = [
                f"{pair} (from {history[0].on.isoformat()})" if history[0].on > on else pair
                for pair, history in sorted(self._by_pair.items())
            ]
            raise ExchangeRateNotFoundError(exc.base, exc.quote, known) from None
