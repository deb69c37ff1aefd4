"""Presets: the policies of the three cabinets this library is modelled on.

A preset is configuration only: every value below is an argument of a general rule, and
nothing else in the library knows these numbers. Use one as it is, or as a starting point
with :func:`attrs.evolve`.

* :data:`INTROSERV` - dedicated servers and VPS on a prepaid balance in several
  currencies; services renew from the balance at the end of their period; a notice when
  the balance falls below the customer's threshold.
* :data:`ASTRA_CLOUD` - a cloud on a billing panel: prices include 20% VAT, card payments
  cost 5% + 10.00 RUB (10.00 to 3000.00 RUB) with 10% cashback, orders are prorated to the
  1st, a credit limit with statements on the 1st, due on the 15th, blocked on the 30th,
  renewals attempted a day ahead (60 days for domains and SSL), autopayment capped at the
  forecast plus 10%.
* :data:`HOROSHOP` - a SaaS shop platform in UAH: invoices numbered ``HOR-11111-007``,
  pay links living 30 minutes, cards charged automatically on the invoice day after the
  first card payment, bank transfers matched by invoice number and amount, acts only
  through the e-document exchange.

>>> from cabinet_billing.rules.presets import ASTRA_CLOUD, PRESETS
>>> sorted(PRESETS)
['astra_cloud', 'horoshop', 'introserv']
>>> ASTRA_CLOUD.credit.due_day, ASTRA_CLOUD.credit.grace_days
(15, 15)
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs

from cabinet_billing.domain.documents import DocumentPolicy
from cabinet_billing.domain.fx import ExchangeRate
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.numbering import NumberFormat, check_per_account
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.tax import TaxMode, TaxPolicy, TaxRate
from cabinet_billing.errors import CurrencyMismatchError, NotFoundError
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.rules.proration import ProrationMethod, ProrationPolicy
from cabinet_billing.rules.renewal import RenewalPolicy

__all__ = [
    "ASTRA_CLOUD",
    "HOROSHOP",
    "INTROSERV",
    "PRESETS",
    "CabinetPreset",
    "MethodPreset",
    "preset",
]


@attrs.frozen
class MethodPreset:
    """A payment method a preset offers."""

    id: str
    name: str
    pricing: PaymentMethodPricing


@attrs.frozen(kw_only=True)
class CabinetPreset:
    """The policies of one kind of customer cabinet.

    Attributes:
        name: the preset's id.
        title: a human title.
        currency: the main currency.
        currencies: the currencies accounts may hold balances in.
        tax: taxes.
        methods: payment methods offered.
        proration: how new orders are priced until the alignment day.
        renewal: when auto-renewals are attempted and retried.
        credit: the credit terms, or ``None`` when the provider gives no credit.
        credit_limit: the limit a new credit line gets by default, in ``currency``.
        invoice_numbers: the invoice number template.
        invoice_prefix: its ``{prefix}``.
        service_code: its ``{service_code}`` for accounts without a code of their own.
        invoice_sequence_per_account: each account's invoices numbered from 1; the
            template must then have ``{service_code}`` or ``{account}``.
        invoice_due_days: days from issue to the due date.
        pay_link_lifetime: how long pay links live, or ``None`` for no pay links.
        card_autopay_on_invoice_day: charge a bound card on the day an invoice is issued.
        renewal_invoice_days: how many days before a paid period ends the billing run
            issues the invoice for the next one (``None``: it issues none ahead).
        apply_balance_to_open_invoices: pay open invoices from the balance when money
            arrives.
        documents: how acts are produced.
        low_balance_threshold: the default threshold of the low-balance notice, in
            ``currency``.
        autopay_markup_percent: the recommended autopayment cap over the forecast.
        card_verification: the amount charged and refunded to check a new card.
        pay_across_currencies: the balance in any currency pays at the current rate.
        exchange_rates: reference rates for simulations and demos (the preset's own
            scenario and population tools plug them in); an installation plugs its own
            rate feed as ``Ports(rates=...)``.

    Raises:
        PerAccountNumberingError: for a sequence per account with a template that does not
            tell accounts apart.
        CurrencyMismatchError: for a default threshold or credit limit in another
            currency than ``currency``.
    """

    name: str
    title: str
    currency: str
    currencies: tuple[str, ...]
    tax: TaxPolicy
    methods: tuple[MethodPreset, ...]
    proration: ProrationPolicy
    renewal: RenewalPolicy
    credit: CreditPolicy | None = None
    credit_limit: Money | None = None
    invoice_numbers: NumberFormat = attrs.field(factory=lambda: NumberFormat("{prefix}-{seq:06}"))
    invoice_prefix: str = "INV"
    service_code: str = ""
    invoice_sequence_per_account: bool = False
    invoice_due_days: int = 14
    pay_link_lifetime: timedelta | None = None
    card_autopay_on_invoice_day: bool = False
    renewal_invoice_days: int | None = None
    apply_balance_to_open_invoices: bool = True
    documents: DocumentPolicy = attrs.field(factory=DocumentPolicy)
    low_balance_threshold: Money | None = None
    autopay_markup_percent: Decimal = Decimal(10)
    card_verification: Money | None = None
    pay_across_currencies: bool = False
    exchange_rates: tuple[ExchangeRate, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_per_account(self.invoice_numbers, per_account=self.invoice_sequence_per_account)
        for name, amount in (
            ("low_balance_threshold", self.low_balance_threshold),
            ("credit_limit", self.credit_limit),
        ):
            if amount is not None and amount.code != self.currency:
                raise CurrencyMismatchError(
                    amount.code, self.currency, f"{name} {amount} of preset {self.name!r}"
                )


def _free(currency: str) -> PaymentMethodPricing:
    return PaymentMethodPricing(currency)


#: Introserv: prepaid balance in EUR, USD or UAH; renewal from the balance on the last
#: day of the paid period; a low-balance notice.
INTROSERV = CabinetPreset(
    name="introserv",
    title="Introserv (dedicated servers and VPS, prepaid balance)",
    currency="EUR",
    currencies=("EUR", "USD", "UAH"),
    tax=TaxPolicy(TaxMode.EXCLUSIVE, default=TaxRate("0", "no VAT")),
    methods=tuple(
        MethodPreset(method, title, _free(code))
        for method, title in (("card", "Bank card"), ("crypto", "Cryptocurrency"))
        for code in ("EUR", "USD", "UAH")
    ),
    proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
    renewal=RenewalPolicy(lead_days=0, lead_days_by_kind={}),
    invoice_prefix="IS",
    invoice_due_days=3,
    pay_link_lifetime=timedelta(days=3),
    low_balance_threshold=Money("20.00", "EUR"),
    pay_across_currencies=True,
    exchange_rates=(
        ExchangeRate("EUR", "USD", "1.08", date(2024, 1, 1)),
        ExchangeRate("EUR", "UAH", "42.50", date(2024, 1, 1)),
        ExchangeRate("USD", "UAH", "39.35", date(2024, 1, 1)),
    ),
)

#: Astra Cloud on a billing panel: VAT included, card fee and cashback, calendar
#: proration to the 1st, credit limit 1st / 15th / 30th, renewals a day ahead.
ASTRA_CLOUD = CabinetPreset(
    name="astra_cloud",
    title="Astra Cloud (cloud on a billing panel, credit limit, subscriptions)",
    currency="RUB",
    currencies=("RUB",),
    tax=TaxPolicy(TaxMode.INCLUSIVE, {"RU": TaxRate("20", "НДС")}, default=TaxRate("20", "НДС")),
    methods=(
        MethodPreset(
            "card",
            "Bank card",
            PaymentMethodPricing(
                "RUB",
                fee_percent="5",
                fixed_fee=Money("10.00", "RUB"),
                minimum=Money("10.00", "RUB"),
                maximum=Money("3000.00", "RUB"),
                cashback_percent="10",
            ),
        ),
        MethodPreset("bank_transfer", "Bank transfer", _free("RUB")),
    ),
    proration=ProrationPolicy(method=ProrationMethod.CALENDAR, alignment_day=1),
    renewal=RenewalPolicy(),
    credit=CreditPolicy(statement_day=1, due_day=15, grace_days=15),
    credit_limit=Money("400000.00", "RUB"),
    invoice_prefix="AC",
    invoice_due_days=15,
)

#: Horoshop: UAH, VAT included, numbered HOR-<service code>-<seq>, 30-minute pay links,
#: each month's invoice issued 5 days before the paid month ends (due on its last day) and
#: charged to the card on that day, bank transfers matched, acts via the e-document
#: exchange only.
HOROSHOP = CabinetPreset(
    name="horoshop",
    title="Horoshop (SaaS shop platform, card autopay, bank transfers)",
    currency="UAH",
    currencies=("UAH",),
    tax=TaxPolicy(TaxMode.INCLUSIVE, {"UA": TaxRate("20", "ПДВ")}, default=TaxRate("20", "ПДВ")),
    methods=(
        MethodPreset("card", "Card", _free("UAH")),
        MethodPreset("bank_transfer", "Bank transfer", _free("UAH")),
    ),
    proration=ProrationPolicy(method=ProrationMethod.ANNIVERSARY),
    renewal=RenewalPolicy(lead_days=0, lead_days_by_kind={}),
    invoice_numbers=NumberFormat("{prefix}-{service_code}-{seq:03}"),
    invoice_prefix="HOR",
    service_code="11111",
    invoice_sequence_per_account=True,
    invoice_due_days=5,
    pay_link_lifetime=timedelta(minutes=30),
    card_autopay_on_invoice_day=True,
    renewal_invoice_days=5,
    card_verification=Money("1.00", "UAH"),
    documents=DocumentPolicy(acts_require_exchange=True),
)

#: Every preset by name.
PRESETS: dict[str, CabinetPreset] = {p.name: p for p in (INTROSERV, ASTRA_CLOUD, HOROSHOP)}


def preset(name: str) -> CabinetPreset:
    """The preset with a name.

    Raises:
        NotFoundError: naming the known presets.

    >>> preset("horoshop").invoice_numbers.format(7, prefix="HOR", service_code="11111")
    'HOR-11111-007'
    """
    try:
        return PRESETS[name.lower().replace("-", "_")]
    except KeyError:
        raise NotFoundError(f"preset (known: {', '.join(sorted(PRESETS))})", name) from None
