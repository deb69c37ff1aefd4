from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from cabinet_billing import Invoice, Money, TaxRate, ValidationError
from cabinet_billing.adapters.sql.codec import dumps, loads
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.text import LineParam, LineText
from cabinet_billing.l10n import render_line_text

pytestmark = pytest.mark.spec("M7", "L4")

RENEWAL = LineText.of("line.renewal", plan="VPS S", until=date(2024, 4, 1))


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("uk", "VPS S: продовження до 1 квітня 2024 р."),
        ("ru", "VPS S: продление до 1 апреля 2024 г."),
        ("de", "VPS S: Verlängerung bis 1. April 2024"),
        ("en", "VPS S: renewal until April 1, 2024"),
    ],
)
def test_a_renewal_line_is_put_into_words_in_the_readers_language(
    language: str, expected: str
) -> None:
    assert plain(render_line_text(RENEWAL, language)) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("uk", "Послуги, придбані в кредит, березень 2024 р."),
        ("ru", "Услуги, купленные в кредит, март 2024 г."),
        ("de", "Auf Kredit gekaufte Leistungen, März 2024"),
        ("en", "Services bought on credit, March 2024"),
    ],
)
def test_a_credit_statement_line_names_its_month(language: str, expected: str) -> None:
    text = LineText.of("line.credit_statement", month=date(2024, 3, 1))
    assert plain(render_line_text(text, language)) == expected


def test_values_are_kept_by_name_in_any_order() -> None:
    values: dict[str, LineParam] = {"until": date(2024, 4, 1), "plan": "VPS S"}
    assert LineText("line.renewal", values) == RENEWAL
    assert RENEWAL.params == (("plan", "VPS S"), ("until", date(2024, 4, 1)))
    assert hash(RENEWAL) == hash(LineText.of("line.renewal", until=date(2024, 4, 1), plan="VPS S"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"until": datetime(2024, 4, 1, tzinfo=UTC)}, "expected Money, date, Decimal, int or str"),
        ({"n": True}, "expected Money, date, Decimal, int or str"),
        ({"n": 1.5}, "expected Money, date, Decimal, int or str"),
        ({"n": Decimal("NaN")}, "expected a finite number"),
        ({"not an id": 1}, "a value's name must be an identifier"),
    ],
)
def test_bad_values_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        LineText("line.renewal", params)


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="each value is named once"):
        LineText("line.renewal", [("plan", "a"), ("plan", "b")])


@pytest.mark.parametrize("msgid", ["", " line.renewal", 7])
def test_a_message_id_is_required(msgid: object) -> None:
    with pytest.raises(ValidationError, match="expected a message id of the catalogs"):
        LineText(msgid)


def test_an_id_the_catalogs_do_not_hold_is_refused_at_render_time() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("message_id='line.nope' is invalid: expected one of line.")
    ):
        render_line_text(LineText("line.nope"), "en")


def test_a_missing_value_is_refused_naming_what_the_message_needs() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("message 'line.renewal' needs plan, until")
    ):
        render_line_text(LineText.of("line.renewal", plan="VPS S"), "en")


def test_an_issued_invoice_keeps_the_line_text_and_its_fallback() -> None:
    invoice = Invoice.issue(
        "i-1",
        "A-1",
        "acc-1",
        [
            InvoiceLine.of(
                RENEWAL, Money("100.00", "RUB"), service_id="s-1", paid_until=date(2024, 4, 1)
            )
        ],
        issued_on=date(2024, 3, 1),
        tax_rate=TaxRate("20"),
    )
    (line,) = invoice.lines
    assert line.text == RENEWAL
    assert line.description == "line.renewal: plan=VPS S, until=2024-04-01"
    assert (line.service_id, line.paid_until) == ("s-1", date(2024, 4, 1))


def test_plain_descriptions_keep_working() -> None:
    invoice = Invoice.issue(
        "i-1",
        "A-1",
        "acc-1",
        [InvoiceLine("Setup", Money("5.00", "EUR"))],
        issued_on=date(2024, 3, 1),
    )
    assert invoice.lines[0].text is None
    assert invoice.lines[0].description == "Setup"


@pytest.mark.spec("M7", "L4", "P")
def test_a_line_text_survives_the_sql_store_codec() -> None:
    text = LineText.of(
        "line.order",
        plan="VPS S",
        start=date(2024, 3, 2),
        end=date(2024, 4, 1),
        price=Money("638.71", "RUB"),
        share=Decimal("0.9677"),
        days=30,
    )
    invoice = Invoice.issue(
        "i-1",
        "A-1",
        "acc-1",
        [InvoiceLine.of(text, Money("638.71", "RUB"))],
        issued_on=date(2024, 3, 2),
    )
    restored = loads(Invoice, dumps(invoice))
    assert restored.lines[0].text == text
    assert restored.lines == invoice.lines
