"""Delivered notifications are forgotten once they are older than the retention (SPEC R9)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from cabinet_billing import Account, BillingSettings, ValidationError
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.outbox import DeliveryPolicy
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("R9")

NOW = datetime(2024, 3, 1, 9, tzinfo=UTC)


class Notifier(InMemoryNotifier):
    """A notifier that refuses what it is told to while ``down``."""

    down = False

    def send(self, notification: Notification) -> None:
        if self.down:
            raise ConnectionError("smtp.example.com refused the connection")
        super().send(notification)


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    notifier: Notifier

    def ticket(self, account_id: str, subject: str) -> None:
        self.billing.cabinet(account_id, f"u-{account_id}").tickets.open(
            department="technical", subject=subject, text="Since 8:00"
        )

    def kept(self, status: str) -> int:
        return self.billing.staff.outbox(status).total


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    clock = FixedClock(NOW)
    notifier = Notifier()
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=SandboxGateway(b"purge: a sandbox signing key of 32+ bytes"),
            notifier=notifier,
        ),
        BillingSettings(notification_delivery=DeliveryPolicy(retry_delays=())),
    )
    for account_id in ("acc-1", "acc-2"):
        billing.open_account(
            Account.open(account_id, f"user-{account_id}"),
            owner_id=f"u-{account_id}",
            owner_name="Jill",
        )
    return Wired(billing, clock, notifier)


def test_delivered_notifications_are_forgotten_after_the_retention(s: Wired) -> None:
    s.ticket("acc-1", "VPS is down")
    s.notifier.down = True
    s.ticket("acc-2", "Mail is down")  # given up at once: no retries
    s.notifier.down = False
    delivered, given_up = s.kept("delivered"), s.kept("given_up")
    assert (delivered >= 1, given_up) == (True, 1)
    s.clock.advance(days=20)
    s.ticket("acc-1", "Disk is full")  # delivered 20 days after the others
    assert s.billing.run.purge_outbox(timedelta(days=30)) == 0
    s.clock.advance(days=11)
    assert s.billing.run.purge_outbox(timedelta(days=30)) == delivered
    assert (s.kept("delivered"), s.kept("given_up")) == (1, 1)
    assert s.billing.run.purge_outbox(timedelta(days=30), given_up=True) == 1
    assert (s.kept("delivered"), s.kept("given_up"), s.kept("pending")) == (1, 0, 0)
    with pytest.raises(ValidationError, match=r"older_than=datetime\.timedelta"):
        s.billing.run.purge_outbox(timedelta(hours=12))
    assert s.kept("delivered") == 1
