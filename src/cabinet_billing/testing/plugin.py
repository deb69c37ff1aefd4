"""A pytest plugin: fixtures for tests of code built on this library.

Installed with the package (entry point group ``pytest11``), it offers:

* ``cabinet``: a fresh :func:`~cabinet_billing.adapters.memory.in_memory_billing` with the
  default settings, its clock at 2024-01-01 00:00 UTC;
* ``billing_scenario``: a factory of :class:`~cabinet_billing.testing.scenario.Scenario`
  objects, each with its own store and clock, so tests may run in parallel.

.. code-block:: python

    def test_renewal(billing_scenario):
        s = billing_scenario("introserv", start=date(2024, 1, 10))
        s.account("acc-1").top_up("acc-1", "100.00 EUR").order("acc-1", "vps")
        s.advance(to=date(2024, 2, 10)).expect_balance("acc-1", "40.00 EUR")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from cabinet_billing.adapters.memory import InMemoryBilling, in_memory_billing
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.rules.presets import CabinetPreset
from cabinet_billing.testing.scenario import Scenario

__all__ = ["ScenarioFactory", "billing_scenario", "cabinet"]

#: What the ``billing_scenario`` fixture returns: ``Scenario``'s own signature.
ScenarioFactory = Callable[..., Scenario]


def _new_scenario(
    preset: str | CabinetPreset | None = None,
    *,
    settings: BillingSettings | None = None,
    start: date = date(2024, 1, 1),
) -> Scenario:
    return Scenario(preset, settings=settings, start=start)


@pytest.fixture
def billing_scenario() -> ScenarioFactory:
    """A factory of fresh scenarios: ``billing_scenario("horoshop", start=date(...))``."""
    return _new_scenario


@pytest.fixture
def cabinet() -> InMemoryBilling:
    """A fresh in-memory billing with the default settings."""
    return in_memory_billing()
