"""The profile and the account's deletion through the cabinet and the provider, on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    AutopayPolicy,
    BillingSettings,
    Cabinet,
    Cart,
    ConflictError,
    CurrencyMismatchError,
    InvoiceStatus,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    ProfileIncompleteError,
    SavedPaymentMethod,
    ServiceStatus,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.profile import CabinetProfile
from cabinet_billing.domain.customer import DeletionStatus, ProfileType, VerificationStatus
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import AccountDeletedError, DeletionPendingError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.autopay import AutopayMode
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 21, 9, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier
    uow: Callable[[], UnitOfWork]

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def account(self) -> Account:
        with self.uow() as uow:
            return uow.accounts.get("acc-1")

    def status(self, service_id: str) -> ServiceStatus:
        with self.uow() as uow:
            return uow.services.get(service_id).status

    def top_up(self, amount: str) -> None:
        started = self.owner.payments.top_up(rub(amount), "wallet")
        self.billing.webhooks.handle(
            *self.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.clock.now())
        )

    def order(self, price: str, order_id: str, *, open_it: bool = True) -> tuple[str, str]:
        """Place an order of a monthly VPS; returns (service id, invoice id)."""
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
        cart = Cart("acc-1", "RUB")
        cart.add(plan, "month")
        placed = self.owner.orders.place(
            cart.checkout(
                "balance",
                self.clock.today(),
                order_id=order_id,
                tax=self.billing.settings.tax,
                country="RU",
            )
        )
        service_id = placed.service_ids[0]
        if open_it and placed.paid_from_balance:
            with self.uow() as uow:
                uow.services.get(service_id).finish_processing(Actor.admin("ops"), self.clock.now())
                uow.commit()
        return service_id, placed.invoice.id


def settings() -> BillingSettings:
    return BillingSettings(
        payment_methods=(PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),),
        credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
        currencies=("RUB", "EUR"),
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def s(request: pytest.FixtureRequest) -> Wired:
    if request.param == "memory":
        store = MemoryStore()
        unit_of_work: Callable[[], UnitOfWork] = lambda: MemoryUnitOfWork(store)  # noqa: E731
    else:
        from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

        fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
        sql: SqlStore = request.getfixturevalue(fixture)
        unit_of_work = lambda: SqlUnitOfWork(sql)  # noqa: E731
    clock = FixedClock(START)
    gateway = SandboxGateway(b"people: a sandbox signing key of 32+ bytes")
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(unit_of_work=unit_of_work, clock=clock, gateway=gateway, notifier=notifier),
        settings(),
    )
    account = Account.open("acc-1", "jfairy", email="j@example.com", currency="RUB")
    billing.open_account(account, owner_id="u1", owner_name="Jill")
    with unit_of_work() as uow:
        uow.users.get("acc-1").add("u2", "Anna", "anna@example.com", ["invoices.view"])
        uow.commit()
    return Wired(billing, clock, gateway, notifier, unit_of_work)


def complete(s: Wired) -> None:
    s.owner.profile.change_name("Fairy", "Jill")
    s.owner.profile.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))


# --------------------------------------------------------------------------- profile


@pytest.mark.spec("A1", "A2")
def test_the_customer_edits_contacts_address_language_currency_and_mailboxes(s: Wired) -> None:
    view = s.billing.cabinet("acc-1", "u2").profile.get()  # any user may read it
    assert (view.login, view.readiness.missing) == (
        "jfairy",
        ("last_name", "first_name", "city", "address"),
    )
    s.owner.profile.change_name("Fairy", "Jill", "Ann")
    s.owner.profile.change_phone("+7 999 111 22 33")
    s.owner.profile.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.owner.profile.change_language("ru")
    s.owner.profile.change_currency("eur")
    s.owner.profile.set_notification_email("support", "admin@example.com")
    view = s.owner.profile.set_notification_email("invoices_and_orders", "billing@example.com")
    profile = view.profile
    assert (profile.full_name, profile.phone, profile.language, profile.currency) == (
        "Fairy Jill Ann",
        "+7 999 111 22 33",
        "ru",
        "EUR",
    )
    assert profile.postal_address.city == "Moscow"
    assert (view.notification_emails.support, view.notification_emails.invoices_and_orders) == (
        "admin@example.com",
        "billing@example.com",
    )
    assert view.readiness.ready
    stored = s.account()
    assert stored.profile == profile
    assert stored.notification_emails == view.notification_emails

    with pytest.raises(ValidationError, match="phone='call me'"):
        s.owner.profile.change_phone("call me")
    with pytest.raises(ValidationError, match="language='klingon'"):
        s.owner.profile.change_language("klingon")
    with pytest.raises(ValidationError, match="purpose='billing'"):
        s.owner.profile.set_notification_email("billing", "x@example.com")
    with pytest.raises(CurrencyMismatchError, match="USD"):
        s.owner.profile.change_currency("USD")
    with pytest.raises(ValidationError, match="address"):
        s.owner.profile.change_postal_address("Lenina 1")  # type: ignore[arg-type]
    with pytest.raises(AccessDeniedError, match=r"settings\.manage"):
        s.billing.cabinet("acc-1", "u2").profile.change_name("X", "Y")
    assert s.account() == stored


@pytest.mark.spec("A1")
def test_country_profile_type_and_main_email_are_changed_by_the_provider(s: Wired) -> None:
    assert s.owner.profile.fill_in_country("ru").profile.country == "RU"
    with pytest.raises(ConflictError, match="is RU; ask the provider to change it"):
        s.owner.profile.fill_in_country("UA")
    with pytest.raises(ConflictError, match=r"is j@example\.com; ask the provider to change it"):
        s.owner.profile.fill_in_email("new@example.com")
    public = {n for n in dir(CabinetProfile) if not n.startswith("_")}
    assert not {"change_country", "change_email", "change_profile_type"} & public

    assert s.billing.staff.change_country("acc-1", "UA").profile.country == "UA"
    assert s.billing.staff.change_email("acc-1", "new@example.com").profile.email == (
        "new@example.com"
    )
    with pytest.raises(ValidationError, match="email"):
        s.billing.staff.change_email("acc-1", "")
    with pytest.raises(ValidationError, match="profile_type='company'"):
        s.billing.staff.change_profile_type("acc-1", "company")  # type: ignore[arg-type]
    assert s.account().profile.email == "new@example.com"


@pytest.mark.spec("A1")
def test_an_empty_main_email_is_filled_in_once(s: Wired) -> None:
    s.billing.open_account(Account.open("acc-2", "bare"), owner_id="b1", owner_name="B")
    bare = s.billing.cabinet("acc-2", "b1").profile
    with pytest.raises(ValidationError, match="email"):
        bare.fill_in_email(" ")
    assert bare.fill_in_email("bare@example.com").profile.email == "bare@example.com"
    with pytest.raises(ConflictError, match="ask the provider"):
        bare.fill_in_email("other@example.com")


@pytest.mark.spec("A2")
def test_a_verified_company_that_changes_its_name_or_tax_id_is_verified_again(s: Wired) -> None:
    complete(s)
    s.billing.staff.change_profile_type("acc-1", ProfileType.COMPANY)
    s.owner.profile.change_company("Fairy LLC", "7707083893")
    assert s.owner.profile.get().verification is VerificationStatus.PENDING
    with pytest.raises(ProfileIncompleteError, match="wait until the company profile is verified"):
        s.owner.payments.top_up(rub("100.00"), "wallet")
    assert s.billing.staff.verify_company("acc-1").readiness.ready
    s.owner.payments.top_up(rub("100.00"), "wallet")
    with pytest.raises(ConflictError, match="only a pending profile can be verified"):
        s.billing.staff.verify_company("acc-1")

    same = s.owner.profile.change_company("Fairy LLC", "7707083893")
    assert same.verification is VerificationStatus.VERIFIED
    renamed = s.owner.profile.change_company("Fairy Holding LLC", "7707083893")
    assert renamed.verification is VerificationStatus.PENDING
    assert renamed.readiness.pending_verification
    with pytest.raises(ProfileIncompleteError, match="verified"):
        s.owner.payments.top_up(rub("100.00"), "wallet")
    s.billing.staff.verify_company("acc-1")
    assert s.owner.profile.change_company("Fairy Holding LLC", "7707083894").verification is (
        VerificationStatus.PENDING
    )
    s.billing.staff.change_profile_type("acc-1", ProfileType.PRIVATE_PERSON)
    assert s.account().verification is VerificationStatus.NOT_REQUIRED


@pytest.mark.spec("A1", "R1")
def test_the_currency_does_not_change_under_a_credit_line_in_the_old_one(s: Wired) -> None:
    s.billing.staff.open_credit_line("acc-1", rub("1000.00"))
    with pytest.raises(CurrencyMismatchError, match="credit line"):
        s.owner.profile.change_currency("EUR")
    assert s.account().profile.currency == "RUB"


# --------------------------------------------------------------------------- deletion


def refused_while_closing(s: Wired, service_id: str, error: type[Exception]) -> None:
    """Every new arrangement is refused, naming the request."""
    card = SavedPaymentMethod("m1", "acc-1", "card", "tok_1", "Visa", "•••• 4242")
    attempts: list[Callable[[], object]] = [
        lambda: s.order("100.00", "o-late"),
        lambda: s.owner.services.set_auto_renewal(service_id),
        lambda: s.owner.services.set_auto_renewal_default(enabled=True),
        lambda: s.owner.services.renew(service_id),
        lambda: s.owner.balance.set_autopay(
            "m1", AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("500.00"))
        ),
        lambda: s.owner.payments.bind_card(card),
    ]
    for attempt in attempts:
        with pytest.raises(error) as info:
            attempt()
        assert "account 'acc-1': cannot " in str(info.value)


@pytest.mark.spec("L9")
def test_a_pending_deletion_holds_until_withdrawn(s: Wired) -> None:
    complete(s)
    s.top_up("1000.00")
    running, _ = s.order("100.00", "o-1")
    opening, _ = s.order("200.00", "o-2", open_it=False)
    unpaid, unpaid_invoice = s.order("5000.00", "o-3")
    s.owner.services.set_auto_renewal(running)
    assert s.status(opening) is ServiceStatus.PROCESSING

    event = s.owner.profile.request_deletion()
    assert event.service_ids == (running,)
    assert s.status(running) is ServiceStatus.STOPPED_BY_ADMIN
    assert s.status(unpaid) is ServiceStatus.DELETED
    with s.uow() as uow:
        assert uow.invoices.get(unpaid_invoice).status is InvoiceStatus.DELETED
        assert not uow.services.get(running).auto_renew
    request = s.owner.profile.get().deletion
    assert request is not None
    assert (request.status, request.requested_by, request.requested_at) == (
        DeletionStatus.PENDING,
        "u1",
        START,
    )
    with pytest.raises(DeletionPendingError, match="is pending; withdraw the request first"):
        s.owner.profile.request_deletion()
    refused_while_closing(s, running, DeletionPendingError)

    # The service still opening finishes; the next run stops it too.
    with s.uow() as uow:
        uow.services.get(opening).finish_processing(Actor.admin("ops"), s.clock.now())
        uow.commit()
    s.billing.run.day(date(2024, 3, 22))
    assert s.status(opening) is ServiceStatus.STOPPED_BY_ADMIN
    balance = s.owner.balance.get("RUB")
    for day in range(23, 32):
        s.billing.run.day(date(2024, 3, day))
    for day in range(1, 25):
        s.billing.run.day(date(2024, 4, day))
    assert s.owner.balance.get("RUB") == balance  # nothing renewed or charged
    assert s.owner.balance.get("RUB") == rub("700.00")

    with pytest.raises(AccessDeniedError, match="only the account's owner"):
        s.billing.cabinet("acc-1", "u2").profile.withdraw_deletion()
    later = datetime(2024, 4, 25, 9, tzinfo=UTC)
    s.clock.set(later)
    withdrawn = s.owner.profile.withdraw_deletion()
    assert set(withdrawn.service_ids) == {running, opening}
    assert s.status(running) is ServiceStatus.ACTIVE
    done = s.account().deletion
    assert done is not None
    assert (done.status, done.decided_by, done.decided_at) == (
        DeletionStatus.WITHDRAWN,
        "u1",
        later,
    )
    with pytest.raises(ConflictError, match="no pending deletion request"):
        s.owner.profile.withdraw_deletion()
    s.order("100.00", "o-after")  # orders work again
    kinds = s.notifier.kinds("acc-1")
    assert kinds.count("account.deletion_requested") == 1
    assert kinds.count("account.deletion_withdrawn") == 1


@pytest.mark.spec("L9")
def test_the_provider_confirms_a_deletion_and_nothing_starts_again(s: Wired) -> None:
    complete(s)
    s.top_up("500.00")
    running, _ = s.order("100.00", "o-1")
    with pytest.raises(ConflictError, match="no pending deletion request"):
        s.billing.staff.confirm_deletion("acc-1", by="manager ann")
    s.owner.profile.request_deletion()
    with pytest.raises(ValidationError, match="by"):
        s.billing.staff.confirm_deletion("acc-1", by=" ")
    assert s.account().pending_deletion is not None
    confirmed = s.billing.staff.confirm_deletion("acc-1", by="manager ann")
    assert (confirmed.service_ids, confirmed.by) == ((running,), "manager ann")
    assert s.status(running) is ServiceStatus.DELETED
    account = s.account()
    assert account.is_deleted
    assert [(r.status, r.decided_by) for r in account.deletion_requests] == [
        (DeletionStatus.CONFIRMED, "manager ann"),
    ]
    refused_while_closing(s, running, AccountDeletedError)
    with pytest.raises(AccountDeletedError, match="the account was deleted"):
        s.owner.profile.request_deletion()
    with pytest.raises(ConflictError, match="no pending deletion request"):
        s.owner.profile.withdraw_deletion()
    assert s.owner.balance.get("RUB") == rub("400.00")  # kept for the record
    assert "account.deletion_confirmed" in s.notifier.kinds("acc-1")
