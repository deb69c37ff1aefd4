"""Use cases for support tickets (SPEC S1).

A customer opens a ticket in a department about a subject (optionally about one of their
services), both sides reply, close, reopen and archive it; every change notifies the
customer through the notifier, and the cabinet's ticket list is filtered into open,
closed, unread and archived tabs.
"""

from __future__ import annotations

from collections.abc import Sequence

from cabinet_billing.app.core import BillingCore
from cabinet_billing.domain.support import (
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketFilter,
    TicketPriority,
    TicketSide,
    filter_tickets,
    ticket_notification,
)
from cabinet_billing.errors import NotFoundError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["SupportUseCases"]


class SupportUseCases(BillingCore):
    """Opening, answering, closing and listing support tickets."""

    def open_ticket(
        self,
        account_id: str,
        user_id: str,
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
        now = self._clock.now()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "support.write")
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
                at=now,
                priority=priority,
                related_service_id=related_service_id,
                attachments=attachments,
                author_name=user_id,
            )
            uow.tickets.add(ticket)
            uow.commit()
        self._send((event,))
        return ticket

    def reply_to_ticket(
        self,
        account_id: str,
        author: str,
        ticket_id: str,
        text: str,
        *,
        by: TicketSide = TicketSide.CUSTOMER,
        attachments: Sequence[TicketAttachment] = (),
    ) -> Ticket:
        """Add a message from the customer (``author`` is a user) or the staff.

        A customer's reply to a closed ticket reopens it when the policy allows.

        Raises:
            AccessDeniedError: without the right ``support.write`` (customers).
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: when the ticket takes no replies (archived).
        """
        now = self._clock.now()
        with self._uow() as uow:
            ticket = self._ticket(uow, account_id, author, ticket_id, by=by)
            events = ticket.reply(by, text, now, attachments=attachments, author_name=author)
            uow.commit()
        self._send(events)
        return ticket

    def close_ticket(
        self,
        account_id: str,
        author: str,
        ticket_id: str,
        *,
        by: TicketSide = TicketSide.CUSTOMER,
    ) -> Ticket:
        """Close a ticket.

        Raises:
            InvalidTransitionError: when it is closed or archived already.
        """
        now = self._clock.now()
        with self._uow() as uow:
            ticket = self._ticket(uow, account_id, author, ticket_id, by=by)
            event = ticket.close(by, now)
            uow.commit()
        self._send((event,))
        return ticket

    def tickets(
        self,
        account_id: str,
        user_id: str,
        which: TicketFilter | str = TicketFilter.ALL,
    ) -> list[Ticket]:
        """The account's tickets of one tab (open, closed, unread ...), newest first.

        Raises:
            AccessDeniedError: without the right ``support.view``.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "support.view")
            return filter_tickets(uow.tickets.for_account(account_id), which)

    def _ticket(
        self,
        uow: UnitOfWork,
        account_id: str,
        author: str,
        ticket_id: str,
        *,
        by: TicketSide,
    ) -> Ticket:
        if by is TicketSide.CUSTOMER:
            uow.users.get(account_id).ensure_can(author, "support.write")
        ticket = uow.tickets.get(ticket_id)
        if ticket.account_id != account_id:
            raise NotFoundError("ticket", ticket_id)
        return ticket

    def _send(self, events: Sequence[TicketEvent]) -> None:
        if self._notifier is None:
            return
        for event in events:
            notification = ticket_notification(event)
            if notification is not None:
                self._notifier.send(notification)
