"""The document ports: an e-document exchange and a document renderer (SPEC L8, P).

A host implements :class:`DocumentExchange` over its exchange's API (Vchasno, M.E.Doc
...) and :class:`DocumentRenderer` over its templates. The library ships
:class:`cabinet_billing.adapters.memory.documents.InMemoryDocumentExchange`, which records
what it was sent, :class:`cabinet_billing.adapters.memory.documents.PlainTextRenderer`,
a readable UTF-8 text rendering, and, with the ``documents`` extra,
:class:`cabinet_billing.adapters.documents.HtmlRenderer` and
:class:`cabinet_billing.adapters.documents.PdfRenderer`.

>>> from cabinet_billing.adapters.memory.documents import InMemoryDocumentExchange
>>> exchange: DocumentExchange = InMemoryDocumentExchange("Vchasno")
>>> exchange.is_connected("acc-1")
False
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Protocol

import attrs

from cabinet_billing.domain.documents import (
    Act,
    Contract,
    CreditNote,
    ExchangeRequisites,
    ReconciliationStatement,
)
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.payer import Payer

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
    """Renders documents for people, in a locale, to bytes (text, PDF, HTML ...).

    Each document carries the provider's requisites (a setting of the renderer) and,
    when given, the payer's. Labels, status names and line texts come in the locale's
    language.
    """

    @property
    def media_type(self) -> str:
        """The media type of what it renders, e.g. ``"application/pdf"``."""
        ...

    def render_invoice(
        self,
        invoice: Invoice,
        locale: str,
        *,
        payer: Payer | None = None,
        today: date | None = None,
        pay_link: str | None = None,
        quote: bool = False,
    ) -> bytes:
        """An invoice, with its lines and totals.

        A top-up invoice is rendered as an advance-payment invoice.

        Args:
            invoice: the invoice.
            locale: the reader's locale.
            payer: the payer it is made out to, for its requisites.
            today: the day it is rendered, for the status shown (overdue ...).
            pay_link: where to pay it; shown (as a QR code where the medium allows)
                while it is open.
            quote: render it as a pro-forma invoice (a quote).
        """
        ...

    def render_act(self, act: Act, locale: str, *, payer: Payer | None = None) -> bytes:
        """An act of completed work, with its lines and totals."""
        ...

    def render_statement(
        self, statement: ReconciliationStatement, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A reconciliation statement: opening balance, movements, totals, closing balance."""
        ...

    def render_contract(self, contract: Contract, locale: str, *, payer: Payer) -> bytes:
        """A contract's summary: number, parties, dates and status."""
        ...

    def render_credit_note(
        self, note: CreditNote, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A credit note: what is given back, its lines with their tax rates, and totals."""
        ...
