"""The cabinet's balance: amounts, conversions and autopayment (SPEC L1, M4, R6).

An account keeps one balance per currency it uses. Before topping up, a customer sees
what the amount is worth in the provider's other currencies at today's rate (Introserv);
moving money between an account's balances is a conversion booked as a pair of ledger
entries that records the rate and the rounding difference. Autopayment tops the balance
up from a saved method when it runs low, never past the monthly cap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import moneyed

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, check_limit, page_of, window
from cabinet_billing.app.results import ExpenseList, LedgerStatement
from cabinet_billing.domain.autopay import AutopayPolicy
from cabinet_billing.domain.billing_profile import AutopaySettings
from cabinet_billing.domain.expense import Expense
from cabinet_billing.domain.fx import Equivalents, convert, equivalents
from cabinet_billing.domain.ledger import Ledger, LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment_method import LimitBasis
from cabinet_billing.domain.periods import day_start
from cabinet_billing.errors import CurrencyMismatchError, InsufficientFundsError, ValidationError
from cabinet_billing.ports.listing import ExpenseQuery
from cabinet_billing.rules.autopay import ScheduledCharge, forecast, recommended_cap

__all__ = ["CabinetBalance"]


class CabinetBalance:
    """The account's balances (right ``invoices.view`` to read, ``invoices.pay`` to act)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def get(self, currency: str | None = None) -> Money:
        """The balance in a currency (default: the account's), at accrual precision.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
        """
        chosen = None if currency is None else checks.currency("currency", currency)
        with self._gate.open("invoices.view") as call:
            code = chosen if chosen is not None else call.account.profile.currency
            return call.uow.ledgers.get(call.account.id).balance(code)

    def expenses(
        self,
        *,
        currency: str | None = None,
        since: date | None = None,
        until: date | None = None,
        service_id: str | None = None,
        unpaid_only: bool = False,
        newest_first: bool = True,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> ExpenseList:
        """A page of the account's expenses, with the total and the unpaid total (SPEC L3).

        The totals count every expense the filters choose, not just the page's.

        Args:
            currency: the expenses' currency (default: the account's).
            since: only expenses charged on or after this day.
            until: only expenses charged before this day.
            service_id: only the expenses of this service.
            unpaid_only: only expenses with something left to pay.
            newest_first: the latest charge first (else the oldest first).
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ValidationError: for a day that is not a date, ``since`` after ``until``, a
                limit out of range or a cursor that is not an expense of this list.
        """
        start = _day("since", since)
        end = _day("until", until)
        if start is not None and end is not None and end < start:
            raise ValidationError("until", end, f"must not be before since={start}")
        with self._gate.open("invoices.view") as call:
            asked = window(limit, after, newest_first=newest_first)
            code = (currency or call.account.profile.currency).upper()
            query = ExpenseQuery(code, start, end, service_id, unpaid_only=unpaid_only)
            found, totals = call.uow.expenses.page(call.account.id, query, asked)
        return ExpenseList(
            page=page_of(found, _expense_id),
            total=totals.total,
            unpaid=totals.unpaid,
            tax=totals.tax,
        )

    def statement(
        self,
        start: date,
        end: date,
        *,
        currency: str | None = None,
        newest_first: bool = False,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> LedgerStatement:
        """The ledger of one balance over the days [start, end): opening, moves, closing.

        Days are the provider's (the clock's time zone). The entries come oldest first
        by default, as a statement reads; the cursor is an entry's ``seq`` as text.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ValidationError: for a day that is not a date, ``end`` not after ``start``,
                a limit out of range or a cursor that is not an entry of this period.
        """
        first = _day("start", start)
        last = _day("end", end)
        if first is None or last is None or last <= first:
            raise ValidationError("end", end, f"must be a day after start={start}")
        with self._gate.open("invoices.view") as call:
            size = check_limit(limit)
            code = (currency or call.account.profile.currency).upper()
            tz = call.now.tzinfo or UTC
            since, until = day_start(first, tz), day_start(last, tz)
            ledger = call.uow.ledgers.get(call.account.id)
            cursor = _entry_cursor(ledger, after, code, since, until)
            opening = ledger.sums(code, until=since).net
            during = ledger.sums(code, since=since, until=until)
            found = ledger.page(
                code,
                since=since,
                until=until,
                after=cursor,
                limit=size + 1,
                newest_first=newest_first,
            )
        shown = found[:size]
        return LedgerStatement(
            currency=code,
            start=first,
            end=last,
            opening=opening,
            credits=during.credits,
            debits=during.debits,
            closing=opening + during.credits - during.debits,
            entries=Page(
                items=shown,
                next_after=str(shown[-1].seq) if len(found) > size else None,
                total=during.count,
            ),
        )

    def equivalents(self, amount: moneyed.Money) -> Equivalents:
        """What a top-up is worth in each of the provider's other currencies today.

        A currency without a rate today is left out and listed in the result's
        ``missing``.

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
            ConflictError: when no exchange-rate provider is plugged in.
        """
        ctx = self._ctx
        money = checks.amount("amount", amount)
        rates = ctx.require_rates()
        with self._gate.open("invoices.view") as call:
            today = call.today
        others = [c for c in ctx.settings.currencies if c != money.code]
        # A pair without a rate is listed in ``missing``: it does not hide the others.
        return equivalents(
            money, others, lambda base, quote: rates.rate(base, quote, today), ctx.settings.rounding
        )

    def convert(self, amount: moneyed.Money, to: str) -> tuple[LedgerEntry, LedgerEntry]:
        """Move money from one of the account's balances to another at today's rate.

        Returns:
            The two ledger entries: the source amount out, the converted amount in.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            ConflictError: when no exchange-rate provider is plugged in.
            CurrencyMismatchError: when the target currency is not one the provider
                keeps balances in.
            InsufficientFundsError: when the source balance does not cover the amount.
            ExchangeRateNotFoundError: when the pair has no rate.
        """
        ctx = self._ctx
        money = checks.amount("amount", amount).require_places().require_positive()
        target = checks.currency("to", to)
        rates = ctx.require_rates()
        if ctx.settings.currencies and target not in ctx.settings.currencies:
            raise CurrencyMismatchError(target, ctx.settings.currencies, "target balance")
        with self._gate.open("invoices.pay") as call:
            uow, account_id = call.uow, call.account.id
            ledger = uow.ledgers.get(account_id)
            balance = ledger.balance(money.code)
            if balance < money:
                raise InsufficientFundsError(money, balance, money - balance)
            conversion = convert(
                money, target, rates.rate(money.code, target, call.today), ctx.settings.rounding
            )
            seq = uow.sequences.next("conversion")
            out, into = ledger.convert(conversion, call.now, key=f"conversion:{account_id}:{seq}")
            book = uow.expenses.get(account_id)
            book.withdraw(min(money, book.available(money.code)))
            if conversion.target.amount > 0:
                book.fund(f"conversion-{seq}", conversion.target)
            uow.commit()
        return out, into

    def set_autopay(self, method_id: str, policy: AutopayPolicy) -> AutopaySettings:
        """Top the balance up automatically from a saved method (SPEC R6).

        The policy takes the range of the payment method the saved one is charged as
        (SPEC M5), and, as in Astra Cloud, a method with a range needs a monthly cap.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
            NotFoundError: for an unknown method.
            ValidationError: for a method with a range and no monthly cap, or a range
                that leaves no amount the method accepts.
            DeletionPendingError: while the account's deletion is pending
                (AccountDeletedError once it is confirmed).
        """
        with self._gate.open("invoices.pay") as call:
            call.account.ensure_not_closing("set up autopayment")
            profile = call.uow.profiles.get(call.account.id)
            method = profile.method(method_id)
            pricing = self._ctx.pricing_of(method, policy.threshold.code)
            if pricing is not None and (pricing.minimum is not None or pricing.maximum is not None):
                if policy.monthly_cap is None:
                    raise ValidationError(
                        "monthly_cap",
                        None,
                        f"method {method_id!r} takes payments from {pricing.minimum or 'any'} "
                        f"to {pricing.maximum or 'any'}: a payment method with limits needs "
                        "a monthly cap",
                    )
                if pricing.limits_apply_to is LimitBasis.BASE:
                    policy = attrs.evolve(
                        policy,
                        minimum=_bound(max, policy.minimum, pricing.minimum),
                        maximum=_bound(min, policy.maximum, pricing.maximum),
                    )
            profile.autopay = AutopaySettings(method_id, policy)
            call.uow.commit()
        return profile.autopay

    def stop_autopay(self) -> None:
        """Stop automatic top-ups.

        Raises:
            AccessDeniedError: without the right ``invoices.pay``.
        """
        with self._gate.open("invoices.pay") as call:
            call.uow.profiles.get(call.account.id).autopay = None
            call.uow.commit()

    def recommended_autopay_cap(self) -> Money:
        """The recommended monthly autopayment cap: next month's forecast plus the margin.

        The forecast adds up the charges of the account's auto-renewing services that
        fall in the next calendar month (SPEC R6: forecast 620.00 gives 682.00).

        Raises:
            AccessDeniedError: without the right ``invoices.view``.
        """
        ctx = self._ctx
        with self._gate.open("invoices.view") as call:
            next_month = (call.today.replace(day=1) + timedelta(days=32)).replace(day=1)
            currency = call.account.profile.currency
            charges = [
                ScheduledCharge(s.price, s.period, s.paid_until, s.anchor)
                for s in call.uow.services.for_account(call.account.id)
                if s.auto_renew and s.paid_until is not None and s.price.code == currency
            ]
        return recommended_cap(
            forecast(charges, next_month, currency),
            ctx.settings.autopay_markup_percent,
            ctx.settings.rounding,
        )


def _bound(
    pick: Callable[[Money, Money], Money], mine: Money | None, method: Money | None
) -> Money | None:
    """The tighter of the customer's and the method's limit."""
    if mine is None or method is None:
        return method if mine is None else mine
    return pick(mine, method)


def _day(field: str, value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, value, "expected a day (datetime.date), or None")
    return value


def _entry_cursor(
    ledger: Ledger, after: object, currency: str, since: datetime, until: datetime
) -> int | None:
    """The ``seq`` a statement's cursor names, once it is an entry of the statement."""
    if after is None:
        return None
    if not isinstance(after, str):
        raise ValidationError(
            "after", after, "expected the next_after of a previous page (text), or None"
        )
    seq = int(after) if after.isascii() and after.isdigit() else 0
    if 1 <= seq <= len(ledger):
        entry = ledger.entry(seq)
        if entry.amount.code == currency and since <= entry.at < until:
            return seq
    raise ValidationError("after", after, "expected the next_after of a previous page of this list")


def _expense_id(expense: Expense) -> str:
    return expense.id
