"""What a simulation's credit lines looked like day by day, and what was bought on credit.

A credit line keeps only its present: unbilled usage moves into a statement on the
statement day, and a statement keeps its paid total, not how it got there. A simulation
that wants to show the credit dashboard over time (SPEC R2) and what each service took
from the credit line (SPEC R1, like Astra Cloud's credit chart) watches the lines as the
days pass. :class:`CreditHistory` does that over an in-memory store: ``observe(day)``
after each step and each billing run records the day's dashboards, summed per currency,
and the usage recorded since the previous look, attributed to the services it paid.

>>> from datetime import date
>>> from cabinet_billing.adapters.memory import MemoryStore
>>> from cabinet_billing.domain.billing_profile import BillingProfile
>>> from cabinet_billing.domain.credit import CreditLine
>>> from cabinet_billing.domain.money import Money
>>> from cabinet_billing.rules.credit_limit import CreditPolicy
>>> store = MemoryStore()
>>> profile = BillingProfile("acc-1")
>>> profile.credit = CreditLine("acc-1", Money("150000.00", "RUB"))
>>> store.profiles.put("acc-1", profile)
>>> history = CreditHistory(store, CreditPolicy())
>>> _ = profile.credit.record_usage(Money("800.00", "RUB"), date(2023, 12, 12), "VPS, daily charges")
>>> history.observe(date(2023, 12, 12))
>>> [(u.what, str(u.amount)) for u in history.uses]
[('VPS', '800.00 RUB')]
>>> day = history.days[-1]
>>> str(day.spent), str(day.available), str(day.limit)
('800.00 RUB', '149200.00 RUB', '150000.00 RUB')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

import attrs

from cabinet_billing.adapters.memory import MemoryStore
from cabinet_billing.domain.allocation import allocate
from cabinet_billing.domain.credit import CreditUsage
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.money import Money
from cabinet_billing.rules.credit_limit import (
    CreditDashboard,
    CreditPolicy,
    CreditStatus,
    credit_dashboard,
)

__all__ = ["CreditDay", "CreditHistory", "CreditUse"]

#: How the use cases note what a credit usage paid (see the credit line's ``note``).
_INVOICE_NOTE = "invoice "
_DAILY_NOTE = ", daily charges"


@attrs.frozen(kw_only=True)
class CreditDay:
    """The credit dashboards of every line in one currency on one day, added up (SPEC R2).

    The parts sum to the limit, as on each line's dashboard.

    Attributes:
        day: the day.
        currency: the lines' currency.
        lines: how many credit lines in that currency.
        limit: the sum of their limits.
        overdue: left to pay of statements overdue or blocked.
        awaiting: left to pay of statements awaiting payment.
        spent: used since the last statement, not billed yet.
        available: what may still be used.
        unavailable: what is left of the limits of blocked lines.
        blocked: how many of the lines were blocked.
    """

    day: date
    currency: str
    lines: int
    limit: Money
    overdue: Money
    awaiting: Money
    spent: Money
    available: Money
    unavailable: Money
    blocked: int

    def add(self, dashboard: CreditDashboard) -> CreditDay:
        """This day with one more line's dashboard added."""
        return attrs.evolve(
            self,
            lines=self.lines + 1,
            limit=self.limit + dashboard.limit,
            overdue=self.overdue + dashboard.overdue,
            awaiting=self.awaiting + dashboard.awaiting,
            spent=self.spent + dashboard.spent,
            available=self.available + dashboard.available,
            unavailable=self.unavailable + dashboard.unavailable,
            blocked=self.blocked + (dashboard.state.status is CreditStatus.BLOCKED),
        )

    @classmethod
    def empty(cls, day: date, currency: str) -> CreditDay:
        """A day with no line yet."""
        zero = Money.zero(currency)
        return cls(
            day=day,
            currency=currency,
            lines=0,
            limit=zero,
            overdue=zero,
            awaiting=zero,
            spent=zero,
            available=zero,
            unavailable=zero,
            blocked=0,
        )


@attrs.frozen(kw_only=True)
class CreditUse:
    """A part of a purchase or renewal that the credit line paid (SPEC R1).

    Attributes:
        account_id: the account.
        on: the day of the usage (the month it is billed for).
        what: the service's plan name, or the usage's note when no service is known.
        service_id: the service it paid, when known.
        amount: how much the credit line paid for it.
    """

    account_id: str
    on: date
    what: str
    service_id: str | None
    amount: Money


class CreditHistory:
    """Watches the credit lines of an in-memory store as a simulation's days pass.

    Args:
        store: the store whose billing profiles hold the credit lines.
        policy: the credit policy (``None``: the settings give no credit; nothing is
            recorded).
    """

    def __init__(self, store: MemoryStore, policy: CreditPolicy | None) -> None:
        self._store = store
        self._policy = policy
        self._days: dict[tuple[date, str], CreditDay] = {}
        self._uses: list[CreditUse] = []
        self._seen: dict[str, Counter[CreditUsage]] = {}

    @property
    def days(self) -> tuple[CreditDay, ...]:
        """The days observed, oldest first, one per currency with credit lines."""
        return tuple(self._days[key] for key in sorted(self._days))

    @property
    def uses(self) -> tuple[CreditUse, ...]:
        """What the credit lines paid, in the order it was observed."""
        return tuple(self._uses)

    def observe(self, day: date) -> None:
        """Record the lines' dashboards on ``day`` and the usage since the last look.

        Observing a day again replaces its dashboards (the last look of a day counts)
        and adds only usage not seen before.
        """
        if self._policy is None:
            return
        totals: dict[str, CreditDay] = {}
        for account_id, profile in self._store.profiles.rows.items():
            line = profile.credit
            if line is None:
                continue
            code = line.currency
            total = totals.get(code) or CreditDay.empty(day, code)
            totals[code] = total.add(credit_dashboard(self._policy, line, day))
            usage = Counter(line.unbilled_usage)
            new = usage - self._seen.get(account_id, Counter())
            self._seen[account_id] = usage
            for item in line.unbilled_usage:
                if new[item] > 0:
                    new[item] -= 1
                    self._uses += self._attribute(account_id, item)
        for code, total in totals.items():
            self._days[day, code] = total

    def _attribute(self, account_id: str, usage: CreditUsage) -> list[CreditUse]:
        """The services a usage paid: an invoice's lines in proportion, or a daily charge."""
        note = usage.note
        invoice = (
            self._invoice(account_id, note.removeprefix(_INVOICE_NOTE))
            if note.startswith(_INVOICE_NOTE)
            else None
        )
        if invoice is not None:
            lines = [ln for ln in invoice.lines if ln.amounts.gross.amount > 0]
            if lines:
                parts = allocate(usage.amount, [ln.amounts.gross.amount for ln in lines])
                return [
                    CreditUse(
                        account_id=account_id,
                        on=usage.on,
                        what=self._service_name(ln.service_id) or ln.description,
                        service_id=ln.service_id,
                        amount=part,
                    )
                    for ln, part in zip(lines, parts, strict=True)
                    if part.amount > 0
                ]
        what = note.removesuffix(_DAILY_NOTE) if note.endswith(_DAILY_NOTE) else note
        return [
            CreditUse(
                account_id=account_id,
                on=usage.on,
                what=what or "credit usage",
                service_id=None,
                amount=usage.amount,
            ),
        ]

    def _invoice(self, account_id: str, number: str) -> Invoice | None:
        rows = self._store.invoices.rows
        ids: Sequence[str] = self._store.invoices.by_account.get(account_id, ())
        return next((rows[i] for i in ids if rows[i].number == number), None)

    def _service_name(self, service_id: str | None) -> str | None:
        service = None if service_id is None else self._store.services.rows.get(service_id)
        return None if service is None else service.plan_name
