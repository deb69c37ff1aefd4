"""A generated population of customers, billed day by day for months.

:class:`Population` opens accounts with complete profiles through the public use cases,
orders a few services per account from a catalogue that fits the preset, tops balances
up, saves cards for some customers (and gives credit lines to some, where the preset
gives credit), then runs the billing every day. Customers behave as real ones do: most
top up or pay their statement in time, some late, some never, and services expire.

Everything random comes from one :class:`random.Random` seeded by ``seed``, so the same
seed gives the same months:

>>> from datetime import date
>>> population = Population("introserv", accounts=3, start=date(2024, 1, 1), seed=7)
>>> months = population.run(months=2)
>>> [m.month for m in months]
['2024-01', '2024-02']
>>> months == Population("introserv", accounts=3, start=date(2024, 1, 1), seed=7).run(months=2)
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

import attrs
from dateutil.relativedelta import relativedelta

from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.adapters.sandbox import Outcome
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.autopay import AutopayMode, AutopayPolicy
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.customer import Account, PostalAddress
from cabinet_billing.domain.events import (
    BillingEvent,
    InvoiceIssued,
    PaymentCredited,
    StatementIssued,
)
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod, mask_card
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.credit_limit import CreditStatus, evaluate_credit
from cabinet_billing.rules.presets import CabinetPreset, preset
from cabinet_billing.testing.history import CreditHistory

__all__ = ["CATALOGUES", "MonthSummary", "Offer", "Population"]

_OWNER = "owner"


@attrs.frozen
class Offer:
    """A plan a provider sells, as the population orders it.

    Args:
        plan_id: the plan's id.
        name: the plan's name.
        kind: what it sells.
        price: the price per period.
        period: the billing period (``"month"``, ``"year"``).
    """

    plan_id: str
    name: str
    kind: ProductKind
    price: Money
    period: str = "month"

    def plan(self) -> Plan:
        """The catalogue plan of this offer."""
        return Plan(self.plan_id, self.name, self.kind, {self.period: self.price})


def _offers(
    currency: str, rows: Iterable[tuple[str, str, ProductKind, str, str]]
) -> tuple[Offer, ...]:
    return tuple(
        Offer(plan_id, name, kind, Money(price, currency), period)
        for plan_id, name, kind, price, period in rows
    )


_VPS, _SERVER, _DOMAIN, _SSL, _SAAS, _LICENSE = (
    ProductKind.VPS,
    ProductKind.SERVER,
    ProductKind.DOMAIN,
    ProductKind.SSL,
    ProductKind.SAAS,
    ProductKind.LICENSE,
)

#: What each preset's provider sells: plans and prices per currency.
CATALOGUES: Mapping[str, Mapping[str, tuple[Offer, ...]]] = {
    "introserv": {
        "EUR": _offers(
            "EUR",
            [
                ("vps-s", "VPS S", _VPS, "9.90", "month"),
                ("vps-m", "VPS M", _VPS, "19.90", "month"),
                ("vps-l", "VPS L", _VPS, "39.90", "month"),
                ("ded-e3", "Dedicated E3-1230", _SERVER, "79.00", "month"),
                ("ded-e5", "Dedicated 2xE5-2650", _SERVER, "149.00", "month"),
                ("ip-extra", "Additional IPv4", _LICENSE, "3.00", "month"),
                ("vps-m-y", "VPS M (year)", _VPS, "199.00", "year"),
            ],
        ),
        "USD": _offers(
            "USD",
            [
                ("vps-s", "VPS S", _VPS, "10.90", "month"),
                ("vps-m", "VPS M", _VPS, "21.90", "month"),
                ("ded-e3", "Dedicated E3-1230", _SERVER, "87.00", "month"),
                ("ip-extra", "Additional IPv4", _LICENSE, "3.50", "month"),
            ],
        ),
    },
    "astra_cloud": {
        "RUB": _offers(
            "RUB",
            [
                ("cloud-1", "Cloud server 1 vCPU / 1 GB", _VPS, "490.00", "month"),
                ("cloud-2", "Cloud server 2 vCPU / 4 GB", _VPS, "1290.00", "month"),
                ("cloud-4", "Cloud server 4 vCPU / 8 GB", _VPS, "2890.00", "month"),
                ("s3-100", "Object storage 100 GB", _LICENSE, "250.00", "month"),
                ("dom-ru", "Domain .ru", _DOMAIN, "249.00", "year"),
                ("ssl-dv", "SSL certificate DV", _SSL, "1490.00", "year"),
            ],
        ),
    },
    "horoshop": {
        "UAH": _offers(
            "UAH",
            [
                ("shop-start", "Horoshop Start", _SAAS, "699.00", "month"),
                ("shop-business", "Horoshop Business", _SAAS, "1199.00", "month"),
                ("shop-pro", "Horoshop Pro", _SAAS, "2499.00", "month"),
                ("app-1c", "1C exchange module", _LICENSE, "300.00", "month"),
                ("dom-ua", "Domain .com.ua", _DOMAIN, "350.00", "year"),
            ],
        ),
    },
}

_PLACES = (
    ("Kyiv", "01001", "UA"),
    ("Lviv", "79000", "UA"),
    ("Moscow", "101000", "RU"),
    ("Berlin", "10115", "DE"),
    ("Riga", "1050", "LV"),
)
_NAMES = ("Ivanenko", "Petrova", "Schmidt", "Kovalenko", "Sidorov", "Berzina", "Melnyk")
_FIRST = ("Olena", "Ivan", "Anna", "Taras", "Maria", "Dmytro", "Karl")


@attrs.frozen(kw_only=True)
class MonthSummary:
    """What one month of billing did across the population.

    Attributes:
        month: the month, ``YYYY-MM``.
        billed: the invoices issued for orders and renewals, per currency (a credit
            statement is not counted again: it bills what was bought on credit).
        collected: payments credited, per currency.
        invoices: invoices issued (orders, renewals, statements).
        renewals: services renewed.
        expired: services expired.
        notifications: notifications sent.
        overdue: accounts whose credit was overdue or blocked on some day of the month,
            or that had an invoice past its due date at the month's end.
        blocked: accounts whose credit line was blocked on some day of the month.
        failed_charges: saved-method charges that failed.
    """

    month: str
    billed: Mapping[str, Money]
    collected: Mapping[str, Money]
    invoices: int
    renewals: int
    expired: int
    notifications: int
    overdue: int
    blocked: int
    failed_charges: int = 0


@attrs.define
class _Customer:
    """How one generated customer behaves."""

    account_id: str
    currency: str
    method: str
    monthly: Money
    pay_day: int
    habit: str  # "regular", "occasional", "late" or "gone"
    credit: bool = False


@attrs.define
class _Month:
    start: date
    billed: dict[str, Money] = attrs.field(factory=dict)
    collected: dict[str, Money] = attrs.field(factory=dict)
    invoices: int = 0
    renewals: int = 0
    expired: int = 0
    notifications: int = 0
    failed_charges: int = 0
    overdue: set[str] = attrs.field(factory=set)
    blocked: set[str] = attrs.field(factory=set)

    def earn(self, events: Iterable[BillingEvent]) -> None:
        for event in events:
            if isinstance(event, PaymentCredited):
                code = event.amount.code
                self.collected[code] = self.collected.get(code, Money.zero(code)) + event.amount
            elif isinstance(event, InvoiceIssued):
                self.invoices += 1
                code = event.amount.code
                self.billed[code] = self.billed.get(code, Money.zero(code)) + event.amount
            elif isinstance(event, StatementIssued):
                self.invoices += 1


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


class Population:
    """Accounts of one preset, generated from a seed, billed day by day.

    Args:
        preset: the preset (or its name) whose settings, catalogue and customers to use.
        accounts: how many accounts to open.
        start: the first day; accounts are opened and their services ordered then.
        seed: the seed of every random choice.
        card_share: the share of customers who save a card.
        credit_share: the share of customers given a credit line (presets with credit).

    Raises:
        ValidationError: for fewer than one account or a share outside 0 to 1.
        NotFoundError: for an unknown preset name.
    """

    def __init__(
        self,
        preset: CabinetPreset | str,
        *,
        accounts: int,
        start: date,
        seed: int = 0,
        card_share: float = 0.3,
        credit_share: float = 0.3,
    ) -> None:
        chosen = _preset(preset)
        if accounts < 1:
            raise ValidationError("accounts", accounts, "must be 1 or more")
        for name, share in (("card_share", card_share), ("credit_share", credit_share)):
            if not 0 <= share <= 1:
                raise ValidationError(name, share, "must be between 0 and 1")
        self.preset = chosen
        self.start = start
        self.seed = seed
        self.setup: InMemoryBilling = in_memory_billing(
            BillingSettings.from_preset(chosen),
            now=_at(start),
            # The preset's reference rates, for the balances in other currencies.
            rates=FixedRates(chosen.exchange_rates) if chosen.exchange_rates else None,
        )
        self._rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self._customers: list[_Customer] = []
        self._months: list[MonthSummary] = []
        self._today = start
        self._first = _Month(date(start.year, start.month, 1))
        self._card_share = card_share
        self._credit_share = credit_share if chosen.credit is not None else 0.0
        self.credit_history = CreditHistory(self.setup.store, chosen.credit)
        for number in range(1, accounts + 1):
            self._open(f"acc-{number:05}")
        self._first.notifications = len(self.setup.notifier.sent)

    # ------------------------------------------------------------------ set-up

    def _open(self, account_id: str) -> None:
        rng, billing, setup = self._rng, self.setup.billing, self.setup
        currencies = sorted(CATALOGUES.get(self.preset.name, {self.preset.currency: ()}))
        currency = self.preset.currency
        if len(currencies) > 1 and rng.random() < 0.2:  # noqa: PLR2004 - a fifth pays in another currency
            currency = next(c for c in currencies if c != self.preset.currency)
        offers = CATALOGUES.get(self.preset.name, {}).get(currency, ())
        city, postal_code, country = rng.choice(_PLACES)
        if self.preset.currency == "RUB":
            country = "RU"
        elif self.preset.currency == "UAH":
            country = "UA"
        account = Account.open(
            account_id,
            f"user{account_id[4:]}",
            email=f"{account_id}@example.com",
            currency=currency,
            country=country,
        )
        account.change_name(rng.choice(_NAMES), rng.choice(_FIRST))
        account.change_phone(f"+38050{rng.randrange(10**6, 10**7)}")
        account.change_postal_address(
            PostalAddress(city, postal_code, f"{rng.randrange(1, 200)} Main Street")
        )
        if self.preset.low_balance_threshold is not None:
            threshold = self.preset.low_balance_threshold
            account.set_low_balance_threshold(Money(threshold.amount, currency))
        billing.open_account(account, owner_id=_OWNER, owner_name=account.profile.first_name)
        picked = rng.sample(list(offers), k=min(len(offers), rng.randint(2, 4)))
        monthly = sum(
            (o.price if o.period == "month" else o.price / 12 for o in picked),
            Money.zero(currency),
        )
        method = (
            "bank_transfer" if any(m.id == "bank_transfer" for m in self.preset.methods) else "card"
        )
        habit = rng.choices(["regular", "occasional", "late", "gone"], weights=[6, 2, 1, 1])[0]
        customer = _Customer(
            account_id,
            currency,
            method,
            Money(round(monthly.amount, 2), currency),
            rng.randint(17, 27) if habit == "late" else rng.randint(3, 12),
            habit,
            credit=rng.random() < self._credit_share,
        )
        self._customers.append(customer)
        first_order = sum((o.price for o in picked), Money.zero(currency))
        months_ahead = rng.randint(1, 3)
        self._top_up(customer, first_order + customer.monthly * months_ahead, self._first)
        if customer.credit and self.preset.credit_limit is not None:
            limit = rng.choice((50_000, 100_000, 150_000))
            billing.staff.open_credit_line(account_id, Money(limit, self.preset.credit_limit.code))
        cart = Cart(account_id, currency)
        for offer in picked:
            cart.add(offer.plan(), offer.period)
        # Topped up first, the order is checked out to be paid from the balance (SPEC C4).
        order = cart.checkout(
            BALANCE_METHOD,
            self.start,
            order_id=f"order-{account_id}",
            tax=billing.settings.tax,
            country=country,
        )
        result = billing.cabinet(account_id, _OWNER).orders.place(order)
        self._first.earn(result.events)
        if rng.random() < self._card_share:
            self._save_card(customer)
        with MemoryUnitOfWork(setup.store) as uow:
            for service_id in result.service_ids:
                service = uow.services.get(service_id)
                if service.paid:
                    service.finish_processing(Actor.system(), _at(self.start))
                    service.set_auto_renew(rng.random() < 0.9)  # noqa: PLR2004 - most renew
            uow.commit()

    def _save_card(self, customer: _Customer) -> None:
        rng, setup = self._rng, self.setup
        token = f"tok-{customer.account_id}"
        if rng.random() < 0.3:  # noqa: PLR2004 - some cards decline once, later on
            setup.gateway.script(token, Outcome.SUCCEED, Outcome.DECLINE)
        card = SavedPaymentMethod(
            id=f"card-{customer.account_id}",
            account_id=customer.account_id,
            kind=MethodKind.CARD,
            token=token,
            name="My card",
            label=mask_card(f"{rng.randrange(10**4):04}"),
        )
        cabinet = setup.billing.cabinet(customer.account_id, _OWNER)
        cabinet.payments.bind_card(card)
        if rng.random() < 0.5:  # noqa: PLR2004 - half of them top up automatically
            low = customer.monthly
            cabinet.balance.set_autopay(
                card.id,
                AutopayPolicy(low, AutopayMode.TOP_UP_TO, low * 2, monthly_cap=low * 3),
            )

    def _top_up(self, customer: _Customer, amount: Money, month: _Month) -> None:
        billing, gateway = self.setup.billing, self.setup.gateway
        amount = Money(round(amount.amount, 2), amount.code)
        if amount <= Money.zero(amount.code):
            return
        started = billing.cabinet(customer.account_id, _OWNER).payments.top_up(
            amount, customer.method
        )
        handled = billing.webhooks.handle(
            *gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.setup.clock.now())
        )
        month.earn(handled.events)

    # ------------------------------------------------------------------ running

    @property
    def accounts(self) -> int:
        """How many accounts the population has."""
        return len(self._customers)

    @property
    def today(self) -> date:
        """The last day billed (the start day before :meth:`run`)."""
        return self._today

    def months(self) -> tuple[MonthSummary, ...]:
        """The months billed so far."""
        return tuple(self._months)

    def run(
        self,
        months: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[MonthSummary, ...]:
        """Bill every day from the start for ``months`` calendar months.

        Args:
            months: how many months, counted from the first of the start month.
            progress: called with (days done, days in total) after each day.

        Returns:
            Every month billed so far, oldest first.

        Raises:
            ValidationError: for fewer than one month, or a second run.
        """
        if months < 1:
            raise ValidationError("months", months, "must be 1 or more")
        if self._months:
            raise ValidationError("months", months, "the population has run already")
        end = self._first.start + relativedelta(months=months)
        total = (end - self.start).days
        month = self._first
        day = self.start
        done = 0
        while day < end:
            if day.day == 1 and day != month.start:
                month = _Month(day)
            self._bill_day(day, month)
            done += 1
            if progress is not None:
                progress(done, total)
            if (day + timedelta(days=1)).month != day.month:
                self._months.append(self._close(month, day))
            day += timedelta(days=1)
        return tuple(self._months)

    def _bill_day(self, day: date, month: _Month) -> None:
        setup = self.setup
        setup.clock.set(_at(day))
        self._today = day
        sent = len(setup.notifier.sent)
        for customer in self._customers:
            if customer.pay_day == day.day:
                self._customer_pays(customer, month)
        summary = setup.billing.run.day(day)
        month.earn(summary.events)
        month.renewals += summary.renewals
        month.expired += summary.expired
        month.failed_charges += summary.failed_charges
        month.notifications += len(setup.notifier.sent) - sent
        self.credit_history.observe(day)
        policy = self.preset.credit
        if policy is None:
            return
        for customer in self._customers:
            line = setup.store.profiles.rows[customer.account_id].credit
            if line is None:
                continue
            status = evaluate_credit(policy, line, day).status
            if status in {CreditStatus.OVERDUE, CreditStatus.BLOCKED}:
                month.overdue.add(customer.account_id)
            if status is CreditStatus.BLOCKED:
                month.blocked.add(customer.account_id)

    def _customer_pays(self, customer: _Customer, month: _Month) -> None:
        rng = self._rng
        habit = customer.habit
        if habit == "gone" or (habit == "occasional" and rng.random() < 0.5):  # noqa: PLR2004 - pays every other month
            return
        line = self.setup.store.profiles.rows[customer.account_id].credit
        if customer.credit and line is not None:
            self._top_up(customer, line.outstanding, month)
            return
        self._top_up(customer, customer.monthly * rng.choice((1, 1, 2)), month)

    def _close(self, month: _Month, last_day: date) -> MonthSummary:
        store = self.setup.store
        overdue = set(month.overdue)
        for customer in self._customers:
            for invoice_id in store.invoices.by_account.get(customer.account_id, ()):
                invoice = store.invoices.rows[invoice_id]
                if (
                    invoice.is_open()
                    and invoice.kind is not InvoiceKind.STATEMENT
                    and invoice.due_on is not None
                    and invoice.due_on < last_day
                ):
                    overdue.add(customer.account_id)
        return MonthSummary(
            month=f"{month.start:%Y-%m}",
            billed=dict(sorted(month.billed.items())),
            collected=dict(sorted(month.collected.items())),
            invoices=month.invoices,
            renewals=month.renewals,
            expired=month.expired,
            notifications=month.notifications,
            overdue=len(overdue),
            blocked=len(month.blocked),
            failed_charges=month.failed_charges,
        )


def _preset(value: CabinetPreset | str) -> CabinetPreset:
    return value if isinstance(value, CabinetPreset) else preset(value)
