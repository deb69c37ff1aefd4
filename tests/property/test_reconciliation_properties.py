from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing import Money
from cabinet_billing.domain.documents import ReconciliationSide, build_reconciliation
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.money import sum_money

pytestmark = pytest.mark.spec("L8")

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
AMOUNTS = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)
KINDS = st.sampled_from(["top_up", "cashback", "charge", "refund", "adjust"])
MOVES = st.lists(
    st.tuples(
        KINDS,
        AMOUNTS,
        st.sampled_from(["RUB", "EUR"]),
        st.integers(min_value=0, max_value=120 * 24),
        st.booleans(),
    ),
    max_size=40,
)
DAYS = st.integers(min_value=0, max_value=130)


def build_ledger(moves: list[tuple[str, Decimal, str, int, bool]]) -> Ledger:
    ledger = Ledger("acc-1")
    for kind, amount, code, hours, negative in moves:
        money = Money(amount, code)
        at = EPOCH + timedelta(hours=hours)
        if kind == "adjust":
            ledger.adjust(-money if negative else money, at, memo="correction")
        else:
            getattr(ledger, kind)(money, at, ref=f"{kind}-{len(ledger) + 1}")
    return ledger


def balance_before(ledger: Ledger, code: str, day: date) -> Money:
    # The ledger's balance at the start of a day: the sum of every entry booked before it.
    return sum_money((e.amount for e in ledger.entries(code) if e.at.date() < day), code)


@given(moves=MOVES, first=DAYS, length=st.integers(min_value=1, max_value=60))
def test_closing_balance_is_opening_plus_credits_minus_debits_and_the_ledger_balance(
    moves: list[tuple[str, Decimal, str, int, bool]], first: int, length: int
) -> None:
    ledger = build_ledger(moves)
    start = EPOCH.date() + timedelta(days=first)
    end = start + timedelta(days=length)
    for code in ("RUB", "EUR"):
        s = build_reconciliation(
            ledger.entries(), account_id="acc-1", currency=code, start=start, end=end
        )
        assert s.opening == balance_before(ledger, code, start)
        assert s.closing == s.opening + s.credits - s.debits
        assert s.closing == balance_before(ledger, code, end)
        assert s.debits == sum_money((ln.debit for ln in s.lines), code)
        assert s.credits == sum_money((ln.credit for ln in s.lines), code)
        assert all(ln.amount.amount > 0 for ln in s.lines)
        assert all(start <= ln.on < end for ln in s.lines)
        assert [(ln.at, ln.seq) for ln in s.lines] == sorted((ln.at, ln.seq) for ln in s.lines)
        for ln in s.lines:
            signed = ln.amount if ln.side is ReconciliationSide.CREDIT else -ln.amount
            assert ledger.entry(ln.seq).amount == signed


@given(moves=MOVES, cuts=st.lists(DAYS, min_size=3, max_size=3, unique=True))
def test_consecutive_statements_chain(
    moves: list[tuple[str, Decimal, str, int, bool]], cuts: list[int]
) -> None:
    ledger = build_ledger(moves)
    a, b, c = (EPOCH.date() + timedelta(days=d) for d in sorted(cuts))
    first = build_reconciliation(
        ledger.entries(), account_id="acc-1", currency="RUB", start=a, end=b
    )
    second = build_reconciliation(
        ledger.entries(), account_id="acc-1", currency="RUB", start=b, end=c
    )
    whole = build_reconciliation(
        ledger.entries(), account_id="acc-1", currency="RUB", start=a, end=c
    )
    assert first.closing == second.opening
    assert whole.lines == first.lines + second.lines
    assert whole.debits == first.debits + second.debits
    assert whole.credits == first.credits + second.credits
    assert whole.closing == second.closing


@given(moves=MOVES)
def test_a_statement_over_everything_ends_at_the_ledger_balance(
    moves: list[tuple[str, Decimal, str, int, bool]],
) -> None:
    ledger = build_ledger(moves)
    s = build_reconciliation(
        reversed(ledger.entries()),
        account_id="acc-1",
        currency="EUR",
        start=EPOCH.date(),
        end=EPOCH.date() + timedelta(days=200),
    )
    assert s.opening == Money("0", "EUR")
    assert s.closing == ledger.balance("EUR")
    assert len(s.lines) == len(ledger.entries("EUR"))
