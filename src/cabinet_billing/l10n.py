r"""Text for people: money, dates, percentages and messages in the customer's locale (SPEC M7).

Formatting is presentation, so it lives outside the domain: domain values never format
themselves for a reader (``str(Money)`` is the same in every process locale and is meant
for logs). Everything here goes through babel and the CLDR data it ships; the locale is
always an explicit argument, never read from the environment.

Messages — credit states and notices, notifications, status names, document labels and
invoice line texts — come from the gettext catalogs shipped in ``cabinet_billing/locale``
(see :func:`render_message`, :func:`format_status`, :func:`render_line_text`,
:func:`render_notification`).

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
import enum
import gettext
import re
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from string import Formatter
from types import MappingProxyType
from typing import Final, Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date
from babel.dates import format_skeleton
from babel.messages.mofile import read_mo
from babel.numbers import format_decimal

from cabinet_billing.domain.money import Money, currency_places, to_decimal
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import BillingError, ValidationError

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
# Every text for people — credit states and notices (SPEC R1 to R3), notifications,
# status names, document labels and invoice line texts — comes from the gettext catalogs
# in ``cabinet_billing/locale``, compiled with babel (``make messages``) and shipped in
# the package. Message ids are stable names such as ``"credit.ok"``; the English catalog
# holds the English texts. A host with its own templates can ignore them: every rule
# result carries the message id and the raw values.

__all__ += [
    "DOMAIN",
    "MESSAGES",
    "MESSAGE_DATE_FORMATS",
    "N_",
    "format_status",
    "render_line_text",
    "render_message",
    "render_notification",
    "translate",
    "translations",
]

#: The gettext domain of the catalogs: ``locale/<language>/LC_MESSAGES/cabinet_billing.mo``.
DOMAIN: Final = "cabinet_billing"

#: The date formats :func:`render_message` accepts: the CLDR lengths, ``"day_month"`` for
#: a day and month without the year ("15 августа"), as cabinets show due dates, and
#: ``"month_year"`` for a billing month ("березень 2024 р."). A message may also choose
#: the format of one value itself, as in ``{month:month_year}``.
MESSAGE_DATE_FORMATS: Final = (*DATE_FORMATS, "day_month", "month_year")

_SKELETONS: Final = {"day_month": "MMMMd", "month_year": "yMMMM"}


def N_(msgid: str) -> str:  # noqa: N802 - gettext's conventional marker, which pybabel extracts
    """Mark a message id for extraction without translating it (gettext's ``N_``).

    >>> N_("credit.ok")
    'credit.ok'
    """
    return msgid


# The message ids that code builds from data (a status enum's value, a notification's
# kind) or that the rules name as plain data: marked here so that `make messages`
# extracts them. Tests check that every status and notification kind has one.
_DATA_IDS: Final = (
    N_("credit.ok"),
    N_("credit.awaiting"),
    N_("credit.awaiting.no_block"),
    N_("credit.overdue"),
    N_("credit.overdue.no_block"),
    N_("credit.blocked"),
    N_("credit.notice.issued"),
    N_("credit.notice.before_due"),
    N_("credit.notice.after_due"),
    N_("credit.notice.before_block"),
    N_("credit.notice.blocked"),
    N_("notification.invoice.issued"),
    N_("notification.invoice.paid"),
    N_("notification.payment.credited"),
    N_("notification.payment.failed"),
    N_("notification.payment.refunded"),
    N_("notification.service.paid"),
    N_("notification.service.stopped"),
    N_("notification.service.expired"),
    N_("notification.service.renewed"),
    N_("notification.renewal.failed"),
    N_("notification.account.deletion_requested"),
    N_("notification.account.deletion_withdrawn"),
    N_("notification.account.deletion_confirmed"),
    N_("notification.autopay.charged"),
    N_("notification.balance.low"),
    N_("status.invoice.unpaid"),
    N_("status.invoice.partially_paid"),
    N_("status.invoice.paid"),
    N_("status.invoice.cancelled"),
    N_("status.invoice.deleted"),
    N_("status.invoice.overdue"),
    N_("status.payment.new"),
    N_("status.payment.paying"),
    N_("status.payment.credited"),
    N_("status.payment.failed"),
    N_("status.payment.cancelled"),
    N_("status.payment.partially_refunded"),
    N_("status.payment.refunded"),
    N_("status.service.ordered"),
    N_("status.service.setup_required"),
    N_("status.service.out_of_stock"),
    N_("status.service.processing"),
    N_("status.service.active"),
    N_("status.service.suspended_by_client"),
    N_("status.service.stopped_by_client"),
    N_("status.service.stopped_by_admin"),
    N_("status.service.stopped_for_abuse"),
    N_("status.service.expired"),
    N_("status.service.deleted"),
    N_("status.service_operation.opening"),
    N_("status.service_operation.turning_off"),
    N_("status.service_operation.turning_on"),
    N_("status.service_operation.rebooting"),
    N_("status.service_operation.renewing"),
    N_("status.service_operation.transferring"),
    N_("status.service_operation.deleting"),
    N_("status.credit.ok"),
    N_("status.credit.awaiting_payment"),
    N_("status.credit.overdue"),
    N_("status.credit.blocked"),
    N_("status.statement.to_pay"),
    N_("status.statement.partially_paid"),
    N_("status.statement.fully_repaid"),
    N_("status.saved_method.configuring"),
    N_("status.saved_method.enabled"),
    N_("status.saved_method.not_working"),
    N_("status.ticket.awaiting_staff"),
    N_("status.ticket.awaiting_customer"),
    N_("status.ticket.seen_and_closed"),
    N_("status.ticket.closed"),
    N_("status.ticket.archived"),
    N_("status.contract.active"),
    N_("status.contract.terminated"),
    N_("status.credit_note.issued"),
    N_("status.credit_note.void"),
    N_("line.renewal"),
    N_("line.order"),
    N_("line.credit_statement"),
    N_("line.top_up"),
    N_("line.daily_charges"),
    N_("line.refund"),
    N_("line.refund_of_invoice"),
    N_("line.unused_days"),
    N_("line.plan_change"),
)

#: The status enums :func:`format_status` names, by class name, and the group of their
#: message ids (``status.<group>.<value>``).
_STATUS_GROUPS: Final = MappingProxyType(
    {
        "InvoiceStatus": "invoice",
        "PaymentStatus": "payment",
        "ServiceStatus": "service",
        "ServiceOperation": "service_operation",
        "CreditStatus": "credit",
        "StatementStatus": "statement",
        "SavedMethodStatus": "saved_method",
        "TicketStatus": "ticket",
        "ContractStatus": "contract",
        "CreditNoteStatus": "credit_note",
    },
)


def _catalog_file(language: str) -> Traversable:
    return files("cabinet_billing") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


@cache
def _translations(language: str) -> gettext.GNUTranslations:
    with _catalog_file(language).open("rb") as compiled:
        return gettext.GNUTranslations(compiled)


@cache
def _message_ids() -> tuple[str, ...]:
    # The English catalog is complete (a test makes sure of it): its ids are the ids.
    with _catalog_file("en").open("rb") as compiled:
        return tuple(sorted(str(m.id) for m in read_mo(compiled) if m.id))


def _language(locale: str) -> str:
    language = str(_locale(locale).language)
    if language not in SUPPORTED_LOCALES:
        raise ValidationError(
            "locale", locale, f"messages exist in {', '.join(SUPPORTED_LOCALES)} only"
        )
    return language


def translations(locale: str) -> gettext.GNUTranslations:
    """The library's gettext translations for a locale's language.

    For a host's own templates: e.g. ``jinja_env.install_gettext_translations(...)``.

    Raises:
        ValidationError: for a locale outside :data:`SUPPORTED_LOCALES` (any territory
            is fine) or one babel cannot parse.

    >>> translations("uk_UA").gettext("status.invoice.paid")
    'Сплачено'
    """
    return _translations(_language(locale))


def _unknown_id(message_id: object) -> ValidationError:
    ids = _message_ids()
    related: list[str] = []
    if isinstance(message_id, str):
        # The ids of the closest group: "status.invoice.lost" -> the invoice statuses.
        parts = message_id.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut]) + "."
            related = [i for i in ids if i.startswith(prefix)]
            if related:
                break
    if not related:
        related = sorted({i.split(".", 1)[0] + ".…" for i in ids})
    return ValidationError("message_id", message_id, f"expected one of {', '.join(related)}")


def translate(message_id: str, locale: str) -> str:
    """The template of a message in a locale's language, with its ``{named}`` values.

    Raises:
        ValidationError: for an id the catalogs do not hold (naming the ids of the same
            group) or a locale without messages.

    >>> translate("credit.blocked", "de")
    'Verlängerungen und Käufe sind gesperrt, bis die Schulden beglichen sind'
    >>> translate("line.renewal", "uk")
    '{plan}: продовження до {until}'
    """
    if message_id not in _message_ids():
        raise _unknown_id(message_id)
    return str(_translations(_language(locale)).gettext(message_id))


class _Messages(Mapping[str, Mapping[str, str]]):
    """The catalogs seen as message id -> language -> template (read only)."""

    def __getitem__(self, message_id: str) -> Mapping[str, str]:
        if message_id not in _message_ids():
            raise KeyError(message_id)
        return MappingProxyType(
            {lang: str(_translations(lang).gettext(message_id)) for lang in SUPPORTED_LOCALES}
        )

    def __iter__(self) -> Iterator[str]:
        return iter(_message_ids())

    def __len__(self) -> int:
        return len(_message_ids())


#: The message catalogs, read only: message id -> language -> template with ``{named}``
#: values. Backed by the compiled gettext catalogs shipped with the package.
MESSAGES: Final[Mapping[str, Mapping[str, str]]] = _Messages()


def _message_value(value: object, locale: str, date_format: str) -> str:
    if isinstance(value, Money):
        return format_money(value, locale)
    if isinstance(value, date):
        skeleton = _SKELETONS.get(date_format)
        if skeleton is not None:
            return str(format_skeleton(skeleton, value, locale=_locale(locale)))
        return format_date(value, locale, date_format)  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        return str(format_decimal(value, locale=_locale(locale), decimal_quantization=False))
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
    :func:`format_date` (or as day and month with ``date_format="day_month"``; a
    message may pick the format of one value, as ``{month:month_year}``), decimals in
    the locale's notation, anything else with ``str``. Values a message does not use are
    ignored, so one set of values (such as a credit state's ``params``) can feed several
    messages.

    Args:
        message_id: an id of the catalogs (a key of :data:`MESSAGES`).
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
    template = translate(message_id, locale)
    if date_format not in MESSAGE_DATE_FORMATS:
        raise ValidationError(
            "date_format", date_format, f"expected one of {', '.join(MESSAGE_DATE_FORMATS)}"
        )
    parts = list(Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name]
    missing = [name for name in dict.fromkeys(names) if name not in params]
    if missing:
        raise ValidationError(
            "params",
            ", ".join(missing),
            f"message {message_id!r} needs {', '.join(dict.fromkeys(names))}",
        )
    text = []
    for literal, name, spec, _conversion in parts:
        text.append(literal)
        if name:
            text.append(_message_value(params[name], locale, spec or str(date_format)))
    return "".join(text)


def format_status(status: enum.Enum, locale: str) -> str:
    """The name of a status in a locale: invoices, payments, services, credit and more.

    Accepts the members of ``InvoiceStatus``, ``PaymentStatus``, ``ServiceStatus``,
    ``ServiceOperation``, ``CreditStatus``, ``StatementStatus``, ``SavedMethodStatus``,
    ``TicketStatus``, ``ContractStatus`` and ``CreditNoteStatus``.

    Raises:
        ValidationError: for anything else, or a locale without messages.

    >>> from cabinet_billing import InvoiceStatus
    >>> format_status(InvoiceStatus.PARTIALLY_PAID, "ru"), format_status(InvoiceStatus.OVERDUE, "de")
    ('Оплачен частично', 'Überfällig')
    """
    group = _STATUS_GROUPS.get(type(status).__name__)
    if group is None:
        raise ValidationError("status", status, f"expected a member of {', '.join(_STATUS_GROUPS)}")
    return translate(f"status.{group}.{status.value}", locale)


def render_line_text(text: LineText, locale: str) -> str:
    """What an invoice line bills, in a locale (see :class:`~cabinet_billing.LineText`).

    Raises:
        ValidationError: as :func:`render_message`.

    >>> from datetime import date
    >>> from cabinet_billing.domain.text import LineText
    >>> render_line_text(LineText.of("line.renewal", plan="VPS S", until=date(2024, 4, 1)), "ru")
    'VPS S: продление до 1 апреля 2024\u202fг.'
    >>> render_line_text(LineText.of("line.credit_statement", month=date(2024, 3, 1)), "uk")
    'Послуги, придбані в кредит, березень 2024\u202fр.'
    """
    if not isinstance(text, LineText):
        raise ValidationError("text", text, "expected a LineText")
    return render_message(text.msgid, locale, **text.as_dict())


_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONEY_TEXT: Final = re.compile(r"(-?\d+(?:\.\d+)?) ([A-Z]{3})")


def _notification_value(text: str) -> object:
    # Notifications carry their values as text ("800.00 RUB", "2024-01-15"): read them
    # back so that they are shown in the reader's notation.
    if _ISO_DAY.fullmatch(text):
        return date.fromisoformat(text)
    found = _MONEY_TEXT.fullmatch(text)
    if found is not None:
        try:
            return Money(found.group(1), found.group(2))
        except BillingError:  # not a currency: keep the text
            return text
    return text


def _notification_id(kind: str) -> str:
    # Credit notices render the dunning messages their rules name (credit.notice.*).
    if kind.startswith("credit."):
        return f"credit.notice.{kind.removeprefix('credit.')}"
    return f"notification.{kind}"


def render_notification(
    notification: Notification, locale: str, *, date_format: object = "long"
) -> str:
    r"""The text of a notification in a locale, from its kind and values.

    The message is ``notification.<kind>`` (``credit.notice.<...>`` for the credit
    notices ``credit.<...>``); amounts and dates among its values are shown in the
    locale's notation.

    Raises:
        ValidationError: for a kind the catalogs have no text for (naming those they
            have), a locale without messages, or a value the message needs and the
            notification lacks.

    >>> from datetime import datetime, timezone
    >>> from cabinet_billing.domain.notifications import Notification, NotificationCategory
    >>> n = Notification("acc-1", NotificationCategory.FINANCE, "balance.low",
    ...                  datetime(2024, 3, 21, tzinfo=timezone.utc),
    ...                  {"balance": "40.00 EUR", "threshold": "50.00 EUR"})
    >>> render_notification(n, "de").replace("\xa0", " ")
    'Ihr Guthaben beträgt 40,00 € und liegt unter Ihrer Schwelle von 50,00 €'
    """
    message_id = _notification_id(notification.kind)
    if message_id not in _message_ids():
        known = sorted(
            i.removeprefix("notification.") for i in _message_ids() if i.startswith("notification.")
        )
        raise ValidationError(
            "kind",
            notification.kind,
            f"no text for this kind; the catalogs have {', '.join(known)} and the credit notices",
        )
    values = {name: _notification_value(v) for name, v in notification.params.items()}
    return render_message(message_id, locale, date_format=date_format, **values)
