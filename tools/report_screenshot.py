"""Write docs/img/simulation-report.png: the Astra Cloud example's report in Chromium.

Usage: ``make report-screenshot`` (needs Chromium: ``apt-get install chromium``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cabinet_billing.cli import main as cabinet_billing

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "simulation-report.png"
#: The top of the page: the cards, billed and collected, balances and the credit charts.
WINDOW = "1280,2100"


def main() -> int:
    """Simulate the example, open its report in headless Chromium and keep a screenshot."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("Chromium not found: apt-get install chromium")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        os.chdir(ROOT)  # the page names the example as the command line did
        argv = ["simulate", "examples/astra_cloud.toml", "--timeline", "romashka"]
        argv += ["--report", str(page)]
        if cabinet_billing(argv) != 0:
            return 1
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                f"--user-data-dir={Path(folder) / 'profile'}",
                f"--window-size={WINDOW}",
                f"--screenshot={TARGET}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
