from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    InvalidAmountError,
    InvalidTransitionError,
    Money,
    Payment,
    PaymentStatus,
    ValidationError,
)
from cabinet_billing.domain.payment import (
    EventOutcome,
    GatewayEvent,
    PaymentEventKind,
    PaymentPurpose,
)
from cabinet_billing.domain.payment_method import PaymentMethodPricing

pytestmark = pytest.mark.spec("L6")

AT = datetime(2024, 3, 21, 9, tzinfo=UTC)


def event(key: str, kind: PaymentEventKind) -> GatewayEvent:
    return GatewayEvent(key, kind, AT, reason="")


def new_payment() -> Payment:
    return Payment.top_up("pay-1", "acc-1", Money("100.00", "RUB"), AT, method_id="card")


def test_new_paying_credited() -> None:
    payment = new_payment()
    assert payment.status.value == "new"
    assert payment.apply(event("e1", PaymentEventKind.PAYING)).changed
    assert payment.apply(event("e2", PaymentEventKind.CREDITED)).outcome is EventOutcome.APPLIED
    assert payment.history[-1].after is PaymentStatus.CREDITED
    assert [(t.before, t.after, t.event_key) for t in payment.history] == [
        (PaymentStatus.NEW, PaymentStatus.PAYING, "e1"),
        (PaymentStatus.PAYING, PaymentStatus.CREDITED, "e2"),
    ]
    assert payment.apply(event("e3", PaymentEventKind.REFUNDED)).changed
    assert payment.status is PaymentStatus.REFUNDED


def test_repeated_event_changes_nothing_and_says_so() -> None:
    payment = new_payment()
    payment.apply(event("e1", PaymentEventKind.CREDITED))
    repeated = payment.apply(event("e1", PaymentEventKind.CREDITED))
    assert repeated.outcome is EventOutcome.DUPLICATE
    assert not repeated.changed
    assert len(payment.history) == 1
    assert payment.has_seen("e1")


def test_out_of_order_event_is_reported_stale_and_changes_nothing() -> None:
    payment = new_payment()
    payment.apply(event("e2", PaymentEventKind.CREDITED))
    late = payment.apply(event("e1", PaymentEventKind.PAYING))
    assert late.outcome is EventOutcome.STALE
    assert payment.status is PaymentStatus.CREDITED
    assert len(payment.history) == 1


def test_contradicting_events_are_refused_with_the_allowed_ones() -> None:
    payment = new_payment()
    payment.apply(event("e1", PaymentEventKind.FAILED))
    with pytest.raises(InvalidTransitionError, match="cannot go from failed to credited") as info:
        payment.apply(event("e2", PaymentEventKind.CREDITED))
    assert info.value.allowed == ()
    assert payment.status is PaymentStatus.FAILED
    assert not payment.has_seen("e2")
    fresh = new_payment()
    with pytest.raises(InvalidTransitionError, match="allowed from new: cancelled, credited"):
        fresh.apply(event("e1", PaymentEventKind.REFUNDED))


def test_cancel_only_before_credit() -> None:
    payment = new_payment()
    payment.cancel(AT, "customer closed the page")
    assert payment.status is PaymentStatus.CANCELLED
    credited = new_payment()
    credited.apply(event("e1", PaymentEventKind.CREDITED))
    with pytest.raises(InvalidTransitionError):
        credited.cancel(AT)


@pytest.mark.spec("L2", "M5")
def test_direct_invoice_payment_carries_the_method_quote() -> None:
    pricing = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=Money("10.00", "RUB"),
        minimum=Money("10.00", "RUB"),
        maximum=Money("3000.00", "RUB"),
    )
    payment = Payment.for_invoice(
        "pay-2",
        "acc-1",
        "inv-1",
        pricing.quote(Money("100.00", "RUB")),
        AT,
        method_id="card",
    )
    assert payment.purpose is PaymentPurpose.INVOICE
    assert payment.amount == Money("100.00", "RUB")
    assert payment.quote.total == Money("115.00", "RUB")


def test_payment_input_is_validated() -> None:
    with pytest.raises(InvalidAmountError):
        Payment.top_up("p", "a", Money("-1", "RUB"), AT)
    with pytest.raises(ValidationError, match="aware"):
        Payment.top_up("p", "a", Money("1", "RUB"), datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="key"):
        GatewayEvent("", PaymentEventKind.PAYING, AT)
