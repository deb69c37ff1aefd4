"""What the HTML and PDF renderers share: the provider's settings and the composer."""

from __future__ import annotations

import abc
from datetime import date
from functools import cached_property

import attrs

from cabinet_billing.adapters.documents.view import (
    WORDS_LANGUAGES,
    Composer,
    DateFormat,
    DocumentView,
)
from cabinet_billing.domain.documents import (
    Act,
    Contract,
    CreditNote,
    ProviderRequisites,
    ReconciliationStatement,
)
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.payer import Payer

__all__ = ["ViewRenderer"]


@attrs.define(frozen=True, slots=False)
class ViewRenderer(abc.ABC):
    """Renders each document by composing its view and laying the view out.

    Args:
        provider: the provider's requisites, printed on every document.
        date_format: the CLDR length of every date (default ``"long"``).
        words_languages: the languages whose documents show the total in words.
    """

    provider: ProviderRequisites
    date_format: DateFormat = "long"
    words_languages: tuple[str, ...] = WORDS_LANGUAGES

    @cached_property
    def composer(self) -> Composer:
        """The composer of this renderer's views."""
        return Composer(self.provider, self.date_format, self.words_languages)

    @property
    @abc.abstractmethod
    def media_type(self) -> str:
        """The media type of what it renders."""

    @abc.abstractmethod
    def render_view(self, view: DocumentView) -> bytes:
        """Lay a composed view out."""

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
        """An invoice, top-up invoice or quote (see :meth:`Composer.invoice`)."""
        view = self.composer.invoice(
            invoice, locale, payer=payer, today=today, pay_link=pay_link, quote=quote
        )
        return self.render_view(view)

    def render_act(self, act: Act, locale: str, *, payer: Payer | None = None) -> bytes:
        """An act of completed work (see :meth:`Composer.act`)."""
        return self.render_view(self.composer.act(act, locale, payer=payer))

    def render_statement(
        self, statement: ReconciliationStatement, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A reconciliation statement (see :meth:`Composer.statement`)."""
        return self.render_view(self.composer.statement(statement, locale, payer=payer))

    def render_contract(self, contract: Contract, locale: str, *, payer: Payer) -> bytes:
        """A contract's summary (see :meth:`Composer.contract`)."""
        return self.render_view(self.composer.contract(contract, locale, payer=payer))

    def render_credit_note(
        self, note: CreditNote, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A credit note (see :meth:`Composer.credit_note`)."""
        return self.render_view(self.composer.credit_note(note, locale, payer=payer))
