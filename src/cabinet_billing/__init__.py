"""cabinet_billing: exact, typed billing for the customer cabinets of hosting, cloud and SaaS providers."""

from cabinet_billing.domain.money import Money, Rounding, currency_places, sum_money, to_decimal

__all__ = ["Money", "Rounding", "currency_places", "sum_money", "to_decimal"]
