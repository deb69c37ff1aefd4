"""Every store keeps a conversion's rounding difference with the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import Money
from cabinet_billing.adapters.sql import SqlStore
from cabinet_billing.domain.fx import ExchangeRate, convert

pytestmark = pytest.mark.spec("M4", "P")

AT = datetime(2024, 3, 1, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def store(request: pytest.FixtureRequest) -> SqlStore:
    names = {
        "sqlite": "billing_sqlite_store",
        "memory": "billing_sqlite_memory_store",
        "postgresql": "billing_pg_store",
    }
    found: SqlStore = request.getfixturevalue(names[request.param])
    return found


def test_conversion_rounding_entries_survive_a_round_trip(store: SqlStore) -> None:
    eur_usd = ExchangeRate("EUR", "USD", "1.0875", date(2024, 3, 1))
    rub_eur = ExchangeRate("EUR", "RUB", "98.50", date(2024, 3, 1)).inverse()
    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acc-1")
        ledger.top_up(Money("10.00", "EUR"), AT, key="pay-1")
        ledger.top_up(Money("100.00", "RUB"), AT, key="pay-2")
        ledger.convert(convert(Money("10.00", "EUR"), "USD", eur_usd), AT, key="fx-1")
        ledger.convert(convert(Money("100.00", "RUB"), "EUR", rub_eur), AT, key="fx-2")
        uow.commit()
    with store.unit_of_work() as uow:
        back = uow.ledgers.get("acc-1")
        assert back == ledger
        assert [r.amount for r in back.rounding_entries()] == [
            Money("-0.005", "USD"),
            Money("-0.0047715736040609137055837563451776649746192893401", "EUR"),
        ]
        assert back.rounding("USD") == Money("-0.005", "USD")
        assert (back.balance("USD"), back.balance("EUR")) == (
            Money("10.88", "USD"),
            Money("1.02", "EUR"),
        )
        assert back.verify()
        # Booked again under its key, nothing more is booked.
        back.convert(convert(Money("10.00", "EUR"), "USD", eur_usd), AT, key="fx-1")
        assert len(back.rounding_entries()) == 2
