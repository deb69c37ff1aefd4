"""Payers: the legal parties of financial operations, their requisites, merging (SPEC A4).

A payer is a private person, a legal entity or a sole proprietor in a country, with the
requisites its kind needs: passport data, tax ids (INN/KPP/OGRN in Russia, EDRPOU/RNOKPP
in Ukraine ...), bank details, the director and the basis of their authority. One account
keeps several payers in a :class:`PayerBook`.

This module checks what holds in every country (a legal entity has no passport, a tax id
scheme appears once ...). Country rules (check digits, which ids are required) are
pluggable: pass a validator such as
:meth:`cabinet_billing.rules.requisites.RequisitesRegistry.validate` to
:meth:`PayerBook.add` and :meth:`PayerBook.update`.

>>> from cabinet_billing.domain.payer import Payer, PayerBook, PayerKind, TaxId
>>> book = PayerBook("acc-1")
>>> book.add(Payer("p-1", PayerKind.LEGAL_ENTITY, "UA", "Lala limited", tax_ids=(TaxId("edrpou", "32855961"),)))
>>> book.get("p-1").tax_id("edrpou")
'32855961'
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from datetime import date

import attrs

from cabinet_billing.domain.checks import check_text
from cabinet_billing.domain.customer import PostalAddress, check_country, check_email, check_phone
from cabinet_billing.errors import ConflictError, NotFoundError, ValidationError

__all__ = [
    "BankDetails",
    "MergeResult",
    "Passport",
    "Payer",
    "PayerBook",
    "PayerKind",
    "PayerValidator",
    "Signatory",
    "TaxId",
]


class PayerKind(enum.Enum):
    """The legal status of a payer (Astra Cloud "payer status")."""

    PRIVATE_PERSON = "private_person"
    LEGAL_ENTITY = "legal_entity"
    SOLE_PROPRIETOR = "sole_proprietor"


def _strip(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("text", value, "expected text")
    return value.strip()


def _compact(value: object) -> str:
    # Numbers are often typed in groups ("1111 111111"); keep only the characters.
    return "".join(_strip(value).split())


def _texts(value: Iterable[object]) -> tuple[str, ...]:
    return tuple(_strip(v) for v in value)


def _compact_upper(value: object) -> str:
    return _compact(value).upper()


def _non_empty(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_text(attribute.name, value)


def _scheme(value: object) -> str:
    scheme = _strip(value).lower()
    if not scheme.isidentifier():
        raise ValidationError(
            "scheme",
            value,
            "expected a short identifier such as 'inn', 'kpp', 'edrpou' or 'rnokpp'",
        )
    return scheme


@attrs.frozen
class TaxId:
    """One tax or registration id: a scheme name and the number (blanks are dropped).

    >>> TaxId("INN", " 7707 083893 ")
    TaxId(scheme='inn', value='7707083893')
    """

    scheme: str = attrs.field(converter=_scheme)
    value: str = attrs.field(converter=_compact, validator=_non_empty)


@attrs.frozen
class Passport:
    """Passport data of a private person or sole proprietor, as printed on contracts."""

    number: str = attrs.field(converter=_strip, validator=_non_empty)
    issued_on: date | None = None
    issued_by: str = attrs.field(default="", converter=_strip)
    birth_date: date | None = attrs.field(default=None)
    registration_city: str = attrs.field(default="", converter=_strip)
    registration_address: str = attrs.field(default="", converter=_strip)

    @birth_date.validator
    def _check_dates(self, _attribute: object, value: date | None) -> None:
        if value is not None and self.issued_on is not None and value > self.issued_on:
            raise ValidationError(
                "birth_date",
                value,
                f"must not be after the passport's issue date {self.issued_on}",
            )


@attrs.frozen
class BankDetails:
    """Where a payer's bank account is: bank name, BIC and account, or an IBAN.

    ``account`` is the settlement account, ``correspondent_account`` the bank's account
    at the central bank (Russian requisites). Numbers are kept without blanks.
    """

    bank_name: str = attrs.field(default="", converter=_strip)
    bic: str = attrs.field(default="", converter=_compact)
    iban: str = attrs.field(default="", converter=_compact_upper)
    account: str = attrs.field(default="", converter=_compact)
    correspondent_account: str = attrs.field(default="", converter=_compact)


@attrs.frozen
class Signatory:
    """Who signs for a legal entity or sole proprietor, and on what basis.

    ``basis`` is the document that grants the authority ("Charter", "Power of attorney
    No. 5"). Grammatical forms of the name and position for contracts in languages that
    decline them may be given in ``name_forms`` and ``position_forms``.
    """

    name: str = attrs.field(converter=_strip, validator=_non_empty)
    position: str = attrs.field(default="", converter=_strip)
    basis: str = attrs.field(default="", converter=_strip)
    name_forms: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    position_forms: tuple[str, ...] = attrs.field(default=(), converter=_texts)


def _tax_ids(value: Iterable[TaxId]) -> tuple[TaxId, ...]:
    return tuple(value)


def _contracts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _payer_email(value: object) -> str:
    return check_email(value)


def _payer_phone(value: object) -> str:
    return check_phone(value)


@attrs.frozen
class Payer:
    """A payer and its requisites (SPEC A4).

    Construction checks what holds in every country: a name is given; a private person
    has no signatory; a legal entity has no passport; each tax id scheme appears once.
    Country rules are checked by a pluggable validator (see module docs).

    Args:
        id: the payer's id within the account.
        kind: private person, legal entity or sole proprietor.
        country: ISO 3166-1 alpha-2 code of the payer's country.
        name: company name, or the person's full name.
        contact_person: whom to contact (Astra Cloud requires one).
        email: where documents and financial notices go.
        phone: contact phone.
        legal_address: registered address (legal entities, sole proprietors).
        actual_address: where the payer actually is.
        passport: passport data (private persons, sole proprietors).
        tax_ids: tax and registration ids.
        bank: bank details.
        signatory: director and basis of authority (legal entities, sole proprietors).
        contracts: ids of the contracts concluded with this payer.

    >>> Payer("p-1", PayerKind.LEGAL_ENTITY, "RU", "Company No. 1", passport=Passport("1111 111111"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: passport=Passport(number='1111 111111', issued_on=None, issued_by='', birth_date=None, registration_city='', registration_address='') is invalid: a legal entity has no passport; allowed for private_person, sole_proprietor
    """

    id: str = attrs.field(converter=_strip, validator=_non_empty)
    kind: PayerKind = attrs.field(validator=attrs.validators.instance_of(PayerKind))
    country: str = attrs.field(converter=check_country)
    name: str = attrs.field(converter=_strip, validator=_non_empty)
    contact_person: str = attrs.field(default="", converter=_strip)
    email: str = attrs.field(default="", converter=_payer_email)
    phone: str = attrs.field(default="", converter=_payer_phone)
    legal_address: PostalAddress | None = None
    actual_address: PostalAddress | None = None
    passport: Passport | None = None
    tax_ids: tuple[TaxId, ...] = attrs.field(default=(), converter=_tax_ids)
    bank: BankDetails | None = None
    signatory: Signatory | None = None
    contracts: tuple[str, ...] = attrs.field(default=(), converter=_contracts)

    def __attrs_post_init__(self) -> None:
        if self.passport is not None and self.kind is PayerKind.LEGAL_ENTITY:
            raise ValidationError(
                "passport",
                self.passport,
                "a legal entity has no passport; allowed for private_person, sole_proprietor",
            )
        if self.signatory is not None and self.kind is PayerKind.PRIVATE_PERSON:
            raise ValidationError(
                "signatory",
                self.signatory,
                "a private person has no signatory; allowed for legal_entity, sole_proprietor",
            )
        schemes = [t.scheme for t in self.tax_ids]
        repeated = sorted({s for s in schemes if schemes.count(s) > 1})
        if repeated:
            raise ValidationError(
                "tax_ids", self.tax_ids, f"scheme(s) {', '.join(repeated)} given twice"
            )
        if len(set(self.contracts)) != len(self.contracts):
            raise ValidationError("contracts", self.contracts, "a contract id appears twice")

    def tax_id(self, scheme: str) -> str | None:
        """The number of the tax id ``scheme`` (case-insensitive), or ``None``."""
        wanted = scheme.lower()
        return next((t.value for t in self.tax_ids if t.scheme == wanted), None)

    def identity_changes(self, other: Payer) -> tuple[str, ...]:
        """The fields that say *who* the payer is and differ in ``other``.

        The kind, the country and the tax ids name the legal party; a document made out
        to the payer names them too. Contacts, addresses, bank details and the
        signatory are details of the same party.

        >>> a = Payer("p-1", PayerKind.LEGAL_ENTITY, "UA", "Lala", tax_ids=(TaxId("edrpou", "32855961"),))
        >>> a.identity_changes(attrs.evolve(a, name="Lala limited", country="PL"))
        ('country',)
        """
        mine = {t.scheme: t.value for t in self.tax_ids}
        theirs = {t.scheme: t.value for t in other.tax_ids}
        changed = (
            ("kind", self.kind != other.kind),
            ("country", self.country != other.country),
            ("tax_ids", mine != theirs),
        )
        return tuple(name for name, differs in changed if differs)


#: A country rule for payers: returns nothing, raises ValidationError when unmet.
PayerValidator = Callable[[Payer], object]


@attrs.frozen
class MergeResult:
    """What merging two payers did.

    Attributes:
        main: the payer that remains, after the merge.
        removed_id: the id of the joined payer, which no longer exists.
        moved_contracts: contracts moved from the joined payer to the main one.
        dropped_contracts: contracts of the joined payer that were deleted.
        moved_services: services billed to the joined payer, billed to the main one now.
    """

    main: Payer
    removed_id: str
    moved_contracts: tuple[str, ...]
    dropped_contracts: tuple[str, ...]
    moved_services: tuple[str, ...] = ()


@attrs.define
class PayerBook:
    """The payers of one account (Astra Cloud "Client — Payers").

    >>> book = PayerBook("acc-1")
    >>> book.add(Payer("p-1", PayerKind.PRIVATE_PERSON, "RU", "Ivan Ivanov", contracts=("C-1",)))
    >>> book.add(Payer("p-2", PayerKind.PRIVATE_PERSON, "RU", "Ivan Ivanov", contracts=("C-2",)))
    >>> result = book.merge("p-1", "p-2", move_contracts=True)
    >>> result.main.contracts, [p.id for p in book]
    (('C-1', 'C-2'), ['p-1'])
    """

    account_id: str
    _payers: dict[str, Payer] = attrs.field(factory=dict, alias="payers")
    _services: dict[str, str] = attrs.field(factory=dict, alias="services")

    def __iter__(self) -> Iterator[Payer]:
        return iter(self._payers.values())

    def __len__(self) -> int:
        return len(self._payers)

    def __contains__(self, payer_id: object) -> bool:
        return payer_id in self._payers

    def get(self, payer_id: str) -> Payer:
        """The payer with ``payer_id``.

        Raises:
            NotFoundError: when there is none.
        """
        try:
            return self._payers[payer_id]
        except KeyError:
            raise NotFoundError("payer", payer_id) from None

    def add(self, payer: Payer, validate: PayerValidator | None = None) -> None:
        """Add a payer after ``validate`` (a country rule) accepts it.

        Raises:
            ConflictError: when a payer with that id exists.
            ValidationError: from ``validate``; nothing is added.
        """
        if payer.id in self._payers:
            raise ConflictError(f"payer {payer.id!r}", "already exists in this account")
        if validate is not None:
            validate(payer)
        self._payers[payer.id] = payer

    def update(self, payer: Payer, validate: PayerValidator | None = None) -> None:
        """Replace the payer with the same id by ``payer`` after ``validate`` accepts it.

        Raises:
            NotFoundError: when no payer has that id.
            ValidationError: from ``validate``; the old payer stays.
        """
        self.get(payer.id)
        if validate is not None:
            validate(payer)
        self._payers[payer.id] = payer

    def remove(self, payer_id: str) -> Payer:
        """Delete a payer and return it; the services billed to it are billed to nobody.

        Raises:
            NotFoundError: when there is none.
        """
        payer = self.get(payer_id)
        del self._payers[payer_id]
        for service_id in self.services_of(payer_id):
            del self._services[service_id]
        return payer

    def bill_service(self, service_id: str, payer_id: str | None) -> None:
        """Bill a service's invoices to ``payer_id`` from now on (``None``: to nobody).

        Astra Cloud lets the customer choose the payer when ordering and when renewing a
        service; the choice holds for the renewals that follow.

        >>> book = PayerBook("acc-1")
        >>> book.add(Payer("p-1", PayerKind.PRIVATE_PERSON, "RU", "Ivan Ivanov"))
        >>> book.bill_service("svc-1", "p-1")
        >>> book.payer_of("svc-1"), book.services_of("p-1")
        ('p-1', ('svc-1',))

        Raises:
            NotFoundError: for a payer the book does not have.
            ValidationError: for an empty service id.
        """
        check_text("service_id", service_id)
        if payer_id is None:
            self._services.pop(service_id, None)
            return
        self.get(payer_id)
        self._services[service_id] = payer_id

    def payer_of(self, service_id: str | None) -> str | None:
        """The payer a service is billed to, or ``None``."""
        return None if service_id is None else self._services.get(service_id)

    def services_of(self, payer_id: str) -> tuple[str, ...]:
        """The services billed to a payer, in the order they were assigned."""
        return tuple(s for s, p in self._services.items() if p == payer_id)

    def merge(self, main_id: str, joined_id: str, *, move_contracts: bool = False) -> MergeResult:
        """Merge the payer ``joined_id`` into ``main_id``; the joined payer ceases to exist.

        With ``move_contracts`` the joined payer's contracts are reassigned to the main
        payer; without it they are deleted (Astra Cloud "Merge payers"). The services
        billed to the joined payer are billed to the main one.

        Raises:
            NotFoundError: when either payer does not exist.
            ConflictError: when both ids are the same; nothing changes.
        """
        if main_id == joined_id:
            raise ConflictError(f"payer {main_id!r}", "cannot be merged into itself")
        main = self.get(main_id)
        joined = self.get(joined_id)
        if move_contracts:
            moved = tuple(c for c in joined.contracts if c not in main.contracts)
            main = attrs.evolve(main, contracts=(*main.contracts, *moved))
            dropped: tuple[str, ...] = ()
        else:
            moved, dropped = (), joined.contracts
        services = self.services_of(joined_id)
        for service_id in services:
            self._services[service_id] = main_id
        self._payers[main_id] = main
        del self._payers[joined_id]
        return MergeResult(main, joined_id, moved, dropped, services)
