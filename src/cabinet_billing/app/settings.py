"""The settings of a billing installation: taxes, numbering, payment methods, policies.

Every number of the seed cabinets is a default here or a preset elsewhere, never a
constant in the use cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from cabinet_billing.app import checks
from cabinet_billing.domain.catalog import Catalog
from cabinet_billing.domain.customer import PaymentRequirements
from cabinet_billing.domain.documents import DocumentPolicy
from cabinet_billing.domain.money import HALF_UP, Money, Rounding
from cabinet_billing.domain.notifications import DEFAULT_MANDATORY, MandatoryNotices
from cabinet_billing.domain.numbering import NumberFormat, check_per_account
from cabinet_billing.domain.outbox import DeliveryPolicy
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkPolicy, PayLinkSigner
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.domain.promo import PromoCode
from cabinet_billing.domain.security import LOGINS_KEPT, ScryptParams
from cabinet_billing.domain.support import TicketPolicy
from cabinet_billing.domain.tax import TaxMode, TaxPolicy, TaxRate
from cabinet_billing.errors import NotFoundError, ValidationError
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.rules.presets import CabinetPreset
from cabinet_billing.rules.proration import ProrationPolicy
from cabinet_billing.rules.reminders import NO_REMINDERS, InvoiceReminders
from cabinet_billing.rules.renewal import RenewalPolicy
from cabinet_billing.rules.requisites import RequisitesRegistry, default_registry

__all__ = ["BillingSettings", "PaymentMethod"]


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValidationError(attribute.name, value, "must not be empty")


@attrs.frozen
class PaymentMethod:
    """A way to pay that the provider offers: an id, a name and its pricing.

    Args:
        id: the method's id (``"card"``, ``"bank_transfer"`` ...).
        name: what the customer sees.
        pricing: fee, accepted range and cashback, in one currency.
    """

    id: str = attrs.field(validator=_check_id)
    name: str
    pricing: PaymentMethodPricing

    @property
    def currency(self) -> str:
        """The currency the method takes."""
        return self.pricing.currency

    def accepts(self, amount: Money) -> bool:
        """Whether the method can take this amount (currency and range)."""
        if amount.code != self.currency:
            return False
        low, high = self.pricing.minimum, self.pricing.maximum
        return (low is None or amount >= low) and (high is None or amount <= high)


def _methods(value: Iterable[PaymentMethod]) -> tuple[PaymentMethod, ...]:
    methods = checks.items(
        "payment_methods", value, PaymentMethod, "PaymentMethod(id, name, pricing)", maximum=1000
    )
    seen: set[tuple[str, str]] = set()
    for m in methods:
        if (m.id, m.currency) in seen:
            raise ValidationError("payment_methods", m.id, f"listed twice for {m.currency}")
        seen.add((m.id, m.currency))
    return methods


def _promo_codes(value: Iterable[PromoCode]) -> tuple[PromoCode, ...]:
    return tuple(value)


def _currencies(value: Iterable[str]) -> tuple[str, ...]:
    codes = checks.items("currencies", value, str, "ISO 4217 codes such as 'EUR'", maximum=400)
    return tuple(checks.currency(f"currencies[{i}]", code) for i, code in enumerate(codes))


def _non_negative(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValidationError(attribute.name, value, "must be 0 or more")


@attrs.frozen
class BillingSettings:
    """How one provider bills.

    Args:
        tax: whether prices include tax, and the rate per country.
        rounding: the rounding mode for amounts in the minor unit.
        invoice_numbers: the invoice number template.
        invoice_prefix: the ``{prefix}`` of invoice numbers.
        invoice_due_days: days from issue to the due date of order and renewal invoices.
        payment_methods: the methods offered, each in one currency.
        payment_requirements: the profile fields needed before paying (SPEC A2).
        apply_balance_to_open_invoices: pay open invoices from the balance, oldest first,
            as soon as money arrives.
        partial_from_balance: let the balance pay part of an invoice it cannot cover
            fully (otherwise it pays only invoices it covers in full); with
            ``pay_across_currencies``, the other currencies pay their part converted.
        open_on_payment: start opening a service as soon as its order is paid.
        pay_links: the signer of pay links, or ``None`` to offer none.
        documents: how acts are produced (e.g. only while the e-document exchange is on).
        act_numbers: the template of act numbers.
        contract_numbers: the template of contract numbers.
        credit_note_numbers: the template of credit note numbers (one sequence for all).
        advance_invoice_numbers: the template of the numbers of top-ups' advance-payment
            invoices (their own sequence, so that the invoice sequence stays gapless).
        service_code: the ``{service_code}`` of invoice numbers for accounts that have none
            of their own (see ``AccountSettings.service_code``).
        invoice_sequence_per_account: number each account's invoices from 1 (with its
            service code in the number), instead of one sequence for all accounts; the
            number template must then have ``{service_code}`` or ``{account}``
            (PerAccountNumberingError otherwise).
        proration: how new orders are priced until the alignment day.
        catalog: the plans the cabinet sells; when set, every order is priced from it
            and a plan it does not sell is refused (``None``: the plans in the order).
        promo_codes: the promo codes the cabinet accepts; an order with any other code
            is refused.
        limit_count_max_age_days: how old a count of a capped plan metric may be before
            the cabinet flags it stale (counts are refreshed daily: 1).
        renewal: when automatic renewals are attempted and retried.
        credit: the credit terms, or ``None`` when no credit is given.
        card_autopay_on_invoice_day: charge a bound card on the day an invoice is issued.
        renewal_invoice_days: the billing run issues every paid service's invoice for its
            next period this many days before the paid period ends (Horoshop's monthly
            invoice, paid by card autopay or bank transfer); ``None``: renewal invoices are
            issued only by a renewal (by hand or automatic).
        bank_transfer_method: the method id bank transfers are recorded under.
        pay_across_currencies: let the balance in any currency pay, at the day's rate of
            the exchange-rate port, what the balance in the amount's currency does not
            cover; each conversion is booked (Introserv). Without a rate for a pair, that
            currency does not pay; without a rate port at all the billing is not built
            (MissingPortError).
        credit_limit: the limit a credit line gets when opened without one.
        low_balance_threshold: the low-balance threshold of new accounts that set none.
        autopay_markup_percent: the recommended autopayment cap over the forecast.
        currencies: the currencies an account may hold balances in (empty: any).
        card_verification: the amount charged and refunded to check a card; one unit of
            the account's currency when unset or in another currency.
        code_word_hashing: the scrypt cost of code word hashes (no cheaper than the scrypt
            paper's interactive setting, which is the default).
        logins_kept: how many recent logins each account remembers.
        tickets: the support departments and what a ticket message may carry
            (attachments, length, whether a reply reopens a closed ticket).
        mandatory_notices: the notifications that go out whatever a customer chose
            (the cells of the matrix a user cannot switch off).
        notification_delivery: how a notification the notifier failed to take is tried
            again (see docs/notifications.md).
        invoice_reminders: when the billing run reminds of an unpaid ordinary invoice
            (days after issue, before and after the due date; Horoshop's payment
            reminders); none by default.
        transient_retries: how many more times the billing run tries an account whose
            unit of work failed on a transient storage error (a deadlock, a serialization
            failure, a lost connection) before it reports the account as failed.
        requisites: the per-country checks a payer's requisites pass before it is kept
            (default: the shipped rules for Ukraine and Russia).
    """

    tax: TaxPolicy = attrs.field(
        factory=lambda: TaxPolicy(TaxMode.INCLUSIVE, default=TaxRate("0", "no tax")),
    )
    rounding: Rounding = HALF_UP
    invoice_numbers: NumberFormat = attrs.field(factory=lambda: NumberFormat("{prefix}-{seq:06}"))
    invoice_prefix: str = "INV"
    invoice_due_days: int = attrs.field(default=14, validator=_non_negative)
    payment_methods: tuple[PaymentMethod, ...] = attrs.field(default=(), converter=_methods)
    payment_requirements: PaymentRequirements = attrs.field(factory=PaymentRequirements)
    apply_balance_to_open_invoices: bool = True
    partial_from_balance: bool = False
    open_on_payment: bool = True
    pay_links: PayLinkSigner | None = None
    documents: DocumentPolicy = attrs.field(factory=DocumentPolicy)
    act_numbers: NumberFormat = attrs.field(
        factory=lambda: NumberFormat("A-{year}{month:02}-{seq:05}")
    )
    contract_numbers: NumberFormat = attrs.field(factory=lambda: NumberFormat("C-{year}-{seq:05}"))
    credit_note_numbers: NumberFormat = attrs.field(
        factory=lambda: NumberFormat("CN-{year}-{seq:05}")
    )
    advance_invoice_numbers: NumberFormat = attrs.field(
        factory=lambda: NumberFormat("AV-{year}-{seq:05}")
    )
    service_code: str = ""
    invoice_sequence_per_account: bool = attrs.field(default=False)
    proration: ProrationPolicy = attrs.field(factory=ProrationPolicy)
    catalog: Catalog | None = None
    promo_codes: tuple[PromoCode, ...] = attrs.field(default=(), converter=_promo_codes)
    limit_count_max_age_days: int = attrs.field(default=1, validator=_non_negative)
    renewal: RenewalPolicy = attrs.field(factory=RenewalPolicy)
    credit: CreditPolicy | None = None
    card_autopay_on_invoice_day: bool = False
    renewal_invoice_days: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative)
    )
    bank_transfer_method: str = "bank_transfer"
    pay_across_currencies: bool = False
    credit_limit: Money | None = None
    low_balance_threshold: Money | None = None
    autopay_markup_percent: Decimal = Decimal(10)
    currencies: tuple[str, ...] = attrs.field(default=(), converter=_currencies)
    card_verification: Money | None = None
    code_word_hashing: ScryptParams = attrs.field(factory=ScryptParams)
    logins_kept: int = attrs.field(default=LOGINS_KEPT)
    tickets: TicketPolicy = attrs.field(factory=TicketPolicy)
    mandatory_notices: MandatoryNotices = DEFAULT_MANDATORY
    notification_delivery: DeliveryPolicy = attrs.field(factory=DeliveryPolicy)
    invoice_reminders: InvoiceReminders = attrs.field(default=NO_REMINDERS)
    transient_retries: int = attrs.field(default=3, validator=_non_negative)
    # A registry is mutable (a host registers its countries): left out of equality.
    requisites: RequisitesRegistry = attrs.field(factory=default_registry, eq=False)

    @invoice_reminders.validator
    def _check_reminders(self, attribute: attrs.Attribute[object], value: object) -> None:
        if not isinstance(value, InvoiceReminders):
            raise ValidationError(
                attribute.name,
                value,
                "expected an InvoiceReminders(after_issue=, before_due=, after_due=)",
            )

    @invoice_sequence_per_account.validator
    def _check_per_account(self, _attribute: object, value: bool) -> None:
        # A sequence per account with a template that does not tell accounts apart gives
        # every account's first invoice the same number.
        check_per_account(self.invoice_numbers, per_account=value)

    @code_word_hashing.validator
    def _check_code_word_hashing(self, _attribute: object, value: object) -> None:
        if not isinstance(value, ScryptParams):
            raise ValidationError(
                "code_word_hashing", value, "expected ScryptParams(n=..., r=..., p=...)"
            )

    @logins_kept.validator
    def _check_logins_kept(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError("logins_kept", value, "must be an integer of at least 1")

    @classmethod
    def from_preset(
        cls,
        preset: CabinetPreset,
        *,
        pay_link_keys: PayLinkKeys | None = None,
    ) -> BillingSettings:
        """The settings of a preset (see :mod:`cabinet_billing.rules.presets`).

        Args:
            preset: the preset.
            pay_link_keys: the keys pay links are signed with; without them the
                installation offers no pay links even if the preset does.

        >>> from cabinet_billing.rules.presets import HOROSHOP
        >>> settings = BillingSettings.from_preset(HOROSHOP)
        >>> settings.invoice_numbers.format(7, prefix=settings.invoice_prefix,
        ...                                 service_code=settings.service_code)
        'HOR-11111-007'
        """
        signer = None
        if pay_link_keys is not None and preset.pay_link_lifetime is not None:
            signer = PayLinkSigner(pay_link_keys, PayLinkPolicy(preset.pay_link_lifetime))
        return cls(
            tax=preset.tax,
            invoice_numbers=preset.invoice_numbers,
            invoice_prefix=preset.invoice_prefix,
            service_code=preset.service_code,
            invoice_sequence_per_account=preset.invoice_sequence_per_account,
            invoice_due_days=preset.invoice_due_days,
            payment_methods=tuple(PaymentMethod(m.id, m.name, m.pricing) for m in preset.methods),
            apply_balance_to_open_invoices=preset.apply_balance_to_open_invoices,
            pay_links=signer,
            documents=preset.documents,
            proration=preset.proration,
            renewal=preset.renewal,
            credit=preset.credit,
            card_autopay_on_invoice_day=preset.card_autopay_on_invoice_day,
            renewal_invoice_days=preset.renewal_invoice_days,
            credit_limit=preset.credit_limit,
            low_balance_threshold=preset.low_balance_threshold,
            autopay_markup_percent=preset.autopay_markup_percent,
            currencies=preset.currencies,
            card_verification=preset.card_verification,
            pay_across_currencies=preset.pay_across_currencies,
        )

    def method(self, method_id: str, currency: str) -> PaymentMethod:
        """The method with an id in a currency.

        Raises:
            NotFoundError: naming the methods offered in that currency.
        """
        for m in self.payment_methods:
            if m.id == method_id and m.currency == currency.upper():
                return m
        offered = [m.id for m in self.payment_methods if m.currency == currency.upper()]
        raise NotFoundError(
            f"payment method in {currency.upper()} (offered: {', '.join(offered) or 'none'})",
            method_id,
        )

    def methods_for(self, amount: Money) -> tuple[PaymentMethod, ...]:
        """The methods that can take an amount."""
        return tuple(m for m in self.payment_methods if m.accepts(amount))
