"""Every period of a service is counted from the first day of its first paid period."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.periods import BillingCycle, Period, cycle_anchor
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.domain.tax import TaxMode, TaxPolicy, TaxRate
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy, prorate
from cabinet_billing.rules.renewal import decide_renewal

pytestmark = pytest.mark.spec("C2")

BILLING = Actor.system()


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def ordered(day: date, period: Period, anchor: date | None = None) -> Service:
    return Service.order(
        id="3925",
        account_id="acc-1",
        plan_id="vps",
        plan_name="VPS",
        kind="vps",
        price=Money("100.00", "EUR"),
        period=period,
        created_at=at(day),
        actor=Actor.client("alice"),
        anchor=anchor,
    )


def pay(service: Service, until: date, *, starts_on: date | None = None) -> None:
    """The first payment, then the service opens."""
    when = service.created_at
    service.mark_paid(until, BILLING, when, starts_on=starts_on)
    service.activate(BILLING, when)


def renew_by_hand(service: Service, times: int) -> list[date]:
    """Renew as a renewal invoice does: one period from the service's own schedule."""
    seen = []
    for _ in range(times):
        until = service.next_paid_until()
        service.renew(until, BILLING, at(until))
        seen.append(until)
    return seen


def test_month_end_anchor_is_the_first_day_of_the_first_paid_period() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    pay(service, date(2024, 2, 29))
    assert service.anchor == date(2024, 1, 31)
    assert renew_by_hand(service, 3) == [date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]
    assert service.anchor == date(2024, 1, 31)


def test_month_end_anchor_of_a_yearly_service_from_29_february() -> None:
    service = ordered(date(2024, 2, 29), Period.year())
    pay(service, date(2025, 2, 28))
    assert renew_by_hand(service, 3) == [date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]


def test_month_end_anchor_of_a_quarterly_service_from_30_november() -> None:
    service = ordered(date(2023, 11, 30), Period.quarter())
    pay(service, date(2024, 2, 29))
    assert renew_by_hand(service, 3) == [date(2024, 5, 30), date(2024, 8, 30), date(2024, 11, 30)]


def test_month_end_anchor_counts_several_periods_at_once_from_the_anchor() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    pay(service, date(2024, 2, 29))
    assert service.next_paid_until(2) == date(2024, 4, 30)
    assert service.next_paid_until(11) == date(2025, 1, 31)


def test_month_end_anchor_the_payment_may_name_the_first_day_paid() -> None:
    # Ordered late on the 30th, priced from the 31st in the provider's time zone.
    service = ordered(date(2024, 1, 30), Period.months())
    pay(service, date(2024, 2, 29), starts_on=date(2024, 1, 31))
    assert service.anchor == date(2024, 1, 31)
    assert service.next_paid_until() == date(2024, 3, 31)


def test_month_end_anchor_refuses_a_start_that_is_not_a_date() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    with pytest.raises(ValidationError) as error:
        service.mark_paid(
            date(2024, 2, 29),
            BILLING,
            at(date(2024, 1, 31)),
            starts_on="2024-01-31",  # type: ignore[arg-type]
        )
    assert str(error.value) == "starts_on='2024-01-31' is invalid: must be a date"
    assert (service.paid, service.paid_until, service.anchor) == (False, None, None)


def test_month_end_anchor_of_the_subscription_of_a_service() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    pay(service, date(2024, 2, 29))
    sub = Subscription.for_service(service)
    assert (sub.anchor, sub.paid_until) == (date(2024, 1, 31), date(2024, 2, 29))
    decision = decide_renewal(sub, date(2024, 2, 28), available=Money("100.00", "EUR"))
    assert (decision.period_start, decision.period_end) == (date(2024, 2, 29), date(2024, 3, 31))
    seen = []
    for _ in range(3):
        sub.renewed(sub.paid_until)
        service.renew(sub.paid_until, BILLING, at(sub.paid_until))
        assert service.paid_until is not None
        sub.follow(service.paid_until, service.anchor)
        seen.append(sub.paid_until)
    assert seen == [date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]
    assert service.next_paid_until() == date(2024, 6, 30)


def test_month_end_anchor_a_prorated_order_joins_the_cycle_of_its_alignment_day() -> None:
    on_the_31st = ProrationPolicy(alignment_day=31)
    stub = prorate(on_the_31st, Money("660.00", "RUB"), "month", date(2023, 2, 10))
    assert (str(stub.covered), stub.anchor) == ("[2023-02-10, 2023-02-28)", date(2023, 1, 31))
    service = ordered(date(2023, 2, 10), Period.months(), anchor=stub.anchor)
    pay(service, stub.paid_until)
    assert service.anchor == date(2023, 1, 31)
    assert renew_by_hand(service, 3) == [date(2023, 3, 31), date(2023, 4, 30), date(2023, 5, 31)]


def test_month_end_anchor_a_prorated_order_aligned_to_the_1st() -> None:
    stub = prorate(ProrationPolicy(), Money("660.00", "RUB"), "month", date(2023, 5, 2))
    assert stub.anchor == date(2023, 5, 1)
    # Without the anchor from the order, the first payment works out the same one.
    service = ordered(date(2023, 5, 2), Period.months())
    pay(service, stub.paid_until)
    assert service.anchor == date(2023, 5, 1)
    assert renew_by_hand(service, 2) == [date(2023, 7, 1), date(2023, 8, 1)]


@pytest.mark.parametrize(
    ("ordered_on", "alignment_day", "anchor"),
    [
        (date(2023, 5, 1), 1, date(2023, 5, 1)),
        (date(2024, 1, 31), 31, date(2024, 1, 31)),
        (date(2024, 4, 30), 31, date(2024, 3, 31)),
        (date(2024, 2, 10), 30, date(2024, 1, 30)),
    ],
)
def test_month_end_anchor_of_every_calendar_order_lies_on_its_alignment_day(
    ordered_on: date, alignment_day: int, anchor: date
) -> None:
    policy = ProrationPolicy(alignment_day=alignment_day)
    p = prorate(policy, Money("100.00", "EUR"), "month", ordered_on)
    assert p.anchor == anchor
    assert anchor <= ordered_on
    assert BillingCycle(anchor, Period.months()).is_boundary(p.paid_until)


def test_month_end_anchor_of_an_anniversary_order_is_its_day() -> None:
    anniversary = ProrationPolicy(method=ProrationMethod.ANNIVERSARY)
    p = prorate(anniversary, Money("100.00", "EUR"), "quarter", date(2023, 11, 30))
    assert (p.anchor, p.paid_until) == (date(2023, 11, 30), date(2024, 2, 29))


def test_month_end_anchor_goes_from_the_cart_to_the_order_line() -> None:
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", "EUR")})
    cart = Cart("acc-1", "EUR")
    cart.add(plan, "month")
    order = cart.checkout(
        "card",
        date(2024, 4, 30),
        order_id="o-1",
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"DE": TaxRate("0")}),
        country="DE",
        proration=ProrationPolicy(alignment_day=31),
    )
    (line,) = order.lines
    assert (str(line.covered), line.anchor) == ("[2024-04-30, 2024-05-31)", date(2024, 3, 31))


def test_month_end_anchor_a_service_back_after_expiry_counts_from_its_new_start() -> None:
    service = ordered(date(2023, 12, 15), Period.months())
    pay(service, date(2024, 1, 15))
    service.expire(BILLING, at(date(2024, 1, 15)))
    # Renewed on 31 January for a month from that day: a new cycle starts there.
    service.renew(date(2024, 2, 29), BILLING, at(date(2024, 1, 31)))
    assert service.anchor == date(2024, 1, 31)
    assert renew_by_hand(service, 2) == [date(2024, 3, 31), date(2024, 4, 30)]


def test_month_end_anchor_a_new_period_starts_its_cycle_where_the_paid_period_ends() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    pay(service, date(2024, 2, 29))
    renew_by_hand(service, 1)
    service.change_plan(
        "vps",
        "VPS",
        Money("300.00", "EUR"),
        actor=Actor.client("alice"),
        at=at(date(2024, 3, 31)),
        period=Period.quarter(),
    )
    # 31 March is no quarter from 31 January: the quarterly cycle starts there.
    assert service.anchor == date(2024, 3, 31)
    assert service.next_paid_until() == date(2024, 6, 30)


def test_month_end_anchor_a_new_period_keeps_the_anchor_when_it_still_fits() -> None:
    service = ordered(date(2024, 1, 31), Period.months())
    pay(service, date(2024, 2, 29))
    renew_by_hand(service, 2)  # paid until 30 April: one quarter from 31 January
    service.change_plan(
        "vps",
        "VPS",
        Money("300.00", "EUR"),
        actor=Actor.client("alice"),
        at=at(date(2024, 4, 30)),
        period=Period.quarter(),
    )
    assert service.anchor == date(2024, 1, 31)
    assert service.next_paid_until() == date(2024, 7, 31)


def test_month_end_anchor_a_subscription_off_its_cycle_starts_a_new_one() -> None:
    sub = Subscription("s", "a", Money("10.00", "EUR"), "month", date(2024, 1, 15))
    assert sub.follow(date(2024, 1, 31))
    assert sub.anchor == date(2024, 1, 31)
    sub.renewed(sub.paid_until)
    sub.renewed(sub.paid_until)
    assert sub.paid_until == date(2024, 3, 31)


def test_month_end_anchor_of_a_range() -> None:
    assert cycle_anchor(date(2024, 1, 31), date(2024, 3, 31), Period.months()) == date(2024, 1, 31)
    assert cycle_anchor(date(2023, 5, 2), date(2023, 6, 1), Period.months()) == date(2023, 5, 1)
    with pytest.raises(ValidationError) as error:
        cycle_anchor(date(2024, 1, 31), date(2024, 1, 31), Period.months())
    assert str(error.value) == (
        "until=datetime.date(2024, 1, 31) is invalid: must be after the start 2024-01-31"
    )
