"""Benchmarks print their cost as a ratio to a floor measured in the same run.

Each benchmark names its floor: the same arithmetic on bare ``Decimal`` values, the least
any money library could cost on this machine today. Absolute times differ between
machines; the ratios are what to compare across runs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

_MEDIANS: dict[str, float] = {}
_FLOORS: dict[str, str] = {}
_UNITS: dict[str, tuple[int, str]] = {}

Measure = Callable[[str, Callable[[], object], str | None], None]


@pytest.fixture
def measure(benchmark: BenchmarkFixture) -> Measure:
    """Benchmark ``fn`` under ``name``; ``floor`` names the benchmark it is compared to.

    ``units`` (count, what) adds the cost of one unit to the summary, e.g. per service.
    """

    def run(
        name: str,
        fn: Callable[[], object],
        floor: str | None = None,
        *,
        rounds: int = 15,
        warmup: int = 2,
        units: tuple[int, str] | None = None,
    ) -> None:
        benchmark.name = name
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup)  # type: ignore[no-untyped-call]
        assert benchmark.stats is not None
        _MEDIANS[name] = float(benchmark.stats.stats.median)
        if floor is not None:
            _FLOORS[name] = floor
        if units is not None:
            _UNITS[name] = units

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MEDIANS:
        return
    terminalreporter.section("cost relative to the floor measured in this run")
    for name, floor in _FLOORS.items():
        if name in _MEDIANS and floor in _MEDIANS:
            ratio = _MEDIANS[name] / _MEDIANS[floor]
            terminalreporter.write_line(
                f"{name:<40} {_MEDIANS[name] * 1e3:9.3f} ms  = {ratio:6.2f} x {floor}",
            )
            if name in _UNITS:
                count, unit = _UNITS[name]
                per = _MEDIANS[name] / count * 1e6
                terminalreporter.write_line(f"{'':<40} {per:9.3f} us per {unit}")
