r"""In-memory document adapters: an e-document exchange that records, a plain-text renderer.

:class:`InMemoryDocumentExchange` implements
:class:`~cabinet_billing.ports.documents.DocumentExchange` for tests and simulations: it
keeps what it was sent, lets a test mark documents signed or rejected, and can be told to
fail. :class:`PlainTextRenderer` implements
:class:`~cabinet_billing.ports.documents.DocumentRenderer` with readable UTF-8 text in
Ukrainian, Russian, German or English (other locales get English labels with their own
number and date formats).

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

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final, Literal

import attrs

from cabinet_billing.domain.documents import Act, ExchangeRequisites, ReconciliationStatement
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.tax import TaxRate
from cabinet_billing.errors import DocumentExchangeError, NotFoundError
from cabinet_billing.l10n import format_date, format_money, format_percent
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


def _labels(**pairs: str) -> Mapping[str, str]:
    return MappingProxyType(pairs)


#: The labels of the plain-text documents, per language.
LABELS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "en": _labels(
            act="Act of completed work No. {number}",
            statement="Reconciliation statement",
            invoice="Invoice No. {number}",
            period="Period",
            account="Account",
            payer="Payer",
            issued="Issued",
            due="Due",
            date="Date",
            service="Service",
            description="Description",
            net="Net",
            tax="Tax",
            gross="Gross",
            total="Total",
            opening="Opening balance",
            debit="Debit",
            credit="Credit",
            turnover="Turnover",
            closing="Closing balance",
            no_tax="no tax",
            rate="Rate",
        ),
        "ru": _labels(
            act="Акт выполненных работ № {number}",
            statement="Акт сверки взаиморасчётов",
            invoice="Счёт № {number}",
            period="Период",
            account="Аккаунт",
            payer="Плательщик",
            issued="Дата",
            due="Оплатить до",
            date="Дата",
            service="Услуга",
            description="Операция",
            net="Без налога",
            tax="Налог",
            gross="Всего",
            total="Итого",
            opening="Сальдо на начало",
            debit="Дебет",
            credit="Кредит",
            turnover="Обороты за период",
            closing="Сальдо на конец",
            no_tax="без налога",
            rate="Ставка",
        ),
        "uk": _labels(
            act="Акт виконаних робіт № {number}",
            statement="Акт звірки взаєморозрахунків",
            invoice="Рахунок № {number}",
            period="Період",
            account="Обліковий запис",
            payer="Платник",
            issued="Дата",
            due="Сплатити до",
            date="Дата",
            service="Послуга",
            description="Операція",
            net="Без податку",
            tax="Податок",
            gross="Усього",
            total="Разом",
            opening="Сальдо на початок",
            debit="Дебет",
            credit="Кредит",
            turnover="Обороти за період",
            closing="Сальдо на кінець",
            no_tax="без податку",
            rate="Ставка",
        ),
        "de": _labels(
            act="Leistungsnachweis Nr. {number}",
            statement="Saldenbestätigung",
            invoice="Rechnung Nr. {number}",
            period="Zeitraum",
            account="Konto",
            payer="Zahler",
            issued="Rechnungsdatum",
            due="Fällig am",
            date="Datum",
            service="Leistung",
            description="Buchung",
            net="Netto",
            tax="Steuer",
            gross="Brutto",
            total="Summe",
            opening="Anfangssaldo",
            debit="Soll",
            credit="Haben",
            turnover="Umsätze",
            closing="Endsaldo",
            no_tax="ohne Steuer",
            rate="Satz",
        ),
    }
)

_KINDS: Final[Mapping[str, Mapping[EntryKind, str]]] = MappingProxyType(
    {
        "en": {
            EntryKind.TOP_UP: "Payment",
            EntryKind.CASHBACK: "Cashback",
            EntryKind.CHARGE: "Charge",
            EntryKind.REFUND: "Refund",
            EntryKind.ADJUSTMENT: "Adjustment",
            EntryKind.CONVERSION: "Conversion",
            EntryKind.REVERSAL: "Reversal",
        },
        "ru": {
            EntryKind.TOP_UP: "Оплата",
            EntryKind.CASHBACK: "Кешбэк",
            EntryKind.CHARGE: "Списание",
            EntryKind.REFUND: "Возврат",
            EntryKind.ADJUSTMENT: "Корректировка",
            EntryKind.CONVERSION: "Конвертация",
            EntryKind.REVERSAL: "Сторно",
        },
        "uk": {
            EntryKind.TOP_UP: "Оплата",
            EntryKind.CASHBACK: "Кешбек",
            EntryKind.CHARGE: "Списання",
            EntryKind.REFUND: "Повернення",
            EntryKind.ADJUSTMENT: "Коригування",
            EntryKind.CONVERSION: "Конвертація",
            EntryKind.REVERSAL: "Сторно",
        },
        "de": {
            EntryKind.TOP_UP: "Zahlung",
            EntryKind.CASHBACK: "Cashback",
            EntryKind.CHARGE: "Belastung",
            EntryKind.REFUND: "Erstattung",
            EntryKind.ADJUSTMENT: "Korrektur",
            EntryKind.CONVERSION: "Umrechnung",
            EntryKind.REVERSAL: "Storno",
        },
    }
)


def _language(locale: str) -> str:
    language = str(locale).strip().replace("-", "_").split("_")[0].lower()
    return language if language in LABELS else "en"


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
    """Renders invoices, acts and statements as UTF-8 text in a locale.

    Amounts go through :func:`~cabinet_billing.l10n.format_money` and dates through
    :func:`~cabinet_billing.l10n.format_date`, so the text follows the locale's CLDR
    conventions (babel's no-break spaces included).

    Args:
        date_format: the CLDR date length for every date (default ``"medium"``).
    """

    date_format: Literal["full", "long", "medium", "short"] = "medium"

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
        return f"{rate.name} {format_percent(rate.percent, locale)}"

    def render_act(self, act: Act, locale: str) -> bytes:
        """An act as text: heading, period, parties, one line per expense, totals."""
        labels = LABELS[_language(locale)]
        head = [
            labels["act"].format(number=act.number),
            self._period(labels, act.month, act.period_end - timedelta(days=1), locale),
            f"{labels['account']}: {act.account_id}",
        ]
        if act.payer_id is not None:
            head.append(f"{labels['payer']}: {act.payer_id}")
        head.append(f"{labels['tax']}: {self._rate(act.rate, locale, labels)}")
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

    def render_statement(self, statement: ReconciliationStatement, locale: str) -> bytes:
        """A reconciliation statement as text: opening, movements, turnover, closing."""
        language = _language(locale)
        labels = LABELS[language]
        kinds = _KINDS[language]
        head = [
            labels["statement"],
            self._period(labels, statement.start, statement.last_day, locale),
            f"{labels['account']}: {statement.account_id}",
        ]
        if statement.payer_id is not None:
            head.append(f"{labels['payer']}: {statement.payer_id}")
        blank = ""
        rows = [[labels["opening"], blank, *self._balance(statement.opening, locale)]]
        for ln in statement.lines:
            text = ln.memo or " ".join(p for p in (kinds[ln.kind], ln.ref or "") if p)
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

    def render_invoice(self, invoice: Invoice, locale: str) -> bytes:
        """An invoice as text: heading, dates, parties, one line per item, totals."""
        labels = LABELS[_language(locale)]
        head = [
            labels["invoice"].format(number=invoice.number),
            f"{labels['issued']}: {self._date(invoice.issued_on, locale)}",
        ]
        if invoice.due_on is not None:
            head.append(f"{labels['due']}: {self._date(invoice.due_on, locale)}")
        head.append(f"{labels['account']}: {invoice.account_id}")
        if invoice.payer_id is not None:
            head.append(f"{labels['payer']}: {invoice.payer_id}")
        rows = [
            [
                ln.description,
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


def _encode(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")
