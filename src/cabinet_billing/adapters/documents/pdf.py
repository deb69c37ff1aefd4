"""PDF documents: A4 pages drawn with fpdf2 in DejaVu Sans, shipped with the package.

fpdf2 and its dependencies install with pip alone (no system libraries), and the font
is package data: Cyrillic, Ukrainian letters (і, ї, є, ґ) and the currency signs
(₽, ₴, €) render on a fresh machine. Each PDF embeds only the glyphs it uses. The pay
link's QR code is drawn as vector squares, so it scans at any zoom.

The bytes depend only on the document: the PDF's creation date is the document's date.

>>> from datetime import date
>>> from cabinet_billing import Invoice, Money, TaxRate
>>> from cabinet_billing.domain.invoice import InvoiceLine
>>> from cabinet_billing.domain.documents import ProviderRequisites
>>> invoice = Invoice.issue("i-1", "HOR-11111-007", "acc-1",
...     [InvoiceLine("Тариф «Бізнес»", Money("1000.00", "UAH"))],
...     issued_on=date(2024, 3, 1), tax_rate=TaxRate("20"))
>>> pdf = PdfRenderer(ProviderRequisites("Horoshop LLC")).render_invoice(invoice, "uk")
>>> pdf[:5]
b'%PDF-'
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, time
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Final, Literal, cast

import attrs
import segno
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace, TTFFont

from cabinet_billing.adapters.documents._base import ViewRenderer
from cabinet_billing.adapters.documents.view import DocumentView, Field, LinesTable, Party

__all__ = ["FONT_FAMILY", "PdfRenderer"]

#: The font family every PDF is set in (DejaVu Sans, package data with its licence).
FONT_FAMILY: Final = "DejaVu"

_FONTS: Final = (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf"))

_INK: Final = (29, 36, 48)
_MUTED: Final = (91, 101, 117)
_RULE: Final = (201, 209, 220)
_HEAD_FILL: Final = (241, 244, 248)
_OPEN_FILL: Final = (255, 241, 214)
_CLOSED_FILL: Final = (223, 243, 228)

_MARGIN: Final = 15.0
_LINE: Final = 4.6
_QR_SIZE: Final = 32.0

_OPEN: Final = frozenset({"unpaid", "partially_paid", "overdue"})
_CLOSED: Final = frozenset({"paid", "active"})


@contextmanager
def _font_files() -> Iterator[list[tuple[str, Path]]]:
    with ExitStack() as stack:
        root = files("cabinet_billing.adapters.documents") / "fonts"
        yield [(style, stack.enter_context(as_file(root / name))) for style, name in _FONTS]


class _Page(FPDF):
    """An A4 page with the document's page caption at the foot."""

    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.caption = ""

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT_FAMILY, "", 7)
        self.set_text_color(*_MUTED)
        text = self.caption.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 4, text, align="C")


@cache
def _font_data() -> tuple[tuple[str, bytes], ...]:
    root = files("cabinet_billing.adapters.documents") / "fonts"
    return tuple((style, (root / name).read_bytes()) for style, name in _FONTS)


@cache
def _blank_page() -> _Page:
    """A document with the fonts added and nothing drawn: the template of every PDF.

    Adding the two TrueType fonts (fpdf2 reads every glyph's width) is most of what a
    PDF costs; it is done once per process, and each PDF starts from a copy (see
    :func:`_new_page`). The template is never drawn on.
    """
    page = _Page()
    with _font_files() as fonts:
        for style, path in fonts:
            page.add_font(FONT_FAMILY, style, str(path))
    _own_font_files(page)
    return page


def _own_font_files(page: _Page) -> None:
    # Each font of the page reads its tables lazily from a font file of its own, held in
    # memory: nothing stays open on disk, and no two pages share one.
    for (_, data), font in zip(_font_data(), page.fonts.values(), strict=True):
        if isinstance(font, TTFFont):
            font.ttfont.close()
            font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)


def _new_page(caption: str) -> _Page:
    """A fresh document with the fonts added, copied from the template.

    fpdf2's copy of a font shares its fontTools font, and writing a PDF subsets that
    font in place: each copy gets a font file of its own, read lazily from the cached
    bytes (cheap: only the tables the subset needs are read), so that every PDF embeds
    exactly the glyphs it uses and depends only on its document.
    """
    page = copy.deepcopy(_blank_page())
    page.caption = caption
    _own_font_files(page)
    return page


@attrs.define(frozen=True, slots=False)
class PdfRenderer(ViewRenderer):
    """Renders documents as A4 PDF files.

    Implements :class:`~cabinet_billing.ports.documents.DocumentRenderer`.

    Args:
        provider: the provider's requisites, printed on every document.
        date_format: the CLDR length of every date (default ``"long"``).
        words_languages: the languages whose documents show the total in words.
    """

    @property
    def media_type(self) -> str:
        """``application/pdf``."""
        return "application/pdf"

    def render_view(self, view: DocumentView) -> bytes:
        """The PDF of a composed view."""
        pdf = _new_page(view.captions.page)
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.set_title(view.title)
        pdf.set_author(self.provider.name)
        pdf.set_creator("cabinet_billing")
        pdf.set_lang(view.language)
        pdf.set_creation_date(datetime.combine(view.issued_on, time(), tzinfo=UTC))
        pdf.add_page()
        _Layout(pdf, view).draw()
        return bytes(pdf.output())


class _Layout:
    """Draws one view on a page, top to bottom."""

    def __init__(self, pdf: FPDF, view: DocumentView) -> None:
        self.pdf = pdf
        self.view = view
        self.width = pdf.w - 2 * _MARGIN

    def font(
        self, size: float, style: Literal["", "B"] = "", color: tuple[int, int, int] = _INK
    ) -> None:
        self.pdf.set_font(FONT_FAMILY, style, size)
        self.pdf.set_text_color(*color)

    def draw(self) -> None:
        self.header()
        self.parties()
        if self.view.table is not None:
            self.lines(self.view.table)
        self.summary()
        self.notes()
        self.signatures()

    # ------------------------------------------------------------------ parts

    def header(self) -> None:
        pdf, view = self.pdf, self.view
        status_width = 0.0
        if view.status:
            self.font(9, "B")
            status_width = pdf.get_string_width(view.status) + 8
        self.font(15, "B")
        top = pdf.get_y()
        pdf.multi_cell(
            self.width - status_width - 4, 7, view.title, align="L", new_x="LMARGIN", new_y="NEXT"
        )
        below_title = pdf.get_y()
        if view.status:
            self.status(top, status_width)
        pdf.set_y(below_title + 2)
        self.fields(view.facts, size=9)

    def status(self, top: float, width: float) -> None:
        pdf, key = self.pdf, self.view.status_key
        fill = _OPEN_FILL if key in _OPEN else _CLOSED_FILL if key in _CLOSED else _HEAD_FILL
        pdf.set_fill_color(*fill)
        pdf.set_xy(_MARGIN + self.width - width, top)
        self.font(9, "B")
        pdf.cell(width, 7, self.view.status or "", align="C", fill=True)
        pdf.set_fill_color(255, 255, 255)

    def fields(
        self,
        fields: Sequence[Field],
        *,
        size: float,
        x: float | None = None,
        width: float | None = None,
    ) -> None:
        """Labelled values in two columns; the labels' column fits the longest label."""
        pdf = self.pdf
        left = _MARGIN if x is None else x
        total = self.width if width is None else width
        self.font(size)
        widest = max((pdf.get_string_width(f.label) for f in fields), default=0.0)
        label_width = min(widest + 3, total * 0.34)
        for field in fields:
            pdf.set_x(left)
            self.font(size, color=_MUTED)
            top = pdf.get_y()
            height = pdf.multi_cell(
                label_width, _LINE, field.label, align="L", dry_run=True, output="HEIGHT"
            )
            pdf.multi_cell(label_width, _LINE, field.label, align="L", new_x="RIGHT", new_y="TOP")
            label_bottom = top + cast("float", height)
            pdf.set_xy(left + label_width, top)
            self.font(size)
            pdf.multi_cell(
                total - label_width, _LINE, field.value, align="L", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.set_y(max(pdf.get_y(), label_bottom))

    def parties(self) -> None:
        pdf = self.pdf
        pdf.ln(5)
        gap = 8.0
        column = (self.width - gap) / 2
        top = pdf.get_y()
        bottom = top
        for i, party in enumerate(self.view.parties[:2]):
            pdf.set_y(top)
            self.party(party, _MARGIN + i * (column + gap), column)
            bottom = max(bottom, pdf.get_y())
        pdf.set_y(bottom + 4)

    def party(self, party: Party, x: float, width: float) -> None:
        pdf = self.pdf
        pdf.set_x(x)
        self.font(7.5, "B", _MUTED)
        pdf.cell(width, _LINE, party.role.upper(), new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(x)
        self.font(10.5, "B")
        pdf.multi_cell(width, 5.2, party.name, align="L", new_x="LMARGIN", new_y="NEXT")
        self.fields(party.fields, size=8, x=x, width=width)

    def lines(self, table: LinesTable) -> None:
        pdf = self.pdf
        self.font(8.5)
        aligns = tuple(
            "RIGHT" if i >= table.numeric_from else "LEFT" for i in range(len(table.header))
        )
        with pdf.table(
            width=self.width,
            col_widths=table.widths,
            text_align=aligns,
            line_height=_LINE + 0.4,
            padding=1.2,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD", fill_color=_HEAD_FILL),
            first_row_as_headings=True,
        ) as grid:
            header = grid.row()
            for cell in table.header:
                header.cell(cell)
            for row in table.rows:
                line = grid.row()
                for cell in row:
                    line.cell(cell)
            for row in table.footer:
                foot = grid.row()
                for cell in row:
                    foot.cell(cell, style=FontFace(emphasis="BOLD"))
        pdf.ln(3)

    def summary(self) -> None:
        pdf, view = self.pdf, self.view
        top = pdf.get_y()
        value_width = 34.0
        self.font(9.5, "B")
        widest = max((pdf.get_string_width(t.label) for t in view.totals), default=0.0)
        label_width = min(max(widest + 4, 62.0), self.width - value_width - _QR_SIZE - 40)
        left = _MARGIN + self.width - label_width - value_width
        for i, total in enumerate(view.totals):
            last = i == len(view.totals) - 1
            pdf.set_x(left)
            self.font(9.5, "B" if last else "", _INK if last else _MUTED)
            pdf.multi_cell(label_width, 5.4, total.label, align="R", new_x="RIGHT", new_y="TOP")
            self.font(9.5, "B" if last else "")
            pdf.multi_cell(value_width, 5.4, total.value, align="R", new_x="LMARGIN", new_y="NEXT")
        bottom = pdf.get_y()
        if view.pay_link:
            bottom = max(bottom, self.qr(view.pay_link, top))
        pdf.set_y(bottom + 3)
        if view.in_words is not None:
            self.font(9, color=_MUTED)
            pdf.write(_LINE + 0.4, f"{view.in_words.label}: ")
            self.font(9)
            pdf.write(_LINE + 0.4, view.in_words.value)
            pdf.ln(_LINE + 2)

    def qr(self, url: str, top: float) -> float:
        """Draw the pay link's QR code at the left of the totals; return its bottom."""
        pdf = self.pdf
        code = segno.make(url, error="m")
        matrix = list(code.matrix)
        module = _QR_SIZE / len(matrix)
        pdf.set_fill_color(*_INK)
        for row_index, row in enumerate(matrix):
            for col_index, dark in enumerate(row):
                if dark:
                    pdf.rect(
                        _MARGIN + col_index * module,
                        top + row_index * module,
                        module,
                        module,
                        style="F",
                    )
        pdf.set_xy(_MARGIN, top + _QR_SIZE + 1)
        self.font(7.5, "B", _MUTED)
        pdf.cell(_QR_SIZE + 40, 3.6, self.view.captions.pay_link, new_x="LMARGIN", new_y="NEXT")
        self.font(6.5, color=_MUTED)
        pdf.set_x(_MARGIN)
        pdf.multi_cell(_QR_SIZE + 30, 3.2, url, align="L", new_x="LMARGIN", new_y="NEXT")
        return pdf.get_y()

    def notes(self) -> None:
        pdf = self.pdf
        for note in self.view.notes:
            pdf.ln(1)
            self.font(8.5, color=_MUTED)
            pdf.multi_cell(self.width, _LINE, note, align="L", new_x="LMARGIN", new_y="NEXT")

    def signatures(self) -> None:
        pdf, roles = self.pdf, self.view.signatures
        if not roles:
            return
        gap = 14.0
        width = (self.width - gap * (len(roles) - 1)) / len(roles)
        if pdf.get_y() + 26 > pdf.h - 16:
            pdf.add_page()
        top = pdf.get_y() + 10
        for i, role in enumerate(roles):
            x = _MARGIN + i * (width + gap)
            pdf.set_xy(x, top)
            self.font(9)
            pdf.cell(width, _LINE, role)
            pdf.set_draw_color(*_INK)
            pdf.line(x, top + 14, x + width, top + 14)
            pdf.set_xy(x, top + 15)
            self.font(7.5, color=_MUTED)
            pdf.cell(width, 3.6, self.view.captions.signature)
        pdf.set_y(top + 20)
