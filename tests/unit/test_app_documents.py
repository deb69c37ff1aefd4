"""Payers, contracts, acts, the e-document exchange and reconciliation, through the use cases."""

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    ConflictError,
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
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.documents import DocumentPolicy
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import MonthNotFinishedError, PayerNotReplaceableError
from cabinet_billing.rules.requisites import default_registry

START = datetime(2024, 3, 5, 10, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, 9, tzinfo=UTC)
IBAN = "UA21 3223 1300 0002 6007 2335 6600 1"


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


def company(payer_id: str = "p-1", *, iban: str | None = IBAN) -> Payer:
    return Payer(
        payer_id,
        PayerKind.LEGAL_ENTITY,
        "UA",
        "TOV Romashka",
        tax_ids=[TaxId("edrpou", "32855961")],
        bank=BankDetails(bank_name="PrivatBank", iban=iban or ""),
    )


def make(policy: DocumentPolicy | None = None) -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            tax=TaxPolicy(TaxMode.INCLUSIVE, default=TaxRate("20", "ПДВ")),
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
            documents=policy or DocumentPolicy(),
        ),
        now=START,
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH")
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Taras")
    return s


def pay(s: InMemoryBilling, amount: str, payer_id: str | None = None) -> None:
    started = owner(s).payments.top_up(uah(amount), "card", payer_id=payer_id)
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now()),
    )


def spend(s: InMemoryBilling, amount: str, payer_id: str | None, day: int, eid: str) -> None:
    with MemoryUnitOfWork(s.store) as uow:
        book = uow.expenses.get("acc-1")
        book.add(
            Expense(
                eid, "acc-1", "Plan Business", date(2024, 3, day), uah(amount), payer_id=payer_id
            )
        )
        uow.ledgers.get("acc-1").charge(uah(amount), datetime(2024, 3, day, tzinfo=UTC), ref=eid)
        uow.commit()


@pytest.mark.spec("A4", "L8")
def test_a_payers_first_payment_concludes_its_contract() -> None:
    s = make()
    owner(s).payers.add(company(), registry=default_registry())
    with pytest.raises(ValidationError, match="edrpou"):
        owner(s).payers.add(
            Payer(
                "p-9", PayerKind.LEGAL_ENTITY, "UA", "Typo", tax_ids=[TaxId("edrpou", "32855968")]
            ),
            registry=default_registry(),
        )
    assert "acc-1" not in s.store.documents.rows  # nothing concluded before paying
    pay(s, "500.00", "p-1")
    (contract,) = s.store.documents.rows["acc-1"].contracts
    assert (contract.number, contract.payer_id, contract.started_on) == (
        "C-2024-00001",
        "p-1",
        date(2024, 3, 5),
    )
    assert s.store.payers.rows["acc-1"].get("p-1").contracts == ("C-2024-00001",)
    pay(s, "100.00", "p-1")
    assert len(s.store.documents.rows["acc-1"].contracts) == 1


@pytest.mark.spec("L8")
def test_closing_a_month_makes_one_act_per_payer_once() -> None:
    s = make()
    pay(s, "1000.00")
    spend(s, "22.4137", None, 5, "e1")
    spend(s, "34.4827", None, 6, "e2")
    spend(s, "22.4137", None, 7, "e3")
    spend(s, "21.3464", None, 20, "e4")
    s.clock.set(APRIL)
    (act,) = s.billing.staff.close_month("acc-1", date(2024, 3, 31))
    assert act.number == "A-202403-00001"
    assert [str(ln.amounts.tax) for ln in act.lines] == [
        "3.74 UAH",
        "5.75 UAH",
        "3.73 UAH",
        "3.56 UAH",
    ]
    assert str(act.total.gross) == "100.66 UAH"
    assert {e.act_id for e in s.store.expenses.rows["acc-1"].expenses()} == {act.id}
    assert s.billing.staff.close_month("acc-1", date(2024, 3, 1)) == ()
    with pytest.raises(MonthNotFinishedError, match="month 2024-04 is not finished"):
        s.billing.staff.close_month("acc-1", date(2024, 4, 1))


@pytest.mark.spec("L8")
def test_acts_only_while_the_exchange_is_on_and_requisites_locked_meanwhile() -> None:
    s = make(DocumentPolicy(acts_require_exchange=True))
    owner(s).payers.add(company(iban=None))
    pay(s, "100.00")
    spend(s, "50.00", None, 10, "e1")
    s.clock.set(APRIL)
    with pytest.raises(ConflictError, match="e-document exchange is on"):
        s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    with pytest.raises(ValidationError, match="missing: iban"):
        owner(s).documents.switch_exchange_on("p-1")
    owner(s).payers.update(company())
    s.exchange.connect("acc-1")
    owner(s).documents.switch_exchange_on("p-1")
    with pytest.raises(ConflictError, match="switch it off first"):
        owner(s).payers.update(company(iban=None))
    (act,) = s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    (sent,) = s.exchange.sent
    assert sent.act.id == act.id
    assert sent.requisites.edrpou == "32855961"
    owner(s).documents.switch_exchange_off()
    owner(s).payers.update(company(iban=None))


@pytest.mark.spec("A4")
def test_no_other_payer_while_a_payer_owes_expenses_in_an_act() -> None:
    s = make()
    owner(s).payers.add(company("p-1"))
    owner(s).payers.add(company("p-2"))
    spend(s, "80.00", "p-1", 10, "e1")  # charged on credit: unpaid
    s.clock.set(APRIL)
    s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    with pytest.raises(PayerNotReplaceableError, match="p-1"):
        owner(s).payments.top_up(uah("100.00"), "card", payer_id="p-2")
    assert s.store.payments.ids() == []
    pay(s, "100.00", "p-1")  # the payer who owes may pay
    assert s.store.expenses.rows["acc-1"].get("e1").is_paid
    owner(s).payments.top_up(uah("10.00"), "card", payer_id="p-2")


@pytest.mark.spec("L8")
def test_reconciliation_closing_balance_equals_the_ledger() -> None:
    s = make()
    pay(s, "300.00")
    spend(s, "120.5000", None, 10, "e1")
    s.clock.set(datetime(2024, 4, 2, tzinfo=UTC))
    pay(s, "50.00")
    march = owner(s).documents.reconciliation("UAH", date(2024, 3, 1), date(2024, 4, 1))
    assert (march.opening, march.credits, march.debits, march.closing) == (
        uah("0"),
        uah("300.00"),
        uah("120.50"),
        uah("179.50"),
    )
    april = owner(s).documents.reconciliation("UAH", date(2024, 4, 1), date(2024, 5, 1))
    assert april.opening == march.closing
    assert april.closing == owner(s).balance.get("UAH")
    # Each top-up issued its advance-payment invoice, paid by its payment.
    invoices = [s.store.invoices.rows[i] for i in s.store.invoices.ids()]
    assert [(i.kind, i.status, i.total.gross) for i in invoices] == [
        (InvoiceKind.TOP_UP, InvoiceStatus.PAID, uah("300.00")),
        (InvoiceKind.TOP_UP, InvoiceStatus.PAID, uah("50.00")),
    ]
    assert InvoiceStatus.PAID.value == "paid"
