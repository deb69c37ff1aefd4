"""Amounts compared with an account's balance are in the account's currency."""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.customer import Account, check_account_currency
from cabinet_billing.errors import (
    ConflictError,
    CurrencyMismatchError,
    InvalidAmountError,
    PrecisionError,
    ValidationError,
)


def eur_account() -> Account:
    return Account.open("acc-1", "jfairy", email="j@example.com", currency="EUR")


@pytest.mark.spec("R8", "A1")
def test_account_currency_a_low_balance_threshold_in_another_currency_is_refused() -> None:
    account = eur_account()
    account.set_low_balance_threshold(Money("20.00", "EUR"))
    with pytest.raises(CurrencyMismatchError) as error:
        account.set_low_balance_threshold(Money("20.00", "USD"))
    assert str(error.value) == (
        "low-balance threshold 20.00 USD of account 'acc-1' is in USD, expected EUR"
    )
    assert (error.value.got, error.value.expected) == ("USD", ("EUR",))
    assert account.settings.low_balance_threshold == Money("20.00", "EUR")


@pytest.mark.spec("R8", "A1")
def test_account_currency_cannot_change_under_a_threshold_in_the_old_one() -> None:
    account = eur_account()
    account.set_low_balance_threshold(Money("20.00", "EUR"))
    with pytest.raises(ConflictError) as error:
        account.change_currency("usd")
    assert str(error.value) == (
        "account 'acc-1': its low-balance threshold is 20.00 EUR; set it in USD or switch it "
        "off before changing the currency to USD"
    )
    assert account.profile.currency == "EUR"
    account.set_low_balance_threshold(None)
    account.change_currency("usd")
    account.set_low_balance_threshold(Money("25.00", "USD"))
    assert (account.profile.currency, account.settings.low_balance_threshold) == (
        "USD",
        Money("25.00", "USD"),
    )


@pytest.mark.spec("R1")
def test_account_currency_a_credit_line_is_opened_in_the_account_s_currency() -> None:
    account = Account.open("acc-1", "astra", currency="RUB")
    line = CreditLine.for_account(account, Money("400000.00", "RUB"))
    assert (line.account_id, line.limit, line.currency) == (
        "acc-1",
        Money("400000.00", "RUB"),
        "RUB",
    )
    with pytest.raises(CurrencyMismatchError) as error:
        CreditLine.for_account(account, Money("2000.00", "EUR"))
    assert str(error.value) == (
        "credit limit 2000.00 EUR of account 'acc-1' is in EUR, expected RUB"
    )


@pytest.mark.spec("R1")
def test_account_currency_a_credit_limit_keeps_the_line_s_currency() -> None:
    line = CreditLine.for_account(
        Account.open("acc-1", "astra", currency="RUB"), Money("100.00", "RUB")
    )
    line.record_usage(Money("40.00", "RUB"), date(2024, 7, 12))
    with pytest.raises(CurrencyMismatchError) as error:
        line.change_limit(Money("100.00", "EUR"))
    assert str(error.value) == "limit is in EUR, expected RUB"
    assert line.limit == Money("100.00", "RUB")


@pytest.mark.spec("R1")
@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        (
            Money("-1.00", "RUB"),
            InvalidAmountError,
            "invalid amount '-1.00 RUB': must not be negative",
        ),
        (
            Money("1.005", "RUB"),
            PrecisionError,
            "invalid amount '1.005 RUB': at most 2 decimal place(s) allowed",
        ),
        ("100", ValidationError, "credit limit='100' is invalid: must be an amount in RUB"),
    ],
)
def test_account_currency_a_bad_credit_limit_is_refused(
    limit: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        CreditLine.for_account(Account.open("acc-1", "astra", currency="RUB"), limit)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.spec("R8", "R1")
def test_account_currency_check_for_defaults_from_the_settings() -> None:
    account = eur_account()
    assert check_account_currency(account, Money("20.00", "EUR"), "default threshold") == Money(
        "20.00", "EUR"
    )
    with pytest.raises(CurrencyMismatchError) as error:
        check_account_currency(account, Money("500.00", "UAH"), "default threshold")
    assert str(error.value) == (
        "default threshold 500.00 UAH of account 'acc-1' is in UAH, expected EUR"
    )
