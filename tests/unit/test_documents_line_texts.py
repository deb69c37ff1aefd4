"""Invoice lines are message ids and values on every path, put into words when rendered.

Orders, renewals through the cabinet, renewals by the billing run and credit statements
keep what they bill as a :class:`~cabinet_billing.LineText`; a document shows it in the
reader's language (SPEC M7, L4).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pypdf import PdfReader

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Invoice,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.documents import Composer, PdfRenderer
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.documents import ProviderRequisites
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.domain.text import LineText
from cabinet_billing.l10n import SUPPORTED_LOCALES
from cabinet_billing.rules.presets import ASTRA_CLOUD

pytestmark = pytest.mark.spec("M7", "L4")

START = datetime(2024, 3, 4, 9, tzinfo=UTC)
PROVIDER = ProviderRequisites("Astra Cloud LLC")
VPS = Plan("vps", "VPS S", ProductKind.VPS, {"month": Money("120.00", "RUB")})


def plain(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u1")


def wired(settings: BillingSettings, now: datetime = START) -> InMemoryBilling:
    s = in_memory_billing(settings, now=now)
    account = Account.open("acc-1", "jill", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return s


def vat_settings() -> BillingSettings:
    return BillingSettings(
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
        payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
    )


def top_up(s: InMemoryBilling, amount: str) -> None:
    started = owner(s).payments.top_up(rub(amount), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )


def order(s: InMemoryBilling) -> tuple[str, Invoice]:
    cart = Cart("acc-1", "RUB")
    cart.add(VPS, "month")
    placed = owner(s).orders.place(
        cart.checkout(
            "balance", s.clock.today(), order_id="o-1", tax=s.billing.settings.tax, country="RU"
        )
    )
    service_id = placed.service_ids[0]
    if not placed.paid_from_balance:
        return service_id, placed.invoice
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    return service_id, placed.invoice


def line_cells(invoice: Invoice, language: str) -> list[tuple[str, str]]:
    """(what is billed, its tax rate) of each line as the document shows them."""
    table = Composer(PROVIDER).invoice(invoice, language).table
    assert table is not None
    return [(plain(row[1]), plain(row[2])) for row in table.rows]


ORDER_LINES = {
    "uk": ("VPS S: 4 березня 2024 р. – 4 квітня 2024 р.", "ПДВ 20%"),
    "ru": ("VPS S: 4 марта 2024 г. – 4 апреля 2024 г.", "НДС 20 %"),
    "de": ("VPS S: 4. März 2024 – 4. April 2024", "MwSt. 20 %"),
    "en": ("VPS S: March 4, 2024 – April 4, 2024", "VAT 20%"),
}

RENEWAL_LINES = {
    "uk": "VPS S: продовження до 4 травня 2024 р.",
    "ru": "VPS S: продление до 4 мая 2024 г.",
    "de": "VPS S: Verlängerung bis 4. Mai 2024",
    "en": "VPS S: renewal until May 4, 2024",
}


@pytest.mark.spec("M7", "L4", "C4", "M3")
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_an_order_invoice_names_its_line_and_tax_rate_in_each_language(language: str) -> None:
    s = wired(vat_settings())
    _, invoice = order(s)
    stored = s.store.invoices.rows[invoice.id]
    assert stored.lines[0].text == LineText.of(
        "line.order", plan="VPS S", start=date(2024, 3, 4), end=date(2024, 4, 4)
    )
    assert stored.lines[0].rate == TaxRate("20")
    assert line_cells(stored, language) == [ORDER_LINES[language]]


@pytest.mark.spec("M7", "L4")
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_a_renewal_through_the_cabinet_is_put_into_words_in_each_language(language: str) -> None:
    s = wired(vat_settings())
    top_up(s, "500.00")
    service_id, _ = order(s)
    renewal = owner(s).services.renew(service_id)
    assert renewal.lines[0].text == LineText.of(
        "line.renewal", plan="VPS S", until=date(2024, 5, 4)
    )
    assert line_cells(renewal, language) == [(RENEWAL_LINES[language], ORDER_LINES[language][1])]


@pytest.mark.spec("M7", "L4", "R4", "L3")
def test_a_renewal_by_the_billing_run_keeps_its_text_and_names_the_service_on_the_expense() -> None:
    s = wired(vat_settings())
    top_up(s, "500.00")
    service_id, _ = order(s)
    owner(s).services.set_auto_renewal(service_id)
    day = START.date()
    while day < date(2024, 4, 4):
        day += timedelta(days=1)
        s.clock.set(datetime.combine(day, time(3), tzinfo=UTC))
        s.billing.run.day(day)
    renewals = [i for i in s.store.invoices.rows.values() if i.kind is InvoiceKind.RENEWAL]
    assert [i.lines[0].text for i in renewals] == [
        LineText.of("line.renewal", plan="VPS S", until=date(2024, 5, 4))
    ]
    assert [line_cells(renewals[0], language)[0][0] for language in SUPPORTED_LOCALES] == [
        RENEWAL_LINES[language] for language in SUPPORTED_LOCALES
    ]
    # An expense names the service, not the message id: acts list it as it is.
    names = {e.service_name for e in s.store.expenses.rows["acc-1"].expenses()}
    assert names == {"VPS S"}


STATEMENT_LINES = {
    "uk": "Послуги, придбані в кредит, травень 2023 р.",
    "ru": "Услуги, купленные в кредит, май 2023 г.",
    "de": "Auf Kredit gekaufte Leistungen, Mai 2023",
    "en": "Services bought on credit, May 2023",
}


@pytest.mark.spec("M7", "R1", "L4")
def test_a_credit_statement_line_is_its_month_in_each_language() -> None:
    s = wired(BillingSettings.from_preset(ASTRA_CLOUD), now=datetime(2023, 5, 1, 1, tzinfo=UTC))
    s.billing.staff.open_credit_line("acc-1", rub("10000.00"))
    service_id, invoice = order(s)
    owner(s).invoices.pay(invoice.id)
    s.clock.set(datetime(2023, 6, 1, 1, tzinfo=UTC))
    s.billing.run.day()
    statements = [i for i in s.store.invoices.rows.values() if i.kind is InvoiceKind.STATEMENT]
    assert [i.lines[0].text for i in statements] == [
        LineText.of("line.credit_statement", month=date(2023, 5, 1))
    ]
    assert {lang: line_cells(statements[0], lang)[0][0] for lang in SUPPORTED_LOCALES} == (
        STATEMENT_LINES
    )
    assert service_id


@pytest.mark.spec("M7", "L4", "L8")
def test_the_pdf_of_an_order_shows_the_line_in_the_readers_language() -> None:
    s = wired(vat_settings())
    _, invoice = order(s)
    data = PdfRenderer(PROVIDER).render_invoice(s.store.invoices.rows[invoice.id], "uk")
    text = plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
    assert "VPS S: 4 березня 2024 р. – 4 квітня 2024 р." in text
    assert "ПДВ 20%" in text
    assert "line.order" not in text
