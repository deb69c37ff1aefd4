"""The charts of a simulation report, drawn as inline SVG by pygal.

pygal is the ``report`` extra (``pip install 'cabinet_billing[report]'``), imported only
when a chart is drawn, so the library itself never needs it. Every chart is plain SVG:
no script, no web font, no file next to it. pygal's tooltips need its JavaScript from
the network, so they are left out (with the configuration pygal writes for them); each
drawn value carries an SVG ``<title>`` instead, which a browser shows on hover by itself.

Amounts are exact everywhere else; a chart needs a position on its axis, so the amount is
turned into a float there and only there, while the text shown for it is the exact amount.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from cabinet_billing.domain.money import Money
from cabinet_billing.testing.history import CreditDay, CreditUse
from cabinet_billing.testing.report._data import BalanceSeries, MonthRow

__all__ = [
    "balance_chart",
    "credit_chart",
    "credit_services_chart",
    "money_text",
    "notifications_chart",
    "pygal_module",
    "revenue_chart",
    "services_chart",
]

#: The fonts the page itself uses: whatever sans-serif the viewer's system has.
FONT = '"DejaVu Sans", "Liberation Sans", "Helvetica Neue", Arial, sans-serif'
BILLED, COLLECTED = "#3f51b5", "#26a69a"
OVERDUE, AWAITING, SPENT = "#e53935", "#ffb300", "#1e88e5"
RENEWED, EXPIRED, FAILED = "#43a047", "#8d6e63", "#e53935"
#: Colours for series without a meaning of their own (services, accounts, kinds).
PALETTE = (
    "#3f51b5",
    "#26a69a",
    "#ff7043",
    "#ab47bc",
    "#9ccc65",
    "#ffca28",
    "#29b6f6",
    "#ec407a",
    "#8d6e63",
    "#78909c",
    "#5c6bc0",
    "#d4e157",
    "#00838f",
    "#c62828",
    "#6d4c41",
    "#f9a825",
    "#283593",
    "#2e7d32",
)

#: About how many ticks fit the height of a chart of counts.
_TICKS = 8
_VALUE = re.compile(r'<desc class="value">(.*?)</desc>', re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: pygal's configuration for its tooltip script, which the page does not load.
_SCRIPT = re.compile(r"<script[^>]*>.*?</script>", re.DOTALL)
#: pygal's notes for its tooltip script: where to put a tooltip, which label it has.
_PLACEMENT = re.compile(r'<desc class="(?:x|y)[^"]*">[^<]*</desc>')
#: Coordinates to a hundredth of a pixel, not fifteen digits.
_LONG_NUMBER = re.compile(r"(\d\.\d\d)\d+")


def pygal_module() -> ModuleType:
    """pygal, imported on first use.

    Raises:
        ModuleNotFoundError: when it is not installed, saying how to install it.
    """
    try:
        import pygal  # noqa: PLC0415 - optional: only drawing a report needs it
    except ModuleNotFoundError as exc:
        msg = (
            "the HTML report draws its charts with pygal, which is not installed: "
            "pip install 'cabinet_billing[report]'"
        )
        raise ModuleNotFoundError(msg, name="pygal") from exc
    module: ModuleType = pygal
    return module


def _style(colors: Sequence[str], *, opacity: str = ".85") -> object:
    pygal = pygal_module()
    return pygal.style.Style(
        font_family=FONT,
        background="transparent",
        plot_background="#ffffff",
        foreground="#37474f",
        foreground_strong="#263238",
        foreground_subtle="#90a4ae",
        guide_stroke_color="#cfd8dc",
        major_guide_stroke_color="#b0bec5",
        opacity=opacity,
        opacity_hover="1",
        stroke_opacity=opacity,
        colors=tuple(colors) or PALETTE,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=14,
        tooltip_font_size=12,
    )


def _chart(
    kind: str, chart_id: str, colors: Sequence[str], *, opacity: str = ".85", **config: object
) -> Any:  # noqa: ANN401 - pygal has no types
    pygal = pygal_module()
    options: dict[str, object] = {
        "style": _style(colors, opacity=opacity),
        "js": [],  # pygal's tooltip script would come from the network
        "disable_xml_declaration": True,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "truncate_legend": -1,
        "truncate_label": -1,
        "height": 300,
        "width": 860,
        "margin": 12,
        "margin_bottom": 28,
        "spacing": 14,
        "show_y_guides": True,
        "show_x_guides": False,
        "print_values": False,
        "value_formatter": _axis,
    }
    options.update(config)
    chart = getattr(pygal, kind)(**options)
    # A stable id (pygal draws a random one), so the same report renders the same page.
    chart.uuid = chart_id
    return chart


def _render(chart: Any) -> str:  # noqa: ANN401 - pygal has no types
    svg = str(chart.render(is_unicode=True))
    svg = _COMMENT.sub("", svg)  # pygal's comments carry today's date
    svg = _SCRIPT.sub("", svg)
    svg = _PLACEMENT.sub("", svg)
    svg = _LONG_NUMBER.sub(r"\1", svg)
    return _VALUE.sub(lambda m: f"<title>{m.group(1)}</title>", svg)


def _axis(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u2009")


def _number(amount: Money) -> float:
    # The chart's axis position only; the text shown is the exact amount.
    return float(amount.amount)


def money_text(amount: Money) -> str:
    """An exact amount with thin spaces between thousands: ``34 134.48 RUB``."""
    return f"{amount.amount:,} {amount.code}".replace(",", "\u2009")


def _point(value: float, text: str) -> dict[str, object]:
    def formatter(_: float) -> str:
        return text

    return {"value": value, "formatter": formatter}


def _money_points(
    name: str, labels: Sequence[str], amounts: Sequence[Money], *, skip_zero: bool = False
) -> list[object]:
    """The points of a series; with ``skip_zero``, nothing is drawn for a zero."""
    return [
        None
        if skip_zero and a.amount == 0
        else _point(_number(a), f"{name}, {label}: {money_text(a)}")
        for label, a in zip(labels, amounts, strict=True)
    ]


def _whole_ticks(counts: Sequence[int]) -> list[int]:
    """Whole-number ticks from 0 past the largest count: steps of 1, 2, 5, 10, 20 ...

    >>> _whole_ticks([3]), _whole_ticks([17])
    ([0, 1, 2, 3], [0, 5, 10, 15, 20])
    """
    top = max([1, *counts])
    steps = (m * 10**e for e in itertools.count() for m in (1, 2, 5))
    step = next(s for s in steps if top <= _TICKS * s)
    return list(range(0, top + step, step))


def _count_points(name: str, labels: Sequence[str], counts: Sequence[int]) -> list[object]:
    return [_point(c, f"{name}, {label}: {c}") for label, c in zip(labels, counts, strict=True)]


def revenue_chart(months: Sequence[MonthRow], currency: str, chart_id: str) -> str:
    """Billed and collected by month in one currency: two bars a month."""
    labels = [m.month for m in months]
    zero = Money.zero(currency)
    chart = _chart("Bar", chart_id, (BILLED, COLLECTED), title=f"Billed and collected, {currency}")
    chart.x_labels = labels
    for name, amounts in (
        ("billed", [m.billed.get(currency, zero) for m in months]),
        ("collected", [m.collected.get(currency, zero) for m in months]),
    ):
        chart.add(name, _money_points(name, labels, amounts))
    return _render(chart)


def balance_chart(
    months: Sequence[MonthRow], series: Sequence[BalanceSeries], currency: str, chart_id: str
) -> str:
    """Balances at each month's end in one currency: a line per account (or totals)."""
    labels = [m.month for m in months]
    chart = _chart(
        "Line",
        chart_id,
        PALETTE,
        title=f"Balances at the end of each month, {currency}",
        dots_size=3,
        include_x_axis=True,
    )
    chart.x_labels = labels
    for s in series:
        if s.currency == currency:
            chart.add(s.name, _money_points(s.name, labels, s.values))
    return _render(chart)


def credit_chart(days: Sequence[CreditDay], currency: str, chart_id: str) -> str:
    """The credit dashboard day by day in one currency: overdue, awaiting and spent, stacked.

    What is left of the limit is not drawn (it would flatten the rest); the page states
    the limit and what is available.
    """
    mine = [d for d in days if d.currency == currency]
    dates = [d.day.isoformat() for d in mine]
    # One bar a day, so a change shows as a step on its day; the axis names the months.
    labels = [f"{d.day:%Y-%m}" if d.day.day == 1 else d.day.isoformat() for d in mine]
    chart = _chart(
        "StackedBar",
        chart_id,
        (OVERDUE, AWAITING, SPENT),
        title=f"Credit used, day by day, {currency}",
        opacity="1",  # bars a pixel or two wide: see-through edges would stripe them
        show_minor_x_labels=False,
        x_labels_major=[lb for lb, d in zip(labels, mine, strict=True) if d.day.day == 1]
        or labels[:1],
    )
    chart.x_labels = labels
    parts: list[tuple[str, Callable[[CreditDay], Money]]] = [
        ("overdue", lambda d: d.overdue),
        ("awaiting payment", lambda d: d.awaiting),
        ("spent since the statement", lambda d: d.spent),
    ]
    for name, part in parts:
        chart.add(name, _money_points(name, dates, [part(d) for d in mine], skip_zero=True))
    return _render(chart)


def credit_services_chart(
    months: Sequence[str], uses: Sequence[CreditUse], currency: str, chart_id: str
) -> str:
    """What each service bought on credit, by the month of use, in one currency."""
    zero = Money.zero(currency)
    index = {m: n for n, m in enumerate(months)}
    by_service: dict[str, list[Money]] = {}
    for use in uses:
        n = index.get(f"{use.on:%Y-%m}")
        if use.amount.code != currency or n is None:
            continue
        row = by_service.setdefault(use.what, [zero] * len(months))
        row[n] += use.amount
    chart = _chart(
        "StackedBar", chart_id, PALETTE, title=f"Credit used per service, by month, {currency}"
    )
    chart.x_labels = list(months)
    for what in sorted(by_service, key=lambda w: (-sum(a.amount for a in by_service[w]), w)):
        chart.add(what, _money_points(what, months, by_service[what], skip_zero=True))
    return _render(chart)


def services_chart(months: Sequence[MonthRow], chart_id: str) -> str:
    """Renewals, expiries and failed card charges by month."""
    labels = [m.month for m in months]
    series = (
        ("renewals", [m.renewals for m in months]),
        ("expired", [m.expired for m in months]),
        ("failed charges", [m.failed_charges for m in months]),
    )
    chart = _chart(
        "Bar",
        chart_id,
        (RENEWED, EXPIRED, FAILED),
        title="Renewals, expiries, failed charges",
        y_labels=_whole_ticks([c for _, counts in series for c in counts]),
    )
    chart.x_labels = labels
    for name, counts in series:
        chart.add(name, _count_points(name, labels, counts))
    return _render(chart)


def notifications_chart(
    months: Sequence[str], counts: dict[str, tuple[int, ...]], chart_id: str
) -> str:
    """Notifications sent by month, stacked by kind."""
    totals = [sum(c[n] for c in counts.values()) for n in range(len(months))]
    chart = _chart(
        "StackedBar",
        chart_id,
        PALETTE,
        title="Notifications by kind",
        y_labels=_whole_ticks(totals),
    )
    chart.x_labels = list(months)
    for kind in sorted(counts, key=lambda k: (-sum(counts[k]), k)):
        chart.add(kind, _count_points(kind, months, counts[kind]))
    return _render(chart)
