"""The billing run: what happens to every account each day (SPEC R1-R9 over time).

:meth:`BillingRun.day` (``billing.run.day(...)``) walks the accounts in batches and for
each account on the day:

1. credit: issues the statement on the statement day and sends the dunning notices
   (R1, R3);
2. renewal invoices: where the settings say so (``renewal_invoice_days``, Horoshop),
   issues each paid service's invoice for its next period ahead of the period's end (R7);
3. card autopay: charges the bound card for the invoices issued since the last run (R7);
4. renewals: renews every service whose renewal day has come, from the balance (and the
   credit line, unless it is blocked) or from its saved method; a failed charge marks the
   method not working, notifies the customer and is retried on the days of the renewal
   policy's retry schedule, which is also its limit (R4);
5. expiry: a service whose paid period ended without renewal expires;
6. autopayment: tops the balance up from a saved method when it is below the threshold,
   within the method's range and never past the monthly cap, fee included (R6, M5);
7. the low-balance notice when the balance fell below the customer's threshold (R8).

**Calls to the payment provider never happen inside a unit of work that can still fail.**
The day's work is done in passes: a pass runs the steps until one needs the provider,
records that charge as a :class:`~cabinet_billing.domain.attempts.ChargeAttempt` with its
idempotency key (``<series>#<n>``, one series per service and period, invoice, day of
top-up or card check) and commits; then the provider is called, and the outcome is booked
in a unit of work of its own. When booking fails (a conflict with a concurrent webhook, a
lost connection) the attempt stays pending, and the next run first asks the provider again
**with the same key**: a card is never charged twice for one period. The passes then go on
until the day is done. The units of work take the store's counters in one order
(:data:`~cabinet_billing.app.context.COUNTER_ORDER`), so runs on many workers never
deadlock on them.

An account done for the day is recorded under a key, so running the day again changes
nothing, and a run that stopped half-way (a crash, a deploy) finishes where it stopped
when started again. One account failing does not stop the others: its unit of work rolls
back and the summary names it with the reason and the error. A transient storage failure
(a deadlock, a serialization failure, a lost connection:
:class:`~cabinet_billing.errors.TransientStorageError`) is tried again first, up to
``settings.transient_retries`` times. Notifications are queued in the outbox by the unit
of work that bills the account and delivered after its commit; a notifier that fails
leaves them there for :meth:`BillingRun.deliver` (see docs/notifications.md). A dry run does the same work in units of
work it never commits and charges no saved method, and returns what would have happened.

**Many accounts, one transaction; each account atomic.** When the store's units of work
offer a :class:`~cabinet_billing.ports.repositories.Batch` (the SQL store's do on
PostgreSQL), the
accounts are billed ``commit_every`` at a time in one database transaction, every unit of
work in a savepoint of it: an account that fails rolls back to its savepoint alone. The
batch is committed before every call to the provider (so the attempt is durable and no
row is held while the provider answers), and the notifications are delivered once the
commit that holds them is done. A batch whose commit fails keeps nothing: each account it
had finished is billed again, committed on its own. Without batches every account is
committed on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.charges import Booked, Charges, method_of, plain_quote, renewed
from cabinet_billing.app.context import Context, notifies
from cabinet_billing.app.outbox import DeliveryReport
from cabinet_billing.app.profile import hold_deletion, holds_deletion_work
from cabinet_billing.domain.attempts import AttemptPurpose, AttemptStatus, ChargeAttempt
from cabinet_billing.domain.autopay import CardAutopayStatus
from cabinet_billing.domain.billing_profile import DATED_KEYS_KEPT, BillingProfile
from cabinet_billing.domain.checks import check_aware
from cabinet_billing.domain.events import (
    BillingEvent,
    InvoiceIssued,
    PaymentCredited,
    ServiceExpired,
    ServiceRenewed,
    StatementIssued,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, InvoiceLine
from cabinet_billing.domain.money import Money, currency_places
from cabinet_billing.domain.outbox import OutboxMessage, OutboxStatus
from cabinet_billing.domain.payment_method import PaymentQuote
from cabinet_billing.domain.periods import PeriodUnit, period_end
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.service import (
    Actor,
    BillingMode,
    Service,
    ServiceOperation,
    ServiceStatus,
)
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.domain.tax import TaxMode
from cabinet_billing.domain.text import LineText
from cabinet_billing.errors import (
    AmountOutOfRangeError,
    BillingError,
    ConflictError,
    InvalidArgumentError,
    TransientStorageError,
    ValidationError,
)
from cabinet_billing.ports.repositories import (
    NEVER_DUE,
    Batch,
    Batching,
    ReadsAhead,
    UnitOfWork,
)
from cabinet_billing.rules.autopay import autopay_charge, low_balance_notice
from cabinet_billing.rules.credit_limit import (
    CreditAction,
    evaluate_credit,
    issue_statement,
    next_credit_change,
    next_statement_day,
    statement_month,
)
from cabinet_billing.rules.dunning import due_notifications, next_notice_day
from cabinet_billing.rules.reminders import (
    due_reminder,
    is_reminded,
    next_reminder_day,
    reminder_notification,
)
from cabinet_billing.rules.renewal import (
    RenewalAction,
    RenewalDecision,
    decide_renewal,
    renewal_date,
    renewal_key,
)

__all__ = [
    "COMMIT_EVERY",
    "MAX_CALLS_PER_DAY",
    "MAX_PREVIEW_DAYS",
    "AccountFailure",
    "BillingRun",
    "CycleSummary",
    "Preview",
]

#: Statuses in which a paid service expires when its period ends unrenewed.
_LIVE = frozenset(
    {ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED_BY_CLIENT, ServiceStatus.STOPPED_BY_CLIENT},
)
#: Statuses in which a paid service renews (an expired one comes back to life).
_RENEWABLE = _LIVE | {ServiceStatus.PROCESSING, ServiceStatus.EXPIRED}

#: The most calls to the payment provider the run makes for one account on one day; an
#: account that would need more is reported as failed (it points at a defect, not a load).
MAX_CALLS_PER_DAY = 200

#: How many months ahead the next charge an expired daily-billed service's balance
#: covers is looked for: the months' lengths repeat within four years.
_DAILY_MONTHS_AHEAD = 48

#: The furthest ahead of the clock's today a dry run looks (it bills every day up to it).
MAX_PREVIEW_DAYS = 731

#: How many accounts the run bills in one database transaction by default, when the
#: store offers batches (one savepoint per account, see :meth:`BillingRun.day`).
COMMIT_EVERY = 20


@attrs.frozen
class AccountFailure:
    """An account the run could not finish, and why (its changes were rolled back).

    Attributes:
        account_id: the account.
        reason: why, in words.
        error: the error itself (e.g. a
            :class:`~cabinet_billing.errors.TransientStorageError` that every try met).
        attempts: how many times the account was tried.
    """

    account_id: str
    reason: str
    error: BillingError | None = attrs.field(default=None, eq=False, repr=False)
    attempts: int = attrs.field(default=1, eq=False)


@attrs.frozen
class Preview:
    """Something a dry run found would happen: an invoice, a charge, an expiry.

    Attributes:
        account_id: the account.
        what: what would happen, in words.
        amount: the amount, when there is one.
        on: the day it would happen (a dry run for a later day walks every day before).
    """

    account_id: str
    what: str
    amount: Money | None = None
    on: date | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class CycleSummary:
    """What one billing run did.

    Attributes:
        day: the billing day.
        dry_run: whether nothing was committed.
        accounts: accounts processed by this run.
        skipped: accounts already done for the day by an earlier run.
        not_due: accounts not visited because nothing was due for them on the day (their
            next event date is later); always 0 when the accounts are given.
        invoices: invoices issued (statements and renewals).
        renewals: services renewed.
        charges: saved-method charges that succeeded (renewals, autopay, card autopay).
        failed_charges: saved-method charges that failed.
        accruals: daily charges of daily-billed services.
        expired: services expired.
        notifications: notifications sent.
        undelivered: notifications the notifier failed to take during this run; they
            stay in the outbox and are tried again later (see :meth:`BillingRun.deliver`).
        revenue: payments credited, per currency.
        failures: accounts that failed, with the reason.
        previews: what a dry run would have done.
        events: every event, in order.
    """

    day: date
    dry_run: bool
    accounts: int
    skipped: int
    invoices: int
    renewals: int
    charges: int
    failed_charges: int
    accruals: int
    expired: int
    notifications: int
    revenue: dict[str, Money]
    failures: tuple[AccountFailure, ...]
    previews: tuple[Preview, ...]
    events: tuple[BillingEvent, ...]
    undelivered: int = 0
    not_due: int = 0


@attrs.define
class _Tally(Booked):
    previews: list[Preview] = attrs.field(factory=list)
    accruals: int = 0
    undelivered: int = 0

    def add(self, other: _Tally) -> None:
        self.merge(other)
        self.previews += other.previews
        self.accruals += other.accruals
        self.undelivered += other.undelivered


@attrs.define
class _Run:
    """One pass over one account on one day: what every step needs."""

    uow: UnitOfWork
    profile: BillingProfile
    today: date
    now: datetime
    tally: _Tally
    dry_run: bool
    #: Keys of attempts the provider gave no answer to in this run: not asked again today.
    unknown: frozenset[str] = frozenset()
    #: The account's services, as the pass read them.
    services: list[Service] = attrs.field(factory=list)
    #: Invoices the pass issued (card autopay charges those it did not see the next day).
    issued: int = 0
    #: The account's invoices, when a step read them all (the reminders).
    invoices: list[Invoice] = attrs.field(factory=list)


class _NeedsCall(Exception):  # noqa: N818 - control flow inside the run, never escapes it
    """A step needs the payment provider: the pass commits the attempt, then calls."""

    def __init__(self, attempt: ChargeAttempt) -> None:
        super().__init__(attempt.key)
        self.attempt = attempt


@attrs.define
class _Billed:
    """What an account did in the open transaction: counted once it is committed."""

    account_id: str
    tally: _Tally
    #: Whether the account was billed (False: done already); None: a part of its day.
    done: bool | None = None
    failure: AccountFailure | None = None


@attrs.define
class _Commits:
    """The transactions of one day's run, and what is counted once each is committed.

    With a batch (a store that offers one) the accounts billed since the last commit
    share one transaction, each unit of work in a savepoint of it; without one every
    unit of work commits on its own, and a commit here only counts and sends.
    """

    batch: Batch | None
    every: int
    today: date
    now: datetime
    dry_run: bool
    tally: _Tally = attrs.field(factory=_Tally)
    #: What the account being billed did since the last commit.
    current: _Tally = attrs.field(factory=_Tally)
    billed: list[_Billed] = attrs.field(factory=list)
    processed: int = 0
    skipped: int = 0
    failures: list[AccountFailure] = attrs.field(factory=list)
    #: The accounts finished in the transaction whose commit failed last.
    lost: list[str] = attrs.field(factory=list)

    def part(self, account_id: str) -> None:
        """Put what the account being billed did so far with the open transaction."""
        self.billed.append(_Billed(account_id, self.current))
        self.current = _Tally()

    def finish(self, account_id: str, done: bool, failure: AccountFailure | None) -> None:
        """Put the account's end with the open transaction."""
        self.billed.append(_Billed(account_id, self.current, done, failure))
        self.current = _Tally()

    def full(self) -> bool:
        """Whether the open transaction holds ``every`` accounts' days."""
        return sum(b.done is not None for b in self.billed) >= self.every

    def commit(self, send: Callable[[Sequence[OutboxMessage]], DeliveryReport]) -> None:
        """Commit the open transaction; what it held is then counted and its notices sent.

        Raises:
            TransientStorageError: when the commit failed: nothing of the transaction was
                kept, and :attr:`lost` names the accounts it finished (to bill again).
        """
        billed, self.billed = self.billed, []
        if self.batch is not None:
            try:
                self.batch.commit()
            except TransientStorageError:
                self.lost = list(dict.fromkeys(b.account_id for b in billed if b.done is not None))
                raise
        queued: list[OutboxMessage] = []
        for b in billed:
            queued += b.tally.queued
            b.tally.queued = []
            self.tally.add(b.tally)
            if b.done is not None:
                self.processed += b.done
                self.skipped += not b.done
            if b.failure is not None:
                self.failures.append(b.failure)
        if queued:
            # Delivered once the transaction that queued them is committed; what the
            # notifier does not take stays in the outbox for a later delivery.
            self.tally.undelivered += send(queued).failed
            if self.batch is not None:
                with contextlib.suppress(TransientStorageError):
                    # What the delivery recorded, before anything else waits on it; lost,
                    # the messages are delivered again later.
                    self.batch.commit()


class BillingRun:
    """The daily billing run."""

    def __init__(self, context: Context) -> None:
        self._ctx = context
        self._charges = Charges(context)

    def day(
        self,
        day: date | None = None,
        *,
        dry_run: bool = False,
        batch_size: int = 500,
        accounts: Iterable[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        commit_every: int = COMMIT_EVERY,
    ) -> CycleSummary:
        """Run the billing of one day for every account (or the given ones).

        When the store's units of work offer batches
        (:class:`~cabinet_billing.ports.repositories.Batching`, as the SQL store's do on
        PostgreSQL),
        up to ``commit_every`` accounts are billed in one database transaction, each in a
        savepoint of its own: an account that fails is rolled back alone and the others
        are committed together. The transaction is committed before every call to the
        payment provider, and notifications are delivered after the commit that holds
        them. When a commit fails (a lost connection, a serialization failure), nothing of
        its transaction is kept and its accounts are billed again, each committed on its
        own. Its row locks are held until the commit: a webhook for an account of the
        batch may wait that long (see docs/scaling.md). Other stores commit every account
        on its own.

        Args:
            day: the billing day (default: the clock's today).
            dry_run: do the work without committing it or charging anything. For a day
                after the clock's today, every day from today to it is run in turn (at
                most :data:`MAX_PREVIEW_DAYS` ahead), so the preview is what the daily
                runs up to that day would do.
            batch_size: how many account ids are read at a time.
            accounts: only these accounts (default: all, in id order).
            progress: called with (accounts done, accounts in total) after each account.
            commit_every: how many accounts share a transaction, at most (1: every
                account is committed on its own).

        Raises:
            InvalidArgumentError: for a day that is not a date (a datetime, text), a
                batch size or ``commit_every`` outside 1 to 100 000, or accounts that are
                not a list of ids; refused before any account is billed.
        """
        accounts = _checked_arguments(day, batch_size, accounts, progress)
        checks.count("commit_every", commit_every, minimum=1, maximum=100_000)
        today = day if day is not None else self._ctx.clock.today()
        if dry_run and (today - self._ctx.clock.today()).days > MAX_PREVIEW_DAYS:
            raise ValidationError(
                "day",
                today,
                f"a dry run looks at most {MAX_PREVIEW_DAYS} days ahead of "
                f"{self._ctx.clock.today().isoformat()}",
            )
        now = _instant(self._ctx.clock.now(), today)
        not_due = 0
        batches: Iterable[Sequence[str]]
        if accounts is None:
            # Only the accounts with something due: an idle account costs nothing.
            with self._ctx.unit_of_work() as uow:
                total = uow.accounts.count(due_by=today)
                not_due = uow.accounts.count() - total
            batches = self._due_batches(today, batch_size)
        else:
            total = len(accounts)
            batches = (accounts[n : n + batch_size] for n in range(0, total, batch_size))
        tally = _Tally()
        if not dry_run:
            # What earlier runs could not deliver and is due again goes first.
            tally.undelivered += self._redeliver(max(self._ctx.clock.now(), now))
        store_batch = None if dry_run else self._store_batch(commit_every)
        every = commit_every if store_batch is not None else 1
        commits = _Commits(store_batch, every, today, now, dry_run, tally)
        visited = 0
        with contextlib.ExitStack() as opened:
            for batch in batches:
                for account_id in batch:
                    if store_batch is not None and not visited:
                        # Opened for the first account: a day with none due costs nothing.
                        opened.enter_context(store_batch)
                    self._try_account(account_id, commits)
                    if commits.full():
                        self._settle(commits)
                    visited += 1
                    if progress is not None:
                        progress(visited, max(total, visited))
            self._settle(commits)
        summary = _summary(
            today, tally, commits.processed, commits.skipped, commits.failures, dry_run=dry_run
        )
        return attrs.evolve(summary, not_due=not_due)

    def _store_batch(self, commit_every: int) -> Batch | None:
        """A batch of the store's units of work, when they offer one and it is wanted."""
        if commit_every <= 1:
            return None
        uow = self._ctx.unit_of_work()
        return uow.batch() if isinstance(uow, Batching) else None

    def _settle(self, commits: _Commits) -> TransientStorageError | None:
        """Commit the open transaction; when that fails, bill its accounts again.

        Nothing of a transaction whose commit failed was kept: each account it finished
        is billed again and committed on its own (the day's key and the attempts' keys
        make that safe, even when the commit did happen before the connection was lost).

        Returns:
            The commit's failure, if it failed.
        """
        try:
            commits.commit(self._ctx.send)
        except TransientStorageError as exc:
            lost, commits.lost = commits.lost, []
            for account_id in lost:
                self._try_account(account_id, commits, alone=True)
            return exc
        return None

    def _due_batches(self, day: date, size: int) -> Iterator[list[str]]:
        """The accounts due by ``day``, in id order, read ``size`` at a time.

        Each batch is read after the one before was billed (whose accounts are then no
        longer due), from the last id on.
        """
        after: str | None = None
        while True:
            with self._ctx.unit_of_work() as uow:
                batch = uow.accounts.due(day, after=after, limit=size)
            if not batch:
                return
            yield batch
            after = batch[-1]

    def deliver(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver the notifications waiting in the outbox that are due (SPEC R9).

        Every use case and the billing run deliver what they queue as soon as it is
        committed; this delivers what the notifier failed to take then, once each
        message's retry delay has passed (``settings.notification_delivery``). The daily
        run calls it first. A host may call it more often, e.g. from a worker every
        minute.

        Args:
            now: the instant to deliver at (default: the clock's now).

        Returns:
            What was delivered, what is to be tried again and what was given up.

        Raises:
            ValidationError: for an instant that is not an aware datetime.
        """
        if now is not None:
            check_aware("now", now)
        return self._ctx.outbox.deliver(now)

    def purge_outbox(self, older_than: timedelta, *, given_up: bool = False) -> int:
        """Forget the notifications delivered more than ``older_than`` ago (SPEC R9).

        Delivered messages stay in the outbox so that a notification queued again under
        the same key (a use case repeated, a run restarted, a gateway event sent twice)
        is not delivered twice. That can only happen while what queued it may still be
        repeated: past that, the message is history, and a host that runs this (say
        daily, with 30 days) keeps the outbox from growing forever. Messages given up
        are kept for a person to look at unless ``given_up`` says otherwise; pending
        ones are never forgotten.

        Args:
            older_than: how long a finished message is kept, counted from when it was
                delivered (or given up); at least one day, longer than any retry of
                what queues notifications (the delivery policy's retries last about
                31 hours by default).
            given_up: forget the messages given up that long ago too.

        Returns:
            How many messages were forgotten.

        Raises:
            ValidationError: for a period that is not a timedelta of at least one day.
        """
        kept = _retention(older_than)
        statuses = {OutboxStatus.DELIVERED}
        if given_up:
            statuses.add(OutboxStatus.GIVEN_UP)
        with self._ctx.unit_of_work() as uow:
            forgotten = uow.outbox.purge(self._ctx.clock.now() - kept, frozenset(statuses))
            uow.commit()
        return forgotten

    def _redeliver(self, now: datetime) -> int:
        try:
            report = self._ctx.outbox.deliver(now)
        except BillingError:
            return 0  # the store refused: the messages wait for the next delivery
        return report.failed

    # ------------------------------------------------------------------ one account

    def _try_account(self, account_id: str, commits: _Commits, *, alone: bool = False) -> None:
        """Run one account, again after a transient storage failure; note its failure, if any.

        A deadlock, a serialization failure or a lost connection rolled the failing unit
        of work back; what the account's earlier units of work committed stays (the open
        transaction is committed first), and the next try goes on from there (the day's
        key and the attempts' keys make it safe), ``settings.transient_retries`` times at
        most. Any other error fails the account at once. Either way the other accounts go
        on. ``alone``: commit the account on its own (it is billed again after the
        transaction that held it was lost); a failed commit is a failed try.
        """
        retries = self._ctx.settings.transient_retries
        for attempt in range(1, retries + 2):
            try:
                try:
                    done, failure = self._run_account(account_id, commits), None
                except TransientStorageError:
                    raise
                except BillingError as exc:
                    done, failure = True, AccountFailure(account_id, str(exc), exc, attempt)
                commits.finish(account_id, done, failure)
                if alone:
                    commits.commit(self._ctx.send)
            except TransientStorageError as exc:
                commits.lost = []
                commits.part(account_id)
                # The transaction may be lost with the unit of work: what it holds is
                # committed now, or billed again, before this account is tried again.
                self._settle(commits)
                if attempt > retries:
                    reason = f"{exc} (tried {attempt} times)"
                    commits.failures.append(AccountFailure(account_id, reason, exc, attempt))
                    commits.processed += 1
                    return
            else:
                return

    def _run_account(self, account_id: str, commits: _Commits) -> bool:
        if commits.dry_run:
            return self._dry_run_account(account_id, commits.today, commits.now, commits.current)
        return self._bill_account(account_id, commits)

    def _bill_account(self, account_id: str, commits: _Commits) -> bool:
        """Bill one account's day in passes; False when an earlier run did it already.

        The first unit of work reads the balance the day starts from and, when an earlier
        run left attempts without an outcome, stops there: the provider is asked again
        (same request, same key) before any step runs. Otherwise it is the first pass.
        """
        today, now = commits.today, commits.now
        key = _cycle_key(account_id, today)
        unknown: set[str] = set()
        before: Money | None = None
        passes = 0
        while passes <= MAX_CALLS_PER_DAY:
            with self._billing_unit_of_work(account_id, key) as uow:
                # The account first: a change committed after this read keeps it due.
                account = uow.accounts.get(account_id)
                if uow.keys.seen(key):
                    return False
                profile = uow.profiles.get(account_id)
                calls: Sequence[ChargeAttempt] = ()
                if before is None:
                    before = profile.last_balance or uow.ledgers.get(account_id).balance(
                        account.profile.currency
                    )
                    calls = profile.pending_attempts
                if not calls:
                    passes += 1
                    part = _Tally()
                    run = _Run(
                        uow, profile, today, now, part, dry_run=False, unknown=frozenset(unknown)
                    )
                    try:
                        self._steps(run)
                    except _NeedsCall as needed:
                        run.profile.record_attempt(needed.attempt)
                        self._commit(uow, part)
                        commits.current.add(part)
                        calls = (needed.attempt,)
                    else:
                        self._finish(run, before)
                        uow.accounts.schedule(account_id, self._next_due(run))
                        uow.keys.record(key)
                        self._commit(uow, part)
                        commits.current.add(part)
                        return True
            if calls:
                # The attempts are durable, and no row is held, before the provider is called.
                commits.part(account_id)
                failed = self._settle(commits)
                if failed is not None:
                    raise failed
            for attempt in calls:
                self._ask(account_id, attempt, now, commits.current, unknown)
        raise ConflictError(
            f"account {account_id!r}",
            f"needed more than {MAX_CALLS_PER_DAY} calls to the payment provider today; "
            "the rest waits for the next run",
        )

    @contextlib.contextmanager
    def _billing_unit_of_work(self, account_id: str, key: str) -> Iterator[UnitOfWork]:
        """A unit of work to bill an account in, that reads ahead what billing reads first.

        With a store's :class:`~cabinet_billing.ports.repositories.ReadsAhead` units of
        work: the account, the day's key and the rows the steps read first come in one
        round trip (PostgreSQL).
        """
        with self._ctx.unit_of_work() as uow:
            if isinstance(uow, ReadsAhead):
                uow.read_ahead(account_id, (key,))
            yield uow

    def _ask(
        self,
        account_id: str,
        attempt: ChargeAttempt,
        now: datetime,
        mine: _Tally,
        unknown: set[str],
    ) -> None:
        """Call the provider for a committed attempt and book its answer; note an unknown one."""
        if self._charges.call_and_book(account_id, attempt, now, mine).result is None:
            unknown.add(attempt.key)

    def _commit(self, uow: UnitOfWork, part: _Tally) -> None:
        """Queue the part's notifications in the outbox and commit them with its changes."""
        part.queued += self._ctx.commit(uow, [*part.events, *part.notices])

    def _dry_run_account(self, account_id: str, today: date, now: datetime, tally: _Tally) -> bool:
        """Run the days up to ``today`` the account has not been billed for, committing nothing.

        A day after the clock's today is previewed as the runs of every day from today
        to it would bill it: a service that renews before it is renewed, then renewed
        again on the day (paid until Apr 10 on Mar 9, not Mar 10), in one unit of work
        that is never committed.
        """
        with self._ctx.unit_of_work() as uow:
            if uow.keys.seen(_cycle_key(account_id, today)):
                return False
            profile = uow.profiles.get(account_id)
            for day in _days_to_preview(self._ctx.clock.today(), today):
                if day != today and uow.keys.seen(_cycle_key(account_id, day)):
                    continue
                before = profile.last_balance or uow.ledgers.get(account_id).balance(
                    uow.accounts.get(account_id).profile.currency
                )
                at = now if day == today else _instant(self._ctx.clock.now(), day)
                seen = len(tally.previews)
                run = _Run(uow, profile, day, at, tally, dry_run=True)
                self._steps(run)
                self._finish(run, before)
                tally.previews[seen:] = [attrs.evolve(p, on=day) for p in tally.previews[seen:]]
            # Never committed: leaving the block rolls everything back.
        return True

    def _steps(self, run: _Run) -> None:
        # A pending deletion stops what started meanwhile; a confirmed one deletes it.
        account = run.uow.accounts.get(run.profile.account_id)
        run.tally.events.extend(hold_deletion(run.uow, account, run.now))
        balance_blocked = self._credit_step(run)
        # Read, not loaded: a step fetches a service it changes (most do not change).
        view = run.uow.services.view
        for service in view(run.profile.account_id):
            self._renewal_invoice_step(run, service)
        self._card_autopay_step(run)
        for service in view(run.profile.account_id):
            self._renewal_step(run, service, balance_blocked=balance_blocked)
        self._autopay_step(run)
        run.services = view(run.profile.account_id)
        self._reminder_step(run, run.services)

    def _finish(self, run: _Run, before: Money) -> None:
        """The end of the account's day: the low-balance notice and what the run keeps."""
        profile, uow = run.profile, run.uow
        account = uow.accounts.get(profile.account_id)
        after = uow.ledgers.get(profile.account_id).balance(account.profile.currency)
        notice = low_balance_notice(
            profile.account_id,
            before,
            after,
            account.settings.low_balance_threshold,
            run.now,
        )
        if notice is not None:
            run.tally.notices.append(notice)
        profile.last_balance = after
        _forget_finished_attempts(profile, run.today)
        profile.forget_dated_keys(run.today - DATED_KEYS_KEPT)
        profile.last_run = run.today

    # ------------------------------------------------------------------ next event date

    def _next_due(self, run: _Run) -> date:
        """The account's next event date: the first day after ``run.today`` with work.

        Computed at the end of the account's day, from what the day left. Every step
        says, in one of the ``_due_*`` methods below, the earliest day it may have
        something to do; the account is visited again on the earliest of them. A change
        made by a use case meanwhile makes the account due at once anyway (see
        :class:`~cabinet_billing.ports.repositories.AccountRepository`), so only what
        time alone brings about is counted here: nothing adds to a balance but a
        payment, a top-up or a credit, which are changes. Each step's date:

        - attempts without an answer: tomorrow (the provider is asked again);
        - deletion: tomorrow while a service is left to stop or delete;
        - credit: the next statement day that bills the unbilled usage (or the carried
          fractions of daily charges), the next day a notice of an unpaid statement is
          due, and the day a stage of one changes what the line blocks;
        - renewal invoices ahead: the day each is issued;
        - card autopay: tomorrow when the run issued invoices after its step;
        - renewals: the renewal day, the expiry day, a failed renewal's retry day
          (nothing once the schedule is used up); a renewal due that the run could not
          pay: tomorrow for a saved method that may be charged or checked, tomorrow
          while other currencies' balances pay across currencies (the rates change),
          tomorrow for an expired service whose schedule restarts every day
          (``restart_after_expiry``), otherwise nothing;
        - daily charges: the paid-until day of a running service; for one the balance
          stopped, the first of the first month whose charge the balance and the whole
          credit line cover (nothing when none in four years does);
        - autopay: tomorrow while a top-up is due, else the first of the month its cap
          allows one again;
        - finished attempts of a day or of card autopay: tomorrow, to forget them;
        - invoice reminders: the next day of each unpaid invoice's schedule.

        A new step of the run adds its method to this list.
        """
        found = (
            *self._due_pending(run),
            *self._due_deletion(run),
            *self._due_credit(run),
            *self._due_renewal_invoices(run),
            *self._due_card_autopay(run),
            *self._due_renewals(run),
            *self._due_autopay(run),
            *self._due_forgetting(run),
            *self._due_reminders(run),
        )
        return max(run.today + timedelta(days=1), min(found, default=NEVER_DUE))

    @staticmethod
    def _due_pending(run: _Run) -> Iterator[date]:
        """Attempts without an outcome: the next run asks the provider again."""
        if run.profile.pending_attempts:
            yield run.today + timedelta(days=1)

    @staticmethod
    def _due_deletion(run: _Run) -> Iterator[date]:
        """An account being deleted: tomorrow while a service is left to stop or delete.

        Today's later steps may have left one (an expiry, a renewal); a service that
        finishes opening or is started later is a change that makes the account due.
        """
        account = run.uow.accounts.get(run.profile.account_id)
        if holds_deletion_work(account, run.services):
            yield run.today + timedelta(days=1)

    def _due_credit(self, run: _Run) -> Iterator[date]:
        """The next statement day, dunning notice day and day the credit state changes.

        The statement day that bills the unbilled usage (or the fractions of daily
        charges carried over); the first day a notice of an unpaid statement is due; the
        day a stage of an unpaid statement changes what the line blocks (renewals from
        the balance and daily charges on credit follow it). A payment or new usage is a
        change that makes the account due anyway.
        """
        policy, line = self._ctx.settings.credit, run.profile.credit
        if policy is None or line is None:
            return
        carry = run.profile.credit_carry
        for day in (
            next_statement_day(
                policy, line, run.today, pending=carry is not None and carry.amount > 0
            ),
            next_notice_day(policy, line, run.today, run.profile.keys),
            next_credit_change(policy, line, run.today),
        ):
            if day is not None:
                yield day

    def _due_renewal_invoices(self, run: _Run) -> Iterator[date]:
        """The day each renewing service's next invoice is issued ahead (Horoshop)."""
        ahead = self._ctx.settings.renewal_invoice_days
        if ahead is None:
            return
        for service in run.services:
            if (
                not service.auto_renew
                or service.billing_mode is not BillingMode.PERIODIC
                or service.status not in _LIVE
                or service.paid_until is None
            ):
                continue
            on = service.paid_until - timedelta(days=ahead)
            sub = run.profile.subscription(service.id)
            if on > run.today:
                yield on
            elif sub is None or not run.profile.done(
                f"renewal-invoice:{service.id}:{sub.next_paid_until.isoformat()}"
            ):
                yield run.today + timedelta(days=1)

    def _due_card_autopay(self, run: _Run) -> Iterator[date]:
        """Card autopay charges the invoices issued after its step the next day."""
        autopay = run.profile.card_autopay
        if (
            run.issued
            and self._ctx.settings.card_autopay_on_invoice_day
            and autopay is not None
            and autopay.status is CardAutopayStatus.ACTIVE
        ):
            yield run.today + timedelta(days=1)

    def _due_renewals(self, run: _Run) -> Iterator[date]:
        """Daily charges, renewal days, retries of failed renewals and expiries."""
        for service in run.services:
            if service.billing_mode is BillingMode.DAILY:
                yield from self._due_daily(run, service)
            elif service.status in _RENEWABLE and service.paid_until is not None:
                if service.status in _LIVE:
                    yield service.paid_until  # it expires then, unless renewed before
                yield from self._due_renewal(run, service)

    def _due_daily(self, run: _Run, service: Service) -> Iterator[date]:
        """A daily-billed service's next charge, or the month whose charge the balance covers.

        A running service is charged every day. One that expired because the balance did
        not cover the day comes back on the first day whose charge the balance (and the
        whole credit line, at most) covers: the charge is the price over the days of the
        month, so it changes only on the first of a month; the credit state's changes
        are days of the credit step.
        """
        if not service.paid or service.status not in {ServiceStatus.ACTIVE, ServiceStatus.EXPIRED}:
            return
        tomorrow = run.today + timedelta(days=1)
        if service.paid_until is not None and service.paid_until > run.today:
            yield service.paid_until
            return
        if service.status is ServiceStatus.ACTIVE or service.period.unit is PeriodUnit.DAY:
            if service.status is ServiceStatus.ACTIVE:
                yield tomorrow
            return  # a charge by the day is the same every day
        available = self._ctx.spendable(
            run.uow, run.profile.account_id, service.price.code, with_credit=True
        )
        month = run.today.replace(day=1)
        for _ in range(_DAILY_MONTHS_AHEAD):
            month = (month + timedelta(days=32)).replace(day=1)
            if self._daily_charge(run, service, month)[0] <= available:
                yield month
                return

    def _due_renewal(self, run: _Run, service: Service) -> Iterator[date]:
        """The next renewal day of a periodic service, or the retry of a failed one."""
        tomorrow = run.today + timedelta(days=1)
        profile, policy = run.profile, self._ctx.settings.renewal
        sub = profile.subscription(service.id)
        if sub is None or sub.enabled != service.auto_renew:
            if service.auto_renew:
                yield tomorrow  # the run makes or switches on its subscription
            return
        if not sub.enabled:
            return
        if sub.source is RenewalSource.SAVED_METHOD and sub.method_id is not None:
            method = method_of(profile, sub.method_id)
            if method is not None and self._ctx.card_autopay_stopped(profile, method):
                return
        else:
            method = None
        due_on = renewal_date(sub.paid_until, sub.kind, policy)
        if due_on > run.today:
            yield due_on
            return
        if renewal_key(sub.service_id, sub.paid_until) not in profile.keys:
            yield from self._due_unpaid_renewal(run, service, sub, method)

    def _due_unpaid_renewal(
        self, run: _Run, service: Service, sub: Subscription, method: SavedPaymentMethod | None
    ) -> Iterator[date]:
        """A renewal due that today's run did not pay: what time alone may change.

        Not the balance: only a payment, a top-up or a credit adds to it, and each is a
        change that makes the account due. A failed renewal waits for its retry day and
        stops when the schedule is used up. A saved method is charged, or checked while
        it is not working, again on the next day (a failed check is a failed attempt);
        one that is gone or may not pay subscriptions is never tried. The balance of a
        renewal from the balance may be topped up by autopay (its own date) or, with
        ``pay_across_currencies``, covered by the other currencies' balances at a later
        day's rates: while there are such balances, tomorrow.
        """
        tomorrow = run.today + timedelta(days=1)
        policy = self._ctx.settings.renewal
        if (
            service.status is ServiceStatus.EXPIRED
            and policy.restart_after_expiry
            and not sub.failed_attempts
        ):
            yield tomorrow  # its schedule starts again on every day it stays expired
            return
        if sub.failed_attempts and sub.last_failure_on is not None:
            if sub.failed_attempts > len(policy.retry_days):
                return  # the retry schedule is used up: the customer acts
            retry_on = sub.last_failure_on + timedelta(
                days=policy.retry_days[sub.failed_attempts - 1]
            )
            if retry_on > run.today:
                yield retry_on
                return
        if sub.source is RenewalSource.SAVED_METHOD:
            if method is not None and method.for_subscriptions:
                yield tomorrow
        elif self._ctx.pays_across(run.uow, run.profile.account_id, sub.price.code):
            yield tomorrow

    @staticmethod
    def _due_forgetting(run: _Run) -> Iterator[date]:
        """Finished attempts of a day or of card autopay, forgotten by the next runs.

        A day's top-up or card check is forgotten the day after, card autopay's the run
        after the next (see :func:`_forget_finished_attempts`); a renewal's attempts go
        with the renewal or the change that ends their period, which make the account due.
        """
        if any(
            not a.pending and a.purpose is not AttemptPurpose.RENEWAL for a in run.profile.attempts
        ):
            yield run.today + timedelta(days=1)

    def _due_reminders(self, run: _Run) -> Iterator[date]:
        """The next day of the reminder schedule of each unpaid invoice reminded of."""
        schedule = self._ctx.settings.invoice_reminders
        if not schedule.any:
            return
        renewing = {s.id for s in run.services if s.auto_renew}
        for invoice in run.invoices:
            if not is_reminded(invoice, renewing):
                continue
            on = next_reminder_day(invoice.issued_on, invoice.due_on, schedule, run.today)
            if on is not None:
                yield on

    def _due_autopay(self, run: _Run) -> Iterator[date]:
        """Tomorrow while the balance is below the threshold, or when the cap resets."""
        settings = run.profile.autopay
        if settings is None:
            return
        policy = settings.policy
        code = policy.threshold.code
        balance = self._ctx.settings.rounding.minor(
            run.uow.ledgers.get(run.profile.account_id).balance(code)
        )
        pricing = self._ctx.pricing_of(run.profile.method(settings.method_id), code)
        tomorrow = run.today + timedelta(days=1)
        for day in (tomorrow, (run.today.replace(day=1) + timedelta(days=32)).replace(day=1)):
            if autopay_charge(policy, balance, run.profile.autopaid(day, code), pricing):
                yield day
                return

    # ------------------------------------------------------------------ steps

    def _credit_step(self, run: _Run) -> bool:
        """Statement and dunning notices; returns whether renewals from balance are blocked."""
        policy = self._ctx.settings.credit
        profile, uow, today, now = run.profile, run.uow, run.today, run.now
        line = profile.credit
        if policy is None or line is None:
            return False
        carry = profile.credit_carry
        if carry is not None and carry.amount > 0 and statement_month(policy, today) is not None:
            # The fractions of daily charges left over go on the statement, rounded.
            rounded = self._ctx.settings.rounding.minor(carry)
            profile.credit_carry = None
            if rounded.amount > 0 and line.available >= rounded:
                line.record_usage(rounded, today - timedelta(days=1), "daily charges")
        statement = issue_statement(policy, line, today)
        if statement is not None:
            invoice = self._ctx.issue_invoice(
                uow,
                profile.account_id,
                [
                    InvoiceLine.of(
                        LineText.of("line.credit_statement", month=statement.month),
                        statement.amount,
                    ),
                ],
                today=today,
                due_on=statement.due_on,
                kind=InvoiceKind.STATEMENT,
            )
            profile.link_statement(statement.id, invoice.id)
            run.tally.events.append(
                StatementIssued(
                    account_id=profile.account_id,
                    at=now,
                    statement_id=statement.id,
                    invoice_id=invoice.id,
                    amount=statement.amount,
                    due_on=statement.due_on,
                ),
            )
        for notice in due_notifications(policy, line, today, profile.keys):
            profile.record(notice.key)
            run.tally.notices.append(notice.to_notification(now.tzinfo or UTC))
        state = evaluate_credit(policy, line, today)
        return not state.allows(CreditAction.AUTO_RENEW_FROM_BALANCE)

    def _reminder_step(self, run: _Run, services: Sequence[Service]) -> None:
        """Remind of the account's unpaid invoices on ``settings.invoice_reminders``.

        Last of the day's steps, so an invoice the run paid is not reminded of. Each
        reminder is sent once (its key is recorded); see
        :mod:`cabinet_billing.rules.reminders` for which invoices and which days.
        """
        schedule = self._ctx.settings.invoice_reminders
        if not schedule.any:
            return
        renewing = {s.id for s in services if s.auto_renew}
        run.invoices = run.uow.invoices.for_account(run.profile.account_id)
        for invoice in run.invoices:
            if not is_reminded(invoice, renewing):
                continue
            due = due_reminder(
                invoice.id,
                invoice.issued_on,
                invoice.due_on,
                schedule,
                run.today,
                sent=run.profile.done,
            )
            if due is None:
                continue
            for key in due.passed:
                run.profile.record(key)
            run.tally.notices.append(reminder_notification(invoice, due, run.now))

    def _renewal_invoice_step(self, run: _Run, service: Service) -> None:
        """Issue a renewing service's invoice for its next period ahead of time (Horoshop).

        With ``renewal_invoice_days`` set, every live, periodically billed service that
        renews automatically gets the invoice for its next period that many days before
        its paid period ends, whatever will pay it: card autopay on its issue day, a bank
        transfer, the customer by hand, or the renewal itself on its renewal day (from the
        balance or the saved method). Each period is invoiced once: an invoice the customer
        deleted is not issued again by the run. A service whose auto-renewal is off gets
        none: it is renewed by hand, or not at all.
        """
        ahead = self._ctx.settings.renewal_invoice_days
        if (
            ahead is None
            or not service.auto_renew
            or service.billing_mode is not BillingMode.PERIODIC
            or service.status not in _LIVE
            or service.paid_until is None
            or run.today < service.paid_until - timedelta(days=ahead)
        ):
            return
        sub = self._subscription(run, service)
        if sub is None or not sub.enabled:
            return
        price, until = sub.price, sub.next_paid_until
        key = f"renewal-invoice:{service.id}:{until.isoformat()}"
        if run.profile.done(key):
            return
        run.profile.record(key)
        invoices = run.uow.invoices.open_for_service(service.id)
        if _open_renewal(invoices, service.id, until) is not None:
            return
        invoice = self._renewal_invoice(run, service, price, service.paid_until, until)
        run.tally.events.append(self._ctx.issued(invoice, run.now))
        if run.dry_run:
            run.tally.previews.append(
                Preview(service.account_id, f"invoice the renewal of {service.id}", price),
            )

    def _card_autopay_step(self, run: _Run) -> None:
        """Charge the bound card for every invoice issued since the last run (SPEC R7).

        Only invoices the card may pay: one that chose no method (a renewal), or an order
        checked out for a card or the card's provider; an order checked out for another
        method waits for that method (SPEC C4).

        An invoice is charged once, by the first run on or after its issue day: on that
        day when it was issued before the run, the next day when it was issued after it.
        """
        autopay = run.profile.card_autopay
        if (
            not self._ctx.settings.card_autopay_on_invoice_day
            or autopay is None
            or autopay.status is not CardAutopayStatus.ACTIVE
            or autopay.method_id is None
        ):
            return
        method = method_of(run.profile, autopay.method_id)
        if method is None:
            return
        last_run = run.profile.last_run
        for invoice in run.uow.invoices.for_account(run.profile.account_id):
            if (
                not invoice.is_open()
                or invoice.kind is InvoiceKind.TOP_UP
                # An order checked out for another method waits for it (SPEC C4).
                or not self._ctx.method_may_pay(invoice, method)
                or not autopay.covers(invoice.issued_on)
                or invoice.issued_on > run.today
                or (last_run is not None and invoice.issued_on < last_run)
            ):
                continue
            series = f"card-autopay:{invoice.id}"
            if run.profile.attempt(series) is not None:
                continue
            self._charge(
                run,
                method,
                invoice.amount_due,
                series,
                AttemptPurpose.CARD_AUTOPAY,
                invoice=invoice,
                what=f"charge the card for invoice {invoice.number}",
            )

    def _renewal_step(self, run: _Run, service: Service, *, balance_blocked: bool) -> None:
        if service.billing_mode is BillingMode.DAILY:
            self._daily_step(run, service, balance_blocked=balance_blocked)
            return
        if service.status in _RENEWABLE and (
            service.status not in _LIVE or (service.paid_until or date.max) <= run.today
        ):
            # It may expire today, or a renewal bring it back: fetched to change.
            service = run.uow.services.get(service.id)
        if service.status not in _RENEWABLE or service.paid_until is None:
            return
        sub = self._subscription(run, service)
        if sub is not None and sub.enabled:
            if (
                service.status is ServiceStatus.EXPIRED
                and self._ctx.settings.renewal.restart_after_expiry
                and sub.paid_until < run.today
                and not sub.failed_attempts
            ):
                # A restart is a new schedule: never one that wipes out failed attempts.
                sub.restart(run.today)
            self._renew(run, service, sub, balance_blocked=balance_blocked)
        if service.status in _LIVE and service.paid_until <= run.today:
            if run.dry_run:
                run.tally.previews.append(
                    Preview(service.account_id, f"expire service {service.id}"),
                )
            service.expire(Actor.system(), run.now, "the paid period ended")
            run.tally.events.append(
                ServiceExpired(
                    account_id=service.account_id,
                    at=run.now,
                    service_id=service.id,
                    paid_until=service.paid_until,
                ),
            )
            if service.scheduled is not None and service.scheduled.ends:
                # Ended by the client at its period end (SPEC X2): the panel deletes it.
                service.begin_processing(
                    ServiceOperation.DELETING, Actor.system(), run.now, "ended at the period end"
                )

    @staticmethod
    def _subscription(run: _Run, service: Service) -> Subscription | None:
        """The service's auto-renewal, made or brought in line with the service."""
        assert service.paid_until is not None  # noqa: S101 - checked by the caller
        sub = run.profile.subscription(service.id)
        if sub is None:
            if not service.auto_renew:
                return None
            sub = Subscription.for_service(service)
            run.profile.subscribe(sub)
        # Paid further by hand or by a webhook: never charge that period again.
        sub.follow(service.paid_until)
        if sub.enabled != service.auto_renew:
            if service.auto_renew:
                sub.switch_on()
            else:
                sub.switch_off()
        return sub

    def _daily_step(self, run: _Run, service: Service, *, balance_blocked: bool) -> None:
        """Charge a daily-billed service for today, or stop it when nothing can pay.

        The day's charge is the period price spread over the days of the period (a
        month's price over the days of the current month), kept to 4 decimal places
        (SPEC M1, L3: Astra Cloud's 22.4137). It is an expense paid from the balance and,
        beyond it, from the credit line unless the line is blocked.
        """
        if not service.paid or service.status not in {ServiceStatus.ACTIVE, ServiceStatus.EXPIRED}:
            return
        today = run.today
        key = f"daily:{service.id}:{today.isoformat()}"
        if run.profile.done(key) or (service.paid_until is not None and service.paid_until > today):
            return
        service = run.uow.services.get(service.id)  # charged or expired: changed either way
        gross, tax = self._daily_charge(run, service)
        if (
            self._ctx.spendable(
                run.uow, run.profile.account_id, gross.code, with_credit=not balance_blocked
            )
            < gross
        ):
            if service.status is ServiceStatus.ACTIVE:
                service.expire(Actor.system(), run.now, "the balance does not cover the day")
                run.tally.events.append(
                    ServiceExpired(
                        account_id=service.account_id,
                        at=run.now,
                        service_id=service.id,
                        paid_until=service.paid_until or today,
                    ),
                )
            return
        ledger = run.uow.ledgers.get(service.account_id)
        shortfall = gross - max(ledger.balance(gross.code), Money.zero(gross.code))
        ledger.charge(gross, run.now, ref=service.id, key=key, memo=f"{service.plan_name}, {today}")
        run.uow.expenses.get(service.account_id).add(
            Expense(
                key, service.account_id, service.plan_name, today, gross, tax, service_id=service.id
            ),
        )
        line = run.profile.credit
        if shortfall.amount > 0 and line is not None:
            whole = run.profile.carry_credit(min(shortfall, gross), currency_places(gross.code))
            if whole.amount > 0:
                line.record_usage(whole, today, f"{service.plan_name}, daily charges")
        tomorrow = today + timedelta(days=1)
        if service.status is ServiceStatus.EXPIRED:
            service.renew(tomorrow, Actor.system(), run.now, "the balance covers the day again")
        else:
            service.extend_paid_until(tomorrow)
        run.profile.record(key)
        run.tally.accruals += 1

    def _daily_charge(
        self, run: _Run, service: Service, on: date | None = None
    ) -> tuple[Money, Money]:
        """The day's charge of a daily-billed service (gross) and the tax it contains.

        Of today, or of the day ``on``.
        """
        period = service.period
        if period.unit is PeriodUnit.DAY:
            days = period.count
        else:
            start = (on or run.today).replace(day=1)
            days = (period_end(start, period) - start).days
        rounding = self._ctx.settings.rounding
        net_or_gross = rounding.accrual(service.price / days)
        rate = self._ctx.tax_rate(run.uow.accounts.get(service.account_id))
        if rate is None:
            return net_or_gross, Money.zero(net_or_gross.code)
        if self._ctx.settings.tax.mode is TaxMode.INCLUSIVE:
            return net_or_gross, min(rounding.accrual(rate.included_in(net_or_gross)), net_or_gross)
        tax = rounding.accrual(rate.added_to(net_or_gross))
        return net_or_gross + tax, tax

    def _renew(
        self,
        run: _Run,
        service: Service,
        sub: Subscription,
        *,
        balance_blocked: bool,
    ) -> None:
        profile, today = run.profile, run.today
        if renewal_date(sub.paid_until, sub.kind, self._ctx.settings.renewal) > today:
            return  # not due: the common case, decided without period arithmetic
        method = None
        if sub.source is RenewalSource.SAVED_METHOD and sub.method_id is not None:
            method = method_of(profile, sub.method_id)
            if method is not None and self._ctx.card_autopay_stopped(profile, method):
                return  # card autopay was stopped: the card is not charged any more (R7)

        def decide() -> RenewalDecision:
            return decide_renewal(
                sub,
                today,
                self._ctx.settings.renewal,
                available=self._ctx.spendable(
                    run.uow,
                    run.profile.account_id,
                    sub.price.code,
                    with_credit=not balance_blocked,
                    on=today,
                ),
                method=method,
                balance_renewal_blocked=balance_blocked,
                done=profile.keys,
            )

        decision = decide()
        if decision.probe and method is not None and self._check(run, method, sub):
            # The method works again: the retry goes ahead today (SPEC R4).
            decision = decide()
        if decision.action is not RenewalAction.SKIP and decision.amount is not None:
            self._carry_out(run, service, sub, decision, method, balance_blocked=balance_blocked)

    def _carry_out(
        self,
        run: _Run,
        service: Service,
        sub: Subscription,
        decision: RenewalDecision,
        method: SavedPaymentMethod | None,
        *,
        balance_blocked: bool,
    ) -> None:
        """Charge a renewal that is due: from the balance now, or from the saved method."""
        profile, uow, today, now = run.profile, run.uow, run.today, run.now
        assert decision.amount is not None  # noqa: S101 - checked by the caller
        invoice = _open_renewal(
            uow.invoices.open_for_service(service.id), service.id, decision.period_end
        )
        if invoice is None:
            invoice = self._renewal_invoice(
                run, service, decision.amount, decision.period_start, decision.period_end
            )
            run.tally.events.append(self._ctx.issued(invoice, now))
        if decision.action is RenewalAction.CHARGE_BALANCE:
            if run.dry_run:
                run.tally.previews.append(
                    Preview(
                        service.account_id,
                        f"renew {service.id} from the balance",
                        decision.amount,
                    ),
                )
            run.tally.events += self._ctx.settle(
                uow,
                invoice,
                invoice.amount_due,
                now,
                from_balance=True,
                on_credit=not balance_blocked,
                on=today,
            )
            renewed(
                run.tally,
                profile,
                sub,
                key=decision.key,
                amount=decision.amount,
                today=today,
                now=now,
            )
            return
        if method is not None:
            self._charge(
                run,
                method,
                invoice.amount_due,
                decision.key,
                AttemptPurpose.RENEWAL,
                invoice=invoice,
                service_id=service.id,
                what=f"renew {service.id} from method {method.id}",
            )

    def _check(self, run: _Run, method: SavedPaymentMethod, sub: Subscription) -> bool:
        """Whether a not-working method works again: one check a day, within the schedule.

        The check is a small charge, refunded (the card verification amount of the
        settings). It is an attempt of the renewal's retry schedule like a charge: a
        failed check counts as a failed attempt of every renewal that was due to try the
        method that day, so the schedule bounds the checks too.
        """
        if run.dry_run or method.working or not method.for_subscriptions:
            return False
        series = f"check:{method.id}:{run.today.isoformat()}"
        latest = run.profile.attempt(series)
        if latest is None:
            currency = run.uow.accounts.get(run.profile.account_id).profile.currency
            raise _NeedsCall(
                ChargeAttempt.first(
                    series,
                    AttemptPurpose.CHECK,
                    method_id=method.id,
                    token=method.token,
                    quote=plain_quote(self._ctx.verification(currency)),
                    started_on=run.today,
                    service_id=sub.service_id,
                ),
            )
        if latest.pending:
            return False  # no answer yet: asked again by the next run
        if latest.status is AttemptStatus.SUCCEEDED:
            return method.working
        if sub.last_failure_on != run.today:
            sub.check_failed(run.today)
        return False

    def _autopay_step(self, run: _Run) -> None:
        settings = run.profile.autopay
        if settings is None:
            return
        # Deleting a method stops its autopayment: a missing one is a broken account.
        method = run.profile.method(settings.method_id)
        series = f"autopay:{run.profile.account_id}:{run.today.isoformat()}"
        if run.profile.attempt(series) is not None:
            return  # one automatic top-up a day
        policy = settings.policy
        code = policy.threshold.code
        balance = run.uow.ledgers.get(run.profile.account_id).balance(code)
        quote = autopay_charge(
            policy,
            self._ctx.settings.rounding.minor(balance),
            run.profile.autopaid(run.today, code),
            self._ctx.pricing_of(method, code),
        )
        if quote is None:
            return
        self._charge(
            run,
            method,
            quote,
            series,
            AttemptPurpose.AUTOPAY,
            what="top the balance up automatically",
        )

    def _renewal_invoice(
        self,
        run: _Run,
        service: Service,
        amount: Money,
        period_start: date,
        period_end: date,
    ) -> Invoice:
        run.issued += 1
        return self._ctx.issue_invoice(
            run.uow,
            service.account_id,
            [
                InvoiceLine.of(
                    LineText.of("line.renewal", plan=service.next_plan_name, until=period_end),
                    amount,
                    service_id=service.id,
                    paid_until=period_end,
                ),
            ],
            today=run.today,
            due_on=max(period_start, run.today),
            kind=InvoiceKind.RENEWAL,
        )

    # ------------------------------------------------------------------ charges

    def _charge(
        self,
        run: _Run,
        method: SavedPaymentMethod,
        amount: Money | PaymentQuote,
        series: str,
        purpose: AttemptPurpose,
        *,
        invoice: Invoice | None = None,
        service_id: str | None = None,
        what: str,
    ) -> None:
        """Charge a saved method: record the attempt and leave the pass to call the provider.

        The amount is priced by the method (its fee and its range, SPEC M5): the card is
        charged the total, and the base is credited. An amount outside the method's range
        is refused without calling the provider, as a failed attempt. A dry run books the
        charge as if the provider had taken it, in a unit of work it never commits.
        """
        profile = run.profile
        if not method.working:
            run.tally.failed_charges += 1
            return
        latest = profile.attempt(series)
        if latest is not None and (latest.pending or latest.status is AttemptStatus.SUCCEEDED):
            return  # no answer to it yet (asked again by the next run), or paid already
        if invoice is not None and any(
            a.pending and a.invoice_id == invoice.id for a in profile.attempts
        ):
            return  # another charge of this invoice has no answer yet: never a second one
        refused = None
        if isinstance(amount, PaymentQuote):
            quote = amount
        else:
            pricing = self._ctx.pricing_of(method, amount.code)
            try:
                quote = plain_quote(amount) if pricing is None else pricing.quote(amount)
            except AmountOutOfRangeError as exc:
                quote, refused = plain_quote(amount), str(exc)
        attempt = (
            ChargeAttempt.first(
                series,
                purpose,
                method_id=method.id,
                token=method.token,
                quote=quote,
                started_on=run.today,
                invoice_id=None if invoice is None else invoice.id,
                service_id=service_id,
            )
            if latest is None
            else latest.next_attempt(
                run.today,
                quote=quote,
                method_id=method.id,
                token=method.token,
                invoice_id=None if invoice is None else invoice.id,
                service_id=service_id,
            )
        )
        if refused is not None:
            # Refused before reaching the provider: a failed attempt, the method still works.
            profile.record_attempt(attempt)
            self._charges.book_outcome(
                run.uow, profile, attempt, run.now, run.tally, failure=refused, by_provider=False
            )
            return
        if not run.dry_run:
            raise _NeedsCall(attempt)
        # Nothing is charged; the payment is booked in a unit of work never committed,
        # so the preview shows what a successful charge would lead to.
        run.tally.previews.append(Preview(profile.account_id, what, quote.total))
        profile.record_attempt(attempt)
        self._charges.book_outcome(run.uow, profile, attempt, run.now, run.tally)


# ----------------------------------------------------------------------------- helpers


def _checked_arguments(
    day: object, batch_size: object, accounts: Iterable[str] | None, progress: object
) -> tuple[str, ...] | None:
    """The run's arguments checked before any account is billed (the accounts as a tuple)."""
    if day is not None:
        checks.billing_day("day", day)
    checks.count("batch_size", batch_size, minimum=1, maximum=100_000)
    if progress is not None and not callable(progress):
        raise InvalidArgumentError(
            "progress", progress, "expected a function of (done, total), or None"
        )
    if accounts is None:
        return None
    ids = checks.items("accounts", accounts, str, "account ids", maximum=100_000_000)
    for position, account_id in enumerate(ids):
        checks.identifier(f"accounts[{position}]", account_id)
    return ids


def _cycle_key(account_id: str, day: date) -> str:
    return f"cycle:{account_id}:{day.isoformat()}"


def _forget_finished_attempts(profile: BillingProfile, today: date) -> None:
    """Forget attempts that can never be needed again, so the profile does not grow.

    A renewal's attempts are kept while its period is the subscription's next one (a new
    attempt of it follows the last one's number); card autopay's attempt while its
    invoice can still be charged (issued since the last run); a day's top-up and card
    check until the day is over. Pending attempts are always kept.
    """
    for attempt in profile.attempts:
        if attempt.pending:
            continue
        if attempt.purpose is AttemptPurpose.RENEWAL:
            sub = profile.subscription(attempt.service_id or "")
            current = sub is not None and renewal_key(sub.service_id, sub.paid_until)
            forget = attempt.series in profile.keys or current != attempt.series
        elif attempt.purpose is AttemptPurpose.CARD_AUTOPAY:
            last = profile.last_run
            forget = last is not None and attempt.started_on < last
        else:
            forget = attempt.started_on < today
        if forget:
            profile.forget_attempt(attempt.series)


def _open_renewal(invoices: Iterable[Invoice], service_id: str, period_end: date) -> Invoice | None:
    """An open renewal invoice of the service for the same period, issued by hand earlier."""
    for invoice in invoices:
        if invoice.is_open() and invoice.kind is InvoiceKind.RENEWAL:
            for line in invoice.lines:
                if line.service_id == service_id and line.paid_until == period_end:
                    return invoice
    return None


def _days_to_preview(current: date, day: date) -> list[date]:
    """The days a dry run for ``day`` bills: from the clock's today to it, or just that day."""
    if day <= current:
        return [day]
    return [current + timedelta(days=n) for n in range((day - current).days + 1)]


def _instant(now: datetime, today: date) -> datetime:
    """The instant the run books at: now on the clock's day, else noon of the given day."""
    if now.date() == today:
        return now
    return datetime.combine(today, time(12), tzinfo=now.tzinfo or UTC)


def _summary(
    day: date,
    tally: _Tally,
    processed: int,
    skipped: int,
    failures: list[AccountFailure],
    *,
    dry_run: bool,
) -> CycleSummary:
    revenue: dict[str, Money] = {}
    for e in tally.events:
        if isinstance(e, PaymentCredited):
            revenue[e.amount.code] = (
                revenue.get(e.amount.code, Money.zero(e.amount.code)) + e.amount
            )
    return CycleSummary(
        day=day,
        dry_run=dry_run,
        accounts=processed,
        skipped=skipped,
        invoices=sum(isinstance(e, (InvoiceIssued, StatementIssued)) for e in tally.events),
        renewals=sum(isinstance(e, ServiceRenewed) for e in tally.events),
        charges=tally.charges,
        failed_charges=tally.failed_charges,
        accruals=tally.accruals,
        expired=sum(isinstance(e, ServiceExpired) for e in tally.events),
        notifications=len(tally.notices) + sum(notifies(e) for e in tally.events),
        revenue=revenue,
        failures=tuple(failures),
        previews=tuple(tally.previews),
        events=tuple(tally.events),
        undelivered=tally.undelivered,
    )


def _retention(value: object) -> timedelta:
    """How long finished outbox messages are kept, once it is at least a day."""
    if not isinstance(value, timedelta) or value < timedelta(days=1):
        raise ValidationError("older_than", value, "expected a timedelta of at least 1 day")
    return value
