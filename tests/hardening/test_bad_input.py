"""A catalogue of bad input across the public API: each is refused with a typed error.

Every case names one *kind* of bad input, the call that gets it, the
:class:`~cabinet_billing.errors.BillingError` subclass it must raise (exactly that class),
and the texts the message must show: the refused value and what is allowed. The world the
calls run against is compared before and after each call (every table of the store, the
invoice numbers, counters and keys, the notifications sent and the payment provider's
calls): a refused call changes nothing.

``docs/errors.md`` lists every kind; :func:`test_the_docs_list_every_kind` keeps the table
and this catalogue in step. To add a kind, add a :class:`Bad` to ``CASES`` (or a
:class:`BadCommand` to ``COMMANDS``) and its row to the table in ``docs/errors.md``.
"""

# Every case takes the world whether or not it needs it: one shape for all cases.
# ruff: noqa: ARG005
# The cases hand the API values of the wrong types on purpose.
# mypy: disable-error-code="arg-type, list-item, dict-item"

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import moneyed
import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    Cart,
    Money,
    OrderResult,
    PaymentMethod,
    Period,
    Plan,
    PostalAddress,
    ProductKind,
)
from cabinet_billing import errors as E  # noqa: N812 - the errors, as the table names them
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.app.checks import MAX_CALLBACK_BYTES
from cabinet_billing.cli import main
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkSigner
from cabinet_billing.domain.payment import BALANCE_METHOD, PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.security import ScryptParams
from cabinet_billing.domain.service import Actor
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.rules.matching import StatementLine
from cabinet_billing.testing.scenario import MAX_STEPS, Scenario

pytestmark = pytest.mark.spec("P", "M1", "A1", "L6")

DOCS = Path(__file__).parents[2] / "docs" / "errors.md"
START = datetime(2024, 3, 5, 10, tzinfo=UTC)
ACCOUNT = "acc-1"
OWNER = "u-owner"
RLO = "\u202e"
NUL = "\x00"


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


@attrs.frozen
class World:
    """``acc-1`` with a balance, a paid service, an unpaid invoice, a ticket and a credit line.

    The owner ``u-owner`` holds every right; its card top-up ``payment_id`` was credited by
    the gateway event ``evt-credited``.
    """

    s: InMemoryBilling
    service_id: str
    invoice_id: str
    payment_id: str
    ticket_id: str
    pay_link: str

    @property
    def owner(self) -> Cabinet:
        return self.s.billing.cabinet(ACCOUNT, OWNER)

    def webhook(self, **changes: object) -> tuple[dict[str, str], bytes]:
        """A signed callback about the credited payment, with some fields changed."""
        fields: dict[str, object] = {
            "payment_id": self.payment_id,
            "kind": PaymentEventKind.CREDITED,
            "at": START,
            "event_key": "evt-new",
        }
        fields.update(changes)
        return self.s.gateway.webhook(**fields)


def settings() -> BillingSettings:
    return BillingSettings(
        payment_methods=(
            PaymentMethod(
                "card",
                "Bank card",
                PaymentMethodPricing("RUB", minimum=rub("10.00"), maximum=rub("3000.00")),
            ),
            PaymentMethod("wallet", "Wallet", PaymentMethodPricing("RUB")),
        ),
        credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
        credit_limit=rub("10000.00"),
        pay_links=PayLinkSigner(PayLinkKeys("k1", {"k1": bytes(range(32))})),
        currencies=("RUB", "EUR"),
    )


def vps(price: str = "100.00") -> Plan:
    return Plan("vps", "VPS", ProductKind.VPS, {"month": rub(price)})


def build_world() -> World:
    s = in_memory_billing(settings(), now=START, rates=FixedRates({("EUR", "RUB"): "100"}))
    account = Account.open(ACCOUNT, "jfairy", email="j@example.com", currency="RUB", country="RU")
    account.change_name("Fairy", "Jill")
    account.change_postal_address(PostalAddress("Moscow", "100000", "Lenina 1"))
    s.billing.open_account(account, owner_id=OWNER, owner_name="Jill")
    owner = s.billing.cabinet(ACCOUNT, OWNER)
    started = owner.payments.top_up(rub("1000.00"), "wallet")
    s.billing.webhooks.handle(
        *s.gateway.webhook(
            started.payment.id, PaymentEventKind.CREDITED, START, event_key="evt-credited"
        )
    )
    paid = place(s, owner, "100.00", "o-1", method=BALANCE_METHOD)
    service_id = paid.service_ids[0]
    with MemoryUnitOfWork(s.store) as uow:
        uow.services.get(service_id).finish_processing(Actor.admin("ops"), START)
        uow.commit()
    unpaid = place(s, owner, "5000.00", "o-2")
    ticket = owner.tickets.open(department="technical", subject="Ping", text="Ping fails")
    s.billing.staff.open_credit_line(ACCOUNT)
    owner.payments.set_pay_without_login(True)
    link = owner.invoices.pay_link(unpaid.invoice.id)
    return World(
        s,
        service_id=service_id,
        invoice_id=unpaid.invoice.id,
        payment_id=started.payment.id,
        ticket_id=ticket.id,
        pay_link=link.token,
    )


def place(
    s: InMemoryBilling, cabinet: Cabinet, price: str, order_id: str, method: str = "wallet"
) -> OrderResult:
    cart = Cart(ACCOUNT, "RUB")
    cart.add(vps(price), "month")
    order = cart.checkout(
        method, s.clock.today(), order_id=order_id, tax=s.billing.settings.tax, country="RU"
    )
    return cabinet.orders.place(order)


def committed(w: World) -> object:
    """Everything a refused call must leave as it was: store, notices, provider calls."""
    store = w.s.store
    tables = {
        field.name: {
            key: (table.versions[key], copy.deepcopy(row)) for key, row in table.rows.items()
        }
        for field in attrs.fields(type(store))
        if hasattr(table := getattr(store, field.name), "rows")
    }
    return (
        tables,
        dict(store.invoice_numbers),
        dict(store.sequences),
        set(store.keys),
        dict(store.fingerprints),
        list(w.s.notifier.sent),
        list(w.s.gateway.charges),
        list(w.s.gateway.checkouts),
    )


Call = Callable[[World], object]


@attrs.frozen
class Bad:
    """One kind of bad input: where, the call, the error class, what the message shows."""

    area: str
    kind: str
    call: Call
    error: type[E.BillingError]
    shows: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.area}: {self.kind}"


def bad(area: str, kind: str, call: Call, error: type[E.BillingError], *shows: str) -> Bad:
    return Bad(area, kind, call, error, shows)


FLOAT_BACKED = moneyed.Money(Decimal(0.1), "RUB")  # noqa: RUF032 - a host's float-backed amount
LONG = "x" * 100_000
ID_201 = "a" * 201


def unpaid_service(w: World) -> str:
    """The service of the unpaid order ``w.invoice_id``."""
    service_id = w.owner.invoices.get(w.invoice_id).lines[0].service_id
    assert service_id is not None
    return service_id


def order_for(customer: str = ACCOUNT, currency: str = "RUB") -> object:
    cart = Cart(customer, currency)
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("1.00", currency)}), "month")
    return cart


def cart_of(customer: str = ACCOUNT, currency: str = "RUB") -> Cart:
    """A cart with one month of a VPS, priced in ``currency``."""
    cart = Cart(customer, currency)
    cart.add(Plan("vps", "VPS", ProductKind.VPS, {"month": Money("100.00", currency)}), "month")
    return cart


def pay_link_without_login(_: World) -> object:
    """Copy a pay link in a billing of its own whose account keeps pay_without_login off."""
    s = in_memory_billing(settings(), now=START)
    s.billing.open_account(
        Account.open(ACCOUNT, "jfairy", currency="RUB"), owner_id=OWNER, owner_name="Jill"
    )
    owner = s.billing.cabinet(ACCOUNT, OWNER)
    return owner.invoices.pay_link(place(s, owner, "100.00", "o-1").invoice.id)


def pay_link_of_a_balance_order(_: World) -> object:
    """Copy a pay link of an order checked out for the balance, in a billing of its own."""
    s = in_memory_billing(settings(), now=START)
    s.billing.open_account(
        Account.open(ACCOUNT, "jfairy", currency="RUB"), owner_id=OWNER, owner_name="Jill"
    )
    owner = s.billing.cabinet(ACCOUNT, OWNER)
    owner.payments.set_pay_without_login(True)
    placed = place(s, owner, "100.00", "o-1", method=BALANCE_METHOD)
    return owner.invoices.pay_link(placed.invoice.id)


def scenario(text: str) -> Call:
    return lambda w: Scenario.from_toml(text)


def run_scenario(text: str) -> Call:
    return lambda w: Scenario.from_toml(text).run()


STEPS = '[[step]]\ndo = "account"\nid = "acc-1"\n'

# --------------------------------------------------------------------------- the catalogue

CASES: list[Bad] = [
    # ------------------------------------------------------------------ Money
    bad(
        "Money",
        "currency as a number",
        lambda w: Money("10", 978),
        E.UnknownCurrencyError,
        "978",
        "ISO 4217",
    ),
    bad(
        "Money",
        "unknown currency code",
        lambda w: Money("10", "XYZ"),
        E.UnknownCurrencyError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "Money",
        "currency code of four letters",
        lambda w: Money("10", "EURO"),
        E.UnknownCurrencyError,
        "'EURO'",
        "ISO 4217",
    ),
    bad("Money", "no currency", lambda w: Money("10"), E.UnknownCurrencyError, "None", "ISO 4217"),
    bad(
        "Money",
        "currency with a NUL",
        lambda w: Money("10", "EU\x00"),
        E.UnknownCurrencyError,
        "'EU\\x00'",
        "ISO 4217",
    ),
    bad(
        "Money",
        "float amount",
        lambda w: Money(0.1, "EUR"),
        E.InvalidAmountError,
        "0.1",
        "pass a str or Decimal",
    ),
    bad(
        "Money",
        "NaN as text",
        lambda w: Money("NaN", "EUR"),
        E.InvalidAmountError,
        "'NaN'",
        "only finite amounts",
    ),
    bad(
        "Money",
        "infinity as text",
        lambda w: Money("Infinity", "EUR"),
        E.InvalidAmountError,
        "'Infinity'",
        "only finite amounts",
    ),
    bad(
        "Money",
        "NaN as a Decimal",
        lambda w: Money(Decimal("NaN"), "EUR"),
        E.InvalidAmountError,
        "NaN",
        "only finite amounts",
    ),
    bad(
        "Money",
        "underscores in digits",
        lambda w: Money("1_000", "EUR"),
        E.InvalidAmountError,
        "'1_000'",
        "no '_'",
    ),
    bad(
        "Money",
        "fullwidth digits",
        lambda w: Money("１００", "EUR"),
        E.InvalidAmountError,
        "'１００'",
        "ASCII digits",
    ),
    bad(
        "Money",
        "Arabic-Indic digits",
        lambda w: Money("١٠٠", "EUR"),
        E.InvalidAmountError,
        "'١٠٠'",
        "ASCII digits",
    ),
    bad(
        "Money",
        "thousands separator",
        lambda w: Money("1,000.00", "EUR"),
        E.InvalidAmountError,
        "'1,000.00'",
        "ASCII digits",
    ),
    bad(
        "Money",
        "empty amount",
        lambda w: Money("", "EUR"),
        E.InvalidAmountError,
        "''",
        "ASCII digits",
    ),
    bad(
        "Money",
        "amount with its currency",
        lambda w: Money("10 EUR", "EUR"),
        E.InvalidAmountError,
        "'10 EUR'",
        "ASCII digits",
    ),
    bad(
        "Money",
        "bool amount",
        lambda w: Money(True, "EUR"),  # noqa: FBT003 - the bad input itself
        E.InvalidAmountError,
        "True",
        "a bool is not an amount",
    ),
    bad(
        "Money",
        "list amount",
        lambda w: Money([1], "EUR"),
        E.InvalidAmountError,
        "[1]",
        "expected str, int or Decimal",
    ),
    bad(
        "Money",
        "35 integer digits",
        lambda w: Money(10**35, "EUR"),
        E.AmountTooLargeError,
        "100000000000000000000000000000000000",
        "at most 9999",
    ),
    bad(
        "Money",
        "exponent beyond storage",
        lambda w: Money("1E+40", "EUR"),
        E.AmountTooLargeError,
        "1E+40",
        "NUMERIC(38)",
    ),
    bad(
        "Money",
        "too many decimal places",
        lambda w: Money("0." + "1" * 101, "EUR"),
        E.InvalidAmountError,
        "0.111",
        "significant digits",
    ),
    bad(
        "Money",
        "adding a bare int",
        lambda w: Money("10", "EUR") + 1,
        E.InvalidOperandError,
        "1 (int)",
        "add a Money amount in EUR",
    ),
    bad(
        "Money",
        "adding a Decimal",
        lambda w: Money("10", "EUR") + Decimal(1),
        E.InvalidOperandError,
        "Decimal('1')",
        "add a Money amount in EUR",
    ),
    bad(
        "Money",
        "subtracting from a number",
        lambda w: 1 - Money("10", "EUR"),
        E.InvalidOperandError,
        "1 (int)",
        "in EUR",
    ),
    bad(
        "Money",
        "comparing with a number",
        lambda w: Money("10", "EUR") < 2,
        E.InvalidOperandError,
        "2 (int)",
        "compare a Money amount in EUR",
    ),
    bad(
        "Money",
        "multiplying two amounts",
        lambda w: Money("10", "EUR") * Money("2", "EUR"),
        E.InvalidOperandError,
        "Money('2', 'EUR')",
        "multiply it by a str, int or Decimal",
    ),
    bad(
        "Money",
        "multiplying by a float",
        lambda w: Money("10", "EUR") * 0.5,
        E.InvalidAmountError,
        "0.5",
        "floats are not exact",
    ),
    bad(
        "Money",
        "dividing by zero",
        lambda w: Money("10", "EUR") / 0,
        E.InvalidAmountError,
        "0",
        "cannot divide an amount by zero",
    ),
    bad(
        "Money",
        "adding another currency",
        lambda w: Money("10", "EUR") + Money("1", "RUB"),
        E.CurrencyMismatchError,
        "RUB",
        "expected EUR",
    ),
    bad(
        "Money",
        "Money.of a str",
        lambda w: Money.of("10"),
        E.InvalidAmountError,
        "'10'",
        "expected a Money amount",
    ),
    bad(
        "Money",
        "Money.of a float-backed moneyed.Money",
        lambda w: Money.of(FLOAT_BACKED),
        E.InvalidAmountError,
        "0.1000000000000000055",
        "the float 0.1",
    ),
    bad(
        "Money",
        "Money.of a NaN moneyed.Money",
        lambda w: Money.of(moneyed.Money("NaN", "EUR")),
        E.InvalidAmountError,
        "NaN",
        "only finite amounts",
    ),
    bad(
        "Money",
        "minor unit finer than the currency's",
        lambda w: Money("10.005", "EUR").require_places(),
        E.PrecisionError,
        "10.005 EUR",
        "at most 2 decimal place(s)",
    ),
    bad(
        "Money",
        "zero where positive is needed",
        lambda w: Money("0", "EUR").require_positive(),
        E.InvalidAmountError,
        "0 EUR",
        "greater than zero",
    ),
    # ------------------------------------------------------------------ Period, rates
    bad(
        "Period",
        "unknown unit",
        lambda w: Period("week", 1),
        E.ValidationError,
        "'week'",
        "expected one of day, month",
    ),
    bad(
        "Period",
        "zero months",
        lambda w: Period.months(0),
        E.ValidationError,
        "count=0",
        "at least 1",
    ),
    bad(
        "Period",
        "negative days",
        lambda w: Period.days(-3),
        E.ValidationError,
        "count=-3",
        "at least 1",
    ),
    bad(
        "Period",
        "months as text",
        lambda w: Period.months("1"),
        E.ValidationError,
        "count='1'",
        "whole number of units",
    ),
    bad(
        "Period",
        "months as a bool",
        lambda w: Period.months(True),  # noqa: FBT003 - the bad input itself
        E.ValidationError,
        "count=True",
        "whole number of units",
    ),
    bad(
        "TaxRate",
        "percent as a float",
        lambda w: TaxRate(20.5),
        E.InvalidAmountError,
        "20.5",
        "pass a str or Decimal",
    ),
    bad(
        "TaxRate",
        "percent as words",
        lambda w: TaxRate("twenty"),
        E.InvalidAmountError,
        "'twenty'",
        "ASCII digits",
    ),
    # ------------------------------------------------------------------ settings
    bad(
        "BillingSettings",
        "unknown currency",
        lambda w: BillingSettings(currencies=("XYZ",)),
        E.UnknownCurrencyError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "BillingSettings",
        "currencies as one str",
        lambda w: BillingSettings(currencies="EUR"),
        E.InvalidArgumentError,
        "'EUR'",
        "expected a list of ISO 4217 codes",
    ),
    bad(
        "BillingSettings",
        "currency code as a number",
        lambda w: BillingSettings(currencies=(978,)),
        E.InvalidArgumentError,
        "978",
        "expected ISO 4217 codes",
    ),
    bad(
        "BillingSettings",
        "payment methods as one str",
        lambda w: BillingSettings(payment_methods="card"),
        E.InvalidArgumentError,
        "'card'",
        "expected a list of PaymentMethod",
    ),
    bad(
        "BillingSettings",
        "payment method as a str",
        lambda w: BillingSettings(payment_methods=["card"]),
        E.InvalidArgumentError,
        "payment_methods[0]='card'",
        "PaymentMethod(id, name, pricing)",
    ),
    bad(
        "BillingSettings",
        "payment method listed twice",
        lambda w: BillingSettings(
            payment_methods=[PaymentMethod("card", "C", PaymentMethodPricing("RUB"))] * 2
        ),
        E.ValidationError,
        "'card'",
        "listed twice for RUB",
    ),
    bad(
        "BillingSettings",
        "no logins kept",
        lambda w: BillingSettings(logins_kept=0),
        E.ValidationError,
        "logins_kept=0",
        "at least 1",
    ),
    bad(
        "BillingSettings",
        "hashing parameters of another kind",
        lambda w: BillingSettings(code_word_hashing={"n": 2}),
        E.ValidationError,
        "{'n': 2}",
        "ScryptParams",
    ),
    bad(
        "BillingSettings",
        "scrypt cost below the floor",
        lambda w: ScryptParams(n=2),
        E.WeakHashParametersError,
        "n=2",
        "16384",
    ),
    bad(
        "Billing",
        "paying across currencies without a rate port",
        lambda w: in_memory_billing(BillingSettings(pay_across_currencies=True)),
        E.MissingPortError,
        "pay_across_currencies=True",
        "Ports(rates=...)",
    ),
    bad(
        "PaymentMethod",
        "empty id",
        lambda w: PaymentMethod(" ", "Card", PaymentMethodPricing("RUB")),
        E.ValidationError,
        "id=' '",
        "must not be empty",
    ),
    # ------------------------------------------------------------------ accounts
    bad(
        "Account",
        "empty id",
        lambda w: Account.open("", "login"),
        E.InvalidTextError,
        "account_id=''",
        "must not be empty",
    ),
    bad(
        "Account",
        "id with a NUL",
        lambda w: Account.open("acc\x00", "login"),
        E.InvalidTextError,
        "'acc\\x00'",
        "NUL",
    ),
    bad(
        "Account",
        "id of 201 characters",
        lambda w: Account.open(ID_201, "login"),
        E.InvalidTextError,
        "201 characters",
        "at most 200",
    ),
    bad(
        "Account",
        "id with a bidi override",
        lambda w: Account.open(f"acc{RLO}1", "login"),
        E.InvalidTextError,
        "U+202E",
        "bidirectional",
    ),
    bad(
        "Account",
        "unknown currency",
        lambda w: Account.open("acc-9", "login", currency="XYZ"),
        E.ValidationError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "billing.open_account",
        "not an Account",
        lambda w: w.s.billing.open_account("acc-9", owner_id="u", owner_name="A"),
        E.InvalidArgumentError,
        "'acc-9'",
        "an Account such as Account.open",
    ),
    bad(
        "billing.open_account",
        "empty owner id",
        lambda w: w.s.billing.open_account(Account.open("acc-9", "x"), owner_id="", owner_name="A"),
        E.InvalidTextError,
        "owner_id=''",
        "must not be empty",
    ),
    bad(
        "billing.open_account",
        "owner id with a NUL",
        lambda w: w.s.billing.open_account(
            Account.open("acc-9", "x"), owner_id="u\x00", owner_name="A"
        ),
        E.InvalidTextError,
        "'u\\x00'",
        "NUL",
    ),
    bad(
        "billing.open_account",
        "owner name with a NUL",
        lambda w: w.s.billing.open_account(
            Account.open("acc-9", "x"), owner_id="u", owner_name="A\x00"
        ),
        E.InvalidTextError,
        "'A\\x00'",
        "NUL",
    ),
    bad(
        "billing.open_account",
        "owner name with a bidi override",
        lambda w: w.s.billing.open_account(
            Account.open("acc-9", "x"), owner_id="u", owner_name=f"Jill{RLO}yriaF"
        ),
        E.InvalidTextError,
        "U+202E",
        "bidirectional",
    ),
    bad(
        "billing.open_account",
        "owner name of 100 000 characters",
        lambda w: w.s.billing.open_account(
            Account.open("acc-9", "x"), owner_id="u", owner_name=LONG
        ),
        E.InvalidTextError,
        "100000 characters",
        "at most 1000",
    ),
    bad(
        "billing.open_account",
        "owner name with a control character",
        lambda w: w.s.billing.open_account(
            Account.open("acc-9", "x"), owner_id="u", owner_name="A\x07"
        ),
        E.InvalidTextError,
        "U+0007",
        "control characters",
    ),
    bad(
        "billing.open_account",
        "an account that exists",
        lambda w: w.s.billing.open_account(
            Account.open(ACCOUNT, "x"), owner_id="u", owner_name="A"
        ),
        E.ConflictError,
        "'acc-1'",
        "already exists",
    ),
    # ------------------------------------------------------------------ the cabinet's gate
    bad(
        "billing.cabinet",
        "empty account id",
        lambda w: w.s.billing.cabinet("", OWNER),
        E.InvalidTextError,
        "account_id=''",
        "must not be empty",
    ),
    bad(
        "billing.cabinet",
        "account id as a number",
        lambda w: w.s.billing.cabinet(5, OWNER),
        E.InvalidTextError,
        "account_id=5",
        "must be text",
    ),
    bad(
        "billing.cabinet",
        "account id None",
        lambda w: w.s.billing.cabinet(None, OWNER),
        E.InvalidTextError,
        "account_id=None",
        "must be text",
    ),
    bad(
        "billing.cabinet",
        "account id with a NUL",
        lambda w: w.s.billing.cabinet("acc\x00", OWNER),
        E.InvalidTextError,
        "'acc\\x00'",
        "NUL",
    ),
    bad(
        "billing.cabinet",
        "account id with blanks around it",
        lambda w: w.s.billing.cabinet(" acc-1", OWNER),
        E.InvalidTextError,
        "' acc-1'",
        "must not begin or end with blanks",
    ),
    bad(
        "billing.cabinet",
        "account id with a line break",
        lambda w: w.s.billing.cabinet("acc\n1", OWNER),
        E.InvalidTextError,
        "'acc\\n1'",
        "one line",
    ),
    bad(
        "billing.cabinet",
        "account id of 201 characters",
        lambda w: w.s.billing.cabinet(ID_201, OWNER),
        E.InvalidTextError,
        "201 characters",
        "at most 200",
    ),
    bad(
        "billing.cabinet",
        "empty user id",
        lambda w: w.s.billing.cabinet(ACCOUNT, ""),
        E.InvalidTextError,
        "user_id=''",
        "must not be empty",
    ),
    bad(
        "billing.cabinet",
        "user id with a bidi isolate",
        lambda w: w.s.billing.cabinet(ACCOUNT, "u\u2066x"),
        E.InvalidTextError,
        "U+2066",
        "bidirectional",
    ),
    bad(
        "billing.cabinet",
        "address as a number",
        lambda w: w.s.billing.cabinet(ACCOUNT, OWNER, ip=167772161),
        E.ValidationError,
        "ip=167772161",
        "address as text",
    ),
    bad(
        "billing.cabinet",
        "unknown account",
        lambda w: w.s.billing.cabinet("acc-404", OWNER).balance.get(),
        E.NotFoundError,
        "'acc-404'",
        "no account",
    ),
    # ------------------------------------------------------------------ cabinet.payments
    bad(
        "cabinet.payments",
        "top-up amount as a str",
        lambda w: w.owner.payments.top_up("100.00", "card"),
        E.InvalidArgumentError,
        "'100.00'",
        "expected a Money amount",
    ),
    bad(
        "cabinet.payments",
        "top-up amount as a Decimal",
        lambda w: w.owner.payments.top_up(Decimal(100), "card"),
        E.InvalidArgumentError,
        "Decimal('100')",
        "expected a Money amount",
    ),
    bad(
        "cabinet.payments",
        "top-up amount as an int",
        lambda w: w.owner.payments.top_up(100, "card"),
        E.InvalidArgumentError,
        "amount=100",
        "expected a Money amount",
    ),
    bad(
        "cabinet.payments",
        "top-up amount None",
        lambda w: w.owner.payments.top_up(None, "card"),
        E.InvalidArgumentError,
        "amount=None",
        "expected a Money amount",
    ),
    bad(
        "cabinet.payments",
        "top-up of a float-backed moneyed.Money",
        lambda w: w.owner.payments.top_up(FLOAT_BACKED, "card"),
        E.InvalidAmountError,
        "0.1000000000000000055",
        "the float 0.1",
    ),
    bad(
        "cabinet.payments",
        "top-up below the method's range",
        lambda w: w.owner.payments.top_up(rub("5.00"), "card"),
        E.AmountOutOfRangeError,
        "5.00 RUB",
        "from 10.00 RUB to 3000.00 RUB",
    ),
    bad(
        "cabinet.payments",
        "top-up above the method's range",
        lambda w: w.owner.payments.top_up(rub("3000.01"), "card"),
        E.AmountOutOfRangeError,
        "3000.01 RUB",
        "from 10.00 RUB to 3000.00 RUB",
    ),
    bad(
        "cabinet.payments",
        "top-up by an unknown method",
        lambda w: w.owner.payments.top_up(rub("100.00"), "crypto"),
        E.NotFoundError,
        "'crypto'",
        "offered: card, wallet",
    ),
    bad(
        "cabinet.payments",
        "top-up in a currency no method takes",
        lambda w: w.owner.payments.top_up(Money("100.00", "EUR"), "card"),
        E.NotFoundError,
        "'card'",
        "offered: none",
    ),
    bad(
        "cabinet.payments",
        "empty method id",
        lambda w: w.owner.payments.top_up(rub("100.00"), ""),
        E.InvalidTextError,
        "method_id=''",
        "must not be empty",
    ),
    bad(
        "cabinet.payments",
        "method id with a NUL",
        lambda w: w.owner.payments.top_up(rub("100.00"), "card\x00"),
        E.InvalidTextError,
        "'card\\x00'",
        "NUL",
    ),
    bad(
        "cabinet.payments",
        "payer id with a NUL",
        lambda w: w.owner.payments.top_up(rub("100.00"), "card", payer_id="p\x00"),
        E.InvalidTextError,
        "'p\\x00'",
        "NUL",
    ),
    # ------------------------------------------------------------------ cabinet.balance
    bad(
        "cabinet.balance",
        "currency as a number",
        lambda w: w.owner.balance.get(643),
        E.InvalidArgumentError,
        "currency=643",
        "ISO 4217 code",
    ),
    bad(
        "cabinet.balance",
        "unknown currency",
        lambda w: w.owner.balance.get("XYZ"),
        E.UnknownCurrencyError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "cabinet.balance",
        "conversion amount as a str",
        lambda w: w.owner.balance.convert("100", "EUR"),
        E.InvalidArgumentError,
        "'100'",
        "expected a Money amount",
    ),
    bad(
        "cabinet.balance",
        "conversion target as a number",
        lambda w: w.owner.balance.convert(rub("100"), 978),
        E.InvalidArgumentError,
        "to=978",
        "ISO 4217 code",
    ),
    bad(
        "cabinet.balance",
        "conversion to an unknown currency",
        lambda w: w.owner.balance.convert(rub("100"), "XYZ"),
        E.UnknownCurrencyError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "cabinet.balance",
        "conversion to a currency not kept",
        lambda w: w.owner.balance.convert(rub("100"), "USD"),
        E.CurrencyMismatchError,
        "USD",
        "expected RUB or EUR",
    ),
    bad(
        "cabinet.balance",
        "conversion of a negative amount",
        lambda w: w.owner.balance.convert(rub("-100"), "EUR"),
        E.InvalidAmountError,
        "-100 RUB",
        "greater than zero",
    ),
    bad(
        "cabinet.balance",
        "conversion finer than the minor unit",
        lambda w: w.owner.balance.convert(rub("1.001"), "EUR"),
        E.PrecisionError,
        "1.001 RUB",
        "at most 2 decimal place(s)",
    ),
    bad(
        "cabinet.balance",
        "conversion of more than the balance",
        lambda w: w.owner.balance.convert(rub("900000.00"), "EUR"),
        E.InsufficientFundsError,
        "900000.00 RUB",
        "top up at least 899100.00 RUB",
    ),
    bad(
        "cabinet.balance",
        "equivalents of a str",
        lambda w: w.owner.balance.equivalents("100"),
        E.InvalidArgumentError,
        "'100'",
        "expected a Money amount",
    ),
    bad(
        "cabinet.balance",
        "equivalents of a float-backed amount",
        lambda w: w.owner.balance.equivalents(FLOAT_BACKED),
        E.InvalidAmountError,
        "0.1000000000000000055",
        "the float 0.1",
    ),
    # ------------------------------------------------------------------ cabinet.orders, Cart
    bad(
        "Cart",
        "unknown currency",
        lambda w: Cart(ACCOUNT, "XYZ"),
        E.UnknownCurrencyError,
        "'XYZ'",
        "ISO 4217",
    ),
    bad(
        "Cart",
        "currency as a number",
        lambda w: Cart(ACCOUNT, 643),
        E.UnknownCurrencyError,
        "643",
        "ISO 4217",
    ),
    bad(
        "Cart",
        "empty customer id",
        lambda w: Cart("", "RUB"),
        E.InvalidTextError,
        "customer_id=''",
        "must not be empty",
    ),
    bad(
        "Cart",
        "customer id with a NUL",
        lambda w: Cart("acc\x00", "RUB"),
        E.InvalidTextError,
        "'acc\\x00'",
        "NUL",
    ),
    bad(
        "Cart",
        "a period the plan has no price for",
        lambda w: Cart(ACCOUNT, "RUB").add(vps(), "year"),
        E.PriceNotFoundError,
        "year",
        "month",
    ),
    bad(
        "Cart",
        "a plan priced in another currency",
        lambda w: Cart(ACCOUNT, "EUR").add(vps(), "month"),
        E.PriceNotFoundError,
        "EUR",
        "RUB",
    ),
    bad(
        "cabinet.orders",
        "an order as a str",
        lambda w: w.owner.orders.place("o-3"),
        E.InvalidArgumentError,
        "order='o-3'",
        "an Order from Cart.checkout",
    ),
    bad(
        "cabinet.orders",
        "a cart instead of an order",
        lambda w: w.owner.orders.place(order_for()),
        E.InvalidArgumentError,
        "Cart",
        "an Order from Cart.checkout",
    ),
    bad(
        "cabinet.orders",
        "an order placed already",
        lambda w: place(w.s, w.owner, "100.00", "o-1"),
        E.ConflictError,
        "'o-1'",
        "was placed already",
    ),
    bad(
        "cabinet.orders",
        "checking out another account's cart",
        lambda w: w.owner.orders.checkout(cart_of("acc-2"), "wallet", order_id="o-9"),
        E.OrderRejectedError,
        "'acc-2'",
        "orders of account 'acc-1' only",
    ),
    bad(
        "cabinet.orders",
        "checking out in a currency not sold",
        lambda w: w.owner.orders.checkout(cart_of(ACCOUNT, "USD"), "wallet", order_id="o-9"),
        E.OrderRejectedError,
        "'USD'",
        "orders in RUB, EUR",
    ),
    bad(
        "cabinet.orders",
        "checking out by an unknown method",
        lambda w: w.owner.orders.checkout(cart_of(), "crypto", order_id="o-9"),
        E.OrderRejectedError,
        "'crypto'",
        "card, wallet",
    ),
    bad(
        "cabinet.orders",
        "checking out a str",
        lambda w: w.owner.orders.checkout("cart", "wallet", order_id="o-9"),
        E.InvalidArgumentError,
        "cart='cart'",
        "a Cart such as Cart(account_id, currency)",
    ),
    bad(
        "cabinet.orders",
        "order id with a NUL",
        lambda w: w.owner.orders.checkout(cart_of(), "wallet", order_id="o\x00"),
        E.InvalidTextError,
        "'o\\x00'",
        "NUL",
    ),
    bad(
        "cabinet.orders",
        "checking out under a used order id",
        lambda w: w.owner.orders.checkout(cart_of(), "wallet", order_id="o-1"),
        E.ConflictError,
        "'o-1'",
        "was placed already",
    ),
    bad(
        "cabinet.orders",
        "checking out an empty cart",
        lambda w: w.owner.orders.checkout(Cart(ACCOUNT, "RUB"), "wallet", order_id="o-9"),
        E.ValidationError,
        "'acc-1'",
        "the cart is empty",
    ),
    # ------------------------------------------------------------------ cabinet.invoices, services
    bad(
        "cabinet.invoices",
        "unknown invoice",
        lambda w: w.owner.invoices.pay("inv-404"),
        E.NotFoundError,
        "'inv-404'",
        "no invoice",
    ),
    bad(
        "cabinet.invoices",
        "invoice id with a NUL",
        lambda w: w.owner.invoices.pay("inv\x00"),
        E.NotFoundError,
        "'inv\\x00'",
        "no invoice",
    ),
    bad(
        "cabinet.invoices",
        "paying by an unknown method",
        lambda w: w.owner.invoices.pay(w.invoice_id, method_id="crypto"),
        E.NotFoundError,
        "'crypto'",
        "offered",
    ),
    bad(
        "cabinet.invoices",
        "pay link of an unknown invoice",
        lambda w: w.owner.invoices.pay_link("inv-404"),
        E.NotFoundError,
        "'inv-404'",
        "no invoice",
    ),
    bad(
        "cabinet.invoices",
        "pay link while paying without login is off",
        pay_link_without_login,
        E.AccessDeniedError,
        "'acc-1'",
        "pay_without_login is off",
    ),
    bad(
        "cabinet.invoices",
        "pay link of an order checked out for the balance",
        pay_link_of_a_balance_order,
        E.PaymentMethodFixedError,
        "'balance'",
        "a pay link",
    ),
    bad(
        "cabinet.services",
        "renewing an unknown service",
        lambda w: w.owner.services.renew("svc-404"),
        E.NotFoundError,
        "'svc-404'",
        "no service",
    ),
    bad(
        "cabinet.services",
        "renewing for zero periods",
        lambda w: w.owner.services.renew(w.service_id, periods=0),
        E.InvalidArgumentError,
        "periods=0",
        "from 1 to 120",
    ),
    bad(
        "cabinet.services",
        "history of an unknown service",
        lambda w: w.owner.services.history("svc-404"),
        E.NotFoundError,
        "'svc-404'",
        "no service",
    ),
    bad(
        "cabinet.services",
        "history cursor that is no record of it",
        lambda w: w.owner.services.history(w.service_id, after="99"),
        E.ValidationError,
        "after='99'",
        "next_after of a previous page",
    ),
    bad(
        "cabinet.payments",
        "charge attempts of an unknown status",
        lambda w: w.owner.payments.attempts(status="tried"),
        E.ValidationError,
        "status='tried'",
        "expected one of pending, succeeded, failed",
    ),
    bad(
        "cabinet.payments",
        "charge attempts of an unknown purpose",
        lambda w: w.owner.payments.attempts(purpose="gift"),
        E.ValidationError,
        "purpose='gift'",
        "expected one of renewal, card_autopay, autopay, check",
    ),
    bad(
        "cabinet.services",
        "changing to a plan that is not sold",
        lambda w: w.owner.services.change_plan(w.service_id, "vps-xl"),
        E.OrderRejectedError,
        "'vps-xl'",
        "without a catalog the service keeps its plan 'vps'",
    ),
    bad(
        "cabinet.services",
        "changing to a period the plan has no price for",
        lambda w: w.owner.services.change_plan(
            w.service_id, "vps", period="year", when="period_end"
        ),
        E.PriceNotFoundError,
        "1 year",
        "available: 1 month RUB",
    ),
    bad(
        "cabinet.services",
        "changing the period now",
        lambda w: w.owner.services.change_plan(w.service_id, "vps", period="year"),
        E.ValidationError,
        "'1 year'",
        "pass when='period_end'",
    ),
    bad(
        "cabinet.services",
        "changing plan at an unknown moment",
        lambda w: w.owner.services.change_plan(w.service_id, "vps", when="tomorrow"),
        E.ValidationError,
        "'tomorrow'",
        "allowed: now, period_end",
    ),
    bad(
        "cabinet.services",
        "changing a service that is not paid",
        lambda w: w.owner.services.change_plan(unpaid_service(w), "vps"),
        E.InvalidTransitionError,
        "awaiting payment",
        "change_plan",
    ),
    bad(
        "cabinet.services",
        "changing to the plan the service has",
        lambda w: w.owner.services.change_plan(w.service_id, "vps"),
        E.ValidationError,
        "'vps'",
        "has this plan, period and configuration",
    ),
    bad(
        "cabinet.services",
        "withdrawing a change that is not scheduled",
        lambda w: w.owner.services.cancel_change(w.service_id),
        E.ConflictError,
        "service",
        "no scheduled change to withdraw",
    ),
    bad(
        "cabinet.services",
        "ending a service at an unknown moment",
        lambda w: w.owner.services.terminate(w.service_id, when="later"),
        E.ValidationError,
        "'later'",
        "allowed: now, period_end",
    ),
    bad(
        "cabinet.services",
        "ending an order that is not paid",
        lambda w: w.owner.services.terminate(unpaid_service(w), when="now"),
        E.InvalidTransitionError,
        "awaiting payment",
        "cancel",
    ),
    # ------------------------------------------------------------------ cabinet.tickets, users, profile, security
    bad(
        "cabinet.tickets",
        "subject with a NUL",
        lambda w: w.owner.tickets.open(department="technical", subject="Hi\x00", text="x"),
        E.InvalidTextError,
        "'Hi\\x00'",
        "NUL",
    ),
    bad(
        "cabinet.tickets",
        "subject with a bidi override",
        lambda w: w.owner.tickets.open(department="technical", subject=f"Hi{RLO}", text="x"),
        E.InvalidTextError,
        "U+202E",
        "bidirectional",
    ),
    bad(
        "cabinet.tickets",
        "empty subject",
        lambda w: w.owner.tickets.open(department="technical", subject=" ", text="x"),
        E.InvalidTextError,
        "subject=' '",
        "must not be empty",
    ),
    bad(
        "cabinet.tickets",
        "subject of two lines",
        lambda w: w.owner.tickets.open(department="technical", subject="a\nb", text="x"),
        E.InvalidTextError,
        "'a\\nb'",
        "one line",
    ),
    bad(
        "cabinet.tickets",
        "message over 100 000 characters",
        lambda w: w.owner.tickets.open(department="technical", subject="Hi", text=LONG + "x"),
        E.InvalidTextError,
        "100001 characters",
        "at most 100000",
    ),
    bad(
        "cabinet.tickets",
        "message with a control character",
        lambda w: w.owner.tickets.open(department="technical", subject="Hi", text="a\x1bb"),
        E.InvalidTextError,
        "U+001B",
        "line breaks and tabs only",
    ),
    bad(
        "cabinet.tickets",
        "reply to an unknown ticket",
        lambda w: w.owner.tickets.reply("t-404", "Hello"),
        E.NotFoundError,
        "'t-404'",
        "no ticket",
    ),
    bad(
        "cabinet.users",
        "user id with a NUL",
        lambda w: w.owner.users.add("u\x00", "New", "new@example.com"),
        E.InvalidTextError,
        "'u\\x00'",
        "non-empty printable id",
    ),
    bad(
        "cabinet.users",
        "user name of 100 000 characters",
        lambda w: w.owner.users.add("u-new", LONG, "new@example.com"),
        E.InvalidTextError,
        "100000 characters",
        "at most 200",
    ),
    bad(
        "cabinet.users",
        "malformed email",
        lambda w: w.owner.users.add("u-new", "New", "not an email"),
        E.ValidationError,
        "'not an email'",
        "name@example.com",
    ),
    bad(
        "cabinet.users",
        "unknown right",
        lambda w: w.owner.users.add("u-new", "New", "new@example.com", ["root"]),
        E.ValidationError,
        "root",
        "invoices.pay",
    ),
    bad(
        "cabinet.profile",
        "last name with a NUL",
        lambda w: w.owner.profile.change_name("Fa\x00iry", "Jill"),
        E.InvalidTextError,
        "'Fa\\x00iry'",
        "NUL",
    ),
    bad(
        "cabinet.profile",
        "first name with a bidi override",
        lambda w: w.owner.profile.change_name("Fairy", f"Ji{RLO}ll"),
        E.InvalidTextError,
        "U+202E",
        "bidirectional",
    ),
    bad(
        "cabinet.profile",
        "unknown language",
        lambda w: w.owner.profile.change_language("xx"),
        E.ValidationError,
        "'xx'",
        "en",
    ),
    bad(
        "cabinet.profile",
        "unknown currency",
        lambda w: w.owner.profile.change_currency("XYZ"),
        E.CurrencyMismatchError,
        "XYZ",
        "expected RUB or EUR",
    ),
    bad(
        "cabinet.security",
        "malformed allowlist",
        lambda w: w.owner.security.set_ip_allowlist("10.0.0.300"),
        E.ValidationError,
        "10.0.0.300",
        "address",
    ),
    # ------------------------------------------------------------------ more of the cabinet and the provider
    bad(
        "cabinet.tickets",
        "unknown tab",
        lambda w: w.owner.tickets.list("bogus"),
        E.ValidationError,
        "'bogus'",
        "expected one of all",
    ),
    bad(
        "cabinet.tickets",
        "unknown priority",
        lambda w: w.owner.tickets.open(
            department="technical", subject="a", text="b", priority="urgent!"
        ),
        E.ValidationError,
        "'urgent!'",
        "expected one of normal",
    ),
    bad(
        "cabinet.tickets",
        "unknown department",
        lambda w: w.owner.tickets.open(department="sales", subject="a", text="b"),
        E.ValidationError,
        "'sales'",
        "finance, technical",
    ),
    bad(
        "cabinet.tickets",
        "attachments as a str",
        lambda w: w.owner.tickets.open(
            department="technical", subject="a", text="b", attachments="file"
        ),
        E.ValidationError,
        "attachments=",
        "TicketAttachment",
    ),
    bad(
        "cabinet.documents",
        "credit notes cursor that is no note",
        lambda w: w.owner.documents.credit_notes(after="cre-404"),
        E.ValidationError,
        "after='cre-404'",
        "next_after of a previous page",
    ),
    bad(
        "cabinet.documents",
        "reconciliation days as text",
        lambda w: w.owner.documents.reconciliation("RUB", "2024-03-01", date(2024, 4, 1)),
        E.InvalidArgumentError,
        "start='2024-03-01'",
        "expected a date",
    ),
    bad(
        "cabinet.documents",
        "reconciliation currency as a number",
        lambda w: w.owner.documents.reconciliation(643, date(2024, 3, 1), date(2024, 4, 1)),
        E.InvalidArgumentError,
        "currency=643",
        "ISO 4217 code",
    ),
    bad(
        "cabinet.documents",
        "reconciliation ending before it starts",
        lambda w: w.owner.documents.reconciliation("RUB", date(2024, 4, 1), date(2024, 3, 1)),
        E.ValidationError,
        "2024, 3, 1",
        "must be after the start",
    ),
    bad(
        "cabinet.security",
        "allowlist as a number",
        lambda w: w.owner.security.set_ip_allowlist(167772161),
        E.InvalidArgumentError,
        "text=167772161",
        "the allowlist as text",
    ),
    bad(
        "cabinet.security",
        "empty code word",
        lambda w: w.owner.security.set_code_word(""),
        E.ValidationError,
        "<hidden>",
        "non-empty text",
    ),
    bad(
        "cabinet.payers",
        "a payer as a str",
        lambda w: w.owner.payers.add("TOV Romashka"),
        E.InvalidArgumentError,
        "payer='TOV Romashka'",
        "a Payer(",
    ),
    bad(
        "cabinet.payments",
        "card to bind as a str",
        lambda w: w.owner.payments.bind_card("4242 4242 4242 4242"),
        E.InvalidArgumentError,
        "'4242 4242 4242 4242'",
        "a SavedPaymentMethod(",
    ),
    bad(
        "cabinet.payments",
        "return address as a number",
        lambda w: w.owner.payments.top_up(rub("100.00"), "wallet", return_url=5),
        E.InvalidTextError,
        "return_url=5",
        "must be text",
    ),
    bad(
        "cabinet.payments",
        "return address of 3000 characters",
        lambda w: w.owner.payments.top_up(
            rub("100.00"), "wallet", return_url="https://x.test/" + "a" * 3000
        ),
        E.InvalidTextError,
        "3015 characters",
        "at most 2048",
    ),
    bad(
        "cabinet.services",
        "renewal periods as text",
        lambda w: w.owner.services.renew(w.service_id, periods="2"),
        E.InvalidArgumentError,
        "periods='2'",
        "from 1 to 120",
    ),
    bad(
        "cabinet.services",
        "auto-renewal default as a str",
        lambda w: w.owner.services.set_auto_renewal_default("yes"),
        E.ValidationError,
        "enabled='yes'",
        "True or False",
    ),
    bad(
        "cabinet.profile",
        "malformed phone",
        lambda w: w.owner.profile.change_phone("call me"),
        E.ValidationError,
        "'call me'",
        "7 to 15 digits",
    ),
    bad(
        "cabinet.profile",
        "address as a str",
        lambda w: w.owner.profile.change_postal_address("Moscow"),
        E.ValidationError,
        "'Moscow'",
        "PostalAddress(",
    ),
    bad(
        "cabinet.profile",
        "unknown mailbox purpose",
        lambda w: w.owner.profile.set_notification_email("spam", "a@example.com"),
        E.ValidationError,
        "'spam'",
        "invoices_and_orders",
    ),
    bad(
        "billing.run",
        "progress that is not a function",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), progress="50%"),
        E.InvalidArgumentError,
        "progress='50%'",
        "a function of (done, total)",
    ),
    bad(
        "billing.run",
        "delivery instant as text",
        lambda w: w.s.billing.run.deliver("now"),
        E.ValidationError,
        "now='now'",
        "aware datetime",
    ),
    bad(
        "billing.run",
        "delivery instant without a time zone",
        lambda w: w.s.billing.run.deliver(datetime(2024, 3, 6)),  # noqa: DTZ001 - the bad input
        E.ValidationError,
        "datetime.datetime(2024, 3, 6, 0, 0)",
        "aware datetime",
    ),
    bad(
        "billing.run",
        "outbox retention as a number of days",
        lambda w: w.s.billing.run.purge_outbox(30),
        E.ValidationError,
        "older_than=30",
        "a timedelta of at least 1 day",
    ),
    bad(
        "billing.run",
        "outbox retention under a day",
        lambda w: w.s.billing.run.purge_outbox(timedelta(hours=1)),
        E.ValidationError,
        "older_than=datetime.timedelta(seconds=3600)",
        "at least 1 day",
    ),
    bad(
        "billing.login",
        "no address",
        lambda w: w.s.billing.login(ACCOUNT, OWNER, ip=None),
        E.ValidationError,
        "ip=None",
        "recorded with the address",
    ),
    bad(
        "billing.login",
        "malformed address",
        lambda w: w.s.billing.login(ACCOUNT, OWNER, ip="junk"),
        E.ValidationError,
        "'junk'",
        "IPv4 or IPv6",
    ),
    bad(
        "billing.staff",
        "code word reset by nobody",
        lambda w: w.s.billing.staff.reset_code_word(ACCOUNT, by="", reason="lost"),
        E.ValidationError,
        "by=''",
        "non-empty text",
    ),
    bad(
        "billing.staff",
        "outbox of an unknown status",
        lambda w: w.s.billing.staff.outbox("failed"),
        E.ValidationError,
        "status='failed'",
        "expected one of pending, delivered, given_up",
    ),
    bad(
        "billing.staff",
        "retrying an unknown outbox message",
        lambda w: w.s.billing.staff.retry_message("ticket.opened:none"),
        E.NotFoundError,
        "'ticket.opened:none'",
        "no outbox message",
    ),
    bad(
        "billing.staff",
        "retrying an outbox message by no key",
        lambda w: w.s.billing.staff.retry_message(""),
        E.InvalidTextError,
        "key=''",
        "must not be empty",
    ),
    bad(
        "billing.staff",
        "outbox cursor that is no message's key",
        lambda w: w.s.billing.staff.outbox(after="nothing"),
        E.ValidationError,
        "after='nothing'",
        "next_after of a previous page",
    ),
    bad(
        "billing.staff",
        "profile type as a str",
        lambda w: w.s.billing.staff.change_profile_type(ACCOUNT, "company"),
        E.ValidationError,
        "'company'",
        "ProfileType.COMPANY",
    ),
    # ------------------------------------------------------------------ billing.run
    bad(
        "billing.run",
        "day as text",
        lambda w: w.s.billing.run.day("2024-03-06"),
        E.InvalidArgumentError,
        "day='2024-03-06'",
        "expected a date such as date(2024, 3, 2)",
    ),
    bad(
        "billing.run",
        "day as a datetime",
        lambda w: w.s.billing.run.day(datetime(2024, 3, 6, tzinfo=UTC)),
        E.InvalidArgumentError,
        "datetime.datetime(2024, 3, 6",
        "a day, not a datetime",
    ),
    bad(
        "billing.run",
        "day as a number",
        lambda w: w.s.billing.run.day(20240306),
        E.InvalidArgumentError,
        "day=20240306",
        "expected a date",
    ),
    bad(
        "billing.run",
        "batch size 0",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), batch_size=0),
        E.InvalidArgumentError,
        "batch_size=0",
        "from 1 to 100000",
    ),
    bad(
        "billing.run",
        "batch size as text",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), batch_size="5"),
        E.InvalidArgumentError,
        "batch_size='5'",
        "from 1 to 100000",
    ),
    bad(
        "billing.run",
        "commit_every 0",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), commit_every=0),
        E.InvalidArgumentError,
        "commit_every=0",
        "from 1 to 100000",
    ),
    bad(
        "billing.run",
        "accounts as one str",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), accounts=ACCOUNT),
        E.InvalidArgumentError,
        "'acc-1'",
        "expected a list of account ids",
    ),
    bad(
        "billing.run",
        "account id as a number",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), accounts=[ACCOUNT, 7]),
        E.InvalidArgumentError,
        "accounts[1]=7",
        "account ids",
    ),
    bad(
        "billing.run",
        "account id with a NUL",
        lambda w: w.s.billing.run.day(date(2024, 3, 6), accounts=["acc\x00"]),
        E.InvalidTextError,
        "'acc\\x00'",
        "NUL",
    ),
    # ------------------------------------------------------------------ billing.webhooks
    bad(
        "billing.webhooks",
        "body as text",
        lambda w: w.s.billing.webhooks.handle(w.webhook()[0], w.webhook()[1].decode()),
        E.InvalidArgumentError,
        "body=",
        "as bytes",
    ),
    bad(
        "billing.webhooks",
        "headers None",
        lambda w: w.s.billing.webhooks.handle(None, w.webhook()[1]),
        E.InvalidArgumentError,
        "headers=None",
        "mapping of str to str",
    ),
    bad(
        "billing.webhooks",
        "headers as a list",
        lambda w: w.s.billing.webhooks.handle([("a", "b")], b"{}"),
        E.InvalidArgumentError,
        "[('a', 'b')]",
        "mapping of str to str",
    ),
    bad(
        "billing.webhooks",
        "header value as bytes",
        lambda w: w.s.billing.webhooks.handle({"X-Sandbox-Signature": b"ab"}, b"{}"),
        E.InvalidArgumentError,
        "b'ab'",
        "as str",
    ),
    bad(
        "billing.webhooks",
        "body over 256 KiB",
        lambda w: w.s.billing.webhooks.handle({}, b"x" * (MAX_CALLBACK_BYTES + 1)),
        E.InvalidArgumentError,
        f"{MAX_CALLBACK_BYTES + 1} bytes",
        f"at most {MAX_CALLBACK_BYTES} bytes",
    ),
    bad(
        "billing.webhooks",
        "event id of 1 MB",
        lambda w: w.s.billing.webhooks.handle({}, b'{"id": "' + b"e" * 1_000_000 + b'"}'),
        E.InvalidArgumentError,
        "bytes",
        f"at most {MAX_CALLBACK_BYTES} bytes",
    ),
    bad(
        "billing.webhooks",
        "event id of 201 characters",
        lambda w: w.s.billing.webhooks.handle(*w.webhook(event_key=ID_201)),
        E.InvalidTextError,
        "201 characters",
        "at most 200",
    ),
    bad(
        "billing.webhooks",
        "event id with a NUL",
        lambda w: w.s.billing.webhooks.handle(*w.webhook(event_key="evt\x00")),
        E.InvalidTextError,
        "'evt\\x00'",
        "NUL",
    ),
    bad(
        "billing.webhooks",
        "payment id with a NUL",
        lambda w: w.s.billing.webhooks.handle(*w.webhook(payment_id="pay\x00")),
        E.InvalidTextError,
        "'pay\\x00'",
        "NUL",
    ),
    bad(
        "billing.webhooks",
        "unsigned callback",
        lambda w: w.s.billing.webhooks.handle({}, w.webhook()[1]),
        E.InvalidWebhookError,
        "X-Sandbox-Signature",
        "refused",
    ),
    bad(
        "billing.webhooks",
        "signature of another body",
        lambda w: w.s.billing.webhooks.handle(w.webhook()[0], w.webhook()[1] + b" "),
        E.InvalidWebhookError,
        "signature does not match",
        "refused",
    ),
    bad(
        "billing.webhooks",
        "unknown payment",
        lambda w: w.s.billing.webhooks.handle(*w.webhook(payment_id="pay-404")),
        E.NotFoundError,
        "'pay-404'",
        "no payment",
    ),
    bad(
        "billing.webhooks",
        "event id reused with other content",
        lambda w: w.s.billing.webhooks.handle(
            *w.webhook(event_key="evt-credited", kind=PaymentEventKind.FAILED)
        ),
        E.EventIdReusedError,
        "'evt-credited'",
        "may be delivered again only with the same content",
    ),
    bad(
        "billing.webhooks",
        "refund of more than was paid",
        lambda w: w.s.billing.webhooks.handle(
            *w.webhook(kind=PaymentEventKind.REFUNDED, amount=rub("5000.00"))
        ),
        E.InvalidAmountError,
        "5000.00 RUB",
        "only 1000.00 RUB left to refund",
    ),
    # ------------------------------------------------------------------ billing.bank
    bad(
        "billing.bank",
        "statement as text",
        lambda w: w.s.billing.bank.match("line 1"),
        E.InvalidArgumentError,
        "'line 1'",
        "expected a list of StatementLine",
    ),
    bad(
        "billing.bank",
        "statement line as a str",
        lambda w: w.s.billing.bank.match(["line 1"]),
        E.InvalidArgumentError,
        "lines[0]='line 1'",
        "expected StatementLine",
    ),
    bad(
        "billing.bank",
        "statement as a mapping",
        lambda w: w.s.billing.bank.match({"l-1": None}),
        E.InvalidArgumentError,
        "{'l-1': None}",
        "expected a list of StatementLine",
    ),
    bad(
        "billing.bank",
        "statement None",
        lambda w: w.s.billing.bank.match(None),
        E.InvalidArgumentError,
        "lines=None",
        "expected a list of StatementLine",
    ),
    bad(
        "StatementLine",
        "amount as a str",
        lambda w: StatementLine("l-1", date(2024, 3, 5), "100.00", "HOR-1", ""),
        E.ValidationError,
        "'100.00'",
        "Money",
    ),
    # ------------------------------------------------------------------ billing.staff
    bad(
        "billing.staff",
        "balance of an account id with a NUL",
        lambda w: w.s.billing.staff.balance("acc\x00", "RUB"),
        E.InvalidTextError,
        "'acc\\x00'",
        "NUL",
    ),
    bad(
        "billing.staff",
        "balance in a currency given as a number",
        lambda w: w.s.billing.staff.balance(ACCOUNT, 643),
        E.InvalidArgumentError,
        "currency=643",
        "ISO 4217 code",
    ),
    bad(
        "billing.staff",
        "balance of an unknown account",
        lambda w: w.s.billing.staff.balance("acc-404", "RUB"),
        E.NotFoundError,
        "'acc-404'",
        "no account",
    ),
    bad(
        "billing.staff",
        "credit limit as a str",
        lambda w: w.s.billing.staff.open_credit_line(ACCOUNT, "5000"),
        E.InvalidArgumentError,
        "limit='5000'",
        "expected a Money amount",
    ),
    bad(
        "billing.staff",
        "credit limit float-backed",
        lambda w: w.s.billing.staff.open_credit_line(ACCOUNT, FLOAT_BACKED),
        E.InvalidAmountError,
        "0.1000000000000000055",
        "the float 0.1",
    ),
    bad(
        "billing.staff",
        "credit limit in another currency",
        lambda w: w.s.billing.staff.open_credit_line(ACCOUNT, Money("50.00", "EUR")),
        E.CurrencyMismatchError,
        "EUR",
        "RUB",
    ),
    bad(
        "billing.staff",
        "unknown country",
        lambda w: w.s.billing.staff.change_country(ACCOUNT, "XX"),
        E.ValidationError,
        "'XX'",
        "ISO 3166-1",
    ),
    bad(
        "billing.staff",
        "malformed email",
        lambda w: w.s.billing.staff.change_email(ACCOUNT, "nobody"),
        E.ValidationError,
        "'nobody'",
        "name@example.com",
    ),
    bad(
        "billing.staff",
        "confirming a deletion nobody asked for",
        lambda w: w.s.billing.staff.confirm_deletion(ACCOUNT, by="ops"),
        E.ConflictError,
        "'acc-1'",
        "deletion",
    ),
    bad(
        "billing.staff",
        "closing a ticket id with a NUL",
        lambda w: w.s.billing.staff.close_ticket(ACCOUNT, "t\x00"),
        E.InvalidTextError,
        "'t\\x00'",
        "NUL",
    ),
    bad(
        "billing.staff",
        "ownership to a user id with a NUL",
        lambda w: w.s.billing.staff.transfer_ownership(ACCOUNT, "u\x00"),
        E.InvalidTextError,
        "'u\\x00'",
        "NUL",
    ),
    # ------------------------------------------------------------------ billing.pay_links
    bad(
        "billing.pay_links",
        "malformed link",
        lambda w: w.s.billing.pay_links.open("junk"),
        E.InvalidPayLinkError,
        "'junk'",
        "expected <key id>.<payload>.<signature>",
    ),
    bad(
        "billing.pay_links",
        "altered link",
        lambda w: w.s.billing.pay_links.open(
            w.pay_link[:-2] + ("AA" if not w.pay_link.endswith("AA") else "BB")
        ),
        E.InvalidPayLinkError,
        "'k1.",
        "the signature does not match",
    ),
    bad(
        "billing.pay_links",
        "link as a number",
        lambda w: w.s.billing.pay_links.open(5),
        E.InvalidPayLinkError,
        "'5'",
        "a string of URL-safe characters",
    ),
    bad(
        "billing.pay_links",
        "link of 1 MB",
        lambda w: w.s.billing.pay_links.open("x" * 1_000_000),
        E.InvalidPayLinkError,
        "'xxxxxxxxxxxx...'",
        "expected <key id>.<payload>.<signature>",
    ),
    bad(
        "billing.pay_links",
        "paying by an unknown method",
        lambda w: w.s.billing.pay_links.pay(w.pay_link, "crypto"),
        E.NotFoundError,
        "'crypto'",
        "offered",
    ),
    # ------------------------------------------------------------------ Scenario
    bad(
        "Scenario",
        "TOML syntax error",
        scenario("preset = = 1\n"),
        E.InvalidScenarioError,
        "'preset = = 1\\n'",
        "is not valid TOML",
    ),
    bad(
        "Scenario",
        "a bare word for a string",
        scenario("preset = introserv\n"),
        E.InvalidScenarioError,
        "introserv",
        "is not valid TOML",
    ),
    bad(
        "Scenario",
        "steps that are not tables",
        scenario("step = [1, 2]\n"),
        E.InvalidScenarioError,
        "step=[1, 2]",
        "expected [[step]] tables",
    ),
    bad(
        "Scenario",
        "preset as a number",
        scenario("preset = 5\n"),
        E.InvalidScenarioError,
        "preset=5",
        "astra_cloud, horoshop, introserv",
    ),
    bad(
        "Scenario",
        "unknown preset",
        scenario('preset = "nope"\n'),
        E.NotFoundError,
        "'nope'",
        "astra_cloud, horoshop, introserv",
    ),
    bad(
        "Scenario",
        "unknown top-level key",
        scenario('colour = "red"\n'),
        E.InvalidScenarioError,
        "['colour']",
        "allowed keys: preset, start",
    ),
    bad(
        "Scenario",
        "title as a number",
        scenario("title = 5\n"),
        E.InvalidScenarioError,
        "title=5",
        "expected text",
    ),
    bad(
        "Scenario",
        "start that is not a date",
        scenario('start = "soon"\n'),
        E.ValidationError,
        "'soon'",
        "expected a date such as 2024-03-01",
    ),
    bad(
        "Scenario",
        "unknown step",
        scenario('[[step]]\ndo = "teleport"\n'),
        E.InvalidScenarioError,
        "'teleport'",
        "allowed: account, top_up",
    ),
    bad(
        "Scenario",
        "step without do",
        scenario("[[step]]\nid = 'acc-1'\n"),
        E.InvalidScenarioError,
        "''",
        "allowed: account, top_up",
    ),
    bad(
        "Scenario",
        "step with an unknown argument",
        scenario('[[step]]\ndo = "cycle"\ncolour = "red"\n'),
        E.InvalidScenarioError,
        "['colour']",
        "unexpected keyword argument 'colour'",
    ),
    bad(
        "Scenario",
        "step missing an argument",
        scenario('[[step]]\ndo = "top_up"\naccount = "acc-1"\n'),
        E.InvalidScenarioError,
        "['account_id']",
        "missing a required argument: 'amount'",
    ),
    bad(
        "Scenario",
        "card outcomes as one str",
        scenario('[[step]]\ndo = "script_card"\ntoken = "t"\noutcomes = "approve"\n'),
        E.InvalidScenarioError,
        "'approve'",
        "expected a list",
    ),
    bad(
        "Scenario",
        f"more than {MAX_STEPS} steps",
        scenario('[[step]]\ndo = "cycle"\n' * 20_000),
        E.InvalidScenarioError,
        "20000 steps",
        f"at most {MAX_STEPS} steps",
    ),
    bad(
        "Scenario",
        "a step on an account never opened",
        run_scenario('[[step]]\ndo = "top_up"\naccount = "nope"\namount = "10 EUR"\n'),
        E.NotFoundError,
        "'nope'",
        "open it with an account step first",
    ),
    bad(
        "Scenario",
        "a float amount in a step",
        run_scenario(STEPS + '[[step]]\ndo = "top_up"\naccount = "acc-1"\namount = 10.5\n'),
        E.ValidationError,
        "10.5",
        "no floats",
    ),
    bad(
        "Scenario",
        "an account id with a NUL",
        run_scenario('[[step]]\ndo = "account"\nid = "a\\u0000"\n'),
        E.InvalidTextError,
        "'a\\x00'",
        "NUL",
    ),
    bad(
        "Scenario",
        "source that is neither text nor a path",
        lambda w: Scenario.from_toml(b"preset = 1"),
        E.InvalidScenarioError,
        "b'preset = 1'",
        "expected TOML text or a path",
    ),
]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_is_refused_by_name_and_changes_nothing(world: World, case: Bad) -> None:
    before = committed(world)
    with pytest.raises(E.BillingError) as info:
        case.call(world)
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for text in case.shows:
        assert text in message, f"{text!r} not in {message!r}"
    assert committed(world) == before


def test_the_catalogue_has_150_distinct_kinds() -> None:
    kinds = [(case.area, case.kind) for case in CASES] + [("cli", c.kind) for c in COMMANDS]
    assert len(set(kinds)) == len(kinds)
    assert len(kinds) >= 150


# --------------------------------------------------------------------------- the command line


@attrs.frozen
class BadCommand:
    """One kind of bad input to ``cabinet-billing``: one line on stderr, exit 2."""

    kind: str
    argv: tuple[str, ...]
    file: bytes | None
    shows: tuple[str, ...]


COMMANDS = [
    BadCommand(
        "a binary file", ("simulate", "{file}"), b"\x00\xff\xfe\x00", ("is not UTF-8 text",)
    ),
    BadCommand(
        "a TOML syntax error", ("simulate", "{file}"), b"preset = = 1\n", ("is not valid TOML",)
    ),
    BadCommand(
        "steps that are not tables",
        ("simulate", "{file}"),
        b"step = 5\n",
        ("expected [[step]] tables",),
    ),
    BadCommand(
        "a step on an account never opened",
        ("simulate", "{file}"),
        b'[[step]]\ndo = "top_up"\naccount = "x"\namount = "1 EUR"\n',
        ("'x'", "open it with an account step first"),
    ),
    BadCommand(
        "a malformed amount in a step",
        ("simulate", "{file}"),
        b'[[step]]\ndo = "account"\nid = "a"\n[[step]]\ndo = "top_up"\naccount = "a"\namount = "1_000 EUR"\n',
        ("'1_000'", "ASCII digits"),
    ),
    BadCommand(
        "a missing file",
        ("simulate", "{missing}"),
        None,
        ("cannot read scenario file", "No such file"),
    ),
    BadCommand(
        "a directory for a file", ("simulate", "{dir}"), None, ("cannot read scenario file",)
    ),
    BadCommand(
        "a billion accounts",
        ("simulate", "--preset", "introserv", "--accounts", "1000000000"),
        None,
        ("--accounts 1000000000", "at most 100000"),
    ),
    BadCommand(
        "no accounts",
        ("simulate", "--preset", "introserv", "--accounts", "0"),
        None,
        ("--accounts 0", "1 or more"),
    ),
    BadCommand(
        "a thousand years",
        ("simulate", "--preset", "introserv", "--months", "12000"),
        None,
        ("--months 12000", "at most 120"),
    ),
    BadCommand(
        "an unknown preset",
        ("simulate", "--preset", "nope"),
        None,
        ("'nope'", "astra_cloud, horoshop, introserv"),
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.kind)
def test_the_command_line_refuses_bad_input_in_one_line(
    command: BadCommand, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "story.toml"
    if command.file is not None:
        path.write_bytes(command.file)
    names = {"file": str(path), "missing": str(tmp_path / "missing.toml"), "dir": str(tmp_path)}
    code = main([arg.format(**names) for arg in command.argv])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("cabinet-billing simulate: error: ")
    assert err.count("\n") == 1
    for text in command.shows:
        assert text in err


# --------------------------------------------------------------------------- the docs


def documented() -> set[tuple[str, str, str]]:
    """The (area, kind, error) rows of the catalogue table in docs/errors.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Bad input, kind by kind", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \| `([^`]+)` \|$", section, re.MULTILINE)
    return {(area, kind, error) for area, kind, error in rows}


def test_the_docs_list_every_kind() -> None:
    expected = {(c.area, c.kind, c.error.__name__) for c in CASES}
    expected |= {("cabinet-billing", c.kind, "exit 2") for c in COMMANDS}
    found = documented()
    assert found == expected, (
        f"docs/errors.md, 'Bad input, kind by kind': add {sorted(expected - found)}, "
        f"drop {sorted(found - expected)}"
    )


def test_the_docs_list_every_error_class() -> None:
    text = DOCS.read_text(encoding="utf-8").split("## Bad input, kind by kind", 1)[0]
    listed = set(re.findall(r"^\| `(\w+Error)` \|", text, re.MULTILINE))
    classes = {
        name
        for name, value in vars(E).items()
        if isinstance(value, type) and issubclass(value, E.BillingError)
    }
    assert listed == classes, (
        f"docs/errors.md, 'The error classes': add {sorted(classes - listed)}, "
        f"drop {sorted(listed - classes)}"
    )
