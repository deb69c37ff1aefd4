from datetime import date

import pytest

from cabinet_billing import Money
from cabinet_billing.domain.customer import payment_readiness
from cabinet_billing.errors import NotFoundError, ValidationError
from cabinet_billing.rules.presets import ASTRA_CLOUD
from cabinet_billing.testing.population import CATALOGUES, MonthSummary, Population

START = date(2024, 1, 1)


@pytest.mark.spec("P", "R4")
def test_same_seed_gives_the_same_months() -> None:
    first = Population("introserv", accounts=4, start=START, seed=42).run(months=2)
    again = Population("introserv", accounts=4, start=START, seed=42).run(months=2)
    other = Population("introserv", accounts=4, start=START, seed=43).run(months=2)
    assert first == again
    assert first != other
    assert [m.month for m in first] == ["2024-01", "2024-02"]
    assert all(isinstance(m, MonthSummary) for m in first)


@pytest.mark.spec("P")
def test_seed_does_not_touch_the_global_random() -> None:
    import random  # noqa: PLC0415 - the global generator, to show it is left alone

    random.seed(5)
    expected = random.random()  # noqa: S311 - not for secrets
    random.seed(5)
    Population("horoshop", accounts=2, start=START, seed=1).run(months=1)
    assert random.random() == expected  # noqa: S311 - not for secrets


@pytest.mark.spec("P")
def test_accounts_have_complete_profiles_and_several_services() -> None:
    population = Population("introserv", accounts=5, start=START, seed=3)
    store = population.setup.store
    assert population.accounts == 5
    assert store.accounts.ids() == [f"acc-{n:05}" for n in range(1, 6)]
    for account_id in store.accounts.ids():
        assert payment_readiness(store.accounts.rows[account_id]).ready
        services = [store.services.rows[s] for s in store.services.by_account[account_id]]
        assert 2 <= len(services) <= 4
        assert all(s.paid for s in services)
        currency = store.accounts.rows[account_id].profile.currency
        prices = {o.price for o in CATALOGUES["introserv"][currency]}
        assert {s.price for s in services} <= prices


@pytest.mark.spec("P", "R1", "R5")
def test_astra_gives_credit_lines_and_saves_cards() -> None:
    population = Population(
        ASTRA_CLOUD, accounts=4, start=START, seed=5, card_share=1.0, credit_share=1.0
    )
    profiles = population.setup.store.profiles.rows
    assert all(profiles[a].credit is not None for a in population.setup.store.accounts.ids())
    assert all(len(profiles[a].methods) == 1 for a in population.setup.store.accounts.ids())
    lines = [profile.credit for profile in profiles.values()]
    limits = {line.limit for line in lines if line is not None}
    assert limits <= {Money(n, "RUB") for n in (50_000, 100_000, 150_000)}


@pytest.mark.spec("P")
def test_presets_without_credit_give_none() -> None:
    population = Population("horoshop", accounts=3, start=START, seed=5, credit_share=1.0)
    assert all(p.credit is None for p in population.setup.store.profiles.rows.values())


@pytest.mark.spec("P", "R1", "R4")
def test_a_year_counts_revenue_renewals_and_credit_states() -> None:
    months = Population("astra_cloud", accounts=6, start=START, seed=1, credit_share=1.0).run(
        months=6
    )
    assert len(months) == 6
    assert all(set(m.billed) | set(m.collected) <= {"RUB"} for m in months)
    assert months[0].collected["RUB"] > Money(0, "RUB")
    assert all(m.billed["RUB"] > Money(0, "RUB") for m in months)
    assert sum(m.renewals for m in months) > 0
    assert all(m.renewals <= m.invoices for m in months[1:])
    assert all(m.blocked <= m.overdue <= 6 for m in months)


@pytest.mark.spec("P")
def test_progress_counts_days() -> None:
    calls: list[tuple[int, int]] = []
    population = Population("introserv", accounts=1, start=date(2024, 2, 20), seed=0)
    months = population.run(months=2, progress=lambda done, total: calls.append((done, total)))
    assert [m.month for m in months] == ["2024-02", "2024-03"]
    assert calls[0] == (1, 41)
    assert calls[-1] == (41, 41)
    assert population.today == date(2024, 3, 31)
    assert population.months() == months


@pytest.mark.spec("P")
@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"accounts": 0}, "accounts", "0"),
        ({"accounts": 1, "card_share": 1.5}, "card_share", "1.5"),
        ({"accounts": 1, "credit_share": -0.1}, "credit_share", "-0.1"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Population("introserv", start=START, **kwargs)  # type: ignore[arg-type]
    assert f"{field}={value}" in str(info.value)


@pytest.mark.spec("P")
def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        Population("nope", accounts=1, start=START)
    assert "'nope'" in str(info.value)
    assert "astra_cloud, horoshop, introserv" in str(info.value)


@pytest.mark.spec("P")
def test_months_must_be_positive_and_run_once() -> None:
    population = Population("introserv", accounts=1, start=START, seed=0)
    with pytest.raises(ValidationError, match="months=0 is invalid: must be 1 or more"):
        population.run(months=0)
    assert population.months() == ()
    population.run(months=1)
    with pytest.raises(ValidationError, match="has run already"):
        population.run(months=1)
    assert len(population.months()) == 1
