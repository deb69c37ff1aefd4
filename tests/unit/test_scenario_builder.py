"""The scenario builder, its TOML format and the pytest plugin's fixtures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from cabinet_billing import Money
from cabinet_billing.adapters.memory import InMemoryBilling
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.errors import NotFoundError, ValidationError
from cabinet_billing.rules.presets import INTROSERV
from cabinet_billing.testing.plugin import ScenarioFactory
from cabinet_billing.testing.scenario import MonthReport, Scenario, Step

STORY = """
title = "One VPS renewed from the balance"
preset = "introserv"
start = 2024-01-10

[[step]]
do = "account"
id = "acc-1"

[[step]]
do = "top_up"
account = "acc-1"
amount = "100.00 EUR"

[[step]]
do = "order"
account = "acc-1"
plan = "vps"
price = "30.00 EUR"

[[step]]
do = "advance"
to = 2024-03-10

[[step]]
do = "expect_balance"
account = "acc-1"
amount = "10.00 EUR"

[[step]]
do = "expect_status"
service = "vps"
status = "active"

[[step]]
do = "expect_notifications"
account = "acc-1"
kinds = ["balance.low"]
prefix = "balance."
"""


def _one_vps(start: date = date(2024, 1, 10)) -> Scenario:
    return (
        Scenario("introserv", start=start)
        .account("acc-1")
        .top_up("acc-1", "100.00 EUR")
        .order("acc-1", "vps", price="30.00 EUR")
    )


@pytest.mark.spec("P")
def test_a_toml_story_runs_its_steps() -> None:
    s = Scenario.from_toml(STORY)
    assert [step.do for step in s.steps][:3] == ["account", "top_up", "order"]
    assert s.steps[1] == Step("top_up", {"account_id": "acc-1", "amount": "100.00 EUR"})
    assert s.run() is s
    assert s.steps == []
    assert s.title == "One VPS renewed from the balance"
    assert s.today == date(2024, 3, 10)
    assert s.balance("acc-1") == Money("10.00", "EUR")
    assert [(m.month, m.renewals) for m in s.months()] == [
        ("2024-01", 0),
        ("2024-02", 1),
        ("2024-03", 1),
    ]


@pytest.mark.spec("P")
def test_a_toml_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "story.toml"
    path.write_text(STORY, encoding="utf-8")
    for source in (path, str(path)):
        assert Scenario.from_toml(source).run().balance("acc-1") == Money("10.00", "EUR")


@pytest.mark.spec("P")
def test_the_python_builder_and_the_toml_story_agree() -> None:
    built = _one_vps().advance(to=date(2024, 3, 10))
    read = Scenario.from_toml(STORY).run()
    assert built.months() == read.months()
    assert built.timeline("acc-1") == read.timeline("acc-1")


@pytest.mark.spec("P")
def test_an_unknown_step_is_refused_naming_the_allowed_ones() -> None:
    text = 'preset = "introserv"\n[[step]]\ndo = "teleport"\n'
    with pytest.raises(ValidationError, match=r"'teleport'.*allowed: account, top_up"):
        Scenario.from_toml(text)


@pytest.mark.spec("P")
def test_an_unknown_argument_is_refused_naming_the_step() -> None:
    text = 'preset = "introserv"\n[[step]]\ndo = "top_up"\naccount = "a"\ncolour = "red"\n'
    with pytest.raises(ValidationError, match=r"step 1 \(top_up\).*colour"):
        Scenario.from_toml(text)


@pytest.mark.spec("P")
def test_an_unknown_top_level_key_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"\['currency'\].*allowed keys: preset, start"):
        Scenario.from_toml('preset = "introserv"\ncurrency = "EUR"\n')


@pytest.mark.spec("P")
def test_an_unknown_preset_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="astra_cloud, horoshop, introserv"):
        Scenario("nowhere")


@pytest.mark.spec("P")
def test_a_failing_expectation_names_the_step_of_the_story() -> None:
    text = STORY.replace('amount = "10.00 EUR"', 'amount = "11.00 EUR"')
    s = Scenario.from_toml(text)
    with pytest.raises(AssertionError) as caught:
        s.run()
    assert str(caught.value) == "2024-03-10: balance of acc-1 is 10.00 EUR, expected 11.00 EUR"
    assert caught.value.__notes__ == [
        "in scenario step do = 'expect_balance' {'account_id': 'acc-1', 'amount': '11.00 EUR'}"
    ]


@pytest.mark.spec("P")
def test_expectations_fail_with_a_clear_message() -> None:
    s = _one_vps()
    with pytest.raises(
        AssertionError, match=r"^2024-01-10: service vps is active, expected expired$"
    ):
        s.expect_status("vps", "expired")
    with pytest.raises(
        AssertionError,
        match=r"^2024-01-10: service vps is paid until 2024-02-10, expected 2024-02-11$",
    ):
        s.expect_paid_until("vps", "2024-02-11")
    with pytest.raises(AssertionError, match=r"was notified of \['payment.credited'"):
        s.expect_notifications("acc-1", [])
    # A check moves on: what was compared once is not compared again.
    s.expect_notifications("acc-1", [])
    with pytest.raises(ValidationError, match="no order step named it"):
        s.expect_status("web", "active")


@pytest.mark.spec("P")
def test_amounts_are_text_or_money_never_floats() -> None:
    s = _one_vps()
    s.expect_balance("acc-1", "70.00").expect_balance("acc-1", Money("70.00", "EUR"))
    with pytest.raises(ValidationError, match=r"expected an amount such as '100\.00 EUR'"):
        s.expect_balance("acc-1", 70.0)


@pytest.mark.spec("P")
def test_advance_needs_exactly_one_target_and_never_goes_back() -> None:
    s = _one_vps()
    with pytest.raises(ValidationError, match="exactly one of to= or days="):
        s.advance()
    with pytest.raises(ValidationError, match="exactly one of to= or days="):
        s.advance(to=date(2024, 2, 1), days=3)
    with pytest.raises(ValidationError, match=r"must not be before today \(2024-01-10\)"):
        s.advance(to=date(2024, 1, 9))
    s.advance(days=3)
    assert (s.today, [d.day for d in s.days]) == (
        date(2024, 1, 13),
        [date(2024, 1, 11), date(2024, 1, 12), date(2024, 1, 13)],
    )


@pytest.mark.spec("P")
def test_the_last_day_run_can_wait_for_the_steps_of_that_day() -> None:
    s = _one_vps().advance(to=date(2024, 2, 10), run_last_day=False)
    # The renewal day's run has not happened yet.
    s.expect_balance("acc-1", "70.00 EUR")
    assert s.days[-1].day == date(2024, 2, 9)
    s.top_up("acc-1", "5.00 EUR").advance(to=date(2024, 2, 11))
    s.expect_balance("acc-1", "45.00 EUR")
    assert [d.day for d in s.days[-2:]] == [date(2024, 2, 10), date(2024, 2, 11)]


@pytest.mark.spec("P")
def test_a_second_cycle_on_a_day_skips_every_account() -> None:
    s = _one_vps().advance(to=date(2024, 2, 10)).cycle()
    assert (s.days[-1].accounts, s.days[-1].skipped, s.days[-1].not_due) == (0, 0, 1)
    s.expect_balance("acc-1", "40.00 EUR")


@pytest.mark.spec("P")
def test_scenarios_share_nothing() -> None:
    one, two = _one_vps(), _one_vps()
    one.advance(to=date(2024, 2, 10))
    assert one.cabinet.clock is not two.cabinet.clock
    assert (one.today, two.today) == (date(2024, 2, 10), date(2024, 1, 10))
    two.expect_balance("acc-1", "70.00 EUR")
    one.expect_balance("acc-1", "40.00 EUR")


@pytest.mark.spec("P")
def test_settings_may_be_given_instead_of_a_preset() -> None:
    # Settings without a preset bring no reference rates: paying across currencies is off.
    settings = attrs.evolve(BillingSettings.from_preset(INTROSERV), pay_across_currencies=False)
    s = Scenario(settings=settings, start=date(2024, 5, 1))
    s.account("acc-1", currency="EUR").top_up("acc-1", "10.00 EUR", method="crypto")
    s.expect_balance("acc-1", "10.00 EUR")
    assert s.billing.settings.invoice_prefix == "IS"


@pytest.mark.spec("P", "R8")
def test_the_month_report() -> None:
    s = _one_vps().advance(to=date(2024, 3, 31))
    march = s.months()[-1]
    assert march == MonthReport(
        month="2024-03",
        days=31,
        billed={"EUR": Money("30.00", "EUR")},
        collected={},
        invoices=1,
        renewals=1,
        expired=0,
        notifications=5,
        failed_charges=0,
        failures=0,
        overdue_accounts=(),
        blocked_accounts=(),
    )
    assert s.report().splitlines()[0] == (
        "2024-01: billed 30.00 EUR; collected 100.00 EUR; invoices 1; renewals 0; expired 0; "
        "notifications 4; overdue -; blocked -"
    )


@pytest.mark.spec("P")
def test_the_timeline_of_an_account() -> None:
    s = _one_vps().advance(to=date(2024, 2, 10))
    sid = s.service_id("vps")
    assert [(d.isoformat(), text) for d, text in s.timeline("acc-1")][-4:] == [
        ("2024-02-10", "invoice IS-000002 issued: 30.00 EUR"),
        ("2024-02-10", "invoice IS-000002 paid from the balance: 30.00 EUR"),
        ("2024-02-10", f"service {sid} paid until 2024-03-10"),
        ("2024-02-10", f"service {sid} renewed until 2024-03-10 from balance: 30.00 EUR"),
    ]
    assert s.timeline("nobody") == []


@pytest.mark.spec("P")
def test_a_second_order_of_a_plan_gets_its_own_name() -> None:
    s = _one_vps().order("acc-1", "vps", price="30.00 EUR")
    assert s.service_id("vps") != s.service_id("vps-2")
    s.expect_status("vps-2", "active").expect_balance("acc-1", "40.00 EUR")


@pytest.mark.spec("P")
def test_script_card_refuses_an_unknown_outcome() -> None:
    with pytest.raises(ValidationError, match="allowed: succeed, decline"):
        Scenario("horoshop").script_card("tok-1", "explode")


@pytest.mark.spec("P")
def test_the_plugin_fixtures(billing_scenario: ScenarioFactory, cabinet: InMemoryBilling) -> None:
    s = billing_scenario("introserv", start=date(2024, 1, 10))
    assert isinstance(s, Scenario)
    assert s.today == date(2024, 1, 10)
    assert cabinet.store.accounts.ids() == []
    assert cabinet.clock.today() == date(2024, 1, 1)
