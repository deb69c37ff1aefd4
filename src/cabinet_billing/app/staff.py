"""The provider's staff: decisions and month-end work only the provider may do.

Opening a credit line and changing its limit (SPEC R1), adjusting a balance with a
reason (a credit or a debit recorded in the ledger with the member of staff), the
profile fields only support may change (SPEC A1, A2), confirming deletions (SPEC L9),
handing on the first user (SPEC A3), resetting and checking the code word (SPEC A5),
closing a billing month into acts (SPEC L8), answering and closing support tickets
(SPEC S1), and the reads an administrator needs (balances, credit, the notification
outbox). Staff calls are trusted: the host authenticates its staff before calling them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

import attrs
import moneyed
from dateutil.relativedelta import relativedelta

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.credit import credit_view
from cabinet_billing.app.notifications import documents_ready
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, check_limit, choice, paginate
from cabinet_billing.app.profile import ProfileView, delete_services
from cabinet_billing.app.results import CreditStatusView
from cabinet_billing.app.tickets import ticket_of
from cabinet_billing.domain.access import User
from cabinet_billing.domain.checks import check_id, check_text
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.customer import Account, ProfileType, payment_readiness
from cabinet_billing.domain.documents import (
    AccountDocuments,
    Act,
    assign_expenses_to_act,
    billing_month,
    build_act,
    ensure_can_issue_acts,
)
from cabinet_billing.domain.events import BillingEvent, DeletionConfirmed
from cabinet_billing.domain.expense import Expense, ExpenseBook
from cabinet_billing.domain.invoice import Invoice, InvoiceKind
from cabinet_billing.domain.ledger import LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.outbox import OutboxMessage, OutboxStatus
from cabinet_billing.domain.security import CodeWordReset
from cabinet_billing.domain.service import Actor, ServiceAction
from cabinet_billing.domain.support import (
    Ticket,
    TicketAttachment,
    TicketSide,
    TicketStatus,
    sort_by_last_activity,
)
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import (
    ConflictError,
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidAmountError,
    MonthNotFinishedError,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["BalanceAdjustment", "Staff"]


@attrs.frozen(kw_only=True)
class BalanceAdjustment:
    """A balance adjusted by the provider's staff.

    Attributes:
        account_id: the account.
        amount: the signed amount (positive: a credit, negative: a debit).
        reason: why, as recorded in the ledger entry's memo.
        by: the member of staff, recorded as the entry's reference ``staff:<by>``.
        at: when it was booked.
        entry_seq: the ledger entry's sequence number.
        balance: the balance in that currency after it.
        events: what the credit then paid (invoices paid from the balance).
    """

    account_id: str
    amount: Money
    reason: str
    by: str
    at: datetime
    entry_seq: int
    balance: Money
    events: tuple[BillingEvent, ...]

    @classmethod
    def of(
        cls, entry: LedgerEntry, balance: Money, events: tuple[BillingEvent, ...]
    ) -> BalanceAdjustment:
        """The adjustment an entry records."""
        return cls(
            account_id=entry.account_id,
            amount=entry.amount,
            reason=entry.memo,
            by=(entry.ref or "").removeprefix("staff:"),
            at=entry.at,
            entry_seq=entry.seq,
            balance=balance,
            events=events,
        )


class Staff:
    """What the provider's staff do for an account."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    # ------------------------------------------------------------------ reads

    def balance(self, account_id: str, currency: str) -> Money:
        """The account's balance in a currency, at accrual precision.

        Raises:
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        code = checks.currency("currency", currency)
        with self._ctx.unit_of_work() as uow:
            uow.accounts.get(account_id)
            return uow.ledgers.get(account_id).balance(code)

    def credit_status(self, account_id: str) -> CreditStatusView:
        """The account's credit line state and dashboard today (SPEC R1, R2).

        Raises:
            NotFoundError: when the account has no credit line.
        """
        checks.identifier("account_id", account_id)
        today = self._ctx.clock.today()
        with self._ctx.unit_of_work() as uow:
            return credit_view(self._ctx, uow, account_id, today)

    # ------------------------------------------------------------------ credit

    def open_credit_line(self, account_id: str, limit: Money | None = None) -> CreditLine:
        """Give an account credit up to a limit (a provider's decision, SPEC R1).

        Without a limit, the settings' default limit is used. The limit is in the
        account's currency (the line's debt is weighed against that balance). Changing
        the limit of an existing line keeps its statements; a limit below the current
        debt is refused.

        Raises:
            CurrencyMismatchError: for a limit in another currency than the account's
                (or the line's); nothing changes.
            PrecisionError: for a limit finer than the currency's minor unit.
            AmountOutOfRangeError: for a new limit below the line's debt.
            ConflictError: when the settings give no credit, or no limit is given and the
                settings have no default.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        limit = checks.optional_amount("limit", limit)
        settings = self._ctx.settings
        if settings.credit is None:
            raise ConflictError("credit line", "the settings give no credit (credit is None)")
        limit = limit if limit is not None else settings.credit_limit
        if limit is None:
            raise ConflictError("credit line", "give a limit: the settings have no default")
        with self._ctx.unit_of_work() as uow:
            account = uow.accounts.get(account_id)
            profile = uow.profiles.get(account_id)
            if profile.credit is None:
                profile.credit = CreditLine.for_account(account, limit)
            else:
                profile.credit.change_limit(limit)
            uow.commit()
            return profile.credit

    # ------------------------------------------------------------------ balance

    def adjust_balance(
        self,
        account_id: str,
        amount: moneyed.Money,
        *,
        reason: str,
        by: str,
        key: str | None = None,
    ) -> BalanceAdjustment:
        """Credit (a positive amount) or debit (a negative one) a balance, saying why.

        The adjustment is a ledger entry of its own (kind ``adjustment``) that keeps the
        reason as its memo and the member of staff as its reference (``staff:<by>``), so
        the statement and the reconciliation show it. A credit is money in like a
        payment: it pays off what is owed first (unpaid expenses, the credit line's
        debt) and then open invoices when the settings apply the balance to them. A
        debit takes money that is on the balance and not spent; to bill a customer for
        something, issue an invoice instead. With a ``key``, repeating the call returns
        the first adjustment and books nothing.

        Args:
            account_id: the account.
            amount: the signed amount, in the currency's minor unit.
            reason: why, in words (e.g. "goodwill credit for the outage of 3 March").
            by: the member of staff who adjusts.
            key: an idempotency key for this adjustment.

        Raises:
            InvalidAmountError: for a zero amount; PrecisionError for more decimals than
                the currency's minor unit.
            CurrencyMismatchError: for a currency the account may not hold (the
                settings' currencies, else the account's currency and those it holds).
            InsufficientFundsError: for a debit beyond the unspent balance.
            ValidationError: for an empty reason or staff name, or an amount that is not
                Money; nothing changes.
            ConflictError: for a key used for another adjustment.
            NotFoundError: for an unknown account.
        """
        if not isinstance(amount, moneyed.Money):
            raise ValidationError("amount", amount, "expected Money, e.g. Money('10.00', 'EUR')")
        money = Money(amount.amount, amount.currency).require_places()
        if not money.amount:
            raise InvalidAmountError(str(money), "an adjustment of zero changes nothing")
        memo = check_text("reason", reason)
        who = check_id("by", by)
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            account = uow.accounts.get(account_id)
            ledger = uow.ledgers.get(account_id)
            entry_key = None if key is None else f"staff-adjustment:{check_id('key', key)}"
            if entry_key is not None and ledger.by_key(entry_key):
                (entry,) = ledger.by_key(entry_key)
                if entry.amount != money or entry.memo != memo:
                    raise ConflictError(
                        f"idempotency key {key!r}",
                        f"already used for an adjustment of {entry.amount} ({entry.memo})",
                    )
                return BalanceAdjustment.of(entry, ledger.balance(money.code), ())
            allowed = ctx.settings.currencies or tuple(
                dict.fromkeys((account.profile.currency, *ledger.currencies)),
            )
            if money.code not in allowed:
                raise CurrencyMismatchError(money.code, allowed, "balance adjustment")
            book = uow.expenses.get(account_id)
            events: list[BillingEvent] = []
            if money.amount < 0:
                code = money.code
                free = max(min(ledger.balance(code), book.available(code)), Money.zero(code))
                if -money > free:
                    raise InsufficientFundsError(-money, free, -money - free)
                book.withdraw(-money)
                entry = ledger.adjust(money, now, memo=memo, ref=f"staff:{who}", key=entry_key)
            else:
                entry = ledger.adjust(money, now, memo=memo, ref=f"staff:{who}", key=entry_key)
                ref = f"adjustment-{entry.seq}"
                book.fund(ref, money)
                ctx.repay_credit_with(uow, account_id, ref, money, now)
                if ctx.settings.apply_balance_to_open_invoices:
                    events += ctx.apply_balance(uow, account_id, now)
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return BalanceAdjustment.of(entry, ledger.balance(money.code), tuple(events))

    # ------------------------------------------------------------------ profile

    def _change_account(self, account_id: str, change: Callable[[Account], object]) -> ProfileView:
        with self._ctx.unit_of_work() as uow:
            account = uow.accounts.get(account_id)
            change(account)
            uow.commit()
        readiness = payment_readiness(account, self._ctx.settings.payment_requirements)
        return ProfileView.of(account, readiness)

    def verify_company(self, account_id: str) -> ProfileView:
        """Record that the provider checked a company profile: paying is possible again (A2).

        Raises:
            ConflictError: when the account is not pending verification.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        return self._change_account(account_id, lambda account: account.mark_verified())

    def change_country(self, account_id: str, country: str) -> ProfileView:
        """Change the account's country (Introserv: the customer asks support).

        Raises:
            ValidationError: for a code that is not ISO 3166-1 alpha-2; nothing changes.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        return self._change_account(account_id, lambda account: account.change_country(country))

    def change_email(self, account_id: str, email: str) -> ProfileView:
        """Change the account's main email (the customer asks support).

        Raises:
            ValidationError: for a malformed or empty address; nothing changes.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        given: object = email
        if not isinstance(given, str) or not given.strip():
            raise ValidationError("email", email, "expected an address such as 'name@example.com'")
        return self._change_account(account_id, lambda account: account.change_email(email))

    def change_profile_type(
        self,
        account_id: str,
        profile_type: ProfileType,
        *,
        hold_for_verification: bool = True,
    ) -> ProfileView:
        """Switch the account between a private person and a company.

        Switching to a company holds the account for verification unless
        ``hold_for_verification`` is False; switching to a private person lifts the hold.

        Raises:
            ValidationError: for anything but a ``ProfileType``; nothing changes.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        if not isinstance(profile_type, ProfileType):
            raise ValidationError(
                "profile_type",
                profile_type,
                f"expected one of {', '.join(f'ProfileType.{t.name}' for t in ProfileType)}",
            )
        return self._change_account(
            account_id,
            lambda account: account.change_profile_type(
                profile_type, hold_for_verification=hold_for_verification
            ),
        )

    # ------------------------------------------------------------------ deletion

    def confirm_deletion(self, account_id: str, *, by: str) -> DeletionConfirmed:
        """Confirm the account's pending deletion request (Horoshop: a manager confirms).

        Every service that can be deleted is deleted now (one still processing by the
        daily run once it has finished); the account keeps its ledger, invoices and
        documents for the record, and nothing new can start on it.

        Args:
            account_id: the account.
            by: the member of staff who confirms.

        Raises:
            ConflictError: when no deletion is pending.
            ValidationError: for an empty ``by``; nothing changes.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        now = self._ctx.clock.now()
        with self._ctx.unit_of_work() as uow:
            account = uow.accounts.get(account_id)
            request = account.confirm_deletion(by=by, at=now)
            deleted = delete_services(uow, account_id, now)
            event = DeletionConfirmed(
                account_id=account_id, at=now, service_ids=deleted, by=request.decided_by
            )
            queued = self._ctx.commit(uow, [event])
        self._ctx.send(queued)
        return event

    # ------------------------------------------------------------------ users

    def transfer_ownership(self, account_id: str, to_user_id: str) -> User:
        """Make an enabled user the account's owner, with every right (SPEC A3).

        The provider's way to hand on the first user's place (Astra Cloud: "ask the
        provider"); the former owner stays a user with every right and may then be
        deleted from the cabinet.

        Raises:
            ConflictError: when the user is the owner already or is disabled.
            NotFoundError: for an unknown account or user.
        """
        checks.identifier("account_id", account_id)
        checks.identifier("to_user_id", to_user_id)
        with self._ctx.unit_of_work() as uow:
            uow.accounts.get(account_id)
            owner = uow.users.get(account_id).transfer_ownership(to_user_id, grant_every_right=True)
            uow.commit()
        return owner

    def edit_user(
        self,
        account_id: str,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
    ) -> User:
        """Change any user's name or email, the first user's included (Astra Cloud).

        Raises:
            ConflictError: when the email is used by another user of the account.
            ValidationError: for a malformed email; nothing changes.
            NotFoundError: for an unknown account or user.
        """
        checks.identifier("account_id", account_id)
        checks.identifier("user_id", user_id)
        with self._ctx.unit_of_work() as uow:
            uow.accounts.get(account_id)
            user = uow.users.get(account_id).edit(user_id, name=name, email=email)
            uow.commit()
        return user

    # ------------------------------------------------------------------ security

    def reset_code_word(self, account_id: str, *, by: str, reason: str) -> CodeWordReset:
        """Clear an account's code word, so that the customer may set a new one (SPEC A5).

        Only the provider can do this: the cabinet can set a code word once and never
        change it. The reset is recorded on the account (who, when, why).

        Args:
            account_id: the account.
            by: the member of staff who resets it.
            reason: why, in words (e.g. "identity checked by phone").

        Raises:
            ConflictError: when the account has no code word.
            ValidationError: for an empty ``by`` or ``reason``; nothing changes.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        now = self._ctx.clock.now()
        with self._ctx.unit_of_work() as uow:
            security = uow.accounts.get(account_id).security
            security.reset_code_word(by=by, at=now, reason=reason)
            uow.commit()
        reset = security.code_word_reset
        if reset is None:  # pragma: no cover - reset_code_word always records one
            raise ConflictError("code word", "was not reset")
        return reset

    def verify_code_word(self, account_id: str, word: str) -> bool:
        """Whether ``word`` is the account's code word (support checks it on the phone).

        Returns False when the account has none. The word is compared with its hash in
        constant time; nothing is recorded.

        Raises:
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        with self._ctx.unit_of_work() as uow:
            security = uow.accounts.get(account_id).security
        return security.verify_code_word(word)

    # ------------------------------------------------------------------ documents

    def cancel_invoice(self, account_id: str, invoice_id: str, *, reason: str) -> Invoice:
        """Cancel an unpaid invoice on the provider's side; it stays listed as cancelled (L4).

        An order's invoice cancels the order too: its services still awaiting payment
        are cancelled with the reason in their history, as when the customer deletes it.

        Raises:
            NotFoundError: for an invoice of another account.
            InvalidTransitionError: unless the invoice is unpaid.
            ValidationError: without a reason.
        """
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            invoice = ctx.invoice_of(uow, account_id, invoice_id)
            invoice.cancel(ctx.clock.today(), reason)
            if invoice.kind is InvoiceKind.ORDER:
                actor = Actor.admin("staff")
                for line in invoice.lines:
                    if line.service_id is None:
                        continue
                    service = uow.services.get(line.service_id)
                    if service.awaiting_payment and service.can(ServiceAction.CANCEL, actor.role):
                        service.cancel(actor, now, f"invoice {invoice.number} cancelled: {reason}")
            uow.commit()
        return invoice

    def close_month(self, account_id: str, month: date) -> tuple[Act, ...]:
        """Produce the acts of completed work of a finished billing month (SPEC L8).

        One act per payer (and one for expenses without a payer) and currency, from the
        expenses charged in the month; each is kept, its expenses are marked, and it is
        sent to the e-document exchange when one is plugged in and on. The account is
        notified that its documents are ready (``documents.ready``, naming the acts).

        Only a month that is over closes (from the 1st of the next month on), and a
        closed month stays closed. An expense charged in it afterwards (a billing run
        for its last day that ran after the closing, a charge booked late) goes into an
        **additional act** of that month (``act.additional`` 1, 2, ...), made by the
        next closing: of the same month again, or of any later month. So every expense
        of a closed month reaches exactly one act, and closing again with nothing new
        produces nothing.

        Raises:
            MonthNotFinishedError: for the current or a future month; nothing changes.
            ConflictError: when the policy needs the e-document exchange and it is off.
            NotFoundError: for an unknown account.
        """
        checks.identifier("account_id", account_id)
        ctx = self._ctx
        first = billing_month(month)
        today = ctx.clock.today()
        if first + relativedelta(months=1) > today:
            raise MonthNotFinishedError(first, today)
        with ctx.unit_of_work() as uow:
            documents = uow.documents.get(account_id)
            ensure_can_issue_acts(ctx.settings.documents, documents.exchange)
            account = uow.accounts.get(account_id)
            key = _acts_key(account_id, first)
            closed = uow.keys.seen(key)
            book = uow.expenses.get(account_id)
            expenses = book.unbilled(first + relativedelta(months=1))
            loose: dict[date, list[Expense]] = {}
            for e in expenses:
                loose.setdefault(billing_month(e.charged_on), []).append(e)
            rate = ctx.tax_rate(account) or TaxRate("0", "no tax")
            made: list[Act] = []
            for start, found in sorted(loose.items()):
                late = closed if start == first else uow.keys.seen(_acts_key(account_id, start))
                if start != first and not late:
                    continue  # a month never closed gets its acts when it is closed
                made += _month_acts(
                    ctx, uow, documents, start, found, book=book, rate=rate, late=late
                )
            exchange = documents.exchange
            if ctx.exchange is not None and exchange is not None and exchange.is_on:
                requisites = exchange.requisites
                if requisites is None:
                    raise ConflictError("e-document exchange", "is on without requisites")
                for act in made:
                    ctx.exchange.send_act(act, requisites)
            if not closed:
                uow.keys.record(key)
            notice = documents_ready(account_id, first, made, ctx.clock.now())
            queued = ctx.commit(uow, [] if notice is None else [notice])
        ctx.send(queued)
        return tuple(made)

    # ------------------------------------------------------------------ support

    def reply_to_ticket(
        self,
        account_id: str,
        ticket_id: str,
        text: str,
        *,
        author: str,
        attachments: Sequence[TicketAttachment] = (),
    ) -> Ticket:
        """Answer a customer's ticket as ``author`` (a member of the staff).

        Raises:
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: when the ticket takes no replies (archived).
        """
        checks.identifier("account_id", account_id)
        checks.identifier("ticket_id", ticket_id)
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            ticket = ticket_of(uow, account_id, ticket_id)
            events = ticket.reply(
                TicketSide.STAFF,
                text,
                now,
                attachments=attachments,
                author_name=author,
                policy=ctx.settings.tickets,
            )
            queued = ctx.commit(uow, events)
        ctx.send(queued)
        return ticket

    def see_ticket(self, account_id: str, ticket_id: str) -> Ticket:
        """The staff read the customer's last message and close the ticket ("viewed").

        Astra Cloud's "Просмотрен": nothing more to answer. The customer may still reply,
        which reopens it.

        Raises:
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: unless the ticket awaits the staff.
        """
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            ticket = ticket_of(uow, account_id, ticket_id)
            event = ticket.see_and_close(now)
            queued = ctx.commit(uow, [event])
        ctx.send(queued)
        return ticket

    def read_ticket(self, account_id: str, ticket_id: str) -> Ticket:
        """The staff have read the customer's messages: the ticket is no longer unread for them.

        Raises:
            NotFoundError: for a ticket of another account.
        """
        with self._ctx.unit_of_work() as uow:
            ticket = ticket_of(uow, account_id, ticket_id)
            if ticket.unread_by_staff:
                ticket.mark_read(TicketSide.STAFF)
                uow.commit()
        return ticket

    def ticket_queue(
        self,
        *,
        department: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[Ticket]:
        """The tickets awaiting the staff, of every account, the longest waiting first.

        Args:
            department: only this department's tickets.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page.

        Raises:
            ValidationError: for a department the settings do not have, a limit out of
                range or a cursor that is not a ticket of the queue.
        """
        ctx = self._ctx
        if department is not None:
            ctx.settings.tickets.check_department(department)
        with ctx.unit_of_work() as uow:
            tickets = [t for a in uow.accounts.ids() for t in uow.tickets.for_account(a)]
        return paginate(
            sort_by_last_activity(tickets, newest_first=False),
            lambda t: t.id,
            matches=lambda t: (
                t.status is TicketStatus.AWAITING_STAFF
                and (department is None or t.department == department)
            ),
            limit=limit,
            after=after,
            newest_first=False,
        )

    def close_ticket(self, account_id: str, ticket_id: str) -> Ticket:
        """Close a ticket on the staff's side.

        Raises:
            NotFoundError: for a ticket of another account.
            InvalidTransitionError: when it is closed or archived already.
        """
        checks.identifier("account_id", account_id)
        checks.identifier("ticket_id", ticket_id)
        ctx = self._ctx
        now = ctx.clock.now()
        with ctx.unit_of_work() as uow:
            ticket = ticket_of(uow, account_id, ticket_id)
            event = ticket.close(TicketSide.STAFF, now)
            queued = ctx.commit(uow, [event])
        ctx.send(queued)
        return ticket

    def outbox(
        self,
        status: OutboxStatus | str = OutboxStatus.PENDING,
        *,
        account_id: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[OutboxMessage]:
        """A page of the notification outbox, in the order the messages were queued.

        What waits for delivery (``"pending"``: each message with its failed attempts,
        its last error and when it is tried again), what was given up after the last
        attempt (``"given_up"``, with the error that ended it) or what was delivered.

        Args:
            status: the messages' status (default pending).
            account_id: only the messages of this account.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page (a message's key).

        Raises:
            ValidationError: for an unknown status, a limit out of range or a cursor that
                is not a message of the outbox.
        """
        wanted = choice(OutboxStatus, status, "status") or OutboxStatus.PENDING
        account_id = checks.optional_identifier("account_id", account_id)
        size = check_limit(limit)
        if after is not None and not isinstance(after, str):
            raise ValidationError(
                "after", after, "expected the next_after of a previous page (text), or None"
            )
        with self._ctx.unit_of_work() as uow:
            try:
                found = uow.outbox.listed(wanted, size + 1, account_id=account_id, after=after)
            except NotFoundError:
                raise ValidationError(
                    "after", after, "expected the next_after of a previous page of this list"
                ) from None
            total = uow.outbox.count(wanted, account_id=account_id)
        shown = tuple(found[:size])
        return Page(
            items=shown,
            next_after=shown[-1].key if len(found) > size else None,
            total=total,
        )

    def retry_message(self, key: str) -> OutboxMessage:
        """Queue a given-up notification again: the next delivery tries it once more.

        For a notice the provider still wants delivered once the notifier works again
        (the mail server is back). It gets every attempt of the delivery policy again;
        its last error stays until the next attempt.

        Returns:
            The message as queued again.

        Raises:
            InvalidTextError: for a key that is empty or not text.
            NotFoundError: for a key the outbox does not have.
            ConflictError: for a message that is not given up (pending or delivered), or
                one another call queued again meanwhile.
        """
        key = check_text("key", key)
        with self._ctx.unit_of_work() as uow:
            again = uow.outbox.get(key).requeued()
            uow.outbox.requeue(again)
            uow.commit()
        return again


def _acts_key(account_id: str, month: date) -> str:
    """The key that records a closed month of an account."""
    return f"acts:{account_id}:{month.isoformat()}"


def _month_acts(
    ctx: Context,
    uow: UnitOfWork,
    documents: AccountDocuments,
    month: date,
    expenses: list[Expense],
    *,
    book: ExpenseBook,
    rate: TaxRate,
    late: bool,
) -> list[Act]:
    """The acts of a month's expenses not in an act yet: one per payer and currency.

    For a month closed before (``late``), each is the next additional act of its payer
    and currency.
    """
    made: list[Act] = []
    for payer_id, currency in sorted({(e.payer_id or "", e.currency) for e in expenses}):
        payer = payer_id or None
        extra = documents.additional_acts(month, payer, currency) + 1 if late else 0
        seq = uow.sequences.next("act")
        act = build_act(
            f"act-{seq}",
            ctx.settings.act_numbers.format(seq, year=month.year, month=month.month),
            account_id=documents.account_id,
            month=month,
            expenses=[e for e in expenses if (e.payer_id or "") == payer_id],
            rate=rate,
            mode=ctx.settings.tax.mode,
            payer_id=payer,
            currency=currency,
            rounding=ctx.settings.rounding,
            additional=extra,
        )
        if act is None:
            continue
        documents.add_act(act)
        assign_expenses_to_act(act, book)
        made.append(act)
    return made
