"""The billing run when storage fails around a call to the payment provider, on every store.

The store fails where it hurts most: right after the provider took the money. Whatever
happens then, a card is charged once per period, and the payment is booked once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from types import TracebackType
from typing import Any, Self

import attrs
import pytest

from cabinet_billing import (
    Account,
    AutopayPolicy,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    Payment,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.autopay import AutopayMode
from cabinet_billing.domain.payment import PaymentEventKind, PaymentStatus
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import ConflictError
from cabinet_billing.ports.gateway import ChargeResult, CheckoutSession, WebhookEvent
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import ASTRA_CLOUD

pytestmark = pytest.mark.spec("R4", "P")

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.define
class Faults:
    """What the store and the provider do next."""

    #: Commits to refuse with ConflictError once the provider has charged a card.
    after_charge: int = 0
    #: Set by the provider when it charged a card; a refused commit clears it.
    charged: bool = False
    #: A callback the provider runs right after charging (e.g. a concurrent webhook).
    on_charge: Callable[[], None] | None = None


class FlakyUnitOfWork:
    """A unit of work whose commit is refused as if another unit of work had won a race."""

    def __init__(self, inner: UnitOfWork, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._faults.charged and self._faults.after_charge > 0:
            self._faults.after_charge -= 1
            self._inner.rollback()
            raise ConflictError("ledger 'acc-1'", "was changed by another unit of work; retry")
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


class WatchedGateway:
    """The sandbox, telling the faults when it took money."""

    def __init__(self, sandbox: SandboxGateway, faults: Faults) -> None:
        self.sandbox = sandbox
        self._faults = faults

    def checkout(self, payment: Payment, *, return_url: str | None = None) -> CheckoutSession:
        return self.sandbox.checkout(payment, return_url=return_url)

    def charge_saved_method(
        self, token: str, amount: Money, *, idempotency_key: str
    ) -> ChargeResult:
        result = self.sandbox.charge_saved_method(token, amount, idempotency_key=idempotency_key)
        if result.succeeded and amount > rub("1.00"):
            self._faults.charged = True
            hook, self._faults.on_charge = self._faults.on_charge, None
            if hook is not None:
                hook()
        return result

    def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        return self.sandbox.refund(reference, amount, idempotency_key=idempotency_key)

    def verify_card(self, token: str, amount: Money, *, idempotency_key: str) -> ChargeResult:
        return self.sandbox.verify_card(token, amount, idempotency_key=idempotency_key)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return self.sandbox.parse_webhook(headers, body)


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    sandbox: SandboxGateway
    faults: Faults
    uow: Callable[[], UnitOfWork]

    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def charges(self) -> list[tuple[str, Money]]:
        """The card charges the provider made (not verifications nor refunds)."""
        return [(c.key, c.amount) for c in self.sandbox.charges if c.operation == "charge"]

    def run(self, day: date) -> None:
        self.clock.set(datetime.combine(day, time(3), tzinfo=UTC))
        self.billing.run.day(day)


@pytest.fixture
def new_uow(billing_unit_of_work: Callable[[], UnitOfWork]) -> Callable[[], UnitOfWork]:
    return billing_unit_of_work


def wire(new_uow: Callable[[], UnitOfWork]) -> Wired:
    faults = Faults()
    sandbox = SandboxGateway(b"billing run storage tests: 32+ bytes of key")
    clock = FixedClock(START)
    billing = Billing(
        Ports(
            unit_of_work=lambda: FlakyUnitOfWork(new_uow(), faults),
            clock=clock,
            gateway=WatchedGateway(sandbox, faults),
            notifier=InMemoryNotifier(),
        ),
        # Only bank transfers are priced: the card's charges carry no fee here.
        attrs.evolve(
            BillingSettings.from_preset(ASTRA_CLOUD),
            payment_methods=(
                PaymentMethod("bank_transfer", "Bank transfer", PaymentMethodPricing("RUB")),
            ),
        ),
    )
    account = Account.open("acc-1", "jill", email="j@example.com", currency="RUB")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    return Wired(billing, clock, sandbox, faults, new_uow)


def top_up(w: Wired, amount: Money) -> None:
    started = w.owner().payments.top_up(amount, "bank_transfer")
    w.billing.webhooks.handle(
        *w.sandbox.webhook(started.payment.id, PaymentEventKind.CREDITED, w.clock.now())
    )


def vps_renewing_from_a_card(w: Wired) -> str:
    """A 100.00 RUB VPS paid until 1 April, renewing from a card on 31 March."""
    top_up(w, rub("100.00"))
    cart = Cart("acc-1", "RUB")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")}), "month")
    placed = w.owner().orders.place(
        cart.checkout(
            "balance", w.clock.today(), order_id="o-1", tax=w.billing.settings.tax, country=""
        )
    )
    [service_id] = placed.service_ids
    with w.uow() as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), w.clock.now())
        uow.commit()
    card = SavedPaymentMethod("card-1", "acc-1", "card", "tok-1", "Visa", "•••• 4242")
    w.owner().payments.bind_card(card)  # a 1.00 check, refunded
    w.owner().services.set_auto_renewal(service_id, method_id="card-1")
    return service_id


def paid_until(w: Wired, service_id: str) -> date | None:
    with w.uow() as uow:
        return uow.services.get(service_id).paid_until


def credited(w: Wired) -> list[Money]:
    with w.uow() as uow:
        return [
            p.amount
            for p in uow.payments.for_account("acc-1")
            if p.status is PaymentStatus.CREDITED and p.id.startswith("charge-")
        ]


def test_card_charged_twice_for_one_period_no_more_after_a_concurrent_webhook(
    new_uow: Callable[[], UnitOfWork],
) -> None:
    w = wire(new_uow)
    service_id = vps_renewing_from_a_card(w)
    first_charges = len(w.charges())

    def webhook_meanwhile() -> None:
        # The customer's top-up is credited while the renewal's charge is under way.
        top_up(w, rub("50.00"))

    w.faults.on_charge = webhook_meanwhile
    w.run(date(2024, 3, 31))
    w.run(date(2024, 4, 1))
    w.run(date(2024, 4, 2))
    assert w.charges()[first_charges:] == [("renewal:ser-1:2024-04-01#1", rub("100.00"))]
    assert paid_until(w, service_id) == date(2024, 5, 1)
    assert credited(w) == [rub("100.00")]
    assert w.owner().balance.get("RUB") == rub("50.00")


def test_card_charged_twice_for_one_period_no_more_when_booking_the_charge_fails(
    new_uow: Callable[[], UnitOfWork],
) -> None:
    w = wire(new_uow)
    service_id = vps_renewing_from_a_card(w)
    first_charges = len(w.charges())
    # Every unit of work of the day's run fails once the card is charged.
    w.faults.after_charge = 10
    w.run(date(2024, 3, 31))
    assert paid_until(w, service_id) == date(2024, 4, 1)
    assert credited(w) == []
    with w.uow() as uow:
        [attempt] = uow.profiles.get("acc-1").pending_attempts
    assert attempt.key == "renewal:ser-1:2024-04-01#1"
    # The next run asks the provider again with the same key: the first charge's answer.
    w.faults.after_charge = 0
    w.run(date(2024, 4, 1))
    assert [k for k, _ in w.charges()[first_charges:]] == ["renewal:ser-1:2024-04-01#1"]
    assert paid_until(w, service_id) == date(2024, 5, 1)
    assert credited(w) == [rub("100.00")]
    w.run(date(2024, 4, 2))
    assert len(w.charges()) == first_charges + 1


def test_card_charged_twice_for_one_period_no_more_when_booking_fails_once(
    new_uow: Callable[[], UnitOfWork],
) -> None:
    w = wire(new_uow)
    service_id = vps_renewing_from_a_card(w)
    first_charges = len(w.charges())
    # One refused commit: the run books the provider's answer again at once.
    w.faults.after_charge = 1
    w.run(date(2024, 3, 31))
    assert paid_until(w, service_id) == date(2024, 5, 1)
    assert credited(w) == [rub("100.00")]
    assert len(w.charges()) == first_charges + 1
    for day in range(1, 5):
        w.run(date(2024, 4, day))
    assert len(w.charges()) == first_charges + 1


def test_card_charged_twice_no_more_for_an_automatic_top_up_whose_booking_failed(
    new_uow: Callable[[], UnitOfWork],
) -> None:
    w = wire(new_uow)
    w.owner().payments.bind_card(
        SavedPaymentMethod("card-1", "acc-1", "card", "tok-1", "Visa", "•••• 4242")
    )
    w.owner().balance.set_autopay(
        "card-1",
        AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("500.00"), monthly_cap=rub("600.00")),
    )
    w.faults.after_charge = 10
    w.run(date(2024, 3, 2))
    assert w.owner().balance.get("RUB") == rub("0")
    w.faults.after_charge = 0
    w.run(date(2024, 3, 3))
    w.run(date(2024, 3, 4))
    assert [k for k, _ in w.charges()] == ["bind:card-1:2024-03-01#1", "autopay:acc-1:2024-03-02#1"]
    assert w.owner().balance.get("RUB") == rub("500.00")
    assert credited(w) == [rub("500.00")]
