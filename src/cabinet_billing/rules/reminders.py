"""Payment reminders for unpaid invoices, on a schedule that is a setting, each sent once.

Horoshop sends the owner "invoices, payment reminders and other important messages". An
:class:`InvoiceReminders` schedule says when an unpaid invoice is reminded of: some days
after it was issued, some days before its due date, some days after it (overdue). The
billing run asks :func:`due_reminder` every day for each unpaid invoice; a reminder's
key (``"reminder:<invoice id>:<rule>"``) is recorded when it is sent, so it is sent once.

A run that comes late sends only the latest reminder whose day has come and marks the
earlier ones as passed, so a customer never gets three reminders at once; a reminder
before the due date is not sent once the due date has passed (``before_due=(0,)`` is a
reminder on the due date itself). :func:`next_reminder_day` says when the next one
falls, for a run that visits an account only on the days it has work.

>>> from datetime import date
>>> schedule = InvoiceReminders(after_issue=(7,), before_due=(3,), after_due=(1, 7))
>>> issued, due = date(2024, 3, 1), date(2024, 3, 15)
>>> sent: set[str] = set()
>>> for day in range(1, 31):
...     found = due_reminder("inv-1", issued, due, schedule, date(2024, 3, day), sent=sent.__contains__)
...     if found is not None:
...         sent.update(found.passed)
...         print(date(2024, 3, day).isoformat(), found.rule)
2024-03-08 after_issue:7
2024-03-12 before_due:3
2024-03-16 after_due:1
2024-03-22 after_due:7
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from typing import Final

import attrs

from cabinet_billing.domain.invoice import Invoice, InvoiceKind
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.errors import ValidationError

__all__ = [
    "NO_REMINDERS",
    "DueReminder",
    "InvoiceReminders",
    "due_reminder",
    "is_reminded",
    "next_reminder_day",
    "reminder_key",
    "reminder_notification",
]

#: The most days a reminder rule may count.
MAX_DAYS: Final = 366


def _day_list(value: object) -> object:
    """Days as a sorted tuple without repeats (anything else is left to the validator)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return value
    found = tuple(value)
    if all(isinstance(d, int) and not isinstance(d, bool) for d in found):
        return tuple(sorted(set(found)))
    return found


def _check_days(
    _instance: object, attribute: attrs.Attribute[tuple[int, ...]], value: object
) -> None:
    if not isinstance(value, tuple):
        raise ValidationError(attribute.name, value, "expected a list of whole numbers of days")
    for day in value:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= MAX_DAYS:
            raise ValidationError(attribute.name, day, f"expected whole days from 0 to {MAX_DAYS}")


@attrs.frozen
class InvoiceReminders:
    """When the billing run reminds of an unpaid invoice.

    Args:
        after_issue: days after the issue day (also for invoices without a due date).
        before_due: days before the due date (0: on the due date; not sent once the due
            date has passed).
        after_due: days after the due date (the invoice is overdue).

    >>> InvoiceReminders(before_due=(3, 1, 3)).before_due
    (1, 3)
    >>> InvoiceReminders(after_due=(-1,))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: after_due=-1 is invalid: expected whole days from 0 to 366
    """

    after_issue: tuple[int, ...] = attrs.field(
        default=(), converter=_day_list, validator=_check_days
    )
    before_due: tuple[int, ...] = attrs.field(
        default=(), converter=_day_list, validator=_check_days
    )
    after_due: tuple[int, ...] = attrs.field(default=(), converter=_day_list, validator=_check_days)

    @property
    def any(self) -> bool:
        """Whether the schedule has any reminder."""
        return bool(self.after_issue or self.before_due or self.after_due)


#: No reminders: the default.
NO_REMINDERS: Final = InvoiceReminders()


def reminder_key(invoice_id: str, rule: str) -> str:
    """The key recorded once a reminder was sent or passed: ``"reminder:<invoice>:<rule>"``.

    >>> reminder_key("inv-1", "before_due:3")
    'reminder:inv-1:before_due:3'
    """
    return f"reminder:{invoice_id}:{rule}"


@attrs.frozen
class DueReminder:
    """The reminder to send today for one invoice.

    Attributes:
        rule: which rule it is, ``"<after_issue|before_due|after_due>:<days>"``.
        on: the day the rule names.
        passed: the keys to record: this reminder's and those of the earlier rules whose
            day has come too (never sent after a later one).
    """

    rule: str
    on: date
    passed: tuple[str, ...]


def _rules(
    issued_on: date, due_on: date | None, schedule: InvoiceReminders, today: date
) -> list[tuple[date, str]]:
    rules = [(issued_on + timedelta(days=d), f"after_issue:{d}") for d in schedule.after_issue]
    if due_on is not None:
        if today <= due_on:
            rules += [(due_on - timedelta(days=d), f"before_due:{d}") for d in schedule.before_due]
        rules += [(due_on + timedelta(days=d), f"after_due:{d}") for d in schedule.after_due]
    return sorted(r for r in rules if r[0] <= today)


def due_reminder(
    invoice_id: str,
    issued_on: date,
    due_on: date | None,
    schedule: InvoiceReminders,
    today: date,
    *,
    sent: Callable[[str], bool],
) -> DueReminder | None:
    """The reminder of an unpaid invoice to send ``today``, if any.

    Args:
        invoice_id: the invoice.
        issued_on: its issue day.
        due_on: its due date (``None``: only the ``after_issue`` rules apply).
        schedule: the provider's reminder schedule.
        today: the billing day.
        sent: whether a key was recorded before (:func:`reminder_key`).
    """
    come = [(on, rule) for on, rule in _rules(issued_on, due_on, schedule, today)]
    if not come:
        return None
    on, rule = come[-1]
    if sent(reminder_key(invoice_id, rule)):
        return None
    keys = tuple(reminder_key(invoice_id, r) for _, r in come)
    return DueReminder(rule, on, tuple(k for k in keys if not sent(k)))


def next_reminder_day(
    issued_on: date, due_on: date | None, schedule: InvoiceReminders, today: date
) -> date | None:
    """The first day after ``today`` a rule of the schedule falls on (``None``: no more).

    >>> schedule = InvoiceReminders(after_issue=(7,), before_due=(3,), after_due=(1,))
    >>> next_reminder_day(date(2024, 3, 1), date(2024, 3, 15), schedule, date(2024, 3, 8))
    datetime.date(2024, 3, 12)
    >>> next_reminder_day(date(2024, 3, 1), date(2024, 3, 15), schedule, date(2024, 3, 16)) is None
    True
    """
    days = [issued_on + timedelta(days=d) for d in schedule.after_issue]
    if due_on is not None:
        days += [due_on - timedelta(days=d) for d in schedule.before_due]
        days += [due_on + timedelta(days=d) for d in schedule.after_due]
    return min((d for d in days if d > today), default=None)


def is_reminded(invoice: Invoice, renewing: AbstractSet[str]) -> bool:
    """Whether the reminders apply to an invoice: an ordinary one with something to pay.

    Not an advance-payment invoice (paid by its top-up), a credit statement (it has the
    credit notices, SPEC R3), nor the renewal invoice of a service that renews
    automatically (``renewing``: the ids of those services): the renewal's attempts,
    retries and "renewal failed" notices are its dunning.
    """
    if not invoice.is_open():
        return False
    if invoice.kind is InvoiceKind.ORDER:
        return True
    if invoice.kind is InvoiceKind.RENEWAL:
        return not any(line.service_id in renewing for line in invoice.lines)
    return False


def reminder_notification(invoice: Invoice, due: DueReminder, now: datetime) -> Notification:
    """The ``invoice.reminder`` notification of a due reminder (finance)."""
    params = {
        "invoice_id": invoice.id,
        "number": invoice.number,
        "amount_due": str(invoice.amount_due),
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": "" if invoice.due_on is None else invoice.due_on.isoformat(),
        "rule": due.rule,
    }
    return Notification(
        invoice.account_id,
        NotificationCategory.FINANCE,
        "invoice.reminder",
        now,
        params,
        f"{invoice.id}:{due.rule}",
    )
