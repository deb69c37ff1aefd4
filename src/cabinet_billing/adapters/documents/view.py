r"""What a document shows, put into words once for every medium (SPEC L8, M7).

:class:`Composer` turns an invoice, an act, a reconciliation statement, a contract or a credit note
into a :class:`DocumentView`: the title, the facts (number, dates, period), the status,
both parties' requisites, the lines with net, tax rate, tax and gross, the totals, the
total in words where the language writes it out (Russian and Ukrainian), notes, the pay
link and the signature lines — every label, status name and line text from the gettext
catalogs, every amount and date in the reader's locale. The HTML and PDF renderers lay
the same view out, so both media always say the same thing.

>>> from datetime import date
>>> from cabinet_billing import Money, TaxRate
>>> from cabinet_billing.domain.documents import build_act
>>> from cabinet_billing.domain.expense import Expense
>>> from cabinet_billing.domain.documents import ProviderRequisites
>>> act = build_act("act-1", "A-1", account_id="acc-1", month=date(2024, 3, 1), rate=TaxRate("20"),
...     expenses=[Expense("e1", "acc-1", "VPS-1", date(2024, 3, 5), Money("120", "RUB"))])
>>> view = Composer(ProviderRequisites("Astra Cloud LLC")).act(act, "ru")
>>> view.title, [(f.label.replace("\xa0", " "), f.value.replace("\xa0", " ")) for f in view.totals]
('Акт выполненных работ № A-1', [('Итого без налога', '100,00 ₽'), ('НДС 20 %', '20,00 ₽'), ('Всего к оплате', '120,00 ₽')])
>>> view.in_words.value
'Сто двадцать рублей, ноль копеек'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Literal

import attrs
from babel import Locale, UnknownLocaleError
from num2words import num2words

from cabinet_billing.domain.customer import PostalAddress
from cabinet_billing.domain.documents import (
    Act,
    Contract,
    CreditNote,
    CreditNoteReason,
    ProviderRequisites,
    ReconciliationStatement,
)
from cabinet_billing.domain.invoice import Invoice, InvoiceKind, IssuedLine
from cabinet_billing.domain.ledger import EntryKind
from cabinet_billing.domain.money import HALF_UP, Money
from cabinet_billing.domain.payer import BankDetails, Payer, Signatory, TaxId
from cabinet_billing.domain.tax import TaxAmounts, TaxMode, TaxRate
from cabinet_billing.errors import ValidationError
from cabinet_billing.l10n import (
    DATE_FORMATS,
    N_,
    SUPPORTED_LOCALES,
    format_date,
    format_money,
    format_percent,
    format_status,
    render_line_text,
    render_message,
)

__all__ = [
    "WORDS_LANGUAGES",
    "Captions",
    "Composer",
    "DocumentKind",
    "DocumentView",
    "Field",
    "LinesTable",
    "Party",
    "amount_in_words",
]

#: The languages whose financial documents write the total out in words.
WORDS_LANGUAGES: Final = ("ru", "uk")

#: What kind of document a view is: the HTML and PDF layouts style each a little
#: differently.
DocumentKind = Literal["invoice", "quote", "top_up", "act", "statement", "contract", "credit_note"]

DateFormat = Literal["full", "long", "medium", "short"]

_TAX_ID_LABELS: Final = {
    "inn": N_("doc.tax_id.inn"),
    "kpp": N_("doc.tax_id.kpp"),
    "ogrn": N_("doc.tax_id.ogrn"),
    "ogrnip": N_("doc.tax_id.ogrnip"),
    "edrpou": N_("doc.tax_id.edrpou"),
    "rnokpp": N_("doc.tax_id.rnokpp"),
    "ipn": N_("doc.tax_id.ipn"),
    "vat": N_("doc.tax_id.vat"),
}

_REASON_IDS: Final = {
    CreditNoteReason.REFUND: N_("doc.credit_note_reason.refund"),
    CreditNoteReason.BALANCE_CREDIT: N_("doc.credit_note_reason.balance_credit"),
    CreditNoteReason.OFFSET: N_("doc.credit_note_reason.offset"),
}

_KIND_IDS: Final = {
    EntryKind.TOP_UP: N_("ledger.top_up"),
    EntryKind.CASHBACK: N_("ledger.cashback"),
    EntryKind.CHARGE: N_("ledger.charge"),
    EntryKind.REFUND: N_("ledger.refund"),
    EntryKind.ADJUSTMENT: N_("ledger.adjustment"),
    EntryKind.CONVERSION: N_("ledger.conversion"),
    EntryKind.REVERSAL: N_("ledger.reversal"),
}


@attrs.frozen
class Field:
    """One labelled value: ``Field("Дата", "1 марта 2024 г.")``."""

    label: str
    value: str


@attrs.frozen
class Party:
    """One party of a document and its requisites, ready to print.

    Attributes:
        role: what it is in the document ("Provider", "Payer", "Customer").
        name: its name.
        fields: its requisites, each labelled (tax ids, address, bank, contacts ...).
    """

    role: str
    name: str
    fields: tuple[Field, ...]


@attrs.frozen
class LinesTable:
    """The lines of a document as text cells.

    Attributes:
        header: the column titles.
        rows: one tuple of cells per line.
        footer: total rows, as cells.
        numeric_from: the index of the first amount column (amounts align right).
        widths: the columns' relative widths, for fixed layouts such as PDF.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footer: tuple[tuple[str, ...], ...]
    numeric_from: int
    widths: tuple[int, ...]


@attrs.frozen
class Captions:
    """The captions a layout prints around a view's content.

    Attributes:
        pay_link: the caption of the pay link's QR code.
        signature: the caption of a signature line.
        page: the page caption, with ``{page}`` and ``{pages}`` left to the layout.
    """

    pay_link: str
    signature: str
    page: str


@attrs.frozen
class DocumentView:
    """Everything a document shows, in the reader's language and notation.

    Attributes:
        kind: the kind of document.
        locale: the locale amounts and dates are formatted in.
        language: the language of the labels (one of the catalogs' languages).
        captions: the captions around the content.
        title: the heading with the number, e.g. "Рахунок № HOR-11111-007".
        issued_on: the document's date.
        facts: dates, period and other header facts.
        parties: the provider first, then the payer or customer.
        number: the document's number, if it has one.
        status: the status name, for documents that have one.
        status_key: the status's stable value (``"overdue"`` ...), for styling.
        table: the lines, if the document has lines.
        totals: the total lines (net, tax with its rate, gross, paid, due ...).
        in_words: the total in words, where the language writes it out.
        notes: paragraphs below the lines.
        pay_link: where to pay, for an open invoice given a link.
        signatures: the roles that sign the document.
    """

    kind: DocumentKind
    locale: str
    language: str
    captions: Captions
    title: str
    issued_on: date
    facts: tuple[Field, ...]
    parties: tuple[Party, ...]
    number: str | None = None
    status: str | None = None
    status_key: str | None = None
    table: LinesTable | None = None
    totals: tuple[Field, ...] = ()
    in_words: Field | None = None
    notes: tuple[str, ...] = ()
    pay_link: str | None = None
    signatures: tuple[str, ...] = ()


def _label_language(locale: str) -> str:
    try:
        language = str(Locale.parse(str(locale).strip().replace("-", "_")).language)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(
            "locale",
            locale,
            f"not a locale babel knows; supported: {', '.join(SUPPORTED_LOCALES)}",
        ) from None
    # Other languages get English labels with their own number and date notation.
    return language if language in SUPPORTED_LOCALES else "en"


def amount_in_words(money: Money, locale: str) -> str | None:
    """An amount written out in words with its currency, as Russian and Ukrainian papers do.

    The amount is rounded to the currency's minor unit first. Words come from
    ``num2words``; ``None`` when it cannot write this currency in this language.

    >>> from cabinet_billing import Money
    >>> amount_in_words(Money("100.66", "RUB"), "ru")
    'Сто рублей, шестьдесят шесть копеек'
    >>> amount_in_words(Money("1827.41", "UAH"), "uk")
    'Одна тисяча вісімсот двадцять сім гривень, сорок одна копійка'
    >>> amount_in_words(Money("1235", "JPY"), "ru") is None
    True
    """
    language = _label_language(locale)
    amount = HALF_UP.minor(money).amount
    try:
        text = str(num2words(Decimal(amount), lang=language, to="currency", currency=money.code))
    except NotImplementedError:  # num2words names no such currency in this language
        return None
    return text[:1].upper() + text[1:]


@attrs.frozen
class _Words:
    """Labels in the document's language, amounts and dates in its locale."""

    locale: str
    language: str
    date_format: DateFormat

    def tr(self, message_id: str, **params: object) -> str:
        return render_message(message_id, self.language, date_format=self.date_format, **params)

    def money(self, money: Money) -> str:
        return format_money(money, self.locale)

    def day(self, day: date) -> str:
        return format_date(day, self.locale, self.date_format)

    def captions(self) -> Captions:
        return Captions(
            pay_link=self.tr("doc.pay_link"),
            signature=self.tr("doc.signature"),
            page=self.tr("doc.page", page="{page}", pages="{pages}"),
        )

    def period(self, first: date, last: date) -> str:
        return f"{self.day(first)} – {self.day(last)}"

    def rate(self, rate: TaxRate | None, tax: Money) -> str:
        if rate is None:
            # Lines issued without a rate: say "no tax" only when there is none.
            return self.tr("doc.no_tax") if tax.amount == 0 else "—"
        if rate.percent == 0:
            return self.tr("doc.no_tax")
        # The default name is English; the catalogs name the tax in the reader's language.
        name = self.tr("doc.vat") if rate.name == "VAT" else rate.name
        return f"{name} {format_percent(rate.percent, self.locale)}"


@attrs.frozen
class Composer:
    """Puts documents into words for a provider.

    Args:
        provider: the provider's requisites, printed on every document.
        date_format: the CLDR length of every date (default ``"long"``).
        words_languages: the languages whose documents show the total in words.

    Raises:
        ValidationError: for an unknown date format.
    """

    provider: ProviderRequisites = attrs.field(
        validator=attrs.validators.instance_of(ProviderRequisites)
    )
    date_format: DateFormat = attrs.field(default="long")
    words_languages: tuple[str, ...] = WORDS_LANGUAGES

    @date_format.validator
    def _check_format(self, _attribute: object, value: object) -> None:
        if value not in DATE_FORMATS:
            raise ValidationError(
                "date_format", value, f"expected one of {', '.join(DATE_FORMATS)}"
            )

    def _words(self, locale: str) -> _Words:
        language = _label_language(locale)
        # Formatting checks the locale itself; a known language is enough for labels.
        format_date(date(2000, 1, 1), locale)
        return _Words(str(locale), language, self.date_format)

    # ------------------------------------------------------------------ parties

    def _tax_ids(self, w: _Words, tax_ids: Iterable[TaxId]) -> list[Field]:
        fields = []
        for tax_id in tax_ids:
            msgid = _TAX_ID_LABELS.get(tax_id.scheme)
            if msgid is None:
                label = w.tr("doc.tax_id.other", scheme=tax_id.scheme.upper())
            else:
                label = w.tr(msgid)
            fields.append(Field(label, tax_id.value))
        return fields

    def _address(self, w: _Words, address: PostalAddress | None) -> list[Field]:
        if address is None:
            return []
        country = ""
        if address.country is not None:
            territories = Locale.parse(w.language).territories
            country = str(territories.get(address.country, address.country))
        parts = [address.postal_code, address.city, address.address, country]
        return [Field(w.tr("doc.address"), ", ".join(p for p in parts if p))]

    def _bank(self, w: _Words, bank: BankDetails | None) -> list[Field]:
        if bank is None:
            return []
        pairs = (
            (N_("doc.bank"), bank.bank_name),
            (N_("doc.bic"), bank.bic),
            (N_("doc.bank_account"), bank.account),
            (N_("doc.correspondent_account"), bank.correspondent_account),
            (N_("doc.iban"), bank.iban),
        )
        return [Field(w.tr(msgid), value) for msgid, value in pairs if value]

    def _contacts(self, w: _Words, email: str, phone: str) -> list[Field]:
        pairs = ((N_("doc.email"), email), (N_("doc.phone"), phone))
        return [Field(w.tr(msgid), value) for msgid, value in pairs if value]

    def _signatory(self, w: _Words, signatory: Signatory | None) -> list[Field]:
        if signatory is None:
            return []
        who = ", ".join(p for p in (signatory.position, signatory.name) if p)
        if signatory.basis:
            basis = w.tr("doc.basis", basis=signatory.basis)
            who = f"{who}, {basis}"
        return [Field(w.tr("doc.signatory"), who)]

    def _provider(self, w: _Words) -> Party:
        p = self.provider
        fields = [
            *self._tax_ids(w, p.tax_ids),
            *self._address(w, p.address),
            *self._bank(w, p.bank),
            *self._contacts(w, p.email, p.phone),
            *self._signatory(w, p.signatory),
        ]
        return Party(w.tr("doc.provider"), p.name, tuple(fields))

    def _payer(self, w: _Words, role: str, account_id: str, payer: Payer | None) -> Party:
        if payer is None:
            # Without a payer, the account is the party; its requisites are not known here.
            return Party(role, account_id, ())
        fields = [
            *self._tax_ids(w, payer.tax_ids),
            *self._address(w, payer.legal_address or payer.actual_address),
            *self._bank(w, payer.bank),
            *self._contacts(w, payer.email, payer.phone),
            *self._signatory(w, payer.signatory),
        ]
        return Party(role, payer.name, tuple(fields))

    # ------------------------------------------------------------------ parts

    def _totals(
        self, w: _Words, net: Money, tax: Money, gross: Money, rates: Sequence[TaxRate | None]
    ) -> list[Field]:
        distinct = set(rates)
        tax_label = w.tr("doc.total_tax")
        if len(distinct) == 1:
            only = next(iter(distinct))
            if only is not None and only.percent != 0:
                tax_label = w.rate(only, tax)
        return [
            Field(w.tr("doc.total_net"), w.money(net)),
            Field(tax_label, w.money(tax)),
            Field(w.tr("doc.total_gross"), w.money(gross)),
        ]

    def _in_words(self, w: _Words, gross: Money) -> Field | None:
        if w.language not in self.words_languages:
            return None
        words = amount_in_words(gross, w.language)
        return None if words is None else Field(w.tr("doc.in_words"), words)

    def _line_text(self, w: _Words, line: IssuedLine) -> str:
        return line.description if line.text is None else render_line_text(line.text, w.language)

    def _issued_table(
        self, w: _Words, lines: Sequence[IssuedLine], total: TaxAmounts
    ) -> LinesTable:
        rows = tuple(
            (
                str(i),
                self._line_text(w, ln),
                w.rate(ln.rate, ln.amounts.tax),
                w.money(ln.amounts.net),
                w.money(ln.amounts.tax),
                w.money(ln.amounts.gross),
            )
            for i, ln in enumerate(lines, start=1)
        )
        return LinesTable(
            header=(
                w.tr("doc.line_no"),
                w.tr("doc.service"),
                w.tr("doc.rate"),
                w.tr("doc.net"),
                w.tr("doc.tax"),
                w.tr("doc.gross"),
            ),
            rows=rows,
            footer=(
                (
                    "",
                    w.tr("doc.total"),
                    "",
                    w.money(total.net),
                    w.money(total.tax),
                    w.money(total.gross),
                ),
            ),
            numeric_from=3,
            widths=(11, 59, 22, 30, 27, 31),
        )

    # ------------------------------------------------------------------ documents

    def invoice(
        self,
        invoice: Invoice,
        locale: str,
        *,
        payer: Payer | None = None,
        today: date | None = None,
        pay_link: str | None = None,
        quote: bool = False,
    ) -> DocumentView:
        """The view of an invoice, a top-up (advance-payment) invoice or a quote.

        Args:
            invoice: the invoice.
            locale: the reader's locale.
            payer: the payer, for its requisites (else the account is named).
            today: the day shown, for the status (overdue ...); default: the stored one.
            pay_link: where to pay; shown while the invoice is open.
            quote: show it as a pro-forma invoice.

        Raises:
            ValidationError: for an unknown locale.
        """
        w = self._words(locale)
        kind: DocumentKind = (
            "quote" if quote else "top_up" if invoice.kind is InvoiceKind.TOP_UP else "invoice"
        )
        title_id = {"quote": N_("doc.quote"), "top_up": N_("doc.top_up")}.get(
            kind, N_("doc.invoice")
        )
        facts = [Field(w.tr("doc.issued"), w.day(invoice.issued_on))]
        if invoice.due_on is not None:
            facts.append(Field(w.tr("doc.due"), w.day(invoice.due_on)))
        total = invoice.total
        table = self._issued_table(w, invoice.lines, total)
        totals = self._totals(
            w, total.net, total.tax, total.gross, [ln.rate for ln in invoice.lines]
        )
        if invoice.paid.amount > 0 and invoice.is_open():
            totals.append(Field(w.tr("doc.paid"), w.money(invoice.paid)))
            totals.append(Field(w.tr("doc.amount_due"), w.money(invoice.amount_due)))
        notes = {"quote": (w.tr("doc.quote_note"),), "top_up": (w.tr("doc.top_up_note"),)}
        status = invoice.status_on(today) if today is not None else invoice.status
        return DocumentView(
            locale=w.locale,
            language=w.language,
            captions=w.captions(),
            kind=kind,
            title=w.tr(title_id, number=invoice.number),
            number=invoice.number,
            issued_on=invoice.issued_on,
            facts=tuple(facts),
            status=format_status(status, w.language),
            status_key=status.value,
            parties=(
                self._provider(w),
                self._payer(w, w.tr("doc.payer"), invoice.account_id, payer),
            ),
            table=table,
            totals=tuple(totals),
            in_words=self._in_words(w, total.gross),
            notes=notes.get(kind, ()),
            pay_link=pay_link if pay_link and invoice.is_open() else None,
        )

    def act(self, act: Act, locale: str, *, payer: Payer | None = None) -> DocumentView:
        """The view of an act of completed work, signed by both parties.

        Raises:
            ValidationError: for an unknown locale.
        """
        w = self._words(locale)
        last_day = act.period_end - timedelta(days=1)
        rate = w.rate(act.rate, act.total.tax)
        rows = tuple(
            (
                str(i),
                w.day(ln.charged_on),
                ln.description,
                rate,
                w.money(ln.amounts.net),
                w.money(ln.amounts.tax),
                w.money(ln.amounts.gross),
            )
            for i, ln in enumerate(act.lines, start=1)
        )
        table = LinesTable(
            header=(
                w.tr("doc.line_no"),
                w.tr("doc.date"),
                w.tr("doc.service"),
                w.tr("doc.rate"),
                w.tr("doc.net"),
                w.tr("doc.tax"),
                w.tr("doc.gross"),
            ),
            rows=rows,
            footer=(
                (
                    "",
                    w.tr("doc.total"),
                    "",
                    "",
                    w.money(act.total.net),
                    w.money(act.total.tax),
                    w.money(act.total.gross),
                ),
            ),
            numeric_from=4,
            widths=(11, 29, 36, 20, 28, 26, 30),
        )
        customer = w.tr("doc.customer")
        provider = self._provider(w)
        return DocumentView(
            locale=w.locale,
            language=w.language,
            captions=w.captions(),
            kind="act",
            title=w.tr("doc.act", number=act.number),
            number=act.number,
            issued_on=last_day,
            facts=(
                Field(w.tr("doc.date"), w.day(last_day)),
                Field(w.tr("doc.period"), w.period(act.month, last_day)),
            ),
            parties=(provider, self._payer(w, customer, act.account_id, payer)),
            table=table,
            totals=tuple(
                self._totals(w, act.total.net, act.total.tax, act.total.gross, [act.rate])
            ),
            in_words=self._in_words(w, act.total.gross),
            notes=(
                w.tr("doc.act_note"),
                w.tr(N_("doc.inclusive") if act.mode is TaxMode.INCLUSIVE else N_("doc.exclusive")),
            ),
            signatures=(provider.role, customer),
        )

    def statement(
        self, statement: ReconciliationStatement, locale: str, *, payer: Payer | None = None
    ) -> DocumentView:
        """The view of a reconciliation statement: opening, movements, turnover, closing.

        A balance in the customer's favour stands in the credit column and a debt in the
        debit column, each as a positive amount, as on a paper statement.

        Raises:
            ValidationError: for an unknown locale.
        """
        w = self._words(locale)

        def balance(money: Money) -> tuple[str, str]:
            if money.amount < 0:
                return w.money(-money), ""
            return "", w.money(money)

        rows = [(w.day(statement.start), w.tr("doc.opening"), *balance(statement.opening))]
        for ln in statement.lines:
            # The kind in the reader's language and what caused it; a ledger memo is a
            # note for the provider's staff, in no particular language.
            text = " ".join(p for p in (w.tr(_KIND_IDS[ln.kind]), ln.ref or "") if p)
            rows.append(
                (
                    w.day(ln.on),
                    text,
                    w.money(ln.debit) if ln.debit.amount else "",
                    w.money(ln.credit) if ln.credit.amount else "",
                ),
            )
        table = LinesTable(
            header=(
                w.tr("doc.date"),
                w.tr("doc.description"),
                w.tr("doc.debit"),
                w.tr("doc.credit"),
            ),
            rows=tuple(rows),
            footer=(
                ("", w.tr("doc.turnover"), w.money(statement.debits), w.money(statement.credits)),
                (w.day(statement.last_day), w.tr("doc.closing"), *balance(statement.closing)),
            ),
            numeric_from=2,
            widths=(34, 82, 32, 32),
        )
        customer_party = self._payer(w, w.tr("doc.customer"), statement.account_id, payer)
        closing = statement.closing
        if closing.amount == 0:
            outcome = Field(w.tr("doc.closing"), w.tr("doc.statement_settled"))
        else:
            favour = customer_party.name if closing.amount > 0 else self.provider.name
            outcome = Field(w.tr("doc.statement_balance_for", party=favour), w.money(abs(closing)))
        provider = self._provider(w)
        return DocumentView(
            locale=w.locale,
            language=w.language,
            captions=w.captions(),
            kind="statement",
            title=w.tr("doc.statement"),
            issued_on=statement.last_day,
            facts=(Field(w.tr("doc.period"), w.period(statement.start, statement.last_day)),),
            parties=(provider, customer_party),
            table=table,
            totals=(outcome,),
            signatures=(provider.role, customer_party.role),
        )

    def contract(self, contract: Contract, locale: str, *, payer: Payer) -> DocumentView:
        """The view of a contract's summary: number, parties, dates, status, subject.

        Raises:
            ValidationError: for an unknown locale.
        """
        w = self._words(locale)
        facts = [Field(w.tr("doc.contract_started"), w.day(contract.started_on))]
        if contract.payment_id is not None:
            facts.append(Field(w.tr("doc.contract_payment"), contract.payment_id))
        if contract.terminated_on is not None:
            facts.append(Field(w.tr("doc.contract_terminated"), w.day(contract.terminated_on)))
        provider = self._provider(w)
        customer = self._payer(w, w.tr("doc.customer"), payer.id, payer)
        return DocumentView(
            locale=w.locale,
            language=w.language,
            captions=w.captions(),
            kind="contract",
            title=w.tr("doc.contract", number=contract.number),
            number=contract.number,
            issued_on=contract.started_on,
            facts=tuple(facts),
            status=format_status(contract.status, w.language),
            status_key=contract.status.value,
            parties=(provider, customer),
            notes=(w.tr("doc.contract_subject"),),
            signatures=(provider.role, customer.role),
        )

    def credit_note(
        self, note: CreditNote, locale: str, *, payer: Payer | None = None
    ) -> DocumentView:
        """The view of a credit note: what is given back, taxed like the invoice it corrects.

        Raises:
            ValidationError: for an unknown locale.
        """
        w = self._words(locale)
        facts = [Field(w.tr("doc.date"), w.day(note.issued_on))]
        if note.invoice_number is not None:
            facts.append(Field(w.tr("doc.credit_note_invoice"), note.invoice_number))
        facts.append(Field(w.tr("doc.credit_note_reason"), w.tr(_REASON_IDS[note.reason])))
        if note.voided_on is not None:
            facts.append(Field(w.tr("doc.credit_note_voided"), w.day(note.voided_on)))
        provider = self._provider(w)
        customer = self._payer(w, w.tr("doc.payer"), note.account_id, payer)
        total = note.total
        return DocumentView(
            locale=w.locale,
            language=w.language,
            captions=w.captions(),
            kind="credit_note",
            title=w.tr("doc.credit_note", number=note.number),
            number=note.number,
            issued_on=note.issued_on,
            facts=tuple(facts),
            status=format_status(note.status, w.language),
            status_key=note.status.value,
            parties=(provider, customer),
            table=self._issued_table(w, note.lines, total),
            totals=tuple(
                self._totals(w, total.net, total.tax, total.gross, [ln.rate for ln in note.lines])
            ),
            in_words=self._in_words(w, total.gross),
            notes=(w.tr("doc.credit_note_note"),),
            signatures=(provider.role, customer.role),
        )
