"""The in-memory store and unit of work: the embedded default.

:class:`MemoryStore` holds committed state. A :class:`MemoryUnitOfWork` works on private
copies of the aggregates it loads (an identity map, like a database transaction) and
writes copies of them back only on :meth:`~MemoryUnitOfWork.commit`, so a change made
after a commit reaches the store only by the next one; an exception or a missing commit
leaves the store exactly as it was. One store serves one process; it is not
shared between threads.

>>> from cabinet_billing import Account
>>> store = MemoryStore()
>>> with MemoryUnitOfWork(store) as uow:
...     uow.accounts.add(Account.open("acc-1", "alice"))
...     uow.commit()
>>> with MemoryUnitOfWork(store) as uow:
...     uow.accounts.add(Account.open("acc-2", "bob"))   # not committed
>>> store.accounts.ids()
['acc-1']
"""

from __future__ import annotations

import bisect
import copy
import enum
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import Any, Generic, Self, TypeVar, cast, overload

import attrs

from cabinet_billing.adapters.memory.inbox import InboxRepository, InboxTable
from cabinet_billing.adapters.memory.outbox import OutboxRepository, OutboxTable
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.checks import is_shared
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import AccountDocuments
from cabinet_billing.domain.expense import Expense, ExpenseBook, ExpenseTotals, totals_of
from cabinet_billing.domain.invoice import Invoice, invoice_order
from cabinet_billing.domain.ledger import Ledger, ListHistory
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.service import ListServiceHistory, Service
from cabinet_billing.domain.support import Ticket
from cabinet_billing.errors import ConflictError, NotFoundError
from cabinet_billing.ports.listing import (
    ExpenseQuery,
    InvoiceQuery,
    PaymentQuery,
    Slice,
    Window,
    take,
)
from cabinet_billing.ports.repositories import AGGREGATE_REPOSITORIES, DUE_NOW

__all__ = ["MemoryStore", "MemoryUnitOfWork", "clone", "read_only"]

T = TypeVar("T")


class _Table(Generic[T]):
    """Committed rows of one aggregate, by id, with a secondary index by account.

    Each row has a version, raised by every commit that changes it, so that a unit of
    work can tell whether the row it read is still the committed one.
    """

    def __init__(self, kind: str, account_of: Callable[[T], str]) -> None:
        self.kind = kind
        self.rows: dict[str, T] = {}
        self.versions: dict[str, int] = {}
        self.by_account: dict[str, list[str]] = {}
        self._account_of = account_of
        self.views: dict[str, T] = {}
        """Read-only copies of committed rows (:func:`read_only`), made when first viewed."""

    def ids(self) -> list[str]:
        return sorted(self.rows)

    def put(self, key: str, row: T) -> None:
        if key not in self.rows:
            self.by_account.setdefault(self._account_of(row), []).append(key)
        self.rows[key] = row
        self.versions[key] = self.versions.get(key, 0) + 1
        self.views.pop(key, None)

    def view(self, key: str) -> T:
        """The committed row ``key`` to read: a read-only copy, made once per version."""
        found = self.views.get(key)
        if found is None:
            found = self.views[key] = read_only(self.rows[key])
        return found


class _Books(_Table[ExpenseBook]):
    """Committed expense books, and the ids of each one's unpaid expenses.

    A unit of work loads a book with its unpaid expenses only (see :class:`_Expenses`);
    this index keeps their ids in the order they were recorded, so a load reads no
    other expense. A committed book holds every expense; a commit replaces the changed
    ones (where they stood) and appends the new ones, and never changes an expense in
    place.
    """

    def __init__(self) -> None:
        super().__init__("expense book", lambda x: x.account_id)
        self.unpaid: dict[str, dict[str, None]] = {}

    def put(self, key: str, row: ExpenseBook, unpaid: dict[str, None] | None = None) -> None:
        """Store a book, with the index of its unpaid expenses (None: made when next read)."""
        super().put(key, row)
        if unpaid is None:
            self.unpaid.pop(key, None)
        else:
            self.unpaid[key] = unpaid

    def unpaid_of(self, key: str) -> dict[str, None]:
        """The ids of the committed book's unpaid expenses, in the order recorded."""
        found = self.unpaid.get(key)
        if found is None:
            stored = _expenses_of(self.rows[key])
            found = self.unpaid[key] = {i: None for i, e in stored.items() if not e.is_paid}
        return found


class _DueIndex:
    """The accounts' next event dates, with the accounts of each date (the due index).

    ``marks`` counts, per account, the commits that made it due: a schedule is kept only
    if none came after the unit of work that scheduled it read the account.
    """

    def __init__(self) -> None:
        self.dates: dict[str, date] = {}
        self.by_date: dict[date, set[str]] = {}
        self.days: list[date] = []
        """The dates in ``by_date``, sorted."""
        self.marks: dict[str, int] = {}

    def set(self, account_id: str, day: date) -> None:
        old = self.dates.get(account_id)
        if old == day:
            return
        if old is not None:
            held = self.by_date[old]
            held.discard(account_id)
            if not held:
                del self.by_date[old]
                self.days.pop(bisect.bisect_left(self.days, old))
        self.dates[account_id] = day
        if day not in self.by_date:
            self.by_date[day] = set()
            bisect.insort(self.days, day)
        self.by_date[day].add(account_id)

    def mark(self, account_id: str) -> None:
        self.marks[account_id] = self.marks.get(account_id, 0) + 1
        self.set(account_id, DUE_NOW)

    def due(self, day: date) -> list[str]:
        upto = bisect.bisect_right(self.days, day)
        return sorted(a for d in self.days[:upto] for a in self.by_date[d])


@attrs.define
class MemoryStore:
    """Committed state of every aggregate, kept in dictionaries."""

    accounts: _Table[Account] = attrs.field(factory=lambda: _Table("account", lambda a: a.id))
    users: _Table[AccountUsers] = attrs.field(
        factory=lambda: _Table("users of account", lambda u: u.account_id),
    )
    services: _Table[Service] = attrs.field(
        factory=lambda: _Table("service", lambda s: s.account_id),
    )
    tickets: _Table[Ticket] = attrs.field(
        factory=lambda: _Table("ticket", lambda t: t.account_id),
    )
    invoices: _Table[Invoice] = attrs.field(
        factory=lambda: _Table("invoice", lambda i: i.account_id),
    )
    payments: _Table[Payment] = attrs.field(
        factory=lambda: _Table("payment", lambda p: p.account_id),
    )
    ledgers: _Table[Ledger] = attrs.field(factory=lambda: _Table("ledger", lambda x: x.account_id))
    expenses: _Books = attrs.field(factory=_Books)
    payers: _Table[PayerBook] = attrs.field(
        factory=lambda: _Table("payers", lambda x: x.account_id)
    )
    documents: _Table[AccountDocuments] = attrs.field(
        factory=lambda: _Table("documents", lambda x: x.account_id),
    )
    profiles: _Table[BillingProfile] = attrs.field(
        factory=lambda: _Table("billing profile", lambda x: x.account_id),
    )
    invoice_numbers: dict[str, str] = attrs.field(factory=dict)
    open_by_service: dict[str, set[str]] = attrs.field(factory=dict)
    """The open invoices with a line for each service, by service id."""
    sequences: dict[str, int] = attrs.field(factory=dict)
    keys: set[str] = attrs.field(factory=set)
    fingerprints: dict[str, str] = attrs.field(factory=dict)
    """The fingerprints of the keys recorded with one."""
    outbox: OutboxTable = attrs.field(factory=OutboxTable)
    """Notifications queued by the use cases, delivered or waiting."""
    bank_reviews: _Table[BankReview] = attrs.field(
        factory=lambda: _Table("bank transfer for review", lambda r: r.account_id),
    )
    """Bank statement lines left for a person."""
    inbox: InboxTable = attrs.field(factory=InboxTable)
    """Every account's notification inbox and its users' read marks."""
    due: _DueIndex = attrs.field(factory=_DueIndex)
    """The next event date of every account (see :meth:`_Accounts.due`)."""


@attrs.frozen
class _Probe:
    """A frozen attrs class: its ``__setattr__`` tells frozen classes apart."""


_FROZEN_SETATTR = _Probe.__setattr__
_ATOMIC = (str, int, float, bool, bytes, type(None), Decimal, date, timedelta, enum.Enum)

_SHARED: set[type] = set()
"""The types whose values are never changed: a copy is the value itself."""
_COPIERS: dict[type, Callable[[Any], Any]] = {}
"""How to copy a value of each other type met so far."""


def clone(value: T) -> T:
    """A private copy of an aggregate that shares its immutable parts.

    Frozen attrs values, amounts, dates and enums never change, so the copy shares
    them; mutable attrs classes and containers are copied. Loading an aggregate with a
    long history therefore costs little more than loading a new one. What to do with a
    value is decided once per type, and kept.
    """
    return cast("T", _copy(value))


def _copy(value: Any) -> Any:  # noqa: ANN401 - any part of an aggregate
    """:func:`clone`, for the parts of a value (untyped: the parts are of every type)."""
    cls = type(value)
    if cls in _SHARED:
        return value
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _copier(cls)
        if copier is None:
            return value
    return copier(value)


def _copier(cls: type) -> Callable[[Any], Any] | None:
    """How to copy a value of ``cls`` (None: shared), decided once and kept."""
    if cls in _SHARED:
        return None
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _copier_of(cls)
        if copier is None:
            _SHARED.add(cls)
            return None
        _COPIERS[cls] = copier
    return copier


def _copier_of(cls: type) -> Callable[[Any], Any] | None:  # noqa: PLR0911 - one per kind
    """How to copy a value of ``cls``; None for a type whose values never change."""
    if issubclass(cls, _ATOMIC) or is_shared(cls):
        return None
    shared = getattr(cls, "__deepcopy__", None)
    if shared is not None:
        return lambda value: shared(value, {})
    if attrs.has(cls):
        if cls.__setattr__ is _FROZEN_SETATTR:
            return None
        return _attrs_copier(cls, tuple(field.name for field in attrs.fields(cls)))
    if cls is list:
        return _copy_list
    if cls is dict:
        return _copy_dict
    if cls is set:
        return _copy_set
    if cls is tuple:
        return _copy_tuple
    return copy.deepcopy


def _attrs_copier(cls: type, names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A copier written for ``cls``'s fields, as attrs writes its own methods.

    It reads and assigns each field as an attribute (no ``getattr`` or
    ``object.__setattr__`` call per field) and copies only the values of types that can
    change. A class whose ``__setattr__`` checks what is assigned (attrs' validators on
    assignment) is copied into its plain twin (:func:`_plain_twin`) and the copy then
    made an instance of the class itself: the values copied were checked already.
    """
    target = _plain_twin(cls)
    lines = ["def copier(value):", "    mine = new(target)"]
    for name in names:
        lines += [
            f"    part = value.{name}",
            "    if type(part) not in shared:",
            "        part = (copiers.get(type(part)) or copy)(part)",
            f"    mine.{name} = part",
        ]
    if target is not cls:
        lines.append("    mine.__class__ = cls")
    lines.append("    return mine")
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "cls": cls,
        "target": target,
        "shared": _SHARED,
        "copiers": _COPIERS,
        "copy": _copy,
    }
    # The field names are identifiers attrs checked; nothing else enters the source.
    exec(compile("\n".join(lines), f"<clone of {cls.__qualname__}>", "exec"), namespace)  # noqa: S102
    return cast("Callable[[Any], Any]", namespace["copier"])


_TWINS: dict[type, type] = {}
_OBJECT_SETATTR: object = object.__setattr__


def _plain_twin(cls: type) -> type:
    """``cls``, or a subclass of the same layout whose attributes are assigned plainly.

    An instance of the twin takes its fields without the class's own ``__setattr__``
    (a plain assignment costs a fraction of an ``object.__setattr__`` call), and then
    becomes an instance of ``cls`` by assigning its ``__class__``: the twin adds no
    slot, so both have the same layout.
    """
    if getattr(cls, "__setattr__", None) is _OBJECT_SETATTR:
        return cls
    twin = _TWINS.get(cls)
    if twin is None:
        namespace = {"__slots__": (), "__setattr__": object.__setattr__, "__module__": __name__}
        twin = _TWINS[cls] = type(f"Plain{cls.__name__}", (cls,), namespace)
    return twin


def _copy_list(value: list[object]) -> list[object]:
    copied = value.copy()
    shared, copiers = _SHARED, _COPIERS
    for i, v in enumerate(copied):
        if type(v) not in shared:
            copied[i] = (copiers.get(type(v)) or _copy)(v)
    return copied


def _copy_dict(value: dict[object, object]) -> dict[object, object]:
    copied = value.copy()
    shared, copiers = _SHARED, _COPIERS
    for k, v in copied.items():
        if type(v) not in shared:
            copied[k] = (copiers.get(type(v)) or _copy)(v)
    return copied


def _copy_set(value: set[object]) -> set[object]:
    # Built item by item (not value.copy()), so that the copy iterates in the order the
    # copies always did.
    shared = _SHARED
    for v in value:
        if type(v) not in shared:
            return {_copy(v) for v in value}
    return {v for v in value}  # noqa: C416


def _copy_tuple(value: tuple[object, ...]) -> tuple[object, ...]:
    # A tuple of values that never change is one itself: shared, not rebuilt.
    shared = _SHARED
    for v in value:
        if type(v) not in shared:
            copied = tuple(_copy(v) for v in value)
            return value if all(a is b for a, b in zip(copied, value, strict=True)) else copied
    return value


_READ_ONLY_CLASSES: dict[type, type] = {}
"""The read-only subclass of each attrs class met by :func:`read_only`."""
_EMPTY: MappingProxyType[Any, Any] = MappingProxyType({})
_SEALED: set[type] = {MappingProxyType, frozenset}
"""The read-only subclasses themselves, and the read-only containers."""


def read_only(value: T) -> T:
    """A copy of a committed value that refuses every change, to hand out for reading.

    Unlike :func:`clone`'s private copy, one read-only copy can serve every unit of work
    until the row changes: an attrs object becomes an instance of a subclass whose
    ``__setattr__`` and ``_set`` (the domain's way to change a field) raise
    ``attrs.exceptions.FrozenInstanceError``, a list a tuple, a set a frozenset and a
    dict a read-only mapping; the parts that never change are shared.
    """
    return cast("T", _read_only(value))


def _read_only(value: Any) -> Any:  # noqa: ANN401, PLR0911 - any part, one return per kind
    cls = type(value)
    if cls in _SHARED or cls in _SEALED:
        return value
    sealer = _SEALERS.get(cls)
    if sealer is not None:
        return sealer(value)
    if cls is list or cls is tuple:
        return _read_only_items(value)
    if cls is dict:
        # One empty mapping for all: most parts (the limits of a plan without any) are.
        return MappingProxyType({k: _read_only(v) for k, v in value.items()}) if value else _EMPTY
    if cls is set:
        return frozenset(_read_only(v) for v in value)
    if _copier(cls) is None:
        return value  # a value that never changes (a frozen attrs class, an amount)
    if not attrs.has(cls):
        return _copy(value)  # of a kind met nowhere in the domain: a private copy at least
    sealer = _SEALERS[cls] = _sealer(cls)
    return sealer(value)


def _read_only_items(value: list[Any] | tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        return ()
    shared = _SHARED
    for v in value:
        if type(v) not in shared:
            return tuple(_read_only(v) for v in value)
    return tuple(value)  # every item never changes: a tuple is the tuple itself


_SEALERS: dict[type, Callable[[Any], Any]] = {}
"""How to make the read-only copy of each attrs class met by :func:`read_only`."""


def _sealer(cls: type) -> Callable[[Any], Any]:
    """A maker of read-only copies of the attrs class ``cls``, written for its fields.

    The copy is filled in as an instance of the class's plain twin (see
    :func:`_plain_twin`), then made an instance of the read-only subclass.
    """
    sealed = _read_only_class(cls)
    _READ_ONLY_CLASSES[cls] = sealed
    _SEALED.add(sealed)
    lines = ["def seal(value):", "    mine = new(target)"]
    for field in attrs.fields(cls):
        lines += [
            f"    part = value.{field.name}",
            f"    mine.{field.name} = part if type(part) in shared else read_only(part)",
        ]
    lines += ["    mine.__class__ = sealed", "    return mine"]
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "target": _plain_twin(cls),
        "sealed": sealed,
        "shared": _SHARED,
        "read_only": _read_only,
    }
    # The field names are identifiers attrs checked; nothing else enters the source.
    exec(compile("\n".join(lines), f"<read-only {cls.__qualname__}>", "exec"), namespace)  # noqa: S102
    return cast("Callable[[Any], Any]", namespace["seal"])


def _refuse(*_: object, **__: object) -> None:
    raise attrs.exceptions.FrozenInstanceError


def _read_only_class(cls: type) -> type:
    """A subclass of the attrs class ``cls`` whose instances refuse every change."""
    eq_fields = tuple(f.name for f in attrs.fields(cls) if f.eq)

    def eq(self: object, other: object) -> bool:
        # Equal to the value it copies (a list part compared as the tuple it became).
        return isinstance(other, cls) and all(
            getattr(self, name) == _read_only(getattr(other, name)) for name in eq_fields
        )

    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": f"A read-only {cls.__qualname__}: every change raises.",
        "__setattr__": _refuse,
        "__delattr__": _refuse,
        "__eq__": eq,
        "__hash__": None,
        "__module__": __name__,
    }
    if hasattr(cls, "_set"):
        namespace["_set"] = _refuse
    return type(f"ReadOnly{cls.__name__}", (cls,), namespace)


_SAME: dict[type, Callable[[Any, Any], bool]] = {}
"""How to tell a loaded copy from the committed row it was copied from, per type."""


def _same(row: object, base: object) -> bool:
    """``row == base``, asked of a copy and the row it was copied from.

    The copy shares every part that cannot change, so a field holding the very same
    value needs no comparison: for a class whose ``__eq__`` attrs wrote (a comparison
    of every field), each field is compared only when it is another object.
    """
    cls = type(row)
    same = _SAME.get(cls)
    if same is None:
        same = _SAME[cls] = _same_of(cls)
    return same(row, base)


def _same_of(cls: type) -> Callable[[Any, Any], bool]:
    eq = getattr(cls, "__eq__", None)
    code = getattr(eq, "__code__", None)
    fields = attrs.fields(cls) if attrs.has(cls) else ()
    if (
        code is None
        or not code.co_filename.startswith("<attrs generated")
        or any(f.eq_key is not None for f in fields)
    ):
        return operator.eq
    lines = [
        "def same(row, base):",
        "    if base.__class__ is not row.__class__:",
        "        return row == base",
    ]
    for f in fields:
        if f.eq:
            lines += [
                f"    x, y = row.{f.name}, base.{f.name}",
                "    if x is not y and not x == y:",
                "        return False",
            ]
    lines.append("    return True")
    namespace: dict[str, Any] = {}
    # The field names are identifiers attrs checked; nothing else enters the source.
    exec(compile("\n".join(lines), f"<unchanged {cls.__qualname__}>", "exec"), namespace)  # noqa: S102
    return cast("Callable[[Any, Any], bool]", namespace["same"])


class _Repository(Generic[T]):
    def __init__(self, table: _Table[T], key_of: Callable[[T], str]) -> None:
        self._table = table
        self._key_of = key_of
        self.loaded: dict[str, T] = {}
        # The committed version each loaded row was read at (None: added here), and the
        # committed row itself: committed rows are never changed in place.
        self.read: dict[str, int | None] = {}
        self.base: dict[str, T] = {}

    def add(self, row: T) -> None:
        key = self._key_of(row)
        if key in self.loaded or key in self._table.rows:
            raise ConflictError(f"{self._table.kind} {key!r}", "already exists")
        self.loaded[key] = row
        self.read[key] = None

    def get(self, key: str) -> T:
        found = self.loaded.get(key)
        if found is not None:
            return found
        committed = self._table.rows.get(key)
        if committed is None:
            raise NotFoundError(self._table.kind, key)
        # A private copy: changes reach the store only on commit.
        mine = clone(committed)
        self.loaded[key] = mine
        self.read[key] = self._table.versions[key]
        self.base[key] = committed
        return mine

    def changed(self) -> list[str]:
        """The loaded rows that differ from what was read (every added row)."""
        base = self.base
        return [
            key
            for key, row in self.loaded.items()
            if self.read[key] is None or not _same(row, base[key])
        ]

    def check(self, keys: Iterable[str]) -> None:
        """Refuse to write rows another unit of work committed since they were read."""
        for key in keys:
            read = self.read[key]
            now = self._table.versions.get(key)
            if read is None and now is not None:
                raise ConflictError(
                    f"{self._table.kind} {key!r}",
                    "was added by another unit of work meanwhile; retry",
                )
            if read is not None and now != read:
                raise ConflictError(
                    f"{self._table.kind} {key!r}",
                    f"was changed by another unit of work after version {read}; retry",
                )

    def ids(self) -> list[str]:
        return sorted(set(self._table.rows) | set(self.loaded))

    def for_account(self, account_id: str) -> list[T]:
        keys = list(self._table.by_account.get(account_id, ()))
        keys += [
            k
            for k, row in self.loaded.items()
            if k not in self._table.rows and self._table._account_of(row) == account_id  # noqa: SLF001
        ]
        return [self.get(k) for k in keys]

    def flush(self, keys: Iterable[str]) -> None:
        """Commit the rows ``keys`` and keep tracking them: read now at what was committed.

        The caller still holds the loaded rows, so the table gets copies of its own: a
        change made after the commit reaches the store only by the next commit.
        """
        table, read, base = self._table, self.read, self.base
        for key in keys:
            row = base[key] = clone(self.loaded[key])
            table.put(key, row)
            read[key] = table.versions[key]

    def peek(self, account_id: str) -> list[T]:
        """The account's rows as this unit of work sees them, oldest first, not copied.

        For reading only: what a page shows is then loaded with :meth:`get`.
        """
        keys = list(self._table.by_account.get(account_id, ()))
        keys += [
            k
            for k, row in self.loaded.items()
            if k not in self._table.rows and self._table._account_of(row) == account_id  # noqa: SLF001
        ]
        return [self.loaded[k] if k in self.loaded else self._table.rows[k] for k in keys]

    def paged(
        self,
        ordered: list[T],
        matches: Callable[[T], bool],
        window: Window,
    ) -> Slice[T]:
        """A page of rows read with :meth:`peek`, its items loaded into the identity map."""
        found = take(ordered, self._key_of, window=window, matches=matches)
        return attrs.evolve(found, items=tuple(self.get(self._key_of(r)) for r in found.items))


class _PerAccount(_Repository[T]):
    """A repository of one aggregate per account, created empty on first use."""

    def __init__(self, table: _Table[T], factory: Callable[[str], T]) -> None:
        super().__init__(table, table._account_of)  # noqa: SLF001
        self._factory = factory

    def get(self, key: str) -> T:
        if key not in self.loaded and key not in self._table.rows:
            self.loaded[key] = self._factory(key)
            self.read[key] = None
        return super().get(key)


class _Services(_Repository[Service]):
    """Services: a commit appends the new records to the service's shared history.

    A unit of work's copy of a service shares the committed history (a list that only
    grows) and holds the records it makes apart, so loading, comparing and renewing a
    service cost the same whatever its age.
    """

    def __init__(self, table: _Table[Service]) -> None:
        super().__init__(table, lambda s: s.id)

    def flush(self, keys: Iterable[str]) -> None:
        for key in keys:
            service = self.loaded[key]
            new = service.unsaved()
            if not new:
                continue
            history = service.stored_history
            if not isinstance(history, ListServiceHistory):
                raise ConflictError(f"service {key!r}", "has a history from another store")
            history.append(new, after=service.change_count - len(new))
            service.saved()
        super().flush(keys)

    def view(self, account_id: str) -> list[Service]:
        """:meth:`for_account` to read: the services not loaded here are not copied for it.

        Each committed service is handed out as its read-only copy (see
        :func:`read_only`), made once per committed version and shared by every unit of
        work, so an account's day copies only the services it changes.
        """
        table, loaded = self._table, self.loaded
        found = [
            loaded[k] if k in loaded else table.view(k)
            for k in table.by_account.get(account_id, ())
        ]
        found += [
            row for k, row in loaded.items() if k not in table.rows and row.account_id == account_id
        ]
        return found


class _Payments(_Repository[Payment]):
    def __init__(self, table: _Table[Payment]) -> None:
        super().__init__(table, lambda p: p.id)

    def page(self, account_id: str, query: PaymentQuery, window: Window) -> Slice[Payment]:
        rows = self.peek(account_id)
        ordered = [
            p for _, p in sorted(enumerate(rows), key=lambda pair: (pair[1].created_at, pair[0]))
        ]
        return self.paged(ordered, query.matches, window)


_BOOK_PARTS = ("_funds", "_payments", "_debts")
"""The fields of an expense book besides its expenses (:func:`_expenses_of`)."""


def _expenses_of(book: ExpenseBook) -> dict[str, Expense]:
    """The expenses a book holds, without reading the rest from its shelf."""
    return book._expenses  # noqa: SLF001 - the store keeps the book's expenses itself


class _Expenses(_PerAccount[ExpenseBook]):
    """Expense books: a unit of work copies the unpaid expenses only, and what it reads.

    A book is loaded with copies of its unpaid expenses (what funding reads: expenses
    are paid oldest first) and a shelf over the committed book (:class:`_MemoryShelf`),
    which copies the others the first time a question needs them. A commit compares
    each expense the book holds with the committed one it was copied from and writes
    copies of the changed and new ones only, so a visit and its commit cost the same
    after 10,000 paid expenses as after 10.
    """

    def __init__(self, table: _Books) -> None:
        super().__init__(table, ExpenseBook)
        self._books = table
        self._copied: dict[str, dict[str, Expense]] = {}
        """The committed expense each held expense was copied from, by book and id."""
        self._parts: dict[str, tuple[object, ...]] = {}
        """The committed parts besides the expenses (:data:`_BOOK_PARTS`) as read."""
        self._changed: dict[str, list[str]] = {}
        """The ids of the new and changed expenses of each changed book (:meth:`changed`)."""

    def get(self, key: str) -> ExpenseBook:
        found = self.loaded.get(key)
        if found is not None:
            return found
        committed = self._books.rows.get(key)
        if committed is None:
            return super().get(key)  # a new book, empty
        stored = _expenses_of(committed)
        copied = {i: stored[i] for i in self._books.unpaid_of(key)}
        mine = ExpenseBook(
            key,
            _expenses={i: clone(e) for i, e in copied.items()},
            **{name: clone(getattr(committed, name)) for name in _BOOK_PARTS},
        )
        mine.attach(_MemoryShelf(self, key, committed))
        self.loaded[key] = mine
        self.read[key] = self._books.versions[key]
        self.base[key] = committed
        self._copied[key] = copied
        self._parts[key] = tuple(getattr(committed, name) for name in _BOOK_PARTS)
        return mine

    def adopt(self, key: str, expense: Expense) -> Expense:
        """A copy of a committed expense for the loaded book ``key``, tracked from now on."""
        self._copied[key][expense.id] = expense
        return clone(expense)

    def changed(self) -> list[str]:
        """The new books, and those with a new or changed expense or other part."""
        found: list[str] = []
        self._changed = {}
        for key, book in self.loaded.items():
            if self.read[key] is None:
                found.append(key)
                continue
            copied = self._copied[key]
            ids = [
                i
                for i, e in _expenses_of(book).items()
                if (was := copied.get(i)) is None or not _same(e, was)
            ]
            parts = (getattr(book, name) for name in _BOOK_PARTS)
            if ids or any(now != was for now, was in zip(parts, self._parts[key], strict=True)):
                found.append(key)
                self._changed[key] = ids
        return found

    def flush(self, keys: Iterable[str]) -> None:
        """Commit the books ``keys``: copies of their new and changed expenses and parts.

        A new book is stored whole (see :meth:`_Repository.flush`); a stored one keeps
        its other expenses, and each unit of work still reads what it copied from.
        """
        books = self._books
        for key in keys:
            book = self.loaded[key]
            if self.read[key] is None:
                row = clone(book)
                books.put(key, row)
                self.base[key] = row
                self._copied[key] = dict(_expenses_of(row))
            else:
                row = self.base[key]
                unpaid = dict(books.unpaid_of(key))
                stored = _expenses_of(row)
                held = _expenses_of(book)
                again = False
                for expense_id in self._changed[key]:
                    was = stored.get(expense_id)
                    mine = stored[expense_id] = clone(held[expense_id])
                    self._copied[key][expense_id] = mine
                    if mine.is_paid:
                        unpaid.pop(expense_id, None)
                    elif expense_id not in unpaid:
                        # A new expense comes last; one unpaid again (a refund) has its place.
                        unpaid[expense_id] = None
                        again = again or was is not None
                for name in _BOOK_PARTS:
                    setattr(row, name, clone(getattr(book, name)))
                books.put(key, row, None if again else unpaid)
            self.read[key] = books.versions[key]
            self._parts[key] = tuple(getattr(row, name) for name in _BOOK_PARTS)
        self._changed = {}

    def page(
        self, account_id: str, query: ExpenseQuery, window: Window
    ) -> tuple[Slice[Expense], ExpenseTotals]:
        loaded = self.loaded.get(account_id)
        book = loaded if loaded is not None else self._table.rows.get(account_id)
        if book is None:
            book = ExpenseBook(account_id)
        ordered = book.expenses(query.currency)
        found = take(ordered, _expense_id, window=window, matches=query.matches)
        totals = totals_of((e for e in ordered if query.matches(e)), query.currency)
        if loaded is None:
            # The committed expenses are never handed out: the page holds copies.
            found = attrs.evolve(found, items=tuple(clone(e) for e in found.items))
        return found, totals


class _MemoryShelf:
    """The committed expenses of a book a unit of work loaded with its unpaid ones only.

    What it hands out are copies the unit of work tracks (:meth:`_Expenses.adopt`).
    It reads the committed book as it is now: a commit of another unit of work since
    the load makes this one's commit of the book fail its version check.
    """

    def __init__(self, repository: _Expenses, key: str, committed: ExpenseBook) -> None:
        self._repository = repository
        self._key = key
        self._stored = _expenses_of(committed)

    def holds(self, expense_id: str) -> bool:
        return expense_id in self._stored

    def find(self, expense_ids: Collection[str]) -> dict[str, Expense]:
        stored, adopt = self._stored, self._repository.adopt
        return {i: adopt(self._key, stored[i]) for i in expense_ids if i in stored}

    def unbilled(self, until: date, loaded: Mapping[str, Expense]) -> list[Expense]:
        adopt, key = self._repository.adopt, self._key
        found = [
            loaded[i] if i in loaded else adopt(key, e)
            for i, e in self._stored.items()
            if i in loaded or (e.act_id is None and e.charged_on < until)
        ]
        stored = self._stored
        return found + [e for i, e in loaded.items() if i not in stored]

    def complete(self, loaded: Mapping[str, Expense]) -> dict[str, Expense]:
        adopt, key = self._repository.adopt, self._key
        found = {i: loaded[i] if i in loaded else adopt(key, e) for i, e in self._stored.items()}
        found.update((i, e) for i, e in loaded.items() if i not in found)
        return found

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


class _Ledgers(_PerAccount[Ledger]):
    """Ledgers: a commit appends the new entries to the account's shared history.

    A unit of work's copy of a ledger shares the committed history (a list that only
    grows) and holds the entries it books apart, so loading and comparing a ledger cost
    the same whatever its length.
    """

    def __init__(self, table: _Table[Ledger]) -> None:
        super().__init__(table, Ledger)

    def changed(self) -> list[str]:
        """The new ledgers and those with unsaved entries (nothing else changes a ledger)."""
        return [
            key for key, ledger in self.loaded.items() if self.read[key] is None or ledger.unsaved()
        ]

    def flush(self, keys: Iterable[str]) -> None:
        for key in keys:
            ledger = self.loaded[key]
            history = ledger.history
            if not isinstance(history, ListHistory):
                raise ConflictError(f"ledger {key!r}", "has a history from another store")
            history.append(ledger.unsaved())
            ledger.saved()
        super().flush(keys)


class _Accounts(_Repository[Account]):
    """Accounts, and the due index: the run asks it which accounts to visit."""

    def __init__(self, table: _Table[Account], index: _DueIndex) -> None:
        super().__init__(table, lambda a: a.id)
        self._index = index
        self._marks_read: dict[str, int] = {}
        self.scheduled: dict[str, date] = {}

    def get(self, key: str) -> Account:
        self._marks_read.setdefault(key, self._index.marks.get(key, 0))
        return super().get(key)

    def due(self, day: date, *, after: str | None = None, limit: int | None = None) -> list[str]:
        found = self._index.due(day)
        if after is not None:
            found = found[bisect.bisect_right(found, after) :]
        return found if limit is None else found[:limit]

    def count(self, *, due_by: date | None = None) -> int:
        return len(self._table.rows) if due_by is None else len(self._index.due(due_by))

    def next_due(self, account_id: str) -> date:
        if account_id not in self._table.rows:
            raise NotFoundError(self._table.kind, account_id)
        return self._index.dates.get(account_id, DUE_NOW)

    def schedule(self, account_id: str, day: date) -> None:
        self._marks_read.setdefault(account_id, self._index.marks.get(account_id, 0))
        self.scheduled[account_id] = day

    def flush_due(self, touched: Iterable[str]) -> None:
        """Keep the schedules nobody overtook, and make the other changed accounts due."""
        index = self._index
        for account_id, day in self.scheduled.items():
            if index.marks.get(account_id, 0) == self._marks_read[account_id]:
                index.set(account_id, day)
        marks_read = self._marks_read
        for account_id in touched:
            if account_id not in self.scheduled and account_id in self._table.rows:
                index.mark(account_id)
                if account_id in marks_read:
                    # This unit of work's own mark: a schedule after this commit holds.
                    marks_read[account_id] += 1
        self.scheduled = {}


class _BankReviews(_Repository[BankReview]):
    def __init__(self, table: _Table[BankReview]) -> None:
        super().__init__(table, lambda r: r.line_id)

    def pending(self) -> list[BankReview]:
        keys = [k for k, row in self._table.rows.items() if row.is_pending]
        keys += [k for k in self.loaded if k not in self._table.rows]
        found = [self.get(k) for k in dict.fromkeys(keys)]
        return [r for r in found if r.is_pending]


class _Invoices(_Repository[Invoice]):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store.invoices, lambda i: i.id)
        self._numbers = store.invoice_numbers
        self._open_by_service = store.open_by_service

    def add(self, row: Invoice) -> None:
        if row.number in self._numbers or any(i.number == row.number for i in self.loaded.values()):
            raise ConflictError(f"invoice number {row.number!r}", "already used")
        super().add(row)

    def by_number(self, number: str) -> Invoice:
        for invoice in self.loaded.values():
            if invoice.number == number:
                return invoice
        key = self._numbers.get(number)
        if key is None:
            raise NotFoundError("invoice with number", number)
        return self.get(key)

    def open(self) -> list[Invoice]:
        keys = [k for k, row in self._table.rows.items() if row.is_open()]
        keys += [k for k, row in self.loaded.items() if k not in self._table.rows]
        found = [self.get(k) for k in dict.fromkeys(keys)]
        return sorted((i for i in found if i.is_open()), key=invoice_order)

    def page(self, account_id: str, query: InvoiceQuery, window: Window) -> Slice[Invoice]:
        ordered = sorted(self.peek(account_id), key=invoice_order)
        return self.paged(ordered, query.matches, window)

    def open_for_service(self, service_id: str) -> list[Invoice]:
        keys = [*self._open_by_service.get(service_id, ()), *self.loaded]
        found = [self.get(k) for k in dict.fromkeys(keys)]
        chosen = {
            i.id: i
            for i in found
            if i.is_open() and any(line.service_id == service_id for line in i.lines)
        }
        return sorted(chosen.values(), key=invoice_order)

    def check(self, keys: Iterable[str]) -> None:
        super().check(keys)
        for key in keys:
            number = self.loaded[key].number
            owner = self._numbers.get(number)
            if owner is not None and owner != key:
                raise ConflictError(
                    f"invoice number {number!r}",
                    "was used by another unit of work meanwhile; retry",
                )

    def flush(self, keys: Iterable[str]) -> None:
        for key in keys:
            invoice = self.loaded[key]
            self._numbers[invoice.number] = key
            for service_id in {line.service_id for line in invoice.lines if line.service_id}:
                held = self._open_by_service.setdefault(service_id, set())
                if invoice.is_open():
                    held.add(key)
                else:
                    held.discard(key)
        super().flush(keys)


class _Sequences:
    def __init__(self, committed: dict[str, int]) -> None:
        self._committed = committed
        self.staged: dict[str, int] = {}
        self._read: dict[str, int] = {}

    def next(self, name: str) -> int:
        if name not in self.staged:
            self._read[name] = self._committed.get(name, 0)
        value = self.staged.get(name, self._read[name]) + 1
        self.staged[name] = value
        return value

    def flush(self) -> None:
        self._committed.update(self.staged)

    def check(self) -> None:
        for name, read in self._read.items():
            if self._committed.get(name, 0) != read:
                raise ConflictError(
                    f"counter {name!r}",
                    "was advanced by another unit of work meanwhile; retry",
                )


class _Keys:
    def __init__(self, committed: set[str], fingerprints: dict[str, str]) -> None:
        self._committed = committed
        self._fingerprints = fingerprints
        self.staged: set[str] = set()
        self.staged_fingerprints: dict[str, str] = {}

    def seen(self, key: str) -> bool:
        return key in self._committed or key in self.staged

    def record(self, key: str, fingerprint: str = "") -> None:
        if self.seen(key):
            raise ConflictError(f"key {key!r}", "already recorded")
        self.staged.add(key)
        if fingerprint:
            self.staged_fingerprints[key] = fingerprint

    def fingerprint(self, key: str) -> str | None:
        if key in self.staged:
            return self.staged_fingerprints.get(key, "")
        if key in self._committed:
            return self._fingerprints.get(key, "")
        return None

    def all(self, prefix: str = "") -> Iterable[str]:
        return sorted(k for k in self._committed | self.staged if k.startswith(prefix))

    def flush(self) -> None:
        self._committed |= self.staged
        self._fingerprints.update(self.staged_fingerprints)

    def check(self) -> None:
        taken = self.staged & self._committed
        if taken:
            raise ConflictError(
                f"key {min(taken)!r}",
                "was recorded by another unit of work meanwhile; retry",
            )


R = TypeVar("R")


class _Opened(Generic[R]):
    """A repository of a unit of work, made the first time it is asked for.

    Most units of work use a few of their repositories: opening one costs nothing
    until it is used. Once made, the repository is an attribute of the unit of work
    itself (this descriptor is not consulted again) until the unit of work begins
    anew.
    """

    def __init__(self, make: Callable[[MemoryStore], R]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...
    @overload
    def __get__(self, uow: MemoryUnitOfWork, owner: type) -> R: ...
    def __get__(self, uow: MemoryUnitOfWork | None, owner: type) -> Self | R:
        if uow is None:
            return self
        made = self._make(uow.store)
        uow.__dict__[self._name] = made
        uow._opened.append(self._name)  # noqa: SLF001
        return made


class MemoryUnitOfWork:
    """A unit of work over a :class:`MemoryStore`, with real rollback.

    Args:
        store: the committed state to work on.
    """

    accounts = _Opened(lambda store: _Accounts(store.accounts, store.due))
    users = _Opened(lambda store: _Repository(store.users, lambda u: u.account_id))
    services = _Opened(lambda store: _Services(store.services))
    tickets = _Opened(lambda store: _Repository(store.tickets, lambda t: t.id))
    invoices = _Opened(_Invoices)
    payments = _Opened(lambda store: _Payments(store.payments))
    ledgers = _Opened(lambda store: _Ledgers(store.ledgers))
    expenses = _Opened(lambda store: _Expenses(store.expenses))
    payers = _Opened(lambda store: _PerAccount(store.payers, PayerBook))
    documents = _Opened(lambda store: _PerAccount(store.documents, AccountDocuments))
    profiles = _Opened(lambda store: _PerAccount(store.profiles, BillingProfile))
    sequences = _Opened(lambda store: _Sequences(store.sequences))
    keys = _Opened(lambda store: _Keys(store.keys, store.fingerprints))
    outbox = _Opened(lambda store: OutboxRepository(store.outbox))
    bank_reviews = _Opened(lambda store: _BankReviews(store.bank_reviews))
    inbox = _Opened(lambda store: InboxRepository(store.inbox))

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.committed = False
        self._opened: list[str] = []

    def _begin(self, keep: tuple[str, ...] = ()) -> None:
        """Forget the repositories opened so far (but ``keep``): the next use opens fresh ones."""
        state = self.__dict__
        for name in self._opened:
            if name not in keep:
                del state[name]
        self._opened = [name for name in self._opened if name in keep]

    def __enter__(self) -> Self:
        self.committed = False
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        """Write copies of every changed and added aggregate to the store, or nothing.

        The aggregates handed out stay this unit of work's own: a later commit writes
        what changed since this one.

        Raises:
            ConflictError: when another unit of work committed a change to an aggregate
                this one changed, took the same counter value or recorded the same key
                since this one read it; nothing of this unit of work is written.
        """
        state = self.__dict__
        # Only what was opened can hold changes.
        repos = [
            cast("_Repository[object]", state[n]) for n in AGGREGATE_REPOSITORIES if n in state
        ]
        changes = [(repo, repo.changed()) for repo in repos]
        for repo, keys in changes:
            repo.check(keys)
        staged = [state[n] for n in ("sequences", "keys", "outbox") if n in state]
        for repo in staged:
            repo.check()
        # Every account whose aggregates change is due at once (unless scheduled here).
        touched = {
            owner
            for repo, keys in changes
            for key in keys
            if (owner := repo._table._account_of(repo.loaded[key]))  # noqa: SLF001
        }
        for repo, keys in changes:
            repo.flush(keys)
        if touched or "accounts" in state:
            self.accounts.flush_due(sorted(touched))
        for repo in staged:
            repo.flush()
        if "inbox" in state:
            self.inbox.flush()
        self.committed = True
        # The aggregates handed out stay tracked (see UnitOfWork); the rest starts anew.
        self._begin(keep=AGGREGATE_REPOSITORIES)

    def rollback(self) -> None:
        """Forget every change since the last commit, and the aggregates handed out."""
        self._begin()


def _expense_id(expense: Expense) -> str:
    return expense.id
