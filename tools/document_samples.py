"""Render one sample of each document type to PDF and PNG, to look at the pages.

    .venv/bin/python tools/document_samples.py [OUTPUT_DIR]

Writes ``<kind>-<language>.pdf`` and ``.html`` to OUTPUT_DIR (default: a temporary
folder), and, when poppler's ``pdftoppm`` is installed, a PNG of each first page; with
``--docs`` the PNGs go to ``docs/img/`` (one per document type), as the docs show them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from cabinet_billing import Invoice, Money, Payer, PostalAddress, TaxRate
from cabinet_billing.adapters.documents import HtmlRenderer, PdfRenderer
from cabinet_billing.domain.documents import (
    ProviderRequisites,
    build_act,
    build_reconciliation,
    contract_for_first_payment,
    credit_note_for_refund,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import InvoiceKind, InvoiceLine
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.payer import BankDetails, PayerKind, Signatory, TaxId
from cabinet_billing.domain.text import LineText

ROOT = Path(__file__).resolve().parent.parent

PROVIDER = ProviderRequisites(
    "ТОВ «Хмарні рішення»",
    tax_ids=(TaxId("edrpou", "32855961"), TaxId("ipn", "328559626551")),
    address=PostalAddress(
        city="Київ", postal_code="01001", address="вул. Хрещатик, 1", country="UA"
    ),
    bank=BankDetails(bank_name="АТ «Приклад Банк»", iban="UA213223130000026007233566001"),
    email="billing@example.com",
    phone="+380 44 123 45 67",
    signatory=Signatory("Ігор Ґудзь", position="Директор", basis="Статут"),
)

PAYER = Payer(
    "p-1",
    PayerKind.LEGAL_ENTITY,
    "UA",
    "ТОВ «Їжак і Єнот»",
    email="buh@example.com",
    legal_address=PostalAddress(
        city="Львів", postal_code="79000", address="пл. Ринок, 12", country="UA"
    ),
    tax_ids=(TaxId("edrpou", "14360570"),),
    bank=BankDetails(bank_name="АТ «Інший Банк»", iban="UA903052992990004149123456789"),
    signatory=Signatory("Олена Їжакова", position="Директорка", basis="Статут"),
)

RU_PAYER = Payer(
    "p-2",
    PayerKind.LEGAL_ENTITY,
    "RU",
    "ООО «Ромашка»",
    legal_address=PostalAddress(
        city="Москва", postal_code="101000", address="ул. Мясницкая, 1", country="RU"
    ),
    tax_ids=(TaxId("inn", "7707083893"), TaxId("kpp", "770701001")),
    bank=BankDetails(
        bank_name="ПАО Сбербанк",
        bic="044525225",
        account="40702810938000000001",
        correspondent_account="30101810400000000225",
    ),
)

VAT = TaxRate("20")
T = datetime(2024, 3, 1, tzinfo=UTC)


def samples() -> dict[str, tuple[str, bytes, bytes]]:
    """Each document type: (language, PDF, HTML)."""
    pdf = PdfRenderer(PROVIDER)
    html = HtmlRenderer(PROVIDER)
    renewal = Invoice.issue(
        "i-1",
        "HOR-11111-007",
        "acc-1",
        [
            InvoiceLine.of(
                LineText.of("line.renewal", plan="Тариф «Бізнес»", until=date(2024, 4, 1)),
                Money("899.00", "UAH"),
                service_id="s-1",
            ),
            InvoiceLine.of(
                LineText.of("line.renewal", plan="Додатковий домен", until=date(2024, 4, 1)),
                Money("120.00", "UAH"),
                service_id="s-2",
            ),
        ],
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 15),
        tax_rate=VAT,
        payer_id="p-1",
    )
    link = "https://pay.example.com/i/HOR-11111-007?exp=1709290800&sig=9f2c"
    top_up = Invoice.issue(
        "i-2",
        "AV-2024-00042",
        "acc-2",
        [InvoiceLine.of(LineText.of("line.top_up"), Money("5000.00", "RUB"))],
        issued_on=date(2024, 3, 1),
        tax_rate=VAT,
        kind=InvoiceKind.TOP_UP,
        payer_id="p-2",
    )
    expenses = [
        Expense(f"e{i}", "acc-2", "VPS Standard", date(2024, 3, i), Money(a, "RUB"), payer_id="p-2")
        for i, a in enumerate(("22.4137", "34.4827", "22.4137", "21.3464"), start=1)
    ]
    act = build_act(
        "act-1",
        "A-2024-03",
        account_id="acc-2",
        payer_id="p-2",
        month=date(2024, 3, 1),
        expenses=expenses,
        rate=TaxRate("20", "НДС"),
    )
    if act is None:
        raise SystemExit("no expenses in the act's month")
    ledger = Ledger("acc-1")
    ledger.top_up(Money("100.00", "EUR"), datetime(2024, 2, 20, tzinfo=UTC), ref="pay-1")
    ledger.charge(Money("41.60", "EUR"), datetime(2024, 3, 5, tzinfo=UTC), ref="e1")
    ledger.top_up(Money("500.00", "EUR"), datetime(2024, 3, 6, tzinfo=UTC), ref="pay-2")
    ledger.charge(Money("88.00", "EUR"), datetime(2024, 3, 21, tzinfo=UTC), ref="e2")
    statement = build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        payer_id="p-1",
        currency="EUR",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
    )
    contract = contract_for_first_payment([], "p-1", "pay-1", date(2024, 3, 5))
    if contract is None:
        raise SystemExit("the payer has a contract already")
    quote = Invoice.issue(
        "i-3",
        "Q-2024-0007",
        "acc-3",
        [
            InvoiceLine.of(
                LineText.of(
                    "line.order", plan="Cloud VPS M", start=date(2024, 3, 2), end=date(2024, 4, 1)
                ),
                Money("638.71", "EUR"),
            ),
            InvoiceLine("Setup", Money("25.00", "EUR")),
        ],
        issued_on=date(2024, 3, 2),
        due_on=date(2024, 3, 16),
        tax_rate=TaxRate("19"),
    )
    # Half of the renewal invoice refunded: taxed at the invoice's rate.
    note = credit_note_for_refund(
        "cre-1",
        "CN-2024-00003",
        account_id="acc-1",
        amount=Money("509.50", "UAH"),
        on=date(2024, 3, 9),
        payment_id="pay-7",
        invoice=renewal,
    )
    today = date(2024, 3, 2)
    return {
        "invoice": (
            "uk",
            pdf.render_invoice(renewal, "uk", payer=PAYER, today=today, pay_link=link),
            html.render_invoice(renewal, "uk", payer=PAYER, today=today, pay_link=link),
        ),
        "quote": (
            "de",
            pdf.render_invoice(quote, "de", today=today, quote=True),
            html.render_invoice(quote, "de", today=today, quote=True),
        ),
        "top-up": (
            "ru",
            pdf.render_invoice(top_up, "ru", payer=RU_PAYER, today=today),
            html.render_invoice(top_up, "ru", payer=RU_PAYER, today=today),
        ),
        "act": (
            "ru",
            pdf.render_act(act, "ru", payer=RU_PAYER),
            html.render_act(act, "ru", payer=RU_PAYER),
        ),
        "statement": (
            "en",
            pdf.render_statement(statement, "en", payer=PAYER),
            html.render_statement(statement, "en", payer=PAYER),
        ),
        "contract": (
            "uk",
            pdf.render_contract(contract, "uk", payer=PAYER),
            html.render_contract(contract, "uk", payer=PAYER),
        ),
        "credit-note": (
            "en",
            pdf.render_credit_note(note, "en", payer=PAYER),
            html.render_credit_note(note, "en", payer=PAYER),
        ),
    }


def main(argv: list[str]) -> int:
    """Write the samples; see the module's documentation."""
    docs = "--docs" in argv
    args = [a for a in argv if a != "--docs"]
    out = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="documents-"))
    out.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm")
    for kind, (language, pdf, html) in samples().items():
        stem = out / f"{kind}-{language}"
        stem.with_suffix(".pdf").write_bytes(pdf)
        stem.with_suffix(".html").write_bytes(html)
        if pdftoppm is None:
            continue
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(stem.with_suffix(".pdf")),
                str(stem),
            ],
            check=True,
        )
        if docs:
            (ROOT / "docs" / "img").mkdir(exist_ok=True)
            shutil.copy(stem.with_suffix(".png"), ROOT / "docs" / "img" / f"document-{kind}.png")
    print(out)
    if pdftoppm is None:
        print("pdftoppm not found: install poppler-utils for the PNGs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
