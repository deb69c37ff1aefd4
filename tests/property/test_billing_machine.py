"""The whole billing as a state machine: use cases and the daily run, in any order.

A hypothesis :class:`~hypothesis.stateful.RuleBasedStateMachine` drives one
``Billing`` over the in-memory store the way customers, the payment provider and the
calendar do: accounts open (some with a credit line), top up by card (fee and cashback)
or wallet, order services, pay invoices from the balance or directly by card, renew, convert
between balances; the provider's callbacks credit, fail and refund payments (in full or in
part), arrive twice, or reuse an event id with other content; days pass and the daily run
bills, renews, issues credit statements and expires. Calls with bad input are mixed in.

After every step it checks:

- each ledger verifies, and each balance is the sum of its entries;
- every top-up and cashback entry stands for a credited payment of that amount, booked once;
  refund entries never take back more than their payment brought; every charge that names
  an invoice is a payment of that invoice (the charges of an invoice add up to what it was
  paid);
- every paid invoice was paid exactly its total;
- no service is paid twice for one period, and no service's paid-until moves back;
- every credit line's debt is between zero and its limit;
- a refused call leaves the store, the notifications and the provider's calls as they were.

CI runs it small (:data:`EXAMPLES` runs of :data:`STEPS` steps). ``make soak`` runs it
with ``CABINET_BILLING_SOAK_STEPS`` steps in total (at least 10**6) and prints how many
steps, accounts and gateway events it drove and how many invariant violations it found.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs
import moneyed
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cabinet_billing import (
    Account,
    BillingError,
    BillingSettings,
    Cabinet,
    CallbackHandled,
    Cart,
    InvoiceStatus,
    Money,
    PaymentMethod,
    PaymentStatus,
    Plan,
    PostalAddress,
    ProductKind,
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.app.results import InvoiceSettled
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import EventOutcome, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import EventIdReusedError
from cabinet_billing.rules.credit_limit import CreditPolicy

pytestmark = pytest.mark.spec("L1", "L2", "L6", "M4", "M6", "R1", "R4")

#: Steps in one run of the machine, and runs, at CI's default size.
STEPS = 40
EXAMPLES = 15
#: ``make soak`` sets this to the total number of steps to drive.
SOAK_STEPS = "CABINET_BILLING_SOAK_STEPS"

START = datetime(2024, 1, 29, 9, tzinfo=UTC)
CREDITED_STATUSES = {
    PaymentStatus.CREDITED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
}


@attrs.define
class Figures:
    """What the machine drove, over every run of a test session."""

    steps: int = 0
    runs: int = 0
    accounts: int = 0
    events: int = 0
    refusals: int = 0
    checks: int = 0
    violations: int = 0
    calls: Counter[str] = attrs.field(factory=Counter)
    refused: Counter[str] = attrs.field(factory=Counter)

    def report(self) -> str:
        """The figures in one line."""
        return (
            f"soak: {self.steps} steps in {self.runs} runs, {self.accounts} accounts, "
            f"{self.events} gateway events, {self.refusals} refused calls, "
            f"{self.checks} checks, {self.violations} violations"
        )


FIGURES = Figures()
SOAK = os.environ.get(SOAK_STEPS) is not None
T = TypeVar("T")


def rub(amount: Decimal | str) -> Money:
    return Money(amount, "RUB")


def billing_settings() -> BillingSettings:
    card = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=rub("10.00"),
        minimum=rub("10.00"),
        maximum=rub("3000.00"),
        cashback_percent="10",
    )
    return BillingSettings(
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
        payment_methods=(
            PaymentMethod("card", "Bank card", card),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
        credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
        credit_limit=rub("1000.00"),
        currencies=("RUB", "EUR"),
    )


def plan(price: Decimal) -> Plan:
    return Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})


@attrs.frozen
class Delivered:
    """A callback the provider delivered: its payment and what it said."""

    payment_id: str
    headers: dict[str, str]
    body: bytes
    kind: PaymentEventKind


def fingerprint(s: InMemoryBilling) -> object:
    """What any commit changes: row versions, counters, keys, notices, provider calls."""
    store = s.store
    tables = tuple(
        tuple(sorted(table.versions.items()))
        for field in attrs.fields(type(store))
        if hasattr(table := getattr(store, field.name), "versions")
    )
    return (
        tables,
        tuple(sorted(store.sequences.items())),
        len(store.keys),
        len(s.notifier.sent),
        len(s.gateway.charges),
        len(s.gateway.checkouts),
    )


def snapshot(s: InMemoryBilling) -> object:
    """Everything the store holds, by value, with the notices and the provider's calls."""
    store = s.store
    tables = {
        field.name: {key: copy.deepcopy(row) for key, row in table.rows.items()}
        for field in attrs.fields(type(store))
        if hasattr(table := getattr(store, field.name), "rows")
    }
    return (
        fingerprint(s),
        tables,
        dict(store.invoice_numbers),
        set(store.keys),
        dict(store.fingerprints),
        list(s.notifier.sent),
    )


def cents(low: int, high: int, *typical: str) -> st.SearchStrategy[Decimal]:
    """Amounts from ``low`` to ``high`` cents, spread evenly, and some typical ones."""
    spread = st.integers(low, high).map(lambda c: Decimal(c) / 100)
    return st.one_of(st.sampled_from([Decimal(t) for t in typical]), spread)


#: Top-ups: the card's whole range (10.00 to 3000.00 RUB), its ends and the middle.
AMOUNTS = cents(1000, 300_000, "10.00", "100.00", "2999.99", "3000.00")
#: Prices of a month, from a cent (a price that taxes round hard) to more than a top-up.
PRICES = cents(1, 150_000, "0.01", "0.03", "99.99", "100.00", "1500.00")


class BillingMachine(RuleBasedStateMachine):
    """One billing driven by random calls; see the module's docstring for the invariants."""

    accounts = Bundle("accounts")
    pending = Bundle("pending")
    delivered = Bundle("delivered")
    invoices = Bundle("invoices")
    services = Bundle("services")

    def __init__(self) -> None:
        super().__init__()
        self.s = in_memory_billing(
            billing_settings(),
            now=START,
            rates=FixedRates({("RUB", "EUR"): "0.0098", ("EUR", "RUB"): "102"}),
        )
        self.opened = 0
        self.orders = 0
        self.events = 0
        self.paid_until: dict[str, object] = {}
        FIGURES.runs += 1

    # ------------------------------------------------------------------ helpers

    def cabinet(self, account_id: str) -> Cabinet:
        return self.s.billing.cabinet(account_id, f"{account_id}-owner")

    def attempt(self, name: str, call: Callable[[], T]) -> T | None:
        """Make a call; a refusal must be a BillingError that committed nothing."""
        FIGURES.calls[name] += 1
        before = fingerprint(self.s)
        try:
            return call()
        except BillingError as error:
            FIGURES.refusals += 1
            FIGURES.refused[f"{name}: {type(error).__name__}"] += 1
            self.expect(fingerprint(self.s) == before, f"{name} was refused yet committed")
            return None

    def expect(self, holds: bool, what: str) -> None:
        FIGURES.checks += 1
        if not holds:
            FIGURES.violations += 1
            raise AssertionError(what)

    def callback(
        self,
        payment_id: str,
        kind: PaymentEventKind,
        amount: Money | None = None,
        key: str | None = None,
    ) -> Delivered:
        self.events += 1
        FIGURES.events += 1
        event_key = key if key is not None else f"evt-{self.events}"
        headers, body = self.s.gateway.webhook(
            payment_id, kind, self.s.clock.now(), event_key=event_key, amount=amount
        )
        return Delivered(payment_id, headers, body, kind)

    def deliver(self, event: Delivered, name: str) -> CallbackHandled | None:
        return self.attempt(name, lambda: self.s.billing.webhooks.handle(event.headers, event.body))

    # ------------------------------------------------------------------ customers

    @precondition(lambda self: self.opened < 4)
    @rule(target=accounts, credit=st.booleans())
    def open_account(self, credit: bool) -> str:
        self.opened += 1
        FIGURES.accounts += 1
        account_id = f"acc-{self.opened}"
        account = Account.open(
            account_id, account_id, email=f"{account_id}@example.test", currency="RUB", country="RU"
        )
        account.change_name("Doe", "Jane")
        account.change_postal_address(PostalAddress("Kyiv", "01001", "Main street 1"))
        self.s.billing.open_account(
            account, owner_id=f"{account_id}-owner", owner_name=f"Owner of {account_id}"
        )
        if credit:
            self.s.billing.staff.open_credit_line(account_id)
        return account_id

    @rule(
        target=pending,
        account_id=accounts,
        amount=AMOUNTS,
        method=st.sampled_from(["card", "wallet"]),
    )
    def top_up(self, account_id: str, amount: Decimal, method: str) -> str:
        started = self.attempt(
            "top_up", lambda: self.cabinet(account_id).payments.top_up(rub(amount), method)
        )
        return "none" if started is None else started.payment.id

    @rule(
        target=invoices,
        account_id=accounts,
        price=PRICES,
        method=st.sampled_from(["balance", "card", "wallet"]),
    )
    def order(self, account_id: str, price: Decimal, method: str) -> str:
        self.orders += 1
        cart = Cart(account_id, "RUB")
        cart.add(plan(price), "month")
        order = cart.checkout(
            method,
            self.s.clock.today(),
            order_id=f"o-{self.orders}",
            tax=self.s.billing.settings.tax,
            country="RU",
        )
        placed = self.attempt("order", lambda: self.cabinet(account_id).orders.place(order))
        return "none" if placed is None else placed.invoice.id

    @rule(invoice_id=invoices)
    def pay_from_balance(self, invoice_id: str) -> None:
        invoice = self.s.store.invoices.rows.get(invoice_id)
        if invoice is None:
            return
        result = self.attempt(
            "pay_from_balance",
            lambda: self.cabinet(invoice.account_id).invoices.pay(invoice_id),
        )
        if isinstance(result, InvoiceSettled):
            paid = self.s.store.invoices.rows[invoice_id]
            self.expect(paid.status is InvoiceStatus.PAID, f"{invoice_id} settled yet unpaid")

    @rule(target=pending, invoice_id=invoices, method=st.sampled_from(["card", "wallet"]))
    def pay_directly(self, invoice_id: str, method: str) -> str:
        invoice = self.s.store.invoices.rows.get(invoice_id)
        if invoice is None:
            return "none"
        result = self.attempt(
            "pay_directly",
            lambda: self.cabinet(invoice.account_id).invoices.pay(invoice_id, method_id=method),
        )
        payment = getattr(result, "payment", None)
        return "none" if payment is None else payment.id

    @rule(target=invoices, invoice_id=invoices)
    def renew(self, invoice_id: str) -> str:
        invoice = self.s.store.invoices.rows.get(invoice_id)
        service_id = None if invoice is None else invoice.lines[0].service_id
        if invoice is None or service_id is None:
            return "none"
        cabinet = self.cabinet(invoice.account_id)
        renewal = self.attempt("renew", lambda: cabinet.services.renew(service_id))
        return "none" if renewal is None else renewal.id

    @rule(
        account_id=accounts,
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2),
    )
    def convert(self, account_id: str, amount: Decimal) -> None:
        self.attempt(
            "convert", lambda: self.cabinet(account_id).balance.convert(rub(amount), "EUR")
        )

    # ------------------------------------------------------------------ the provider

    @rule(target=delivered, payment_id=consumes(pending))
    def credit(self, payment_id: str) -> Delivered | str:
        if payment_id not in self.s.store.payments.rows:
            return "none"
        event = self.callback(payment_id, PaymentEventKind.CREDITED)
        self.deliver(event, "credit")
        return event

    @rule(payment_id=consumes(pending))
    def fail(self, payment_id: str) -> None:
        if payment_id in self.s.store.payments.rows:
            self.deliver(self.callback(payment_id, PaymentEventKind.FAILED), "fail")

    @rule(event=delivered)
    def deliver_again(self, event: Delivered | str) -> None:
        if isinstance(event, str):
            return
        before = fingerprint(self.s)
        handled = self.deliver(event, "duplicate")
        if handled is not None:
            self.expect(
                handled.outcome is EventOutcome.DUPLICATE,
                f"a repeated callback of {event.payment_id} was {handled.outcome}",
            )
            self.expect(fingerprint(self.s) == before, "a repeated callback changed something")

    @rule(event=delivered)
    def reuse_event_id(self, event: Delivered | str) -> None:
        if isinstance(event, str):
            return
        key = self.s.gateway.parse_webhook(event.headers, event.body).event.key
        other = self.callback(event.payment_id, PaymentEventKind.FAILED, key=key)
        before = snapshot(self.s)
        try:
            self.s.billing.webhooks.handle(other.headers, other.body)
        except EventIdReusedError:
            FIGURES.refusals += 1
        else:
            self.expect(holds=False, what=f"event id {key!r} reused with other content was applied")
        self.expect(snapshot(self.s) == before, "a reused event id changed something")

    @rule(event=delivered, part=st.sampled_from([None, "0.5", "0.25", "1"]))
    def refund(self, event: Delivered | str, part: str | None) -> None:
        if isinstance(event, str):
            return
        payment = self.s.store.payments.rows[event.payment_id]
        amount = None
        if part is not None:
            amount = self.s.billing.settings.rounding.minor(payment.quote.total * part)
            if amount.amount <= 0:
                return
        self.deliver(
            self.callback(event.payment_id, PaymentEventKind.REFUNDED, amount=amount), "refund"
        )

    @precondition(lambda self: self.opened > 0)
    @rule(days=st.sampled_from([1, 2, 3, 7, 14, 31]))
    def days_pass(self, days: int) -> None:
        self.s.clock.advance(timedelta(days=days))
        summary = self.attempt("run", self.s.billing.run.day)
        if summary is not None:
            failures = summary.failures
            self.expect(not failures, f"the run failed for {failures}")

    # ------------------------------------------------------------------ bad input

    @rule(
        account_id=accounts,
        which=st.sampled_from(
            [
                "str amount",
                "float-backed amount",
                "datetime day",
                "str body",
                "no headers",
                "nul id",
                "unknown invoice",
                "too much to convert",
            ]
        ),
    )
    def bad_call(self, account_id: str, which: str) -> None:
        cabinet = self.cabinet(account_id)
        calls: dict[str, Callable[[], object]] = {
            "str amount": lambda: cabinet.payments.top_up("100.00", "card"),  # type: ignore[arg-type]
            "float-backed amount": lambda: cabinet.payments.top_up(
                moneyed.Money(Decimal(0.1), "RUB"),  # noqa: RUF032 - the bad input itself
                "card",
            ),
            "datetime day": lambda: self.s.billing.run.day(self.s.clock.now()),
            "str body": lambda: self.s.billing.webhooks.handle({}, "{}"),  # type: ignore[arg-type]
            "no headers": lambda: self.s.billing.webhooks.handle(None, b"{}"),  # type: ignore[arg-type]
            "nul id": lambda: self.s.billing.cabinet(f"{account_id}\x00", "u").balance.get(),  # noqa: PLW0108 - refused when called
            "unknown invoice": lambda: cabinet.invoices.pay("inv-404"),
            "too much to convert": lambda: cabinet.balance.convert(rub("1000000.00"), "EUR"),
        }
        before = snapshot(self.s)
        try:
            calls[which]()
        except BillingError:
            FIGURES.refusals += 1
        else:
            self.expect(holds=False, what=f"bad input accepted: {which}")
        self.expect(snapshot(self.s) == before, f"a refused call changed something: {which}")

    # ------------------------------------------------------------------ invariants

    @invariant()
    def count(self) -> None:
        FIGURES.steps += 1  # invariants run once before the first step and after each
        if SOAK and FIGURES.steps % 100_000 == 0:
            print(FIGURES.report(), flush=True)  # noqa: T201 - the soak's progress

    @invariant()
    def books_agree(self) -> None:
        store = self.s.store
        payments = store.payments.rows
        invoices = store.invoices.rows
        for account_id, ledger in store.ledgers.rows.items():
            self.expect(ledger.verify(), f"the ledger of {account_id} does not verify")
            for code in ledger.currencies:
                total = sum((e.amount.amount for e in ledger.entries(code)), Decimal(0))
                self.expect(
                    ledger.balance(code).amount == total,
                    f"{account_id}: balance {ledger.balance(code)} is not the sum {total}",
                )
            credited: Counter[str] = Counter()
            refunded: dict[str, Decimal] = {}
            charged: dict[str, Decimal] = {}
            for entry in ledger.entries():
                ref = entry.ref or ""
                if entry.kind in {EntryKind.TOP_UP, EntryKind.CASHBACK}:
                    credited[ref] += 1
                    payment = payments.get(ref)
                    self.expect(
                        payment is not None
                        and payment.status in CREDITED_STATUSES
                        and payment.amount == entry.amount,
                        f"{entry.kind.value} entry {entry.seq} of {account_id} stands for no "
                        f"credited payment {ref!r} of {entry.amount}",
                    )
                elif entry.kind is EntryKind.REFUND:
                    refunded[ref] = refunded.get(ref, Decimal(0)) - entry.amount.amount
                elif entry.kind is EntryKind.CHARGE and ref in invoices:
                    charged[ref] = charged.get(ref, Decimal(0)) - entry.amount.amount
            for ref, times in credited.items():
                self.expect(times == 1, f"payment {ref!r} was credited {times} times")
            for ref, amount in refunded.items():
                payment = payments.get(ref)
                self.expect(
                    payment is not None and amount <= payment.amount.amount,
                    f"refunds of {ref!r} took back {amount}, more than it brought",
                )
            self.refunds_match(account_id, refunded)
            for ref, amount in charged.items():
                self.expect(
                    amount == invoices[ref].paid.amount,
                    f"invoice {ref!r} was charged {amount} but paid {invoices[ref].paid}",
                )

    def refunds_match(self, account_id: str, refunded: dict[str, Decimal]) -> None:
        """Each refund took its share of its payment, and the same share of the cashback."""
        payments = self.s.store.payments.rows
        rounding = self.s.billing.settings.rounding
        for payment_id in self.s.store.payments.by_account.get(account_id, []):
            payment = payments[payment_id]
            if payment.refunded.amount == 0:
                continue
            share = payment.refunded_share(payment.amount, rounding)
            self.expect(
                refunded.get(payment_id, Decimal(0)) == share.amount,
                f"refunds of {payment_id} took back {refunded.get(payment_id)}, not {share}",
            )
            cashback = payment.quote.cashback
            back = payments.get(f"{payment_id}-cashback")
            if cashback.amount > 0 and back is not None:
                taken = payment.refunded_share(cashback, rounding)
                self.expect(
                    back.refunded == taken,
                    f"the refunds of {payment_id} took back {back.refunded} of its "
                    f"cashback {cashback}, not {taken}",
                )

    @invariant()
    def invoices_and_services_agree(self) -> None:
        store = self.s.store
        periods: Counter[tuple[str, object]] = Counter()
        for invoice in store.invoices.rows.values():
            if invoice.status is InvoiceStatus.PAID:
                self.expect(
                    invoice.paid == invoice.total.gross,
                    f"invoice {invoice.number} is paid {invoice.paid} of {invoice.total.gross}",
                )
                for line in invoice.lines:
                    if line.service_id is not None and line.paid_until is not None:
                        periods[line.service_id, line.paid_until] += 1
        for (service_id, until), times in periods.items():
            self.expect(times == 1, f"service {service_id} was paid {times} times until {until}")
        for service_id, service in store.services.rows.items():
            until = service.paid_until
            seen = self.paid_until.get(service_id)
            if seen is not None:
                self.expect(
                    until is not None and until >= seen,  # type: ignore[operator]
                    f"service {service_id}: paid until moved back from {seen} to {until}",
                )
            if until is not None:
                self.paid_until[service_id] = until

    @invariant()
    def credit_within_limit(self) -> None:
        for account_id, profile in self.s.store.profiles.rows.items():
            line = profile.credit
            if line is None:
                continue
            self.expect(
                Decimal(0) <= line.debt.amount <= line.limit.amount,
                f"{account_id}: credit debt {line.debt} is outside 0..{line.limit}",
            )


def machine_settings(examples: int = EXAMPLES, steps: int = STEPS) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def test_billing_machine() -> None:
    if not SOAK:
        run_state_machine_as_test(BillingMachine, settings=machine_settings())
        assert FIGURES.violations == 0
        return
    # A run stops at up to 50 steps (sooner when hypothesis ends it): run until the total.
    total = int(os.environ[SOAK_STEPS])
    while FIGURES.steps < total:
        runs = min(max((total - FIGURES.steps) // 40, 1), 2000)
        run_state_machine_as_test(BillingMachine, settings=machine_settings(runs, 50))
    f = FIGURES
    print(  # noqa: T201 - the soak's report
        f"\n{f.report()}\ncalls: {dict(sorted(f.calls.items()))}\n"
        f"refused: {dict(sorted(f.refused.items()))}"
    )
    assert FIGURES.violations == 0
