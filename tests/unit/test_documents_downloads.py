"""``cabinet.documents.download``: each kind of document, in each language, refused when it may not be.

The documents come out of the host's renderers (``Ports.renderers``); the use case picks
the document, its payer and its language, and checks what may be downloaded (SPEC L4:
download a paid invoice; L2: the advance-payment invoice of a top-up; L8; X3).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import attrs
import pytest
from pypdf import PdfReader

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    InvalidTransitionError,
    Money,
    NotFoundError,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    TaxMode,
    TaxPolicy,
    TaxRate,
    ValidationError,
)
from cabinet_billing.adapters.documents import HtmlRenderer, PdfRenderer
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.app.documents import DownloadKind, account_payer
from cabinet_billing.domain.customer import ProfileType
from cabinet_billing.domain.documents import (
    CreditNoteStatus,
    ProviderRequisites,
    credit_note_for_refund,
)
from cabinet_billing.domain.invoice import InvoiceStatus
from cabinet_billing.domain.payer import BankDetails, TaxId
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import PaymentMethodFixedError
from cabinet_billing.l10n import SUPPORTED_LOCALES

pytestmark = pytest.mark.spec("L8", "L4", "L2")

START = datetime(2024, 3, 4, 9, tzinfo=UTC)
PROVIDER = ProviderRequisites(
    "Astra Cloud LLC",
    tax_ids=(TaxId("inn", "7707083893"),),
    bank=BankDetails(bank_name="Sberbank", bic="044525225", account="40702810938000000001"),
)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def plain(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def pdf_text(data: bytes) -> str:
    return plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def wired(language: str = "ru") -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
        ),
        now=START,
        renderers={"html": HtmlRenderer(PROVIDER), "pdf": PdfRenderer(PROVIDER)},
    )
    account = Account.open(
        "acc-1", "jill", email="j@example.com", currency="RUB", country="RU", language=language
    )
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Jill")
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u1")


def top_up(s: InMemoryBilling, amount: str) -> str:
    started = owner(s).payments.top_up(rub(amount), "card")
    assert started.invoice is not None
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    return started.invoice.id


def order(s: InMemoryBilling, price: str) -> str:
    cart = Cart("acc-1", "RUB")
    cart.add(Plan("vps", "VPS S", ProductKind.VPS, {"month": rub(price)}), "month")
    placed = owner(s).orders.place(
        cart.checkout(
            "balance", s.clock.today(), order_id="o-1", tax=s.billing.settings.tax, country="RU"
        )
    )
    return placed.invoice.id


ADVANCE_TITLES = {
    "uk": "Рахунок на авансовий платіж № AV-2024-00001",
    "ru": "Счёт на авансовый платёж № AV-2024-00001",
    "de": "Vorauszahlungsrechnung Nr. AV-2024-00001",
    "en": "Advance payment invoice No. AV-2024-00001",
}
ADVANCE_LINES = {
    "uk": "Авансовий платіж",
    "ru": "Авансовый платёж",
    "de": "Vorauszahlung auf das Guthaben",
    "en": "Advance payment to the balance",
}
ADVANCE_TOTALS = {
    "uk": ("1 000,00", "200,00", "1 200,00", "ПДВ 20%"),
    "ru": ("1 000,00", "200,00", "1 200,00", "НДС 20 %"),
    "de": ("1.000,00", "200,00", "1.200,00", "MwSt. 20 %"),
    "en": ("1,000.00", "200.00", "1,200.00", "VAT 20%"),
}


@pytest.mark.spec("L2", "M7", "L8")
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_the_advance_payment_invoice_of_a_top_up_in_each_language(language: str) -> None:
    s = wired()
    invoice_id = top_up(s, "1200.00")
    page = owner(s).documents.download("invoice", invoice_id, format="html", language=language)
    assert page.media_type == "text/html; charset=utf-8"
    html = plain(page.content.decode())
    assert f'<h1 data-role="title">{ADVANCE_TITLES[language]}</h1>' in html
    assert ADVANCE_LINES[language] in html
    text = pdf_text(owner(s).documents.download("invoice", invoice_id, language=language).content)
    for shown in (ADVANCE_TITLES[language], ADVANCE_LINES[language], *ADVANCE_TOTALS[language]):
        assert shown in text
    # The account itself is the payer: its name and address are printed.
    assert "Fairy Jill" in text
    assert "Moscow" in text


@pytest.mark.spec("L2")
def test_the_accounts_language_is_the_default_and_an_unpaid_top_up_shows_where_to_pay() -> None:
    s = wired(language="de")
    started = owner(s).payments.top_up(rub("300.00"), "card")
    assert started.invoice is not None
    link = "https://pay.example.com/i/AV-2024-00001"
    page = (
        owner(s)
        .documents.download("invoice", started.invoice.id, format="html", pay_url=link)
        .content.decode()
    )
    assert "Vorauszahlungsrechnung Nr. AV-2024-00001" in page
    assert 'data-role="pay-link"' in page
    assert link in page


@pytest.mark.spec("L2", "R1")
def test_an_advance_payment_invoice_is_never_paid_from_the_balance() -> None:
    s = wired()
    top_up(s, "500.00")
    started = owner(s).payments.top_up(rub("100.00"), "card")
    assert started.invoice is not None
    # It was issued for its method: the balance may not pay it.
    with pytest.raises(PaymentMethodFixedError, match="not by 'balance'"):
        owner(s).invoices.pay(started.invoice.id)
    assert s.store.invoices.rows[started.invoice.id].status is InvoiceStatus.UNPAID
    assert owner(s).balance.get("RUB") == rub("500.00")


@pytest.mark.spec("L4")
def test_an_invoice_is_downloaded_once_paid_and_as_a_quote_while_unpaid() -> None:
    s = wired()
    invoice_id = order(s, "120.00")
    with pytest.raises(InvalidTransitionError) as refused:
        owner(s).documents.download("invoice", invoice_id)
    assert "download" in str(refused.value)
    assert "request_quote" in str(refused.value)
    quote = owner(s).documents.download(DownloadKind.QUOTE, invoice_id, format="html")
    assert quote.filename == f"quote-{s.store.invoices.rows[invoice_id].number}.html"
    assert "Счёт-проформа №" in quote.content.decode()
    top_up(s, "500.00")  # the balance pays the order's invoice
    assert s.store.invoices.rows[invoice_id].status is InvoiceStatus.PAID
    paid = owner(s).documents.download("invoice", invoice_id, language="en")
    assert "VPS S" in pdf_text(paid.content)
    with pytest.raises(InvalidTransitionError, match="download as a quote"):
        owner(s).documents.download("quote", invoice_id)


@pytest.mark.spec("L8")
def test_what_cannot_be_downloaded_is_refused_naming_what_can() -> None:
    s = wired()
    invoice_id = top_up(s, "100.00")
    documents = owner(s).documents
    with pytest.raises(NotFoundError, match=re.escape("offered: html, pdf")):
        documents.download("invoice", invoice_id, format="docx")
    with pytest.raises(ValidationError, match="expected one of invoice, quote, act, statement"):
        documents.download("receipt", invoice_id)
    with pytest.raises(ValidationError, match="a statement needs currency=, start= and end="):
        documents.download("statement", currency="RUB")
    with pytest.raises(ValidationError, match="name the act to download"):
        documents.download("act")
    for kind, missing in (("act", "act-9"), ("contract", "C-9"), ("credit_note", "cre-9")):
        with pytest.raises(NotFoundError, match=missing):
            documents.download(kind, missing)
    with pytest.raises(NotFoundError):
        documents.download(
            "statement", "p-9", currency="RUB", start=date(2024, 3, 1), end=date(2024, 4, 1)
        )
    s.billing.open_account(
        Account.open("acc-2", "other", email="o@example.com", currency="RUB"),
        owner_id="u2",
        owner_name="Other",
    )
    with pytest.raises(NotFoundError):
        s.billing.cabinet("acc-2", "u2").documents.download("invoice", invoice_id)


@pytest.mark.spec("L8")
def test_the_plain_text_renderer_is_the_in_memory_default() -> None:
    s = in_memory_billing(
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),)
        ),
        now=START,
    )
    s.billing.open_account(
        Account.open("acc-1", "jill", email="j@example.com", currency="RUB"),
        owner_id="u1",
        owner_name="Jill",
    )
    statement = owner(s).documents.download(
        "statement", format="text", language="en", currency="RUB",
        start=date(2024, 3, 1), end=date(2024, 4, 1),
    )  # fmt: skip
    assert statement.media_type == "text/plain; charset=utf-8"
    assert statement.filename == "statement-acc-1-2024-03-01.txt"
    assert statement.content.decode().startswith("Reconciliation statement")


@pytest.mark.spec("X3")
def test_a_credit_note_is_voidable_only_while_unused() -> None:
    note = credit_note_for_refund(
        "cre-1", "CN-1", account_id="acc-1", amount=rub("120.00"), on=date(2024, 3, 9),
        payment_id="pay-1", rate=TaxRate("20"),
    )  # fmt: skip
    with pytest.raises(InvalidTransitionError, match="applied"):
        note.void(date(2024, 3, 10))
    unused = attrs.evolve(note, applied=False)
    voided = unused.void(date(2024, 3, 10))
    assert (voided.status, voided.voided_on) == (CreditNoteStatus.VOID, date(2024, 3, 10))
    with pytest.raises(InvalidTransitionError, match="void"):
        voided.void(date(2024, 3, 11))
    with pytest.raises(ValidationError, match="before the note's date"):
        unused.void(date(2024, 3, 1))
    with pytest.raises(ValidationError, match="above zero"):
        credit_note_for_refund(
            "cre-2", "CN-2", account_id="acc-1", amount=rub("0"), on=date(2024, 3, 9),
            payment_id="pay-1",
        )  # fmt: skip


@pytest.mark.spec("A1", "L8")
def test_an_account_without_payers_is_its_own_party_once_it_names_itself() -> None:
    account = Account.open("acc-1", "jill", email="j@example.com", currency="RUB")
    assert account_payer(account) is None  # no name, no country yet
    account.change_name("Fairy", "Jill")
    account.change_country("RU")
    party = account_payer(account)
    assert party is not None
    assert (party.name, party.country, party.email) == ("Fairy Jill", "RU", "j@example.com")
    account.change_profile_type(ProfileType.COMPANY)
    account.change_company("Romashka LLC", "7728168971")
    company = account_payer(account)
    assert company is not None
    assert (company.name, company.kind.value) == ("Romashka LLC", "legal_entity")
