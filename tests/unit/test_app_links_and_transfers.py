"""Pay links, bank transfers and the failure modes of hand-rolled billing, through the use cases."""

from datetime import UTC, date, datetime, timedelta

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    InvalidPayLinkError,
    InvalidTransitionError,
    Invoice,
    InvoiceStatus,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    StatementLine,
    TaxMode,
    TaxPolicy,
    TaxRate,
    ValidationError,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceLine
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkPolicy, PayLinkSigner
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import ExpiredPayLinkError
from cabinet_billing.rules.matching import ReviewReason
from cabinet_billing.rules.presets import HOROSHOP

START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


@pytest.fixture
def shop() -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            tax=TaxPolicy(TaxMode.INCLUSIVE, default=TaxRate("20", "ПДВ")),
            invoice_numbers=NumberFormat("{prefix}-{service_code}-{seq:03}"),
            invoice_prefix="HOR",
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
            pay_links=PayLinkSigner(PayLinkKeys("k1", {"k1": bytes(range(32))}), PayLinkPolicy()),
        ),
        now=START,
    )
    account = Account.open(
        "acc-1", "shop", email="owner@shop.example", country="UA", currency="UAH"
    )
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Taras")
    s.billing.cabinet("acc-1", "u1").payments.set_pay_without_login(True)
    return s


def issue(
    s: InMemoryBilling,
    amount: str,
    number: str = "HOR-11111-007",
    kind: InvoiceKind = InvoiceKind.RENEWAL,
) -> Invoice:
    """An invoice issued by the provider's own process (a statement, a plan invoice)."""
    invoice = Invoice.issue(
        f"inv-{number}",
        number,
        "acc-1",
        [InvoiceLine("Plan Business, May 2024", uah(amount))],
        issued_on=s.clock.today(),
        due_on=s.clock.today() + timedelta(days=7),
        tax_rate=TaxRate("20"),
        tax_mode=TaxMode.INCLUSIVE,
        kind=kind,
    )
    with MemoryUnitOfWork(s.store) as uow:
        uow.invoices.add(invoice)
        uow.commit()
    return invoice


def line(line_id: str, amount: str, purpose: str) -> StatementLine:
    return StatementLine(line_id, date(2024, 5, 2), uah(amount), "TOV Shop", purpose)


@pytest.mark.spec("L5")
def test_pay_link_lives_30_minutes_and_is_reissued_when_expired(shop: InMemoryBilling) -> None:
    invoice = issue(shop, "1000.00")
    link = owner(shop).invoices.pay_link(invoice.id)
    assert link.expires_at == START + timedelta(minutes=30)
    opened, same = shop.billing.pay_links.open(link.token)
    assert (opened.id, same.token) == (invoice.id, link.token)
    shop.clock.advance(minutes=31)
    opened, fresh = shop.billing.pay_links.open(link.token)
    assert opened.id == invoice.id
    assert fresh.token != link.token
    assert fresh.expires_at == shop.clock.now() + timedelta(minutes=30)
    with pytest.raises(ExpiredPayLinkError):
        shop.billing.pay_links.pay(link.token, "card")
    tampered = link.token[:-2] + ("AA" if not link.token.endswith("AA") else "BB")
    with pytest.raises(InvalidPayLinkError):
        shop.billing.pay_links.open(tampered)


@pytest.mark.spec("L5", "L6")
def test_paying_by_link_needs_no_login_and_pays_only_that_invoice(shop: InMemoryBilling) -> None:
    invoice = issue(shop, "1000.00")
    link = owner(shop).invoices.pay_link(invoice.id)
    started = shop.billing.pay_links.pay(link.token, "card")
    assert started.payment.invoice_id == invoice.id
    shop.billing.webhooks.handle(
        *shop.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, shop.clock.now()),
    )
    assert shop.store.invoices.rows[invoice.id].status is InvoiceStatus.PAID
    with pytest.raises(InvalidTransitionError, match="paid"):
        shop.billing.pay_links.open(link.token)


@pytest.mark.spec("L7")
def test_bank_transfer_pays_only_on_exact_number_and_amount(shop: InMemoryBilling) -> None:
    invoice = issue(shop, "1000.00")
    other = issue(shop, "500.00", "HOR-11111-008")
    result = shop.billing.bank.match(
        [
            line("b1", "1000.00", "Оплата за рахунком HOR-11111-007, без ПДВ"),
            line("b2", "499.99", "Оплата HOR-11111-008"),
            line("b3", "100.00", "Поповнення"),
        ],
    )
    assert [r.line_id for r in result.match.matched] == ["b1"]
    assert [(r.line_id, r.reason) for r in result.match.review] == [
        ("b2", ReviewReason.AMOUNT_DIFFERS),
        ("b3", ReviewReason.NO_NUMBER),
    ]
    assert shop.store.invoices.rows[invoice.id].status is InvoiceStatus.PAID
    assert shop.store.invoices.rows[other.id].status is InvoiceStatus.UNPAID
    assert owner(shop).balance.get("UAH") == uah("0")
    again = shop.billing.bank.match([line("b1", "1000.00", "HOR-11111-007")])
    assert [r.line_id for r in again.match.duplicates] == ["b1"]
    assert len(shop.store.ledgers.rows["acc-1"]) == 2  # one credit, one charge


@pytest.mark.spec("L1", "L2")
def test_a_top_up_invoice_is_never_paid_from_the_balance_it_tops_up(shop: InMemoryBilling) -> None:
    top_up_invoice = issue(shop, "300.00", "HOR-11111-009", kind=InvoiceKind.TOP_UP)
    renewal = issue(shop, "200.00", "HOR-11111-010")
    started = owner(shop).payments.top_up(uah("500.00"), "card")
    shop.billing.webhooks.handle(
        *shop.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, shop.clock.now()),
    )
    assert shop.store.invoices.rows[top_up_invoice.id].status is InvoiceStatus.UNPAID
    assert shop.store.invoices.rows[renewal.id].status is InvoiceStatus.PAID
    assert owner(shop).balance.get("UAH") == uah("300.00")


@pytest.mark.spec("L1", "L4")
def test_deleting_an_invoice_never_credits_the_balance(shop: InMemoryBilling) -> None:
    invoice = issue(shop, "200.00")
    owner(shop).invoices.delete(invoice.id)
    with pytest.raises(InvalidTransitionError):
        owner(shop).invoices.delete(invoice.id)
    assert owner(shop).balance.get("UAH") == uah("0")
    assert shop.store.ledgers.rows["acc-1"].entries() == ()


@pytest.mark.spec("L2", "L4")
def test_partial_payments_from_the_balance_when_the_policy_allows() -> None:
    s = in_memory_billing(
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
            partial_from_balance=True,
        ),
        now=START,
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH")
    account.change_name("S", "T")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="T")
    invoice = issue(s, "1000.00")
    for amount in ("400.00", "600.00"):
        started = owner(s).payments.top_up(uah(amount), "card")
        s.billing.webhooks.handle(
            *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now()),
        )
        if amount == "400.00":
            assert s.store.invoices.rows[invoice.id].status is InvoiceStatus.PARTIALLY_PAID
    stored = s.store.invoices.rows[invoice.id]
    assert stored.status is InvoiceStatus.PAID
    assert [p.amount for p in stored.payments] == [uah("400.00"), uah("600.00")]
    ledger = s.store.ledgers.rows["acc-1"]
    assert [e.kind for e in ledger].count(EntryKind.CHARGE) == 2
    assert owner(s).balance.get("UAH") == uah("0")
    book = s.store.expenses.rows["acc-1"]
    assert book.totals("UAH").total == uah("1000.00")
    assert book.totals("UAH").unpaid == uah("0")


@pytest.mark.spec("L4")
def test_each_project_numbers_its_invoices_with_its_own_service_code() -> None:
    s = in_memory_billing(BillingSettings.from_preset(HOROSHOP), now=START)
    numbers = {}
    for account_id, code in (("shop-a", "11111"), ("shop-b", "22222")):
        account = Account.open(
            account_id, account_id, email=f"{account_id}@example.com", currency="UAH", country="UA"
        )
        account.set_service_code(code)
        s.billing.open_account(account, owner_id=f"o-{account_id}", owner_name="Owner")
        plan = Plan("business", "Business", ProductKind.SAAS, {"month": uah("1199.00")})
        placed = []
        for n in range(7 if code == "11111" else 1):
            cart = Cart(account_id, "UAH")
            cart.add(plan, "month")
            order = cart.checkout(
                "card",
                s.clock.today(),
                order_id=f"{account_id}-{n}",
                tax=s.billing.settings.tax,
                country="UA",
            )
            placed.append(
                s.billing.cabinet(account_id, f"o-{account_id}").orders.place(order).invoice.number
            )
        numbers[account_id] = placed
    assert numbers["shop-a"][-1] == "HOR-11111-007"
    assert numbers["shop-b"] == ["HOR-22222-001"]
    with pytest.raises(ValidationError, match="letters and digits"):
        Account.open("x", "x").set_service_code("111-11")
