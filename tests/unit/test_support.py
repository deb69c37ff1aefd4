"""Support tickets: opening, replies, statuses, unread flags, filters, notifications (SPEC S1)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from cabinet_billing.domain.notifications import NotificationCategory
from cabinet_billing.domain.support import (
    CLOSED_STATUSES,
    DEFAULT_TICKET_POLICY,
    OPEN_STATUSES,
    TICKET_TRANSITIONS,
    Ticket,
    TicketAction,
    TicketAttachment,
    TicketEventKind,
    TicketFilter,
    TicketMessage,
    TicketPolicy,
    TicketPriority,
    TicketSide,
    TicketStatus,
    filter_tickets,
    sort_by_last_activity,
    ticket_notification,
)
from cabinet_billing.errors import InvalidTransitionError, ValidationError

pytestmark = pytest.mark.spec("S1")

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
CUSTOMER = TicketSide.CUSTOMER
STAFF = TicketSide.STAFF
PNG = TicketAttachment("screenshot.png", 48_213, "image/png")
PNG_MESSAGE = TicketMessage(TicketSide.CUSTOMER, "See the screenshot", T0, (PNG,))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_ticket(ticket_id: str = "t-1", /, **kwargs: object) -> Ticket:
    fields: dict[str, object] = {
        "department": "technical",
        "subject": "API",
        "text": "The API returns 500",
        "at": T0,
    }
    fields.update(kwargs)
    ticket, _ = Ticket.open(ticket_id, "acc-1", **fields)  # type: ignore[arg-type]
    return ticket


def snapshot(ticket: Ticket) -> Ticket:
    return copy.deepcopy(ticket)


# ----------------------------------------------------------------------------- opening


def test_open_a_ticket_with_the_introserv_form() -> None:
    ticket, event = Ticket.open(
        "t-1",
        "acc-1",
        department="finance",
        subject="Wrong VAT on invoice",
        text="Invoice INV-7 shows 20% instead of 0%",
        at=T0,
        priority=TicketPriority.HIGH,
        related_service_id="srv-42",
        attachments=[PNG],
        author_name="jfairy",
    )
    assert (ticket.department, ticket.priority, ticket.related_service_id) == (
        "finance",
        TicketPriority.HIGH,
        "srv-42",
    )
    assert ticket.status is TicketStatus.AWAITING_STAFF
    assert ticket.messages == [
        TicketMessage(CUSTOMER, "Invoice INV-7 shows 20% instead of 0%", T0, (PNG,), "jfairy"),
    ]
    assert (ticket.unread_by_customer, ticket.unread_by_staff) == (False, True)
    assert (event.kind, event.by, event.seq, event.status) == (
        TicketEventKind.OPENED,
        CUSTOMER,
        1,
        TicketStatus.AWAITING_STAFF,
    )
    assert ticket.last_activity == T0
    assert ticket.is_open
    assert not ticket.is_closed


def test_the_provider_may_open_a_ticket_to_the_customer() -> None:
    ticket = new_ticket(opened_by=STAFF, text="Planned maintenance on your server")
    assert ticket.status is TicketStatus.AWAITING_CUSTOMER
    assert (ticket.unread_by_customer, ticket.unread_by_staff) == (True, False)


def test_unknown_department_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        new_ticket(department="sales")
    assert str(err.value) == "department='sales' is invalid: expected one of finance, technical"


def test_departments_are_extensible_by_data() -> None:
    policy = TicketPolicy(departments={"technical", "finance", "sales"})
    assert new_ticket(department="sales", policy=policy).department == "sales"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": "  "}, "subject='  ' is invalid: must not be empty"),
        ({"text": ""}, "text='' is invalid: must not be empty"),
        (
            {"at": datetime(2024, 3, 1, 9)},  # noqa: DTZ001 - a naive datetime is the point
            "at=datetime.datetime(2024, 3, 1, 9, 0) is invalid: give an aware datetime (with a time zone)",
        ),
        (
            {"related_service_id": ""},
            "related_service_id='' is invalid: expected a service id, or None when the ticket is not about a service",
        ),
    ],
)
def test_bad_ticket_fields_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        new_ticket(**fields)
    assert str(err.value) == message


def test_priority_accepts_its_value() -> None:
    assert new_ticket(priority="high").priority is TicketPriority.HIGH
    with pytest.raises(
        ValueError, match="priority='urgent' is invalid: expected one of normal, high"
    ):
        new_ticket(priority="urgent")


# ----------------------------------------------------------------------------- attachments


def test_attachment_metadata_is_validated() -> None:
    with pytest.raises(
        ValidationError, match=r"size=0 is invalid: expected the file size in bytes, 1 or more"
    ):
        TicketAttachment("a.txt", 0, "text/plain")
    with pytest.raises(
        ValidationError, match=r"content_type='PNG' is invalid: expected a lower-case media type"
    ):
        TicketAttachment("a.png", 1, "PNG")
    with pytest.raises(ValidationError, match=r"file_name='C:\\\\x\\\\a.png' is invalid"):
        TicketAttachment("C:\\x\\a.png", 1, "image/png")


def test_at_most_five_files_per_message() -> None:
    files = [TicketAttachment(f"{i}.png", 10, "image/png") for i in range(6)]
    with pytest.raises(ValidationError) as err:
        new_ticket(attachments=files)
    assert str(err.value) == "attachments='6 files' is invalid: a message has at most 5 files"
    assert new_ticket(attachments=files[:5]).messages[0].attachments == tuple(files[:5])


def test_file_size_and_type_limits_are_settings() -> None:
    big = TicketAttachment("dump.zip", 10 * 1024 * 1024 + 1, "application/zip")
    with pytest.raises(ValidationError) as err:
        new_ticket(attachments=[big])
    assert str(err.value) == (
        "attachment='dump.zip (10485761 bytes)' is invalid: a file has at most 10485760 bytes"
    )
    exe = TicketAttachment("setup.exe", 100, "application/x-msdownload")
    with pytest.raises(
        ValidationError,
        match=r"attachment='setup.exe \(application/x-msdownload\)' is invalid: allowed types: application/pdf, application/zip, image/\*, text/csv, text/plain",
    ):
        new_ticket(attachments=[exe])
    lenient = TicketPolicy(
        max_attachment_bytes=20 * 1024 * 1024, allowed_content_types={"application/*"}
    )
    assert new_ticket(attachments=[big, exe], policy=lenient).messages[0].attachments == (big, exe)


def test_text_length_limit_of_the_telegram_bot() -> None:
    bot = TicketPolicy(max_text_length=255)
    ticket = new_ticket(text="x" * 255, policy=bot)
    before = snapshot(ticket)
    with pytest.raises(
        ValidationError,
        match=r"text='256 characters' is invalid: a message has at most 255 characters",
    ):
        ticket.reply(CUSTOMER, "y" * 256, at(1), policy=bot)
    assert ticket == before


def stored(department: str, messages: list[TicketMessage]) -> Ticket:
    return Ticket(
        "t-1",
        "acc-1",
        department,
        "API",
        TicketPriority.NORMAL,
        None,
        TicketStatus.CLOSED,
        messages,
        unread_by_customer=False,
        unread_by_staff=False,
        events=[],
    )


def test_a_stored_ticket_is_validated() -> None:
    with pytest.raises(ValidationError, match=r"department='' is invalid: must not be empty"):
        stored("", [PNG_MESSAGE])
    with pytest.raises(
        ValidationError, match=r"messages=\[\] is invalid: a ticket has at least its first message"
    ):
        stored("technical", [])
    assert stored("technical", [PNG_MESSAGE]).last_activity == T0


def test_policy_refuses_bad_settings() -> None:
    with pytest.raises(
        ValidationError, match=r"max_attachments=0 is invalid: expected a whole number of 1 or more"
    ):
        TicketPolicy(max_attachments=0)
    with pytest.raises(ValidationError, match=r"max_text_length=0 is invalid"):
        TicketPolicy(max_text_length=0)
    with pytest.raises(ValidationError, match=r"departments=\[\] is invalid"):
        TicketPolicy(departments=set())
    with pytest.raises(ValidationError, match=r"allowed_content_types='pdf' is invalid"):
        TicketPolicy(allowed_content_types={"pdf"})


# ----------------------------------------------------------------------------- replies


def test_staff_reply_awaits_the_customer_and_marks_it_unread() -> None:
    ticket = new_ticket()
    (event,) = ticket.reply(STAFF, "Fixed, please check", at(60), author_name="Support: Anna")
    assert ticket.status is TicketStatus.AWAITING_CUSTOMER
    assert (ticket.unread_by_customer, ticket.unread_by_staff) == (True, False)
    assert (event.kind, event.by, event.seq) == (TicketEventKind.STAFF_REPLIED, STAFF, 2)
    assert ticket.messages[-1].author_name == "Support: Anna"
    ticket.mark_read(CUSTOMER)
    assert not ticket.unread_for(CUSTOMER)


def test_customer_reply_puts_it_back_under_review() -> None:
    ticket = new_ticket()
    ticket.reply(STAFF, "Which endpoint?", at(10))
    (event,) = ticket.reply(CUSTOMER, "/v1/servers", at(20), attachments=[PNG])
    assert ticket.status is TicketStatus.AWAITING_STAFF
    assert (ticket.unread_by_customer, ticket.unread_by_staff) == (False, True)
    assert event.kind is TicketEventKind.CUSTOMER_REPLIED
    assert [m.author for m in ticket.messages] == [CUSTOMER, STAFF, CUSTOMER]
    ticket.mark_read(STAFF)
    assert not ticket.unread_for(STAFF)


def test_time_must_not_go_backwards() -> None:
    ticket = new_ticket()
    ticket.reply(STAFF, "Checking", at(10))
    before = snapshot(ticket)
    with pytest.raises(ValidationError) as err:
        ticket.reply(CUSTOMER, "Thanks", at(5))
    assert str(err.value) == (
        "at='2024-03-01T09:05:00+00:00' is invalid: must not be before the ticket's last "
        "activity 2024-03-01T09:10:00+00:00"
    )
    assert ticket == before


def test_see_and_close_is_the_viewed_status() -> None:
    ticket = new_ticket()
    event = ticket.see_and_close(at(30))
    assert ticket.status is TicketStatus.SEEN_AND_CLOSED
    assert not ticket.unread_by_staff
    assert ticket.is_closed
    assert (event.kind, event.by) == (TicketEventKind.SEEN_AND_CLOSED, STAFF)


def test_see_and_close_only_while_awaiting_staff() -> None:
    ticket = new_ticket()
    ticket.reply(STAFF, "Done", at(5))
    before = snapshot(ticket)
    with pytest.raises(InvalidTransitionError) as err:
        ticket.see_and_close(at(6))
    assert str(err.value) == (
        "cannot go from awaiting_customer to see_and_close; allowed from awaiting_customer: "
        "customer_reply, staff_reply, close, archive"
    )
    assert ticket == before


def test_customer_reply_reopens_a_closed_ticket() -> None:
    ticket = new_ticket()
    ticket.close(CUSTOMER, at(5))
    events = ticket.reply(CUSTOMER, "It broke again", at(50))
    assert [e.kind for e in events] == [TicketEventKind.REOPENED, TicketEventKind.CUSTOMER_REPLIED]
    assert [e.status for e in events] == [TicketStatus.AWAITING_STAFF] * 2
    assert [e.seq for e in events] == [3, 4]
    assert ticket.status is TicketStatus.AWAITING_STAFF


def test_reopening_by_reply_can_be_switched_off() -> None:
    strict = TicketPolicy(reopen_on_customer_reply=False)
    ticket = new_ticket()
    ticket.see_and_close(at(5))
    before = snapshot(ticket)
    with pytest.raises(InvalidTransitionError) as err:
        ticket.reply(CUSTOMER, "Again", at(6), policy=strict)
    assert (err.value.current, err.value.attempted) == (
        TicketStatus.SEEN_AND_CLOSED,
        TicketAction.CUSTOMER_REPLY,
    )
    assert err.value.allowed == (TicketAction.REOPEN, TicketAction.ARCHIVE)
    assert ticket == before
    ticket.reopen(STAFF, at(7))
    assert ticket.status is TicketStatus.AWAITING_STAFF


def test_staff_cannot_reply_to_a_closed_ticket() -> None:
    ticket = new_ticket()
    ticket.close(STAFF, at(1))
    before = snapshot(ticket)
    with pytest.raises(InvalidTransitionError, match="cannot go from closed to staff_reply"):
        ticket.reply(STAFF, "One more thing", at(2))
    assert ticket == before


def test_archive_a_resolved_ticket() -> None:
    ticket = new_ticket()
    ticket.reply(STAFF, "Done", at(5))
    event = ticket.archive(at(6))
    assert ticket.status is TicketStatus.ARCHIVED
    assert not ticket.unread_by_customer
    assert (event.kind, event.by) == (TicketEventKind.ARCHIVED, CUSTOMER)
    assert ticket.allowed_actions() == ()


def test_archive_is_refused_while_under_review_and_nothing_follows_archive() -> None:
    ticket = new_ticket()
    before = snapshot(ticket)
    with pytest.raises(InvalidTransitionError, match="cannot go from awaiting_staff to archive"):
        ticket.archive(at(1))
    assert ticket == before
    ticket.close(CUSTOMER, at(2))
    ticket.archive(at(3))
    archived = snapshot(ticket)
    for act in (
        lambda: ticket.reply(CUSTOMER, "hi", at(4)),
        lambda: ticket.reply(STAFF, "hi", at(4)),
        lambda: ticket.close(STAFF, at(4)),
        lambda: ticket.reopen(CUSTOMER, at(4)),
        lambda: ticket.archive(at(4)),
    ):
        with pytest.raises(InvalidTransitionError, match="allowed from archived: none"):
            act()
        assert ticket == archived


def test_transition_table_covers_every_status() -> None:
    assert set(TICKET_TRANSITIONS) == set(TicketStatus)
    assert OPEN_STATUSES | CLOSED_STATUSES | {TicketStatus.ARCHIVED} == set(TicketStatus)
    targets = {t for moves in TICKET_TRANSITIONS.values() for t in moves.values()}
    assert targets <= set(TicketStatus)


# ----------------------------------------------------------------------------- filters


def test_filters_open_closed_unread_and_archived() -> None:
    waiting = new_ticket("t-1")
    answered = new_ticket("t-2")
    answered.reply(STAFF, "Done", at(30))
    closed = new_ticket("t-3")
    closed.close(CUSTOMER, at(10))
    archived = new_ticket("t-4")
    archived.close(STAFF, at(5))
    archived.archive(at(40))
    tickets = [waiting, answered, closed, archived]

    def ids(which: TicketFilter, side: TicketSide = CUSTOMER) -> list[str]:
        return [t.id for t in filter_tickets(tickets, which, side=side)]

    assert ids(TicketFilter.OPEN) == ["t-2", "t-1"]
    assert ids(TicketFilter.CLOSED) == ["t-3"]
    assert ids(TicketFilter.UNREAD) == ["t-2"]
    assert ids(TicketFilter.UNREAD, STAFF) == ["t-3", "t-1"]
    assert ids(TicketFilter.ARCHIVED) == ["t-4"]
    assert ids(TicketFilter.ALL) == ["t-4", "t-2", "t-3", "t-1"]
    assert [t.id for t in filter_tickets(tickets, "open")] == ["t-2", "t-1"]


def test_sort_by_last_activity() -> None:
    a = new_ticket("t-a")
    b = new_ticket("t-b")
    a.reply(STAFF, "x", at(20))
    b.reply(STAFF, "y", at(10))
    assert [t.id for t in sort_by_last_activity([b, a])] == ["t-a", "t-b"]
    assert [t.id for t in sort_by_last_activity([a, b], newest_first=False)] == ["t-b", "t-a"]


# ----------------------------------------------------------------------------- notifications


def test_staff_reply_notifies_the_customer() -> None:
    ticket = new_ticket()
    (event,) = ticket.reply(STAFF, "Done", at(30))
    notification = ticket_notification(event)
    assert notification is not None
    assert notification.category is NotificationCategory.SUPPORT
    assert notification.kind == "ticket.staff_replied"
    assert notification.account_id == "acc-1"
    assert dict(notification.params) == {
        "ticket_id": "t-1",
        "subject": "API",
        "status": "awaiting_customer",
        "by": "staff",
    }
    assert notification.key == "acc-1:ticket.staff_replied:2024-03-01T09:30:00+00:00:t-1:2"


def test_every_event_maps_to_a_support_notice_except_archiving() -> None:
    ticket = new_ticket()
    ticket.reply(STAFF, "Done", at(1))
    ticket.reply(CUSTOMER, "Thanks", at(2))
    ticket.see_and_close(at(3))
    ticket.reply(CUSTOMER, "Again", at(4))
    ticket.close(CUSTOMER, at(5))
    ticket.archive(at(6))
    kinds = [getattr(ticket_notification(e), "kind", None) for e in ticket.events]
    assert kinds == [
        "ticket.opened",
        "ticket.staff_replied",
        "ticket.customer_replied",
        "ticket.seen_and_closed",
        "ticket.reopened",
        "ticket.customer_replied",
        "ticket.closed",
        None,
    ]
    keys = [n.key for e in ticket.events if (n := ticket_notification(e)) is not None]
    assert len(keys) == len(set(keys))


def test_notices_table_is_a_parameter() -> None:
    ticket = new_ticket()
    (event,) = ticket.reply(CUSTOMER, "More info", at(1))
    assert ticket_notification(event, {TicketEventKind.STAFF_REPLIED: "reply"}) is None


def test_default_policy_values() -> None:
    assert attrs.asdict(DEFAULT_TICKET_POLICY) == {
        "departments": frozenset({"technical", "finance"}),
        "max_attachments": 5,
        "max_attachment_bytes": 10 * 1024 * 1024,
        "allowed_content_types": frozenset(
            {"image/*", "application/pdf", "text/plain", "text/csv", "application/zip"},
        ),
        "max_text_length": None,
        "reopen_on_customer_reply": True,
    }
