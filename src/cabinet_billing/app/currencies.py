"""Use cases for balances in several currencies (SPEC M4).

An account keeps one balance per currency it uses. Before topping up, a customer sees
what the amount is worth in the provider's other currencies at today's rate (Introserv);
moving money between an account's balances is a conversion booked as a pair of ledger
entries that records the rate and the rounding difference.
"""

from __future__ import annotations

import moneyed

from cabinet_billing.app.core import BillingCore
from cabinet_billing.domain.fx import Conversion, RateTable, convert, equivalents
from cabinet_billing.domain.ledger import LedgerEntry
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import ConflictError, CurrencyMismatchError, InsufficientFundsError
from cabinet_billing.ports.fx import ExchangeRateProvider

__all__ = ["CurrencyUseCases"]


class CurrencyUseCases(BillingCore):
    """Equivalents of a top-up and conversions between an account's balances."""

    def top_up_equivalents(self, amount: moneyed.Money) -> dict[str, Conversion]:
        """What a top-up is worth in each of the provider's other currencies today.

        Raises:
            ConflictError: when no exchange-rate provider is plugged in.
            ExchangeRateNotFoundError: when a currency has no rate.
        """
        rates = self._require_rates()
        money = Money(amount.amount, amount.currency)
        today = self._clock.today()
        others = [c for c in self.settings.currencies if c != money.code]
        table = RateTable([rates.rate(money.code, code, today) for code in others])
        return equivalents(money, others, table, self.settings.rounding)

    def convert_balance(
        self,
        account_id: str,
        user_id: str,
        amount: moneyed.Money,
        to: str,
    ) -> tuple[LedgerEntry, LedgerEntry]:
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
        rates = self._require_rates()
        money = Money(amount.amount, amount.currency).require_places().require_positive()
        target = to.upper()
        if self.settings.currencies and target not in self.settings.currencies:
            raise CurrencyMismatchError(target, self.settings.currencies, "target balance")
        now, today = self._clock.now(), self._clock.today()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "invoices.pay")
            ledger = uow.ledgers.get(account_id)
            balance = ledger.balance(money.code)
            if balance < money:
                raise InsufficientFundsError(money, balance, money - balance)
            conversion = convert(
                money, target, rates.rate(money.code, target, today), self.settings.rounding
            )
            seq = uow.sequences.next("conversion")
            out, into = ledger.convert(conversion, now, key=f"conversion:{account_id}:{seq}")
            book = uow.expenses.get(account_id)
            book.withdraw(min(money, book.available(money.code)))
            if conversion.target.amount > 0:
                book.fund(f"conversion-{seq}", conversion.target)
            uow.commit()
        return out, into

    def _require_rates(self) -> ExchangeRateProvider:
        if self._rates is None:
            raise ConflictError("exchange rates", "no ExchangeRateProvider is plugged in")
        return self._rates
