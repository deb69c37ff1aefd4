from __future__ import annotations

from datetime import date

import attrs
import pytest

from cabinet_billing import ConflictError, NotFoundError, ValidationError
from cabinet_billing.domain.customer import PostalAddress
from cabinet_billing.domain.payer import (
    BankDetails,
    MergeResult,
    Passport,
    Payer,
    PayerBook,
    PayerKind,
    Signatory,
    TaxId,
)

pytestmark = pytest.mark.spec("A4")

MOSCOW = PostalAddress(
    city="Moscow",
    postal_code="140140",
    address="1 Lenina St",
    country="RU",
)


def private_person(payer_id: str = "p-1", contracts: tuple[str, ...] = ()) -> Payer:
    """Astra Cloud's private-person form."""
    return Payer(
        payer_id,
        PayerKind.PRIVATE_PERSON,
        "RU",
        "Ivan Ivanov",
        contact_person="Ivan",
        email="client@example.com",
        phone="+7 (999) 111-22-33",
        actual_address=PostalAddress(
            city="Moscow",
            postal_code="100000",
            address="1 Lenina St",
            country="RU",
        ),
        passport=Passport(
            "1111 111111",
            issued_on=date(2000, 12, 1),
            issued_by="UFMS Moscow",
            birth_date=date(1999, 3, 3),
            registration_city="Moscow",
            registration_address="Moscow, 1 Lenina St",
        ),
        contracts=contracts,
    )


def legal_entity(payer_id: str = "p-2", contracts: tuple[str, ...] = ()) -> Payer:
    """Astra Cloud's legal-entity form, with real Sberbank requisites."""
    return Payer(
        payer_id,
        PayerKind.LEGAL_ENTITY,
        "RU",
        "Company No. 1",
        contact_person="Ivan",
        email="client@example.com",
        legal_address=MOSCOW,
        actual_address=MOSCOW,
        tax_ids=(
            TaxId("inn", "7707083893"),
            TaxId("kpp", "773601001"),
            TaxId("ogrn", "1027700132195"),
        ),
        bank=BankDetails(
            bank_name="Sberbank",
            bic="044525225",
            account="40702810938000000001",
            correspondent_account="30101810400000000225",
        ),
        signatory=Signatory(
            "Ivanov Ivan Ivanovich",
            position="General Director",
            basis="Charter",
            name_forms=("Ivanova Ivana Ivanovicha", "Ivanovu Ivanu Ivanovichu"),
        ),
        contracts=contracts,
    )


def test_the_three_kinds_of_payer() -> None:
    assert [k.value for k in PayerKind] == ["private_person", "legal_entity", "sole_proprietor"]
    person = private_person()
    assert person.passport is not None
    assert person.passport.number == "1111 111111"
    company = legal_entity()
    assert company.tax_id("INN") == "7707083893"
    assert company.tax_id("kpp") == "773601001"
    assert company.tax_id("edrpou") is None
    assert company.signatory is not None
    assert company.signatory.basis == "Charter"
    sole = Payer(
        "p-3",
        PayerKind.SOLE_PROPRIETOR,
        "UA",
        "FOP Petrenko",
        tax_ids=[TaxId("rnokpp", "1759013776")],
        bank=BankDetails(iban="ua21 3223 1300 0002 6007 2335 6600 1"),
        signatory=Signatory("Petro Petrenko", basis="Extract from the register"),
        passport=Passport("AA 123456"),
    )
    assert sole.bank is not None
    assert sole.bank.iban == "UA213223130000026007233566001"


def test_numbers_are_kept_without_blanks() -> None:
    assert TaxId(" INN ", "7707 083 893") == TaxId("inn", "7707083893")
    bank = BankDetails(bic=" 0445 25225", account="4070 2810 9380 0000 0001")
    assert (bank.bic, bank.account) == ("044525225", "40702810938000000001")


@pytest.mark.parametrize(
    ("make", "field", "reason"),
    [
        (
            lambda: Payer("p-1", PayerKind.LEGAL_ENTITY, "RU", "Co", passport=Passport("1")),
            "passport",
            "a legal entity has no passport; allowed for private_person, sole_proprietor",
        ),
        (
            lambda: Payer("p-1", PayerKind.PRIVATE_PERSON, "RU", "Ivan", signatory=Signatory("I")),
            "signatory",
            "a private person has no signatory; allowed for legal_entity, sole_proprietor",
        ),
        (
            lambda: Payer(
                "p-1",
                PayerKind.LEGAL_ENTITY,
                "RU",
                "Co",
                tax_ids=(TaxId("inn", "7707083893"), TaxId("INN", "7707083893")),
            ),
            "tax_ids",
            "scheme(s) inn given twice",
        ),
        (
            lambda: Payer("p-1", PayerKind.LEGAL_ENTITY, "RU", "Co", contracts=("C-1", "C-1")),
            "contracts",
            "a contract id appears twice",
        ),
        (lambda: Payer("p-1", PayerKind.LEGAL_ENTITY, "RU", "  "), "name", "must not be empty"),
        (lambda: Payer("", PayerKind.LEGAL_ENTITY, "RU", "Co"), "id", "must not be empty"),
        (lambda: Payer("p-1", PayerKind.LEGAL_ENTITY, "Russia", "Co"), "country", "alpha-2"),
        (
            lambda: Payer("p-1", PayerKind.LEGAL_ENTITY, "RU", "Co", email="client@"),
            "email",
            "name@example.com",
        ),
        (lambda: TaxId("i n n", "1"), "scheme", "short identifier"),
        (lambda: TaxId("inn", " "), "value", "must not be empty"),
        (
            lambda: Passport("1", issued_on=date(2000, 1, 1), birth_date=date(2001, 1, 1)),
            "birth_date",
            "must not be after the passport's issue date 2000-01-01",
        ),
    ],
)
def test_rules_every_country_shares(make: object, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field
    assert reason in str(info.value)


def test_several_payers_per_account() -> None:
    book = PayerBook("acc-1")
    book.add(private_person())
    book.add(legal_entity())
    assert [p.id for p in book] == ["p-1", "p-2"]
    assert len(book) == 2
    assert "p-2" in book
    assert book.get("p-2").name == "Company No. 1"


def test_payer_ids_are_unique() -> None:
    book = PayerBook("acc-1")
    book.add(private_person())
    with pytest.raises(ConflictError) as info:
        book.add(legal_entity("p-1"))
    assert str(info.value) == "payer 'p-1': already exists in this account"
    assert book.get("p-1") == private_person()


def test_a_refusing_validator_keeps_the_book_unchanged() -> None:
    def refuse(payer: Payer) -> None:
        raise ValidationError("inn", payer.tax_id("inn"), "refused by the country rule")

    book = PayerBook("acc-1")
    with pytest.raises(ValidationError):
        book.add(legal_entity(), validate=refuse)
    assert len(book) == 0
    book.add(legal_entity())
    renamed = attrs.evolve(legal_entity(), name="Company No. 2")
    with pytest.raises(ValidationError):
        book.update(renamed, validate=refuse)
    assert book.get("p-2").name == "Company No. 1"
    book.update(renamed, validate=lambda _payer: None)
    assert book.get("p-2").name == "Company No. 2"


def test_update_and_remove_need_an_existing_payer() -> None:
    book = PayerBook("acc-1")
    with pytest.raises(NotFoundError) as info:
        book.update(private_person("p-9"))
    assert str(info.value) == "no payer with id 'p-9'"
    with pytest.raises(NotFoundError):
        book.remove("p-9")
    book.add(private_person())
    assert book.remove("p-1") == private_person()
    assert len(book) == 0


def test_merge_moving_contracts() -> None:
    book = PayerBook("acc-1")
    book.add(legal_entity("p-1", contracts=("C-1",)))
    book.add(legal_entity("p-2", contracts=("C-2", "C-3")))
    result = book.merge("p-1", "p-2", move_contracts=True)
    assert result == MergeResult(
        main=legal_entity("p-1", contracts=("C-1", "C-2", "C-3")),
        removed_id="p-2",
        moved_contracts=("C-2", "C-3"),
        dropped_contracts=(),
    )
    assert [p.id for p in book] == ["p-1"]
    assert book.get("p-1").contracts == ("C-1", "C-2", "C-3")
    with pytest.raises(NotFoundError):
        book.get("p-2")


def test_merge_without_moving_drops_the_joined_contracts() -> None:
    book = PayerBook("acc-1")
    book.add(private_person("p-1", contracts=("C-1",)))
    book.add(private_person("p-2", contracts=("C-2",)))
    result = book.merge("p-1", "p-2")
    assert result.moved_contracts == ()
    assert result.dropped_contracts == ("C-2",)
    assert result.removed_id == "p-2"
    assert result.main.contracts == ("C-1",)
    assert [p.id for p in book] == ["p-1"]


def test_merge_refuses_itself_and_unknown_payers_without_change() -> None:
    book = PayerBook("acc-1")
    book.add(private_person("p-1", contracts=("C-1",)))
    with pytest.raises(ConflictError) as info:
        book.merge("p-1", "p-1", move_contracts=True)
    assert str(info.value) == "payer 'p-1': cannot be merged into itself"
    with pytest.raises(NotFoundError) as missing:
        book.merge("p-1", "p-9", move_contracts=True)
    assert missing.value.key == "p-9"
    assert [p.contracts for p in book] == [("C-1",)]
