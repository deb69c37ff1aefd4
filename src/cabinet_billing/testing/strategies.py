"""Hypothesis strategies for the library's values: money, rates, periods, plans, accounts.

>>> from hypothesis import given
>>> from cabinet_billing import Money
>>> @given(money("EUR", max_value="1000"))
... def test_amounts_are_euro_cents(amount: Money) -> None:
...     assert amount.code == "EUR" and amount.places() <= 2
>>> test_amounts_are_euro_cents()
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.customer import Account, PostalAddress
from cabinet_billing.domain.money import Money, currency_places, to_decimal
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.tax import TaxRate

__all__ = ["accounts", "currencies", "money", "periods", "plans", "tax_rates"]

#: Currencies with 0, 2 and 3 decimal places, as the seed cabinets and CLDR have them.
CURRENCIES = ("EUR", "RUB", "UAH", "USD", "JPY", "KWD")


def currencies() -> st.SearchStrategy[str]:
    """ISO codes of currencies with different minor units."""
    return st.sampled_from(CURRENCIES)


def money(
    currency: str | None = None,
    *,
    min_value: str = "0",
    max_value: str = "1000000",
    places: int | None = None,
) -> st.SearchStrategy[Money]:
    """Amounts in a currency (or any of :func:`currencies`), at its minor unit by default.

    Args:
        currency: the currency, or ``None`` for any.
        min_value: the smallest amount.
        max_value: the largest amount.
        places: decimal places (default: the currency's minor unit; 4 for accruals).
    """

    def build(code: str) -> st.SearchStrategy[Money]:
        digits = currency_places(code) if places is None else places
        return st.decimals(
            min_value=to_decimal(min_value),
            max_value=to_decimal(max_value),
            places=digits,
            allow_nan=False,
            allow_infinity=False,
        ).map(lambda d: Money(d, code))

    return build(currency) if currency is not None else currencies().flatmap(build)


def tax_rates() -> st.SearchStrategy[TaxRate]:
    """Tax rates from 0% to 30% in tenths of a percent."""
    return st.decimals(min_value=0, max_value=30, places=1).map(TaxRate)


def periods() -> st.SearchStrategy[Period]:
    """Billing periods: days, months, quarters, half-years, years."""
    return st.one_of(
        st.integers(1, 31).map(Period.days),
        st.sampled_from([1, 3, 6, 12]).map(Period.months),
    )


def plans(currency: str = "EUR") -> st.SearchStrategy[Plan]:
    """Plans with a monthly price (and sometimes a yearly one) in ``currency``."""
    kinds = st.sampled_from(list(ProductKind))

    @st.composite
    def build(draw: st.DrawFn) -> Plan:
        monthly = draw(money(currency, min_value="1", max_value="10000"))
        prices: dict[str, Money] = {"month": monthly}
        if draw(st.booleans()):
            prices["year"] = Money(monthly.amount * Decimal(10), monthly.currency)
        plan_id = draw(st.from_regex(r"[a-z][a-z0-9-]{2,12}", fullmatch=True))
        return Plan(plan_id, plan_id.upper(), draw(kinds), prices)

    return build()


def accounts(currency: str = "EUR") -> st.SearchStrategy[Account]:
    """Accounts with a complete profile, ready to pay."""

    @st.composite
    def build(draw: st.DrawFn) -> Account:
        n = draw(st.integers(1, 10**9))
        account = Account.open(
            f"acc-{n}", f"login{n}", email=f"user{n}@example.com", currency=currency
        )
        account.change_name("Doe", "Jane")
        account.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
        return account

    return build()
