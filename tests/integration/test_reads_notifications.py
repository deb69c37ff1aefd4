"""Each user's notification matrix and the low-balance threshold, on every store (R8, R9)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    CurrencyMismatchError,
    Money,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import MandatoryNotices
from cabinet_billing.ports.repositories import UnitOfWork

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def billing(billing_unit_of_work: Callable[[], UnitOfWork]) -> Billing:
    unit_of_work = billing_unit_of_work
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=FixedClock(START),
            gateway=SandboxGateway(b"reads: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(
            mandatory_notices=MandatoryNotices(cells={("finance", "email"), ("finance", "cabinet")})
        ),
    )
    billing.open_account(
        Account.open("acc-1", "jfairy", email="j@example.com", currency="EUR"),
        owner_id="u1",
        owner_name="Jill",
    )
    billing.cabinet("acc-1", "u1").users.add("u2", "Anna", "anna@example.com", [])
    return billing


def on(matrix: dict[str, dict[str, bool]]) -> list[str]:
    return sorted(f"{cat}/{ch}" for cat, row in matrix.items() for ch, yes in row.items() if yes)


@pytest.mark.spec("R9")
def test_each_user_keeps_their_own_matrix_within_the_mandatory_notices(billing: Billing) -> None:
    jill = billing.cabinet("acc-1", "u1").notifications
    anna = billing.cabinet("acc-1", "u2").notifications
    defaults = on(jill.preferences().matrix())
    assert defaults == [
        "finance/cabinet",
        "finance/email",
        "news/cabinet",
        "services/cabinet",
        "services/email",
        "support/cabinet",
        "support/email",
    ]
    jill.switch("news", "sms", on=True)
    jill.switch_category("support", on=False)
    with pytest.raises(ValidationError, match="finance notifications always go to email"):
        jill.switch("finance", "email", on=False)
    with pytest.raises(ValidationError, match="channel='fax' is invalid"):
        jill.switch("news", "fax", on=True)
    # Stored per user: Jill's choices are read back, Anna keeps the defaults.
    assert on(billing.cabinet("acc-1", "u1").notifications.preferences().matrix()) == [
        "finance/cabinet",
        "finance/email",
        "news/cabinet",
        "news/sms",
        "services/cabinet",
        "services/email",
    ]
    assert on(anna.preferences().matrix()) == defaults
    # A category switched off keeps the cells the provider makes mandatory.
    assert on(anna.switch_category("finance", on=False).matrix())[:2] == [
        "finance/cabinet",
        "finance/email",
    ]


@pytest.mark.spec("R8")
def test_the_low_balance_threshold_is_set_in_the_account_currency(billing: Billing) -> None:
    notifications = billing.cabinet("acc-1", "u1").notifications
    assert notifications.low_balance_threshold() is None
    assert notifications.set_low_balance_threshold(Money("20.00", "EUR")) == Money("20.00", "EUR")
    with pytest.raises(CurrencyMismatchError, match="is in USD, expected EUR"):
        notifications.set_low_balance_threshold(Money("20.00", "USD"))
    assert billing.cabinet("acc-1", "u1").notifications.low_balance_threshold() == Money(
        "20.00", "EUR"
    )
    assert notifications.set_low_balance_threshold(None) is None
    assert notifications.low_balance_threshold() is None
