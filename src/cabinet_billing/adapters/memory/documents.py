r"""In-memory document adapters: an e-document exchange that records, a plain-text renderer.

:class:`InMemoryDocumentExchange` implements
:class:`~cabinet_billing.ports.documents.DocumentExchange` for tests and simulations: it
keeps what it was sent, lets a test mark documents signed or rejected, and can be told to
fail. :class:`PlainTextRenderer` implements
:class:`~cabinet_billing.ports.documents.DocumentRenderer` with readable UTF-8 text in
Ukrainian, Russian, German or English, its labels taken from the library's gettext
catalogs (other locales get English labels with their own number and date formats).

>>> from datetime import date, timedelta
>>> from cabinet_billing import Money, TaxRate
>>> from cabinet_billing.domain.expense import Expense
>>> from cabinet_billing.domain.documents import build_act, ExchangeRequisites
>>> act = build_act("act-1", "A-1", account_id="acc-1", month=date(2024, 3, 1),
...                 expenses=[Expense("e1", "acc-1", "VPS-1", date(2024, 3, 5), Money("100", "UAH"))],
...                 rate=TaxRate("20", "ПДВ"))
>>> exchange = InMemoryDocumentExchange("Vchasno")
>>> exchange.connect("acc-1")
>>> receipt = exchange.send_act(act, ExchangeRequisites(edrpou="32855961", iban="UA213223130000026007233566001"))
>>> receipt.external_id, receipt.status.value
('Vchasno-1', 'sent')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final, Literal

import attrs

from cabinet_billing.domain.documents import (
    Act,
    Contract,
    CreditNote,
    ExchangeRequisites,
    ProviderRequisites,
    ReconciliationStatement,
)
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, IssuedLine
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payer import Payer
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import DocumentExchangeError, NotFoundError
from cabinet_billing.l10n import (
    N_,
    SUPPORTED_LOCALES,
    format_date,
    format_money,
    format_percent,
    format_status,
    render_line_text,
    translate,
)
from cabinet_billing.ports.documents import DeliveryStatus, ExchangeReceipt

__all__ = ["LABELS", "InMemoryDocumentExchange", "PlainTextRenderer", "SentAct"]


@attrs.frozen
class SentAct:
    """An act the in-memory exchange took, with the requisites it was addressed to."""

    act: Act
    requisites: ExchangeRequisites
    external_id: str


@attrs.define
class InMemoryDocumentExchange:
    """An e-document exchange kept in memory.

    Args:
        provider: the exchange's name.

    Attributes:
        failure: when set, every sending fails with this reason (a test switch).
    """

    provider: str = "Vchasno"
    failure: str | None = None
    _connected: set[str] = attrs.field(factory=set, alias="_connected")
    _sent: list[SentAct] = attrs.field(factory=list, alias="_sent")
    _by_act: dict[str, str] = attrs.field(factory=dict, alias="_by_act")
    _receipts: dict[str, ExchangeReceipt] = attrs.field(factory=dict, alias="_receipts")

    @property
    def sent(self) -> tuple[SentAct, ...]:
        """The acts taken, in the order they were sent."""
        return tuple(self._sent)

    def connect(self, account_id: str) -> None:
        """Register the account with the exchange."""
        self._connected.add(account_id)

    def disconnect(self, account_id: str) -> None:
        """Remove the account's registration."""
        self._connected.discard(account_id)

    def is_connected(self, account_id: str) -> bool:
        """Whether the account is registered with the exchange."""
        return account_id in self._connected

    def send_act(self, act: Act, requisites: ExchangeRequisites) -> ExchangeReceipt:
        """Take an act; sending the same act again returns the first receipt.

        Raises:
            DocumentExchangeError: when :attr:`failure` is set, or the account is not
                connected; nothing is recorded.
        """
        if act.id in self._by_act:
            return self._receipts[self._by_act[act.id]]
        if self.failure is not None:
            raise DocumentExchangeError(self.provider, act.number, self.failure)
        if act.account_id not in self._connected:
            raise DocumentExchangeError(
                self.provider,
                act.number,
                f"account {act.account_id!r} is not registered with the exchange",
            )
        external_id = f"{self.provider}-{len(self._sent) + 1}"
        receipt = ExchangeReceipt(self.provider, external_id, act.number, DeliveryStatus.SENT)
        self._sent.append(SentAct(act, requisites, external_id))
        self._by_act[act.id] = external_id
        self._receipts[external_id] = receipt
        return receipt

    def receipt(self, external_id: str) -> ExchangeReceipt:
        """The state of a document sent earlier.

        Raises:
            NotFoundError: when nothing was sent under that id.
        """
        try:
            return self._receipts[external_id]
        except KeyError:
            raise NotFoundError("exchanged document", external_id) from None

    def mark(self, external_id: str, status: DeliveryStatus) -> ExchangeReceipt:
        """Record the customer's answer in the exchange (signed or rejected).

        Raises:
            NotFoundError: when nothing was sent under that id.
        """
        receipt = attrs.evolve(self.receipt(external_id), status=status)
        self._receipts[external_id] = receipt
        return receipt


# ----------------------------------------------------------------------------- text

#: The message id of each label of the plain-text documents.
_LABEL_IDS: Final = MappingProxyType(
    {
        "act": N_("doc.act"),
        "statement": N_("doc.statement"),
        "invoice": N_("doc.invoice"),
        "quote": N_("doc.quote"),
        "top_up": N_("doc.top_up"),
        "contract": N_("doc.contract"),
        "period": N_("doc.period"),
        "account": N_("doc.account"),
        "provider": N_("doc.provider"),
        "payer": N_("doc.payer"),
        "issued": N_("doc.issued"),
        "due": N_("doc.due"),
        "date": N_("doc.date"),
        "service": N_("doc.service"),
        "description": N_("doc.description"),
        "net": N_("doc.net"),
        "tax": N_("doc.tax"),
        "gross": N_("doc.gross"),
        "total": N_("doc.total"),
        "opening": N_("doc.opening"),
        "debit": N_("doc.debit"),
        "credit": N_("doc.credit"),
        "turnover": N_("doc.turnover"),
        "closing": N_("doc.closing"),
        "no_tax": N_("doc.no_tax"),
        "vat": N_("doc.vat"),
        "rate": N_("doc.rate"),
        "status": N_("doc.status"),
        "pay_link": N_("doc.pay_link"),
        "contract_started": N_("doc.contract_started"),
        "contract_terminated": N_("doc.contract_terminated"),
        "credit_note": N_("doc.credit_note"),
        "credit_note_invoice": N_("doc.credit_note_invoice"),
    },
)

_KIND_IDS: Final = MappingProxyType(
    {
        EntryKind.TOP_UP: N_("ledger.top_up"),
        EntryKind.CASHBACK: N_("ledger.cashback"),
        EntryKind.CHARGE: N_("ledger.charge"),
        EntryKind.REFUND: N_("ledger.refund"),
        EntryKind.ADJUSTMENT: N_("ledger.adjustment"),
        EntryKind.CONVERSION: N_("ledger.conversion"),
        EntryKind.REVERSAL: N_("ledger.reversal"),
    },
)


class _Labels(Mapping[str, Mapping[str, str]]):
    """The labels of each language, read from the catalogs."""

    def __getitem__(self, language: str) -> Mapping[str, str]:
        if language not in SUPPORTED_LOCALES:
            raise KeyError(language)
        return MappingProxyType(
            {key: translate(msgid, language) for key, msgid in _LABEL_IDS.items()}
        )

    def __iter__(self) -> Iterator[str]:
        return iter(SUPPORTED_LOCALES)

    def __len__(self) -> int:
        return len(SUPPORTED_LOCALES)


#: The labels of the plain-text documents, per language (read from the gettext catalogs).
LABELS: Final[Mapping[str, Mapping[str, str]]] = _Labels()


def _language(locale: str) -> str:
    language = str(locale).strip().replace("-", "_").split("_")[0].lower()
    return language if language in SUPPORTED_LOCALES else "en"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> list[str]:
    # Text columns are left-aligned, amounts right-aligned, so that the cents line up.
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if i >= numeric_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


@attrs.frozen
class PlainTextRenderer:
    """Renders invoices, acts, statements and contracts as UTF-8 text in a locale.

    Amounts go through :func:`~cabinet_billing.l10n.format_money` and dates through
    :func:`~cabinet_billing.l10n.format_date`, so the text follows the locale's CLDR
    conventions (babel's no-break spaces included); labels, status names and line texts
    come from the gettext catalogs.

    Args:
        date_format: the CLDR date length for every date (default ``"medium"``).
        provider: the provider's requisites, named at the top of each document.
    """

    date_format: Literal["full", "long", "medium", "short"] = "medium"
    provider: ProviderRequisites | None = None

    @property
    def media_type(self) -> str:
        """``text/plain; charset=utf-8``."""
        return "text/plain; charset=utf-8"

    def _date(self, day: date, locale: str) -> str:
        return format_date(day, locale, self.date_format)

    def _period(self, labels: Mapping[str, str], first: date, last: date, locale: str) -> str:
        return f"{labels['period']}: {self._date(first, locale)} – {self._date(last, locale)}"

    def _balance(self, balance: Money, locale: str) -> tuple[str, str]:
        # A balance in the customer's favour stands in the credit column, a debt in the
        # debit column, each as a positive amount, as on a paper reconciliation statement.
        if balance.amount < 0:
            return self._money(-balance, locale), ""
        return "", self._money(balance, locale)

    def _money(self, money: Money, locale: str) -> str:
        return format_money(money, locale)

    def _rate(self, rate: TaxRate | None, locale: str, labels: Mapping[str, str]) -> str:
        if rate is None:
            return labels["no_tax"]
        # The default name is English; the catalogs name the tax in the reader's language.
        name = labels["vat"] if rate.name == "VAT" else rate.name
        return f"{name} {format_percent(rate.percent, locale)}"

    def _parties(
        self, labels: Mapping[str, str], account_id: str, payer_id: str | None, payer: Payer | None
    ) -> list[str]:
        lines = []
        if self.provider is not None:
            lines.append(f"{labels['provider']}: {self.provider.name}")
        lines.append(f"{labels['account']}: {account_id}")
        if payer is not None:
            lines.append(f"{labels['payer']}: {payer.name}")
        elif payer_id is not None:
            lines.append(f"{labels['payer']}: {payer_id}")
        return lines

    def _line_text(self, line: IssuedLine, locale: str) -> str:
        if line.text is None:
            return line.description
        return render_line_text(line.text, _language(locale))

    def render_act(self, act: Act, locale: str, *, payer: Payer | None = None) -> bytes:
        """An act as text: heading, period, parties, one line per expense, totals."""
        labels = LABELS[_language(locale)]
        head = [
            labels["act"].format(number=act.number),
            self._period(labels, act.month, act.period_end - timedelta(days=1), locale),
            *self._parties(labels, act.account_id, act.payer_id, payer),
            f"{labels['tax']}: {self._rate(act.rate, locale, labels)}",
        ]
        rows = [
            [
                self._date(ln.charged_on, locale),
                ln.description,
                self._money(ln.amounts.net, locale),
                self._money(ln.amounts.tax, locale),
                self._money(ln.amounts.gross, locale),
            ]
            for ln in act.lines
        ]
        rows.append(
            [
                labels["total"],
                "",
                self._money(act.total.net, locale),
                self._money(act.total.tax, locale),
                self._money(act.total.gross, locale),
            ]
        )
        header = [
            labels["date"],
            labels["service"],
            labels["net"],
            labels["tax"],
            labels["gross"],
        ]
        return _encode([*head, "", *_table(header, rows, numeric_from=2)])

    def render_statement(
        self, statement: ReconciliationStatement, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A reconciliation statement as text: opening, movements, turnover, closing."""
        language = _language(locale)
        labels = LABELS[language]
        head = [
            labels["statement"],
            self._period(labels, statement.start, statement.last_day, locale),
            *self._parties(labels, statement.account_id, statement.payer_id, payer),
        ]
        blank = ""
        rows = [[labels["opening"], blank, *self._balance(statement.opening, locale)]]
        for ln in statement.lines:
            kind = translate(_KIND_IDS[ln.kind], language)
            text = " ".join(p for p in (kind, ln.ref or "") if p)
            rows.append(
                [
                    self._date(ln.on, locale),
                    text,
                    self._money(ln.debit, locale) if ln.debit.amount else blank,
                    self._money(ln.credit, locale) if ln.credit.amount else blank,
                ]
            )
        rows.append(
            [
                labels["turnover"],
                blank,
                self._money(statement.debits, locale),
                self._money(statement.credits, locale),
            ]
        )
        rows.append([labels["closing"], blank, *self._balance(statement.closing, locale)])
        header = [labels["date"], labels["description"], labels["debit"], labels["credit"]]
        return _encode([*head, "", *_table(header, rows, numeric_from=2)])

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
        """An invoice as text: heading, dates, parties, status, one line per item, totals."""
        language = _language(locale)
        labels = LABELS[language]
        title = "quote" if quote else "top_up" if invoice.kind is InvoiceKind.TOP_UP else "invoice"
        head = [
            labels[title].format(number=invoice.number),
            f"{labels['issued']}: {self._date(invoice.issued_on, locale)}",
        ]
        if invoice.due_on is not None:
            head.append(f"{labels['due']}: {self._date(invoice.due_on, locale)}")
        head.extend(self._parties(labels, invoice.account_id, invoice.payer_id, payer))
        status = invoice.status_on(today) if today is not None else invoice.status
        head.append(f"{labels['status']}: {format_status(status, language)}")
        if pay_link is not None and invoice.is_open():
            head.append(f"{labels['pay_link']}: {pay_link}")
        rows = [
            [
                self._line_text(ln, locale),
                self._rate(ln.rate, locale, labels),
                self._money(ln.amounts.net, locale),
                self._money(ln.amounts.tax, locale),
                self._money(ln.amounts.gross, locale),
            ]
            for ln in invoice.lines
        ]
        rows.append(
            [
                labels["total"],
                "",
                self._money(invoice.total.net, locale),
                self._money(invoice.total.tax, locale),
                self._money(invoice.total.gross, locale),
            ]
        )
        header = [labels["service"], labels["rate"], labels["net"], labels["tax"], labels["gross"]]
        return _encode([*head, "", *_table(header, rows, numeric_from=2)])

    def render_contract(self, contract: Contract, locale: str, *, payer: Payer) -> bytes:
        """A contract's summary as text: number, parties, start, status."""
        language = _language(locale)
        labels = LABELS[language]
        lines = [labels["contract"].format(number=contract.number)]
        if self.provider is not None:
            lines.append(f"{labels['provider']}: {self.provider.name}")
        lines.append(f"{labels['payer']}: {payer.name}")
        lines.append(f"{labels['contract_started']}: {self._date(contract.started_on, locale)}")
        lines.append(f"{labels['status']}: {format_status(contract.status, language)}")
        if contract.terminated_on is not None:
            lines.append(
                f"{labels['contract_terminated']}: {self._date(contract.terminated_on, locale)}"
            )
        return _encode(lines)

    def render_credit_note(
        self, note: CreditNote, locale: str, *, payer: Payer | None = None
    ) -> bytes:
        """A credit note as text: heading, date, the invoice it corrects, parties, lines."""
        language = _language(locale)
        labels = LABELS[language]
        head = [
            labels["credit_note"].format(number=note.number),
            f"{labels['issued']}: {self._date(note.issued_on, locale)}",
        ]
        if note.invoice_number is not None:
            head.append(f"{labels['credit_note_invoice']}: {note.invoice_number}")
        head.extend(self._parties(labels, note.account_id, note.payer_id, payer))
        head.append(f"{labels['status']}: {format_status(note.status, language)}")
        rows = [
            [
                self._line_text(ln, locale),
                self._rate(ln.rate, locale, labels),
                self._money(ln.amounts.net, locale),
                self._money(ln.amounts.tax, locale),
                self._money(ln.amounts.gross, locale),
            ]
            for ln in note.lines
        ]
        total = note.total
        rows.append(
            [
                labels["total"],
                "",
                self._money(total.net, locale),
                self._money(total.tax, locale),
                self._money(total.gross, locale),
            ]
        )
        header = [labels["service"], labels["rate"], labels["net"], labels["tax"], labels["gross"]]
        return _encode([*head, "", *_table(header, rows, numeric_from=2)])


def _encode(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")
