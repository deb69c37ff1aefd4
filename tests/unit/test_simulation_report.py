import re
import sys
from datetime import date
from pathlib import Path

import pytest

from cabinet_billing import Money
from cabinet_billing.adapters.memory import MemoryStore
from cabinet_billing.cli import main
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.testing.history import CreditHistory
from cabinet_billing.testing.population import Population
from cabinet_billing.testing.report import (
    month_end_balances,
    population_report,
    render_html,
    scenario_report,
    write_html,
)
from cabinet_billing.testing.scenario import Scenario

EXAMPLES = Path(__file__).parents[2] / "examples"


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def late_payer() -> Scenario:
    """Astra Cloud: an 800.00 RUB server renewed on credit in December, never paid."""
    return (
        Scenario("astra_cloud", start=date(2023, 11, 20))
        .account("acc-1", country="RU", credit_limit="150000.00 RUB")
        .top_up("acc-1", "800.00 RUB", method="bank_transfer")
        .order("acc-1", "vps", price="800.00 RUB")
        .advance(to=date(2024, 1, 30))
    )


@pytest.mark.spec("L4", "L6", "R1")
def test_billed_and_collected_are_two_figures() -> None:
    report = scenario_report(late_payer(), title="Late", source={"file": "late.toml"})
    assert [(m.month, m.billed, m.collected) for m in report.months] == [
        ("2023-11", {"RUB": rub("800.00")}, {"RUB": rub("800.00")}),  # ordered, paid by transfer
        ("2023-12", {"RUB": rub("800.00")}, {}),  # renewed on credit: billed, not collected
        ("2024-01", {"RUB": rub("800.00")}, {}),  # the statement is not billed again
    ]
    assert report.totals.billed == {"RUB": rub("2400.00")}
    assert report.totals.collected == {"RUB": rub("800.00")}
    assert report.totals.invoices == 4  # three invoices and the statement of 1 January


@pytest.mark.spec("R1", "R2")
def test_the_credit_dashboard_day_by_day() -> None:
    report = scenario_report(late_payer(), title="Late", source={"file": "late.toml"})
    days = {d.day: d for d in report.credit_days}
    assert min(days) == date(2023, 11, 20)
    assert max(days) == date(2024, 1, 30)
    assert len(days) == 72  # every day from the first step to the last run

    def parts(day: date) -> tuple[str, ...]:
        d = days[day]
        return tuple(str(m) for m in (d.overdue, d.awaiting, d.spent, d.available, d.unavailable))

    assert parts(date(2023, 12, 18)) == ("0 RUB", "0 RUB", "0 RUB", "150000.00 RUB", "0 RUB")
    assert parts(date(2023, 12, 19)) == ("0 RUB", "0 RUB", "800.00 RUB", "149200.00 RUB", "0 RUB")
    # The statement of 1 January is due on the 15th, overdue from the 16th, blocked on the 30th.
    assert parts(date(2024, 1, 1)) == ("0 RUB", "800.00 RUB", "0 RUB", "149200.00 RUB", "0 RUB")
    assert parts(date(2024, 1, 16)) == ("800.00 RUB", "0 RUB", "0 RUB", "149200.00 RUB", "0 RUB")
    assert parts(date(2024, 1, 29)) == (
        "800.00 RUB",
        "0 RUB",
        "800.00 RUB",
        "148400.00 RUB",
        "0 RUB",
    )
    assert parts(date(2024, 1, 30)) == (
        "800.00 RUB",
        "0 RUB",
        "800.00 RUB",
        "0 RUB",
        "148400.00 RUB",
    )
    assert [d.blocked for d in (days[date(2024, 1, 29)], days[date(2024, 1, 30)])] == [0, 1]
    for d in days.values():  # the parts always sum to the limit
        total = d.overdue + d.awaiting + d.spent + d.available + d.unavailable
        assert (d.lines, d.limit, total) == (1, rub("150000.00"), rub("150000.00"))


@pytest.mark.spec("R1")
def test_what_each_service_bought_on_credit() -> None:
    s = late_payer()
    report = scenario_report(s, title="Late", source={"file": "late.toml"})
    assert [(u.on, u.what, u.service_id, u.amount) for u in report.credit_uses] == [
        (date(2023, 12, 19), "vps", s.service_id("vps"), rub("800.00")),
        (date(2024, 1, 19), "vps", s.service_id("vps"), rub("800.00")),
    ]
    assert {u.account_id for u in report.credit_uses} == {"acc-1"}


@pytest.mark.spec("R1", "M2")
def test_a_usage_is_split_over_the_lines_of_its_invoice() -> None:
    store = MemoryStore()
    profile = BillingProfile("acc-1")
    line = CreditLine("acc-1", rub("1000.00"))
    profile.credit = line
    store.profiles.put("acc-1", profile)
    invoice = Invoice.issue(
        "inv-1",
        "AC-000007",
        "acc-1",
        [
            InvoiceLine("Cloud server", rub("100.00"), service_id="ser-1"),
            InvoiceLine("Domain .ru", rub("50.00"), service_id="ser-2"),
            InvoiceLine("Backup", rub("50.00")),
        ],
        issued_on=date(2024, 3, 1),
    )
    store.invoices.put(invoice.id, invoice)
    history = CreditHistory(store, CreditPolicy())
    history.observe(date(2024, 3, 1))
    line.record_usage(rub("100.01"), date(2024, 3, 2), "invoice AC-000007")
    line.record_usage(rub("7.00"), date(2024, 3, 2), "Cloud server, daily charges")
    line.record_usage(rub("3.00"), date(2024, 3, 2), "daily charges")
    history.observe(date(2024, 3, 2))
    history.observe(date(2024, 3, 2))  # a second look adds nothing
    assert [(u.what, u.service_id, str(u.amount)) for u in history.uses] == [
        ("Cloud server", "ser-1", "50.01 RUB"),
        ("Domain .ru", "ser-2", "25.00 RUB"),
        ("Backup", None, "25.00 RUB"),
        ("Cloud server", None, "7.00 RUB"),
        ("daily charges", None, "3.00 RUB"),
    ]
    assert [str(d.spent) for d in history.days] == ["0 RUB", "110.01 RUB"]


@pytest.mark.spec("R1")
def test_no_credit_policy_records_nothing() -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1").advance(days=3)
    assert (s.credit_history.days, s.credit_history.uses) == ((), ())


@pytest.mark.spec("L1")
def test_month_end_balances_come_from_the_ledger() -> None:
    report = scenario_report(late_payer(), title="Late", source={"file": "late.toml"})
    assert [(b.currency, b.name, [str(v) for v in b.values]) for b in report.balances] == [
        ("RUB", "acc-1", ["0.00 RUB", "-800.00 RUB", "-1600.00 RUB"]),
    ]


@pytest.mark.spec("L1", "R1")
def test_a_large_population_shows_prepaid_and_owed_totals() -> None:
    population = Population("astra_cloud", accounts=8, start=date(2024, 1, 1), seed=2)
    population.run(months=3)
    report = population_report(population, source={"preset": "astra_cloud"})
    months = [m.month for m in report.months]
    assert [(b.currency, b.name) for b in report.balances] == [("RUB", "prepaid"), ("RUB", "owed")]
    each = month_end_balances(population.setup.store, months, accounts_drawn=8)
    assert len(each) == 8
    prepaid, owed = report.balances
    for n in range(3):
        values = [b.values[n] for b in each]
        assert prepaid.values[n] == sum((v for v in values if v.amount > 0), rub("0"))
        assert owed.values[n] == sum((v for v in values if v.amount < 0), rub("0"))


@pytest.mark.spec("R9")
def test_notifications_are_counted_by_kind_and_month() -> None:
    report = scenario_report(late_payer(), title="Late", source={"file": "late.toml"})
    kinds = report.notifications
    assert [sum(kinds[k][n] for k in kinds) for n in range(3)] == [
        m.notifications for m in report.months
    ]
    assert kinds["credit.issued"] == (0, 0, 1)
    assert kinds["credit.blocked"] == (0, 0, 1)
    assert list(kinds) == sorted(kinds)


@pytest.mark.spec("R1", "R2", "L4")
def test_the_page_shows_charts_tables_and_timelines() -> None:
    report = scenario_report(
        late_payer(), title="A <late> payer", source={"file": "late.toml"}, timelines=["acc-1"]
    )
    page = render_html([report])
    assert page.startswith("<!DOCTYPE html>")
    assert re.findall(r'<svg[^>]* id="chart-([^"]+)"', page) == [
        "s1-rev-RUB",
        "s1-bal-RUB",
        "s1-credit-RUB",
        "s1-credit-services-RUB",
        "s1-services",
        "s1-nt",
    ]
    assert "<h2>A &lt;late&gt; payer</h2>" in page
    assert "<title>A &lt;late&gt; payer</title>" in page
    months = page.split("<table class='months'>")[1].split("</table>")[0]
    assert months.count("<tr>") == 1 + 3 + 1  # header, three months, total
    assert "<td class='n'>2\u2009400.00 RUB</td>" in months  # billed in total
    credit = page.split("<table class='credit'>")[1].split("</table>")[0]
    assert "148\u2009400.00 RUB" in credit  # unavailable while blocked
    timeline = page.split("<table class='timeline'>")[1].split("</table>")[0]
    assert timeline.count("<tr>") == len(report.timelines[0].events)
    assert "<td>2024-01-30</td><td>credit blocked</td>" in timeline
    assert "<title>billed, 2023-12: 800.00 RUB</title>" in page  # a bar's tooltip
    assert render_html([report]) == page  # the same report, the same page


@pytest.mark.spec("L4")
def test_a_page_without_credit_leaves_the_credit_charts_out(tmp_path: Path) -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR")
    report = scenario_report(s.advance(to=date(2024, 2, 10)), title="VPS", source={"file": "x"})
    page = write_html(tmp_path / "new" / "vps.html", [report], title="Two months")
    html = page.read_text(encoding="utf-8")
    assert re.findall(r'<svg[^>]* id="chart-([^"]+)"', html) == [
        "s1-rev-EUR",
        "s1-bal-EUR",
        "s1-services",
        "s1-nt",
    ]
    assert "<h1>Two months</h1>" in html
    assert "Credit used" not in html


@pytest.mark.spec("P")
def test_without_pygal_the_report_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pygal", None)
    report = scenario_report(
        Scenario("introserv", start=date(2024, 1, 10)), title="x", source={"file": "x"}
    )
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'cabinet_billing\[report\]'"):
        render_html([report])
    target = tmp_path / "r.html"
    code = main(["simulate", str(EXAMPLES / "introserv.toml"), "--report", str(target)])
    out, err = capsys.readouterr()
    assert (code, out, target.exists()) == (2, "", False)
    assert err == (
        "cabinet-billing simulate: error: the HTML report draws its charts with pygal, "
        "which is not installed: pip install 'cabinet_billing[report]'\n"
    )


@pytest.mark.spec("P")
def test_simulate_writes_the_report_of_a_population(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "pop.html"
    argv = ["--preset", "astra_cloud", "--accounts", "3", "--months", "2", "--seed", "4"]
    code = main(["simulate", *argv, "--report", str(target)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("Astra Cloud")
    html = target.read_text(encoding="utf-8")
    assert "preset astra_cloud, accounts 3, months 2, seed 4, 2024-01-01 to 2024-02-29" in html
    assert html.count("<svg") >= 4


@pytest.mark.spec("P")
def test_a_report_that_cannot_be_written_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["simulate", str(EXAMPLES / "horoshop.toml"), "--report", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(
        f"cabinet-billing simulate: error: cannot write the report to '{tmp_path}'"
    )


@pytest.mark.spec("P", "R4")
def test_timelines_of_several_accounts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    story = tmp_path / "two.toml"
    story.write_text(
        'preset = "introserv"\nstart = 2024-01-10\n'
        '[[step]]\ndo = "account"\naccount = "a"\n'
        '[[step]]\ndo = "account"\naccount = "b"\n'
        '[[step]]\ndo = "top_up"\naccount = "b"\namount = "5.00 EUR"\n',
        encoding="utf-8",
    )
    code = main(["simulate", str(story), "--timeline", "a", "--timeline", "b", "--timeline", "a"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.split("\n\n")[-2:] == [
        "Timeline of a\n  (nothing happened)",
        "Timeline of b\n  2024-01-10  payment pay-1 credited 5.00 EUR\n",
    ]
