"""Use cases for payers and accounting documents (SPEC A4, L8).

Payers are kept per account; contracts appear with a payer's first payment; acts are
produced per billing month from the month's expenses (only while the e-document
exchange is on, when the provider's policy says so) and sent through the
:class:`~cabinet_billing.ports.documents.DocumentExchange` port; a reconciliation
statement is read from the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date
from types import MappingProxyType

import attrs

from cabinet_billing.app.core import BillingCore
from cabinet_billing.domain.documents import (
    Act,
    EDocumentExchange,
    ExchangeRequisites,
    NumberCheck,
    ReconciliationStatement,
    assign_expenses_to_act,
    billing_month,
    build_act,
    build_reconciliation,
    ensure_can_issue_acts,
)
from cabinet_billing.domain.payer import Payer
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import ConflictError
from cabinet_billing.rules.requisites import (
    RequisitesRegistry,
    check_edrpou,
    check_iban,
    check_rnokpp,
)

__all__ = ["EXCHANGE_CHECKS", "DocumentUseCases"]


class DocumentUseCases(BillingCore):
    """The payer and document use cases; :class:`~cabinet_billing.app.billing.Billing` has them."""

    # ------------------------------------------------------------------ payers

    def add_payer(
        self,
        account_id: str,
        user_id: str,
        payer: Payer,
        *,
        registry: RequisitesRegistry | None = None,
    ) -> Payer:
        """Add a payer after its country's rules accept its requisites (SPEC A4).

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ValidationError: when a requisite fails its country's check.
            ConflictError: when the id is taken.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "payers.manage")
            book = uow.payers.get(account_id)
            book.add(payer, registry.validate if registry is not None else None)
            uow.commit()
        return payer

    def update_payer(
        self,
        account_id: str,
        user_id: str,
        payer: Payer,
        *,
        registry: RequisitesRegistry | None = None,
    ) -> Payer:
        """Change a payer's requisites; refused while the e-document exchange is on.

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: while the account's e-document exchange is on.
            NotFoundError: for an unknown payer.
        """
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "payers.manage")
            exchange = uow.documents.get(account_id).exchange
            if exchange is not None:
                exchange.ensure_requisites_editable()
            uow.payers.get(account_id).update(
                payer,
                registry.validate if registry is not None else None,
            )
            uow.commit()
        return payer

    # ------------------------------------------------------------------ exchange

    def switch_exchange_on(
        self,
        account_id: str,
        user_id: str,
        payer_id: str,
        *,
        provider: str = "Vchasno",
        checks: Mapping[str, NumberCheck] | None = None,
    ) -> EDocumentExchange:
        """Switch the account's e-document exchange on with a payer's requisites.

        Args:
            account_id: the account.
            user_id: who switches it on.
            payer_id: the payer whose requisites the exchange uses.
            provider: the exchange's name.
            checks: check-digit checks per requisite (default: EDRPOU, RNOKPP, IBAN).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: naming what is missing (EDRPOU or RNOKPP, plus IBAN).
            InvalidTransitionError: when it is on already.
        """
        today = self._clock.today()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "settings.manage")
            documents = uow.documents.get(account_id)
            exchange = documents.exchange or EDocumentExchange(account_id, provider)
            payer = uow.payers.get(account_id).get(payer_id)
            exchange.switch_on(
                ExchangeRequisites.from_payer(payer),
                on=today,
                checks=EXCHANGE_CHECKS if checks is None else checks,
            )
            documents.exchange = exchange
            uow.commit()
        return exchange

    def switch_exchange_off(self, account_id: str, user_id: str) -> EDocumentExchange:
        """Switch the account's e-document exchange off (to edit requisites, say).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            InvalidTransitionError: when it is off already or was never set up.
        """
        today = self._clock.today()
        with self._uow() as uow:
            uow.users.get(account_id).ensure_can(user_id, "settings.manage")
            documents = uow.documents.get(account_id)
            exchange = documents.exchange or EDocumentExchange(account_id, "e-document exchange")
            exchange.switch_off(on=today)
            documents.exchange = exchange
            uow.commit()
        return exchange

    # ------------------------------------------------------------------ documents

    def close_month(self, account_id: str, month: date) -> tuple[Act, ...]:
        """Produce the acts of completed work of a billing month (SPEC L8).

        One act per payer (and one for expenses without a payer) and currency, from the
        expenses charged in the month; each is kept, its expenses are marked, and it is
        sent to the e-document exchange when one is plugged in and on. Closing a month
        again produces nothing new.

        Raises:
            ConflictError: when the policy needs the e-document exchange and it is off.
        """
        first = billing_month(month)
        with self._uow() as uow:
            key = f"acts:{account_id}:{first.isoformat()}"
            if uow.keys.seen(key):
                return ()
            documents = uow.documents.get(account_id)
            ensure_can_issue_acts(self.settings.documents, documents.exchange)
            account = uow.accounts.get(account_id)
            expenses = [
                e
                for e in uow.expenses.get(account_id).expenses()
                if billing_month(e.charged_on) == first
            ]
            rate = self._tax_rate(account) or TaxRate("0", "no tax")
            made: list[Act] = []
            groups = sorted({(e.payer_id or "", e.currency) for e in expenses})
            for payer_id, currency in groups:
                seq = uow.sequences.next("act")
                act = build_act(
                    f"act-{seq}",
                    self.settings.act_numbers.format(seq, year=first.year, month=first.month),
                    account_id=account_id,
                    month=first,
                    expenses=[e for e in expenses if (e.payer_id or "") == payer_id],
                    rate=rate,
                    mode=self.settings.tax.mode,
                    payer_id=payer_id or None,
                    currency=currency,
                    rounding=self.settings.rounding,
                )
                if act is None:
                    continue
                documents.add_act(act)
                assign_expenses_to_act(act, expenses)
                made.append(act)
            exchange = documents.exchange
            if self._exchange is not None and exchange is not None and exchange.is_on:
                requisites = exchange.requisites
                if requisites is None:
                    raise ConflictError("e-document exchange", "is on without requisites")
                for act in made:
                    self._exchange.send_act(act, requisites)
            uow.keys.record(key)
            uow.commit()
        return tuple(made)

    def reconciliation(
        self,
        account_id: str,
        currency: str,
        start: date,
        end: date,
    ) -> ReconciliationStatement:
        """The reconciliation statement of an account for the days [start, end) (SPEC L8).

        Its closing balance equals the ledger's balance at the end of the period.
        """
        with self._uow() as uow:
            uow.accounts.get(account_id)
            entries = uow.ledgers.get(account_id).entries(currency)
            return build_reconciliation(
                entries,
                account_id=account_id,
                currency=currency,
                start=start,
                end=end,
                tz=self._clock.now().tzinfo or UTC,
            )


def _with_contract(payer: Payer, number: str) -> Payer:
    return attrs.evolve(payer, contracts=(*payer.contracts, number))


#: The checks an exchange's requisites pass before it is switched on (Ukrainian ids).
EXCHANGE_CHECKS: Mapping[str, NumberCheck] = MappingProxyType(
    {"edrpou": check_edrpou, "rnokpp": check_rnokpp, "iban": check_iban},
)
