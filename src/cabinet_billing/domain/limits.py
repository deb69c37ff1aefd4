"""Plan limits: capped metrics with a counted value (SPEC C7).

A plan may cap metrics such as the number of products in a shop or the number of orders
this month. The cabinet shows each metric's current count next to its maximum; the counts
are refreshed periodically (Horoshop refreshes them once a day), so every count carries
the day it was taken (``as_of``). A metric whose maximum is ``None`` is unlimited.

>>> from datetime import date
>>> from cabinet_billing.domain.limits import Limit, PlanLimits
>>> limits = PlanLimits([Limit("products", 1000), Limit("orders", 300, monthly=True)])
>>> limits.refresh("products", 998, as_of=date(2024, 3, 5))
>>> limits.would_exceed("products", adding=2), limits.would_exceed("products", adding=3)
(False, True)
>>> limits.ensure_within("products", adding=3)
Traceback (most recent call last):
...
cabinet_billing.errors.LimitExceededError: products: 998 + 3 would exceed the plan limit of 1000 (at most 2 more allowed)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date

import attrs

from cabinet_billing.errors import LimitExceededError, ValidationError

__all__ = ["Limit", "LimitStatus", "MetricCount", "PlanLimits"]


def _require_metric(value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("metric", value, "a metric is named by a non-empty string")


def _check_metric(_instance: object, _attribute: object, value: str) -> None:
    _require_metric(value)


def _check_count(field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(field, value, "expected a whole number >= 0")


def _check_maximum(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None:
        _check_count("maximum", value)


def _check_current(_instance: object, _attribute: object, value: int) -> None:
    _check_count("current", value)


@attrs.frozen
class Limit:
    """A cap on one metric of a plan.

    Args:
        metric: the metric's name, e.g. ``"products"`` or ``"orders"``.
        maximum: the largest allowed count, or ``None`` for unlimited.
        monthly: whether the count restarts every calendar month (orders this month).

    Raises:
        ValidationError: for an empty metric name or a negative maximum.

    >>> Limit("products", None).unlimited
    True
    """

    metric: str = attrs.field(validator=_check_metric)
    maximum: int | None = attrs.field(default=None, validator=_check_maximum)
    monthly: bool = False

    @property
    def unlimited(self) -> bool:
        """Whether the metric has no cap."""
        return self.maximum is None

    def __str__(self) -> str:
        cap = "unlimited" if self.maximum is None else str(self.maximum)
        return f"{self.metric}: {cap}{' per month' if self.monthly else ''}"


@attrs.frozen
class MetricCount:
    """The counted value of a metric on a day.

    Args:
        metric: the metric's name.
        current: the count, at least 0.
        as_of: the day the count was taken.
    """

    metric: str = attrs.field(validator=_check_metric)
    current: int = attrs.field(validator=_check_current)
    as_of: date


@attrs.frozen
class LimitStatus:
    """What the cabinet shows for one metric: the count, the cap and the room left.

    >>> from datetime import date
    >>> s = LimitStatus(Limit("products", 1000), 998, date(2024, 3, 5))
    >>> s.remaining, s.would_exceed(3), str(s)
    (2, True, 'products: 998 of 1000 (as of 2024-03-05)')
    """

    limit: Limit
    current: int = attrs.field(validator=_check_current)
    as_of: date | None = None

    @property
    def metric(self) -> str:
        """The metric's name."""
        return self.limit.metric

    @property
    def maximum(self) -> int | None:
        """The cap, or ``None`` for unlimited."""
        return self.limit.maximum

    @property
    def remaining(self) -> int | None:
        """How many more fit under the cap (never negative); ``None`` when unlimited."""
        if self.limit.maximum is None:
            return None
        return max(self.limit.maximum - self.current, 0)

    @property
    def exceeded(self) -> bool:
        """Whether the count is already above the cap (e.g. after a downgrade)."""
        return self.limit.maximum is not None and self.current > self.limit.maximum

    def stale(self, today: date, max_age_days: int = 1) -> bool:
        """Whether the count is older than ``max_age_days`` days (or was never taken).

        Counts are refreshed daily: with the default, a count taken today or yesterday is
        fresh, and one from the day before yesterday means a refresh was missed.

        >>> s = LimitStatus(Limit("products", 1000), 998, date(2024, 3, 5))
        >>> s.stale(date(2024, 3, 6)), s.stale(date(2024, 3, 7))
        (False, True)
        """
        return self.as_of is None or (today - self.as_of).days > max_age_days

    def would_exceed(self, adding: int = 1) -> bool:
        """Whether adding ``adding`` would take the count past the cap.

        Raises:
            ValidationError: for a negative ``adding``.
        """
        _check_count("adding", adding)
        return self.limit.maximum is not None and self.current + adding > self.limit.maximum

    def ensure_within(self, adding: int = 1) -> None:
        """Refuse an action that would take the count past the cap.

        Raises:
            LimitExceededError: naming the metric, the count, the addition and the cap.
            ValidationError: for a negative ``adding``.
        """
        if self.would_exceed(adding):
            assert self.limit.maximum is not None  # noqa: S101 - would_exceed checked it
            raise LimitExceededError(self.metric, self.current, adding, self.limit.maximum)

    def __str__(self) -> str:
        cap = "unlimited" if self.limit.maximum is None else str(self.limit.maximum)
        when = f" (as of {self.as_of.isoformat()})" if self.as_of is not None else ""
        return f"{self.metric}: {self.current} of {cap}{when}"


def _to_limits(limits: Iterable[Limit] | Mapping[str, Limit]) -> dict[str, Limit]:
    result: dict[str, Limit] = {}
    for limit in limits.values() if isinstance(limits, Mapping) else limits:
        if limit.metric in result:
            raise ValidationError("metric", limit.metric, "each metric may be capped only once")
        result[limit.metric] = limit
    return result


@attrs.define
class PlanLimits:
    """The capped metrics of one subscription, with their latest counts.

    Counts come from the host (e.g. a daily job counting products and orders) through
    :meth:`refresh`; between refreshes, :meth:`record` adds what the cabinet itself
    created, so that two additions on one day cannot both slip under the cap. A monthly
    metric counted in an earlier month counts as 0.

    Args:
        limits: one :class:`Limit` per metric.
        counts: the latest count of each metric (for loading stored limits).

    Raises:
        ValidationError: when a metric is capped twice, or a count is of a metric the
            limits do not cap.
    """

    limits: dict[str, Limit] = attrs.field(converter=_to_limits)
    counts: dict[str, MetricCount] = attrs.field(factory=dict, converter=dict)

    def __attrs_post_init__(self) -> None:
        for metric, count in self.counts.items():
            self.limit(metric)
            if count.metric != metric:
                raise ValidationError("counts", metric, "expected the MetricCount of that metric")

    def limit(self, metric: str) -> Limit:
        """The limit of ``metric``.

        Raises:
            ValidationError: for a metric the plan does not cap, naming the capped ones.
        """
        try:
            return self.limits[metric]
        except KeyError:
            raise ValidationError(
                "metric",
                metric,
                f"not capped by this plan; capped metrics: {', '.join(self.limits) or 'none'}",
            ) from None

    def refresh(self, metric: str, current: int, as_of: date) -> None:
        """Store a fresh count of ``metric`` taken on ``as_of``.

        A count older than the stored one is refused, so that a late job cannot roll
        the count back.

        Raises:
            ValidationError: for an unknown metric, a negative count or an older ``as_of``.
        """
        self.limit(metric)
        stored = self.counts.get(metric)
        if stored is not None and as_of < stored.as_of:
            raise ValidationError(
                "as_of",
                as_of,
                f"older than the stored count of {metric} taken on {stored.as_of.isoformat()}",
            )
        self.counts[metric] = MetricCount(metric, current, as_of)

    def status(self, metric: str, today: date | None = None) -> LimitStatus:
        """The count, cap and room left of ``metric``.

        Args:
            metric: the metric's name.
            today: when given, a monthly metric counted in an earlier month shows 0.

        Raises:
            ValidationError: for a metric the plan does not cap.
        """
        limit = self.limit(metric)
        stored = self.counts.get(metric)
        if stored is None:
            return LimitStatus(limit, 0, None)
        if (
            limit.monthly
            and today is not None
            and (today.year, today.month) != (stored.as_of.year, stored.as_of.month)
        ):
            return LimitStatus(limit, 0, today)
        return LimitStatus(limit, stored.current, stored.as_of)

    def statuses(self, today: date | None = None) -> Iterator[LimitStatus]:
        """The status of every capped metric, in the order the limits were given."""
        for metric in self.limits:
            yield self.status(metric, today)

    def would_exceed(self, metric: str, adding: int = 1, today: date | None = None) -> bool:
        """Whether adding ``adding`` to ``metric`` would take it past the cap.

        Raises:
            ValidationError: for an unknown metric or a negative ``adding``.
        """
        return self.status(metric, today).would_exceed(adding)

    def ensure_within(self, metric: str, adding: int = 1, today: date | None = None) -> None:
        """Refuse an action that would take ``metric`` past its cap.

        Raises:
            LimitExceededError: naming the metric, the count, the addition and the cap.
            ValidationError: for an unknown metric or a negative ``adding``.
        """
        self.status(metric, today).ensure_within(adding)

    def record(self, metric: str, adding: int, today: date) -> None:
        """Count ``adding`` more of ``metric`` after checking the cap.

        Raises:
            LimitExceededError: when the cap would be exceeded; nothing is counted then.
            ValidationError: for an unknown metric or a negative ``adding``.
        """
        status = self.status(metric, today)
        status.ensure_within(adding)
        as_of = today if status.as_of is None else max(status.as_of, today)
        self.counts[metric] = MetricCount(metric, status.current + adding, as_of)
