"""The cabinet's documents: downloads, the e-document exchange and reconciliation (SPEC L8).

Acts are produced by the provider each billing month
(:meth:`~cabinet_billing.app.staff.Staff.close_month`); where the provider's policy says
so, only while the account's e-document exchange is on. Switching the exchange on checks
the payer's requisites (Horoshop: EDRPOU or RNOKPP plus IBAN); a reconciliation statement
is read from the ledger, for the account or for one of its payers.

:meth:`CabinetDocuments.download` renders a document through one of the host's
:class:`~cabinet_billing.ports.documents.DocumentRenderer` (``Ports.renderers``, by
format): a paid invoice, an advance-payment invoice, a quote of an unpaid invoice, an
act, a reconciliation statement, a contract's summary or a credit note, in a language.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, date
from types import MappingProxyType

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import Call, Gate
from cabinet_billing.app.paging import DEFAULT_LIMIT, Page, paginate
from cabinet_billing.domain.customer import Account, ProfileType
from cabinet_billing.domain.documents import (
    CreditNote,
    EDocumentExchange,
    ExchangeRequisites,
    NumberCheck,
    ReconciliationStatement,
    build_reconciliation,
)
from cabinet_billing.domain.invoice import Invoice, InvoiceAction, InvoiceKind, InvoiceStatus
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payer import Payer, PayerKind
from cabinet_billing.domain.payment import PaymentPurpose
from cabinet_billing.domain.periods import day_start
from cabinet_billing.errors import (
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from cabinet_billing.ports.documents import DocumentRenderer
from cabinet_billing.rules.requisites import check_edrpou, check_iban, check_rnokpp

__all__ = ["EXCHANGE_CHECKS", "CabinetDocuments", "DocumentFile", "DownloadKind"]

#: The checks an exchange's requisites pass before it is switched on (Ukrainian ids).
EXCHANGE_CHECKS: Mapping[str, NumberCheck] = MappingProxyType(
    {"edrpou": check_edrpou, "rnokpp": check_rnokpp, "iban": check_iban},
)


class DownloadKind(enum.Enum):
    """What :meth:`CabinetDocuments.download` can render."""

    INVOICE = "invoice"
    """A paid invoice, or an advance-payment invoice (a top-up's) in any state but deleted."""
    QUOTE = "quote"
    """An unpaid invoice as a pro-forma invoice."""
    ACT = "act"
    """An act of completed work, by its id."""
    STATEMENT = "statement"
    """A reconciliation statement for a currency and a period, of the account or a payer."""
    CONTRACT = "contract"
    """A contract's summary, by its number."""
    CREDIT_NOTE = "credit_note"
    """A credit note, by its id."""


@attrs.frozen
class DocumentFile:
    """A rendered document, ready to send to the reader.

    Attributes:
        filename: a file name for it, e.g. ``"invoice-HOR-11111-007.pdf"``.
        media_type: its media type, e.g. ``"application/pdf"``.
        content: the document's bytes.
    """

    filename: str
    media_type: str
    content: bytes


def _extension(media_type: str, format_name: str) -> str:
    kind = media_type.split(";", 1)[0].strip()
    return {"application/pdf": "pdf", "text/html": "html", "text/plain": "txt"}.get(
        kind, format_name
    )


def _safe(text: str) -> str:
    # A file name keeps letters, digits and a few marks; anything else becomes "-".
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def account_payer(account: Account) -> Payer | None:
    """The account itself as the party a document is made out to, when it names one.

    An account without payers is billed as itself: its company or full name, country,
    postal address, email and phone are its requisites. ``None`` while it has no name or
    no country yet.
    """
    profile = account.profile
    company = profile.profile_type is ProfileType.COMPANY and profile.company_name
    name = profile.company_name if company else profile.full_name
    if not name or profile.country is None:
        return None
    address = profile.postal_address
    return Payer(
        account.id,
        PayerKind.LEGAL_ENTITY if company else PayerKind.PRIVATE_PERSON,
        profile.country,
        name,
        email=profile.email,
        phone=profile.phone,
        legal_address=attrs.evolve(address, country=address.country or profile.country),
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

    def reconciliation(
        self, currency: str, start: date, end: date, *, payer_id: str | None = None
    ) -> ReconciliationStatement:
        """The reconciliation statement for the days [start, end) (SPEC L8).

        Its closing balance equals the ledger's balance at the end of the period. With a
        ``payer_id``, the statement is that payer's: the movements of its payments (and
        their cashback and refunds), of the invoices billed to it and of its expenses.

        Raises:
            AccessDeniedError: without the right ``documents.view``.
            InvalidArgumentError: for a currency that is not a code, or days that are
                not dates.
            NotFoundError: for a payer the account does not have.
        """
        currency = checks.currency("currency", currency)
        checks.billing_day("start", start)
        checks.billing_day("end", end)
        with self._gate.open("documents.view") as call:
            return self._statement(call, currency, start, end, payer_id)

    def credit_notes(
        self,
        *,
        invoice_id: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> Page[CreditNote]:
        """A page of the account's credit notes, newest first (SPEC X3).

        Each is downloaded with ``download("credit_note", note.id)``.

        Args:
            invoice_id: only the notes that correct this invoice.
            limit: the page size (1 to 500).
            after: the ``next_after`` of the previous page (a note's id).

        Raises:
            AccessDeniedError: without the right ``documents.view``.
            ValidationError: for a limit out of range or a cursor that is not a note of
                this list.
        """
        invoice_id = checks.optional_identifier("invoice_id", invoice_id)
        with self._gate.open("documents.view") as call:
            notes = call.uow.documents.get(call.account.id).credit_notes
        return paginate(
            notes,
            _note_id,
            matches=lambda n: invoice_id is None or n.invoice_id == invoice_id,
            limit=limit,
            after=after,
        )

    def download(
        self,
        kind: DownloadKind | str,
        document_id: str | None = None,
        *,
        format: str = "pdf",  # noqa: A002 - the word a host uses
        language: str | None = None,
        currency: str | None = None,
        start: date | None = None,
        end: date | None = None,
        pay_url: str | None = None,
    ) -> DocumentFile:
        """A document rendered for download (SPEC L4, L8, X3).

        Args:
            kind: what to render (see :class:`DownloadKind`).
            document_id: the invoice's, act's or credit note's id, the contract's
                number, or for a statement the payer's id (``None``: the account's).
            format: the renderer to use, one of the keys of ``Ports.renderers``.
            language: the reader's locale (default: the account's language).
            currency: a statement's currency.
            start: a statement's first day.
            end: the first day after a statement's period.
            pay_url: where to pay an open advance-payment invoice (printed as a QR code).

        Raises:
            AccessDeniedError: without the right ``documents.view``.
            NotFoundError: for an unknown document, one of another account, or a format
                the host has no renderer for (naming those it has).
            InvalidTransitionError: for an invoice that is not paid (or, as a quote, not
                unpaid): its allowed actions are named.
            ValidationError: for an unknown kind, or a statement without its currency
                and period.
        """
        chosen = _kind(kind)
        document_id = checks.optional_identifier("document_id", document_id)
        renderer = self._renderer(format)
        with self._gate.open("documents.view") as call:
            locale = language or call.account.profile.language
            content = self._render(
                call,
                renderer,
                chosen,
                document_id,
                locale=locale,
                period=(currency, start, end),
                pay_url=pay_url,
            )
        number = content[0]
        return DocumentFile(
            filename=_safe(f"{chosen.value.replace('_', '-')}-{number}")
            + f".{_extension(renderer.media_type, format)}",
            media_type=renderer.media_type,
            content=content[1],
        )

    # ------------------------------------------------------------------ helpers

    def _renderer(self, format_name: str) -> DocumentRenderer:
        renderers = self._ctx.ports.renderers
        renderer = renderers.get(format_name)
        if renderer is None:
            offered = ", ".join(sorted(renderers)) or "none"
            raise NotFoundError(f"document renderer (offered: {offered})", format_name)
        return renderer

    def _payer(self, call: Call, payer_id: str | None) -> Payer | None:
        if payer_id is None:
            return account_payer(call.account)
        return call.uow.payers.get(call.account.id).get(payer_id)

    def _statement(
        self, call: Call, currency: str, start: date, end: date, payer_id: str | None
    ) -> ReconciliationStatement:
        account_id = call.account.id
        tz = call.now.tzinfo or UTC
        ledger = call.uow.ledgers.get(account_id)
        opening: Money | None = None
        if payer_id is not None:
            call.uow.payers.get(account_id).get(payer_id)  # an unknown payer is refused
            refs = _payer_refs(call, payer_id)
            entries = tuple(e for e in ledger.entries(currency) if e.ref in refs)
        elif end > start:
            # The period's entries by range; what came before, added up by the store.
            since, until = day_start(start, tz), day_start(end, tz)
            opening = ledger.sums(currency, until=since).net
            entries = ledger.page(currency, since=since, until=until)
        else:
            entries = ()
        return build_reconciliation(
            entries,
            account_id=account_id,
            currency=currency,
            start=start,
            end=end,
            payer_id=payer_id,
            tz=tz,
            opening=opening,
        )

    def _render(
        self,
        call: Call,
        renderer: DocumentRenderer,
        kind: DownloadKind,
        document_id: str | None,
        *,
        locale: str,
        period: tuple[str | None, date | None, date | None],
        pay_url: str | None,
    ) -> tuple[str, bytes]:
        uow, account_id = call.uow, call.account.id
        if kind is DownloadKind.STATEMENT:
            currency, start, end = period
            if currency is None or start is None or end is None:
                raise ValidationError(
                    "statement", period, "a statement needs currency=, start= and end="
                )
            currency = checks.currency("currency", currency)
            checks.billing_day("start", start)
            checks.billing_day("end", end)
            statement = self._statement(call, currency, start, end, document_id)
            payer = self._payer(call, document_id)
            name = f"{document_id or account_id}-{start.isoformat()}"
            return name, renderer.render_statement(statement, locale, payer=payer)
        if document_id is None:
            raise ValidationError("document_id", None, f"name the {kind.value} to download")
        documents = uow.documents.get(account_id)
        if kind in {DownloadKind.INVOICE, DownloadKind.QUOTE}:
            invoice = self._ctx.invoice_of(uow, account_id, document_id)
            quote = kind is DownloadKind.QUOTE
            _ensure_downloadable(invoice, quote=quote)
            link = pay_url if invoice.kind is InvoiceKind.TOP_UP else None
            content = renderer.render_invoice(
                invoice,
                locale,
                payer=self._payer(call, invoice.payer_id),
                today=call.today,
                pay_link=link,
                quote=quote,
            )
            return invoice.number, content
        if kind is DownloadKind.ACT:
            act = next((a for a in documents.acts if a.id == document_id), None)
            if act is None:
                raise NotFoundError("act", document_id)
            return act.number, renderer.render_act(
                act, locale, payer=self._payer(call, act.payer_id)
            )
        if kind is DownloadKind.CONTRACT:
            contract = next((c for c in documents.contracts if c.number == document_id), None)
            if contract is None:
                raise NotFoundError("contract", document_id)
            payer = uow.payers.get(account_id).get(contract.payer_id)
            return contract.number, renderer.render_contract(contract, locale, payer=payer)
        note = documents.credit_note(document_id)
        return note.number, renderer.render_credit_note(
            note, locale, payer=self._payer(call, note.payer_id)
        )


def _kind(kind: DownloadKind | str) -> DownloadKind:
    try:
        return DownloadKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in DownloadKind)
        raise ValidationError("kind", kind, f"expected one of {known}") from None


def _ensure_downloadable(invoice: Invoice, *, quote: bool) -> None:
    """Refuse an invoice that cannot be downloaded as asked (SPEC L4: download a paid one)."""
    if quote:
        if InvoiceAction.REQUEST_QUOTE in invoice.actions():
            return
        verb = "download as a quote"
    else:
        advance = invoice.kind is InvoiceKind.TOP_UP and invoice.status is not InvoiceStatus.DELETED
        if advance or InvoiceAction.DOWNLOAD in invoice.actions():
            return
        verb = "download"
    raise InvalidTransitionError(
        f"invoice {invoice.number} ({invoice.status.value})",
        verb,
        [a.value for a in invoice.actions()],
    )


def _payer_refs(call: Call, payer_id: str) -> set[str]:
    """What the ledger entries of a payer's movements refer to."""
    account_id = call.account.id
    payments = [p for p in call.uow.payments.for_account(account_id) if p.payer_id == payer_id]
    refs = {p.id for p in payments}
    refs |= {
        p.id
        for p in call.uow.payments.for_account(account_id)
        if p.purpose is PaymentPurpose.CASHBACK and p.id.removesuffix("-cashback") in refs
    }
    refs |= {i.id for i in call.uow.invoices.for_account(account_id) if i.payer_id == payer_id}
    refs |= {e.id for e in call.uow.expenses.get(account_id).expenses() if e.payer_id == payer_id}
    return refs


def _note_id(note: CreditNote) -> str:
    return note.id
