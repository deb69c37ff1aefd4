"""Billing periods and anchored period arithmetic (SPEC C2).

A :class:`Period` is a count of days or of calendar months (a quarter is 3 months, a
half-year 6, a year 12). Period *n* of a service is always computed from its **anchor**,
the day it started, as ``anchor + n * period`` with :class:`dateutil.relativedelta`,
never by adding one period to the end of the previous one. Chaining would turn a
service started on 31 January into one renewing on the 28th for ever; anchoring lets
it renew on the last day of short months and return to the 31st:

>>> from datetime import date
>>> from cabinet_billing.domain.periods import Period, period_end
>>> [period_end(date(2023, 1, 31), Period.months(), n).isoformat() for n in (1, 2, 3)]
['2023-02-28', '2023-03-31', '2023-04-30']

Calendar arithmetic is not associative: 31 January + 1 month + 1 month is 28 March,
while 31 January + 2 months is 31 March. Everything here does the second.

>>> period_end(date(2023, 5, 27), Period.parse("month")).isoformat()
'2023-06-27'

Billing days are plain :class:`datetime.date` values in the provider's time zone; no
function here reads a clock, ``today`` is always an argument.
"""

from __future__ import annotations

import enum
import re
from calendar import isleap
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

import attrs
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.errors import ValidationError

__all__ = [
    "BillingCycle",
    "DateRange",
    "Period",
    "PeriodUnit",
    "cycle_anchor",
    "day_start",
    "days_in_month",
    "days_left",
    "extend_paid_until",
    "is_cycle_boundary",
    "period_end",
    "period_index",
    "periods_between",
]


class PeriodUnit(enum.Enum):
    """The unit a :class:`Period` counts: days or calendar months.

    Quarters, half-years and years are whole numbers of months, so that they follow the
    calendar (a year from 29 February 2024 is 28 February 2025).
    """

    DAY = "day"
    MONTH = "month"


#: Months per named multi-month period, used to parse and to print periods.
MONTHS_PER_QUARTER: Final = 3
MONTHS_PER_HALF_YEAR: Final = 6
MONTHS_PER_YEAR: Final = 12
DAYS_PER_WEEK: Final = 7

# Words accepted by Period.parse, mapped to (unit, count per word).
_WORDS: Final[dict[str, tuple[PeriodUnit, int]]] = {
    "day": (PeriodUnit.DAY, 1),
    "days": (PeriodUnit.DAY, 1),
    "daily": (PeriodUnit.DAY, 1),
    "week": (PeriodUnit.DAY, DAYS_PER_WEEK),
    "weeks": (PeriodUnit.DAY, DAYS_PER_WEEK),
    "weekly": (PeriodUnit.DAY, DAYS_PER_WEEK),
    "month": (PeriodUnit.MONTH, 1),
    "months": (PeriodUnit.MONTH, 1),
    "monthly": (PeriodUnit.MONTH, 1),
    "quarter": (PeriodUnit.MONTH, MONTHS_PER_QUARTER),
    "quarters": (PeriodUnit.MONTH, MONTHS_PER_QUARTER),
    "quarterly": (PeriodUnit.MONTH, MONTHS_PER_QUARTER),
    "half-year": (PeriodUnit.MONTH, MONTHS_PER_HALF_YEAR),
    "half-years": (PeriodUnit.MONTH, MONTHS_PER_HALF_YEAR),
    "half year": (PeriodUnit.MONTH, MONTHS_PER_HALF_YEAR),
    "half years": (PeriodUnit.MONTH, MONTHS_PER_HALF_YEAR),
    "year": (PeriodUnit.MONTH, MONTHS_PER_YEAR),
    "years": (PeriodUnit.MONTH, MONTHS_PER_YEAR),
    "yearly": (PeriodUnit.MONTH, MONTHS_PER_YEAR),
    "annual": (PeriodUnit.MONTH, MONTHS_PER_YEAR),
    "annually": (PeriodUnit.MONTH, MONTHS_PER_YEAR),
}

_PARSE: Final = re.compile(r"^\s*(?:(\d+)\s*)?([a-z][a-z -]*?)\s*$")


def _is_whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_count(_instance: object, _attribute: object, value: object) -> None:
    if not _is_whole(value, 1):
        raise ValidationError("count", value, "a period is a whole number of units, at least 1")


@shared_copies
@attrs.frozen(order=False)
class Period:
    """A billing period: ``count`` days or ``count`` calendar months.

    Periods are values: equal periods are interchangeable and hashable, so they key
    price tables. ``Period.quarter() == Period.months(3)``.

    Args:
        unit: days or months.
        count: how many units, at least 1.

    Raises:
        ValidationError: for a count below 1 or a unit that is not a :class:`PeriodUnit`.

    >>> str(Period.months()), str(Period.quarter()), str(Period.days(7)), str(Period.year())
    ('1 month', '3 months', '7 days', '1 year')
    >>> Period.parse("quarter") == Period.months(3)
    True
    """

    unit: PeriodUnit = attrs.field()
    count: int = attrs.field(default=1, validator=_check_count)

    @unit.validator
    def _check_unit(self, _attribute: object, value: object) -> None:
        if not isinstance(value, PeriodUnit):
            raise ValidationError(
                "unit",
                value,
                f"expected one of {', '.join(u.value for u in PeriodUnit)}",
            )

    @classmethod
    def days(cls, n: int = 1) -> Period:
        """``n`` days.

        >>> Period.days()
        Period(unit=<PeriodUnit.DAY: 'day'>, count=1)
        """
        return cls(PeriodUnit.DAY, n)

    @classmethod
    def months(cls, n: int = 1) -> Period:
        """``n`` calendar months.

        >>> str(Period.months(2))
        '2 months'
        """
        return cls(PeriodUnit.MONTH, n)

    @classmethod
    def quarter(cls) -> Period:
        """Three calendar months."""
        return cls(PeriodUnit.MONTH, MONTHS_PER_QUARTER)

    @classmethod
    def half_year(cls) -> Period:
        """Six calendar months."""
        return cls(PeriodUnit.MONTH, MONTHS_PER_HALF_YEAR)

    @classmethod
    def year(cls) -> Period:
        """Twelve calendar months."""
        return cls(PeriodUnit.MONTH, MONTHS_PER_YEAR)

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Read a period from text such as ``'month'``, ``'1 month'``, ``'7 days'``, ``'quarter'``.

        Accepted words (case-insensitive, optionally preceded by a whole number): day(s),
        daily, week(s), weekly, month(s), monthly, quarter(s), quarterly, half-year(s),
        year(s), yearly, annual(ly). A :class:`Period` is returned unchanged.

        Raises:
            ValidationError: naming the text and the accepted words.

        >>> Period.parse("2 years") == Period.months(24)
        True
        >>> Period.parse("fortnight")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.ValidationError: period='fortnight' is invalid: expected an optional whole number and one of: annual, annually, daily, day, days, half year, half years, half-year, half-years, month, monthly, months, quarter, quarterly, quarters, week, weekly, weeks, year, yearly, years
        """
        if isinstance(text, Period):
            return text
        match = _PARSE.match(str(text).lower())
        word = re.sub(r"\s+", " ", match.group(2)) if match else ""
        if match is None or word not in _WORDS:
            raise ValidationError(
                "period",
                text,
                f"expected an optional whole number and one of: {', '.join(sorted(_WORDS))}",
            )
        unit, per_word = _WORDS[word]
        number = int(match.group(1)) if match.group(1) is not None else 1
        if number < 1:
            raise ValidationError("period", text, "the number of units must be at least 1")
        return cls(unit, number * per_word)

    def delta(self, n: int = 1) -> relativedelta:
        """The calendar offset of ``n`` such periods, for adding to an anchor date.

        >>> from datetime import date
        >>> (date(2024, 2, 29) + Period.year().delta()).isoformat()
        '2025-02-28'
        """
        if self.unit is PeriodUnit.DAY:
            return relativedelta(days=self.count * n)
        return relativedelta(months=self.count * n)

    def __str__(self) -> str:
        if self.unit is PeriodUnit.MONTH and self.count % MONTHS_PER_YEAR == 0:
            n, word = self.count // MONTHS_PER_YEAR, "year"
        else:
            n, word = self.count, self.unit.value
        return f"{n} {word}" if n == 1 else f"{n} {word}s"


_MONTH_DAYS: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""The days of each month of a common year (index 1 to 12)."""


def _shift(day: date, period: Period, n: int) -> date:
    """``day + period.delta(n)``, without building a relativedelta (the run does this a lot).

    The same calendar arithmetic: whole months are added, and the day of month is kept
    or cut to the last day of a shorter month.
    """
    if period.unit is PeriodUnit.DAY:
        return day + timedelta(days=period.count * n)
    months = day.month - 1 + period.count * n
    year, month = day.year + months // MONTHS_PER_YEAR, months % MONTHS_PER_YEAR + 1
    keep = day.day
    if keep > _SHORTEST_MONTH:  # the day may be past the end of a shorter month
        keep = min(keep, _month_length(year, month))
    return day.replace(year=year, month=month, day=keep)


_SHORTEST_MONTH: Final = 28
_FEBRUARY: Final = 2


def _month_length(year: int, month: int) -> int:
    """The days of a calendar month (``calendar.monthrange`` without the weekday)."""
    if month == _FEBRUARY and isleap(year):
        return 29
    return _MONTH_DAYS[month]


def _check_n(n: object) -> None:
    if not _is_whole(n, 0):
        raise ValidationError("n", n, "the number of periods must be a whole number >= 0")


def period_end(anchor: date, period: Period, n: int = 1) -> date:
    """The end of the ``n``-th period counted from ``anchor``: ``anchor + n * period``.

    Computed from the anchor in one step, so the day of month comes back to the
    anchor's day whenever the month has it. ``n = 0`` gives the anchor itself.

    Args:
        anchor: the first day of the first period (the day the service started).
        period: the billing period.
        n: how many periods, at least 0.

    Raises:
        ValidationError: for a negative ``n``.

    >>> from datetime import date
    >>> period_end(date(2024, 1, 31), Period.months(), 1).isoformat()
    '2024-02-29'
    >>> period_end(date(2024, 1, 31), Period.months(), 2).isoformat()
    '2024-03-31'
    >>> period_end(date(2023, 5, 27), Period.days(), 3).isoformat()
    '2023-05-30'
    """
    _check_n(n)
    return _shift(anchor, period, n)


def cycle_anchor(start: date, until: date, period: Period) -> date:
    """The anchor of the billing cycle whose first paid range is ``[start, until)``.

    A first range of whole periods starts the cycle, so the anchor is ``start`` itself:
    every later period ``n`` then ends at ``start + n * period`` and a service started on
    the 31st keeps coming back to the 31st. A shorter first range (an order prorated up
    to an alignment day) ends on a boundary of the cycle; the anchor is then the start
    of the full period ending there, ``until - period``. That is exact for alignment days
    up to the 28th; a rule aligning to a later day knows its anchor better and should
    say so (:attr:`cabinet_billing.rules.proration.ProratedPrice.anchor` does).

    Args:
        start: the first day paid.
        until: the first day no longer paid; after ``start``.
        period: the billing period.

    Raises:
        ValidationError: when ``until`` is not after ``start``.

    >>> from datetime import date
    >>> cycle_anchor(date(2024, 1, 31), date(2024, 2, 29), Period.months()).isoformat()
    '2024-01-31'
    >>> cycle_anchor(date(2023, 5, 2), date(2023, 6, 1), Period.months()).isoformat()
    '2023-05-01'
    """
    if not until > start:
        raise ValidationError("until", until, f"must be after the start {start.isoformat()}")
    if BillingCycle(start, period).is_boundary(until):
        return start
    result: date = until - period.delta()
    return result


def period_index(anchor: date, period: Period, day: date) -> int:
    """The index ``k`` of the period holding ``day``: ``end(k) <= day < end(k + 1)``.

    Days before the anchor give negative indices (``-1`` for the period before it).

    >>> from datetime import date
    >>> m = Period.months()
    >>> period_index(date(2023, 1, 31), m, date(2023, 2, 27)), period_index(date(2023, 1, 31), m, date(2023, 2, 28))
    (0, 1)
    """
    return _locate(anchor, period, day)[0]


def _locate(anchor: date, period: Period, day: date) -> tuple[int, date]:
    """:func:`period_index` of ``day`` and the start of that period, found together."""
    if period.unit is PeriodUnit.DAY:
        k = (day - anchor).days // period.count
        return k, _shift(anchor, period, k)
    months = (day.year - anchor.year) * MONTHS_PER_YEAR + (day.month - anchor.month)
    k = months // period.count
    # The month estimate is off by at most one because of the day of month.
    start = _shift(anchor, period, k)
    while start > day:
        k -= 1
        start = _shift(anchor, period, k)
    following = _shift(anchor, period, k + 1)
    while following <= day:
        k, start = k + 1, following
        following = _shift(anchor, period, k + 1)
    return k, start


def periods_between(start: date, end: date, period: Period) -> int:
    """How many whole periods, counted from ``start``, fit before or at ``end``.

    Raises:
        ValidationError: when ``end`` is before ``start``.

    >>> from datetime import date
    >>> periods_between(date(2023, 1, 31), date(2024, 1, 30), Period.months())
    11
    >>> periods_between(date(2023, 1, 31), date(2024, 1, 31), Period.months())
    12
    """
    if end < start:
        raise ValidationError("end", end, f"must not be before the start {start.isoformat()}")
    return period_index(start, period, end)


def days_left(paid_until: date, today: date) -> int:
    """Whole days from ``today`` until ``paid_until``; 0 once it has passed.

    >>> from datetime import date
    >>> days_left(date(2023, 6, 27), date(2023, 6, 20)), days_left(date(2023, 6, 27), date(2023, 7, 1))
    (7, 0)
    """
    return max((paid_until - today).days, 0)


def days_in_month(day: date) -> int:
    """The number of days in the calendar month of ``day``.

    >>> from datetime import date
    >>> days_in_month(date(2024, 2, 10)), days_in_month(date(2023, 5, 2))
    (29, 31)
    """
    return _month_length(day.year, day.month)


def _to_period(value: str | Period) -> Period:
    return Period.parse(value)


@shared_copies
@attrs.frozen
class DateRange:
    """A half-open range of billing days ``[start, end)``.

    Args:
        start: the first day in the range.
        end: the first day after the range; not before ``start``.

    Raises:
        ValidationError: when ``end`` is before ``start``.

    >>> from datetime import date
    >>> r = DateRange(date(2023, 5, 2), date(2023, 6, 1))
    >>> r.days, date(2023, 5, 31) in r, date(2023, 6, 1) in r
    (30, True, False)
    """

    start: date
    end: date = attrs.field()

    @end.validator
    def _check_end(self, _attribute: object, value: date) -> None:
        if value < self.start:
            raise ValidationError(
                "end",
                value,
                f"must not be before the start {self.start.isoformat()}",
            )

    @property
    def days(self) -> int:
        """The number of days in the range."""
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        """The last day inside the range (the day before ``end``)."""
        return self.end - timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@attrs.frozen
class BillingCycle:
    """An anchor day and a period: the schedule of a service's billing periods.

    Boundary ``n`` is ``anchor + n * period``; period ``n`` is ``[boundary(n),
    boundary(n + 1))``. Boundaries are always computed from the anchor.

    Args:
        anchor: the first day of period 0.
        period: the billing period (a :class:`Period` or text for :meth:`Period.parse`).

    >>> from datetime import date
    >>> cycle = BillingCycle(date(2023, 1, 31), Period.months())
    >>> [str(r) for r in cycle.intervals(3)]
    ['[2023-01-31, 2023-02-28)', '[2023-02-28, 2023-03-31)', '[2023-03-31, 2023-04-30)']
    >>> cycle.extend(date(2023, 2, 28)).isoformat()
    '2023-03-31'
    """

    anchor: date
    period: Period = attrs.field(converter=_to_period)

    def boundary(self, n: int) -> date:
        """The start of period ``n`` (and end of period ``n - 1``).

        Raises:
            ValidationError: for a negative ``n``.
        """
        return period_end(self.anchor, self.period, n)

    def interval(self, n: int) -> DateRange:
        """Period ``n`` as a half-open date range."""
        return DateRange(self.boundary(n), self.boundary(n + 1))

    def boundaries(self, start: int = 0) -> Iterator[date]:
        """Boundaries ``start``, ``start + 1``, ... without end."""
        n = start
        while True:
            yield self.boundary(n)
            n += 1

    def intervals(self, count: int, start: int = 0) -> Iterator[DateRange]:
        """``count`` successive periods beginning with period ``start``."""
        for n in range(start, start + count):
            yield self.interval(n)

    def index_of(self, day: date) -> int:
        """The index of the period holding ``day`` (negative before the anchor)."""
        return period_index(self.anchor, self.period, day)

    def interval_at(self, day: date) -> DateRange:
        """The period holding ``day``.

        Raises:
            ValidationError: when ``day`` is before the anchor.
        """
        if day < self.anchor:
            raise ValidationError("day", day, f"must not be before the anchor {self.anchor}")
        return self.interval(self.index_of(day))

    def next_boundary(self, day: date) -> date:
        """The first boundary strictly after ``day``."""
        return self.boundary(max(self.index_of(day) + 1, 0))

    def is_boundary(self, day: date) -> bool:
        """Whether ``day`` starts a period of this cycle."""
        return is_cycle_boundary(self.anchor, self.period, day)

    def extend(self, paid_until: date, n: int = 1) -> date:
        """The new paid-until date after renewing ``n`` periods from ``paid_until``.

        When ``paid_until`` is a boundary of the cycle (the normal case), the result is
        boundary ``k + n``, so a service started on the 31st returns to the 31st after a
        short month. A ``paid_until`` off the cycle (e.g. after a suspension moved it) is
        extended from itself: ``paid_until + n * period``.

        Raises:
            ValidationError: for a negative ``n``.

        >>> from datetime import date
        >>> BillingCycle(date(2023, 4, 27), "month").extend(date(2023, 5, 27)).isoformat()
        '2023-06-27'
        """
        return extend_paid_until(self.anchor, self.period, paid_until, n)


def is_cycle_boundary(anchor: date, period: Period, day: date) -> bool:
    """:meth:`BillingCycle.is_boundary` of the cycle of ``anchor`` and ``period``.

    >>> from datetime import date
    >>> is_cycle_boundary(date(2023, 1, 31), Period.months(), date(2023, 2, 28))
    True
    """
    k, start = _locate(anchor, period, day)
    return k >= 0 and start == day


def extend_paid_until(anchor: date, period: Period, paid_until: date, n: int = 1) -> date:
    """:meth:`BillingCycle.extend` of the cycle of ``anchor`` and ``period``.

    The same date, without making the cycle first (a renewal asks for it more than once).

    Raises:
        ValidationError: for a negative ``n``.

    >>> from datetime import date
    >>> extend_paid_until(date(2023, 1, 31), Period.months(), date(2023, 2, 28)).isoformat()
    '2023-03-31'
    """
    _check_n(n)
    k, start = _locate(anchor, period, paid_until)
    if k >= 0 and start == paid_until:  # on the cycle: step from its boundary
        return _shift(anchor, period, k + n)
    return _shift(paid_until, period, n)


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first instant of a day in a time zone.

    An instant falls on or after ``day`` in ``tz`` exactly when it is not before this
    one, so the days ``[start, end)`` of a statement are the instants
    ``[day_start(start), day_start(end))``: a store can read them by range.

    >>> from datetime import timezone, timedelta
    >>> day_start(date(2024, 3, 1), timezone(timedelta(hours=3))).isoformat()
    '2024-03-01T00:00:00+03:00'
    """
    return datetime.combine(day, time(), tzinfo=tz)
