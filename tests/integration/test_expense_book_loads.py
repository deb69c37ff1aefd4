"""Booking an expense reads the unpaid expenses only, however long the paid history is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cabinet_billing import Account, BillingSettings, Money, Period, Service
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import mapping
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.service import Actor
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.presets import INTROSERV

pytestmark = pytest.mark.spec("L3")

AT = datetime(2024, 1, 1, 9, tzinfo=UTC)
PAID = 10_000


def _eur(amount: str) -> Money:
    return Money(amount, "EUR")


def _wire(
    unit_of_work: Callable[[], UnitOfWork], *, billed: str | None = None, now: datetime = AT
) -> Billing:
    """One account with 10,000 paid expenses, one unpaid one, and a service due Feb 1.

    The paid ones are in the act ``billed`` when it is given.
    """
    with unit_of_work() as uow:
        uow.accounts.add(Account.open("acc-1", "u1", currency="EUR"))
        uow.ledgers.get("acc-1").top_up(_eur("1000.00"), AT)
        book = uow.expenses.get("acc-1")
        book.fund("pay-0", _eur("100.00"))
        for n in range(PAID):
            charged = date(2023, 1, 1) + timedelta(days=n % 365)
            old = Expense(f"old-{n}", "acc-1", "VPS", charged, _eur("0.0100"), act_id=billed)
            book.add(old)
        book.add(Expense("owed", "acc-1", "VPS", date(2024, 1, 1), _eur("5.0000")))
        service = Service.order(
            id="ser-1",
            account_id="acc-1",
            plan_id="vps",
            plan_name="VPS",
            kind="vps",
            price=_eur("30.00"),
            period=Period.months(),
            created_at=AT,
            actor=Actor.system(),
            auto_renew=True,
        )
        service.mark_paid(date(2024, 2, 1), Actor.system(), AT)
        service.activate(Actor.system(), AT)
        uow.services.add(service)
        uow.commit()
    return Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=FixedClock(now),
            gateway=SandboxGateway(b"book: a sandbox signing key of 32+ bytes"),
            rates=FixedRates(INTROSERV.exchange_rates),
        ),
        BillingSettings.from_preset(INTROSERV),
    )


def _count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables of the stored rows decoded from now on (SQL stores)."""
    decoded: list[str] = []
    load = mapping._load_payload

    def counting(text: str | None, table: str, *args: Any) -> dict[str, Any]:
        decoded.append(table)
        return load(text, table, *args)

    monkeypatch.setattr(mapping, "_load_payload", counting)
    return decoded


def test_a_renewal_reads_only_the_unpaid_expenses(
    billing_unit_of_work: Callable[[], UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    billing = _wire(billing_unit_of_work)
    decoded = _count_decoded(monkeypatch)
    summary = billing.run.day(date(2024, 2, 1), accounts=["acc-1"])
    monkeypatch.undo()
    assert (summary.renewals, summary.failures) == (1, ())
    # The expense book's rows read: the one unpaid expense, not the 10,000 paid ones.
    if not isinstance(billing_unit_of_work(), MemoryUnitOfWork):
        assert decoded.count("expenses") == 1
    with billing_unit_of_work() as uow:
        book = uow.expenses.get("acc-1")
        expenses = book.expenses("EUR")
        assert len(expenses) == PAID + 2
        assert [e.id for e in expenses[-2:]] == ["owed", expenses[-1].id]
        renewal = expenses[-1]
        assert (renewal.service_id, renewal.charged_on, renewal.amount) == (
            "ser-1",
            date(2024, 2, 1),
            _eur("30.0000"),
        )
        # The funds were spent on the old expenses: the renewal is owed after the older one.
        assert [e.id for e in book.unpaid("EUR")] == ["owed", renewal.id]
        assert book.totals("EUR").unpaid == _eur("35.0000")
        assert book.totals("EUR", until=date(2024, 1, 1)).total == _eur("100.0000")


def test_closing_a_month_reads_only_the_expenses_in_no_act(
    billing_unit_of_work: Callable[[], UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    billing = _wire(billing_unit_of_work, billed="act-2023", now=datetime(2024, 2, 2, tzinfo=UTC))
    decoded = _count_decoded(monkeypatch)
    (act,) = billing.staff.close_month("acc-1", date(2024, 1, 1))
    monkeypatch.undo()
    assert ([ln.charged_on for ln in act.lines], act.total.gross) == (
        [date(2024, 1, 1)],
        _eur("5.00"),
    )
    # The one expense in no act, not the 10,000 in the acts of 2023.
    if not isinstance(billing_unit_of_work(), MemoryUnitOfWork):
        assert decoded.count("expenses") == 1
    with billing_unit_of_work() as uow:
        book = uow.expenses.get("acc-1")
        assert book.get("owed").act_id == act.id
        assert {e.act_id for e in book.expenses()} == {"act-2023", act.id}
    assert billing.staff.close_month("acc-1", date(2024, 1, 1)) == ()
