"""The simulation report: one self-contained HTML page of charts and tables.

A report shows what a simulation kept (a :class:`~cabinet_billing.testing.scenario.Scenario`
or a :class:`~cabinet_billing.testing.population.Population`): revenue billed and
collected by month and currency, balances, the credit dashboard day by day and what each
service bought on credit, renewals, expiries and notifications, the month table and the
timelines of chosen accounts. The figures need nothing but the library; drawing the
charts needs pygal, the ``report`` extra, imported only then.
"""

from cabinet_billing.testing.report._data import (
    BalanceSeries,
    MonthRow,
    SimulationReport,
    Timeline,
    month_end_balances,
    notifications_by_kind,
    population_report,
    scenario_report,
)
from cabinet_billing.testing.report._page import render_html, write_html

__all__ = [
    "BalanceSeries",
    "MonthRow",
    "SimulationReport",
    "Timeline",
    "month_end_balances",
    "notifications_by_kind",
    "population_report",
    "render_html",
    "scenario_report",
    "write_html",
]
