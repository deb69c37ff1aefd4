"""What the cabinet's lists ask a store for: one page of what a filter chooses, and its totals.

A list use case does not read every invoice, payment or expense of an account to show
fifty of them: it hands the repository a query (the filters) and a :class:`Window` (the
page size, the cursor, the order), and the store answers with a :class:`Slice` — the
page's items, whether more follow, and how many the filters choose in all. A SQL store
answers with ``COUNT``, ``SUM`` and ``ORDER BY ... LIMIT``; :func:`take` is the same
answer worked out from a list, which the in-memory store uses and every store must match.

The cursor is the id of the last item of the previous page. It is looked for among every
item of the listing, filtered out or not (an invoice paid between two pages of "unpaid"
still marks where the next page starts); an id that is not there is refused.

>>> window = Window(limit=2)
>>> first = take(["a", "b", "c"], str, window=window)
>>> first.items, first.more, first.total
(('c', 'b'), True, 3)
>>> take(["a", "b", "c"], str, window=Window(limit=2, after="b")).items
('a',)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Generic, TypeVar

import attrs

from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice, InvoiceFilter
from cabinet_billing.domain.payment import Payment, PaymentPurpose, PaymentStatus
from cabinet_billing.errors import ValidationError

__all__ = [
    "ExpenseQuery",
    "InvoiceQuery",
    "PaymentQuery",
    "Slice",
    "Window",
    "take",
    "unknown_cursor",
]

T = TypeVar("T")


@attrs.frozen
class Window:
    """Which page of a listing: its size, the cursor and the order.

    Attributes:
        limit: at most this many items (the caller checked the range).
        after: the id of the last item of the previous page; None for the first page.
        newest_first: the listing's newest items first (else the oldest first).
    """

    limit: int
    after: str | None = None
    newest_first: bool = True


@attrs.frozen
class Slice(Generic[T]):
    """One page of a listing as a store answers it.

    Attributes:
        items: the page's items, in the order asked.
        more: whether items the filters choose follow the last one.
        total: how many items the filters choose in the whole listing.
    """

    items: tuple[T, ...]
    more: bool
    total: int


def unknown_cursor(after: object) -> ValidationError:
    """The error for a cursor that is not an item of the listing."""
    return ValidationError(
        "after", after, "expected the next_after of a previous page of this list"
    )


def take(
    ordered: Sequence[T],
    ident: Callable[[T], str],
    *,
    window: Window,
    matches: Callable[[T], bool] | None = None,
) -> Slice[T]:
    """The page of a listing that starts after the item ``window.after``.

    Args:
        ordered: every item of the listing, oldest first, unfiltered.
        ident: the id of an item, which is the cursor.
        window: the page asked for.
        matches: the filter (default: every item).

    Raises:
        ValidationError: for a cursor that is not an item of this listing.
    """
    shown = list(reversed(ordered)) if window.newest_first else list(ordered)
    keep = matches or _every
    total = sum(1 for item in shown if keep(item))
    after = window.after
    if after is not None:
        start = next((i for i, item in enumerate(shown) if ident(item) == after), None)
        if start is None:
            raise unknown_cursor(after)
        shown = shown[start + 1 :]
    chosen: list[T] = []
    more = False
    for item in shown:
        if not keep(item):
            continue
        if len(chosen) == window.limit:
            more = True
            break
        chosen.append(item)
    return Slice(tuple(chosen), more, total)


def _every(_item: object) -> bool:
    return True


@attrs.frozen
class InvoiceQuery:
    """The invoice list's filters (SPEC L4).

    Attributes:
        shown: unpaid, paid, overdue or all (never the deleted ones).
        today: the day ``overdue`` is judged on.
        service_id: only the invoices with a line for this service.

    The listing is the account's invoices oldest first by
    :func:`~cabinet_billing.domain.invoice.invoice_order`.
    """

    shown: InvoiceFilter
    today: date
    service_id: str | None = None

    def matches(self, invoice: Invoice) -> bool:
        """Whether the list shows an invoice."""
        return self.shown.shows(invoice, self.today) and (
            self.service_id is None or any(ln.service_id == self.service_id for ln in invoice.lines)
        )


@attrs.frozen
class PaymentQuery:
    """The payment list's filters (SPEC L6).

    Attributes:
        status: only payments in this status.
        purpose: only payments of this purpose.
        invoice_id: only the payments made for this invoice.

    The listing is the account's payments oldest first: by the instant they were
    created, then in the order they were stored.
    """

    status: PaymentStatus | None = None
    purpose: PaymentPurpose | None = None
    invoice_id: str | None = None

    def matches(self, payment: Payment) -> bool:
        """Whether the list shows a payment."""
        return (
            (self.status is None or payment.status is self.status)
            and (self.purpose is None or payment.purpose is self.purpose)
            and (self.invoice_id is None or payment.invoice_id == self.invoice_id)
        )


@attrs.frozen
class ExpenseQuery:
    """The expense list's filters (SPEC L3).

    Attributes:
        currency: the expenses' currency (the listing is this currency's expenses,
            oldest first by charge day, then in the order they were recorded).
        since: only expenses charged on or after this day.
        until: only expenses charged before this day.
        service_id: only the expenses of this service.
        unpaid_only: only expenses with something left to pay.
    """

    currency: str
    since: date | None = None
    until: date | None = None
    service_id: str | None = None
    unpaid_only: bool = False

    def matches(self, expense: Expense) -> bool:
        """Whether the list shows an expense."""
        return (
            (self.since is None or expense.charged_on >= self.since)
            and (self.until is None or expense.charged_on < self.until)
            and (self.service_id is None or expense.service_id == self.service_id)
            and (not self.unpaid_only or not expense.is_paid)
        )
