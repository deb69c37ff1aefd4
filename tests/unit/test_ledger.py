from datetime import UTC, date, datetime

import pytest

from cabinet_billing import (
    ConflictError,
    InvalidAmountError,
    Money,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.domain.fx import ExchangeRate, convert
from cabinet_billing.domain.ledger import EntryKind, Ledger
from cabinet_billing.errors import PrecisionError

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@pytest.mark.spec("L1")
def test_every_movement_is_an_entry_and_the_balance_is_their_sum() -> None:
    ledger = Ledger("acc-1")
    ledger.top_up(rub("100.00"), AT, ref="pay-1")
    ledger.charge(rub("22.4137"), AT, ref="exp-1")
    ledger.refund(rub("10.00"), AT, ref="pay-1")
    ledger.adjust(rub("-0.5863"), AT, memo="goodwill correction")
    ledger.cashback(rub("11.50"), AT, ref="pay-1")
    assert [e.kind for e in ledger] == [
        EntryKind.TOP_UP,
        EntryKind.CHARGE,
        EntryKind.REFUND,
        EntryKind.ADJUSTMENT,
        EntryKind.CASHBACK,
    ]
    assert [e.amount for e in ledger] == [
        rub("100.00"),
        rub("-22.4137"),
        rub("-10.00"),
        rub("-0.5863"),
        rub("11.50"),
    ]
    assert ledger.balance("RUB") == rub("78.5")
    assert ledger.balance("RUB") == sum(e.amount for e in ledger)
    assert [e.balance_after for e in ledger][-1] == ledger.balance("RUB")
    assert [e.seq for e in ledger] == [1, 2, 3, 4, 5]
    assert ledger.verify()


@pytest.mark.spec("L1")
def test_reversal_is_a_new_entry_and_happens_once() -> None:
    ledger = Ledger("acc-1")
    top_up = ledger.top_up(rub("50"), AT)
    reversal = ledger.reverse(top_up.seq, AT, memo="chargeback")
    assert reversal.kind is EntryKind.REVERSAL
    assert reversal.amount == rub("-50")
    assert reversal.reverses == top_up.seq
    assert ledger.entry(1) == top_up  # the original is untouched
    assert ledger.balance("RUB") == rub("0")
    assert ledger.is_reversed(1)
    with pytest.raises(ConflictError, match="already reversed by entry 2"):
        ledger.reverse(1, AT)
    with pytest.raises(ConflictError, match="cannot be reversed"):
        ledger.reverse(2, AT)
    with pytest.raises(NotFoundError, match="ledger entry"):
        ledger.reverse(9, AT)
    assert len(ledger) == 2


@pytest.mark.spec("L1")
def test_idempotency_key_books_once() -> None:
    ledger = Ledger("acc-1")
    first = ledger.top_up(rub("10"), AT, key="gw-evt-1")
    again = ledger.top_up(rub("10"), AT, key="gw-evt-1")
    assert again is first
    assert len(ledger) == 1
    assert ledger.by_key("gw-evt-1") == (first,)
    with pytest.raises(ConflictError, match=r"gw-evt-1.*already used for top_up 10 RUB"):
        ledger.charge(rub("10"), AT, key="gw-evt-1")
    assert ledger.balance("RUB") == rub("10")
    rev = ledger.reverse(1, AT, key="rev-1")
    assert ledger.reverse(1, AT, key="rev-1") is rev
    assert len(ledger) == 2


@pytest.mark.spec("L1")
def test_bad_input_books_nothing() -> None:
    ledger = Ledger("acc-1")
    with pytest.raises(InvalidAmountError, match="greater than zero"):
        ledger.top_up(rub("-1"), AT)
    with pytest.raises(InvalidAmountError, match="greater than zero"):
        ledger.charge(rub("0"), AT)
    with pytest.raises(PrecisionError, match="at most 4"):
        ledger.charge(rub("0.00001"), AT)
    with pytest.raises(ValidationError, match="aware datetime"):
        ledger.top_up(rub("1"), datetime(2024, 3, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="needs a reason"):
        ledger.adjust(rub("1"), AT, memo=" ")
    with pytest.raises(InvalidAmountError, match="zero changes nothing"):
        ledger.adjust(rub("0"), AT, memo="nothing")
    assert len(ledger) == 0
    assert ledger.balance("RUB") == rub("0")


@pytest.mark.spec("M4")
def test_one_balance_per_currency_and_conversion_as_a_pair_of_entries() -> None:
    ledger = Ledger("acc-1")
    ledger.top_up(Money("100.00", "EUR"), AT)
    ledger.top_up(rub("500.00"), AT)
    rate = ExchangeRate("EUR", "RUB", "98.555", date(2024, 3, 1))
    conversion = convert(Money("10.00", "EUR"), "RUB", rate)
    out, into = ledger.convert(conversion, AT, key="fx-1")
    assert (out.amount, into.amount) == (Money("-10.00", "EUR"), rub("985.55"))
    assert out.conversion is into.conversion is conversion
    assert into.conversion is not None
    assert into.conversion.rate.rate == conversion.rate.rate
    assert into.conversion.difference == rub("0.00")
    assert [str(m) for m in ledger.balances()] == ["90.00 EUR", "1485.55 RUB"]
    assert ledger.currencies == ("EUR", "RUB")
    assert ledger.convert(conversion, AT, key="fx-1") == (out, into)
    assert len(ledger.entries("RUB")) == 2
    assert ledger.verify()
