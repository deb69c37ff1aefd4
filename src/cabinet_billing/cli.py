"""The ``cabinet-billing`` command.

``cabinet-billing simulate FILE.toml`` runs a scenario file (a customer's story, step by
step) and prints what each month brought: revenue, invoices, renewals, expired services,
overdue and blocked accounts, notifications; ``--timeline ACCOUNT`` adds what happened to
one account, day by day. ``cabinet-billing simulate --preset NAME --accounts N --months M``
bills a generated population of customers instead. ``--json`` prints the same as JSON,
amounts as strings.

``cabinet-billing demo`` runs a year of each bundled preset, then prices a cloud order
the way a customer cabinet shows it: the monthly configuration prorated to the first of
next month, the tax added, the payment method's fee and cashback, rendered in the four
bundled locales.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.tax import TaxAmounts, TaxMode, TaxRate, tax_amounts
from cabinet_billing.errors import BillingError
from cabinet_billing.l10n import N_, SUPPORTED_LOCALES, format_date, format_money, translate
from cabinet_billing.rules.presets import PRESETS, preset
from cabinet_billing.rules.proration import ProratedPrice, ProrationPolicy
from cabinet_billing.testing.population import Population
from cabinet_billing.testing.report import (
    MonthRow,
    SimulationReport,
    population_report,
    scenario_report,
    write_html,
)
from cabinet_billing.testing.scenario import Scenario

__all__ = [
    "MAX_ACCOUNTS",
    "MAX_MONTHS",
    "MonthRow",
    "SimulationReport",
    "main",
    "presets_year",
    "render_demo",
    "render_presets_year",
    "render_simulation",
    "simulate_file",
    "simulate_population",
]

#: The largest generated population ``simulate --preset`` bills (a year of 100 000 accounts
#: takes minutes and its report is already too large to read).
MAX_ACCOUNTS = 100_000
#: The longest simulation ``simulate --preset`` runs: ten years.
MAX_MONTHS = 120

#: The demo's labels, in the order of its rows (words from the gettext catalogs).
_LABELS = (
    N_("cli.order_on"),
    N_("cli.monthly_price"),
    N_("cli.now_until"),
    N_("cli.tax"),
    N_("cli.fee"),
    N_("cli.to_pay"),
    N_("cli.cashback"),
)


def _labels(locale: str) -> list[str]:
    # Other languages get the English labels with their own notation.
    language = locale if locale in SUPPORTED_LOCALES else "en"
    return [translate(msgid, language) for msgid in _LABELS]


def _demo_figures(ordered_on: date) -> tuple[ProratedPrice, TaxAmounts, PaymentMethodPricing]:
    monthly = Money("660.00", "RUB")
    prorated = ProrationPolicy(alignment_day=1).prorate(monthly, "month", ordered_on)
    taxed = tax_amounts(prorated.now, TaxRate("10", "VAT"), TaxMode.EXCLUSIVE)
    card = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=Money("10.00", "RUB"),
        minimum=Money("10.00", "RUB"),
        maximum=Money("3000.00", "RUB"),
        cashback_percent="10",
    )
    return prorated, taxed, card


def render_demo(
    ordered_on: date = date(2023, 5, 2), locales: Sequence[str] = SUPPORTED_LOCALES
) -> str:
    """The demo's text: one cart line priced and shown in each locale.

    >>> print(render_demo(locales=["en"]))
    [en]
      Order on                 May 2, 2023
      Monthly price            RUB660.00
      Now (until Jun 1, 2023)  RUB638.71
      Tax                      RUB63.87
      Fee                      RUB45.13
      To pay                   RUB747.71
      Cashback                 RUB74.77
    """
    prorated, taxed, card = _demo_figures(ordered_on)
    quote = card.quote(taxed.gross)
    blocks = []
    for locale in locales:
        order, monthly, now, tax, fee, total, cashback = _labels(locale)
        until = format_date(prorated.paid_until, locale, "medium")
        rows = [
            (order, format_date(ordered_on, locale, "long")),
            (monthly, format_money(prorated.then, locale)),
            (now.format(until=until), format_money(prorated.now, locale)),
            (tax, format_money(taxed.tax, locale)),
            (fee, format_money(quote.fee, locale)),
            (total, format_money(quote.total, locale)),
            (cashback, format_money(quote.cashback, locale)),
        ]
        width = max(len(label) for label, _ in rows) + 2
        lines = [f"[{locale}]"] + [f"  {label:<{width}}{value}" for label, value in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# ----------------------------------------------------------------------------- simulate

#: The columns of the month table after the month and the amounts billed and collected.
_COUNTS = ("invoices", "renewals", "expired", "overdue", "blocked", "notifications")


def _amounts_text(amounts: Mapping[str, Money]) -> str:
    return ", ".join(f"{amount.amount} {code}" for code, amount in amounts.items()) or "-"


def render_simulation(report: SimulationReport) -> str:
    """The report as a month-by-month table (and the timelines asked for).

    Billed is what the invoices issued for orders and renewals asked for; collected is
    what payments brought in.

    >>> row = MonthRow(month="2024-01", billed={"EUR": Money("30.00", "EUR")},
    ...                collected={"EUR": Money("100.00", "EUR")}, invoices=1, renewals=0,
    ...                expired=0, overdue=0, blocked=0, notifications=2, failed_charges=0)
    >>> report = SimulationReport(title="A studio's January", source={"file": "x.toml"},
    ...                           start=date(2024, 1, 1), end=date(2024, 1, 31), months=(row,))
    >>> print(render_simulation(report))
    A studio's January
    x.toml, 2024-01-01 to 2024-01-31
    <BLANKLINE>
    month    billed     collected   invoices  renewals  expired  overdue  blocked  notifications
    2024-01  30.00 EUR  100.00 EUR         1         0        0        0        0              2
    total    30.00 EUR  100.00 EUR         1         0        0                                2
    """
    rows = [*report.months, MonthRow.total(report.months)]
    billed = max(len("billed"), *(len(_amounts_text(r.billed)) for r in rows))
    collected = max(len("collected"), *(len(_amounts_text(r.collected)) for r in rows))
    header = f"{'month':<8} {'billed':<{billed}}  {'collected':<{collected}}  " + "  ".join(_COUNTS)
    lines = [report.title, f"{report.source_text}, {report.start} to {report.end}", "", header]
    for row in rows:
        cells = []
        for name in _COUNTS:
            value = getattr(row, name)
            cells.append(f"{'' if value is None else value:>{len(name)}}")
        lines.append(
            f"{row.month:<8} {_amounts_text(row.billed):<{billed}}  "
            f"{_amounts_text(row.collected):<{collected}}  " + "  ".join(cells)
        )
    for timeline in report.timelines:
        lines += ["", f"Timeline of {timeline.account_id}"]
        lines += [f"  {day}  {text}" for day, text in timeline.events]
        if not timeline.events:
            lines.append("  (nothing happened)")
    return "\n".join(line.rstrip() for line in lines)


class _ProgressBar:
    """A plain-text progress bar, redrawn in place: ``[#####.....] 45%``."""

    def __init__(self, stream: TextIO, width: int = 20) -> None:
        self._stream = stream
        self._width = width
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if percent == self._shown:
            return
        self._shown = percent
        filled = self._width * percent // 100
        bar = "#" * filled + "." * (self._width - filled)
        self._stream.write(f"\r[{bar}] {percent}%")
        self._stream.flush()

    def close(self) -> None:
        if self._shown >= 0:
            self._stream.write("\n")
            self._stream.flush()


class _UsageError(Exception):
    """A bad argument or input file: one line for stderr, exit code 2."""


def simulate_population(
    preset_name: str,
    *,
    accounts: int,
    months: int,
    seed: int = 0,
    start: date = date(2024, 1, 1),
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Bill a generated population and report its months.

    Raises:
        NotFoundError: for an unknown preset, naming the known ones.
        ValidationError: for fewer than one account or month.
    """
    population = Population(preset_name, accounts=accounts, start=start, seed=seed)
    population.run(months=months, progress=progress)
    return population_report(
        population,
        source={
            "preset": population.preset.name,
            "accounts": accounts,
            "months": months,
            "seed": seed,
        },
    )


def simulate_file(path: Path, timelines: Sequence[str] = ()) -> SimulationReport:
    """Run a scenario file and report its months (and the timelines of some accounts).

    Raises:
        OSError: when the file cannot be read.
        UnicodeDecodeError: when it is not UTF-8 text.
        tomllib.TOMLDecodeError: when it is not TOML.
        BillingError: for a step the scenario refuses.
        AssertionError: when an expectation of the file is not met.
    """
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    scenario = Scenario.from_toml(text).run()
    title = str(data.get("title", "")) or (
        scenario.preset.title if scenario.preset is not None else path.stem
    )
    for account_id in timelines:
        if account_id not in scenario.cabinet.store.accounts.rows:
            known = ", ".join(scenario.cabinet.store.accounts.ids()) or "none"
            msg = f"--timeline {account_id!r}: no such account in {path} (accounts: {known})"
            raise _UsageError(msg)
    return scenario_report(
        scenario, title=title, source={"file": str(path)}, timelines=list(dict.fromkeys(timelines))
    )


def _simulate(args: argparse.Namespace) -> SimulationReport:
    if (args.file is None) == (args.preset is None):
        msg = "give a scenario FILE or --preset NAME (one of them, not both)"
        raise _UsageError(msg)
    if args.file is not None:
        return _simulate_file(Path(args.file), args.timeline or ())
    return _simulate_population(args)


def _simulate_file(path: Path, timelines: Sequence[str]) -> SimulationReport:
    try:
        return simulate_file(path, timelines)
    except OSError as exc:
        msg = f"cannot read scenario file {str(path)!r}: {exc.strerror or exc}"
        raise _UsageError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"scenario file {str(path)!r} is not UTF-8 text (byte {exc.start}): give a TOML file"
        raise _UsageError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"scenario file {str(path)!r} is not valid TOML: {exc}"
        raise _UsageError(msg) from None
    except BillingError as exc:
        notes = "; ".join(getattr(exc, "__notes__", []))
        msg = f"scenario file {str(path)!r}: {exc}" + (f" ({notes})" if notes else "")
        raise _UsageError(msg) from None


def _simulate_population(args: argparse.Namespace) -> SimulationReport:
    if args.timeline is not None:
        msg = "--timeline needs a scenario FILE (a generated population has no story)"
        raise _UsageError(msg)
    name = args.preset.lower().replace("-", "_")
    if name not in PRESETS:
        msg = f"unknown preset {args.preset!r} (allowed: {', '.join(sorted(PRESETS))})"
        raise _UsageError(msg)
    for option, value, most in (
        ("--accounts", args.accounts, MAX_ACCOUNTS),
        ("--months", args.months, MAX_MONTHS),
    ):
        if value < 1:
            msg = f"{option} {value}: must be 1 or more"
            raise _UsageError(msg)
        if value > most:
            msg = f"{option} {value}: at most {most} (a larger population is a benchmark, not a simulation)"
            raise _UsageError(msg)
    show = args.progress or sys.stderr.isatty()
    bar = _ProgressBar(sys.stderr) if show else None
    try:
        return simulate_population(
            preset(name).name,
            accounts=args.accounts,
            months=args.months,
            seed=args.seed,
            start=args.start,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------- demo


def presets_year(
    *,
    accounts: int = 5,
    months: int = 12,
    seed: int = 1,
    start: date = date(2024, 1, 1),
    progress: Callable[[int, int], None] | None = None,
) -> list[SimulationReport]:
    """A year (``months``) of a small generated population of every bundled preset."""
    return [
        simulate_population(
            name, accounts=accounts, months=months, seed=seed, start=start, progress=progress
        )
        for name in PRESETS
    ]


def render_presets_year(reports: Sequence[SimulationReport] | None = None) -> str:
    """The month tables of :func:`presets_year` (run now unless given)."""
    shown = presets_year() if reports is None else reports
    return "\n\n".join(render_simulation(r) for r in shown)


#: Where ``cabinet-billing demo`` writes its report unless told otherwise.
DEMO_REPORT = Path(tempfile.gettempdir()) / "cabinet-billing-demo" / "report.html"


def _write_report(path: str | Path, reports: Sequence[SimulationReport], title: str | None) -> str:
    """Write the HTML report; returns an error line, or ``""`` when it was written."""
    try:
        write_html(path, reports, title=title)
    except ModuleNotFoundError as exc:
        if exc.name != "pygal":
            raise
        return str(exc)
    except OSError as exc:
        return f"cannot write the report to {str(path)!r}: {exc.strerror or exc}"
    return ""


# ----------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cabinet-billing", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="a year of each preset, then a cloud order priced in four locales",
        description="A year of a small population of each preset, then a cloud order "
        "priced in four locales. With --ordered-on or --locale, only the priced order.",
    )
    demo.add_argument(
        "--ordered-on",
        type=date.fromisoformat,
        default=None,
        help="the order date (YYYY-MM-DD); default 2023-05-02",
    )
    demo.add_argument(
        "--locale",
        action="append",
        choices=SUPPORTED_LOCALES,
        help="show only this locale (repeatable)",
    )
    demo.add_argument(
        "--report",
        metavar="PATH",
        default=str(DEMO_REPORT),
        help=f"where to write the HTML report of the three presets (default {DEMO_REPORT})",
    )
    sim = commands.add_parser(
        "simulate",
        help="run a scenario file or a generated population, month by month",
        description="Run a scenario FILE (TOML) or, with --preset, a generated population, "
        "and print revenue, invoices, renewals, expired services, overdue and blocked "
        "accounts and notifications month by month.",
    )
    sim.add_argument("file", nargs="?", help="a scenario file (TOML)")
    sim.add_argument(
        "--timeline",
        metavar="ACCOUNT",
        action="append",
        help="also print this account's story (repeatable)",
    )
    sim.add_argument(
        "--report",
        metavar="PATH",
        help="also write an HTML page of charts and tables (the timelines too) to PATH",
    )
    sim.add_argument(
        "--preset",
        metavar="NAME",
        help=f"simulate a generated population of this preset ({', '.join(sorted(PRESETS))})",
    )
    sim.add_argument("--accounts", type=int, default=100, help="accounts (default 100)")
    sim.add_argument("--months", type=int, default=12, help="months (default 12)")
    sim.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    sim.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2024, 1, 1),
        help="the first day, YYYY-MM-DD (default 2024-01-01)",
    )
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar on stderr even when it is not a terminal",
    )
    db = commands.add_parser("db", help="upgrade the SQL store's schema or show its revision")
    db.add_argument("db_args", nargs=argparse.REMAINDER, help="upgrade|current|history ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "db":  # needs the sql extra
        from cabinet_billing.adapters.sql.commands import main as db  # noqa: PLC0415

        return db(args.db_args)
    if args.command == "simulate":
        try:
            report = _simulate(args)
        except _UsageError as exc:
            print(f"cabinet-billing simulate: error: {exc}", file=sys.stderr)
            return 2
        except AssertionError as exc:
            print(f"cabinet-billing simulate: expectation not met: {exc}", file=sys.stderr)
            return 1
        if args.report is not None:
            error = _write_report(args.report, [report], None)
            if error:
                print(f"cabinet-billing simulate: error: {error}", file=sys.stderr)
                return 2
        if args.json:
            print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        else:
            print(render_simulation(report))
        return 0
    if args.ordered_on is None and args.locale is None:
        print("A year of each preset, five generated customers each (seed 1)")
        print("=" * 62)
        print()
        reports = presets_year()
        print(render_presets_year(reports))
        print()
        error = _write_report(args.report, reports, "Simulation report: a year of each preset")
        print(f"Report: {error or Path(args.report).resolve()}")
        print()
        print("A cloud order, priced in four locales")
        print("=" * 36)
        print()
    ordered_on = args.ordered_on or date(2023, 5, 2)
    print(render_demo(ordered_on, args.locale or SUPPORTED_LOCALES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
