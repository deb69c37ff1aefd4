"""The cabinet's documents: the e-document exchange and reconciliation (SPEC L8).

Acts are produced by the provider each billing month
(:meth:`~cabinet_billing.app.staff.Staff.close_month`); where the provider's policy says
so, only while the account's e-document exchange is on. Switching the exchange on checks
the payer's requisites (Horoshop: EDRPOU or RNOKPP plus IBAN); a reconciliation statement
is read from the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date
from types import MappingProxyType

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Gate
from cabinet_billing.domain.documents import (
    EDocumentExchange,
    ExchangeRequisites,
    NumberCheck,
    ReconciliationStatement,
    build_reconciliation,
)
from cabinet_billing.rules.requisites import check_edrpou, check_iban, check_rnokpp

__all__ = ["EXCHANGE_CHECKS", "CabinetDocuments"]

#: The checks an exchange's requisites pass before it is switched on (Ukrainian ids).
EXCHANGE_CHECKS: Mapping[str, NumberCheck] = MappingProxyType(
    {"edrpou": check_edrpou, "rnokpp": check_rnokpp, "iban": check_iban},
)


class CabinetDocuments:
    """The e-document exchange (``settings.manage``) and statements (``documents.view``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def switch_exchange_on(
        self,
        payer_id: str,
        *,
        provider: str = "Vchasno",
        checks: Mapping[str, NumberCheck] | None = None,
    ) -> EDocumentExchange:
        """Switch the account's e-document exchange on with a payer's requisites.

        Args:
            payer_id: the payer whose requisites the exchange uses.
            provider: the exchange's name.
            checks: check-digit checks per requisite (default: EDRPOU, RNOKPP, IBAN).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: naming what is missing (EDRPOU or RNOKPP, plus IBAN).
            InvalidTransitionError: when it is on already.
        """
        with self._gate.open("settings.manage") as call:
            documents = call.uow.documents.get(call.account.id)
            exchange = documents.exchange or EDocumentExchange(call.account.id, provider)
            payer = call.uow.payers.get(call.account.id).get(payer_id)
            exchange.switch_on(
                ExchangeRequisites.from_payer(payer),
                on=call.today,
                checks=EXCHANGE_CHECKS if checks is None else checks,
            )
            documents.exchange = exchange
            call.uow.commit()
        return exchange

    def switch_exchange_off(self) -> EDocumentExchange:
        """Switch the account's e-document exchange off (to edit requisites, say).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            InvalidTransitionError: when it is off already or was never set up.
        """
        with self._gate.open("settings.manage") as call:
            documents = call.uow.documents.get(call.account.id)
            exchange = documents.exchange or EDocumentExchange(
                call.account.id, "e-document exchange"
            )
            exchange.switch_off(on=call.today)
            documents.exchange = exchange
            call.uow.commit()
        return exchange

    def reconciliation(self, currency: str, start: date, end: date) -> ReconciliationStatement:
        """The reconciliation statement for the days [start, end) (SPEC L8).

        Its closing balance equals the ledger's balance at the end of the period.

        Raises:
            AccessDeniedError: without the right ``documents.view``.
            InvalidArgumentError: for a currency that is not a code, or days that are
                not dates.
        """
        currency = checks.currency("currency", currency)
        checks.billing_day("start", start)
        checks.billing_day("end", end)
        with self._gate.open("documents.view") as call:
            entries = call.uow.ledgers.get(call.account.id).entries(currency)
            return build_reconciliation(
                entries,
                account_id=call.account.id,
                currency=currency,
                start=start,
                end=end,
                tz=call.now.tzinfo or UTC,
            )
