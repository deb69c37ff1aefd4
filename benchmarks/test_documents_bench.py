"""Documents: what a PDF costs next to the same document as HTML.

Each PDF is compared with the HTML page of the same document, rendered in the same run.
The PDF renderer reads its two fonts once per process (``_blank_page``); the "fonts read
anew" rows clear that cache before each round, which is what every PDF cost before the
cache, and what the first PDF of a process still costs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from cabinet_billing import Invoice, Money, Payer, PostalAddress, TaxRate
from cabinet_billing.adapters.documents import HtmlRenderer, PdfRenderer
from cabinet_billing.adapters.documents import pdf as pdf_module
from cabinet_billing.domain.documents import (
    ProviderRequisites,
    build_act,
    build_reconciliation,
    credit_note_for_refund,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.text import LineText
from cabinet_billing.ports.documents import DocumentRenderer

#: The ``measure`` fixture of conftest.py: (name, function, floor name or None).
Measure = Callable[..., None]

PROVIDER = ProviderRequisites(
    "ООО «Астра Клауд»",
    tax_ids=(TaxId("inn", "7707083893"), TaxId("kpp", "770701001")),
    bank=BankDetails(bank_name="ПАО Сбербанк", bic="044525225", account="40702810938000000001"),
)
PAYER = Payer(
    "p-1",
    PayerKind.LEGAL_ENTITY,
    "RU",
    "ООО «Ромашка»",
    tax_ids=(TaxId("inn", "7728168971"),),
    legal_address=PostalAddress(city="Москва", postal_code="101000", address="ул. Мясницкая, 1"),
)
AMOUNTS = ("22.4137", "34.4827", "22.4137", "21.3464")


def _invoice() -> Invoice:
    return Invoice.issue(
        "i-1",
        "AC-000007",
        "acc-1",
        [
            InvoiceLine.of(
                LineText.of("line.renewal", plan=f"VPS-{i}", until=date(2024, 4, 1)),
                Money(a, "RUB"),
            )
            for i, a in enumerate(AMOUNTS, start=1)
        ],
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 15),
        tax_rate=TaxRate("20"),
        payer_id="p-1",
    )


def _documents() -> dict[str, Callable[[DocumentRenderer], bytes]]:
    invoice = _invoice()
    expenses = [
        Expense(f"e{i}", "acc-1", "VPS", date(2024, 3, i), Money(a, "RUB"), payer_id="p-1")
        for i, a in enumerate(AMOUNTS, start=1)
    ]
    act = build_act(
        "act-1",
        "A-2024-03",
        account_id="acc-1",
        payer_id="p-1",
        month=date(2024, 3, 1),
        expenses=expenses,
        rate=TaxRate("20"),
    )
    assert act is not None
    ledger = Ledger("acc-1")
    ledger.top_up(Money("500.00", "RUB"), datetime(2024, 3, 2, tzinfo=UTC), ref="pay-1")
    ledger.charge(Money("100.66", "RUB"), datetime(2024, 3, 5, tzinfo=UTC), ref="i-1")
    statement = build_reconciliation(
        ledger.entries(),
        account_id="acc-1",
        currency="RUB",
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
        payer_id="p-1",
    )
    note = credit_note_for_refund(
        "cre-1",
        "CN-2024-00001",
        account_id="acc-1",
        amount=Money("50.33", "RUB"),
        on=date(2024, 3, 9),
        payment_id="pay-1",
        invoice=invoice,
    )
    return {
        "invoice": lambda r: r.render_invoice(invoice, "ru", payer=PAYER),
        "act": lambda r: r.render_act(act, "ru", payer=PAYER),
        "statement": lambda r: r.render_statement(statement, "ru", payer=PAYER),
        "credit note": lambda r: r.render_credit_note(note, "ru", payer=PAYER),
    }


DOCUMENTS = _documents()
HTML = HtmlRenderer(PROVIDER)
PDF = PdfRenderer(PROVIDER)


@pytest.mark.parametrize("kind", DOCUMENTS)
def test_html(measure: Measure, kind: str) -> None:
    render = DOCUMENTS[kind]
    measure(f"html: {kind}", lambda: render(HTML), None, rounds=20)


@pytest.mark.parametrize("kind", DOCUMENTS)
def test_pdf(measure: Measure, kind: str) -> None:
    render = DOCUMENTS[kind]
    measure(f"pdf: {kind}", lambda: render(PDF), f"html: {kind}", rounds=5, warmup=1)


@pytest.mark.parametrize("kind", ["invoice", "act"])
def test_pdf_fonts_read_anew(measure: Measure, kind: str) -> None:
    render = DOCUMENTS[kind]

    def cold() -> bytes:
        pdf_module._blank_page.cache_clear()  # noqa: SLF001 - what the cache saves
        return render(PDF)

    measure(f"pdf: {kind}, fonts read anew", cold, f"html: {kind}", rounds=5, warmup=1)
