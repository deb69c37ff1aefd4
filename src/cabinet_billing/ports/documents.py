"""The document ports: an e-document exchange and a document renderer (SPEC L8, P).

A host implements :class:`DocumentExchange` over its exchange's API (Vchasno, M.E.Doc
...) and :class:`DocumentRenderer` over its templates (PDF, HTML). The library ships
:class:`cabinet_billing.adapters.memory.documents.InMemoryDocumentExchange`, which records
what it was sent, and :class:`cabinet_billing.adapters.memory.documents.PlainTextRenderer`,
a readable UTF-8 text rendering.

>>> from cabinet_billing.adapters.memory.documents import InMemoryDocumentExchange
>>> exchange: DocumentExchange = InMemoryDocumentExchange("Vchasno")
>>> exchange.is_connected("acc-1")
False
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from cabinet_billing.domain.documents import Act, ExchangeRequisites, ReconciliationStatement
from cabinet_billing.domain.invoice import Invoice

__all__ = ["DeliveryStatus", "DocumentExchange", "DocumentRenderer", "ExchangeReceipt"]


class DeliveryStatus(enum.Enum):
    """Where a document sent to an exchange stands."""

    SENT = "sent"
    """Accepted by the exchange, not yet signed."""
    SIGNED = "signed"
    """Signed by the customer in the exchange."""
    REJECTED = "rejected"
    """Refused by the customer in the exchange."""


@attrs.frozen
class ExchangeReceipt:
    """The exchange's answer about one document.

    Attributes:
        provider: the exchange's name.
        external_id: the document's id in the exchange.
        document_number: the document's number as the library issued it.
        status: where the document stands.
    """

    provider: str
    external_id: str
    document_number: str
    status: DeliveryStatus


class DocumentExchange(Protocol):
    """Sends documents to an e-document exchange and reports on them."""

    @property
    def provider(self) -> str:
        """The exchange's name, e.g. ``"Vchasno"``."""
        ...

    def is_connected(self, account_id: str) -> bool:
        """Whether the account has a working connection to the exchange."""
        ...

    def send_act(self, act: Act, requisites: ExchangeRequisites) -> ExchangeReceipt:
        """Send an act to the exchange, addressed by the customer's requisites.

        Sending an act (same id) again returns the receipt of the first sending.

        Raises:
            DocumentExchangeError: when the exchange refuses or cannot be reached;
                nothing is recorded as sent.
        """
        ...

    def receipt(self, external_id: str) -> ExchangeReceipt:
        """The current state of a document sent earlier.

        Raises:
            NotFoundError: when the exchange knows no such document.
        """
        ...


class DocumentRenderer(Protocol):
    """Renders documents for people, in a locale, to bytes (text, PDF, HTML ...)."""

    def render_invoice(self, invoice: Invoice, locale: str) -> bytes:
        """An invoice, with its lines and totals."""
        ...

    def render_act(self, act: Act, locale: str) -> bytes:
        """An act of completed work, with its lines and totals."""
        ...

    def render_statement(self, statement: ReconciliationStatement, locale: str) -> bytes:
        """A reconciliation statement: opening balance, movements, totals, closing balance."""
        ...
