"""An explicit JSON codec for the domain's attrs classes: what a SQL row keeps of an aggregate.

The codec is driven by the declared types: it walks ``attrs.fields`` with their resolved
annotations and turns each value into plain JSON — :class:`~cabinet_billing.Money` as
its amount (a string, never a float) and currency code, :class:`~decimal.Decimal` as a
string, dates and datetimes in ISO 8601 (aware datetimes keep their offset), enums by
value, bytes in base64, IP addresses as text, tuples, lists, sets and dictionaries as
JSON arrays (dictionaries as ``[key, value]`` pairs, so keys of any type survive), and
nested attrs classes as objects keyed by field name. A value whose type is a union of
several classes carries the class name: ``{"$type": "Conversion", "value": {...}}``.

Decoding calls each class's constructor with the stored fields (private attributes
through their ``alias``), so a stored aggregate passes the same validation as a new
one. A field declared ``eq=False`` (such as a service's lifecycle table) is left out
while it holds its default and gets the default back. Nothing is pickled.

>>> from datetime import date
>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.invoice import InvoicePayment
>>> paid = InvoicePayment("pay-1", Money("100.00", "RUB"), date(2024, 3, 1))
>>> text = dumps(paid)
>>> text
'{"amount":{"amount":"100.00","currency":"RUB"},"on":"2024-03-01","payment_id":"pay-1"}'
>>> loads(InvoicePayment, text) == paid
True
"""

from __future__ import annotations

import base64
import enum
import ipaddress
import json
import types
import typing
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar, Union, cast

import attrs
import moneyed

from cabinet_billing.adapters.sql.errors import StoredDataError
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import ValidationError

__all__ = ["JsonValue", "canonical", "decode", "dumps", "encode", "field_hint", "loads"]

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]
"""What :func:`encode` returns: plain JSON data."""

T = TypeVar("T")

_TAG = "$type"
_NONE = type(None)
_LISTS = (list, Sequence, typing.Sequence)
_SETS = (set, frozenset, AbstractSet, typing.AbstractSet)
_DICTS = (dict, Mapping, typing.Mapping)


def _unsupported(hint: object, value: object) -> ValidationError:
    return ValidationError(
        "type",
        hint,
        f"cannot store {value!r}: the codec handles attrs classes, Money, Decimal, dates, "
        "enums, str, int, bool, bytes, IP addresses, unions and collections of these",
    )


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_hint(cls: type, name: str) -> object:
    """The declared type of an attrs class's field.

    >>> from cabinet_billing.domain.invoice import InvoicePayment
    >>> field_hint(InvoicePayment, "on")
    <class 'datetime.date'>
    """
    return _hints(cls)[name]


@cache
def _fields(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """Each field that the constructor takes: its name, its alias, whether it has a default."""
    return tuple(
        (f.name, f.alias, f.default is not attrs.NOTHING) for f in attrs.fields(cls) if f.init
    )


def _members(hint: object) -> tuple[Any, ...] | None:
    """The members of a union, or None when the hint is not one."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(hint)
    return None


def _name(hint: object) -> str:
    return getattr(hint, "__name__", repr(hint))


def encode(  # noqa: C901, PLR0911
    value: object, hint: object, *, skip: AbstractSet[str] = frozenset()
) -> JsonValue:
    """Turn a value of a declared type into JSON data.

    Args:
        value: the value.
        hint: its declared type (an attrs class, ``tuple[X, ...]``, ``X | None`` ...).
        skip: for an attrs class, the fields to leave out (kept elsewhere).

    Returns:
        Plain JSON data that :func:`decode` turns back into an equal value.

    Raises:
        ValidationError: when the value or its type is not one the codec handles.

    >>> from decimal import Decimal
    >>> encode((Decimal("0.10"), None), tuple[Decimal, int | None])
    ['0.10', None]
    """
    members = _members(hint)
    if members is not None:
        if value is None and _NONE in members:
            return None
        classes = [m for m in members if m is not _NONE]
        if len(classes) == 1:
            return encode(value, classes[0])
        for member in classes:
            if isinstance(value, typing.get_origin(member) or member):
                return {_TAG: _name(member), "value": encode(value, member)}
        raise _unsupported(hint, value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        items = cast("tuple[object, ...]", value)
        if len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004
            return [encode(item, args[0]) for item in items]
        return [encode(item, arg) for item, arg in zip(items, args, strict=True)]
    if origin in _LISTS:
        return [encode(item, args[0]) for item in cast("Sequence[object]", value)]
    if origin in _SETS:
        encoded = [encode(item, args[0]) for item in cast("AbstractSet[object]", value)]
        return sorted(encoded, key=canonical)
    if origin in _DICTS:
        pairs = cast("Mapping[object, object]", value).items()
        return [[encode(k, args[0]), encode(v, args[1])] for k, v in pairs]
    if not isinstance(hint, type):
        raise _unsupported(hint, value)
    if attrs.has(hint):
        return _encode_attrs(value, hint, skip)
    return _encode_scalar(value, hint)


def _encode_attrs(value: object, cls: type, skip: AbstractSet[str] = frozenset()) -> JsonValue:
    if not isinstance(value, cls):
        raise _unsupported(cls, value)
    hints = _hints(cls)
    result: dict[str, JsonValue] = {}
    for field in attrs.fields(cls):
        if not field.init or field.name in skip:
            continue
        current = getattr(value, field.name)
        if not field.eq and field.default is not attrs.NOTHING and _is_default(current, field):
            continue
        result[field.name] = encode(current, hints[field.name])
    return result


def _is_default(current: object, field: attrs.Attribute[Any]) -> bool:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return False
    return current is default or bool(current == default)


def _encode_scalar(value: object, hint: type) -> JsonValue:  # noqa: C901, PLR0911
    if issubclass(hint, moneyed.Money) and isinstance(value, moneyed.Money):
        return {"amount": str(value.amount), "currency": value.currency.code}
    if issubclass(hint, enum.Enum) and isinstance(value, hint):
        return encode(value.value, type(value.value))
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is Decimal and isinstance(value, Decimal):
        return str(value)
    if hint is datetime and isinstance(value, datetime):
        return value.isoformat()
    if hint is date and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if hint is bytes and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hint in {ipaddress.IPv4Address, ipaddress.IPv6Address} and isinstance(value, hint):
        return str(value)
    if hint is _NONE and value is None:
        return None
    raise _unsupported(hint, value)


def decode(data: JsonValue, hint: object) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
    """Turn JSON data made by :func:`encode` back into a value of the declared type.

    Args:
        data: the JSON data.
        hint: the declared type it was encoded with.

    Returns:
        The value, built through the constructors of its classes.

    Raises:
        ValidationError: when the data does not fit the type.

    >>> from decimal import Decimal
    >>> decode(["0.10", None], tuple[Decimal, int | None])
    (Decimal('0.10'), None)
    """
    members = _members(hint)
    if members is not None:
        if data is None and _NONE in members:
            return None
        classes = [m for m in members if m is not _NONE]
        if len(classes) == 1:
            return decode(data, classes[0])
        if isinstance(data, dict) and _TAG in data:
            for member in classes:
                if _name(member) == data[_TAG]:
                    return decode(data.get("value"), member)
        raise _unsupported(hint, data)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is not None and not isinstance(data, list):
        raise _unsupported(hint, data)
    items = cast("list[JsonValue]", data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004
            return tuple(decode(item, args[0]) for item in items)
        return tuple(decode(item, arg) for item, arg in zip(items, args, strict=True))
    if origin is list:
        return [decode(item, args[0]) for item in items]
    if origin in _LISTS:
        return tuple(decode(item, args[0]) for item in items)
    if origin is set:
        return {decode(item, args[0]) for item in items}
    if origin in _SETS:
        return frozenset(decode(item, args[0]) for item in items)
    if origin in _DICTS:
        pairs = cast("list[list[JsonValue]]", items)
        return {decode(k, args[0]): decode(v, args[1]) for k, v in pairs}
    if not isinstance(hint, type):
        raise _unsupported(hint, data)
    if attrs.has(hint):
        return _decode_attrs(data, hint)
    return _decode_scalar(data, hint)


def _decode_attrs(data: JsonValue, cls: type) -> object:
    if not isinstance(data, dict):
        raise _unsupported(cls, data)
    hints = _hints(cls)
    fields = _fields(cls)
    unknown = data.keys() - {name for name, _, _ in fields}
    if unknown:
        raise StoredDataError(
            cls.__name__,
            f"holds field(s) {', '.join(sorted(unknown))} that this version of cabinet_billing "
            "does not know: upgrade the library (nothing was dropped)",
        )
    missing = [name for name, _, has_default in fields if not has_default and name not in data]
    if missing:
        raise StoredDataError(
            cls.__name__,
            f"lacks field(s) {', '.join(missing)} that have no default: "
            "run `cabinet-billing db upgrade` to bring the stored data up to date",
        )
    kwargs = {alias: decode(data[name], hints[name]) for name, alias, _ in fields if name in data}
    return cls(**kwargs)


def _decode_scalar(data: JsonValue, hint: type) -> object:  # noqa: C901, PLR0911
    if issubclass(hint, moneyed.Money) and isinstance(data, dict):
        return Money(Decimal(str(data["amount"])), str(data["currency"]))
    if issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            raise StoredDataError(
                hint.__name__, f"value {data!r} is none of {allowed}: upgrade the library"
            ) from None
    if hint in {bool, int, str} and type(data) is hint:
        return data
    if isinstance(data, str):
        if hint is Decimal:
            return Decimal(data)
        if hint is datetime:
            return datetime.fromisoformat(data)
        if hint is date:
            return date.fromisoformat(data)
        if hint is bytes:
            return base64.b64decode(data.encode("ascii"), validate=True)
        if hint in {ipaddress.IPv4Address, ipaddress.IPv6Address}:
            return hint(data)
    if hint is _NONE and data is None:
        return None
    raise _unsupported(hint, data)


def canonical(data: JsonValue) -> str:
    """The canonical JSON text of JSON data (keys sorted, no spaces), as :func:`dumps` writes.

    >>> canonical({"b": ["1.50"], "a": None})
    '{"a":null,"b":["1.50"]}'
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: object, hint: object = None) -> str:
    """The canonical JSON text of a value (keys sorted, no spaces).

    Args:
        value: the value.
        hint: its declared type (default: the value's class).
    """
    return canonical(encode(value, type(value) if hint is None else hint))


def loads(hint: type[T], text: str) -> T:
    """The value of a declared type stored as JSON text by :func:`dumps`.

    Args:
        hint: the class of the value.
        text: the JSON text.
    """
    return cast("T", decode(json.loads(text), hint))
