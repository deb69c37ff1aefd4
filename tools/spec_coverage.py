"""Print every feature id of docs/features.md with the number of tests that prove it.

A test proves an id when it carries ``@pytest.mark.spec("ID")``. Exits 1 when an id that
the index marks as done has no test, or when a test names an id the index does not know.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "docs" / "features.md"
ROW = re.compile(r"^\|\s*\*{0,2}([A-Z]\d*)\*{0,2}\s*\|(.*)\|\s*(done|planned)\s*\|\s*$")


class _SpecCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            ids = {arg for mark in item.iter_markers("spec") for arg in mark.args}
            self.counts.update(ids)


def read_index() -> dict[str, str]:
    """Map each feature id of the index to its status ("done" or "planned")."""
    status: dict[str, str] = {}
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            status[match.group(1)] = match.group(3)
    return status


def main() -> int:
    """Collect the tests, print the table and return the exit code."""
    index = read_index()
    if not index:
        print(f"no feature rows found in {INDEX}")
        return 1
    counter = _SpecCounter()
    rc = pytest.main(
        ["--collect-only", "-qq", str(ROOT / "tests")],
        plugins=[counter],
    )
    if rc != 0:
        print(f"collecting the tests failed with exit code {rc}")
        return 1
    failures = []
    print(f"{'id':<4} {'status':<8} {'tests':>5}")
    for fid, state in index.items():
        count = counter.counts.get(fid, 0)
        flag = ""
        if state == "done" and count == 0:
            flag = "  <- done but no test proves it"
            failures.append(fid)
        print(f"{fid:<4} {state:<8} {count:>5}{flag}")
    unknown = sorted(set(counter.counts) - set(index))
    if unknown:
        print(f"tests name ids the index does not know: {', '.join(unknown)}")
        failures.extend(unknown)
    done = sum(1 for s in index.values() if s == "done")
    print(f"{done} of {len(index)} features done; {sum(counter.counts.values())} spec marks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
