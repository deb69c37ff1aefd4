"""Documents people download: invoices, quotes, acts, statements and contracts as HTML and PDF.

Needs the ``documents`` extra (``pip install 'cabinet_billing[documents]'``): Jinja2 for
HTML, fpdf2 for PDF, segno for the pay link's QR code and num2words for totals in words.

>>> from cabinet_billing.adapters.documents import HtmlRenderer, PdfRenderer
>>> HtmlRenderer.__name__, PdfRenderer.__name__
('HtmlRenderer', 'PdfRenderer')
"""

from __future__ import annotations

from cabinet_billing.errors import MissingExtraError

try:
    from cabinet_billing.adapters.documents.html import HtmlRenderer, qr_svg
    from cabinet_billing.adapters.documents.pdf import PdfRenderer
    from cabinet_billing.adapters.documents.view import (
        WORDS_LANGUAGES,
        Captions,
        Composer,
        DocumentView,
        Field,
        LinesTable,
        Party,
        amount_in_words,
    )
except ModuleNotFoundError as missing:  # pragma: no cover - without the extra installed
    raise MissingExtraError("documents", str(missing.name), "HTML and PDF documents") from missing

__all__ = [
    "WORDS_LANGUAGES",
    "Captions",
    "Composer",
    "DocumentView",
    "Field",
    "HtmlRenderer",
    "LinesTable",
    "Party",
    "PdfRenderer",
    "amount_in_words",
    "qr_svg",
]
