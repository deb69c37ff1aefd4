"""The three cabinet presets: every seed number comes out through the public API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from cabinet_billing import (
    AccessDeniedError,
    Account,
    AmountOutOfRangeError,
    BillingSettings,
    Cabinet,
    CabinetPreset,
    Cart,
    CheckoutStarted,
    ConflictError,
    InvoiceStatus,
    Money,
    NotFoundError,
    Payer,
    Period,
    Plan,
    PostalAddress,
    ProductKind,
    ProfileIncompleteError,
    RenewalPolicy,
    SavedPaymentMethod,
    StatementLine,
    TaxMode,
    TaxPolicy,
    TaxRate,
    ValidationError,
    preset,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.fx import equivalents
from cabinet_billing.domain.invoice import InvoiceFilter, filter_invoices
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.paylink import PayLinkKeys
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.periods import period_end
from cabinet_billing.domain.saved_method import MethodKind, mask_card
from cabinet_billing.domain.service import Actor
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.errors import ExpiredPayLinkError
from cabinet_billing.l10n import render_message
from cabinet_billing.rules.autopay import ScheduledCharge, forecast, recommended_cap
from cabinet_billing.rules.credit_limit import CreditStatus, credit_dashboard, issue_statement
from cabinet_billing.rules.matching import ReviewReason
from cabinet_billing.rules.presets import ASTRA_CLOUD, HOROSHOP, INTROSERV, PRESETS
from cabinet_billing.rules.renewal import describe_subscription, renewal_date
from cabinet_billing.rules.requisites import default_registry

KEYS = PayLinkKeys("k1", {"k1": bytes(range(32))})
IBAN = "UA21 3223 1300 0002 6007 2335 6600 1"


def owner(s: InMemoryBilling, account_id: str = "acc-1") -> Cabinet:
    """The cabinet of the account's owner."""
    return s.billing.cabinet(account_id, "u1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


def at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def cabinet(
    which: CabinetPreset,
    start: datetime,
    account_id: str = "acc-1",
    *,
    complete: bool = True,
) -> InMemoryBilling:
    """A cabinet wired with a preset's settings and one account in its main currency."""
    s = in_memory_billing(
        BillingSettings.from_preset(which, pay_link_keys=KEYS),
        now=start,
        rates=FixedRates(which.exchange_rates) if which.exchange_rates else None,
    )
    country = {"RUB": "RU", "UAH": "UA"}.get(which.currency, "UA")
    account = Account.open(
        account_id, f"login-{account_id}", currency=which.currency, country=country
    )
    if complete:
        account.change_email("owner@example.com")
        account.change_name("Shevchenko", "Taras")
        account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Taras")
    return s


def credit(s: InMemoryBilling, payment_id: str) -> None:
    s.billing.webhooks.handle(
        *s.gateway.webhook(payment_id, PaymentEventKind.CREDITED, s.clock.now()),
    )


def top_up(s: InMemoryBilling, amount: Money, method: str, account_id: str = "acc-1") -> None:
    credit(s, owner(s, account_id).payments.top_up(amount, method).payment.id)


def order(
    s: InMemoryBilling, plan: Plan, method: str, account_id: str = "acc-1", order_id: str = "o-1"
) -> tuple[str, str]:
    """Place a one-plan monthly order; returns (service id, invoice id)."""
    currency = plan.prices.currencies()[0]
    cart = Cart(account_id, currency)
    cart.add(plan, "month")
    placed = owner(s, account_id).orders.place(
        cart.checkout(
            method,
            s.clock.today(),
            order_id=order_id,
            tax=s.billing.settings.tax,
            country="RU" if currency == "RUB" else "UA",
            proration=s.billing.settings.proration,
        ),
    )
    return placed.service_ids[0], placed.invoice.id


def pay_directly(s: InMemoryBilling, invoice_id: str, method: str) -> None:
    started = owner(s).invoices.pay(invoice_id, method_id=method)
    assert isinstance(started, CheckoutStarted)
    credit(s, started.payment.id)


def run_on(s: InMemoryBilling, day: date) -> None:
    s.clock.set(at(day))
    s.billing.run.day()


# ----------------------------------------------------------------------------- all presets


@pytest.mark.spec("M5", "L4", "L5", "R1", "R4")
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_valid_settings(name: str) -> None:
    chosen = preset(name)
    settings = BillingSettings.from_preset(chosen, pay_link_keys=KEYS)
    assert isinstance(settings, BillingSettings)
    assert {m.currency for m in settings.payment_methods} == set(chosen.currencies)
    assert chosen.currency in chosen.currencies
    assert settings.tax == chosen.tax
    assert settings.renewal == chosen.renewal
    assert settings.proration == chosen.proration
    assert settings.credit == chosen.credit
    assert settings.documents == chosen.documents
    number = settings.invoice_numbers.format(
        7, prefix=settings.invoice_prefix, service_code=settings.service_code or "A1"
    )
    assert settings.invoice_numbers.parse(number).seq == 7
    if chosen.pay_link_lifetime is None:
        assert settings.pay_links is None
    else:
        assert settings.pay_links is not None
        assert settings.pay_links.policy.lifetime == chosen.pay_link_lifetime
    assert BillingSettings.from_preset(chosen).pay_links is None


@pytest.mark.spec("L4")
def test_presets_are_looked_up_by_name_in_any_spelling() -> None:
    assert preset("astra_cloud") is ASTRA_CLOUD
    assert preset("Astra-Cloud") is ASTRA_CLOUD
    assert preset("INTROSERV") is INTROSERV
    assert preset("horoshop") is HOROSHOP


@pytest.mark.spec("L4")
def test_an_unknown_preset_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(NotFoundError) as caught:
        preset("billmanager")
    message = str(caught.value)
    assert "billmanager" in message
    assert "astra_cloud, horoshop, introserv" in message
    assert isinstance(caught.value, LookupError)
    assert sorted(PRESETS) == ["astra_cloud", "horoshop", "introserv"]


@pytest.mark.spec("M5", "M6")
def test_a_preset_is_configuration_a_different_fee_shows_in_the_quote() -> None:
    card = ASTRA_CLOUD.methods[0]
    cheaper = attrs.evolve(
        ASTRA_CLOUD,
        methods=(
            attrs.evolve(
                card,
                pricing=attrs.evolve(card.pricing, fee_percent="3", fixed_fee=rub("5.00")),
            ),
        ),
    )
    quote = BillingSettings.from_preset(cheaper).method("card", "RUB").pricing.quote(rub("100.00"))
    assert (quote.fee, quote.total, quote.cashback) == (rub("8.00"), rub("108.00"), rub("10.80"))
    original = BillingSettings.from_preset(ASTRA_CLOUD).method("card", "RUB").pricing
    assert original.quote(rub("100.00")).total == rub("115.00")


@pytest.mark.spec("R1")
def test_a_preset_is_configuration_a_different_due_day_shows_in_the_statement() -> None:
    assert ASTRA_CLOUD.credit is not None
    later = attrs.evolve(ASTRA_CLOUD, credit=attrs.evolve(ASTRA_CLOUD.credit, due_day=20))
    s = in_memory_billing(BillingSettings.from_preset(later), now=at(date(2024, 7, 1), 9))
    account = Account.open("acc-1", "corp", email="b@corp.example", currency="RUB", country="RU")
    account.change_name("Petrova", "Anna")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Tverskaya 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Anna")
    assert later.credit_limit is not None
    s.billing.staff.open_credit_line("acc-1", later.credit_limit)
    with MemoryUnitOfWork(s.store) as uow:
        line = uow.profiles.get("acc-1").credit
        assert line is not None
        line.record_usage(rub("800.00"), date(2024, 7, 20), "VPS")
        uow.commit()
    run_on(s, date(2024, 8, 1))
    (statement,) = [i for i in s.store.invoices.rows.values() if i.kind.value == "statement"]
    assert statement.due_on == date(2024, 8, 20)


@pytest.mark.spec("R4")
def test_a_preset_is_configuration_a_different_renewal_lead_renews_earlier() -> None:
    ahead = attrs.evolve(INTROSERV, renewal=RenewalPolicy(lead_days=3, lead_days_by_kind={}))
    s = in_memory_billing(
        BillingSettings.from_preset(ahead),
        now=at(date(2024, 1, 10), 9),
        rates=FixedRates(ahead.exchange_rates),
    )
    account = Account.open("acc-1", "jfairy", email="j@x.example", currency="EUR")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    account.set_auto_renew_default(True)
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    top_up(s, eur("100.00"), "card")
    service_id, _ = order(
        s, Plan("vps", "VPS", ProductKind.VPS, {"month": eur("30.00")}), BALANCE_METHOD
    )
    run_on(s, date(2024, 2, 6))
    assert s.store.services.rows[service_id].paid_until == date(2024, 2, 10)
    run_on(s, date(2024, 2, 7))
    assert s.store.services.rows[service_id].paid_until == date(2024, 3, 10)


# ----------------------------------------------------------------------------- Introserv


@pytest.mark.spec("A2")
def test_introserv_refuses_paying_until_the_profile_is_complete() -> None:
    s = cabinet(INTROSERV, at(date(2024, 1, 10), 9), complete=False)
    with pytest.raises(ProfileIncompleteError) as caught:
        owner(s).payments.top_up(eur("100.00"), "card")
    assert caught.value.missing == ("last_name", "first_name", "email", "city", "address")
    assert str(caught.value) == (
        "paying is not possible yet: fill in last_name, first_name, email, city, address"
    )
    assert s.store.payments.rows == {}
    assert owner(s).balance.get("EUR") == eur("0")


@pytest.mark.spec("M4")
def test_introserv_top_up_shows_its_equivalents_at_the_current_rate() -> None:
    rates = FixedRates({("EUR", "USD"): "1.08", ("EUR", "UAH"): "42.50", ("USD", "UAH"): "39.35"})
    table = rates.table(date(2024, 1, 10))
    shown = equivalents(eur("100.00"), INTROSERV.currencies, table)
    assert {code: c.target for code, c in shown.items()} == {
        "USD": Money("108.00", "USD"),
        "UAH": uah("4250.00"),
    }
    shown = equivalents(uah("1000.00"), INTROSERV.currencies, table)
    assert {code: c.target for code, c in shown.items()} == {
        "EUR": eur("23.53"),
        "USD": Money("25.41", "USD"),
    }
    s = cabinet(INTROSERV, at(date(2024, 1, 10), 9))
    top_up(s, eur("100.00"), "card")
    top_up(s, uah("1000.00"), "card")
    assert (
        owner(s).balance.get("EUR"),
        owner(s).balance.get("UAH"),
    ) == (
        eur("100.00"),
        uah("1000.00"),
    )


def _introserv_months() -> tuple[InMemoryBilling, str]:
    """Introserv: 100.00 EUR topped up, a 30.00 EUR VPS from 10 January, run to 10 April."""
    s = cabinet(INTROSERV, at(date(2024, 1, 10), 9))
    with MemoryUnitOfWork(s.store) as uow:
        account = uow.accounts.get("acc-1")
        account.set_low_balance_threshold(INTROSERV.low_balance_threshold)
        account.set_auto_renew_default(True)
        uow.commit()
    top_up(s, eur("100.00"), "card")
    service_id, _ = order(
        s, Plan("vps", "VPS S", ProductKind.VPS, {"month": eur("30.00")}), BALANCE_METHOD
    )
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    return s, service_id


@pytest.mark.spec("R4", "R8", "L2")
def test_introserv_renews_from_the_balance_at_the_end_of_the_period() -> None:
    s, service_id = _introserv_months()
    assert owner(s).balance.get("EUR") == eur("70.00")
    seen = []
    for day in (date(2024, 2, 9), date(2024, 2, 10), date(2024, 3, 10), date(2024, 4, 10)):
        run_on(s, day)
        service = s.store.services.rows[service_id]
        seen.append(
            (
                service.status.value,
                service.paid_until,
                owner(s).balance.get("EUR"),
            )
        )
    assert seen == [
        ("active", date(2024, 2, 10), eur("70.00")),
        ("active", date(2024, 3, 10), eur("40.00")),
        ("active", date(2024, 4, 10), eur("10.00")),
        ("expired", date(2024, 4, 10), eur("10.00")),
    ]
    low = [n for n in s.notifier.sent if n.kind == "balance.low"]
    assert [(n.at.date(), dict(n.params)) for n in low] == [
        (date(2024, 3, 10), {"balance": "10.00 EUR", "threshold": "20.00 EUR"}),
    ]


@pytest.mark.spec("L4", "L5")
def test_introserv_invoice_list_filters_unpaid_paid_all() -> None:
    s, service_id = _introserv_months()
    for day in (date(2024, 2, 10), date(2024, 3, 10), date(2024, 4, 10)):
        run_on(s, day)
    renewal = owner(s).services.renew(service_id)
    with MemoryUnitOfWork(s.store) as uow:
        invoices = uow.invoices.for_account("acc-1")
    today = s.clock.today()
    listed = {f: [i.number for i in filter_invoices(invoices, f, today)] for f in InvoiceFilter}
    # The first top-up's advance-payment invoice, paid by it, is listed with the others.
    assert listed == {
        InvoiceFilter.UNPAID: ["IS-000004"],
        InvoiceFilter.OVERDUE: [],
        InvoiceFilter.PAID: ["IS-000003", "IS-000002", "IS-000001", "AV-2024-00001"],
        InvoiceFilter.ALL: ["IS-000004", "IS-000003", "IS-000002", "IS-000001", "AV-2024-00001"],
    }
    assert filter_invoices(invoices) == filter_invoices(invoices, InvoiceFilter.UNPAID)
    owner(s).payments.set_pay_without_login(True)
    assert owner(s).invoices.pay_link(renewal.id).expires_at == s.clock.now() + timedelta(days=3)
    top_up(s, eur("20.00"), "crypto")
    assert s.store.invoices.rows[renewal.id].status is InvoiceStatus.PAID
    assert s.store.services.rows[service_id].paid_until == date(2024, 5, 10)


@pytest.mark.spec("A5")
def test_introserv_ip_allowlist_from_the_cabinet_example() -> None:
    s = cabinet(INTROSERV, at(date(2024, 1, 10), 9))
    with MemoryUnitOfWork(s.store) as uow:
        uow.accounts.get("acc-1").security.set_ip_allowlist(
            "192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10"
        )
        uow.commit()
    security = s.store.accounts.rows["acc-1"].security
    allowed = ["192.15.3.2", "10.10.1.1", "192.168.0.1", "192.168.0.10"]
    refused = ["192.15.3.3", "192.168.0.11", "8.8.8.8"]
    assert [security.ip_allowlist.allows(ip) for ip in allowed] == [True] * 4
    assert [security.ip_allowlist.allows(ip) for ip in refused] == [False] * 3
    with pytest.raises(AccessDeniedError, match=r"8\.8\.8\.8 may not access billing"):
        security.record_login("8.8.8.8", at(date(2024, 1, 10), 10))
    assert security.last_login is None


# ----------------------------------------------------------------------------- Astra Cloud


@pytest.mark.spec("M5", "M6")
def test_astra_cloud_card_fee_range_and_cashback() -> None:
    card = BillingSettings.from_preset(ASTRA_CLOUD).method("card", "RUB").pricing
    assert card.quote(rub("20.00")).total == rub("31.00")
    assert card.quote(rub("100.00")).total == rub("115.00")
    assert card.quote(rub("100.00")).cashback == rub("11.50")
    assert (card.minimum, card.maximum) == (rub("10.00"), rub("3000.00"))
    assert card.quote(rub("10.00")).base == rub("10.00")
    assert card.quote(rub("3000.00")).base == rub("3000.00")
    s = cabinet(ASTRA_CLOUD, at(date(2023, 5, 2), 9))
    for wrong in ("9.99", "3000.01"):
        with pytest.raises(AmountOutOfRangeError) as caught:
            owner(s).payments.top_up(rub(wrong), "card")
        assert str(caught.value) == (
            f"amount {wrong} RUB is out of range: allowed from 10.00 RUB to 3000.00 RUB"
        )
    assert s.store.payments.rows == {}
    top_up(s, rub("100.00"), "card")
    assert owner(s).balance.get("RUB") == rub("111.50")
    with MemoryUnitOfWork(s.store) as uow:
        payments = uow.payments.for_account("acc-1")
    assert [(p.purpose.value, p.amount) for p in payments] == [
        ("top_up", rub("100.00")),
        ("cashback", rub("11.50")),
    ]


@pytest.mark.spec("M2", "M3")
def test_astra_cloud_prices_include_20_percent_vat() -> None:
    tax = BillingSettings.from_preset(ASTRA_CLOUD).tax
    assert [tax.amounts(rub(p), "RU").tax for p in ("20.00", "100.00", "250.00")] == [
        rub("3.33"),
        rub("16.67"),
        rub("41.67"),
    ]
    expenses = [rub(a) for a in ("22.4137", "34.4827", "22.4137", "21.3464")]
    breakdown = tax.breakdown(expenses, "RU")
    assert [line.tax for line in breakdown.lines] == [
        rub("3.74"),
        rub("5.75"),
        rub("3.73"),
        rub("3.56"),
    ]
    assert breakdown.total.tax == rub("16.78")


@pytest.mark.spec("M3")
def test_astra_cloud_evolved_to_an_exclusive_10_percent_tax() -> None:
    exclusive = attrs.evolve(ASTRA_CLOUD, tax=TaxPolicy(TaxMode.EXCLUSIVE, default=TaxRate("10")))
    amounts = BillingSettings.from_preset(exclusive).tax.amounts(rub("638.71"), "RU")
    assert (amounts.net, amounts.tax, amounts.gross) == (
        rub("638.71"),
        rub("63.87"),
        rub("702.58"),
    )


@pytest.mark.spec("C1", "C2")
def test_astra_cloud_renewal_prices_and_period() -> None:
    plan = Plan(
        "test",
        "Test",
        ProductKind.VPS,
        {"day": rub("20.00"), "month": rub("100.00"), "year": rub("1200.00")},
    )
    assert [plan.price(p, "RUB") for p in ("day", "month", "year")] == [
        rub("20.00"),
        rub("100.00"),
        rub("1200.00"),
    ]
    assert period_end(date(2023, 5, 27), Period.months(), 1) == date(2023, 6, 27)


@pytest.mark.spec("C3")
def test_astra_cloud_prorates_an_order_to_the_1st() -> None:
    s = cabinet(ASTRA_CLOUD, at(date(2023, 5, 2), 9))
    dc16 = Plan("dc16", "DC16", ProductKind.SERVER, {"month": rub("660.00")})
    cart = Cart("acc-1", "RUB")
    cart.add(dc16, "month")
    summary = cart.price(
        date(2023, 5, 2),
        tax=s.billing.settings.tax,
        country="RU",
        proration=s.billing.settings.proration,
    )
    (line,) = summary.lines
    assert (line.now, line.then, line.covered.end) == (
        rub("638.71"),
        rub("660.00"),
        date(2023, 6, 1),
    )
    service_id, invoice_id = order(s, dc16, "bank_transfer")
    assert s.store.invoices.rows[invoice_id].total.gross == rub("638.71")
    pay_directly(s, invoice_id, "bank_transfer")
    service = s.store.services.rows[service_id]
    assert (service.paid_until, service.price) == (date(2023, 6, 1), rub("660.00"))


def _astra_on_credit() -> InMemoryBilling:
    """A 34 134.48 RUB cluster renewed on credit on 31 July; the statement of 1 August."""
    s = cabinet(ASTRA_CLOUD, at(date(2024, 7, 1), 9))
    assert ASTRA_CLOUD.credit_limit is not None
    s.billing.staff.open_credit_line("acc-1", ASTRA_CLOUD.credit_limit)
    cluster = Plan("cluster", "Cloud cluster", ProductKind.SERVER, {"month": rub("34134.48")})
    service_id, invoice_id = order(s, cluster, "bank_transfer")
    pay_directly(s, invoice_id, "bank_transfer")
    owner(s).services.set_auto_renewal(service_id)
    run_on(s, date(2024, 7, 31))
    run_on(s, date(2024, 8, 1))
    return s


@pytest.mark.spec("R1", "R2")
def test_astra_cloud_credit_terms_and_dashboard() -> None:
    assert ASTRA_CLOUD.credit is not None
    assert (
        ASTRA_CLOUD.credit.statement_day,
        ASTRA_CLOUD.credit.due_day,
        ASTRA_CLOUD.credit.grace_days,
    ) == (1, 15, 15)
    s = _astra_on_credit()
    assert owner(s).balance.get("RUB") == rub("-34134.48")
    s.clock.set(at(date(2024, 8, 5), 9))
    view = owner(s).credit.status()
    assert (view.dashboard.limit, view.dashboard.awaiting, view.dashboard.available) == (
        rub("400000.00"),
        rub("34134.48"),
        rub("365865.52"),
    )
    assert (view.state.due_on, view.state.block_on) == (date(2024, 8, 15), date(2024, 8, 30))
    assert render_message(
        view.state.message_id, "ru", date_format="day_month", **view.state.params
    ) == (
        "До 15 августа вы должны оплатить услуги, купленные в кредит, или 30 августа "
        "продление и покупка услуг будут заблокированы"
    )
    statuses = {}
    for day in range(6, 31):
        run_on(s, date(2024, 8, day))
        statuses[day] = owner(s).credit.status().state.status
    assert (statuses[15], statuses[16], statuses[29], statuses[30]) == (
        CreditStatus.AWAITING_PAYMENT,
        CreditStatus.OVERDUE,
        CreditStatus.OVERDUE,
        CreditStatus.BLOCKED,
    )
    assert [k for k in s.notifier.kinds("acc-1") if k.startswith("credit.")] == [
        "credit.issued",
        "credit.before_due",
        "credit.after_due",
        "credit.before_block",
        "credit.blocked",
    ]
    top_up(s, rub("34134.48"), "bank_transfer")
    view = owner(s).credit.status()
    assert (view.state.status, view.dashboard.available) == (CreditStatus.OK, rub("400000.00"))


@pytest.mark.spec("R1", "R2")
def test_astra_cloud_credit_policy_on_the_guide_example() -> None:
    policy = ASTRA_CLOUD.credit
    assert policy is not None
    line = CreditLine("acc-1", rub("400000.00"))
    line.record_usage(rub("34134.48"), date(2024, 7, 20))
    statement = issue_statement(policy, line, date(2024, 8, 1))
    assert statement is not None
    assert (statement.issued_on, statement.due_on, statement.block_on) == (
        date(2024, 8, 1),
        date(2024, 8, 15),
        date(2024, 8, 30),
    )
    dashboard = credit_dashboard(policy, line, date(2024, 8, 5))
    assert (dashboard.awaiting, dashboard.available) == (rub("34134.48"), rub("365865.52"))


@pytest.mark.spec("R4")
def test_astra_cloud_renewal_lead_and_subscription_wording() -> None:
    renewal = BillingSettings.from_preset(ASTRA_CLOUD).renewal
    expiry = date(2024, 3, 21)
    assert renewal_date(expiry, ProductKind.HOSTING, renewal) == date(2024, 3, 20)
    assert renewal_date(expiry, ProductKind.VPS, renewal) == date(2024, 3, 20)
    assert renewal_date(expiry, ProductKind.DOMAIN, renewal) == date(2024, 1, 21)
    assert renewal_date(expiry, ProductKind.SSL, renewal) == date(2024, 1, 21)
    dns = Subscription(
        "8558",
        "acc-1",
        rub("250.00"),
        "month",
        expiry,
        kind="hosting",
        source=RenewalSource.SAVED_METHOD,
        method_id="card-1111",
    )
    assert describe_subscription(dns, "en") == (
        "250.00 RUB will be charged on 21 March 2024 and every 21st"
    )


@pytest.mark.spec("R6")
def test_astra_cloud_recommended_autopay_cap() -> None:
    charges = [
        ScheduledCharge(rub("250.00"), Period.months(), date(2024, 4, 21)),
        ScheduledCharge(rub("370.00"), Period.months(), date(2024, 4, 5)),
    ]
    expected = forecast(charges, date(2024, 4, 1), "RUB")
    assert expected == rub("620.00")
    assert recommended_cap(expected, ASTRA_CLOUD.autopay_markup_percent) == rub("682.00")
    wider = attrs.evolve(ASTRA_CLOUD, autopay_markup_percent=Decimal(20))
    assert recommended_cap(expected, wider.autopay_markup_percent) == rub("744.00")


# ----------------------------------------------------------------------------- Horoshop


def _visa(method_id: str = "card-1", last4: str = "4242") -> SavedPaymentMethod:
    return SavedPaymentMethod(
        method_id,
        "acc-1",
        MethodKind.CARD,
        token=f"tok_{last4}",
        name=f"Card *{last4}",
        label=mask_card(last4),
        provider="LiqPay",
    )


def _horoshop_to_seventh() -> tuple[InMemoryBilling, str, str]:
    """Horoshop: a card bound with the first invoice, five months of card autopay,
    autopay stopped, the seventh invoice issued on 10 July."""
    s = cabinet(HOROSHOP, at(date(2024, 1, 10), 7))
    plan = Plan("business", "Business", ProductKind.SAAS, {"month": uah("899.00")})
    service_id, first = order(s, plan, "card")
    bound = owner(s).payments.bind_card(_visa())
    assert (bound.action.value, bound.invoice_id, bound.amount) == (
        "pay_invoice",
        first,
        uah("899.00"),
    )
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    for month in range(2, 7):
        s.clock.set(at(date(2024, month, 10), 7))
        invoice = owner(s).services.renew(service_id)
        s.billing.run.day()
        assert s.store.invoices.rows[invoice.id].status is InvoiceStatus.PAID
    owner(s).payments.stop_card_autopay()
    s.clock.set(at(date(2024, 7, 10), 7))
    seventh = owner(s).services.renew(service_id)
    s.billing.run.day()
    return s, service_id, seventh.id


@pytest.mark.spec("L4", "R7")
def test_horoshop_numbers_invoices_and_charges_the_card_on_invoice_day() -> None:
    s, service_id, seventh = _horoshop_to_seventh()
    invoice = s.store.invoices.rows[seventh]
    assert (invoice.number, invoice.status, invoice.amount_due) == (
        "HOR-11111-007",
        InvoiceStatus.UNPAID,
        uah("899.00"),
    )
    numbers = sorted(i.number for i in s.store.invoices.rows.values())
    assert numbers == [f"HOR-11111-00{n}" for n in range(1, 8)]
    autopay_charges = [c for c in s.gateway.charges if c.key.startswith("card-autopay:")]
    assert [c.amount for c in autopay_charges] == [uah("899.00")] * 5
    assert s.store.services.rows[service_id].paid_until == date(2024, 7, 10)
    autopay = s.store.profiles.rows["acc-1"].card_autopay
    assert autopay is not None
    assert [w.value for w in autopay.pay_ways] == ["bank_transfer"]


@pytest.mark.spec("R5")
def test_horoshop_binding_a_card_without_unpaid_invoices_verifies_with_1_uah() -> None:
    s = cabinet(HOROSHOP, at(date(2024, 1, 10), 7))
    bound = owner(s).payments.bind_card(_visa())
    assert (bound.action.value, bound.invoice_id, bound.amount) == (
        "verify_and_refund",
        None,
        uah("1.00"),
    )
    assert [(c.operation, c.amount) for c in s.gateway.charges] == [
        ("charge", uah("1.00")),
        ("refund", uah("1.00")),
    ]
    assert owner(s).balance.get("UAH") == uah("0")
    changed = owner(s).payments.bind_card(_visa("card-2", "5555"))
    assert (changed.action.value, changed.amount) == ("verify_and_refund", uah("1.00"))
    autopay = s.store.profiles.rows["acc-1"].card_autopay
    assert autopay is not None
    assert autopay.method_id == "card-2"


@pytest.mark.spec("L5")
def test_horoshop_pay_link_lives_30_minutes_and_is_reissued() -> None:
    s, _, seventh = _horoshop_to_seventh()
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link(seventh)
    assert link.expires_at == at(date(2024, 7, 10), 7) + timedelta(minutes=30)
    s.clock.advance(minutes=30)
    assert s.billing.pay_links.open(link.token)[1] == link
    s.clock.advance(minutes=1)
    invoice, fresh = s.billing.pay_links.open(link.token)
    assert (invoice.number, fresh.expires_at) == (
        "HOR-11111-007",
        s.clock.now() + timedelta(minutes=30),
    )
    assert fresh.token != link.token
    with pytest.raises(ExpiredPayLinkError, match="expired at 2024-07-10 07:30:00"):
        s.billing.pay_links.pay(link.token, "card")


@pytest.mark.spec("L7")
def test_horoshop_bank_transfer_matched_only_by_exact_number_and_amount() -> None:
    s, service_id, seventh = _horoshop_to_seventh()

    def line(line_id: str, amount: str, purpose: str) -> StatementLine:
        return StatementLine(line_id, date(2024, 7, 10), uah(amount), "ТОВ Магазин", purpose)

    result = s.billing.bank.match(
        [
            line("b1", "898.00", "Оплата за рахунком HOR-11111-007"),
            line("b2", "899.00", "Оплата за рахунком HOR-11111-0071"),
            line("b3", "899.00", "Оплата за послуги"),
        ],
    )
    assert [(r.line_id, r.reason) for r in result.match.review] == [
        ("b1", ReviewReason.AMOUNT_DIFFERS),
        ("b2", ReviewReason.NO_NUMBER),
        ("b3", ReviewReason.NO_NUMBER),
    ]
    assert result.match.review[0].message == (
        "paid 898.00 UAH for HOR-11111-007, 1.00 UAH less than the 899.00 UAH due"
    )
    assert s.store.invoices.rows[seventh].status is InvoiceStatus.UNPAID
    assert owner(s).balance.get("UAH") == uah("0")
    result = s.billing.bank.match(
        [line("b4", "899.00", "Оплата за рахунком HOR-11111-007, у т.ч. ПДВ 149.83")],
    )
    assert [r.message for r in result.match.matched] == [
        "credited 899.00 UAH to invoice HOR-11111-007",
    ]
    assert s.store.invoices.rows[seventh].status is InvoiceStatus.PAID
    assert s.store.services.rows[service_id].paid_until == date(2024, 8, 10)


@pytest.mark.spec("L8")
def test_horoshop_acts_only_while_the_exchange_is_on() -> None:
    s, _, _ = _horoshop_to_seventh()
    with pytest.raises(ConflictError, match="only while the e-document exchange is on"):
        s.billing.staff.close_month("acc-1", date(2024, 6, 1))
    company = Payer(
        "p-1", PayerKind.LEGAL_ENTITY, "UA", "TOV Magazyn", tax_ids=[TaxId("edrpou", "32855961")]
    )
    owner(s).payers.add(company, registry=default_registry())
    with pytest.raises(ValidationError) as caught:
        owner(s).documents.switch_exchange_on("p-1")
    assert "EDRPOU (companies) or RNOKPP (sole proprietors) plus IBAN; missing: iban" in str(
        caught.value
    )
    documents = s.store.documents.rows.get("acc-1")
    assert documents is None or documents.exchange is None
    with_iban = attrs.evolve(company, bank=BankDetails(bank_name="PrivatBank", iban=IBAN))
    owner(s).payers.update(with_iban, registry=default_registry())
    assert owner(s).documents.switch_exchange_on("p-1").status.value == "on"
    s.exchange.connect("acc-1")
    (act,) = s.billing.staff.close_month("acc-1", date(2024, 6, 1))
    assert (act.total.gross, act.total.tax) == (uah("899.00"), uah("149.83"))
    assert [sent.act.number for sent in s.exchange.sent] == [act.number]
    with pytest.raises(ConflictError, match="switch it off first"):
        owner(s).payers.update(company, registry=default_registry())
