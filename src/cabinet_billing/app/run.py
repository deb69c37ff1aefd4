"""The billing run: what happens to every account each day (SPEC R1-R9 over time).

:meth:`BillingRun.day` (``billing.run.day(...)``) walks the accounts in batches, each in its own
unit of work, and for each account on the day:

1. credit: issues the statement on the statement day and sends the dunning notices
   (R1, R3);
2. card autopay: charges the bound card for invoices issued today (R7);
3. renewals: renews every service whose renewal day has come, from the balance (and the
   credit line, unless it is blocked) or from its saved method; a failed charge marks the
   method not working, notifies the customer and is retried by the renewal policy (R4);
4. expiry: a service whose paid period ended without renewal expires;
5. autopayment: tops the balance up from a saved method when it is below the threshold,
   never past the monthly cap (R6);
6. the low-balance notice when the balance fell below the customer's threshold (R8).

An account done for the day is recorded under a key, so running the day again changes
nothing, and a run that stopped half-way (a crash, a deploy) finishes where it stopped
when started again. One account failing does not stop the others: its unit of work rolls
back and the summary names it with the reason. A dry run does the same work in units of
work it never commits and charges no saved method, and returns what would have happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from cabinet_billing.app.context import Context, notification_of
from cabinet_billing.domain.billing_profile import BillingProfile
from cabinet_billing.domain.events import (
    AutoTopUp,
    BillingEvent,
    InvoiceIssued,
    PaymentCredited,
    RenewalFailed,
    ServiceExpired,
    ServiceRenewed,
    StatementIssued,
)
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, InvoiceLine
from cabinet_billing.domain.money import Money, currency_places
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.domain.payment import GatewayEvent, Payment, PaymentEventKind
from cabinet_billing.domain.periods import PeriodUnit, period_end
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.service import Actor, BillingMode, Service, ServiceStatus
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.domain.tax import TaxMode
from cabinet_billing.errors import BillingError, GatewayError
from cabinet_billing.ports.repositories import UnitOfWork
from cabinet_billing.rules.autopay import autopay_amount, low_balance_notice
from cabinet_billing.rules.credit_limit import (
    CreditAction,
    evaluate_credit,
    issue_statement,
    statement_month,
)
from cabinet_billing.rules.dunning import due_notifications
from cabinet_billing.rules.renewal import (
    RenewalAction,
    RenewalDecision,
    SkipReason,
    decide_renewal,
    renewal_date,
    renewal_failure_notice,
)

__all__ = ["AccountFailure", "BillingRun", "CycleSummary", "Preview"]

#: Statuses in which a paid service expires when its period ends unrenewed.
_LIVE = frozenset(
    {ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED_BY_CLIENT, ServiceStatus.STOPPED_BY_CLIENT},
)
#: Statuses in which a paid service renews (an expired one comes back to life).
_RENEWABLE = _LIVE | {ServiceStatus.PROCESSING, ServiceStatus.EXPIRED}


@attrs.frozen
class AccountFailure:
    """An account the run could not finish, and why (its changes were rolled back)."""

    account_id: str
    reason: str


@attrs.frozen
class Preview:
    """Something a dry run found would happen: an invoice, a charge, an expiry."""

    account_id: str
    what: str
    amount: Money | None = None


@attrs.frozen(kw_only=True)
class CycleSummary:
    """What one billing run did.

    Attributes:
        day: the billing day.
        dry_run: whether nothing was committed.
        accounts: accounts processed by this run.
        skipped: accounts already done for the day by an earlier run.
        invoices: invoices issued (statements and renewals).
        renewals: services renewed.
        charges: saved-method charges that succeeded (renewals, autopay, card autopay).
        failed_charges: saved-method charges that failed.
        accruals: daily charges of daily-billed services.
        expired: services expired.
        notifications: notifications sent.
        revenue: payments credited, per currency.
        failures: accounts that failed, with the reason.
        previews: what a dry run would have done.
        events: every event, in order.
    """

    day: date
    dry_run: bool
    accounts: int
    skipped: int
    invoices: int
    renewals: int
    charges: int
    failed_charges: int
    accruals: int
    expired: int
    notifications: int
    revenue: dict[str, Money]
    failures: tuple[AccountFailure, ...]
    previews: tuple[Preview, ...]
    events: tuple[BillingEvent, ...]


@attrs.define
class _Tally:
    events: list[BillingEvent] = attrs.field(factory=list)
    notices: list[Notification] = attrs.field(factory=list)
    previews: list[Preview] = attrs.field(factory=list)
    charges: int = 0
    failed_charges: int = 0
    accruals: int = 0


@attrs.define
class _Run:
    """One account's run on one day: what every step needs."""

    uow: UnitOfWork
    profile: BillingProfile
    today: date
    now: datetime
    tally: _Tally
    dry_run: bool


class BillingRun:
    """The daily billing run."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def day(
        self,
        day: date | None = None,
        *,
        dry_run: bool = False,
        batch_size: int = 500,
        accounts: Iterable[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> CycleSummary:
        """Run the billing of one day for every account (or the given ones).

        Args:
            day: the billing day (default: the clock's today).
            dry_run: do the work without committing it or charging anything.
            batch_size: how many account ids are read at a time.
            accounts: only these accounts (default: all, in id order).
            progress: called with (accounts done, accounts in total) after each account.
        """
        today = day if day is not None else self._ctx.clock.today()
        now = _instant(self._ctx.clock.now(), today)
        if accounts is None:
            with self._ctx.unit_of_work() as uow:
                ids: Sequence[str] = uow.accounts.ids()
        else:
            ids = list(accounts)
        tally = _Tally()
        processed = skipped = 0
        failures: list[AccountFailure] = []
        for start in range(0, len(ids), max(batch_size, 1)):
            for account_id in ids[start : start + batch_size]:
                try:
                    done = self._run_account(account_id, today, now, tally, dry_run=dry_run)
                except BillingError as exc:
                    failures.append(AccountFailure(account_id, str(exc)))
                    done = True
                if done:
                    processed += 1
                else:
                    skipped += 1
                if progress is not None:
                    progress(processed + skipped, len(ids))
        return _summary(today, tally, processed, skipped, failures, dry_run=dry_run)

    # ------------------------------------------------------------------ one account

    def _run_account(
        self,
        account_id: str,
        today: date,
        now: datetime,
        tally: _Tally,
        *,
        dry_run: bool,
    ) -> bool:
        with self._ctx.unit_of_work() as uow:
            key = f"cycle:{account_id}:{today.isoformat()}"
            if uow.keys.seen(key):
                return False
            mine = _Tally()
            account = uow.accounts.get(account_id)
            profile = uow.profiles.get(account_id)
            run = _Run(uow, profile, today, now, mine, dry_run)
            currency = account.profile.currency
            ledger = uow.ledgers.get(account_id)
            before = profile.last_balance or ledger.balance(currency)
            balance_blocked = self._credit_step(run)
            self._card_autopay_step(run)
            for service in uow.services.for_account(account_id):
                self._renewal_step(run, service, balance_blocked=balance_blocked)
            self._autopay_step(run)
            after = ledger.balance(currency)
            notice = low_balance_notice(
                account_id,
                before,
                after,
                account.settings.low_balance_threshold,
                now,
            )
            if notice is not None:
                mine.notices.append(notice)
            profile.last_balance = after
            uow.keys.record(key)
            if not dry_run:
                uow.commit()
        if not dry_run:
            # Sent once the account's day is committed, so a restarted run loses none.
            self._ctx.notify(mine.events)
            if self._ctx.notifier is not None:
                for notification in mine.notices:
                    self._ctx.notifier.send(notification)
        tally.events += mine.events
        tally.notices += mine.notices
        tally.previews += mine.previews
        tally.charges += mine.charges
        tally.failed_charges += mine.failed_charges
        tally.accruals += mine.accruals
        return True

    def _credit_step(self, run: _Run) -> bool:
        """Statement and dunning notices; returns whether renewals from balance are blocked."""
        policy = self._ctx.settings.credit
        profile, uow, today, now = run.profile, run.uow, run.today, run.now
        line = profile.credit
        if policy is None or line is None:
            return False
        carry = profile.credit_carry
        if carry is not None and carry.amount > 0 and statement_month(policy, today) is not None:
            # The fractions of daily charges left over go on the statement, rounded.
            rounded = self._ctx.settings.rounding.minor(carry)
            profile.credit_carry = None
            if rounded.amount > 0 and line.available >= rounded:
                line.record_usage(rounded, today - timedelta(days=1), "daily charges")
        statement = issue_statement(policy, line, today)
        if statement is not None:
            invoice = self._ctx.issue_invoice(
                uow,
                profile.account_id,
                [InvoiceLine(f"Credit statement {statement.month:%Y-%m}", statement.amount)],
                today=today,
                due_on=statement.due_on,
                kind=InvoiceKind.STATEMENT,
            )
            profile.link_statement(statement.id, invoice.id)
            run.tally.events.append(
                StatementIssued(
                    account_id=profile.account_id,
                    at=now,
                    statement_id=statement.id,
                    invoice_id=invoice.id,
                    amount=statement.amount,
                    due_on=statement.due_on,
                ),
            )
        for notice in due_notifications(policy, line, today, profile.keys):
            profile.record(notice.key)
            run.tally.notices.append(notice.to_notification(now.tzinfo or UTC))
        state = evaluate_credit(policy, line, today)
        return not state.allows(CreditAction.AUTO_RENEW_FROM_BALANCE)

    def _card_autopay_step(self, run: _Run) -> None:
        autopay = run.profile.card_autopay
        if not self._ctx.settings.card_autopay_on_invoice_day or autopay is None:
            return
        method_id = autopay.method_id
        if method_id is None:
            return
        for invoice in run.uow.invoices.for_account(run.profile.account_id):
            if invoice.is_open() and autopay.charge_on_issue(invoice.issued_on, run.today):
                self._charge_method(
                    run,
                    method_id,
                    invoice.amount_due,
                    f"card-autopay:{invoice.id}",
                    invoice=invoice,
                    what=f"charge the card for invoice {invoice.number}",
                )

    def _renewal_step(self, run: _Run, service: Service, *, balance_blocked: bool) -> None:
        if service.billing_mode is BillingMode.DAILY:
            self._daily_step(run, service, balance_blocked=balance_blocked)
            return
        if service.status not in _RENEWABLE or service.paid_until is None:
            return
        sub = self._subscription(run, service)
        if sub is not None and sub.enabled:
            if (
                service.status is ServiceStatus.EXPIRED
                and self._ctx.settings.renewal.restart_after_expiry
                and sub.paid_until < run.today
            ):
                sub.restart(run.today)
            self._renew(run, service, sub, balance_blocked=balance_blocked)
        if service.status in _LIVE and service.paid_until <= run.today:
            if run.dry_run:
                run.tally.previews.append(
                    Preview(service.account_id, f"expire service {service.id}"),
                )
            service.expire(Actor.system(), run.now, "the paid period ended")
            run.tally.events.append(
                ServiceExpired(
                    account_id=service.account_id,
                    at=run.now,
                    service_id=service.id,
                    paid_until=service.paid_until,
                ),
            )

    @staticmethod
    def _subscription(run: _Run, service: Service) -> Subscription | None:
        """The service's auto-renewal, made or brought in line with the service."""
        assert service.paid_until is not None  # noqa: S101 - checked by the caller
        sub = run.profile.subscription(service.id)
        if sub is None:
            if not service.auto_renew:
                return None
            sub = Subscription.for_service(service)
            run.profile.subscribe(sub)
        # Paid further by hand or by a webhook: never charge that period again.
        sub.follow(service.paid_until)
        if sub.enabled != service.auto_renew:
            if service.auto_renew:
                sub.switch_on()
            else:
                sub.switch_off()
        return sub

    def _daily_step(self, run: _Run, service: Service, *, balance_blocked: bool) -> None:
        """Charge a daily-billed service for today, or stop it when nothing can pay.

        The day's charge is the period price spread over the days of the period (a
        month's price over the days of the current month), kept to 4 decimal places
        (SPEC M1, L3: Astra Cloud's 22.4137). It is an expense paid from the balance and,
        beyond it, from the credit line unless the line is blocked.
        """
        if not service.paid or service.status not in {ServiceStatus.ACTIVE, ServiceStatus.EXPIRED}:
            return
        today = run.today
        key = f"daily:{service.id}:{today.isoformat()}"
        if run.profile.done(key) or (service.paid_until is not None and service.paid_until > today):
            return
        gross, tax = self._daily_charge(run, service)
        if (
            self._ctx.spendable(
                run.uow, run.profile.account_id, gross.code, with_credit=not balance_blocked
            )
            < gross
        ):
            if service.status is ServiceStatus.ACTIVE:
                service.expire(Actor.system(), run.now, "the balance does not cover the day")
                run.tally.events.append(
                    ServiceExpired(
                        account_id=service.account_id,
                        at=run.now,
                        service_id=service.id,
                        paid_until=service.paid_until or today,
                    ),
                )
            return
        ledger = run.uow.ledgers.get(service.account_id)
        shortfall = gross - max(ledger.balance(gross.code), Money.zero(gross.code))
        ledger.charge(gross, run.now, ref=service.id, key=key, memo=f"{service.plan_name}, {today}")
        run.uow.expenses.get(service.account_id).add(
            Expense(
                key, service.account_id, service.plan_name, today, gross, tax, service_id=service.id
            ),
        )
        line = run.profile.credit
        if shortfall.amount > 0 and line is not None:
            whole = run.profile.carry_credit(min(shortfall, gross), currency_places(gross.code))
            if whole.amount > 0:
                line.record_usage(whole, today, f"{service.plan_name}, daily charges")
        tomorrow = today + timedelta(days=1)
        if service.status is ServiceStatus.EXPIRED:
            service.renew(tomorrow, Actor.system(), run.now, "the balance covers the day again")
        else:
            service.extend_paid_until(tomorrow)
        run.profile.record(key)
        run.tally.accruals += 1

    def _daily_charge(self, run: _Run, service: Service) -> tuple[Money, Money]:
        """Today's charge of a daily-billed service (gross) and the tax it contains."""
        period = service.period
        if period.unit is PeriodUnit.DAY:
            days = period.count
        else:
            start = run.today.replace(day=1)
            days = (period_end(start, period) - start).days
        rounding = self._ctx.settings.rounding
        net_or_gross = rounding.accrual(service.price / days)
        rate = self._ctx.tax_rate(run.uow.accounts.get(service.account_id))
        if rate is None:
            return net_or_gross, Money.zero(net_or_gross.code)
        if self._ctx.settings.tax.mode is TaxMode.INCLUSIVE:
            return net_or_gross, min(rounding.accrual(rate.included_in(net_or_gross)), net_or_gross)
        tax = rounding.accrual(rate.added_to(net_or_gross))
        return net_or_gross + tax, tax

    def _renew(
        self,
        run: _Run,
        service: Service,
        sub: Subscription,
        *,
        balance_blocked: bool,
    ) -> None:
        profile, uow, today, now = run.profile, run.uow, run.today, run.now
        if renewal_date(sub.paid_until, sub.kind, self._ctx.settings.renewal) > today:
            return  # not due: the common case, decided without period arithmetic
        method = None
        if sub.source is RenewalSource.SAVED_METHOD and sub.method_id is not None:
            method = next((m for m in profile.methods if m.id == sub.method_id), None)

        def decide() -> RenewalDecision:
            return decide_renewal(
                sub,
                today,
                self._ctx.settings.renewal,
                available=self._ctx.spendable(
                    run.uow,
                    run.profile.account_id,
                    sub.price.code,
                    with_credit=not balance_blocked,
                ),
                method=method,
                balance_renewal_blocked=balance_blocked,
                done=profile.keys,
            )

        decision = decide()
        if (
            decision.reason is SkipReason.METHOD_NOT_WORKING
            and method is not None
            and (decision.retry_on is None or decision.retry_on <= today)
            and self._probe(run, method)
        ):
            # The method works again: the retry goes ahead today (SPEC R4).
            decision = decide()
        if decision.action is RenewalAction.SKIP or decision.amount is None:
            return
        invoice = _open_renewal(
            uow.invoices.for_account(service.account_id), service.id, decision.period_end
        )
        if invoice is None:
            invoice = self._renewal_invoice(
                run, service, decision.amount, decision.period_start, decision.period_end
            )
            run.tally.events.append(self._ctx.issued(invoice, now))
        if decision.action is RenewalAction.CHARGE_BALANCE:
            if run.dry_run:
                run.tally.previews.append(
                    Preview(
                        service.account_id,
                        f"renew {service.id} from the balance",
                        decision.amount,
                    ),
                )
            run.tally.events += self._ctx.settle(
                uow,
                invoice,
                invoice.amount_due,
                now,
                from_balance=True,
                on_credit=not balance_blocked,
            )
        elif not self._charge_method(
            run,
            decision.method_id or "",
            invoice.amount_due,
            # One key per attempt: a retry must reach the provider, not replay the decline.
            f"{decision.key}:{today.isoformat()}",
            invoice=invoice,
            what=f"renew {service.id} from method {decision.method_id}",
        ):
            self._renewal_failed(run, service, sub, decision.amount)
            return
        profile.record(decision.key)
        sub.renewed(today)
        run.tally.events.append(
            ServiceRenewed(
                account_id=service.account_id,
                at=now,
                service_id=service.id,
                paid_until=decision.period_end,
                amount=decision.amount,
                source=sub.source.value,
            ),
        )

    def _renewal_invoice(
        self,
        run: _Run,
        service: Service,
        amount: Money,
        period_start: date,
        period_end: date,
    ) -> Invoice:
        return self._ctx.issue_invoice(
            run.uow,
            service.account_id,
            [
                InvoiceLine(
                    f"{service.plan_name}: renewal until {period_end.isoformat()}",
                    amount,
                    service_id=service.id,
                    paid_until=period_end,
                ),
            ],
            today=run.today,
            due_on=max(period_start, run.today),
            kind=InvoiceKind.RENEWAL,
        )

    def _renewal_failed(
        self, run: _Run, service: Service, sub: Subscription, amount: Money
    ) -> None:
        sub.charge_failed(run.today)
        method = next((m for m in run.profile.methods if m.id == sub.method_id), None)
        reason = "the saved method is not working"
        if method is not None and method.last_failure is not None:
            reason = method.last_failure.reason
        run.tally.events.append(
            RenewalFailed(
                account_id=service.account_id,
                at=run.now,
                service_id=service.id,
                amount=amount,
                reason=reason,
            ),
        )
        run.tally.notices.append(
            renewal_failure_notice(sub, run.now, reason, self._ctx.settings.renewal),
        )

    def _autopay_step(self, run: _Run) -> None:
        settings = run.profile.autopay
        if settings is None:
            return
        policy = settings.policy
        code = policy.threshold.code
        balance = run.uow.ledgers.get(run.profile.account_id).balance(code)
        amount = autopay_amount(
            policy,
            self._ctx.settings.rounding.minor(balance),
            run.profile.autopaid(run.today, code),
        )
        if amount is None:
            return
        if self._charge_method(
            run,
            settings.method_id,
            amount,
            f"autopay:{run.profile.account_id}:{run.today.isoformat()}",
            invoice=None,
            what="top the balance up automatically",
        ):
            run.profile.record_autopay(run.today, amount)

    # ------------------------------------------------------------------ helpers

    def _probe(self, run: _Run, method: SavedPaymentMethod) -> bool:
        """Check whether a not-working method works again: a small charge, refunded."""
        if run.dry_run or method.working or not method.for_subscriptions:
            return False
        amount = self._ctx.verification(
            run.uow.accounts.get(run.profile.account_id).profile.currency
        )
        key = f"probe:{method.id}:{run.today.isoformat()}"
        try:
            result = self._ctx.gateway.verify_card(method.token, amount, idempotency_key=key)
        except GatewayError:
            return False
        if not result.succeeded:
            return False
        self._ctx.gateway.refund(result.reference, amount, idempotency_key=f"{key}:refund")
        method.mark_working(run.now)
        return True

    def _charge_method(
        self,
        run: _Run,
        method_id: str,
        amount: Money,
        key: str,
        *,
        invoice: Invoice | None,
        what: str,
    ) -> bool:
        """Charge a saved method and book the payment; returns whether it succeeded."""
        profile, now = run.profile, run.now
        method = profile.method(method_id)
        if not method.working:
            run.tally.failed_charges += 1
            return False
        if run.dry_run:
            # Nothing is charged; the payment is booked in a unit of work never committed,
            # so the preview shows what a successful charge would lead to.
            run.tally.previews.append(Preview(profile.account_id, what, amount))
        else:
            try:
                result = self._ctx.gateway.charge_saved_method(
                    method.token, amount, idempotency_key=key
                )
            except GatewayError as exc:
                run.tally.failed_charges += 1
                method.mark_failed(now, str(exc))
                return False
            if not result.succeeded:
                method.mark_failed(now, result.reason or result.status.value)
                run.tally.failed_charges += 1
                return False
        payment_id = f"charge-{self._ctx.next_id(run.uow, 'payment')}"
        payment = (
            Payment.for_invoice(
                payment_id,
                profile.account_id,
                invoice.id,
                amount,
                now,
                method_id=method_id,
            )
            if invoice is not None
            else Payment.top_up(payment_id, profile.account_id, amount, now, method_id=method_id)
        )
        run.uow.payments.add(payment)
        payment.apply(GatewayEvent(key, PaymentEventKind.CREDITED, now))
        run.tally.events += self._ctx.book_credited(run.uow, payment, now)
        if invoice is None:
            run.tally.events.append(
                AutoTopUp(
                    account_id=profile.account_id, at=now, payment_id=payment.id, amount=amount
                ),
            )
        run.tally.charges += 1
        return True


def _open_renewal(invoices: Iterable[Invoice], service_id: str, period_end: date) -> Invoice | None:
    """An open renewal invoice of the service for the same period, issued by hand earlier."""
    for invoice in invoices:
        if invoice.is_open() and invoice.kind is InvoiceKind.RENEWAL:
            for line in invoice.lines:
                if line.service_id == service_id and line.paid_until == period_end:
                    return invoice
    return None


def _instant(now: datetime, today: date) -> datetime:
    """The instant the run books at: now on the clock's day, else noon of the given day."""
    if now.date() == today:
        return now
    return datetime.combine(today, time(12), tzinfo=now.tzinfo or UTC)


def _summary(
    day: date,
    tally: _Tally,
    processed: int,
    skipped: int,
    failures: list[AccountFailure],
    *,
    dry_run: bool,
) -> CycleSummary:
    revenue: dict[str, Money] = {}
    for e in tally.events:
        if isinstance(e, PaymentCredited):
            revenue[e.amount.code] = (
                revenue.get(e.amount.code, Money.zero(e.amount.code)) + e.amount
            )
    return CycleSummary(
        day=day,
        dry_run=dry_run,
        accounts=processed,
        skipped=skipped,
        invoices=sum(isinstance(e, (InvoiceIssued, StatementIssued)) for e in tally.events),
        renewals=sum(isinstance(e, ServiceRenewed) for e in tally.events),
        charges=tally.charges,
        failed_charges=tally.failed_charges,
        accruals=tally.accruals,
        expired=sum(isinstance(e, ServiceExpired) for e in tally.events),
        notifications=len(tally.notices)
        + sum(notification_of(e) is not None for e in tally.events),
        revenue=revenue,
        failures=tuple(failures),
        previews=tuple(tally.previews),
        events=tuple(tally.events),
    )
