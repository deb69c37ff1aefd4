"""The bank-transfer review queue and the staff's decisions, on every store (SPEC L7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cart,
    InvalidTransitionError,
    Money,
    NotFoundError,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    StatementLine,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.bank_review import ReviewStatus
from cabinet_billing.domain.invoice import Invoice, InvoiceStatus
from cabinet_billing.domain.numbering import NumberFormat
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("L7")

START = datetime(2024, 5, 2, 9, tzinfo=UTC)


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


@attrs.frozen
class Wired:
    billing: Billing
    clock: FixedClock

    def order(self, price: str) -> Invoice:
        plan = Plan("business", "Business", ProductKind.SAAS, {"month": uah(price)})
        cart = Cart("acc-1", "UAH")
        cart.add(plan, "month")
        return (
            self.billing.cabinet("acc-1", "u1")
            .orders.place(
                cart.checkout(
                    "card",
                    self.clock.today(),
                    order_id=f"o-{price}",
                    tax=self.billing.settings.tax,
                    country="UA",
                )
            )
            .invoice
        )

    def invoice(self, invoice_id: str) -> Invoice:
        return self.billing.cabinet("acc-1", "u1").invoices.get(invoice_id)


@pytest.fixture
def s(billing_unit_of_work: Callable[[], UnitOfWork]) -> Wired:
    unit_of_work = billing_unit_of_work
    clock = FixedClock(START)
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=SandboxGateway(b"reads: a sandbox signing key of 32+ bytes"),
            notifier=InMemoryNotifier(),
        ),
        BillingSettings(
            invoice_numbers=NumberFormat("{prefix}-{service_code}-{seq:03}"),
            invoice_prefix="HOR",
            service_code="11111",
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
        ),
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", country="UA", currency="UAH")
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    billing.open_account(account, owner_id="u1", owner_name="Taras")
    return Wired(billing, clock)


def line(line_id: str, amount: str, purpose: str) -> StatementLine:
    return StatementLine(line_id, date(2024, 5, 2), uah(amount), "TOV Shop", purpose)


def test_lines_left_for_review_wait_with_their_reason_and_account(s: Wired) -> None:
    first = s.order("1500.00")  # HOR-11111-001
    second = s.order("1000.00")  # HOR-11111-002
    bank = s.billing.bank
    result = bank.match(
        [
            line("st-1/1", "1500.00", "Оплата за рахунком HOR-11111-001"),
            line("st-1/2", "900.00", "Оплата за рахунком HOR-11111-002"),
            line("st-1/3", "700.00", "for hosting"),
        ]
    )
    assert [r.line_id for r in result.match.matched] == ["st-1/1"]
    assert s.invoice(first.id).status is InvoiceStatus.PAID
    queue = bank.review_queue()
    assert [(r.line_id, r.reason, r.account_id, r.invoice_id) for r in queue] == [
        ("st-1/2", "amount_differs", "acc-1", second.id),
        ("st-1/3", "no_number", "", None),
    ]
    assert queue.items[0].message.startswith("paid 900.00 UAH for HOR-11111-002")
    assert [r.line_id for r in bank.review_queue(account_id="acc-1")] == ["st-1/2"]
    page = bank.review_queue(limit=1)
    assert [r.line_id for r in bank.review_queue(after=page.next_after)] == ["st-1/3"]
    # Imported again: nothing new.
    assert bank.match([line("st-1/3", "700.00", "for hosting")]).match.review == ()
    assert bank.review_queue().total == 2


def test_the_staff_credit_a_line_to_an_invoice_or_a_balance_or_reject_it(s: Wired) -> None:
    s.order("1500.00")  # HOR-11111-001, left unpaid
    second = s.order("1000.00")  # HOR-11111-002
    bank = s.billing.bank
    bank.match(
        [
            line("st-1/2", "900.00", "HOR-11111-002"),
            line("st-1/3", "700.00", "for hosting"),
            line("st-1/4", "50.00", "HOR-22222-001"),
        ]
    )
    credited = bank.credit("st-1/2", invoice_id=second.id, by="olga", note="short by 100")
    assert (credited.status, credited.credited_to, credited.payment_id, credited.resolved_by) == (
        ReviewStatus.CREDITED_TO_INVOICE,
        "acc-1",
        "bank-st-1/2",
        "olga",
    )
    paid = s.invoice(second.id)
    assert (paid.status, paid.amount_due) == (InvoiceStatus.PARTIALLY_PAID, uah("100.00"))
    with pytest.raises(InvalidTransitionError, match="credited_to_invoice"):
        bank.credit("st-1/2", invoice_id=second.id, by="olga")
    with pytest.raises(ValidationError, match="names no account"):
        bank.credit("st-1/3", by="olga")
    with pytest.raises(NotFoundError):
        bank.credit("st-1/3", account_id="acc-9", by="olga")
    to_balance = bank.credit("st-1/3", account_id="acc-1", by="olga", note="called them")
    assert to_balance.status is ReviewStatus.CREDITED_TO_BALANCE
    # The order was checked out to be paid by card: the balance keeps the 700.00 and the
    # invoice waits for the rest by its own method.
    assert s.invoice(second.id).status is InvoiceStatus.PARTIALLY_PAID
    assert s.billing.cabinet("acc-1", "u1").balance.get("UAH") == uah("700.00")
    with pytest.raises(ValueError, match="note"):
        bank.reject("st-1/4", by="olga", note="")
    rejected = bank.reject("st-1/4", by="olga", note="another shop's invoice, sent back")
    assert (rejected.status, rejected.note) == (
        ReviewStatus.REJECTED,
        "another shop's invoice, sent back",
    )
    assert list(bank.review_queue()) == []
    assert bank.review("st-1/4").resolved_at == START
    with pytest.raises(NotFoundError):
        bank.review("st-9/9")


def test_the_staff_credit_what_an_invoice_owes_and_send_the_rest_back(s: Wired) -> None:
    invoice = s.order("1000.00")  # HOR-11111-001
    bank = s.billing.bank
    bank.match([line("st-3/1", "1250.00", "HOR-11111-001"), line("st-3/2", "50.00", "x")])
    with pytest.raises(ValidationError, match="say which invoice"):
        bank.credit("st-3/2", account_id="acc-1", by="olga", refund_rest=True)
    with pytest.raises(
        ValidationError, match=r"has 1500\.00 UAH left to pay: nothing is left over"
    ):
        bank.credit("st-3/1", invoice_id=s.order("1500.00").id, by="olga", refund_rest=True)
    assert bank.review("st-3/1").is_pending
    done = bank.credit(
        "st-3/1", invoice_id=invoice.id, by="olga", note="250.00 back", refund_rest=True
    )
    assert (done.status, done.refunded) == (ReviewStatus.CREDITED_TO_INVOICE, uah("250.00"))
    assert s.invoice(invoice.id).status is InvoiceStatus.PAID
    # Nothing of the 250.00 is credited: the provider's bank sends it back.
    assert s.billing.cabinet("acc-1", "u1").balance.get("UAH") == uah("0")
    assert bank.review("st-3/1").refunded == uah("250.00")
    assert bank.review("st-3/2").refunded is None


def test_lines_waiting_are_matched_again_once_their_invoice_exists(s: Wired) -> None:
    bank = s.billing.bank
    bank.match([line("st-2/1", "300.00", "HOR-11111-001")])
    assert bank.rematch(by="olga") == ()
    invoice = s.order("300.00")  # HOR-11111-001
    (matched,) = bank.rematch(by="olga")
    assert (matched.line_id, matched.status, matched.invoice_id) == (
        "st-2/1",
        ReviewStatus.CREDITED_TO_INVOICE,
        invoice.id,
    )
    assert s.invoice(invoice.id).status is InvoiceStatus.PAID
    assert bank.review_queue().total == 0
