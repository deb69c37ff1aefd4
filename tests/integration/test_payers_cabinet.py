"""Payers through the cabinet, on every store (SPEC A4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import attrs
import pytest

from cabinet_billing import (
    Account,
    Cabinet,
    Cart,
    ConflictError,
    Money,
    NotFoundError,
    Payer,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import InMemoryNotifier, MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.memory.outbox import InMemoryOutbox
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.documents import ContractStatus
from cabinet_billing.domain.invoice import InvoiceKind
from cabinet_billing.domain.notifications import (
    DeliveryContacts,
    NotificationCategory,
    NotificationChannel,
)
from cabinet_billing.domain.payer import BankDetails, PayerKind, TaxId
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.service import Actor
from cabinet_billing.errors import PayerNotReplaceableError, UnknownCurrencyError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditPolicy

START = datetime(2024, 3, 5, 9, tzinfo=UTC)
IBAN = "UA21 3223 1300 0002 6007 2335 6600 1"


def uah(amount: str) -> Money:
    return Money(amount, "UAH")


@attrs.frozen
class Wired:
    billing: Billing
    uow: Callable[[], UnitOfWork]
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier

    @property
    def owner(self) -> Cabinet:
        return self.billing.cabinet("acc-1", "u1")

    def read(self) -> UnitOfWork:
        return self.uow()

    def credit(self, payment_id: str) -> None:
        self.billing.webhooks.handle(
            *self.gateway.webhook(payment_id, PaymentEventKind.CREDITED, self.clock.now()),
        )

    def top_up(self, amount: str, payer_id: str | None) -> str:
        started = self.owner.payments.top_up(uah(amount), "card", payer_id=payer_id)
        self.credit(started.payment.id)
        return started.payment.id

    def order(
        self, price: str, order_id: str, payer_id: str | None, method: str = "balance"
    ) -> tuple[str, str]:
        plan = Plan("vps", "VPS", ProductKind.VPS, {"month": uah(price)})
        cart = Cart("acc-1", "UAH")
        cart.add(plan, "month")
        placed = self.owner.orders.place(
            cart.checkout(
                method,
                self.clock.today(),
                order_id=order_id,
                tax=self.billing.settings.tax,
                country="UA",
            ),
            payer_id=payer_id,
        )
        return placed.invoice.id, placed.service_ids[0]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def s(request: pytest.FixtureRequest) -> Wired:
    if request.param == "memory":
        store = MemoryStore()
        unit_of_work: Callable[[], UnitOfWork] = lambda: MemoryUnitOfWork(store)  # noqa: E731
    else:
        from cabinet_billing.adapters.sql import SqlStore, SqlUnitOfWork  # noqa: PLC0415 - extra

        fixture = "billing_sqlite_store" if request.param == "sqlite" else "billing_pg_store"
        sql: SqlStore = request.getfixturevalue(fixture)
        unit_of_work = lambda: SqlUnitOfWork(sql)  # noqa: E731
    clock = FixedClock(START)
    gateway = SandboxGateway(b"payers: a sandbox signing key of 32+ bytes")
    notifier = InMemoryNotifier()
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=clock,
            gateway=gateway,
            notifier=notifier,
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),),
            credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
            credit_limit=uah("1000.00"),
        ),
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH", country="UA")
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    billing.open_account(account, owner_id="u1", owner_name="Taras")
    wired = Wired(billing, unit_of_work, clock, gateway, notifier)
    wired.owner.payers.add(company("p-1"))
    wired.owner.payers.add(person("p-2"))
    return wired


def company(payer_id: str, name: str = "TOV Romashka") -> Payer:
    return Payer(
        payer_id,
        PayerKind.LEGAL_ENTITY,
        "UA",
        name,
        email="accounts@romashka.example",
        tax_ids=[TaxId("edrpou", "32855961")],
        bank=BankDetails(bank_name="PrivatBank", iban=IBAN),
    )


def person(payer_id: str) -> Payer:
    return Payer(
        payer_id, PayerKind.PRIVATE_PERSON, "UA", "Ivan Petrenko", email="ivan@example.com"
    )


@pytest.mark.spec("A4", "L8")
def test_item_20_the_payer_lock_fires_when_a_payers_unpaid_expenses_are_in_an_act(
    s: Wired,
) -> None:
    s.billing.staff.open_credit_line("acc-1")
    invoice_id, service_id = s.order("100.00", "o-1", payer_id="p-1")
    s.owner.invoices.pay(invoice_id)  # on credit: the expense stays unpaid
    with s.read() as uow:
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.payer_id, expense.unpaid) == ("p-1", uah("100.00"))
        assert uow.invoices.get(invoice_id).payer_id == "p-1"
    s.clock.set(datetime(2024, 4, 2, 9, tzinfo=UTC))
    (act,) = s.billing.staff.close_month("acc-1", date(2024, 3, 1))
    assert act.payer_id == "p-1"

    with pytest.raises(PayerNotReplaceableError) as refused:
        s.owner.payments.top_up(uah("50.00"), "card", payer_id="p-2")
    assert (refused.value.payer_id, refused.value.act_ids, refused.value.expense_ids) == (
        "p-1",
        (act.id,),
        (expense.id,),
    )
    with pytest.raises(ConflictError, match=rf"its tax_ids cannot change: act {act.number}"):
        s.owner.payers.update(
            attrs.evolve(company("p-1"), tax_ids=[TaxId("edrpou", "00032129")]),
        )
    with pytest.raises(ConflictError, match=rf"is kept for the record: act {act.number}"):
        s.owner.payers.delete("p-1")
    with pytest.raises(PayerNotReplaceableError, match="p-1"):
        s.owner.payers.merge("p-2", "p-1")
    other_invoice, _ = s.order("30.00", "o-2", payer_id="p-2")
    with pytest.raises(PayerNotReplaceableError, match="p-1"):
        s.owner.invoices.pay(other_invoice, method_id="card")  # made out to p-2
    with s.read() as uow:
        assert uow.payments.for_account("acc-1") == []
        assert [p.id for p in uow.payers.get("acc-1")] == ["p-1", "p-2"]

    s.top_up("100.00", payer_id="p-1")  # the payer who owes pays
    with s.read() as uow:
        assert uow.expenses.get("acc-1").get(expense.id).is_paid
    s.top_up("50.00", payer_id="p-2")  # now another payer may pay
    # Correcting the details of a payer with documents is still possible.
    renamed = s.owner.payers.update(company("p-1", name="TOV Romashka Plus"))
    assert renamed.name == "TOV Romashka Plus"
    assert s.owner.services.renew(service_id).payer_id == "p-1"


@pytest.mark.spec("A4")
def test_the_payer_is_chosen_on_orders_renewals_and_top_ups(s: Wired) -> None:
    s.top_up("500.00", payer_id="p-2")
    invoice_id, service_id = s.order("100.00", "o-1", payer_id="p-1")  # paid from the balance
    with s.read() as uow:
        assert uow.invoices.get(invoice_id).payer_id == "p-1"
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.payer_id, expense.is_paid) == ("p-1", True)
        assert uow.payers.get("acc-1").payer_of(service_id) == "p-1"
        (contract,) = uow.documents.get("acc-1").contracts
        assert (contract.payer_id, contract.number) == ("p-2", "C-2024-00001")
    renewal = s.owner.services.renew(service_id, payer_id="p-2")
    assert renewal.payer_id == "p-2"
    s.owner.invoices.delete(renewal.id)
    assert s.owner.services.renew(service_id).payer_id == "p-2"  # the choice holds
    with pytest.raises(NotFoundError, match="p-9"):
        s.owner.services.renew(service_id, payer_id="p-9")
    with pytest.raises(NotFoundError, match="p-9"):
        s.order("100.00", "o-2", payer_id="p-9")


@pytest.mark.spec("A4")
def test_an_invoice_paid_by_a_payer_bills_its_expenses_to_that_payer(s: Wired) -> None:
    invoice_id, _ = s.order("100.00", "o-1", payer_id=None, method="card")
    started = s.owner.invoices.pay(invoice_id, method_id="card", payer_id="p-2")
    s.credit(started.payment.id)  # type: ignore[union-attr]
    with s.read() as uow:
        (expense,) = uow.expenses.get("acc-1").expenses()
        assert (expense.payer_id, expense.is_paid) == ("p-2", True)


@pytest.mark.spec("A4")
def test_requisites_are_checked_by_default(s: Wired) -> None:
    typo = Payer("p-3", PayerKind.LEGAL_ENTITY, "UA", "Typo", tax_ids=[TaxId("edrpou", "32855968")])
    with pytest.raises(ValidationError, match="edrpou='32855968'"):
        s.owner.payers.add(typo)
    with pytest.raises(ValidationError, match="edrpou=None is invalid: required"):
        s.owner.payers.update(attrs.evolve(company("p-1"), tax_ids=[]))
    assert [p.id for p in s.owner.payers.list()] == ["p-1", "p-2"]
    assert s.owner.payers.list()[0].tax_id("edrpou") == "32855961"


@pytest.mark.spec("A4")
def test_a_payer_never_billed_is_deleted_and_its_open_invoice_released(s: Wired) -> None:
    s.owner.payers.add(person("p-3"))
    invoice_id, service_id = s.order("100.00", "o-1", payer_id="p-3")
    deleted = s.owner.payers.delete("p-3")
    assert deleted.id == "p-3"
    with s.read() as uow:
        assert uow.invoices.get(invoice_id).payer_id is None
        assert uow.payers.get("acc-1").payer_of(service_id) is None
    payment_id = s.top_up("10.00", payer_id="p-2")
    with pytest.raises(
        ConflictError,
        match=rf"is kept for the record: contract C-2024-00001, payment\(s\) {payment_id}",
    ):
        s.owner.payers.delete("p-2")
    with pytest.raises(NotFoundError, match="p-3"):
        s.owner.payers.delete("p-3")


@pytest.mark.spec("A4")
@pytest.mark.parametrize("move", [False, True], ids=["dropping", "moving"])
def test_merging_payers_previews_then_moves_what_the_joined_payer_had(s: Wired, move: bool) -> None:
    s.top_up("10.00", payer_id="p-1")
    s.top_up("10.00", payer_id="p-2")
    invoice_id, service_id = s.order("100.00", "o-1", payer_id="p-2")
    preview = s.owner.payers.preview_merge("p-1", "p-2", move_contracts=move)
    assert (
        preview.applied,
        preview.moved_contracts,
        preview.terminated_contracts,
        preview.services,
        preview.invoices,
        preview.main.contracts,
    ) == (
        False,
        ("C-2024-00002",) if move else (),
        () if move else ("C-2024-00002",),
        (service_id,),
        (invoice_id,),
        ("C-2024-00001", "C-2024-00002") if move else ("C-2024-00001",),
    )
    with s.read() as uow:
        assert [p.id for p in uow.payers.get("acc-1")] == ["p-1", "p-2"]
        assert uow.invoices.get(invoice_id).payer_id == "p-2"

    merged = s.owner.payers.merge("p-1", "p-2", move_contracts=move)
    assert attrs.evolve(merged, applied=False) == preview
    with s.read() as uow:
        assert [p.id for p in uow.payers.get("acc-1")] == ["p-1"]
        assert uow.invoices.get(invoice_id).payer_id == "p-1"
        assert uow.payers.get("acc-1").payer_of(service_id) == "p-1"
        contracts = {c.number: c for c in uow.documents.get("acc-1").contracts}
    dropped = contracts["C-2024-00002"]
    if move:
        assert (dropped.payer_id, dropped.status) == ("p-1", ContractStatus.ACTIVE)
    else:
        assert (dropped.payer_id, dropped.status, dropped.terminated_on) == (
            "p-2",
            ContractStatus.TERMINATED,
            date(2024, 3, 5),
        )
    assert contracts["C-2024-00001"].status is ContractStatus.ACTIVE
    with pytest.raises(ConflictError, match="cannot be merged into itself"):
        s.owner.payers.merge("p-1", "p-1")


@pytest.mark.spec("A4", "L8")
def test_a_payers_reconciliation_statement_holds_its_own_money(s: Wired) -> None:
    s.top_up("300.00", payer_id="p-1")
    s.top_up("40.00", payer_id="p-2")
    s.order("100.00", "o-1", payer_id="p-1")
    s.order("25.00", "o-2", payer_id="p-2")
    s.clock.set(datetime(2024, 4, 2, 9, tzinfo=UTC))
    s.top_up("60.00", payer_id="p-1")
    march = s.owner.payers.reconciliation("p-1", "UAH", date(2024, 3, 1), date(2024, 4, 1))
    assert (march.payer_id, march.opening, march.credits, march.debits, march.closing) == (
        "p-1",
        uah("0"),
        uah("300.00"),
        uah("100.00"),
        uah("200.00"),
    )
    april = s.owner.payers.reconciliation("p-1", "UAH", date(2024, 4, 1), date(2024, 5, 1))
    assert (april.opening, april.credits, april.closing) == (
        uah("200.00"),
        uah("60.00"),
        uah("260.00"),
    )
    other = s.owner.payers.reconciliation("p-2", "UAH", date(2024, 3, 1), date(2024, 4, 1))
    assert (other.credits, other.debits, other.closing) == (
        uah("40.00"),
        uah("25.00"),
        uah("15.00"),
    )
    with pytest.raises(NotFoundError, match="p-9"):
        s.owner.payers.reconciliation("p-9", "UAH", date(2024, 3, 1), date(2024, 4, 1))


@pytest.mark.spec("A4", "R4")
def test_the_daily_run_renews_a_service_for_its_payer(s: Wired) -> None:
    s.top_up("500.00", payer_id="p-2")
    invoice_id, service_id = s.order("100.00", "o-1", payer_id="p-1")
    with s.uow() as uow:
        uow.services.get(service_id).finish_processing(Actor.system(), s.clock.now())
        uow.commit()
    s.owner.services.set_auto_renewal(service_id)  # from the balance
    day = s.clock.today()
    while day < date(2024, 4, 6):
        day += timedelta(days=1)
        s.clock.set(datetime.combine(day, time(3), tzinfo=UTC))
        s.billing.run.day(day)
    with s.read() as uow:
        renewals = [
            i
            for i in uow.invoices.for_account("acc-1")
            if i.id != invoice_id and i.kind is not InvoiceKind.TOP_UP  # the top-up's own
        ]
        expenses = uow.expenses.get("acc-1").expenses()
    assert [(i.kind.value, i.payer_id, i.is_open()) for i in renewals] == [
        ("renewal", "p-1", False)
    ]
    assert [e.payer_id for e in expenses] == ["p-1", "p-1"]


@pytest.mark.spec("A4", "R9")
def test_financial_notices_of_a_payer_name_its_email(s: Wired) -> None:
    s.top_up("500.00", payer_id="p-1")
    invoice_id, _ = s.order("100.00", "o-1", payer_id="p-2")
    other_id, _ = s.order("50.00", "o-2", payer_id=None)
    payer_of = {
        (n.kind, n.params.get("invoice_id") or n.params.get("payment_id")): (
            n.params.get("payer_id"),
            n.params.get("payer_email"),
        )
        for n in s.notifier.sent
        if n.category is NotificationCategory.FINANCE
    }
    assert payer_of == {
        ("payment.credited", "pay-1"): ("p-1", "accounts@romashka.example"),
        ("invoice.issued", invoice_id): ("p-2", "ivan@example.com"),
        ("invoice.paid", invoice_id): ("p-2", "ivan@example.com"),
        ("invoice.issued", other_id): (None, None),
        ("invoice.paid", other_id): (None, None),
    }


@pytest.mark.spec("A4", "R9")
def test_a_payers_financial_email_goes_to_the_payer() -> None:
    store = MemoryStore()
    clock = FixedClock(START)
    gateway = SandboxGateway(b"payers: a sandbox signing key of 32+ bytes")
    outbox = InMemoryOutbox()
    outbox.register(DeliveryContacts("acc-1", main_email="o@shop.example"))
    billing = Billing(
        Ports(
            unit_of_work=lambda: MemoryUnitOfWork(store),
            clock=clock,
            gateway=gateway,
            notifier=outbox,
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),)
        ),
    )
    account = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH", country="UA")
    account.change_name("Shevchenko", "Taras")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    billing.open_account(account, owner_id="u1", owner_name="Taras")
    cabinet = billing.cabinet("acc-1", "u1")
    cabinet.payers.add(company("p-1"))
    for payer_id in ("p-1", None):
        started = cabinet.payments.top_up(uah("10.00"), "card", payer_id=payer_id)
        billing.webhooks.handle(
            *gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, clock.now()),
        )
        clock.advance(minutes=1)
    assert [
        (d.notification.params["payment_id"], d.address)
        for d in outbox.to(NotificationChannel.EMAIL)
    ] == [("pay-1", "accounts@romashka.example"), ("pay-2", "o@shop.example")]


@pytest.mark.spec("A4")
def test_bad_input_to_payers_is_refused_with_a_typed_error(s: Wired) -> None:
    payers = s.owner.payers
    march, april = date(2024, 3, 1), date(2024, 4, 1)
    refusals: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (ValidationError, "expected a Payer", lambda: payers.add("p-3")),  # type: ignore[arg-type]
        (ValidationError, "expected a Payer", lambda: payers.update(None)),  # type: ignore[arg-type]
        (ValidationError, "RequisitesRegistry", lambda: payers.add(person("p-3"), registry={})),  # type: ignore[arg-type]
        (ValidationError, "move_contracts=1", lambda: payers.merge("p-1", "p-2", move_contracts=1)),  # type: ignore[arg-type]
        (UnknownCurrencyError, "XYZ", lambda: payers.reconciliation("p-1", "XYZ", march, april)),
        (
            ValidationError,
            "expected an ISO 4217 code",
            lambda: payers.reconciliation("p-1", 7, march, april),  # type: ignore[arg-type]
        ),
        (
            ValidationError,
            "start=",
            lambda: payers.reconciliation("p-1", "UAH", START, april),
        ),
        (ValidationError, "end=", lambda: payers.reconciliation("p-1", "UAH", april, march)),
        (NotFoundError, "'p-9'", lambda: payers.delete("p-9")),
        (NotFoundError, "'p-9'", lambda: payers.preview_merge("p-1", "p-9")),
    ]
    for error, text, call in refusals:
        with pytest.raises(error, match=text):
            call()
    assert [p.id for p in payers.list()] == ["p-1", "p-2"]
