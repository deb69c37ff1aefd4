"""Each user's matrix decides what reaches them, on memory, SQLite and PostgreSQL (R9, AC).

Astra Cloud keeps the notification settings per user: a category a user switched off for
email is not emailed to that user, while the other users get it as they chose, and a
notice the provider makes mandatory reaches everyone. The outbox addresses each message
to the users (``Notification.to``) when it queues it, so what waits in the store for a
retry keeps its recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cart,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.memory.outbox import InMemoryOutbox
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import Notification, NotificationChannel
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("R9")

START = datetime(2024, 3, 1, 9, tzinfo=UTC)
EMAIL = NotificationChannel.EMAIL


class Mail(InMemoryOutbox):
    """The host's multi-channel sender, refusing connections while it is down."""

    down = False

    def send(self, notification: Notification) -> None:
        if self.down:
            msg = "smtp.example.com:587 refused the connection"
            raise ConnectionError(msg)
        super().send(notification)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

    fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(fixture)
    return lambda: SqlUnitOfWork(sql)


def wire(make_uow: Callable[[], UnitOfWork]) -> tuple[Billing, FixedClock, SandboxGateway, Mail]:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"per user: a sandbox signing key of 32+ bytes")
    mail = Mail()
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=mail),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("EUR")),),
        ),
    )
    account = Account.open(
        "acc-1", "jfairy", email="jill@example.com", currency="EUR", country="DE"
    )
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    jill = billing.cabinet("acc-1", "u1")
    jill.users.add("u2", "Anna", "anna@example.com", [])
    jill.users.add("u3", "Ivan", "ivan@example.com", [])
    return billing, clock, gateway, mail


def emailed(mail: Mail, kind: str) -> list[str]:
    return [d.address for d in mail.to(EMAIL) if d.notification.kind == kind]


def test_a_category_switched_off_for_email_is_not_emailed_to_that_user(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    billing, clock, gateway, mail = wire(make_uow)
    billing.cabinet("acc-1", "u2").notifications.switch("finance", "email", on=False)
    billing.cabinet("acc-1", "u3").notifications.switch_category("finance", on=False)
    billing.cabinet("acc-1", "u1").users.disable("u3")
    cabinet = billing.cabinet("acc-1", "u1")
    started = cabinet.payments.top_up(Money("50.00", "EUR"), "wallet")
    mail.down = True  # the credit's notice waits in the store with its recipients
    billing.webhooks.handle(
        *gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, clock.now())
    )
    assert emailed(mail, "payment.credited") == []
    mail.down = False
    clock.advance(minutes=1)
    assert billing.run.deliver().delivered == 1
    # Jill keeps the defaults; Anna switched finance email off; Ivan is disabled.
    assert emailed(mail, "payment.credited") == ["jill@example.com"]
    # The inbox keeps it for every user.
    anna = billing.cabinet("acc-1", "u2").notifications
    assert "payment.credited" in [e.kind for e in anna.inbox(category="finance")]


def test_a_mandatory_notice_reaches_every_enabled_user(make_uow: Callable[[], UnitOfWork]) -> None:
    billing, clock, _, mail = wire(make_uow)
    billing.cabinet("acc-1", "u2").notifications.switch_category("finance", on=False)
    billing.cabinet("acc-1", "u3").notifications.switch("finance", "sms", on=True)
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("10.00", "EUR")}), "month")
    checkout = cart.checkout(
        "wallet", clock.today(), order_id="o-1", tax=billing.settings.tax, country="DE"
    )
    billing.cabinet("acc-1", "u1").orders.place(checkout)
    # invoice.issued goes by email whatever a user chose (DEFAULT_MANDATORY).
    assert sorted(emailed(mail, "invoice.issued")) == [
        "anna@example.com",
        "ivan@example.com",
        "jill@example.com",
    ]
    issued = next(d.notification for d in mail.to(EMAIL) if d.notification.kind == "invoice.issued")
    assert issued.to is not None
    assert {(r.user_id, r.reason.value) for r in issued.to} == {
        ("u1", "mandatory"),
        ("u2", "mandatory"),
        ("u3", "mandatory"),
    }
    # Ivan chose SMS too, but has no confirmed phone: nothing goes by SMS.
    assert mail.to(NotificationChannel.SMS) == []
