"""The ledger: every movement of an account's money as an immutable entry (SPEC L1, M4).

A :class:`Ledger` belongs to one account and keeps one balance per currency. Entries are
appended, never edited or deleted: a mistake is undone by a *reversal*, a new entry of the
opposite amount. The balance always equals the sum of the entries; the ledger keeps a
running balance per currency so that reading it costs the same after a million entries
as after one.

Amounts are kept at accrual precision (4 places): a cloud expense of ``22.4137 RUB``
moves the balance by exactly that much. Whatever is shown or paid is rounded to the
currency's minor unit at that point, with :class:`~cabinet_billing.Rounding`.

A conversion between two of the account's balances is a pair of entries (the source out,
the rounded target in) and, when rounding kept or gave something, a
:class:`RoundingEntry` in the ledger's *rounding account*: the exact difference, the
provider's side of the conversion. The target leg plus its rounding entry is always the
source at the rate, exactly; nothing is created or lost, and the customer's balance holds
only what the customer has.

>>> from datetime import datetime, timezone
>>> from cabinet_billing import Money
>>> from cabinet_billing.domain.ledger import Ledger
>>> at = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
>>> ledger = Ledger("acc-1")
>>> _ = ledger.top_up(Money("100.00", "RUB"), at, ref="pay-1")
>>> _ = ledger.charge(Money("22.4137", "RUB"), at, ref="exp-1")
>>> ledger.balance("RUB")
Money('77.5863', 'RUB')
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, Self

import attrs
import moneyed

from cabinet_billing.domain.checks import aware, check_aware, id_field, shared_copies
from cabinet_billing.domain.fx import Conversion, MoneyBag
from cabinet_billing.domain.money import ACCRUAL_PLACES, Money, in_money_context, sum_money
from cabinet_billing.errors import (
    ConflictError,
    ConversionTooSmallError,
    InvalidAmountError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "EntryKind",
    "EntrySums",
    "Ledger",
    "LedgerEntry",
    "LedgerHistory",
    "ListHistory",
    "RoundingEntry",
    "Span",
]


class EntryKind(enum.Enum):
    """What an entry records. The sign of its amount follows from the kind."""

    TOP_UP = "top_up"
    """Money received from a payment (positive)."""
    CASHBACK = "cashback"
    """A payment method's cashback, credited separately (positive)."""
    CHARGE = "charge"
    """An expense: a service's price taken from the balance (negative)."""
    REFUND = "refund"
    """Money a refund takes back: returned to the customer, or a cashback taken back with
    the payment it came with (negative)."""
    ADJUSTMENT = "adjustment"
    """A correction by the provider (either sign)."""
    CONVERSION = "conversion"
    """One leg of a currency conversion (negative in the source, positive in the target)."""
    REVERSAL = "reversal"
    """Undoes an earlier entry with the opposite amount."""


_CREDITS = frozenset({EntryKind.TOP_UP, EntryKind.CASHBACK})
_DEBITS = frozenset({EntryKind.CHARGE, EntryKind.REFUND})


@shared_copies
@attrs.frozen
class LedgerEntry:
    """One immutable movement of money.

    Attributes:
        seq: the entry's position in its ledger, from 1.
        account_id: the account whose balance moved.
        kind: what the entry records.
        amount: the signed amount: positive adds to the balance, negative takes from it.
        at: when it was booked.
        balance_after: the balance of this currency after the entry.
        memo: a human note.
        ref: the id of what caused it (payment, expense, invoice ...).
        key: the idempotency key it was booked under, if any.
        reverses: the ``seq`` of the entry this one reverses, for reversals.
        conversion: for conversion legs, the conversion with its rate and rounding.
    """

    seq: int
    account_id: str
    kind: EntryKind
    amount: Money
    at: datetime = attrs.field(validator=aware)
    balance_after: Money
    memo: str = ""
    ref: str | None = None
    key: str | None = None
    reverses: int | None = None
    conversion: Conversion | None = None


@shared_copies
@attrs.frozen
class RoundingEntry:
    """The rounding difference of one conversion, in the ledger's rounding account.

    It does not move the customer's balance: it is what the provider kept (positive) or
    gave (negative) when the converted amount was rounded to the target's minor unit.
    ``target leg + amount`` is exactly the source at the rate.

    Attributes:
        seq: the entry's position in the rounding account, from 1.
        account_id: the account whose conversion it belongs to.
        amount: the exact value minus the rounded target, in the target currency.
        at: when it was booked (with its conversion).
        total_after: the rounding account's total in this currency after it.
        conversion: the conversion, with its rate, exact value and rounded target.
        target_seq: the ``seq`` of the conversion's target leg in the ledger.
        key: the idempotency key of the conversion, if any.
    """

    seq: int
    account_id: str
    amount: Money
    at: datetime = attrs.field(validator=aware)
    total_after: Money
    conversion: Conversion
    target_seq: int
    key: str | None = None


@attrs.frozen
class EntrySums:
    """What the entries of one currency over a span of time add up to.

    Attributes:
        credits: the sum of the positive amounts.
        debits: the sum of the negative amounts, as a positive amount.
        count: how many entries there are (zero amounts included).
    """

    credits: Money
    debits: Money
    count: int

    @property
    def net(self) -> Money:
        """What the entries moved the balance by: credits less debits."""
        return self.credits - self.debits

    def __add__(self, other: EntrySums) -> EntrySums:
        """The sums of both sets of entries."""
        return EntrySums(
            self.credits + other.credits, self.debits + other.debits, self.count + other.count
        )

    @classmethod
    def of(cls, entries: Iterable[LedgerEntry], currency: str) -> EntrySums:
        """The sums of some entries, all of ``currency``."""
        chosen = list(entries)
        return cls(
            sum_money((e.amount for e in chosen if e.amount.amount > 0), currency),
            sum_money((-e.amount for e in chosen if e.amount.amount < 0), currency),
            len(chosen),
        )


@attrs.frozen
class Span:
    """Which entries of a ledger a range read asks for.

    Attributes:
        currency: only entries of this currency.
        since: only entries booked at or after this instant (None: from the first).
        until: only entries booked before this instant (None: to the last).
        last: only entries with ``seq`` up to this one (the count the ledger was loaded
            with: entries another unit of work stored since are not part of it).
    """

    currency: str
    since: datetime | None = None
    until: datetime | None = None
    last: int | None = None

    def holds(self, entry: LedgerEntry) -> bool:
        """Whether an entry is in the span."""
        return (
            entry.amount.code == self.currency
            and (self.since is None or entry.at >= self.since)
            and (self.until is None or entry.at < self.until)
            and (self.last is None or entry.seq <= self.last)
        )


class LedgerHistory(Protocol):
    """Where a ledger's stored entries live: read by range and by key, never all at once.

    A store hands each ledger it loads the history of its account: the running balances
    and the count of entries come with the ledger, the entries themselves are read only
    when asked for (a statement, a reconciliation, a history page, a repeated
    idempotency key). A ledger never asks for an entry past the count it was loaded with.
    Sums over a span of time are the store's to compute (a SQL store adds the amounts
    up in the database), and a page of a span is read without reading the rest.
    """

    def read(self, first: int, last: int, currency: str | None = None) -> Sequence[LedgerEntry]:
        """The entries with ``first <= seq <= last``, in booking order, optionally of a currency."""
        ...

    def with_key(self, key: str) -> Sequence[LedgerEntry]:
        """The entries booked under an idempotency key, in booking order (empty when unused)."""
        ...

    def sums(self, span: Span) -> EntrySums:
        """What the entries of a span add up to."""
        ...

    def page(
        self, span: Span, *, after: int | None, limit: int | None, newest_first: bool
    ) -> Sequence[LedgerEntry]:
        """Up to ``limit`` entries of a span (None: all of them), in booking order or newest first.

        With ``after``, only the entries that come after the entry with that ``seq`` in
        this order (a later ``seq`` in booking order, an earlier one newest first).
        """
        ...


_NO_EXPONENT = 1 << 30
"""Stands for an amount that is not on a side of the running sums."""


class _Column:
    """The entries of one currency in a list history, with running sums for ranges.

    While the entries' instants never go back (as when each is booked at the time it
    happens), a range of time is found by bisection and its sums by the difference of
    two running sums; otherwise the column is scanned.
    """

    __slots__ = (
        "ats",
        "credits",
        "debits",
        "entries",
        "exponents",
        "in_order",
        "seqs",
    )

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self.seqs: list[int] = []
        self.ats: list[datetime] = []
        self.credits: list[Decimal] = [Decimal(0)]
        self.debits: list[Decimal] = [Decimal(0)]
        # The exponent of each amount, on the side it adds to (the other side: none).
        self.exponents: tuple[list[int], list[int]] = ([], [])
        self.in_order = True

    def add(self, entry: LedgerEntry) -> None:
        if self.ats and entry.at < self.ats[-1]:
            self.in_order = False
        self.entries.append(entry)
        self.seqs.append(entry.seq)
        self.ats.append(entry.at)
        amount = entry.amount.amount
        zero = Decimal(0)
        self.credits.append(self.credits[-1] + max(zero, amount))
        self.debits.append(self.debits[-1] - min(zero, amount))
        exponent = int(amount.as_tuple().exponent)
        self.exponents[0].append(exponent if amount > 0 else _NO_EXPONENT)
        self.exponents[1].append(exponent if amount < 0 else _NO_EXPONENT)

    def bounds(self, span: Span) -> tuple[int, int]:
        """The positions ``[lo, hi)`` of the span's entries (the column is in order)."""
        lo = 0 if span.since is None else bisect.bisect_left(self.ats, span.since)
        hi = len(self.ats) if span.until is None else bisect.bisect_left(self.ats, span.until)
        if span.last is not None:
            hi = min(hi, bisect.bisect_right(self.seqs, span.last))
        return lo, max(lo, hi)

    def sums(self, span: Span) -> EntrySums:
        code = span.currency
        if not self.in_order:
            return EntrySums.of((e for e in self.entries if span.holds(e)), code)
        lo, hi = self.bounds(span)
        return EntrySums(
            self._sum(self.credits[hi] - self.credits[lo], self.exponents[0][lo:hi], code),
            self._sum(self.debits[hi] - self.debits[lo], self.exponents[1][lo:hi], code),
            hi - lo,
        )

    @staticmethod
    def _sum(value: Decimal, exponents: list[int], code: str) -> Money:
        """A difference of running sums, with the places the amounts themselves add up to.

        An empty sum is zero, as :func:`~cabinet_billing.domain.money.sum_money` gives it.
        """
        exponent = min(exponents, default=_NO_EXPONENT)
        if exponent == _NO_EXPONENT:
            return Money.zero(code)
        return Money(value.quantize(Decimal(1).scaleb(exponent)), code)

    def page(
        self, span: Span, *, after: int | None, limit: int | None, newest_first: bool
    ) -> list[LedgerEntry]:
        if not self.in_order:
            chosen = [e for e in self.entries if span.holds(e)]
            if newest_first:
                chosen = [e for e in reversed(chosen) if after is None or e.seq < after]
            else:
                chosen = [e for e in chosen if after is None or e.seq > after]
            return chosen if limit is None else chosen[:limit]
        lo, hi = self.bounds(span)
        if newest_first:
            if after is not None:
                hi = min(hi, bisect.bisect_left(self.seqs, after))
            start = lo if limit is None else max(lo, hi - limit)
            return self.entries[start:hi][::-1]
        if after is not None:
            lo = max(lo, bisect.bisect_right(self.seqs, after))
        stop = hi if limit is None else min(hi, lo + limit)
        return self.entries[lo:stop]


@shared_copies
class ListHistory:
    """A history kept in a list: a new ledger's, and the in-memory store's.

    It is shared, not copied, by the copies of a ledger (a unit of work's private copy
    reads the same list); only a store appends to it, once a commit is sure. Each
    currency's entries keep running sums, so that a range's sums and pages cost the
    same however long the history.

    >>> history = ListHistory()
    >>> history.read(1, 10)
    ()
    """

    __slots__ = ("_columns", "_entries", "_keys")

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._keys: dict[str, list[LedgerEntry]] = {}
        self._columns: dict[str, _Column] = {}

    def read(self, first: int, last: int, currency: str | None = None) -> tuple[LedgerEntry, ...]:
        """The entries with ``first <= seq <= last``, optionally of one currency."""
        chosen = self._entries[max(first, 1) - 1 : max(last, 0)]
        if currency is None:
            return tuple(chosen)
        return tuple(e for e in chosen if e.amount.code == currency)

    def with_key(self, key: str) -> tuple[LedgerEntry, ...]:
        """The entries booked under a key."""
        return tuple(self._keys.get(key, ()))

    def sums(self, span: Span) -> EntrySums:
        """What the entries of a span add up to."""
        column = self._columns.get(span.currency)
        if column is None:
            return EntrySums.of((), span.currency)
        return column.sums(span)

    def page(
        self, span: Span, *, after: int | None, limit: int | None, newest_first: bool
    ) -> tuple[LedgerEntry, ...]:
        """Up to ``limit`` entries of a span, after the entry ``after`` in the order asked."""
        column = self._columns.get(span.currency)
        if column is None:
            return ()
        return tuple(column.page(span, after=after, limit=limit, newest_first=newest_first))

    def append(self, entries: Iterable[LedgerEntry]) -> None:
        """Add entries after the last one (a store, once it committed them)."""
        for entry in entries:
            if entry.seq != len(self._entries) + 1:
                raise ConflictError(
                    f"ledger entry {entry.seq}",
                    f"does not follow entry {len(self._entries)} of the history",
                )
            self._entries.append(entry)
            if entry.key is not None:
                self._keys.setdefault(entry.key, []).append(entry)
            column = self._columns.get(entry.amount.code)
            if column is None:
                column = self._columns[entry.amount.code] = _Column()
            column.add(entry)

    def __len__(self) -> int:
        return len(self._entries)


@attrs.define(eq=False)
class Ledger:
    """The append-only ledger of one account, with a running balance per currency.

    Args:
        account_id: the account it belongs to.

    Every method that books takes an optional idempotency ``key``. Booking again under a
    key already used returns the entry booked the first time and changes nothing; using
    it for a different movement raises :class:`~cabinet_billing.errors.ConflictError`.

    A ledger loaded from a store holds its running balances and the number of its
    entries; the entries stay in the store's :class:`LedgerHistory` and are read by
    range (:meth:`entries`, :meth:`entry`) or by key (:meth:`by_key`) when asked for, so
    loading a ledger and reading its balance cost the same after a million entries as
    after ten. What is booked in the unit of work is kept apart (:meth:`unsaved`) until
    the store writes it.
    """

    account_id: str = attrs.field(validator=id_field())
    _balances: dict[str, Money] = attrs.field(factory=dict, alias="_balances")
    _reversed: dict[int, int] = attrs.field(factory=dict, alias="_reversed")
    _rounding: list[RoundingEntry] = attrs.field(factory=list, alias="_rounding")
    _stored: int = attrs.field(default=0, init=False)
    _new: list[LedgerEntry] = attrs.field(factory=list, init=False)
    _new_keys: dict[str, tuple[LedgerEntry, ...]] = attrs.field(factory=dict, init=False)
    _history: LedgerHistory = attrs.field(factory=ListHistory, init=False, eq=False, repr=False)

    def __eq__(self, other: object) -> bool:
        """Two ledgers are equal when they hold the same entries, balances and rounding.

        It reads every entry of both (audits and tests); a store tells a changed ledger
        by its :meth:`unsaved` entries instead.
        """
        if not isinstance(other, Ledger):
            return NotImplemented
        return (
            self.account_id == other.account_id
            and self._balances == other._balances
            and self._reversed == other._reversed
            and self._rounding == other._rounding
            and len(self) == len(other)
            and self.entries() == other.entries()
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ stores

    def attach(self, history: LedgerHistory, count: int) -> Self:
        """Give a ledger read from a store its history: ``count`` entries stored there.

        For stores. The running balances, reversals and rounding account come with the
        ledger; the entries are read from ``history`` when asked for.
        """
        if self._new:
            raise ConflictError(f"ledger {self.account_id!r}", "has entries not yet stored")
        self._history = history
        self._stored = count
        return self

    @property
    def history(self) -> LedgerHistory:
        """Where the stored entries are read from."""
        return self._history

    def unsaved(self) -> tuple[LedgerEntry, ...]:
        """The entries booked since the ledger was loaded (what a store has to write)."""
        return tuple(self._new)

    def saved(self) -> None:
        """The store wrote :meth:`unsaved` to the history: they are stored entries now."""
        self._stored += len(self._new)
        self._new = []
        self._new_keys = {}

    @classmethod
    def rebuilt(
        cls,
        account_id: str,
        entries: Iterable[LedgerEntry],
        rounding: Iterable[RoundingEntry] = (),
    ) -> Ledger:
        """A ledger made from all its entries (an import): balances and reversals recomputed.

        The entries are unsaved: a store writes them with the ledger.
        """
        ledger = cls(account_id, _rounding=list(rounding))
        for entry in entries:
            if entry.seq != len(ledger._new) + 1 or entry.account_id != account_id:
                raise ConflictError(f"ledger entry {entry.seq}", "is out of order")
            ledger._new.append(entry)
            ledger._balances[entry.amount.code] = entry.balance_after
            if entry.reverses is not None:
                ledger._reversed[entry.reverses] = entry.seq
            if entry.key is not None:
                ledger._new_keys[entry.key] = (*ledger._new_keys.get(entry.key, ()), entry)
        return ledger

    # ------------------------------------------------------------------ reading

    def balance(self, currency: str) -> Money:
        """The exact balance in a currency (zero if the account never used it)."""
        code = currency.upper()
        found = self._balances.get(code)
        return found if found is not None else Money.zero(code)

    def balances(self) -> MoneyBag:
        """The balance in every currency the account has used."""
        return MoneyBag(self._balances.values())

    @property
    def currencies(self) -> tuple[str, ...]:
        """The currencies the account has used, sorted."""
        return tuple(sorted(self._balances))

    def entries(
        self, currency: str | None = None, *, first: int = 1, last: int | None = None
    ) -> tuple[LedgerEntry, ...]:
        """The entries in booking order, optionally of one currency and a range of ``seq``.

        Args:
            currency: only this currency.
            first: from this ``seq`` on (default: the first entry).
            last: up to this ``seq`` (default: the last entry).
        """
        code = currency.upper() if currency is not None else None
        top = len(self) if last is None else min(last, len(self))
        stored: tuple[LedgerEntry, ...] = ()
        if first <= self._stored and top >= 1:
            stored = tuple(self._history.read(first, min(top, self._stored), code))
        fresh = [
            e
            for e in self._new
            if first <= e.seq <= top and (code is None or e.amount.code == code)
        ]
        return (*stored, *fresh) if fresh else stored

    def entry(self, seq: int) -> LedgerEntry:
        """The entry with a sequence number.

        Raises:
            NotFoundError: when there is no such entry.
        """
        if not 1 <= seq <= len(self):
            raise NotFoundError("ledger entry", seq)
        if seq > self._stored:
            return self._new[seq - self._stored - 1]
        (found,) = self._history.read(seq, seq)
        return found

    def __len__(self) -> int:
        return self._stored + len(self._new)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())

    def sums(
        self, currency: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> EntrySums:
        """What the entries of a currency booked in ``[since, until)`` add up to.

        The store adds up the stored entries; the entries are not read.

        >>> from datetime import datetime, timezone
        >>> ledger = Ledger("acc-1")
        >>> _ = ledger.top_up(Money("100.00", "RUB"), datetime(2024, 3, 1, tzinfo=timezone.utc))
        >>> _ = ledger.charge(Money("30.00", "RUB"), datetime(2024, 3, 2, tzinfo=timezone.utc))
        >>> sums = ledger.sums("RUB", since=datetime(2024, 3, 2, tzinfo=timezone.utc))
        >>> sums.credits, sums.debits, sums.count
        (Money('0', 'RUB'), Money('30.00', 'RUB'), 1)
        """
        span = self._span(currency, since, until)
        fresh = EntrySums.of((e for e in self._new if span.holds(e)), span.currency)
        if not self._stored:
            return fresh
        return self._history.sums(attrs.evolve(span, last=self._stored)) + fresh

    def page(
        self,
        currency: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> tuple[LedgerEntry, ...]:
        """The entries of a currency booked in ``[since, until)``, a page at a time.

        Args:
            currency: only this currency.
            since: only entries booked at or after this instant.
            until: only entries booked before this instant.
            after: only the entries after the one with this ``seq`` in the order asked.
            limit: at most this many (None: every one).
            newest_first: the latest entry first (else in booking order).

        Only the page's entries are read from the store.
        """
        span = self._span(currency, since, until)
        fresh = [e for e in self._new if span.holds(e)]
        want = limit
        cursor = after
        if newest_first:
            # The entries booked here come first, then the stored ones before them.
            fresh = [e for e in reversed(fresh) if after is None or e.seq < after]
            want = None if limit is None else limit - len(fresh)
            cursor = None if after is None or after > self._stored else after
        else:
            fresh = [e for e in fresh if after is None or e.seq > after]
            if after is not None and after >= self._stored:
                want = 0
        stored: Sequence[LedgerEntry] = ()
        if self._stored and (want is None or want > 0):
            stored = self._history.page(
                attrs.evolve(span, last=self._stored),
                after=cursor,
                limit=want,
                newest_first=newest_first,
            )
        found = (*fresh, *stored) if newest_first else (*stored, *fresh)
        return found if limit is None else found[:limit]

    @staticmethod
    def _span(currency: str, since: datetime | None, until: datetime | None) -> Span:
        if since is not None:
            check_aware("since", since)
        if until is not None:
            check_aware("until", until)
        return Span(currency.upper(), since, until)

    def by_key(self, key: str) -> tuple[LedgerEntry, ...]:
        """The entries booked under an idempotency key (empty when unused)."""
        fresh = self._new_keys.get(key)
        if fresh is not None:
            return fresh
        return tuple(e for e in self._history.with_key(key) if e.seq <= self._stored)

    def _used(self, key: str | None) -> bool:
        return key is not None and bool(self.by_key(key))

    def rounding(self, currency: str) -> Money:
        """The rounding account's total in a currency: what conversions' rounding kept.

        Positive when rounding kept more than it gave. It is not the customer's money and
        is not part of :meth:`balance`.
        """
        code = currency.upper()
        for entry in reversed(self._rounding):
            if entry.amount.code == code:
                return entry.total_after
        return Money.zero(code)

    def rounding_entries(self, currency: str | None = None) -> tuple[RoundingEntry, ...]:
        """The rounding differences of conversions, in booking order, optionally of one currency."""
        if currency is None:
            return tuple(self._rounding)
        code = currency.upper()
        return tuple(e for e in self._rounding if e.amount.code == code)

    def is_reversed(self, seq: int) -> bool:
        """Whether an entry has been reversed."""
        return seq in self._reversed

    @in_money_context
    def verify(self) -> bool:
        """Whether every running balance equals the sum of its entries.

        It always does; this recomputes from scratch (reading every entry), for audits and
        tests. It also checks the rounding account: its running totals, and that each
        conversion's target leg plus its rounding entry is the exact converted value.
        """
        sums: dict[str, Decimal] = {}
        entries = self.entries()
        for e in entries:
            sums[e.amount.code] = sums.get(e.amount.code, Decimal(0)) + e.amount.amount
            if e.balance_after.amount != sums[e.amount.code]:
                return False
        if sums != {code: m.amount for code, m in self._balances.items()}:
            return False
        rounded: dict[str, Decimal] = {}
        for r in self._rounding:
            rounded[r.amount.code] = rounded.get(r.amount.code, Decimal(0)) + r.amount.amount
            target = entries[r.target_seq - 1]
            if (
                r.total_after.amount != rounded[r.amount.code]
                or target.conversion != r.conversion
                or target.amount + r.amount != r.conversion.exact
            ):
                return False
        return True

    # ------------------------------------------------------------------ booking

    def top_up(
        self,
        amount: moneyed.Money,
        at: datetime,
        *,
        ref: str | None = None,
        key: str | None = None,
        memo: str = "",
    ) -> LedgerEntry:
        """Credit money received from a payment."""
        return self._book_one(EntryKind.TOP_UP, amount, at, ref=ref, key=key, memo=memo)

    def cashback(
        self,
        amount: moneyed.Money,
        at: datetime,
        *,
        ref: str | None = None,
        key: str | None = None,
        memo: str = "",
    ) -> LedgerEntry:
        """Credit a payment method's cashback as its own entry (SPEC M6)."""
        return self._book_one(EntryKind.CASHBACK, amount, at, ref=ref, key=key, memo=memo)

    def charge(
        self,
        amount: moneyed.Money,
        at: datetime,
        *,
        ref: str | None = None,
        key: str | None = None,
        memo: str = "",
    ) -> LedgerEntry:
        """Take an expense from the balance; ``amount`` is given as a positive value.

        The ledger records; it does not decide. Whether the balance may go below zero
        (credit, postpaid usage) is the rules' decision, made before charging.
        """
        return self._book_one(EntryKind.CHARGE, amount, at, ref=ref, key=key, memo=memo)

    def refund(
        self,
        amount: moneyed.Money,
        at: datetime,
        *,
        ref: str | None = None,
        key: str | None = None,
        memo: str = "",
    ) -> LedgerEntry:
        """Record money returned to the customer; ``amount`` is given as a positive value."""
        return self._book_one(EntryKind.REFUND, amount, at, ref=ref, key=key, memo=memo)

    def adjust(
        self,
        amount: moneyed.Money,
        at: datetime,
        *,
        memo: str,
        ref: str | None = None,
        key: str | None = None,
    ) -> LedgerEntry:
        """Book a signed correction; a memo saying why is required."""
        if not memo.strip():
            raise ValidationError("memo", memo, "an adjustment needs a reason")
        return self._book_one(EntryKind.ADJUSTMENT, amount, at, ref=ref, key=key, memo=memo)

    def convert(
        self,
        conversion: Conversion,
        at: datetime,
        *,
        key: str | None = None,
        memo: str = "",
    ) -> tuple[LedgerEntry, LedgerEntry]:
        """Book a conversion: source out, rounded target in, and the rounding difference.

        Both legs carry the conversion, so its rate stays on record next to the money that
        moved. The rounding difference (exact - rounded target) is booked explicitly, as a
        :class:`RoundingEntry` of the rounding account (see :meth:`rounding`), unless it is
        zero; the customer's balance moves by the rounded target only.

        Returns:
            The two legs: source out, target in.

        Raises:
            ConversionTooSmallError: for a conversion of something into nothing.
            ConflictError: when ``key`` was used for another movement.

        >>> from datetime import date, datetime, timezone
        >>> from cabinet_billing.domain.fx import ExchangeRate, convert
        >>> at = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
        >>> ledger = Ledger("acc-1")
        >>> _ = ledger.top_up(Money("10.00", "EUR"), at)
        >>> usd = convert(Money("10.00", "EUR"), "USD", ExchangeRate("EUR", "USD", "1.0875", date(2024, 3, 1)))
        >>> out, into = ledger.convert(usd, at)
        >>> out.amount, into.amount, ledger.rounding_entries()[0].amount
        (Money('-10.00', 'EUR'), Money('10.88', 'USD'), Money('-0.005000', 'USD'))
        >>> ledger.balance("USD"), ledger.rounding("USD")
        (Money('10.88', 'USD'), Money('-0.005000', 'USD'))
        """
        if conversion.source.amount and not conversion.target.amount:
            raise ConversionTooSmallError(
                conversion.source,
                conversion.exact,
                abs(conversion.target),
                f"{conversion.rate.pair} {conversion.rate.rate}",
                "one that converts to a minor unit",
            )
        pair = [
            (EntryKind.CONVERSION, -conversion.source, None),
            (EntryKind.CONVERSION, conversion.target, None),
        ]
        replay = self._used(key)
        first, second = self._book(pair, at, ref=None, key=key, memo=memo, conversion=conversion)
        difference = conversion.difference
        if not replay and difference.amount:
            self._rounding.append(
                RoundingEntry(
                    seq=len(self._rounding) + 1,
                    account_id=self.account_id,
                    amount=difference,
                    at=at,
                    total_after=self.rounding(difference.code) + difference,
                    conversion=conversion,
                    target_seq=second.seq,
                    key=key,
                ),
            )
        return first, second

    def reverse(
        self,
        seq: int,
        at: datetime,
        *,
        memo: str = "",
        key: str | None = None,
    ) -> LedgerEntry:
        """Undo an entry with a new entry of the opposite amount.

        Raises:
            NotFoundError: when there is no such entry.
            ConflictError: when it was already reversed, or is itself a reversal.
        """
        original = self.entry(seq)
        if key is not None and self._used(key):
            return self._replay(key, [(EntryKind.REVERSAL, -original.amount, seq)])[0]
        if original.kind is EntryKind.REVERSAL:
            raise ConflictError(f"ledger entry {seq}", "a reversal cannot be reversed")
        if seq in self._reversed:
            raise ConflictError(
                f"ledger entry {seq}",
                f"already reversed by entry {self._reversed[seq]}",
            )
        (entry,) = self._book(
            [(EntryKind.REVERSAL, -original.amount, seq)],
            at,
            ref=original.ref,
            key=key,
            memo=memo or f"reversal of entry {seq}",
        )
        self._reversed[seq] = entry.seq
        return entry

    # ------------------------------------------------------------------ internals

    def _book_one(
        self,
        kind: EntryKind,
        amount: moneyed.Money,
        at: datetime,
        *,
        ref: str | None,
        key: str | None,
        memo: str,
    ) -> LedgerEntry:
        value = amount if isinstance(amount, Money) else Money(amount.amount, amount.currency)
        value.require_places(ACCRUAL_PLACES)
        if kind in _CREDITS or kind in _DEBITS:
            value.require_positive()
        if kind is EntryKind.ADJUSTMENT and not value.amount:
            raise InvalidAmountError(str(value), "an adjustment of zero changes nothing")
        signed = -value if kind in _DEBITS else value
        (entry,) = self._book([(kind, signed, None)], at, ref=ref, key=key, memo=memo, checked=True)
        return entry

    def _replay(
        self,
        key: str,
        legs: Sequence[tuple[EntryKind, Money, int | None]],
    ) -> tuple[LedgerEntry, ...]:
        booked = self.by_key(key)
        if [(e.kind, e.amount, e.reverses) for e in booked] != list(legs):
            raise ConflictError(
                f"idempotency key {key!r}",
                f"already used for {', '.join(f'{e.kind.value} {e.amount}' for e in booked)}",
            )
        return booked

    def _book(
        self,
        legs: Sequence[tuple[EntryKind, Money, int | None]],
        at: datetime,
        *,
        ref: str | None,
        key: str | None,
        memo: str,
        conversion: Conversion | None = None,
        checked: bool = False,
    ) -> tuple[LedgerEntry, ...]:
        if key is not None and self._used(key):
            return self._replay(key, legs)
        # Validate every leg before touching state, so a bad leg books nothing.
        check_aware("at", at)
        if not checked:
            for _kind, amount, _rev in legs:
                amount.require_places(ACCRUAL_PLACES)
        booked = []
        for kind, amount, reverses in legs:
            after = self.balance(amount.code) + amount
            entry = LedgerEntry(
                seq=len(self) + 1,
                account_id=self.account_id,
                kind=kind,
                amount=amount,
                at=at,
                balance_after=after,
                memo=memo,
                ref=ref,
                key=key,
                reverses=reverses,
                conversion=conversion,
            )
            self._new.append(entry)
            self._balances[amount.code] = after
            booked.append(entry)
        result = tuple(booked)
        if key is not None:
            self._new_keys[key] = result
        return result
