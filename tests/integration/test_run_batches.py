"""The billing run bills many accounts in one transaction, and keeps each account atomic.

On the SQL stores (SQLite with ``batches=True``) the run commits ``commit_every`` accounts at a time, each account in a
savepoint of the batch's transaction; the memory store commits every account on its own.
On every store: an account that fails is rolled back alone while the others of its batch
are committed; a day run twice bills once; a run that crashes half-way through a batch
and is started again bills each account exactly once. On the SQL stores: a batch whose
commit fails keeps nothing and its accounts are billed again; the provider is called, and
notifications are delivered, only once what they depend on is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError

from cabinet_billing import (
    Account,
    BillingSettings,
    Cart,
    Money,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    SavedPaymentMethod,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.run import AccountFailure
from cabinet_billing.domain.autopay import AutopayMode, AutopayPolicy
from cabinet_billing.domain.billing_profile import AutopaySettings
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.ports.gateway import ChargeResult
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("P", "R4")

START = datetime(2024, 3, 21, 9, tzinfo=UTC)
RENEWAL_DAY = date(2024, 4, 20)
ACCOUNTS = [f"acc-{n}" for n in range(1, 8)]
#: Renews from its saved card: the run calls the provider in the middle of a batch.
ON_CARD = "acc-6"
#: Three accounts a transaction: acc-1..3, then acc-4..6 (committed before acc-6's
#: charge), then acc-7.
EVERY = 3


class _LostError(Exception):
    sqlstate = "08006"


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.define
class Committed:
    """What another connection sees committed, asked at the provider's call and deliveries."""

    store: SqlStore | None
    #: At each call of the provider: (accounts billed, the SQLite write lock free).
    at_calls: list[tuple[list[str], bool]] = attrs.field(factory=list)
    #: At each notification delivered: (its kind, whether its outbox row is committed).
    at_deliveries: list[tuple[str, bool]] = attrs.field(factory=list)

    def billed(self) -> list[str]:
        assert self.store is not None
        keys = self.store.tables.keys
        with self.store.engine.connect() as other:
            found = other.execute(
                keys.select().where(keys.c.key.startswith("cycle:")).with_only_columns(keys.c.key)
            ).scalars()
            return sorted(k.split(":")[1] for k in found)

    def queued(self, key: str) -> bool:
        """Whether a notification's outbox row is committed."""
        assert self.store is not None
        outbox = self.store.tables.outbox
        with self.store.engine.connect() as other:
            found = other.execute(
                outbox.select().where(outbox.c.key == key).with_only_columns(outbox.c.key)
            )
            return found.first() is not None

    def write_lock_free(self) -> bool:
        """Whether another connection may write now (SQLite; elsewhere always true)."""
        assert self.store is not None
        if self.store.engine.dialect.name != "sqlite" or self.store.engine.url.database in {
            None,
            "",
            ":memory:",
        }:
            return True
        with self.store.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                other.exec_driver_sql("BEGIN IMMEDIATE")
            except OperationalError:
                return False
            other.exec_driver_sql("ROLLBACK")
            other.exec_driver_sql("PRAGMA busy_timeout=10000")
            return True

    def independent(self) -> bool:
        """Whether another connection sees only what is committed (not SQLite in memory)."""
        return self.store is not None and self.store.engine.url.database not in {
            None,
            "",
            ":memory:",
        }


class WatchingGateway(SandboxGateway):
    """The sandbox, asking at each charge what another connection sees committed."""

    def __init__(self, secret: bytes, committed: Committed) -> None:
        super().__init__(secret)
        self.committed = committed

    def charge_saved_method(
        self, token: str, amount: Money, *, idempotency_key: str
    ) -> ChargeResult:
        if self.committed.independent():
            self.committed.at_calls.append(
                (self.committed.billed(), self.committed.write_lock_free())
            )
        return super().charge_saved_method(token, amount, idempotency_key=idempotency_key)


class WatchingNotifier(InMemoryNotifier):
    """The in-memory notifier, asking at each delivery whether its account's day is committed."""

    def __init__(self, committed: Committed) -> None:
        super().__init__()
        self.committed = committed
        self.watching = False

    def send(self, notification: Notification) -> None:
        if self.watching and self.committed.independent() and notification.account_id:
            self.committed.at_deliveries.append(
                (notification.kind, self.committed.queued(notification.key))
            )
        super().send(notification)


@attrs.frozen
class Host:
    billing: Billing
    make_uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: WatchingGateway
    notifier: WatchingNotifier
    committed: Committed

    def run(self, **kw: Any) -> Any:
        self.notifier.watching = True
        self.committed.at_calls.clear()
        self.committed.at_deliveries.clear()
        return self.billing.run.day(RENEWAL_DAY, commit_every=EVERY, **kw)

    def renewals(self, account_id: str) -> tuple[Money, date | None, int]:
        """The balance, the service's paid-until, and the invoices for services."""
        with self.make_uow() as uow:
            (service,) = uow.services.for_account(account_id)
            invoices = sum(
                i.kind is not InvoiceKind.TOP_UP for i in uow.invoices.for_account(account_id)
            )
            return uow.ledgers.get(account_id).balance("RUB"), service.paid_until, invoices

    def renewal_notices(self, account_id: str) -> int:
        return self.notifier.kinds(account_id).count("service.renewed")


RENEWED = (rub("200.00"), date(2024, 5, 21), 2)
RENEWED_BY_CARD = (rub("0.00"), date(2024, 5, 21), 2)
NOT_RENEWED = (rub("300.00"), date(2024, 4, 21), 1)


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "postgresql"])
def host(request: pytest.FixtureRequest) -> Host:
    sql: SqlStore | None = None
    if request.param == "memory":
        memory = MemoryStore()

        def make_uow() -> UnitOfWork:
            return MemoryUnitOfWork(memory)
    else:
        names = {
            "sqlite-file": "billing_sqlite_store",
            "sqlite-memory": "billing_sqlite_memory_store",
        }
        sql = request.getfixturevalue(names.get(request.param, "billing_pg_store"))
        # SQLite offers batches when asked (a host that nothing else writes for).
        sql.batches = True
        found = sql

        def make_uow() -> UnitOfWork:
            return SqlUnitOfWork(found)

    committed = Committed(sql)
    clock = FixedClock(START)
    gateway = WatchingGateway(b"batch tests: a sandbox signing key of 36 bytes", committed)
    notifier = WatchingNotifier(committed)
    billing = Billing(
        Ports(unit_of_work=make_uow, clock=clock, gateway=gateway, notifier=notifier),
        BillingSettings(
            payment_methods=(
                PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
                PaymentMethod("card", "Card", PaymentMethodPricing("RUB")),
            ),
        ),
    )
    wired = Host(billing, make_uow, clock, gateway, notifier, committed)
    for account_id in ACCOUNTS:
        open_with_vps(wired, account_id)
    clock.set(datetime(2024, 4, 20, 6, tzinfo=UTC))
    return wired


def open_with_vps(host: Host, account_id: str) -> None:
    """An account with a 100.00 RUB monthly VPS paid from a 400.00 RUB top-up.

    :data:`ON_CARD` tops up 100.00 RUB only and renews from its saved card.
    """
    account = Account.open(
        account_id, f"login-{account_id}", email="j@example.com", country="RU", currency="RUB"
    )
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    account.set_auto_renew_default(True)
    host.billing.open_account(account, owner_id="u1", owner_name="Jill")
    cabinet = host.billing.cabinet(account_id, "u1")
    started = cabinet.payments.top_up(
        rub("100.00" if account_id == ON_CARD else "400.00"), "wallet"
    )
    host.billing.webhooks.handle(
        *host.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, host.clock.now())
    )
    cart = Cart(account_id, "RUB")
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": rub("100.00")}), "month")
    cabinet.orders.place(
        cart.checkout(
            "balance",
            host.clock.today(),
            order_id=f"o-{account_id}",
            tax=host.billing.settings.tax,
            country="RU",
        )
    )
    if account_id == ON_CARD:
        cabinet.payments.bind_card(
            SavedPaymentMethod("card-1", account_id, "card", "tok-visa", "Visa", "•••• 4242")
        )
        (service,) = cabinet.services.list().services
        cabinet.services.set_auto_renewal(service.id, method_id="card-1")


def break_autopay(host: Host, account_id: str) -> None:
    """Corrupt an account: its automatic top-up names a saved method it does not have."""
    policy = AutopayPolicy(rub("100.00"), AutopayMode.FIXED, rub("50.00"), rub("100.00"))
    with host.make_uow() as uow:
        uow.profiles.get(account_id).autopay = AutopaySettings("ghost", policy)
        uow.commit()


def expected(account_id: str) -> tuple[Money, date | None, int]:
    return RENEWED_BY_CARD if account_id == ON_CARD else RENEWED


def assert_all_renewed_once(host: Host) -> None:
    for account_id in ACCOUNTS:
        assert host.renewals(account_id) == expected(account_id), account_id
        assert host.renewal_notices(account_id) == 1, account_id
    renewals = [
        c.key for c in host.gateway.charges if c.result.succeeded and c.key.startswith("renewal")
    ]
    assert len(renewals) == 1, renewals  # the card was charged once for its renewal


def test_a_failing_account_is_rolled_back_alone_and_its_batch_is_committed(host: Host) -> None:
    break_autopay(host, "acc-5")
    before = host.renewals("acc-5")

    summary = host.run()

    assert summary.failures == (AccountFailure("acc-5", "no saved payment method with id 'ghost'"),)
    assert (summary.accounts, summary.skipped, summary.renewals) == (7, 0, 6)
    for account_id in ACCOUNTS:
        if account_id != "acc-5":
            assert host.renewals(account_id) == expected(account_id), account_id
            assert host.renewal_notices(account_id) == 1, account_id
    assert host.renewals("acc-5") == before == NOT_RENEWED
    assert host.renewal_notices("acc-5") == 0
    if host.committed.independent():
        # acc-6's charge: the accounts before it were committed, no write lock was held.
        assert host.committed.at_calls == [(["acc-1", "acc-2", "acc-3", "acc-4"], True)]
        assert ("service.renewed", True) in host.committed.at_deliveries
        assert all(queued for _, queued in host.committed.at_deliveries)


def test_the_day_run_twice_bills_once(host: Host) -> None:
    first = host.run()
    again = host.run(accounts=ACCOUNTS)

    assert (first.accounts, first.renewals, first.failures) == (7, 7, ())
    assert (again.accounts, again.skipped, again.renewals) == (0, 7, 0)
    assert_all_renewed_once(host)


class _CrashError(Exception):
    """The host's process stops (a deploy, a crash) half-way through a batch."""


def test_a_run_that_crashes_mid_batch_bills_each_account_once_when_started_again(
    host: Host,
) -> None:
    def crash_after_five(done: int, _total: int) -> None:
        if done == 5:
            raise _CrashError

    with pytest.raises(_CrashError):
        host.run(progress=crash_after_five)
    again = host.run()

    assert again.failures == ()
    assert_all_renewed_once(host)


@pytest.fixture
def sql_host(host: Host) -> Host:
    if host.committed.store is None:
        pytest.skip("the memory store commits every account on its own")
    return host


@pytest.mark.parametrize(
    "failing", [1, 2, 3], ids=["first-commit", "second-commit", "third-commit"]
)
def test_a_batch_whose_commit_fails_keeps_nothing_and_its_accounts_are_billed_again(
    sql_host: Host, failing: int
) -> None:
    """The batch's COMMIT meets a lost connection: its accounts are billed again, alone."""
    store = sql_host.committed.store
    assert store is not None
    seen = {"batches": 0}

    def savepoints(conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SAVEPOINT"):
            conn.info["batch"] = True

    def commit(conn: Connection) -> None:
        if conn.info.pop("batch", False):
            seen["batches"] += 1
            if seen["batches"] == failing:
                raise OperationalError("COMMIT", {}, _LostError("server closed the connection"))

    event.listen(store.engine, "before_cursor_execute", savepoints)
    event.listen(store.engine, "commit", commit)
    try:
        summary = sql_host.run()
    finally:
        event.remove(store.engine, "before_cursor_execute", savepoints)
        event.remove(store.engine, "commit", commit)

    # Billed again, not skipped: nothing of the lost transaction was kept.
    assert (summary.accounts, summary.skipped, summary.renewals, summary.failures) == (
        7,
        0,
        7,
        (),
    )
    assert_all_renewed_once(sql_host)


def test_a_store_without_batches_commits_every_account_on_its_own(sql_host: Host) -> None:
    store = sql_host.committed.store
    assert store is not None
    store.batches = False
    commits: list[object] = []

    def commit(conn: Connection) -> None:
        commits.append(conn)

    event.listen(store.engine, "commit", commit)
    try:
        summary = sql_host.run()
    finally:
        event.remove(store.engine, "commit", commit)

    assert (summary.accounts, summary.renewals, summary.failures) == (7, 7, ())
    assert len(commits) >= len(ACCOUNTS)
    assert_all_renewed_once(sql_host)


def test_a_lost_connection_before_a_batch_commits_bills_its_accounts_again(
    sql_host: Host,
) -> None:
    """PostgreSQL ends the batch's connection in the middle of the batch."""
    store = sql_host.committed.store
    assert store is not None
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a connection is ended by the PostgreSQL server")
    ended = {"done": False}

    def end_connection(done: int, _total: int) -> None:
        if done == 2 and not ended["done"]:
            ended["done"] = True
            batch = store.joined_batch()
            assert batch is not None
            pid = batch.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
            with store.engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    summary = sql_host.run(progress=end_connection)

    assert (summary.accounts, summary.skipped, summary.renewals, summary.failures) == (
        7,
        0,
        7,
        (),
    )
    assert_all_renewed_once(sql_host)
