from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import (
    ConflictError,
    InvalidTransitionError,
    Money,
    Period,
    ProductKind,
    Service,
    ServiceStatus,
    ValidationError,
)
from cabinet_billing.domain.service import Actor, ServiceOperation
from cabinet_billing.domain.subscription import (
    RenewalSource,
    Subscription,
    subscriptions_to_switch_off,
)

AT = datetime(2024, 2, 21, 10, 0, tzinfo=UTC)


def dns_service(*, paid: bool = True) -> Service:
    service = Service.order(
        id="8558",
        account_id="acc-1",
        plan_id="dns",
        plan_name="DNS",
        kind=ProductKind.HOSTING,
        price=Money("250.00", "RUB"),
        period=Period.months(),
        created_at=AT,
        actor=Actor.client("reiner"),
    )
    if paid:
        service.mark_paid(date(2024, 3, 21), Actor.system(), AT)
        service.begin_processing(ServiceOperation.OPENING, Actor.system(), AT)
        service.finish_processing(Actor.system(), AT)
    return service


def monthly(
    paid_until: date = date(2024, 3, 21),
    /,
    **kwargs: object,
) -> Subscription:
    return Subscription(
        "8558",
        "acc-1",
        Money("250.00", "RUB"),
        Period.months(),
        paid_until,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.spec("R4")
def test_the_renewal_period_defaults_to_the_order_period() -> None:
    service = dns_service()
    sub = Subscription.for_service(service, RenewalSource.SAVED_METHOD, "card-1111")
    assert sub.period == Period.months()
    assert sub.price == Money("250.00", "RUB")
    assert sub.paid_until == date(2024, 3, 21)
    assert sub.kind is ProductKind.HOSTING
    assert (sub.source, sub.method_id, sub.enabled) == (
        RenewalSource.SAVED_METHOD,
        "card-1111",
        True,
    )


@pytest.mark.spec("R4")
def test_an_unpaid_service_has_nothing_to_renew() -> None:
    with pytest.raises(ConflictError, match="has never been paid"):
        Subscription.for_service(dns_service(paid=False))


@pytest.mark.spec("R4")
def test_the_renewal_period_changes_for_an_active_service() -> None:
    sub = monthly()
    sub.change_period(Period.year(), ServiceStatus.ACTIVE, price=Money("2500.00", "RUB"))
    assert (sub.period, sub.price) == (Period.year(), Money("2500.00", "RUB"))
    assert sub.next_paid_until == date(2025, 3, 21)


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    "status",
    [s for s in ServiceStatus if s is not ServiceStatus.ACTIVE],
)
def test_the_renewal_period_is_refused_unless_the_service_is_active(
    status: ServiceStatus,
) -> None:
    sub = monthly()
    with pytest.raises(InvalidTransitionError) as error:
        sub.change_period("year", status, price=Money("2500.00", "RUB"))
    assert error.value.current is status
    assert error.value.attempted == "renewal period 1 year"
    assert str(error.value) == (
        f"cannot go from {status} to renewal period 1 year; allowed from {status}: none "
        "(the renewal period changes only while the service is active)"
    )
    assert (sub.period, sub.price) == (Period.months(), Money("250.00", "RUB"))
    assert sub.anchor == date(2024, 3, 21)


@pytest.mark.spec("R4")
def test_renewals_follow_the_anchor_through_short_months() -> None:
    sub = monthly(date(2024, 1, 31))
    seen = []
    for _ in range(4):
        sub.renewed(sub.paid_until)
        seen.append(sub.paid_until)
    assert seen == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]


@pytest.mark.spec("R4")
def test_a_failed_charge_is_counted_and_a_renewal_clears_it() -> None:
    sub = monthly()
    sub.charge_failed(date(2024, 3, 20))
    sub.charge_failed(date(2024, 3, 21))
    assert (sub.failed_attempts, sub.last_failure_on) == (2, date(2024, 3, 21))
    sub.renewed(date(2024, 3, 22))
    assert (sub.failed_attempts, sub.last_failure_on) == (0, None)
    assert sub.paid_until == date(2024, 4, 21)


@pytest.mark.spec("R4")
def test_failures_are_recorded_in_order() -> None:
    sub = monthly()
    sub.charge_failed(date(2024, 3, 20))
    with pytest.raises(ValidationError, match="must not be before the last failure on 2024-03-20"):
        sub.charge_failed(date(2024, 3, 19))
    assert sub.failed_attempts == 1


@pytest.mark.spec("R4")
def test_deleting_a_saved_method_switches_auto_renewal_off_for_its_services() -> None:
    on_card = monthly(source="saved_method", method_id="card-1111")
    other_card = Subscription(
        "8559",
        "acc-1",
        Money("100.00", "RUB"),
        "month",
        date(2024, 3, 5),
        source="saved_method",
        method_id="card-0002",
    )
    from_balance = Subscription("3925", "acc-1", Money("100.00", "RUB"), "month", date(2024, 3, 5))
    subs = [on_card, other_card, from_balance]

    affected = subscriptions_to_switch_off(subs, "card-1111")
    assert affected == (on_card,)
    for sub in affected:
        sub.switch_off()
    assert [s.enabled for s in subs] == [False, True, True]
    assert subscriptions_to_switch_off(subs, "card-1111") == ()


@pytest.mark.spec("R4")
def test_switching_off_clears_the_retry_state_and_on_again_keeps_the_schedule() -> None:
    sub = monthly(source="saved_method", method_id="card-1111")
    sub.charge_failed(date(2024, 3, 20))
    sub.switch_off()
    assert (sub.enabled, sub.failed_attempts, sub.last_failure_on) == (False, 0, None)
    sub.switch_on()
    assert (sub.enabled, sub.paid_until) == (True, date(2024, 3, 21))


@pytest.mark.spec("R4")
def test_the_source_changes_between_balance_and_a_saved_method() -> None:
    sub = monthly()
    sub.change_source("saved_method", "card-1111")
    assert (sub.source, sub.method_id) == (RenewalSource.SAVED_METHOD, "card-1111")
    sub.change_source(RenewalSource.BALANCE)
    assert (sub.source, sub.method_id) == (RenewalSource.BALANCE, None)


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("source", "method_id", "message"),
    [
        ("saved_method", None, "method_id=None is invalid: a saved-method renewal needs"),
        ("balance", "card-1111", "method_id='card-1111' is invalid: a balance renewal takes no"),
        ("cash", None, "source='cash' is invalid: expected one of balance, saved_method"),
    ],
)
def test_a_source_without_its_method_is_refused_and_nothing_changes(
    source: str,
    method_id: str | None,
    message: str,
) -> None:
    sub = monthly()
    with pytest.raises(ValidationError, match=message):
        sub.change_source(source, method_id)
    assert (sub.source, sub.method_id) == (RenewalSource.BALANCE, None)
    with pytest.raises(ValidationError, match=message):
        monthly(source=source, method_id=method_id)


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "spaceship"}, "kind='spaceship' is invalid: expected one of server"),
        ({"failed_attempts": 1}, "is given exactly when failed_attempts is above zero"),
        ({"failed_attempts": -1}, "failed_attempts=-1 is invalid: must be a whole number >= 0"),
    ],
)
def test_bad_subscriptions_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        monthly(**kwargs)


@pytest.mark.spec("R4")
def test_the_price_must_be_positive_in_minor_units() -> None:
    with pytest.raises(ValueError, match="at most 2 decimal"):
        Subscription("1", "a", Money("22.4137", "RUB"), "month", date(2024, 3, 21))
    with pytest.raises(ValueError, match="must be greater than zero"):
        Subscription("1", "a", Money("0", "RUB"), "month", date(2024, 3, 21))


@pytest.mark.spec("R4")
def test_charge_dates_come_from_the_anchor() -> None:
    sub = monthly(date(2024, 2, 29), anchor=date(2024, 1, 31))
    assert sub.charge_dates(3) == (date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30))
