"""The contract of a store's batches (:class:`~cabinet_billing.ports.repositories.Batch`).

A store whose units of work offer :meth:`~cabinet_billing.ports.repositories.Batching.batch`
lets the billing run bill many accounts in one transaction, one savepoint per account.
These checks hold it to what the run relies on; a store without batches needs none of
them (the run then commits every account on its own). With pytest, subclass
:class:`BatchContract`; without it, :func:`check_batch` runs every check:

>>> from sqlalchemy import create_engine
>>> from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
>>> store = SqlStore(create_engine("sqlite://"), batches=True)
>>> store.create_schema()
>>> check_batch(lambda: SqlUnitOfWork(store))
>>> len(BATCH_CHECKS)
5

What the checks hold a store to:

* a unit of work entered while a batch is open joins it: what it commits is seen by the
  batch's later units of work and is durable only once the batch commits;
* a joined unit of work that rolls back (or raises) loses its own changes only, and a
  document number it took is handed out again;
* a batch left without committing keeps nothing since its last commit; after a commit it
  goes on in a new transaction;
* committing a batch while one of its units of work is open is refused with
  :class:`~cabinet_billing.errors.ConflictError`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import pytest

from cabinet_billing.domain.customer import Account
from cabinet_billing.errors import ConflictError
from cabinet_billing.ports.repositories import Batch, Batching, UnitOfWork
from cabinet_billing.testing.contract import UowFactory, _expect, _fresh

__all__ = ["BATCH_CHECKS", "BatchContract", "check_batch"]


def _batch(make_uow: UowFactory) -> Batch:
    uow = make_uow()
    _expect(isinstance(uow, Batching), "the units of work offer no batch()")
    assert isinstance(uow, Batching)  # noqa: S101 - for the type checker
    batch = uow.batch()
    _expect(batch is not None, "the units of work offer no batch now (batch() is None)")
    assert batch is not None  # noqa: S101 - for the type checker
    return batch


def _stored(make_uow: UowFactory, account_id: str) -> bool:
    with make_uow() as uow:
        return account_id in uow.accounts.ids()


def _add(make_uow: UowFactory, account_id: str) -> None:
    with make_uow() as uow:
        uow.accounts.add(Account.open(account_id, account_id))
        uow.commit()


def check_joined_units_commit_together(make_uow: UowFactory) -> None:
    """Joined units of work see each other's commits; the batch's commit makes them durable."""
    first, second = _fresh("acc"), _fresh("acc")
    batch = _batch(make_uow)
    with batch:
        _add(make_uow, first)
        with make_uow() as uow:
            uow.accounts.get(first).change_name("Batch", "Member")
            uow.accounts.add(Account.open(second, second))
            uow.commit()
        with make_uow() as uow:
            _expect(
                uow.accounts.get(first).profile.first_name == "Member",
                "a unit of work of the batch does not see an earlier one's commit",
            )
        batch.commit()
    _expect(_stored(make_uow, first) and _stored(make_uow, second), "the batch's commit lost")
    with make_uow() as uow:
        _expect(uow.accounts.get(first).profile.first_name == "Member", "a change was lost")


def check_a_joined_unit_rolls_back_alone(make_uow: UowFactory) -> None:
    """A joined unit of work that raises loses its changes only; its number is reused."""
    kept, dropped, after = _fresh("acc"), _fresh("acc"), _fresh("acc")
    counter = "invoice-number:" + _fresh("counter")
    batch = _batch(make_uow)
    with batch:
        _add(make_uow, kept)
        taken: list[int] = []

        def fail() -> None:
            with make_uow() as uow:
                uow.accounts.add(Account.open(dropped, dropped))
                uow.accounts.get(kept).change_name("Rolled", "Back")
                taken.append(uow.sequences.next(counter))
                raise RuntimeError("the account failed")

        with pytest.raises(RuntimeError, match="the account failed"):
            fail()
        with make_uow() as uow:
            _expect(dropped not in uow.accounts.ids(), "a rolled back unit's account stayed")
            _expect(
                [uow.sequences.next(counter)] == taken,
                "a rolled back unit's document number was skipped",
            )
            uow.accounts.add(Account.open(after, after))
            uow.commit()
        batch.commit()
    _expect(_stored(make_uow, kept) and _stored(make_uow, after), "the others were lost")
    _expect(not _stored(make_uow, dropped), "a rolled back unit's account was committed")
    with make_uow() as uow:
        _expect(uow.accounts.get(kept).profile.first_name != "Rolled", "a rollback leaked")


def check_a_batch_left_keeps_nothing(make_uow: UowFactory) -> None:
    """Leaving a batch, by an exception too, keeps nothing since its last commit."""
    committed, left, crashed = _fresh("acc"), _fresh("acc"), _fresh("acc")
    batch = _batch(make_uow)
    with batch:
        _add(make_uow, committed)
        batch.commit()
        _add(make_uow, left)
    _expect(_stored(make_uow, committed), "a batch's commit was undone by leaving it")
    _expect(not _stored(make_uow, left), "a batch left without a commit kept a change")

    def crash() -> None:
        with _batch(make_uow):
            _add(make_uow, crashed)
            raise RuntimeError("the process stops")

    with pytest.raises(RuntimeError, match="the process stops"):
        crash()
    _expect(not _stored(make_uow, crashed), "a batch left by an exception kept a change")


def check_a_batch_goes_on_after_a_commit(make_uow: UowFactory) -> None:
    """After a commit the batch's next units of work are in a new transaction."""
    first, second, third = _fresh("acc"), _fresh("acc"), _fresh("acc")
    batch = _batch(make_uow)
    with batch:
        _add(make_uow, first)
        batch.commit()
        _add(make_uow, second)
        batch.commit()
        batch.commit()  # nothing since: nothing to do
        _add(make_uow, third)
        batch.rollback()
        batch.commit()
    _expect(_stored(make_uow, first) and _stored(make_uow, second), "a commit was lost")
    _expect(not _stored(make_uow, third), "a rolled back batch kept a change")


def check_commit_with_a_unit_open_is_refused(make_uow: UowFactory) -> None:
    """A batch is not committed under a unit of work of it that is still open."""
    account_id = _fresh("acc")
    batch = _batch(make_uow)
    with batch, make_uow() as uow:
        uow.accounts.add(Account.open(account_id, account_id))
        uow.accounts.ids()
        with pytest.raises(ConflictError, match="still open"):
            batch.commit()


BATCH_CHECKS: tuple[Callable[[UowFactory], None], ...] = (
    check_joined_units_commit_together,
    check_a_joined_unit_rolls_back_alone,
    check_a_batch_left_keeps_nothing,
    check_a_batch_goes_on_after_a_commit,
    check_commit_with_a_unit_open_is_refused,
)


def check_batch(make_uow: UowFactory) -> None:
    """Run every batch check against units of work made by ``make_uow``.

    Raises:
        AssertionError: naming the first broken promise.
    """
    for check in BATCH_CHECKS:
        check(make_uow)


class BatchContract(abc.ABC):
    """The batch checks as a pytest test class: subclass it and define :meth:`make_uow`."""

    @abc.abstractmethod
    def make_uow(self) -> UnitOfWork:
        """A new unit of work over the store under test."""

    def test_joined_units_commit_together(self) -> None:
        """See :func:`check_joined_units_commit_together`."""
        check_joined_units_commit_together(self.make_uow)

    def test_a_joined_unit_rolls_back_alone(self) -> None:
        """See :func:`check_a_joined_unit_rolls_back_alone`."""
        check_a_joined_unit_rolls_back_alone(self.make_uow)

    def test_a_batch_left_keeps_nothing(self) -> None:
        """See :func:`check_a_batch_left_keeps_nothing`."""
        check_a_batch_left_keeps_nothing(self.make_uow)

    def test_a_batch_goes_on_after_a_commit(self) -> None:
        """See :func:`check_a_batch_goes_on_after_a_commit`."""
        check_a_batch_goes_on_after_a_commit(self.make_uow)

    def test_commit_with_a_unit_open_is_refused(self) -> None:
        """See :func:`check_commit_with_a_unit_open_is_refused`."""
        check_commit_with_a_unit_open_is_refused(self.make_uow)
