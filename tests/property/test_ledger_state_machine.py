from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cabinet_billing import BillingError, Money, Payment, PaymentStatus
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.fx import ExchangeRate, convert
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.money import sum_money
from cabinet_billing.domain.payment import TRANSITIONS, EventOutcome, GatewayEvent, PaymentEventKind

AT = datetime(2024, 3, 1, tzinfo=UTC)
AMOUNTS = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger("acc-1")
        self.model: dict[str, Decimal] = {}
        self.book = ExpenseBook("acc-1")
        self.paid_in = Decimal(0)
        self.spent = Decimal(0)
        self.n = 0

    def _add(self, code: str, delta: Decimal) -> None:
        self.model[code] = self.model.get(code, Decimal(0)) + delta

    @rule(amount=AMOUNTS, code=st.sampled_from(["EUR", "RUB"]), key=st.integers(0, 5))
    def top_up(self, amount: Decimal, code: str, key: int) -> None:
        before = len(self.ledger)
        try:
            self.ledger.top_up(Money(amount, code), AT, key=f"k{key}")
        except BillingError:
            assert len(self.ledger) == before
            return
        if len(self.ledger) > before:
            self._add(code, amount)

    @rule(amount=AMOUNTS, code=st.sampled_from(["EUR", "RUB"]))
    def charge(self, amount: Decimal, code: str) -> None:
        self.ledger.charge(Money(amount, code), AT)
        self._add(code, -amount)

    @precondition(lambda self: len(self.ledger) > 0)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        seq = data.draw(st.integers(1, len(self.ledger)))
        before = len(self.ledger)
        try:
            entry = self.ledger.reverse(seq, AT)
        except BillingError:
            assert len(self.ledger) == before
            return
        self._add(entry.amount.code, entry.amount.amount)

    @rule(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**4), places=2))
    def convert_eur_to_rub(self, amount: Decimal) -> None:
        rate = ExchangeRate("EUR", "RUB", "98.555", date(2024, 3, 1))
        conversion = convert(Money(amount, "EUR"), "RUB", rate)
        self.ledger.convert(conversion, AT)
        self._add("EUR", -amount)
        self._add("RUB", conversion.target.amount)
        # value is neither created nor destroyed: what rounding kept is on record
        assert conversion.exact - conversion.target == conversion.difference

    @rule(amount=AMOUNTS)
    def expense(self, amount: Decimal) -> None:
        self.n += 1
        self.book.add(Expense(f"e{self.n}", "acc-1", "svc", date(2024, 1, 1), Money(amount, "RUB")))
        self.spent += amount

    @rule(amount=AMOUNTS)
    def fund(self, amount: Decimal) -> None:
        self.n += 1
        self.book.fund(f"p{self.n}", Money(amount, "RUB"))
        self.paid_in += amount

    @invariant()
    def balance_is_the_sum_of_entries(self) -> None:
        for code in ("EUR", "RUB"):
            expected = sum_money(
                (e.amount for e in self.ledger.entries(code)),
                code,
            )
            assert self.ledger.balance(code) == expected
            assert self.ledger.balance(code).amount == self.model.get(code, Decimal(0))
        assert self.ledger.verify()

    @invariant()
    def funds_minus_unpaid_is_payments_minus_expenses(self) -> None:
        totals = self.book.totals("RUB")
        assert self.book.available("RUB").amount - totals.unpaid.amount == (
            self.paid_in - self.spent
        )
        # an expense is never paid beyond its amount, and a fund never goes negative
        for e in self.book.expenses("RUB"):
            assert Money(0, "RUB") <= e.unpaid <= e.amount
        assert not (self.book.available("RUB").amount > 0 and totals.unpaid.amount > 0), (
            "money sat unspent while expenses were unpaid"
        )


TestLedger = pytest.mark.spec("L1", "L3", "M4")(LedgerMachine.TestCase)


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.payment = Payment.top_up("p", "a", Money("10", "EUR"), AT)
        self.seen: set[str] = set()

    @rule(kind=st.sampled_from(PaymentEventKind), key=st.integers(0, 8))
    def event(self, kind: PaymentEventKind, key: int) -> None:
        before = (self.payment.status, len(self.payment.history))
        try:
            result = self.payment.apply(GatewayEvent(f"k{key}", kind, AT))
        except BillingError:
            assert (self.payment.status, len(self.payment.history)) == before
            return
        if f"k{key}" in self.seen:
            assert result.outcome is EventOutcome.DUPLICATE
        if result.outcome is not EventOutcome.APPLIED:
            assert (self.payment.status, len(self.payment.history)) == before
        else:
            assert self.payment.status in TRANSITIONS[before[0]]
        self.seen.add(f"k{key}")

    @invariant()
    def history_replays_to_the_status(self) -> None:
        status = PaymentStatus.NEW
        for t in self.payment.history:
            assert t.before is status
            assert t.after in TRANSITIONS[status]
            status = t.after
        assert status is self.payment.status


TestPayment = pytest.mark.spec("L6")(PaymentMachine.TestCase)
