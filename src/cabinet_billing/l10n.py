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
from string import Formatter
from typing import Final, Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date
from babel.dates import format_skeleton

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


# ----------------------------------------------------------------------------- messages
# The texts the library's rules point to by message id (credit states and notices, SPEC R1
# to R3), in the four languages of the modelled cabinets. A host with its own templates
# can ignore them: every rule result carries the id and the raw values.

__all__ += ["MESSAGES", "MESSAGE_DATE_FORMATS", "render_message"]

#: The date formats :func:`render_message` accepts: the CLDR lengths, and ``"day_month"``
#: for a day and month without the year ("15 августа"), as cabinets show due dates.
MESSAGE_DATE_FORMATS: Final = (*DATE_FORMATS, "day_month")

#: The message catalogue: message id -> locale -> template with ``{named}`` values.
MESSAGES: Final[dict[str, dict[str, str]]] = {
    "credit.ok": {
        "ru": "Вы можете покупать и продлевать услуги в кредит в рамках кредитного лимита ({limit})",
        "uk": "Ви можете купувати й продовжувати послуги в кредит у межах кредитного ліміту ({limit})",
        "de": "Sie können Leistungen im Rahmen Ihres Kreditlimits ({limit}) auf Kredit kaufen und verlängern",
        "en": "You can buy and renew services on credit within your credit limit ({limit})",
    },
    "credit.awaiting": {
        "ru": "До {due_on} вы должны оплатить услуги, купленные в кредит, или {block_on} продление и покупка услуг будут заблокированы",
        "uk": "До {due_on} ви маєте оплатити послуги, придбані в кредит, інакше {block_on} продовження й купівлю послуг буде заблоковано",
        "de": "Bezahlen Sie die auf Kredit gekauften Leistungen bis zum {due_on}, sonst werden Verlängerungen und Käufe am {block_on} gesperrt",
        "en": "Pay for the services bought on credit by {due_on}, or on {block_on} renewals and purchases will be blocked",
    },
    "credit.awaiting.no_block": {
        "ru": "До {due_on} вы должны оплатить услуги, купленные в кредит",
        "uk": "До {due_on} ви маєте оплатити послуги, придбані в кредит",
        "de": "Bezahlen Sie die auf Kredit gekauften Leistungen bis zum {due_on}",
        "en": "Pay for the services bought on credit by {due_on}",
    },
    "credit.overdue": {
        "ru": "До {pay_by} вы должны оплатить услуги, купленные в кредит, или продление и покупка услуг будут заблокированы",
        "uk": "До {pay_by} ви маєте оплатити послуги, придбані в кредит, інакше продовження й купівлю послуг буде заблоковано",
        "de": "Bezahlen Sie die auf Kredit gekauften Leistungen bis zum {pay_by}, sonst werden Verlängerungen und Käufe gesperrt",
        "en": "Pay for the services bought on credit by {pay_by}, or renewals and purchases will be blocked",
    },
    "credit.overdue.no_block": {
        "ru": "Оплата услуг, купленных в кредит, просрочена: срок оплаты был {due_on}",
        "uk": "Оплату послуг, придбаних у кредит, прострочено: термін оплати був {due_on}",
        "de": "Die Zahlung für die auf Kredit gekauften Leistungen ist überfällig: sie war bis zum {due_on} fällig",
        "en": "Payment for the services bought on credit is overdue: it was due by {due_on}",
    },
    "credit.blocked": {
        "ru": "Продление и покупка услуг заблокированы до погашения задолженности",
        "uk": "Продовження й купівлю послуг заблоковано до погашення заборгованості",
        "de": "Verlängerungen und Käufe sind gesperrt, bis die Schulden beglichen sind",
        "en": "Renewals and purchases are blocked until the debt is paid",
    },
    "credit.notice.issued": {
        "ru": "Выставлен счёт на {amount} за услуги, купленные в кредит. Оплатите его до {due_on}",
        "uk": "Виставлено рахунок на {amount} за послуги, придбані в кредит. Сплатіть його до {due_on}",
        "de": "Für die auf Kredit gekauften Leistungen wurde eine Rechnung über {amount} gestellt. Bitte bezahlen Sie sie bis zum {due_on}",
        "en": "An invoice for {amount} for the services bought on credit has been issued. Please pay it by {due_on}",
    },
    "credit.notice.before_due": {
        "ru": "Напоминаем: счёт на {amount} за услуги, купленные в кредит, нужно оплатить до {due_on}",
        "uk": "Нагадуємо: рахунок на {amount} за послуги, придбані в кредит, потрібно сплатити до {due_on}",
        "de": "Erinnerung: Die Rechnung über {amount} für auf Kredit gekaufte Leistungen ist bis zum {due_on} zu bezahlen",
        "en": "Reminder: the invoice for {amount} for services bought on credit is due by {due_on}",
    },
    "credit.notice.after_due": {
        "ru": "Счёт на {amount} за услуги, купленные в кредит, не оплачен до {due_on} и стал просроченным",
        "uk": "Рахунок на {amount} за послуги, придбані в кредит, не сплачено до {due_on}, і його прострочено",
        "de": "Die Rechnung über {amount} für auf Kredit gekaufte Leistungen wurde nicht bis zum {due_on} bezahlt und ist überfällig",
        "en": "The invoice for {amount} for services bought on credit was not paid by {due_on} and is overdue",
    },
    "credit.notice.before_block": {
        "ru": "Оплатите просроченный счёт на {amount}, иначе {block_on} продление и покупка услуг будут заблокированы",
        "uk": "Сплатіть прострочений рахунок на {amount}, інакше {block_on} продовження й купівлю послуг буде заблоковано",
        "de": "Bezahlen Sie die überfällige Rechnung über {amount}, sonst werden Verlängerungen und Käufe am {block_on} gesperrt",
        "en": "Pay the overdue invoice for {amount}, or on {block_on} renewals and purchases will be blocked",
    },
    "credit.notice.blocked": {
        "ru": "Продление и покупка услуг заблокированы до погашения задолженности {amount}",
        "uk": "Продовження й купівлю послуг заблоковано до погашення заборгованості {amount}",
        "de": "Verlängerungen und Käufe sind gesperrt, bis die Schulden von {amount} beglichen sind",
        "en": "Renewals and purchases are blocked until the debt of {amount} is paid",
    },
}


def _message_value(value: object, locale: str, date_format: object) -> str:
    if isinstance(value, Money):
        return format_money(value, locale)
    if isinstance(value, date):
        if date_format == "day_month":
            return str(format_skeleton("MMMMd", value, locale=_locale(locale)))
        return format_date(value, locale, date_format)  # type: ignore[arg-type]
    return str(value)


def render_message(
    message_id: str,
    locale: str,
    *,
    # Typed ``object`` so that ``**state.params`` (a Mapping[str, object]) type-checks;
    # the value is checked at run time.
    date_format: object = "long",
    **params: object,
) -> str:
    r"""Render a catalogued message in a locale.

    Money values are formatted with :func:`format_money`, dates with
    :func:`format_date` (or as day and month with ``date_format="day_month"``), anything
    else with ``str``. Values a message does not use are ignored, so one set of values
    (such as a credit state's ``params``) can feed several messages.

    Args:
        message_id: a key of :data:`MESSAGES`.
        locale: ``'uk'``, ``'ru'``, ``'de'`` or ``'en'``, optionally with a territory
            (``'de_AT'``, ``'uk-UA'``).
        date_format: one of :data:`MESSAGE_DATE_FORMATS` (default ``'long'``).
        **params: the values the message needs.

    Returns:
        The text (may contain U+00A0 no-break spaces).

    Raises:
        ValidationError: for an unknown message id, a locale without messages, an
            unknown date format, or a missing value; each names what is allowed.

    >>> from datetime import date
    >>> render_message("credit.overdue", "ru", date_format="day_month", pay_by=date(2024, 8, 29))
    'До 29 августа вы должны оплатить услуги, купленные в кредит, или продление и покупка услуг будут заблокированы'
    >>> render_message("credit.ok", "de", limit=Money("2000.00", "EUR")).replace("\xa0", " ")
    'Sie können Leistungen im Rahmen Ihres Kreditlimits (2.000,00 €) auf Kredit kaufen und verlängern'
    """
    try:
        templates = MESSAGES.get(message_id)
    except TypeError:  # an unhashable id
        templates = None
    if templates is None:
        raise ValidationError("message_id", message_id, f"expected one of {', '.join(MESSAGES)}")
    language = _locale(locale).language
    if language not in templates:
        raise ValidationError(
            "locale", locale, f"messages exist in {', '.join(SUPPORTED_LOCALES)} only"
        )
    if date_format not in MESSAGE_DATE_FORMATS:
        raise ValidationError(
            "date_format", date_format, f"expected one of {', '.join(MESSAGE_DATE_FORMATS)}"
        )
    template = templates[language]
    names = [name for _, name, _, _ in Formatter().parse(template) if name]
    missing = [name for name in names if name not in params]
    if missing:
        raise ValidationError(
            "params",
            ", ".join(missing),
            f"message {message_id!r} needs {', '.join(dict.fromkeys(names))}",
        )
    values = {name: _message_value(params[name], locale, date_format) for name in names}
    return template.format(**values)
