"""The balance in any currency pays at the current rate (Introserv, SPEC M4, L2, R4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    InvoiceSettled,
    InvoiceStatus,
    Money,
    Plan,
    PostalAddress,
    ProductKind,
    ServiceStatus,
    TopUpNeeded,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.cart import Cart
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import MissingPortError, ValidationError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.rules.presets import INTROSERV

START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def m(text: str) -> Money:
    amount, code = text.split()
    return Money(amount, code)


class Host:
    def __init__(
        self,
        make_uow: Callable[[], UnitOfWork],
        rates: FixedRates | None,
        settings: BillingSettings | None = None,
    ) -> None:
        self.uow = make_uow
        self.clock = FixedClock(START)
        self.gateway = SandboxGateway(b"currencies: a sandbox signing key of 32 bytes")
        self.billing = Billing(
            Ports(
                unit_of_work=make_uow,
                clock=self.clock,
                gateway=self.gateway,
                notifier=InMemoryNotifier(),
                rates=rates,
            ),
            settings or BillingSettings.from_preset(INTROSERV),
        )
        account = Account.open("acc-1", "jill", email="jill@example.com", currency="EUR")
        account.change_name("Fairy", "Jill")
        account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
        self.billing.open_account(account, owner_id="u-1", owner_name="Jill")

    @property
    def cabinet(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u-1")

    def top_up(self, amount: str) -> None:
        started = self.cabinet.payments.top_up(m(amount), "card")
        self.billing.webhooks.handle(
            *self.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, self.clock.now())
        )

    def order(self, price: str) -> tuple[str, str]:
        cart = Cart("acc-1", "EUR")
        cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": m(price)}), "month")
        placed = self.cabinet.orders.place(
            cart.checkout(
                "balance",
                self.clock.today(),
                order_id=f"o-{self.clock.now().isoformat()}",
                tax=self.billing.settings.tax,
                country="UA",
                proration=self.billing.settings.proration,
            )
        )
        return placed.service_ids[0], placed.invoice.id

    def activate(self, service_id: str) -> None:
        with self.uow() as uow:
            uow.services.get(service_id).finish_processing(Actor.system(), self.clock.now())
            uow.commit()

    def balances(self) -> tuple[Money, Money]:
        return self.cabinet.balance.get("EUR"), self.cabinet.balance.get("USD")


def memory() -> Callable[[], UnitOfWork]:
    store = MemoryStore()
    return lambda: MemoryUnitOfWork(store)


def preset_rates() -> FixedRates:
    return FixedRates(INTROSERV.exchange_rates)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_uow(request: pytest.FixtureRequest) -> Callable[[], UnitOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: MemoryUnitOfWork(store)
    name = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
    sql: SqlStore = request.getfixturevalue(name)
    return lambda: SqlUnitOfWork(sql)


@pytest.mark.spec("M4", "R4", "L2")
def test_item_12_a_usd_top_up_pays_a_eur_renewal_in_the_daily_run(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    host = Host(make_uow, preset_rates())
    host.top_up("30.00 EUR")
    service_id, first = host.order("30.00 EUR")
    host.activate(service_id)
    host.cabinet.services.set_auto_renewal(service_id)
    host.top_up("100.00 USD")
    assert host.balances() == (m("0.00 EUR"), m("100.00 USD"))
    host.clock.set(datetime(2024, 4, 1, 9, tzinfo=UTC))
    host.billing.run.day()
    with host.uow() as uow:
        service = uow.services.get(service_id)
        assert (service.status, service.paid_until) == (ServiceStatus.ACTIVE, date(2024, 5, 1))
        ledger = uow.ledgers.get("acc-1")
        conversions = [e for e in ledger.entries() if e.kind is EntryKind.CONVERSION]
        # 30.00 EUR at EUR/USD 1.08 is 32.40 USD: the smallest amount that covers it.
        assert [e.amount for e in conversions] == [m("-32.40 USD"), m("30.00 EUR")]
        assert ledger.verify()
        renewals = [
            i
            for i in uow.invoices.for_account("acc-1")
            if i.id != first and i.kind is not InvoiceKind.TOP_UP  # not the top-ups' own
        ]
        assert [(i.status, i.total.gross) for i in renewals] == [
            (InvoiceStatus.PAID, m("30.00 EUR"))
        ]
    assert host.balances() == (m("0.00 EUR"), m("67.60 USD"))


@pytest.mark.spec("M4", "L2")
def test_item_12_the_balance_in_another_currency_pays_an_invoice_with_the_rounding_booked() -> None:
    host = Host(memory(), preset_rates())
    host.top_up("10.00 EUR")
    host.top_up("25.00 USD")
    # The order costs more than the EUR balance: the USD balance pays the rest.
    service_id, invoice_id = host.order("29.99 EUR")
    with host.uow() as uow:
        assert uow.invoices.get(invoice_id).status is InvoiceStatus.PAID
        ledger = uow.ledgers.get("acc-1")
        out, into = (e for e in ledger.entries() if e.kind is EntryKind.CONVERSION)
        # 19.99 EUR is missing: 21.59 USD is 19.990740... EUR, booked as 19.99 EUR and a
        # rounding entry of the difference, so nothing is created or lost.
        assert (out.amount, into.amount) == (m("-21.59 USD"), m("19.99 EUR"))
        assert into.conversion is not None
        assert ledger.rounding("EUR") == into.conversion.difference
        assert ledger.verify()
    assert host.balances() == (m("0.00 EUR"), m("3.41 USD"))
    assert service_id


@pytest.mark.spec("M4", "L2")
def test_item_12_paying_an_invoice_counts_every_balance_at_the_current_rate() -> None:
    host = Host(memory(), preset_rates())
    _, invoice_id = host.order("60.00 EUR")
    host.top_up("10.00 USD")  # 9.26 EUR: not enough
    needed = host.cabinet.invoices.pay(invoice_id)
    assert isinstance(needed, TopUpNeeded)
    # 60.00 less what 10.00 USD is worth (9.26 EUR).
    assert needed.missing == m("50.74 EUR")
    host.top_up("60.00 USD")
    # The top-up itself paid it (money arriving pays open invoices, in any currency).
    with host.uow() as uow:
        assert uow.invoices.get(invoice_id).status is InvoiceStatus.PAID
    assert host.balances() == (m("0.00 EUR"), m("5.20 USD"))
    assert not isinstance(needed, InvoiceSettled)


@pytest.mark.spec("M4", "L2")
def test_item_12_a_partial_payment_from_the_balance_converts_across_currencies(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    settings = attrs.evolve(BillingSettings.from_preset(INTROSERV), partial_from_balance=True)
    host = Host(make_uow, preset_rates(), settings)
    _, invoice_id = host.order("60.00 EUR")
    host.top_up("10.00 USD")
    # The USD balance pays what it is worth (9.26 EUR) as part of the EUR invoice: the
    # conversion is booked, with its rounding, as for a full payment.
    with host.uow() as uow:
        invoice = uow.invoices.get(invoice_id)
        assert (invoice.status, invoice.amount_due) == (
            InvoiceStatus.PARTIALLY_PAID,
            m("50.74 EUR"),
        )
        ledger = uow.ledgers.get("acc-1")
        out, into = (e for e in ledger.entries() if e.kind is EntryKind.CONVERSION)
        assert (out.amount, into.amount) == (m("-10.00 USD"), m("9.26 EUR"))
        assert into.conversion is not None
        assert ledger.rounding("EUR") == into.conversion.difference
        assert [e.amount for e in ledger.entries() if e.kind is EntryKind.CHARGE] == [
            m("-9.26 EUR")
        ]
        assert ledger.verify()
    assert host.balances() == (m("0.00 EUR"), m("0.00 USD"))
    # The rest, in EUR, completes it.
    host.top_up("50.74 EUR")
    with host.uow() as uow:
        assert uow.invoices.get(invoice_id).status is InvoiceStatus.PAID


@pytest.mark.spec("M4", "L2", "R1")
def test_item_12_another_currency_pays_while_the_balance_is_below_zero_from_credit(
    make_uow: Callable[[], UnitOfWork],
) -> None:
    settings = attrs.evolve(
        BillingSettings.from_preset(INTROSERV),
        credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
        credit_limit=m("500.00 EUR"),
    )
    host = Host(make_uow, preset_rates(), settings)
    host.billing.staff.open_credit_line("acc-1")
    _, on_credit = host.order("50.00 EUR")
    assert isinstance(host.cabinet.invoices.pay(on_credit), InvoiceSettled)
    assert host.balances() == (m("-50.00 EUR"), m("0 USD"))
    host.clock.advance(minutes=1)
    _, invoice_id = host.order("60.00 EUR")
    # The USD top-up pays the EUR invoice (60.00 EUR is 64.80 USD); the 50.00 EUR of
    # credit already used stays owed, as the credit line records it.
    host.top_up("200.00 USD")
    with host.uow() as uow:
        assert uow.invoices.get(invoice_id).status is InvoiceStatus.PAID
        ledger = uow.ledgers.get("acc-1")
        assert [e.amount for e in ledger.entries() if e.kind is EntryKind.CONVERSION] == [
            m("-64.80 USD"),
            m("60.00 EUR"),
        ]
        assert ledger.verify()
        credit = uow.profiles.get("acc-1").credit
        assert credit is not None
        assert credit.debt == m("50.00 EUR")
    assert host.balances() == (m("-50.00 EUR"), m("135.20 USD"))


@pytest.mark.spec("M4", "P")
def test_item_12_paying_across_currencies_without_a_rate_port_is_refused_when_built() -> None:
    with pytest.raises(MissingPortError) as refused:
        Host(memory(), None)
    assert (refused.value.field, refused.value.port) == ("pay_across_currencies", "rates")
    assert str(refused.value) == (
        "pay_across_currencies=True is invalid: it needs an exchange-rate port to convert at: "
        "plug one in as Ports(rates=...), or switch the setting off"
    )
    assert isinstance(refused.value, ValidationError)
    # Without paying across currencies no rate port is needed.
    plain = attrs.evolve(BillingSettings.from_preset(INTROSERV), pay_across_currencies=False)
    assert Host(memory(), None, plain).balances() == (m("0 EUR"), m("0 USD"))


@pytest.mark.spec("M4", "R4")
def test_item_12_without_a_rate_a_currency_does_not_pay_and_the_service_expires() -> None:
    only_uah = FixedRates({("EUR", "UAH"): "42.50"})
    host = Host(memory(), only_uah)
    host.top_up("30.00 EUR")
    service_id, _ = host.order("30.00 EUR")
    host.activate(service_id)
    host.cabinet.services.set_auto_renewal(service_id)
    host.top_up("100.00 USD")
    host.clock.set(datetime(2024, 4, 1, 9, tzinfo=UTC))
    host.billing.run.day()
    with host.uow() as uow:
        assert uow.services.get(service_id).status is ServiceStatus.EXPIRED
    assert host.balances() == (m("0.00 EUR"), m("100.00 USD"))


@pytest.mark.spec("M4")
def test_item_12_equivalents_come_from_the_rate_port_and_name_what_is_missing() -> None:
    only_uah = FixedRates({("EUR", "UAH"): "42.50"})
    host = Host(memory(), only_uah)
    shown = host.cabinet.balance.equivalents(m("100.00 EUR"))
    assert {code: c.target for code, c in shown.items()} == {"UAH": m("4250.00 UAH")}
    assert shown.missing == ("USD",)
    preset = Host(memory(), preset_rates())
    assert {
        c: v.target for c, v in preset.cabinet.balance.equivalents(m("100.00 EUR")).items()
    } == {
        "USD": m("108.00 USD"),
        "UAH": m("4250.00 UAH"),
    }
    assert [r.pair for r in INTROSERV.exchange_rates] == ["EUR/USD", "EUR/UAH", "USD/UAH"]
