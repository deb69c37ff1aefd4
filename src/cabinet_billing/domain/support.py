"""Support tickets: departments, priorities, messages, statuses and filters (SPEC S1).

A :class:`Ticket` is a conversation between a customer and the provider's staff about one
question (Introserv: department technical or finance, subject, priority normal or high,
the related order; Astra Cloud: the related service and attached files). Its status
follows a transition table that is data (:data:`TICKET_TRANSITIONS`); a move the table
does not allow raises :class:`~cabinet_billing.errors.InvalidTransitionError` and changes
nothing. Each side has its own "unread" flag, and every change returns
:class:`TicketEvent` values that :func:`ticket_notification` turns into support
notifications for the customer.

>>> from datetime import datetime, timezone
>>> at = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
>>> ticket, _ = Ticket.open("t-1", "acc-1", department="technical", subject="API",
...                         text="The API returns 500", at=at)
>>> ticket.status
<TicketStatus.AWAITING_STAFF: 'awaiting_staff'>
>>> events = ticket.reply(TicketSide.STAFF, "Fixed, please check", at.replace(hour=10))
>>> ticket.status, ticket.unread_for(TicketSide.CUSTOMER)
(<TicketStatus.AWAITING_CUSTOMER: 'awaiting_customer'>, True)
>>> ticket_notification(events[0]).kind
'ticket.staff_replied'

Statuses and the words of the modelled cabinets:

=====================  ===============================================================
status                 seed wording
=====================  ===============================================================
``AWAITING_STAFF``     "Находится на рассмотрении" (under review): the customer wrote
                       last and the provider works on it
``AWAITING_CUSTOMER``  "Есть новые сообщения" / "Ожидает вашего ответа" (new messages,
                       awaiting your reply): the provider wrote last
``SEEN_AND_CLOSED``    "Просмотрен" (viewed): the provider read the customer's reply and
                       closed the ticket
``CLOSED``             "geschlossen" (closed) by either side
``ARCHIVED``           "Поместить в архив" (archived) by the customer once resolved
=====================  ===============================================================
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.checks import MAX_TEXT_LENGTH, aware, check_id, check_text, enum_member
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.errors import InvalidTransitionError, ValidationError

__all__ = [
    "CLOSED_STATUSES",
    "DEFAULT_TICKET_NOTICES",
    "DEFAULT_TICKET_POLICY",
    "OPEN_STATUSES",
    "TICKET_TRANSITIONS",
    "Ticket",
    "TicketAction",
    "TicketAttachment",
    "TicketEvent",
    "TicketEventKind",
    "TicketFilter",
    "TicketMessage",
    "TicketPolicy",
    "TicketPriority",
    "TicketSide",
    "TicketStatus",
    "filter_tickets",
    "shows",
    "sort_by_last_activity",
    "ticket_notification",
]


class TicketSide(enum.StrEnum):
    """Who acts on a ticket: the customer or the provider's staff."""

    CUSTOMER = "customer"
    STAFF = "staff"


class TicketPriority(enum.StrEnum):
    """How urgent a ticket is (Introserv "Wichtigkeit": normal / high)."""

    NORMAL = "normal"
    HIGH = "high"


class TicketStatus(enum.StrEnum):
    """Where a ticket is; see the module documentation for the seed wording."""

    AWAITING_STAFF = "awaiting_staff"
    AWAITING_CUSTOMER = "awaiting_customer"
    SEEN_AND_CLOSED = "seen_and_closed"
    CLOSED = "closed"
    ARCHIVED = "archived"


class TicketAction(enum.StrEnum):
    """A move in the transition table."""

    CUSTOMER_REPLY = "customer_reply"
    STAFF_REPLY = "staff_reply"
    SEE_AND_CLOSE = "see_and_close"
    CLOSE = "close"
    REOPEN = "reopen"
    ARCHIVE = "archive"


def _table(
    rows: Mapping[TicketStatus, Mapping[TicketAction, TicketStatus]],
) -> Mapping[TicketStatus, Mapping[TicketAction, TicketStatus]]:
    return MappingProxyType(
        {status: MappingProxyType(dict(moves)) for status, moves in rows.items()}
    )


_S = TicketStatus
_A = TicketAction

#: The ticket lifecycle: status → action → next status. A customer's reply to a closed
#: ticket is ``REOPEN`` followed by ``CUSTOMER_REPLY`` when the policy allows reopening.
TICKET_TRANSITIONS: Final = _table(
    {
        _S.AWAITING_STAFF: {
            _A.CUSTOMER_REPLY: _S.AWAITING_STAFF,
            _A.STAFF_REPLY: _S.AWAITING_CUSTOMER,
            _A.SEE_AND_CLOSE: _S.SEEN_AND_CLOSED,
            _A.CLOSE: _S.CLOSED,
        },
        _S.AWAITING_CUSTOMER: {
            _A.CUSTOMER_REPLY: _S.AWAITING_STAFF,
            _A.STAFF_REPLY: _S.AWAITING_CUSTOMER,
            _A.CLOSE: _S.CLOSED,
            _A.ARCHIVE: _S.ARCHIVED,
        },
        _S.SEEN_AND_CLOSED: {_A.REOPEN: _S.AWAITING_STAFF, _A.ARCHIVE: _S.ARCHIVED},
        _S.CLOSED: {_A.REOPEN: _S.AWAITING_STAFF, _A.ARCHIVE: _S.ARCHIVED},
        _S.ARCHIVED: {},
    },
)

#: Statuses the "open" filter shows.
OPEN_STATUSES: Final = frozenset({_S.AWAITING_STAFF, _S.AWAITING_CUSTOMER})
#: Statuses the "closed" filter shows (archived tickets have their own filter).
CLOSED_STATUSES: Final = frozenset({_S.SEEN_AND_CLOSED, _S.CLOSED})


# ----------------------------------------------------------------------------- policy

_CONTENT_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9.+\-]*/(\*|[a-z0-9][a-z0-9.+\-]*)")
_MIB: Final = 1024 * 1024


def _content_types(value: Iterable[str]) -> frozenset[str]:
    items: frozenset[object] = frozenset(value)
    types: set[str] = set()
    for item in items:
        if not isinstance(item, str) or not _CONTENT_TYPE.fullmatch(item):
            raise ValidationError(
                "allowed_content_types",
                item,
                "expected a lower-case media type such as 'image/png' or 'image/*'",
            )
        types.add(item)
    return frozenset(types)


def _departments(value: Iterable[str]) -> frozenset[str]:
    items: frozenset[object] = frozenset(value)
    names = frozenset(n for n in items if isinstance(n, str) and n and n == n.strip())
    if not names or len(names) != len(items):
        raise ValidationError(
            "departments",
            sorted(map(str, items)),
            "expected at least one department code without surrounding blanks",
        )
    return names


def _positive(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(attribute.name, value, "expected a whole number of 1 or more")


def _optional_positive(
    _instance: object,
    attribute: attrs.Attribute[int | None],
    value: object,
) -> None:
    if value is not None:
        _positive(_instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen
class TicketPolicy:
    """The provider's ticket settings.

    Args:
        departments: the department codes a ticket may go to (Introserv: technical and
            finance); add more as data.
        max_attachments: files per message (Astra Cloud: up to 5).
        max_attachment_bytes: the largest file accepted (default 10 MiB).
        allowed_content_types: media types accepted; ``"image/*"`` accepts every image.
        max_text_length: the longest message text, or ``None`` for no limit (Astra
            Cloud's Telegram bot accepts 255 characters).
        reopen_on_customer_reply: whether a customer's reply reopens a closed ticket.

    >>> TicketPolicy(departments={"technical", "finance", "sales"}).accepts("sales")
    True
    """

    departments: frozenset[str] = attrs.field(
        default=frozenset({"technical", "finance"}),
        converter=_departments,
    )
    max_attachments: int = attrs.field(default=5, validator=_positive)
    max_attachment_bytes: int = attrs.field(default=10 * _MIB, validator=_positive)
    allowed_content_types: frozenset[str] = attrs.field(
        default=frozenset(
            {
                "image/*",
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/zip",
            },
        ),
        converter=_content_types,
    )
    max_text_length: int | None = attrs.field(default=None, validator=_optional_positive)
    reopen_on_customer_reply: bool = True

    def accepts(self, department: str) -> bool:
        """Whether ``department`` is one of the configured departments."""
        return department in self.departments

    def allows_type(self, content_type: str) -> bool:
        """Whether files of ``content_type`` may be attached.

        >>> DEFAULT_TICKET_POLICY.allows_type("image/png"), DEFAULT_TICKET_POLICY.allows_type("application/x-msdownload")
        (True, False)
        """
        family = content_type.split("/", 1)[0] + "/*"
        return content_type in self.allowed_content_types or family in self.allowed_content_types

    def check_department(self, department: object) -> str:
        """Return ``department`` when configured, or raise :class:`ValidationError`."""
        if not isinstance(department, str) or department not in self.departments:
            raise ValidationError(
                "department",
                department,
                f"expected one of {', '.join(sorted(self.departments))}",
            )
        return department

    def check_message(self, text: str, attachments: Sequence[TicketAttachment]) -> None:
        """Refuse a message text or attachments that the settings do not allow.

        Raises:
            ValidationError: for a text that is too long, too many files, a file that is
                too big or of a type that is not allowed.
        """
        if self.max_text_length is not None and len(text) > self.max_text_length:
            raise ValidationError(
                "text",
                f"{len(text)} characters",
                f"a message has at most {self.max_text_length} characters",
            )
        if len(attachments) > self.max_attachments:
            raise ValidationError(
                "attachments",
                f"{len(attachments)} files",
                f"a message has at most {self.max_attachments} files",
            )
        for attachment in attachments:
            if attachment.size > self.max_attachment_bytes:
                raise ValidationError(
                    "attachment",
                    f"{attachment.file_name} ({attachment.size} bytes)",
                    f"a file has at most {self.max_attachment_bytes} bytes",
                )
            if not self.allows_type(attachment.content_type):
                raise ValidationError(
                    "attachment",
                    f"{attachment.file_name} ({attachment.content_type})",
                    f"allowed types: {', '.join(sorted(self.allowed_content_types))}",
                )


#: The default settings.
DEFAULT_TICKET_POLICY: Final = TicketPolicy()


# ----------------------------------------------------------------------------- messages


def _check_file_name(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if (
        not isinstance(value, str)
        or not value.strip()
        or value != value.strip()
        or any(ch in value for ch in "/\\\0")
    ):
        raise ValidationError(
            "file_name",
            value,
            "expected a file name without folders, such as 'screenshot.png'",
        )


def _check_size(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("size", value, "expected the file size in bytes, 1 or more")


def _check_content_type(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or "*" in value or not _CONTENT_TYPE.fullmatch(value):
        raise ValidationError(
            "content_type",
            value,
            "expected a lower-case media type such as 'image/png'",
        )


@attrs.frozen
class TicketAttachment:
    """The metadata of an attached file; the bytes live in the host's storage.

    >>> TicketAttachment("screenshot.png", 48_213, "image/png").size
    48213
    >>> TicketAttachment("../etc/passwd", 10, "text/plain")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: file_name='../etc/passwd' is invalid: expected a file name without folders, such as 'screenshot.png'
    """

    file_name: str = attrs.field(validator=_check_file_name)
    size: int = attrs.field(validator=_check_size)
    content_type: str = attrs.field(validator=_check_content_type)


def _check_text(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    check_text("text", value, max_length=MAX_TEXT_LENGTH, multiline=True)


def _attachments(value: Iterable[TicketAttachment]) -> tuple[TicketAttachment, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, TicketAttachment):
            raise ValidationError("attachments", item, "expected TicketAttachment values")
    return items


@attrs.frozen
class TicketMessage:
    """One message in a ticket.

    Args:
        author: the side that wrote it.
        text: the message.
        at: when it was sent.
        attachments: attached files.
        author_name: who wrote it (a staff member's name, a user's login), for display.
    """

    author: TicketSide = attrs.field(validator=attrs.validators.instance_of(TicketSide))
    text: str = attrs.field(validator=_check_text)
    at: datetime = attrs.field(validator=aware)
    attachments: tuple[TicketAttachment, ...] = attrs.field(default=(), converter=_attachments)
    author_name: str = ""


# ----------------------------------------------------------------------------- events


class TicketEventKind(enum.StrEnum):
    """What happened to a ticket."""

    OPENED = "opened"
    CUSTOMER_REPLIED = "customer_replied"
    STAFF_REPLIED = "staff_replied"
    SEEN_AND_CLOSED = "seen_and_closed"
    CLOSED = "closed"
    REOPENED = "reopened"
    ARCHIVED = "archived"


@attrs.frozen
class TicketEvent:
    """One change of a ticket.

    Args:
        ticket_id: the ticket.
        account_id: its account.
        kind: what happened.
        by: who did it.
        at: when.
        seq: the event's number within the ticket, from 1.
        subject: the ticket's subject, for templates.
        status: the status after the change.
    """

    ticket_id: str
    account_id: str
    kind: TicketEventKind
    by: TicketSide
    at: datetime
    seq: int
    subject: str
    status: TicketStatus


#: The notification kind sent to the customer for each ticket event; an event missing
#: here sends nothing (archiving is the customer's own tidying up). The customer's own
#: messages are copied to them, as Introserv copies ticket content to the customer's mail.
DEFAULT_TICKET_NOTICES: Final[Mapping[TicketEventKind, str]] = MappingProxyType(
    {
        TicketEventKind.OPENED: "ticket.opened",
        TicketEventKind.CUSTOMER_REPLIED: "ticket.customer_replied",
        TicketEventKind.STAFF_REPLIED: "ticket.staff_replied",
        TicketEventKind.SEEN_AND_CLOSED: "ticket.seen_and_closed",
        TicketEventKind.CLOSED: "ticket.closed",
        TicketEventKind.REOPENED: "ticket.reopened",
    },
)


def ticket_notification(
    event: TicketEvent,
    notices: Mapping[TicketEventKind, str] = DEFAULT_TICKET_NOTICES,
) -> Notification | None:
    """The support notification for the customer about ``event``, or ``None``.

    The notification's key includes the ticket id and the event's number, so two events
    at the same instant are two notifications.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
    >>> _, opened = Ticket.open("t-1", "acc-1", department="finance", subject="Invoice",
    ...                         text="Wrong VAT", at=at)
    >>> n = ticket_notification(opened)
    >>> n.category, n.kind, dict(n.params)
    (<NotificationCategory.SUPPORT: 'support'>, 'ticket.opened', {'ticket_id': 't-1', 'subject': 'Invoice', 'status': 'awaiting_staff', 'by': 'customer'})
    >>> n.key
    'acc-1:ticket.opened:2024-03-01T09:00:00+00:00:t-1:1'
    """
    kind = notices.get(event.kind)
    if kind is None:
        return None
    return Notification(
        event.account_id,
        NotificationCategory.SUPPORT,
        kind,
        event.at,
        {
            "ticket_id": event.ticket_id,
            "subject": event.subject,
            "status": event.status.value,
            "by": event.by.value,
        },
        dedup=f"{event.ticket_id}:{event.seq}",
    )


# ----------------------------------------------------------------------------- ticket


def _check_subject(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    check_text("subject", value)


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_id(attribute.name, value)


def _check_related(
    _instance: object,
    _attribute: attrs.Attribute[str | None],
    value: object,
) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(
            "related_service_id",
            value,
            "expected a service id, or None when the ticket is not about a service",
        )


def _check_messages(_instance: object, _attribute: object, value: list[TicketMessage]) -> None:
    if not value:
        raise ValidationError("messages", value, "a ticket has at least its first message")


@attrs.define
class Ticket:
    """A support ticket; build it with :meth:`open` and change it through its methods.

    Each method checks everything first and changes nothing when it refuses. Times must
    not go backwards: an action earlier than the ticket's last activity is refused.

    Attributes:
        id: the ticket id.
        account_id: the customer's account.
        department: the department code (see :class:`TicketPolicy`).
        subject: the subject.
        priority: normal or high.
        related_service_id: the service (Introserv: order) it is about, if any.
        status: the current status.
        messages: the conversation, oldest first.
        unread_by_customer: the staff wrote something the customer has not read.
        unread_by_staff: the customer wrote something the staff have not read.
        events: every change, oldest first.
    """

    id: str = attrs.field(validator=_check_id)
    account_id: str = attrs.field(validator=_check_id)
    department: str = attrs.field(validator=_check_id)
    subject: str = attrs.field(validator=_check_subject)
    priority: TicketPriority = attrs.field(validator=attrs.validators.instance_of(TicketPriority))
    related_service_id: str | None = attrs.field(validator=_check_related)
    status: TicketStatus = attrs.field(validator=attrs.validators.instance_of(TicketStatus))
    messages: list[TicketMessage] = attrs.field(validator=_check_messages)
    unread_by_customer: bool
    unread_by_staff: bool
    events: list[TicketEvent]

    @classmethod
    def open(
        cls,
        ticket_id: str,
        account_id: str,
        *,
        department: str,
        subject: str,
        text: str,
        at: datetime,
        priority: TicketPriority = TicketPriority.NORMAL,
        related_service_id: str | None = None,
        attachments: Sequence[TicketAttachment] = (),
        opened_by: TicketSide = TicketSide.CUSTOMER,
        author_name: str = "",
        policy: TicketPolicy = DEFAULT_TICKET_POLICY,
    ) -> tuple[Ticket, TicketEvent]:
        """Open a ticket with its first message.

        A customer's ticket waits for the staff; a ticket the provider opens (Astra
        Cloud: "tickets from the provider") waits for the customer, unread.

        Returns:
            The ticket and its ``OPENED`` event.

        Raises:
            ValidationError: for an unknown department, an empty subject or text, or
                attachments the policy refuses.
        """
        message = TicketMessage(opened_by, text, at, tuple(attachments), author_name)
        policy.check_message(text, message.attachments)
        from_customer = opened_by is TicketSide.CUSTOMER
        ticket = cls(
            ticket_id,
            account_id,
            policy.check_department(department),
            subject,
            enum_member(TicketPriority, "priority", priority),
            related_service_id,
            TicketStatus.AWAITING_STAFF if from_customer else TicketStatus.AWAITING_CUSTOMER,
            [message],
            unread_by_customer=not from_customer,
            unread_by_staff=from_customer,
            events=[],
        )
        return ticket, ticket._record(TicketEventKind.OPENED, opened_by, at)

    # ------------------------------------------------------------------ queries

    @property
    def last_activity(self) -> datetime:
        """When the ticket last changed (its last event, else its last message)."""
        return self.events[-1].at if self.events else self.messages[-1].at

    @property
    def is_open(self) -> bool:
        """Whether the ticket is waiting for one side."""
        return self.status in OPEN_STATUSES

    @property
    def is_closed(self) -> bool:
        """Whether the ticket is closed (not archived)."""
        return self.status in CLOSED_STATUSES

    def unread_for(self, side: TicketSide) -> bool:
        """Whether ``side`` has messages from the other side it has not read."""
        return self.unread_by_customer if side is TicketSide.CUSTOMER else self.unread_by_staff

    def allowed_actions(self) -> tuple[TicketAction, ...]:
        """The actions the transition table allows from the current status."""
        return tuple(TICKET_TRANSITIONS[self.status])

    # ------------------------------------------------------------------ changes

    def reply(
        self,
        by: TicketSide,
        text: str,
        at: datetime,
        *,
        attachments: Sequence[TicketAttachment] = (),
        author_name: str = "",
        policy: TicketPolicy = DEFAULT_TICKET_POLICY,
    ) -> tuple[TicketEvent, ...]:
        """Add a message from ``by``.

        A reply marks the ticket read for its author and unread for the other side. A
        customer's reply to a closed ticket reopens it first when the policy allows.

        Returns:
            The events: ``REOPENED`` (when it reopened) and the reply.

        Raises:
            InvalidTransitionError: when the status does not take this reply.
            ValidationError: for an empty text, attachments the policy refuses, or a time
                before the ticket's last activity.
        """
        side = TicketSide(by)
        message = TicketMessage(side, text, at, tuple(attachments), author_name)
        policy.check_message(text, message.attachments)
        self._check_time(at)
        action = _A.CUSTOMER_REPLY if side is TicketSide.CUSTOMER else _A.STAFF_REPLY
        moves = TICKET_TRANSITIONS[self.status]
        reopen = (
            action is _A.CUSTOMER_REPLY
            and action not in moves
            and _A.REOPEN in moves
            and policy.reopen_on_customer_reply
        )
        events: list[TicketEvent] = []
        if reopen:
            reopened_status = moves[_A.REOPEN]
            after = TICKET_TRANSITIONS[reopened_status][action]
            self.status = reopened_status
            events.append(self._record(TicketEventKind.REOPENED, side, at))
        else:
            after = self._target(action)
        self.messages.append(message)
        self.status = after
        if side is TicketSide.CUSTOMER:
            self.unread_by_customer, self.unread_by_staff = False, True
            kind = TicketEventKind.CUSTOMER_REPLIED
        else:
            self.unread_by_customer, self.unread_by_staff = True, False
            kind = TicketEventKind.STAFF_REPLIED
        events.append(self._record(kind, side, at))
        return tuple(events)

    def close(self, by: TicketSide, at: datetime) -> TicketEvent:
        """Close the ticket (either side); it is then read for the side that closed it.

        Raises:
            InvalidTransitionError: when it is not open.
            ValidationError: for a time before the last activity.
        """
        side = TicketSide(by)
        event = self._move(_A.CLOSE, TicketEventKind.CLOSED, side, at)
        self.mark_read(side)
        return event

    def see_and_close(self, at: datetime) -> TicketEvent:
        """The staff read the customer's reply and close the ticket ("Просмотрен").

        Raises:
            InvalidTransitionError: unless the ticket awaits the staff.
            ValidationError: for a time before the last activity.
        """
        target = self._target(_A.SEE_AND_CLOSE)
        self._check_time(at)
        self.status = target
        self.unread_by_staff = False
        return self._record(TicketEventKind.SEEN_AND_CLOSED, TicketSide.STAFF, at)

    def archive(self, at: datetime) -> TicketEvent:
        """The customer moves a resolved ticket to the archive; it is then read.

        Astra Cloud archives a resolved ticket that awaits the customer's reply, or a
        closed one.

        Raises:
            InvalidTransitionError: while the staff still work on it, or when archived.
            ValidationError: for a time before the last activity.
        """
        target = self._target(_A.ARCHIVE)
        self._check_time(at)
        self.status = target
        self.unread_by_customer = False
        return self._record(TicketEventKind.ARCHIVED, TicketSide.CUSTOMER, at)

    def reopen(self, by: TicketSide, at: datetime) -> TicketEvent:
        """Reopen a closed ticket; it then awaits the staff.

        Raises:
            InvalidTransitionError: unless the ticket is closed.
            ValidationError: for a time before the last activity.
        """
        side = TicketSide(by)
        return self._move(_A.REOPEN, TicketEventKind.REOPENED, side, at)

    def mark_read(self, side: TicketSide) -> None:
        """``side`` has read the ticket. This is bookkeeping: no event."""
        if TicketSide(side) is TicketSide.CUSTOMER:
            self.unread_by_customer = False
        else:
            self.unread_by_staff = False

    # ------------------------------------------------------------------ internals

    def _target(self, action: TicketAction) -> TicketStatus:
        moves = TICKET_TRANSITIONS[self.status]
        if action not in moves:
            raise InvalidTransitionError(self.status, action, moves)
        return moves[action]

    def _check_time(self, at: datetime) -> None:
        aware(self, attrs.fields(TicketMessage).at, at)
        if at < self.last_activity:
            raise ValidationError(
                "at",
                at.isoformat(),
                f"must not be before the ticket's last activity {self.last_activity.isoformat()}",
            )

    def _move(
        self,
        action: TicketAction,
        kind: TicketEventKind,
        side: TicketSide,
        at: datetime,
    ) -> TicketEvent:
        target = self._target(action)
        self._check_time(at)
        self.status = target
        return self._record(kind, side, at)

    def _record(self, kind: TicketEventKind, by: TicketSide, at: datetime) -> TicketEvent:
        event = TicketEvent(
            self.id,
            self.account_id,
            kind,
            by,
            at,
            len(self.events) + 1,
            self.subject,
            self.status,
        )
        self.events.append(event)
        return event


# ----------------------------------------------------------------------------- filters


class TicketFilter(enum.StrEnum):
    """The tabs of the ticket list (Introserv: open / closed / unread)."""

    ALL = "all"
    OPEN = "open"
    CLOSED = "closed"
    UNREAD = "unread"
    ARCHIVED = "archived"


def sort_by_last_activity(tickets: Iterable[Ticket], *, newest_first: bool = True) -> list[Ticket]:
    """The tickets ordered by their last activity; ties keep their given order."""
    return sorted(tickets, key=lambda t: t.last_activity, reverse=newest_first)


def filter_tickets(
    tickets: Iterable[Ticket],
    which: TicketFilter | str = TicketFilter.ALL,
    *,
    side: TicketSide = TicketSide.CUSTOMER,
) -> list[Ticket]:
    """The tickets of one tab, newest activity first.

    ``UNREAD`` means unread for ``side`` (the customer's list by default).

    >>> from datetime import datetime, timezone
    >>> at = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
    >>> a, _ = Ticket.open("t-1", "acc-1", department="technical", subject="A", text="?", at=at)
    >>> b, _ = Ticket.open("t-2", "acc-1", department="finance", subject="B", text="?", at=at)
    >>> _ = b.reply(TicketSide.STAFF, "Done", at.replace(hour=11))
    >>> [t.id for t in filter_tickets([a, b], TicketFilter.OPEN)]
    ['t-2', 't-1']
    >>> [t.id for t in filter_tickets([a, b], TicketFilter.UNREAD)]
    ['t-2']
    """
    chosen = enum_member(TicketFilter, "which", which)
    return sort_by_last_activity(t for t in tickets if shows(t, chosen, side))


def shows(ticket: Ticket, which: TicketFilter, side: TicketSide = TicketSide.CUSTOMER) -> bool:
    """Whether the tab ``which`` of ``side``'s list shows ``ticket``."""
    if which is TicketFilter.OPEN:
        return ticket.is_open
    if which is TicketFilter.CLOSED:
        return ticket.is_closed
    if which is TicketFilter.UNREAD:
        return ticket.unread_for(side)
    if which is TicketFilter.ARCHIVED:
        return ticket.status is TicketStatus.ARCHIVED
    return True
