import json
from pathlib import Path

import pytest

from cabinet_billing import cli
from cabinet_billing.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, month: str) -> list[str]:
    """The cells of a month's line in the table (amount cells split on spaces)."""
    lines = [line for line in out.splitlines() if line.startswith(f"{month} ")]
    assert len(lines) == 1, out
    return lines[0].split()


@pytest.mark.spec("P", "R4", "R8")
def test_introserv_example_prints_the_year_month_by_month(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "simulate", str(EXAMPLES / "introserv.toml"))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "Introserv: a studio's year on a prepaid balance"
    assert "2024-01-10 to 2024-12-31" in out.splitlines()[1]
    assert out.splitlines()[3].split() == [
        "month",
        "billed",
        "collected",
        "invoices",
        "renewals",
        "expired",
        "overdue",
        "blocked",
        "notifications",
    ]
    # 200.00 by card, 2 orders (19.90 + 3.00) paid from the balance
    assert row(out, "2024-01")[:6] == ["2024-01", "22.90", "EUR", "200.00", "EUR", "2"]
    assert row(out, "2024-02")[1:7] == ["22.90", "EUR", "-", "2", "2", "0"]
    # 300.00 in crypto; the extra IP is not renewed and expires
    assert row(out, "2024-05")[:8] == ["2024-05", "98.90", "EUR", "300.00", "EUR", "2", "1", "1"]
    # the server expires for lack of money
    assert row(out, "2024-09")[:8] == ["2024-09", "19.90", "EUR", "100.00", "EUR", "1", "1", "1"]
    assert row(out, "total") == [
        "total",
        "566.80",
        "EUR",
        "600.00",
        "EUR",
        "20",
        "17",
        "2",
        "83",
    ]


@pytest.mark.spec("P", "R1", "R3", "R4")
def test_astra_example_shows_overdue_and_blocked_months(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "simulate", str(EXAMPLES / "astra_cloud.toml"))
    assert code == 0
    assert row(out, "2024-07")[:5] == ["2024-07", "1290.00", "RUB", "1290.00", "RUB"]
    assert row(out, "2024-07")[8:10] == ["1", "0"]  # overdue from 16 July, paid on the 22nd
    # billed on credit, nothing collected: overdue, then blocked
    assert row(out, "2024-11")[1:10] == ["4429.00", "RUB", "-", "4", "3", "0", "1", "1", "17"]
    assert row(out, "total")[:5] == ["total", "30428.00", "RUB", "26248.00", "RUB"]


@pytest.mark.spec("P", "R4", "R5", "R7")
def test_horoshop_example_renews_from_the_card(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate", str(EXAMPLES / "horoshop.toml"))
    assert code == 0
    # March's charge for April is declined: the new card pays it on 3 April.
    assert row(out, "2024-03")[:5] == ["2024-03", "1199.00", "UAH", "-", "1"]
    assert row(out, "2024-04")[:8] == ["2024-04", "1199.00", "UAH", "2398.00", "UAH", "1", "1", "1"]
    assert row(out, "2024-06")[:5] == ["2024-06", "1499.00", "UAH", "1499.00", "UAH"]
    assert row(out, "total")[:7] == ["total", *["14688.00", "UAH"] * 2, "13", "10"]


@pytest.mark.spec("P", "R4")
def test_timeline_tells_one_accounts_story(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate", str(EXAMPLES / "introserv.toml"), "--timeline", "studio")
    assert code == 0
    story = out.split("Timeline of studio\n")[1].splitlines()
    assert story[0] == "  2024-01-10  payment pay-1 credited 200.00 EUR"
    assert "  2024-08-10  notice balance.low" in story
    assert "  2024-09-02  service ser-3 expired (paid until 2024-09-02)" in story
    assert (
        story[-1] == "  2024-12-10  service ser-1 renewed until 2025-01-10 from balance: 19.90 EUR"
    )


@pytest.mark.spec("P", "R1")
def test_json_of_a_scenario_has_months_totals_and_timeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        str(EXAMPLES / "astra_cloud.toml"),
        "--json",
        "--timeline",
        "romashka",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"title", "source", "start", "end", "months", "totals", "timelines"}
    assert data["source"] == {"file": str(EXAMPLES / "astra_cloud.toml")}
    assert (data["start"], data["end"]) == ("2024-01-09", "2024-12-31")
    assert [m["month"] for m in data["months"]][:2] == ["2024-01", "2024-02"]
    november = data["months"][10]
    assert november == {
        "month": "2024-11",
        "billed": {"RUB": "4429.00"},
        "collected": {},
        "invoices": 4,
        "renewals": 3,
        "expired": 0,
        "overdue": 1,
        "blocked": 1,
        "notifications": 17,
        "failed_charges": 0,
    }
    assert data["months"][0]["billed"] == {"RUB": "1539.00"}
    assert data["months"][0]["collected"] == {"RUB": "5000.00"}
    assert data["totals"]["billed"] == {"RUB": "30428.00"}
    assert data["totals"]["collected"] == {"RUB": "26248.00"}
    assert "overdue" not in data["totals"]
    [timeline] = data["timelines"]
    assert timeline["account"] == "romashka"
    assert {"date": "2024-11-30", "text": "credit blocked"} in timeline["events"]


@pytest.mark.spec("P")
def test_json_of_a_population(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "simulate",
        "--preset",
        "horoshop",
        "--accounts",
        "2",
        "--months",
        "2",
        "--seed",
        "3",
        "--json",
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["source"] == {"preset": "horoshop", "accounts": 2, "months": 2, "seed": 3}
    assert (data["start"], data["end"]) == ("2024-01-01", "2024-02-29")
    assert [m["month"] for m in data["months"]] == ["2024-01", "2024-02"]
    assert set(data["months"][0]) == {
        "month",
        "billed",
        "collected",
        "invoices",
        "renewals",
        "expired",
        "overdue",
        "blocked",
        "notifications",
        "failed_charges",
    }
    for figure in ("billed", "collected"):
        for amount in data["totals"][figure].values():
            assert isinstance(amount, str)
            assert amount.count(".") == 1
        assert list(data["totals"][figure]) == ["UAH"]


@pytest.mark.spec("P")
def test_population_table_with_a_start_day(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        "--preset",
        "Astra-Cloud",
        "--accounts",
        "2",
        "--months",
        "1",
        "--start",
        "2024-03-05",
    )
    assert code == 0
    assert out.splitlines()[1] == (
        "preset astra_cloud, accounts 2, months 1, seed 0, 2024-03-05 to 2024-03-31"
    )
    assert row(out, "2024-03")[0] == "2024-03"


@pytest.mark.spec("P")
def test_same_seed_prints_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--preset", "introserv", "--accounts", "3", "--months", "2", "--seed", "9"]
    first = run(capsys, *argv)
    assert run(capsys, *argv) == first


@pytest.mark.spec("P")
def test_progress_bar_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--preset", "introserv", "--accounts", "1", "--months", "2", "--json"]
    code, out, err = run(capsys, *argv, "--progress")
    assert code == 0
    json.loads(out)
    assert err.startswith("\r[")
    assert err.endswith("\r[####################] 100%\n")
    assert "[##########..........] 50%" in err
    # not a terminal and no --progress: no bar
    assert run(capsys, *argv)[2] == ""


@pytest.mark.spec("P")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--preset", "nope"],
            "unknown preset 'nope' (allowed: astra_cloud, horoshop, introserv)",
        ),
        (["--preset", "introserv", "--accounts", "0"], "--accounts 0: must be 1 or more"),
        (["--preset", "introserv", "--months", "-1"], "--months -1: must be 1 or more"),
        ([], "give a scenario FILE or --preset NAME (one of them, not both)"),
        (
            [str(EXAMPLES / "introserv.toml"), "--preset", "introserv"],
            "give a scenario FILE or --preset NAME (one of them, not both)",
        ),
        (
            ["--preset", "introserv", "--timeline", "acc-1"],
            "--timeline needs a scenario FILE (a generated population has no story)",
        ),
        (
            [str(EXAMPLES / "introserv.toml"), "--timeline", "bob"],
            (
                f"--timeline 'bob': no such account in {EXAMPLES / 'introserv.toml'} "
                "(accounts: studio)"
            ),
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "simulate", *argv)
    assert (code, out) == (2, "")
    assert err == f"cabinet-billing simulate: error: {message}\n"


@pytest.mark.spec("P")
def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nothing.toml"
    code, out, err = run(capsys, "simulate", str(missing))
    assert (code, out) == (2, "")
    assert err == (
        f"cabinet-billing simulate: error: cannot read scenario file '{missing}': "
        "No such file or directory\n"
    )


@pytest.mark.spec("P")
def test_file_that_is_not_toml_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("preset = introserv\n", encoding="utf-8")
    code, _, err = run(capsys, "simulate", str(bad))
    assert code == 2
    assert err.startswith(
        f"cabinet-billing simulate: error: scenario file '{bad}' is not valid TOML:"
    )
    assert err.count("\n") == 1


@pytest.mark.spec("P")
def test_unknown_step_exits_2_naming_the_allowed_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "steps.toml"
    bad.write_text('preset = "introserv"\n[[step]]\ndo = "dance"\n', encoding="utf-8")
    code, _, err = run(capsys, "simulate", str(bad))
    assert code == 2
    assert err.startswith(f"cabinet-billing simulate: error: scenario file '{bad}': ")
    assert "'dance'" in err
    assert "allowed: account, top_up, order" in err
    assert err.count("\n") == 1


@pytest.mark.spec("P")
def test_unknown_preset_in_a_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "preset.toml"
    bad.write_text('preset = "nope"\n', encoding="utf-8")
    code, _, err = run(capsys, "simulate", str(bad))
    assert code == 2
    assert "'nope'" in err
    assert "astra_cloud, horoshop, introserv" in err


@pytest.mark.spec("P")
def test_unmet_expectation_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    story = tmp_path / "story.toml"
    story.write_text(
        'preset = "introserv"\nstart = 2024-01-10\n'
        '[[step]]\ndo = "account"\naccount = "a"\n'
        '[[step]]\ndo = "expect_balance"\naccount = "a"\namount = "5.00 EUR"\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "simulate", str(story))
    assert (code, out) == (1, "")
    assert err == (
        "cabinet-billing simulate: expectation not met: "
        "2024-01-10: balance of a is 0 EUR, expected 5.00 EUR\n"
    )


@pytest.mark.spec("P", "M3", "M6")
def test_demo_runs_a_year_of_each_preset_then_the_priced_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = cli.presets_year

    def small(**_: object) -> list[cli.SimulationReport]:
        return real(accounts=1, months=2)

    monkeypatch.setattr(cli, "presets_year", small)
    report = tmp_path / "demo" / "report.html"
    code, out, _ = run(capsys, "demo", "--report", str(report))
    assert code == 0
    titles = [line for line in out.splitlines() if line.startswith(("Introserv", "Astra", "Horo"))]
    assert [t.split(" (")[0] for t in titles] == ["Introserv", "Astra Cloud", "Horoshop"]
    assert out.index("Horoshop") < out.index(f"Report: {report.resolve()}") < out.index("[uk]")
    page = report.read_text(encoding="utf-8")
    assert page.count("<section class='simulation'") == 3
    assert page.index("Introserv") < page.index("Astra Cloud") < page.index("Horoshop")
    assert [line for line in out.splitlines() if line.startswith("[")] == [
        "[uk]",
        "[ru]",
        "[de]",
        "[en]",
    ]
