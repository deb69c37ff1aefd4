r"""What every entry point of the library checks before it reads or changes anything.

The domain's values check themselves (:mod:`cabinet_billing.domain.checks` for ids and
text, :class:`~cabinet_billing.domain.money.Money` for amounts). This module is the one
place the use cases check what a host *hands them*: the cabinet's gate, the billing run,
the payment callbacks, the bank, the staff and pay links all call these functions on
their arguments first, so a wrong argument is refused with a
:class:`~cabinet_billing.errors.BillingError` that names it and what is allowed, never
with a bare ``AttributeError`` from deep inside, and before anything is committed.

>>> from datetime import datetime, timezone
>>> billing_day("day", datetime(2024, 3, 2, tzinfo=timezone.utc))
Traceback (most recent call last):
...
cabinet_billing.errors.InvalidArgumentError: day=datetime.datetime(2024, 3, 2, 0, 0, tzinfo=datetime.timezone.utc) is invalid: expected a date such as date(2024, 3, 2) (a day, not a datetime), got datetime
>>> amount("amount", "100.00")
Traceback (most recent call last):
...
cabinet_billing.errors.InvalidArgumentError: amount='100.00' is invalid: expected a Money amount such as Money('100.00', 'EUR'), got str

The bounds (see ``docs/errors.md``): ids of at most
:data:`~cabinet_billing.domain.checks.MAX_ID_LENGTH` characters, callback bodies of at
most :data:`MAX_CALLBACK_BYTES`, at most :data:`MAX_STATEMENT_LINES` bank statement lines
in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Final, TypeVar

import moneyed

from cabinet_billing.domain.checks import check_id
from cabinet_billing.domain.money import Money, currency_places
from cabinet_billing.errors import InvalidArgumentError

__all__ = [
    "MAX_CALLBACK_BYTES",
    "MAX_STATEMENT_LINES",
    "amount",
    "billing_day",
    "callback_body",
    "callback_headers",
    "count",
    "currency",
    "identifier",
    "instance",
    "items",
    "optional_amount",
    "optional_identifier",
]

#: The largest callback body a payment provider may send (256 KiB): real events are a few
#: kilobytes, and a larger body is refused before it is parsed.
MAX_CALLBACK_BYTES: Final = 256 * 1024
#: The most lines one call of ``billing.bank.match`` takes (a day's statement of a large
#: provider holds a few thousand); split longer statements.
MAX_STATEMENT_LINES: Final = 100_000

_T = TypeVar("_T")


def _kind(value: object) -> str:
    return type(value).__name__


def identifier(field: str, value: object) -> str:
    r"""Return ``value`` if it is an id (see :func:`~cabinet_billing.domain.checks.check_id`).

    An id with a NUL character, a control or bidirectional-override character, blanks
    around it or more than 200 characters can name nothing stored: it is refused here,
    before a database sees it (PostgreSQL refuses NUL in text outright).

    Raises:
        InvalidTextError: naming the field, the value and what is allowed.

    >>> identifier("invoice_id", "inv\x00")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidTextError: invoice_id='inv\x00' is invalid: must not contain the NUL character (U+0000 at position 3)
    """
    return check_id(field, value)


def optional_identifier(field: str, value: object) -> str | None:
    """:func:`identifier`, or ``None`` when none is given."""
    return None if value is None else identifier(field, value)


def amount(field: str, value: object) -> Money:
    """Return ``value`` as the library's :class:`Money` (see :meth:`Money.of`).

    Refuses what is not an amount at all (a str, a Decimal, a number: they have no
    currency), and what :meth:`Money.of` refuses (a ``moneyed.Money`` made from a float,
    NaN, an infinity, more than storage holds).

    Raises:
        InvalidArgumentError: for something that is not a Money amount.
        InvalidAmountError: for a Money amount that is not exact.
    """
    if not isinstance(value, moneyed.Money):
        raise InvalidArgumentError(
            field,
            value,
            f"expected a Money amount such as Money('100.00', 'EUR'), got {_kind(value)}",
        )
    return Money.of(value)


def optional_amount(field: str, value: object) -> Money | None:
    """:func:`amount`, or ``None`` when none is given."""
    return None if value is None else amount(field, value)


def currency(field: str, value: object) -> str:
    """Return the upper-case ISO 4217 code ``value`` names.

    Raises:
        InvalidArgumentError: for something that is not text.
        UnknownCurrencyError: for text that is not a known code.

    >>> currency("currency", "eur")
    'EUR'
    """
    if not isinstance(value, str):
        raise InvalidArgumentError(
            field, value, f"expected an ISO 4217 code such as 'EUR', got {_kind(value)}"
        )
    code = value.upper()
    currency_places(code)  # raises UnknownCurrencyError for an unknown code
    return code


def billing_day(field: str, value: object) -> date:
    """Return ``value`` if it is a day: a :class:`datetime.date` that is not a datetime.

    A datetime is an instant in some time zone, and which day it is depends on the zone;
    text would be parsed in some format. Both are refused rather than guessed.

    Raises:
        InvalidArgumentError: naming the value and what is allowed.
    """
    if isinstance(value, datetime):
        raise InvalidArgumentError(
            field,
            value,
            "expected a date such as date(2024, 3, 2) (a day, not a datetime), got datetime",
        )
    if not isinstance(value, date):
        raise InvalidArgumentError(
            field, value, f"expected a date such as date(2024, 3, 2), got {_kind(value)}"
        )
    return value


def count(field: str, value: object, *, minimum: int, maximum: int) -> int:
    """Return ``value`` if it is a whole number from ``minimum`` to ``maximum``.

    Raises:
        InvalidArgumentError: naming the value and the range.

    >>> count("batch_size", 0, minimum=1, maximum=10_000)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidArgumentError: batch_size=0 is invalid: expected a whole number from 1 to 10000
    """
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidArgumentError(
            field, value, f"expected a whole number from {minimum} to {maximum}"
        )
    return value


def instance(field: str, value: object, kind: type[_T], example: str) -> _T:
    """Return ``value`` if it is a ``kind``.

    Raises:
        InvalidArgumentError: naming the value, the kind expected (``example``) and the
            kind given.
    """
    if not isinstance(value, kind):
        raise InvalidArgumentError(field, value, f"expected {example}, got {_kind(value)}")
    return value


def items(
    field: str, value: object, kind: type[_T], example: str, *, maximum: int
) -> tuple[_T, ...]:
    """Return ``value`` as a tuple if it is a collection of at most ``maximum`` ``kind``.

    A str (or bytes) is refused even though it can be iterated: it is one value, not a
    collection of them.

    Raises:
        InvalidArgumentError: naming the value, or the first element that is not a
            ``kind``, and what is allowed.
    """
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidArgumentError(
            field, value, f"expected a list of {example}, got {_kind(value)}"
        )
    found = tuple(value)
    if len(found) > maximum:
        raise InvalidArgumentError(
            field, f"{len(found)} items", f"at most {maximum} in one call; split it"
        )
    for position, element in enumerate(found):
        if not isinstance(element, kind):
            raise InvalidArgumentError(
                f"{field}[{position}]", element, f"expected {example}, got {_kind(element)}"
            )
    return found


def callback_headers(value: object) -> Mapping[str, str]:
    """Return ``value`` if it is a payment callback's headers: a mapping of text to text.

    Raises:
        InvalidArgumentError: for something that is not a mapping, or a header whose
            name or value is not text.
    """
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            "headers",
            value,
            f"expected the callback's HTTP headers as a mapping of str to str, got {_kind(value)}",
        )
    for name, text in value.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise InvalidArgumentError(
                f"headers[{name!r}]", text, "expected header names and values as str"
            )
    return value


def callback_body(value: object) -> bytes:
    """Return ``value`` if it is a payment callback's body: bytes, at most 256 KiB.

    The body is what the signature covers, byte for byte: text would have to be encoded
    in some encoding first, so it is refused rather than guessed.

    Raises:
        InvalidArgumentError: for something that is not bytes, or a body that is too long.
    """
    if not isinstance(value, bytes):
        raise InvalidArgumentError(
            "body",
            value,
            f"expected the callback's raw body as bytes (as received, before decoding), "
            f"got {_kind(value)}",
        )
    if len(value) > MAX_CALLBACK_BYTES:
        raise InvalidArgumentError(
            "body",
            f"{len(value)} bytes",
            f"a callback body is at most {MAX_CALLBACK_BYTES} bytes",
        )
    return value
