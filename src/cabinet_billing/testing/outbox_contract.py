"""The contract of a unit of work's notification outbox (``uow.outbox``).

A host with its own store proves its outbox with the checks the shipped stores pass:

>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> check_outbox(lambda: MemoryUnitOfWork(store))
>>> len(OUTBOX_CHECKS)
7

The checks make their own account ids, so they may share a store that holds data. They
hold an outbox to this: a queued notification is committed with its unit of work or
rolled back with it, and is queued once per key (``add_many`` too, which answers the
keys it queued, in the order given); ``pending`` answers oldest first, by
account and by the instant a message is due, and gives back the notification exactly as
queued (its instant keeps its UTC offset, which is part of its key); ``listed`` pages
through the messages of one status in queue order, a cursor keeping its place, and
``count`` counts them; ``requeue`` queues a given-up message again, once; ``purge``
forgets the finished messages of the statuses it is given done before an instant,
never a pending one, and a key it forgot may be queued again; ``update`` of a
message another delivery finished is refused with
:class:`~cabinet_billing.errors.ConflictError`, and ``get`` of an unknown key raises
:class:`~cabinet_billing.errors.NotFoundError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.outbox import DeliveryPolicy, OutboxMessage, OutboxStatus
from cabinet_billing.errors import ConflictError, NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["OUTBOX_CHECKS", "check_outbox"]

_AT = datetime(2024, 3, 21, 9, tzinfo=UTC)


def _note(account_id: str, kind: str, minute: int = 0) -> Notification:
    return Notification(
        account_id, NotificationCategory.FINANCE, kind, _AT + timedelta(minutes=minute)
    )


def _account() -> str:
    return f"outbox-{uuid.uuid4().hex[:12]}"


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def check_queued_notifications_roll_back_with_their_unit_of_work(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    """What is queued is committed with its unit of work or not at all, once per key."""
    account = _account()
    note = _note(account, "invoice.paid")
    with make_uow() as uow:
        _check(uow.outbox.add(note), "a new notification is queued")
        _check([m.key for m in uow.outbox.pending(10, account)] == [note.key], "seen pending")
    with make_uow() as uow:
        _check(uow.outbox.pending(10, account) == [], "a rolled-back queue is gone")
        _check(uow.outbox.add(note), "queued again after the rollback")
        _check(not uow.outbox.add(note), "the same key is queued once")
        uow.commit()
    with make_uow() as uow:
        _check(not uow.outbox.add(note), "a committed key is not queued again")
        found = uow.outbox.pending(10, account)
    _check(
        [(m.status, m.attempts, m.notification) for m in found]
        == [(OutboxStatus.PENDING, 0, note)],
        f"the committed message is pending as queued, got {found!r}",
    )


def check_pending_messages_are_found_oldest_first_when_due(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    """``pending`` answers oldest first, by account and due instant, notifications intact."""
    one, two = _account(), _account()
    policy = DeliveryPolicy(retry_delays=(timedelta(minutes=10),))
    local = _note(two, "payment.credited", 1)
    local = attrs.evolve(local, at=local.at.astimezone(ZoneInfo("Europe/Kyiv")), params={"n": "1"})
    first, last = _note(one, "a"), _note(one, "b", 2)
    with make_uow() as uow:
        for note in (first, local, last):
            uow.outbox.add(note)
        uow.commit()
    with make_uow() as uow:
        uow.outbox.update(uow.outbox.get(first.key).failed(_AT, "ConnectionError: down", policy))
        uow.outbox.update(uow.outbox.get(last.key).delivered(_AT))
        uow.commit()
    with make_uow() as uow:
        mine = [m for m in uow.outbox.pending(1000) if m.account_id in {one, two}]
        _check([m.key for m in mine] == [first.key, local.key], "pending, oldest first")
        due = [m.key for m in uow.outbox.pending(1000, due_by=_AT) if m.account_id in {one, two}]
        _check(due == [local.key], "a message that failed is not due before its delay")
        _check([m.key for m in uow.outbox.pending(10, one)] == [first.key], "pending by account")
        _check(uow.outbox.get(local.key).notification == local, "the notification as queued")
        retried = uow.outbox.get(first.key)
    _check(
        (retried.attempts, retried.last_error, retried.next_attempt_at)
        == (1, "ConnectionError: down", _AT + timedelta(minutes=10)),
        f"the failure is kept, got {retried!r}",
    )


def check_a_finished_message_is_not_written_again(make_uow: Callable[[], UnitOfWork]) -> None:
    """``update`` of a delivered message conflicts; ``get`` of an unknown key is NotFound."""
    note = _note(_account(), "invoice.paid")
    with make_uow() as uow:
        uow.outbox.add(note)
        uow.commit()
    with make_uow() as uow:
        uow.outbox.update(uow.outbox.get(note.key).delivered(_AT))
        uow.commit()
    try:
        with make_uow() as uow:
            uow.outbox.update(OutboxMessage(note).failed(_AT, "late", DeliveryPolicy()))
            uow.commit()
    except ConflictError:
        pass
    else:
        raise AssertionError("a delivered message was written again")
    with make_uow() as uow:
        _check(uow.outbox.get(note.key).status is OutboxStatus.DELIVERED, "still delivered")
        try:
            uow.outbox.get(f"{note.key}:unknown")
        except NotFoundError:
            return
    raise AssertionError("get of an unknown key did not raise NotFoundError")


def check_messages_are_listed_by_status_in_queue_order(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    """``listed`` pages through one status in queue order; ``count`` counts it."""
    one, two = _account(), _account()
    policy = DeliveryPolicy(retry_delays=())
    notes = [_note(one, f"n{n}", n) for n in range(4)]
    other = _note(two, "other")
    with make_uow() as uow:
        for note in (*notes[:2], other, *notes[2:]):
            uow.outbox.add(note)
        uow.commit()
    with make_uow() as uow:
        for note in (notes[0], notes[3]):
            uow.outbox.update(uow.outbox.get(note.key).failed(_AT, "OSError: down", policy))
        uow.outbox.update(uow.outbox.get(notes[1].key).delivered(_AT))
        uow.commit()
    given_up, pending = OutboxStatus.GIVEN_UP, OutboxStatus.PENDING
    with make_uow() as uow:
        first = uow.outbox.listed(given_up, 1, account_id=one)
        rest = uow.outbox.listed(given_up, 10, account_id=one, after=first[0].key)
        _check(
            [m.key for m in (*first, *rest)] == [notes[0].key, notes[3].key],
            "given up, in queue order, a page after the other",
        )
        _check(rest[0].last_error == "OSError: down", "the last error is kept")
        after_delivered = uow.outbox.listed(pending, 10, account_id=one, after=notes[1].key)
        _check(
            [m.key for m in after_delivered] == [notes[2].key],
            "a cursor keeps its place when its message changed status",
        )
        _check(
            [m.key for m in uow.outbox.listed(pending, 10, account_id=two)] == [other.key],
            "listed by account",
        )
        counts = [uow.outbox.count(s, account_id=one) for s in OutboxStatus]
        _check(counts == [1, 1, 2], f"counted by status (pending, delivered, given up): {counts}")
        try:
            uow.outbox.listed(pending, 10, after=f"{other.key}:unknown")
        except NotFoundError:
            return
    raise AssertionError("listed after an unknown key did not raise NotFoundError")


def check_a_given_up_message_is_queued_again_once(make_uow: Callable[[], UnitOfWork]) -> None:
    """``requeue`` makes a given-up message pending again; twice, or of another, conflicts."""
    account = _account()
    gone, waiting = _note(account, "gone"), _note(account, "waiting", 1)
    with make_uow() as uow:
        uow.outbox.add(gone)
        uow.outbox.add(waiting)
        uow.commit()
    with make_uow() as uow:
        given_up = uow.outbox.get(gone.key).failed(_AT, "OSError: down", DeliveryPolicy(()))
        uow.outbox.update(given_up)
        uow.commit()
    with make_uow() as uow:
        uow.outbox.requeue(given_up.requeued())
        uow.commit()
    try:
        with make_uow() as uow:
            uow.outbox.requeue(given_up.requeued())  # a second staff member, a moment late
            uow.commit()
    except ConflictError:
        pass
    else:
        raise AssertionError("a message was queued again twice")
    with make_uow() as uow:
        again = uow.outbox.get(gone.key)
        _check(
            (again.status, again.attempts, again.next_attempt_at, again.last_error)
            == (OutboxStatus.PENDING, 0, None, "OSError: down"),
            f"queued again with every attempt, the last error kept, got {again!r}",
        )
        _check(
            {m.key for m in uow.outbox.pending(10, account)} == {gone.key, waiting.key},
            "pending again",
        )
        try:
            uow.outbox.requeue(uow.outbox.get(waiting.key))
        except ConflictError:
            return
    raise AssertionError("a pending message was queued again")


def check_finished_messages_are_purged(make_uow: Callable[[], UnitOfWork]) -> None:
    """``purge`` forgets finished messages done before an instant, with its unit of work."""
    one, two = _account(), _account()
    policy = DeliveryPolicy(retry_delays=())
    old, recent, failed, waiting, other = (
        _note(one, "old"),
        _note(one, "recent", 1),
        _note(one, "failed", 2),
        _note(one, "waiting", 3),
        _note(two, "other", 4),
    )
    with make_uow() as uow:
        for note in (old, recent, failed, waiting, other):
            uow.outbox.add(note)
        uow.commit()
    with make_uow() as uow:
        uow.outbox.update(uow.outbox.get(old.key).delivered(_AT))
        uow.outbox.update(uow.outbox.get(recent.key).delivered(_AT + timedelta(days=2)))
        uow.outbox.update(uow.outbox.get(failed.key).failed(_AT, "down", policy))
        uow.outbox.update(uow.outbox.get(other.key).delivered(_AT))
        uow.commit()
    done = frozenset({OutboxStatus.DELIVERED})
    cut = _AT + timedelta(days=1)
    with make_uow() as uow:
        _check(uow.outbox.purge(cut, done, account_id=one) == 1, "one old delivered message")
    with make_uow() as uow:
        _check(uow.outbox.get(old.key).key == old.key, "a purge not committed forgets nothing")
        _check(uow.outbox.purge(cut, done, account_id=one) == 1, "purged again")
        uow.commit()
    with make_uow() as uow:
        _check(uow.outbox.count(OutboxStatus.DELIVERED, account_id=one) == 1, "the recent stays")
        _check(uow.outbox.count(OutboxStatus.GIVEN_UP, account_id=one) == 1, "given up stays")
        _check(uow.outbox.count(OutboxStatus.DELIVERED, account_id=two) == 1, "others stay")
        try:
            uow.outbox.get(old.key)
        except NotFoundError:
            pass
        else:
            raise AssertionError("a purged message is forgotten")
        every = frozenset(OutboxStatus)
        _check(uow.outbox.purge(cut, every, account_id=one) == 1, "given up, when asked")
        _check(uow.outbox.add(old), "a forgotten key is queued again")
        uow.commit()
    with make_uow() as uow:
        pending = [m.key for m in uow.outbox.pending(10, one)]
        _check(pending == [waiting.key, old.key], f"pending ones are never purged: {pending}")


def check_many_notifications_are_queued_once_each(make_uow: Callable[[], UnitOfWork]) -> None:
    """``add_many`` queues each new key once, in order, and answers only the keys it queued."""
    account = _account()
    old, new, newer = (_note(account, f"k{m}", m) for m in range(3))
    with make_uow() as uow:
        _check(uow.outbox.add_many([]) == [], "nothing to queue, nothing queued")
        queued = uow.outbox.add_many([old, old])
        _check(queued == [old.key], f"the same notification twice is queued once, got {queued!r}")
        uow.commit()
    with make_uow() as uow:
        again = uow.outbox.add_many([old])
        _check(again == [], f"a key queued before is not queued again, got {again!r}")
        mixed = uow.outbox.add_many([new, old, newer])
        _check(mixed == [new.key, newer.key], f"only the new keys, in order, got {mixed!r}")
        _check(not uow.outbox.add(newer), "what add_many queued is there for add")
    with make_uow() as uow:
        gone = [m.key for m in uow.outbox.pending(10, account)]
        _check(gone == [old.key], f"rolled back with its unit of work, got {gone!r}")
        uow.outbox.add_many([new, newer])
        uow.commit()
    with make_uow() as uow:
        found = uow.outbox.pending(10, account)
    _check(
        [(m.status, m.notification) for m in found]
        == [(OutboxStatus.PENDING, n) for n in (old, new, newer)],
        f"pending oldest first as queued, got {found!r}",
    )


OUTBOX_CHECKS: tuple[Callable[[Callable[[], UnitOfWork]], None], ...] = (
    check_queued_notifications_roll_back_with_their_unit_of_work,
    check_pending_messages_are_found_oldest_first_when_due,
    check_a_finished_message_is_not_written_again,
    check_messages_are_listed_by_status_in_queue_order,
    check_a_given_up_message_is_queued_again_once,
    check_finished_messages_are_purged,
    check_many_notifications_are_queued_once_each,
)
"""Every check of :func:`check_outbox`."""


def check_outbox(make_uow: Callable[[], UnitOfWork]) -> None:
    """Run every outbox check against a factory of units of work.

    Raises:
        AssertionError: naming the first promise the outbox does not keep.
    """
    for check in OUTBOX_CHECKS:
        check(make_uow)
