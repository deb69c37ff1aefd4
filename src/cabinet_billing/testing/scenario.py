"""Whole-customer stories over the in-memory billing: a scenario builder.

A :class:`Scenario` wires a fresh :func:`~cabinet_billing.adapters.memory.in_memory_billing`
with its own fixed clock (no global state: scenarios run side by side), and drives it the
way customers and the calendar do: accounts open, top up, order services, save cards;
days pass and the billing run does its work once per day. Expectations check balances,
service states and notifications and raise :class:`AssertionError` with a clear message.

Every step method runs at once and returns the scenario, so steps chain:

>>> from datetime import date
>>> s = (
...     Scenario("introserv", start=date(2024, 1, 10))
...     .account("acc-1")
...     .top_up("acc-1", "100.00 EUR")
...     .order("acc-1", "vps", price="30.00 EUR")
...     .advance(to=date(2024, 2, 10))
...     .expect_balance("acc-1", "40.00 EUR")
...     .expect_status("vps", "active")
... )
>>> [(m.month, m.renewals) for m in s.months()]
[('2024-01', 0), ('2024-02', 1)]

The same story can be written as a TOML file (see :meth:`Scenario.from_toml` and the
simulation guide); :meth:`Scenario.run` executes the steps read from it.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import attrs
import moneyed

from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.adapters.sandbox import Outcome
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.cabinet import Cabinet
from cabinet_billing.app.context import notification_of
from cabinet_billing.app.run import CycleSummary
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.autopay import AutopayMode, AutopayPolicy
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.customer import Account, PostalAddress
from cabinet_billing.domain.events import (
    AutoTopUp,
    BankTransferMatched,
    BillingEvent,
    InvoiceIssued,
    InvoicePaid,
    OrderPlaced,
    PaymentCredited,
    PaymentFailed,
    PaymentRefunded,
    RenewalFailed,
    ServiceExpired,
    ServicePaid,
    ServiceRenewed,
    StatementIssued,
)
from cabinet_billing.domain.invoice import Invoice, InvoiceKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod, mask_card
from cabinet_billing.domain.service import Actor, Service, ServiceStatus
from cabinet_billing.errors import InvalidScenarioError, NotFoundError, ValidationError
from cabinet_billing.rules.credit_limit import CreditStatus, evaluate_credit
from cabinet_billing.rules.matching import StatementLine
from cabinet_billing.rules.presets import PRESETS, CabinetPreset, preset
from cabinet_billing.testing.history import CreditHistory

__all__ = ["MAX_STEPS", "STEP_NAMES", "MonthReport", "Scenario", "Step"]

#: The most steps a TOML scenario may have: a story of years is a few hundred steps (an
#: ``advance`` step covers any number of days), and a file of more is refused up front.
MAX_STEPS = 10_000

#: The step names a TOML scenario may use, mapped to the method that runs them.
STEP_NAMES = (
    "account",
    "top_up",
    "order",
    "save_card",
    "script_card",
    "autopay",
    "credit_line",
    "pay_invoice",
    "bank_transfer",
    "auto_renew_off",
    "stop_card_autopay",
    "advance",
    "cycle",
    "expect_balance",
    "expect_status",
    "expect_paid_until",
    "expect_notifications",
    "expect_credit",
)

#: Argument names a TOML step may use for the Python parameter names.
_ALIASES = {"account": "account_id", "id": "account_id", "service": "ref", "plan": "plan_id"}


@attrs.frozen
class Step:
    """One step of a scenario: what to do and with which arguments.

    Args:
        do: the step's name, one of the scenario's step methods (e.g. ``"top_up"``).
        args: its keyword arguments.
    """

    do: str
    args: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MonthReport:
    """What happened in one calendar month of a scenario.

    Attributes:
        month: the month, ``"YYYY-MM"``.
        days: billing days run in the month.
        billed: the invoices issued for orders and renewals, per currency (a credit
            statement is not counted again: it bills what was bought on credit).
        collected: payments credited (top-ups, invoice payments, card charges, bank
            transfers), per currency.
        invoices: invoices issued (orders, renewals, statements).
        renewals: services renewed by the billing run.
        expired: services expired.
        notifications: notifications sent.
        failed_charges: saved-method charges that failed.
        failures: accounts the billing run could not finish (rolled back).
        overdue_accounts: accounts whose credit was overdue on some day of the month.
        blocked_accounts: accounts whose credit was blocked on some day of the month.
    """

    month: str
    days: int
    billed: dict[str, Money]
    collected: dict[str, Money]
    invoices: int
    renewals: int
    expired: int
    notifications: int
    failed_charges: int
    failures: int
    overdue_accounts: tuple[str, ...]
    blocked_accounts: tuple[str, ...]

    def line(self) -> str:
        """The month on one line, for a text report."""
        billed = ", ".join(str(m) for _, m in sorted(self.billed.items())) or "-"
        collected = ", ".join(str(m) for _, m in sorted(self.collected.items())) or "-"
        return (
            f"{self.month}: billed {billed}; collected {collected}; invoices {self.invoices}; "
            f"renewals {self.renewals}; expired {self.expired}; "
            f"notifications {self.notifications}; "
            f"overdue {', '.join(self.overdue_accounts) or '-'}; "
            f"blocked {', '.join(self.blocked_accounts) or '-'}"
        )


@attrs.define
class _Month:
    days: int = 0
    billed: dict[str, Money] = attrs.field(factory=dict)
    collected: dict[str, Money] = attrs.field(factory=dict)
    invoices: int = 0
    renewals: int = 0
    expired: int = 0
    failed_charges: int = 0
    failures: int = 0
    overdue: set[str] = attrs.field(factory=set)
    blocked: set[str] = attrs.field(factory=set)


def _month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def _to_date(value: object, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(field, value, "expected a date such as 2024-03-01")


def _money(value: object, currency: str, field: str = "amount") -> Money:
    """Read ``"100.00 EUR"``, ``"100.00"`` (in ``currency``), a Decimal or a Money."""
    if isinstance(value, moneyed.Money):
        return Money(value.amount, value.currency)
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return Money(value, currency)
    if isinstance(value, str):
        parts = value.split()
        if len(parts) == 1:
            return Money(parts[0], currency)
        if len(parts) == 2:  # noqa: PLR2004 - an amount and a currency code
            return Money(parts[0], parts[1])
    raise ValidationError(field, value, "expected an amount such as '100.00 EUR' (no floats)")


class Scenario:
    """A customer story over a fresh in-memory billing, day by day.

    Args:
        preset: a preset or its name (``"introserv"``, ``"astra_cloud"``, ``"horoshop"``).
        settings: the billing settings (default: the preset's, or :class:`BillingSettings`).
        start: the first day; the clock stands at its midnight (UTC).

    Attributes:
        preset: the preset, when one was given.
        start: the first day.
        title: the scenario's title (from a TOML file's ``title``).
        cabinet: the wired billing and its parts (store, clock, gateway, notifier).
        credit_history: the credit lines' dashboards day by day, and what was bought
            on credit.
        days: the summary of every billing run, in order.
        steps: the steps read from TOML and not yet run.
    """

    def __init__(
        self,
        preset: str | CabinetPreset | None = None,
        *,
        settings: BillingSettings | None = None,
        start: date = date(2024, 1, 1),
    ) -> None:
        chosen = _preset(preset)
        if settings is None:
            settings = BillingSettings.from_preset(chosen) if chosen else BillingSettings()
        self.preset = chosen
        self.cabinet: InMemoryBilling = in_memory_billing(
            settings,
            now=datetime.combine(start, time(), tzinfo=UTC),
            # The preset's reference rates, for the balances in other currencies.
            rates=FixedRates(chosen.exchange_rates) if chosen and chosen.exchange_rates else None,
        )
        self.start = start
        self.credit_history = CreditHistory(self.cabinet.store, settings.credit)
        self.title = ""
        self.days: list[CycleSummary] = []
        self.steps: list[Step] = []
        self._today = start
        self._events: list[BillingEvent] = []
        self._refs: dict[str, str] = {}
        self._to_activate: list[str] = []
        self._months: dict[str, _Month] = {}
        self._credit: dict[str, CreditStatus] = {}
        self._credit_changes: list[tuple[date, str, str]] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._run_pending = False
        self._bank_lines = 0

    # ------------------------------------------------------------------ parts

    @property
    def billing(self) -> Billing:
        """The billing under test."""
        return self.cabinet.billing

    @property
    def today(self) -> date:
        """The scenario's current day."""
        return self._today

    @property
    def events(self) -> tuple[BillingEvent, ...]:
        """Every event of the steps and the billing runs, in order."""
        return tuple(self._events)

    @staticmethod
    def user(account_id: str) -> str:
        """The id of an account's owner in the scenario."""
        return f"{account_id}-owner"

    def owner(self, account_id: str) -> Cabinet:
        """The cabinet of an account's owner, for the use cases no step covers.

        >>> s = Scenario("introserv").account("acc-1")
        >>> s.owner("acc-1").balance.get()
        Money('0', 'EUR')
        """
        return self.billing.cabinet(account_id, self.user(account_id))

    def service_id(self, ref: str) -> str:
        """The id of the service an order step named ``ref`` (an id passes through)."""
        if ref in self._refs:
            return self._refs[ref]
        if ref in self.cabinet.store.services.rows:
            return ref
        known = ", ".join(sorted(self._refs)) or "none"
        raise ValidationError("service", ref, f"no order step named it (known: {known})")

    def service(self, ref: str) -> Service:
        """The committed state of a service."""
        return self.cabinet.store.services.rows[self.service_id(ref)]

    def balance(self, account_id: str, currency: str | None = None) -> Money:
        """An account's balance (in its own currency by default)."""
        return self.owner(account_id).balance.get(currency or self._currency(account_id))

    def notifications(self, account_id: str) -> list[str]:
        """The kinds of the notifications sent to an account, in order."""
        return self.cabinet.notifier.kinds(account_id)

    def _currency(self, account_id: str) -> str:
        account = self.cabinet.store.accounts.rows.get(account_id)
        if account is None:
            known = ", ".join(sorted(self.cabinet.store.accounts.rows)) or "none"
            raise NotFoundError(
                f"account (open it with an account step first; known: {known})", account_id
            )
        return account.profile.currency

    def _tick(self) -> datetime:
        """Move the clock on by a second, so every action has its own instant."""
        return self.cabinet.clock.advance(seconds=1).now()

    def _record(self, events: Iterable[BillingEvent]) -> None:
        for event in events:
            self._events.append(event)
            month = self._month(event.at.date())
            if isinstance(event, PaymentCredited):
                code = event.amount.code
                month.collected[code] = month.collected.get(code, Money.zero(code)) + event.amount
            elif isinstance(event, (InvoiceIssued, StatementIssued)):
                month.invoices += 1
                if isinstance(event, InvoiceIssued):
                    code = event.amount.code
                    month.billed[code] = month.billed.get(code, Money.zero(code)) + event.amount
            elif isinstance(event, ServiceRenewed):
                month.renewals += 1
            elif isinstance(event, ServiceExpired):
                month.expired += 1

    def _month(self, day: date) -> _Month:
        return self._months.setdefault(_month_of(day), _Month())

    def _settle(self) -> None:
        """After a step: open what was paid, and note a change of a credit line's state."""
        self._activate()
        self._credit_states(self._month(self._today))

    def _activate(self) -> None:
        """Finish opening the services an order step asked to activate, once paid."""
        waiting: list[str] = []
        for service_id in self._to_activate:
            status = self.cabinet.store.services.rows[service_id].status
            if status is ServiceStatus.PROCESSING:
                with MemoryUnitOfWork(self.cabinet.store) as uow:
                    uow.services.get(service_id).finish_processing(
                        Actor.system(), self.cabinet.clock.now(), "opened"
                    )
                    uow.commit()
            elif status is ServiceStatus.ORDERED:
                waiting.append(service_id)
        self._to_activate = waiting

    # ------------------------------------------------------------------ customer steps

    def account(
        self,
        account_id: str,
        currency: str | None = None,
        country: str | None = None,
        *,
        complete: bool = True,
        low_balance_threshold: object = None,
        credit_limit: object = None,
    ) -> Self:
        """Open an account whose owner is :meth:`user`.

        Args:
            account_id: the account's id (also its login).
            currency: its currency (default: the preset's).
            country: its country, for taxes.
            complete: fill in the profile fields needed to pay.
            low_balance_threshold: the low-balance notice threshold (default: the
                preset's, when in the account's currency).
            credit_limit: open a credit line with this limit.
        """
        self._tick()
        code = (currency or (self.preset.currency if self.preset else "EUR")).upper()
        account = Account.open(
            account_id,
            account_id,
            email=f"{account_id}@example.test",
            currency=code,
            country=country,
        )
        if complete:
            account.change_name("Doe", "Jane")
            account.change_postal_address(PostalAddress("Kyiv", "01001", "Main street 1"))
        threshold = None
        if low_balance_threshold is not None:
            threshold = _money(low_balance_threshold, code, "low_balance_threshold")
        elif self.preset and self.preset.low_balance_threshold is not None:
            default = self.preset.low_balance_threshold
            threshold = default if default.code == code else None
        if threshold is not None:
            account.set_low_balance_threshold(threshold)
        self.billing.open_account(
            account, owner_id=self.user(account_id), owner_name=f"Owner of {account_id}"
        )
        if credit_limit is not None:
            self.credit_line(account_id, credit_limit)
        return self

    def credit_line(self, account_id: str, limit: object) -> Self:
        """Give an account credit up to a limit (the settings must give credit)."""
        self.billing.staff.open_credit_line(account_id, _money(limit, self._currency(account_id)))
        return self

    def top_up(self, account_id: str, amount: object, method: str = "card") -> Self:
        """Top the balance up by a method: checkout, then the provider's credited callback."""
        money = _money(amount, self._currency(account_id))
        now = self._tick()
        started = self.owner(account_id).payments.top_up(money, method)
        handled = self.billing.webhooks.handle(
            *self.cabinet.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, now),
        )
        self._record(handled.events)
        self._settle()
        return self

    def order(
        self,
        account_id: str,
        plan_id: str,
        price: object = "30.00",
        period: str = "month",
        kind: str = "vps",
        *,
        auto_renew: bool = True,
        activate: bool = True,
        ref: str | None = None,
        method: str = BALANCE_METHOD,
        prorate: bool = False,
    ) -> Self:
        """Order a plan: cart, checkout and order (paid from the balance when it covers it).

        Args:
            account_id: the account.
            plan_id: the plan's id (and name).
            price: its price for one period (in the account's currency unless given).
            period: the billing period (``"month"``, ``"quarter"``, ``"year"`` ...).
            kind: the product kind (``"vps"``, ``"server"``, ``"saas"`` ...).
            auto_renew: renew it automatically from the balance.
            activate: finish opening it as soon as it is paid.
            ref: the name later steps use for the service (default: the plan id, or
                ``plan-2``, ``plan-3`` ... when taken).
            method: the order's payment method: ``"balance"`` (the default) is paid from
                the balance when it covers it; an order for another method waits for a
                payment by that method (SPEC C4).
            prorate: price the first period with the settings' proration policy.
        """
        now = self._tick()
        code = self._currency(account_id)
        money = _money(price, code, "price")
        plan = Plan(plan_id, plan_id, ProductKind(kind), {period: money})
        cart = Cart(account_id, money.code)
        cart.add(plan, period)
        account = self.cabinet.store.accounts.rows[account_id]
        settings = self.billing.settings
        order = cart.checkout(
            method,
            now.date(),
            order_id=f"order-{len(self._refs) + 1}",
            tax=settings.tax,
            country=account.profile.country or "",
            proration=settings.proration if prorate else None,
            rounding=settings.rounding,
        )
        result = self.owner(account_id).orders.place(order)
        self._record(result.events)
        for service_id in result.service_ids:
            name = ref or plan_id
            n = 2
            while name in self._refs:
                name = f"{ref or plan_id}-{n}"
                n += 1
            self._refs[name] = service_id
            if auto_renew:
                with MemoryUnitOfWork(self.cabinet.store) as uow:
                    uow.services.get(service_id).set_auto_renew(True)
                    uow.commit()
            if activate:
                self._to_activate.append(service_id)
        self._settle()
        return self

    def pay_invoice(self, account_id: str, number: str | None = None) -> Self:
        """Pay an open invoice (the oldest, or the one numbered) from the balance."""
        self._tick()
        invoice = self._open_invoice(account_id, number)
        result = self.owner(account_id).invoices.pay(invoice.id)
        self._record(result.events)
        self._settle()
        return self

    def bank_transfer(
        self, account_id: str, number: str | None = None, amount: object = None
    ) -> Self:
        """Receive a bank transfer naming an invoice (the oldest open one by default).

        The transfer is one line of a bank statement whose purpose names the invoice
        number; it is matched like any statement (exact number and amount).

        Args:
            account_id: the account whose invoice is paid.
            number: the invoice number (default: the account's oldest open invoice).
            amount: the amount transferred (default: the amount due).
        """
        self._tick()
        invoice = self._open_invoice(account_id, number)
        self._bank_lines += 1
        line = StatementLine(
            f"line-{self._bank_lines}",
            self._today,
            invoice.amount_due if amount is None else _money(amount, invoice.currency),
            f"Owner of {account_id}",
            f"Payment for invoice {invoice.number}",
        )
        result = self.billing.bank.match([line])
        self._record(result.events)
        self._settle()
        return self

    def _open_invoice(self, account_id: str, number: str | None) -> Invoice:
        invoices = [
            i
            for i in self.cabinet.store.invoices.rows.values()
            if i.account_id == account_id
            and i.is_open()
            and i.kind is not InvoiceKind.STATEMENT
            and number in {None, i.number}
        ]
        if not invoices:
            raise ValidationError("invoice", number or account_id, "no open invoice to pay")
        return min(invoices, key=lambda i: (i.issued_on, i.number))

    def save_card(
        self,
        account_id: str,
        method_id: str,
        token: str,
        *,
        subscribe_services: bool | Sequence[str] = True,
        last_digits: str = "4242",
    ) -> Self:
        """Bind a card and renew services from it.

        Binding pays the oldest open invoice, or charges and refunds a verification amount.

        Args:
            account_id: the account.
            method_id: the saved method's id.
            token: the provider's token (script its charges with :meth:`script_card`).
            subscribe_services: renew from the card every paid service of the account
                (``True``), none (``False``) or the services named.
            last_digits: the card's last digits, for its label.
        """
        self._tick()
        card = SavedPaymentMethod(
            method_id,
            account_id,
            MethodKind.CARD,
            token,
            f"Card *{last_digits}",
            mask_card(last_digits),
        )
        bound = self.owner(account_id).payments.bind_card(card)
        self._record(bound.events)
        self._settle()
        if subscribe_services is True:
            ids = [
                s.id
                for s in self.cabinet.store.services.rows.values()
                if s.account_id == account_id and s.paid_until is not None
            ]
        elif subscribe_services is False:
            ids = []
        else:
            ids = [self.service_id(ref) for ref in subscribe_services]
        for service_id in ids:
            self.owner(account_id).services.set_auto_renewal(service_id, method_id=method_id)
        return self

    def script_card(self, token: str, *outcomes: str) -> Self:
        """Queue what the next charges of a card token do.

        Outcomes: ``"succeed"``, ``"decline"``, ``"insufficient_funds"``, ``"timeout"``.
        """
        try:
            queued = [Outcome(o) for o in outcomes]
        except ValueError:
            allowed = ", ".join(o.value for o in Outcome)
            raise ValidationError("outcomes", list(outcomes), f"allowed: {allowed}") from None
        self.cabinet.gateway.script(token, *queued)
        return self

    def autopay(
        self,
        account_id: str,
        method_id: str,
        threshold: object,
        amount: object,
        *,
        mode: str = "fixed",
        monthly_cap: object = None,
    ) -> Self:
        """Top the balance up automatically from a saved method below a threshold."""
        code = self._currency(account_id)
        policy = AutopayPolicy(
            _money(threshold, code, "threshold"),
            AutopayMode(mode),
            _money(amount, code),
            None if monthly_cap is None else _money(monthly_cap, code, "monthly_cap"),
        )
        self.owner(account_id).balance.set_autopay(method_id, policy)
        return self

    def auto_renew_off(self, ref: str) -> Self:
        """Stop renewing a service automatically."""
        service = self.service(ref)
        self.owner(service.account_id).services.switch_auto_renewal_off(service.id)
        return self

    def stop_card_autopay(self, account_id: str) -> Self:
        """Stop charging the bound card on invoice day."""
        self.owner(account_id).payments.stop_card_autopay()
        return self

    # ------------------------------------------------------------------ time

    def advance(
        self, to: object = None, days: int | None = None, *, run_last_day: bool = True
    ) -> Self:
        """Let days pass: the billing run runs once on each day after today up to ``to``.

        Args:
            to: the last day to run (a date or ``"YYYY-MM-DD"``).
            days: or: how many days to run.
            run_last_day: with ``False``, the clock stops at the start of the last day
                and its run waits for :meth:`cycle` (or the next :meth:`advance`), so
                steps can happen on that day before the billing run.
        """
        if (to is None) == (days is None):
            raise ValidationError("advance", (to, days), "give exactly one of to= or days=")
        last = self._today + timedelta(days=days) if days is not None else _to_date(to, "to")
        if last < self._today:
            raise ValidationError("to", last, f"must not be before today ({self._today})")
        if self._run_pending and last > self._today:
            self.cycle()
        while self._today < last:
            self._today += timedelta(days=1)
            self.cabinet.clock.set(datetime.combine(self._today, time(), tzinfo=UTC))
            if self._today < last or run_last_day:
                self.cycle()
            else:
                self._run_pending = True
        return self

    def cycle(self) -> Self:
        """Run today's billing (again: a second run on a day changes nothing)."""
        self._run_pending = False
        summary = self.billing.run.day(self._today)
        self.days.append(summary)
        month = self._month(self._today)
        month.days += 1
        month.failed_charges += summary.failed_charges
        month.failures += len(summary.failures)
        self._record(summary.events)
        self._activate()
        self._credit_states(month)
        return self

    def _credit_states(self, month: _Month) -> None:
        self.credit_history.observe(self._today)
        policy = self.billing.settings.credit
        if policy is None:
            return
        for account_id, profile in self.cabinet.store.profiles.rows.items():
            if profile.credit is None:
                continue
            status = evaluate_credit(policy, profile.credit, self._today).status
            if status is CreditStatus.OVERDUE:
                month.overdue.add(account_id)
            elif status is CreditStatus.BLOCKED:
                month.blocked.add(account_id)
            if self._credit.get(account_id, CreditStatus.OK) is not status:
                self._credit_changes.append((self._today, account_id, status.value))
            self._credit[account_id] = status

    # ------------------------------------------------------------------ expectations

    def expect_balance(self, account_id: str, amount: object) -> Self:
        """Check an account's balance exactly."""
        expected = _money(amount, self._currency(account_id))
        actual = self.balance(account_id, expected.code)
        if actual != expected:
            msg = f"{self._today}: balance of {account_id} is {actual}, expected {expected}"
            raise AssertionError(msg)
        return self

    def expect_status(self, ref: str, status: str) -> Self:
        """Check a service's status (``"active"``, ``"expired"`` ...)."""
        actual = self.service(ref).status.value
        if actual != status:
            msg = f"{self._today}: service {ref} is {actual}, expected {status}"
            raise AssertionError(msg)
        return self

    def expect_paid_until(self, ref: str, until: object) -> Self:
        """Check the last paid day of a service."""
        expected = _to_date(until, "until")
        actual = self.service(ref).paid_until
        if actual != expected:
            msg = f"{self._today}: service {ref} is paid until {actual}, expected {expected}"
            raise AssertionError(msg)
        return self

    def expect_notifications(
        self, account_id: str, kinds: Sequence[str], *, prefix: str = ""
    ) -> Self:
        """Check the kinds sent to an account since the last check (of the same prefix).

        Args:
            account_id: the account.
            kinds: the kinds expected, in order (exactly these, nothing else).
            prefix: compare only the kinds that start with this, e.g. ``"credit."``.
        """
        sent = [k for k in self.notifications(account_id) if k.startswith(prefix)]
        start = self._seen.get((account_id, prefix), 0)
        new = sent[start:]
        self._seen[account_id, prefix] = len(sent)
        if new != list(kinds):
            msg = f"{self._today}: {account_id} was notified of {new}, expected {list(kinds)}"
            raise AssertionError(msg)
        return self

    def expect_credit(self, account_id: str, status: str) -> Self:
        """Check the state of an account's credit line today (``"ok"``, ``"blocked"`` ...)."""
        actual = self.owner(account_id).credit.status().state.status.value
        if actual != status:
            msg = f"{self._today}: credit of {account_id} is {actual}, expected {status}"
            raise AssertionError(msg)
        return self

    # ------------------------------------------------------------------ reports

    def months(self) -> list[MonthReport]:
        """The month-by-month report, from the start month to the current one."""
        reports: list[MonthReport] = []
        notices: dict[str, int] = {}
        for n in self.cabinet.notifier.sent:
            key = _month_of(n.at.date())
            notices[key] = notices.get(key, 0) + 1
        day = self.start.replace(day=1)
        while day <= self._today:
            key = _month_of(day)
            m = self._months.get(key, _Month())
            reports.append(
                MonthReport(
                    month=key,
                    days=m.days,
                    billed=dict(m.billed),
                    collected=dict(m.collected),
                    invoices=m.invoices,
                    renewals=m.renewals,
                    expired=m.expired,
                    notifications=notices.get(key, 0),
                    failed_charges=m.failed_charges,
                    failures=m.failures,
                    overdue_accounts=tuple(sorted(m.overdue)),
                    blocked_accounts=tuple(sorted(m.blocked)),
                ),
            )
            day = (day + timedelta(days=32)).replace(day=1)
        return reports

    def report(self) -> str:
        """The month-by-month report as text, one line per month."""
        return "\n".join(m.line() for m in self.months())

    def timeline(self, account_id: str) -> list[tuple[date, str]]:
        """What happened to an account, day by day: events, other notices, credit states."""
        lines: list[tuple[datetime, int, str]] = []
        covered: set[str] = set()
        for i, event in enumerate(self._events):
            if event.account_id != account_id:
                continue
            notice = notification_of(event)
            if notice is not None:
                covered.add(notice.key)
            text = _describe(event)
            if text:
                lines.append((event.at, i, text))
        base = len(self._events)
        for i, n in enumerate(self.cabinet.notifier.sent):
            if n.account_id == account_id and n.key not in covered:
                lines.append((n.at, base + i, f"notice {n.kind}"))
        base += len(self.cabinet.notifier.sent)
        for i, (day, who, status) in enumerate(self._credit_changes):
            if who == account_id:
                at = datetime.combine(day, time(23, 59), tzinfo=UTC)
                lines.append((at, base + i, f"credit {status.replace('_', ' ')}"))
        lines.sort(key=lambda x: (x[0], x[1]))
        return [(at.date(), text) for at, _, text in lines]

    # ------------------------------------------------------------------ TOML

    @classmethod
    def from_toml(cls, source: str | Path) -> Scenario:
        """A scenario from a TOML file (a path) or TOML text; :meth:`run` runs its steps.

        Top-level keys: ``preset`` (a preset name), ``start`` (a date); then an array of
        ``[[step]]`` tables, each with ``do`` (a step name) and the step's arguments.

        >>> text = '''
        ... preset = "introserv"
        ... start = 2024-01-10
        ... [[step]]
        ... do = "account"
        ... id = "acc-1"
        ... [[step]]
        ... do = "top_up"
        ... account = "acc-1"
        ... amount = "50.00 EUR"
        ... [[step]]
        ... do = "expect_balance"
        ... account = "acc-1"
        ... amount = "50.00 EUR"
        ... '''
        >>> Scenario.from_toml(text).run().balance("acc-1")
        Money('50.00', 'EUR')

        Raises:
            InvalidScenarioError: for a file that cannot be read, text that is not TOML, an
                unknown key, step or argument, or more than :data:`MAX_STEPS` steps,
                naming what is allowed.
            NotFoundError: for an unknown preset.
        """
        data = _read_toml(source)
        unknown = sorted(set(data) - {"preset", "start", "step", "title", "description"})
        if unknown:
            raise InvalidScenarioError(
                "scenario", unknown, "allowed keys: preset, start, title, description, step"
            )
        chosen = data.get("preset")
        if chosen is not None and not isinstance(chosen, str):
            raise InvalidScenarioError(
                "preset", chosen, f"expected a preset name ({', '.join(sorted(PRESETS))})"
            )
        for key in ("title", "description"):
            if not isinstance(data.get(key, ""), str):
                raise InvalidScenarioError(key, data[key], "expected text")
        tables = data.get("step", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise InvalidScenarioError(
                "step", tables, "expected [[step]] tables, each with do = '<step name>'"
            )
        if len(tables) > MAX_STEPS:
            raise InvalidScenarioError(
                "step",
                f"{len(tables)} steps",
                f"a scenario has at most {MAX_STEPS} steps; split it or use advance steps",
            )
        scenario = cls(
            chosen,
            start=_to_date(data.get("start", date(2024, 1, 1)), "start"),
        )
        scenario.title = str(data.get("title", ""))
        for i, table in enumerate(tables, start=1):
            args = {_ALIASES.get(k, k): v for k, v in table.items() if k != "do"}
            step = Step(str(table.get("do", "")), args)
            scenario._check(step, i)
            scenario.steps.append(step)
        return scenario

    def _check(self, step: Step, number: int) -> None:
        if step.do not in STEP_NAMES:
            raise InvalidScenarioError(
                f"step {number}", step.do, f"allowed: {', '.join(STEP_NAMES)}", number
            )
        method = self._method(step.do)
        args = dict(step.args)
        if step.do == "script_card":
            outcomes = args.pop("outcomes", [])
            if not isinstance(outcomes, list):
                raise InvalidScenarioError(
                    f"step {number} (script_card) outcomes",
                    outcomes,
                    "expected a list such as ['approve', 'decline']",
                    number,
                )
        try:
            inspect.signature(method).bind(**args)
        except TypeError as exc:
            raise InvalidScenarioError(
                f"step {number} ({step.do})", sorted(step.args), str(exc), number
            ) from None

    def _method(self, name: str) -> Callable[..., Scenario]:
        method: Callable[..., Scenario] = getattr(self, name)
        return method

    def step(self, step: Step) -> Self:
        """Run one step."""
        args = dict(step.args)
        if step.do == "script_card":
            outcomes = args.pop("outcomes", [])
            self.script_card(str(args.pop("token")), *[str(o) for o in outcomes])
            return self
        self._method(step.do)(**args)
        return self

    def run(self) -> Self:
        """Run the steps read from TOML that have not run yet; returns the scenario.

        An error names the step it happened in (as a note on the exception).
        """
        while self.steps:
            step = self.steps.pop(0)
            try:
                self.step(step)
            except Exception as exc:
                exc.add_note(f"in scenario step do = {step.do!r} {dict(step.args)}")
                raise
        return self


def _read_toml(source: object) -> dict[str, Any]:
    """The TOML table of a scenario file or text."""
    if not isinstance(source, str | Path):
        raise InvalidScenarioError(
            "source", source, f"expected TOML text or a path, got {type(source).__name__}"
        )
    try:
        text = Path(source).read_text(encoding="utf-8") if _is_file(source) else str(source)
    except OSError as exc:
        raise InvalidScenarioError(
            "file", str(source), f"cannot be read: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidScenarioError(
            "file",
            str(source),
            f"is not UTF-8 text (byte {exc.start}); a scenario is a TOML file",
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidScenarioError("scenario", text, f"is not valid TOML: {exc}") from None


def _is_file(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    if "\n" in source:
        return False
    try:
        return Path(source).is_file()
    except OSError:  # a name too long for the file system is TOML text
        return False


def _preset(value: str | CabinetPreset | None) -> CabinetPreset | None:
    if value is None or isinstance(value, CabinetPreset):
        return value
    return preset(value)


def _paid(e: InvoicePaid) -> str:
    source = " from the balance" if e.from_balance else ""
    return f"invoice {e.number} paid{source}: {e.amount}"


def _renewed(e: ServiceRenewed) -> str:
    source = e.source.replace("_", " ")
    return f"service {e.service_id} renewed until {e.paid_until} from {source}: {e.amount}"


_DESCRIBE: dict[type[BillingEvent], Callable[[Any], str]] = {
    PaymentCredited: lambda e: f"payment {e.payment_id} credited {e.amount}",
    OrderPlaced: lambda e: f"order {e.order_id} placed: services {', '.join(e.service_ids)}",
    InvoiceIssued: lambda e: f"invoice {e.number} issued: {e.amount}",
    StatementIssued: lambda e: f"statement {e.statement_id} issued: {e.amount}, due {e.due_on}",
    InvoicePaid: _paid,
    ServicePaid: lambda e: f"service {e.service_id} paid until {e.paid_until}",
    ServiceRenewed: _renewed,
    RenewalFailed: lambda e: f"renewal of {e.service_id} failed ({e.reason}): {e.amount}",
    ServiceExpired: lambda e: f"service {e.service_id} expired (paid until {e.paid_until})",
    AutoTopUp: lambda e: f"automatic top-up {e.amount}",
    PaymentFailed: lambda e: f"payment {e.payment_id} failed: {e.reason}",
    PaymentRefunded: lambda e: f"payment {e.payment_id} refunded: {e.amount}",
    BankTransferMatched: lambda e: f"bank transfer {e.line_id} matched: {e.amount}",
}


def _describe(event: BillingEvent) -> str:
    """One line of text for an event in a timeline."""
    describe = _DESCRIBE.get(type(event))
    return describe(event) if describe is not None else type(event).__name__
