"""Multi-currency balances through the use cases (SPEC M4)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    Money,
    PostalAddress,
)
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.domain.fx import ExchangeRate
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.rules.presets import INTROSERV

pytestmark = pytest.mark.spec("M4")

NOW = datetime(2024, 3, 14, 10, tzinfo=UTC)


def owner(s: InMemoryBilling) -> Cabinet:
    """The cabinet of the owner of acc-1."""
    return s.billing.cabinet("acc-1", "u1")


def money(text: str) -> Money:
    amount, code = text.split()
    return Money(amount, code)


def cabinet() -> InMemoryBilling:
    rates = FixedRates(
        [
            ExchangeRate("EUR", "USD", "1.0875", date(2024, 3, 14)),
            ExchangeRate("EUR", "UAH", "41.9320", date(2024, 3, 14)),
            ExchangeRate("USD", "UAH", "38.5580", date(2024, 3, 14)),
        ],
    )
    s = in_memory_billing(BillingSettings.from_preset(INTROSERV), now=NOW, rates=rates)
    account = Account.open("acc-1", "alice", email="a@example.com", currency="EUR")
    account.change_name("Doe", "Alice")
    account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    s.billing.open_account(account, owner_id="u1", owner_name="Alice")
    started = owner(s).payments.top_up(money("100.00 EUR"), "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, NOW)
    )
    return s


def test_a_top_up_shows_its_worth_in_the_other_currencies_at_todays_rate() -> None:
    s = cabinet()
    shown = owner(s).balance.equivalents(money("100.00 EUR"))
    assert {code: str(c.target) for code, c in shown.items()} == {
        "USD": "108.75 USD",
        "UAH": "4193.20 UAH",
    }
    assert shown["UAH"].rate.rate == Decimal("41.9320")  # the rate used is on record
    back = owner(s).balance.equivalents(money("1000.00 UAH"))
    assert str(back["EUR"].target) == "23.85 EUR"


def test_converting_between_balances_is_a_pair_of_entries_that_loses_nothing() -> None:
    s = cabinet()
    out, into = owner(s).balance.convert(money("10.00 EUR"), "UAH")
    assert (out.kind, out.amount) == (EntryKind.CONVERSION, money("-10.00 EUR"))
    assert (into.kind, into.amount) == (EntryKind.CONVERSION, money("419.32 UAH"))
    assert into.conversion is not None
    assert into.conversion.difference == money("0 UAH")
    assert owner(s).balance.get("EUR") == money("90.00 EUR")
    assert owner(s).balance.get("UAH") == money("419.32 UAH")
    ledger = s.store.ledgers.rows["acc-1"]
    assert ledger.verify()
    book = s.store.expenses.rows["acc-1"]
    assert book.available("EUR") == money("90.00 EUR")
    assert book.available("UAH") == money("419.32 UAH")


def test_bad_conversions_are_refused_and_change_nothing() -> None:
    s = cabinet()
    with pytest.raises(InsufficientFundsError, match=r"top up at least 0\.01 EUR"):
        owner(s).balance.convert(money("100.01 EUR"), "USD")
    with pytest.raises(CurrencyMismatchError, match="RUB"):
        owner(s).balance.convert(money("1.00 EUR"), "RUB")
    assert owner(s).balance.get("EUR") == money("100.00 EUR")
    assert len(s.store.ledgers.rows["acc-1"]) == 1
    # Paying across currencies needs the rate port; without it the rates are still needed
    # to show equivalents.
    settings = attrs.evolve(BillingSettings.from_preset(INTROSERV), pay_across_currencies=False)
    plain = in_memory_billing(settings, now=NOW)
    with pytest.raises(ConflictError, match="ExchangeRateProvider"):
        owner(plain).balance.equivalents(money("1.00 EUR"))
