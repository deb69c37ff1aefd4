"""Random command sequences against the service lifecycle (SPEC C5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import (
    SERVICE_LIFECYCLE,
    Actor,
    ActorRole,
    BillingMode,
    Service,
    ServiceAction,
    ServiceChange,
    ServiceOperation,
    ServiceStatus,
    ServiceStep,
    replay_history,
)
from cabinet_billing.errors import AccessDeniedError, InvalidTransitionError, ValidationError

T0 = datetime(2023, 4, 27, 10, 0, tzinfo=UTC)
FIRST_DAY = date(2023, 5, 27)

# Actions whose method takes only (actor, at, reason).
SIMPLE = {
    ServiceAction.ACTIVATE: Service.activate,
    ServiceAction.CONFIGURE: Service.configure,
    ServiceAction.REQUIRE_SETUP: Service.require_setup,
    ServiceAction.MARK_OUT_OF_STOCK: Service.mark_out_of_stock,
    ServiceAction.RESTOCK: Service.restock,
    ServiceAction.SUSPEND: Service.suspend,
    ServiceAction.RESUME: Service.resume,
    ServiceAction.STOP: Service.stop,
    ServiceAction.START: Service.start,
    ServiceAction.BLOCK_BY_ADMIN: Service.block_by_admin,
    ServiceAction.BLOCK_FOR_ABUSE: Service.block_for_abuse,
    ServiceAction.UNBLOCK: Service.unblock,
    ServiceAction.EXPIRE: Service.expire,
    ServiceAction.FINISH_PROCESSING: Service.finish_processing,
    ServiceAction.FAIL_PROCESSING: Service.fail_processing,
    ServiceAction.CANCEL: Service.cancel,
    ServiceAction.DELETE: Service.delete,
}

# Every step a caller can ask for.
ALL_STEPS = [
    *(ServiceStep(action) for action in sorted(SIMPLE)),
    *(ServiceStep(ServiceAction.BEGIN_PROCESSING, operation) for operation in ServiceOperation),
    ServiceStep(ServiceAction.PAY),
    ServiceStep(ServiceAction.RENEW),
    ServiceStep(ServiceAction.CHANGE_PLAN),
]

Command = Callable[[Actor, datetime], ServiceChange]

# Every state some row reaches, plus the state every service starts in.
REACHABLE = {ServiceStatus.ORDERED} | {row.target for row in SERVICE_LIFECYCLE.transitions}


def snapshot(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, a.name) for a in attrs.fields(Service))


class ServiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.service: Service | None = None
        self.clock = T0
        self.accepted = 0
        self.refused = 0

    @property
    def svc(self) -> Service:
        assert self.service is not None
        return self.service

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    @initialize(mode=st.sampled_from(BillingMode))
    def order(self, mode: BillingMode) -> None:
        self.service = Service.order(
            id="1",
            account_id="acc",
            plan_id="vps-s",
            plan_name="VPS S",
            kind="vps",
            price=Money("100.00", "RUB"),
            period=Period.months(),
            created_at=T0,
            actor=Actor.client("alice"),
            billing_mode=mode,
        )

    def attempt(
        self,
        step: ServiceStep,
        role: ActorRole,
        call: Callable[[Actor, datetime], ServiceChange],
        *,
        bad_arguments: bool = False,
    ) -> None:
        service = self.svc
        before = snapshot(service)
        history = service.history
        for_anyone = service.available_steps()
        for_role = service.available_steps(role)
        actor = Actor(role, "someone")
        at = self.tick()
        if step not in for_anyone:
            with pytest.raises(InvalidTransitionError) as refused:
                call(actor, at)
            assert refused.value.current is service.status
            assert refused.value.attempted == step
            assert refused.value.allowed == for_anyone
        elif step not in for_role:
            with pytest.raises(AccessDeniedError) as denied:
                call(actor, at)
            assert denied.value.who == actor
        elif bad_arguments:
            with pytest.raises(ValidationError):
                call(actor, at)
        else:
            record = call(actor, at)
            self.accepted += 1
            assert service.history == (*history, record)
            assert (record.actor, record.at, record.action) == (actor, at, step.action)
            assert record.from_status is before_status(before)
            rows = [
                row
                for row in SERVICE_LIFECYCLE.transitions
                if (row.source, row.action, row.target)
                == (record.from_status, step.action, record.to_status)
                and role in row.roles
                and row.operation is record.operation
            ]
            assert rows, f"{record} is not a row of the table"
            return
        self.refused += 1
        assert snapshot(service) == before

    def command(self, step: ServiceStep, days: int) -> tuple[Command, bool]:
        """The call that asks for ``step``, and whether its arguments are bad."""
        service = self.svc
        if step.action is ServiceAction.BEGIN_PROCESSING:
            operation = step.operation
            assert operation is not None
            return (lambda a, t: service.begin_processing(operation, a, t)), False
        if step.action is ServiceAction.PAY:
            until = FIRST_DAY + timedelta(days=abs(days))
            return (lambda a, t: service.mark_paid(until, a, t)), False
        if step.action is ServiceAction.RENEW:
            until = (service.paid_until or FIRST_DAY) + timedelta(days=days)
            backwards = service.paid_until is not None and until <= service.paid_until
            return (lambda a, t: service.renew(until, a, t)), backwards
        if step.action is ServiceAction.CHANGE_PLAN:
            price = Money(f"{100 + abs(days)}.00", "RUB")
            return (lambda a, t: service.change_plan("vps-m", "VPS M", price, actor=a, at=t)), False
        method = SIMPLE[step.action]
        return (lambda a, t: method(service, a, t)), False

    @rule(
        step=st.sampled_from(ALL_STEPS), role=st.sampled_from(ActorRole), days=st.integers(-30, 60)
    )
    def any_command(self, step: ServiceStep, role: ActorRole, days: int) -> None:
        call, bad = self.command(step, days)
        self.attempt(step, role, call, bad_arguments=bad)

    def ends_the_service(self, step: ServiceStep) -> bool:
        deleting = ServiceOperation.DELETING
        return (
            step.action in {ServiceAction.CANCEL, ServiceAction.DELETE}
            or step.operation is deleting
            or (step.action is ServiceAction.FINISH_PROCESSING and self.svc.operation is deleting)
        )

    @rule(data=st.data(), days=st.integers(1, 60), may_end=st.integers(0, 9))
    def allowed_command(self, data: st.DataObject, days: int, may_end: int) -> None:
        # Random commands are mostly refused and deletion ends a run: this one walks
        # the graph deeper, deleting only now and then.
        steps = [
            step
            for step in self.svc.available_steps()
            if may_end == 0 or not self.ends_the_service(step)
        ]
        if not steps:
            return
        step = data.draw(st.sampled_from(steps))
        role = data.draw(st.sampled_from([r for r in ActorRole if self.svc.can(step, r)]))
        call, bad = self.command(step, days)
        self.attempt(step, role, call, bad_arguments=bad)

    @invariant()
    def state_is_in_the_graph(self) -> None:
        if self.service is None:
            return
        assert self.svc.status in REACHABLE
        assert isinstance(self.svc.status, ServiceStatus)

    @invariant()
    def history_replays_to_the_current_state(self) -> None:
        if self.service is None:
            return
        service = self.svc
        assert replay_history(service.history, service.billing_mode) is service.status
        for earlier, later in zip(service.history, service.history[1:], strict=False):
            assert later.from_status is earlier.to_status
            assert later.at >= earlier.at

    @invariant()
    def processing_has_an_operation_and_nothing_else_does(self) -> None:
        if self.service is None:
            return
        service = self.svc
        processing = service.status is ServiceStatus.PROCESSING
        assert processing == (service.operation is not None)
        assert processing == (service.processing_origin is not None)

    @invariant()
    def paid_flag_matches_the_history(self) -> None:
        if self.service is None:
            return
        service = self.svc
        assert service.paid == any(r.action is ServiceAction.PAY for r in service.history)


def before_status(before: tuple[object, ...]) -> object:
    names = [a.name for a in attrs.fields(Service)]
    return before[names.index("status")]


ServiceMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50)
TestServiceMachine = pytest.mark.spec("C5")(ServiceMachine.TestCase)
