"""Storage ports: a repository per aggregate and the unit of work that commits them.

A use case opens one unit of work, loads aggregates through its repositories, changes
them through their methods, and commits. Nothing is stored unless :meth:`commit` is
called: leaving the ``with`` block without committing (or with an exception) rolls
everything back. Repositories return the same object for the same id within one unit of
work, so two changes to one aggregate in one use case never overwrite each other.

The in-memory adapter (:mod:`cabinet_billing.adapters.memory`) implements all of this
and is what simulations and tests use; a host may implement it over its own database and
check its implementation with the contract tests shipped in :mod:`cabinet_billing.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.bank_review import BankReview
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.documents import AccountDocuments
from cabinet_billing.domain.expense import Expense, ExpenseBook, ExpenseTotals
from cabinet_billing.domain.inbox import InboxEntry, InboxQuery
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.outbox import OutboxMessage, OutboxStatus
from cabinet_billing.domain.payer import PayerBook
from cabinet_billing.domain.payment import Payment
from cabinet_billing.domain.service import Service
from cabinet_billing.domain.support import Ticket
from cabinet_billing.ports.listing import ExpenseQuery, InvoiceQuery, PaymentQuery, Slice, Window

__all__ = [
    "AGGREGATE_REPOSITORIES",
    "DUE_NOW",
    "GAPLESS_COUNTERS",
    "NEVER_DUE",
    "AccountRepository",
    "BankReviewRepository",
    "Batch",
    "Batching",
    "DocumentRepository",
    "ExpenseRepository",
    "InboxRepository",
    "InvoiceRepository",
    "KeyRepository",
    "LedgerRepository",
    "OutboxRepository",
    "PayerRepository",
    "PaymentRepository",
    "ProfileRepository",
    "ReadsAhead",
    "SequenceRepository",
    "ServiceRepository",
    "TicketRepository",
    "UnitOfWork",
    "UserRepository",
    "is_gapless",
]


DUE_NOW = date.min
"""The next event date of an account the run must visit at its next run (a new account,
one whose billing state changed)."""

NEVER_DUE = date.max
"""The next event date of an account the run has nothing to do for until something changes."""


class AccountRepository(Protocol):
    """Customer accounts, and the index of their next event dates (the due index).

    Each account carries its *next event date*: the earliest day the billing run has
    something to do for it. The run visits only the accounts that are due
    (:meth:`due`) and, at the end of an account's day, sets the date it computed
    (:meth:`schedule`). A store keeps the index current on its own: **every commit that
    adds or changes an aggregate of an account** (the account, its services, invoices,
    payments, ledger, expense book, billing profile, payers, documents, users, tickets)
    makes the account due at once (:data:`DUE_NOW`), unless the same unit of work
    scheduled it. So no use case can forget to tell the run about a change.
    """

    def add(self, account: Account) -> None:
        """Store a new account. Raises ConflictError when the id exists."""
        ...

    def get(self, account_id: str) -> Account:
        """The account with an id. Raises NotFoundError when there is none."""
        ...

    def ids(self) -> list[str]:
        """Every account id, sorted."""
        ...

    def due(self, day: date, *, after: str | None = None, limit: int | None = None) -> list[str]:
        """The committed accounts due by ``day`` (next event date on or before it).

        In id order: those after ``after`` when given, at most ``limit`` when given, so
        that a run reads them in batches.
        """
        ...

    def count(self, *, due_by: date | None = None) -> int:
        """How many accounts are committed (only those due by ``due_by`` when given)."""
        ...

    def next_due(self, account_id: str) -> date:
        """The committed next event date of an account. Raises NotFoundError for none."""
        ...

    def schedule(self, account_id: str, day: date) -> None:
        """Set the account's next event date, written when this unit of work commits.

        The date is kept only if no other unit of work committed a change to the
        account's aggregates since this one first read the account (or scheduled it);
        otherwise the account stays due, and the next run computes the date again.
        """
        ...


class UserRepository(Protocol):
    """The users of each account."""

    def add(self, users: AccountUsers) -> None:
        """Store the users of a new account. Raises ConflictError when they exist."""
        ...

    def get(self, account_id: str) -> AccountUsers:
        """The users of an account. Raises NotFoundError when the account has none."""
        ...


class ServiceRepository(Protocol):
    """Services (orders) of all accounts."""

    def add(self, service: Service) -> None:
        """Store a new service. Raises ConflictError when the id exists."""
        ...

    def get(self, service_id: str) -> Service:
        """The service with an id. Raises NotFoundError when there is none."""
        ...

    def for_account(self, account_id: str) -> list[Service]:
        """The services of an account, oldest first."""
        ...

    def view(self, account_id: str) -> list[Service]:
        """The services of an account as this unit of work sees them, oldest first, to read.

        What :meth:`for_account` answers, without loading the services for a change: a
        store may hand out values it shares between units of work, which refuse every
        change (``attrs.exceptions.FrozenInstanceError``, or ``TypeError`` for one inside
        a part such as the limits' counts). A service this unit of work loaded or added
        is the one it holds, so its changes show. A service to change is fetched with
        :meth:`get`; a store that answers with the services it loads (SQL) returns the
        same objects, and what changes them is committed with the unit of work.
        """
        ...


class TicketRepository(Protocol):
    """Support tickets of all accounts."""

    def add(self, ticket: Ticket) -> None:
        """Store a new ticket. Raises ConflictError when the id exists."""
        ...

    def get(self, ticket_id: str) -> Ticket:
        """The ticket with an id. Raises NotFoundError when there is none."""
        ...

    def for_account(self, account_id: str) -> list[Ticket]:
        """The tickets of an account, oldest first."""
        ...


class InvoiceRepository(Protocol):
    """Invoices of all accounts."""

    def add(self, invoice: Invoice) -> None:
        """Store a new invoice. Raises ConflictError when the id or number exists."""
        ...

    def get(self, invoice_id: str) -> Invoice:
        """The invoice with an id. Raises NotFoundError when there is none."""
        ...

    def by_number(self, number: str) -> Invoice:
        """The invoice with a number. Raises NotFoundError when there is none."""
        ...

    def for_account(self, account_id: str) -> list[Invoice]:
        """The invoices of an account, oldest first."""
        ...

    def open(self) -> list[Invoice]:
        """Every invoice with something left to pay, oldest first."""
        ...

    def open_for_service(self, service_id: str) -> list[Invoice]:
        """The open invoices with a line for a service, oldest first.

        Found through an index of invoice lines by service, not by reading every invoice
        of the account: the billing run asks it for each renewal.
        """
        ...

    def page(self, account_id: str, query: InvoiceQuery, window: Window) -> Slice[Invoice]:
        """A page of the account's invoices that ``query`` chooses (see :mod:`~cabinet_billing.ports.listing`).

        Only the page's invoices are loaded (into the identity map); what this unit of
        work changed is taken into account.

        Raises:
            ValidationError: for a cursor that is not an invoice of the account.
        """
        ...


class PaymentRepository(Protocol):
    """Payments of all accounts."""

    def add(self, payment: Payment) -> None:
        """Store a new payment. Raises ConflictError when the id exists."""
        ...

    def get(self, payment_id: str) -> Payment:
        """The payment with an id. Raises NotFoundError when there is none."""
        ...

    def for_account(self, account_id: str) -> list[Payment]:
        """The payments of an account, oldest first."""
        ...

    def page(self, account_id: str, query: PaymentQuery, window: Window) -> Slice[Payment]:
        """A page of the account's payments that ``query`` chooses (see :mod:`~cabinet_billing.ports.listing`).

        Only the page's payments are loaded (into the identity map); what this unit of
        work changed is taken into account.

        Raises:
            ValidationError: for a cursor that is not a payment of the account.
        """
        ...


class LedgerRepository(Protocol):
    """The ledger of each account."""

    def get(self, account_id: str) -> Ledger:
        """The account's ledger; an empty one when it has none yet."""
        ...


class ExpenseRepository(Protocol):
    """The expense book of each account."""

    def get(self, account_id: str) -> ExpenseBook:
        """The account's expense book; an empty one when it has none yet."""
        ...

    def page(
        self, account_id: str, query: ExpenseQuery, window: Window
    ) -> tuple[Slice[Expense], ExpenseTotals]:
        """A page of the account's expenses that ``query`` chooses, and their totals.

        The totals (total, unpaid, tax, count) are of every expense the query chooses.
        The book is not loaded for it: the expenses are for reading (change them through
        :meth:`get`); when this unit of work loaded the book, its state is the answer.

        Raises:
            ValidationError: for a cursor that is not an expense of the query's currency.
        """
        ...


class PayerRepository(Protocol):
    """The payers of each account."""

    def get(self, account_id: str) -> PayerBook:
        """The account's payers; an empty book when it has none yet."""
        ...


class DocumentRepository(Protocol):
    """Acts, contracts and the e-document exchange setting of each account."""

    def get(self, account_id: str) -> AccountDocuments:
        """The account's documents; an empty set when it has none yet."""
        ...


class ProfileRepository(Protocol):
    """The billing profile of each account: saved methods, subscriptions, credit."""

    def get(self, account_id: str) -> BillingProfile:
        """The account's billing profile; an empty one when it has none yet."""
        ...


GAPLESS_COUNTERS = ("invoice-number", "advance-number", "act", "contract", "credit-note")
"""The counters of document numbers: they never skip a value (see :func:`is_gapless`)."""


def is_gapless(name: str) -> bool:
    """Whether a counter numbers documents (it never skips) rather than ids (it may).

    A counter's kind is its name up to the first ``:`` (``invoice-number:HOR-11111`` is
    an invoice-number counter).

    >>> is_gapless("invoice-number:HOR-11111"), is_gapless("act"), is_gapless("payment")
    (True, True, False)
    """
    return name.split(":", 1)[0] in GAPLESS_COUNTERS


class SequenceRepository(Protocol):
    """Named counters for ids and document numbers.

    A value is taken inside the unit of work that stores what it numbers. Values never
    repeat. A document number (:func:`is_gapless`) is kept only if its document is: a
    number a unit of work took and rolled back is handed out again, so with a
    transactional store numbers never skip. An id may skip a value a rolled-back unit of
    work took (a store may serve ids from a database sequence that never waits).
    """

    def next(self, name: str) -> int:
        """The next value of a counter, starting at 1."""
        ...


class KeyRepository(Protocol):
    """Idempotency keys of work already done (gateway events, bank statements, billing runs).

    Each keeps the fingerprint of what it stood for, when it was recorded with one.
    """

    def seen(self, key: str) -> bool:
        """Whether the key was recorded."""
        ...

    def record(self, key: str, fingerprint: str = "") -> None:
        """Record a key, with the fingerprint of what it stands for (if it has one).

        Raises ConflictError when it was already recorded.
        """
        ...

    def fingerprint(self, key: str) -> str | None:
        """The fingerprint a key was recorded with (``""`` for none); None when not recorded.

        A key seen again with another fingerprint stands for something else: a gateway
        event id reused for another event, a request retried with other parameters.
        """
        ...

    def all(self, prefix: str = "") -> Iterable[str]:
        """The recorded keys that start with ``prefix``."""
        ...


class BankReviewRepository(Protocol):
    """Bank statement lines left for a person, by line id (SPEC L7)."""

    def add(self, review: BankReview) -> None:
        """Store a line put on the review queue. Raises ConflictError when the id exists."""
        ...

    def get(self, line_id: str) -> BankReview:
        """The review of a statement line. Raises NotFoundError when there is none."""
        ...

    def pending(self) -> list[BankReview]:
        """Every line still waiting for a person, in the order they were put there."""
        ...


class OutboxRepository(Protocol):
    """Notifications waiting to be delivered, committed with the change that caused them.

    Messages are kept after delivery (marked delivered or given up), so a notification
    queued again under the same key is never delivered twice.
    """

    def add(self, notification: Notification) -> bool:
        """Queue a notification; False (and nothing queued) when its key was queued before."""
        ...

    def add_many(self, notifications: Iterable[Notification]) -> list[str]:
        """Queue several notifications at once; the keys of those queued, in the order given.

        The same as :meth:`add` of each in turn, in one write: a key queued before (or
        earlier in ``notifications``) is not queued again and not in the answer.
        """
        ...

    def pending(
        self, limit: int, account_id: str | None = None, *, due_by: datetime | None = None
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages still to deliver, oldest first.

        Only those of ``account_id`` when given, and only those due by ``due_by`` (whose
        next attempt is not later) when given.
        """
        ...

    def listed(
        self,
        status: OutboxStatus,
        limit: int,
        *,
        account_id: str | None = None,
        after: str | None = None,
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages in ``status``, in the order they were queued.

        Only those of ``account_id`` when given; only those queued after the message of
        the key ``after`` when given (whatever that message's status is now). Raises
        NotFoundError for an ``after`` that is no message's key.
        """
        ...

    def count(self, status: OutboxStatus, *, account_id: str | None = None) -> int:
        """How many messages are in ``status`` (only those of ``account_id`` when given)."""
        ...

    def get(self, key: str) -> OutboxMessage:
        """The message of a notification key. Raises NotFoundError when there is none."""
        ...

    def requeue(self, message: OutboxMessage) -> None:
        """Store a given-up message queued again (:meth:`OutboxMessage.requeued`).

        Raises NotFoundError for an unknown key, and ConflictError (at once or at commit)
        when the stored message is not given up or another unit of work changed it
        meanwhile.
        """
        ...

    def update(self, message: OutboxMessage) -> None:
        """Store what became of a queued message (delivered, failed once more, given up).

        Raises ConflictError at commit when another unit of work changed it meanwhile or
        it is no longer pending.
        """
        ...

    def purge(
        self,
        done_before: datetime,
        statuses: frozenset[OutboxStatus],
        *,
        account_id: str | None = None,
    ) -> int:
        """Forget the messages in ``statuses`` finished before ``done_before``; how many.

        Only delivered and given-up messages are ever forgotten (a pending one is never
        finished), only those of ``account_id`` when given. Their keys go with them: a
        notification queued again under one of them is a new message. Forgotten with
        the unit of work's commit.
        """
        ...


class InboxRepository(Protocol):
    """The accounts' notification inboxes, with each user's read state (SPEC R9).

    An entry is added once per notification key, with its unit of work (rolled back with
    it). Listings are newest first (the order entries were added in) and are read a page
    at a time by the store, never by reading the whole inbox.
    """

    def add(self, notification: Notification, *, always_shown: bool = False) -> bool:
        """Keep a notification in its account's inbox; False when its key is there already."""
        ...

    def add_many(self, entries: Iterable[InboxEntry]) -> list[str]:
        """Keep several notifications at once; the ids of those kept, in the order given.

        The same as :meth:`add` of each entry's notification in turn (with its
        ``always_shown``), in one write: an id there already (or earlier in ``entries``)
        is not kept again and not in the answer. Entries are kept unread: an entry's
        ``read_at`` is not stored (:meth:`mark_read` is what marks it).
        """
        ...

    def page(self, query: InboxQuery, limit: int, after: str | None = None) -> list[InboxEntry]:
        """Up to ``limit`` entries matching ``query``, newest first, with the user's read state.

        With ``after`` (an entry id of the account), those that come after that entry.
        Raises NotFoundError when ``after`` is not an entry of the account.
        """
        ...

    def count(self, query: InboxQuery) -> int:
        """How many entries match ``query``."""
        ...

    def mark_read(
        self, account_id: str, user_id: str, ids: Iterable[str], at: datetime
    ) -> set[str]:
        """Mark entries read by the user (an entry read before keeps its instant).

        Returns the ids that are entries of the account; the others are left alone.
        """
        ...

    def mark_all_read(self, query: InboxQuery, at: datetime) -> int:
        """Mark every unread entry matching ``query`` read; how many were marked."""
        ...


#: The names of a unit of work's aggregate repositories, in the order a store's commit
#: checks and writes them (the counters, keys, outbox and inbox are not aggregates).
AGGREGATE_REPOSITORIES = (
    "accounts",
    "users",
    "services",
    "tickets",
    "invoices",
    "payments",
    "ledgers",
    "expenses",
    "payers",
    "documents",
    "profiles",
    "bank_reviews",
)


class UnitOfWork(Protocol):
    """One atomic change: everything done through it is committed together or not at all.

    Its repositories hand out aggregates that are the unit of work's own (an identity
    map), and a unit of work goes on after :meth:`commit`, still tracking them, as a
    SQLAlchemy session with ``expire_on_commit=False`` does: a change made to an aggregate
    after a commit is stored by the next commit and only by it (no other unit of work sees
    it before, and the store's copy does not change with it). :meth:`rollback` discards
    every change since the last commit, and the unit of work forgets the aggregates it
    handed out: get them again to go on.
    """

    @property
    def accounts(self) -> AccountRepository:
        """Customer accounts."""
        ...

    @property
    def users(self) -> UserRepository:
        """Users of accounts."""
        ...

    @property
    def services(self) -> ServiceRepository:
        """Services."""
        ...

    @property
    def tickets(self) -> TicketRepository:
        """Support tickets."""
        ...

    @property
    def invoices(self) -> InvoiceRepository:
        """Invoices."""
        ...

    @property
    def payments(self) -> PaymentRepository:
        """Payments."""
        ...

    @property
    def ledgers(self) -> LedgerRepository:
        """Ledgers."""
        ...

    @property
    def expenses(self) -> ExpenseRepository:
        """Expense books."""
        ...

    @property
    def payers(self) -> PayerRepository:
        """Payers."""
        ...

    @property
    def documents(self) -> DocumentRepository:
        """Acts, contracts and exchange settings."""
        ...

    @property
    def profiles(self) -> ProfileRepository:
        """Billing profiles."""
        ...

    @property
    def sequences(self) -> SequenceRepository:
        """Document number counters."""
        ...

    @property
    def keys(self) -> KeyRepository:
        """Idempotency keys."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """Notifications waiting to be delivered."""
        ...

    @property
    def bank_reviews(self) -> BankReviewRepository:
        """Bank statement lines left for review."""
        ...

    @property
    def inbox(self) -> InboxRepository:
        """The accounts' notification inboxes."""
        ...

    def __enter__(self) -> Self:
        """Begin."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End: roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Make every change of this unit of work durable; the aggregates stay tracked."""
        ...

    def rollback(self) -> None:
        """Discard every change not yet committed, and forget the aggregates handed out."""
        ...


class Batch(Protocol):
    """One database transaction that the store's units of work join, each as a savepoint.

    While a batch is open (between its ``__enter__`` and ``__exit__``), every unit of work
    of the same store entered in the same thread joins the batch's transaction: its
    :meth:`UnitOfWork.commit` releases its savepoint (the later units of work of the
    batch see its changes, nobody else does yet) and its rollback, or an exception, rolls
    it back alone. :meth:`commit` makes everything the joined units of work committed
    durable at once, and the batch goes on in a new transaction; when it fails, nothing
    since the batch's last commit is kept. Leaving the batch rolls back what it did not
    commit.

    Row locks a joined unit of work takes are held until the batch commits, so the batch
    is committed before anything that must not wait (a call to the payment provider,
    another process's unit of work the caller waits for).
    """

    def __enter__(self) -> Self:
        """Open the batch: the units of work entered from now on join it."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and close the batch."""
        ...

    def commit(self) -> None:
        """Make what the joined units of work committed durable, all of it or nothing.

        Raises:
            TransientStorageError: when the transaction was lost (a lost connection, a
                serialization failure at commit); nothing since the last commit is kept.
            ConflictError: when a unit of work of the batch is still open.
        """
        ...

    def rollback(self) -> None:
        """Discard everything since the last commit."""
        ...


@runtime_checkable
class Batching(Protocol):
    """A unit of work that can open a :class:`Batch` of its store (optional).

    The billing run bills many accounts in one transaction this way, one savepoint per
    account, when the units of work the host's factory makes offer it; without it (or
    when :meth:`batch` answers None) every account is committed on its own.
    """

    def batch(self) -> Batch | None:
        """A batch over this unit of work's store, not yet open; None: none now."""
        ...


@runtime_checkable
class ReadsAhead(Protocol):
    """A unit of work that can read an account's rows before they are asked for (optional).

    The billing run says which account a unit of work is about to bill (and which keys it
    looks up first); a store that can send several queries in one round trip reads what
    the billing of an account reads first, together, and serves each query's rows when
    the repository asks for them, in the same transaction. What it returns is exactly
    what the repositories would have read; a store that cannot gain from it reads nothing.
    """

    def read_ahead(self, account_id: str, keys: Sequence[str] = ()) -> None:
        """Read ahead what billing ``account_id`` reads first, and the records of ``keys``."""
        ...
