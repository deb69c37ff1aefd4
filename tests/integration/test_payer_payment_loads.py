"""Paying as a payer reads only the unpaid expenses, however long the paid history is.

The payer lock (SPEC A4: no other payer may pay while a payer's unpaid expenses are in
an act) needs the unpaid expenses only; a store that loads a book without its paid
expenses must not read them all for every top-up made in a payer's name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cabinet_billing import Account, BillingSettings, Money, PaymentMethod, PostalAddress
from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory import MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.adapters.sql import mapping
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.payer import Payer, PayerKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import PayerNotReplaceableError
from cabinet_billing.ports.repositories import UnitOfWork

pytestmark = pytest.mark.spec("A4")

AT = datetime(2024, 3, 5, 9, tzinfo=UTC)
PAID = 2_000


def _uah(amount: str) -> Money:
    return Money(amount, "UAH")


def _wire(unit_of_work: Callable[[], UnitOfWork], *, locked: bool) -> Billing:
    """An account with two payers and 2,000 paid expenses of the first in an act.

    With ``locked``, one more expense of the first payer is in the act and unpaid.
    """
    billing = Billing(
        Ports(
            unit_of_work=unit_of_work,
            clock=FixedClock(AT),
            gateway=SandboxGateway(b"payer: a sandbox signing key of 32+ bytes"),
        ),
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("UAH")),)
        ),
    )
    shop = Account.open("acc-1", "shop", email="o@shop.example", currency="UAH", country="UA")
    shop.change_name("Shevchenko", "Taras")
    shop.change_postal_address(PostalAddress("Kyiv", "01001", "Khreshchatyk 1"))
    billing.open_account(shop, owner_id="u-1", owner_name="Taras")
    cabinet = billing.cabinet("acc-1", "u-1")
    cabinet.payers.add(Payer("p-1", PayerKind.PRIVATE_PERSON, "UA", "Olena Koval"))
    cabinet.payers.add(Payer("p-2", PayerKind.PRIVATE_PERSON, "UA", "Ivan Petrenko"))
    with unit_of_work() as uow:
        book = uow.expenses.get("acc-1")
        book.fund("pay-0", _uah(str(PAID)))
        for n in range(PAID):
            charged = date(2023, 1, 1) + timedelta(days=n % 365)
            book.add(
                Expense(
                    f"old-{n}",
                    "acc-1",
                    "VPS",
                    charged,
                    _uah("1.0000"),
                    payer_id="p-1",
                    act_id="act-1",
                )
            )
        if locked:
            book.add(
                Expense(
                    "owed",
                    "acc-1",
                    "VPS",
                    date(2024, 2, 1),
                    _uah("5.0000"),
                    payer_id="p-1",
                    act_id="act-1",
                )
            )
        uow.commit()
    return billing


def _count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables of the stored rows decoded from now on (SQL stores)."""
    decoded: list[str] = []
    load = mapping._load_payload

    def counting(text: str | None, table: str, *args: Any) -> dict[str, Any]:
        decoded.append(table)
        return load(text, table, *args)

    monkeypatch.setattr(mapping, "_load_payload", counting)
    return decoded


def test_a_payers_top_up_reads_no_paid_expense(
    billing_unit_of_work: Callable[[], UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    billing = _wire(billing_unit_of_work, locked=False)
    cabinet = billing.cabinet("acc-1", "u-1")
    decoded = _count_decoded(monkeypatch)
    started = cabinet.payments.top_up(_uah("50.00"), "card", payer_id="p-2")
    monkeypatch.undo()
    assert started.payment.payer_id == "p-2"
    if not isinstance(billing_unit_of_work(), MemoryUnitOfWork):
        assert decoded.count("expenses") == 0
    with billing_unit_of_work() as uow:
        assert len(uow.expenses.get("acc-1").expenses()) == PAID


def test_the_payer_lock_still_holds_with_the_paid_history_unread(
    billing_unit_of_work: Callable[[], UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    billing = _wire(billing_unit_of_work, locked=True)
    cabinet = billing.cabinet("acc-1", "u-1")
    decoded = _count_decoded(monkeypatch)
    with pytest.raises(PayerNotReplaceableError, match=r"payer 'p-1': has unpaid expenses owed"):
        cabinet.payments.top_up(_uah("50.00"), "card", payer_id="p-2")
    monkeypatch.undo()
    if not isinstance(billing_unit_of_work(), MemoryUnitOfWork):
        assert decoded.count("expenses") == 1  # the unpaid one
    # The first payer itself may still pay, and nothing was stored by the refusal.
    assert cabinet.payments.top_up(_uah("5.00"), "card", payer_id="p-1").payment.payer_id == "p-1"
    assert [p.payer_id for p in cabinet.payments.list()] == ["p-1"]
