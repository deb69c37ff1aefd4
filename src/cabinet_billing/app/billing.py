"""The use cases: what a customer cabinet does with money, each in one unit of work.

A host builds one :class:`Billing` from its ports (storage, clock, payment gateway,
notifier) and its :class:`~cabinet_billing.app.settings.BillingSettings`, and calls its
methods. Every method reads the clock once, checks the user's rights (SPEC A3) and, for
anything that pays, the profile (SPEC A2); does its work through the domain objects in
one unit of work; commits; sends the notifications; and returns what happened. How the
money flows is described in :mod:`cabinet_billing.app.core`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING

import attrs
import moneyed

from cabinet_billing.app.arrangements import ArrangementUseCases
from cabinet_billing.app.core import CheckoutStarted, require_open
from cabinet_billing.app.currencies import CurrencyUseCases
from cabinet_billing.app.cycle import CycleUseCases
from cabinet_billing.app.documents import DocumentUseCases
from cabinet_billing.app.settings import PaymentMethod
from cabinet_billing.app.support import SupportUseCases
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.autopay import CardAutopayStatus
from cabinet_billing.domain.cart import Order, OrderLine
from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.customer import Account, payment_readiness
from cabinet_billing.domain.events import (
    AccountOpened,
    BankTransferForReview,
    BillingEvent,
    DeletionRequested,
    InvoiceDeleted,
    OrderPlaced,
    ServiceStopped,
)
from cabinet_billing.domain.invoice import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    IssuedLine,
)
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.paylink import PayLink
from cabinet_billing.domain.payment import (
    EventOutcome,
    Payment,
    PaymentStatus,
)
from cabinet_billing.domain.service import (
    Actor,
    Service,
    ServiceStatus,
)
from cabinet_billing.errors import (
    AccessDeniedError,
    ConflictError,
    NotFoundError,
)
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditAction
from cabinet_billing.rules.matching import (
    CandidateStatus,
    InvoiceCandidate,
    StatementLine,
    StatementMatch,
    match_statement,
)

__all__ = [
    "Billing",
    "CallbackHandled",
    "CheckoutStarted",
    "InvoiceSettled",
    "OrderResult",
    "PayResult",
    "StatementResult",
    "TopUpNeeded",
]


# ----------------------------------------------------------------------------- results


@attrs.frozen(kw_only=True)
class OrderResult:
    """An order placed: its services, its invoice, and whether the balance paid it."""

    invoice: Invoice
    service_ids: tuple[str, ...]
    paid_from_balance: bool
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class InvoiceSettled:
    """An invoice paid from the balance."""

    invoice: Invoice
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class TopUpNeeded:
    """The balance does not cover the invoice: how much is missing and how to pay it."""

    invoice: Invoice
    balance: Money
    missing: Money
    methods: tuple[PaymentMethod, ...]
    events: tuple[BillingEvent, ...] = ()


#: What :meth:`Billing.pay_invoice` returns.
PayResult = InvoiceSettled | CheckoutStarted | TopUpNeeded


@attrs.frozen(kw_only=True)
class CallbackHandled:
    """What a gateway callback did: applied, a duplicate, or stale (out of order)."""

    payment_id: str
    outcome: EventOutcome
    status: PaymentStatus
    events: tuple[BillingEvent, ...]


@attrs.frozen(kw_only=True)
class StatementResult:
    """A bank statement matched: the lines that paid invoices and those left for review."""

    match: StatementMatch
    events: tuple[BillingEvent, ...]


# ----------------------------------------------------------------------------- use cases


class Billing(
    DocumentUseCases,
    ArrangementUseCases,
    CurrencyUseCases,
    SupportUseCases,
    CycleUseCases,
):
    """The billing of one provider, over the ports a host plugs in.

    Args:
        uow: makes a fresh unit of work (one per use case).
        clock: the clock.
        gateway: the payment provider.
        notifier: where notifications go (none are sent without one).
        settings: the provider's settings.
        documents: the e-document exchange acts are sent to, if any.
        rates: where exchange rates come from, for multi-currency balances.
    """

    # ------------------------------------------------------------------ accounts

    def open_account(
        self,
        account: Account,
        *,
        owner_id: str,
        owner_name: str,
    ) -> AccountOpened:
        """Store a new account with its first user, who has every right.

        Raises:
            ConflictError: when the account exists.
        """
        now = self._clock.now()
        default = self.settings.low_balance_threshold
        if (
            account.settings.low_balance_threshold is None
            and default is not None
            and default.code == account.profile.currency
        ):
            account.set_low_balance_threshold(default)
        with self._uow() as uow:
            uow.accounts.add(account)
            uow.users.add(
                AccountUsers.create(account.id, owner_id, owner_name, account.profile.email),
            )
            uow.ledgers.get(account.id)
            uow.expenses.get(account.id)
            uow.commit()
        return AccountOpened(account_id=account.id, at=now, owner_id=owner_id)

    def balance(self, account_id: str, currency: str) -> Money:
        """The account's balance in a currency, at accrual precision."""
        with self._uow() as uow:
            uow.accounts.get(account_id)
            return uow.ledgers.get(account_id).balance(currency)

    # ------------------------------------------------------------------ orders

    def place_order(self, account_id: str, user_id: str, order: Order) -> OrderResult:
        """Turn a checked-out cart into services awaiting payment and an invoice.

        When the balance covers the invoice (and the profile allows paying), it is paid
        from the balance at once (SPEC L2); otherwise it waits for a payment.

        Raises:
            AccessDeniedError: without the right ``services.order``.
            ConflictError: when the order was placed already.
        """
        now, today = self._clock.now(), self._clock.today()
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
            uow.users.get(account_id).ensure_can(user_id, "services.order")
            key = f"order:{order.id}"
            if uow.keys.seen(key):
                raise ConflictError(f"order {order.id!r}", "was placed already")
            uow.keys.record(key)
            kinds = {item.id: item.plan.kind for item in order.items}
            lines: list[IssuedLine] = []
            service_ids: list[str] = []
            for line in order.lines:
                service = _new_service(
                    service_id=self._next_id(uow, "service"),
                    account=account,
                    user_id=user_id,
                    line=line,
                    kind=kinds[line.item_id],
                    now=now,
                )
                uow.services.add(service)
                service_ids.append(service.id)
                lines.append(
                    IssuedLine(
                        f"{line.plan_name}, {line.covered.start} to {line.covered.end}",
                        line.tax,
                        None,
                        service.id,
                        None,
                        line.covered.end,
                    ),
                )
            invoice = Invoice.from_lines(
                self._next_id(uow, "invoice"),
                self._number(uow, today, account_id),
                account_id,
                lines,
                issued_on=today,
                due_on=today + timedelta(days=self.settings.invoice_due_days),
                kind=InvoiceKind.ORDER,
                payment_method_id=order.payment_method_id,
            )
            uow.invoices.add(invoice)
            events: list[BillingEvent] = [
                OrderPlaced(
                    account_id=account_id,
                    at=now,
                    order_id=order.id,
                    invoice_id=invoice.id,
                    service_ids=tuple(service_ids),
                ),
                self._issued(invoice, now),
            ]
            paid = False
            code = invoice.currency
            # An order is paid automatically from free money only; buying it on credit is
            # the customer's choice (pay_invoice), and a blocked line forbids both.
            if (
                payment_readiness(account, self.settings.payment_requirements).ready
                and self._credit_allows(uow, account_id, code, CreditAction.PAY_FROM_BALANCE, today)
                and self._spendable(uow, account_id, code, with_credit=False) >= invoice.amount_due
            ):
                events += self._settle(uow, invoice, invoice.amount_due, now, from_balance=True)
                paid = True
            uow.commit()
        self._notify(events)
        return OrderResult(
            invoice=invoice,
            service_ids=tuple(service_ids),
            paid_from_balance=paid,
            events=tuple(events),
        )

    def issue_renewal_invoice(
        self,
        account_id: str,
        user_id: str,
        service_id: str,
        *,
        periods: int = 1,
        payment_method_id: str | None = None,
    ) -> Invoice:
        """Issue an invoice for the next billing period(s) of a service (SPEC L4).

        Raises:
            AccessDeniedError: without the right ``services.renew``.
            NotFoundError: for a service of another account.
            ConflictError: when an unpaid renewal invoice for it exists (delete it first
                to pay another way) or the service was never paid.
        """
        now, today = self._clock.now(), self._clock.today()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "services.renew")
            service = uow.services.get(service_id)
            if service.account_id != account_id:
                raise NotFoundError("service", service_id)
            for other in uow.invoices.for_account(account_id):
                if (
                    other.is_open()
                    and other.kind is InvoiceKind.RENEWAL
                    and any(ln.service_id == service_id for ln in other.lines)
                ):
                    raise ConflictError(
                        f"service {service_id}",
                        f"invoice {other.number} for its renewal is unpaid; pay or delete it",
                    )
            self._ensure_credit_allows(
                uow, account_id, service.price.code, CreditAction.RENEW_THROUGH_CART, today
            )
            until = service.next_paid_until(periods)
            invoice = self._issue_invoice(
                uow,
                account_id,
                [
                    InvoiceLine(
                        f"{service.plan_name}: renewal until {until.isoformat()}",
                        service.price * periods,
                        service_id=service_id,
                        paid_until=until,
                    ),
                ],
                today=today,
                due_on=min(
                    today + timedelta(days=self.settings.invoice_due_days),
                    max(service.paid_until or today, today),
                ),
                kind=InvoiceKind.RENEWAL,
                payment_method_id=payment_method_id,
            )
            uow.commit()
        self._notify([self._issued(invoice, now)])
        return invoice

    # ------------------------------------------------------------------ paying

    def top_up(
        self,
        account_id: str,
        user_id: str,
        amount: moneyed.Money,
        method_id: str,
        *,
        payer_id: str | None = None,
        return_url: str | None = None,
    ) -> CheckoutStarted:
        """Start an advance payment to the balance by a method (SPEC L2, M5).

        With a ``payer_id``, the payment is made by that payer of the account; its first
        payment concludes its contract (SPEC L8).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for a method not offered in the amount's currency.
            AmountOutOfRangeError: for an amount outside the method's range.
            PayerNotReplaceableError: while another payer has unpaid expenses in an act.
        """
        now = self._clock.now()
        money = Money(amount.amount, amount.currency)
        with self._uow() as uow:
            self._may_pay(uow, account_id, user_id)
            self.ensure_payer_may_pay(uow, account_id, payer_id)
            method = self.settings.method(method_id, money.code)
            payment = Payment.top_up(
                self._next_id(uow, "payment"),
                account_id,
                method.pricing.quote(money),
                now,
                method_id=method.id,
                payer_id=payer_id,
            )
            return self._checkout(uow, payment, now, return_url)

    def pay_invoice(
        self,
        account_id: str,
        user_id: str,
        invoice_id: str,
        *,
        method_id: str | None = None,
        payer_id: str | None = None,
        return_url: str | None = None,
    ) -> PayResult:
        """Pay an invoice from the balance, or directly by a method (SPEC L2).

        Without a method, the balance pays when it covers the amount due; otherwise the
        result says how much is missing and which methods can take that amount. With a
        method, a payment for exactly this invoice is started; when the provider confirms
        it, the invoice is paid and the balance is left as it was.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ProfileIncompleteError: while required profile fields are missing.
            NotFoundError: for an invoice of another account or an unknown method.
            InvalidTransitionError: when the invoice is paid, cancelled or deleted.
        """
        now = self._clock.now()
        with self._uow() as uow:
            self._may_pay(uow, account_id, user_id)
            self.ensure_payer_may_pay(uow, account_id, payer_id)
            invoice = self._invoice(uow, account_id, invoice_id)
            require_open(invoice)
            due = invoice.amount_due
            if method_id is not None:
                method = self.settings.method(method_id, due.code)
                payment = Payment.for_invoice(
                    self._next_id(uow, "payment"),
                    account_id,
                    invoice.id,
                    method.pricing.quote(due),
                    now,
                    method_id=method.id,
                    payer_id=payer_id or invoice.payer_id,
                )
                return self._checkout(uow, payment, now, return_url)
            today = self._clock.today()
            self._ensure_credit_allows(
                uow, account_id, due.code, CreditAction.PAY_FROM_BALANCE, today
            )
            balance = uow.ledgers.get(account_id).balance(due.code)
            on_credit = self._credit_allows(
                uow, account_id, due.code, CreditAction.PAY_FROM_CREDIT, today
            )
            # A credit statement is paid by money coming in, never from the balance.
            spendable = (
                Money.zero(due.code)
                if invoice.kind is InvoiceKind.STATEMENT
                else self._spendable(uow, account_id, due.code, with_credit=on_credit)
            )
            if spendable < due:
                # Round up: a top-up of the rounded-down amount would still fall short.
                missing = Rounding(ROUND_CEILING).minor(due - spendable)
                return TopUpNeeded(
                    invoice=invoice,
                    balance=balance,
                    missing=missing,
                    methods=self.settings.methods_for(missing),
                )
            events = self._settle(uow, invoice, due, now, from_balance=True, on_credit=on_credit)
            uow.commit()
        self._notify(events)
        return InvoiceSettled(invoice=invoice, events=tuple(events))

    def handle_gateway_callback(
        self,
        headers: Mapping[str, str],
        body: bytes,
    ) -> CallbackHandled:
        """Apply a payment provider's callback (SPEC L6).

        A callback seen before, or one the payment has already moved past, changes
        nothing and says so. A credited payment is booked to the balance (with its
        cashback as a separate payment, SPEC M6); a direct invoice payment then pays its
        invoice; and, when the settings say so, the balance pays other open invoices.

        Raises:
            InvalidWebhookError: for a callback that fails verification.
            NotFoundError: for an unknown payment.
            InvalidTransitionError: for an event that contradicts the payment.
        """
        parsed = self._gateway.parse_webhook(headers, body)
        now = self._clock.now()
        with self._uow() as uow:
            payment = uow.payments.get(parsed.payment_id)
            result = payment.apply(parsed.event)
            events: list[BillingEvent] = []
            if result.changed:
                events = self._after_event(uow, payment, parsed.event, now)
            uow.commit()
        self._notify(events)
        return CallbackHandled(
            payment_id=payment.id,
            outcome=result.outcome,
            status=payment.status,
            events=tuple(events),
        )

    def delete_invoice(self, account_id: str, user_id: str, invoice_id: str) -> InvoiceDeleted:
        """Delete an unpaid invoice, e.g. to renew and pay by another method (SPEC L4).

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            InvalidTransitionError: unless the invoice is unpaid.
        """
        now = self._clock.now()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            invoice = self._invoice(uow, account_id, invoice_id)
            invoice.delete(now.date(), reason=f"deleted by {user_id}")
            uow.commit()
        return InvoiceDeleted(
            account_id=account_id,
            at=now,
            invoice_id=invoice.id,
            number=invoice.number,
        )

    def pay_link(self, account_id: str, invoice_id: str) -> PayLink:
        """A signed link to pay an open invoice without logging in (SPEC L5).

        Raises:
            ConflictError: when the settings offer no pay links.
            InvalidTransitionError: when the invoice has nothing left to pay.
        """
        signer = self._signer()
        now = self._clock.now()
        with self._uow() as uow:
            invoice = self._invoice(uow, account_id, invoice_id)
            require_open(invoice)
            return signer.issue(invoice.id, account_id, now)

    def open_pay_link(self, token: str) -> tuple[Invoice, PayLink]:
        """The invoice a pay link pays, and the link to use from now on.

        The link is the same while it is valid and a new one once it expired (Horoshop
        re-issues expired links).

        Raises:
            InvalidPayLinkError: for an altered or malformed link.
            InvalidTransitionError: when the invoice was paid, cancelled or deleted.
        """
        signer = self._signer()
        now = self._clock.now()
        link = signer.reissue_if_expired(token, now)
        claims = signer.verify(link.token, now)
        with self._uow() as uow:
            invoice = self._invoice(uow, claims.account_id, claims.invoice_id)
            require_open(invoice)
            return invoice, link

    def pay_by_link(
        self,
        token: str,
        method_id: str,
        *,
        return_url: str | None = None,
    ) -> CheckoutStarted:
        """Start paying the invoice of a pay link by a method, without a login.

        Raises:
            InvalidPayLinkError: for an altered, malformed or expired link.
            InvalidTransitionError: when the invoice has nothing left to pay.
        """
        now = self._clock.now()
        claims = self._signer().verify(token, now)
        with self._uow() as uow:
            invoice = self._invoice(uow, claims.account_id, claims.invoice_id)
            require_open(invoice)
            method = self.settings.method(method_id, invoice.currency)
            payment = Payment.for_invoice(
                self._next_id(uow, "payment"),
                invoice.account_id,
                invoice.id,
                method.pricing.quote(invoice.amount_due),
                now,
                method_id=method.id,
            )
            return self._checkout(uow, payment, now, return_url)

    def match_bank_statement(self, lines: Sequence[StatementLine]) -> StatementResult:
        """Credit bank transfers that name exactly one invoice and pay exactly its amount.

        Everything else is left for review with its reason (SPEC L7). Each line is
        processed once: a statement imported twice changes nothing the second time.
        """
        now = self._clock.now()
        with self._uow() as uow:
            candidates = [
                InvoiceCandidate(
                    invoice_id=i.id,
                    number=i.number,
                    amount_due=i.amount_due if i.is_open() else i.total.gross,
                    status=_candidate_status(i),
                )
                for i in _all_invoices(uow)
            ]
            processed = {k.removeprefix("bank:") for k in uow.keys.all("bank:")}
            match = match_statement(
                lines,
                candidates,
                self.settings.invoice_numbers,
                processed=processed,
            )
            events: list[BillingEvent] = []
            by_id = {line.line_id: line for line in lines}
            for result in match.matched:
                line = by_id[result.line_id]
                assert result.invoice_id is not None  # noqa: S101 - matched results name one
                invoice = uow.invoices.get(result.invoice_id)
                events += self._bank_transfer(uow, invoice, line, now)
            for result in match.review:
                uow.keys.record(f"bank:{result.line_id}")
                events.append(
                    BankTransferForReview(
                        account_id="",
                        at=now,
                        line_id=result.line_id,
                        reason=result.message,
                    ),
                )
            uow.commit()
        self._notify(events)
        return StatementResult(match=match, events=tuple(events))

    def request_deletion(self, account_id: str, user_id: str) -> DeletionRequested:
        """Stop every service of the account and every automatic charge (SPEC L9).

        Auto-renewal is switched off for every service, autopayment and card autopay are
        stopped, and running services are stopped by the administrator role with the
        reason "deletion requested"; open invoices stay for the record, so nothing owed
        is forgotten.

        Raises:
            AccessDeniedError: unless the user is the account's owner.
        """
        now = self._clock.now()
        with self._uow() as uow:
            users = uow.users.get(account_id)
            if users.owner_id != user_id:
                raise AccessDeniedError(user_id, "request deletion", "only the owner may")
            uow.accounts.get(account_id).set_auto_renew_default(False)
            profile = uow.profiles.get(account_id)
            for sub in profile.subscriptions:
                sub.switch_off()
            profile.autopay = None
            card = profile.card_autopay
            if card is not None and card.status is not CardAutopayStatus.STOPPED:
                card.stop()
            stopped: list[str] = []
            events: list[BillingEvent] = []
            for service in uow.services.for_account(account_id):
                if service.status is ServiceStatus.DELETED:
                    continue
                service.set_auto_renew(False)
                if service.status is ServiceStatus.ACTIVE:
                    service.block_by_admin(Actor.admin("billing"), now, "deletion requested")
                    stopped.append(service.id)
                    events.append(
                        ServiceStopped(
                            account_id=account_id,
                            at=now,
                            service_id=service.id,
                            reason="deletion requested",
                        ),
                    )
            uow.keys.record(f"deletion:{account_id}:{now.isoformat()}")
            uow.commit()
        event = DeletionRequested(account_id=account_id, at=now, service_ids=tuple(stopped))
        self._notify([*events, event])
        return event


# ----------------------------------------------------------------------------- helpers


def _new_service(
    *,
    service_id: str,
    account: Account,
    user_id: str,
    line: OrderLine,
    kind: ProductKind,
    now: datetime,
) -> Service:
    return Service.order(
        id=service_id,
        account_id=account.id,
        plan_id=line.plan_id,
        plan_name=line.plan_name,
        kind=kind,
        price=line.then,
        period=line.period,
        created_at=now,
        actor=Actor.client(user_id),
        auto_renew=account.settings.auto_renew_default,
    )


def _candidate_status(invoice: Invoice) -> CandidateStatus:
    if invoice.is_open():
        return CandidateStatus.OPEN
    if invoice.status is InvoiceStatus.PAID:
        return CandidateStatus.PAID
    return CandidateStatus.CANCELLED


def _all_invoices(uow: UnitOfWork) -> list[Invoice]:
    return [i for account_id in uow.accounts.ids() for i in uow.invoices.for_account(account_id)]
