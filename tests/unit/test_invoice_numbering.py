"""Invoice numbers sort naturally and never repeat across accounts (SPEC L4)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import Money
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter, InvoiceLine, filter_invoices
from cabinet_billing.domain.numbering import (
    NumberFormat,
    check_per_account,
    document_sort_key,
)
from cabinet_billing.domain.orders import OrdersQuery, list_orders
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.errors import CurrencyMismatchError, PerAccountNumberingError
from cabinet_billing.rules.presets import HOROSHOP

pytestmark = pytest.mark.spec("L4")

PER_ACCOUNT = (
    "with a sequence per account every account's first invoice is number 1, so the "
    "template must tell accounts apart with {service_code} or {account}"
)


def issued(number: str, on: date = date(2024, 3, 1)) -> Invoice:
    return Invoice.issue(
        f"id-{number}",
        number,
        "acc-1",
        [InvoiceLine("Tariff", Money("899.00", "UAH"))],
        issued_on=on,
    )


def test_natural_sort_999_comes_before_1000() -> None:
    numbers = ["HOR-11111-1000", "HOR-11111-999", "HOR-11111-007", "HOR-11111-0099"]
    assert sorted(numbers, key=document_sort_key) == [
        "HOR-11111-007",
        "HOR-11111-0099",
        "HOR-11111-999",
        "HOR-11111-1000",
    ]
    assert document_sort_key("HOR-11111-1000") == (
        (1, 0, "hor-"),
        (0, 11111, "11111"),
        (1, 0, "-"),
        (0, 1000, "1000"),
    )


def test_natural_sort_non_ascii_digits_are_text() -> None:
    assert sorted(["A-²", "A-10", "A-٣"], key=document_sort_key) == ["A-10", "A-²", "A-٣"]


def test_natural_sort_of_the_invoice_list_newest_first() -> None:
    invoices = [issued(f"HOR-11111-{n:03}") for n in (998, 999, 1000, 1001)]
    invoices.append(issued("HOR-11111-997", date(2024, 2, 1)))
    assert [i.number for i in filter_invoices(invoices, InvoiceFilter.ALL)] == [
        "HOR-11111-1001",
        "HOR-11111-1000",
        "HOR-11111-999",
        "HOR-11111-998",
        "HOR-11111-997",
    ]


def test_natural_sort_of_the_orders_table_by_id() -> None:
    at = datetime(2024, 3, 1, 9, tzinfo=UTC)
    services = [
        Service.order(
            id=order_id,
            account_id="acc-1",
            plan_id="vps",
            plan_name="VPS",
            kind="vps",
            price=Money("100.00", "RUB"),
            period=Period.months(),
            created_at=at,
            actor=Actor.client("alice"),
        )
        for order_id in ("1000", "999", "VM 10", "VM 9", "vm 11")
    ]
    view = list_orders(services, date(2024, 3, 1), OrdersQuery(sort_by="id"))
    assert [row.id for row in view.rows] == ["999", "1000", "VM 9", "VM 10", "vm 11"]


def test_per_account_sequence_needs_a_template_that_tells_accounts_apart() -> None:
    default = NumberFormat("{prefix}-{seq:06}")
    assert check_per_account(default, per_account=False) is default
    with pytest.raises(PerAccountNumberingError) as error:
        check_per_account(default, per_account=True)
    assert str(error.value) == f"template='{{prefix}}-{{seq:06}}' is invalid: {PER_ACCOUNT}"
    assert isinstance(error.value, ValueError)
    for template in ("{prefix}-{service_code}-{seq:03}", "{account}/{seq}"):
        fmt = NumberFormat(template)
        assert fmt.distinguishes_accounts
        assert check_per_account(fmt, per_account=True) is fmt
    # Two accounts numbered from 1 now get different first numbers.
    hs = NumberFormat("{prefix}-{service_code}-{seq:03}")
    assert hs.format(1, prefix="HOR", service_code="11111") != hs.format(
        1, prefix="HOR", service_code="22222"
    )


def test_per_account_sequence_a_preset_refuses_a_template_without_the_account() -> None:
    with pytest.raises(PerAccountNumberingError) as error:
        attrs.evolve(HOROSHOP, invoice_numbers=NumberFormat("{prefix}-{year}-{seq:05}"))
    assert (
        str(error.value) == f"template='{{prefix}}-{{year}}-{{seq:05}}' is invalid: {PER_ACCOUNT}"
    )
    shared = attrs.evolve(
        HOROSHOP,
        invoice_numbers=NumberFormat("{prefix}-{year}-{seq:05}"),
        invoice_sequence_per_account=False,
    )
    assert shared.invoice_numbers.template == "{prefix}-{year}-{seq:05}"


def test_per_account_sequence_a_preset_keeps_its_defaults_in_its_currency() -> None:
    with pytest.raises(CurrencyMismatchError) as error:
        attrs.evolve(HOROSHOP, low_balance_threshold=Money("20.00", "EUR"))
    assert str(error.value) == (
        "low_balance_threshold 20.00 EUR of preset 'horoshop' is in EUR, expected UAH"
    )
