"""The cabinet's support tickets (SPEC S1).

A customer opens a ticket in one of the provider's departments (``settings.tickets``)
about a subject (optionally about one of their services), replies, reads, closes and
archives it, and lists them by tab (open, closed, unread, archived) a page at a time;
every change notifies the customer. The staff's side is
:class:`~cabinet_billing.app.staff.Staff`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, choice, paginate
from cabinet_billing.domain.support import (
    Ticket,
    TicketAttachment,
    TicketFilter,
    TicketPriority,
    TicketSide,
    shows,
    sort_by_last_activity,
)
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["CabinetTickets", "ticket_of"]


class CabinetTickets:
    """Support tickets (``support.write`` to write, ``support.view`` to read)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def open(
        self,
        *,
        department: str,
        subject: str,
        text: str,
        priority: TicketPriority = TicketPriority.NORMAL,
        related_service_id: str | None = None,
        attachments: Sequence[TicketAttachment] = (),
    ) -> Ticket:
        """Open a ticket with its first message.

        Raises:
            AccessDeniedError: without the right ``support.write``.
            NotFoundError: for a related service of another account.
            ValidationError: for an unknown department, an empty subject or text, or
                attachments the policy refuses.
        """
        with self._gate.open("support.write") as call:
            uow, account_id = call.uow, call.account.id
            if related_service_id is not None:
                service = uow.services.get(related_service_id)
                if service.account_id != account_id:
                    raise NotFoundError("service", related_service_id)
            ticket, event = Ticket.open(
                f"tic-{uow.sequences.next('ticket')}",
                account_id,
                department=department,
                subject=subject,
                text=text,
                at=call.now,
                priority=priority,
                related_service_id=related_service_id,
                attachments=attachments,
                author_name=call.user.name or call.user.id,
                policy=self._ctx.settings.tickets,
            )
            uow.tickets.add(ticket)
            queued = self._ctx.commit(uow, [event])
        self._ctx.send(queued)
        return ticket

    def reply(
        self,
        ticket_id: str,
        text: str,
        *,
        attachments: Sequence[TicketAttachment] = (),
    ) -> Ticket:
        """Add the customer's message; a reply to a closed ticket reopens it when allowed.

        Raises:
            AccessDeniedError: without the right ``support.write``.
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: when the ticket takes no replies (archived).
        """
        with self._gate.open("support.write") as call:
            ticket = _ticket(call, ticket_id)
            events = ticket.reply(
                TicketSide.CUSTOMER,
                text,
                call.now,
                attachments=attachments,
                author_name=call.user.name or call.user.id,
                policy=self._ctx.settings.tickets,
            )
            queued = self._ctx.commit(call.uow, events)
        self._ctx.send(queued)
        return ticket

    def close(self, ticket_id: str) -> Ticket:
        """Close a ticket.

        Raises:
            AccessDeniedError: without the right ``support.write``.
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: when it is closed or archived already.
        """
        with self._gate.open("support.write") as call:
            ticket = _ticket(call, ticket_id)
            event = ticket.close(TicketSide.CUSTOMER, call.now)
            queued = self._ctx.commit(call.uow, [event])
        self._ctx.send(queued)
        return ticket

    def archive(self, ticket_id: str) -> Ticket:
        """Move a resolved ticket to the archive; it then takes no replies (Astra Cloud).

        A ticket can be archived once the staff answered it or it was closed.

        Raises:
            AccessDeniedError: without the right ``support.write``.
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: while the staff still work on it, or when archived.
        """
        with self._gate.open("support.write") as call:
            ticket = _ticket(call, ticket_id)
            event = ticket.archive(call.now)
            queued = self._ctx.commit(call.uow, [event])
        self._ctx.send(queued)
        return ticket

    def mark_read(self, ticket_id: str) -> Ticket:
        """The customer has read the staff's answer: the ticket leaves the "unread" tab.

        Raises:
            AccessDeniedError: without the right ``support.view``.
            NotFoundError: for a ticket of another account.
        """
        with self._gate.open("support.view") as call:
            ticket = _ticket(call, ticket_id)
            if ticket.unread_by_customer:
                ticket.mark_read(TicketSide.CUSTOMER)
                call.uow.commit()
        return ticket

    def get(self, ticket_id: str) -> Ticket:
        """One ticket with its messages (reading it does not mark it read).

        Raises:
            AccessDeniedError: without the right ``support.view``.
            NotFoundError: for a ticket of another account.
        """
        with self._gate.open("support.view") as call:
            return _ticket(call, ticket_id)

    def departments(self) -> tuple[str, ...]:
        """The departments a ticket may go to (``settings.tickets.departments``), sorted.

        Raises:
            AccessDeniedError: without the right ``support.write``.
        """
        with self._gate.open("support.write"):
            return tuple(sorted(self._ctx.settings.tickets.departments))

    def list(
        self,
        which: TicketFilter | str = TicketFilter.ALL,
        *,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[Ticket]:
        """A page of the account's tickets of one tab (open, closed, unread ...).

        Newest activity first: a ticket that changed moves to the top, so the cursor
        marks a place in the order of the moment (a ticket answered between two pages
        may show on the first page again rather than be missed).

        Raises:
            AccessDeniedError: without the right ``support.view``.
            ValidationError: for an unknown tab, a limit out of range or a cursor that is
                not a ticket of this account.
        """
        shown = choice(TicketFilter, which, "which") or TicketFilter.ALL
        with self._gate.open("support.view") as call:
            tickets = call.uow.tickets.for_account(call.account.id)
        oldest_first = sort_by_last_activity(tickets, newest_first=False)
        return paginate(
            oldest_first,
            _ticket_id,
            matches=lambda t: shows(t, shown, TicketSide.CUSTOMER),
            limit=limit,
            after=after,
        )


def _ticket(call: Call, ticket_id: str) -> Ticket:
    return ticket_of(call.uow, call.account.id, ticket_id)


def ticket_of(uow: UnitOfWork, account_id: str, ticket_id: str) -> Ticket:
    """A ticket of the account (another account's is "not found").

    Raises:
        NotFoundError: for an unknown ticket or one of another account.
    """
    ticket = uow.tickets.get(ticket_id)
    if ticket.account_id != account_id:
        raise NotFoundError("ticket", ticket_id)
    return ticket


def _ticket_id(ticket: Ticket) -> str:
    return ticket.id
