"""cabinet_billing: exact, typed billing for the customer cabinets of hosting, cloud and SaaS providers.

The names below are the stable public API: the facade and its ports, the settings and
presets, the values a host passes in, the results it gets back and the errors it may
catch. Everything else is importable from its module (``cabinet_billing.domain.*``,
``cabinet_billing.rules.*``, ``cabinet_billing.adapters.*``) but not promised.

>>> import cabinet_billing
>>> len(cabinet_billing.__all__) <= 60
True
"""

from cabinet_billing.app.billing import Billing
from cabinet_billing.app.cabinet import Cabinet
from cabinet_billing.app.context import Ports
from cabinet_billing.app.results import (
    BindingResult,
    CallbackHandled,
    CheckoutStarted,
    CreditStatusView,
    InvoiceSettled,
    OrderResult,
    PayResult,
    StatementResult,
    TopUpNeeded,
)
from cabinet_billing.app.run import CycleSummary
from cabinet_billing.app.settings import BillingSettings, PaymentMethod
from cabinet_billing.domain.autopay import AutopayPolicy
from cabinet_billing.domain.cart import Cart, Order
from cabinet_billing.domain.catalog import Plan, ProductKind
from cabinet_billing.domain.customer import Account, PostalAddress
from cabinet_billing.domain.invoice import Invoice, InvoiceStatus
from cabinet_billing.domain.money import Money, Rounding
from cabinet_billing.domain.payer import Payer
from cabinet_billing.domain.payment import Payment, PaymentStatus
from cabinet_billing.domain.periods import Period, PeriodUnit
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.service import Service, ServiceStatus
from cabinet_billing.domain.tax import TaxMode, TaxPolicy, TaxRate
from cabinet_billing.errors import (
    AccessDeniedError,
    AmountOutOfRangeError,
    BillingError,
    ConflictError,
    CreditBlockedError,
    CurrencyMismatchError,
    GatewayError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidPayLinkError,
    InvalidTransitionError,
    InvalidWebhookError,
    NotFoundError,
    ProfileIncompleteError,
    ValidationError,
)
from cabinet_billing.l10n import format_money
from cabinet_billing.rules.credit_limit import CreditPolicy
from cabinet_billing.rules.matching import StatementLine
from cabinet_billing.rules.presets import CabinetPreset, preset
from cabinet_billing.rules.renewal import RenewalPolicy

__all__ = [
    "AccessDeniedError",
    "Account",
    "AmountOutOfRangeError",
    "AutopayPolicy",
    "Billing",
    "BillingError",
    "BillingSettings",
    "BindingResult",
    "Cabinet",
    "CabinetPreset",
    "CallbackHandled",
    "Cart",
    "CheckoutStarted",
    "ConflictError",
    "CreditBlockedError",
    "CreditPolicy",
    "CreditStatusView",
    "CurrencyMismatchError",
    "CycleSummary",
    "GatewayError",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvalidPayLinkError",
    "InvalidTransitionError",
    "InvalidWebhookError",
    "Invoice",
    "InvoiceSettled",
    "InvoiceStatus",
    "Money",
    "NotFoundError",
    "Order",
    "OrderResult",
    "PayResult",
    "Payer",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "Period",
    "PeriodUnit",
    "Plan",
    "Ports",
    "PostalAddress",
    "ProductKind",
    "ProfileIncompleteError",
    "RenewalPolicy",
    "Rounding",
    "SavedPaymentMethod",
    "Service",
    "ServiceStatus",
    "StatementLine",
    "StatementResult",
    "TaxMode",
    "TaxPolicy",
    "TaxRate",
    "TopUpNeeded",
    "ValidationError",
    "format_money",
    "preset",
]
