"""How an aggregate becomes rows: real columns for what is queried, JSON for the rest.

A :class:`Shape` declares one aggregate's table: which values of the aggregate are
columns (:class:`Col`: a path into the aggregate's fields and a :class:`Kind`), which of
its collections are rows of child tables (:class:`Children`), and which columns are
derived from the aggregate for queries only (an invoice's ``amount_due``). What no
column holds stays in the row's ``data`` JSON, written by the codec
(:mod:`cabinet_billing.adapters.sql.codec`) and marked with its format version
(``"$v"``), so that a later library can upgrade it on read.

The columns are the truth for what they hold: an amount lives in its ``NUMERIC``
column and nowhere else. Reading puts the columns back into the JSON at their paths and
decodes the whole through the classes' constructors, so a stored aggregate passes the
same validation as a new one.

An :class:`Image` is what one aggregate looks like in the database: its row and the
rows of its children, as plain column values. The store keeps the image it read and
writes only the rows whose image changed.

>>> from cabinet_billing.domain.payer import PayerBook
>>> shape = Shape("payer_books", PayerBook, cols=(Col("account_id", Kind.ID),))
>>> image = shape.image(PayerBook("acc-1"), {})
>>> image.row
{'account_id': 'acc-1', 'data': '{"$v":1,"_payers":[],"_services":[]}'}
>>> shape.assemble(image.row, {})
PayerBook(account_id='acc-1', _payers={}, _services={})
"""

from __future__ import annotations

import enum
import functools
import json
import operator
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from cabinet_billing.adapters.sql.codec import (
    Encoder,
    JsonValue,
    canonical,
    decode,
    encode,
    encoder,
    field_hint,
)
from cabinet_billing.adapters.sql.errors import StoredDataError
from cabinet_billing.domain.money import currency_places

__all__ = [
    "AMOUNT_PLACES",
    "FORMAT_VERSION",
    "Children",
    "Col",
    "Form",
    "Image",
    "Kind",
    "Recomputed",
    "Shape",
]

FORMAT_VERSION = 1
"""The version of the JSON payloads this library writes (``"$v"`` in each ``data``)."""

AMOUNT_PLACES = 4
"""Decimal places of an amount column: the accrual precision of the library."""

_VERSION = "$v"

Path = tuple[str, ...]
Values = dict[str, object]


class Kind(enum.Enum):
    """What a column holds, and so its SQL type."""

    ID = "id"
    """An identifier (``VARCHAR(200)``)."""
    TEXT = "text"
    """A short text: a name, a code, an enum's value (``VARCHAR(200)``)."""
    LONG_TEXT = "long_text"
    """A text of any length (``TEXT``)."""
    INT = "int"
    """An integer (``BIGINT``)."""
    BOOL = "bool"
    """A flag (``BOOLEAN``)."""
    DATE = "date"
    """A calendar day (``DATE``)."""
    INSTANT = "instant"
    """An aware instant, kept in UTC (``TIMESTAMP WITH TIME ZONE``)."""
    AMOUNT = "amount"
    """A money amount (``NUMERIC(38, 4)``) whose currency is another column."""
    RATE = "rate"
    """A decimal such as a tax rate (``NUMERIC(12, 6)``)."""
    CURRENCY = "currency"
    """An ISO 4217 code (``CHAR(3)``)."""
    SORT_KEY = "sort_key"
    """A text to sort by, compared character by character (``TEXT``, ``COLLATE "C"`` on
    PostgreSQL, whose default collation would order it by the language's rules)."""


@attrs.frozen(cache_hash=True)
class Col:
    """A column of a shape's table.

    Args:
        name: the column's name.
        kind: what it holds.
        path: where its value is in the aggregate's fields, dotted (``"total.net"``);
            default: the column's name. For an :attr:`Kind.AMOUNT` it points at the
            ``Money``; a :attr:`Kind.CURRENCY` column that only carries the currency of
            amount columns has ``path=""``.
        nullable: whether the value may be None.
        currency: for an amount, the name of the column holding its currency.
        derive: for a column computed from the aggregate (queries only): the function
            computing it. Such a column is written, never read back.
        index: whether to index the column (with ``account_id`` first).
    """

    name: str
    kind: Kind
    path: str | None = None
    nullable: bool = False
    currency: str | None = None
    derive: Callable[[Any], object] | None = attrs.field(default=None, eq=False)
    index: bool = False

    @property
    def steps(self) -> Path:
        """The path as steps; empty for a column not read from the fields."""
        return _split(self.name if self.path is None else self.path)

    @property
    def stored(self) -> bool:
        """Whether the column's value is read back into the aggregate."""
        return self.derive is None and bool(self.steps)


class Form(enum.Enum):
    """How a collection of children is held by its parent."""

    LIST = "list"
    """A list or tuple: rows keep the position (and a key, when the element has one)."""
    DICT = "dict"
    """A dictionary: rows keep the key and the position (insertion order)."""
    SET = "set"
    """A set of strings: one row per member, the member is the key."""
    OPTIONAL = "optional"
    """An optional value: one row when present, none when None."""


@attrs.frozen(cache_hash=True)
class Children:
    """A collection of an aggregate kept as rows of a child table.

    Args:
        table: the child table's name (before the store's prefix).
        path: where the collection is in the aggregate's fields, dotted.
        form: how the parent holds it.
        key: the column identifying a child within its parent (``position`` when None).
        key_path: the element's field that holds the key, when it has one.
        cols: the columns of an element.
        inherit: the element's fields that equal the parent's account id.
        payload: whether what no column holds is kept as JSON (False: nothing is left).
        unique: column names whose values are unique (besides the key).
    """

    table: str
    path: str
    form: Form
    key: str | None = None
    key_path: str | None = None
    cols: tuple[Col, ...] = ()
    inherit: tuple[str, ...] = ()
    payload: bool = True
    unique: tuple[str, ...] = ()

    @property
    def steps(self) -> Path:
        """The path as steps."""
        return _split(self.path)

    @property
    def identity(self) -> str:
        """The column that identifies a child within its parent."""
        return self.key or "position"

    @property
    def positioned(self) -> bool:
        """Whether rows keep a position (the order of the collection)."""
        return self.form in {Form.LIST, Form.DICT}


@attrs.frozen(cache_hash=True)
class Recomputed:
    """A field the aggregate can compute from its other fields (an index over its children).

    It is left out of the row while it equals what :attr:`compute` gives and set from it
    when read; a value that differs is kept in the JSON as it is.
    """

    name: str
    compute: Callable[[Any], object] = attrs.field(eq=False)


@attrs.define
class Image:
    """An aggregate as rows: its row and its children's rows by table and identity."""

    row: Values
    children: dict[str, dict[tuple[object, ...], Values]] = attrs.Factory(dict)
    elements: dict[str, dict[tuple[object, ...], object]] = attrs.Factory(dict)
    """The child objects the rows were made from (or decoded into), by table and identity."""


_R = typing.TypeVar("_R")


_PLANS_HELD = 1024


def _by_identity(
    make: Callable[[tuple[Col, ...]], _R],
) -> Callable[[tuple[Col, ...]], _R]:
    """Cache a plan per tuple of columns by the tuple's identity.

    Hashing a tuple of columns hashes each column: the plans are looked up for every row
    written or read, and the tuples are those of the shapes, held for good. The tuple is
    kept with its plan, so its identity is never reused while the entry lives; an equal
    tuple that is another object gets its own (equal) plan.
    """
    plans: dict[int, tuple[tuple[Col, ...], _R]] = {}

    @functools.wraps(make)
    def planned(cols: tuple[Col, ...]) -> _R:
        found = plans.get(id(cols))
        if found is None or found[0] is not cols:
            if len(plans) >= _PLANS_HELD:  # tuples made on the fly: keep the cache small
                plans.clear()
            found = plans[id(cols)] = (cols, make(cols))
        return found[1]

    return planned


@functools.cache
def _split(path: str) -> Path:
    """A dotted path as its steps (none for an empty path)."""
    return tuple(path.split(".")) if path else ()


_MISSING = object()
_SELF: Path = ("@",)
"""The path of a column that holds a whole element (a balance is a ``Money``)."""


def _pop(data: dict[str, JsonValue], steps: Path) -> object:
    """Take the value at a path out of JSON data; None when a step on the way is None."""
    if len(steps) == 2:  # noqa: PLR2004 - the usual path of a column: a field of a field
        return _pop_two(data, steps)
    if len(steps) == 1:
        value = data.pop(steps[0], _MISSING)
        if value is _MISSING:
            raise StoredDataError(steps[0], "has no value to store")
        return value
    node: Any = data
    trail: list[tuple[dict[str, JsonValue], str]] = []
    for step in steps[:-1]:
        child = node.get(step, _MISSING)
        if child is None:
            return None
        if not isinstance(child, dict):
            raise StoredDataError(".".join(steps), f"{step!r} is not an object in {node!r}")
        trail.append((node, step))
        node = child
    value = node.pop(steps[-1], _MISSING)
    if value is _MISSING:
        raise StoredDataError(".".join(steps), "has no value to store")
    for parent, step in reversed(trail):  # leave no empty object behind
        if parent[step]:
            break
        del parent[step]
    return value


def _pop_two(data: dict[str, JsonValue], steps: Path) -> object:
    """:func:`_pop` of a path of two steps, without walking."""
    first, last = steps
    node = data.get(first, _MISSING)
    if node is None:
        return None
    if not isinstance(node, dict):
        raise StoredDataError(".".join(steps), f"{first!r} is not an object in {data!r}")
    value = node.pop(last, _MISSING)
    if value is _MISSING:
        raise StoredDataError(".".join(steps), "has no value to store")
    if not node:  # leave no empty object behind
        del data[first]
    return value


def _put(data: dict[str, JsonValue], steps: Path, value: JsonValue) -> None:
    """Put a value at a path of JSON data, making the objects on the way."""
    node: Any = data
    for step in steps[:-1]:
        child = node.get(step, _MISSING)
        if child is None:
            if value is None or value == []:
                return
            raise StoredDataError(".".join(steps), f"{value!r} stored under an empty {step!r}")
        if child is _MISSING:
            child = node[step] = {}
        node = child
    node[steps[-1]] = value


def _walk(obj: object, steps: Path) -> object:
    for step in steps:
        if obj is None:
            return None
        obj = getattr(obj, step)
    return obj


@functools.cache
def _hint_at(cls: type, steps: Path) -> object:
    hint: object = cls
    for step in steps:
        owner = _strip_optional(hint)
        if not isinstance(owner, type):
            raise StoredDataError(".".join(steps), f"cannot follow {step!r} through {hint!r}")
        hint = field_hint(owner, step)
    return hint


def _strip_optional(hint: object) -> object:
    args = typing.get_args(hint)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


_places = functools.lru_cache(maxsize=256)(currency_places)
"""The places of a currency by its code (codes read from rows: a few)."""


def canonical_amount(value: Decimal, currency: str) -> Decimal:
    """An amount with its currency's places, or more where it has more (up to 4).

    A ``NUMERIC(38, 4)`` column gives ``100.0000`` back for ``100.00``; reading and
    writing both pass through this, so equal amounts compare equal as images.

    >>> canonical_amount(Decimal("100.0000"), "RUB"), canonical_amount(Decimal("22.4137"), "RUB")
    (Decimal('100.00'), Decimal('22.4137'))
    """
    places = _places(currency)
    if value.as_tuple().exponent == -places and places <= AMOUNT_PLACES:
        return value  # already in its currency's places: what quantizing would give
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if needed > AMOUNT_PLACES:
        raise StoredDataError(
            "amount", f"{value} {currency} has more than {AMOUNT_PLACES} decimal places"
        )
    places = max(places, needed)
    return value.quantize(Decimal(1).scaleb(-places))


def canonical_rate(value: Decimal) -> Decimal:
    """A rate without trailing zeros and never in exponent notation (``20``, ``7.5``)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def _to_column(col: Col, value: Any, row: Values) -> object:  # noqa: ANN401, C901, PLR0911 - one return per kind; any JSON value
    """A JSON value of the codec as the column's value."""
    if value is None:
        if not col.nullable:
            raise StoredDataError(col.name, "is empty but the column needs a value")
        return None
    kind = col.kind
    if kind is Kind.AMOUNT:
        currency = value["currency"]
        holder = typing.cast("str", col.currency)
        if row.setdefault(holder, currency) != currency:
            raise StoredDataError(
                col.name, f"is in {currency} but {holder} of the same row is {row[holder]}"
            )
        return canonical_amount(Decimal(value["amount"]), currency)
    if kind is Kind.DATE:
        return date.fromisoformat(value)
    if kind is Kind.INSTANT:
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise StoredDataError(col.name, f"{instant} has no time zone")
        return instant.astimezone(UTC)
    if kind is Kind.RATE:
        return canonical_rate(Decimal(value))
    if kind is Kind.BOOL:
        return bool(value)
    if kind is Kind.INT:
        return int(value)
    return value


def _from_column(col: Col, value: Any, row: Mapping[str, object]) -> JsonValue:  # noqa: ANN401, PLR0911 - one return per kind; any column value
    """A column's value as the codec's JSON value."""
    if value is None:
        return None
    kind = col.kind
    if kind is Kind.AMOUNT:
        currency = str(row[typing.cast("str", col.currency)])
        amount = canonical_amount(_decimal(value), currency)
        return {"amount": str(amount), "currency": currency}
    if kind is Kind.DATE:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is Kind.INSTANT:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is Kind.RATE:
        return str(canonical_rate(_decimal(value)))
    if kind is Kind.BOOL:
        return bool(value)
    return value  # type: ignore[no-any-return]


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def read_image_values(cols: tuple[Col, ...], row: Mapping[str, object]) -> Values:
    """The canonical values of a row as read: what :meth:`Shape.image` would write."""
    values: Values = {}
    for name, kind, currency in _image_plan(cols):
        value: Any = row[name]
        if value is not None:
            if kind is Kind.AMOUNT:
                value = canonical_amount(_decimal(value), str(row[currency]))
            elif kind is Kind.RATE:
                value = canonical_rate(_decimal(value))
            elif kind is Kind.INSTANT:
                value = value.astimezone(UTC)
        values[name] = value
    return values


@_by_identity
def _image_plan(cols: tuple[Col, ...]) -> tuple[tuple[str, Kind, str], ...]:
    """Each column's name, kind and currency column, worked out once per tuple of columns."""
    return tuple((c.name, c.kind, c.currency or "") for c in cols)


Convert = Callable[[Any], object]


class _Step(typing.NamedTuple):
    """How one column goes between a row and the JSON data, worked out once per column.

    ``field`` is the one field holding the value (None for a longer path or a whole
    element); ``write`` and ``read`` turn the codec's JSON value into the column's and
    back (None: the value as it is; an amount, which needs its row, takes ``_to_column``
    and ``_from_column``). A tuple: the loops over the columns of each row unpack it.
    """

    col: Col
    name: str
    amount: bool
    steps: Path
    field: str | None
    write: Convert | None
    read: Convert | None


_AS_IT_IS = frozenset({Kind.ID, Kind.TEXT, Kind.LONG_TEXT, Kind.CURRENCY})


def _step(col: Col) -> _Step:
    steps = col.steps
    kind = col.kind
    write: Convert | None = functools.partial(_to_column, col, row={})
    read: Convert | None = functools.partial(_from_column, col, row={})
    if kind in _AS_IT_IS:
        write = read = None
    elif kind is Kind.DATE:
        write, read = date.fromisoformat, _ISO
    elif kind is Kind.INT:
        write, read = int, None
    elif kind is Kind.BOOL:
        write = read = bool
    elif kind is Kind.INSTANT:
        read = _ISO
    field = steps[0] if len(steps) == 1 and steps != _SELF else None
    return _Step(col, col.name, kind is Kind.AMOUNT, steps, field, write, read)


_ISO = operator.methodcaller("isoformat")


@_by_identity
def _write_plan(
    cols: tuple[Col, ...],
) -> tuple[tuple[_Step, ...], tuple[Col, ...], tuple[str, ...]]:
    """How :meth:`Shape._row` fills a row, worked out once per tuple of columns.

    The columns read from the fields with their paths (in order), the derived ones, and
    the currency columns that only carry the currency of amounts.
    """
    fields = tuple(_step(c) for c in cols if c.derive is None and c.steps)
    derived = tuple(c for c in cols if c.derive is not None)
    carriers = tuple(c.name for c in cols if c.kind is Kind.CURRENCY and not c.steps)
    return fields, derived, carriers


@_by_identity
def _read_plan(cols: tuple[Col, ...]) -> tuple[_Step, ...]:
    """The columns read back into the fields, with their paths, once per tuple of columns."""
    return tuple(_step(c) for c in cols if c.stored or c.steps == _SELF)


def _read_into(
    data: dict[str, Any], plan: tuple[_Step, ...], row: Mapping[str, object]
) -> dict[str, Any]:
    """The JSON data with the values of a row's columns put back at their paths.

    A column holding a whole element (a balance is a ``Money``) is the element's data.
    """
    for col, name, amount, steps, field, _, read in plan:
        value: Any = row[name]
        if value is not None:
            if amount:
                value = _from_column(col, value, row)
            elif read is not None:
                value = read(value)
        if field is not None:
            data[field] = value
        elif steps == _SELF:
            data = value
        else:
            _put(data, steps, value)
    return data


@functools.cache
def _account_steps(shape: Shape) -> Path:
    return next(c for c in shape.cols if c.name == "account_id").steps


def _payload(data: dict[str, JsonValue], *, versioned: bool = True) -> str | None:
    if not data and not versioned:
        return None
    if versioned:
        data[_VERSION] = FORMAT_VERSION  # the data is the image's own, made for this payload
    return canonical(data)


Upgrade = Callable[[dict[str, JsonValue]], dict[str, JsonValue]]


def _load_payload(text: str | None, table: str, upgrades: Mapping[int, Upgrade]) -> dict[str, Any]:
    if text is None:
        return {}
    data: dict[str, Any] = json.loads(text)
    if not isinstance(data, dict):
        raise StoredDataError(table, f"holds {text!r} where an object was expected")
    version = data.pop(_VERSION, 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoredDataError(
            table,
            f"holds data of format {version!r}, newer than {FORMAT_VERSION} that this "
            "version of cabinet_billing reads: upgrade the library",
        )
    while version < FORMAT_VERSION:
        data = upgrades[version](data)
        version += 1
    return data


@attrs.frozen(cache_hash=True)
class Shape:
    """One aggregate's table: its columns, its children and what it recomputes.

    Args:
        table: the table's name (before the store's prefix).
        cls: the aggregate's class.
        cols: the columns; the first is the aggregate's key (``account_id`` for one
            aggregate per account).
        children: the collections kept in child tables.
        recomputed: fields left out because the aggregate recomputes them.
        upgrades: per format version, the function turning a payload of that version
            into the next one.
    """

    table: str
    cls: type
    cols: tuple[Col, ...]
    children: tuple[Children, ...] = ()
    recomputed: tuple[Recomputed, ...] = ()
    upgrades: Mapping[int, Upgrade] = attrs.field(factory=dict, eq=False)
    _plan: _Plan | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def key(self) -> Col:
        """The column that identifies the aggregate."""
        return self.cols[0]

    @property
    def per_account(self) -> bool:
        """Whether there is one aggregate per account (keyed by ``account_id``)."""
        return self.key.name == "account_id"

    def key_of(self, aggregate: object) -> str:
        """The aggregate's key."""
        return str(_walk(aggregate, self.key.steps))

    def account_of(self, aggregate: object) -> str:
        """The aggregate's account id."""
        return str(_walk(aggregate, _account_steps(self)))

    # ------------------------------------------------------------------ writing

    def image(
        self, aggregate: object, read: Mapping[str, Mapping[tuple[object, ...], object]]
    ) -> Image:
        """The rows of an aggregate.

        Args:
            aggregate: the aggregate.
            read: the child objects as read, by table and identity: a frozen child that
                is still the object read is not encoded again.

        Returns:
            The image, each value as its column holds it.
        """
        plan = self._planned()
        data = typing.cast("dict[str, JsonValue]", plan.encode(aggregate))
        for recomputed in self.recomputed:
            value = getattr(aggregate, recomputed.name)
            if value != recomputed.compute(aggregate):
                data[recomputed.name] = encode(value, field_hint(self.cls, recomputed.name))
        image = Image(row={})
        account = str(_walk(aggregate, plan.account))
        parent: Values = {"account_id": account}
        if plan.parent is not None:
            parent[plan.parent] = str(_walk(aggregate, plan.key))
        for collection in plan.collections:
            rows, elements = self._rows_of(collection, aggregate, account, read)
            table = collection.spec.table
            image.children[table] = {k: {**parent, **v} for k, v in rows.items()}
            image.elements[table] = elements
        image.row = self._row(self.cols, data, aggregate)
        image.row["data"] = _payload(data)
        return image

    def _planned(self) -> _Plan:
        """How the shape's aggregates become rows, worked out on first use."""
        plan = self._plan
        if plan is None:
            collections = tuple(_collection_plan(self, c) for c in self.children)
            plan = _Plan(
                _encoder_without(self.cls, _omitted(self)),
                _account_steps(self),
                self.key.steps,
                None if self.per_account else self.key.name,
                collections,
                {c.spec.table: c for c in collections},
                tuple(sorted(collections, key=lambda c: len(c.steps))),
                self.parent_columns(),
            )
            object.__setattr__(self, "_plan", plan)
        return plan

    @staticmethod
    def _row(cols: tuple[Col, ...], data: dict[str, JsonValue], obj: object) -> Values:
        row: Values = {}
        fields, derived, carriers = _write_plan(cols)
        for col, name, amount, steps, field, write, _ in fields:
            if field is not None:
                value = data.pop(field, _MISSING)
                if value is _MISSING:
                    raise StoredDataError(field, "has no value to store")
            elif steps == _SELF:
                value = dict(data)
                data.clear()
            else:
                value = _pop(data, steps)
            if value is None or amount:
                row[name] = _to_column(col, value, row)
            else:
                row[name] = value if write is None else write(value)
        for col in derived:
            derive = typing.cast("Callable[[object], object]", col.derive)
            value = derive(obj)
            if hasattr(value, "amount") and col.kind is Kind.AMOUNT:
                value = {"amount": str(value.amount), "currency": value.currency.code}  # type: ignore[attr-defined]
            elif isinstance(value, enum.Enum):
                value = value.value
            row[col.name] = _to_column(col, value, row)
        for name in carriers:
            row.setdefault(name, None)
        return row

    def elements_of(self, aggregate: object) -> dict[str, dict[tuple[object, ...], object]]:
        """The child objects of an aggregate by table and identity, with their positions."""
        return {
            c.spec.table: {i: (p, e) for i, p, _, e in _items(c, aggregate)}
            for c in self._planned().collections
        }

    def _child_rows(
        self,
        children: Children,
        aggregate: object,
        account: str,
        read: Mapping[str, Mapping[tuple[object, ...], object]],
    ) -> tuple[dict[tuple[object, ...], Values], dict[tuple[object, ...], object]]:
        """The rows of one collection of an aggregate, and its elements, by identity."""
        return self._rows_of(self._collection_of(children), aggregate, account, read)

    def _collection_of(self, children: Children) -> _Collection:
        found = self._planned().by_table.get(children.table)
        if found is None or (found.spec is not children and found.spec != children):
            return _collection_plan(self, children)
        return found

    def _rows_of(
        self,
        collection: _Collection,
        aggregate: object,
        account: str,
        read: Mapping[str, Mapping[tuple[object, ...], object]],
    ) -> tuple[dict[tuple[object, ...], Values], dict[tuple[object, ...], object]]:
        before = read.get(collection.spec.table, {})
        rows: dict[tuple[object, ...], Values] = {}
        elements: dict[tuple[object, ...], object] = {}
        for identity, position, key, element in _items(collection, aggregate):
            elements[identity] = (position, element)
            earlier = before.get(identity)
            if (
                isinstance(earlier, tuple)
                and earlier[0] == position
                and earlier[1] is element
                and _frozen(element)
            ):
                rows[identity] = _UNCHANGED
                continue
            rows[identity] = self._element_row(collection, element, key, position, account)
        return rows, elements

    def _element_row(  # noqa: C901 - one step per part of a child row
        self, collection: _Collection, element: object, key: object, position: int, account: str
    ) -> Values:
        children = collection.spec
        if children.form is Form.SET:
            return {collection.identity: key}
        data = collection.encode(element)
        if not isinstance(data, dict):
            raise StoredDataError(children.table, f"element {data!r} is not an object")
        for name in children.inherit:
            if data.pop(name) != account:
                raise StoredDataError(children.table, f"{name} differs from its account's")
        values: Values = {}
        if collection.key_steps is not None:
            values[collection.identity] = _pop(data, collection.key_steps)
            if children.form is Form.DICT and values[collection.identity] != key:
                raise StoredDataError(children.table, f"key {key!r} differs from its element's")
        elif children.form is Form.DICT:
            values[collection.identity] = key
        if collection.positioned:
            values["position"] = position
        values.update(self._row(children.cols, data, element))
        if children.payload:
            values["data"] = _payload(data)
        elif data:
            raise StoredDataError(children.table, f"has no place for {sorted(data)}")
        return values

    # ------------------------------------------------------------------ reading

    def assemble(
        self, row: Mapping[Any, Any], children: Mapping[str, Sequence[Mapping[Any, Any]]]
    ) -> object:
        """The aggregate from its row and its children's rows (each in order).

        Raises:
            StoredDataError: when the rows do not make an aggregate of this library.
        """
        data = _load_payload(typing.cast("str | None", row["data"]), self.table, self.upgrades)
        data = _read_into(data, _read_plan(self.cols), row)
        account = str(row["account_id"])
        for collection in self._planned().by_depth:
            rows = children.get(collection.spec.table, [])
            _put(data, collection.steps, self._elements(collection, rows, account, bool(rows)))
        aggregate = decode(typing.cast("JsonValue", data), self.cls)
        for recomputed in self.recomputed:
            if recomputed.name not in data:
                object.__setattr__(aggregate, recomputed.name, recomputed.compute(aggregate))
        return aggregate

    def _collection(
        self, spec: Children, rows: Sequence[Mapping[Any, Any]], account: str, present: bool
    ) -> JsonValue:
        """A collection's JSON data from its rows (each in order)."""
        return self._elements(self._collection_of(spec), rows, account, present)

    def _elements(
        self,
        collection: _Collection,
        rows: Sequence[Mapping[Any, Any]],
        account: str,
        present: bool,
    ) -> JsonValue:
        spec, identity = collection.spec, collection.identity
        if spec.form is Form.SET:
            return [typing.cast("JsonValue", r[identity]) for r in rows]
        elements: list[JsonValue] = []
        read, key_steps, table, upgrades = (
            collection.read,
            collection.key_steps,
            spec.table,
            self.upgrades,
        )
        for row in rows:
            data = _load_payload(row.get("data"), table, upgrades)
            for name in spec.inherit:
                data[name] = account
            data = _read_into(data, read, row)
            if key_steps is not None:
                _put(data, key_steps, row[identity])
            if spec.form is Form.DICT:
                elements.append([row[identity], data])
            else:
                elements.append(data)
        if spec.form is Form.OPTIONAL:
            if not present:
                return None
            return elements[0]
        return elements

    def read_image(
        self, row: Mapping[Any, Any], children: Mapping[str, Sequence[Mapping[Any, Any]]]
    ) -> Image:
        """The image of rows as read, to compare with what a commit would write."""
        values = read_image_values(self.cols, row)
        values["data"] = row["data"]
        image = Image(row=values)
        plan = self._planned()
        for collection in plan.collections:
            spec = collection.spec
            cols = self.child_columns(spec)
            key = collection.identity
            optional = spec.form is Form.OPTIONAL
            found: dict[tuple[object, ...], Values] = {}
            for child in children.get(spec.table, ()):
                values = read_image_values(cols, child)
                for name in plan.parent_columns:
                    values[name] = child[name]
                if collection.positioned:
                    values["position"] = child["position"]
                if not optional:
                    values[key] = child[key]
                if spec.payload:
                    values["data"] = child["data"]
                found[() if optional else (child[key],)] = values
            image.children[spec.table] = found
        return image

    def parent_columns(self) -> tuple[str, ...]:
        """The columns of a child row that name its parent."""
        return ("account_id",) if self.per_account else ("account_id", self.key.name)

    @staticmethod
    def child_columns(spec: Children) -> tuple[Col, ...]:
        """The value columns of a child table (no keys, position or payload)."""
        return spec.cols


@functools.cache
def _omitted(shape: Shape) -> frozenset[Path]:
    """The fields of a shape's aggregate kept elsewhere than its row's JSON."""
    return frozenset({c.steps for c in shape.children} | {(r.name,) for r in shape.recomputed})


@functools.cache
def _nested(shape: Shape, children: Children) -> frozenset[Path]:
    """The fields of a child kept in child tables of their own, from the child."""
    nested = [c for c in shape.children if c.path.startswith(children.path + ".")]
    return frozenset(c.steps[len(children.steps) :] for c in nested)


@functools.cache
def _element_hint(cls: type, children: Children) -> tuple[object, object]:
    """The declared type of a collection and of its elements."""
    hint = _strip_optional(_hint_at(cls, children.steps))
    args = typing.get_args(hint)
    if children.form is Form.OPTIONAL:
        return hint, hint
    if children.form is Form.DICT:
        return hint, args[1]
    return hint, args[0]


@attrs.frozen
class _Collection:
    """How a collection of a shape becomes child rows, worked out once per shape."""

    spec: Children
    steps: Path
    encode: Encoder
    """The encoder of an element, leaving out what child tables of its own hold."""
    key_steps: Path | None
    identity: str
    positioned: bool
    read: tuple[_Step, ...]
    """The columns of an element read back into its fields."""


@attrs.frozen
class _Plan:
    """How a shape's aggregates become rows, worked out once per shape."""

    encode: Encoder
    """The encoder of an aggregate, leaving out what child tables and recomputing hold."""
    account: Path
    key: Path
    parent: str | None
    """The column naming the parent in child rows besides ``account_id`` (None: none)."""
    collections: tuple[_Collection, ...]
    by_table: Mapping[str, _Collection]
    by_depth: tuple[_Collection, ...]
    """The collections, the shallower first (so a parent is in place for its own)."""
    parent_columns: tuple[str, ...]


def _collection_plan(shape: Shape, children: Children) -> _Collection:
    element_hint = _element_hint(shape.cls, children)[1]
    omit = _nested(shape, children)
    return _Collection(
        children,
        children.steps,
        _encoder_without(element_hint, omit) if omit else encoder(element_hint),
        None if children.key_path is None else _split(children.key_path),
        children.identity,
        children.positioned,
        _read_plan(children.cols),
    )


Item = tuple[tuple[object, ...], int, object, object]


def _items(collection: _Collection, aggregate: object) -> list[Item]:
    """Each element of a collection: its identity, position, key, and the element."""
    found: Any = _walk(aggregate, collection.steps)
    if found is None:
        return []
    form = collection.spec.form
    if form is Form.OPTIONAL:
        return [((), 0, None, found)]
    if form is Form.DICT:
        return [((k,), p, k, e) for p, (k, e) in enumerate(found.items())]
    if form is Form.SET:
        return [((m,), p, m, m) for p, m in enumerate(sorted(found))]
    key_steps = collection.key_steps
    if key_steps is not None:
        return [((_walk(e, key_steps),), p, p, e) for p, e in enumerate(found)]
    return [((p,), p, p, e) for p, e in enumerate(found)]


_UNCHANGED: Values = {"$unchanged": True}
"""The row of a frozen child that is the object read: left as it is."""


def is_unchanged(values: Values) -> bool:
    """Whether a child row of an image is one left as it was read."""
    return values is _UNCHANGED or values.get("$unchanged") is True


def _frozen(value: object) -> bool:
    cls = type(value)
    return attrs.has(cls) and cls.__setattr__ is _FROZEN_SETATTR


@attrs.frozen
class _Probe:
    """A frozen attrs class: its ``__setattr__`` tells frozen classes apart."""


_FROZEN_SETATTR = _Probe.__setattr__


@functools.cache
def _encoder_without(hint: object, omit: frozenset[Path]) -> Encoder:
    """The encoder of an attrs value leaving out the fields at some paths (kept elsewhere)."""
    cls = _strip_optional(hint)
    if not isinstance(cls, type) or not attrs.has(cls):

        def refuse(value: object) -> JsonValue:
            if value is None:
                return None
            raise StoredDataError(str(hint), "only attrs classes keep children")

        return refuse
    skip, deeper = _split_omitted(cls, omit)
    here = encoder(cls, skip=skip)
    inner = tuple((name, _encoder_without(field, rest)) for name, field, rest in deeper)

    def encode_without(value: object) -> JsonValue:
        if value is None:
            return None
        data = typing.cast("dict[str, JsonValue]", here(value))
        for name, encode_field in inner:
            data[name] = encode_field(getattr(value, name))
        return data

    return encode_without


@functools.cache
def _split_omitted(
    cls: type, omit: frozenset[Path]
) -> tuple[frozenset[str], tuple[tuple[str, object, frozenset[Path]], ...]]:
    """The fields to leave out here, and those to encode leaving out some of their own."""
    here = {p[0] for p in omit if len(p) == 1}
    deeper: dict[str, set[Path]] = {}
    for p in omit:
        if len(p) > 1 and p[0] not in here:
            deeper.setdefault(p[0], set()).add(p[1:])
    return frozenset(here | set(deeper)), tuple(
        (name, field_hint(cls, name), frozenset(rest)) for name, rest in deeper.items()
    )
