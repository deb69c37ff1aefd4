from datetime import date

import pytest

from cabinet_billing import (
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidTransitionError,
    Invoice,
    InvoiceStatus,
    Money,
    TaxMode,
    TaxRate,
    ValidationError,
)
from cabinet_billing.domain.invoice import (
    InvoiceAction,
    InvoiceFilter,
    InvoiceKind,
    InvoiceLine,
    filter_invoices,
)
from cabinet_billing.errors import PrecisionError

pytestmark = pytest.mark.spec("L4")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def issue(number: str = "INV-001", amount: str = "100.00", **kw: object) -> Invoice:
    return Invoice.issue(
        f"id-{number}",
        number,
        "acc-1",
        [InvoiceLine("VPS-1, March 2024", rub(amount))],
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 15),
        **kw,  # type: ignore[arg-type]
    )


def test_invoice_lines_show_net_tax_and_gross_consistent_with_the_total() -> None:
    invoice = Invoice.issue(
        "inv-1",
        "INV-1",
        "acc-1",
        [
            InvoiceLine(f"expense {i}", rub(a))
            for i, a in enumerate(
                ("22.4137", "34.4827", "22.4137", "21.3464"),
            )
        ],
        issued_on=date(2024, 2, 1),
        tax_rate=TaxRate("20"),
        tax_mode=TaxMode.INCLUSIVE,
        kind=InvoiceKind.STATEMENT,
    )
    assert [ln.amounts.tax for ln in invoice.lines] == [
        rub("3.74"),
        rub("5.75"),
        rub("3.73"),
        rub("3.56"),
    ]
    assert (invoice.total.net, invoice.total.tax, invoice.total.gross) == (
        rub("83.88"),
        rub("16.78"),
        rub("100.66"),
    )
    assert invoice.amount_due == rub("100.66")


def test_statuses_follow_payments_and_overdue_is_derived_from_the_due_date() -> None:
    invoice = issue()
    assert invoice.status.value == "unpaid"
    assert invoice.status_on(date(2024, 3, 15)) is InvoiceStatus.UNPAID
    assert invoice.status_on(date(2024, 3, 16)) is InvoiceStatus.OVERDUE
    invoice.pay("pay-1", rub("40.00"), date(2024, 3, 10))
    assert invoice.status_on(date(2024, 3, 10)) is InvoiceStatus.PARTIALLY_PAID
    assert invoice.status_on(date(2024, 3, 20)) is InvoiceStatus.OVERDUE
    assert invoice.amount_due == rub("60.00")
    invoice.pay("pay-2", rub("60.00"), date(2024, 3, 20))
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.status_on(date(2024, 4, 1)) is InvoiceStatus.PAID
    assert invoice.closed_on == date(2024, 3, 20)
    assert invoice.amount_due == rub("0")
    assert [p.payment_id for p in invoice.payments] == ["pay-1", "pay-2"]


def test_actions_per_status() -> None:
    invoice = issue()
    assert invoice.actions() == (
        InvoiceAction.VIEW,
        InvoiceAction.PAY,
        InvoiceAction.REQUEST_QUOTE,
        InvoiceAction.COPY_PAY_LINK,
        InvoiceAction.DELETE,
    )
    invoice.request_quote(date(2024, 3, 2))
    assert invoice.quote_requests == (date(2024, 3, 2),)
    invoice.pay("pay-1", rub("100.00"), date(2024, 3, 3))
    assert invoice.actions() == (InvoiceAction.VIEW, InvoiceAction.DOWNLOAD)


def test_repeated_payment_is_harmless_and_a_conflicting_one_is_refused() -> None:
    invoice = issue()
    first = invoice.pay("pay-1", rub("40.00"), date(2024, 3, 3))
    assert invoice.pay("pay-1", rub("40.00"), date(2024, 3, 4)) is first
    assert invoice.paid == rub("40.00")
    with pytest.raises(ConflictError, match=r"already applied to invoice INV-001 with 40\.00 RUB"):
        invoice.pay("pay-1", rub("41.00"), date(2024, 3, 4))
    assert invoice.paid == rub("40.00")


def test_bad_payments_are_refused_and_change_nothing() -> None:
    invoice = issue()
    with pytest.raises(InvalidAmountError, match=r"only 100\.00 RUB left to pay"):
        invoice.pay("pay-1", rub("100.01"), date(2024, 3, 3))
    with pytest.raises(CurrencyMismatchError, match="EUR, expected RUB"):
        invoice.pay("pay-1", Money("1", "EUR"), date(2024, 3, 3))
    with pytest.raises(PrecisionError):
        invoice.pay("pay-1", rub("1.001"), date(2024, 3, 3))
    with pytest.raises(InvalidAmountError, match="greater than zero"):
        invoice.pay("pay-1", rub("0"), date(2024, 3, 3))
    assert invoice.status is InvoiceStatus.UNPAID
    assert invoice.payments == ()


def test_delete_to_change_the_method_only_while_unpaid() -> None:
    invoice = issue(kind=InvoiceKind.RENEWAL, payment_method_id="card")
    invoice.delete(date(2024, 3, 2), reason="pay by bank transfer instead")
    assert invoice.status is InvoiceStatus.DELETED
    assert invoice.amount_due == rub("0")
    assert invoice.actions() == ()
    with pytest.raises(InvalidTransitionError, match=r"INV-001 \(deleted\)") as info:
        invoice.pay("pay-1", rub("1"), date(2024, 3, 3))
    assert info.value.allowed == ()
    paid = issue("INV-002")
    paid.pay("pay-1", rub("10"), date(2024, 3, 3))
    with pytest.raises(InvalidTransitionError, match=r"allowed from .*: view, pay, copy_pay_link"):
        paid.delete(date(2024, 3, 4))
    assert paid.status is InvoiceStatus.PARTIALLY_PAID


def test_cancel_needs_a_reason_and_an_unpaid_invoice() -> None:
    invoice = issue()
    with pytest.raises(ValidationError, match="say why"):
        invoice.cancel(date(2024, 3, 2), "")
    invoice.cancel(date(2024, 3, 2), "ordered by mistake")
    assert (invoice.status, invoice.reason) == (InvoiceStatus.CANCELLED, "ordered by mistake")
    with pytest.raises(InvalidTransitionError, match="cannot go from cancelled to cancelled"):
        invoice.cancel(date(2024, 3, 3), "again")
    with pytest.raises(InvalidTransitionError):
        invoice.request_quote(date(2024, 3, 3))


def test_issue_validates_its_input() -> None:
    with pytest.raises(ValidationError, match="needs a number"):
        issue(number=" ")
    with pytest.raises(ValidationError, match="greater than zero"):
        issue(amount="0")
    with pytest.raises(ValidationError, match="before the issue date"):
        Invoice.issue(
            "i",
            "N",
            "a",
            [InvoiceLine("x", rub("1"))],
            issued_on=date(2024, 3, 2),
            due_on=date(2024, 3, 1),
        )
    with pytest.raises(ValidationError, match="must not be empty"):
        InvoiceLine(" ", rub("1"))


def test_default_list_shows_unpaid_and_filters_paid_or_all_never_deleted() -> None:
    unpaid, partly, paid, deleted = (issue(f"INV-00{i}") for i in range(1, 5))
    partly.pay("p1", rub("1"), date(2024, 3, 2))
    paid.pay("p2", rub("100.00"), date(2024, 3, 2))
    deleted.delete(date(2024, 3, 2))
    everything = [unpaid, partly, paid, deleted]
    assert [i.number for i in filter_invoices(everything)] == ["INV-002", "INV-001"]
    assert [i.number for i in filter_invoices(everything, InvoiceFilter.PAID)] == ["INV-003"]
    assert [i.number for i in filter_invoices(everything, InvoiceFilter.ALL)] == [
        "INV-003",
        "INV-002",
        "INV-001",
    ]
