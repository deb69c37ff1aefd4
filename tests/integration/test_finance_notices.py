"""Finance notices on every store: payment reminders and "documents ready" (R8, R9, L8).

Horoshop sends the owner "invoices, payment reminders and other important messages":
``BillingSettings.invoice_reminders`` says when, and the billing run sends each reminder
once. Astra Cloud notifies of "the forming of accounting documents": closing a month with
``billing.staff.close_month`` tells the account its acts are ready, naming them, through
the outbox and into the inbox; a closing that makes no act tells nothing. On memory,
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
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
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.results import CheckoutStarted
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.reminders import InvoiceReminders, due_reminder

pytestmark = pytest.mark.spec("R8", "R9")

MARCH = date(2024, 3, 1)

START = datetime(2024, 3, 1, 9, tzinfo=UTC)
SCHEDULE = InvoiceReminders(after_issue=(3,), before_due=(2,), after_due=(1, 5))


@attrs.frozen
class Host:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    mail: InMemoryNotifier


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

    fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(fixture)
    return lambda: SqlUnitOfWork(sql)


def wire(make_uow: Callable[[], UnitOfWork], schedule: InvoiceReminders = SCHEDULE) -> Host:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"reminders: a sandbox signing key of 32+ bytes")
    mail = InMemoryNotifier()
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=mail),
        BillingSettings(
            payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("EUR")),),
            invoice_due_days=10,
            invoice_reminders=schedule,
        ),
    )
    account = Account.open("acc-1", "jfairy", email="j@example.com", country="DE", currency="EUR")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    return Host(billing, clock, gateway, mail)


def order(host: Host, order_id: str) -> str:
    """Check out a VPS for the wallet; its order invoice waits for the payment."""
    cart = Cart("acc-1", "EUR")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("10.00", "EUR")}), "month")
    checkout = cart.checkout(
        "wallet", host.clock.today(), order_id=order_id, tax=host.billing.settings.tax, country="DE"
    )
    return host.billing.cabinet("acc-1", "u1").orders.place(checkout).invoice.id


def reminders(host: Host) -> list[tuple[str, str]]:
    return [
        (n.at.date().isoformat(), n.params["rule"])
        for n in host.mail.sent
        if n.kind == "invoice.reminder"
    ]


def run_days(host: Host, days: range) -> None:
    for day in days:
        host.clock.set(START + timedelta(days=day))
        host.billing.run.day()


def test_an_unpaid_invoice_is_reminded_once_per_rule(make_uow: Callable[[], UnitOfWork]) -> None:
    host = wire(make_uow)
    invoice_id = order(host, "o-1")  # issued Mar 1, due Mar 11
    run_days(host, range(20))
    assert reminders(host) == [
        ("2024-03-04", "after_issue:3"),
        ("2024-03-09", "before_due:2"),
        ("2024-03-12", "after_due:1"),
        ("2024-03-16", "after_due:5"),
    ]
    # Running a day again sends nothing new.
    host.billing.run.day()
    assert len(reminders(host)) == 4
    (reminder,) = [n for n in host.mail.sent if n.params.get("rule") == "after_due:1"]
    assert (reminder.params["invoice_id"], reminder.params["amount_due"]) == (
        invoice_id,
        "10.00 EUR",
    )
    # Kept in the inbox too, as a finance notice.
    inbox = host.billing.cabinet("acc-1", "u1").notifications.inbox(category="finance")
    assert [e.params["rule"] for e in inbox if e.kind == "invoice.reminder"] == [
        "after_due:5",
        "after_due:1",
        "before_due:2",
        "after_issue:3",
    ]


def test_a_late_run_sends_only_the_latest_reminder(make_uow: Callable[[], UnitOfWork]) -> None:
    host = wire(make_uow)
    order(host, "o-1")
    run_days(host, range(1))
    run_days(host, range(13, 14))  # Mar 14: the after-issue and before-due days passed
    run_days(host, range(14, 20))
    assert reminders(host) == [("2024-03-14", "after_due:1"), ("2024-03-16", "after_due:5")]


def test_a_paid_or_deleted_invoice_is_not_reminded(make_uow: Callable[[], UnitOfWork]) -> None:
    host = wire(make_uow)
    paid = order(host, "o-1")
    cancelled = order(host, "o-2")
    cabinet = host.billing.cabinet("acc-1", "u1")
    started = cabinet.invoices.pay(paid, method_id="wallet")
    assert isinstance(started, CheckoutStarted)
    host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )
    cabinet.invoices.delete(cancelled)
    run_days(host, range(20))
    assert reminders(host) == []


def test_no_schedule_no_reminders_and_a_bad_schedule_is_refused(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow, InvoiceReminders())
    order(host, "o-1")
    run_days(host, range(20))
    assert reminders(host) == []
    with pytest.raises(ValidationError, match="before_due='3' is invalid"):
        InvoiceReminders(before_due="3")
    with pytest.raises(ValidationError, match="invoice_reminders"):
        BillingSettings(invoice_reminders=(3,))  # type: ignore[arg-type]


def test_the_schedule_counts_from_the_issue_day_without_a_due_date() -> None:
    found = due_reminder(
        "inv-1", date(2024, 3, 1), None, SCHEDULE, date(2024, 3, 20), sent=set().__contains__
    )
    assert found is not None
    assert (found.rule, found.on) == ("after_issue:3", date(2024, 3, 4))


def test_a_renewal_invoice_is_reminded_unless_its_service_renews_automatically(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow, InvoiceReminders(after_issue=(2,)))
    cabinet = host.billing.cabinet("acc-1", "u1")
    services: list[str] = []
    for order_id in ("o-1", "o-2"):
        invoice_id = order(host, order_id)
        started = cabinet.invoices.pay(invoice_id, method_id="wallet")
        assert isinstance(started, CheckoutStarted)
        host.billing.webhooks.handle(
            *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
        )
        service_id = cabinet.invoices.get(invoice_id).lines[0].service_id
        assert service_id is not None
        host.billing.services.finish(service_id)
        services.append(service_id)
    by_hand, automatic = services
    cabinet.services.set_auto_renewal(automatic)
    reminded = cabinet.services.renew(by_hand)
    cabinet.services.renew(automatic)  # the renewal's own attempts and notices dun it
    run_days(host, range(5))
    sent = [n for n in host.mail.sent if n.kind == "invoice.reminder"]
    assert [(n.params["invoice_id"], n.params["rule"]) for n in sent] == [
        (reminded.id, "after_issue:2")
    ]


@pytest.mark.spec("L8")
def test_closing_a_month_tells_the_account_its_documents_are_ready(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = wire(make_uow, InvoiceReminders())
    cabinet = host.billing.cabinet("acc-1", "u1")
    started = cabinet.invoices.pay(order(host, "o-1"), method_id="wallet")
    assert isinstance(started, CheckoutStarted)
    host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )
    host.clock.set(datetime(2024, 4, 2, 9, tzinfo=UTC))
    acts = host.billing.staff.close_month("acc-1", MARCH)
    assert acts
    (notice,) = [n for n in host.mail.sent if n.kind == "documents.ready"]
    assert notice.params == {
        "month": "2024-03",
        "act_ids": ",".join(a.id for a in acts),
        "act_numbers": ",".join(a.number for a in acts),
    }
    (entry,) = cabinet.notifications.inbox(category="finance", limit=1)
    assert (entry.kind, entry.params["act_ids"]) == ("documents.ready", notice.params["act_ids"])
    # Closing again makes no act and tells nothing.
    assert host.billing.staff.close_month("acc-1", MARCH) == ()
    assert [n.kind for n in host.mail.sent].count("documents.ready") == 1


def test_a_reminder_on_the_due_date_itself_is_sent_that_day() -> None:
    on_the_day = InvoiceReminders(before_due=(0,))
    issued, due = date(2024, 3, 1), date(2024, 3, 11)
    found = due_reminder("inv-1", issued, due, on_the_day, due, sent=set().__contains__)
    assert found is not None
    assert (found.rule, found.on) == ("before_due:0", due)
    assert (
        due_reminder("inv-1", issued, due, on_the_day, date(2024, 3, 12), sent=set().__contains__)
        is None
    )
