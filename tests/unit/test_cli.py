from pathlib import Path

import pytest

from cabinet_billing.cli import main


@pytest.mark.spec("M3", "M5", "M6", "M7", "C3")
def test_demo_prices_an_order_in_the_four_locales(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["demo", "--report", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out.replace("\xa0", " ").replace("\u202f", " ")
    assert [line for line in out.splitlines() if line.startswith("[")] == [
        "[uk]",
        "[ru]",
        "[de]",
        "[en]",
    ]
    assert "638,71 ₽" in out  # 660.00 × 30/31, paid until the 1st
    assert "747,71 RUB" in out  # 638.71 + 10% tax + (5% + 10.00) fee
    assert "RUB74.77" in out  # 10% cashback


def test_demo_takes_a_date_and_one_locale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--ordered-on", "2024-02-01", "--locale", "de"]) == 0
    out = capsys.readouterr().out.replace("\xa0", " ")
    assert out.startswith("[de]")
    assert "660,00 RUB" in out.split("Jetzt")[1].splitlines()[0]  # ordered on the 1st: full month


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--locale", "fr"])
    assert info.value.code == 2
    assert "invalid choice: 'fr'" in capsys.readouterr().err
