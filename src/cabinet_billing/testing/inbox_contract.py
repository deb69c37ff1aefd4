"""The contract of a unit of work's notification inbox (``uow.inbox``).

A host with its own store proves its inbox with the checks the shipped stores pass:

>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> check_inbox(lambda: MemoryUnitOfWork(store))
>>> len(INBOX_CHECKS)
4

The checks make their own account ids, so they may share a store that holds data. They
hold an inbox to this: an entry is kept with its unit of work or rolled back with it,
once per notification key (``add_many`` too, which answers the ids it kept, in the
order given), and gives back the notification exactly as it was added;
pages are newest first, continue after their cursor, filter by category, by the
categories a user sees (but for the entries always shown) and by the user's own read
marks; an unknown cursor raises :class:`~cabinet_billing.errors.NotFoundError`;
``mark_read`` answers the ids the account has and keeps the first instant a user read
an entry; ``mark_all_read`` marks only what matches and only for that user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["INBOX_CHECKS", "check_inbox"]

_AT = datetime(2024, 3, 21, 9, tzinfo=UTC)
_FINANCE = NotificationCategory.FINANCE
_NEWS = NotificationCategory.NEWS
#: The entry of the paging check the provider always shows, and how many a finance-only user sees.
_ALWAYS, _FINANCE_SEEN = 3, 4


def _note(
    account_id: str, kind: str, minute: int = 0, category: NotificationCategory = _FINANCE
) -> Notification:
    return Notification(
        account_id, category, kind, _AT + timedelta(minutes=minute), {"n": str(minute)}
    )


def _account() -> str:
    return f"inbox-{uuid.uuid4().hex[:12]}"


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _query(account_id: str, user_id: str = "u1", **filters: object) -> InboxQuery:
    return InboxQuery(account_id=account_id, user_id=user_id, **filters)  # type: ignore[arg-type]


def check_entries_roll_back_with_their_unit_of_work(make_uow: Callable[[], UnitOfWork]) -> None:
    """What is added is kept with its unit of work or not at all, once per key, intact."""
    account = _account()
    kyiv = Notification(
        account, _FINANCE, "invoice.paid", _AT.astimezone(ZoneInfo("Europe/Kyiv")), {"a": "1"}, "x"
    )
    with make_uow() as uow:
        _check(uow.inbox.add(kyiv), "a new notification is kept")
        _check(uow.inbox.count(_query(account)) == 1, "seen by its own unit of work")
    with make_uow() as uow:
        _check(uow.inbox.count(_query(account)) == 0, "a rolled-back entry is gone")
        _check(uow.inbox.add(kyiv, always_shown=True), "kept again after the rollback")
        _check(not uow.inbox.add(kyiv), "the same key is kept once")
        uow.commit()
    with make_uow() as uow:
        _check(not uow.inbox.add(kyiv), "a committed key is not kept again")
        found = uow.inbox.page(_query(account), 10)
    _check(
        [(e.notification, e.always_shown, e.read_at) for e in found] == [(kyiv, True, None)],
        f"the committed entry is unread and as added, got {found!r}",
    )
    _check(found[0].notification.key == kyiv.key, "the instant keeps its UTC offset")


def check_pages_are_newest_first_and_filtered(make_uow: Callable[[], UnitOfWork]) -> None:
    """Newest first, after the cursor, by category, by what the user sees; bad cursor."""
    account, other = _account(), _account()
    with make_uow() as uow:
        for minute in range(5):
            category = _NEWS if minute % 2 else _FINANCE
            uow.inbox.add(
                _note(account, f"k{minute}", minute, category), always_shown=minute == _ALWAYS
            )
        uow.inbox.add(_note(other, "k9", 9))
        uow.commit()
    with make_uow() as uow:
        first = uow.inbox.page(_query(account), 2)
        _check([e.kind for e in first] == ["k4", "k3"], f"newest first, got {first!r}")
        rest = uow.inbox.page(_query(account), 10, first[-1].id)
        _check([e.kind for e in rest] == ["k2", "k1", "k0"], f"after the cursor, got {rest!r}")
        news = uow.inbox.page(_query(account, category=_NEWS), 10)
        _check([e.kind for e in news] == ["k3", "k1"], f"one category, got {news!r}")
        seen = uow.inbox.page(_query(account, shown=frozenset({_FINANCE})), 10)
        _check(
            [e.kind for e in seen] == ["k4", "k3", "k2", "k0"],
            f"the categories shown and the entries always shown, got {seen!r}",
        )
        _check(
            uow.inbox.count(_query(account, shown=frozenset({_FINANCE}))) == _FINANCE_SEEN,
            "counted so",
        )
        _check(uow.inbox.count(_query(other)) == 1, "another account's inbox is its own")
        try:
            uow.inbox.page(_query(account), 10, uow.inbox.page(_query(other), 1)[0].id)
        except NotFoundError:
            pass
        else:
            raise AssertionError("a cursor of another account's inbox is not found")


def check_read_marks_are_each_users_own(make_uow: Callable[[], UnitOfWork]) -> None:
    """``mark_read`` keeps the first instant; ``mark_all_read`` marks what matches, per user."""
    account = _account()
    notes = [_note(account, f"k{m}", m, _FINANCE) for m in range(2)]
    notes.append(_note(account, "k2", 2, _NEWS))
    with make_uow() as uow:
        for note in notes:
            uow.inbox.add(note)
        uow.commit()
    with make_uow() as uow:
        known = uow.inbox.mark_read(account, "u1", [notes[0].key, "no-such-key"], _AT)
        _check(known == {notes[0].key}, f"only the account's ids are known, got {known!r}")
        uow.commit()
    later = _AT + timedelta(hours=1)
    with make_uow() as uow:
        uow.inbox.mark_read(account, "u1", [notes[0].key], later)
        marked = uow.inbox.mark_all_read(_query(account, category=_FINANCE), later)
        _check(marked == 1, f"one unread finance entry is marked, got {marked}")
        uow.commit()
    with make_uow() as uow:
        mine = {e.kind: e.read_at for e in uow.inbox.page(_query(account), 10)}
        _check(
            mine == {"k0": _AT, "k1": later, "k2": None},
            f"the first read instant is kept, news stays unread, got {mine!r}",
        )
        _check(uow.inbox.count(_query(account, unread=True)) == 1, "one unread left")
        _check(uow.inbox.count(_query(account, unread=False)) == 2, "two read")  # noqa: PLR2004
        _check(uow.inbox.count(_query(account, "u2", unread=True)) == 3, "u2 read nothing")  # noqa: PLR2004


def check_many_entries_are_kept_once_each(make_uow: Callable[[], UnitOfWork]) -> None:
    """``add_many`` keeps each new id once, in order, and answers only the ids it kept."""
    account = _account()
    old, new, newer = (_note(account, f"k{m}", m) for m in range(3))
    with make_uow() as uow:
        _check(uow.inbox.add_many([]) == [], "nothing to keep, nothing kept")
        kept = uow.inbox.add_many([InboxEntry(old, always_shown=True), InboxEntry(old)])
        _check(kept == [old.key], f"the same entry twice is kept once, got {kept!r}")
        uow.commit()
    with make_uow() as uow:
        again = uow.inbox.add_many([InboxEntry(old)])
        _check(again == [], f"an entry already there is not kept again, got {again!r}")
        mixed = uow.inbox.add_many(
            [InboxEntry(new), InboxEntry(old), InboxEntry(newer, always_shown=True)]
        )
        _check(mixed == [new.key, newer.key], f"only the new ids, in order, got {mixed!r}")
        _check(not uow.inbox.add(newer), "what add_many kept is there for add")
    with make_uow() as uow:
        gone = uow.inbox.page(_query(account), 10)
        _check([e.kind for e in gone] == ["k0"], f"rolled back with its unit of work: {gone!r}")
        read = InboxEntry(newer, always_shown=True, read_at=_AT)  # kept unread all the same
        uow.inbox.add_many([InboxEntry(new), read])
        uow.commit()
    with make_uow() as uow:
        found = uow.inbox.page(_query(account), 10)
    _check(
        [(e.notification, e.always_shown, e.read_at) for e in found]
        == [(newer, True, None), (new, False, None), (old, True, None)],
        f"newest first, unread, the first of a repeated id kept, got {found!r}",
    )


INBOX_CHECKS: tuple[Callable[[Callable[[], UnitOfWork]], None], ...] = (
    check_entries_roll_back_with_their_unit_of_work,
    check_pages_are_newest_first_and_filtered,
    check_read_marks_are_each_users_own,
    check_many_entries_are_kept_once_each,
)
"""Every check of :func:`check_inbox`."""


def check_inbox(make_uow: Callable[[], UnitOfWork]) -> None:
    """Run every inbox check against a factory of units of work.

    Raises:
        AssertionError: naming the first promise the inbox does not keep.
    """
    for check in INBOX_CHECKS:
        check(make_uow)
