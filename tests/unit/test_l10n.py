from datetime import UTC, date, datetime
from decimal import Decimal

import moneyed
import pytest

from cabinet_billing import InvalidAmountError, Money, ValidationError, format_money
from cabinet_billing.l10n import SUPPORTED_LOCALES, format_date, format_percent

pytestmark = pytest.mark.spec("M7")

NBSP = "\xa0"


def test_the_seed_examples_render_exactly() -> None:
    assert format_money(Money("5000.00", "RUB"), "ru") == f"5{NBSP}000,00{NBSP}₽"
    assert format_money(Money("1827.41", "EUR"), "de") == f"1.827,41{NBSP}€"
    assert format_money(Money("1827.41", "EUR"), "en") == "€1,827.41"


def test_the_supported_locales_are_the_cabinets_languages() -> None:
    assert SUPPORTED_LOCALES == ("uk", "ru", "de", "en")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("uk", f"400{NBSP}000,00{NBSP}₴"),
        ("ru", f"400{NBSP}000,00{NBSP}₴"),
        ("de", f"400.000,00{NBSP}UAH"),
        ("en", "UAH400,000.00"),
    ],
)
def test_every_supported_locale_formats_money(locale: str, expected: str) -> None:
    assert format_money(Money("400000", "UAH"), locale) == expected


def test_accrual_digits_are_never_dropped() -> None:
    assert format_money(Money("22.4137", "RUB"), "ru") == f"22,4137{NBSP}₽"
    assert format_money(Money("0.0001", "EUR"), "en") == "€0.0001"


def test_trailing_zeros_beyond_the_currency_precision_are_trimmed() -> None:
    assert format_money(Money("22.41370", "RUB"), "ru") == f"22,4137{NBSP}₽"
    assert format_money(Money("22.4000", "RUB"), "ru") == f"22,40{NBSP}₽"
    assert format_money(Money("5", "RUB"), "ru") == f"5,00{NBSP}₽"


def test_the_minor_unit_comes_from_the_currency() -> None:
    assert format_money(Money("1235", "JPY"), "en") == "¥1,235"
    assert format_money(Money("12.3456", "JPY"), "en") == "¥12.3456"
    assert format_money(Money("1.5", "KWD"), "en") == "KWD1.500"


def test_negative_amounts_keep_their_sign() -> None:
    assert format_money(Money("-41.60", "EUR"), "de") == f"-41,60{NBSP}€"


def test_digits_can_widen_the_amount() -> None:
    assert format_money(Money("22.41", "RUB"), "ru", digits=4) == f"22,4100{NBSP}₽"
    assert format_money(Money("1235", "JPY"), "en", digits=0) == "¥1,235"


def test_digits_may_not_hide_part_of_the_amount() -> None:
    with pytest.raises(ValidationError) as exc:
        format_money(Money("22.4137", "RUB"), "ru", digits=2)
    assert exc.value.field == "digits"
    assert exc.value.value == 2
    assert "22.4137 has 4 decimal places" in str(exc.value)


@pytest.mark.parametrize("digits", [-1, 19, True])
def test_digits_must_be_a_sensible_count(digits: int) -> None:
    with pytest.raises(
        ValidationError, match=f"digits={digits!r} is invalid: expected a whole number from 0 to 18"
    ):
        format_money(Money("1", "EUR"), "en", digits=digits)


def test_plain_moneyed_amounts_are_accepted_but_nan_is_not() -> None:
    plain = moneyed.Money("1.5", "EUR")
    assert format_money(plain, "en") == "€1.50"  # type: ignore[arg-type]
    with pytest.raises(InvalidAmountError, match="only finite amounts"):
        format_money(moneyed.Money("NaN", "EUR"), "en")  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["de_DE", "de-DE", "uk_UA", " ru "])
def test_locales_with_territories_and_either_separator(locale: str) -> None:
    assert format_money(Money("1", "EUR"), locale).startswith("1,00")


@pytest.mark.parametrize("locale", ["xx", "zz_QQ", "", "klingon!"])
def test_an_unknown_locale_is_refused_clearly(locale: str) -> None:
    with pytest.raises(ValidationError) as exc:
        format_money(Money("1", "EUR"), locale)
    assert exc.value.field == "locale"
    assert exc.value.value == locale
    assert str(exc.value).endswith("not a locale babel knows; supported: uk, ru, de, en")
    with pytest.raises(ValidationError, match="locale="):
        format_date(date(2024, 3, 21), locale)
    with pytest.raises(ValidationError, match="locale="):
        format_percent(5, locale)


def test_a_locale_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="locale=None is invalid"):
        format_money(Money("1", "EUR"), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "long", "medium", "short"),
    [
        ("uk", "21 березня 2024\u202fр.", "21 бер. 2024\u202fр.", "21.03.24"),
        ("ru", "21 марта 2024\u202fг.", "21 мар. 2024\u202fг.", "21.03.2024"),
        ("de", "21. März 2024", "21.03.2024", "21.03.24"),
        ("en", "March 21, 2024", "Mar 21, 2024", "3/21/24"),
    ],
)
def test_dates_in_every_supported_locale(locale: str, long: str, medium: str, short: str) -> None:
    day = date(2024, 3, 21)
    assert format_date(day, locale) == long
    assert format_date(day, locale, "long") == long
    assert format_date(day, locale, "medium") == medium
    assert format_date(day, locale, "short") == short


def test_a_datetime_is_formatted_by_its_date() -> None:
    instant = datetime(2024, 3, 21, 23, 30, tzinfo=UTC)
    assert format_date(instant, "en", "medium") == "Mar 21, 2024"


def test_an_unknown_date_format_is_refused() -> None:
    with pytest.raises(
        ValidationError, match="format='tiny' is invalid: expected one of full, long, medium, short"
    ):
        format_date(date(2024, 3, 21), "en", "tiny")  # type: ignore[arg-type]


def test_a_date_must_be_a_date() -> None:
    with pytest.raises(ValidationError, match="day='2024-03-21' is invalid: expected a date"):
        format_date("2024-03-21", "en")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("uk", "5%"), ("ru", f"5{NBSP}%"), ("de", f"5{NBSP}%"), ("en", "5%")],
)
def test_percentages_where_five_means_five_percent(locale: str, expected: str) -> None:
    assert format_percent(Decimal(5), locale) == expected


def test_percentages_keep_their_decimals_or_use_the_digits_given() -> None:
    assert format_percent("12.5", "de") == f"12,5{NBSP}%"
    assert format_percent(5, "en", digits=2) == "5.00%"
    with pytest.raises(ValidationError, match=r"12\.5 has 1 decimal places"):
        format_percent("12.5", "en", digits=0)


def test_percentages_refuse_floats() -> None:
    with pytest.raises(InvalidAmountError, match="floats are not exact"):
        format_percent(0.05, "en")
