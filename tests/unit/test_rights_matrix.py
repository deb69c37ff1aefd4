"""The rights matrix: every cabinet use case refuses whoever may not call it, and changes nothing.

HOW TO ADD A ROW (every new cabinet use case needs one, or ``test_every_use_case_has_a_row``
fails): append to ``USE_CASES`` ::

    Row("<namespace>", "<method>", "<right>", lambda c, w: c.<namespace>.<method>(...)),

- the right is the one the use case opens its gate with: a catalogue action such as
  ``"invoices.pay"``, ``OWNER`` (the owner's alone) or ``ANY_USER`` (any enabled user);

- the callable gets a :class:`~cabinet_billing.app.cabinet.Cabinet` and the prepared
  :class:`World` (ids of what the account already has: ``w.service_id``, ``w.invoice_id``,
  ``w.method_id``, ``w.payer_id``, ``w.ticket_id`` ...) and calls the use case with valid
  arguments; a user holding only that right must be able to make the call;
- when the call needs some state first (say, the exchange switched on before switching it
  off), pass ``prepare=lambda w: ...``: it runs as the owner before the check;
- add to :func:`build_world` (and a field of :class:`World`) anything the account must have.

For each row, each of these is refused with ``AccessDeniedError`` naming the right (or the
address), and the store's committed state, the notifications sent and the payment
provider's calls are exactly as before: a user who holds every right but that one (not for
``ANY_USER`` rows; for ``OWNER`` rows a user with every right who is not the owner), a
disabled user who holds every right, a user of another account, the owner calling from an
address outside the account's billing IP allowlist, and the owner calling with no address.
"""

# Every row takes (cabinet, world) whether or not it needs the world: one shape for all rows.
# ruff: noqa: ARG005

from __future__ import annotations

import copy
import inspect
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
    Money,
    Payer,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.app.gate import ANY_USER, OWNER
from cabinet_billing.domain.access import DEFAULT_CATALOGUE
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkSigner
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.rules.autopay import AutopayMode
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 5, 10, tzinfo=UTC)
ACCOUNT = "acc-1"
OWNER_ID = "u-owner"
STRANGER = "u-stranger"  # the owner of another account
DISABLED = "u-disabled"  # holds every right, disabled
FULL = "u-full"  # holds every right, not the owner
PLAIN = "u-plain"  # holds no right: anyone with users.manage may manage them
ALLOWLIST = "10.0.0.0-10.0.0.255"
OK_IP = "10.0.0.7"
REFUSED_IP = "192.0.2.1"
IBAN = "UA21 3223 1300 0002 6007 2335 6600 1"


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def without(right: str) -> str:
    """The user holding every right but ``right``."""
    return f"u-without-{right}"


def only(right: str) -> str:
    """The user holding ``right`` alone."""
    return f"u-only-{right}"


@attrs.frozen
class World:
    """A prepared account ``acc-1`` and the ids of what it has.

    It has a balance of 900.00 RUB, an active service paid until next month (``service_id``),
    an unpaid order invoice of 5000.00 RUB (``invoice_id``), a working saved card with card
    autopay on invoice day (``method_id``), a Ukrainian company payer with EDRPOU and IBAN
    (``payer_id``), an open ticket (``ticket_id``), a credit line and the billing IP
    allowlist ``10.0.0.0-10.0.0.255``.
    """

    s: InMemoryBilling
    service_id: str
    invoice_id: str
    method_id: str
    payer_id: str
    ticket_id: str

    def cabinet(self, user_id: str, ip: str | None = OK_IP, account_id: str = ACCOUNT) -> Cabinet:
        """The cabinet of a user of ``acc-1`` (or of another account) calling from ``ip``."""
        return self.s.billing.cabinet(account_id, user_id, ip=ip)

    @property
    def owner(self) -> Cabinet:
        """The owner's cabinet, from an allowed address."""
        return self.cabinet(OWNER_ID)

    def edit_account(self, change: Callable[[Account], object]) -> None:
        """Change ``acc-1`` in the store, for states no use case reaches (a field left empty)."""
        with MemoryUnitOfWork(self.s.store) as uow:
            change(uow.accounts.get(ACCOUNT))
            uow.commit()


def settings() -> BillingSettings:
    return BillingSettings(
        payment_methods=(
            PaymentMethod("card", "Bank card", PaymentMethodPricing("RUB")),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
        credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
        credit_limit=rub("10000.00"),
        pay_links=PayLinkSigner(PayLinkKeys("k1", {"k1": bytes(range(32))})),
        currencies=("RUB", "EUR"),
        card_autopay_on_invoice_day=True,
    )


def order(
    w: World | InMemoryBilling,
    cabinet: Cabinet,
    price: str,
    order_id: str,
    method: str = "balance",
) -> object:
    s = w.s if isinstance(w, World) else w
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
    cart = Cart(ACCOUNT, "RUB")
    cart.add(plan, "month")
    return cabinet.orders.place(
        cart.checkout(
            method, s.clock.today(), order_id=order_id, tax=s.billing.settings.tax, country="RU"
        ),
    )


def linkable(w: World) -> str:
    """An open invoice of an order checked out for the wallet, which a pay link pays."""
    return next(
        i.id
        for i in w.s.store.invoices.rows.values()
        if i.payment_method_id == "wallet" and i.is_open()
    )


def checkout(cabinet: Cabinet, order_id: str) -> object:
    cart = Cart(ACCOUNT, "RUB")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")}), "month")
    return cabinet.orders.checkout(cart, "wallet", order_id=order_id)


def checkout_daily(cabinet: Cabinet, order_id: str) -> object:
    cart = Cart(ACCOUNT, "RUB")
    cart.add(Plan("cloud", "Cloud", ProductKind.VPS, {"month": rub("660.00")}), "month")
    return cabinet.orders.checkout_daily(cart, order_id=order_id)


def open_daily(w: World) -> str:
    """A daily-billed cloud server of acc-1, opened (active)."""
    [service_id] = checkout_daily(w.owner, "o-daily-prepared").service_ids  # type: ignore[attr-defined]
    w.s.billing.services.finish(service_id)
    return service_id  # type: ignore[no-any-return]


def daily_service(w: World) -> str:
    with MemoryUnitOfWork(w.s.store) as uow:
        services = uow.services.for_account(ACCOUNT)
    return next(s.id for s in services if s.billing_mode.value == "daily")


def open_yearly(w: World) -> str:
    """A monthly VPS of acc-1 whose plan sells a year too, paid and opened."""
    plan = Plan("vps-y", "VPS", ProductKind.VPS, {"month": rub("100.00"), "year": rub("1000.00")})
    cart = Cart(ACCOUNT, "RUB")
    cart.add(plan, "month")
    today = w.s.clock.today()
    order = cart.checkout(
        "balance", today, order_id="o-yearly", tax=w.s.billing.settings.tax, country="RU"
    )
    [service_id] = w.owner.orders.place(order).service_ids
    w.s.billing.services.finish(service_id)
    return service_id


def yearly_service(w: World) -> str:
    with MemoryUnitOfWork(w.s.store) as uow:
        services = uow.services.for_account(ACCOUNT)
    return next(s.id for s in services if s.plan_id == "vps-y")


def unpaid_service(w: World) -> str:
    """The service of the unpaid order of acc-1."""
    with MemoryUnitOfWork(w.s.store) as uow:
        service_id = uow.invoices.get(w.invoice_id).lines[0].service_id
    assert service_id is not None
    return service_id


def company_payer(payer_id: str = "p-1") -> Payer:
    return Payer(
        payer_id,
        PayerKind.LEGAL_ENTITY,
        "UA",
        "TOV Romashka",
        tax_ids=[TaxId("edrpou", "32855961")],
        bank=BankDetails(bank_name="PrivatBank", iban=IBAN),
    )


def open_renewal(w: World) -> str:
    """The id of the account's open renewal invoice (made by a row's ``prepare``)."""
    return next(
        i.id
        for i in w.s.store.invoices.rows.values()
        if i.account_id == ACCOUNT and i.is_open() and i.kind.value == "renewal"
    )


def card(method_id: str, token: str) -> SavedPaymentMethod:
    return SavedPaymentMethod(method_id, ACCOUNT, "card", token, "Visa", "•••• 4242")


def build_world() -> World:
    """``acc-1`` with everything the rows' calls need (see :class:`World`)."""
    s = in_memory_billing(settings(), now=START, rates=FixedRates({("EUR", "RUB"): "100"}))
    account = Account.open(ACCOUNT, "jfairy", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    account.security.set_ip_allowlist(ALLOWLIST)
    s.billing.open_account(account, owner_id=OWNER_ID, owner_name="Jill")
    s.billing.open_account(
        Account.open("acc-2", "stranger", email="s@example.com", currency="RUB"),
        owner_id=STRANGER,
        owner_name="Stranger",
    )
    every = DEFAULT_CATALOGUE.actions
    with MemoryUnitOfWork(s.store) as uow:
        users = uow.users.get(ACCOUNT)
        users.add(FULL, "Full", "full@example.com", every)
        users.add(DISABLED, "Disabled", "disabled@example.com", every, enabled=False)
        users.add(PLAIN, "Plain", "plain@example.com")
        for right in every:
            users.add(without(right), "Without", "", [a for a in every if a != right])
            users.add(only(right), "Only", "", [right])
        uow.commit()
    owner = s.billing.cabinet(ACCOUNT, OWNER_ID, ip=OK_IP)
    started = owner.payments.top_up(rub("1000.00"), "wallet")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now()),
    )
    owner.payments.bind_card(card("card-1", "tok_1"))
    placed = order(s, owner, "100.00", "o-1")
    service_id = placed.service_ids[0]  # type: ignore[attr-defined]
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.admin("ops"), s.clock.now())
        uow.commit()
    unpaid = order(s, owner, "5000.00", "o-2")
    owner.payers.add(company_payer())
    ticket = owner.tickets.open(department="technical", subject="Ping", text="Ping fails")
    s.billing.staff.open_credit_line(ACCOUNT)
    s.exchange.connect(ACCOUNT)
    return World(
        s,
        service_id=service_id,
        invoice_id=unpaid.invoice.id,  # type: ignore[attr-defined]
        method_id="card-1",
        payer_id="p-1",
        ticket_id=ticket.id,
    )


def clear_country(account: Account) -> None:
    account.profile = attrs.evolve(account.profile, country=None)


def clear_email(account: Account) -> None:
    account.profile = attrs.evolve(account.profile, email="")


Call = Callable[[Cabinet, World], object]
Prepare = Callable[[World], object]


@attrs.frozen
class Row:
    """One cabinet use case: its namespace, method, the right it needs, and a valid call."""

    namespace: str
    method: str
    right: str
    call: Call
    prepare: Prepare | None = None

    def __str__(self) -> str:
        return f"{self.namespace}.{self.method}"


USE_CASES: list[Row] = [
    # balance
    Row("balance", "get", "invoices.view", lambda c, w: c.balance.get("RUB")),
    Row("balance", "equivalents", "invoices.view", lambda c, w: c.balance.equivalents(rub("100"))),
    Row("balance", "convert", "invoices.pay", lambda c, w: c.balance.convert(rub("100"), "EUR")),
    Row(
        "balance",
        "set_autopay",
        "invoices.pay",
        lambda c, w: c.balance.set_autopay(
            w.method_id,
            AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("500.00"), rub("2000.00")),
        ),
    ),
    Row("balance", "stop_autopay", "invoices.pay", lambda c, w: c.balance.stop_autopay()),
    Row(
        "balance",
        "recommended_autopay_cap",
        "invoices.view",
        lambda c, w: c.balance.recommended_autopay_cap(),
    ),
    Row("balance", "expenses", "invoices.view", lambda c, w: c.balance.expenses()),
    Row(
        "balance",
        "statement",
        "invoices.view",
        lambda c, w: c.balance.statement(date(2024, 3, 1), date(2024, 4, 1)),
    ),
    # credit
    Row("credit", "status", "invoices.view", lambda c, w: c.credit.status()),
    # documents
    Row(
        "documents",
        "switch_exchange_on",
        "settings.manage",
        lambda c, w: c.documents.switch_exchange_on(w.payer_id),
    ),
    Row(
        "documents",
        "switch_exchange_off",
        "settings.manage",
        lambda c, w: c.documents.switch_exchange_off(),
        prepare=lambda w: w.owner.documents.switch_exchange_on(w.payer_id),
    ),
    Row(
        "documents",
        "reconciliation",
        "documents.view",
        lambda c, w: c.documents.reconciliation("RUB", date(2024, 3, 1), date(2024, 4, 1)),
    ),
    Row(
        "documents",
        "download",
        "documents.view",
        lambda c, w: c.documents.download(
            "statement", format="text", currency="RUB", start=date(2024, 3, 1), end=date(2024, 4, 1)
        ),
    ),
    Row("documents", "credit_notes", "documents.view", lambda c, w: c.documents.credit_notes()),
    # invoices
    Row("invoices", "pay", "invoices.pay", lambda c, w: c.invoices.pay(w.invoice_id)),
    Row("invoices", "delete", "invoices.pay", lambda c, w: c.invoices.delete(w.invoice_id)),
    Row(
        "invoices",
        "pay_link",
        "invoices.pay",
        lambda c, w: c.invoices.pay_link(linkable(w)),
        prepare=lambda w: (
            w.owner.payments.set_pay_without_login(True),
            order(w, w.owner, "100.00", "o-link", "wallet"),
        ),
    ),
    Row("invoices", "list", "invoices.view", lambda c, w: c.invoices.list("all")),
    Row("invoices", "get", "invoices.view", lambda c, w: c.invoices.get(w.invoice_id)),
    Row(
        "invoices",
        "request_quote",
        "invoices.view",
        lambda c, w: c.invoices.request_quote(w.invoice_id),
    ),
    Row("invoices", "reissue", "invoices.pay", lambda c, w: c.invoices.reissue(w.invoice_id)),
    # orders
    Row("orders", "place", "services.order", lambda c, w: order(w, c, "100.00", "o-matrix")),
    Row("orders", "checkout", "services.order", lambda c, w: checkout(c, "o-matrix-cart")),
    Row("orders", "checkout_daily", "services.order", lambda c, w: checkout_daily(c, "o-daily")),
    # payers
    Row("payers", "add", "payers.manage", lambda c, w: c.payers.add(company_payer("p-2"))),
    Row("payers", "update", "payers.manage", lambda c, w: c.payers.update(company_payer())),
    Row("payers", "list", "payers.manage", lambda c, w: c.payers.list()),
    Row(
        "payers",
        "delete",
        "payers.manage",
        lambda c, w: c.payers.delete("p-2"),
        prepare=lambda w: w.owner.payers.add(company_payer("p-2")),
    ),
    Row(
        "payers",
        "preview_merge",
        "payers.manage",
        lambda c, w: c.payers.preview_merge(w.payer_id, "p-2"),
        prepare=lambda w: w.owner.payers.add(company_payer("p-2")),
    ),
    Row(
        "payers",
        "merge",
        "payers.manage",
        lambda c, w: c.payers.merge(w.payer_id, "p-2", move_contracts=True),
        prepare=lambda w: w.owner.payers.add(company_payer("p-2")),
    ),
    Row(
        "payers",
        "reconciliation",
        "documents.view",
        lambda c, w: c.payers.reconciliation(w.payer_id, "RUB", date(2024, 3, 1), date(2024, 4, 1)),
    ),
    # payments
    Row("payments", "top_up", "invoices.pay", lambda c, w: c.payments.top_up(rub("50"), "card")),
    Row(
        "payments",
        "bind_card",
        "invoices.pay",
        lambda c, w: c.payments.bind_card(card("card-2", "tok_2")),
    ),
    Row(
        "payments",
        "delete_method",
        "invoices.pay",
        lambda c, w: c.payments.delete_method(w.method_id),
    ),
    Row(
        "payments",
        "stop_card_autopay",
        "invoices.pay",
        lambda c, w: c.payments.stop_card_autopay(),
    ),
    Row("payments", "list", "invoices.view", lambda c, w: c.payments.list()),
    Row("payments", "methods", "invoices.view", lambda c, w: c.payments.methods()),
    Row("payments", "card_autopay", "invoices.view", lambda c, w: c.payments.card_autopay()),
    Row("payments", "attempts", "invoices.view", lambda c, w: c.payments.attempts(limit=1)),
    Row(
        "payments",
        "rename_method",
        "invoices.pay",
        lambda c, w: c.payments.rename_method(w.method_id, "Company card"),
    ),
    Row(
        "payments",
        "pay_invoice",
        "invoices.pay",
        lambda c, w: c.payments.pay_invoice(open_renewal(w), w.method_id),
        prepare=lambda w: w.owner.services.renew(w.service_id),
    ),
    Row(
        "payments",
        "set_pay_without_login",
        "settings.manage",
        lambda c, w: c.payments.set_pay_without_login(True),
    ),
    # profile
    Row("profile", "get", ANY_USER, lambda c, w: c.profile.get()),
    Row(
        "profile",
        "change_name",
        "settings.manage",
        lambda c, w: c.profile.change_name("Fairy", "Jill", "Ann"),
    ),
    Row(
        "profile",
        "change_phone",
        "settings.manage",
        lambda c, w: c.profile.change_phone("+7 999 111 22 33"),
    ),
    Row(
        "profile",
        "change_postal_address",
        "settings.manage",
        lambda c, w: c.profile.change_postal_address(
            PostalAddress("Moscow", "101000", "Tverskaya 1")
        ),
    ),
    Row(
        "profile",
        "change_company",
        "settings.manage",
        lambda c, w: c.profile.change_company("Fairy LLC", "7707083893"),
    ),
    Row(
        "profile",
        "change_language",
        "settings.manage",
        lambda c, w: c.profile.change_language("ru"),
    ),
    Row(
        "profile",
        "change_currency",
        "settings.manage",
        lambda c, w: c.profile.change_currency("RUB"),
    ),
    Row(
        "profile",
        "set_notification_email",
        "settings.manage",
        lambda c, w: c.profile.set_notification_email("support", "admin@example.com"),
    ),
    Row(
        "profile",
        "fill_in_country",
        "settings.manage",
        lambda c, w: c.profile.fill_in_country("RU"),
        prepare=lambda w: w.edit_account(clear_country),
    ),
    Row(
        "profile",
        "fill_in_email",
        "settings.manage",
        lambda c, w: c.profile.fill_in_email("j@example.com"),
        prepare=lambda w: w.edit_account(clear_email),
    ),
    Row("profile", "request_deletion", OWNER, lambda c, w: c.profile.request_deletion()),
    Row(
        "profile",
        "withdraw_deletion",
        OWNER,
        lambda c, w: c.profile.withdraw_deletion(),
        prepare=lambda w: w.owner.profile.request_deletion(),
    ),
    # security
    Row("security", "view", "settings.manage", lambda c, w: c.security.view()),
    Row(
        "security",
        "set_ip_allowlist",
        "settings.manage",
        lambda c, w: c.security.set_ip_allowlist(f"{ALLOWLIST}\n192.15.3.2"),
    ),
    Row(
        "security",
        "set_code_word",
        "settings.manage",
        lambda c, w: c.security.set_code_word("blue falcon"),
    ),
    Row(
        "security",
        "show_login_ips",
        "settings.manage",
        lambda c, w: c.security.show_login_ips(enabled=False),
    ),
    # services
    Row("services", "renew", "services.renew", lambda c, w: c.services.renew(w.service_id)),
    Row("services", "view", "services.view", lambda c, w: c.services.view(w.service_id)),
    Row("services", "list", "services.view", lambda c, w: c.services.list(limit=1)),
    Row("services", "limits", "services.view", lambda c, w: c.services.limits(w.service_id)),
    Row("services", "history", "services.view", lambda c, w: c.services.history(w.service_id)),
    Row(
        "services",
        "upcoming",
        "invoices.view",
        lambda c, w: c.services.upcoming(until=date(2024, 6, 1)),
    ),
    Row("services", "stop", "services.manage", lambda c, w: c.services.stop(w.service_id)),
    Row(
        "services",
        "start",
        "services.manage",
        lambda c, w: c.services.start(w.service_id),
        prepare=lambda w: w.owner.services.stop(w.service_id),
    ),
    Row(
        "services",
        "suspend",
        "services.manage",
        lambda c, w: c.services.suspend(daily_service(w)),
        prepare=open_daily,
    ),
    Row(
        "services",
        "resume",
        "services.manage",
        lambda c, w: c.services.resume(daily_service(w)),
        prepare=lambda w: w.owner.services.suspend(open_daily(w)),
    ),
    Row("services", "reboot", "services.manage", lambda c, w: c.services.reboot(w.service_id)),
    Row("services", "delete", "services.delete", lambda c, w: c.services.delete(w.service_id)),
    Row(
        "services",
        "cancel",
        "services.delete",
        lambda c, w: c.services.cancel(unpaid_service(w)),
    ),
    Row(
        "services",
        "renew_now",
        "services.renew",
        lambda c, w: c.services.renew_now(w.service_id),
    ),
    Row(
        "services",
        "set_auto_renewal",
        "services.renew",
        lambda c, w: c.services.set_auto_renewal(w.service_id),
    ),
    Row(
        "services",
        "set_auto_renewal_default",
        "services.renew",
        lambda c, w: c.services.set_auto_renewal_default(False),
    ),
    Row(
        "services",
        "change_plan",
        "services.order",
        lambda c, w: c.services.change_plan(
            yearly_service(w), "vps-y", period="year", when="period_end"
        ),
        prepare=open_yearly,
    ),
    Row(
        "services",
        "cancel_change",
        "services.order",
        lambda c, w: c.services.cancel_change(w.service_id),
        prepare=lambda w: w.owner.services.terminate(w.service_id),
    ),
    Row(
        "services", "terminate", "services.delete", lambda c, w: c.services.terminate(w.service_id)
    ),
    Row(
        "services",
        "switch_auto_renewal_off",
        "services.renew",
        lambda c, w: c.services.switch_auto_renewal_off(w.service_id),
    ),
    # tickets
    Row(
        "tickets",
        "open",
        "support.write",
        lambda c, w: c.tickets.open(department="finance", subject="VAT", text="Looks wrong"),
    ),
    Row("tickets", "reply", "support.write", lambda c, w: c.tickets.reply(w.ticket_id, "Still")),
    Row("tickets", "close", "support.write", lambda c, w: c.tickets.close(w.ticket_id)),
    Row("tickets", "list", "support.view", lambda c, w: c.tickets.list()),
    Row("tickets", "get", "support.view", lambda c, w: c.tickets.get(w.ticket_id)),
    Row("tickets", "mark_read", "support.view", lambda c, w: c.tickets.mark_read(w.ticket_id)),
    Row("tickets", "departments", "support.write", lambda c, w: c.tickets.departments()),
    Row(
        "tickets",
        "archive",
        "support.write",
        lambda c, w: c.tickets.archive(w.ticket_id),
        prepare=lambda w: w.s.billing.staff.reply_to_ticket(
            ACCOUNT, w.ticket_id, "Fixed", author="Ivan"
        ),
    ),
    # notifications
    Row("notifications", "preferences", ANY_USER, lambda c, w: c.notifications.preferences()),
    Row(
        "notifications",
        "switch",
        ANY_USER,
        lambda c, w: c.notifications.switch("news", "email", on=True),
    ),
    Row(
        "notifications",
        "switch_category",
        ANY_USER,
        lambda c, w: c.notifications.switch_category("finance", on=False),
    ),
    Row(
        "notifications",
        "low_balance_threshold",
        "invoices.view",
        lambda c, w: c.notifications.low_balance_threshold(),
    ),
    Row(
        "notifications",
        "set_low_balance_threshold",
        "settings.manage",
        lambda c, w: c.notifications.set_low_balance_threshold(rub("50.00")),
    ),
    Row("notifications", "inbox", ANY_USER, lambda c, w: c.notifications.inbox(unread=True)),
    Row("notifications", "unread_count", ANY_USER, lambda c, w: c.notifications.unread_count()),
    Row(
        "notifications",
        "mark_read",
        ANY_USER,
        lambda c, w: c.notifications.mark_read(
            [e.id for e in w.owner.notifications.inbox(limit=1)]
        ),
    ),
    Row("notifications", "mark_all_read", ANY_USER, lambda c, w: c.notifications.mark_all_read()),
    # users
    Row("users", "list", "users.manage", lambda c, w: c.users.list()),
    Row(
        "users",
        "add",
        "users.manage",
        lambda c, w: c.users.add("u-new", "New", "new@example.com", ["users.manage"]),
    ),
    Row("users", "edit", "users.manage", lambda c, w: c.users.edit(PLAIN, name="Plain Two")),
    Row("users", "grant", "users.manage", lambda c, w: c.users.grant(PLAIN, "users.manage")),
    Row("users", "revoke", "users.manage", lambda c, w: c.users.revoke(PLAIN, "users.manage")),
    Row("users", "disable", "users.manage", lambda c, w: c.users.disable(PLAIN)),
    Row("users", "enable", "users.manage", lambda c, w: c.users.enable(PLAIN)),
    Row("users", "delete", "users.manage", lambda c, w: c.users.delete(PLAIN)),
    Row("users", "transfer_ownership", OWNER, lambda c, w: c.users.transfer_ownership(FULL)),
]

# --------------------------------------------------------------------------- machinery


def committed(w: World) -> object:
    """Everything a refused call must leave as it was: store, notices, provider calls."""
    store = w.s.store
    tables = {
        field.name: {
            key: (table.versions[key], copy.deepcopy(row)) for key, row in table.rows.items()
        }
        for field in attrs.fields(type(store))
        if hasattr(table := getattr(store, field.name), "rows")
    }
    return (
        tables,
        dict(store.invoice_numbers),
        dict(store.sequences),
        set(store.keys),
        list(w.s.notifier.sent),
        list(w.s.gateway.charges),
        list(w.s.gateway.checkouts),
        list(w.s.exchange.sent),
    )


def prepared(row: Row) -> World:
    world = build_world()
    if row.prepare is not None:
        row.prepare(world)
    return world


def action_of(row: Row) -> str:
    return {OWNER: "act as the account's owner", ANY_USER: "use the cabinet"}.get(
        row.right, row.right
    )


def refusals(row: Row) -> list[tuple[str, Callable[[World], Cabinet], str]]:
    """(case, the refused cabinet, a text the error must contain)."""
    lacking = FULL if row.right == OWNER else without(row.right)
    action = action_of(row)
    # Every enabled user of the account may call an ANY_USER use case.
    no_right = [] if row.right == ANY_USER else [("without the right", lacking, action)]
    return [
        *((case, lambda w, u=user: w.cabinet(u), text) for case, user, text in no_right),
        ("disabled", lambda w: w.cabinet(DISABLED), "the user is disabled"),
        ("of another account", lambda w: w.cabinet(STRANGER), f"not a user of account {ACCOUNT!r}"),
        ("outside the allowlist", lambda w: w.cabinet(OWNER_ID, ip=REFUSED_IP), REFUSED_IP),
        ("with no address", lambda w: w.cabinet(OWNER_ID, ip=None), "gave none"),
    ]


CASES = [(row, case) for row in USE_CASES for case, _, _ in refusals(row)]


@pytest.mark.spec("A3", "A5")
@pytest.mark.parametrize(("row", "case"), CASES, ids=[f"{r}-{c}" for r, c in CASES])
def test_a_refused_call_names_the_right_or_address_and_changes_nothing(
    row: Row,
    case: str,
) -> None:
    world = prepared(row)
    (refused, expected) = next((cab, text) for name, cab, text in refusals(row) if name == case)
    before = committed(world)
    with pytest.raises(AccessDeniedError) as info:
        row.call(refused(world), world)
    message = str(info.value)
    assert expected in message
    if case != "outside the allowlist":
        assert info.value.action == action_of(row)
    assert committed(world) == before


@pytest.mark.spec("A3")
@pytest.mark.parametrize("row", USE_CASES, ids=str)
def test_the_right_alone_is_enough(row: Row) -> None:
    world = prepared(row)
    user = {OWNER: OWNER_ID, ANY_USER: only("invoices.view")}.get(row.right, only(row.right))
    row.call(world.cabinet(user), world)


@pytest.mark.spec("A3")
def test_every_use_case_has_a_row() -> None:
    world = build_world()
    cabinet = world.owner
    namespaces = {
        name: value
        for name, value in vars(cabinet).items()
        if type(value).__module__.startswith("cabinet_billing.app.")
    }
    public = {
        (name, method)
        for name, namespace in namespaces.items()
        for method, _ in inspect.getmembers(type(namespace), inspect.isfunction)
        if not method.startswith("_")
    }
    rows = [(r.namespace, r.method) for r in USE_CASES]
    assert len(rows) == len(set(rows)), "a use case has two rows"
    assert sorted(public - set(rows)) == [], "cabinet use cases without a row in USE_CASES"
    assert sorted(set(rows) - public) == [], "rows for use cases the cabinet does not have"
    assert {"balance", "payers", "profile", "tickets"} <= set(namespaces)


@pytest.mark.spec("A3")
def test_every_row_names_a_known_right() -> None:
    special = (OWNER, ANY_USER)
    unknown = [
        str(r) for r in USE_CASES if r.right not in special and r.right not in DEFAULT_CATALOGUE
    ]
    assert unknown == []
