"""The simulation report as a person sees it: opened in headless Chromium, measured, shot.

The page is opened from a file with no network. A probe script, added to a copy of the
page only, measures what the browser laid out: the drawn shapes of every chart and the
rows of every table. Chromium prints the page's DOM with the probe's result, and takes a
screenshot.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from html import unescape
from pathlib import Path

import pytest

from cabinet_billing.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not found (Debian: apt-get install chromium); the report is not opened",
)

#: Runs last in the copy of the page: what the browser drew, as JSON in a <pre>.
PROBE = """<script>
(() => {
  const drawn = (el) => { const b = el.getBBox(); return b.width > 0 || b.height > 0; };
  const charts = [...document.querySelectorAll("svg.pygal-chart")].map((svg) => {
    const shapes = [...svg.querySelectorAll(".series rect, .series path")];
    const paths = [...svg.querySelectorAll("path")].filter((p) => (p.getAttribute("d") || "").length > 1);
    const box = svg.getBoundingClientRect();
    return {
      id: svg.id,
      shapes: shapes.length,
      drawn: shapes.filter(drawn).length,
      paths: paths.filter(drawn).length,
      titles: svg.querySelectorAll(".series title").length,
      width: Math.round(box.width),
      height: Math.round(box.height),
    };
  });
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    cls: t.className,
    rows: [...t.querySelectorAll("tbody tr")].filter((r) => r.getBoundingClientRect().height > 0).length,
  }));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({ charts, tables });
  document.body.append(out);
})();
</script>"""


def chromium(*args: str, profile: Path) -> str:
    assert CHROMIUM is not None
    result = subprocess.run(  # noqa: S603 - the browser found on PATH, our own arguments
        [
            CHROMIUM,
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
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def png_size_and_rows(png: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct scanlines (a blank page has one)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, data, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {2: 3, 6: 4}[color]
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + width * channels
    rows = {raw[i : i + stride] for i in range(0, len(raw), stride)}
    return width, height, len(rows)


@pytest.fixture(scope="module")
def astra_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    page = folder / "astra.html"
    code = main(
        [
            "simulate",
            str(EXAMPLES / "astra_cloud.toml"),
            "--timeline",
            "romashka",
            "--report",
            str(page),
        ]
    )
    assert code == 0
    return page


@needs_chromium
@pytest.mark.spec("R1", "R2", "L4", "L6", "R4", "R9")
def test_the_charts_and_tables_render_in_chromium(astra_report: Path, tmp_path: Path) -> None:
    page = astra_report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(
        "--window-size=1280,2400", "--dump-dom", probed.as_uri(), profile=tmp_path / "profile"
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found is not None, dom[-2000:]
    probe = json.loads(unescape(found.group(1)))

    charts = {c["id"]: c for c in probe["charts"]}
    assert list(charts) == [
        "chart-s1-rev-RUB",
        "chart-s1-bal-RUB",
        "chart-s1-credit-RUB",
        "chart-s1-credit-services-RUB",
        "chart-s1-services",
        "chart-s1-nt",
    ]
    for chart in charts.values():
        assert chart["drawn"] > 0, chart  # bars and lines with a size on the page
        assert chart["paths"] > 0, chart  # axes, guides and lines: non-empty SVG paths
        assert chart["width"] > 800, chart
        assert chart["height"] > 200, chart
    # 12 months of two bars; the line of romashka's balance; a bar a day of credit
    assert charts["chart-s1-rev-RUB"]["shapes"] == 24
    assert charts["chart-s1-rev-RUB"]["titles"] == 24  # a tooltip for every bar
    assert charts["chart-s1-bal-RUB"]["drawn"] >= 1
    assert charts["chart-s1-credit-RUB"]["drawn"] > 200

    tables = {t["cls"]: t["rows"] for t in probe["tables"]}
    assert tables["months"] == 12
    assert tables["credit"] == 5  # overdue, awaiting, spent, available, unavailable
    assert tables["credit-services"] == 3  # cloud-4, cloud-2, domain
    assert tables["timeline"] > 100

    shot = tmp_path / "report.png"
    chromium(
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        astra_report.as_uri(),
        profile=tmp_path / "profile",
    )
    width, height, distinct_rows = png_size_and_rows(shot.read_bytes())
    assert (width, height) == (1280, 2400)
    assert distinct_rows > 500  # text and charts, not a blank page


@pytest.mark.spec("R2")
def test_the_page_needs_nothing_from_the_network(astra_report: Path) -> None:
    page = astra_report.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "@import" not in page
    assert "<link" not in page
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}
