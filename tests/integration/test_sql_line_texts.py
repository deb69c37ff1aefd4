from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing import Invoice, Money, TaxRate
from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.text import LineText

pytestmark = pytest.mark.spec("M7", "L4", "P")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    found: SqlStore = request.getfixturevalue(
        f"billing_{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return found


def test_invoice_line_texts_are_stored_as_ids_and_values(store: SqlStore) -> None:
    text = LineText.of("line.order", plan="VPS S", start=date(2024, 3, 2), end=date(2024, 4, 1))
    invoice = Invoice.issue(
        "i-1",
        "A-1",
        "acc-1",
        [
            InvoiceLine.of(text, Money("638.71", "RUB"), service_id="s-1"),
            InvoiceLine("Setup", Money("10.00", "RUB")),
        ],
        issued_on=date(2024, 3, 2),
        tax_rate=TaxRate("20"),
    )
    with store.unit_of_work() as uow:
        uow.invoices.add(invoice)
        uow.commit()
    with store.unit_of_work() as uow:
        loaded = uow.invoices.get("i-1")
    assert [ln.text for ln in loaded.lines] == [text, None]
    assert loaded.lines == invoice.lines
