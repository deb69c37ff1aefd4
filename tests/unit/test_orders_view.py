from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.orders import (
    ORDER_ACTIONS,
    OrderAction,
    OrderRow,
    OrderSortKey,
    OrdersQuery,
    list_orders,
    order_actions,
    order_row,
)
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import (
    Actor,
    ActorRole,
    BillingMode,
    Service,
    ServiceOperation,
    ServiceStatus,
)
from cabinet_billing.errors import ValidationError

pytestmark = pytest.mark.spec("C6")

T0 = datetime(2023, 4, 1, 9, 0, tzinfo=UTC)
TODAY = date(2023, 5, 20)
ALICE = Actor.client("alice")
BILLING = Actor.system()
S = ServiceStatus
A = OrderAction


def make(
    id_: str,
    plan: str,
    price: str,
    day: int,
    *,
    ip: str | None = None,
    currency: str = "RUB",
    mode: BillingMode = BillingMode.PERIODIC,
) -> Service:
    return Service.order(
        id=id_,
        account_id="acc-1",
        plan_id=plan.lower().replace(" ", "-"),
        plan_name=plan,
        kind="vps",
        price=Money(price, currency),
        period=Period.months(),
        created_at=T0 + timedelta(days=day),
        actor=ALICE,
        billing_mode=mode,
        ip=ip,
    )


def paid(service: Service, until: date) -> Service:
    when = service.created_at + timedelta(hours=1)
    service.mark_paid(until, BILLING, when)
    service.activate(BILLING, when)
    return service


@pytest.fixture
def services() -> list[Service]:
    vps = paid(make("3925", "VPS S", "100.00", 0, ip="192.0.2.10"), date(2023, 5, 27))
    dedicated = paid(
        make("11320", "Dedicated E3", "660.00", 1, ip="198.51.100.7"), date(2023, 6, 1)
    )
    vlan = make("10666", "VLAN", "250.00", 2)
    vm6 = make("11717", "VM6", "100.00", 3)
    vm6.require_setup(BILLING, vm6.created_at)
    gone = make("9000", "VPS S", "100.00", 4)
    gone.cancel(ALICE, gone.created_at)
    dedicated.stop(ALICE, dedicated.created_at + timedelta(hours=2))
    return [vps, dedicated, vlan, vm6, gone]


def ids(rows: tuple[OrderRow, ...]) -> list[str]:
    return [row.id for row in rows]


def test_a_row_carries_the_introserv_columns(services: list[Service]) -> None:
    row = order_row(services[0], TODAY)
    assert (
        row.id,
        row.plan_name,
        row.ip,
        row.paid_until,
        row.days_left,
        row.status,
        row.price,
    ) == (
        "3925",
        "VPS S",
        "192.0.2.10",
        date(2023, 5, 27),
        7,
        S.ACTIVE,
        Money("100.00", "RUB"),
    )
    assert row.actions == (A.RENEW, A.CHANGE_PLAN, A.TURN_OFF, A.REBOOT, A.CANCEL)
    assert row.paid is True


def test_default_view_hides_deleted_and_splits_awaiting_payment_from_paid(
    services: list[Service],
) -> None:
    view = list_orders(services, TODAY)
    assert ids(view.rows) == ["3925", "11320", "10666", "11717"]
    assert ids(view.awaiting_payment) == ["10666", "11717"]
    assert ids(view.paid) == ["3925", "11320"]
    assert len(view) == 4


def test_actions_follow_the_state(services: list[Service]) -> None:
    rows = {row.id: row for row in list_orders(services, TODAY).rows}
    assert rows["11320"].actions == (A.RENEW, A.TURN_ON, A.CANCEL)
    assert rows["10666"].actions == (A.PAY, A.CANCEL)
    assert rows["11717"].actions == (A.PAY, A.CONFIGURE, A.CANCEL)
    assert rows["10666"].days_left is None


def test_actions_of_a_daily_service_and_while_processing() -> None:
    service = paid(make("1", "Cloud", "20.00", 0, mode=BillingMode.DAILY), date(2023, 5, 27))
    assert order_actions(service) == (A.RENEW, A.CHANGE_PLAN, A.TURN_OFF, A.REBOOT, A.CANCEL)
    service.begin_processing(ServiceOperation.REBOOTING, ALICE, T0 + timedelta(hours=2))
    row = order_row(service, TODAY)
    assert (row.status, row.operation, row.actions) == (
        S.PROCESSING,
        ServiceOperation.REBOOTING,
        (),
    )


def test_the_administrator_sees_more_actions(services: list[Service]) -> None:
    service = services[0]
    service.block_for_abuse(BILLING, service.created_at + timedelta(hours=3))
    assert order_actions(service, ActorRole.CLIENT) == (A.RENEW,)
    assert order_actions(service, ActorRole.ADMIN) == (A.RENEW, A.CANCEL)


def test_every_order_action_is_carried_out_by_lifecycle_steps() -> None:
    assert set(ORDER_ACTIONS) == set(OrderAction)
    assert all(ORDER_ACTIONS[action] for action in OrderAction)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (OrdersQuery(text="3925"), ["3925"]),
        (OrdersQuery(text="vps"), ["3925", "11320", "10666", "11717"]),  # the kind matches too
        (OrdersQuery(text="  dedicated "), ["11320"]),
        (OrdersQuery(text="198.51"), ["11320"]),
        (OrdersQuery(text="VLAN"), ["10666"]),
        (OrdersQuery(text="vlan"), ["10666"]),
        (OrdersQuery(order_id="11717"), ["11717"]),
        (OrdersQuery(order_id="1171"), []),
        (OrdersQuery(plan="vm"), ["11717"]),
        (OrdersQuery(plan="vps-s"), ["3925"]),
        (OrdersQuery(text=""), ["3925", "11320", "10666", "11717"]),
    ],
)
def test_search_by_id_plan_and_free_text(
    services: list[Service],
    query: OrdersQuery,
    expected: list[str],
) -> None:
    assert ids(list_orders(services, TODAY, query).rows) == expected


def test_filter_by_statuses(services: list[Service]) -> None:
    query = OrdersQuery(statuses=[S.ACTIVE, "setup_required"])
    assert ids(list_orders(services, TODAY, query).rows) == ["3925", "11717"]
    deleted = OrdersQuery(statuses="deleted")
    assert ids(list_orders(services, TODAY, deleted).rows) == ["9000"]
    assert OrdersQuery(statuses=["active"]).statuses == frozenset({S.ACTIVE})


def test_sort_by_creation_date_both_ways(services: list[Service]) -> None:
    asc = list_orders(services, TODAY, OrdersQuery(sort_by="created"))
    desc = list_orders(services, TODAY, OrdersQuery(sort_by=OrderSortKey.CREATED, descending=True))
    assert ids(asc.rows) == ["3925", "11320", "10666", "11717"]
    assert ids(desc.rows) == ["11717", "10666", "11320", "3925"]


def test_sort_by_status_follows_the_lifecycle_order(services: list[Service]) -> None:
    view = list_orders(services, TODAY, OrdersQuery(sort_by="status"))
    assert [(row.id, row.status.value) for row in view.rows] == [
        ("10666", "ordered"),
        ("11717", "setup_required"),
        ("3925", "active"),
        ("11320", "stopped_by_client"),
    ]


def test_sort_by_price_is_stable_in_both_directions(services: list[Service]) -> None:
    asc = list_orders(services, TODAY, OrdersQuery(sort_by="price"))
    assert ids(asc.rows) == ["3925", "11717", "10666", "11320"]
    desc = list_orders(services, TODAY, OrdersQuery(sort_by="price", descending=True))
    # 3925 and 11717 both cost 100.00: they keep their input order either way.
    assert ids(desc.rows) == ["11320", "10666", "3925", "11717"]


def test_prices_in_different_currencies_sort_by_currency_first() -> None:
    rows = [
        make("1", "A", "5.00", 0, currency="USD"),
        make("2", "B", "900.00", 0, currency="RUB"),
        make("3", "C", "7.00", 0, currency="EUR"),
        make("4", "D", "1.00", 0, currency="USD"),
    ]
    view = list_orders(rows, TODAY, OrdersQuery(sort_by="price"))
    assert ids(view.rows) == ["3", "2", "4", "1"]


def test_sort_by_paid_until_puts_unpaid_orders_last(services: list[Service]) -> None:
    asc = list_orders(services, TODAY, OrdersQuery(sort_by="paid_until"))
    desc = list_orders(services, TODAY, OrdersQuery(sort_by="paid_until", descending=True))
    assert ids(asc.rows) == ["3925", "11320", "10666", "11717"]
    assert ids(desc.rows) == ["11320", "3925", "10666", "11717"]


def test_sort_by_id(services: list[Service]) -> None:
    view = list_orders(services, TODAY, OrdersQuery(sort_by="id"))
    assert ids(view.rows) == ["3925", "10666", "11320", "11717"]
    mixed = [make(i, "P", "1.00", 0) for i in ("VM 10", "vm 9", "10", "VM 9a")]
    assert ids(list_orders(mixed, TODAY, OrdersQuery(sort_by="id")).rows) == [
        "10",
        "vm 9",
        "VM 9a",
        "VM 10",
    ]


def test_an_unknown_sort_key_names_the_allowed_keys() -> None:
    with pytest.raises(ValidationError) as caught:
        OrdersQuery(sort_by="cost")
    assert caught.value.field == "sort_by"
    assert caught.value.value == "cost"
    assert str(caught.value) == (
        "sort_by='cost' is invalid: allowed sort keys: created, status, price, id, paid_until"
    )


def test_an_unknown_status_names_the_allowed_statuses() -> None:
    with pytest.raises(ValidationError) as caught:
        OrdersQuery(statuses=["active", "frozen"])
    assert str(caught.value).startswith(
        "statuses='frozen' is invalid: allowed statuses: ordered, setup_required, out_of_stock",
    )


def test_query_values_are_validated_and_immutable() -> None:
    with pytest.raises(ValidationError, match="search=3925 is invalid: must be text"):
        OrdersQuery(text=3925)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="descending='yes' is invalid: must be True or False"):
        OrdersQuery(descending="yes")  # type: ignore[arg-type]
    query = OrdersQuery(text="vps")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        query.text = "x"  # type: ignore[misc]


def test_the_view_is_pure(services: list[Service]) -> None:
    before = [(s.status, s.history, s.paid_until) for s in services]
    first = list_orders(iter(services), TODAY, OrdersQuery(sort_by="price", descending=True))
    second = list_orders(services, TODAY, OrdersQuery(sort_by="price", descending=True))
    assert first == second
    assert [(s.status, s.history, s.paid_until) for s in services] == before


def test_days_left_is_counted_from_the_given_day(services: list[Service]) -> None:
    early = list_orders(services, date(2023, 5, 1), OrdersQuery(statuses=["active"]))
    late = list_orders(services, date(2023, 6, 10), OrdersQuery(statuses=["active"]))
    assert [row.days_left for row in early.rows] == [26]
    assert [row.days_left for row in late.rows] == [0]
