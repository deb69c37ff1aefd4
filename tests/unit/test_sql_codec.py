"""The JSON codec of the SQL store: every aggregate kind comes back equal after real use."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    OrderResult,
    Payer,
    PaymentMethod,
    Plan,
    PostalAddress,
    ProductKind,
    TaxMode,
    TaxPolicy,
    TaxRate,
)
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.adapters.sql.codec import decode, dumps, encode, loads
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.customer import NotificationPurpose
from cabinet_billing.domain.documents import (
    AccountDocuments,
    EDocumentExchange,
    ExchangeRequisites,
    build_act,
    contract_for_first_payment,
)
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.fx import Conversion, ExchangeRate, convert
from cabinet_billing.domain.ledger import Ledger, LedgerEntry
from cabinet_billing.domain.payer import (
    BankDetails,
    Passport,
    PayerBook,
    PayerKind,
    Signatory,
    TaxId,
)
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.periods import Period, PeriodUnit
from cabinet_billing.domain.security import ScryptParams
from cabinet_billing.domain.service import (
    SERVICE_LIFECYCLE,
    Actor,
    ListServiceHistory,
    Service,
    ServiceChange,
)
from cabinet_billing.errors import ValidationError
from cabinet_billing.rules.requisites import check_edrpou, check_iban, check_rnokpp

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 3, 21, 9, tzinfo=UTC)
DAY = date(2024, 3, 1)


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def settings() -> BillingSettings:
    card = PaymentMethodPricing(
        "RUB", fee_percent="5", fixed_fee=rub("10.00"), cashback_percent="10"
    )
    return BillingSettings(
        tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20")}),
        payment_methods=(
            PaymentMethod("card", "Bank card", card),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
    )


def complete_account() -> Account:
    account = Account.open("acc-1", "jill", email="j@example.com", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    return account


def credit(s: InMemoryBilling, payment_id: str) -> tuple[dict[str, str], bytes]:
    return s.gateway.webhook(payment_id, PaymentEventKind.CREDITED, s.clock.now())


def vps_order(s: InMemoryBilling, order_id: str, price: str) -> OrderResult:
    plan = Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})
    cart = Cart("acc-1", "RUB")
    cart.add(plan, "month")
    order = cart.checkout(
        "balance", s.clock.today(), order_id=order_id, tax=s.billing.settings.tax, country="RU"
    )
    return owner(s).orders.place(order)


def round_trip(value: object) -> Any:
    text = dumps(value)
    assert "float" not in text
    back = loads(type(value), text)
    assert back == value
    assert dumps(back) == text
    return back


def ledger_round_trip(ledger: Ledger) -> Ledger:
    """A ledger as a store keeps it: its row (balances, reversals, rounding) and its entries."""
    text = dumps(ledger)
    row = loads(Ledger, text)
    assert dumps(row) == text
    assert row.balances() == ledger.balances()
    assert len(row) == 0  # the row holds no entry: they are rows of their own
    entries = loads(tuple[LedgerEntry, ...], dumps(ledger.entries(), tuple[LedgerEntry, ...]))
    back = Ledger.rebuilt(ledger.account_id, entries, ledger.rounding_entries())
    assert back == ledger
    return back


def service_round_trip(service: Service) -> Service:
    """A service as a store keeps it: its row (no record) and its records, read by range."""
    text = dumps(service)
    row = loads(Service, text)
    assert dumps(row) == text
    assert row.change_count == 0  # the row holds no record: they are rows of their own
    records = loads(tuple[ServiceChange, ...], dumps(service.history, tuple[ServiceChange, ...]))
    back = row.attach(ListServiceHistory(records), len(records))
    assert back == service
    assert back.history == service.history
    assert back.changes(2, 3) == service.history[1:3]
    return back


def test_every_aggregate_of_a_real_billing_round_trips() -> None:
    s = in_memory_billing(settings(), now=AT)
    s.billing.open_account(complete_account(), owner_id="u1", owner_name="Jill")
    started = owner(s).payments.top_up(rub("200.00"), "card")
    s.billing.webhooks.handle(*credit(s, started.payment.id))
    s.billing.webhooks.handle(*credit(s, started.payment.id))
    paid = vps_order(s, "o-1", "100.00")
    waiting = vps_order(s, "o-2", "500.00")
    owner(s).invoices.delete(waiting.invoice.id)
    store = s.store
    kinds = ("accounts", "users", "services", "invoices", "payments", "ledgers", "expenses")
    for kind in kinds:
        rows = getattr(store, kind).rows
        assert rows
        for row in rows.values():
            if isinstance(row, Ledger):
                ledger_round_trip(row)
            elif isinstance(row, Service):
                service_round_trip(row)
            else:
                round_trip(row)
    service = service_round_trip(store.services.rows[paid.service_ids[0]])
    assert service.change_count >= 2
    assert service.lifecycle is SERVICE_LIFECYCLE
    invoice = round_trip(store.invoices.rows[paid.invoice.id])
    assert invoice.payments == store.invoices.rows[paid.invoice.id].payments != ()
    payment = round_trip(store.payments.rows[started.payment.id])
    assert payment.has_seen(next(iter(store.payments.rows[started.payment.id]._events)))
    book = round_trip(store.expenses.rows["acc-1"])
    assert book.expenses()[0].allocations != ()


def test_a_ledger_with_a_conversion_a_reversal_and_keys_round_trips() -> None:
    ledger = Ledger("acc-1")
    ledger.top_up(rub("1000.00"), AT, key="pay-1", ref="pay-1")
    ledger.charge(rub("100.1234"), AT + timedelta(hours=1), key="exp-1", memo="VPS")
    rate = ExchangeRate("RUB", "EUR", Decimal("0.0101"), DAY)
    ledger.convert(convert(rub("300.00"), "EUR", rate), AT + timedelta(hours=2), key="fx-1")
    ledger.reverse(2, AT + timedelta(hours=3), key="rev-2")
    back = ledger_round_trip(ledger)
    assert back.balance("EUR") == ledger.balance("EUR") == Money("3.03", "EUR")
    assert back.is_reversed(2)
    assert back.by_key("fx-1") == ledger.by_key("fx-1")
    assert isinstance(back.entry(3).conversion, Conversion)
    assert back.verify()


def test_an_expense_book_with_allocations_round_trips() -> None:
    book = ExpenseBook("acc-1")
    book.fund("pay-1", rub("50.00"))
    book.add(Expense("e1", "acc-1", "VPS", DAY, rub("30.1234"), service_id="s1"))
    book.add(Expense("e2", "acc-1", "DNS", DAY, rub("40.00")))
    back = round_trip(book)
    assert [e.allocations for e in back.expenses()] == [e.allocations for e in book.expenses()]
    assert back.available("RUB") == book.available("RUB")


def test_users_payers_and_documents_round_trip() -> None:
    users = AccountUsers.create("acc-1", "u1", "Jill", "j@example.com")
    users.add("u2", "Accountant", "acc@example.com", ["invoices.view"])
    users.disable("u2")
    round_trip(users)

    payers = PayerBook("acc-1")
    payers.add(
        Payer(
            "p1",
            PayerKind.LEGAL_ENTITY,
            "UA",
            "ТОВ Ромашка",
            legal_address=PostalAddress("Київ", "01001", "Хрещатик, 1", "UA"),
            tax_ids=(TaxId("edrpou", "32855961"),),
            bank=BankDetails(bank_name="Bank", iban="UA213223130000026007233566001"),
            signatory=Signatory("Іваненко І. І.", "директор", name_forms=("Іваненка І. І.",)),
            contracts=("C-1",),
        )
    )
    payers.add(
        Payer(
            "p2",
            PayerKind.PRIVATE_PERSON,
            "RU",
            "Jill Fairy",
            passport=Passport(
                "4510 123456", issued_on=date(2010, 5, 1), birth_date=date(1990, 1, 2)
            ),
        )
    )
    round_trip(payers)

    documents = AccountDocuments("acc-1")
    act = build_act(
        "act-1",
        "A-1",
        account_id="acc-1",
        month=DAY,
        expenses=[Expense("e1", "acc-1", "Site", DAY, Money("100", "UAH"), payer_id="p1")],
        rate=TaxRate("20", "ПДВ"),
        payer_id="p1",
    )
    assert act is not None
    documents.add_act(act)
    contract = contract_for_first_payment([], "p1", "pay-1", DAY, number="C-1")
    assert contract is not None
    documents.add_contract(contract)
    second = contract_for_first_payment([contract], "p2", "pay-2", DAY)
    assert second is not None
    documents.add_contract(second.terminate(DAY + timedelta(days=30)))
    exchange = EDocumentExchange("acc-1", "Vchasno")
    checks = {"edrpou": check_edrpou, "rnokpp": check_rnokpp, "iban": check_iban}
    exchange.switch_on(
        ExchangeRequisites(edrpou="32855961", iban="UA213223130000026007233566001"),
        on=DAY,
        checks=checks,
    )
    documents.exchange = exchange
    back = round_trip(documents)
    assert back.exchange.is_on
    assert back.acts == (act,)


def test_an_account_with_security_settings_round_trips() -> None:
    account = Account.open("acc-1", "jill", email="j@example.com", country="RU", currency="RUB")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    account.set_notification_email(NotificationPurpose.SUPPORT, "help@example.com")
    account.set_low_balance_threshold(rub("100.00"))
    account.security.set_ip_allowlist("10.0.0.1-10.0.0.9, 2001:db8::1")
    account.security.set_code_word(
        "secret word", salt=b"0123456789abcdef", params=ScryptParams(n=2**14)
    )
    account.security.record_login("10.0.0.7", AT)
    back = round_trip(account)
    assert back.security.verify_code_word("secret word")
    assert back.security.ip_allowlist.allows("10.0.0.5")
    assert back.security.last_login == account.security.last_login


def test_a_payment_with_its_events_round_trips() -> None:
    payment = Payment.top_up("pay-1", "acc-1", rub("100.00"), AT, method_id="card")
    payment.apply(GatewayEvent("ev-1", PaymentEventKind.PAYING, AT))
    payment.apply(GatewayEvent("ev-2", PaymentEventKind.CREDITED, AT + timedelta(minutes=1)))
    back = round_trip(payment)
    assert back.history == payment.history
    assert back.has_seen("ev-2")


def test_a_service_keeps_the_shared_lifecycle_and_its_history() -> None:
    service = Service.order(
        id="s-1",
        account_id="acc-1",
        plan_id="vps",
        plan_name="VPS",
        kind=ProductKind.VPS,
        price=rub("100.00"),
        period=Period(PeriodUnit.MONTH),
        created_at=AT,
        actor=Actor.client("jill"),
    )
    service.set_auto_renew(enabled=True)
    data = encode(service, Service)
    assert isinstance(data, dict)
    assert "lifecycle" not in data
    assert "history" not in data
    assert "_new" not in data
    back = decode(data, Service).restore_history(service.history)
    assert back == service
    assert back.history == service.history
    assert back.lifecycle is SERVICE_LIFECYCLE


def test_aware_datetimes_keep_their_offset_and_decimals_their_places() -> None:
    moscow = timezone(timedelta(hours=3))
    assert encode(datetime(2024, 3, 1, 12, tzinfo=moscow), datetime) == "2024-03-01T12:00:00+03:00"
    assert decode("2024-03-01T12:00:00+03:00", datetime).utcoffset() == timedelta(hours=3)
    assert encode(Decimal("1.50"), Decimal) == "1.50"
    assert encode(rub("0.1000"), Money) == {"amount": "0.1000", "currency": "RUB"}
    assert encode({1: "a", 2: "b"}, dict[int, str]) == [[1, "a"], [2, "b"]]
    assert decode([[1, "a"]], dict[int, str]) == {1: "a"}
    assert encode(frozenset({"b", "a"}), frozenset[str]) == ["a", "b"]
    assert encode(None, Conversion | None) is None


def test_a_union_of_classes_is_tagged_with_the_class_name() -> None:
    hint = Money | Decimal
    assert encode(Decimal(2), hint) == {"$type": "Decimal", "value": "2"}
    assert decode({"$type": "Money", "value": {"amount": "1", "currency": "EUR"}}, hint) == Money(
        "1", "EUR"
    )


def test_values_the_codec_cannot_store_are_refused_by_name() -> None:
    with pytest.raises(ValidationError, match=r"cannot store 1\.5: the codec handles attrs"):
        encode(1.5, float)
    with pytest.raises(ValidationError, match=r"cannot store 'x'"):
        encode("x", int)
    with pytest.raises(ValidationError, match=r"cannot store \{'\$type': 'Other'"):
        decode({"$type": "Other", "value": 1}, Money | Decimal)
    with pytest.raises(ValidationError, match=r"cannot store 'text'"):
        decode("text", tuple[int, ...])
    with pytest.raises(ValidationError, match="cannot store"):
        encode(object(), attrs.make_class("Empty", []))


def test_stored_text_is_plain_json_without_pickles() -> None:
    ledger = Ledger("acc-1")
    ledger.top_up(rub("10.00"), AT)
    data = json.loads(dumps(ledger))
    assert data["account_id"] == "acc-1"
    assert data["_balances"] == [["RUB", {"amount": "10.00", "currency": "RUB"}]]
    entry = json.loads(dumps(ledger.entry(1)))
    assert entry["amount"] == {"amount": "10.00", "currency": "RUB"}


@given(
    st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2),
        min_size=1,
        max_size=8,
    )
)
def test_any_ledger_of_top_ups_and_charges_round_trips(amounts: list[Decimal]) -> None:
    ledger = Ledger("acc-1")
    for n, amount in enumerate(amounts):
        ledger.top_up(rub(str(amount)), AT + timedelta(minutes=n), key=f"k{n}")
    ledger.charge(rub(str(amounts[0])), AT + timedelta(hours=1))
    back = ledger_round_trip(ledger)
    assert back.balance("RUB") == ledger.balance("RUB")
