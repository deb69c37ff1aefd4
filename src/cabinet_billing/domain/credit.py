"""A credit line: buying on credit up to a limit, monthly statements, repayments (SPEC R1).

A :class:`CreditLine` belongs to one account and one currency. Services bought on credit
are recorded as *usage*; on the statement day the usage of a past month moves into a
:class:`CreditStatement` (an invoice for the unpaid expenses of that month) with a due
date; payments repay statements oldest first. The debt (unpaid statements plus unbilled
usage) never exceeds the limit.

The line only keeps the facts. When a statement is due, when it is overdue and what is
blocked are decided by :mod:`cabinet_billing.rules.credit_limit` from a policy and the
date.

>>> from datetime import date
>>> from cabinet_billing.domain.money import Money
>>> line = CreditLine("acc-1", Money("400000.00", "RUB"))
>>> _ = line.record_usage(Money("34134.48", "RUB"), date(2024, 7, 12))
>>> s = line.issue_statement(date(2024, 7, 1), date(2024, 8, 1), date(2024, 8, 15))
>>> s.id, str(s.amount), s.status.value, str(line.available)
('acc-1:2024-07', '34134.48 RUB', 'to_pay', '365865.52 RUB')
>>> str(line.apply_payment(Money("40000.00", "RUB"), date(2024, 8, 10)).remainder)
'5865.52 RUB'
>>> line.statements[0].status.value
'fully_repaid'
"""

from __future__ import annotations

import enum
from datetime import date

import attrs
import moneyed
from dateutil.relativedelta import relativedelta

from cabinet_billing.domain.checks import id_field, shared_copies
from cabinet_billing.domain.customer import Account, check_account_currency
from cabinet_billing.domain.money import Money, sum_money
from cabinet_billing.errors import (
    AmountOutOfRangeError,
    ConflictError,
    CurrencyMismatchError,
    ValidationError,
)

__all__ = [
    "CreditLine",
    "CreditPaymentResult",
    "CreditStatement",
    "CreditUsage",
    "StatementStatus",
    "month_start",
    "next_month",
]


def month_start(day: date) -> date:
    """The first day of the calendar month of ``day``.

    >>> month_start(date(2024, 2, 29)).isoformat()
    '2024-02-01'
    """
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the calendar month after the month of ``month``.

    >>> next_month(date(2023, 12, 1)).isoformat()
    '2024-01-01'
    """
    return month_start(month) + relativedelta(months=1)


def _require_date(field: str, value: object) -> date:
    if not isinstance(value, date):
        raise ValidationError(field, value, "must be a date")
    return value


class StatementStatus(enum.Enum):
    """The statuses of a statement, as the Astra Cloud cabinet shows them."""

    #: Issued, nothing paid yet ("к оплате").
    TO_PAY = "to_pay"
    #: Part of it paid ("частично оплачен").
    PARTIALLY_PAID = "partially_paid"
    #: All of it paid ("полностью погашен").
    FULLY_REPAID = "fully_repaid"


@shared_copies
@attrs.frozen
class CreditUsage:
    """One purchase or renewal paid from the credit line and not billed yet.

    Args:
        amount: what it cost, in the line's currency and minor unit.
        on: the day it was bought.
        note: what was bought (free text for the host).
    """

    amount: Money
    on: date
    note: str = ""


@shared_copies
@attrs.frozen
class CreditStatement:
    """The invoice for one month's credit usage.

    Args:
        id: a stable id, ``"<account>:<YYYY-MM>"`` by default.
        month: the first day of the billed month.
        issued_on: the day it was issued.
        due_on: the last day to pay it without it becoming overdue.
        block_on: the day the credit line is blocked if it is still unpaid, as announced
            when it was issued (``None`` when the policy never blocks).
        amount: the billed amount.
        paid: how much of it is paid.
        repaid_on: the day it was fully repaid, or ``None``.

    >>> from cabinet_billing.domain.money import Money
    >>> s = CreditStatement("acc-1:2023-12", date(2023, 12, 1), date(2024, 1, 1),
    ...                     date(2024, 1, 15), date(2024, 1, 30), Money("800.00", "RUB"))
    >>> s.status.value, str(s.outstanding)
    ('to_pay', '800.00 RUB')
    """

    id: str
    month: date
    issued_on: date
    due_on: date
    block_on: date | None
    amount: Money
    paid: Money = attrs.field()
    repaid_on: date | None = None

    @paid.default
    def _no_payment(self) -> Money:
        return Money.zero(self.amount.code)

    def __attrs_post_init__(self) -> None:
        if self.paid.amount < 0 or self.paid > self.amount:
            raise AmountOutOfRangeError(self.paid, Money.zero(self.amount.code), self.amount)

    @property
    def outstanding(self) -> Money:
        """The part still to pay."""
        return self.amount - self.paid

    @property
    def status(self) -> StatementStatus:
        """To pay, partially paid or fully repaid, from the paid amount."""
        if self.paid == self.amount:
            return StatementStatus.FULLY_REPAID
        if self.paid.amount > 0:
            return StatementStatus.PARTIALLY_PAID
        return StatementStatus.TO_PAY

    @property
    def is_paid(self) -> bool:
        """Whether nothing is left to pay."""
        return self.status is StatementStatus.FULLY_REPAID


@attrs.frozen
class CreditPaymentResult:
    """How a payment was applied to a credit line.

    Args:
        applied: ``(statement id, amount)`` pairs, oldest statement first.
        remainder: the part of the payment no statement needed (to credit to the balance).
    """

    applied: tuple[tuple[str, Money], ...]
    remainder: Money


def _limit_converter(value: moneyed.Money) -> Money:
    if not isinstance(value, moneyed.Money):
        raise ValidationError("limit", value, "must be Money in the line's currency")
    return Money(value.amount, value.currency).require_places().require_non_negative()


@attrs.define
class CreditLine:
    """The credit line of one account: its limit, unbilled usage and statements.

    Every method validates its input first and changes nothing when it raises.

    Args:
        account_id: the account.
        limit: the credit limit; its currency is the line's currency (minor unit, not
            negative).

    Raises:
        PrecisionError: for a limit with more decimals than the currency's minor unit.
        InvalidAmountError: for a negative limit.
    """

    account_id: str = attrs.field(validator=id_field())
    limit: Money = attrs.field(converter=_limit_converter)
    _usage: list[CreditUsage] = attrs.field(factory=list, alias="_usage")
    _statements: list[CreditStatement] = attrs.field(factory=list, alias="_statements")

    @classmethod
    def for_account(cls, account: Account, limit: moneyed.Money) -> CreditLine:
        """Open the credit line of an account: the limit must be in the account's currency.

        The line's debt is compared with the account's balance and its statements are
        invoiced in the account's currency; a line in another currency would break both.

        Raises:
            CurrencyMismatchError: for a limit in another currency than the account's.
            PrecisionError: for a limit finer than the minor unit.
            InvalidAmountError: for a negative limit.

        >>> from cabinet_billing.domain.customer import Account
        >>> account = Account.open("acc-1", "astra", currency="RUB")
        >>> CreditLine.for_account(account, Money("400000.00", "RUB")).limit
        Money('400000.00', 'RUB')
        >>> CreditLine.for_account(account, Money("2000.00", "EUR"))
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.CurrencyMismatchError: credit limit 2000.00 EUR of account 'acc-1' is in EUR, expected RUB
        """
        return cls(account.id, check_account_currency(account, limit, "credit limit"))

    # ------------------------------------------------------------------ reading

    @property
    def currency(self) -> str:
        """The ISO 4217 code of the line's currency."""
        return self.limit.code

    @property
    def statements(self) -> tuple[CreditStatement, ...]:
        """All statements, oldest first."""
        return tuple(self._statements)

    @property
    def unbilled_usage(self) -> tuple[CreditUsage, ...]:
        """Usage not yet on a statement, in the order it was recorded."""
        return tuple(self._usage)

    @property
    def unbilled(self) -> Money:
        """The total of the unbilled usage ("spent since the statement")."""
        return sum_money((u.amount for u in self._usage), self.currency)

    @property
    def outstanding(self) -> Money:
        """The unpaid part of all statements."""
        return sum_money((s.outstanding for s in self._statements), self.currency)

    @property
    def debt(self) -> Money:
        """Everything owed: unpaid statements plus unbilled usage."""
        return self.outstanding + self.unbilled

    @property
    def available(self) -> Money:
        """The part of the limit not used (whether it may be used is the policy's call)."""
        return self.limit - self.debt

    @property
    def billed_through(self) -> date | None:
        """The first day of the last billed month, or ``None`` before the first statement."""
        return self._statements[-1].month if self._statements else None

    def unpaid_statements(self) -> tuple[CreditStatement, ...]:
        """Statements with something left to pay, oldest first."""
        return tuple(s for s in self._statements if not s.is_paid)

    def statement(self, statement_id: str) -> CreditStatement | None:
        """The statement with this id, or ``None``."""
        return next((s for s in self._statements if s.id == statement_id), None)

    # ------------------------------------------------------------------ checks

    def _amount(self, field: str, value: object) -> Money:
        if not isinstance(value, moneyed.Money):
            raise ValidationError(field, value, f"must be Money in {self.currency}")
        money = Money(value.amount, value.currency)
        if money.code != self.currency:
            raise CurrencyMismatchError(money.code, self.currency, what=field)
        return money.require_places()

    # ------------------------------------------------------------------ changes

    def record_usage(self, amount: Money, on: date, note: str = "") -> CreditUsage:
        """Record a purchase or renewal paid from the credit line.

        Args:
            amount: the cost, positive, in the line's currency and minor unit.
            on: the day of the purchase; after the last billed month.
            note: what was bought.

        Returns:
            The recorded usage.

        Raises:
            CurrencyMismatchError: for another currency.
            PrecisionError: for more decimals than the currency's minor unit.
            InvalidAmountError: for zero or a negative amount.
            AmountOutOfRangeError: when the debt would exceed the limit (names the
                available amount).
            ConflictError: for a day in a month that is already billed.
        """
        money = self._amount("amount", amount).require_positive()
        day = _require_date("on", on)
        billed = self.billed_through
        if billed is not None and day < next_month(billed):
            raise ConflictError(
                f"credit usage on {day.isoformat()}",
                f"{billed:%Y-%m} is already billed; record usage on or after "
                f"{next_month(billed).isoformat()}",
            )
        available = self.available
        if money > available:
            raise AmountOutOfRangeError(money, None, available)
        usage = CreditUsage(money, day, note)
        self._usage.append(usage)
        return usage

    def issue_statement(
        self,
        month: date,
        issued_on: date,
        due_on: date,
        block_on: date | None = None,
        statement_id: str | None = None,
    ) -> CreditStatement | None:
        """Bill the unbilled usage up to the end of ``month`` as one statement.

        Usage dated after ``month`` stays unbilled for the next statement.

        Args:
            month: the first day of the month to bill.
            issued_on: the day of issue; after the billed month.
            due_on: the due date; not before the day of issue.
            block_on: the day the line will be blocked if unpaid; not before the due date.
            statement_id: the statement's id (default ``"<account>:<YYYY-MM>"``).

        Returns:
            The new statement, or ``None`` when there is nothing to bill.

        Raises:
            ValidationError: for a month that is not a first day, or dates out of order.
            ConflictError: when this month (or a later one) is already billed.
        """
        first = _require_date("month", month)
        if first.day != 1:
            raise ValidationError("month", month, "must be the first day of a month")
        end = next_month(first)
        if _require_date("issued_on", issued_on) < end:
            raise ValidationError(
                "issued_on", issued_on, f"must be on or after {end.isoformat()}, after the month"
            )
        if _require_date("due_on", due_on) < issued_on:
            raise ValidationError(
                "due_on", due_on, f"must be on or after the issue day {issued_on.isoformat()}"
            )
        if block_on is not None and _require_date("block_on", block_on) < due_on:
            raise ValidationError(
                "block_on", block_on, f"must be on or after the due date {due_on.isoformat()}"
            )
        billed = self.billed_through
        if billed is not None and first <= billed:
            raise ConflictError(
                f"statement for {first:%Y-%m}",
                f"months up to {billed:%Y-%m} are already billed; the next month to bill is "
                f"{next_month(billed):%Y-%m}",
            )
        sid = statement_id if statement_id is not None else f"{self.account_id}:{first:%Y-%m}"
        if self.statement(sid) is not None:
            raise ConflictError(f"statement {sid!r}", "a statement with this id exists")
        billed_usage = [u for u in self._usage if u.on < end]
        if not billed_usage:
            return None
        statement = CreditStatement(
            id=sid,
            month=first,
            issued_on=issued_on,
            due_on=due_on,
            block_on=block_on,
            amount=sum_money((u.amount for u in billed_usage), self.currency),
        )
        self._usage = [u for u in self._usage if u.on >= end]
        self._statements.append(statement)
        return statement

    def apply_payment(self, amount: Money, on: date) -> CreditPaymentResult:
        """Repay statements, oldest first; partial payments are allowed.

        Args:
            amount: the payment, positive, in the line's currency and minor unit.
            on: the day of the payment.

        Returns:
            What each statement received and the unapplied remainder.

        Raises:
            CurrencyMismatchError: for another currency.
            PrecisionError: for more decimals than the currency's minor unit.
            InvalidAmountError: for zero or a negative amount.
        """
        left = self._amount("amount", amount).require_positive()
        day = _require_date("on", on)
        applied: list[tuple[str, Money]] = []
        for index, statement in enumerate(self._statements):
            if not left.amount:
                break
            if statement.is_paid:
                continue
            part = min(left, statement.outstanding)
            paid = statement.paid + part
            self._statements[index] = attrs.evolve(
                statement, paid=paid, repaid_on=day if paid == statement.amount else None
            )
            applied.append((statement.id, part))
            left -= part
        return CreditPaymentResult(tuple(applied), left)

    def repay_unbilled(self, amount: Money) -> Money:
        """Repay usage not billed yet, oldest first; returns what is left of ``amount``.

        A customer who pays before the statement day owes nothing on it: the statement
        bills only the usage still unpaid.

        Raises:
            CurrencyMismatchError: for another currency.
            PrecisionError: for more decimals than the currency's minor unit.
            InvalidAmountError: for zero or a negative amount.

        >>> line = CreditLine("acc-1", Money("1000.00", "EUR"))
        >>> _ = line.record_usage(Money("40.00", "EUR"), date(2024, 7, 3))
        >>> _ = line.record_usage(Money("2.99", "EUR"), date(2024, 7, 9))
        >>> line.repay_unbilled(Money("41.00", "EUR")), line.unbilled
        (Money('0.00', 'EUR'), Money('1.99', 'EUR'))
        """
        left = self._amount("amount", amount).require_positive()
        kept: list[CreditUsage] = []
        for usage in self._usage:
            if left.amount <= 0:
                kept.append(usage)
                continue
            part = min(usage.amount, left)
            left -= part
            if part < usage.amount:
                kept.append(attrs.evolve(usage, amount=usage.amount - part))
        self._usage = kept
        return left

    def change_limit(self, limit: Money) -> Money:
        """Set a new limit; it may not be lower than the current debt.

        Args:
            limit: the new limit, in the line's currency and minor unit.

        Returns:
            The previous limit.

        Raises:
            CurrencyMismatchError: for another currency.
            PrecisionError: for more decimals than the currency's minor unit.
            InvalidAmountError: for a negative limit.
            AmountOutOfRangeError: for a limit below the debt (names the debt).
        """
        new = self._amount("limit", limit).require_non_negative()
        debt = self.debt
        if new < debt:
            raise AmountOutOfRangeError(new, debt, None)
        old, self.limit = self.limit, new
        return old
