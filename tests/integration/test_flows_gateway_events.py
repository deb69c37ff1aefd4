"""Gateway event ids name one event across the installation, on every store.

Through ``billing.webhooks.handle(headers, body)`` on the in-memory store, SQLite and
PostgreSQL: an id delivered again with the same content is a duplicate; with other
content (another kind, another amount, another payment, another account) it is refused
with :class:`EventIdReusedError`, logged, and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingError,
    BillingSettings,
    Money,
    PaymentMethod,
    PostalAddress,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.payment import (
    EventOutcome,
    GatewayEvent,
    PaymentEventKind,
    PaymentStatus,
)
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import ConflictError, EventIdReusedError
from cabinet_billing.ports.repositories import UnitOfWork

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class Host:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway

    def top_up(self, account_id: str, amount: str) -> str:
        cabinet = self.billing.cabinet(account_id, f"owner-{account_id}")
        return cabinet.payments.top_up(rub(amount), "wallet").payment.id

    def callback(
        self,
        payment_id: str,
        kind: PaymentEventKind,
        event_key: str,
        amount: Money | None = None,
    ) -> tuple[dict[str, str], bytes]:
        return self.gateway.webhook(
            payment_id, kind, self.clock.now(), event_key=event_key, amount=amount
        )

    def state(self) -> tuple[object, ...]:
        """What a refused event must leave unchanged: statuses and balances."""
        with self.uow() as uow:
            return tuple(
                (
                    uow.ledgers.get(a).balance("RUB"),
                    tuple(p.status for p in uow.payments.for_account(a)),
                )
                for a in ("acc-1", "acc-2")
            )


@pytest.fixture
def host(billing_unit_of_work: Callable[[], UnitOfWork]) -> Host:
    make_uow = billing_unit_of_work
    clock = FixedClock(START)
    gateway = SandboxGateway(b"event ids: a sandbox signing key of at least 32 bytes")
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=InMemoryNotifier()),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),)
        ),
    )
    for account_id in ("acc-1", "acc-2"):
        account = Account.open(account_id, f"login-{account_id}", email="j@example.com")
        account.change_name("Fairy", "Jill")
        account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
        billing.open_account(account, owner_id=f"owner-{account_id}", owner_name="Jill")
    return Host(billing, make_uow, clock, gateway)


@pytest.mark.spec("L6")
def test_item_23_reused_event_id_with_other_content_is_refused(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    payment = host.top_up("acc-1", "100.00")
    handled = host.billing.webhooks.handle(
        *host.callback(payment, PaymentEventKind.CREDITED, "evt-7")
    )
    assert (handled.outcome, handled.status) == (EventOutcome.APPLIED, PaymentStatus.CREDITED)
    before = host.state()
    # A refund under the id of the credit: other content, so another event.
    refund = host.callback(payment, PaymentEventKind.REFUNDED, "evt-7", amount=rub("40.00"))
    with (
        caplog.at_level(logging.WARNING, logger="cabinet_billing.app.webhooks"),
        pytest.raises(EventIdReusedError) as refused,
    ):
        host.billing.webhooks.handle(*refund)
    assert isinstance(refused.value, ConflictError)
    assert isinstance(refused.value, BillingError)
    assert (refused.value.event_id, refused.value.payment_id, refused.value.kind) == (
        "evt-7",
        payment,
        "refunded",
    )
    assert str(refused.value).startswith("gateway event 'evt-7': was processed before")
    assert "gateway event 'evt-7' reused with other content (refunded" in caplog.text
    assert host.state() == before


@pytest.mark.spec("L6")
def test_item_23_an_event_id_names_one_event_across_accounts_and_payments(host: Host) -> None:
    first = host.top_up("acc-1", "100.00")
    same_account = host.top_up("acc-1", "30.00")
    other_account = host.top_up("acc-2", "50.00")
    host.billing.webhooks.handle(*host.callback(first, PaymentEventKind.CREDITED, "evt-1"))
    before = host.state()
    for payment in (same_account, other_account):
        with pytest.raises(EventIdReusedError, match="'evt-1'") as refused:
            host.billing.webhooks.handle(
                *host.callback(payment, PaymentEventKind.CREDITED, "evt-1")
            )
        assert refused.value.payment_id == payment
    assert host.state() == before
    assert before == (
        (rub("100.00"), (PaymentStatus.CREDITED, PaymentStatus.NEW)),
        (rub("0"), (PaymentStatus.NEW,)),
    )
    # Under ids of their own, the provider's events for them credit the money.
    host.billing.webhooks.handle(*host.callback(other_account, PaymentEventKind.CREDITED, "e-2"))
    assert host.state()[1] == (rub("50.00"), (PaymentStatus.CREDITED,))


@pytest.mark.spec("L6")
def test_item_23_same_event_id_with_same_content_is_answered_duplicate(host: Host) -> None:
    payment = host.top_up("acc-2", "50.00")
    callback = host.callback(payment, PaymentEventKind.CREDITED, "evt-9")
    assert host.billing.webhooks.handle(*callback).outcome is EventOutcome.APPLIED
    after_first = host.state()
    # A later delivery of the same event, re-signed by the provider, is the same event.
    host.clock.advance(hours=5)
    again = host.gateway.webhook(payment, PaymentEventKind.CREDITED, START, event_key="evt-9")
    for delivery in (callback, again):
        handled = host.billing.webhooks.handle(*delivery)
        assert (handled.outcome, handled.status, handled.events) == (
            EventOutcome.DUPLICATE,
            PaymentStatus.CREDITED,
            (),
        )
    assert host.state() == after_first


@pytest.mark.spec("L6")
def test_item_23_event_ids_recorded_before_fingerprints_are_told_apart(host: Host) -> None:
    """Ids recorded by a release that kept no fingerprint: the payment tells the event."""
    payment = host.top_up("acc-1", "100.00")
    other = host.top_up("acc-2", "50.00")
    host.billing.webhooks.handle(*host.callback(payment, PaymentEventKind.PAYING, "old-1"))
    with host.uow() as uow:
        # What the older release left: the key, with an empty fingerprint.
        uow.keys.record("gateway-event:legacy-1")
        uow.commit()
    with host.uow() as uow:
        kept = uow.payments.get(payment)
    legacy = host.callback(payment, PaymentEventKind.PAYING, "legacy-1")
    # The payment never saw "legacy-1": it was another payment's event.
    with pytest.raises(EventIdReusedError):
        host.billing.webhooks.handle(*legacy)
    with host.uow() as uow:
        assert uow.payments.get(payment).status is kept.status is PaymentStatus.PAYING
        assert uow.payments.get(other).status is PaymentStatus.NEW


@pytest.mark.spec("L6")
def test_item_23_an_event_recorded_before_fingerprints_delivered_again_is_a_duplicate(
    host: Host,
) -> None:
    payment = host.top_up("acc-1", "100.00")
    with host.uow() as uow:
        # What the older release left: the event on its payment, its key without a fingerprint.
        uow.payments.get(payment).apply(GatewayEvent("legacy-2", PaymentEventKind.PAYING, START))
        uow.keys.record("gateway-event:legacy-2")
        uow.commit()
    before = host.state()
    again = host.billing.webhooks.handle(
        *host.callback(payment, PaymentEventKind.PAYING, "legacy-2")
    )
    assert again.outcome is EventOutcome.DUPLICATE
    with pytest.raises(EventIdReusedError):
        host.billing.webhooks.handle(*host.callback(payment, PaymentEventKind.CREDITED, "legacy-2"))
    assert host.state() == before == ((rub("0"), (PaymentStatus.PAYING,)), (rub("0"), ()))
