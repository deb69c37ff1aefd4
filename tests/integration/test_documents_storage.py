"""Advance-payment invoices, credit notes and downloads through the use cases, on every store.

A top-up issues its advance-payment invoice, which its payment pays; a refund issues a
numbered credit note taxed like the invoice the payment paid; both are kept (memory,
SQLite, PostgreSQL) and downloaded as HTML and PDF (SPEC L2, X3, L8).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest
from pypdf import PdfReader

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    InvoiceStatus,
    Money,
    Payer,
    PaymentMethod,
    PostalAddress,
    TaxMode,
    TaxPolicy,
    TaxRate,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.documents import HtmlRenderer, PdfRenderer
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.documents import (
    CreditNoteReason,
    CreditNoteStatus,
    ProviderRequisites,
)
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.tax import TaxAmounts
from cabinet_billing.domain.text import LineText
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("L2", "X3", "L8")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
PROVIDER = ProviderRequisites(
    "ООО «Астра Клауд»",
    tax_ids=(TaxId("inn", "7707083893"), TaxId("kpp", "770701001")),
    bank=BankDetails(bank_name="АО «Альфа-Банк»", bic="044525593", account="40702810801300000002"),
)
PAYER = Payer(
    "p-1",
    PayerKind.LEGAL_ENTITY,
    "RU",
    "ООО «Ромашка»",
    tax_ids=(TaxId("inn", "7728168971"), TaxId("kpp", "772801001")),
    legal_address=PostalAddress(city="Москва", postal_code="101000", address="ул. Мясницкая, 1"),
    bank=BankDetails(
        bank_name="ПАО Сбербанк",
        bic="044525225",
        account="40702810938000000001",
        correspondent_account="30101810400000000225",
    ),
)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def plain(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def pdf_text(data: bytes) -> str:
    return plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


@attrs.frozen
class Host:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway

    @property
    def cabinet(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "owner")

    def event(self, payment_id: str, kind: PaymentEventKind, amount: Money | None = None) -> None:
        self.billing.webhooks.handle(
            *self.gateway.webhook(payment_id, kind, self.clock.now(), amount=amount)
        )


def wire(make_uow: Callable[[], UnitOfWork]) -> Host:
    clock = FixedClock(START)
    gateway = SandboxGateway(b"documents on every store: a sandbox signing key of 48 b")
    billing = Billing(
        Ports(
            unit_of_work=make_uow,
            clock=clock,
            gateway=gateway,
            notifier=InMemoryNotifier(),
            renderers={"html": HtmlRenderer(PROVIDER), "pdf": PdfRenderer(PROVIDER)},
        ),
        BillingSettings(
            tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),),
        ),
    )
    account = Account.open("acc-1", "jill", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    billing.open_account(account, owner_id="owner", owner_name="Jill")
    host = Host(billing, make_uow, clock, gateway)
    host.cabinet.payers.add(PAYER)
    return host


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def host(request: pytest.FixtureRequest) -> Host:
    if request.param == "memory":
        memory = MemoryStore()
        return wire(lambda: MemoryUnitOfWork(memory))
    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    store: SqlStore = request.getfixturevalue(name)
    return wire(lambda: SqlUnitOfWork(store))


@pytest.mark.spec("L2", "L4", "M7")
def test_a_top_up_issues_its_advance_payment_invoice_which_its_payment_pays(host: Host) -> None:
    started = host.cabinet.payments.top_up(rub("1200.00"), "card", payer_id="p-1")
    assert started.invoice is not None
    invoice_id = started.invoice.id
    assert started.payment.invoice_id == invoice_id
    with host.uow() as uow:
        stored = uow.invoices.get(invoice_id)
    assert (stored.number, stored.kind, stored.status, stored.payer_id) == (
        "AV-2024-00001",
        InvoiceKind.TOP_UP,
        InvoiceStatus.UNPAID,
        "p-1",
    )
    assert [(ln.text, ln.rate) for ln in stored.lines] == [(LineText("line.top_up"), TaxRate("20"))]
    assert stored.total == TaxAmounts(rub("1000.00"), rub("200.00"), rub("1200.00"))
    unpaid = host.cabinet.documents.download("invoice", invoice_id, format="html", language="ru")
    assert "Счёт на авансовый платёж № AV-2024-00001" in unpaid.content.decode()

    host.event(started.payment.id, PaymentEventKind.CREDITED)
    with host.uow() as uow:
        assert uow.invoices.get(invoice_id).status is InvoiceStatus.PAID
    # The money stays on the balance: paying the advance invoice charges nothing.
    assert host.cabinet.balance.get("RUB") == rub("1200.00")
    paid = host.cabinet.documents.download("invoice", invoice_id, language="ru")
    assert (paid.filename, paid.media_type) == ("invoice-AV-2024-00001.pdf", "application/pdf")
    text = pdf_text(paid.content)
    for shown in ("1 000,00 ₽", "200,00 ₽", "1 200,00 ₽", "НДС 20 %", "Авансовый платёж"):
        assert shown in text
    for requisite in ("7707083893", "770701001", "7728168971", "044525225", "40702810938000000001"):
        assert requisite in text


@pytest.mark.spec("L2", "L6")
def test_a_failed_top_up_cancels_its_advance_payment_invoice(host: Host) -> None:
    started = host.cabinet.payments.top_up(rub("300.00"), "card")
    assert started.invoice is not None
    host.event(started.payment.id, PaymentEventKind.FAILED)
    with host.uow() as uow:
        cancelled = uow.invoices.get(started.invoice.id)
    assert (cancelled.status, cancelled.reason) == (
        InvoiceStatus.CANCELLED,
        f"payment {started.payment.id} failed",
    )
    assert host.cabinet.balance.get("RUB") == rub("0")


@pytest.mark.spec("X3", "L6", "M3")
def test_a_refund_is_a_numbered_credit_note_taxed_like_the_invoice_it_paid(host: Host) -> None:
    started = host.cabinet.payments.top_up(rub("1200.00"), "card", payer_id="p-1")
    host.event(started.payment.id, PaymentEventKind.CREDITED)
    host.event(started.payment.id, PaymentEventKind.REFUNDED, amount=rub("600.00"))
    host.event(started.payment.id, PaymentEventKind.REFUNDED)
    with host.uow() as uow:
        notes = uow.documents.get("acc-1").credit_notes
    assert [(n.id, n.number, n.reason, n.status, n.applied) for n in notes] == [
        ("cre-1", "CN-2024-00001", CreditNoteReason.REFUND, CreditNoteStatus.ISSUED, True),
        ("cre-2", "CN-2024-00002", CreditNoteReason.REFUND, CreditNoteStatus.ISSUED, True),
    ]
    assert [n.total for n in notes] == [
        TaxAmounts(rub("500.00"), rub("100.00"), rub("600.00")),
        TaxAmounts(rub("500.00"), rub("100.00"), rub("600.00")),
    ]
    assert {(n.invoice_number, n.payment_id, n.payer_id) for n in notes} == {
        ("AV-2024-00001", started.payment.id, "p-1")
    }
    assert notes[0].lines[0].text == LineText.of(
        "line.refund_of_invoice", number="AV-2024-00001", payment=started.payment.id
    )
    page = host.cabinet.documents.download("credit_note", "cre-1", format="html", language="uk")
    html = plain(page.content.decode())
    assert page.filename == "credit-note-CN-2024-00001.html"
    assert "Кредит-нота № CN-2024-00001" in html
    assert f"Повернення за рахунком AV-2024-00001 (платіж {started.payment.id})" in html
    text = pdf_text(host.cabinet.documents.download("credit_note", "cre-2", language="de").content)
    for shown in (
        "Gutschrift Nr. CN-2024-00002",
        "500,00 RUB",
        "100,00 RUB",
        "600,00 RUB",
        "MwSt. 20 %",
    ):
        assert shown in text
    assert "7728168971" in text  # the payer's requisites
    assert "044525593" in text  # the provider's


@pytest.mark.spec("X3")
def test_the_cabinet_lists_its_credit_notes_newest_first(host: Host) -> None:
    started = host.cabinet.payments.top_up(rub("1200.00"), "card", payer_id="p-1")
    other = host.cabinet.payments.top_up(rub("600.00"), "card")
    for payment in (started, other):
        host.event(payment.payment.id, PaymentEventKind.CREDITED)
    host.event(started.payment.id, PaymentEventKind.REFUNDED, amount=rub("600.00"))
    host.event(other.payment.id, PaymentEventKind.REFUNDED)
    notes = host.cabinet.documents
    assert [n.number for n in notes.credit_notes()] == ["CN-2024-00002", "CN-2024-00001"]
    assert started.invoice is not None
    mine = notes.credit_notes(invoice_id=started.invoice.id)
    assert [(n.number, n.invoice_number) for n in mine] == [("CN-2024-00001", "AV-2024-00001")]
    first = notes.credit_notes(limit=1)
    assert (first.total, first.next_after) == (2, first.items[0].id)
    rest = notes.credit_notes(limit=1, after=first.next_after)
    assert [n.number for n in rest] == ["CN-2024-00001"]
    assert rest.next_after is None
    with pytest.raises(ValidationError, match="after='cre-404' is invalid"):
        notes.credit_notes(after="cre-404")


@pytest.mark.spec("L8", "A4")
def test_a_payers_statement_and_contract_render_with_both_requisites(host: Host) -> None:
    own = host.cabinet.payments.top_up(rub("100.00"), "card")
    host.event(own.payment.id, PaymentEventKind.CREDITED)
    payers = host.cabinet.payments.top_up(rub("500.00"), "card", payer_id="p-1")
    host.event(payers.payment.id, PaymentEventKind.CREDITED)
    statement = host.cabinet.documents.reconciliation(
        "RUB", date(2024, 3, 1), date(2024, 4, 1), payer_id="p-1"
    )
    assert (statement.payer_id, statement.credits, statement.closing) == (
        "p-1",
        rub("500.00"),
        rub("500.00"),
    )
    assert [ln.ref for ln in statement.lines] == [payers.payment.id]
    whole = host.cabinet.documents.reconciliation("RUB", date(2024, 3, 1), date(2024, 4, 1))
    assert whole.closing == rub("600.00")
    text = pdf_text(
        host.cabinet.documents.download(
            "statement",
            "p-1",
            language="ru",
            currency="RUB",
            start=date(2024, 3, 1),
            end=date(2024, 4, 1),
        ).content
    )
    assert "Акт сверки взаиморасчётов" in text
    assert f"Оплата {payers.payment.id}" in text
    assert own.payment.id not in text
    for requisite in ("7707083893", "044525593", "7728168971", "40702810938000000001"):
        assert requisite in text
    with host.uow() as uow:
        (contract,) = uow.documents.get("acc-1").contracts
    summary = host.cabinet.documents.download("contract", contract.number, language="en")
    summary_text = pdf_text(summary.content)
    assert f"Contract No. {contract.number}" in summary_text
    for requisite in ("7707083893", "770701001", "7728168971", "772801001", "044525225"):
        assert requisite in summary_text
