"""Small checks shared by the domain's values and aggregates.

>>> from datetime import datetime
>>> check_aware("at", datetime(2024, 3, 1))
Traceback (most recent call last):
...
cabinet_billing.errors.ValidationError: at=datetime.datetime(2024, 3, 1, 0, 0) is invalid: give an aware datetime (with a time zone)
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TypeVar

import attrs

from cabinet_billing.errors import ValidationError

__all__ = ["aware", "check_aware", "enum_member", "shared_copies"]

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


def shared_copies(cls: type[_T]) -> type[_T]:
    """Class decorator for immutable values: copies (and deep copies) are the value itself.

    Aggregates are copied when a unit of work loads them; their immutable parts (history
    records, ledger entries, amounts) need no copying, which keeps loading cheap as
    histories grow.
    """

    def copy_self(self: _T) -> _T:
        return self

    def deepcopy_self(self: _T, memo: dict[int, object]) -> _T:
        del memo
        return self

    cls.__copy__ = copy_self  # type: ignore[attr-defined]
    cls.__deepcopy__ = deepcopy_self  # type: ignore[attr-defined]
    return cls
