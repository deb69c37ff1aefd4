"""Per-country validation of payer requisites: a pluggable registry (SPEC A4).

A :class:`RequisitesRegistry` maps ``(country, payer kind)`` to a validator, any callable
that takes a :class:`~cabinet_billing.domain.payer.Payer` and raises
:class:`~cabinet_billing.errors.ValidationError` naming the field and value it refuses.
:func:`default_registry` ships rules for Ukraine and Russia; a host registers its own
countries (or replaces a shipped rule) with :meth:`RequisitesRegistry.register`.

The check-digit functions are usable on their own:

>>> from cabinet_billing.rules.requisites import check_edrpou, check_iban, check_inn
>>> check_edrpou("32855961")
'32855961'
>>> check_inn("7707083894")
Traceback (most recent call last):
...
cabinet_billing.errors.ValidationError: inn='7707083894' is invalid: check digit(s) do not match; expected 10 digits ending in 3
>>> check_iban("UA21 3223 1300 0002 6007 2335 6600 1")
'UA213223130000026007233566001'

Every algorithm here is written out with the standard library (IBAN: ISO 13616 /
ISO 7064 MOD 97-10). The mod-11 and mod-13 check digits of EDRPOU, RNOKPP, INN, OGRN and
OGRNIP map two remainders to one digit (10 becomes 0, 11 becomes 1 ...), so those numbers
cannot detect every single-digit typo: when the check digit is one of those shared
digits, a typo that moves the remainder onto its twin goes unnoticed. IBANs catch every
single-digit typo, and so does the control key of a Russian bank account in the
account's own 20 digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.customer import check_country
from cabinet_billing.domain.payer import BankDetails, Payer, PayerKind, PayerValidator
from cabinet_billing.errors import ConflictError, ValidationError

__all__ = [
    "IBAN_LENGTHS",
    "RU_RULES",
    "UA_RULES",
    "NumberCheck",
    "RequisitesRegistry",
    "RequisitesRule",
    "check_edrpou",
    "check_iban",
    "check_inn",
    "check_kpp",
    "check_legal_entity_inn",
    "check_ogrn",
    "check_ogrnip",
    "check_personal_inn",
    "check_rnokpp",
    "check_ru_bank",
    "check_ru_bic",
    "check_ru_correspondent_account",
    "check_ru_settlement_account",
    "default_registry",
    "iban_bank",
]

#: A number check: takes the text and the field name, returns the normalized number or
#: raises ValidationError.
NumberCheck = Callable[[str, str], str]


def _digits(value: object, field: str, lengths: Sequence[int]) -> str:
    text = "".join(value.split()) if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) in lengths):
        allowed = " or ".join(str(n) for n in lengths)
        raise ValidationError(field, value, f"expected {allowed} digits")
    return text


def _mismatch(field: str, value: object, length: int, expected: str) -> ValidationError:
    return ValidationError(
        field,
        value,
        f"check digit(s) do not match; expected {length} digits ending in {expected}",
    )


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


# ----------------------------------------------------------------------------- Ukraine

_EDRPOU_LOW: Final = (1, 2, 3, 4, 5, 6, 7)
_EDRPOU_HIGH: Final = (7, 1, 2, 3, 4, 5, 6)
_RNOKPP: Final = (-1, 5, 7, 9, 4, 6, 10, 5, 7)


def _edrpou_check_digit(body: str) -> str:
    # Codes from 30000000 up to 60000000 use the shifted weights.
    weights = _EDRPOU_HIGH if body[0] in "345" else _EDRPOU_LOW
    remainder = _weighted(body, weights) % 11
    if remainder == 10:  # noqa: PLR2004 - a second pass with weights + 2, as the register does
        remainder = _weighted(body, [w + 2 for w in weights]) % 11 % 10
    return str(remainder)


def check_edrpou(value: object, field: str = "edrpou") -> str:
    """Check a Ukrainian EDRPOU code (legal entities): 8 digits, the last a check digit.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_edrpou("14360570")
    '14360570'
    """
    number = _digits(value, field, (8,))
    expected = _edrpou_check_digit(number[:7])
    if number[7] != expected:
        raise _mismatch(field, value, 8, expected)
    return number


def check_rnokpp(value: object, field: str = "rnokpp") -> str:
    """Check a Ukrainian RNOKPP (individual taxpayer number): 10 digits with a check digit.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_rnokpp("1759013776")
    '1759013776'
    """
    number = _digits(value, field, (10,))
    expected = str(_weighted(number, _RNOKPP) % 11 % 10)
    if number[9] != expected:
        raise _mismatch(field, value, 10, expected)
    return number


# ----------------------------------------------------------------------------- IBAN

#: IBAN lengths per country (ISO 13616 registry), checked when the country is listed.
#: A host may pass its own table to :func:`check_iban`.
IBAN_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "AT": 20,
        "BE": 16,
        "CH": 21,
        "CZ": 24,
        "DE": 22,
        "EE": 20,
        "ES": 24,
        "FI": 18,
        "FR": 27,
        "GB": 22,
        "IT": 27,
        "KZ": 20,
        "LT": 20,
        "LV": 21,
        "NL": 18,
        "PL": 28,
        "RU": 33,
        "UA": 29,
    },
)

_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def check_iban(
    value: object,
    field: str = "iban",
    *,
    country: str | None = None,
    lengths: Mapping[str, int] = IBAN_LENGTHS,
) -> str:
    """Check an IBAN: format, country length and the ISO 7064 MOD 97-10 check digits.

    Blanks are dropped and letters upper-cased. With ``country`` the IBAN must be from
    that country.

    Args:
        value: the IBAN as typed.
        field: the field name used in errors.
        country: the country the IBAN must belong to, or ``None`` for any.
        lengths: IBAN length per country; countries not listed only get the generic
            length check (15 to 34 characters).

    Returns:
        The IBAN without blanks, in upper case.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_iban("GB82 WEST 1234 5698 7654 32", country="UA")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: iban='GB82 WEST 1234 5698 7654 32' is invalid: expected an IBAN of UA, got one of GB
    """
    iban = "".join(value.split()).upper() if isinstance(value, str) else ""
    if not (iban.isascii() and _IBAN.fullmatch(iban)):
        raise ValidationError(
            field,
            value,
            "expected a country code, 2 check digits and up to 30 letters or digits, "
            "15 to 34 characters in all",
        )
    code = iban[:2]
    if country is not None and code != country.upper():
        raise ValidationError(
            field, value, f"expected an IBAN of {country.upper()}, got one of {code}"
        )
    expected_length = lengths.get(code)
    if expected_length is not None and len(iban) != expected_length:
        raise ValidationError(
            field,
            value,
            f"an IBAN of {code} has {expected_length} characters, got {len(iban)}",
        )
    # Letters count as 10..35; int(c, 36) does exactly that for digits and letters.
    rearranged = iban[4:] + iban[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise ValidationError(field, value, "the check digits do not match (ISO 7064 MOD 97-10)")
    return iban


def iban_bank(bank: BankDetails, field: str = "bank.iban", country: str | None = None) -> None:
    """Check the IBAN of ``bank`` if one is given.

    Raises:
        ValidationError: for a malformed IBAN.
    """
    if bank.iban:
        check_iban(bank.iban, field, country=country)


# ----------------------------------------------------------------------------- Russia

_INN_10: Final = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_11: Final = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_12: Final = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_KPP: Final = re.compile(r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}")
_ACCOUNT_WEIGHTS: Final = (7, 1, 3) * 8


def _inn(value: object, field: str, lengths: Sequence[int]) -> str:
    number = _digits(value, field, lengths)
    if len(number) == 10:  # noqa: PLR2004 - legal entities have 10 digits
        expected = str(_weighted(number, _INN_10) % 11 % 10)
    else:
        eleventh = str(_weighted(number, _INN_11) % 11 % 10)
        twelfth = str(_weighted(number[:10] + eleventh, _INN_12) % 11 % 10)
        expected = eleventh + twelfth
    if not number.endswith(expected):
        raise _mismatch(field, value, len(number), expected)
    return number


def check_inn(value: object, field: str = "inn") -> str:
    """Check a Russian INN: 10 digits (organisations) or 12 (persons) with check digits.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_inn("7707083893")
    '7707083893'
    """
    return _inn(value, field, (10, 12))


def check_legal_entity_inn(value: object, field: str = "inn") -> str:
    """Check the 10-digit INN of a Russian organisation.

    Raises:
        ValidationError: naming the field and the value.
    """
    return _inn(value, field, (10,))


def check_personal_inn(value: object, field: str = "inn") -> str:
    """Check the 12-digit INN of a Russian person or sole proprietor.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_personal_inn("7707083893")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: inn='7707083893' is invalid: expected 12 digits
    """
    return _inn(value, field, (12,))


def check_kpp(value: object, field: str = "kpp") -> str:
    """Check a Russian KPP: 4 digits, 2 digits or capital Latin letters, 3 digits.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_kpp("773601001")
    '773601001'
    """
    kpp = "".join(value.split()) if isinstance(value, str) else ""
    if not (kpp.isascii() and _KPP.fullmatch(kpp)):
        raise ValidationError(
            field,
            value,
            "expected 9 characters: 4 digits, 2 digits or capital letters A-Z, 3 digits",
        )
    return kpp


def check_ogrn(value: object, field: str = "ogrn") -> str:
    """Check a Russian OGRN: 13 digits, the last the first 12 modulo 11 (10 counts as 0).

    Raises:
        ValidationError: naming the field and the value.

    >>> check_ogrn("1027700132195")
    '1027700132195'
    """
    number = _digits(value, field, (13,))
    expected = str(int(number[:12]) % 11 % 10)
    if number[12] != expected:
        raise _mismatch(field, value, 13, expected)
    return number


def check_ogrnip(value: object, field: str = "ogrnip") -> str:
    """Check a Russian OGRNIP: 15 digits, the last the last digit of the first 14 mod 13.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_ogrnip("385768585948949")
    '385768585948949'
    """
    number = _digits(value, field, (15,))
    expected = str(int(number[:14]) % 13 % 10)
    if number[14] != expected:
        raise _mismatch(field, value, 15, expected)
    return number


def check_ru_bic(value: object, field: str = "bic") -> str:
    """Check a Russian bank identification code (BIK): 9 digits.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_ru_bic("044525225")
    '044525225'
    """
    return _digits(value, field, (9,))


def _account(value: object, field: str, key: str) -> str:
    account = _digits(value, field, (20,))
    # The central bank's key: weights 7, 1, 3 over the 3-digit prefix and the account.
    if _weighted(key + account, _ACCOUNT_WEIGHTS) % 10:
        raise ValidationError(
            field,
            value,
            f"the control key does not match the BIC (prefix {key}); check the account and the BIC",
        )
    return account


def check_ru_settlement_account(value: object, bic: str, field: str = "account") -> str:
    """Check a Russian settlement account: 20 digits whose control key fits the bank's BIC.

    The key is computed over the last 3 digits of the BIC followed by the account.

    Raises:
        ValidationError: naming the field and the value.
    """
    return _account(value, field, check_ru_bic(bic)[6:])


def check_ru_correspondent_account(
    value: object,
    bic: str,
    field: str = "correspondent_account",
) -> str:
    """Check a bank's correspondent account: 20 digits keyed by ``0`` + BIC digits 5-6.

    Raises:
        ValidationError: naming the field and the value.

    >>> check_ru_correspondent_account("30101810400000000225", "044525225")
    '30101810400000000225'
    """
    return _account(value, field, "0" + check_ru_bic(bic)[4:6])


def check_ru_bank(bank: BankDetails) -> None:
    """Check the Russian bank details of a payer: BIC, accounts keyed by it, any IBAN.

    An account needs a BIC to be checked against, so an account without a BIC is refused.

    Raises:
        ValidationError: naming the field and the value.
    """
    if bank.bic:
        check_ru_bic(bank.bic, "bank.bic")
    for field, number, check in (
        ("bank.account", bank.account, check_ru_settlement_account),
        ("bank.correspondent_account", bank.correspondent_account, check_ru_correspondent_account),
    ):
        if not number:
            continue
        if not bank.bic:
            raise ValidationError("bank.bic", bank.bic, f"is required to check {field}")
        check(number, bank.bic, field)
    iban_bank(bank)


# ----------------------------------------------------------------------------- rules


def _schemes(value: Mapping[str, NumberCheck]) -> Mapping[str, NumberCheck]:
    return MappingProxyType(dict(value))


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class RequisitesRule:
    """A country's requirements for one payer kind, as data.

    Args:
        tax_ids: the allowed tax id schemes and how each is checked; any other scheme is
            refused.
        required_tax_ids: schemes that must be present.
        require_passport: whether passport data must be given.
        require_bank: whether bank details must be given.
        require_signatory: whether a director and basis of authority must be given.
        bank_check: how bank details are checked when present.

    Calling the rule with a payer checks it.

    >>> rule = RequisitesRule(tax_ids={"edrpou": check_edrpou}, required_tax_ids=("edrpou",))
    >>> rule(Payer("p-1", PayerKind.LEGAL_ENTITY, "UA", "Lala limited"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: edrpou=None is invalid: required for a legal_entity in UA
    """

    tax_ids: Mapping[str, NumberCheck] = attrs.field(factory=dict, converter=_schemes)
    required_tax_ids: tuple[str, ...] = attrs.field(default=(), converter=_names)
    require_passport: bool = False
    require_bank: bool = False
    require_signatory: bool = False
    bank_check: Callable[[BankDetails], None] = iban_bank

    @required_tax_ids.validator
    def _check_required(self, _attribute: object, value: tuple[str, ...]) -> None:
        unknown = [s for s in value if s not in self.tax_ids]
        if unknown:
            raise ValidationError(
                "required_tax_ids",
                value,
                f"{', '.join(unknown)} not among the allowed schemes {', '.join(self.tax_ids)}",
            )

    def __call__(self, payer: Payer) -> None:
        """Check ``payer``; raise ValidationError naming the first unmet field."""
        where = f"for a {payer.kind.value} in {payer.country}"
        for tax_id in payer.tax_ids:
            check = self.tax_ids.get(tax_id.scheme)
            if check is None:
                allowed = ", ".join(self.tax_ids) or "none"
                raise ValidationError(
                    tax_id.scheme,
                    tax_id.value,
                    f"not a tax id {where}; allowed: {allowed}",
                )
            check(tax_id.value, tax_id.scheme)
        for scheme in self.required_tax_ids:
            if payer.tax_id(scheme) is None:
                raise ValidationError(scheme, None, f"required {where}")
        for field, present, required in (
            ("passport", payer.passport is not None, self.require_passport),
            ("bank", payer.bank is not None, self.require_bank),
            ("signatory", payer.signatory is not None, self.require_signatory),
        ):
            if required and not present:
                raise ValidationError(field, None, f"required {where}")
        if payer.bank is not None:
            self.bank_check(payer.bank)


#: Ukraine: legal entities need an EDRPOU code, sole proprietors an RNOKPP; a private
#: person's RNOKPP is optional. IBANs are checked when given.
UA_RULES: Final[Mapping[PayerKind, RequisitesRule]] = MappingProxyType(
    {
        PayerKind.LEGAL_ENTITY: RequisitesRule(
            tax_ids={"edrpou": check_edrpou},
            required_tax_ids=("edrpou",),
        ),
        PayerKind.SOLE_PROPRIETOR: RequisitesRule(
            tax_ids={"rnokpp": check_rnokpp},
            required_tax_ids=("rnokpp",),
        ),
        PayerKind.PRIVATE_PERSON: RequisitesRule(tax_ids={"rnokpp": check_rnokpp}),
    },
)

#: Russia: organisations need a 10-digit INN and a KPP (OGRN optional), sole
#: proprietors a 12-digit INN (OGRNIP optional), a private person's 12-digit INN is
#: optional. Bank details are checked with the BIC-based control key.
RU_RULES: Final[Mapping[PayerKind, RequisitesRule]] = MappingProxyType(
    {
        PayerKind.LEGAL_ENTITY: RequisitesRule(
            tax_ids={"inn": check_legal_entity_inn, "kpp": check_kpp, "ogrn": check_ogrn},
            required_tax_ids=("inn", "kpp"),
            bank_check=check_ru_bank,
        ),
        PayerKind.SOLE_PROPRIETOR: RequisitesRule(
            tax_ids={"inn": check_personal_inn, "ogrnip": check_ogrnip},
            required_tax_ids=("inn",),
            bank_check=check_ru_bank,
        ),
        PayerKind.PRIVATE_PERSON: RequisitesRule(
            tax_ids={"inn": check_personal_inn},
            bank_check=check_ru_bank,
        ),
    },
)


@attrs.define
class RequisitesRegistry:
    """Validators per ``(country, payer kind)``; a host extends it with its own countries.

    Args:
        strict: when true, a payer from a country without a registered validator is
            refused; otherwise it is accepted with only the checks every payer gets.

    >>> registry = default_registry()
    >>> def de_legal(payer: Payer) -> None:
    ...     if payer.tax_id("vat") is None:
    ...         raise ValidationError("vat", None, "required for a legal_entity in DE")
    >>> registry.register("DE", PayerKind.LEGAL_ENTITY, de_legal)
    >>> registry.validate(Payer("p-1", PayerKind.LEGAL_ENTITY, "DE", "Beispiel GmbH"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: vat=None is invalid: required for a legal_entity in DE
    """

    strict: bool = False
    _validators: dict[tuple[str, PayerKind], PayerValidator] = attrs.field(
        factory=dict,
        alias="validators",
    )

    def register(
        self,
        country: str,
        kind: PayerKind,
        validator: PayerValidator,
        *,
        replace: bool = False,
    ) -> None:
        """Register ``validator`` for payers of ``kind`` in ``country``.

        Raises:
            ConflictError: when one is registered already and ``replace`` is false.
            ValidationError: for an unknown country code.
        """
        key = (check_country(country), kind)
        if key in self._validators and not replace:
            raise ConflictError(
                f"requisites validator for {kind.value} in {key[0]}",
                "is already registered; pass replace=True to replace it",
            )
        self._validators[key] = validator

    def register_country(
        self,
        country: str,
        rules: Mapping[PayerKind, PayerValidator],
        *,
        replace: bool = False,
    ) -> None:
        """Register one validator per payer kind for ``country``.

        Raises:
            ConflictError: when any is registered already and ``replace`` is false;
                nothing is registered then.
        """
        code = check_country(country)
        clashes = [k.value for k in rules if (code, k) in self._validators]
        if clashes and not replace:
            raise ConflictError(
                f"requisites validators for {', '.join(clashes)} in {code}",
                "are already registered; pass replace=True to replace them",
            )
        for kind, validator in rules.items():
            self._validators[code, kind] = validator

    def validator_for(self, country: str, kind: PayerKind) -> PayerValidator | None:
        """The validator for ``kind`` in ``country``, or ``None``."""
        return self._validators.get((country.upper(), kind))

    def countries(self) -> tuple[str, ...]:
        """The countries with at least one validator, sorted."""
        return tuple(sorted({country for country, _ in self._validators}))

    def validate(self, payer: Payer) -> None:
        """Check ``payer`` with the validator of its country and kind.

        Raises:
            ValidationError: from the validator, or when ``strict`` and none is registered.
        """
        validator = self.validator_for(payer.country, payer.kind)
        if validator is not None:
            validator(payer)
        elif self.strict:
            raise ValidationError(
                "country",
                payer.country,
                f"no requisites rules for a {payer.kind.value} there; "
                f"known countries: {', '.join(self.countries()) or 'none'}",
            )


def default_registry(*, strict: bool = False) -> RequisitesRegistry:
    """A new registry with the shipped rules for Ukraine and Russia.

    Each call returns a fresh registry, so registering a host's countries never leaks
    into another registry.

    >>> default_registry().countries()
    ('RU', 'UA')
    """
    registry = RequisitesRegistry(strict=strict)
    registry.register_country("UA", UA_RULES)
    registry.register_country("RU", RU_RULES)
    return registry
