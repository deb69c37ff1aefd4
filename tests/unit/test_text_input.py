"""Ids, names and messages refuse text that storage or a screen would mangle (one check)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cabinet_billing import Money, Period
from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.checks import MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.invoice import InvoiceLine
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.domain.subscription import Subscription
from cabinet_billing.domain.support import Ticket
from cabinet_billing.errors import BillingError, InvalidTextError, ValidationError

pytestmark = pytest.mark.spec("A1", "C5", "S1", "L1")

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)
RLO = "\u202e"


def service(**changes: object) -> Service:
    fields: dict[str, object] = {
        "id": "3925",
        "account_id": "acc-1",
        "plan_id": "vps",
        "plan_name": "VPS S",
        "kind": "vps",
        "price": Money("100.00", "RUB"),
        "period": Period.months(),
        "created_at": AT,
        "actor": Actor.client("alice"),
    }
    fields.update(changes)
    return Service.order(**fields)  # type: ignore[arg-type]


def ticket(**changes: object) -> Ticket:
    fields: dict[str, object] = {
        "department": "technical",
        "subject": "API",
        "text": "Hello,\nthe API answers 500.\n\tThanks",
        "at": AT,
    }
    fields.update(changes)
    opened, _ = Ticket.open("t-1", "acc-1", **fields)  # type: ignore[arg-type]
    return opened


MAKERS: dict[str, Callable[[Any], object]] = {
    "account id": lambda v: Account.open(v, "jfairy"),
    "service id": lambda v: service(id=v),
    "plan name": lambda v: service(plan_name=v),
    "actor": Actor.client,
    "ledger account": Ledger,
    "credit account": lambda v: CreditLine(v, Money("100.00", "RUB")),
    "subscription": lambda v: Subscription(
        v, "acc-1", Money("1.00", "EUR"), "month", date(2024, 3, 1)
    ),
    "saved method": lambda v: SavedPaymentMethod(
        "pm-1", "acc-1", MethodKind.CARD, "tok", v, "•••• 1111"
    ),
    "plan": lambda v: Plan("vps", v, ProductKind.VPS, {"month": Money("1.00", "EUR")}),
    "invoice line": lambda v: InvoiceLine(v, Money("1.00", "EUR")),
    "ticket subject": lambda v: ticket(subject=v),
}


@pytest.mark.parametrize("where", list(MAKERS))
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "must not contain the NUL character (U+0000 at position 1)"),
        (
            f"evil{RLO}txt.exe",
            (
                "must not contain bidirectional override or isolate characters (U+202E at "
                "position 4): they change the order in which text is shown"
            ),
        ),
        (
            "a\u2066b",
            "must not contain bidirectional override or isolate characters (U+2066 at position 1): they change the order in which text is shown",
        ),
        ("bell\x07", "must not contain control characters (U+0007 at position 4); allowed: none"),
        ("two\nlines", "must be one line: no line breaks or tabs (U+000A at position 3)"),
        (
            "a\ud800b",
            "must not contain unpaired surrogates (U+D800 at position 1): they cannot be stored",
        ),
        ("", "must not be empty"),
    ],
)
def test_bad_text_is_refused_with_one_message_everywhere(
    where: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidTextError) as error:
        MAKERS[where](value)
    assert str(error.value).endswith(f"={value!r} is invalid: {reason}")
    assert error.value.text == value
    assert isinstance(error.value, ValidationError)
    assert isinstance(error.value, BillingError)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("where", "field", "limit"),
    [
        ("account id", "account_id", MAX_ID_LENGTH),
        ("service id", "id", MAX_ID_LENGTH),
        ("ledger account", "account_id", MAX_ID_LENGTH),
        ("plan name", "plan_name", MAX_NAME_LENGTH),
        ("ticket subject", "subject", MAX_NAME_LENGTH),
        ("invoice line", "description", MAX_NAME_LENGTH),
    ],
)
def test_absurd_lengths_are_refused_naming_the_limit(where: str, field: str, limit: int) -> None:
    MAKERS[where]("x" * limit)
    with pytest.raises(InvalidTextError) as error:
        MAKERS[where]("x" * (limit + 1))
    assert str(error.value) == (
        f"{field}='{'x' * 80}... ({limit + 1} characters)' is invalid: must be at most {limit} "
        f"characters, got {limit + 1}"
    )
    assert error.value.text == "x" * (limit + 1)


@pytest.mark.parametrize(
    ("login", "shown", "reason"),
    [
        ("jill\x00", "'jill\\x00'", "must not contain the NUL character (U+0000 at position 4)"),
        (
            f"jill{RLO}",
            "'jill\\u202e'",
            "must not contain bidirectional override or isolate characters (U+202E at position 4): they change the order in which text is shown",
        ),
    ],
)
def test_a_login_refuses_what_ids_refuse(login: str, shown: str, reason: str) -> None:
    with pytest.raises(InvalidTextError) as error:
        Account.open("acc-1", login)
    assert str(error.value) == f"login={shown} is invalid: {reason}"


def test_an_id_with_surrounding_blanks_is_refused() -> None:
    with pytest.raises(InvalidTextError) as error:
        service(id="3925 ")
    assert str(error.value) == "id='3925 ' is invalid: must not begin or end with blanks"


def test_text_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidTextError) as error:
        service(id=3925)
    assert str(error.value) == "id=3925 is invalid: must be text, got int"


def test_a_ticket_message_may_have_lines_and_tabs_but_no_control_characters() -> None:
    opened = ticket()
    assert opened.messages[0].text == "Hello,\nthe API answers 500.\n\tThanks"
    with pytest.raises(InvalidTextError) as error:
        ticket(text="hello\x1b[31m")
    assert str(error.value) == (
        "text='hello\\x1b[31m' is invalid: must not contain control characters (U+001B at "
        "position 5); allowed: line breaks and tabs only"
    )
    ticket(text="x" * MAX_TEXT_LENGTH)
    with pytest.raises(InvalidTextError):
        ticket(text="x" * (MAX_TEXT_LENGTH + 1))


def test_names_in_any_script_with_marks_and_joiners_are_fine() -> None:
    for name in ("Олена Коваль", "محمد\u200f", "Zoë", "👩\u200d💻 team", "Jill\u00a0Fairy"):
        assert service(plan_name=name).plan_name == name


def test_a_refused_profile_edit_changes_nothing() -> None:
    account = Account.open("acc-1", "jfairy")
    account.change_name("Fairy", "Jill")
    for bad in ("Fai\x00ry", f"Fairy{RLO}", "F" * (MAX_NAME_LENGTH + 1)):
        with pytest.raises(InvalidTextError):
            account.change_name(bad, "Jill")
    assert (account.profile.last_name, account.profile.first_name) == ("Fairy", "Jill")
