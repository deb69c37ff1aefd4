"""The contract of a store's range reads: sums and pages computed by the store.

The cabinet's lists and statements ask the store for one page and for the totals of
what their filters choose, instead of reading everything and counting in Python. A
host's store proves its range reads with the checks the shipped stores pass:

>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> check_reads(lambda: MemoryUnitOfWork(store))
>>> len(READ_CHECKS)
1

Each check compares the store's answer with the same answer worked out from every
item, for the committed state and for what the unit of work added and has not
committed yet. The checks make their own account ids, so they may share a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cabinet_billing.domain.ledger import EntrySums, Ledger, LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["READ_CHECKS", "check_reads"]

_AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _book(ledger: Ledger, count: int, start: int) -> None:
    """Entries in two currencies, of both signs, booked at instants out of ``seq`` order."""
    for i in range(start, start + count):
        at = _AT + timedelta(hours=(i * 7) % 50)
        code = "RUB" if i % 3 else "EUR"
        if i % 4 == 1:
            ledger.charge(Money(f"{i}.0137", code), at, ref=f"e{i}")
        else:
            ledger.top_up(Money(f"{i * 2}.50", code), at, ref=f"p{i}")


def _expected(
    entries: tuple[LedgerEntry, ...],
    since: datetime | None,
    until: datetime | None,
    *,
    after: int | None,
    limit: int | None,
    newest_first: bool,
) -> tuple[LedgerEntry, ...]:
    chosen = [
        e for e in entries if (since is None or e.at >= since) and (until is None or e.at < until)
    ]
    if newest_first:
        chosen.reverse()
        chosen = [e for e in chosen if after is None or e.seq < after]
    else:
        chosen = [e for e in chosen if after is None or e.seq > after]
    return tuple(chosen if limit is None else chosen[:limit])


def _compare(ledger: Ledger, what: str) -> None:
    spans = [
        (None, None),
        (_AT + timedelta(hours=10), _AT + timedelta(hours=30)),
        (None, _AT + timedelta(hours=21)),
        (_AT + timedelta(hours=21), None),
    ]
    for code in ("RUB", "EUR", "USD"):
        every = ledger.entries(code)
        for since, until in spans:
            sums = ledger.sums(code, since=since, until=until)
            chosen = _expected(every, since, until, after=None, limit=None, newest_first=False)
            _check(
                sums == EntrySums.of(chosen, code),
                f"{what}: sums of {code} in [{since}, {until}) are {sums}",
            )
            for newest_first in (False, True):
                for after in (None, 5, 17, 29, 40):
                    for limit in (None, 1, 4):
                        found = ledger.page(
                            code,
                            since=since,
                            until=until,
                            after=after,
                            limit=limit,
                            newest_first=newest_first,
                        )
                        expected = _expected(
                            every,
                            since,
                            until,
                            after=after,
                            limit=limit,
                            newest_first=newest_first,
                        )
                        _check(
                            found == expected,
                            f"{what}: page of {code} in [{since}, {until}) after {after}, "
                            f"limit {limit}, newest first {newest_first}: "
                            f"{[e.seq for e in found]} != {[e.seq for e in expected]}",
                        )


def check_ledger_sums_and_pages(make_uow: Callable[[], UnitOfWork]) -> None:
    """A ledger's sums and pages by range of time are those of its entries, stored or new."""
    account = f"reads-{uuid.uuid4().hex[:12]}"
    with make_uow() as uow:
        _book(uow.ledgers.get(account), 30, 1)
        uow.commit()
    with make_uow() as uow:
        ledger = uow.ledgers.get(account)
        _compare(ledger, "stored entries")
        _book(ledger, 12, 31)
        _compare(ledger, "stored and new entries")
        _check(ledger.verify(), "the ledger's balances are the sums of its entries")


READ_CHECKS = (check_ledger_sums_and_pages,)
"""Every check, in the order :func:`check_reads` runs them."""


def check_reads(make_uow: Callable[[], UnitOfWork]) -> None:
    """Run every range-read check against units of work made by ``make_uow``.

    Raises:
        AssertionError: naming the first broken promise.
    """
    for check in READ_CHECKS:
        check(make_uow)
