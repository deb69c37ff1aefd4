from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from cabinet_billing import ConflictError, ValidationError
from cabinet_billing.domain.payer import (
    BankDetails,
    Passport,
    Payer,
    PayerBook,
    PayerKind,
    Signatory,
    TaxId,
)
from cabinet_billing.rules.requisites import (
    IBAN_LENGTHS,
    RU_RULES,
    UA_RULES,
    RequisitesRegistry,
    RequisitesRule,
    check_edrpou,
    check_iban,
    check_inn,
    check_kpp,
    check_legal_entity_inn,
    check_ogrn,
    check_ogrnip,
    check_personal_inn,
    check_rnokpp,
    check_ru_bic,
    check_ru_correspondent_account,
    check_ru_settlement_account,
    default_registry,
)

pytestmark = pytest.mark.spec("A4")

# Real, public requisites: Sberbank (RU), PrivatBank (UA) and standard examples.
SBER_INN = "7707083893"
SBER_KPP = "773601001"
SBER_OGRN = "1027700132195"
SBER_BIC = "044525225"
SBER_CORRESPONDENT = "30101810400000000225"
SETTLEMENT = "40702810938000000001"  # the 9th digit is the control key for SBER_BIC
UA_IBAN = "UA213223130000026007233566001"


# ----------------------------------------------------------------------------- numbers

VALID: list[tuple[Callable[[str], str], str]] = [
    (check_edrpou, "32855961"),  # codes from 30000000 to 60000000: shifted weights
    (check_edrpou, "14360570"),  # PrivatBank
    (check_edrpou, "10000062"),  # first remainder 10: second pass with weights + 2
    (check_rnokpp, "1759013776"),
    (check_rnokpp, "2530414071"),
    (check_inn, SBER_INN),
    (check_inn, "500100732259"),
    (check_legal_entity_inn, SBER_INN),
    (check_personal_inn, "500100732259"),
    (check_kpp, SBER_KPP),
    (check_kpp, "7736AB001"),
    (check_ogrn, SBER_OGRN),
    (check_ogrn, "1022200525819"),
    (check_ogrnip, "385768585948949"),
    (check_ru_bic, SBER_BIC),
    (check_iban, UA_IBAN),
    (check_iban, "GB82WEST12345698765432"),
    (check_iban, "DE89370400440532013000"),
]


@pytest.mark.parametrize(("check", "number"), VALID)
def test_valid_numbers_are_accepted(check: Callable[[str], str], number: str) -> None:
    assert check(number) == number


def test_blanks_are_dropped_and_iban_upper_cased() -> None:
    assert check_edrpou(" 3285 5961 ") == "32855961"
    assert check_iban("ua21 3223 1300 0002 6007 2335 6600 1") == UA_IBAN


@pytest.mark.parametrize(
    ("check", "number", "field", "message"),
    [
        (
            check_edrpou,
            "32855968",
            "edrpou",
            (
                "edrpou='32855968' is invalid: check digit(s) do not match; "
                "expected 8 digits ending in 1"
            ),
        ),
        (check_edrpou, "1234567", "edrpou", "edrpou='1234567' is invalid: expected 8 digits"),
        (check_edrpou, "3285596l", "edrpou", "edrpou='3285596l' is invalid: expected 8 digits"),
        (
            check_rnokpp,
            "1759013770",
            "rnokpp",
            (
                "rnokpp='1759013770' is invalid: check digit(s) do not match; "
                "expected 10 digits ending in 6"
            ),
        ),
        (
            check_inn,
            "500100732250",
            "inn",
            (
                "inn='500100732250' is invalid: check digit(s) do not match; "
                "expected 12 digits ending in 59"
            ),
        ),
        (check_inn, "77070838931", "inn", "inn='77070838931' is invalid: expected 10 or 12 digits"),
        (
            check_legal_entity_inn,
            "500100732259",
            "inn",
            "inn='500100732259' is invalid: expected 10 digits",
        ),
        (
            check_kpp,
            "77360100",
            "kpp",
            (
                "kpp='77360100' is invalid: expected 9 characters: 4 digits, "
                "2 digits or capital letters A-Z, 3 digits"
            ),
        ),
        (check_kpp, "7736ab001", "kpp", "kpp='7736ab001' is invalid: expected 9 characters"),
        (
            check_ogrn,
            "1022500001328",
            "ogrn",
            (
                "ogrn='1022500001328' is invalid: check digit(s) do not match; "
                "expected 13 digits ending in 5"
            ),
        ),
        (
            check_ogrnip,
            "385768585948940",
            "ogrnip",
            (
                "ogrnip='385768585948940' is invalid: check digit(s) do not match; "
                "expected 15 digits ending in 9"
            ),
        ),
        (check_ru_bic, "04452522", "bic", "bic='04452522' is invalid: expected 9 digits"),
        (
            check_iban,
            "UA213223130000026007233566002",
            "iban",
            (
                "iban='UA213223130000026007233566002' is invalid: "
                "the check digits do not match (ISO 7064 MOD 97-10)"
            ),
        ),
        (
            check_iban,
            "UA2132231300000260072335660",
            "iban",
            (
                "iban='UA2132231300000260072335660' is invalid: "
                "an IBAN of UA has 29 characters, got 27"
            ),
        ),
        (check_iban, "21UA3223", "iban", "iban='21UA3223' is invalid: expected a country code"),
    ],
)
def test_invalid_numbers_are_refused_naming_field_and_value(
    check: Callable[[str], str],
    number: str,
    field: str,
    message: str,
) -> None:
    with pytest.raises(ValidationError) as info:
        check(number)
    assert info.value.field == field
    assert info.value.value == number
    assert str(info.value).startswith(message)


def test_iban_country_and_length_table() -> None:
    assert IBAN_LENGTHS["UA"] == 29
    assert check_iban(UA_IBAN, country="ua") == UA_IBAN
    with pytest.raises(ValidationError) as info:
        check_iban("GB82WEST12345698765432", "bank.iban", country="UA")
    assert str(info.value) == (
        "bank.iban='GB82WEST12345698765432' is invalid: expected an IBAN of UA, got one of GB"
    )
    # A country missing from the table only gets the generic checks.
    assert check_iban("GB82WEST12345698765432", lengths={}) == "GB82WEST12345698765432"


def test_field_name_is_a_parameter() -> None:
    with pytest.raises(ValidationError) as info:
        check_edrpou("1", "payer.edrpou")
    assert info.value.field == "payer.edrpou"


def test_bank_accounts_are_keyed_by_the_bic() -> None:
    assert check_ru_settlement_account(SETTLEMENT, SBER_BIC) == SETTLEMENT
    assert check_ru_correspondent_account(SBER_CORRESPONDENT, SBER_BIC) == SBER_CORRESPONDENT
    with pytest.raises(ValidationError) as info:
        check_ru_settlement_account(SETTLEMENT, "044525974")
    assert str(info.value) == (
        "account='40702810938000000001' is invalid: the control key does not match the BIC "
        "(prefix 974); check the account and the BIC"
    )
    with pytest.raises(ValidationError) as short:
        check_ru_settlement_account("4070281093800000000", SBER_BIC)
    assert str(short.value) == "account='4070281093800000000' is invalid: expected 20 digits"


def test_mod_11_check_digits_have_a_documented_blind_spot() -> None:
    # 10 and 0 share the check digit 0, so this one-digit typo goes unnoticed.
    assert check_inn("1000000080") == "1000000080"
    assert check_inn("6000000080") == "6000000080"


# ----------------------------------------------------------------------------- rules


def ua_company(**changes: Any) -> Payer:
    payer = Payer(
        "p-1",
        PayerKind.LEGAL_ENTITY,
        "UA",
        "Lala limited",
        tax_ids=(TaxId("edrpou", "32855961"),),
        bank=BankDetails(bank_name="PrivatBank", iban=UA_IBAN),
        signatory=Signatory("Petro Petrenko", position="Director", basis="Charter"),
    )
    return attrs.evolve(payer, **changes)


def ru_company(**changes: Any) -> Payer:
    payer = Payer(
        "p-2",
        PayerKind.LEGAL_ENTITY,
        "RU",
        "Company No. 1",
        tax_ids=(TaxId("inn", SBER_INN), TaxId("kpp", SBER_KPP), TaxId("ogrn", SBER_OGRN)),
        bank=BankDetails(
            bank_name="Sberbank",
            bic=SBER_BIC,
            account=SETTLEMENT,
            correspondent_account=SBER_CORRESPONDENT,
        ),
        signatory=Signatory("Ivanov Ivan Ivanovich", position="General Director", basis="Charter"),
    )
    return attrs.evolve(payer, **changes)


def test_shipped_registry_knows_ukraine_and_russia() -> None:
    registry = default_registry()
    assert registry.countries() == ("RU", "UA")
    assert registry.validator_for("ua", PayerKind.LEGAL_ENTITY) is UA_RULES[PayerKind.LEGAL_ENTITY]
    assert (
        registry.validator_for("RU", PayerKind.SOLE_PROPRIETOR)
        is RU_RULES[PayerKind.SOLE_PROPRIETOR]
    )
    assert registry.validator_for("DE", PayerKind.LEGAL_ENTITY) is None


@pytest.mark.parametrize(
    "payer",
    [
        ua_company(),
        ru_company(),
        ru_company(tax_ids=(TaxId("inn", SBER_INN), TaxId("kpp", SBER_KPP)), bank=None),
        Payer(
            "p-3",
            PayerKind.SOLE_PROPRIETOR,
            "UA",
            "FOP Petrenko",
            tax_ids=(TaxId("rnokpp", "1759013776"),),
            bank=BankDetails(iban=UA_IBAN),
        ),
        Payer(
            "p-4",
            PayerKind.SOLE_PROPRIETOR,
            "RU",
            "IP Ivanov",
            tax_ids=(TaxId("inn", "500100732259"), TaxId("ogrnip", "385768585948949")),
            passport=Passport("1111 111111"),
        ),
        Payer("p-5", PayerKind.PRIVATE_PERSON, "UA", "Petro Petrenko"),
        Payer("p-6", PayerKind.PRIVATE_PERSON, "RU", "Ivan Ivanov"),
        Payer("p-7", PayerKind.LEGAL_ENTITY, "DE", "Beispiel GmbH"),
    ],
)
def test_complete_payers_pass(payer: Payer) -> None:
    default_registry().validate(payer)


@pytest.mark.parametrize(
    ("payer", "field", "value", "message"),
    [
        (
            ua_company(tax_ids=()),
            "edrpou",
            None,
            "edrpou=None is invalid: required for a legal_entity in UA",
        ),
        (
            ua_company(tax_ids=(TaxId("edrpou", "32855968"),)),
            "edrpou",
            "32855968",
            "edrpou='32855968' is invalid: check digit(s) do not match",
        ),
        (
            ua_company(tax_ids=(TaxId("edrpou", "32855961"), TaxId("inn", SBER_INN))),
            "inn",
            SBER_INN,
            "inn='7707083893' is invalid: not a tax id for a legal_entity in UA; allowed: edrpou",
        ),
        (
            ua_company(bank=BankDetails(iban="UA213223130000026007233566002")),
            "bank.iban",
            "UA213223130000026007233566002",
            "bank.iban='UA213223130000026007233566002' is invalid: the check digits do not match",
        ),
        (
            Payer("p-3", PayerKind.SOLE_PROPRIETOR, "UA", "FOP Petrenko"),
            "rnokpp",
            None,
            "rnokpp=None is invalid: required for a sole_proprietor in UA",
        ),
        (
            ru_company(tax_ids=(TaxId("inn", SBER_INN),)),
            "kpp",
            None,
            "kpp=None is invalid: required for a legal_entity in RU",
        ),
        (
            ru_company(tax_ids=(TaxId("inn", "500100732259"), TaxId("kpp", SBER_KPP))),
            "inn",
            "500100732259",
            "inn='500100732259' is invalid: expected 10 digits",
        ),
        (
            ru_company(
                tax_ids=(TaxId("inn", SBER_INN), TaxId("kpp", SBER_KPP), TaxId("ogrn", "1"))
            ),
            "ogrn",
            "1",
            "ogrn='1' is invalid: expected 13 digits",
        ),
        (
            ru_company(bank=BankDetails(bic=SBER_BIC, account="40702810038000000001")),
            "bank.account",
            "40702810038000000001",
            "bank.account='40702810038000000001' is invalid: the control key does not match",
        ),
        (
            ru_company(bank=BankDetails(bic="", account=SETTLEMENT)),
            "bank.bic",
            "",
            "bank.bic='' is invalid: is required to check bank.account",
        ),
        (
            ru_company(bank=BankDetails(bic="04452522")),
            "bank.bic",
            "04452522",
            "bank.bic='04452522' is invalid: expected 9 digits",
        ),
        (
            ru_company(bank=BankDetails(bic=SBER_BIC, correspondent_account=SETTLEMENT)),
            "bank.correspondent_account",
            SETTLEMENT,
            "bank.correspondent_account='40702810938000000001' is invalid: the control key",
        ),
        (
            Payer("p-6", PayerKind.PRIVATE_PERSON, "RU", "Ivan", tax_ids=(TaxId("inn", SBER_INN),)),
            "inn",
            SBER_INN,
            "inn='7707083893' is invalid: expected 12 digits",
        ),
    ],
)
def test_incomplete_or_wrong_requisites_are_refused(
    payer: Payer,
    field: str,
    value: object,
    message: str,
) -> None:
    book = PayerBook("acc-1")
    with pytest.raises(ValidationError) as info:
        book.add(payer, validate=default_registry().validate)
    assert info.value.field == field
    assert info.value.value == value
    assert str(info.value).startswith(message)
    assert len(book) == 0


def test_host_registers_its_own_country() -> None:
    registry = default_registry()
    de_rules = RequisitesRule(
        tax_ids={"vat": lambda value, _field: value},
        required_tax_ids=("vat",),
        require_bank=True,
    )
    registry.register("de", PayerKind.LEGAL_ENTITY, de_rules)
    assert registry.countries() == ("DE", "RU", "UA")
    gmbh = Payer("p-7", PayerKind.LEGAL_ENTITY, "DE", "Beispiel GmbH")
    with pytest.raises(ValidationError) as info:
        registry.validate(gmbh)
    assert str(info.value) == "vat=None is invalid: required for a legal_entity in DE"
    with_vat = attrs.evolve(gmbh, tax_ids=(TaxId("vat", "DE123456789"),))
    with pytest.raises(ValidationError) as bank:
        registry.validate(with_vat)
    assert str(bank.value) == "bank=None is invalid: required for a legal_entity in DE"
    registry.validate(attrs.evolve(with_vat, bank=BankDetails(iban="DE89370400440532013000")))
    # A fresh default registry does not see the host's rule.
    default_registry().validate(gmbh)


def test_registering_twice_needs_replace() -> None:
    registry = default_registry()
    shipped = registry.validator_for("UA", PayerKind.LEGAL_ENTITY)

    def anything(_payer: Payer) -> None:
        return None

    with pytest.raises(ConflictError) as info:
        registry.register("UA", PayerKind.LEGAL_ENTITY, anything)
    assert str(info.value) == (
        "requisites validator for legal_entity in UA: is already registered; "
        "pass replace=True to replace it"
    )
    assert registry.validator_for("UA", PayerKind.LEGAL_ENTITY) is shipped
    with pytest.raises(ConflictError):
        registry.register_country("RU", {PayerKind.PRIVATE_PERSON: anything})
    registry.register("UA", PayerKind.LEGAL_ENTITY, anything, replace=True)
    registry.validate(ua_company(tax_ids=()))
    with pytest.raises(ValidationError):
        registry.register("Ukraine", PayerKind.LEGAL_ENTITY, anything)


def test_strict_registry_refuses_unknown_countries() -> None:
    registry = default_registry(strict=True)
    with pytest.raises(ValidationError) as info:
        registry.validate(Payer("p-7", PayerKind.LEGAL_ENTITY, "DE", "Beispiel GmbH"))
    assert str(info.value) == (
        "country='DE' is invalid: no requisites rules for a legal_entity there; "
        "known countries: RU, UA"
    )
    with pytest.raises(ValidationError) as empty:
        RequisitesRegistry(strict=True).validate(ua_company())
    assert str(empty.value).endswith("known countries: none")


def test_rule_requirements_are_data() -> None:
    rule = RequisitesRule(
        tax_ids={"rnokpp": check_rnokpp},
        require_passport=True,
        require_signatory=True,
    )
    sole = Payer("p-3", PayerKind.SOLE_PROPRIETOR, "UA", "FOP Petrenko")
    with pytest.raises(ValidationError) as info:
        rule(sole)
    assert str(info.value) == "passport=None is invalid: required for a sole_proprietor in UA"
    with_passport = attrs.evolve(sole, passport=Passport("AA 123456"))
    with pytest.raises(ValidationError) as signatory:
        rule(with_passport)
    assert signatory.value.field == "signatory"
    rule(attrs.evolve(with_passport, signatory=Signatory("Petro Petrenko")))
    with pytest.raises(ValidationError) as unknown:
        RequisitesRule(tax_ids={"rnokpp": check_rnokpp}, required_tax_ids=("edrpou",))
    assert str(unknown.value) == (
        "required_tax_ids=('edrpou',) is invalid: edrpou not among the allowed schemes rnokpp"
    )
