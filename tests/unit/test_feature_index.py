"""The feature index lists every use case a host can call, and nothing that is gone.

``docs/features.md`` maps each use case to its SPEC ids, right, module and guide. A public
method added to a cabinet namespace (``cabinet.<topic>.<method>``), to a provider-side
namespace (``billing.<topic>.<method>``) or to :class:`~cabinet_billing.app.billing.Billing`
itself fails this test until the index has a row for it, written as
``| `cabinet.<topic>.<method>(<arguments>)` | ids | right | module | guide |``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from cabinet_billing.adapters.memory import in_memory_billing
from cabinet_billing.app.settings import BillingSettings

INDEX = Path(__file__).resolve().parents[2] / "docs" / "features.md"
# A use case in the index: a code span that opens with its dotted name and an argument list.
LISTED = re.compile(r"`((?:cabinet|billing)\.[a-z_.]+)\(")


def _methods(obj: object) -> list[str]:
    return [
        name
        for name, _ in inspect.getmembers(type(obj), inspect.isfunction)
        if not name.startswith("_")
    ]


def _is_namespace(obj: object) -> bool:
    return type(obj).__module__.startswith("cabinet_billing.app.") and not isinstance(
        obj,
        BillingSettings,
    )


def use_cases() -> set[str]:
    """Every public use case of ``Billing`` and of the cabinet, as ``prefix.topic.method``."""
    billing = in_memory_billing().billing
    cabinet = billing.cabinet("acc-1", "u-1")
    names = {f"billing.{name}" for name in _methods(billing)}
    for topic, namespace in vars(billing).items():
        if not topic.startswith("_") and _is_namespace(namespace):
            names |= {f"billing.{topic}.{name}" for name in _methods(namespace)}
    for topic, namespace in vars(cabinet).items():
        if _is_namespace(namespace):
            names |= {f"cabinet.{topic}.{name}" for name in _methods(namespace)}
    return names


def listed() -> set[str]:
    return set(LISTED.findall(INDEX.read_text(encoding="utf-8")))


@pytest.mark.spec("P")
def test_every_use_case_has_a_row_in_the_feature_index() -> None:
    missing = sorted(use_cases() - listed())
    assert not missing, f"add a row to docs/features.md for each of: {', '.join(missing)}"


@pytest.mark.spec("P")
def test_the_feature_index_lists_no_use_case_that_does_not_exist() -> None:
    stale = sorted(listed() - use_cases())
    assert not stale, f"docs/features.md lists use cases that do not exist: {', '.join(stale)}"
