"""Saved methods, auto-renewal, autopayment, card autopay and credit lines, through the use cases."""

from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    AutopayPolicy,
    BillingSettings,
    Cabinet,
    Cart,
    ConflictError,
    CreditBlockedError,
    InvalidTransitionError,
    InvoiceStatus,
    Money,
    NotFoundError,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
    ServiceStatus,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.adapters.sandbox import Outcome
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.saved_method import BindingAction, SavedMethodStatus
from cabinet_billing.domain.service import Actor
from cabinet_billing.domain.subscription import RenewalSource
from cabinet_billing.rules.autopay import AutopayMode
from cabinet_billing.rules.presets import ASTRA_CLOUD, HOROSHOP, INTROSERV


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def money(text: str) -> Money:
    amount, code = text.split()
    return Money(amount, code)


def cabinet(preset: object = HOROSHOP, *, now: datetime | None = None) -> InMemoryBilling:
    settings = BillingSettings.from_preset(preset)  # type: ignore[arg-type]
    currency = "UAH" if preset is HOROSHOP else "RUB"
    s = in_memory_billing(
        settings,
        now=now or datetime(2024, 3, 1, 9, tzinfo=UTC),
        rates=FixedRates(INTROSERV.exchange_rates) if preset is INTROSERV else None,
    )
    account = Account.open(
        "acc-1",
        "shop",
        email="o@shop.example",
        currency=currency,
        country="UA" if currency == "UAH" else "RU",
    )
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Taras")
    return s


def card(method_id: str = "m1", token: str = "tok_1") -> SavedPaymentMethod:  # noqa: S107 - a sandbox token
    return SavedPaymentMethod(method_id, "acc-1", "card", token, "Visa", "•••• 4242")


def order(s: InMemoryBilling, price: str, *, activate: bool = True, method: str = "balance") -> str:
    amount = money(price)
    plan = Plan("plan", "Business", ProductKind.SAAS, {"month": amount, "quarter": amount * 3})
    cart = Cart("acc-1", amount.code)
    cart.add(plan, "month")
    placed = owner(s).orders.place(
        cart.checkout(
            method,
            s.clock.today(),
            order_id=f"o-{s.clock.now().isoformat()}",
            tax=s.billing.settings.tax,
            country="UA",
        ),
    )
    service_id = placed.service_ids[0]
    if activate and s.store.services.rows[service_id].paid:
        with MemoryUnitOfWork(s.store) as uow:
            uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
            uow.commit()
    return service_id


@pytest.mark.spec("R5")
def test_binding_a_card_without_open_invoices_verifies_with_1_uah_and_refunds() -> None:
    s = cabinet()
    result = owner(s).payments.bind_card(card())
    assert (result.action, result.amount, result.invoice_id) == (
        BindingAction.VERIFY_AND_REFUND,
        money("1.00 UAH"),
        None,
    )
    assert [(c.operation, c.amount) for c in s.gateway.charges] == [
        ("charge", money("1.00 UAH")),
        ("refund", money("1.00 UAH")),
    ]
    assert s.store.profiles.rows["acc-1"].method("m1").status is SavedMethodStatus.ENABLED
    assert owner(s).balance.get("UAH") == money("0 UAH")


@pytest.mark.spec("R5", "R7")
def test_binding_a_card_with_an_open_invoice_pays_it_and_starts_card_autopay() -> None:
    s = cabinet()
    service_id = order(s, "899.00 UAH", method="card")
    result = owner(s).payments.bind_card(card())
    assert (result.action, result.amount) == (BindingAction.PAY_INVOICE, money("899.00 UAH"))
    invoice = s.store.invoices.rows[result.invoice_id or ""]
    assert invoice.status is InvoiceStatus.PAID
    assert s.store.services.rows[service_id].paid
    autopay = s.store.profiles.rows["acc-1"].card_autopay
    assert autopay is not None
    assert autopay.method_id == "m1"
    owner(s).payments.stop_card_autopay()
    assert s.store.profiles.rows["acc-1"].card_autopay.bank_transfer_only  # type: ignore[union-attr]
    with pytest.raises(InvalidTransitionError):
        owner(s).payments.stop_card_autopay()


@pytest.mark.spec("R5")
def test_a_declined_binding_keeps_the_method_not_working() -> None:
    s = cabinet()
    s.gateway.script("tok_1", Outcome.DECLINE)
    result = owner(s).payments.bind_card(card())
    assert result.events == ()
    assert s.store.profiles.rows["acc-1"].method("m1").status is SavedMethodStatus.NOT_WORKING


@pytest.mark.spec("R4", "R5")
def test_auto_renewal_from_a_saved_method_and_deleting_the_method_switches_it_off() -> None:
    s = cabinet()
    owner(s).payments.bind_card(card())
    started = owner(s).payments.top_up(money("899.00 UAH"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    service_id = order(s, "899.00 UAH")
    sub = owner(s).services.set_auto_renewal(service_id, method_id="m1")
    assert (sub.source, sub.method_id, str(sub.period)) == (
        RenewalSource.SAVED_METHOD,
        "m1",
        "1 month",
    )
    with pytest.raises(NotFoundError, match="'m9'"):
        owner(s).services.set_auto_renewal(service_id, method_id="m9")
    assert owner(s).payments.delete_method("m1") == (service_id,)
    assert not s.store.services.rows[service_id].auto_renew
    assert not s.store.profiles.rows["acc-1"].subscription(service_id).enabled  # type: ignore[union-attr]


@pytest.mark.spec("R4")
def test_the_renewal_period_changes_only_for_an_active_service() -> None:
    s = cabinet()
    started = owner(s).payments.top_up(money("900.00 UAH"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    service_id = order(s, "100.00 UAH", activate=False)
    assert s.store.services.rows[service_id].status is ServiceStatus.PROCESSING
    with pytest.raises(InvalidTransitionError, match="active"):
        owner(s).services.set_auto_renewal(service_id, period="quarter")
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    sub = owner(s).services.set_auto_renewal(service_id, period="quarter")
    assert (str(sub.period), sub.price) == ("3 months", money("300.00 UAH"))
    owner(s).services.switch_auto_renewal_off(service_id)
    assert not s.store.services.rows[service_id].auto_renew


@pytest.mark.spec("R6")
def test_autopayment_tops_up_below_the_threshold_within_the_monthly_cap() -> None:
    s = cabinet(ASTRA_CLOUD)
    owner(s).payments.bind_card(card())
    policy = AutopayPolicy(
        money("100.00 RUB"),
        AutopayMode.FIXED,
        money("500.00 RUB"),
        monthly_cap=money("682.00 RUB"),
    )
    owner(s).balance.set_autopay("m1", policy)
    first = s.billing.run.day()
    assert first.charges == 1
    # The card is charged 500.00 plus its fee (5% + 10.00), and returns 10% cashback.
    assert s.gateway.charges[-1].amount == money("535.00 RUB")
    assert owner(s).balance.get("RUB") == money("553.50 RUB")
    ledger = s.store.ledgers.rows["acc-1"]
    assert [e.kind for e in ledger] == [EntryKind.TOP_UP, EntryKind.CASHBACK]
    # spend it, then the cap leaves only 147.00 (fee included) for the rest of March
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(money("500.00 RUB"), s.clock.now())
        uow.commit()
    s.clock.advance(days=1)
    s.billing.run.day()
    assert s.gateway.charges[-1].amount == money("147.00 RUB")
    assert owner(s).balance.get("RUB") == money("198.68 RUB")
    s.clock.advance(days=1)
    with MemoryUnitOfWork(s.store) as uow:
        uow.ledgers.get("acc-1").charge(money("150.00 RUB"), s.clock.now())
        uow.commit()
    assert s.billing.run.day().charges == 0
    owner(s).balance.stop_autopay()
    assert s.store.profiles.rows["acc-1"].autopay is None


@pytest.mark.spec("R1", "R2")
def test_credit_lines_are_opened_by_the_provider_and_report_their_state() -> None:
    s = cabinet(ASTRA_CLOUD)
    with pytest.raises(NotFoundError, match="credit line"):
        owner(s).credit.status()
    s.billing.staff.open_credit_line("acc-1", money("400000.00 RUB"))
    view = owner(s).credit.status()
    assert view.state.status.name == "OK"
    assert view.dashboard.available == money("400000.00 RUB")
    s.billing.staff.open_credit_line("acc-1", money("150000.00 RUB"))
    assert owner(s).credit.status().dashboard.limit == money("150000.00 RUB")
    introserv = in_memory_billing(BillingSettings(), now=datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(ConflictError, match="no credit"):
        introserv.billing.staff.open_credit_line("acc-1", money("1.00 RUB"))
    assert date(2024, 3, 1) == s.clock.today()


def introserv_customer(settings: BillingSettings | None = None) -> tuple[InMemoryBilling, str]:
    s = in_memory_billing(
        settings or BillingSettings.from_preset(INTROSERV),
        now=datetime(2024, 1, 10, 9, tzinfo=UTC),
        rates=FixedRates(INTROSERV.exchange_rates),
    )
    account = Account.open("acc-1", "alice", email="a@example.com", currency="EUR")
    account.change_name("Doe", "Alice")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Alice")
    started = owner(s).payments.top_up(money("100.00 EUR"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": money("30.00 EUR")})
    cart = Cart("acc-1", "EUR")
    cart.add(plan, "month")
    placed = owner(s).orders.place(
        cart.checkout(
            "balance", s.clock.today(), order_id="o-1", tax=s.billing.settings.tax, country="UA"
        ),
    )
    service_id = placed.service_ids[0]
    with MemoryUnitOfWork(s.store) as uow:
        service = uow.services.get(service_id)
        service.finish_processing(Actor.system(), s.clock.now())
        service.set_auto_renew(True)
        uow.commit()
    return s, service_id


@pytest.mark.spec("R4")
def test_a_period_paid_by_hand_is_never_charged_again_by_the_run() -> None:
    s, service_id = introserv_customer()
    s.billing.run.day()  # the subscription starts following the service
    invoice = owner(s).services.renew(service_id)
    owner(s).invoices.pay(invoice.id)
    assert s.store.services.rows[service_id].paid_until == date(2024, 3, 10)
    balance = owner(s).balance.get("EUR")
    s.clock.set(datetime(2024, 2, 10, 9, tzinfo=UTC))
    assert s.billing.run.day().renewals == 0
    assert owner(s).balance.get("EUR") == balance
    s.clock.set(datetime(2024, 3, 10, 9, tzinfo=UTC))
    assert s.billing.run.day().renewals == 1
    assert s.store.services.rows[service_id].paid_until == date(2024, 4, 10)
    assert owner(s).balance.get("EUR") == money("10.00 EUR")


@pytest.mark.spec("R4", "L4")
def test_the_run_pays_an_open_renewal_invoice_instead_of_issuing_another() -> None:
    s, service_id = introserv_customer()
    invoice = owner(s).services.renew(service_id)
    s.clock.set(datetime(2024, 2, 10, 9, tzinfo=UTC))
    summary = s.billing.run.day()
    assert (summary.renewals, summary.invoices) == (1, 0)
    assert s.store.invoices.rows[invoice.id].status is InvoiceStatus.PAID
    assert s.store.services.rows[service_id].paid_until == date(2024, 3, 10)
    kinds = sorted(i.kind.value for i in s.store.invoices.rows.values())
    assert kinds == ["order", "renewal", "top_up"]  # the top-up's, the order, the one renewal


@pytest.mark.spec("R5", "R7")
def test_binding_another_card_after_stopping_card_autopay_keeps_the_payment() -> None:
    s = cabinet()
    owner(s).payments.bind_card(card())
    owner(s).payments.stop_card_autopay()
    order(s, "899.00 UAH", method="card")
    result = owner(s).payments.bind_card(card("m2", "tok_2"))
    assert result.action is BindingAction.PAY_INVOICE
    assert s.store.invoices.rows[result.invoice_id or ""].status is InvoiceStatus.PAID
    assert s.store.profiles.rows["acc-1"].card_autopay.bank_transfer_only  # type: ignore[union-attr]
    assert s.store.profiles.rows["acc-1"].method("m2").status is SavedMethodStatus.ENABLED


@pytest.mark.spec("R6")
def test_recommended_autopay_cap_is_next_months_forecast_plus_ten_percent() -> None:
    s, service_id = introserv_customer()
    assert s.store.services.rows[service_id].paid_until == date(2024, 2, 10)
    # one 30.00 EUR renewal falls in February
    assert owner(s).balance.recommended_autopay_cap() == money("33.00 EUR")


@pytest.mark.spec("R1", "R8")
def test_preset_defaults_reach_new_accounts_and_credit_lines() -> None:
    s = cabinet(ASTRA_CLOUD)
    assert s.billing.staff.open_credit_line("acc-1").limit == money("400000.00 RUB")
    t, _ = introserv_customer()
    assert t.store.accounts.rows["acc-1"].settings.low_balance_threshold == money("20.00 EUR")


@pytest.mark.spec("L9", "R4", "R6", "R7")
def test_a_deletion_request_stops_every_automatic_charge() -> None:
    s = cabinet(HOROSHOP)
    owner(s).payments.bind_card(card())
    started = owner(s).payments.top_up(money("1000.00 UAH"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    service_id = order(s, "899.00 UAH")
    owner(s).services.set_auto_renewal(service_id, method_id="m1")
    owner(s).balance.set_autopay(
        "m1",
        AutopayPolicy(money("100.00 UAH"), AutopayMode.FIXED, money("500.00 UAH")),
    )
    charges_before = len(s.gateway.charges)
    event = owner(s).profile.request_deletion()
    assert event.service_ids == (service_id,)
    profile = s.store.profiles.rows["acc-1"]
    assert profile.autopay is None
    assert profile.card_autopay.bank_transfer_only  # type: ignore[union-attr]
    assert not profile.subscription(service_id).enabled  # type: ignore[union-attr]
    assert not s.store.accounts.rows["acc-1"].settings.auto_renew_default
    # a month of billing runs charges nothing and renews nothing
    for _ in range(35):
        s.clock.advance(days=1)
        summary = s.billing.run.day()
        assert (summary.charges, summary.renewals, summary.failures) == (0, 0, ())
    assert len(s.gateway.charges) == charges_before
    assert s.store.services.rows[service_id].status is ServiceStatus.STOPPED_BY_ADMIN


@pytest.mark.parametrize(
    ("restart", "renewed_until"),
    [(False, date(2024, 5, 10)), (True, date(2024, 5, 21))],
)
@pytest.mark.spec("R4")
def test_an_expired_service_comes_back_from_its_old_end_or_from_today_as_the_policy_says(
    restart: bool,
    renewed_until: date,
) -> None:
    settings = BillingSettings.from_preset(INTROSERV)
    if restart:
        settings = attrs.evolve(
            settings,
            renewal=attrs.evolve(settings.renewal, restart_after_expiry=True),
        )
    s, service_id = introserv_customer(settings)
    for day in (date(2024, 2, 10), date(2024, 3, 10), date(2024, 4, 10)):
        s.clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC))
        s.billing.run.day()
    assert s.store.services.rows[service_id].status is ServiceStatus.EXPIRED
    s.clock.set(datetime(2024, 4, 20, 12, tzinfo=UTC))
    started = owner(s).payments.top_up(money("50.00 EUR"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    s.clock.set(datetime(2024, 4, 21, 1, tzinfo=UTC))
    s.billing.run.day()
    service = s.store.services.rows[service_id]
    assert (service.status, service.paid_until) == (ServiceStatus.ACTIVE, renewed_until)


def astra_with_credit_debt() -> tuple[InMemoryBilling, str]:
    """An Astra customer whose 800.00 renewal on credit in December is overdue by January 30."""
    s = cabinet(ASTRA_CLOUD, now=datetime(2023, 12, 1, 9, tzinfo=UTC))
    s.billing.staff.open_credit_line("acc-1", money("150000.00 RUB"))
    service_id = order(s, "800.00 RUB")
    invoice = next(iter(s.store.invoices.rows.values()))
    paid = owner(s).invoices.pay(invoice.id)  # from the credit line
    assert paid.invoice.status is InvoiceStatus.PAID  # type: ignore[union-attr]
    assert owner(s).balance.get("RUB") == money("-800.00 RUB")
    return s, service_id


@pytest.mark.spec("R1")
def test_paying_from_the_balance_uses_credit_until_the_line_is_blocked() -> None:
    s, service_id = astra_with_credit_debt()
    for day in (date(2024, 1, 1), date(2024, 1, 30)):
        s.clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC))
        s.billing.run.day()
    assert owner(s).credit.status().state.status.name == "BLOCKED"
    another = order(s, "100.00 RUB")
    assert not s.store.services.rows[another].paid
    open_order = next(
        i for i in s.store.invoices.rows.values() if i.is_open() and i.kind.value == "order"
    )
    with pytest.raises(CreditBlockedError, match="pay_from_balance"):
        owner(s).invoices.pay(open_order.id)
    with pytest.raises(CreditBlockedError, match="renew_through_cart"):
        owner(s).services.renew(service_id)
    assert owner(s).balance.get("RUB") == money("-800.00 RUB")
