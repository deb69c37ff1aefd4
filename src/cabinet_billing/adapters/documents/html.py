r"""HTML documents: one self-contained page per document, from a Jinja2 template.

The template is autoescaped: a payer named ``<script>`` is printed as text. The page
needs nothing from the network: its style is inline and the pay link's QR code is an
inline SVG drawn by segno.

>>> from datetime import date
>>> from cabinet_billing import Invoice, Money, TaxRate
>>> from cabinet_billing.domain.invoice import InvoiceLine
>>> from cabinet_billing.domain.documents import ProviderRequisites
>>> invoice = Invoice.issue("i-1", "HOR-11111-007", "acc-1",
...     [InvoiceLine("Business <plan>", Money("1000.00", "UAH"))],
...     issued_on=date(2024, 3, 1), tax_rate=TaxRate("20"))
>>> page = HtmlRenderer(ProviderRequisites("Horoshop LLC")).render_invoice(invoice, "uk").decode()
>>> "<h1 data-role=\"title\">Рахунок № HOR-11111-007</h1>" in page, "Business &lt;plan&gt;" in page
(True, True)
"""

from __future__ import annotations

from functools import cache
from typing import Final

import attrs
import segno
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cabinet_billing.adapters.documents._base import ViewRenderer
from cabinet_billing.adapters.documents.view import DocumentView

__all__ = ["HtmlRenderer", "qr_svg"]

#: The statuses shown as "still to pay" and as "settled".
_OPEN: Final = frozenset({"unpaid", "partially_paid", "overdue"})
_CLOSED: Final = frozenset({"paid", "active"})


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("cabinet_billing.adapters.documents", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def qr_svg(url: str, *, scale: int = 3) -> str:
    """The QR code of a link as an inline SVG element.

    >>> qr_svg("https://pay.example.com/i/1").startswith("<svg")
    True
    """
    return str(segno.make(url, error="m").svg_inline(scale=scale, title=url))


def _status_class(key: str | None) -> str:
    if key in _OPEN:
        return "status-open"
    if key in _CLOSED:
        return "status-closed"
    return ""


@attrs.define(frozen=True, slots=False)
class HtmlRenderer(ViewRenderer):
    """Renders documents as self-contained HTML pages (UTF-8).

    Implements :class:`~cabinet_billing.ports.documents.DocumentRenderer`.

    Args:
        provider: the provider's requisites, printed on every document.
        date_format: the CLDR length of every date (default ``"long"``).
        words_languages: the languages whose documents show the total in words.
    """

    @property
    def media_type(self) -> str:
        """``text/html; charset=utf-8``."""
        return "text/html; charset=utf-8"

    def render_view(self, view: DocumentView) -> bytes:
        """The page of a composed view, as UTF-8 bytes."""
        qr = Markup(qr_svg(view.pay_link)) if view.pay_link else ""  # noqa: S704 - segno's own SVG
        page = (
            _environment()
            .get_template("document.html")
            .render(view=view, qr_svg=qr, status_class=_status_class(view.status_key))
        )
        return page.encode("utf-8")
