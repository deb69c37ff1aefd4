r"""Text for people: money, dates and percentages in the customer's locale (SPEC M7).

Formatting is presentation, so it lives outside the domain: domain values never format
themselves for a reader (``str(Money)`` is the same in every process locale and is meant
for logs). Everything here goes through babel and the CLDR data it ships; the locale is
always an explicit argument, never read from the environment.

Amounts are never rounded behind the reader's back: an accrual of ``22.4137 RUB`` prints
all four decimals, while ``5000 RUB`` prints the currency's two.

Babel separates groups and currency signs with no-break spaces (U+00A0) in many locales,
so the examples show them as ``repr``:

>>> from cabinet_billing import Money
>>> format_money(Money("5000", "RUB"), "ru")
'5\xa0000,00\xa0₽'
>>> format_money(Money("1827.41", "EUR"), "de")
'1.827,41\xa0€'
>>> format_money(Money("1827.41", "EUR"), "en")
'€1,827.41'
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date

from cabinet_billing.domain.money import Money, currency_places, to_decimal
from cabinet_billing.errors import ValidationError

__all__ = ["DATE_FORMATS", "SUPPORTED_LOCALES", "format_date", "format_money", "format_percent"]

#: The locales the library is tested in: the languages of the cabinets it models.
#: Any other locale babel knows works too.
SUPPORTED_LOCALES: Final = ("uk", "ru", "de", "en")

#: The date lengths :func:`format_date` accepts, as CLDR names them.
DATE_FORMATS: Final = ("full", "long", "medium", "short")

DateFormat = Literal["full", "long", "medium", "short"]

_MAX_DIGITS: Final = 18


def _locale(locale: str) -> Locale:
    if isinstance(locale, Locale):
        return locale
    reason = f"not a locale babel knows; supported: {', '.join(SUPPORTED_LOCALES)}"
    if not isinstance(locale, str):
        raise ValidationError("locale", locale, reason)
    try:
        return Locale.parse(locale.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError("locale", locale, reason) from None


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _digits(value: Decimal, digits: int | None, natural: int) -> int:
    needed = max(natural, _places(value))
    if digits is None:
        return needed
    if isinstance(digits, bool) or not 0 <= digits <= _MAX_DIGITS:
        raise ValidationError("digits", digits, f"expected a whole number from 0 to {_MAX_DIGITS}")
    if digits < _places(value):
        raise ValidationError(
            "digits",
            digits,
            f"{value} has {_places(value)} decimal places; showing fewer would hide part of "
            "it: round the value first (Rounding) or pass at least that many digits",
        )
    return digits


def format_money(money: Money, locale: str, *, digits: int | None = None) -> str:
    r"""Format an amount with its currency sign in a locale.

    Args:
        money: the amount.
        locale: a locale identifier such as ``'ru'``, ``'de_DE'`` or ``'uk-UA'``.
        digits: the number of decimals to show. By default, the currency's minor unit or
            as many as the amount needs, whichever is more (trailing zeros beyond the
            minor unit are not shown).

    Returns:
        The formatted text (may contain U+00A0 no-break spaces).

    Raises:
        ValidationError: for a locale babel cannot parse, or ``digits`` fewer than the
            amount's decimals (formatting never rounds silently).

    >>> from cabinet_billing import Money
    >>> format_money(Money("22.4137", "RUB"), "ru")
    '22,4137\xa0₽'
    >>> format_money(Money("22.41370", "RUB"), "ru")
    '22,4137\xa0₽'
    >>> format_money(Money("1235", "JPY"), "en"), format_money(Money("1.5", "EUR"), "en", digits=4)
    ('¥1,235', '€1.5000')
    >>> format_money(Money("22.4137", "RUB"), "ru", digits=2)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: digits=2 is invalid: 22.4137 has 4 decimal places; showing fewer would hide part of it: round the value first (Rounding) or pass at least that many digits
    """
    loc = _locale(locale)
    amount = to_decimal(money.amount)
    code = str(money.currency.code)
    places = _digits(amount, digits, currency_places(code))
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return str(pattern.apply(amount, loc, currency=code, currency_digits=False))


def format_percent(percent: object, locale: str, *, digits: int | None = None) -> str:
    r"""Format a percentage in a locale; ``5`` means 5%, as in fees and tax rates.

    Args:
        percent: the percentage as a ``Decimal``, ``int`` or ``str`` (never a float).
        locale: a locale identifier.
        digits: the number of decimals to show (default: as many as the value needs).

    Raises:
        ValidationError: for an unknown locale or too few ``digits``.
        InvalidAmountError: for a float or a value that is not a finite number.

    >>> format_percent(5, "en"), format_percent("12.5", "ru"), format_percent(5, "en", digits=2)
    ('5%', '12,5\xa0%', '5.00%')
    """
    loc = _locale(locale)
    value = to_decimal(percent)
    places = _digits(value, digits, 0)
    pattern = copy.copy(loc.percent_formats[None])
    pattern.frac_prec = (places, places)
    return str(pattern.apply(value.scaleb(-2), loc))


def format_date(day: date, locale: str, format: DateFormat = "long") -> str:  # noqa: A002 - babel's and CLDR's name
    """Format a date in a locale with one of CLDR's lengths.

    Args:
        day: the date (a ``datetime`` is formatted by its date).
        locale: a locale identifier.
        format: ``'full'``, ``'long'`` (default), ``'medium'`` or ``'short'``.

    Raises:
        ValidationError: for an unknown locale or format.

    >>> from datetime import date
    >>> format_date(date(2024, 3, 21), "en"), format_date(date(2024, 3, 21), "de", "medium")
    ('March 21, 2024', '21.03.2024')
    """
    loc = _locale(locale)
    if format not in DATE_FORMATS:
        raise ValidationError("format", format, f"expected one of {', '.join(DATE_FORMATS)}")
    if not isinstance(day, date):
        raise ValidationError("day", day, "expected a date")
    return str(_babel_format_date(day, format=format, locale=loc))
