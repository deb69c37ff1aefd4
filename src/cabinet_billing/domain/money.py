"""Exact money: a validated, immutable :class:`Money` over py-moneyed, and all rounding.

Two precisions exist (SPEC M1):

* the *accrual* precision, 4 decimal places, for expenses and usage (``22.4137 RUB``);
* the currency's *minor unit* for invoices, payments and balances. Minor units come from
  the CLDR data shipped with babel (``babel.numbers.get_currency_precision``): 2 for EUR,
  0 for JPY, 3 for KWD. py-moneyed's own ``sub_unit`` table disagrees with CLDR for dozens
  of currencies and is not used.

All rounding in the library goes through :class:`Rounding`, whose mode is explicit
(default ``ROUND_HALF_UP``) and never taken from the ambient :mod:`decimal` context.

>>> from cabinet_billing import Money, Rounding
>>> price = Money("22.41365", "RUB")
>>> Rounding().accrual(price)
Money('22.4137', 'RUB')
>>> Rounding().minor(price)
Money('22.41', 'RUB')
>>> Money("10", "EUR") + Money("5", "USD")
Traceback (most recent call last):
...
cabinet_billing.errors.CurrencyMismatchError: amount is in USD, expected EUR
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Final, NoReturn, TypeAlias, overload

import attrs
import moneyed
from babel.numbers import get_currency_precision

from cabinet_billing.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    PrecisionError,
    UnknownCurrencyError,
)

__all__ = [
    "ACCRUAL_PLACES",
    "ROUNDING_MODES",
    "Amount",
    "Money",
    "Rounding",
    "currency_places",
    "sum_money",
    "to_decimal",
]

#: Decimal places of accruals: expenses and usage are kept to 1/10000 (SPEC M1).
ACCRUAL_PLACES: Final = 4

#: The rounding modes of :mod:`decimal`, accepted wherever a rounding mode is a setting.
ROUNDING_MODES: Final = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_05UP,
    },
)

#: What :class:`Money` and :func:`to_decimal` accept as an amount: never a float.
Amount: TypeAlias = Decimal | int | str

# Quantization exponents are built once: Decimal("1e-4") and friends.
_EXPONENTS: Final = {places: Decimal(1).scaleb(-places) for places in range(19)}

# Quantizing needs enough digits for very large amounts; 38 is what SQL NUMERIC allows.
_CONTEXT: Final = decimal.Context(
    prec=38,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def to_decimal(value: object) -> Decimal:
    """Turn a ``str``, ``int`` or ``Decimal`` into a finite ``Decimal``.

    Floats are refused: ``0.1`` has no exact decimal value, and a billing library that
    accepted one would round behind its user's back.

    Args:
        value: the amount to convert.

    Returns:
        The amount as a finite Decimal.

    Raises:
        InvalidAmountError: for a float, a bool, NaN, an infinity or unparsable text.

    >>> to_decimal("22.4137")
    Decimal('22.4137')
    >>> to_decimal(0.1)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidAmountError: invalid amount 0.1: floats are not exact; pass a str or Decimal such as '0.1'
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidAmountError(value, "a bool is not an amount")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace("_", ""))
        except decimal.InvalidOperation:
            raise InvalidAmountError(value, "not a decimal number") from None
    elif isinstance(value, float):
        raise InvalidAmountError(
            value,
            f"floats are not exact; pass a str or Decimal such as '{value!r}'",
        )
    else:
        raise InvalidAmountError(value, f"expected str, int or Decimal, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidAmountError(value, "only finite amounts are allowed")
    return result


@cache
def _currency(code: str) -> moneyed.Currency:
    try:
        return moneyed.get_currency(code.upper())
    except moneyed.CurrencyDoesNotExist:
        raise UnknownCurrencyError(code) from None


@cache
def _places(code: str) -> int:
    return int(get_currency_precision(code))


def currency_places(currency: str | moneyed.Currency) -> int:
    """The number of decimal places of a currency's minor unit, from CLDR (babel).

    >>> currency_places("EUR"), currency_places("JPY"), currency_places("KWD")
    (2, 0, 3)
    """
    code = currency.code if isinstance(currency, moneyed.Currency) else _currency(currency).code
    return _places(code)


class Money(moneyed.Money):
    """An exact, immutable amount of one currency.

    A :class:`moneyed.Money` that refuses floats, NaN and infinities, cannot be mutated
    (py-moneyed's own ``amount`` can be reassigned, which breaks its hash), raises
    :class:`~cabinet_billing.errors.CurrencyMismatchError` when currencies are mixed, and
    prints the same way in every process locale (``str()`` gives ``'22.4137 RUB'``; use
    :func:`cabinet_billing.format_money` for text a person reads).

    Args:
        amount: a ``str``, ``int`` or ``Decimal``.
        currency: an ISO 4217 code or a :class:`moneyed.Currency`.

    >>> Money("100.00", "RUB") * 3
    Money('300.00', 'RUB')
    >>> str(Money("1827.41", "EUR"))
    '1827.41 EUR'
    """

    __slots__ = ()

    def __init__(self, amount: object = 0, currency: str | moneyed.Currency | None = None) -> None:
        if currency is None:
            raise UnknownCurrencyError(None)
        cur = currency if isinstance(currency, moneyed.Currency) else _currency(currency)
        object.__setattr__(self, "amount", to_decimal(amount))
        object.__setattr__(self, "currency", cur)

    @classmethod
    def _make(cls, amount: Decimal, currency: moneyed.Currency) -> Money:
        # Fast path for results of arithmetic on values that were already validated.
        obj = object.__new__(cls)
        object.__setattr__(obj, "amount", amount)
        object.__setattr__(obj, "currency", currency)
        return obj

    @classmethod
    def zero(cls, currency: str | moneyed.Currency) -> Money:
        """Zero in a currency.

        >>> Money.zero("EUR")
        Money('0', 'EUR')
        """
        return cls(0, currency)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Money is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Money is immutable; cannot delete {name!r}")

    # Immutable: copies are the value itself.
    def __copy__(self) -> Money:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Money:
        return self

    def __reduce__(self) -> tuple[type[Money], tuple[str, str]]:
        return (type(self), (str(self.amount), self.currency.code))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else f"{format(self.amount, spec)} {self.currency.code}"

    @property
    def code(self) -> str:
        """The ISO 4217 code of the currency, e.g. ``'EUR'``."""
        return str(self.currency.code)

    def _check(self, other: moneyed.Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(other.currency.code, self.currency.code)

    def __add__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return Money._make(self.amount + other.amount, self.currency)
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            # Lets the builtin ``sum()`` start from 0.
            return self
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return Money._make(self.amount - other.amount, self.currency)
        return NotImplemented

    def __rsub__(self, other: object) -> Money:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return -self
        return NotImplemented

    def __neg__(self) -> Money:
        return Money._make(-self.amount, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money._make(abs(self.amount), self.currency)

    def __mul__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            raise TypeError("cannot multiply two Money amounts")
        return Money._make(_CONTEXT.multiply(self.amount, to_decimal(other)), self.currency)

    __rmul__ = __mul__

    # Narrower than py-moneyed's signature on purpose: floats are refused.
    @overload  # type: ignore[override]
    def __truediv__(self, other: moneyed.Money) -> Decimal: ...
    @overload
    def __truediv__(self, other: Decimal | int | str) -> Money: ...
    def __truediv__(self, other: object) -> Money | Decimal:
        if isinstance(other, moneyed.Money):
            self._check(other)
            if not other.amount:
                raise InvalidAmountError(str(other), "cannot divide by a zero amount")
            return _CONTEXT.divide(self.amount, other.amount)
        divisor = to_decimal(other)
        if not divisor:
            raise InvalidAmountError(other, "cannot divide an amount by zero")
        return Money._make(_CONTEXT.divide(self.amount, divisor), self.currency)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return bool(self.amount < other.amount)
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return bool(self.amount <= other.amount)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return bool(self.amount > other.amount)
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return bool(self.amount >= other.amount)
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, moneyed.Money)
            and self.amount == other.amount
            and self.currency == other.currency
        )

    def __hash__(self) -> int:
        return hash((self.amount, self.currency.code))

    def round(self, ndigits: int | None = 0) -> Money:
        """Refused: py-moneyed's ``round()`` uses the ambient decimal context.

        Use :class:`Rounding` instead, which names its mode.

        Raises:
            TypeError: always, naming the replacement.
        """
        del ndigits
        msg = "Money.round() is ambiguous; use Rounding().minor(m) or Rounding().quantize(m, n)"
        raise TypeError(msg)

    # ------------------------------------------------------------------ checks

    def places(self) -> int:
        """The number of decimal places this amount uses (trailing zeros do not count).

        >>> Money("10.500", "EUR").places(), Money("10", "JPY").places()
        (1, 0)
        """
        exponent = self.amount.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # noqa: S101 - finite by construction
        return max(-exponent, 0)

    def require_places(self, places: int | None = None) -> Money:
        """Return self if it has at most ``places`` decimals (default: the minor unit).

        Raises:
            PrecisionError: naming the amount and the allowed number of places.

        >>> Money("10.005", "EUR").require_places()
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.PrecisionError: invalid amount '10.005 EUR': at most 2 decimal place(s) allowed
        """
        allowed = currency_places(self.currency) if places is None else places
        if self.places() > allowed:
            raise PrecisionError(str(self), allowed)
        return self

    def require_positive(self) -> Money:
        """Return self if it is greater than zero.

        Raises:
            InvalidAmountError: for zero or a negative amount.
        """
        if self.amount <= 0:
            raise InvalidAmountError(str(self), "must be greater than zero")
        return self

    def require_non_negative(self) -> Money:
        """Return self if it is zero or more.

        Raises:
            InvalidAmountError: for a negative amount.
        """
        if self.amount < 0:
            raise InvalidAmountError(str(self), "must not be negative")
        return self

    def require_currency(self, *allowed: str) -> Money:
        """Return self if its currency is one of ``allowed``.

        Raises:
            CurrencyMismatchError: naming the currency and the allowed ones.

        >>> Money("5", "USD").require_currency("EUR", "RUB")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.CurrencyMismatchError: amount is in USD, expected EUR or RUB
        """
        if self.currency.code not in allowed:
            raise CurrencyMismatchError(self.currency.code, allowed)
        return self


def sum_money(amounts: Iterable[moneyed.Money], currency: str | None = None) -> Money:
    """Add amounts of one currency; an empty sum is zero in ``currency``.

    Args:
        amounts: the amounts to add.
        currency: the expected currency; required when ``amounts`` may be empty.

    Raises:
        CurrencyMismatchError: when the amounts are not all in one currency.
        ValueError: when ``amounts`` is empty and no currency is given.

    >>> sum_money([Money("1.10", "EUR"), Money("2.20", "EUR")])
    Money('3.30', 'EUR')
    >>> sum_money([], "EUR")
    Money('0', 'EUR')
    """
    total: Decimal | None = None
    cur: moneyed.Currency | None = _currency(currency) if currency is not None else None
    for m in amounts:
        if cur is None:
            cur = m.currency
        elif m.currency != cur:
            raise CurrencyMismatchError(m.currency.code, cur.code)
        total = m.amount if total is None else total + m.amount
    if cur is None:
        msg = "sum of no amounts needs a currency"
        raise ValueError(msg)
    return Money._make(Decimal(0) if total is None else total, cur)


def _check_mode(_instance: object, _attribute: object, value: str) -> None:
    if value not in ROUNDING_MODES:
        raise InvalidAmountError(
            value,
            f"unknown rounding mode; allowed: {', '.join(sorted(ROUNDING_MODES))}",
        )


@attrs.frozen
class Rounding:
    """How amounts are rounded: the mode and the accrual precision (SPEC M1).

    Args:
        mode: a :mod:`decimal` rounding mode (default ``ROUND_HALF_UP``).
        accrual_places: decimal places kept for expenses and usage (default 4).

    >>> from decimal import ROUND_HALF_EVEN
    >>> Rounding().minor(Money("0.125", "EUR"))
    Money('0.13', 'EUR')
    >>> Rounding(ROUND_HALF_EVEN).minor(Money("0.125", "EUR"))
    Money('0.12', 'EUR')
    >>> Rounding().minor(Money("1234.5", "JPY"))
    Money('1235', 'JPY')
    """

    mode: str = attrs.field(default=decimal.ROUND_HALF_UP, validator=_check_mode)
    accrual_places: int = attrs.field(
        default=ACCRUAL_PLACES,
        validator=[attrs.validators.ge(0), attrs.validators.le(18)],
    )

    def decimal(self, amount: Decimal, places: int) -> Decimal:
        """Round a bare Decimal to ``places`` decimal places with this mode."""
        return amount.quantize(_EXPONENTS[places], rounding=self.mode, context=_CONTEXT)

    def quantize(self, money: moneyed.Money, places: int) -> Money:
        """Round to ``places`` decimal places."""
        return Money._make(self.decimal(money.amount, places), money.currency)

    def minor(self, money: moneyed.Money) -> Money:
        """Round to the currency's minor unit (for invoices, payments, balances)."""
        return self.quantize(money, currency_places(money.currency))

    def accrual(self, money: moneyed.Money) -> Money:
        """Round to the accrual precision (for expenses and usage)."""
        return self.quantize(money, self.accrual_places)


#: The default rounding: half up, 4 accrual places.
HALF_UP: Final = Rounding()
