"""One self-contained HTML page for one or more simulation reports.

The page needs nothing but itself: the styles are inline, the charts are inline SVG and
there is no script and no web font, so it opens the same way from a file, an e-mail or a
CI artefact, with no network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path

from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.testing.history import CreditDay, CreditUse
from cabinet_billing.testing.report import _charts
from cabinet_billing.testing.report._data import MonthRow, SimulationReport, Timeline

__all__ = ["render_html", "write_html"]

_CSS = """
:root { color-scheme: light; --ink: #263238; --muted: #607d8b; --line: #e0e6ea; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f7f8; color: var(--ink);
  font: 15px/1.45 "DejaVu Sans", "Liberation Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; }
header p, .source, .note { color: var(--muted); margin: 0 0 8px; }
nav a { margin-right: 16px; color: #3949ab; }
section.simulation { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 20px 24px; margin: 24px 0; }
section.simulation h2 { font-size: 21px; margin: 0 0 4px; }
h3 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h4 { font-size: 15px; margin: 18px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px;
  min-width: 150px; background: #fafbfc; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
figure.chart { margin: 8px 0 16px; }
figure.chart svg { width: 100%; height: auto; display: block; }
.charts { display: grid; grid-template-columns: 1fr; gap: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0 12px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { background: #eceff1; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid #b0bec5; }
table.timeline td:first-child { white-space: nowrap; color: var(--muted); width: 7em; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 6px; }
"""


def _money_cell(amounts: Mapping[str, Money]) -> str:
    if not amounts:
        return "–"
    return "<br>".join(escape(_charts.money_text(a)) for _, a in sorted(amounts.items()))


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _currencies(report: SimulationReport) -> list[str]:
    codes = {code for row in report.months for code in (*row.billed, *row.collected)}
    codes |= {s.currency for s in report.balances}
    return sorted(codes)


def _cards(report: SimulationReport) -> str:
    total = report.totals
    cards = [
        *((f"billed, {code}", _charts.money_text(amount)) for code, amount in total.billed.items()),
        *(
            (f"collected, {code}", _charts.money_text(amount))
            for code, amount in total.collected.items()
        ),
        ("invoices", str(total.invoices)),
        ("renewals", str(total.renewals)),
        ("expired", str(total.expired)),
        ("failed charges", str(total.failed_charges)),
        ("notifications", str(total.notifications)),
    ]
    body = "".join(
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for label, value in cards
    )
    return f'<div class="cards">{body}</div>'


def _figure(svg: str, caption: str = "") -> str:
    text = f"<figcaption class='note'>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart">{svg}{text}</figure>'


def _month_table(rows: Sequence[MonthRow]) -> str:
    head = (
        "<tr><th>month</th><th class='n'>billed</th><th class='n'>collected</th>"
        "<th class='n'>invoices</th><th class='n'>renewals</th><th class='n'>expired</th>"
        "<th class='n'>failed charges</th><th class='n'>overdue</th><th class='n'>blocked</th>"
        "<th class='n'>notifications</th></tr>"
    )

    def line(row: MonthRow) -> str:
        cells = [
            row.invoices,
            row.renewals,
            row.expired,
            row.failed_charges,
            row.overdue,
            row.blocked,
            row.notifications,
        ]
        counts = "".join(f"<td class='n'>{_count(c)}</td>" for c in cells)
        return (
            f"<tr><td>{escape(row.month)}</td><td class='n'>{_money_cell(row.billed)}</td>"
            f"<td class='n'>{_money_cell(row.collected)}</td>{counts}</tr>"
        )

    body = "".join(line(r) for r in rows)
    return (
        f"<table class='months'><thead>{head}</thead><tbody>{body}</tbody>"
        f"<tfoot>{line(MonthRow.total(rows))}</tfoot></table>"
    )


def _credit_summary(day: CreditDay) -> str:
    parts = [
        ("overdue", day.overdue, _charts.OVERDUE),
        ("awaiting payment", day.awaiting, _charts.AWAITING),
        ("spent since the statement", day.spent, _charts.SPENT),
        ("available", day.available, "#cfd8dc"),
        ("unavailable (blocked)", day.unavailable, "#90a4ae"),
    ]
    rows = "".join(
        f"<tr><td><span class='swatch' style='background:{color}'></span>{escape(name)}</td>"
        f"<td class='n'>{escape(_charts.money_text(amount))}</td></tr>"
        for name, amount, color in parts
    )
    lines = f"{day.lines} credit line{'s' if day.lines != 1 else ''}"
    blocked = f", {day.blocked} blocked" if day.blocked else ""
    return (
        f"<h4>The dashboard on {day.day.isoformat()} ({lines}{blocked})</h4>"
        f"<table class='credit'><tbody>{rows}</tbody><tfoot><tr><td>limit</td>"
        f"<td class='n'>{escape(_charts.money_text(day.limit))}</td></tr></tfoot></table>"
    )


def _credit_per_service(uses: Iterable[CreditUse], currency: str) -> str:
    totals: dict[str, list[Money]] = {}
    for use in uses:
        if use.amount.code == currency:
            totals.setdefault(use.what, []).append(use.amount)
    if not totals:
        return ""
    rows = sorted(
        ((what, sum_money(amounts, currency), len(amounts)) for what, amounts in totals.items()),
        key=lambda r: (-r[1].amount, r[0]),
    )
    body = "".join(
        f"<tr><td>{escape(what)}</td><td class='n'>{n}</td>"
        f"<td class='n'>{escape(_charts.money_text(total))}</td></tr>"
        for what, total, n in rows
    )
    return (
        "<table class='credit-services'><thead><tr><th>service</th>"
        "<th class='n'>uses</th><th class='n'>paid on credit</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


_CREDIT_NOTE = (
    "Each day's credit dashboard, added up over the credit lines: what is overdue, what "
    "awaits payment on an issued statement and what was spent since the last statement; "
    "with what is still available they sum to the limit."
)


def _credit(report: SimulationReport, prefix: str) -> str:
    if not report.credit_days:
        return ""
    months = [m.month for m in report.months]
    blocks = ["<h3>Credit used and overdue</h3>"]
    blocks.append(f"<p class='note'>{escape(_CREDIT_NOTE)}</p>")
    for code in sorted({d.currency for d in report.credit_days}):
        last = [d for d in report.credit_days if d.currency == code][-1]
        blocks.append(
            _figure(_charts.credit_chart(report.credit_days, code, f"{prefix}-credit-{code}"))
        )
        blocks.append(_credit_summary(last))
        blocks.append(
            _figure(
                _charts.credit_services_chart(
                    months, report.credit_uses, code, f"{prefix}-credit-services-{code}"
                ),
                "What the credit lines paid for, per service, in the month it was used "
                "(the month its statement bills).",
            )
        )
        blocks.append(_credit_per_service(report.credit_uses, code))
    return "".join(blocks)


def _timelines(timelines: Sequence[Timeline]) -> str:
    if not timelines:
        return ""
    blocks = ["<h3>Timelines</h3>"]
    for timeline in timelines:
        rows = (
            "".join(
                f"<tr><td>{day.isoformat()}</td><td>{escape(text)}</td></tr>"
                for day, text in timeline.events
            )
            or "<tr><td></td><td>(nothing happened)</td></tr>"
        )
        blocks.append(
            f"<h4 id='timeline-{escape(timeline.account_id)}'>"
            f"{escape(timeline.account_id)}</h4>"
            f"<table class='timeline'><tbody>{rows}</tbody></table>"
        )
    return "".join(blocks)


_REVENUE_NOTE = (
    "Billed: the invoices issued for orders and renewals in the month. Collected: the "
    "payments credited in the month (top-ups, card charges, bank transfers). A top-up is "
    "collected before it is billed; a credit statement is not billed again, it asks for "
    "what was bought on credit."
)


def _section(report: SimulationReport, number: int) -> str:
    prefix = f"s{number}"
    months = [m.month for m in report.months]
    source = f"{report.source_text}, {report.start.isoformat()} to {report.end.isoformat()}"
    parts = [
        f"<section class='simulation' id='{prefix}'>",
        f"<h2>{escape(report.title)}</h2>",
        f"<p class='source'>{escape(source)}</p>",
        _cards(report),
        "<h3>Revenue billed and collected</h3>",
        f"<p class='note'>{escape(_REVENUE_NOTE)}</p>",
    ]
    parts += [
        _figure(_charts.revenue_chart(report.months, code, f"{prefix}-rev-{code}"))
        for code in _currencies(report)
    ]
    if report.balances:
        parts.append("<h3>Balances</h3>")
        parts += [
            _figure(
                _charts.balance_chart(report.months, report.balances, code, f"{prefix}-bal-{code}")
            )
            for code in sorted({s.currency for s in report.balances})
        ]
    parts.append(_credit(report, prefix))
    parts += [
        "<h3>Renewals, expiries and notifications</h3>",
        _figure(_charts.services_chart(report.months, f"{prefix}-services")),
        _figure(_charts.notifications_chart(months, dict(report.notifications), f"{prefix}-nt")),
        "<h3>Month by month</h3>",
        _month_table(report.months),
        _timelines(report.timelines),
        "</section>",
    ]
    return "".join(parts)


def render_html(reports: Sequence[SimulationReport], *, title: str | None = None) -> str:
    """One self-contained HTML page showing the reports, one section each.

    Args:
        reports: the reports, in the order to show them.
        title: the page's heading (default: "Simulation report"); the browser's tab
            shows it, or the only report's title.

    Raises:
        ModuleNotFoundError: when pygal (the ``report`` extra) is not installed.
    """
    heading = title or "Simulation report"
    tab = title or (reports[0].title if len(reports) == 1 else heading)
    nav = ""
    if len(reports) > 1:
        links = "".join(
            f"<a href='#s{n}'>{escape(r.title)}</a>" for n, r in enumerate(reports, start=1)
        )
        nav = f"<nav>{links}</nav>"
    sections = "".join(_section(r, n) for n, r in enumerate(reports, start=1))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(tab)}</title><style>{_CSS}</style></head><body><main>"
        f"<header><h1>{escape(heading)}</h1><p>A simulation of the cabinet_billing library: "
        f"every figure comes from the billing's own events, ledgers and credit lines.</p>"
        f"{nav}</header>{sections}</main></body></html>\n"
    )


def write_html(
    path: Path | str, reports: Sequence[SimulationReport], *, title: str | None = None
) -> Path:
    """Write :func:`render_html` to ``path`` (its folder is made when missing).

    Returns:
        The path written.

    Raises:
        ModuleNotFoundError: when pygal (the ``report`` extra) is not installed.
        OSError: when the file cannot be written.
    """
    target = Path(path)
    page = render_html(reports, title=title)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
