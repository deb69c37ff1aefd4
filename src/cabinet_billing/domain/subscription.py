"""Subscriptions: the auto-renewal setting of one service (SPEC R4).

A :class:`Subscription` says how a service renews itself: from the account's balance
(Introserv, and Astra Cloud's "Лицевой счёт") or from a saved card or wallet (Astra Cloud's
subscriptions), for how long (the renewal period, by default the order period), and until
when it is paid. It also keeps the retry state after a failed charge. The decisions (when
to charge, whether to retry) are made by :mod:`cabinet_billing.rules.renewal`.

Renewal dates come from the subscription's :class:`~cabinet_billing.domain.periods.BillingCycle`,
never by chaining period ends: a service paid until the 31st renews until the last day of
a short month and comes back to the 31st.

>>> from datetime import date
>>> from cabinet_billing import Money, Period
>>> sub = Subscription("8544", "acc-1", Money("250.00", "RUB"), Period.months(),
...                    paid_until=date(2024, 1, 31), kind="saas")
>>> sub.renewed(date(2024, 1, 30)); sub.paid_until.isoformat()
'2024-02-29'
>>> sub.renewed(date(2024, 2, 28)); sub.paid_until.isoformat()
'2024-03-31'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date

import attrs

from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.checks import check_id, enum_member
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import (
    BillingCycle,
    Period,
    extend_paid_until,
    is_cycle_boundary,
)
from cabinet_billing.domain.service import Service, ServiceStatus
from cabinet_billing.errors import ConflictError, InvalidTransitionError, ValidationError

__all__ = [
    "RenewalSource",
    "Subscription",
    "renewal_terms_of",
    "subscriptions_to_switch_off",
]


class RenewalSource(enum.StrEnum):
    """Where an automatic renewal takes the money from.

    Attributes:
        BALANCE: the account's balance (and credit, where the account has it).
        SAVED_METHOD: a saved card or wallet (a subscription).
    """

    BALANCE = "balance"
    SAVED_METHOD = "saved_method"


def _to_kind(value: object) -> ProductKind:
    return enum_member(ProductKind, "kind", value)


def _to_source(value: object) -> RenewalSource:
    return enum_member(RenewalSource, "source", value)


def _to_period(value: Period | str) -> Period:
    return Period.parse(value)


def _check_text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_id(attribute.name, value)


def _check_price(_instance: object, _attribute: object, value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError("price", value, "must be a Money amount")
    value.require_positive().require_places()


def _check_day(_instance: object, attribute: attrs.Attribute[date], value: object) -> None:
    if not isinstance(value, date):
        raise ValidationError(attribute.name, value, "must be a date")


def _check_count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(attribute.name, value, "must be a whole number >= 0")


@attrs.define(on_setattr=attrs.setters.frozen)
class Subscription:
    """The auto-renewal setting of one service, with its schedule and retry state.

    Fields cannot be assigned; the methods change them and check the rules.

    Args:
        service_id: the service that renews.
        account_id: the owning account.
        price: the amount charged per renewal period (at most the currency's minor unit).
        period: the renewal period; by default the service's order period.
        paid_until: the end of the paid period: the day the next period starts and the
            day it is charged for.
        kind: what the service is (the renewal lead time may depend on it).
        source: balance or saved method (default balance).
        method_id: the saved method charged; required exactly for
            :attr:`RenewalSource.SAVED_METHOD`.
        anchor: the first day of the renewal cycle; period ``n`` of the cycle ends at
            ``anchor + n * period`` (default ``paid_until``). A service's subscription
            takes the service's anchor, the first day of its first paid period.
        enabled: whether auto-renewal is on.
        failed_attempts: failed attempts (charges, or checks of a not-working method)
            since the last successful renewal.
        last_failure_on: the day of the last failed attempt.

    Raises:
        ValidationError: for empty ids, a price that is not a positive amount, a method id
            missing for (or given to) a balance renewal, or a failure state that is
            inconsistent.
    """

    service_id: str = attrs.field(validator=_check_text)
    account_id: str = attrs.field(validator=_check_text)
    price: Money = attrs.field(validator=_check_price)
    period: Period = attrs.field(converter=_to_period)
    paid_until: date = attrs.field(validator=_check_day)
    kind: ProductKind = attrs.field(
        default=ProductKind.OTHER,
        converter=_to_kind,
    )
    source: RenewalSource = attrs.field(
        default=RenewalSource.BALANCE,
        converter=_to_source,
    )
    method_id: str | None = None
    anchor: date | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(_check_day),
    )
    enabled: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    failed_attempts: int = attrs.field(default=0, validator=_check_count)
    last_failure_on: date | None = None

    def __attrs_post_init__(self) -> None:
        if self.anchor is None:
            object.__setattr__(self, "anchor", self.paid_until)
        _check_source(self.source, self.method_id)
        if (self.failed_attempts > 0) != (self.last_failure_on is not None):
            raise ValidationError(
                "last_failure_on",
                self.last_failure_on,
                "is given exactly when failed_attempts is above zero",
            )

    @classmethod
    def for_service(
        cls,
        service: Service,
        source: RenewalSource | str = RenewalSource.BALANCE,
        method_id: str | None = None,
    ) -> Subscription:
        """The subscription of a paid service: its price, order period, kind and schedule.

        The renewal period is the order period (it may be changed later, only while the
        service is active, with :meth:`change_period`); a plan or period change scheduled
        for the period end gives the price and period instead (SPEC X1).

        Raises:
            ConflictError: when the service has never been paid.
            ValidationError: for a method id missing or superfluous for the source.
        """
        if service.paid_until is None:
            raise ConflictError(f"service {service.id}", "has never been paid; nothing to renew")
        price, period, anchor = renewal_terms_of(service)
        return cls(
            service.id,
            service.account_id,
            price,
            period,
            service.paid_until,
            service.kind,
            source,
            method_id,
            anchor=anchor,
        )

    # ------------------------------------------------------------------ queries

    @property
    def cycle(self) -> BillingCycle:
        """The renewal schedule: the anchor and the renewal period."""
        return BillingCycle(self.anchor or self.paid_until, self.period)

    @property
    def next_paid_until(self) -> date:
        """The paid-until date once the next renewal is paid.

        >>> from datetime import date
        >>> from cabinet_billing import Money
        >>> s = Subscription("1", "a", Money("100.00", "RUB"), "month", date(2023, 5, 27))
        >>> s.next_paid_until.isoformat()
        '2023-06-27'
        """
        return extend_paid_until(self.anchor or self.paid_until, self.period, self.paid_until)

    def charge_dates(self, count: int) -> tuple[date, ...]:
        """The next ``count`` days charged for, starting with :attr:`paid_until`.

        >>> from datetime import date
        >>> from cabinet_billing import Money
        >>> s = Subscription("1", "a", Money("100.00", "RUB"), "month", date(2024, 1, 31))
        >>> [d.isoformat() for d in s.charge_dates(3)]
        ['2024-01-31', '2024-02-29', '2024-03-31']
        """
        cycle = self.cycle
        first = cycle.index_of(self.paid_until) if cycle.is_boundary(self.paid_until) else None
        if first is None:
            return tuple(
                BillingCycle(self.paid_until, self.period).boundary(n) for n in range(count)
            )
        return tuple(cycle.boundary(first + n) for n in range(count))

    # ------------------------------------------------------------------ changes

    def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            object.__setattr__(self, name, value)

    def _anchor_at(self, paid_until: date, anchor: date | None = None) -> date:
        """The anchor that keeps ``paid_until`` on the cycle.

        ``anchor`` when given and on its cycle, else the current one when on its cycle,
        else ``paid_until`` itself: a new cycle starts there, so that later periods are
        counted from it, never chained.
        """
        for candidate in (anchor, self.anchor):
            if candidate is not None and is_cycle_boundary(candidate, self.period, paid_until):
                return candidate
        return paid_until

    def renewed(self, on: date) -> None:
        """Record a successful renewal charged ``on``: one more period is paid.

        The failure state is cleared.

        Raises:
            ValidationError: when ``on`` is not a date.
        """
        _check_day(None, attrs.fields(Subscription).paid_until, on)
        self._set(
            paid_until=self.next_paid_until,
            anchor=self._anchor_at(self.paid_until),
            failed_attempts=0,
            last_failure_on=None,
        )

    def follow(self, paid_until: date, anchor: date | None = None) -> bool:
        """Catch up with a service paid further by other means.

        A renewal invoice paid by hand or through a payment webhook moves the service's
        paid-until date; the next automatic charge is then for the period after it. Pass
        the service's :attr:`~cabinet_billing.domain.service.Service.anchor` as ``anchor``
        so that a service that started a new cycle is followed on it; a paid-until date
        off every known cycle starts a new cycle on itself.

        Returns:
            Whether the schedule moved.

        >>> from cabinet_billing import Money
        >>> sub = Subscription("3925", "acc-1", Money("100.00", "RUB"), "month", date(2023, 5, 27))
        >>> sub.follow(date(2023, 6, 27)), sub.paid_until
        (True, datetime.date(2023, 6, 27))
        >>> sub.follow(date(2023, 6, 1))
        False
        """
        _check_day(None, attrs.fields(Subscription).paid_until, paid_until)
        if anchor is not None and not isinstance(anchor, date):
            raise ValidationError("anchor", anchor, "must be a date")
        if paid_until <= self.paid_until:
            return False
        self._set(
            paid_until=paid_until,
            anchor=self._anchor_at(paid_until, anchor),
            failed_attempts=0,
            last_failure_on=None,
        )
        return True

    def restart(self, on: date) -> None:
        """Start the schedule again on ``on``: the next period begins that day.

        For a service that expired and comes back under a policy that does not charge
        the days it was off. The failure state is cleared.

        >>> from cabinet_billing import Money
        >>> sub = Subscription("3925", "acc-1", Money("100.00", "RUB"), "month", date(2024, 4, 10))
        >>> sub.restart(date(2024, 4, 21))
        >>> sub.paid_until, sub.next_paid_until
        (datetime.date(2024, 4, 21), datetime.date(2024, 5, 21))
        """
        _check_day(None, attrs.fields(Subscription).paid_until, on)
        self._set(paid_until=on, anchor=on, failed_attempts=0, last_failure_on=None)

    def charge_failed(self, on: date) -> None:
        """Record a failed charge ``on``; the renewal rule decides when to retry.

        Raises:
            ValidationError: when ``on`` is not a date or is before the last failure.
        """
        _check_day(None, attrs.fields(Subscription).paid_until, on)
        if self.last_failure_on is not None and on < self.last_failure_on:
            raise ValidationError(
                "on",
                on,
                f"must not be before the last failure on {self.last_failure_on.isoformat()}",
            )
        self._set(failed_attempts=self.failed_attempts + 1, last_failure_on=on)

    def check_failed(self, on: date) -> None:
        """Record a failed check ``on`` of the not-working saved method (a probe charge).

        A check is an attempt of the retry schedule like a charge: it counts the same way,
        so that the schedule bounds the checks as well as the charges.

        Raises:
            ValidationError: when ``on`` is not a date or is before the last failure.
        """
        self.charge_failed(on)

    def switch_off(self) -> None:
        """Switch auto-renewal off (the retry state is cleared)."""
        self._set(enabled=False, failed_attempts=0, last_failure_on=None)

    def switch_on(self) -> None:
        """Switch auto-renewal back on."""
        self._set(enabled=True)

    def change_source(self, source: RenewalSource | str, method_id: str | None = None) -> None:
        """Renew from another source: the balance, or a saved method.

        Raises:
            ValidationError: for an unknown source, or a method id missing or superfluous.
        """
        try:
            target = RenewalSource(source)
        except ValueError:
            raise ValidationError(
                "source",
                source,
                f"expected one of {', '.join(RenewalSource)}",
            ) from None
        _check_source(target, method_id)
        self._set(source=target, method_id=method_id, failed_attempts=0, last_failure_on=None)

    def change_period(
        self, period: Period | str, service_status: ServiceStatus, *, price: Money
    ) -> None:
        """Change the renewal period and its price; allowed only while the service is active.

        The new cycle starts at the current :attr:`paid_until`, and every renewal of it
        charges ``price``: the plan's price for the new period (see
        :meth:`~cabinet_billing.domain.service.Service.price_for`), never the old
        period's.

        Args:
            period: the new renewal period.
            service_status: the service's current status.
            price: what one new period costs.

        Raises:
            InvalidTransitionError: unless the service is
                :attr:`~cabinet_billing.domain.service.ServiceStatus.ACTIVE`; nothing changes.
            ValidationError: for a period that cannot be read or a price that is not a
                positive amount.
            CurrencyMismatchError: for a price in another currency than the current one.

        >>> from datetime import date
        >>> from cabinet_billing import Money, ServiceStatus
        >>> s = Subscription("1", "a", Money("100.00", "RUB"), "month", date(2023, 5, 27))
        >>> s.change_period("year", ServiceStatus.ACTIVE, price=Money("1200.00", "RUB"))
        >>> str(s.period), str(s.price), s.next_paid_until.isoformat()
        ('1 year', '1200.00 RUB', '2024-05-27')
        >>> s.change_period("month", ServiceStatus.STOPPED_BY_CLIENT, price=Money("100.00", "RUB"))
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.InvalidTransitionError: cannot go from stopped_by_client to renewal period 1 month; allowed from stopped_by_client: none (the renewal period changes only while the service is active)
        """
        new = Period.parse(period)
        _check_price(self, None, price)
        price.require_currency(self.price.code)
        if service_status is not ServiceStatus.ACTIVE:
            error = InvalidTransitionError(service_status, f"renewal period {new}", ())
            error.args = (
                f"{error.args[0]} (the renewal period changes only while the service is active)",
            )
            raise error
        self._set(period=new, price=price, anchor=self.paid_until)

    def renew_at(self, price: Money, period: Period | str, anchor: date | None) -> None:
        """Renew at ``price`` for ``period`` from the next renewal on (SPEC X1).

        For a plan or period change made or scheduled at the end of the paid period;
        ``anchor`` is the first day of the cycle the next periods are counted from
        (default: the paid-until date).

        Raises:
            ValidationError: for a period that cannot be read or a price that is not a
                positive amount.
        """
        new = Period.parse(period)
        _check_price(None, None, price)
        self._set(period=new, price=price, anchor=anchor or self.paid_until)


def renewal_terms_of(
    service: Service, period: Period | None = None
) -> tuple[Money, Period, date | None]:
    """What renewing ``service`` costs per period, for how long, and the cycle's anchor.

    A plan or period change scheduled for the period end gives the price and period;
    otherwise the service's price for ``period`` (default: its own period). A period
    other than the service's starts a new cycle at the paid-until date.

    Raises:
        PriceNotFoundError: for a period the service's plan has no price for.
    """
    change = service.scheduled
    if change is not None and change.at_period_end and change.price and change.period:
        price, wanted = change.price, change.period
    else:
        wanted = service.period if period is None else period
        price = service.price_for(wanted)
    anchor = service.anchor or service.paid_until
    if wanted != service.period:
        anchor = service.paid_until
    return price, wanted, anchor


def _check_source(source: RenewalSource, method_id: str | None) -> None:
    if source is RenewalSource.SAVED_METHOD and (
        not isinstance(method_id, str) or not method_id.strip()
    ):
        raise ValidationError(
            "method_id", method_id, "a saved-method renewal needs the method's id"
        )
    if source is RenewalSource.BALANCE and method_id is not None:
        raise ValidationError("method_id", method_id, "a balance renewal takes no method id")


def subscriptions_to_switch_off(
    subscriptions: Iterable[Subscription],
    deleted_method_id: str,
) -> tuple[Subscription, ...]:
    """The subscriptions to switch off because their saved method is deleted.

    Deleting a saved method switches auto-renewal off for every service renewed from it
    (Astra Cloud). The caller calls :meth:`Subscription.switch_off` on each one returned.

    >>> from datetime import date
    >>> from cabinet_billing import Money
    >>> subs = [
    ...     Subscription("s1", "a", Money("250.00", "RUB"), "month", date(2024, 3, 21),
    ...                  source="saved_method", method_id="card-1111"),
    ...     Subscription("s2", "a", Money("100.00", "RUB"), "month", date(2024, 3, 5)),
    ... ]
    >>> [s.service_id for s in subscriptions_to_switch_off(subs, "card-1111")]
    ['s1']
    """
    return tuple(
        s
        for s in subscriptions
        if s.enabled and s.source is RenewalSource.SAVED_METHOD and s.method_id == deleted_method_id
    )
