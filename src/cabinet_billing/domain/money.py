"""Exact money: a validated, immutable :class:`Money` over py-moneyed, and all rounding.

Two precisions exist (SPEC M1):

* the *accrual* precision, 4 decimal places, for expenses and usage (``22.4137 RUB``);
* the currency's *minor unit* for invoices, payments and balances. Minor units come from
  the CLDR data shipped with babel (``babel.numbers.get_currency_precision``): 2 for EUR,
  0 for JPY, 3 for KWD. py-moneyed's own ``sub_unit`` table disagrees with CLDR for dozens
  of currencies and is not used.

All rounding in the library goes through :class:`Rounding`, whose mode is explicit
(default ``ROUND_HALF_UP``) and never taken from the ambient :mod:`decimal` context.
Nothing else is either: every sum, difference, product, comparison and rounding of money
runs in the library's own context (:data:`MONEY_CONTEXT`, 200 significant digits), so a
host that lowers ``decimal.getcontext().prec`` or turns traps off changes nothing, and a
sum that could not be exact raises instead of rounding. An amount is at most what storage
holds, ``NUMERIC(38)`` with 4 decimal places: 34 integer digits (:data:`MAX_AMOUNT`).

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
import functools
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from decimal import Decimal
from functools import cache
from typing import Final, NoReturn, ParamSpec, TypeAlias, TypeVar, overload

import attrs
import moneyed
from babel.numbers import get_currency_precision

from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.errors import (
    AmountTooLargeError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidOperandError,
    PrecisionError,
    UnknownCurrencyError,
    ValidationError,
)

__all__ = [
    "ACCRUAL_PLACES",
    "MAX_AMOUNT",
    "MAX_DIGITS",
    "MAX_INTEGER_DIGITS",
    "MONEY_CONTEXT",
    "QUOTIENT_DIGITS",
    "ROUNDING_MODES",
    "Amount",
    "Money",
    "Rounding",
    "currency_places",
    "in_money_context",
    "money_context",
    "scaled",
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

#: Integer digits an amount may have: storage keeps amounts as ``NUMERIC(38)`` with 4
#: decimal places, which leaves 34 digits before the point.
MAX_INTEGER_DIGITS: Final = 34

#: The most significant digits (and decimal places) an amount may be given with.
MAX_DIGITS: Final = 100

#: Significant digits kept by a product or quotient of an amount (a price over the days
#: of a month, an amount at an exchange rate): far below any minor unit, and what the
#: inverse exchange rates carry (:data:`cabinet_billing.domain.fx.RATE_PRECISION`).
QUOTIENT_DIGITS: Final = 50

#: The decimal context all money arithmetic runs in, whatever the caller's context:
#: 200 significant digits (enough for any sum of amounts and quotients to be exact),
#: half-even for the results that cannot be exact, and invalid operations, division by
#: zero and overflow trapped. Functions computing on bare Decimals enter it with
#: :func:`in_money_context`.
MONEY_CONTEXT: Final = decimal.Context(
    prec=2 * MAX_DIGITS,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

# Sums and differences of amounts must be exact: rounding one would create or lose money.
_EXACT: Final = MONEY_CONTEXT.copy()
_EXACT.traps[decimal.Inexact] = True

# Products and quotients are rounded to QUOTIENT_DIGITS significant digits.
_PRODUCT: Final = MONEY_CONTEXT.copy()
_PRODUCT.prec = QUOTIENT_DIGITS

#: The largest amount storage holds: 34 nines, then 4 decimal nines.
MAX_AMOUNT: Final = _EXACT.subtract(_EXACT.scaleb(Decimal(1), MAX_INTEGER_DIGITS), Decimal("1e-4"))

# Quantization exponents are built once: Decimal("1e-4") and friends.
_EXPONENTS: Final = {places: _EXACT.scaleb(Decimal(1), -places) for places in range(19)}

# A decimal number as people and storage write it, ASCII digits only: no "1_000", no
# fullwidth digits, no "NaN" or "Infinity".
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NON_FINITE: Final = re.compile(r"[+-]?(?:s?nan[0-9]*|inf|infinity)", re.IGNORECASE)

# Decimal(float) keeps a float's binary fraction in full: 0.1 becomes a 55-digit number.
# A value of more than 25 significant digits that is exactly a float's came that way
# (amounts people write are short, and exact quotients are rarely binary fractions).
_FLOAT_DIGITS: Final = 25

# How much of a long refused value a message repeats.
_SHOWN: Final = 80

_P = ParamSpec("_P")
_R = TypeVar("_R")


def money_context() -> AbstractContextManager[decimal.Context]:
    """A context manager that runs the block in :data:`MONEY_CONTEXT`.

    >>> import decimal
    >>> with decimal.localcontext(prec=6):
    ...     with money_context():
    ...         Decimal("99999.99") - Decimal("1.00")
    Decimal('99998.99')
    """
    return decimal.localcontext(MONEY_CONTEXT)


def in_money_context(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a function so that its decimal arithmetic runs in :data:`MONEY_CONTEXT`.

    For functions that compute on bare ``Decimal`` amounts (fees, taxes, allocations):
    the caller's context, whatever its precision, rounding or traps, is not used.
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with decimal.localcontext(MONEY_CONTEXT):
            return func(*args, **kwargs)

    return wrapper


def _short_text(value: object) -> object:
    text = value if isinstance(value, str) else repr(value)
    return value if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def _in_range(value: object, amount: Decimal) -> Decimal:
    # ``adjusted()`` is the exponent of the leading digit: 34 means 35 integer digits.
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise AmountTooLargeError(value, MAX_INTEGER_DIGITS)
    return amount


def _parse(value: str) -> Decimal:
    text = value.strip()
    if _NUMBER.fullmatch(text) is None:
        if _NON_FINITE.fullmatch(text):
            raise InvalidAmountError(value, "only finite amounts are allowed")
        raise InvalidAmountError(
            _short_text(value),
            "not a decimal number: use ASCII digits with an optional sign and decimal "
            "point, such as '1000.00' (no '_', no other digits)",
        )
    # The pattern admits plain numbers only: the conversion is exact and cannot fail.
    return Decimal(text)


def _looks_like_float(amount: Decimal) -> bool:
    digits = amount.as_tuple().digits
    significant = len(digits)
    while significant and digits[significant - 1] == 0:
        significant -= 1
    if significant <= _FLOAT_DIGITS:
        return False
    as_float = float(amount)
    if as_float in {float("inf"), float("-inf")}:
        return False
    # create_decimal_from_float, not Decimal(float): the caller may trap FloatOperation.
    return MONEY_CONTEXT.compare(MONEY_CONTEXT.create_decimal_from_float(as_float), amount) == 0


def to_decimal(value: object) -> Decimal:
    """Turn a ``str``, ``int`` or ``Decimal`` into a finite ``Decimal``.

    Floats are refused: ``0.1`` has no exact decimal value, and a billing library that
    accepted one would round behind its user's back.

    Args:
        value: the amount to convert.

    Returns:
        The amount as a finite Decimal.

    Text is read strictly: ASCII digits, an optional sign, decimal point and exponent
    (``'1000.00'``, ``'-0.5'``, ``'1E+3'``); ``'1_000'``, fullwidth or other non-ASCII
    digits, ``'NaN'`` and ``'Infinity'`` are refused. The value is not rounded: what is
    given is what is kept.

    Raises:
        InvalidAmountError: for a float, a bool, NaN, an infinity, text that is not a
            plain decimal number, or more than
            :data:`MAX_DIGITS` significant digits or decimal places.

    >>> to_decimal("22.4137")
    Decimal('22.4137')
    >>> to_decimal(0.1)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidAmountError: invalid amount 0.1: floats are not exact; pass a str or Decimal such as '0.1'
    >>> to_decimal("1_000")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidAmountError: invalid amount '1_000': not a decimal number: use ASCII digits with an optional sign and decimal point, such as '1000.00' (no '_', no other digits)
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidAmountError(value, "a bool is not an amount")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        result = _parse(value)
    elif isinstance(value, float):
        raise InvalidAmountError(
            value,
            f"floats are not exact; pass a str or Decimal such as '{value!r}'",
        )
    else:
        raise InvalidAmountError(value, f"expected str, int or Decimal, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidAmountError(value, "only finite amounts are allowed")
    sign_digits_exponent = result.as_tuple()
    if (
        len(sign_digits_exponent.digits) > MAX_DIGITS
        or int(sign_digits_exponent.exponent) < -MAX_DIGITS
    ):
        raise InvalidAmountError(
            _short_text(value),
            f"at most {MAX_DIGITS} significant digits and decimal places are allowed",
        )
    return result


_CODE: Final = re.compile(r"[A-Za-z]{3}", re.ASCII)
_ZERO: Final = Decimal(0)


def _currency(code: object) -> moneyed.Currency:
    if not isinstance(code, str) or _CODE.fullmatch(code) is None:
        raise UnknownCurrencyError(code)
    return _known_currency(code.upper())


@cache
def _known_currency(code: str) -> moneyed.Currency:
    try:
        return moneyed.get_currency(code)
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


@shared_copies  # immutable: copies are the value itself
class Money(moneyed.Money):
    """An exact, immutable amount of one currency.

    A :class:`moneyed.Money` that refuses floats, NaN and infinities, amounts beyond
    :data:`MAX_AMOUNT`, cannot be mutated (py-moneyed's own ``amount`` can be reassigned,
    which breaks its hash), raises :class:`~cabinet_billing.errors.CurrencyMismatchError`
    when currencies are mixed and :class:`~cabinet_billing.errors.InvalidOperandError`
    when an amount meets a bare number (``Money + 1``), computes in
    :data:`MONEY_CONTEXT` whatever the caller's decimal context, and prints the same way
    in every process locale (``str()`` gives ``'22.4137 RUB'``; use
    :func:`cabinet_billing.format_money` for text a person reads).

    Args:
        amount: a ``str``, ``int`` or ``Decimal``.
        currency: an ISO 4217 code or a :class:`moneyed.Currency`.

    Raises:
        InvalidAmountError: for an amount :func:`to_decimal` refuses.
        AmountTooLargeError: for more than :data:`MAX_INTEGER_DIGITS` integer digits.
        UnknownCurrencyError: for anything but a known ISO 4217 code.

    >>> Money("100.00", "RUB") * 3
    Money('300.00', 'RUB')
    >>> str(Money("1827.41", "EUR"))
    '1827.41 EUR'
    >>> Money("10", 978)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.UnknownCurrencyError: unknown currency 978: expected an ISO 4217 code such as 'EUR'
    >>> Money("10.00", "EUR") + 1
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.InvalidOperandError: cannot add 1 (int) and Money('10.00', 'EUR'): add a Money amount in EUR instead
    """

    __slots__ = ()

    def __init__(self, amount: object = 0, currency: str | moneyed.Currency | None = None) -> None:
        cur = currency if isinstance(currency, moneyed.Currency) else _currency(currency)
        value = to_decimal(amount)
        object.__setattr__(self, "amount", _in_range(amount, value))
        object.__setattr__(self, "currency", cur)

    @classmethod
    def _make(cls, amount: Decimal, currency: moneyed.Currency) -> Money:
        # Fast path for results of arithmetic on values that were already validated;
        # only the size is checked: a result may grow beyond what storage holds.
        obj = object.__new__(cls)
        if amount.adjusted() >= MAX_INTEGER_DIGITS:
            raise AmountTooLargeError(f"{amount} {currency.code}", MAX_INTEGER_DIGITS)
        object.__setattr__(obj, "amount", amount)
        object.__setattr__(obj, "currency", currency)
        return obj

    @classmethod
    def of(cls, value: object) -> Money:
        """Take an amount a host hands over (a :class:`moneyed.Money`) into the library.

        Use it wherever an amount enters from outside. It refuses what :class:`Money`
        refuses, anything that is not a ``moneyed.Money``, and a ``moneyed.Money``
        backed by a float: ``moneyed.Money(Decimal(0.1), "EUR")`` holds the float's
        binary fraction in full (``0.1000000000000000055511151231257827...``). A value
        of more than 25 significant digits that is exactly a float's came that way.

        Raises:
            InvalidAmountError: for a float-backed amount, naming the float and what to
                pass instead, for one :class:`Money` refuses, or for something that is not
                an amount at all.

        >>> Money.of(moneyed.Money("10.00", "EUR"))
        Money('10.00', 'EUR')
        >>> Money.of(moneyed.Money(Decimal(0.1), "EUR"))
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.InvalidAmountError: invalid amount Decimal('0.1000000000000000055511151231257827021181583404541015625'): this amount was made from the float 0.1 and carries its binary error; pass a str or Decimal such as '0.1'
        """
        if isinstance(value, Money):
            return value
        if not isinstance(value, moneyed.Money):
            raise InvalidAmountError(
                _short_text(value),
                f"expected a Money amount such as Money('10.00', 'EUR'), got "
                f"{type(value).__name__}",
            )
        amount = value.amount
        if amount.is_finite() and _looks_like_float(amount):
            raise InvalidAmountError(
                amount,
                f"this amount was made from the float {float(amount)!r} and carries its "
                f"binary error; pass a str or Decimal such as '{float(amount)!r}'",
            )
        return cls(amount, value.currency)

    @classmethod
    def zero(cls, currency: str | moneyed.Currency) -> Money:
        """Zero in a currency.

        >>> Money.zero("EUR")
        Money('0', 'EUR')
        """
        cur = currency if isinstance(currency, moneyed.Currency) else _currency(currency)
        return cls._make(_ZERO, cur)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Money is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Money is immutable; cannot delete {name!r}")

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

    def _refused(self, operation: str, other: object) -> InvalidOperandError:
        return InvalidOperandError(operation, self, other)

    def _inexact(self, operation: str, other: moneyed.Money) -> InvalidAmountError:
        return InvalidAmountError(
            f"{self} {operation} {other.amount} {other.currency.code}",
            f"the exact result needs more than {MONEY_CONTEXT.prec} significant digits",
        )

    def __add__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            self._check(other)
            try:
                amount = _EXACT.add(self.amount, other.amount)
            except decimal.Inexact:
                raise self._inexact("+", other) from None
            return Money._make(amount, self.currency)
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            # Lets the builtin ``sum()`` start from 0.
            return self
        raise self._refused("add", other)

    __radd__ = __add__

    def __sub__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            self._check(other)
            try:
                amount = _EXACT.subtract(self.amount, other.amount)
            except decimal.Inexact:
                raise self._inexact("-", other) from None
            return Money._make(amount, self.currency)
        raise self._refused("subtract", other)

    def __rsub__(self, other: object) -> Money:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return -self
        raise self._refused("subtract from", other)

    def __neg__(self) -> Money:
        return Money._make(_EXACT.minus(self.amount), self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money._make(_EXACT.abs(self.amount), self.currency)

    def __mul__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            raise self._refused("multiply", other)
        if isinstance(other, Decimal | int | str):
            return Money._make(_PRODUCT.multiply(self.amount, to_decimal(other)), self.currency)
        if isinstance(other, float):
            to_decimal(other)  # names the float and what to pass instead
        raise self._refused("multiply", other)

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
            return _PRODUCT.divide(self.amount, other.amount)
        if not isinstance(other, Decimal | int | str | float):
            raise self._refused("divide", other)
        divisor = to_decimal(other)
        if not divisor:
            raise InvalidAmountError(other, "cannot divide an amount by zero")
        return Money._make(_PRODUCT.divide(self.amount, divisor), self.currency)

    def __rtruediv__(self, other: object) -> NoReturn:
        raise self._refused("divide", other)

    def __rmod__(self, other: object) -> NoReturn:
        raise self._refused("take the remainder of", other)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return MONEY_CONTEXT.compare(self.amount, other.amount) < 0
        raise self._refused("compare", other)

    def __le__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return MONEY_CONTEXT.compare(self.amount, other.amount) <= 0
        raise self._refused("compare", other)

    def __gt__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return MONEY_CONTEXT.compare(self.amount, other.amount) > 0
        raise self._refused("compare", other)

    def __ge__(self, other: object) -> bool:
        if isinstance(other, moneyed.Money):
            self._check(other)
            return MONEY_CONTEXT.compare(self.amount, other.amount) >= 0
        raise self._refused("compare", other)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, moneyed.Money)
            and self.currency == other.currency
            and MONEY_CONTEXT.compare(self.amount, other.amount) == 0
        )

    def __ne__(self, other: object) -> bool:
        return not self == other

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
        exponent = MONEY_CONTEXT.normalize(self.amount).as_tuple().exponent
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


def scaled(amount: Decimal, numerator: Decimal, denominator: Decimal) -> Decimal:
    """``amount * numerator / denominator`` on bare Decimals, as :class:`Money` computes it.

    The product and the quotient keep :data:`QUOTIENT_DIGITS` significant digits, like
    ``Money(amount, code) * numerator / denominator``, whatever the caller's context: for
    code that works on the amounts of one known currency and makes :class:`Money` at the
    end.

    >>> scaled(Decimal("638.71"), Decimal(10), Decimal(100))
    Decimal('63.871')
    """
    return _PRODUCT.divide(_PRODUCT.multiply(amount, numerator), denominator)


def sum_money(amounts: Iterable[moneyed.Money], currency: str | None = None) -> Money:
    """Add amounts of one currency; an empty sum is zero in ``currency``.

    Args:
        amounts: the amounts to add.
        currency: the expected currency; required when ``amounts`` may be empty.

    Raises:
        CurrencyMismatchError: when the amounts are not all in one currency.
        InvalidOperandError: for something that is not an amount.
        ValidationError: when ``amounts`` is empty and no currency is given.

    >>> sum_money([Money("1.10", "EUR"), Money("2.20", "EUR")])
    Money('3.30', 'EUR')
    >>> sum_money([], "EUR")
    Money('0', 'EUR')
    """
    total: Decimal | None = None
    cur: moneyed.Currency | None = _currency(currency) if currency is not None else None
    add = _EXACT.add
    try:
        for m in amounts:
            if not isinstance(m, moneyed.Money):
                raise InvalidOperandError("add", Money.zero(cur or "XXX"), m)
            if cur is None:
                cur = m.currency
            elif m.currency != cur:
                raise CurrencyMismatchError(m.currency.code, cur.code)
            total = m.amount if total is None else add(total, m.amount)
    except decimal.Inexact:
        raise InvalidAmountError(
            "a sum of amounts",
            f"the exact sum needs more than {MONEY_CONTEXT.prec} significant digits",
        ) from None
    if cur is None:
        raise ValidationError("currency", None, "a sum of no amounts needs a currency")
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
        return amount.quantize(_EXPONENTS[places], rounding=self.mode, context=MONEY_CONTEXT)

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
