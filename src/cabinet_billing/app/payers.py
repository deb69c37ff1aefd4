"""The cabinet's payers: the legal parties of its payments (SPEC A4).

A payer's requisites are checked by its country's rules before it is kept; they cannot
change while the e-document exchange is on (Horoshop).
"""

from __future__ import annotations

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Gate
from cabinet_billing.domain.payer import Payer
from cabinet_billing.rules.requisites import RequisitesRegistry

__all__ = ["CabinetPayers"]


class CabinetPayers:
    """Adding and changing payers (right ``payers.manage``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def add(self, payer: Payer, *, registry: RequisitesRegistry | None = None) -> Payer:
        """Add a payer after its country's rules accept its requisites (SPEC A4).

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ValidationError: when a requisite fails its country's check.
            ConflictError: when the id is taken.
        """
        with self._gate.open("payers.manage") as call:
            book = call.uow.payers.get(call.account.id)
            book.add(payer, registry.validate if registry is not None else None)
            call.uow.commit()
        return payer

    def update(self, payer: Payer, *, registry: RequisitesRegistry | None = None) -> Payer:
        """Change a payer's requisites; refused while the e-document exchange is on.

        Raises:
            AccessDeniedError: without the right ``payers.manage``.
            ConflictError: while the account's e-document exchange is on.
            NotFoundError: for an unknown payer.
        """
        with self._gate.open("payers.manage") as call:
            uow = call.uow
            exchange = uow.documents.get(call.account.id).exchange
            if exchange is not None:
                exchange.ensure_requisites_editable()
            uow.payers.get(call.account.id).update(
                payer,
                registry.validate if registry is not None else None,
            )
            uow.commit()
        return payer
