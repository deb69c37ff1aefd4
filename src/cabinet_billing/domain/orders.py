"""The orders view (SPEC C6): a pure query over services.

Introserv's "Orders" table shows, for each order, its id, plan, IP address, paid-until
date, days left, status, price and the actions its status allows (renew, change plan,
cancel ...), with a search box, sorting and a status filter. Astra Cloud splits the same
list into orders *awaiting payment* and *paid* ones. :func:`list_orders` gives both from
any collection of :class:`~cabinet_billing.domain.service.Service` objects; it reads no
clock (``today`` is an argument) and changes nothing.

The actions of a row come from the lifecycle table itself: an :class:`OrderAction` is
offered when one of the lifecycle steps that carry it out (:data:`ORDER_ACTIONS`) is
allowed for the viewer's role in the service's current state.

>>> from datetime import date, datetime, timezone
>>> from cabinet_billing import Money, Period
>>> from cabinet_billing.domain.service import Actor, Service
>>> at = datetime(2023, 4, 27, tzinfo=timezone.utc)
>>> alice = Actor.client("alice")
>>> def order(id, plan, price):
...     return Service.order(id=id, account_id="a1", plan_id=plan, plan_name=plan, kind="vps",
...                          price=Money(price, "RUB"), period=Period.months(), created_at=at,
...                          actor=alice)
>>> paid, new = order("3925", "VPS S", "100.00"), order("10666", "VLAN", "250.00")
>>> _ = paid.mark_paid(date(2023, 5, 27), Actor.system(), at)
>>> _ = paid.activate(Actor.system(), at)
>>> view = list_orders([paid, new], today=date(2023, 5, 20))
>>> [(r.id, r.status.value, r.days_left, [a.value for a in r.actions]) for r in view.paid]
[('3925', 'active', 7, ['renew', 'change_plan', 'turn_off', 'reboot', 'cancel'])]
>>> [(r.id, str(r.price), [a.value for a in r.actions]) for r in view.awaiting_payment]
[('10666', '250.00 RUB', ['pay', 'cancel'])]
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import document_sort_key
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import (
    ActorRole,
    BillingMode,
    ScheduledChange,
    Service,
    ServiceAction,
    ServiceOperation,
    ServiceStatus,
    ServiceStep,
)
from cabinet_billing.errors import ValidationError

__all__ = [
    "ORDER_ACTIONS",
    "OrderAction",
    "OrderRow",
    "OrderSortKey",
    "OrdersQuery",
    "OrdersView",
    "ServicePage",
    "ServiceUseCase",
    "ServiceView",
    "list_orders",
    "order_actions",
    "order_row",
]


class OrderAction(enum.StrEnum):
    """What the orders table offers for a row ("Дія": продовжити, змінити тариф, скасувати ...)."""

    PAY = "pay"
    CONFIGURE = "configure"
    RENEW = "renew"
    CHANGE_PLAN = "change_plan"
    TURN_OFF = "turn_off"
    TURN_ON = "turn_on"
    REBOOT = "reboot"
    CANCEL = "cancel"


#: The lifecycle steps that carry out each order action, in order of preference: an
#: action is offered when any of its steps is allowed. "Cancel" cancels an unpaid order
#: and begins deleting a paid one; "turn off" suspends a daily-billed service and stops
#: a periodically billed one.
ORDER_ACTIONS: Final[Mapping[OrderAction, tuple[ServiceStep, ...]]] = MappingProxyType(
    {
        OrderAction.PAY: (ServiceStep(ServiceAction.PAY),),
        OrderAction.CONFIGURE: (ServiceStep(ServiceAction.CONFIGURE),),
        OrderAction.RENEW: (
            ServiceStep(ServiceAction.RENEW),
            ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.RENEWING),
        ),
        OrderAction.CHANGE_PLAN: (ServiceStep(ServiceAction.CHANGE_PLAN),),
        OrderAction.TURN_OFF: (
            ServiceStep(ServiceAction.SUSPEND),
            ServiceStep(ServiceAction.STOP),
            ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.TURNING_OFF),
        ),
        OrderAction.TURN_ON: (
            ServiceStep(ServiceAction.RESUME),
            ServiceStep(ServiceAction.START),
            ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.TURNING_ON),
        ),
        OrderAction.REBOOT: (
            ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.REBOOTING),
        ),
        OrderAction.CANCEL: (
            ServiceStep(ServiceAction.CANCEL),
            ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.DELETING),
            ServiceStep(ServiceAction.DELETE),
        ),
    },
)


class OrderSortKey(enum.StrEnum):
    """The columns the orders table sorts by."""

    CREATED = "created"
    STATUS = "status"
    PRICE = "price"
    ID = "id"
    PAID_UNTIL = "paid_until"


def _to_sort_key(value: OrderSortKey | str) -> OrderSortKey:
    try:
        return OrderSortKey(value)
    except ValueError:
        allowed = ", ".join(OrderSortKey)
        raise ValidationError("sort_by", value, f"allowed sort keys: {allowed}") from None


def _to_statuses(values: Iterable[ServiceStatus | str]) -> frozenset[ServiceStatus]:
    if isinstance(values, str):
        values = (values,)
    result: set[ServiceStatus] = set()
    for value in values:
        try:
            result.add(ServiceStatus(value))
        except ValueError:
            allowed = ", ".join(ServiceStatus)
            raise ValidationError("statuses", value, f"allowed statuses: {allowed}") from None
    return frozenset(result)


def _to_text(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("search", value, "must be text")
    return value.strip() or None


def _check_flag(_instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError(attribute.name, value, "must be True or False")


def _check_optional_flag(
    _instance: object, attribute: attrs.Attribute[bool | None], value: object
) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(attribute.name, value, "must be True, False or None")


@attrs.frozen
class OrdersQuery:
    """What the customer typed and clicked above the orders table.

    Args:
        text: free text, matched case-insensitively against the id, the plan id and name,
            the IP address and the product kind.
        order_id: an exact order id (case-insensitive).
        plan: text matched against the plan id and name only.
        statuses: show only these statuses; empty shows every status but *deleted*.
        sort_by: a :class:`OrderSortKey` or its value (``created``, ``status``, ``price``,
            ``id``, ``paid_until``).
        descending: sort from the largest/latest.
        paid: ``True`` shows only paid services, ``False`` only the orders awaiting
            payment (Astra Cloud's two blocks); ``None`` both.

    Raises:
        ValidationError: for an unknown sort key or status, naming the allowed ones.

    >>> OrdersQuery(sort_by="cost")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: sort_by='cost' is invalid: allowed sort keys: created, status, price, id, paid_until
    """

    text: str | None = attrs.field(default=None, converter=_to_text)
    order_id: str | None = attrs.field(default=None, converter=_to_text)
    plan: str | None = attrs.field(default=None, converter=_to_text)
    statuses: frozenset[ServiceStatus] = attrs.field(default=frozenset(), converter=_to_statuses)
    sort_by: OrderSortKey = attrs.field(default=OrderSortKey.CREATED, converter=_to_sort_key)
    descending: bool = attrs.field(default=False, validator=_check_flag)
    paid: bool | None = attrs.field(default=None, validator=_check_optional_flag)

    def matches(self, service: Service) -> bool:
        """Whether ``service`` passes the search and the status filter."""
        if self.paid is not None and service.paid != self.paid:
            return False
        if self.statuses:
            if service.status not in self.statuses:
                return False
        elif service.status is ServiceStatus.DELETED:
            return False
        if self.order_id is not None and service.id.casefold() != self.order_id.casefold():
            return False
        if self.plan is not None and not _contains((service.plan_id, service.plan_name), self.plan):
            return False
        return self.text is None or _contains(_haystack(service), self.text)


def _haystack(service: Service) -> tuple[str, ...]:
    return (
        service.id,
        service.plan_id,
        service.plan_name,
        service.ip or "",
        service.kind.value,
    )


def _contains(fields: Iterable[str], needle: str) -> bool:
    wanted = needle.casefold()
    return any(wanted in field.casefold() for field in fields)


@attrs.frozen
class OrderRow:
    """One line of the orders table.

    Attributes:
        id: the order number.
        plan_id: the plan's id.
        plan_name: the plan's name.
        kind: what was sold.
        ip: the IP address, if any.
        created_at: when it was ordered.
        paid_until: the end of the paid period, if paid.
        days_left: days until ``paid_until`` from the ``today`` of the query.
        status: the current state.
        operation: the operation under way while processing.
        price: the price per period.
        period: the billing period.
        auto_renew: whether it renews automatically.
        paid: ``False`` while awaiting payment.
        actions: what the viewer may do with it now.
    """

    id: str
    plan_id: str
    plan_name: str
    kind: ProductKind
    ip: str | None
    created_at: datetime
    paid_until: date | None
    days_left: int | None
    status: ServiceStatus
    operation: ServiceOperation | None
    price: Money
    period: Period
    auto_renew: bool
    paid: bool
    actions: tuple[OrderAction, ...]


@attrs.frozen
class OrdersView:
    """The result of :func:`list_orders`: every matching row and the two AC blocks.

    Attributes:
        rows: every matching row, sorted.
        awaiting_payment: the rows still waiting for payment ("ждут оплаты"), same order.
        paid: the paid rows ("оплаченные услуги"), same order.
    """

    rows: tuple[OrderRow, ...]
    awaiting_payment: tuple[OrderRow, ...]
    paid: tuple[OrderRow, ...]

    def __len__(self) -> int:
        return len(self.rows)


def order_actions(service: Service, role: ActorRole = ActorRole.CLIENT) -> tuple[OrderAction, ...]:
    """The order actions ``role`` may take on ``service`` now, from the lifecycle table."""
    allowed = set(service.available_steps(role))
    return tuple(
        action for action, steps in ORDER_ACTIONS.items() if any(s in allowed for s in steps)
    )


def order_row(service: Service, today: date, role: ActorRole = ActorRole.CLIENT) -> OrderRow:
    """The row of ``service`` in the orders table on ``today``, as ``role`` sees it."""
    return OrderRow(
        id=service.id,
        plan_id=service.plan_id,
        plan_name=service.plan_name,
        kind=service.kind,
        ip=service.ip,
        created_at=service.created_at,
        paid_until=service.paid_until,
        days_left=service.days_left(today),
        status=service.status,
        operation=service.operation,
        price=service.price,
        period=service.period,
        auto_renew=service.auto_renew,
        paid=service.paid,
        actions=order_actions(service, role),
    )


_STATUS_RANK: Final = {status: rank for rank, status in enumerate(ServiceStatus)}

_Chunk = tuple[int, int, str]
_SortValue = datetime | int | date | tuple[str, Decimal] | tuple[_Chunk, ...]


def _natural(text: str) -> tuple[_Chunk, ...]:
    """A sort key that orders "3925" before "10666" and "VM 9" before "VM 10"."""
    return document_sort_key(text)


_SORT_VALUES: Final[Mapping[OrderSortKey, Callable[[OrderRow], _SortValue | None]]] = {
    OrderSortKey.CREATED: lambda row: row.created_at,
    OrderSortKey.STATUS: lambda row: _STATUS_RANK[row.status],
    # Amounts of different currencies are not comparable: group by currency first.
    OrderSortKey.PRICE: lambda row: (row.price.code, row.price.amount),
    OrderSortKey.ID: lambda row: _natural(row.id),
    OrderSortKey.PAID_UNTIL: lambda row: row.paid_until,
}


def _sorted(rows: list[OrderRow], query: OrdersQuery) -> tuple[OrderRow, ...]:
    value = _SORT_VALUES[query.sort_by]
    known = [row for row in rows if value(row) is not None]
    unknown = [row for row in rows if value(row) is None]
    # list.sort is stable, also with reverse=True; rows without a value go last.
    # The key is one comparable type per sort key, which a Union cannot express.
    known.sort(key=value, reverse=query.descending)  # type: ignore[arg-type]
    return (*known, *unknown)


def list_orders(
    services: Iterable[Service],
    today: date,
    query: OrdersQuery | None = None,
    role: ActorRole = ActorRole.CLIENT,
) -> OrdersView:
    """Search, filter and sort services into the orders table.

    Args:
        services: the account's services (any iterable; it is read once).
        today: the billing day the "days left" column counts from.
        query: the search, filter and sort (default: everything but deleted, oldest first).
        role: whose actions the rows offer (default the client's).

    Returns:
        The matching rows, and the same rows split into awaiting payment and paid.
    """
    wanted = OrdersQuery() if query is None else query
    rows = _sorted(
        [order_row(service, today, role) for service in services if wanted.matches(service)],
        wanted,
    )
    return OrdersView(
        rows=rows,
        awaiting_payment=tuple(row for row in rows if not row.paid),
        paid=tuple(row for row in rows if row.paid),
    )


class ServiceUseCase(enum.StrEnum):
    """A cabinet action that works for a service now, named after its use case.

    ``pay`` is ``cabinet.invoices.pay`` of the service's order invoice; every other one
    is the method of ``cabinet.services`` with that name.
    """

    PAY = "pay"
    RENEW = "renew"
    RENEW_NOW = "renew_now"
    STOP = "stop"
    START = "start"
    SUSPEND = "suspend"
    RESUME = "resume"
    REBOOT = "reboot"
    CANCEL = "cancel"
    DELETE = "delete"
    CHANGE_PLAN = "change_plan"
    CANCEL_CHANGE = "cancel_change"
    TERMINATE = "terminate"


@attrs.frozen
class ServiceView:
    """One service as the cabinet shows it (SPEC C6).

    Attributes:
        row: its row of the orders table (id, plan, IP, paid until, days left, status,
            price, the lifecycle's actions).
        configuration: the quantity of each add-on, as ordered.
        billing_mode: daily or periodic billing.
        actions: the cabinet actions that work for it now, for the viewing user: allowed
            by the lifecycle, by the account's state (no renewal while its deletion is
            pending, "pay" only with an invoice to pay) and by the user's rights.
        scheduled: the change of plan or period, or the end, that waits for its
            invoice or the period end (SPEC X1, X2), if any.
    """

    row: OrderRow
    configuration: Mapping[str, Decimal]
    billing_mode: BillingMode
    actions: tuple[ServiceUseCase, ...]
    scheduled: ScheduledChange | None = None

    @property
    def id(self) -> str:
        """The service's id."""
        return self.row.id

    @property
    def ip(self) -> str | None:
        """The service's main IP address, if it has one."""
        return self.row.ip

    @property
    def paid_until(self) -> date | None:
        """The end of the paid period, once paid."""
        return self.row.paid_until

    @property
    def days_left(self) -> int | None:
        """Days until the paid period ends."""
        return self.row.days_left

    @property
    def status(self) -> ServiceStatus:
        """The current state."""
        return self.row.status


@attrs.frozen
class ServicePage:
    """One page of the services list.

    Attributes:
        services: the services of this page, in the list's order.
        total: how many services match the query, on every page.
        next_after: pass it as ``after`` to read the next page; ``None`` on the last.
    """

    services: tuple[ServiceView, ...]
    total: int
    next_after: str | None

    def __iter__(self) -> Iterator[ServiceView]:
        """The page's services, as iterating any other list page gives its items."""
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)
