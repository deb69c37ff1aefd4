"""The exchange-rate port: where conversions get their rates (SPEC M4, P).

A host implements :class:`ExchangeRateProvider` over its bank's or central bank's feed;
the library ships :class:`cabinet_billing.adapters.fx.FixedRates`, a fixed table for
tests and simulations.

>>> from datetime import date
>>> from cabinet_billing.adapters.fx import FixedRates
>>> provider: ExchangeRateProvider = FixedRates({("EUR", "RUB"): "98.50"})
>>> provider.rate("RUB", "EUR", date(2024, 3, 1)).pair
'RUB/EUR'
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from cabinet_billing.domain.fx import ExchangeRate

__all__ = ["ExchangeRateProvider"]


class ExchangeRateProvider(Protocol):
    """Gives the rate in force between two currencies on a date."""

    def rate(self, base: str, quote: str, on: date) -> ExchangeRate:
        """The rate from ``base`` to ``quote`` in force on ``on``.

        An implementation may answer with the inverse of a ``quote/base`` rate it holds.

        Raises:
            ExchangeRateNotFoundError: when no rate for the pair is in force on that date;
                the error names the pair and the pairs that are known.
        """
        ...
