from __future__ import annotations

from datetime import date
from string import Formatter

import pytest

from cabinet_billing.domain.money import Money
from cabinet_billing.errors import ValidationError
from cabinet_billing.l10n import MESSAGES, SUPPORTED_LOCALES, render_message

pytestmark = pytest.mark.spec("R2")

AUG_15 = date(2024, 8, 15)
AUG_30 = date(2024, 8, 30)


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_every_message_exists_in_every_language_with_the_same_values(message_id: str) -> None:
    templates = MESSAGES[message_id]
    assert set(templates) == set(SUPPORTED_LOCALES)
    assert len({frozenset(fields(t)) for t in templates.values()}) == 1


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "ru",
            (
                "До 15 августа вы должны оплатить услуги, купленные в кредит, или 30 августа "
                "продление и покупка услуг будут заблокированы"
            ),
        ),
        (
            "uk",
            (
                "До 15 серпня ви маєте оплатити послуги, придбані в кредит, інакше 30 серпня "
                "продовження й купівлю послуг буде заблоковано"
            ),
        ),
        (
            "de",
            (
                "Bezahlen Sie die auf Kredit gekauften Leistungen bis zum 15. August, sonst werden "
                "Verlängerungen und Käufe am 30. August gesperrt"
            ),
        ),
        (
            "en",
            (
                "Pay for the services bought on credit by August 15, or on August 30 renewals and "
                "purchases will be blocked"
            ),
        ),
    ],
)
def test_ac_awaiting_message(locale: str, expected: str) -> None:
    text = render_message(
        "credit.awaiting", locale, date_format="day_month", due_on=AUG_15, block_on=AUG_30
    )
    assert text == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "ru",
            (
                "До 29 августа вы должны оплатить услуги, купленные в кредит, или продление и "
                "покупка услуг будут заблокированы"
            ),
        ),
        (
            "uk",
            (
                "До 29 серпня ви маєте оплатити послуги, придбані в кредит, інакше продовження й "
                "купівлю послуг буде заблоковано"
            ),
        ),
        (
            "de",
            (
                "Bezahlen Sie die auf Kredit gekauften Leistungen bis zum 29. August, sonst werden "
                "Verlängerungen und Käufe gesperrt"
            ),
        ),
        (
            "en",
            (
                "Pay for the services bought on credit by August 29, or renewals and purchases "
                "will be blocked"
            ),
        ),
    ],
)
def test_ac_overdue_message(locale: str, expected: str) -> None:
    text = render_message(
        "credit.overdue", locale, date_format="day_month", pay_by=AUG_30.replace(day=29)
    )
    assert text == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru", "Продление и покупка услуг заблокированы до погашения задолженности"),
        ("uk", "Продовження й купівлю послуг заблоковано до погашення заборгованості"),
        ("de", "Verlängerungen und Käufe sind gesperrt, bis die Schulden beglichen sind"),
        ("en", "Renewals and purchases are blocked until the debt is paid"),
    ],
)
def test_ac_blocked_message(locale: str, expected: str) -> None:
    assert render_message("credit.blocked", locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "ru",
            "Вы можете покупать и продлевать услуги в кредит в рамках кредитного лимита (5 000,00 ₽)",
        ),
        (
            "uk",
            "Ви можете купувати й продовжувати послуги в кредит у межах кредитного ліміту (5 000,00 RUB)",
        ),
        (
            "de",
            "Sie können Leistungen im Rahmen Ihres Kreditlimits (5.000,00 RUB) auf Kredit kaufen und verlängern",
        ),
        ("en", "You can buy and renew services on credit within your credit limit (RUB5,000.00)"),
    ],
)
def test_ok_message_formats_money_in_the_locale(locale: str, expected: str) -> None:
    text = render_message("credit.ok", locale, limit=Money("5000.00", "RUB"))
    assert plain(text) == expected


def test_dates_use_the_long_format_by_default_and_a_territory_is_accepted() -> None:
    text = render_message(
        "credit.notice.issued", "de_DE", amount=Money("41.60", "EUR"), due_on=AUG_15
    )
    assert plain(text) == (
        "Für die auf Kredit gekauften Leistungen wurde eine Rechnung über 41,60 € gestellt. "
        "Bitte bezahlen Sie sie bis zum 15. August 2024"
    )
    text = render_message(
        "credit.notice.before_block", "uk-UA", amount=Money("800.00", "RUB"), block_on=AUG_30
    )
    assert plain(text) == (
        "Сплатіть прострочений рахунок на 800,00 RUB, інакше 30 серпня 2024 р. "
        "продовження й купівлю послуг буде заблоковано"
    )


def test_unused_values_are_ignored_and_other_values_are_text() -> None:
    text = render_message("credit.blocked", "en", overdue=Money("800.00", "RUB"))
    assert text == "Renewals and purchases are blocked until the debt is paid"
    assert render_message("credit.notice.blocked", "en", amount="800 roubles") == (
        "Renewals and purchases are blocked until the debt of 800 roubles is paid"
    )


def test_unknown_message_id_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError) as err:
        render_message("credit.nope", "ru")
    assert err.value.field == "message_id"
    assert "'credit.nope'" in str(err.value)
    assert "credit.awaiting" in str(err.value)
    with pytest.raises(ValidationError):
        render_message(["credit.ok"], "ru")  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["fr", "pl_PL", "xx-not-a-locale"])
def test_locales_without_messages_are_refused_naming_the_supported_ones(locale: str) -> None:
    with pytest.raises(ValidationError) as err:
        render_message("credit.blocked", locale)
    assert err.value.field == "locale"
    assert "uk, ru, de, en" in str(err.value)


def test_unknown_date_format_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        render_message("credit.overdue", "ru", date_format="iso", pay_by=AUG_15)
    assert str(err.value) == (
        "date_format='iso' is invalid: expected one of full, long, medium, short, day_month, "
        "month_year"
    )


def test_missing_values_are_refused_naming_what_the_message_needs() -> None:
    with pytest.raises(ValidationError) as err:
        render_message("credit.awaiting", "en", due_on=AUG_15)
    assert str(err.value) == (
        "params='block_on' is invalid: message 'credit.awaiting' needs due_on, block_on"
    )
