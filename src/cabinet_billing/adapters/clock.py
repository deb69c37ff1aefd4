"""Clocks: the system clock for hosts, and a fixed clock moved by hand for tests.

>>> from datetime import datetime, timedelta, timezone
>>> clock = FixedClock(datetime(2024, 1, 31, 23, 30, tzinfo=timezone.utc), tz="Europe/Kyiv")
>>> clock.today()
datetime.date(2024, 2, 1)
>>> clock.advance(days=1).today()
datetime.date(2024, 2, 2)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cabinet_billing.errors import ValidationError

__all__ = ["FixedClock", "SystemClock"]


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ValueError, LookupError) as exc:
        raise ValidationError("tz", tz, "expected an IANA time zone such as 'Europe/Kyiv'") from exc


class SystemClock:
    """The real time; billing days in the provider's time zone (default UTC)."""

    def __init__(self, tz: str | ZoneInfo = "UTC") -> None:
        self.tz = _zone(tz)

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(self.tz)

    def today(self) -> date:
        """Today in the provider's time zone."""
        return self.now().date()


class FixedClock:
    """A clock that stands still until moved: for tests and simulations.

    Args:
        now: the starting instant (aware).
        tz: the provider's time zone, which decides the billing day.

    Raises:
        ValidationError: for a naive datetime or an unknown time zone.
    """

    def __init__(self, now: datetime, tz: str | ZoneInfo = "UTC") -> None:
        self.tz = _zone(tz)
        self._now = self._checked(now)

    @staticmethod
    def _checked(now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValidationError("now", now, "give an aware datetime (with a time zone)")
        return now.astimezone(UTC)

    def now(self) -> datetime:
        """The clock's instant, in the provider's time zone."""
        return self._now.astimezone(self.tz)

    def today(self) -> date:
        """The clock's date in the provider's time zone."""
        return self.now().date()

    def set(self, now: datetime) -> FixedClock:
        """Move to an instant, forwards or backwards; returns the clock."""
        self._now = self._checked(now)
        return self

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> FixedClock:
        """Move forwards by a timedelta or by ``timedelta`` keyword arguments."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValidationError("delta", step, "a clock only moves forwards by advance()")
        self._now += step
        return self
