r"""Small checks shared by the domain's values and aggregates.

>>> from datetime import datetime
>>> check_aware("at", datetime(2024, 3, 1))
Traceback (most recent call last):
...
cabinet_billing.errors.ValidationError: at=datetime.datetime(2024, 3, 1, 0, 0) is invalid: give an aware datetime (with a time zone)

Every id, name and message that enters the domain goes through :func:`check_id` or
:func:`check_text`, so that all of them refuse the same things with the same words:

* not text at all, or empty (ids, and names where one is required);
* longer than the field allows: :data:`MAX_ID_LENGTH` (200, what the storage's id
  columns hold) for ids, :data:`MAX_NAME_LENGTH` (1000) for names, subjects and other
  one-line text, :data:`MAX_TEXT_LENGTH` (100 000) for messages;
* the NUL character and other control characters (line breaks and tabs are allowed in
  messages only), which storage and terminals mangle;
* the bidirectional overrides and isolates U+202A-U+202E and U+2066-U+2069, which
  reorder how text is shown ("Trojan Source", CVE-2021-42574) and let a name pass for
  another;
* unpaired surrogates, which cannot be stored as UTF-8.

Ids may not begin or end with blanks either. Letters of any script, combining marks, the
zero-width joiner of emoji and the right-to-left and left-to-right *marks* are fine.

>>> check_text("name", "Jill Fairy")
'Jill Fairy'
>>> check_text("name", "Jill\u202eyriaF")
Traceback (most recent call last):
...
cabinet_billing.errors.InvalidTextError: name='Jill\u202eyriaF' is invalid: must not contain bidirectional override or isolate characters (U+202E at position 4): they change the order in which text is shown
>>> check_id("account_id", "")
Traceback (most recent call last):
...
cabinet_billing.errors.InvalidTextError: account_id='' is invalid: must not be empty
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeVar

import attrs

from cabinet_billing.errors import InvalidTextError, ValidationError

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "aware",
    "check_aware",
    "check_id",
    "check_text",
    "enum_member",
    "id_field",
    "is_shared",
    "shared_copies",
    "text_field",
]

#: The longest id: what the storage's id columns hold (``VARCHAR(200)``).
MAX_ID_LENGTH: Final = 200
#: The longest name, subject, description or other one-line text.
MAX_NAME_LENGTH: Final = 1000
#: The longest message (a ticket's text, a note).
MAX_TEXT_LENGTH: Final = 100_000

# "Trojan Source" (CVE-2021-42574): the embeddings, overrides and isolates of Unicode's
# bidirectional algorithm. The marks U+200E and U+200F only set a direction and stay.
_BIDI: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS: Final = frozenset("\n\r\t")
_SEPARATORS: Final = frozenset("\u2028\u2029")


def _refused_character(text: str, *, multiline: bool) -> str | None:
    """Why ``text`` is refused for a character it holds, or ``None``."""
    if text.isprintable():  # the common case: no control, format or separator characters
        return None
    for position, char in enumerate(text):
        if not char.isprintable():
            reason = _refused(char, f"U+{ord(char):04X} at position {position}", multiline)
            if reason is not None:
                return reason
    return None


def _refused(char: str, where: str, multiline: bool) -> str | None:
    category = unicodedata.category(char)
    reason: str | None
    if char == "\x00":
        reason = f"must not contain the NUL character ({where})"
    elif char in _BIDI:
        reason = (
            f"must not contain bidirectional override or isolate characters ({where}): "
            "they change the order in which text is shown"
        )
    elif category == "Cs":
        reason = f"must not contain unpaired surrogates ({where}): they cannot be stored"
    elif char in _LINE_BREAKS or char in _SEPARATORS:
        reason = None if multiline else f"must be one line: no line breaks or tabs ({where})"
    elif category == "Cc":
        allowed = "line breaks and tabs only" if multiline else "none"
        reason = f"must not contain control characters ({where}); allowed: {allowed}"
    else:
        reason = None  # format characters (joiners, marks), private use, unassigned
    return reason


def check_text(
    field: str,
    value: object,
    *,
    max_length: int = MAX_NAME_LENGTH,
    multiline: bool = False,
    required: bool = True,
) -> str:
    r"""Return ``value`` if it is text fit for a name (or, ``multiline``, a message).

    Args:
        field: the field's name, for the message.
        value: the value to check.
        max_length: the most characters allowed (default :data:`MAX_NAME_LENGTH`).
        multiline: whether line breaks and tabs are allowed (messages).
        required: whether empty or blank text is refused.

    Raises:
        InvalidTextError: naming the field, the value (its start, when long) and what is
            allowed.

    >>> check_text("subject", "x" * 1001)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidTextError: subject='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (1001 characters)' is invalid: must be at most 1000 characters, got 1001
    >>> check_text("text", "Hello,\nthe server is down", multiline=True)
    'Hello,\nthe server is down'
    """
    if not isinstance(value, str):
        raise InvalidTextError(field, value, f"must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidTextError(field, value, "must not be empty")
    if len(value) > max_length:
        raise InvalidTextError(
            field, value, f"must be at most {max_length} characters, got {len(value)}"
        )
    reason = _refused_character(value, multiline=multiline)
    if reason is not None:
        raise InvalidTextError(field, value, reason)
    return value


def check_id(field: str, value: object, *, max_length: int = MAX_ID_LENGTH) -> str:
    """Return ``value`` if it is an id: non-empty one-line text without surrounding blanks.

    Raises:
        InvalidTextError: naming the field, the value and what is allowed.

    >>> check_id("service_id", "3925")
    '3925'
    >>> check_id("service_id", " 3925")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidTextError: service_id=' 3925' is invalid: must not begin or end with blanks
    """
    text = check_text(field, value, max_length=max_length)
    if text != text.strip():
        raise InvalidTextError(field, value, "must not begin or end with blanks")
    return text


_Validator = Callable[[object, "attrs.Attribute[str]", object], None]


def id_field() -> _Validator:
    """An attrs validator: the field holds an id (see :func:`check_id`)."""

    def validate(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
        check_id(attribute.alias or attribute.name, value)

    return validate


def text_field(
    *, max_length: int = MAX_NAME_LENGTH, multiline: bool = False, required: bool = True
) -> _Validator:
    """An attrs validator: the field holds text (see :func:`check_text`)."""

    def validate(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
        check_text(
            attribute.alias or attribute.name,
            value,
            max_length=max_length,
            multiline=multiline,
            required=required,
        )

    return validate


_E = TypeVar("_E", bound=enum.Enum)


def check_aware(field: str, value: object) -> datetime:
    """Return ``value`` if it is a datetime with a time zone.

    Raises:
        ValidationError: naming the field, for anything else (a naive datetime, a date).
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(field, value, "give an aware datetime (with a time zone)")
    return value


def aware(_instance: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    """An attrs validator: the field holds an aware datetime."""
    check_aware(attribute.name, value)


def enum_member(kind: type[_E], field: str, value: object) -> _E:
    """The member of ``kind`` with this value (or the member itself).

    Raises:
        ValidationError: naming the field and the allowed values.

    >>> class Colour(enum.Enum):
    ...     RED = "red"
    >>> enum_member(Colour, "colour", "red")
    <Colour.RED: 'red'>
    >>> enum_member(Colour, "colour", "blue")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: colour='blue' is invalid: expected one of red
    """
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValidationError(field, value, f"expected one of {allowed}") from None


_T = TypeVar("_T")


def _copy_self(self: _T) -> _T:
    return self


def _deepcopy_self(self: _T, memo: dict[int, object]) -> _T:
    del memo
    return self


def shared_copies(cls: type[_T]) -> type[_T]:
    """Class decorator for immutable values: copies (and deep copies) are the value itself.

    Aggregates are copied when a unit of work loads them; their immutable parts (history
    records, ledger entries, amounts) need no copying, which keeps loading cheap as
    histories grow.
    """
    cls.__copy__ = _copy_self  # type: ignore[attr-defined]
    cls.__deepcopy__ = _deepcopy_self  # type: ignore[attr-defined]
    return cls


def is_shared(cls: type) -> bool:
    """Whether :func:`shared_copies` made copies of ``cls``'s values the values themselves.

    >>> from cabinet_billing.domain.money import Money
    >>> is_shared(Money), is_shared(list)
    (True, False)
    """
    return getattr(cls, "__deepcopy__", None) is _deepcopy_self
