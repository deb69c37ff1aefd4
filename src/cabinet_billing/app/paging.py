"""Pages of a listing: at most ``limit`` items, and the cursor of the next page.

Every list the cabinet shows (invoices, payments, expenses, ledger entries, tickets,
notifications) is read a page at a time. A call takes ``limit`` (how many items, 1 to
:data:`MAX_LIMIT`, default :data:`DEFAULT_LIMIT`) and ``after`` (the
:attr:`Page.next_after` of the page before, ``None`` for the first page) and returns a
:class:`Page`.

The cursor is the id of the last item shown. The next page starts right after that item
in the listing's order, whatever changed in between: records are never removed (a deleted
invoice keeps its place, the ledger is append-only), so an item added since lands on the
first page and never pushes an item onto two pages. A filter does not move the cursor: an
invoice paid between two pages of "unpaid" still marks where the next page starts.

>>> page = paginate(["a", "b", "c"], str, limit=2)
>>> page.items, page.next_after, page.total
(('c', 'b'), 'b', 3)
>>> paginate(["a", "b", "c"], str, limit=2, after=page.next_after).items
('a',)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from typing import Final, Generic, TypeVar

import attrs

from cabinet_billing.errors import ValidationError
from cabinet_billing.ports.listing import Slice, Window, take

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "check_limit",
    "choice",
    "page_of",
    "paginate",
    "window",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

#: How many items a page has when the caller does not say.
DEFAULT_LIMIT: Final = 50

#: The most items one page may have: a bigger page is refused rather than cut silently.
MAX_LIMIT: Final = 500


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: the items of this page, in the listing's order.
        next_after: the cursor to pass as ``after`` for the next page; ``None`` on the
            last page.
        total: how many items the whole listing has (with its filters), on every page.
    """

    items: tuple[T, ...]
    next_after: str | None
    total: int

    def __iter__(self) -> Iterator[T]:
        """The page's items."""
        return iter(self.items)

    def __len__(self) -> int:
        """How many items the page has."""
        return len(self.items)

    @property
    def is_last(self) -> bool:
        """Whether no page follows."""
        return self.next_after is None


def check_limit(limit: object) -> int:
    """The page size, once it is a whole number from 1 to :data:`MAX_LIMIT`.

    Raises:
        ValidationError: naming the value and the allowed range.

    >>> check_limit(0)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: limit=0 is invalid: expected a whole number from 1 to 500
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"expected a whole number from 1 to {MAX_LIMIT}")
    return limit


def choice(kind: type[E], value: E | str | None, field: str) -> E | None:
    """A filter's value as its enum member (``None``: no filter).

    Raises:
        ValidationError: naming the value and the members there are.

    >>> from cabinet_billing.domain.payment import PaymentStatus
    >>> choice(PaymentStatus, "credited", "status")
    <PaymentStatus.CREDITED: 'credited'>
    >>> choice(PaymentStatus, "paid", "status")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: status='paid' is invalid: expected one of new, paying, credited, failed, cancelled, partially_refunded, refunded
    """
    if value is None or isinstance(value, kind):
        return value
    for member in kind:
        if member.value == value:
            return member
    raise ValidationError(field, value, f"expected one of {', '.join(m.value for m in kind)}")


def paginate(
    ordered: Sequence[T],
    ident: Callable[[T], str],
    *,
    matches: Callable[[T], bool] | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
    newest_first: bool = True,
) -> Page[T]:
    """The page of a listing that starts after the item ``after``.

    Args:
        ordered: every item of the listing, oldest first, unfiltered (the cursor is found
            among them even when it no longer passes the filter).
        ident: the id of an item, which is the cursor.
        matches: the filter (default: every item).
        limit: the page size, 1 to :data:`MAX_LIMIT`.
        after: the ``next_after`` of the previous page, or ``None`` for the first page.
        newest_first: show the newest items first (otherwise the oldest first).

    Raises:
        ValidationError: for a limit out of range, or a cursor that is not an item of
            this listing.
    """
    found = take(
        ordered, ident, window=window(limit, after, newest_first=newest_first), matches=matches
    )
    return page_of(found, ident)


def window(limit: object, after: object, *, newest_first: bool) -> Window:
    """The page a caller asks for, once ``limit`` and ``after`` are checked.

    Raises:
        ValidationError: for a limit out of range, or a cursor that is not text.
    """
    size = check_limit(limit)
    if after is not None and not isinstance(after, str):
        raise ValidationError(
            "after", after, "expected the next_after of a previous page (text), or None"
        )
    return Window(size, after, newest_first=newest_first)


def page_of(found: Slice[T], ident: Callable[[T], str]) -> Page[T]:
    """The page of a store's answer: its items and the cursor of the next page."""
    return Page(
        items=found.items,
        next_after=ident(found.items[-1]) if found.more else None,
        total=found.total,
    )
