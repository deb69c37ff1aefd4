from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing.domain.limits import Limit, LimitStatus, MetricCount, PlanLimits
from cabinet_billing.errors import LimitExceededError, ValidationError

pytestmark = pytest.mark.spec("C7")

MARCH_5 = date(2024, 3, 5)


def shop_limits() -> PlanLimits:
    limits = PlanLimits(
        [Limit("products", 1000), Limit("orders", 300, monthly=True), Limit("pages")],
    )
    limits.refresh("products", 998, MARCH_5)
    limits.refresh("orders", 300, MARCH_5)
    return limits


def test_status_shows_count_maximum_and_as_of_date() -> None:
    status = shop_limits().status("products")
    assert (status.current, status.maximum, status.as_of, status.remaining) == (
        998,
        1000,
        MARCH_5,
        2,
    )
    assert str(status) == "products: 998 of 1000 (as of 2024-03-05)"
    assert not status.exceeded


def test_would_exceed() -> None:
    limits = shop_limits()
    assert not limits.would_exceed("products", adding=2)
    assert limits.would_exceed("products", adding=3)
    assert limits.would_exceed("orders")
    assert not limits.would_exceed("orders", adding=0)


def test_ensure_within_raises_with_the_numbers() -> None:
    limits = shop_limits()
    limits.ensure_within("products", adding=2)
    with pytest.raises(LimitExceededError) as err:
        limits.ensure_within("products", adding=3)
    assert str(err.value) == (
        "products: 998 + 3 would exceed the plan limit of 1000 (at most 2 more allowed)"
    )
    assert (err.value.metric, err.value.current, err.value.requested, err.value.maximum) == (
        "products",
        998,
        3,
        1000,
    )
    assert limits.status("products").current == 998


def test_unlimited_metric_never_exceeds() -> None:
    limits = shop_limits()
    limits.refresh("pages", 10**9, MARCH_5)
    assert not limits.would_exceed("pages", adding=10**9)
    status = limits.status("pages")
    assert status.remaining is None
    assert str(status) == "pages: 1000000000 of unlimited (as of 2024-03-05)"
    assert str(Limit("pages")) == "pages: unlimited"
    assert str(Limit("orders", 300, monthly=True)) == "orders: 300 per month"


def test_metric_without_count_counts_zero() -> None:
    limits = PlanLimits([Limit("products", 5)])
    status = limits.status("products")
    assert (status.current, status.as_of) == (0, None)
    assert str(status) == "products: 0 of 5"


def test_monthly_metric_restarts_in_a_new_month() -> None:
    limits = shop_limits()
    assert limits.would_exceed("orders", today=date(2024, 3, 31))
    april = limits.status("orders", today=date(2024, 4, 1))
    assert (april.current, april.as_of) == (0, date(2024, 4, 1))
    assert not limits.would_exceed("orders", today=date(2024, 4, 1))
    # Non-monthly metrics keep their count.
    assert limits.status("products", today=date(2024, 4, 1)).current == 998


def test_exceeded_after_a_downgrade() -> None:
    limits = PlanLimits([Limit("products", 100)])
    limits.refresh("products", 150, MARCH_5)
    status = limits.status("products")
    assert status.exceeded
    assert status.remaining == 0
    with pytest.raises(LimitExceededError, match=r"at most 0 more allowed"):
        limits.ensure_within("products")


def test_refresh_replaces_the_count() -> None:
    limits = shop_limits()
    limits.refresh("products", 10, date(2024, 3, 6))
    assert limits.counts["products"] == MetricCount("products", 10, date(2024, 3, 6))


def test_refresh_refuses_an_older_count() -> None:
    limits = shop_limits()
    with pytest.raises(ValidationError) as err:
        limits.refresh("products", 1, date(2024, 3, 4))
    assert str(err.value) == (
        "as_of=datetime.date(2024, 3, 4) is invalid: older than the stored count of products "
        "taken on 2024-03-05"
    )
    assert limits.status("products").current == 998


def test_refresh_refuses_negative_count() -> None:
    limits = shop_limits()
    with pytest.raises(
        ValidationError, match=r"current=-1 is invalid: expected a whole number >= 0"
    ):
        limits.refresh("products", -1, date(2024, 3, 6))
    assert limits.status("products").current == 998


def test_unknown_metric_names_the_capped_ones() -> None:
    with pytest.raises(ValidationError) as err:
        shop_limits().status("visitors")
    assert str(err.value) == (
        "metric='visitors' is invalid: not capped by this plan; capped metrics: products, orders, pages"
    )


def test_negative_adding_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"adding=-1 is invalid: expected a whole number >= 0"
    ):
        shop_limits().would_exceed("products", adding=-1)


def test_record_counts_between_refreshes_and_checks_the_cap() -> None:
    limits = shop_limits()
    limits.record("products", 2, date(2024, 3, 5))
    assert limits.status("products").current == 1000
    with pytest.raises(LimitExceededError):
        limits.record("products", 1, date(2024, 3, 5))
    assert limits.status("products").current == 1000


def test_record_in_a_new_month_starts_from_zero() -> None:
    limits = shop_limits()
    limits.record("orders", 1, date(2024, 4, 2))
    assert limits.counts["orders"] == MetricCount("orders", 1, date(2024, 4, 2))


def test_record_without_prior_count() -> None:
    limits = PlanLimits([Limit("products", 5)])
    limits.record("products", 5, MARCH_5)
    assert limits.status("products").current == 5


def test_statuses_in_order() -> None:
    assert [s.metric for s in shop_limits().statuses()] == ["products", "orders", "pages"]


def test_limit_validation() -> None:
    with pytest.raises(ValidationError, match=r"maximum=-1 is invalid"):
        Limit("products", -1)
    with pytest.raises(ValidationError, match=r"metric='' is invalid: a metric is named"):
        Limit("", 1)
    with pytest.raises(ValidationError, match=r"metric='products' is invalid: .*only once"):
        PlanLimits([Limit("products", 1), Limit("products", 2)])


def test_limit_status_direct() -> None:
    s = LimitStatus(Limit("products", 1000), 998, MARCH_5)
    assert s.would_exceed(3)
    assert s.metric == "products"
