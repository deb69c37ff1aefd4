"""Plan limits: counts recorded and refreshed daily, stale counts flagged (SPEC C7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cabinet_billing import Account, BillingSettings, Cabinet, Cart, Money, Plan, ProductKind
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.limits import Limit
from cabinet_billing.domain.service import Service
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy

pytestmark = pytest.mark.spec("C7")

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
SHOP = Plan(
    "start",
    "Start",
    ProductKind.SAAS,
    {"month": Money("300.00", "UAH")},
    limits=[Limit("products", 1000), Limit("orders", 300, monthly=True)],
)


@pytest.fixture
def s() -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY)), now=START
    )
    s.billing.open_account(
        Account.open("shop-1", "shop", currency="UAH"), owner_id="u-1", owner_name="Olena"
    )
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("shop-1", "u-1")


def shop(s: InMemoryBilling) -> str:
    cart = Cart("shop-1", "UAH")
    cart.add(SHOP, "month")
    return owner(s).orders.checkout(cart, "card", order_id="o-1").service_ids[0]


def shown(s: InMemoryBilling, service_id: str) -> list[str]:
    return [str(item) for item in owner(s).services.limits(service_id)]


def test_a_new_shop_has_the_plans_caps_and_no_counts_yet(s: InMemoryBilling) -> None:
    service_id = shop(s)
    assert shown(s, service_id) == ["products: 0 of 1000 (stale)", "orders: 0 of 300 (stale)"]


def test_record_a_count_and_see_it_in_the_cabinet(s: InMemoryBilling) -> None:
    service_id = shop(s)
    recorded = s.billing.limits.record(service_id, "products", 998)
    assert (recorded.status.remaining, recorded.stale) == (2, False)
    assert shown(s, service_id)[0] == "products: 998 of 1000 (as of 2024-03-05)"


def test_record_refuses_what_cannot_be_a_count(s: InMemoryBilling) -> None:
    service_id = shop(s)
    with pytest.raises(ValidationError) as err:
        s.billing.limits.record(service_id, "visitors", 5)
    assert str(err.value) == (
        "metric='visitors' is invalid: not capped by this plan; capped metrics: products, orders"
    )
    with pytest.raises(ValidationError) as err:
        s.billing.limits.record(service_id, "products", -1)
    assert str(err.value) == "count=-1 is invalid: expected a whole number >= 0"
    with pytest.raises(ValidationError) as err:
        s.billing.limits.record(service_id, "products", 5, as_of=date(2024, 3, 6))
    assert str(err.value) == (
        "as_of=datetime.date(2024, 3, 6) is invalid: a count cannot be taken after today 2024-03-05"
    )


def test_daily_refresh_asks_the_host_once_per_metric_and_day(s: InMemoryBilling) -> None:
    service_id = shop(s)
    asked: list[tuple[str, str]] = []

    def counter(service: Service, metric: str) -> int:
        asked.append((service.id, metric))
        return {"products": 120, "orders": 7}[metric]

    assert s.billing.limits.refresh(counter) == 2
    assert s.billing.limits.refresh(counter) == 0  # already counted today
    assert asked == [(service_id, "products"), (service_id, "orders")]
    assert shown(s, service_id) == [
        "products: 120 of 1000 (as of 2024-03-05)",
        "orders: 7 of 300 (as of 2024-03-05)",
    ]


def test_a_missed_refresh_is_flagged_stale(s: InMemoryBilling) -> None:
    service_id = shop(s)
    s.billing.limits.record(service_id, "products", 120)
    s.clock.advance(timedelta(days=1))
    assert s.billing.limits.stale() == tuple(
        item for item in s.billing.limits.stale() if item.metric == "orders"
    )
    s.clock.advance(timedelta(days=1))
    stale = s.billing.limits.stale()
    assert [(i.service_id, i.metric, i.as_of) for i in stale] == [
        (service_id, "products", date(2024, 3, 5)),
        (service_id, "orders", None),
    ]
    assert shown(s, service_id)[0] == "products: 120 of 1000 (as of 2024-03-05) (stale)"


def test_a_counter_answering_nonsense_changes_nothing(s: InMemoryBilling) -> None:
    service_id = shop(s)
    with pytest.raises(ValidationError):
        s.billing.limits.refresh(lambda _service, _metric: -5)
    assert shown(s, service_id)[0] == "products: 0 of 1000 (stale)"
