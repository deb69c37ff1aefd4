"""The ``cabinet-billing`` command.

``cabinet-billing demo`` prices a cloud order the way a customer cabinet shows it: the
monthly configuration prorated to the first of next month, the tax added, the payment
method's fee and cashback, rendered in the four bundled locales.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from cabinet_billing.domain.money import Money
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.tax import TaxAmounts, TaxMode, TaxRate, tax_amounts
from cabinet_billing.l10n import SUPPORTED_LOCALES, format_date, format_money
from cabinet_billing.rules.proration import ProratedPrice, ProrationPolicy

__all__ = ["main", "render_demo"]

_LABELS = {
    "en": ("Order on", "Monthly price", "Now (until {until})", "Tax", "Fee", "To pay", "Cashback"),
    "de": (
        "Bestellt am",
        "Monatspreis",
        "Jetzt (bis {until})",
        "Steuer",
        "Gebühr",
        "Zu zahlen",
        "Cashback",
    ),
    "ru": (
        "Заказ от",
        "Цена в месяц",
        "Сейчас (до {until})",
        "Налог",
        "Комиссия",
        "К оплате",
        "Кешбэк",
    ),
    "uk": (
        "Замовлення від",
        "Ціна за місяць",
        "Зараз (до {until})",
        "Податок",
        "Комісія",
        "До сплати",
        "Кешбек",
    ),
}


def _demo_figures(ordered_on: date) -> tuple[ProratedPrice, TaxAmounts, PaymentMethodPricing]:
    monthly = Money("660.00", "RUB")
    prorated = ProrationPolicy(alignment_day=1).prorate(monthly, "month", ordered_on)
    taxed = tax_amounts(prorated.now, TaxRate("10", "VAT"), TaxMode.EXCLUSIVE)
    card = PaymentMethodPricing(
        "RUB",
        fee_percent="5",
        fixed_fee=Money("10.00", "RUB"),
        minimum=Money("10.00", "RUB"),
        maximum=Money("3000.00", "RUB"),
        cashback_percent="10",
    )
    return prorated, taxed, card


def render_demo(
    ordered_on: date = date(2023, 5, 2), locales: Sequence[str] = SUPPORTED_LOCALES
) -> str:
    """The demo's text: one cart line priced and shown in each locale.

    >>> print(render_demo(locales=["en"]))
    [en]
      Order on                 May 2, 2023
      Monthly price            RUB660.00
      Now (until Jun 1, 2023)  RUB638.71
      Tax                      RUB63.87
      Fee                      RUB45.13
      To pay                   RUB747.71
      Cashback                 RUB74.77
    """
    prorated, taxed, card = _demo_figures(ordered_on)
    quote = card.quote(taxed.gross)
    blocks = []
    for locale in locales:
        order, monthly, now, tax, fee, total, cashback = _LABELS.get(locale, _LABELS["en"])
        until = format_date(prorated.paid_until, locale, "medium")
        rows = [
            (order, format_date(ordered_on, locale, "long")),
            (monthly, format_money(prorated.then, locale)),
            (now.format(until=until), format_money(prorated.now, locale)),
            (tax, format_money(taxed.tax, locale)),
            (fee, format_money(quote.fee, locale)),
            (total, format_money(quote.total, locale)),
            (cashback, format_money(quote.cashback, locale)),
        ]
        width = max(len(label) for label, _ in rows) + 2
        lines = [f"[{locale}]"] + [f"  {label:<{width}}{value}" for label, value in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="cabinet-billing", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="price a cloud order and show it in four locales")
    demo.add_argument(
        "--ordered-on",
        type=date.fromisoformat,
        default=date(2023, 5, 2),
        help="the order date (YYYY-MM-DD); default 2023-05-02",
    )
    demo.add_argument(
        "--locale",
        action="append",
        choices=SUPPORTED_LOCALES,
        help="show only this locale (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(render_demo(args.ordered_on, args.locale or SUPPORTED_LOCALES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
