"""One lock order everywhere: every unit of work takes the store's counters in COUNTER_ORDER.

A counter row is locked by the transaction that advances it until that transaction ends
(SQL store), so two flows that took two counters in opposite orders could wait for each
other in a circle: card autopay (payment, balance-payment, invoice) against a saved-card
renewal (invoice, payment) did on PostgreSQL. Here every unit of work of the flows that
take more than one counter is recorded, and the names it advanced must follow the order.
"""

from __future__ import annotations

from datetime import date

import pytest

from cabinet_billing.adapters.memory import store as memory_store
from cabinet_billing.app.context import COUNTER_ORDER
from cabinet_billing.testing.scenario import Scenario

pytestmark = pytest.mark.spec("P")


def _rank(name: str) -> int:
    base = name.split(":", 1)[0]
    assert base in COUNTER_ORDER, f"counter {name!r} is not in COUNTER_ORDER"
    return COUNTER_ORDER.index(base)


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[str]]:
    """The counters each unit of work advanced, in the order it advanced them."""
    record: dict[int, list[str]] = {}
    # Each unit of work's counters stay alive to the end of the test, so that no later one
    # is given the id (the address) of one that is gone and its names mixed with its own.
    alive: list[memory_store._Sequences] = []
    original = memory_store._Sequences.next

    def watched(self: memory_store._Sequences, name: str) -> int:
        if id(self) not in record:
            alive.append(self)
        names = record.setdefault(id(self), [])
        if name not in names:
            names.append(name)
        return original(self, name)

    monkeypatch.setattr(memory_store._Sequences, "next", watched)
    return record


def _out_of_order(units: list[list[str]]) -> list[list[str]]:
    return [names for names in units if [_rank(n) for n in names] != sorted(map(_rank, names))]


def test_item_27_card_autopay_and_card_renewals_take_counters_in_one_order(
    taken: dict[int, list[str]],
) -> None:
    # Horoshop: the monthly invoice issued 5 days ahead, card autopay charges it that day.
    shop = Scenario("horoshop", start=date(2024, 3, 1)).account("shop-1", country="UA")
    shop.order("shop-1", "business", price="1000.00 UAH", kind="saas", method="card")
    shop.save_card("shop-1", "card-1", "tok-1")
    shop.advance(to=date(2024, 5, 2))
    # Introserv: renewals from the balance and from a saved card, an autopayment.
    host = Scenario("introserv", start=date(2024, 1, 10))
    for n in (1, 2, 3):
        host.account(f"acc-{n}")
    host.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR", ref="vps-1")
    host.top_up("acc-2", "30.00 EUR").order("acc-2", "vps", price="30.00 EUR", ref="vps-2")
    host.save_card("acc-2", "card-2", "tok-2")
    host.top_up("acc-3", "5.00 EUR").save_card("acc-3", "card-3", "tok-3", subscribe_services=False)
    host.advance(to=date(2024, 2, 9))
    host.autopay("acc-3", "card-3", "10.00 EUR", "50.00 EUR", monthly_cap="100.00 EUR")
    host.advance(to=date(2024, 3, 12))
    assert shop.service("business").paid_until == date(2024, 6, 1)
    assert host.service("vps-2").paid_until == date(2024, 4, 10)
    units = list(taken.values())
    # Card autopay and card renewals book the provider's charge in a unit of work of its
    # own (payment, then balance-payment); the renewal from the balance issues, then pays.
    assert {("payment", "balance-payment"), ("invoice", "invoice-number", "balance-payment")} <= {
        tuple(names) for names in units
    }
    assert _out_of_order(units) == []
