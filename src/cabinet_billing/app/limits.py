"""Plan limits: counts recorded, refreshed daily, and stale counts flagged (SPEC C7).

A plan may cap metrics of the project a service runs (Horoshop: products in the shop,
orders this month). The service keeps the plan's caps from its order with the latest
count of each metric. The counts live in the host's system, so the host tells the
billing what they are:

* ``billing.limits.record(service_id, metric, count)`` stores a count just taken;
* ``billing.limits.refresh(counter)`` is the daily refresh: run it once a day (next to
  ``billing.run``); it asks ``counter(service, metric)`` for every capped metric whose
  count was not taken today, one unit of work per account;
* ``billing.limits.stale()`` lists the counts older than
  ``BillingSettings.limit_count_max_age_days`` (default 1: a count from the day before
  yesterday means a daily refresh was missed), for monitoring;
* ``cabinet.services.limits(service_id)`` shows the customer each metric's count, cap and
  room left, with the stale ones flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Protocol

import attrs

from cabinet_billing.app.context import Context
from cabinet_billing.domain.limits import LimitStatus
from cabinet_billing.domain.service import Service, ServiceStatus
from cabinet_billing.errors import ValidationError

__all__ = ["LimitCount", "Limits", "MetricCounter", "StaleCount", "limit_counts"]


class MetricCounter(Protocol):
    """What the host plugs into the daily refresh: the current count of one metric."""

    def __call__(self, service: Service, metric: str) -> int:
        """The count of ``metric`` in the project of ``service`` now."""
        ...  # pragma: no cover


@attrs.frozen
class LimitCount:
    """One capped metric as the cabinet shows it.

    Attributes:
        status: the count, the cap, the room left and the day the count was taken.
        stale: whether the count is older than the settings allow (or was never taken).
    """

    status: LimitStatus
    stale: bool

    @property
    def metric(self) -> str:
        """The metric's name."""
        return self.status.metric

    def __str__(self) -> str:
        return f"{self.status}{' (stale)' if self.stale else ''}"


@attrs.frozen
class StaleCount:
    """A count that was not refreshed in time."""

    account_id: str
    service_id: str
    metric: str
    as_of: date | None


def limit_counts(service: Service, today: date, max_age_days: int) -> tuple[LimitCount, ...]:
    """Every capped metric of a service on ``today``, stale ones flagged."""
    return tuple(
        LimitCount(status, status.stale(today, max_age_days))
        for status in service.limits.statuses(today)
    )


def _check_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("count", value, "expected a whole number >= 0")
    return value


class Limits:
    """The counts of capped metrics, as the host reports them (``billing.limits``).

    Args:
        context: the billing's shared machinery.
    """

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def record(
        self, service_id: str, metric: str, count: int, *, as_of: date | None = None
    ) -> LimitCount:
        """Store a count of ``metric`` taken on ``as_of`` (default: today).

        Raises:
            NotFoundError: for an unknown service.
            ValidationError: for a metric the service's plan does not cap (naming the
                capped ones), a negative count, a day in the future or one older than the
                stored count.
        """
        today = self._ctx.clock.today()
        day = today if as_of is None else as_of
        if day > today:
            raise ValidationError("as_of", day, f"a count cannot be taken after today {today}")
        with self._ctx.unit_of_work() as uow:
            service = uow.services.get(service_id)
            service.limits.refresh(metric, _check_count(count), day)
            uow.commit()
        status = service.limits.status(metric, today)
        return LimitCount(status, status.stale(today, self._max_age))

    def refresh(self, counter: MetricCounter, *, account_ids: Iterable[str] | None = None) -> int:
        """The daily refresh: ask the host for every count not taken today, and keep it.

        Each account is refreshed in a unit of work of its own; deleted services are
        skipped.

        Args:
            counter: the host's counter, called once per service and capped metric.
            account_ids: the accounts to refresh (default: every account).

        Returns:
            How many counts were refreshed.

        Raises:
            ValidationError: when the counter returns something other than a whole number
                >= 0; the counts of that account are left as they were.
        """
        today = self._ctx.clock.today()
        if account_ids is None:
            with self._ctx.unit_of_work() as uow:
                account_ids = uow.accounts.ids()
        refreshed = 0
        for account_id in account_ids:
            with self._ctx.unit_of_work() as uow:
                for service in uow.services.for_account(account_id):
                    if service.status is ServiceStatus.DELETED:
                        continue
                    for status in service.limits.statuses(today):
                        if status.as_of == today:
                            continue
                        count = _check_count(counter(service, status.metric))
                        service.limits.refresh(status.metric, count, today)
                        refreshed += 1
                uow.commit()
        return refreshed

    def stale(self, *, account_ids: Iterable[str] | None = None) -> tuple[StaleCount, ...]:
        """Every count older than the settings allow, for the provider's monitoring."""
        today = self._ctx.clock.today()
        found: list[StaleCount] = []
        with self._ctx.unit_of_work() as uow:
            for account_id in uow.accounts.ids() if account_ids is None else account_ids:
                for service in uow.services.for_account(account_id):
                    if service.status is ServiceStatus.DELETED:
                        continue
                    found.extend(
                        StaleCount(account_id, service.id, item.metric, item.status.as_of)
                        for item in limit_counts(service, today, self._max_age)
                        if item.stale
                    )
        return tuple(found)

    @property
    def _max_age(self) -> int:
        return self._ctx.settings.limit_count_max_age_days
