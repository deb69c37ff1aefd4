"""The figures of a simulation report: months, balances, credit, notifications, timelines.

Everything here is read from what a simulation kept: its months (:class:`MonthReport`
or :class:`MonthSummary`), the ledgers and the notifications of its in-memory store,
its :class:`~cabinet_billing.testing.history.CreditHistory` and, for a scenario, the
timelines of the accounts asked for. Nothing calls a use case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

import attrs
from dateutil.relativedelta import relativedelta

from cabinet_billing.adapters.memory import MemoryStore
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.testing.history import CreditDay, CreditUse
from cabinet_billing.testing.population import MonthSummary, Population
from cabinet_billing.testing.scenario import MonthReport, Scenario

__all__ = [
    "BalanceSeries",
    "MonthRow",
    "SimulationReport",
    "Timeline",
    "month_end_balances",
    "notifications_by_kind",
    "population_report",
    "scenario_report",
]

#: A report draws one balance line per account up to this many accounts, else totals.
ACCOUNTS_DRAWN = 6


def _add(into: dict[str, Money], amounts: Mapping[str, Money]) -> None:
    for code, amount in amounts.items():
        into[code] = into.get(code, Money.zero(code)) + amount


@attrs.frozen(kw_only=True)
class MonthRow:
    """One month of a simulation, as the command prints it.

    Attributes:
        month: ``YYYY-MM`` (or ``total``).
        billed: invoices issued for orders and renewals, per currency.
        collected: payments credited, per currency.
        invoices: invoices issued (credit statements included).
        renewals: services renewed.
        expired: services expired.
        overdue: accounts overdue in the month (``None`` in a total).
        blocked: accounts blocked in the month (``None`` in a total).
        notifications: notifications sent.
        failed_charges: saved-method charges that failed.
    """

    month: str
    billed: Mapping[str, Money]
    collected: Mapping[str, Money]
    invoices: int
    renewals: int
    expired: int
    overdue: int | None
    blocked: int | None
    notifications: int
    failed_charges: int

    @classmethod
    def of(cls, month: MonthReport | MonthSummary) -> MonthRow:
        """The row of a scenario's or a population's month."""
        if isinstance(month, MonthReport):
            overdue, blocked = len(month.overdue_accounts), len(month.blocked_accounts)
        else:
            overdue, blocked = month.overdue, month.blocked
        return cls(
            month=month.month,
            billed=dict(sorted(month.billed.items())),
            collected=dict(sorted(month.collected.items())),
            invoices=month.invoices,
            renewals=month.renewals,
            expired=month.expired,
            overdue=overdue,
            blocked=blocked,
            notifications=month.notifications,
            failed_charges=month.failed_charges,
        )

    @classmethod
    def total(cls, rows: Iterable[MonthRow]) -> MonthRow:
        """The sum of the rows (accounts overdue or blocked do not add up: left out)."""
        rows = list(rows)
        billed: dict[str, Money] = {}
        collected: dict[str, Money] = {}
        for row in rows:
            _add(billed, row.billed)
            _add(collected, row.collected)
        return cls(
            month="total",
            billed=dict(sorted(billed.items())),
            collected=dict(sorted(collected.items())),
            invoices=sum(r.invoices for r in rows),
            renewals=sum(r.renewals for r in rows),
            expired=sum(r.expired for r in rows),
            overdue=None,
            blocked=None,
            notifications=sum(r.notifications for r in rows),
            failed_charges=sum(r.failed_charges for r in rows),
        )

    def to_json(self) -> dict[str, object]:
        """The row as JSON-ready values, amounts as strings."""
        data: dict[str, object] = {
            "month": self.month,
            "billed": {code: str(amount.amount) for code, amount in self.billed.items()},
            "collected": {code: str(amount.amount) for code, amount in self.collected.items()},
            "invoices": self.invoices,
            "renewals": self.renewals,
            "expired": self.expired,
            "overdue": self.overdue,
            "blocked": self.blocked,
            "notifications": self.notifications,
            "failed_charges": self.failed_charges,
        }
        if self.month == "total":
            del data["overdue"], data["blocked"]
        return data


@attrs.frozen
class Timeline:
    """What happened to one account, day by day.

    Args:
        account_id: the account.
        events: ``(day, text)`` in order.
    """

    account_id: str
    events: tuple[tuple[date, str], ...] = ()


@attrs.frozen(kw_only=True)
class BalanceSeries:
    """Balances at the end of each month of a report, in one currency.

    Attributes:
        currency: the currency.
        name: an account id, or what the amounts add up (``"prepaid"``, ``"owed"``).
        values: one balance per month of the report, oldest first.
    """

    currency: str
    name: str
    values: tuple[Money, ...]


@attrs.frozen(kw_only=True)
class SimulationReport:
    """What a simulation shows: where it came from, its months and the details.

    Attributes:
        title: the preset's title (or the scenario's).
        source: what was simulated (the file, or the preset, accounts, seed).
        start: the first day.
        end: the last day billed.
        months: the months, oldest first.
        timelines: the timelines of the accounts asked for.
        balances: balances at each month's end (per account, or totals for many).
        notifications: per notification kind, how many were sent in each month.
        credit_days: the credit dashboards day by day, added up per currency.
        credit_uses: what the credit lines paid, per service.
    """

    title: str
    source: Mapping[str, str | int]
    start: date
    end: date
    months: tuple[MonthRow, ...]
    timelines: tuple[Timeline, ...] = ()
    balances: tuple[BalanceSeries, ...] = ()
    notifications: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    credit_days: tuple[CreditDay, ...] = ()
    credit_uses: tuple[CreditUse, ...] = ()

    @property
    def totals(self) -> MonthRow:
        """The months added up."""
        return MonthRow.total(self.months)

    @property
    def source_text(self) -> str:
        """Where the figures come from, on one line: ``preset horoshop, accounts 5 ...``."""
        return ", ".join(
            f"{key} {value}" if key != "file" else str(value) for key, value in self.source.items()
        )

    def to_json(self) -> dict[str, object]:
        """The report's months, totals and timelines as JSON-ready values."""
        data: dict[str, object] = {
            "title": self.title,
            "source": dict(self.source),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": [row.to_json() for row in self.months],
            "totals": self.totals.to_json(),
        }
        if self.timelines:
            data["timelines"] = [
                {
                    "account": t.account_id,
                    "events": [{"date": d.isoformat(), "text": text} for d, text in t.events],
                }
                for t in self.timelines
            ]
        return data


def _month_end(month: str) -> date:
    first = date.fromisoformat(f"{month}-01")
    return first + relativedelta(months=1) - timedelta(days=1)


def month_end_balances(
    store: MemoryStore, months: Sequence[str], *, accounts_drawn: int = ACCOUNTS_DRAWN
) -> tuple[BalanceSeries, ...]:
    """Every account's balance at the end of each month, read from its ledger.

    A ledger is append-only and each entry keeps the balance after it, so a past
    balance is the balance after the last entry booked by then.

    Args:
        store: the store whose ledgers to read.
        months: the months, ``YYYY-MM``, oldest first.
        accounts_drawn: up to this many accounts, one series per account and currency;
            with more, two per currency: ``prepaid`` adds the positive balances and
            ``owed`` the negative ones.
    """
    ends = [_month_end(m) for m in months]
    per_account: dict[tuple[str, str], list[Money]] = {}
    for account_id in sorted(store.ledgers.rows):
        ledger = store.ledgers.rows[account_id]
        for code in ledger.currencies:
            entries = ledger.entries(code)
            values, i, balance = [], 0, Money.zero(code)
            for end in ends:
                while i < len(entries) and entries[i].at.date() <= end:
                    balance = entries[i].balance_after
                    i += 1
                values.append(balance)
            per_account[code, account_id] = values
    if len({account for _, account in per_account}) <= accounts_drawn:
        return tuple(
            BalanceSeries(currency=code, name=account, values=tuple(values))
            for (code, account), values in sorted(per_account.items())
        )
    series: list[BalanceSeries] = []
    for code in sorted({c for c, _ in per_account}):
        rows = [v for (c, _), v in per_account.items() if c == code]
        zero = Money.zero(code)
        prepaid = tuple(sum((r[n] for r in rows if r[n] > zero), zero) for n in range(len(ends)))
        owed = tuple(sum((r[n] for r in rows if r[n] < zero), zero) for n in range(len(ends)))
        series += [
            BalanceSeries(currency=code, name="prepaid", values=prepaid),
            BalanceSeries(currency=code, name="owed", values=owed),
        ]
    return tuple(series)


def notifications_by_kind(
    sent: Iterable[Notification], months: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """Per notification kind, how many were sent in each of the months (kinds sorted)."""
    index = {m: n for n, m in enumerate(months)}
    counts: dict[str, list[int]] = {}
    for notification in sent:
        n = index.get(f"{notification.at:%Y-%m}")
        if n is not None:
            counts.setdefault(notification.kind, [0] * len(months))[n] += 1
    return {kind: tuple(counts[kind]) for kind in sorted(counts)}


def scenario_report(
    scenario: Scenario,
    *,
    title: str,
    source: Mapping[str, str | int],
    timelines: Sequence[str] = (),
) -> SimulationReport:
    """The report of a scenario that has run, with the timelines of some accounts.

    >>> from cabinet_billing.testing.scenario import Scenario
    >>> s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    >>> s = s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR")
    >>> report = scenario_report(s.advance(to=date(2024, 2, 10)), title="A VPS",
    ...                          source={"file": "vps.toml"}, timelines=["acc-1"])
    >>> [(r.month, str(r.billed["EUR"]), r.collected) for r in report.months]
    [('2024-01', '30.00 EUR', {'EUR': Money('100.00', 'EUR')}), ('2024-02', '30.00 EUR', {})]
    >>> [(b.name, [str(v) for v in b.values]) for b in report.balances]
    [('acc-1', ['70.00 EUR', '40.00 EUR'])]
    >>> report.timelines[0].events[0]
    (datetime.date(2024, 1, 10), 'payment pay-1 credited 100.00 EUR')
    """
    months = scenario.months()
    names = [m.month for m in months]
    store = scenario.cabinet.store
    return SimulationReport(
        title=title,
        source=source,
        start=scenario.start,
        end=scenario.today,
        months=tuple(MonthRow.of(m) for m in months),
        timelines=tuple(Timeline(a, tuple(scenario.timeline(a))) for a in timelines),
        balances=month_end_balances(store, names),
        notifications=notifications_by_kind(scenario.cabinet.notifier.sent, names),
        credit_days=scenario.credit_history.days,
        credit_uses=scenario.credit_history.uses,
    )


def population_report(
    population: Population, *, source: Mapping[str, str | int]
) -> SimulationReport:
    """The report of a population that has run."""
    months = population.months()
    names = [m.month for m in months]
    setup = population.setup
    return SimulationReport(
        title=population.preset.title,
        source=source,
        start=population.start,
        end=population.today,
        months=tuple(MonthRow.of(m) for m in months),
        balances=month_end_balances(setup.store, names),
        notifications=notifications_by_kind(setup.notifier.sent, names),
        credit_days=population.credit_history.days,
        credit_uses=population.credit_history.uses,
    )
