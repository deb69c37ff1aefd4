"""The clock port: where "now" comes from.

The domain and the rules never read a clock; use cases read this port once per call and
pass the time down. A host plugs in the system clock; tests and simulations plug in a
clock they move by hand (:class:`cabinet_billing.adapters.clock.FixedClock`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """Tells the current instant and the current billing day."""

    def now(self) -> datetime:
        """The current instant, an aware datetime."""
        ...

    def today(self) -> date:
        """The current date in the provider's time zone (the billing day)."""
        ...
