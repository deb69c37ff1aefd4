"""The guides show the public API only: no example opens a unit of work or reads a store.

A host builds on ``Billing`` and its namespaces (``billing.cabinet(...)``, ``billing.run``,
``billing.staff`` ...); a guide whose example reaches into a store's unit of work or its
tables shows something a host should not do, and skips the rules and the rights checks.
Only the guides about the store itself (``docs/storage.md``, ``docs/scaling.md``) may.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.spec("P")

ROOT = Path(__file__).parents[2]

#: The guides about the store: opening units of work is what they explain.
ABOUT_THE_STORE = {"docs/storage.md", "docs/scaling.md"}

#: What reaches past the use cases into a store: a unit of work, or the store's tables
#: (``setup.store.invoices.rows[...]``).
STORE_ACCESS = re.compile(r"UnitOfWork\(|\bunit_of_work\(|\buow\b|\.store\b")


def guides() -> list[Path]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in paths if p.relative_to(ROOT).as_posix() not in ABOUT_THE_STORE]


def store_access(text: str, name: str) -> list[str]:
    """The example lines of a guide that reach into a store, with their line numbers."""
    found = []
    for example in doctest.DocTestParser().get_examples(text, name):
        for offset, line in enumerate(example.source.splitlines()):
            if STORE_ACCESS.search(line):
                found.append(f"{name}:{example.lineno + offset + 1}: {line.strip()}")
    return found


def test_the_check_finds_a_unit_of_work_and_a_table_read() -> None:
    text = (
        "Prose may name `uow.outbox` and `unit_of_work()`.\n\n"
        ">>> with MemoryUnitOfWork(setup.store) as uow:\n"
        "...     uow.services.get('s-1')\n"
        ">>> cabinet.services.view('s-1')\n"
        ">>> setup.store.profiles.rows['acc-1']\n"
    )
    assert store_access(text, "guide.md") == [
        "guide.md:3: with MemoryUnitOfWork(setup.store) as uow:",
        "guide.md:4: uow.services.get('s-1')",
        "guide.md:6: setup.store.profiles.rows['acc-1']",
    ]


def test_the_guides_cover_the_readme_and_every_guide_but_the_stores() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in guides()}
    assert {"README.md", "docs/cart.md", "docs/presets/horoshop.md"} <= names
    assert not names & ABOUT_THE_STORE


@pytest.mark.parametrize("path", guides(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_guide_but_the_stores_reaches_into_a_store(path: Path) -> None:
    name = path.relative_to(ROOT).as_posix()
    found = store_access(path.read_text(encoding="utf-8"), name)
    assert not found, (
        "a guide's example reaches into the store; use a use case (billing.cabinet(...), "
        "billing.staff, billing.run ...) instead:\n" + "\n".join(found)
    )
