from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cabinet_billing import (
    InvalidAmountError,
    InvalidTransitionError,
    Invoice,
    Money,
    ValidationError,
)
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.saved_method import (
    MAX_METHOD_NAME_LENGTH,
    BindingAction,
    BindingPlan,
    MethodFailure,
    MethodKind,
    MethodUse,
    SavedMethodStatus,
    SavedPaymentMethod,
    binding_plan,
    mask_card,
)
from cabinet_billing.errors import PrecisionError

AT = datetime(2024, 3, 20, 3, 0, tzinfo=UTC)


def card(status: SavedMethodStatus = SavedMethodStatus.CONFIGURING) -> SavedPaymentMethod:
    return SavedPaymentMethod(
        "pm-1",
        "acc-1",
        MethodKind.CARD,
        "tok_8f3a1c",
        "Bank card *1111",
        mask_card("1111"),
        provider="YooKassa",
        status=status,
    )


def status_of(method: SavedPaymentMethod) -> SavedMethodStatus:
    return method.status


def last_failure_of(method: SavedPaymentMethod) -> MethodFailure | None:
    return method.last_failure


def invoice(invoice_id: str, amount: str, issued_on: date) -> Invoice:
    return Invoice.issue(
        invoice_id,
        f"HOR-11111-{invoice_id}",
        "acc-1",
        [InvoiceLine("Tariff", Money(amount, "UAH"))],
        issued_on=issued_on,
    )


# ----------------------------------------------------------------------------- the method


@pytest.mark.spec("R5")
def test_a_saved_card_holds_only_the_provider_token_and_a_masked_label() -> None:
    method = card()
    assert method.label == "•••• 1111"
    assert method.token == "tok_8f3a1c"  # noqa: S105 - a provider reference, not a secret
    assert "tok_8f3a1c" not in repr(method)
    assert method.status is SavedMethodStatus.CONFIGURING
    assert (method.for_purchases, method.for_subscriptions) == (True, True)


@pytest.mark.spec("R5")
@pytest.mark.parametrize("field", ["token", "label"])
def test_text_that_looks_like_a_card_number_is_refused_and_not_echoed(field: str) -> None:
    values = {"token": "tok_1", "label": "•••• 4242"}
    values[field] = "4242 4242 4242 4242"
    with pytest.raises(ValidationError) as error:
        SavedPaymentMethod("pm-1", "acc-1", "card", values["token"], "Card", values["label"])
    assert error.value.field == field
    assert "4242 4242" not in str(error.value)
    assert "must not contain a card number" in str(error.value)


@pytest.mark.spec("R5")
def test_mask_card_refuses_a_card_number() -> None:
    with pytest.raises(ValidationError, match="last 2 to 4 digits"):
        mask_card("4111111111111111")


@pytest.mark.spec("R5")
def test_unknown_kind_names_the_allowed_kinds() -> None:
    with pytest.raises(ValidationError) as error:
        SavedPaymentMethod("pm-1", "acc-1", "cash", "tok", "Cash", "cash")
    assert str(error.value) == "kind='cash' is invalid: expected one of card, wallet"


@pytest.mark.spec("R5")
def test_setup_finishes_then_a_failed_charge_makes_it_not_working_and_a_success_heals_it() -> None:
    method = card()
    method.mark_working(AT)
    assert status_of(method) is SavedMethodStatus.ENABLED
    assert method.usable_for(MethodUse.SUBSCRIPTIONS)

    method.mark_failed(AT + timedelta(hours=1), "insufficient funds")
    assert status_of(method) is SavedMethodStatus.NOT_WORKING
    assert method.last_failure is not None
    assert method.last_failure.reason == "insufficient funds"
    assert not method.usable_for(MethodUse.SUBSCRIPTIONS)
    assert not method.usable_for(MethodUse.PURCHASES)

    method.mark_working(AT + timedelta(days=1))
    assert status_of(method) is SavedMethodStatus.ENABLED
    assert last_failure_of(method) is None
    assert method.changed_at == AT + timedelta(days=1)


@pytest.mark.spec("R5")
def test_an_enabled_method_cannot_be_enabled_again() -> None:
    method = card(SavedMethodStatus.ENABLED)
    with pytest.raises(InvalidTransitionError) as error:
        method.mark_working(AT)
    assert error.value.current is SavedMethodStatus.ENABLED
    assert error.value.attempted is SavedMethodStatus.ENABLED
    assert error.value.allowed == (SavedMethodStatus.NOT_WORKING,)
    assert str(error.value) == (
        "cannot go from enabled to enabled; allowed from enabled: not_working"
    )
    assert method.status is SavedMethodStatus.ENABLED
    assert method.changed_at is None


@pytest.mark.spec("R5")
def test_a_method_that_is_not_working_is_not_failed_again() -> None:
    method = card(SavedMethodStatus.ENABLED)
    method.mark_failed(AT, "declined")
    with pytest.raises(InvalidTransitionError, match="allowed from not_working: enabled"):
        method.mark_failed(AT + timedelta(days=1), "declined again")
    assert method.last_failure is not None
    assert method.last_failure.at == AT


@pytest.mark.spec("R5")
def test_status_changes_need_aware_times_in_order() -> None:
    method = card()
    with pytest.raises(ValidationError, match="time zone"):
        method.mark_working(datetime(2024, 3, 20, 3, 0))  # noqa: DTZ001 - the refused input
    method.mark_working(AT)
    with pytest.raises(ValidationError, match="must not be before the last change"):
        method.mark_failed(AT - timedelta(seconds=1), "declined")
    assert method.status is SavedMethodStatus.ENABLED


@pytest.mark.spec("R5")
def test_a_failure_needs_a_reason() -> None:
    method = card(SavedMethodStatus.ENABLED)
    with pytest.raises(ValidationError, match="reason"):
        method.mark_failed(AT, " ")
    assert method.status is SavedMethodStatus.ENABLED


@pytest.mark.spec("R5")
def test_rename_strips_and_validates() -> None:
    method = card()
    method.rename("  Salary card  ")
    assert method.name == "Salary card"


@pytest.mark.spec("R5")
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must not be empty"),
        ("x" * (MAX_METHOD_NAME_LENGTH + 1), "must be at most 100 characters, got 101"),
        ("card 4111 1111 1111 1111", "must not contain a card number"),
    ],
)
def test_a_bad_name_is_refused_and_the_name_kept(name: str, message: str) -> None:
    method = card()
    with pytest.raises(ValidationError, match=message) as error:
        method.rename(name)
    assert error.value.field == "name"
    assert method.name == "Bank card *1111"


@pytest.mark.spec("R5")
def test_use_for_purchases_and_subscriptions_is_set_separately() -> None:
    method = card(SavedMethodStatus.ENABLED)
    method.set_use(purchases=False)
    assert not method.usable_for(MethodUse.PURCHASES)
    assert method.usable_for(MethodUse.SUBSCRIPTIONS)
    method.set_use(subscriptions=False, purchases=True)
    assert method.usable_for(MethodUse.PURCHASES)
    assert not method.usable_for(MethodUse.SUBSCRIPTIONS)


@pytest.mark.spec("R5")
def test_set_use_refuses_non_bools_and_changes_nothing() -> None:
    method = card(SavedMethodStatus.ENABLED)
    with pytest.raises(ValidationError, match="must be True or False"):
        method.set_use(purchases=False, subscriptions="no")  # type: ignore[arg-type]
    assert (method.for_purchases, method.for_subscriptions) == (True, True)


@pytest.mark.spec("R5")
def test_fields_cannot_be_assigned() -> None:
    method = card()
    with pytest.raises(AttributeError):
        method.status = SavedMethodStatus.ENABLED


# ----------------------------------------------------------------------------- binding


@pytest.mark.spec("R5")
def test_without_an_unpaid_invoice_1_uah_is_charged_and_refunded() -> None:
    assert binding_plan([]) == BindingPlan(
        BindingAction.VERIFY_AND_REFUND,
        Money("1.00", "UAH"),
        refund=Money("1.00", "UAH"),
    )


@pytest.mark.spec("R5")
def test_with_unpaid_invoices_the_oldest_is_paid_with_the_card() -> None:
    newer = invoice("008", "899.00", date(2024, 4, 1))
    older = invoice("007", "899.00", date(2024, 3, 1))
    paid = invoice("006", "500.00", date(2024, 2, 1))
    paid.pay("pay-1", Money("500.00", "UAH"), date(2024, 2, 2))
    plan = binding_plan([newer, paid, older])
    assert plan == BindingPlan(BindingAction.PAY_INVOICE, Money("899.00", "UAH"), "007")


@pytest.mark.spec("R5")
def test_a_partly_paid_invoice_is_paid_for_what_is_left() -> None:
    partly = invoice("007", "899.00", date(2024, 3, 1))
    partly.pay("pay-1", Money("99.00", "UAH"), date(2024, 3, 2))
    assert binding_plan([partly]).amount == Money("800.00", "UAH")


@pytest.mark.spec("R5")
def test_changing_the_card_repeats_the_plan() -> None:
    open_invoice = invoice("007", "899.00", date(2024, 3, 1))
    assert binding_plan([]).action is BindingAction.VERIFY_AND_REFUND
    assert binding_plan([open_invoice]).action is BindingAction.PAY_INVOICE
    # A provider that always verifies a replacement card (Horoshop's card change).
    change = binding_plan([open_invoice], always_verify=True)
    assert change.action is BindingAction.VERIFY_AND_REFUND
    assert change.invoice_id is None
    assert change.refund == Money("1.00", "UAH")


@pytest.mark.spec("R5")
def test_the_verification_amount_is_a_setting() -> None:
    plan = binding_plan([], Money("0.50", "EUR"))
    assert (plan.amount, plan.refund) == (Money("0.50", "EUR"), Money("0.50", "EUR"))


@pytest.mark.spec("R5")
def test_a_verification_amount_must_be_positive_with_minor_unit_precision() -> None:
    with pytest.raises(InvalidAmountError, match="must be greater than zero"):
        binding_plan([], Money("0", "UAH"))
    with pytest.raises(PrecisionError, match="at most 2 decimal"):
        binding_plan([], Money("1.005", "UAH"))
