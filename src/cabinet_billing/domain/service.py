"""The service lifecycle (SPEC C5): states, a transition table as data, and the history.

A :class:`Service` is one thing a customer bought: a server, a VPS, a hosting account, a
domain. Its :class:`ServiceStatus` follows the states of the seed cabinets (Astra Cloud's
"Заказан", "Активен", "Временно остановлен", "Остановлен", "Остановлен администратором",
"Остановлен за нарушение", "Обрабатывается", "Требуется настройка", "Нет в наличии"),
plus *expired* and *deleted*.

Every change goes through a named action (``activate``, ``suspend``, ``renew``,
``begin_processing`` ...). The only source of truth for what is allowed is the table of
:class:`ServiceTransition` rows in :data:`SERVICE_LIFECYCLE`: a row names the state it leaves, the
action, the state it reaches, the roles that may take it and the guards it needs (the
billing mode, whether the order is paid, the operation in progress). Anything that is
not a row is refused with :class:`~cabinet_billing.errors.InvalidTransitionError`; a row
taken by a role it does not list is refused with
:class:`~cabinet_billing.errors.AccessDeniedError`. A refused action changes nothing.
Every accepted one appends an immutable :class:`ServiceChange`.

>>> from datetime import datetime, timezone
>>> from cabinet_billing import Money, Period
>>> at = datetime(2023, 4, 27, 12, 0, tzinfo=timezone.utc)
>>> vps = Service.order(
...     id="3925", account_id="acc-1", plan_id="vps-s", plan_name="VPS S", kind="vps",
...     price=Money("100.00", "RUB"), period=Period.months(), created_at=at,
...     actor=Actor.client("alice"),
... )
>>> vps.status
<ServiceStatus.ORDERED: 'ordered'>
>>> _ = vps.mark_paid(date(2023, 5, 27), Actor.system(), at)
>>> _ = vps.begin_processing(ServiceOperation.OPENING, Actor.system(), at)
>>> _ = vps.finish_processing(Actor.system(), at)
>>> vps.status, vps.days_left(date(2023, 5, 20))
(<ServiceStatus.ACTIVE: 'active'>, 7)
>>> vps.suspend(Actor.client("alice"), at)
Traceback (most recent call last):
...
cabinet_billing.errors.InvalidTransitionError: cannot go from active to suspend; allowed from active: stop, begin_processing(turning_off), begin_processing(rebooting), begin_processing(renewing), begin_processing(transferring), begin_processing(deleting), block_by_admin, block_for_abuse, expire, renew, change_plan, delete
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Protocol, Self

import attrs
import moneyed

from cabinet_billing.domain.catalog import PriceList, ProductKind
from cabinet_billing.domain.checks import check_id, check_text, shared_copies
from cabinet_billing.domain.limits import Limit, PlanLimits
from cabinet_billing.domain.money import Money, to_decimal
from cabinet_billing.domain.periods import BillingCycle, Period, cycle_anchor
from cabinet_billing.domain.periods import days_left as _days_left
from cabinet_billing.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidAmountError,
    InvalidTransitionError,
    ValidationError,
)

__all__ = [
    "SERVICE_LIFECYCLE",
    "Actor",
    "ActorRole",
    "BillingMode",
    "ListServiceHistory",
    "ScheduledChange",
    "Service",
    "ServiceAction",
    "ServiceChange",
    "ServiceHistory",
    "ServiceLifecycle",
    "ServiceOperation",
    "ServiceStatus",
    "ServiceStep",
    "ServiceTransition",
    "replay_history",
]


# ----------------------------------------------------------------------------- vocabulary


class ServiceStatus(enum.StrEnum):
    """The state of a service. The declaration order is the order of the lifecycle.

    Attributes:
        ORDERED: in the cart awaiting payment, or paid and waiting to be opened ("Заказан").
        SETUP_REQUIRED: ordered through a quick order; parameters must be filled in
            ("Требуется настройка").
        OUT_OF_STOCK: the control panel lacks resources to open it ("Нет в наличии").
        PROCESSING: an :class:`ServiceOperation` is under way ("Обрабатывается").
        ACTIVE: running ("Активен").
        SUSPENDED_BY_CLIENT: a daily-billed service paused by the client
            ("Временно остановлен").
        STOPPED_BY_CLIENT: a periodically billed service stopped by the client ("Остановлен").
        STOPPED_BY_ADMIN: stopped by the provider's administrator.
        STOPPED_FOR_ABUSE: stopped for exceeding the abuse limit ("Остановлен за нарушение").
        EXPIRED: the paid period ended without renewal.
        DELETED: removed; nothing leaves this state.
    """

    ORDERED = "ordered"
    SETUP_REQUIRED = "setup_required"
    OUT_OF_STOCK = "out_of_stock"
    PROCESSING = "processing"
    ACTIVE = "active"
    SUSPENDED_BY_CLIENT = "suspended_by_client"
    STOPPED_BY_CLIENT = "stopped_by_client"
    STOPPED_BY_ADMIN = "stopped_by_admin"
    STOPPED_FOR_ABUSE = "stopped_for_abuse"
    EXPIRED = "expired"
    DELETED = "deleted"


class ServiceOperation(enum.StrEnum):
    """What a service in :attr:`ServiceStatus.PROCESSING` is doing (AC's sub-states)."""

    OPENING = "opening"
    TURNING_OFF = "turning_off"
    TURNING_ON = "turning_on"
    REBOOTING = "rebooting"
    RENEWING = "renewing"
    TRANSFERRING = "transferring"
    DELETING = "deleting"


class BillingMode(enum.StrEnum):
    """How a service is charged; it decides whether the client suspends or stops it.

    Attributes:
        DAILY: charged every day; the client *suspends* it ("Временно остановлен").
        PERIODIC: paid for a period ahead; the client *stops* it ("Остановлен").
    """

    DAILY = "daily"
    PERIODIC = "periodic"


class ActorRole(enum.StrEnum):
    """Who takes an action: the customer, the provider's staff or the billing itself."""

    CLIENT = "client"
    ADMIN = "administrator"
    SYSTEM = "system"


class ServiceAction(enum.StrEnum):
    """The named actions of the lifecycle; :data:`SERVICE_LIFECYCLE` says where each is allowed."""

    ORDER = "order"
    PAY = "pay"
    ACTIVATE = "activate"
    CONFIGURE = "configure"
    REQUIRE_SETUP = "require_setup"
    MARK_OUT_OF_STOCK = "mark_out_of_stock"
    RESTOCK = "restock"
    SUSPEND = "suspend"
    RESUME = "resume"
    STOP = "stop"
    START = "start"
    BEGIN_PROCESSING = "begin_processing"
    FINISH_PROCESSING = "finish_processing"
    FAIL_PROCESSING = "fail_processing"
    BLOCK_BY_ADMIN = "block_by_admin"
    BLOCK_FOR_ABUSE = "block_for_abuse"
    UNBLOCK = "unblock"
    EXPIRE = "expire"
    RENEW = "renew"
    CHANGE_PLAN = "change_plan"
    CANCEL = "cancel"
    DELETE = "delete"


def _check_name(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_text(attribute.name, value)


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_id(attribute.name, value)


def _check_aware(_instance: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(attribute.name, value, "must be a datetime with a time zone")


@shared_copies
@attrs.frozen
class Actor:
    """Who took an action: a role and a name (a login, a staff member, a job).

    Args:
        role: the :class:`ActorRole`.
        name: a non-empty name.

    >>> str(Actor.client("alice")), str(Actor.admin("bob")), str(Actor.system())
    ('client alice', 'administrator bob', 'system billing')
    """

    role: ActorRole = attrs.field(validator=attrs.validators.instance_of(ActorRole))
    name: str = attrs.field(validator=_check_name)

    @classmethod
    def client(cls, name: str) -> Actor:
        """The customer (or one of the account's users)."""
        return cls(ActorRole.CLIENT, name)

    @classmethod
    def admin(cls, name: str) -> Actor:
        """A member of the provider's staff."""
        return cls(ActorRole.ADMIN, name)

    @classmethod
    def system(cls, name: str = "billing") -> Actor:
        """The billing itself: payment callbacks, billing runs, the control panel."""
        return cls(ActorRole.SYSTEM, name)

    def __str__(self) -> str:
        return f"{self.role} {self.name}"


@shared_copies
@attrs.frozen
class ServiceStep:
    """An action as asked for, with its operation when it begins processing.

    >>> str(ServiceStep(ServiceAction.SUSPEND)), str(ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.REBOOTING))
    ('suspend', 'begin_processing(rebooting)')
    """

    action: ServiceAction = attrs.field(validator=attrs.validators.instance_of(ServiceAction))
    operation: ServiceOperation | None = attrs.field(default=None)

    @operation.validator
    def _check_operation(self, _attribute: object, value: ServiceOperation | None) -> None:
        needs = self.action is ServiceAction.BEGIN_PROCESSING
        if needs and not isinstance(value, ServiceOperation):
            raise ValidationError(
                "operation",
                value,
                f"begin_processing needs one of {', '.join(ServiceOperation)}",
            )
        if not needs and value is not None:
            raise ValidationError("operation", value, f"{self.action} takes no operation")

    def __str__(self) -> str:
        return f"{self.action}({self.operation})" if self.operation else str(self.action)


# ----------------------------------------------------------------------------- the table


def _roles(value: Iterable[ActorRole]) -> frozenset[ActorRole]:
    roles = frozenset(value)
    for role in roles:
        if not isinstance(role, ActorRole):
            raise ValidationError("roles", role, f"allowed: {', '.join(ActorRole)}")
    return roles


_is = attrs.validators.instance_of
_maybe = attrs.validators.optional


@attrs.frozen
class ServiceTransition:
    """One row of the lifecycle table.

    A row applies to a service when the service is in ``source`` and every guard that is
    set matches. Rows leaving :attr:`ServiceStatus.PROCESSING` are told apart by the
    operation under way and, for failures that go back where they came from, by
    ``origin``, the state processing began in.

    Args:
        source: the state the row leaves.
        action: the action that takes it.
        target: the state it reaches (equal to ``source`` for renewals and plan changes).
        roles: who may take it.
        operation: for ``begin_processing`` the operation it starts; for
            ``finish_processing``/``fail_processing`` the operation it ends.
        origin: for rows leaving processing, the state processing began in (``None``: any).
        billing_mode: only for services with this billing mode (``None``: any).
        paid: only for paid (``True``) or unpaid (``False``) services (``None``: either).
    """

    source: ServiceStatus = attrs.field(validator=_is(ServiceStatus))
    action: ServiceAction = attrs.field(validator=_is(ServiceAction))
    target: ServiceStatus = attrs.field(validator=_is(ServiceStatus))
    roles: frozenset[ActorRole] = attrs.field(converter=_roles)
    operation: ServiceOperation | None = attrs.field(
        default=None, validator=_maybe(_is(ServiceOperation))
    )
    origin: ServiceStatus | None = attrs.field(default=None, validator=_maybe(_is(ServiceStatus)))
    billing_mode: BillingMode | None = attrs.field(default=None, validator=_maybe(_is(BillingMode)))
    paid: bool | None = attrs.field(default=None, validator=_maybe(_is(bool)))

    @roles.validator
    def _check_roles(self, _attribute: object, value: frozenset[ActorRole]) -> None:
        if not value:
            raise ValidationError("roles", value, "at least one role must be allowed")

    @property
    def step(self) -> ServiceStep:
        """The step a caller asks for to take this row."""
        begin = self.action is ServiceAction.BEGIN_PROCESSING
        return ServiceStep(self.action, self.operation if begin else None)

    def overlaps(self, other: ServiceTransition) -> bool:
        """Whether one service could match both rows for the same request."""
        return (
            (self.source, self.action, self.operation)
            == (other.source, other.action, other.operation)
            and _meets(self.origin, other.origin)
            and _meets(self.billing_mode, other.billing_mode)
            and _meets(self.paid, other.paid)
        )


def _meets(a: object, b: object) -> bool:
    return a is None or b is None or a == b


@attrs.frozen
class _Context:
    """What the guards of a row look at."""

    status: ServiceStatus
    billing_mode: BillingMode
    paid: bool
    operation: ServiceOperation | None = None
    origin: ServiceStatus | None = None

    def admits(self, row: ServiceTransition) -> bool:
        running = self.operation if row.source is ServiceStatus.PROCESSING else None
        return (
            row.source is self.status
            and (row.action is ServiceAction.BEGIN_PROCESSING or _meets(row.operation, running))
            and _meets(row.origin, self.origin)
            and _meets(row.billing_mode, self.billing_mode)
            and _meets(row.paid, self.paid)
        )


def _rows_to_tuple(rows: Iterable[ServiceTransition]) -> tuple[ServiceTransition, ...]:
    return tuple(rows)


@shared_copies  # a table never changes once built: copies share it
@attrs.frozen
class ServiceLifecycle:
    """A validated table of :class:`ServiceTransition` rows and the questions asked of it.

    Args:
        transitions: the rows.

    Raises:
        ValidationError: when a row leaves :attr:`ServiceStatus.DELETED`, enters or
            leaves processing the wrong way, or two rows could match the same request.

    >>> sorted(map(str, SERVICE_LIFECYCLE.targets(ServiceStatus.STOPPED_FOR_ABUSE)))
    ['active', 'deleted', 'processing', 'stopped_for_abuse']
    >>> SERVICE_LIFECYCLE.targets(ServiceStatus.DELETED)
    frozenset()
    """

    transitions: tuple[ServiceTransition, ...] = attrs.field(converter=_rows_to_tuple)

    _index: Mapping[tuple[ServiceStatus, ServiceAction], tuple[ServiceTransition, ...]] = (
        attrs.field(
            init=False,
            repr=False,
            eq=False,
        )
    )

    @transitions.validator
    def _check_rows(self, _attribute: object, rows: tuple[ServiceTransition, ...]) -> None:
        processing = ServiceStatus.PROCESSING
        leaving = {ServiceAction.FINISH_PROCESSING, ServiceAction.FAIL_PROCESSING}
        for i, row in enumerate(rows):
            if row.source is ServiceStatus.DELETED:
                raise ValidationError("transitions", row, "deleted is final: no row may leave it")
            begins = row.action is ServiceAction.BEGIN_PROCESSING
            ends = row.action in leaving
            if begins != (row.target is processing) or ends != (row.source is processing):
                raise ValidationError(
                    "transitions",
                    row,
                    "only begin_processing enters processing and only "
                    "finish_processing/fail_processing leave it",
                )
            if (begins or ends) == (row.operation is None):
                raise ValidationError(
                    "transitions",
                    row,
                    "processing rows need an operation and no other row may have one",
                )
            for other in rows[:i]:
                if row.overlaps(other):
                    raise ValidationError("transitions", row, f"ambiguous with {other}")

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[ServiceStatus, ServiceAction], list[ServiceTransition]] = {}
        for row in self.transitions:
            index.setdefault((row.source, row.action), []).append(row)
        frozen = {key: tuple(rows) for key, rows in index.items()}
        object.__setattr__(self, "_index", MappingProxyType(frozen))

    def _match(self, context: _Context, step: ServiceStep) -> ServiceTransition | None:
        for row in self._index.get((context.status, step.action), ()):
            if context.admits(row) and (
                step.action is not ServiceAction.BEGIN_PROCESSING or row.operation is step.operation
            ):
                return row
        return None

    def _rows_from(self, context: _Context) -> Iterable[ServiceTransition]:
        return (row for row in self.transitions if context.admits(row))

    def _steps(self, context: _Context, role: ActorRole | None = None) -> tuple[ServiceStep, ...]:
        steps = (row.step for row in self._rows_from(context) if role is None or role in row.roles)
        return tuple(dict.fromkeys(steps))

    def targets(self, status: ServiceStatus) -> frozenset[ServiceStatus]:
        """Every state some row leads to from ``status``, whatever the guards."""
        return frozenset(row.target for row in self.transitions if row.source is status)

    def actions(self, status: ServiceStatus) -> tuple[ServiceAction, ...]:
        """Every action some row allows from ``status``, whatever the guards, in table order.

        >>> [str(a) for a in SERVICE_LIFECYCLE.actions(ServiceStatus.STOPPED_FOR_ABUSE)]
        ['begin_processing', 'unblock', 'renew', 'change_plan', 'delete']
        """
        return tuple(dict.fromkeys(r.action for r in self.transitions if r.source is status))

    def graph(self) -> Mapping[ServiceStatus, frozenset[ServiceStatus]]:
        """Each state with the states it may reach (terminal states map to nothing)."""
        return MappingProxyType({status: self.targets(status) for status in ServiceStatus})


def _build_default() -> ServiceLifecycle:
    s = ServiceStatus
    a = ServiceAction
    op = ServiceOperation
    anyone = frozenset(ActorRole)
    client_side = frozenset({ActorRole.CLIENT, ActorRole.ADMIN})
    staff = frozenset({ActorRole.ADMIN})
    automatic = frozenset({ActorRole.SYSTEM, ActorRole.ADMIN})

    pending = (s.ORDERED, s.SETUP_REQUIRED, s.OUT_OF_STOCK)
    # Running, or switched off by the client: the states a client controls.
    live = (s.ACTIVE, s.SUSPENDED_BY_CLIENT, s.STOPPED_BY_CLIENT)
    blocked = (s.STOPPED_BY_ADMIN, s.STOPPED_FOR_ABUSE)

    rows: list[ServiceTransition] = []

    def add(
        action: ServiceAction,
        sources: Sequence[ServiceStatus],
        target: ServiceStatus | None,
        roles: frozenset[ActorRole],
        *,
        operation: ServiceOperation | None = None,
        billing_mode: BillingMode | None = None,
        paid: bool | None = None,
    ) -> None:
        # ``target=None`` keeps the state: renewals and plan changes record history only.
        rows.extend(
            ServiceTransition(
                src,
                action,
                src if target is None else target,
                roles,
                operation=operation,
                billing_mode=billing_mode,
                paid=paid,
            )
            for src in sources
        )

    add(a.PAY, pending, None, anyone, paid=False)
    add(a.ACTIVATE, (s.ORDERED,), s.ACTIVE, automatic, paid=True)
    add(a.CONFIGURE, (s.SETUP_REQUIRED,), s.ORDERED, client_side)
    add(a.REQUIRE_SETUP, (s.ORDERED,), s.SETUP_REQUIRED, automatic)
    add(a.MARK_OUT_OF_STOCK, (s.ORDERED,), s.OUT_OF_STOCK, automatic)
    add(a.RESTOCK, (s.OUT_OF_STOCK,), s.ORDERED, automatic)
    add(a.CANCEL, pending, s.DELETED, client_side, paid=False)
    add(a.SUSPEND, (s.ACTIVE,), s.SUSPENDED_BY_CLIENT, client_side, billing_mode=BillingMode.DAILY)
    add(a.RESUME, (s.SUSPENDED_BY_CLIENT,), s.ACTIVE, client_side, billing_mode=BillingMode.DAILY)
    add(a.STOP, (s.ACTIVE,), s.STOPPED_BY_CLIENT, client_side, billing_mode=BillingMode.PERIODIC)
    add(a.START, (s.STOPPED_BY_CLIENT,), s.ACTIVE, client_side, billing_mode=BillingMode.PERIODIC)

    # Processing: where each operation may begin, who may begin it, how it ends.
    begins: list[
        tuple[ServiceOperation, Sequence[ServiceStatus], frozenset[ActorRole], bool | None]
    ] = [
        (op.OPENING, (s.ORDERED, s.OUT_OF_STOCK), automatic, True),
        (op.TURNING_OFF, (s.ACTIVE,), client_side, None),
        (op.TURNING_ON, (s.SUSPENDED_BY_CLIENT, s.STOPPED_BY_CLIENT), client_side, None),
        (op.REBOOTING, (s.ACTIVE,), client_side, None),
        (op.RENEWING, (s.ACTIVE, s.EXPIRED), anyone, None),
        (op.TRANSFERRING, (s.ACTIVE,), client_side, None),
        (op.DELETING, (*pending, *live, s.EXPIRED), anyone, None),
        (op.DELETING, blocked, automatic, None),
    ]
    for operation, sources, roles, paid in begins:
        add(a.BEGIN_PROCESSING, sources, s.PROCESSING, roles, operation=operation, paid=paid)

    add(a.BLOCK_BY_ADMIN, live, s.STOPPED_BY_ADMIN, staff)
    add(a.BLOCK_FOR_ABUSE, (*live, s.STOPPED_BY_ADMIN), s.STOPPED_FOR_ABUSE, automatic)
    add(a.UNBLOCK, blocked, s.ACTIVE, staff)
    add(a.EXPIRE, live, s.EXPIRED, automatic)
    add(a.RENEW, (*live, *blocked), None, anyone)
    add(a.RENEW, (s.EXPIRED,), s.ACTIVE, anyone)
    # A client changes plan while the service is active; the billing makes a change once
    # it is paid, in whatever state the service has reached meanwhile (SPEC X1).
    add(a.CHANGE_PLAN, (s.ACTIVE,), None, anyone)
    add(
        a.CHANGE_PLAN,
        (s.SUSPENDED_BY_CLIENT, s.STOPPED_BY_CLIENT, *blocked, s.EXPIRED),
        None,
        frozenset({ActorRole.SYSTEM}),
    )
    add(a.DELETE, (*pending, *live, *blocked, s.EXPIRED), s.DELETED, automatic)

    # Leaving processing: success reaches the state the operation implies; failure goes
    # back where processing began, except that a failed opening means no resources.
    finishes: list[tuple[ServiceOperation, ServiceStatus, BillingMode | None]] = [
        (op.OPENING, s.ACTIVE, None),
        (op.TURNING_OFF, s.SUSPENDED_BY_CLIENT, BillingMode.DAILY),
        (op.TURNING_OFF, s.STOPPED_BY_CLIENT, BillingMode.PERIODIC),
        (op.TURNING_ON, s.ACTIVE, None),
        (op.REBOOTING, s.ACTIVE, None),
        (op.RENEWING, s.ACTIVE, None),
        (op.TRANSFERRING, s.ACTIVE, None),
        (op.DELETING, s.DELETED, None),
    ]
    for operation, target, mode in finishes:
        add(
            a.FINISH_PROCESSING,
            (s.PROCESSING,),
            target,
            automatic,
            operation=operation,
            billing_mode=mode,
        )
    add(a.FAIL_PROCESSING, (s.PROCESSING,), s.OUT_OF_STOCK, automatic, operation=op.OPENING)
    origins: dict[ServiceOperation, list[ServiceStatus]] = {}
    for operation, sources, *_ in begins:
        origins.setdefault(operation, []).extend(sources)
    for operation, sources in origins.items():
        if operation is not op.OPENING:
            rows.extend(
                ServiceTransition(
                    s.PROCESSING, a.FAIL_PROCESSING, origin, automatic, operation, origin
                )
                for origin in sources
            )
    return ServiceLifecycle(rows)


#: The default lifecycle of a hosting service. Read it with :meth:`ServiceLifecycle.targets`,
#: :meth:`ServiceLifecycle.actions` and :meth:`ServiceLifecycle.graph`; docs/services.md prints it.
SERVICE_LIFECYCLE: Final[ServiceLifecycle] = _build_default()


# ----------------------------------------------------------------------------- history


@shared_copies
@attrs.frozen
class ServiceChange:
    """One change of a service, as kept in its history. Never edited.

    Args:
        from_status: the state before (``None`` for the order that created the service).
        to_status: the state after (equal to ``from_status`` for a renewal or payment).
        action: what was done.
        actor: who did it.
        at: when, as an aware datetime.
        reason: why, in words, if given.
        operation: the processing operation the action began or ended, if any.
    """

    from_status: ServiceStatus | None
    to_status: ServiceStatus
    action: ServiceAction
    actor: Actor
    at: datetime = attrs.field(validator=_check_aware)
    reason: str | None = None
    operation: ServiceOperation | None = None

    def __str__(self) -> str:
        what = f"{self.action}({self.operation})" if self.operation else str(self.action)
        text = f"{self.at.isoformat()} {self.actor}: {what} {self.from_status} -> {self.to_status}"
        return f"{text} ({self.reason})" if self.reason else text


class ServiceHistory(Protocol):
    """Where a service's stored records live: read by range, never with the service.

    A store hands each service it loads the history of that service, with the number of
    its records and the time of the last one (what the lifecycle's rules read); the
    records themselves are read only when asked for (a history page, an audit). A
    service never asks for a record past the count it was loaded with.
    """

    def read(self, first: int, last: int) -> Sequence[ServiceChange]:
        """The records numbered ``first`` to ``last`` (from 1, the order), oldest first."""
        ...


def _checked_records(records: Iterable[ServiceChange]) -> list[ServiceChange]:
    found = list(records)
    for record in found:
        if not isinstance(record, ServiceChange):
            raise ValidationError("records", record, "must be ServiceChange records")
    return found


@shared_copies
class ListServiceHistory:
    """A service's history kept in a list: a new service's, and the in-memory store's.

    It is shared, not copied, by the copies of a service (a unit of work's private copy
    reads the same list); only a store appends to it, once a commit is sure.

    >>> history = ListServiceHistory()
    >>> history.read(1, 10), len(history)
    ((), 0)
    """

    __slots__ = ("_records",)

    def __init__(self, records: Iterable[ServiceChange] = ()) -> None:
        self._records = _checked_records(records)

    def read(self, first: int, last: int) -> tuple[ServiceChange, ...]:
        """The records numbered ``first`` to ``last`` (from 1)."""
        return tuple(self._records[max(first, 1) - 1 : max(last, 0)])

    def append(self, records: Iterable[ServiceChange], *, after: int) -> None:
        """Add records after the ``after`` held (a store, once it committed them).

        Raises:
            ConflictError: when the list holds another number of records (someone
                else appended to it meanwhile); nothing is added.
        """
        if after != len(self._records):
            raise ConflictError(
                "service history",
                f"holds {len(self._records)} records, not the {after} the service was read with",
            )
        self._records.extend(records)

    def __len__(self) -> int:
        return len(self._records)


def _initial_context(billing_mode: BillingMode) -> _Context:
    return _Context(ServiceStatus.ORDERED, billing_mode, paid=False)


def _after(context: _Context, row: ServiceTransition) -> _Context:
    processing = row.target is ServiceStatus.PROCESSING
    return attrs.evolve(
        context,
        status=row.target,
        paid=context.paid or row.action is ServiceAction.PAY,
        operation=row.operation if processing else None,
        origin=row.source if processing else None,
    )


def replay_history(
    history: Sequence[ServiceChange],
    billing_mode: BillingMode,
    lifecycle: ServiceLifecycle | None = None,
) -> ServiceStatus:
    """Re-run a history through the lifecycle table and return the state it ends in.

    Each record must start where the previous one ended, be a row of the table that its
    actor's role may take, and reach that row's target. A history that does not replay
    was not produced by :class:`Service` (or was tampered with).

    Args:
        history: the records, oldest first; the first one is the order.
        billing_mode: the service's billing mode (the guards depend on it).
        lifecycle: the table (default :data:`SERVICE_LIFECYCLE`).

    Raises:
        InvalidTransitionError: at the first record that the table does not allow.
        ValidationError: for an empty history.
    """
    table = SERVICE_LIFECYCLE if lifecycle is None else lifecycle
    if not history or history[0].action is not ServiceAction.ORDER:
        raise ValidationError("history", history, "must begin with the order record")
    first = history[0]
    if first.from_status is not None or first.to_status is not ServiceStatus.ORDERED:
        raise InvalidTransitionError(first.from_status, first.to_status, [ServiceStatus.ORDERED])
    context = _initial_context(billing_mode)
    for record in history[1:]:
        step = ServiceStep(
            record.action,
            record.operation if record.action is ServiceAction.BEGIN_PROCESSING else None,
        )
        row = table._match(context, step)  # noqa: SLF001 - replay is the table's own reader
        if (
            record.from_status is not context.status
            or row is None
            or row.target is not record.to_status
            or record.actor.role not in row.roles
        ):
            raise InvalidTransitionError(context.status, step, table._steps(context))  # noqa: SLF001
        context = _after(context, row)
    return context.status


# ----------------------------------------------------------------------------- the aggregate


def _check_ip(_instance: object, _attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is None:
        return
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        raise ValidationError("ip", value, "must be an IPv4 or IPv6 address") from None


def _check_price(_instance: object, _attribute: attrs.Attribute[Money], value: object) -> None:
    if not isinstance(value, moneyed.Money):
        raise ValidationError("price", value, "must be a Money amount")
    Money(value.amount, value.currency).require_non_negative()


def _to_kind(value: ProductKind | str) -> ProductKind:
    if isinstance(value, ProductKind):
        return value
    try:
        return ProductKind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in ProductKind)
        raise ValidationError("kind", value, f"allowed: {allowed}") from None


def _to_mode(value: BillingMode | str) -> BillingMode:
    try:
        return BillingMode(value)
    except ValueError:
        allowed = ", ".join(BillingMode)
        raise ValidationError("billing_mode", value, f"allowed: {allowed}") from None


def _check_period(_instance: object, _attribute: attrs.Attribute[Period], value: object) -> None:
    if not isinstance(value, Period):
        raise ValidationError("period", value, "must be a Period such as Period.months(1)")


def _to_configuration(
    value: Iterable[tuple[str, object]] | Mapping[str, object],
) -> tuple[tuple[str, Decimal], ...]:
    pairs = dict(value.items() if isinstance(value, Mapping) else value)
    result: list[tuple[str, Decimal]] = []
    for name, quantity in sorted(pairs.items()):
        check_id("configuration", name)
        try:
            result.append((name, to_decimal(quantity)))
        except InvalidAmountError as err:
            raise ValidationError(f"configuration {name}", quantity, err.reason) from None
    return tuple(result)


def _day(field: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(field, value, "must be a date")
    return value


def _to_limit_tuple(value: Iterable[Limit] | None) -> tuple[Limit, ...] | None:
    return None if value is None else tuple(value)


@shared_copies
@attrs.frozen
class ScheduledChange:
    """A change of a paid service waiting for its moment (SPEC X1, X2).

    Either a move to another plan, period or configuration, or the end of the service.
    A plan change *now* waits for its invoice (``invoice_id``) to be paid; a change *at
    the period end* is priced by the next renewal and made when that renewal is paid; an
    end at the period end lets the paid period run out, then the service is deleted.

    Args:
        at_period_end: whether it waits for the end of the paid period (else for its
            invoice to be paid).
        requested_at: when the client asked for it.
        plan_id: the plan to move to; ``None`` when the service ends.
        plan_name: that plan's name.
        price: what one ``period`` of the new plan and configuration costs.
        period: the billing period from the change on.
        prices: the new plan's price per period for the configuration (see
            :attr:`Service.prices`).
        configuration: the add-on quantities from the change on.
        invoice_id: the invoice that pays for it, for a change now.
        renewal_period: the automatic renewal's period before a change at the period
            end, given back to it when the change is withdrawn.
        limits: the new plan's capped metrics (SPEC C7); ``None`` keeps the service's.
    """

    at_period_end: bool = attrs.field(validator=_is(bool))
    requested_at: datetime = attrs.field(validator=_check_aware)
    plan_id: str | None = None
    plan_name: str | None = None
    price: Money | None = None
    period: Period | None = None
    prices: PriceList = attrs.field(factory=lambda: PriceList(()))
    configuration: tuple[tuple[str, Decimal], ...] = attrs.field(
        default=(), converter=_to_configuration
    )
    invoice_id: str | None = None
    renewal_period: Period | None = None
    limits: tuple[Limit, ...] | None = attrs.field(default=None, converter=_to_limit_tuple)

    def __attrs_post_init__(self) -> None:
        given = [v is not None for v in (self.plan_id, self.plan_name, self.price, self.period)]
        if any(given) and not all(given):
            raise ValidationError(
                "plan", self.plan_id, "a plan change names its plan, name, price and period"
            )
        if self.ends and not self.at_period_end:
            raise ValidationError(
                "at_period_end", self.at_period_end, "a service ends at its period end"
            )

    @property
    def ends(self) -> bool:
        """Whether the service ends (rather than changes plan)."""
        return self.plan_id is None

    def __str__(self) -> str:
        when = "at the period end" if self.at_period_end else "once paid"
        if self.ends:
            return f"ends {when}"
        return f"moves to plan {self.plan_id} ({self.period}, {self.price}) {when}"


@attrs.define(on_setattr=attrs.setters.frozen)
class Service:
    """A service a customer ordered, with its state, paid period and history.

    Fields cannot be assigned: every change goes through a method that checks the
    lifecycle table and appends a :class:`ServiceChange` (:meth:`set_auto_renew` and
    :meth:`extend_paid_until`, which do not change the state, are the exceptions).
    Create new services with :meth:`order`; the constructor is for loading stored ones,
    which a store then gives their history (:meth:`attach`).

    A service holds the number of its records and the time of the last one, not the
    records: a stored service reads them from its :class:`ServiceHistory` by range when
    asked (:meth:`changes`, :attr:`history`), so loading and renewing it cost the same
    after a thousand changes as after three. What is recorded in the unit of work is
    kept apart (:meth:`unsaved`) until the store writes it. Two services are equal when
    their fields, their number of records and the time of the last one are; compare
    their :attr:`history` to compare every record.

    Args:
        id: the order number shown to the customer.
        account_id: the owning account.
        plan_id: the tariff plan's id.
        plan_name: the tariff plan's name as shown.
        kind: what is sold (:class:`~cabinet_billing.domain.catalog.ProductKind` or its value).
        price: the price per billing period.
        period: the billing period.
        created_at: when it was ordered (aware).
        billing_mode: daily or periodic billing.
        ip: the main IP address, if any.
        paid_until: the end of the paid period, or ``None`` before the first payment.
        anchor: the first day of the first full paid period, from which every period is
            counted: period ``n`` ends at ``anchor + n * period``, so a service started on
            the 31st renews on the last day of short months and comes back to the 31st.
            For an order prorated up to an alignment day it is the start of the full
            period the prorated days belong to. ``None`` until known: the order may give
            it, else :meth:`mark_paid` works it out.
        auto_renew: whether it renews automatically.
        prices: what one period of the ordered configuration costs for each period its
            plan sells, in the service's currency, as priced at order time; a renewal
            for another period than ``period`` is priced from it (see :meth:`price_for`).
            Empty: only ``period`` is sold, at ``price``.
        configuration: the chosen quantity of each add-on of the plan, as ordered
            (e.g. ``(("ipv4", Decimal(2)),)``).
        limits: the plan's capped metrics with their latest counts (SPEC C7).
        paid: ``False`` while the order awaits payment.
        status: the current state.
        operation: the operation under way while processing.
        processing_origin: the state processing began in.
        scheduled: a change of plan or period, or the end of the service, that waits
            for its invoice or for the end of the paid period (SPEC X1, X2).
        lifecycle: the transition table (default :data:`SERVICE_LIFECYCLE`).

    Raises:
        ValidationError: for empty ids, a naive ``created_at``, a bad IP, or a processing
            state without an operation (or an operation outside processing).
    """

    id: str = attrs.field(validator=_check_id)
    account_id: str = attrs.field(validator=_check_id)
    plan_id: str = attrs.field(validator=_check_id)
    plan_name: str = attrs.field(validator=_check_name)
    kind: ProductKind = attrs.field(converter=_to_kind)
    price: Money = attrs.field(validator=_check_price)
    period: Period = attrs.field(validator=_check_period)
    created_at: datetime = attrs.field(validator=_check_aware)
    billing_mode: BillingMode = attrs.field(default=BillingMode.PERIODIC, converter=_to_mode)
    ip: str | None = attrs.field(default=None, validator=_check_ip)
    paid_until: date | None = attrs.field(default=None, validator=_maybe(_is(date)))
    anchor: date | None = attrs.field(default=None, validator=_maybe(_is(date)))
    auto_renew: bool = attrs.field(default=False, validator=_is(bool))
    prices: PriceList = attrs.field(
        factory=lambda: PriceList(()), validator=attrs.validators.instance_of(PriceList)
    )
    configuration: tuple[tuple[str, Decimal], ...] = attrs.field(
        default=(), converter=_to_configuration
    )
    limits: PlanLimits = attrs.field(
        factory=lambda: PlanLimits(()), validator=attrs.validators.instance_of(PlanLimits)
    )
    paid: bool = attrs.field(default=False, validator=_is(bool))
    status: ServiceStatus = attrs.field(
        default=ServiceStatus.ORDERED,
        validator=attrs.validators.instance_of(ServiceStatus),
    )
    operation: ServiceOperation | None = attrs.field(
        default=None, validator=_maybe(_is(ServiceOperation))
    )
    processing_origin: ServiceStatus | None = attrs.field(
        default=None,
        validator=_maybe(_is(ServiceStatus)),
    )
    scheduled: ScheduledChange | None = attrs.field(
        default=None, validator=_maybe(_is(ScheduledChange))
    )
    lifecycle: ServiceLifecycle = attrs.field(default=SERVICE_LIFECYCLE, eq=False, repr=False)
    _count: int = attrs.field(default=0, init=False)
    """How many records the history holds, stored and new."""
    _last_at: datetime | None = attrs.field(default=None, init=False)
    """When the last record was made (None: no record)."""
    _stored: int = attrs.field(default=0, init=False, eq=False, repr=False)
    _new: tuple[ServiceChange, ...] = attrs.field(default=(), init=False, eq=False, repr=False)
    _history: ServiceHistory = attrs.field(
        factory=ListServiceHistory, init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        processing = self.status is ServiceStatus.PROCESSING
        if processing != (self.operation is not None) or processing != (
            self.processing_origin is not None
        ):
            raise ValidationError(
                "operation",
                self.operation,
                "a processing service needs an operation and an origin; others have neither",
            )

    # ------------------------------------------------------------------ creation

    @classmethod
    def order(
        cls,
        *,
        id: str,  # noqa: A002 - the order number is called id everywhere in the cabinets
        account_id: str,
        plan_id: str,
        plan_name: str,
        kind: ProductKind | str,
        price: Money,
        period: Period,
        created_at: datetime,
        actor: Actor,
        billing_mode: BillingMode | str = BillingMode.PERIODIC,
        ip: str | None = None,
        auto_renew: bool = False,
        reason: str | None = None,
        lifecycle: ServiceLifecycle = SERVICE_LIFECYCLE,
        anchor: date | None = None,
        prices: PriceList | None = None,
        configuration: Mapping[str, object] | None = None,
        limits: PlanLimits | None = None,
    ) -> Service:
        """Create a service in :attr:`ServiceStatus.ORDERED`, awaiting payment.

        The first history record is the order itself, at ``created_at``. ``anchor`` is
        the first day of the cycle the order pays into, when the order knows it (a cart
        line's :attr:`~cabinet_billing.domain.cart.OrderLine.anchor`); without it the
        first payment works it out (see :meth:`mark_paid`). ``prices`` is what the plan
        sells the configuration for per period (see
        :meth:`~cabinet_billing.domain.catalog.Plan.price_list`).
        """
        _check_aware(None, attrs.fields(cls).created_at, created_at)
        record = ServiceChange(
            None, ServiceStatus.ORDERED, ServiceAction.ORDER, actor, created_at, reason
        )
        service = cls(
            id=id,
            account_id=account_id,
            plan_id=plan_id,
            plan_name=plan_name,
            kind=_to_kind(kind),
            price=price,
            period=period,
            created_at=created_at,
            billing_mode=_to_mode(billing_mode),
            ip=ip,
            auto_renew=auto_renew,
            anchor=anchor,
            prices=PriceList(()) if prices is None else prices,
            configuration=_to_configuration(configuration or {}),
            limits=PlanLimits(()) if limits is None else limits,
            lifecycle=lifecycle,
        )
        service._set(_new=(record,), _count=1, _last_at=created_at)
        return service

    # ------------------------------------------------------------------ stores

    def attach(self, history: ServiceHistory, count: int, last_at: datetime | None = None) -> Self:
        """Give a service read from a store its history: ``count`` records stored there.

        For stores. ``last_at`` is when the last record was made; without it the last
        record is read from ``history`` and must end in the service's status.

        Raises:
            ConflictError: when the service has records not yet stored.
            ValidationError: for a negative count, or a last record that does not end
                in the service's status.
        """
        if self._new:
            raise ConflictError(f"service {self.id}", "has records not yet stored")
        if count < 0:
            raise ValidationError("count", count, "must be a number of records, 0 or more")
        if count and last_at is None:
            (last,) = history.read(count, count)
            if last.to_status is not self.status:
                raise ValidationError(
                    "status", self.status, f"the history ends in {last.to_status}"
                )
            last_at = last.at
        self._set(_history=history, _stored=count, _count=count, _last_at=last_at)
        return self

    def restore_history(self, records: Iterable[ServiceChange]) -> Self:
        """Give a service made by the constructor (an import) every record, oldest first.

        The records are unsaved: a store writes them with the service.

        Raises:
            ConflictError: when the service has records already.
            ValidationError: for something that is not a record, or a last record that
                does not end in the service's status.
        """
        if self._count:
            raise ConflictError(f"service {self.id}", "has its records already")
        found = tuple(_checked_records(records))
        if found and found[-1].to_status is not self.status:
            raise ValidationError(
                "status", self.status, f"the history ends in {found[-1].to_status}"
            )
        last_at = found[-1].at if found else None
        self._set(_new=found, _count=len(found), _last_at=last_at)
        return self

    @property
    def stored_history(self) -> ServiceHistory:
        """Where the stored records are read from."""
        return self._history

    def unsaved(self) -> tuple[ServiceChange, ...]:
        """The records made since the service was loaded (what a store has to write)."""
        return self._new

    def saved(self) -> None:
        """The store wrote :meth:`unsaved` to the history: they are stored records now."""
        self._set(_stored=self._count, _new=())

    # ------------------------------------------------------------------ history

    @property
    def history(self) -> tuple[ServiceChange, ...]:
        """Every change, oldest first (the first is the order), read when asked for.

        A stored service reads every record from its history here: what a host that
        shows or audits the whole history asks for, never what the billing reads. A page
        of it is :meth:`changes`.
        """
        return self.changes()

    def changes(self, first: int = 1, last: int | None = None) -> tuple[ServiceChange, ...]:
        """The records numbered ``first`` to ``last`` (from 1, the order), oldest first.

        Only those records are read from the store.

        >>> from datetime import datetime, timezone
        >>> from cabinet_billing import Money, Period
        >>> at = datetime(2024, 1, 31, tzinfo=timezone.utc)
        >>> s = Service.order(id="1", account_id="a", plan_id="p", plan_name="P", kind="vps",
        ...     price=Money("100.00", "RUB"), period=Period.months(), created_at=at,
        ...     actor=Actor.system())
        >>> _ = s.mark_paid(date(2024, 2, 29), Actor.system(), at)
        >>> _ = s.activate(Actor.system(), at)
        >>> s.change_count, [str(c.action) for c in s.changes(2, 3)]
        (3, ['pay', 'activate'])
        """
        stored = self._stored
        top = self._count if last is None else min(last, self._count)
        first = max(first, 1)
        if first > top:
            return ()
        found: tuple[ServiceChange, ...] = ()
        if first <= stored:
            found = tuple(self._history.read(first, min(top, stored)))
        if top > stored:
            found += self._new[max(first - stored, 1) - 1 : top - stored]
        return found

    @property
    def change_count(self) -> int:
        """How many records the history holds (1 for a new order)."""
        return self._count

    @property
    def last_change(self) -> ServiceChange | None:
        """The latest record (read from the store when it is a stored one)."""
        found = self.changes(self._count, self._count)
        return found[0] if found else None

    @property
    def last_changed_at(self) -> datetime:
        """When the latest record was made (the order's time for a service without one)."""
        return self.created_at if self._last_at is None else self._last_at

    # ------------------------------------------------------------------ queries

    def _context(self) -> _Context:
        return _Context(
            self.status,
            self.billing_mode,
            self.paid,
            self.operation,
            self.processing_origin,
        )

    @property
    def awaiting_payment(self) -> bool:
        """Whether the order still waits for its first payment (AC "ждут оплаты")."""
        return not self.paid

    def available_steps(self, role: ActorRole | None = None) -> tuple[ServiceStep, ...]:
        """The steps the table allows now, for ``role`` (or for anyone), in table order."""
        return self.lifecycle._steps(self._context(), role)  # noqa: SLF001 - own table

    def can(self, step: ServiceStep | ServiceAction, role: ActorRole) -> bool:
        """Whether ``role`` may take ``step`` now."""
        wanted = step if isinstance(step, ServiceStep) else ServiceStep(step)
        row = self.lifecycle._match(self._context(), wanted)  # noqa: SLF001 - own table
        return row is not None and role in row.roles

    def days_left(self, today: date) -> int | None:
        """Whole days until ``paid_until`` (0 once passed; ``None`` before any payment).

        Args:
            today: the current billing day, in the provider's time zone.
        """
        return None if self.paid_until is None else _days_left(self.paid_until, today)

    # ------------------------------------------------------------------ plain settings

    def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            object.__setattr__(self, name, value)

    def _require_not_deleted(self, what: str) -> None:
        if self.status is ServiceStatus.DELETED:
            raise ConflictError(f"service {self.id}", f"is deleted; cannot {what}")

    def _checked_paid_until(self, new_date: object) -> date:
        if not isinstance(new_date, date) or isinstance(new_date, datetime):
            raise ValidationError("paid_until", new_date, "must be a date")
        if self.paid_until is not None and new_date < self.paid_until:
            raise ValidationError(
                "paid_until",
                new_date,
                f"must not go back before the current {self.paid_until.isoformat()}",
            )
        return new_date

    def extend_paid_until(self, new_date: date) -> None:
        """Move the end of the paid period to ``new_date``; it never goes backwards.

        This changes no state and records no history; to renew, use :meth:`renew`.

        Raises:
            ValidationError: when ``new_date`` is before the current ``paid_until``.
            ConflictError: when the service is deleted.
        """
        self._require_not_deleted("extend the paid period")
        self._set(paid_until=self._checked_paid_until(new_date))

    def next_paid_until(self, periods: int = 1) -> date:
        """The paid-until date after renewing ``periods`` billing periods.

        Periods are counted from :attr:`anchor` (see :class:`BillingCycle`), never by
        chaining period ends: period ``n`` ends at ``anchor + n * period``.

        Raises:
            ConflictError: when the service has never been paid.

        >>> from datetime import datetime, timezone
        >>> from cabinet_billing import Money, Period
        >>> at = datetime(2024, 1, 31, tzinfo=timezone.utc)
        >>> s = Service.order(id="1", account_id="a", plan_id="p", plan_name="P", kind="vps",
        ...     price=Money("100.00", "RUB"), period=Period.months(), created_at=at,
        ...     actor=Actor.system())
        >>> _ = s.mark_paid(date(2024, 2, 29), Actor.system(), at)
        >>> s.anchor.isoformat(), s.next_paid_until().isoformat(), s.next_paid_until(2).isoformat()
        ('2024-01-31', '2024-03-31', '2024-04-30')
        """
        if self.paid_until is None:
            raise ConflictError(f"service {self.id}", "has never been paid; nothing to renew")
        return BillingCycle(self.anchor or self.paid_until, self.period).extend(
            self.paid_until,
            periods,
        )

    def price_for(self, period: Period | str) -> Money:
        """What one period of this service costs: its own price, or the plan's for another.

        Raises:
            ValidationError: for a period that cannot be read.
            PriceNotFoundError: when the plan sells the service for no such period in its
                currency; the error names the periods it is sold for.

        >>> from datetime import datetime, timezone
        >>> from cabinet_billing import Money, Period
        >>> s = Service.order(id="1", account_id="a", plan_id="p", plan_name="P", kind="vps",
        ...     price=Money("100.00", "RUB"), period=Period.months(),
        ...     created_at=datetime(2024, 1, 1, tzinfo=timezone.utc), actor=Actor.system(),
        ...     prices=PriceList({"day": Money("20.00", "RUB"), "month": Money("100.00", "RUB"),
        ...                       "year": Money("1200.00", "RUB")}))
        >>> s.price_for("year"), s.price_for(Period.months())
        (Money('1200.00', 'RUB'), Money('100.00', 'RUB'))
        >>> s.price_for("quarter")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.PriceNotFoundError: no price for plan 'p' for 3 months in RUB; available: 1 day RUB, 1 month RUB, 1 year RUB
        """
        wanted = Period.parse(period)
        if wanted == self.period:
            return self.price
        code = self.price.code
        sold = self.prices if self.prices.periods(code) else PriceList({self.period: self.price})
        return sold.get(wanted, code, f"plan {self.plan_id!r}")

    def assign_ip(self, ip: str | None) -> None:
        """Keep the service's main IP address (as the control panel assigned it).

        Raises:
            ValidationError: for text that is not an IPv4 or IPv6 address.
            ConflictError: when the service is deleted.
        """
        self._require_not_deleted("assign an IP address")
        _check_ip(self, attrs.fields(Service).ip, ip)
        self._set(ip=ip)

    def set_auto_renew(self, enabled: bool) -> None:
        """Switch automatic renewal on or off.

        Raises:
            ConflictError: when the service is deleted.
        """
        self._require_not_deleted("change auto-renewal")
        self._set(auto_renew=bool(enabled))

    def schedule(self, change: ScheduledChange) -> None:
        """Keep a change for later (SPEC X1, X2).

        A plan change waits for its invoice or the period end; an end, for the period end.

        Raises:
            ConflictError: when the service is deleted, was never paid, or already has a
                scheduled change (withdraw it first).
            ValidationError: for something that is not a :class:`ScheduledChange`.
        """
        if not isinstance(change, ScheduledChange):
            raise ValidationError("change", change, "must be a ScheduledChange")
        self._require_not_deleted("schedule a change")
        if self.paid_until is None:
            raise ConflictError(f"service {self.id}", "has never been paid; nothing to change")
        if self.scheduled is not None:
            raise ConflictError(
                f"service {self.id}",
                f"already {self.scheduled}; withdraw that change first",
            )
        self._set(scheduled=change)

    def withdraw_scheduled(self) -> ScheduledChange:
        """Drop the scheduled change and return it.

        Raises:
            ConflictError: when nothing is scheduled.
        """
        change = self.scheduled
        if change is None:
            raise ConflictError(f"service {self.id}", "has no scheduled change to withdraw")
        self._set(scheduled=None)
        return change

    def renewal_terms(self, periods: int = 1) -> tuple[str, Money, date]:
        """The plan name, price and paid-until date of renewing ``periods`` periods.

        A plan or period change scheduled for the period end is what the renewal buys:
        its price, and periods of its length counted from the current paid-until date.

        Raises:
            ConflictError: when the service has never been paid, or ends at its period
                end (withdraw that first).
        """
        change = self.scheduled
        if change is None or not change.at_period_end:
            return self.plan_name, self.price * periods, self.next_paid_until(periods)
        if change.ends or self.paid_until is None:
            raise ConflictError(
                f"service {self.id}",
                "ends at its period end; withdraw that to renew it",
            )
        assert change.plan_name is not None  # noqa: S101 - a plan change names all four
        assert change.price is not None  # noqa: S101
        assert change.period is not None  # noqa: S101
        if change.period == self.period:
            until = self.next_paid_until(periods)
        else:
            until = BillingCycle(self.paid_until, change.period).extend(self.paid_until, periods)
        return change.plan_name, change.price * periods, until

    @property
    def next_plan_name(self) -> str:
        """The name of the plan the next renewal buys (a change at the period end names it)."""
        change = self.scheduled
        if change is not None and change.at_period_end and change.plan_name is not None:
            return change.plan_name
        return self.plan_name

    def apply_scheduled(self, actor: Actor, at: datetime, reason: str | None = None) -> bool:
        """Make the scheduled plan change, if there is one and the state allows it.

        Returns:
            Whether the plan changed.
        """
        change = self.scheduled
        if change is None or change.ends or not self.can(ServiceAction.CHANGE_PLAN, actor.role):
            return False
        assert change.plan_id is not None  # noqa: S101 - a plan change names all four
        assert change.plan_name is not None  # noqa: S101
        assert change.price is not None  # noqa: S101
        why = f"plan {self.plan_id} -> {change.plan_id}"
        self.change_plan(
            change.plan_id,
            change.plan_name,
            change.price,
            actor=actor,
            at=at,
            reason=why if reason is None else f"{why}, {reason}",
            period=change.period,
            prices=change.prices,
            configuration=dict(change.configuration),
            limits=change.limits,
        )
        return True

    # ------------------------------------------------------------------ transitions

    def _apply(
        self,
        step: ServiceStep,
        actor: Actor,
        at: datetime,
        reason: str | None,
        prepare: Callable[[], Mapping[str, object]] | None = None,
    ) -> ServiceChange:
        """Check ``step`` against the table, then change the state and record it.

        ``prepare`` validates the action's own arguments and returns the fields they
        change; it runs once the step is known to be allowed, so that a refused step is
        reported as such before any complaint about its arguments. Everything is checked
        before anything changes: a refusal leaves the service exactly as it was.
        """
        if not isinstance(actor, Actor):
            raise ValidationError("actor", actor, "must be an Actor")
        _check_aware(None, attrs.fields(ServiceChange).at, at)
        last = self.last_changed_at
        if at < last:
            raise ValidationError("at", at, f"must not be before the last change at {last}")
        context = self._context()
        row = self.lifecycle._match(context, step)  # noqa: SLF001 - own table
        if row is None:
            raise InvalidTransitionError(
                self.status,
                step,
                self.lifecycle._steps(context),  # noqa: SLF001 - own table
            )
        if actor.role not in row.roles:
            may = " or ".join(sorted(row.roles))
            raise AccessDeniedError(
                actor,
                str(step),
                f"only {may} may do this while the service is {self.status}",
            )
        changes = {} if prepare is None else prepare()
        record = ServiceChange(
            self.status,
            row.target,
            step.action,
            actor,
            at,
            reason,
            row.operation,
        )
        after = _after(context, row)
        self._set(
            **changes,
            status=after.status,
            paid=after.paid,
            operation=after.operation,
            processing_origin=after.origin,
            _new=(*self._new, record),
            _count=self._count + 1,
            _last_at=at,
        )
        return record

    def _on_cycle(self, anchor: date | None, until: date, period: Period | None = None) -> bool:
        return (
            anchor is not None
            and anchor < until
            and BillingCycle(anchor, period or self.period).is_boundary(until)
        )

    def _anchor_for(self, until: date, starts: Sequence[date], *, given: bool = False) -> date:
        """The anchor of a paid range ending ``until``.

        The current anchor when ``until`` is on its cycle (and a ``given`` start is on it
        too: the range continues the cycle), else the first of ``starts`` that the range
        is whole periods from, else the anchor of a shorter first range from ``starts[0]``.
        """
        current = self.anchor
        if (
            current is not None
            and self._on_cycle(current, until)
            and (not given or starts[0] == current or self._on_cycle(current, starts[0]))
        ):
            return current
        for start in starts:
            if self._on_cycle(start, until):
                return start
        if current is not None and self._on_cycle(current, until):
            return current
        first = starts[0]
        if not until > first:
            return until - self.period.delta()
        return cycle_anchor(first, until, self.period)

    def mark_paid(
        self,
        until: date,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
        *,
        starts_on: date | None = None,
    ) -> ServiceChange:
        """Record the first payment of an order; it is paid until ``until``.

        The paid range starts on ``starts_on`` (default: the day of the order, as the
        cart prices it). The service's :attr:`anchor` becomes the first day of that range
        when the range is whole periods, as a service ordered on 31 January and paid until
        29 February is anchored on 31 January and renews until 31 March; a shorter
        (prorated) range keeps the anchor the order gave, or else ends period 0 of a
        cycle anchored one period before ``until`` (see
        :func:`~cabinet_billing.domain.periods.cycle_anchor`).

        Raises:
            InvalidTransitionError: when the order is already paid or not pending.
            ValidationError: when ``until`` goes backwards or ``starts_on`` is not a date.
        """

        def prepare() -> Mapping[str, object]:
            new_date = self._checked_paid_until(until)
            if starts_on is None:
                anchor = self._anchor_for(new_date, [self.created_at.date()])
            else:
                anchor = self._anchor_for(new_date, [_day("starts_on", starts_on)], given=True)
            return {"paid_until": new_date, "anchor": anchor}

        return self._apply(ServiceStep(ServiceAction.PAY), actor, at, reason, prepare)

    def activate(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Open a paid order at once (without a processing phase)."""
        return self._apply(ServiceStep(ServiceAction.ACTIVATE), actor, at, reason)

    def configure(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """The missing parameters of a quick order were filled in: back to ordered."""
        return self._apply(ServiceStep(ServiceAction.CONFIGURE), actor, at, reason)

    def require_setup(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """The order needs parameters before it can be opened."""
        return self._apply(ServiceStep(ServiceAction.REQUIRE_SETUP), actor, at, reason)

    def mark_out_of_stock(
        self,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
    ) -> ServiceChange:
        """The control panel has no resources to open the order."""
        return self._apply(ServiceStep(ServiceAction.MARK_OUT_OF_STOCK), actor, at, reason)

    def restock(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Resources are available again: back to ordered."""
        return self._apply(ServiceStep(ServiceAction.RESTOCK), actor, at, reason)

    def suspend(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Pause a daily-billed service (the client's "temporarily stopped")."""
        return self._apply(ServiceStep(ServiceAction.SUSPEND), actor, at, reason)

    def resume(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Resume a suspended daily-billed service."""
        return self._apply(ServiceStep(ServiceAction.RESUME), actor, at, reason)

    def stop(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Stop a periodically billed service at the client's request."""
        return self._apply(ServiceStep(ServiceAction.STOP), actor, at, reason)

    def start(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Start a service the client had stopped."""
        return self._apply(ServiceStep(ServiceAction.START), actor, at, reason)

    def block_by_admin(
        self, actor: Actor, at: datetime, reason: str | None = None
    ) -> ServiceChange:
        """Stop the service by the provider's decision."""
        return self._apply(ServiceStep(ServiceAction.BLOCK_BY_ADMIN), actor, at, reason)

    def block_for_abuse(
        self,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
    ) -> ServiceChange:
        """Stop the service for exceeding the abuse limit (automatically or by staff)."""
        return self._apply(ServiceStep(ServiceAction.BLOCK_FOR_ABUSE), actor, at, reason)

    def unblock(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Lift an administrator's or an abuse stop; only staff may."""
        return self._apply(ServiceStep(ServiceAction.UNBLOCK), actor, at, reason)

    def expire(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """The paid period ended without renewal."""
        return self._apply(ServiceStep(ServiceAction.EXPIRE), actor, at, reason)

    def _renewal_anchor(self, until: date, starts_on: date | None, at: datetime) -> date:
        if starts_on is not None:
            return self._anchor_for(until, [_day("starts_on", starts_on)], given=True)
        starts = [d for d in (self.paid_until, at.date()) if d is not None]
        return self._anchor_for(until, starts)

    def renew(
        self,
        until: date,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
        *,
        starts_on: date | None = None,
    ) -> ServiceChange:
        """Extend the paid period to ``until``; an expired service becomes active again.

        A renewal to a boundary of the service's cycle (``anchor + n * period``, what
        :meth:`next_paid_until` gives) keeps the anchor. A renewal off the cycle (a
        service that comes back on the day it is renewed) starts a new cycle: anchored
        on ``starts_on`` when given, else on the old paid-until date or on the day of
        ``at`` when ``until`` is whole periods from it, so that later periods are counted
        from the new start and never chained.

        Raises:
            ValidationError: unless ``until`` is after the current ``paid_until``.
            InvalidTransitionError: when the state allows no renewal.
        """

        def prepare() -> Mapping[str, object]:
            new_date = self._checked_paid_until(until)
            if new_date == self.paid_until:
                raise ValidationError(
                    "until",
                    until,
                    f"a renewal must end after the current {new_date.isoformat()}",
                )
            return {"paid_until": new_date, "anchor": self._renewal_anchor(new_date, starts_on, at)}

        return self._apply(ServiceStep(ServiceAction.RENEW), actor, at, reason, prepare)

    def change_plan(
        self,
        plan_id: str,
        plan_name: str,
        price: Money,
        *,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
        period: Period | None = None,
        prices: PriceList | None = None,
        configuration: Mapping[str, object] | None = None,
        limits: Iterable[Limit] | None = None,
    ) -> ServiceChange:
        """Move an active service to another plan (and optionally another period).

        The price difference is the business of the proration rules; this records the
        change. Without a ``reason`` the record says which plan it left and joined.
        ``prices`` and ``configuration`` replace the service's price list and add-on
        quantities when given; ``limits``, the capped metrics (SPEC C7), keeping the
        latest count of every metric the new plan caps too. A change scheduled on the
        service is done with.
        """

        def prepare() -> Mapping[str, object]:
            fields = attrs.fields(Service)
            _check_id(None, fields.plan_id, plan_id)
            _check_name(None, fields.plan_name, plan_name)
            _check_price(None, fields.price, price)
            new_period = self.period if period is None else period
            _check_period(None, fields.period, new_period)
            if prices is not None and not isinstance(prices, PriceList):
                raise ValidationError("prices", prices, "must be a PriceList")
            chosen = (
                self.configuration if configuration is None else _to_configuration(configuration)
            )
            capped = self.limits
            if limits is not None:
                capped = PlanLimits(tuple(limits))
                for metric, count in self.limits.counts.items():
                    if metric in capped.limits:
                        capped.refresh(metric, count.current, count.as_of)
            anchor = self.anchor
            if (
                new_period != self.period
                and self.paid_until is not None
                and not self._on_cycle(anchor, self.paid_until, new_period)
            ):
                # The new period's cycle starts where the paid period ends.
                anchor = self.paid_until
            return {
                "plan_id": plan_id,
                "plan_name": plan_name,
                "price": price,
                "period": new_period,
                "anchor": anchor,
                "prices": self.prices if prices is None else prices,
                "configuration": chosen,
                "limits": capped,
                "scheduled": None,
            }

        why = f"plan {self.plan_id} -> {plan_id}" if reason is None else reason
        return self._apply(ServiceStep(ServiceAction.CHANGE_PLAN), actor, at, why, prepare)

    def begin_processing(
        self,
        operation: ServiceOperation,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
    ) -> ServiceChange:
        """Start an operation in the control panel; the service is processing until it ends."""
        return self._apply(
            ServiceStep(ServiceAction.BEGIN_PROCESSING, operation), actor, at, reason
        )

    def finish_processing(
        self,
        actor: Actor,
        at: datetime,
        reason: str | None = None,
        paid_until: date | None = None,
    ) -> ServiceChange:
        """The operation succeeded: go to the state it implies.

        Opening, turning on, rebooting, renewing and transferring end active; turning
        off ends suspended (daily billing) or stopped (periodic); deleting ends deleted.

        Args:
            actor: who reports it (the system or staff).
            at: when.
            reason: why, in words.
            paid_until: the new end of the paid period, for a renewal that set one.
        """

        def prepare() -> Mapping[str, object]:
            if paid_until is None:
                return {}
            new_date = self._checked_paid_until(paid_until)
            if new_date == self.paid_until:
                return {"paid_until": new_date}
            return {"paid_until": new_date, "anchor": self._renewal_anchor(new_date, None, at)}

        return self._apply(ServiceStep(ServiceAction.FINISH_PROCESSING), actor, at, reason, prepare)

    def fail_processing(
        self, actor: Actor, at: datetime, reason: str | None = None
    ) -> ServiceChange:
        """The operation failed: back to where it began (a failed opening: out of stock)."""
        return self._apply(ServiceStep(ServiceAction.FAIL_PROCESSING), actor, at, reason)

    def cancel(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Cancel an order that has not been paid."""
        return self._apply(ServiceStep(ServiceAction.CANCEL), actor, at, reason)

    def delete(self, actor: Actor, at: datetime, reason: str | None = None) -> ServiceChange:
        """Delete the service at once (staff or the billing; clients begin ``deleting``)."""
        return self._apply(ServiceStep(ServiceAction.DELETE), actor, at, reason)
