"""cabinet_billing: exact, typed billing for the customer cabinets of hosting, cloud and SaaS providers.

The names below are the stable public API. Everything else is importable from its module
but not promised.
"""

from cabinet_billing.domain.allocation import allocate, round_lines
from cabinet_billing.domain.money import Money, Rounding, currency_places, sum_money, to_decimal
from cabinet_billing.domain.periods import (
    BillingCycle,
    DateRange,
    Period,
    PeriodUnit,
    days_left,
    period_end,
)
from cabinet_billing.domain.tax import (
    TaxAmounts,
    TaxBreakdown,
    TaxMode,
    TaxPolicy,
    TaxRate,
    tax_amounts,
    tax_breakdown,
)
from cabinet_billing.errors import (
    AccessDeniedError,
    AmountOutOfRangeError,
    BillingError,
    ConflictError,
    CurrencyMismatchError,
    ExchangeRateNotFoundError,
    InvalidAmountError,
    InvalidTransitionError,
    LimitExceededError,
    NotFoundError,
    PrecisionError,
    ProfileIncompleteError,
    PromoCodeError,
    UnknownCurrencyError,
    ValidationError,
)

__all__ = [
    "AccessDeniedError",
    "AmountOutOfRangeError",
    "BillingCycle",
    "BillingError",
    "ConflictError",
    "CurrencyMismatchError",
    "DateRange",
    "ExchangeRateNotFoundError",
    "InvalidAmountError",
    "InvalidTransitionError",
    "LimitExceededError",
    "Money",
    "NotFoundError",
    "Period",
    "PeriodUnit",
    "PrecisionError",
    "ProfileIncompleteError",
    "PromoCodeError",
    "Rounding",
    "TaxAmounts",
    "TaxBreakdown",
    "TaxMode",
    "TaxPolicy",
    "TaxRate",
    "UnknownCurrencyError",
    "ValidationError",
    "allocate",
    "currency_places",
    "days_left",
    "period_end",
    "round_lines",
    "sum_money",
    "tax_amounts",
    "tax_breakdown",
    "to_decimal",
]
