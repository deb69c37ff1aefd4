from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from cabinet_billing import Invoice, Money, Payer, PostalAddress, TaxRate, ValidationError
from cabinet_billing.adapters.documents import (
    Composer,
    HtmlRenderer,
    PdfRenderer,
    amount_in_words,
    qr_svg,
)
from cabinet_billing.adapters.memory.documents import PlainTextRenderer
from cabinet_billing.domain.documents import (
    Act,
    Contract,
    CreditNote,
    ProviderRequisites,
    ReconciliationStatement,
    build_act,
    build_reconciliation,
    credit_note_for_refund,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceLine, IssuedLine
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.payer import BankDetails, PayerKind, Signatory, TaxId
from cabinet_billing.domain.tax import TaxAmounts
from cabinet_billing.domain.text import LineText
from cabinet_billing.l10n import SUPPORTED_LOCALES
from cabinet_billing.ports.documents import DocumentRenderer

pytestmark = pytest.mark.spec("L8", "M7")

GOLDEN = Path(__file__).parent / "golden" / "documents"
UPDATE_GOLDEN = os.environ.get("CABINET_BILLING_UPDATE_GOLDEN") == "1"
LINK = "https://pay.example.com/i/HOR-11111-007?exp=1709290800&sig=9f2c"

PROVIDER = ProviderRequisites(
    "ТОВ «Хмарні рішення»",
    tax_ids=(TaxId("edrpou", "32855961"), TaxId("vat", "UA328559626551")),
    address=PostalAddress(
        city="Київ", postal_code="01001", address="вул. Хрещатик, 1", country="UA"
    ),
    bank=BankDetails(bank_name="АТ «Приклад Банк»", iban="UA213223130000026007233566001"),
    email="billing@example.com",
    signatory=Signatory("Ігор Ґудзь", position="Директор", basis="Статут"),
)
PAYER = Payer(
    "p-1",
    PayerKind.LEGAL_ENTITY,
    "RU",
    "ООО «Ромашка»",
    legal_address=PostalAddress(city="Москва", postal_code="101000", address="ул. Мясницкая, 1"),
    tax_ids=(TaxId("inn", "7707083893"), TaxId("kpp", "770701001")),
    bank=BankDetails(bank_name="ПАО Сбербанк", bic="044525225", account="40702810938000000001"),
)
PROVIDER_REQUISITES = ("32855961", "UA328559626551", "UA213223130000026007233566001")
PAYER_REQUISITES = ("7707083893", "770701001", "044525225", "40702810938000000001")
AC_EXPENSES = ("22.4137", "34.4827", "22.4137", "21.3464")


def plain(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return plain(" ".join(page.extract_text() for page in reader.pages))


class Nodes(HTMLParser):
    """The meaningful nodes of a page: (data-role, its text), in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[tuple[str, str]] = []
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.attributes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.attributes.append(found)
        if tag in {"meta", "br", "img", "path", "rect"}:
            return
        self._open.append((tag, found.get("data-role"), []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, role, texts = self._open.pop()
            if self._open:
                self._open[-1][2].extend(texts)
            if role is not None and role not in {"document", "lines", "pay-link"}:
                self.nodes.append((role, plain(" ".join(texts))))
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


def nodes(page: bytes) -> list[tuple[str, str]]:
    parser = Nodes()
    parser.feed(page.decode("utf-8"))
    return parser.nodes


def role(page: bytes, name: str) -> list[str]:
    return [text for r, text in nodes(page) if r == name]


# ----------------------------------------------------------------------------- documents


def ac_expenses() -> list[Expense]:
    return [
        Expense(f"e{i}", "acc-1", "VPS-1", date(2024, 3, i), Money(a, "RUB"), payer_id="p-1")
        for i, a in enumerate(AC_EXPENSES, start=1)
    ]


def ac_act() -> Act:
    act = build_act(
        "act-1",
        "A-2024-03",
        account_id="acc-1",
        payer_id="p-1",
        month=date(2024, 3, 1),
        expenses=ac_expenses(),
        rate=TaxRate("20"),
    )
    assert act is not None
    return act


def ac_invoice(kind: InvoiceKind = InvoiceKind.RENEWAL) -> Invoice:
    return Invoice.issue(
        "i-1",
        "HOR-11111-007",
        "acc-1",
        [
            InvoiceLine.of(
                LineText.of("line.renewal", plan=f"VPS-{i}", until=date(2024, 4, 1)),
                Money(a, "RUB"),
            )
            for i, a in enumerate(AC_EXPENSES, start=1)
        ],
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 15),
        tax_rate=TaxRate("20"),
        kind=kind,
        payer_id="p-1",
    )


def top_up_invoice() -> Invoice:
    return Invoice.issue(
        "i-2",
        "T-42",
        "acc-1",
        [InvoiceLine.of(LineText("line.top_up"), Money("5000.00", "RUB"))],
        issued_on=date(2024, 3, 1),
        tax_rate=TaxRate("20"),
        kind=InvoiceKind.TOP_UP,
        payer_id="p-1",
    )


def statement() -> ReconciliationStatement:
    ledger = Ledger("acc-1")
    ledger.top_up(Money("100.00", "RUB"), datetime(2024, 2, 20, tzinfo=UTC), ref="pay-1")
    ledger.charge(Money("22.4137", "RUB"), datetime(2024, 3, 5, tzinfo=UTC), ref="e1")
    ledger.top_up(Money("500.00", "RUB"), datetime(2024, 3, 6, tzinfo=UTC), ref="pay-2")
    return build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        payer_id="p-1",
        currency="RUB",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )


def contract() -> Contract:
    return Contract("Д-0001", "p-1", date(2024, 3, 5), payment_id="pay-1")


def credit_note() -> CreditNote:
    # Half of the AC renewal invoice refunded: taxed at the invoice's 20%.
    return credit_note_for_refund(
        "cre-1",
        "CN-2024-00007",
        account_id="acc-1",
        amount=Money("50.33", "RUB"),
        on=date(2024, 3, 9),
        payment_id="pay-1",
        invoice=ac_invoice(),
    )


Render = Callable[[DocumentRenderer, str], bytes]

DOCUMENTS: dict[str, Render] = {
    "invoice": lambda r, loc: r.render_invoice(
        ac_invoice(), loc, payer=PAYER, today=date(2024, 3, 2), pay_link=LINK
    ),
    "quote": lambda r, loc: r.render_invoice(ac_invoice(), loc, payer=PAYER, quote=True),
    "top_up": lambda r, loc: r.render_invoice(top_up_invoice(), loc, payer=PAYER),
    "act": lambda r, loc: r.render_act(ac_act(), loc, payer=PAYER),
    "statement": lambda r, loc: r.render_statement(statement(), loc, payer=PAYER),
    "contract": lambda r, loc: r.render_contract(contract(), loc, payer=PAYER),
    "credit_note": lambda r, loc: r.render_credit_note(credit_note(), loc, payer=PAYER),
}

#: What each document shows in every language: the amounts of its totals.
TOTALS = {
    "invoice": ("83,88", "16,78", "100,66"),
    "quote": ("83,88", "16,78", "100,66"),
    "top_up": ("4 166,67", "833,33", "5 000,00"),
    "act": ("83,88", "16,78", "100,66"),
    "statement": ("100,00", "22,4137", "500,00", "577,5863"),
    "contract": (),
    "credit_note": ("41,94", "8,39", "50,33"),
}

TITLES = {
    "uk": {
        "invoice": "Рахунок № HOR-11111-007",
        "quote": "Рахунок-проформа № HOR-11111-007",
        "top_up": "Рахунок на авансовий платіж № T-42",
        "act": "Акт виконаних робіт № A-2024-03",
        "statement": "Акт звірки взаєморозрахунків",
        "contract": "Договір № Д-0001",
        "credit_note": "Кредит-нота № CN-2024-00007",
    },
    "ru": {
        "invoice": "Счёт № HOR-11111-007",
        "quote": "Счёт-проформа № HOR-11111-007",
        "top_up": "Счёт на авансовый платёж № T-42",
        "act": "Акт выполненных работ № A-2024-03",
        "statement": "Акт сверки взаиморасчётов",
        "contract": "Договор № Д-0001",
        "credit_note": "Кредит-нота № CN-2024-00007",
    },
    "de": {
        "invoice": "Rechnung Nr. HOR-11111-007",
        "quote": "Proforma-Rechnung Nr. HOR-11111-007",
        "top_up": "Vorauszahlungsrechnung Nr. T-42",
        "act": "Leistungsnachweis Nr. A-2024-03",
        "statement": "Saldenbestätigung",
        "contract": "Vertrag Nr. Д-0001",
        "credit_note": "Gutschrift Nr. CN-2024-00007",
    },
    "en": {
        "invoice": "Invoice No. HOR-11111-007",
        "quote": "Pro-forma invoice No. HOR-11111-007",
        "top_up": "Advance payment invoice No. T-42",
        "act": "Act of completed work No. A-2024-03",
        "statement": "Reconciliation statement",
        "contract": "Contract No. Д-0001",
        "credit_note": "Credit note No. CN-2024-00007",
    },
}

RATE = {"uk": "ПДВ 20%", "ru": "НДС 20 %", "de": "MwSt. 20 %", "en": "VAT 20%"}


def local(amount: str, language: str) -> str:
    # The expected amounts are written in Russian notation; other locales group and
    # separate differently.
    if language == "de":
        return amount.replace(" ", ".")
    if language == "en":
        return (
            amount.replace(" ", ",")
            .replace(",", "#")
            .replace("#", ",", amount.count(" "))
            .replace("#", ".")
        )
    return amount


@pytest.fixture(scope="module")
def html() -> HtmlRenderer:
    return HtmlRenderer(PROVIDER)


@pytest.fixture(scope="module")
def pdf() -> PdfRenderer:
    return PdfRenderer(PROVIDER)


def test_the_renderers_are_document_renderers() -> None:
    renderers: list[DocumentRenderer] = [
        HtmlRenderer(PROVIDER),
        PdfRenderer(PROVIDER),
        PlainTextRenderer(),
    ]
    assert [r.media_type for r in renderers] == [
        "text/html; charset=utf-8",
        "application/pdf",
        "text/plain; charset=utf-8",
    ]


@pytest.mark.spec("L8", "M7", "L4", "A4")
@pytest.mark.parametrize("kind", DOCUMENTS)
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_each_document_as_pdf_in_each_language(pdf: PdfRenderer, kind: str, language: str) -> None:
    data = DOCUMENTS[kind](pdf, language)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert TITLES[language][kind] in text
    for amount in TOTALS[kind]:
        assert local(amount, language) in text
    for requisite in (*PROVIDER_REQUISITES, *PAYER_REQUISITES, PROVIDER.name, PAYER.name):
        assert requisite in text
    if kind in {"invoice", "quote", "top_up", "act", "credit_note"}:
        assert RATE[language] in text


@pytest.mark.spec("L8", "M7", "L4", "A4")
@pytest.mark.parametrize("kind", DOCUMENTS)
@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_each_document_as_html_in_each_language(
    html: HtmlRenderer, kind: str, language: str
) -> None:
    page = DOCUMENTS[kind](html, language)
    assert role(page, "title") == [TITLES[language][kind]]
    assert role(page, "party-name") == [PROVIDER.name, PAYER.name]
    requisites = role(page, "requisite-value")
    for requisite in (*PROVIDER_REQUISITES, *PAYER_REQUISITES):
        assert requisite in requisites
    text = " ".join(t for _, t in nodes(page))
    for amount in TOTALS[kind]:
        assert local(amount, language) in text
    assert f'<html lang="{language}">' in page.decode()


@pytest.mark.spec("M2", "M3", "L8")
@pytest.mark.parametrize("kind", ["invoice", "act"])
def test_ac_line_taxes_lose_no_cent(html: HtmlRenderer, pdf: PdfRenderer, kind: str) -> None:
    page = DOCUMENTS[kind](html, "ru")
    lines = [row.split() for row in role(page, "line")]
    assert [row[-4] for row in lines] == ["3,74", "5,75", "3,73", "3,56"]
    assert role(page, "total-value") == ["83,88 ₽", "16,78 ₽", "100,66 ₽"]
    assert role(page, "total-label") == ["Итого без налога", "НДС 20 %", "Всего к оплате"]
    text = pdf_text(DOCUMENTS[kind](pdf, "ru"))
    assert "3,74 ₽ 22,42 ₽" in text
    assert "5,75 ₽ 34,48 ₽" in text
    assert "3,73 ₽ 22,41 ₽" in text
    assert "3,56 ₽ 21,35 ₽" in text
    assert "НДС 20 % 16,78 ₽" in text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", "Сто рублей, шестьдесят шесть копеек"),
        ("uk", "Сто рублів, шістдесят шість копійок"),
    ],
)
def test_totals_in_words_where_the_language_writes_them(
    html: HtmlRenderer, pdf: PdfRenderer, language: str, words: str
) -> None:
    page = DOCUMENTS["act"](html, language)
    assert role(page, "in-words") == [
        f"{'Сумма прописью' if language == 'ru' else 'Сума прописом'}: {words}"
    ]
    assert words in pdf_text(DOCUMENTS["act"](pdf, language))


@pytest.mark.parametrize("language", ["de", "en"])
def test_no_words_where_the_language_does_not_write_them(html: HtmlRenderer, language: str) -> None:
    assert role(DOCUMENTS["act"](html, language), "in-words") == []


def test_words_are_a_setting_and_skip_currencies_num2words_cannot_write() -> None:
    assert amount_in_words(Money("1.01", "UAH"), "uk") == "Одна гривня, одна копійка"
    assert amount_in_words(Money("2.005", "EUR"), "de") == "Zwei Euro und ein Cent"
    assert amount_in_words(Money("100", "JPY"), "ru") is None
    view = Composer(PROVIDER, words_languages=("de",)).act(ac_act(), "de")
    assert view.in_words is None  # RUB has no German words in num2words
    german = Composer(PROVIDER, words_languages=("de",)).invoice(
        Invoice.issue(
            "i", "1", "a", [InvoiceLine("x", Money("2.01", "EUR"))], issued_on=date(2024, 3, 1)
        ),
        "de",
    )
    assert german.in_words is not None
    assert german.in_words.value == "Zwei Euro und ein Cent"


@pytest.mark.spec("L5", "L8")
def test_an_open_invoice_with_a_pay_link_shows_it_as_a_qr_code(
    html: HtmlRenderer, pdf: PdfRenderer
) -> None:
    page = DOCUMENTS["invoice"](html, "uk").decode()
    assert qr_svg(LINK) in page
    assert f'href="{LINK.replace("&", "&amp;")}"' in page
    assert "Відскануйте, щоб сплатити" in pdf_text(DOCUMENTS["invoice"](pdf, "uk"))


@pytest.mark.spec("L5", "L8", "L4")
def test_a_paid_invoice_or_one_without_a_link_shows_no_qr_code(
    html: HtmlRenderer, pdf: PdfRenderer
) -> None:
    paid = ac_invoice()
    paid.pay("pay-1", Money("100.66", "RUB"), date(2024, 3, 2))
    page = html.render_invoice(paid, "en", pay_link=LINK)
    assert role(page, "status") == ["Paid"]
    assert b"<svg" not in page
    assert LINK not in pdf_text(pdf.render_invoice(paid, "en", pay_link=LINK))
    assert b"<svg" not in html.render_invoice(ac_invoice(), "en")


@pytest.mark.spec("L4", "L8")
def test_the_status_is_shown_on_the_day_rendered(html: HtmlRenderer) -> None:
    invoice = ac_invoice()
    assert role(html.render_invoice(invoice, "ru"), "status") == ["Не оплачен"]
    assert role(html.render_invoice(invoice, "ru", today=date(2024, 3, 16)), "status") == [
        "Просрочен"
    ]
    invoice.pay("pay-1", Money("50.00", "RUB"), date(2024, 3, 2))
    page = html.render_invoice(invoice, "de", today=date(2024, 3, 2))
    assert role(page, "status") == ["Teilweise bezahlt"]
    assert role(page, "total-label")[-2:] == ["Bezahlt", "Offener Betrag"]
    assert role(page, "total-value")[-2:] == ["50,00 RUB", "50,66 RUB"]


def test_ukrainian_letters_render_in_the_pdf(pdf: PdfRenderer) -> None:
    text = pdf_text(DOCUMENTS["contract"](pdf, "uk"))
    for word in ("Хмарні рішення", "Ґудзь", "Київ", "Виконавець", "підставі", "Діє"):
        assert word in text
    assert all(letter in text.lower() for letter in "іїєґ")


def test_a_pdf_depends_only_on_its_document(pdf: PdfRenderer) -> None:
    assert DOCUMENTS["act"](pdf, "ru") == DOCUMENTS["act"](pdf, "ru")
    reader = PdfReader(io.BytesIO(DOCUMENTS["act"](pdf, "uk")))
    assert reader.metadata is not None
    assert reader.metadata.title == "Акт виконаних робіт № A-2024-03"
    assert reader.metadata.author == PROVIDER.name


def test_html_escapes_what_the_host_gives(html: HtmlRenderer) -> None:
    payer = Payer("p-9", PayerKind.PRIVATE_PERSON, "DE", "<script>alert(1)</script>")
    invoice = Invoice.issue(
        "i", "1", "a", [InvoiceLine("<b>VPS</b>", Money("10", "EUR"))], issued_on=date(2024, 3, 1)
    )
    page = html.render_invoice(invoice, "en", payer=payer).decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;VPS&lt;/b&gt;" in page


@pytest.mark.spec("L8", "L4", "M3")
def test_the_tax_rate_of_each_line(html: HtmlRenderer) -> None:
    amounts = TaxAmounts(Money("100.00", "EUR"), Money("20.00", "EUR"), Money("120.00", "EUR"))
    free = TaxAmounts(Money("5.00", "EUR"), Money("0.00", "EUR"), Money("5.00", "EUR"))
    invoice = Invoice.from_lines(
        "i",
        "1",
        "a",
        [
            IssuedLine("Taxed, rate unknown", amounts, None),
            IssuedLine("No tax", free, None),
            IssuedLine("Reduced", free, TaxRate("7", "USt.")),
            IssuedLine("Zero", free, TaxRate("0")),
        ],
        issued_on=date(2024, 3, 1),
    )
    rows = role(html.render_invoice(invoice, "de"), "line")
    assert "—" in rows[0]
    assert "ohne Steuer" in rows[1]
    assert "USt. 7 %" in rows[2]
    assert "ohne Steuer" in rows[3]
    assert role(html.render_invoice(invoice, "de"), "total-label")[1] == "Steuer"


def test_other_locales_get_english_labels_in_their_own_notation(html: HtmlRenderer) -> None:
    page = DOCUMENTS["act"](html, "fr")
    assert role(page, "title") == ["Act of completed work No. A-2024-03"]
    assert "100,66 RUB" in " ".join(role(page, "total-value"))


def test_an_unknown_locale_is_refused(html: HtmlRenderer) -> None:
    with pytest.raises(ValidationError, match="locale='xx' is invalid"):
        DOCUMENTS["act"](html, "xx")


def test_a_composer_needs_provider_requisites_and_a_known_date_format() -> None:
    with pytest.raises(TypeError):
        Composer("Acme")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="date_format='tiny' is invalid"):
        Composer(PROVIDER, date_format="tiny")  # type: ignore[arg-type]


def test_a_balance_in_the_providers_favour(html: HtmlRenderer) -> None:
    ledger = Ledger("acc-1")
    ledger.charge(Money("12.50", "EUR"), datetime(2024, 3, 5, tzinfo=UTC), ref="e1")
    debt = build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        currency="EUR",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    page = html.render_statement(debt, "en")
    assert role(page, "total-label") == [f"Balance in favour of {PROVIDER.name}"]
    assert role(page, "total-value") == ["€12.50"]
    settled = build_reconciliation(
        [], account_id="acc-1", currency="EUR", start=date(2024, 3, 1), end=date(2024, 4, 1)
    )
    assert role(html.render_statement(settled, "uk"), "total-value") == ["Заборгованості немає"]


def test_plain_text_names_the_parties_status_and_pay_link() -> None:
    renderer = PlainTextRenderer(provider=PROVIDER)
    text = plain(renderer.render_invoice(ac_invoice(), "uk", payer=PAYER, pay_link=LINK).decode())
    assert "Виконавець: ТОВ «Хмарні рішення»" in text
    assert "Платник: ООО «Ромашка»" in text
    assert "Статус: Не сплачено" in text
    assert f"Відскануйте, щоб сплатити: {LINK}" in text
    assert "VPS-1: продовження до 1 квітня 2024 р." in text
    assert plain(renderer.render_invoice(top_up_invoice(), "ru").decode()).startswith(
        "Счёт на авансовый платёж № T-42"
    )
    contract_text = plain(renderer.render_contract(contract(), "de", payer=PAYER).decode())
    assert contract_text.split(" Anbieter")[0] == "Vertrag Nr. Д-0001"
    assert "Status: In Kraft" in contract_text


# ----------------------------------------------------------------------------- golden pages

GOLDEN_CASES = [
    ("invoice", "uk"),
    ("act", "ru"),
    ("statement", "en"),
    ("quote", "de"),
    ("contract", "uk"),
    ("top_up", "ru"),
    ("credit_note", "en"),
]


@pytest.mark.parametrize(("kind", "language"), GOLDEN_CASES)
def test_pages_match_their_golden_structure(html: HtmlRenderer, kind: str, language: str) -> None:
    page = DOCUMENTS[kind](html, language)
    golden = GOLDEN / f"{kind}-{language}.html"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(page)
    assert nodes(page) == nodes(golden.read_bytes())
