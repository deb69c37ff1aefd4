"""The shared machinery of the use cases: ports, money flows, invoices and notifications.

How money flows: every payment is credited to the account's balance (a ledger entry)
and every invoice is paid by a charge from the balance (another entry, plus expenses for
its lines). A payment made directly for one invoice is credited and charged at once, so
the balance is left as it was, yet the ledger, the expenses and the invoice agree to the
cent at every moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

from cabinet_billing.app.changes import (
    apply_paid_change,
    prices_scheduled_change,
    reprice_subscription,
)
from cabinet_billing.app.outbox import DeliveryReport, Outbox
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.allocation import allocate
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.credit import CreditLine
from cabinet_billing.domain.customer import Account, ensure_can_pay
from cabinet_billing.domain.documents import (
    Contract,
    CreditNote,
    contract_for_first_payment,
    credit_note_for_refund,
    ensure_payer_replaceable,
)
from cabinet_billing.domain.events import (
    AutoTopUp,
    BankTransferMatched,
    BillingEvent,
    DeletionConfirmed,
    DeletionRequested,
    DeletionWithdrawn,
    InvoiceIssued,
    InvoicePaid,
    PaymentCredited,
    PaymentFailed,
    PaymentRefunded,
    ServiceExpired,
    ServicePaid,
    ServiceRenewed,
    ServiceStopped,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.fx import ExchangeRate, convert, source_for
from cabinet_billing.domain.invoice import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    IssuedLine,
)
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.outbox import OutboxMessage
from cabinet_billing.domain.payer import Payer
from cabinet_billing.domain.paylink import PayLinkSigner
from cabinet_billing.domain.payment import (
    BALANCE_METHOD,
    GatewayEvent,
    Payment,
    PaymentEventKind,
    PaymentPurpose,
    PaymentStatus,
    ProcessedEvent,
)
from cabinet_billing.domain.payment_method import PaymentMethodPricing, PaymentQuote
from cabinet_billing.domain.saved_method import MethodKind, SavedPaymentMethod
from cabinet_billing.domain.service import (
    Actor,
    ActorRole,
    ServiceAction,
    ServiceOperation,
    ServiceStatus,
)
from cabinet_billing.domain.support import TicketEvent, ticket_notification
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import (
    BillingError,
    ConflictError,
    ConversionTooSmallError,
    ExchangeRateNotFoundError,
    InsufficientFundsError,
    InvalidTransitionError,
    NotFoundError,
    PaymentMethodFixedError,
)
from cabinet_billing.ports.clock import Clock
from cabinet_billing.ports.documents import DocumentExchange, DocumentRenderer
from cabinet_billing.ports.fx import ExchangeRateProvider
from cabinet_billing.ports.gateway import PaymentGateway
from cabinet_billing.ports.notifier import Notifier
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.credit_limit import CreditAction, ensure_allowed, is_allowed
from cabinet_billing.rules.matching import StatementLine

__all__ = [
    "COUNTER_ORDER",
    "Context",
    "Ports",
    "notification_of",
    "notifies",
    "payer_address",
    "require_open",
]

#: The longest address a payment provider is asked to return the customer to.
MAX_URL_LENGTH = 2048

#: The order in which a unit of work takes the store's counters (``sequences.next``), by
#: name (``invoice-number:<code>`` ranks as ``invoice-number``). A counter row (SQLite) or
#: the free document number a transaction took (PostgreSQL, a ``cb_number_claims`` row) is
#: held by that transaction until its end (see docs/scaling.md), so every flow takes them in
#: this order: two units of work then never wait for each other in a circle. The billing
#: run keeps to it by booking a provider's charge (``payment``, then ``balance-payment``)
#: in a unit of work of its own, after the one that issued the invoice.
COUNTER_ORDER = (
    "service",
    "invoice",
    "invoice-number",
    "advance-number",
    "payment",
    "balance-payment",
    "contract",
    "act",
    "conversion",
    "ticket",
    "credit-note",
)


@attrs.frozen(kw_only=True)
class Ports:
    """The parts a host plugs into the library.

    Args:
        unit_of_work: makes a fresh unit of work; one is opened per use-case call.
        clock: the clock (read once per call).
        gateway: the payment provider.
        notifier: where notifications go (none are sent without one).
        rates: where exchange rates come from, for multi-currency balances.
        exchange: the e-document exchange acts are sent to, if any.
        renderers: the document renderers by format name (``"pdf"``, ``"html"`` ...),
            which ``cabinet.documents.download`` renders with.

    >>> from datetime import datetime, timezone
    >>> from cabinet_billing.adapters.clock import FixedClock
    >>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
    >>> from cabinet_billing.adapters.sandbox import SandboxGateway
    >>> store = MemoryStore()
    >>> ports = Ports(
    ...     unit_of_work=lambda: MemoryUnitOfWork(store),
    ...     clock=FixedClock(datetime(2024, 3, 1, tzinfo=timezone.utc)),
    ...     gateway=SandboxGateway(b"a sandbox secret of 32 bytes or more"),
    ... )
    >>> ports.notifier is None
    True
    """

    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    gateway: PaymentGateway
    notifier: Notifier | None = None
    rates: ExchangeRateProvider | None = None
    exchange: DocumentExchange | None = None
    renderers: Mapping[str, DocumentRenderer] = attrs.field(factory=dict)


class Context:
    """The ports, the settings and the money flows every use case shares.

    There is one context per :class:`~cabinet_billing.app.billing.Billing`; the topic
    namespaces of the cabinet and of the provider's side all work through it, so a rule
    is written once and every path that moves money goes through the same code.

    Args:
        ports: what the host plugged in.
        settings: the provider's settings.
    """

    def __init__(self, ports: Ports, settings: BillingSettings) -> None:
        self.ports = ports
        self.unit_of_work = ports.unit_of_work
        self.clock = ports.clock
        self.gateway = ports.gateway
        self.notifier = ports.notifier
        self.exchange = ports.exchange
        self.rates = ports.rates
        self.settings = settings
        self.outbox = Outbox(
            ports.unit_of_work,
            ports.notifier,
            settings.notification_delivery,
            ports.clock,
            address=payer_address,
            mandatory=settings.mandatory_notices,
        )

    def ensure_payer_may_pay(self, uow: UnitOfWork, account_id: str, payer_id: str | None) -> None:
        """Refuse paying as ``payer_id`` while another payer has unpaid expenses in an act.

        Raises:
            PayerNotReplaceableError: naming the payer, its acts and its expenses.
            NotFoundError: for a payer the account does not have.
        """
        if payer_id is None:
            return
        book = uow.payers.get(account_id)
        book.get(payer_id)
        # Only unpaid expenses can hold a payer back: a store may leave the paid ones unread.
        expenses = uow.expenses.get(account_id).unpaid()
        for other in book:
            if other.id != payer_id:
                ensure_payer_replaceable(expenses, other.id)

    def conclude_contract(self, uow: UnitOfWork, payment: Payment, on: date) -> Contract | None:
        """The contract a payer's first payment concludes, kept with the account's documents."""
        if payment.payer_id is None:
            return None
        documents = uow.documents.get(payment.account_id)
        seq = (
            None if documents.active_contract(payment.payer_id) else uow.sequences.next("contract")
        )
        if seq is None:
            return None
        contract = contract_for_first_payment(
            documents.contracts,
            payment.payer_id,
            payment.id,
            on,
            number=self.settings.contract_numbers.format(seq, year=on.year, month=on.month),
        )
        if contract is None:
            return None
        documents.add_contract(contract)
        payers = uow.payers.get(payment.account_id)
        payer = payers.get(payment.payer_id)
        payers.update(_with_contract(payer, contract.number))
        return contract

    def ensure_profile_may_pay(self, uow: UnitOfWork, account_id: str) -> Account:
        """The account, once its profile allows paying (SPEC A2).

        Raises:
            ProfileIncompleteError: naming the missing fields or the pending verification.
        """
        account = uow.accounts.get(account_id)
        ensure_can_pay(account, self.settings.payment_requirements)
        return account

    def invoice_of(self, uow: UnitOfWork, account_id: str, invoice_id: str) -> Invoice:
        """An invoice of the account.

        Raises:
            NotFoundError: for an unknown invoice or one of another account.
        """
        invoice = uow.invoices.get(invoice_id)
        if invoice.account_id != account_id:
            # Never confirm that another account's invoice exists.
            raise NotFoundError("invoice", invoice_id)
        return invoice

    def issue_invoice(
        self,
        uow: UnitOfWork,
        account_id: str,
        lines: Sequence[InvoiceLine],
        *,
        today: date,
        due_on: date | None,
        kind: InvoiceKind,
        payment_method_id: str | None = None,
        payer_id: str | None = None,
    ) -> Invoice:
        """Issue and keep an invoice with the next number and the account's tax rate.

        The invoice is made out to ``payer_id``, else to the payer its first service is
        billed to (SPEC A4), else to nobody. An advance-payment invoice
        (``InvoiceKind.TOP_UP``) is numbered in its own sequence
        (``settings.advance_invoice_numbers``).
        """
        if payer_id is None:
            services = [line.service_id for line in lines if line.service_id is not None]
            if services:
                payer_id = uow.payers.get(account_id).payer_of(services[0])
        invoice_id = self.next_id(uow, "invoice")
        if kind is InvoiceKind.TOP_UP:
            number = self.settings.advance_invoice_numbers.format(
                uow.sequences.next("advance-number"), year=today.year, month=today.month
            )
        else:
            number = self.invoice_number(uow, today, account_id)
        invoice = Invoice.issue(
            invoice_id,
            number,
            account_id,
            lines,
            issued_on=today,
            due_on=due_on,
            tax_rate=self.tax_rate(uow.accounts.get(account_id)),
            tax_mode=self.settings.tax.mode,
            kind=kind,
            payment_method_id=payment_method_id,
            payer_id=payer_id,
            rounding=self.settings.rounding,
        )
        uow.invoices.add(invoice)
        return invoice

    @staticmethod
    def method_may_pay(invoice: Invoice, method: str | SavedPaymentMethod | None) -> bool:
        """Whether ``method`` may pay the invoice (SPEC C4).

        ``method`` is a method id, a saved card or wallet (which pays as its kind, e.g.
        ``"card"``, or as its provider's method), or ``None`` for the balance. An invoice
        that chose no method (a renewal, a statement) may be paid any way; an order's
        invoice only by the method it was checked out with.
        """
        chosen = invoice.payment_method_id
        if chosen is None:
            return True
        if isinstance(method, SavedPaymentMethod):
            return chosen in {method.kind.value, method.provider}
        return chosen == (BALANCE_METHOD if method is None else method)

    def ensure_method_allowed(
        self, invoice: Invoice, method: str | SavedPaymentMethod | None
    ) -> None:
        """Refuse paying an invoice another way than its checkout chose (SPEC C4).

        ``method`` as for :meth:`method_may_pay`; ``None`` is paying from the balance.

        Raises:
            PaymentMethodFixedError: naming the invoice, its method and the one asked.
        """
        if self.method_may_pay(invoice, method):
            return
        if isinstance(method, SavedPaymentMethod):
            asked = method.provider or method.kind.value
        else:
            asked = BALANCE_METHOD if method is None else method
        raise PaymentMethodFixedError(invoice.id, str(invoice.payment_method_id), asked)

    def credit_line(self, uow: UnitOfWork, account_id: str, currency: str) -> CreditLine | None:
        """The account's credit line in a currency, when the settings give credit."""
        line = uow.profiles.get(account_id).credit
        if self.settings.credit is None or line is None or line.currency != currency:
            return None
        return line

    def credit_allows(
        self,
        uow: UnitOfWork,
        account_id: str,
        currency: str,
        action: CreditAction,
        today: date,
    ) -> bool:
        """Whether the account's credit state allows an action (always, without credit)."""
        line = self.credit_line(uow, account_id, currency)
        policy = self.settings.credit
        return line is None or policy is None or is_allowed(policy, line, today, action)

    def ensure_credit_allows(
        self,
        uow: UnitOfWork,
        account_id: str,
        currency: str,
        action: CreditAction,
        today: date,
    ) -> None:
        """Refuse an action a blocked credit line forbids (SPEC R1).

        Raises:
            CreditBlockedError: naming the action, the block date and the overdue amount.
        """
        line = self.credit_line(uow, account_id, currency)
        if line is not None and self.settings.credit is not None:
            ensure_allowed(self.settings.credit, line, today, action)

    def spendable(
        self,
        uow: UnitOfWork,
        account_id: str,
        currency: str,
        *,
        with_credit: bool,
        on: date | None = None,
    ) -> Money:
        """What the account can pay now: its free balance, plus available credit if asked.

        Given the day ``on`` and with ``pay_across_currencies``, the free balances in
        other currencies count for what they convert to at that day's rates (the caller
        then pays through :meth:`settle`, which converts them).
        """
        balance = uow.ledgers.get(account_id).balance(currency)
        free = max(balance, Money.zero(currency))
        if on is not None:
            free += self._worth_elsewhere(uow, account_id, currency, on)
        line = self.credit_line(uow, account_id, currency) if with_credit else None
        return free if line is None else free + line.available

    def pays_across(self, uow: UnitOfWork, account_id: str, currency: str) -> bool:
        """Whether free balances in other currencies count in what pays in ``currency``.

        Their worth follows the day's rates (a rate missing today may be in force
        tomorrow), so what the account can pay may change from one day to the next with
        no change to the account.
        """
        return bool(self._other_balances(uow, account_id, currency))

    def _other_balances(self, uow: UnitOfWork, account_id: str, currency: str) -> list[Money]:
        """The account's free balances in other currencies, in the settings' order."""
        if not self.settings.pay_across_currencies or self.rates is None:
            return []
        ledger = uow.ledgers.get(account_id)
        held = ledger.currencies
        order = [c for c in self.settings.currencies if c in held]
        order += sorted(c for c in held if c not in order)
        balances = [_floor_minor(ledger.balance(code)) for code in order if code != currency]
        return [b for b in balances if b.amount > 0]

    def _rate(self, base: str, quote: str, on: date | None) -> ExchangeRate | None:
        rates = self.rates
        if rates is None:
            return None
        try:
            return rates.rate(base, quote, on or self.clock.today())
        except ExchangeRateNotFoundError:
            return None

    def _worth_elsewhere(
        self, uow: UnitOfWork, account_id: str, currency: str, on: date | None
    ) -> Money:
        """What the free balances in other currencies convert to in ``currency``."""
        total = Money.zero(currency)
        for held in self._other_balances(uow, account_id, currency):
            rate = self._rate(held.code, currency, on)
            if rate is not None:
                total += _worth(held, currency, rate, self.settings.rounding)
        return total

    def convert_to_pay(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        needed: Money,
        now: datetime,
        on: date | None = None,
    ) -> None:
        """Convert from the account's other balances what the invoice's currency lacks.

        Each conversion takes the smallest amount that covers what is still missing (or
        all of a balance that does not), at the rate of ``on``, and is booked as a pair of
        ledger entries with its rounding difference (SPEC M4), so the invoice is then
        paid from the balance in its own currency.
        """
        account_id = invoice.account_id
        missing = _CEILING.minor(needed)
        rounding = self.settings.rounding
        for held in self._other_balances(uow, account_id, needed.code):
            if missing.amount <= 0:
                return
            rate = self._rate(held.code, needed.code, on)
            if rate is None:
                continue
            source = min(source_for(missing, rate, rounding), held)
            try:
                conversion = convert(source, needed.code, rate, rounding)
            except ConversionTooSmallError:
                continue
            seq = uow.sequences.next("conversion")
            uow.ledgers.get(account_id).convert(
                conversion,
                now,
                key=f"conversion:{account_id}:{seq}",
                memo=f"to pay invoice {invoice.number}",
            )
            book = uow.expenses.get(account_id)
            taken = min(source, book.available(source.code))
            if taken.amount > 0:
                book.withdraw(taken)
            book.fund(f"conversion-{seq}", conversion.target)
            missing -= conversion.target

    def card_autopay_stopped(self, profile: BillingProfile, method: SavedPaymentMethod) -> bool:
        """Whether the method is a card and card autopay was stopped (bank transfer only, R7)."""
        autopay = profile.card_autopay
        return (
            self.settings.card_autopay_on_invoice_day
            and autopay is not None
            and autopay.bank_transfer_only
            and method.kind is MethodKind.CARD
        )

    def pricing_of(self, method: SavedPaymentMethod, currency: str) -> PaymentMethodPricing | None:
        """The fee and range of an automatic charge of a saved method (SPEC M5).

        A saved method is charged as the provider's payment method it belongs to: the
        method of the settings whose id is the saved method's provider, else its kind
        (a saved card is a ``"card"`` payment), in the charge's currency. ``None`` when the
        settings offer no such method: the charge then has no fee and no limits.
        """
        for method_id in dict.fromkeys(m for m in (method.provider, method.kind.value) if m):
            for offered in self.settings.payment_methods:
                if offered.id == method_id and offered.currency == currency:
                    return offered.pricing
        return None

    def verification(self, currency: str) -> Money:
        """The small amount charged and refunded to check a card (SPEC R5)."""
        amount = self.settings.card_verification
        if amount is not None and amount.code == currency:
            return amount
        return self.settings.rounding.minor(Money(1, currency))

    def tax_rate(self, account: Account) -> TaxRate | None:
        """The tax rate of the account's country (or the settings' default)."""
        country = account.profile.country
        return self.settings.tax.rate_for(country) if country else self.settings.tax.default

    def signer(self) -> PayLinkSigner:
        """The pay-link signer.

        Raises:
            ConflictError: when the settings offer no pay links.
        """
        if self.settings.pay_links is None:
            raise ConflictError("pay links", "are not offered: set BillingSettings.pay_links")
        return self.settings.pay_links

    @staticmethod
    def next_id(uow: UnitOfWork, kind: str) -> str:
        """The next id of a kind of record, e.g. ``inv-7``."""
        return f"{kind[:3]}-{uow.sequences.next(kind)}"

    def invoice_number(self, uow: UnitOfWork, today: date, account_id: str) -> str:
        """The next invoice number of an account, from the settings' template."""
        code = (
            uow.accounts.get(account_id).settings.service_code
            or self.settings.service_code
            or account_id
        )
        sequence = (
            f"invoice-number:{code}"
            if self.settings.invoice_sequence_per_account
            else "invoice-number"
        )
        return self.settings.invoice_numbers.format(
            uow.sequences.next(sequence),
            prefix=self.settings.invoice_prefix,
            service_code=code,
            year=today.year,
            month=today.month,
            account=account_id,
        )

    @staticmethod
    def issued(invoice: Invoice, now: datetime) -> InvoiceIssued:
        """The event of an invoice issued at ``now``."""
        return InvoiceIssued(
            account_id=invoice.account_id,
            at=now,
            invoice_id=invoice.id,
            number=invoice.number,
            amount=invoice.total.gross,
        )

    def after_event(
        self,
        uow: UnitOfWork,
        payment: Payment,
        processed: ProcessedEvent,
        now: datetime,
    ) -> list[BillingEvent]:
        """Book what a payment's new status means: credit, failure or refund."""
        if payment.status is PaymentStatus.CREDITED:
            return self.book_credited(uow, payment, now)
        if payment.status in {PaymentStatus.FAILED, PaymentStatus.CANCELLED}:
            _cancel_advance_invoice(uow, payment, now)
            return [
                PaymentFailed(
                    account_id=payment.account_id,
                    at=now,
                    payment_id=payment.id,
                    reason=processed.event.reason or payment.status.value,
                ),
            ]
        if processed.refunded is not None:
            return self.book_refund(uow, payment, processed, now)
        return []

    def book_refund(
        self,
        uow: UnitOfWork,
        payment: Payment,
        processed: ProcessedEvent,
        now: datetime,
    ) -> list[BillingEvent]:
        """Book a refund the provider made (in full or in part) and what it leaves owed.

        The provider has returned the money already, so the refund is always booked: it
        takes its share of the amount credited from the balance, and the same share of
        the payment's cashback (SPEC M6). What was already spent is owed: the expenses it
        paid are unpaid again (other unspent money pays them first), the balance is below
        zero by that much, and the account's credit line in that currency, if any,
        records it as usage to be billed on the next statement (up to what it has
        available). The next money that comes in pays it off first. Invoices and services
        it paid stay paid: they were paid from the balance, and the balance is what owes.
        """
        refunded = processed.refunded
        if refunded is None:  # pragma: no cover - only refunds come here
            return []
        rounding = self.settings.rounding
        before = payment.refunded - refunded
        taken = payment.refunded_share(payment.amount, rounding) - payment.refunded_share(
            payment.amount, rounding, refunded=before
        )
        cashback = payment.quote.cashback
        taken_back = Money.zero(cashback.code)
        if cashback.amount > 0:
            taken_back = payment.refunded_share(cashback, rounding) - payment.refunded_share(
                cashback, rounding, refunded=before
            )
        number = payment.refunds
        owed = Money.zero(payment.amount.code)
        if taken.amount > 0:
            owed += self._take_back(
                uow,
                payment.account_id,
                payment.id,
                taken,
                now,
                key=f"refund:{payment.id}:{number}",
                memo=f"refund of payment {payment.id}",
            )
        if taken_back.amount > 0:
            back = uow.payments.get(_cashback_id(payment.id))
            back.apply(
                GatewayEvent(
                    f"{payment.id}:refund:{number}:cashback",
                    PaymentEventKind.REFUNDED,
                    now,
                    f"taken back with the refund of payment {payment.id}",
                    amount=taken_back,
                ),
            )
            owed += self._take_back(
                uow,
                payment.account_id,
                back.id,
                taken_back,
                now,
                key=f"refund:{back.id}:{back.refunds}",
                memo=f"cashback taken back with the refund of payment {payment.id}",
            )
        if taken.amount > 0:
            self.issue_refund_note(uow, payment, taken, now.date())
        return [
            PaymentRefunded(
                account_id=payment.account_id,
                at=now,
                payment_id=payment.id,
                amount=refunded,
                from_balance=taken,
                cashback=taken_back,
                owed=owed,
            ),
        ]

    def issue_refund_note(
        self, uow: UnitOfWork, payment: Payment, amount: Money, on: date
    ) -> CreditNote:
        """Keep the numbered credit note of a refund, taxed like the invoice it paid (SPEC X3).

        The invoice is the payment's own (a direct payment's, or a top-up's advance-payment
        invoice); a payment without one is taxed at the account's rate.
        """
        invoice = None if payment.invoice_id is None else uow.invoices.get(payment.invoice_id)
        seq = uow.sequences.next("credit-note")
        note = credit_note_for_refund(
            f"cre-{seq}",
            self.settings.credit_note_numbers.format(seq, year=on.year, month=on.month),
            account_id=payment.account_id,
            amount=amount,
            on=on,
            payment_id=payment.id,
            invoice=invoice,
            rate=None if invoice else self.tax_rate(uow.accounts.get(payment.account_id)),
            payer_id=payment.payer_id,
            rounding=self.settings.rounding,
        )
        uow.documents.get(payment.account_id).add_credit_note(note)
        return note

    def _take_back(
        self,
        uow: UnitOfWork,
        account_id: str,
        payment_id: str,
        amount: Money,
        now: datetime,
        *,
        key: str,
        memo: str,
    ) -> Money:
        """Take a refunded amount off the balance and the expenses; return what it leaves owed."""
        ledger = uow.ledgers.get(account_id)
        code = amount.code
        zero = Money.zero(code)
        below_before = max(-ledger.balance(code), zero)
        ledger.refund(amount, now, ref=payment_id, key=key, memo=memo)
        uow.expenses.get(account_id).refund(payment_id, amount)
        owed = max(-ledger.balance(code), zero) - below_before
        line = self.credit_line(uow, account_id, code)
        if owed.amount > 0 and line is not None:
            usage = min(_CEILING.minor(owed), line.available)
            if usage.amount > 0:
                line.record_usage(usage, now.date(), memo)
        return owed

    def book_credited(self, uow: UnitOfWork, payment: Payment, now: datetime) -> list[BillingEvent]:
        """Book a credited payment: to the balance, to its own invoice, then to credit debt.

        A payment made for one invoice pays that invoice first; only what is left of it
        (and the cashback) repays the account's credit line and then other open invoices.
        """
        account_id = payment.account_id
        ledger = uow.ledgers.get(account_id)
        book = uow.expenses.get(account_id)
        ledger.top_up(payment.amount, now, ref=payment.id, key=f"payment:{payment.id}")
        book.fund(payment.id, payment.amount)
        self.conclude_contract(uow, payment, now.date())
        events: list[BillingEvent] = [
            PaymentCredited(
                account_id=account_id,
                at=now,
                payment_id=payment.id,
                amount=payment.amount,
                cashback=payment.quote.cashback,
            ),
        ]
        free = payment.amount
        # An advance payment's invoice is marked paid and its money stays on the balance.
        advance = _pay_advance_invoice(uow, payment, now)
        if not advance and payment.purpose is PaymentPurpose.INVOICE and payment.invoice_id:
            invoice = uow.invoices.get(payment.invoice_id)
            # A statement is paid by repaying the credit line (below), never charged again.
            if invoice.is_open() and invoice.kind is not InvoiceKind.STATEMENT:
                amount = min(payment.amount, invoice.amount_due)
                events += self.settle(
                    uow, invoice, amount, now, from_balance=False, payer_id=payment.payer_id
                )
                free -= amount
        if free.amount > 0:
            self.repay_credit(uow, payment, free, now)
        cashback = payment.quote.cashback
        if cashback.amount > 0:
            back = Payment(
                id=_cashback_id(payment.id),
                account_id=account_id,
                purpose=PaymentPurpose.CASHBACK,
                quote=PaymentQuote(
                    base=cashback,
                    fee=Money.zero(cashback.code),
                    total=cashback,
                    cashback=Money.zero(cashback.code),
                ),
                created_at=now,
                method_id=payment.method_id,
            )
            back.apply(GatewayEvent(f"{payment.id}:cashback", PaymentEventKind.CREDITED, now))
            uow.payments.add(back)
            ledger.cashback(cashback, now, ref=back.id, key=f"payment:{back.id}")
            book.fund(back.id, cashback)
            self.repay_credit(uow, back, cashback, now)
        if self.settings.apply_balance_to_open_invoices:
            events += self.apply_balance(uow, account_id, now)
        return events

    def repay_credit(self, uow: UnitOfWork, payment: Payment, amount: Money, now: datetime) -> None:
        """Let a payment repay the credit line: statements oldest first, then unbilled usage.

        The money is already on the balance (which was below zero by the debt); this only
        tells the credit line and marks the statement invoices it paid.
        """
        self.repay_credit_with(uow, payment.account_id, payment.id, amount, now)

    def repay_credit_with(
        self, uow: UnitOfWork, account_id: str, ref: str, amount: Money, now: datetime
    ) -> None:
        """Let money ``ref`` put on the balance repay the credit line (see :meth:`repay_credit`)."""
        profile = uow.profiles.get(account_id)
        line = profile.credit
        if line is None or line.currency != amount.code or line.debt.amount == 0:
            return
        result = line.apply_payment(amount, now.date())
        for statement_id, part in result.applied:
            invoice_id = profile.statement_invoice(statement_id)
            if invoice_id is not None:
                invoice = uow.invoices.get(invoice_id)
                if invoice.is_open():
                    invoice.pay(ref, min(part, invoice.amount_due), now.date())
        if result.remainder.amount > 0 and line.unbilled.amount > 0:
            line.repay_unbilled(min(result.remainder, line.unbilled))

    def apply_balance(self, uow: UnitOfWork, account_id: str, now: datetime) -> list[BillingEvent]:
        """Pay open invoices from the balance, oldest first (never a top-up invoice)."""
        ledger = uow.ledgers.get(account_id)
        events: list[BillingEvent] = []
        for invoice in uow.invoices.for_account(account_id):
            if (
                not invoice.is_open()
                or invoice.kind in _NOT_FROM_BALANCE
                or not self.method_may_pay(invoice, None)
            ):
                # Checked out for a method: only that method pays it (SPEC C4).
                continue
            # Below zero, the balance is credit already used: it pays nothing.
            own = max(_floor_minor(ledger.balance(invoice.currency)), Money.zero(invoice.currency))
            spendable = own + self._worth_elsewhere(uow, account_id, invoice.currency, None)
            due = invoice.amount_due
            if spendable >= due:
                events += self.settle(uow, invoice, due, now, from_balance=True)
            elif self.settings.partial_from_balance and spendable.amount > 0:
                # In part: what the balance holds, the other currencies converted into the
                # invoice's (each conversion booked) as for a full payment.
                events += self.settle(uow, invoice, spendable, now, from_balance=True)
        return events

    def bank_transfer(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        line: StatementLine,
        now: datetime,
    ) -> list[BillingEvent]:
        """Credit a matched bank statement line to its invoice as a payment."""
        payment = Payment.for_invoice(
            f"bank-{line.line_id}",
            invoice.account_id,
            invoice.id,
            line.amount,
            now,
            method_id=self.settings.bank_transfer_method,
        )
        uow.payments.add(payment)
        uow.keys.record(f"bank:{line.line_id}")
        payment.apply(GatewayEvent(f"bank:{line.line_id}", PaymentEventKind.CREDITED, now))
        events: list[BillingEvent] = [
            BankTransferMatched(
                account_id=invoice.account_id,
                at=now,
                line_id=line.line_id,
                invoice_id=invoice.id,
                amount=line.amount,
            ),
        ]
        return events + self.book_credited(uow, payment, now)

    def settle(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        amount: Money,
        now: datetime,
        *,
        from_balance: bool,
        on_credit: bool = False,
        payer_id: str | None = None,
        on: date | None = None,
    ) -> list[BillingEvent]:
        """Charge ``amount`` from the balance to the invoice, with expenses for its lines.

        With ``pay_across_currencies``, what the balance in the invoice's currency does
        not cover is first converted from the other balances at the rates of ``on``
        (default: today), each conversion booked. With ``on_credit``, what is still not
        covered is taken from the account's credit line (SPEC R1): the balance goes below
        zero by that much and the line records it as usage, to be billed on the next
        statement.

        The expenses are billed to ``payer_id`` (the payer who pays), else to the
        invoice's payer (SPEC A4): acts are made out per payer from them.
        """
        account_id = invoice.account_id
        ledger = uow.ledgers.get(account_id)
        balance = ledger.balance(amount.code)
        # What pays: the balance above zero (below zero it is credit already used, still
        # owed), then what the other currencies convert to.
        free = max(balance, Money.zero(amount.code))
        # Taken first: the counters of one unit of work are taken in COUNTER_ORDER.
        applied = f"balance-{uow.sequences.next('balance-payment')}"
        if from_balance and free < amount:
            # What the balance lacks, the other currencies pay first (Introserv).
            before = balance
            self.convert_to_pay(uow, invoice, amount - free, now, on)
            balance = ledger.balance(amount.code)
            free += balance - before
        if from_balance and free < amount:
            shortfall = _CEILING.minor(amount - free)
            credit = uow.profiles.get(account_id).credit if on_credit else None
            if credit is None or credit.currency != amount.code or credit.available < shortfall:
                raise InsufficientFundsError(amount, balance, amount - balance)
            credit.record_usage(shortfall, now.date(), f"invoice {invoice.number}")
        ledger.charge(
            amount,
            now,
            ref=invoice.id,
            key=f"invoice:{invoice.id}:{applied}",
            memo=f"invoice {invoice.number}",
        )
        book = uow.expenses.get(account_id)
        for i, (line, part) in enumerate(_line_parts(invoice, amount)):
            if part.amount <= 0:
                continue
            tax = self.settings.rounding.accrual(_share(line.amounts.tax, part, line.amounts.gross))
            book.add(
                Expense(
                    f"{invoice.id}:{applied}:{i + 1}",
                    account_id,
                    _expense_name(line),
                    now.date(),
                    part,
                    min(tax, part),
                    service_id=line.service_id,
                    payer_id=payer_id or invoice.payer_id,
                ),
            )
        invoice.pay(applied, amount, now.date())
        if invoice.status is not InvoiceStatus.PAID:
            return []
        events: list[BillingEvent] = [
            InvoicePaid(
                account_id=account_id,
                at=now,
                invoice_id=invoice.id,
                number=invoice.number,
                amount=invoice.total.gross,
                from_balance=from_balance,
            ),
        ]
        return events + self.services_paid(uow, invoice, now)

    def services_paid(self, uow: UnitOfWork, invoice: Invoice, now: datetime) -> list[BillingEvent]:
        """Mark the services an invoice paid as paid or renewed until its lines' dates."""
        events: list[BillingEvent] = []
        for line in invoice.lines:
            if line.service_id is None or line.paid_until is None:
                continue
            service = uow.services.get(line.service_id)
            if service.status is ServiceStatus.DELETED:
                continue
            # A plan change waiting for this invoice is made now (SPEC X1).
            apply_paid_change(self, uow, service, invoice, now)
            if service.awaiting_payment:
                service.mark_paid(line.paid_until, Actor.system(), now, f"invoice {invoice.number}")
                if self.settings.open_on_payment:
                    service.begin_processing(ServiceOperation.OPENING, Actor.system(), now)
            elif line.paid_until > (service.paid_until or line.paid_until):
                # The renewal may buy the change scheduled for the period end (SPEC X1).
                # (an active service changes first, so the new cycle starts at the old
                # end; an expired one once the renewal has brought it back).
                changes = prices_scheduled_change(service, invoice, line)
                if changes:
                    service.apply_scheduled(Actor.system(), now, f"invoice {invoice.number}")
                if service.can(ServiceAction.RENEW, ActorRole.SYSTEM):
                    service.renew(line.paid_until, Actor.system(), now, f"invoice {invoice.number}")
                else:
                    # Busy (e.g. still opening): the period is paid all the same.
                    service.extend_paid_until(line.paid_until)
                if changes:
                    service.apply_scheduled(Actor.system(), now, f"invoice {invoice.number}")
                    reprice_subscription(uow, service)
            events.append(
                ServicePaid(
                    account_id=invoice.account_id,
                    at=now,
                    service_id=service.id,
                    paid_until=line.paid_until,
                ),
            )
        return events

    def commit(
        self,
        uow: UnitOfWork,
        events: Iterable[BillingEvent | TicketEvent | Notification] = (),
    ) -> list[OutboxMessage]:
        """Queue the notifications of ``events`` in ``uow``, then commit it; what to send.

        The notices are part of the change: a unit of work that rolls back leaves none,
        and one that commits leaves them pending in the outbox even if the process dies
        before they are sent. Hand what this returns to :meth:`send` once the unit of
        work is closed.
        """
        queued = self.outbox.queue(uow, [_notice(e) for e in events])
        uow.commit()
        return queued

    def send(self, queued: Sequence[OutboxMessage]) -> DeliveryReport:
        """Hand committed notices to the notifier, outside any unit of work (at least once).

        A notifier that fails leaves them in the outbox for a later delivery, and so does
        a store that cannot record what became of them (they are then sent again); the
        call that made the change is not failed by it.
        """
        try:
            return self.outbox.send(queued)
        except BillingError:
            return DeliveryReport(retrying=len(queued))

    def require_rates(self) -> ExchangeRateProvider:
        """The exchange-rate provider.

        Raises:
            ConflictError: when none is plugged in.
        """
        if self.rates is None:
            raise ConflictError("exchange rates", "no ExchangeRateProvider is plugged in")
        return self.rates


# ----------------------------------------------------------------------------- helpers


_FLOOR = Rounding(ROUND_FLOOR)
_CEILING = Rounding(ROUND_CEILING)

#: Invoices the balance never pays: a top-up invoice is paid by the top-up itself, and a
#: credit statement by repaying the credit line.
_NOT_FROM_BALANCE = frozenset({InvoiceKind.TOP_UP, InvoiceKind.STATEMENT})


def _notice(event: BillingEvent | TicketEvent | Notification) -> Notification | None:
    """The notification an event (a billing or a ticket event) or a notice stands for."""
    if isinstance(event, Notification):
        return event
    if isinstance(event, TicketEvent):
        return ticket_notification(event)
    return notification_of(event)


def _worth(held: Money, currency: str, rate: ExchangeRate, rounding: Rounding) -> Money:
    """What ``held`` converts to, or nothing when it is too small to convert."""
    try:
        return convert(held, currency, rate, rounding).target
    except ConversionTooSmallError:
        return Money.zero(currency)


def _cashback_id(payment_id: str) -> str:
    """The id of the cashback payment that came with a payment (SPEC M6)."""
    return f"{payment_id}-cashback"


def _pay_advance_invoice(uow: UnitOfWork, payment: Payment, now: datetime) -> bool:
    """Mark the advance-payment invoice a credited payment pays; whether it pays one (SPEC L2)."""
    if payment.invoice_id is None:
        return False
    invoice = uow.invoices.get(payment.invoice_id)
    if invoice.kind is not InvoiceKind.TOP_UP:
        return False
    if invoice.is_open():
        invoice.pay(payment.id, min(payment.amount, invoice.amount_due), now.date())
    return True


def _cancel_advance_invoice(uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """Cancel the unpaid advance-payment invoice of a top-up that failed or was cancelled."""
    if payment.purpose is not PaymentPurpose.TOP_UP or payment.invoice_id is None:
        return
    invoice = uow.invoices.get(payment.invoice_id)
    if invoice.kind is InvoiceKind.TOP_UP and invoice.status is InvoiceStatus.UNPAID:
        invoice.cancel(now.date(), f"payment {payment.id} {payment.status.value}")


def _expense_name(line: IssuedLine) -> str:
    # An expense names the service (acts list it); a line whose text is a message keeps
    # the plan among its values, its description is only the message's id and values.
    plan = None if line.text is None else line.text.as_dict().get("plan")
    return plan if isinstance(plan, str) else line.description


def _floor_minor(money: Money) -> Money:
    """What can be spent of a balance kept at accrual precision: whole minor units."""
    return _FLOOR.minor(money)


def _share(tax: Money, part: Money, gross: Money) -> Money:
    """The tax contained in ``part`` of a line whose gross contains ``tax``."""
    if gross.amount <= 0:
        return Money.zero(part.code)
    return tax * (part / gross)


def _line_parts(invoice: Invoice, amount: Money) -> list[tuple[IssuedLine, Money]]:
    lines = list(invoice.lines)
    if amount == invoice.total.gross and not invoice.payments:
        return [(ln, ln.amounts.gross) for ln in lines]
    weights = [ln.amounts.gross.amount.max(Decimal(0)) for ln in lines]
    if not any(weights):
        return [(lines[0], amount)]
    return list(zip(lines, allocate(amount, weights), strict=True))


def require_open(invoice: Invoice) -> None:
    """Refuse an invoice with nothing left to pay, naming its state."""
    if not invoice.is_open():
        raise InvalidTransitionError(
            f"invoice {invoice.number} ({invoice.status.value})",
            "pay",
            [a.value for a in invoice.actions()],
        )


_NOTIFY: dict[type[BillingEvent], tuple[NotificationCategory, str]] = {
    InvoiceIssued: (NotificationCategory.FINANCE, "invoice.issued"),
    InvoicePaid: (NotificationCategory.FINANCE, "invoice.paid"),
    PaymentCredited: (NotificationCategory.FINANCE, "payment.credited"),
    PaymentFailed: (NotificationCategory.FINANCE, "payment.failed"),
    PaymentRefunded: (NotificationCategory.FINANCE, "payment.refunded"),
    ServicePaid: (NotificationCategory.SERVICES, "service.paid"),
    ServiceStopped: (NotificationCategory.SERVICES, "service.stopped"),
    DeletionRequested: (NotificationCategory.SERVICES, "account.deletion_requested"),
    DeletionWithdrawn: (NotificationCategory.SERVICES, "account.deletion_withdrawn"),
    DeletionConfirmed: (NotificationCategory.SERVICES, "account.deletion_confirmed"),
    ServiceExpired: (NotificationCategory.SERVICES, "service.expired"),
    ServiceRenewed: (NotificationCategory.SERVICES, "service.renewed"),
    AutoTopUp: (NotificationCategory.FINANCE, "autopay.charged"),
}


def notifies(event: BillingEvent) -> bool:
    """Whether the customer gets a notification for an event (:func:`notification_of`)."""
    return type(event) in _NOTIFY and bool(event.account_id)


def notification_of(event: BillingEvent) -> Notification | None:
    """The notification a customer gets for an event, if any."""
    found = _NOTIFY.get(type(event))
    if found is None or not event.account_id:
        return None
    category, kind = found
    dedup_name, names = _notified_fields(type(event))
    # One run books many events at one instant: the ids keep their notifications apart.
    dedup = "" if dedup_name is None else str(getattr(event, dedup_name))
    params = {name: str(getattr(event, name)) for name in names}
    return Notification(event.account_id, category, kind, event.at, params, dedup)


_NOTIFIED_FIELDS: dict[type, tuple[str | None, tuple[str, ...]]] = {}


def _notified_fields(kind: type) -> tuple[str | None, tuple[str, ...]]:
    """The field of an event kind that tells its notifications apart, and their params."""
    found = _NOTIFIED_FIELDS.get(kind)
    if found is None:
        names = tuple(f.name for f in attrs.fields(kind))
        dedup = next(
            (n for n in ("invoice_id", "service_id", "payment_id", "statement_id") if n in names),
            None,
        )
        found = _NOTIFIED_FIELDS[kind] = (
            dedup,
            tuple(n for n in names if n not in {"account_id", "at"}),
        )
    return found


def payer_address(uow: UnitOfWork, notification: Notification) -> Notification:
    """A financial notice about a payer's invoice or payment, addressed to the payer (A4).

    Astra Cloud: the payer receives the financial notices of its operations. A notice
    about an invoice made out to a payer, or a payment a payer made, gets the params
    ``payer_id`` and, when the payer has one, ``payer_email``: email deliveries go there
    (:func:`cabinet_billing.rules.notify.deliveries`). Other notices are left as they are.
    """
    if notification.category is not NotificationCategory.FINANCE:
        return notification
    params = notification.params
    try:
        payer_id = None
        if "invoice_id" in params:
            payer_id = uow.invoices.get(params["invoice_id"]).payer_id
        elif "payment_id" in params:
            payment = uow.payments.get(params["payment_id"].removesuffix("-cashback"))
            payer_id = payment.payer_id
            if payer_id is None and payment.invoice_id is not None:
                payer_id = uow.invoices.get(payment.invoice_id).payer_id
        if payer_id is None:
            return notification
        payer = uow.payers.get(notification.account_id).get(payer_id)
    except NotFoundError:
        return notification  # a payer merged or deleted since: the account's mailbox
    extra = {"payer_id": payer.id} | ({"payer_email": payer.email} if payer.email else {})
    return attrs.evolve(notification, params={**params, **extra})


def _with_contract(payer: Payer, number: str) -> Payer:
    return attrs.evolve(payer, contracts=(*payer.contracts, number))
