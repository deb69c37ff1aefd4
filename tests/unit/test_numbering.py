from __future__ import annotations

import re

import pytest

from cabinet_billing.domain.numbering import NUMBER_FIELDS, NumberFormat, ParsedNumber
from cabinet_billing.errors import ValidationError

pytestmark = pytest.mark.spec("L4")

HS = NumberFormat("{prefix}-{service_code}-{seq:03}")
ALLOWED = "{prefix}, {service_code}, {account}, {seq}, {year}, {month}"


def test_horoshop_number_hor_11111_007() -> None:
    assert HS.format(7, prefix="HOR", service_code="11111") == "HOR-11111-007"


def test_horoshop_number_parses_back() -> None:
    assert HS.parse("HOR-11111-007") == ParsedNumber(seq=7, prefix="HOR", service_code="11111")


def test_sequence_wider_than_the_padding_is_written_in_full() -> None:
    assert HS.format(1234, prefix="HOR", service_code="11111") == "HOR-11111-1234"
    assert HS.parse("HOR-11111-1234").seq == 1234


def test_service_code_may_be_an_int() -> None:
    assert HS.format(7, prefix="HOR", service_code=11111) == "HOR-11111-007"


def test_year_month_and_account_fields() -> None:
    fmt = NumberFormat("{account}/{year}-{month:02}/{seq}")
    assert fmt.format(5, account="A17", year=2024, month=3) == "A17/2024-03/5"
    assert fmt.parse("A17/2024-03/5") == ParsedNumber(seq=5, account="A17", year=2024, month=3)
    assert fmt.fields == ("account", "year", "month", "seq")


def test_unused_context_fields_are_ignored() -> None:
    assert HS.format(7, prefix="HOR", service_code="11111", year=2024) == "HOR-11111-007"


def test_letters_prefix_touching_the_sequence_is_readable() -> None:
    fmt = NumberFormat("{prefix}{seq:05}")
    assert fmt.parseable
    assert fmt.format(42, prefix="INV") == "INV00042"
    assert fmt.parse("INV00042") == ParsedNumber(seq=42, prefix="INV")


def test_literal_braces_are_text() -> None:
    fmt = NumberFormat("{{{seq}}}")
    assert fmt.format(3) == "{3}"
    assert fmt.parse("{3}").seq == 3


def test_allowed_fields() -> None:
    assert NUMBER_FIELDS == ("prefix", "service_code", "account", "seq", "year", "month")


# ----------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{prefix}-{number}", f"unknown field {{number}}; allowed fields: {ALLOWED}"),
        ("{prefix}-{service_code}", f"must contain {{seq}}; allowed fields: {ALLOWED}"),
        ("{}-{seq}", f"unknown field {{}}; allowed fields: {ALLOWED}"),
        ("{seq}-{seq}", "field {seq} appears twice"),
        ("{seq!r}", "{seq!r}: conversions are not allowed"),
        ("{seq:>5}", "{seq:>5}: allowed is a zero-padding width"),
        ("{prefix:05}-{seq}", "{prefix:05}: allowed is a zero-padding width"),
        ("{seq", "not a valid template"),
    ],
)
def test_bad_templates_are_refused_naming_what_is_allowed(template: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as info:
        NumberFormat(template)
    assert info.value.field == "template"
    assert info.value.value == template


def test_a_template_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        NumberFormat(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{account}{seq}", "{account} and {seq} touch"),
        ("{seq}{month:02}", "{seq} and {month} touch"),
        ("{prefix}{service_code}-{seq}", "{prefix} and {service_code} touch"),
        ("{service_code}0{seq}", "{service_code} may contain the '0' that follows it"),
        ("{prefix}X{seq}", "{prefix} may contain the 'X' that follows it"),
    ],
)
def test_ambiguous_templates_format_but_cannot_be_read_back(template: str, why: str) -> None:
    fmt = NumberFormat(template)
    assert not fmt.parseable
    with pytest.raises(ValidationError, match=re.escape(why)):
        fmt.parse("anything")
    with pytest.raises(ValidationError, match="numbers cannot be read back"):
        fmt.pattern()


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("seq", "context", "field", "message"),
    [
        (0, {"prefix": "HOR", "service_code": "1"}, "seq", "must be an integer from 1$"),
        (True, {"prefix": "HOR", "service_code": "1"}, "seq", "must be an integer from 1$"),
        (1, {"prefix": "H0R", "service_code": "1"}, "prefix", "contain only letters"),
        (1, {"prefix": "", "service_code": "1"}, "prefix", "must be non-empty"),
        (1, {"prefix": "HOR", "service_code": "1-1"}, "service_code", "letters and digits"),
        (1, {"prefix": "HOR"}, "service_code", "needs a value for it"),
        (1, {"prefix": "HOR", "service_code": "1", "shop": "x"}, "shop", "not a context field"),
    ],
)
def test_bad_values_are_refused(
    seq: int, context: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        HS.format(seq, **context)
    assert info.value.field == field


def test_month_out_of_range() -> None:
    with pytest.raises(
        ValidationError, match="month=13 is invalid: must be an integer from 1 to 12"
    ):
        NumberFormat("{year}-{month:02}-{seq}").format(1, year=2024, month=13)


@pytest.mark.parametrize(
    "number",
    ["HOR-11111-0071", "HOR-11111-07", "HOR-11111-007 ", "hor11111-007", "HOR-11111-", ""],
)
def test_parse_refuses_what_format_would_never_write(number: str) -> None:
    with pytest.raises(ValidationError, match="not a number of the format") as info:
        HS.parse(number)
    assert info.value.value == number


def test_parse_refuses_out_of_range_fields() -> None:
    fmt = NumberFormat("{year}-{month:02}-{seq}")
    with pytest.raises(ValidationError, match="month 13 is not from 1 to 12"):
        fmt.parse("2024-13-1")
    with pytest.raises(ValidationError, match=r"seq 0 is not from 1$"):
        HS.parse("HOR-11111-000")


# ----------------------------------------------------------------------------- finding


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Оплата за рахунком HOR-11111-007, без ПДВ", ("HOR-11111-007",)),
        ("HOR-11111-007", ("HOR-11111-007",)),
        ("(HOR-11111-007).", ("HOR-11111-007",)),
        ("рахунок №HOR-11111-007", ("HOR-11111-007",)),
        ("HOR-11111-0071", ()),
        ("HOR-11111-007-2", ()),
        ("X-HOR-11111-007", ()),
        ("1HOR-11111-007", ()),
        ("HOR-11111-007a", ()),
        ("HOR-11111-007 and HOR-11111-008", ("HOR-11111-007", "HOR-11111-008")),
        ("HOR-11111-007 HOR-11111-007", ("HOR-11111-007",)),
        ("no number here 11111-007", ()),
    ],
)
def test_numbers_are_found_only_as_whole_tokens(text: str, found: tuple[str, ...]) -> None:
    assert HS.find(text) == found


def test_pattern_is_a_compiled_regex() -> None:
    assert HS.pattern().search("pay HOR-11111-007 now") is not None
    assert HS.pattern() is HS.pattern()


def test_number_formats_are_values() -> None:
    assert NumberFormat("{seq}") == NumberFormat("{seq}")
    assert hash(NumberFormat("{seq}")) == hash(NumberFormat("{seq}"))
