from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import Period, period_end
from cabinet_billing.domain.service import (
    SERVICE_LIFECYCLE,
    Actor,
    ActorRole,
    BillingMode,
    ListServiceHistory,
    Service,
    ServiceAction,
    ServiceChange,
    ServiceLifecycle,
    ServiceOperation,
    ServiceStatus,
    ServiceStep,
    ServiceTransition,
    replay_history,
)
from cabinet_billing.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidAmountError,
    InvalidTransitionError,
    ValidationError,
)

pytestmark = pytest.mark.spec("C5")

T0 = datetime(2023, 4, 27, 10, 0, tzinfo=UTC)
ALICE = Actor.client("alice")
BOB = Actor.admin("bob")
BILLING = Actor.system()
S = ServiceStatus


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ordered(mode: BillingMode = BillingMode.PERIODIC, **kwargs: object) -> Service:
    fields: dict[str, object] = {
        "id": "3925",
        "account_id": "acc-1",
        "plan_id": "vps-s",
        "plan_name": "VPS S",
        "kind": "vps",
        "price": Money("100.00", "RUB"),
        "period": Period.months(),
        "created_at": T0,
        "actor": ALICE,
        "billing_mode": mode,
        "ip": "192.0.2.10",
    }
    fields.update(kwargs)
    return Service.order(**fields)  # type: ignore[arg-type]


def active(mode: BillingMode = BillingMode.PERIODIC) -> Service:
    service = ordered(mode)
    service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    service.activate(BILLING, at(2))
    return service


def state(service: Service) -> ServiceStatus:
    # A call, so that mypy does not keep a narrowed status across state changes.
    return service.status


def snapshot(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, a.name) for a in attrs.fields(Service))


# --------------------------------------------------------------------------- creation


def test_order_creates_an_unpaid_ordered_service_with_the_order_record() -> None:
    service = ordered()
    assert state(service) is S.ORDERED
    assert service.paid is False
    assert service.awaiting_payment is True
    assert service.paid_until is None
    assert service.kind is ProductKind.VPS
    assert service.history == (
        ServiceChange(None, S.ORDERED, ServiceAction.ORDER, ALICE, T0, None),
    )


def test_paying_then_opening_through_processing_makes_it_active() -> None:
    service = ordered()
    service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    assert (service.status, service.paid, service.paid_until) == (
        S.ORDERED,
        True,
        date(2023, 5, 27),
    )
    service.begin_processing(ServiceOperation.OPENING, BILLING, at(2))
    assert (service.status, service.operation, service.processing_origin) == (
        S.PROCESSING,
        ServiceOperation.OPENING,
        S.ORDERED,
    )
    record = service.finish_processing(BILLING, at(3), "panel reported success")
    assert record == ServiceChange(
        S.PROCESSING,
        S.ACTIVE,
        ServiceAction.FINISH_PROCESSING,
        BILLING,
        at(3),
        "panel reported success",
        ServiceOperation.OPENING,
    )
    assert (service.status, service.operation, service.processing_origin) == (S.ACTIVE, None, None)
    assert [(r.from_status, r.to_status, r.action) for r in service.history] == [
        (None, S.ORDERED, ServiceAction.ORDER),
        (S.ORDERED, S.ORDERED, ServiceAction.PAY),
        (S.ORDERED, S.PROCESSING, ServiceAction.BEGIN_PROCESSING),
        (S.PROCESSING, S.ACTIVE, ServiceAction.FINISH_PROCESSING),
    ]


def test_ac_renewal_of_a_service_ending_2023_05_27_for_a_month_ends_2023_06_27() -> None:
    service = active()
    assert service.paid_until == date(2023, 5, 27)
    until = period_end(date(2023, 5, 27), service.period)
    record = service.renew(until, ALICE, at(3))
    assert service.paid_until == date(2023, 6, 27)
    assert state(service) is S.ACTIVE
    assert (record.from_status, record.to_status, record.action) == (
        S.ACTIVE,
        S.ACTIVE,
        ServiceAction.RENEW,
    )


def test_days_left_counts_to_paid_until_and_stops_at_zero() -> None:
    service = active()
    assert service.days_left(date(2023, 5, 20)) == 7
    assert service.days_left(date(2023, 5, 27)) == 0
    assert service.days_left(date(2023, 6, 1)) == 0
    assert ordered().days_left(date(2023, 5, 20)) is None


# --------------------------------------------------------------------------- the table


def test_the_table_lists_the_actions_of_every_state() -> None:
    actions = {status: [str(a) for a in SERVICE_LIFECYCLE.actions(status)] for status in S}
    assert actions == {
        S.ORDERED: [
            "pay",
            "activate",
            "require_setup",
            "mark_out_of_stock",
            "cancel",
            "begin_processing",
            "delete",
        ],
        S.SETUP_REQUIRED: ["pay", "configure", "cancel", "begin_processing", "delete"],
        S.OUT_OF_STOCK: ["pay", "restock", "cancel", "begin_processing", "delete"],
        S.PROCESSING: ["finish_processing", "fail_processing"],
        S.ACTIVE: [
            "suspend",
            "stop",
            "begin_processing",
            "block_by_admin",
            "block_for_abuse",
            "expire",
            "renew",
            "change_plan",
            "delete",
        ],
        S.SUSPENDED_BY_CLIENT: [
            "resume",
            "begin_processing",
            "block_by_admin",
            "block_for_abuse",
            "expire",
            "renew",
            "change_plan",
            "delete",
        ],
        S.STOPPED_BY_CLIENT: [
            "start",
            "begin_processing",
            "block_by_admin",
            "block_for_abuse",
            "expire",
            "renew",
            "change_plan",
            "delete",
        ],
        S.STOPPED_BY_ADMIN: [
            "begin_processing",
            "block_for_abuse",
            "unblock",
            "renew",
            "change_plan",
            "delete",
        ],
        S.STOPPED_FOR_ABUSE: ["begin_processing", "unblock", "renew", "change_plan", "delete"],
        S.EXPIRED: ["begin_processing", "renew", "change_plan", "delete"],
        S.DELETED: [],
    }


def test_the_graph_reaches_every_state_and_deleted_is_final() -> None:
    graph = SERVICE_LIFECYCLE.graph()
    assert set(graph) == set(S)
    assert graph[S.DELETED] == frozenset()
    reached = set().union(*graph.values())
    assert reached == set(S)
    # The billing makes a paid plan change of an expired service (SPEC X1): it stays expired.
    assert graph[S.EXPIRED] == {S.ACTIVE, S.PROCESSING, S.DELETED, S.EXPIRED}


def test_suspend_is_for_daily_billing_and_stop_for_periodic() -> None:
    daily, periodic = active(BillingMode.DAILY), active(BillingMode.PERIODIC)
    assert ServiceStep(ServiceAction.SUSPEND) in daily.available_steps()
    assert ServiceStep(ServiceAction.STOP) not in daily.available_steps()
    assert ServiceStep(ServiceAction.STOP) in periodic.available_steps()
    assert ServiceStep(ServiceAction.SUSPEND) not in periodic.available_steps()
    daily.suspend(ALICE, at(3))
    assert state(daily) is S.SUSPENDED_BY_CLIENT
    daily.resume(ALICE, at(4))
    periodic.stop(ALICE, at(3))
    assert state(periodic) is S.STOPPED_BY_CLIENT
    periodic.start(ALICE, at(4))
    assert (daily.status, periodic.status) == (S.ACTIVE, S.ACTIVE)


def test_suspending_a_periodic_service_is_refused_and_names_the_allowed_steps() -> None:
    service = active(BillingMode.PERIODIC)
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError) as caught:
        service.suspend(ALICE, at(3))
    error = caught.value
    assert error.current is S.ACTIVE
    assert error.attempted == ServiceStep(ServiceAction.SUSPEND)
    assert ServiceStep(ServiceAction.STOP) in error.allowed
    assert ServiceStep(ServiceAction.SUSPEND) not in error.allowed
    assert str(error) == (
        "cannot go from active to suspend; allowed from active: stop, "
        "begin_processing(turning_off), begin_processing(rebooting), "
        "begin_processing(renewing), begin_processing(transferring), "
        "begin_processing(deleting), block_by_admin, block_for_abuse, expire, renew, "
        "change_plan, delete"
    )
    assert snapshot(service) == before


def test_stopping_a_daily_service_is_refused() -> None:
    service = active(BillingMode.DAILY)
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError, match="cannot go from active to stop"):
        service.stop(ALICE, at(3))
    assert snapshot(service) == before


def test_a_client_cannot_lift_an_abuse_stop_but_an_administrator_can() -> None:
    service = active()
    service.block_for_abuse(BILLING, at(3), "abuse limit exceeded")
    assert state(service) is S.STOPPED_FOR_ABUSE
    before = snapshot(service)
    with pytest.raises(AccessDeniedError) as caught:
        service.unblock(ALICE, at(4))
    assert str(caught.value) == (
        "client alice may not unblock: only administrator may do this while the service is "
        "stopped_for_abuse"
    )
    assert caught.value.who == ALICE
    assert snapshot(service) == before
    service.unblock(BOB, at(5), "cleaned up")
    assert state(service) is S.ACTIVE
    assert service.history[-1].actor == BOB


def test_only_staff_stops_a_service_by_administrator() -> None:
    service = active()
    before = snapshot(service)
    with pytest.raises(AccessDeniedError, match="client alice may not block_by_admin"):
        service.block_by_admin(ALICE, at(3))
    with pytest.raises(AccessDeniedError, match="system billing may not block_by_admin"):
        service.block_by_admin(BILLING, at(3))
    assert snapshot(service) == before
    service.block_by_admin(BOB, at(3))
    assert state(service) is S.STOPPED_BY_ADMIN
    service.block_for_abuse(BOB, at(4))
    assert state(service) is S.STOPPED_FOR_ABUSE


def test_a_client_cannot_activate_or_expire() -> None:
    service = ordered()
    service.mark_paid(date(2023, 5, 27), ALICE, at(1))
    with pytest.raises(AccessDeniedError):
        service.activate(ALICE, at(2))
    service.activate(BILLING, at(2))
    with pytest.raises(AccessDeniedError):
        service.expire(ALICE, at(3))
    assert state(service) is S.ACTIVE


# --------------------------------------------------------------------------- processing


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (BillingMode.DAILY, S.SUSPENDED_BY_CLIENT),
        (BillingMode.PERIODIC, S.STOPPED_BY_CLIENT),
    ],
)
def test_turning_off_ends_in_the_stop_of_the_billing_mode(
    mode: BillingMode,
    expected: ServiceStatus,
) -> None:
    service = active(mode)
    service.begin_processing(ServiceOperation.TURNING_OFF, ALICE, at(3))
    service.finish_processing(BILLING, at(4))
    assert service.status is expected
    service.begin_processing(ServiceOperation.TURNING_ON, ALICE, at(5))
    service.finish_processing(BILLING, at(6))
    assert state(service) is S.ACTIVE


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (ServiceOperation.REBOOTING, S.ACTIVE),
        (ServiceOperation.TRANSFERRING, S.ACTIVE),
        (ServiceOperation.RENEWING, S.ACTIVE),
        (ServiceOperation.DELETING, S.DELETED),
    ],
)
def test_processing_finishes_in_the_state_its_operation_implies(
    operation: ServiceOperation,
    expected: ServiceStatus,
) -> None:
    service = active()
    service.begin_processing(operation, ALICE, at(3))
    assert state(service) is S.PROCESSING
    assert service.operation is operation
    service.finish_processing(BILLING, at(4))
    assert service.status is expected
    assert service.operation is None


def test_failed_processing_goes_back_where_it_began() -> None:
    service = active(BillingMode.DAILY)
    service.suspend(ALICE, at(3))
    service.begin_processing(ServiceOperation.DELETING, ALICE, at(4))
    record = service.fail_processing(BILLING, at(5), "panel timeout")
    assert state(service) is S.SUSPENDED_BY_CLIENT
    assert record.operation is ServiceOperation.DELETING
    assert (record.from_status, record.to_status) == (S.PROCESSING, S.SUSPENDED_BY_CLIENT)


def test_a_failed_opening_means_out_of_stock_and_a_restock_retries() -> None:
    service = ordered()
    service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    service.begin_processing(ServiceOperation.OPENING, BILLING, at(2))
    service.fail_processing(BILLING, at(3), "no free nodes")
    assert state(service) is S.OUT_OF_STOCK
    service.begin_processing(ServiceOperation.OPENING, BILLING, at(4))
    service.finish_processing(BILLING, at(5))
    assert state(service) is S.ACTIVE


def test_renewing_through_processing_may_set_the_new_paid_until() -> None:
    service = active()
    service.expire(BILLING, at(3))
    service.begin_processing(ServiceOperation.RENEWING, ALICE, at(4))
    service.finish_processing(BILLING, at(5), paid_until=date(2023, 6, 27))
    assert (service.status, service.paid_until) == (S.ACTIVE, date(2023, 6, 27))


def test_while_processing_only_finishing_or_failing_is_allowed() -> None:
    service = active()
    service.begin_processing(ServiceOperation.REBOOTING, ALICE, at(3))
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError) as caught:
        service.begin_processing(ServiceOperation.REBOOTING, ALICE, at(4))
    assert caught.value.current is S.PROCESSING
    assert caught.value.attempted == ServiceStep(
        ServiceAction.BEGIN_PROCESSING, ServiceOperation.REBOOTING
    )
    assert caught.value.allowed == (
        ServiceStep(ServiceAction.FINISH_PROCESSING),
        ServiceStep(ServiceAction.FAIL_PROCESSING),
    )
    assert str(caught.value) == (
        "cannot go from processing to begin_processing(rebooting); "
        "allowed from processing: finish_processing, fail_processing"
    )
    with pytest.raises(AccessDeniedError):
        service.finish_processing(ALICE, at(4))
    assert snapshot(service) == before


def test_an_operation_is_refused_where_it_cannot_begin() -> None:
    service = active()
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError, match=r"to begin_processing\(turning_on\)"):
        service.begin_processing(ServiceOperation.TURNING_ON, ALICE, at(3))
    with pytest.raises(InvalidTransitionError, match=r"to begin_processing\(opening\)"):
        service.begin_processing(ServiceOperation.OPENING, BILLING, at(3))
    assert snapshot(service) == before


# --------------------------------------------------------------------------- orders


def test_an_unpaid_order_cannot_be_opened() -> None:
    service = ordered()
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError) as caught:
        service.activate(BILLING, at(1))
    assert caught.value.allowed == (
        ServiceStep(ServiceAction.PAY),
        ServiceStep(ServiceAction.REQUIRE_SETUP),
        ServiceStep(ServiceAction.MARK_OUT_OF_STOCK),
        ServiceStep(ServiceAction.CANCEL),
        ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.DELETING),
        ServiceStep(ServiceAction.DELETE),
    )
    with pytest.raises(InvalidTransitionError):
        service.begin_processing(ServiceOperation.OPENING, BILLING, at(1))
    assert snapshot(service) == before


def test_an_order_is_paid_once() -> None:
    service = ordered()
    service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError, match="cannot go from ordered to pay"):
        service.mark_paid(date(2023, 6, 27), BILLING, at(2))
    assert snapshot(service) == before


def test_an_unpaid_order_is_cancelled_a_paid_one_is_not() -> None:
    unpaid = ordered()
    unpaid.cancel(ALICE, at(1), "changed my mind")
    assert state(unpaid) is S.DELETED
    paid = ordered()
    paid.mark_paid(date(2023, 5, 27), BILLING, at(1))
    with pytest.raises(InvalidTransitionError, match="cannot go from ordered to cancel"):
        paid.cancel(ALICE, at(2))
    assert state(paid) is S.ORDERED


def test_quick_order_needs_setup_then_goes_back_to_ordered() -> None:
    service = ordered()
    service.require_setup(BILLING, at(1))
    assert state(service) is S.SETUP_REQUIRED
    service.configure(ALICE, at(2))
    assert state(service) is S.ORDERED


def test_out_of_stock_and_restock() -> None:
    service = ordered()
    service.mark_out_of_stock(BILLING, at(1))
    assert state(service) is S.OUT_OF_STOCK
    service.restock(BOB, at(2))
    assert state(service) is S.ORDERED


# --------------------------------------------------------------------------- renewals and dates


def test_an_expired_service_becomes_active_when_renewed() -> None:
    service = active()
    service.expire(BILLING, at(3), "paid period ended")
    assert state(service) is S.EXPIRED
    service.renew(date(2023, 6, 27), Actor.system("auto-renew"), at(4))
    assert (service.status, service.paid_until) == (S.ACTIVE, date(2023, 6, 27))


def test_renewing_a_stopped_service_keeps_it_stopped() -> None:
    service = active()
    service.stop(ALICE, at(3))
    service.renew(date(2023, 6, 27), ALICE, at(4))
    assert (service.status, service.paid_until) == (S.STOPPED_BY_CLIENT, date(2023, 6, 27))


def test_renewal_must_move_paid_until_forward() -> None:
    service = active()
    before = snapshot(service)
    with pytest.raises(ValidationError) as caught:
        service.renew(date(2023, 5, 1), ALICE, at(3))
    assert str(caught.value) == (
        "paid_until=datetime.date(2023, 5, 1) is invalid: must not go back before the current "
        "2023-05-27"
    )
    with pytest.raises(ValidationError, match="must end after the current 2023-05-27"):
        service.renew(date(2023, 5, 27), ALICE, at(3))
    assert snapshot(service) == before


def test_extend_paid_until_refuses_going_backwards_and_records_no_history() -> None:
    service = active()
    history = service.history
    service.extend_paid_until(date(2023, 5, 30))
    service.extend_paid_until(date(2023, 5, 30))
    assert service.paid_until == date(2023, 5, 30)
    assert service.history == history
    with pytest.raises(ValidationError, match="must not go back before the current 2023-05-30"):
        service.extend_paid_until(date(2023, 5, 29))
    with pytest.raises(ValidationError, match="must be a date"):
        service.extend_paid_until(datetime(2023, 6, 1, tzinfo=UTC))
    assert service.paid_until == date(2023, 5, 30)


def test_change_plan_updates_the_plan_and_records_where_it_came_from() -> None:
    service = active()
    record = service.change_plan(
        "vps-m",
        "VPS M",
        Money("200.00", "RUB"),
        actor=ALICE,
        at=at(3),
        period=Period.quarter(),
    )
    assert (service.plan_id, service.plan_name, service.price, service.period) == (
        "vps-m",
        "VPS M",
        Money("200.00", "RUB"),
        Period.quarter(),
    )
    assert record.reason == "plan vps-s -> vps-m"
    assert state(service) is S.ACTIVE


def test_change_plan_is_refused_unless_active() -> None:
    service = active()
    service.stop(ALICE, at(3))
    before = snapshot(service)
    # Only the billing makes a change (one that was paid) while the service is stopped.
    with pytest.raises(
        AccessDeniedError, match="only system may do this while the service is stopped_by_client"
    ):
        service.change_plan("vps-m", "VPS M", Money("200.00", "RUB"), actor=ALICE, at=at(4))
    # A refused step is reported before any complaint about its arguments.
    with pytest.raises(AccessDeniedError):
        service.change_plan("vps-m", "", Money("200.00", "RUB"), actor=ALICE, at=at(4))
    assert snapshot(service) == before
    ordered = Service.order(
        id="1",
        account_id="acc-1",
        plan_id="vps-s",
        plan_name="VPS S",
        kind="vps",
        price=Money("100.00", "RUB"),
        period=Period.months(),
        created_at=at(1),
        actor=ALICE,
    )
    with pytest.raises(InvalidTransitionError, match="cannot go from ordered to change_plan"):
        ordered.change_plan("vps-m", "VPS M", Money("200.00", "RUB"), actor=BILLING, at=at(4))


def test_change_plan_validates_the_new_plan() -> None:
    service = active()
    before = snapshot(service)
    with pytest.raises(ValidationError, match="plan_name='' is invalid: must not be empty"):
        service.change_plan("vps-m", "", Money("200.00", "RUB"), actor=ALICE, at=at(3))
    with pytest.raises(InvalidAmountError, match="must not be negative"):
        service.change_plan("vps-m", "VPS M", Money("-1.00", "RUB"), actor=ALICE, at=at(3))
    with pytest.raises(ValidationError, match="must be a Period"):
        service.change_plan(
            "vps-m",
            "VPS M",
            Money("1.00", "RUB"),
            actor=ALICE,
            at=at(3),
            period="month",  # type: ignore[arg-type]
        )
    assert snapshot(service) == before


def test_an_already_paid_order_refuses_payment_before_looking_at_the_date() -> None:
    service = ordered()
    service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    with pytest.raises(InvalidTransitionError, match="cannot go from ordered to pay"):
        service.mark_paid(date(2023, 5, 1), BILLING, at(2))


def test_auto_renew_is_a_setting_refused_once_deleted() -> None:
    service = active()
    service.set_auto_renew(True)
    assert service.auto_renew is True
    service.delete(BOB, at(3))
    with pytest.raises(ConflictError) as caught:
        service.set_auto_renew(False)
    assert str(caught.value) == "service 3925: is deleted; cannot change auto-renewal"
    with pytest.raises(ConflictError):
        service.extend_paid_until(date(2023, 7, 1))
    assert service.auto_renew is True


# --------------------------------------------------------------------------- deleted and time


def test_nothing_leaves_deleted() -> None:
    service = active()
    service.delete(BOB, at(3), "customer request")
    before = snapshot(service)
    with pytest.raises(InvalidTransitionError) as caught:
        service.renew(date(2023, 6, 27), ALICE, at(4))
    assert caught.value.allowed == ()
    assert str(caught.value) == "cannot go from deleted to renew; allowed from deleted: none"
    with pytest.raises(InvalidTransitionError):
        service.unblock(BOB, at(4))
    assert snapshot(service) == before


def test_a_change_needs_an_aware_time_that_does_not_go_back() -> None:
    service = active()
    before = snapshot(service)
    with pytest.raises(ValidationError, match="must be a datetime with a time zone"):
        service.stop(ALICE, datetime(2023, 4, 27, 11, 0))  # noqa: DTZ001 - the refused input
    with pytest.raises(ValidationError, match="must not be before the last change"):
        service.stop(ALICE, at(1))
    assert snapshot(service) == before


def test_history_records_and_fields_are_immutable() -> None:
    service = active()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        service.history[0].reason = "edited"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        service.status = S.DELETED
    assert state(service) is S.ACTIVE


def test_history_replays_to_the_current_state() -> None:
    service = active(BillingMode.DAILY)
    service.suspend(ALICE, at(3))
    service.begin_processing(ServiceOperation.TURNING_ON, ALICE, at(4))
    service.fail_processing(BILLING, at(5))
    service.block_for_abuse(BILLING, at(6))
    assert replay_history(service.history, service.billing_mode) is S.STOPPED_FOR_ABUSE


def test_a_tampered_history_does_not_replay() -> None:
    service = active()
    forged = ServiceChange(S.ACTIVE, S.STOPPED_BY_ADMIN, ServiceAction.BLOCK_BY_ADMIN, ALICE, at(3))
    with pytest.raises(InvalidTransitionError, match="cannot go from active to block_by_admin"):
        replay_history((*service.history, forged), service.billing_mode)
    with pytest.raises(ValidationError, match="must begin with the order record"):
        replay_history(service.history[1:], service.billing_mode)


# --------------------------------------------------------------------------- construction


def test_constructor_validation() -> None:
    with pytest.raises(
        ValidationError, match=r"ip='300\.1\.1\.1' is invalid: must be an IPv4 or IPv6"
    ):
        ordered(ip="300.1.1.1")
    with pytest.raises(ValidationError, match="id='' is invalid: must not be empty"):
        ordered(id="")
    with pytest.raises(ValidationError, match="kind='vm' is invalid: allowed: server, vps"):
        ordered(kind="vm")
    with pytest.raises(
        ValidationError, match="billing_mode='hourly' is invalid: allowed: daily, periodic"
    ):
        ordered(billing_mode="hourly")
    with pytest.raises(ValidationError, match="created_at="):
        ordered(created_at=datetime(2023, 4, 27))  # noqa: DTZ001 - the refused input
    assert ordered(ip="2001:db8::1").ip == "2001:db8::1"


def test_loading_a_stored_service_checks_processing_and_history() -> None:
    service = active()
    fields = {a.name: getattr(service, a.name) for a in attrs.fields(Service) if a.init}
    records = ListServiceHistory(service.history)
    loaded = Service(**fields).attach(records, 3)
    assert loaded == service
    assert loaded.history == service.history
    assert (loaded.change_count, loaded.last_changed_at, loaded.unsaved()) == (3, at(2), ())
    with pytest.raises(ValidationError, match="needs an operation and an origin"):
        Service(**{**fields, "status": S.PROCESSING})
    with pytest.raises(
        ValidationError,
        match="the history ends in active",
    ):
        Service(**{**fields, "status": S.EXPIRED}).attach(records, 3)
    with pytest.raises(ConflictError, match="has records not yet stored"):
        ordered().attach(records, 3)
    with pytest.raises(ValidationError, match="count=-1 is invalid"):
        Service(**fields).attach(records, -1)
    with pytest.raises(ValidationError, match="must be ServiceChange records"):
        ListServiceHistory(["renewed"])  # type: ignore[list-item]


def test_a_service_reads_its_records_by_range_and_keeps_new_ones_apart() -> None:
    service = active()
    service.stop(ALICE, at(3))
    stored = ListServiceHistory(service.history)
    fields = {a.name: getattr(service, a.name) for a in attrs.fields(Service) if a.init}
    loaded = Service(**fields).attach(stored, 4, at(3))
    record = loaded.start(ALICE, at(4))
    assert loaded.unsaved() == (record,)
    assert loaded.changes(4, 5) == (service.history[3], record)
    assert loaded.changes(2, 2) == (service.history[1],)
    assert loaded.changes(5, 9) == (record,)
    assert loaded.changes(6) == loaded.changes(0, 0) == ()
    assert loaded.history == (*service.history, record)
    assert loaded.last_change == record
    assert loaded.change_count == 5
    stored.append(loaded.unsaved(), after=4)
    loaded.saved()
    assert (loaded.unsaved(), loaded.history[-1], len(stored)) == ((), record, 5)
    with pytest.raises(ConflictError, match="holds 5 records, not the 4"):
        stored.append([record], after=4)
    assert len(stored) == 5


def test_steps_and_actors_validate() -> None:
    with pytest.raises(ValidationError, match="begin_processing needs one of opening"):
        ServiceStep(ServiceAction.BEGIN_PROCESSING)
    with pytest.raises(ValidationError, match="suspend takes no operation"):
        ServiceStep(ServiceAction.SUSPEND, ServiceOperation.REBOOTING)
    with pytest.raises(ValidationError, match="name=' ' is invalid"):
        Actor.client(" ")
    assert str(Actor(ActorRole.ADMIN, "bob")) == "administrator bob"


def test_can_answers_for_a_role() -> None:
    service = active()
    assert service.can(ServiceAction.STOP, ActorRole.CLIENT)
    assert not service.can(ServiceAction.UNBLOCK, ActorRole.ADMIN)
    assert not service.can(ServiceAction.BLOCK_BY_ADMIN, ActorRole.CLIENT)
    assert service.can(
        ServiceStep(ServiceAction.BEGIN_PROCESSING, ServiceOperation.REBOOTING), ActorRole.CLIENT
    )
    assert ServiceStep(ServiceAction.BLOCK_BY_ADMIN) not in service.available_steps(
        ActorRole.CLIENT
    )
    assert ServiceStep(ServiceAction.BLOCK_BY_ADMIN) in service.available_steps(ActorRole.ADMIN)


# --------------------------------------------------------------------------- custom tables


def test_a_table_refuses_ambiguous_or_impossible_rows() -> None:
    admin = frozenset({ActorRole.ADMIN})
    row = ServiceTransition(S.ACTIVE, ServiceAction.STOP, S.STOPPED_BY_CLIENT, admin)
    with pytest.raises(ValidationError, match="ambiguous with"):
        ServiceLifecycle([row, ServiceTransition(S.ACTIVE, ServiceAction.STOP, S.EXPIRED, admin)])
    with pytest.raises(ValidationError, match="deleted is final"):
        ServiceLifecycle([ServiceTransition(S.DELETED, ServiceAction.RENEW, S.ACTIVE, admin)])
    with pytest.raises(ValidationError, match="only begin_processing enters processing"):
        ServiceLifecycle([ServiceTransition(S.ACTIVE, ServiceAction.STOP, S.PROCESSING, admin)])
    with pytest.raises(ValidationError, match="processing rows need an operation"):
        ServiceLifecycle(
            [ServiceTransition(S.ACTIVE, ServiceAction.BEGIN_PROCESSING, S.PROCESSING, admin)]
        )
    with pytest.raises(ValidationError, match="at least one role"):
        ServiceTransition(S.ACTIVE, ServiceAction.STOP, S.STOPPED_BY_CLIENT, frozenset())


def test_a_provider_may_use_its_own_table() -> None:
    # A provider that lets clients delete at once and nothing else.
    table = ServiceLifecycle(
        [
            ServiceTransition(
                S.ORDERED, ServiceAction.DELETE, S.DELETED, frozenset({ActorRole.CLIENT})
            ),
        ],
    )
    service = ordered(lifecycle=table)
    with pytest.raises(InvalidTransitionError, match="allowed from ordered: delete"):
        service.mark_paid(date(2023, 5, 27), BILLING, at(1))
    service.delete(ALICE, at(1))
    assert state(service) is S.DELETED
    assert replay_history(service.history, service.billing_mode, table) is S.DELETED


def test_table_rows_check_their_types() -> None:
    with pytest.raises(ValidationError) as caught:
        ServiceTransition(S.ACTIVE, ServiceAction.STOP, S.STOPPED_BY_CLIENT, {"client"})  # type: ignore[arg-type]
    assert str(caught.value) == (
        "roles='client' is invalid: allowed: client, administrator, system"
    )
    with pytest.raises(TypeError):
        ServiceTransition("active", ServiceAction.STOP, S.STOPPED_BY_CLIENT, {ActorRole.CLIENT})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ServiceTransition(
            S.ACTIVE,
            ServiceAction.STOP,
            S.STOPPED_BY_CLIENT,
            {ActorRole.CLIENT},
            billing_mode="daily",  # type: ignore[arg-type]
        )
