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
import linecache
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
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

__all__ = [
    "Encoder",
    "JsonValue",
    "canonical",
    "decode",
    "dumps",
    "encode",
    "encoder",
    "field_hint",
    "loads",
]

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


# Each declared type gets its encoder and its decoder once, made from the type (a plan of
# functions, one per field and element), so that encoding a value walks the value only.
Encoder = Callable[[object], JsonValue]
Decoder = Callable[[JsonValue], Any]


def _planned(plans: dict[Any, Any], key: object, make: Callable[[], Any]) -> Any:  # noqa: ANN401
    """The plan of a type, made on first use (a type that holds itself finds its own)."""
    try:
        found = plans.get(key)
    except TypeError:  # an unhashable hint: made each time
        return make()
    if found is None:
        made: list[Any] = []

        def later(value: object) -> Any:  # noqa: ANN401
            return made[0](value)

        plans[key] = later
        try:
            made.append(make())
        except BaseException:
            del plans[key]
            raise
        plans[key] = found = made[0]
    return found


_ENCODERS: dict[Any, Encoder] = {}
_DECODERS: dict[Any, Decoder] = {}


def encode(value: object, hint: object, *, skip: AbstractSet[str] = frozenset()) -> JsonValue:
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
    return encoder(hint, skip=skip)(value)


def encoder(hint: object, *, skip: AbstractSet[str] = frozenset()) -> Encoder:
    """The function :func:`encode` applies to values of a declared type, made once per type.

    >>> from decimal import Decimal
    >>> encoder(tuple[Decimal, ...])((Decimal("0.10"),))
    ['0.10']
    """
    if skip and isinstance(hint, type) and attrs.has(hint):
        left_out = frozenset(skip)
        return cast(
            "Encoder", _planned(_ENCODERS, (hint, left_out), lambda: _attrs_encoder(hint, left_out))
        )
    return _encoder(hint)


def _encoder(hint: object) -> Encoder:
    return cast("Encoder", _planned(_ENCODERS, hint, lambda: _make_encoder(hint)))


def _refuse(hint: object) -> Callable[[object], Any]:
    def refuse(value: object) -> Any:  # noqa: ANN401
        raise _unsupported(hint, value)

    return refuse


def _make_encoder(hint: object) -> Encoder:  # noqa: PLR0911
    members = _members(hint)
    if members is not None:
        return _union_encoder(hint, members)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004
            return _each_encoded(_encoder(args[0]))
        parts = [_encoder(arg) for arg in args]
        return lambda value: [
            part(item) for item, part in zip(cast("tuple[object, ...]", value), parts, strict=True)
        ]
    if origin in _LISTS:
        return _each_encoded(_encoder(args[0]))
    if origin in _SETS:
        member_encoder = _encoder(args[0])
        return lambda value: sorted(
            (member_encoder(item) for item in cast("AbstractSet[object]", value)), key=canonical
        )
    if origin in _DICTS:
        key_encoder, value_encoder = _encoder(args[0]), _encoder(args[1])
        return lambda value: [
            [key_encoder(k), value_encoder(v)]
            for k, v in cast("Mapping[object, object]", value).items()
        ]
    if not isinstance(hint, type):
        return _refuse(hint)
    if attrs.has(hint):
        return _attrs_encoder(hint, frozenset())
    return _scalar_encoder(hint)


def _each_encoded(item: Encoder) -> Encoder:
    """The encoder of a sequence whose items the given encoder encodes."""

    def each(value: Iterable[object]) -> JsonValue:
        return [item(element) for element in value]

    return cast("Encoder", each)


def _union_encoder(hint: object, members: tuple[Any, ...]) -> Encoder:
    nullable = _NONE in members
    classes = [m for m in members if m is not _NONE]
    if len(classes) == 1:
        only = _encoder(classes[0])
        if not nullable:
            return only
        return lambda value: None if value is None else only(value)
    tagged = [(typing.get_origin(m) or m, _name(m), _encoder(m)) for m in classes]

    def union(value: object) -> JsonValue:
        if value is None and nullable:
            return None
        for kind, name, member_encoder in tagged:
            if isinstance(value, kind):
                return {_TAG: name, "value": member_encoder(value)}
        raise _unsupported(hint, value)

    return union


def _attrs_encoder(cls: type, skip: frozenset[str]) -> Encoder:
    """The encoder of an attrs class: one function made for it, a statement or two per field.

    A field of a plain type (``str``, ``int``, ``bool``, an enumeration of such values, or
    one of these or None) is tested and taken in place; any other calls the encoder of its
    type. A field declared ``eq=False`` with a default is left out while it holds it.
    """
    hints = _hints(cls)
    names: dict[str, object] = {
        "cls": cls,
        "unsupported": _unsupported,
        "is_default": _is_default,
        "LEFT_OUT": _LEFT_OUT,
    }
    body: list[str] = []
    kept: list[str] = []
    defaulted: list[str] = []
    fields = [f for f in attrs.fields(cls) if f.init and f.name not in skip]
    for n, field in enumerate(fields):
        v, hint = f"v{n}", hints[field.name]
        inner, nullable = _optional(hint)
        convert = _encode_in_place(inner, v, n, names)
        if convert is None:
            names[f"e{n}"] = _encoder(inner)
            convert = [f"{v} = e{n}({v})"]
        if nullable:
            convert = [f"if {v} is not None:", *(f"    {line}" for line in convert)]
        body.append(f"    {v} = value.{field.name}")
        if not field.eq and field.default is not attrs.NOTHING:
            names[f"a{n}"] = field
            body.append(f"    if is_default({v}, a{n}):")
            body.append(f"        {v} = LEFT_OUT")
            body.append("    else:")
            body.extend(f"        {line}" for line in convert)
            defaulted.append(f"    if {v} is not LEFT_OUT:")
            defaulted.append(f"        result[{field.name!r}] = {v}")
        else:
            body.extend(f"    {line}" for line in convert)
            kept.append(f"{field.name!r}: {v}")
    lines = [
        "def encode(value):",
        "    if not isinstance(value, cls):",
        "        raise unsupported(cls, value)",
        *body,
        f"    result = {{{', '.join(kept)}}}",
        *defaulted,
        "    return result",
    ]
    return cast("Encoder", _compiled("encode", cls, lines, names))


_LEFT_OUT = object()


def _optional(hint: object) -> tuple[object, bool]:
    """The type of a value that may be None, and whether it may: ``(X, True)`` for ``X | None``."""
    members = _members(hint)
    if members is not None and len(members) == 2 and _NONE in members:  # noqa: PLR2004
        return next(m for m in members if m is not _NONE), True
    return hint, False


def _encode_in_place(hint: object, v: str, n: int, names: dict[str, object]) -> list[str] | None:
    """The statements encoding ``v`` of a plain type in place, or None for another type."""
    if hint in {bool, str}:
        test = f"not isinstance({v}, h{n})"
    elif hint is int:
        test = f"not isinstance({v}, int) or isinstance({v}, bool)"
    elif _plain_enum(hint):
        test = f"not isinstance({v}, h{n})"
    else:
        return None
    names[f"h{n}"] = hint
    lines = [f"if {test}:", f"    raise unsupported(h{n}, {v})"]
    if hint not in {bool, str, int}:
        lines.append(f"{v} = {v}._value_")
    return lines


def _plain_enum(hint: object) -> bool:
    """Whether a type is an enumeration whose values are all plain ``str`` or ``int``."""
    return (
        isinstance(hint, type)
        and issubclass(hint, enum.Enum)
        and all(type(member._value_) in {str, int} for member in hint)
    )


def _compiled(name: str, owner: type, lines: list[str], names: dict[str, object]) -> Any:  # noqa: ANN401
    """The function ``name`` that the source lines define, over the given names.

    The source is kept in :mod:`linecache` under a file name of its own, so that a
    traceback through the function shows its lines.
    """
    source = "\n".join(lines) + "\n"
    filename = f"<codec {name} {owner.__module__}.{owner.__qualname__}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope = dict(names)
    exec(compile(source, filename, "exec"), scope)  # noqa: S102 - made above from field names
    return scope[name]


def _is_default(current: object, field: attrs.Attribute[Any]) -> bool:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return False
    return current is default or bool(current == default)


def _scalar_encoder(hint: type) -> Encoder:  # noqa: C901, PLR0911
    # Each encoder tests and converts in one call: values are encoded by the thousand.
    if issubclass(hint, moneyed.Money):

        def money(value: object) -> JsonValue:
            if isinstance(value, moneyed.Money):
                return {"amount": str(value.amount), "currency": value.currency.code}
            raise _unsupported(hint, value)

        return money
    if issubclass(hint, enum.Enum):
        plain = _plain_enum(hint)

        def member(value: object) -> JsonValue:
            if isinstance(value, hint):
                inner = value._value_
                return cast("JsonValue", inner) if plain else _encoder(type(inner))(inner)
            raise _unsupported(hint, value)

        return member
    if hint in {bool, str}:

        def same(value: object) -> JsonValue:
            if isinstance(value, hint):
                return cast("JsonValue", value)
            raise _unsupported(hint, value)

        return same
    if hint is int:

        def integer(value: object) -> JsonValue:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise _unsupported(hint, value)

        return integer
    if hint is Decimal or hint in {ipaddress.IPv4Address, ipaddress.IPv6Address}:

        def text(value: object) -> JsonValue:
            if isinstance(value, hint):
                return str(value)
            raise _unsupported(hint, value)

        return text
    if hint is datetime:

        def instant(value: object) -> JsonValue:
            if isinstance(value, datetime):
                return value.isoformat()
            raise _unsupported(hint, value)

        return instant
    if hint is date:

        def day(value: object) -> JsonValue:
            if isinstance(value, date) and not isinstance(value, datetime):
                return value.isoformat()
            raise _unsupported(hint, value)

        return day
    if hint is bytes:

        def raw(value: object) -> JsonValue:
            if isinstance(value, bytes):
                return base64.b64encode(value).decode("ascii")
            raise _unsupported(hint, value)

        return raw
    if hint is _NONE:

        def none(value: object) -> JsonValue:
            if value is None:
                return None
            raise _unsupported(hint, value)

        return none
    return _refuse(hint)


def decode(data: JsonValue, hint: object) -> Any:  # noqa: ANN401
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
    return _decoder(hint)(data)


def _decoder(hint: object) -> Decoder:
    return cast("Decoder", _planned(_DECODERS, hint, lambda: _make_decoder(hint)))


def _listed(hint: object, make: Callable[[list[JsonValue]], Any]) -> Decoder:
    def collection(data: JsonValue) -> Any:  # noqa: ANN401
        if not isinstance(data, list):
            raise _unsupported(hint, data)
        return make(data)

    return collection


def _each_decoded(hint: object, item: Decoder, made: Callable[[list[Any]], Any] | None) -> Decoder:
    """The decoder of a collection: each item decoded, then ``made`` the collection (a list)."""

    def collection(data: JsonValue) -> Any:  # noqa: ANN401
        if not isinstance(data, list):
            raise _unsupported(hint, data)
        items = [item(element) for element in data]
        return items if made is None else made(items)

    return collection


def _make_decoder(hint: object) -> Decoder:  # noqa: PLR0911
    members = _members(hint)
    if members is not None:
        return _union_decoder(hint, members)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004
            return _each_decoded(hint, _decoder(args[0]), tuple)
        parts = [_decoder(arg) for arg in args]
        return _listed(
            hint,
            lambda items: tuple(part(item) for item, part in zip(items, parts, strict=True)),
        )
    if origin is not None and origin in (list, set, *_LISTS, *_SETS):
        made: Callable[[list[Any]], Any] | None = (
            None
            if origin is list
            else set
            if origin is set
            else frozenset
            if origin in _SETS
            else tuple
        )
        return _each_decoded(hint, _decoder(args[0]), made)
    if origin in _DICTS:
        key_decoder, value_decoder = _decoder(args[0]), _decoder(args[1])
        return _listed(
            hint,
            lambda items: {
                key_decoder(k): value_decoder(v) for k, v in cast("list[list[JsonValue]]", items)
            },
        )
    if origin is not None or not isinstance(hint, type):
        return _refuse(hint)
    if attrs.has(hint):
        return _attrs_decoder(hint)
    return _scalar_decoder(hint)


def _union_decoder(hint: object, members: tuple[Any, ...]) -> Decoder:
    nullable = _NONE in members
    classes = [m for m in members if m is not _NONE]
    if len(classes) == 1:
        only = _decoder(classes[0])
        if not nullable:
            return only
        return lambda data: None if data is None else only(data)
    by_name = {}
    for member in reversed(classes):  # the first of a name wins, as in encoding
        by_name[_name(member)] = _decoder(member)

    def union(data: JsonValue) -> Any:  # noqa: ANN401
        if data is None and nullable:
            return None
        if isinstance(data, dict) and _TAG in data:
            member_decoder = by_name.get(cast("str", data[_TAG]))
            if member_decoder is not None:
                return member_decoder(data.get("value"))
        raise _unsupported(hint, data)

    return union


def _attrs_decoder(cls: type) -> Decoder:
    """The decoder of an attrs class: one function made for it, a statement or two per field.

    Data with no unknown field and every field that has no default, as written, goes
    straight to the constructor (a field left out at its default is not passed); other
    data takes the checked way, which says what is wrong.
    """
    hints = _hints(cls)
    fields = _fields(cls)
    names = frozenset(name for name, _, _ in fields)
    required = frozenset(name for name, _, has_default in fields if not has_default)
    scope: dict[str, object] = {
        "cls": cls,
        "unsupported": _unsupported,
        "names": names,
        "required": required,
        "checked": _checked_decoder(cls),
        "ABSENT": _LEFT_OUT,
    }
    body: list[str] = []
    arguments: list[str] = []
    for n, (name, alias, has_default) in enumerate(fields):
        v = f"v{n}"
        inner, nullable = _optional(hints[name])
        if inner in {bool, int, str}:
            scope[f"h{n}"] = inner
            convert = [f"if type({v}) is not h{n}:", f"    raise unsupported(h{n}, {v})"]
        else:
            scope[f"d{n}"] = _decoder(inner)
            convert = [f"{v} = d{n}({v})"]
        if nullable:
            convert = [f"if {v} is not None:", *(f"    {line}" for line in convert)]
        if has_default:
            body.append(f"    {v} = data.get({name!r}, ABSENT)")
            body.append(f"    if {v} is not ABSENT:")
            body.extend(f"        {line}" for line in convert)
            body.append(f"        given[{alias!r}] = {v}")
        else:
            body.append(f"    {v} = data[{name!r}]")
            body.extend(f"    {line}" for line in convert)
            arguments.append(f"{alias}={v}")
    if len(required) < len(names):
        test = "not (data.keys() <= names and data.keys() >= required)"
        arguments.append("**given")
        body.insert(0, "    given = {}")
    else:
        test = "data.keys() != names"
    lines = [
        "def decode(data):",
        f"    if not isinstance(data, dict) or {test}:",
        "        return checked(data)",
        *body,
        f"    return cls({', '.join(arguments)})",
    ]
    return cast("Decoder", _compiled("decode", cls, lines, scope))


def _checked_decoder(cls: type) -> Decoder:
    """The decoder of an attrs class for data that may lack fields or hold unknown ones."""
    hints = _hints(cls)
    fields = _fields(cls)
    names = frozenset(name for name, _, _ in fields)
    required = [name for name, _, has_default in fields if not has_default]
    plan = [(name, alias, _decoder(hints[name])) for name, alias, _ in fields]

    def decode_attrs(data: JsonValue) -> object:
        if not isinstance(data, dict):
            raise _unsupported(cls, data)
        if not names.issuperset(data):
            unknown = data.keys() - names
            raise StoredDataError(
                cls.__name__,
                f"holds field(s) {', '.join(sorted(unknown))} that this version of "
                "cabinet_billing does not know: upgrade the library (nothing was dropped)",
            )
        missing = [name for name in required if name not in data]
        if missing:
            raise StoredDataError(
                cls.__name__,
                f"lacks field(s) {', '.join(missing)} that have no default: "
                "run `cabinet-billing db upgrade` to bring the stored data up to date",
            )
        return cls(
            **{
                alias: field_decoder(data[name])
                for name, alias, field_decoder in plan
                if name in data
            }
        )

    return decode_attrs


def _enum_decoder(hint: type[enum.Enum]) -> Decoder:
    allowed = ", ".join(repr(m.value) for m in hint)
    by_value = {m._value_: m for m in hint}

    def member(data: JsonValue) -> object:
        try:
            return by_value[data]  # as the enumeration's own look-up, without its calls
        except (KeyError, TypeError):
            pass
        try:
            return hint(data)
        except ValueError:
            raise StoredDataError(
                hint.__name__, f"value {data!r} is none of {allowed}: upgrade the library"
            ) from None

    return member


def _scalar_decoder(hint: type) -> Decoder:
    refuse = _refuse(hint)
    if issubclass(hint, moneyed.Money):

        def money(data: JsonValue) -> object:
            if isinstance(data, dict):
                return Money(Decimal(str(data["amount"])), str(data["currency"]))
            return refuse(data)

        return money
    if issubclass(hint, enum.Enum):
        return _enum_decoder(hint)
    if hint in {bool, int, str}:
        return lambda data: data if type(data) is hint else refuse(data)
    parsers: dict[type, Callable[[str], object]] = {
        Decimal: Decimal,
        datetime: datetime.fromisoformat,
        date: date.fromisoformat,
        bytes: lambda text: base64.b64decode(text.encode("ascii"), validate=True),
        ipaddress.IPv4Address: ipaddress.IPv4Address,
        ipaddress.IPv6Address: ipaddress.IPv6Address,
    }
    parse = parsers.get(hint)
    if parse is not None:
        parser = parse
        return lambda data: parser(data) if isinstance(data, str) else refuse(data)
    if hint is _NONE:
        return lambda data: None if data is None else refuse(data)
    return refuse


def canonical(data: JsonValue) -> str:
    """The canonical JSON text of JSON data (keys sorted, no spaces), as :func:`dumps` writes.

    >>> canonical({"b": ["1.50"], "a": None})
    '{"a":null,"b":["1.50"]}'
    """
    return _CANONICAL.encode(data)


# One encoder for every payload: ``json.dumps`` with options builds a new one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
