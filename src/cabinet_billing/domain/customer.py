"""Accounts and their profile, settings and payment gating (SPEC A1, A2).

An :class:`Account` is the customer of the provider. Its :class:`Profile` holds contact
data, country, interface language, invoice currency, the profile type (private person or
company) and a postal address; :class:`NotificationEmails` route mail per purpose;
:class:`AccountSettings` hold the auto-renewal default and the low-balance threshold.
The login never changes once the account exists, and every other edit goes through a
method that validates the new value before anything is changed.

Paying is refused until the required profile fields are filled in (Introserv: last name,
first name, email, city, address) and, for a company held for verification, until it is
verified:

>>> from cabinet_billing.domain.customer import Account, PostalAddress, ensure_can_pay, payment_readiness
>>> account = Account.open("acc-1", "jfairy", email="j-fairy@test.com")
>>> payment_readiness(account).missing
('last_name', 'first_name', 'city', 'address')
>>> ensure_can_pay(account)
Traceback (most recent call last):
...
cabinet_billing.errors.ProfileIncompleteError: paying is not possible yet: fill in last_name, first_name, city, address
>>> account.change_name(last_name="Fairy", first_name="Jill")
>>> account.change_postal_address(PostalAddress(city="Kyiv", postal_code="01001", address="1 Khreshchatyk St"))
>>> payment_readiness(account).ready
True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any, Final

import attrs
import babel
import moneyed

from cabinet_billing.domain.checks import check_id, check_text
from cabinet_billing.domain.money import Money, currency_places
from cabinet_billing.domain.security import SecuritySettings
from cabinet_billing.errors import (
    AccountDeletedError,
    ConflictError,
    CurrencyMismatchError,
    DeletionPendingError,
    ProfileIncompleteError,
    UnknownCurrencyError,
    ValidationError,
)

__all__ = [
    "COMPANY_PAYMENT_FIELDS",
    "PRIVATE_PAYMENT_FIELDS",
    "Account",
    "AccountSettings",
    "DeletionRequest",
    "DeletionStatus",
    "NotificationEmails",
    "NotificationPurpose",
    "PaymentReadiness",
    "PaymentRequirements",
    "PostalAddress",
    "Profile",
    "ProfileType",
    "VerificationStatus",
    "check_account_currency",
    "check_country",
    "check_email",
    "check_phone",
    "ensure_can_pay",
    "payment_readiness",
]

# ----------------------------------------------------------------------------- checks

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE: Final = re.compile(r"\+?[0-9 ()\-]+")
_PHONE_DIGITS: Final = range(7, 16)  # E.164 allows at most 15 digits
_LOGIN: Final = re.compile(r"\S{1,128}")

# CLDR territories that are not ISO 3166-1 countries (unions, pseudo-regions, and
# exceptionally reserved codes).
_NOT_COUNTRIES: Final = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"},
)


@cache
def _countries() -> frozenset[str]:
    codes = (str(code) for code in babel.Locale("en").territories)
    return frozenset(
        code
        for code in codes
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES  # noqa: PLR2004 - alpha-2
    )


def check_country(code: object, field: str = "country") -> str:
    """Return an ISO 3166-1 alpha-2 country code in upper case, or raise.

    Countries come from the CLDR data shipped with babel.

    Raises:
        ValidationError: naming the field and the refused code.

    >>> check_country("ua")
    'UA'
    >>> check_country("Ukraine")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: country='Ukraine' is invalid: expected an ISO 3166-1 alpha-2 country code such as 'UA' or 'DE'
    """
    normalized = code.strip().upper() if isinstance(code, str) else code
    if not isinstance(normalized, str) or normalized not in _countries():
        raise ValidationError(
            field,
            code,
            "expected an ISO 3166-1 alpha-2 country code such as 'UA' or 'DE'",
        )
    return normalized


def check_email(email: object, field: str = "email") -> str:
    """Return an email address stripped of surrounding blanks; ``""`` means "not filled in".

    The check is syntactic (one ``@``, a domain with a dot, no blanks): whether the
    mailbox exists is for a confirmation mail to find out.

    Raises:
        ValidationError: naming the field and the refused address.

    >>> check_email(" j-fairy@test.com ")
    'j-fairy@test.com'
    >>> check_email("j-fairy@test")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: email='j-fairy@test' is invalid: expected an address such as 'name@example.com'
    """
    if not isinstance(email, str):
        raise ValidationError(field, email, "expected text such as 'name@example.com'")
    value = email.strip()
    if value and not _EMAIL.fullmatch(value):
        raise ValidationError(field, email, "expected an address such as 'name@example.com'")
    return value


def check_phone(phone: object, field: str = "phone") -> str:
    """Return a phone number stripped of surrounding blanks; ``""`` means "not filled in".

    Digits with an optional leading ``+``, blanks, dashes and parentheses; 7 to 15 digits.

    Raises:
        ValidationError: naming the field and the refused number.

    >>> check_phone("+7 (999) 111-22-33")
    '+7 (999) 111-22-33'
    >>> check_phone("call me")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: phone='call me' is invalid: expected 7 to 15 digits with an optional leading '+', e.g. '+380 44 123 45 67'
    """
    if not isinstance(phone, str):
        raise ValidationError(field, phone, "expected text such as '+380 44 123 45 67'")
    value = phone.strip()
    digits = sum(ch.isdigit() for ch in value)
    if value and (not _PHONE.fullmatch(value) or digits not in _PHONE_DIGITS):
        raise ValidationError(
            field,
            phone,
            "expected 7 to 15 digits with an optional leading '+', e.g. '+380 44 123 45 67'",
        )
    return value


def _check_language(code: object) -> str:
    try:
        if not isinstance(code, str):
            raise TypeError(code)  # noqa: TRY301 - reported below like any other bad code
        return str(babel.Locale.parse(code.strip().replace("-", "_")))
    except (babel.UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(
            "language",
            code,
            "expected a language code known to CLDR such as 'uk', 'ru', 'de' or 'en'",
        ) from None


def _check_currency(code: object) -> str:
    if not isinstance(code, str):
        raise ValidationError("currency", code, "expected an ISO 4217 code such as 'EUR'")
    try:
        currency_places(code)
    except UnknownCurrencyError:
        raise ValidationError(
            "currency",
            code,
            "expected an ISO 4217 code such as 'EUR'",
        ) from None
    return code.upper()


def _text(field: str) -> str:
    def convert(value: object) -> str:
        return check_text(field, value, required=False).strip()

    return attrs.field(default="", converter=convert)


def _invoices_email(value: object) -> str:
    return check_email(value, "invoices_and_orders")


def _support_email(value: object) -> str:
    return check_email(value, "support")


def _abuse_email(value: object) -> str:
    return check_email(value, "abuse")


def _optional_country(value: str | None) -> str | None:
    return None if value is None else check_country(value)


# ----------------------------------------------------------------------------- values


class ProfileType(enum.Enum):
    """Whom an account is registered to (Introserv "profile type")."""

    PRIVATE_PERSON = "private_person"
    COMPANY = "company"


class VerificationStatus(enum.Enum):
    """Whether the provider's staff still have to check a company profile (SPEC A2).

    ``PENDING`` blocks paying until the profile is ``VERIFIED``.
    """

    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    VERIFIED = "verified"


class NotificationPurpose(enum.Enum):
    """What a notification email is about (Introserv "Sending email messages")."""

    INVOICES_AND_ORDERS = "invoices_and_orders"
    SUPPORT = "support"
    ABUSE = "abuse"


@attrs.frozen
class PostalAddress:
    """A postal address: city, postal code, street address and, optionally, the country.

    >>> PostalAddress(city=" Kyiv ", postal_code="01001", address="1 Khreshchatyk St").city
    'Kyiv'
    """

    city: str = _text("city")
    postal_code: str = _text("postal_code")
    address: str = _text("address")
    country: str | None = attrs.field(default=None, converter=_optional_country)


@attrs.frozen
class NotificationEmails:
    """Addresses for mail about one purpose each; an empty one falls back to the main email.

    >>> emails = NotificationEmails(support="admin@example.com")
    >>> emails.for_purpose(NotificationPurpose.SUPPORT, main="owner@example.com")
    'admin@example.com'
    >>> emails.for_purpose(NotificationPurpose.ABUSE, main="owner@example.com")
    'owner@example.com'
    """

    invoices_and_orders: str = attrs.field(default="", converter=_invoices_email)
    support: str = attrs.field(default="", converter=_support_email)
    abuse: str = attrs.field(default="", converter=_abuse_email)

    def for_purpose(self, purpose: NotificationPurpose, main: str) -> str:
        """The address for ``purpose``, or ``main`` when none is set."""
        own: str = getattr(self, purpose.value)
        return own or main


@attrs.frozen
class Profile:
    """Contact data, locale, currency and type of an account (SPEC A1).

    Empty text means "not filled in yet"; :func:`payment_readiness` says which of those
    block paying. Construction validates every field.

    Args:
        last_name: family name.
        first_name: given name.
        middle_name: patronymic or middle name.
        email: the main email address.
        phone: mobile phone number.
        country: ISO 3166-1 alpha-2 code, or ``None`` when not chosen yet.
        language: interface language as a CLDR locale code (``uk``, ``ru``, ``de``, ``en``).
        currency: the currency prices are shown and invoices are issued in.
        profile_type: private person or company.
        postal_address: where the customer lives or the company sits.
        company_name: the company's name (company profiles).
        tax_id: the company's tax id (company profiles); its format is checked on payers.
    """

    last_name: str = _text("last_name")
    first_name: str = _text("first_name")
    middle_name: str = _text("middle_name")
    email: str = attrs.field(default="", converter=check_email)
    phone: str = attrs.field(default="", converter=check_phone)
    country: str | None = attrs.field(default=None, converter=_optional_country)
    language: str = attrs.field(default="en", converter=_check_language)
    currency: str = attrs.field(default="EUR", converter=_check_currency)
    profile_type: ProfileType = attrs.field(
        default=ProfileType.PRIVATE_PERSON,
        validator=attrs.validators.instance_of(ProfileType),
    )
    postal_address: PostalAddress = attrs.field(
        factory=PostalAddress,
        validator=attrs.validators.instance_of(PostalAddress),
    )
    company_name: str = _text("company_name")
    tax_id: str = _text("tax_id")

    @property
    def full_name(self) -> str:
        """Last, first and middle name joined by blanks, skipping empty parts.

        >>> Profile(last_name="Ivanov", first_name="Ivan", middle_name="Ivanovich").full_name
        'Ivanov Ivan Ivanovich'
        """
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


@attrs.frozen
class AccountSettings:
    """Account-wide preferences (Introserv "Settings").

    Args:
        auto_renew_default: whether new services renew automatically from the balance.
        low_balance_threshold: notify when the balance falls below this (``None``: never).
        news_subscription: whether the customer receives news mail.
        pay_without_login: whether invoices may be paid without logging in again.
        service_code: the account's code in invoice numbers (Horoshop's "service code",
            e.g. ``11111`` in ``HOR-11111-007``); letters and digits, empty for none.

    >>> AccountSettings(low_balance_threshold=Money("-5", "EUR"))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: low_balance_threshold=Money('-5', 'EUR') is invalid: must be zero or more, with at most the currency's minor-unit decimals
    """

    auto_renew_default: bool = False
    low_balance_threshold: Money | None = attrs.field(default=None)
    news_subscription: bool = False
    pay_without_login: bool = False
    service_code: str = attrs.field(default="")

    @service_code.validator
    def _check_service_code(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or (value and not (value.isascii() and value.isalnum())):
            raise ValidationError("service_code", value, "use ASCII letters and digits only")
        if len(value) > 32:  # noqa: PLR2004 - a generous bound for a printed code
            raise ValidationError("service_code", value, "at most 32 characters")

    @low_balance_threshold.validator
    def _check_threshold(self, _attribute: object, value: object) -> None:
        if value is None:
            return
        if (
            not isinstance(value, moneyed.Money)
            or value.amount < 0
            or Money(value.amount, value.currency).places() > currency_places(value.currency)
        ):
            raise ValidationError(
                "low_balance_threshold",
                value,
                "must be zero or more, with at most the currency's minor-unit decimals",
            )


# ----------------------------------------------------------------------------- deletion


class DeletionStatus(enum.Enum):
    """Where a request to delete the account stands (SPEC L9)."""

    PENDING = "pending"
    WITHDRAWN = "withdrawn"
    CONFIRMED = "confirmed"


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(attribute.name, value, "must be a datetime with a time zone")


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    ids = (value,) if isinstance(value, str) else tuple(value)
    checked: tuple[object, ...] = ids
    if not all(isinstance(i, str) and i for i in checked):
        raise ValidationError("stopped_services", value, "expected service ids")
    return ids


def _who(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("by", value, "name who acts (a user or a member of staff)")
    return value.strip()


@attrs.frozen
class DeletionRequest:
    """A request to delete the account, and what became of it (Horoshop: managers confirm).

    Attributes:
        requested_at: when the owner asked.
        requested_by: the user who asked.
        status: pending, withdrawn or confirmed.
        decided_at: when it was withdrawn or confirmed.
        decided_by: who withdrew it (a user) or confirmed it (a member of staff).
        stopped_services: the services the request stopped (withdrawing starts them again).
    """

    requested_at: datetime = attrs.field(validator=_aware)
    requested_by: str = attrs.field(converter=_who)
    status: DeletionStatus = attrs.field(
        default=DeletionStatus.PENDING,
        validator=attrs.validators.instance_of(DeletionStatus),
    )
    decided_at: datetime | None = attrs.field(default=None, validator=_aware)
    decided_by: str = ""
    stopped_services: tuple[str, ...] = attrs.field(default=(), converter=_ids)

    @property
    def pending(self) -> bool:
        """Whether the request still waits for the provider."""
        return self.status is DeletionStatus.PENDING


def _requests(value: Iterable[DeletionRequest]) -> tuple[DeletionRequest, ...]:
    requests = tuple(value)
    for request in requests:
        if not isinstance(request, DeletionRequest):
            raise ValidationError("deletion_requests", request, "expected DeletionRequest values")
    return requests


# ----------------------------------------------------------------------------- account


def _refuse_login_change(instance: Account, _attribute: object, value: str) -> str:
    raise ConflictError(
        f"login {instance.login!r}",
        f"cannot be changed to {value!r}: a login is fixed when the account is created",
    )


def _check_login(value: object) -> str:
    if not isinstance(value, str) or not _LOGIN.fullmatch(value):
        raise ValidationError("login", value, "expected 1 to 128 characters without blanks")
    # No blanks, and no NUL, control or bidirectional-override characters either.
    return check_id("login", value, max_length=128)


@attrs.define
class Account:
    """A customer account: a fixed login, a profile, notification emails and settings.

    Its :class:`~cabinet_billing.domain.security.SecuritySettings` (IP allowlist, code
    word, last login) live in ``security``.

    Edit it only through its methods: each validates the new value first and leaves the
    account unchanged when it is refused. Assigning ``login`` raises
    :class:`~cabinet_billing.errors.ConflictError`.

    >>> account = Account.open("acc-1", "jfairy", email="j-fairy@test.com")
    >>> account.login = "other"
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ConflictError: login 'jfairy': cannot be changed to 'other': a login is fixed when the account is created
    """

    id: str = attrs.field(validator=lambda _i, _a, value: check_id("account_id", value))
    login: str = attrs.field(converter=_check_login, on_setattr=_refuse_login_change)
    profile: Profile = attrs.field(
        factory=Profile,
        validator=attrs.validators.instance_of(Profile),
    )
    notification_emails: NotificationEmails = attrs.field(
        factory=NotificationEmails,
        validator=attrs.validators.instance_of(NotificationEmails),
    )
    settings: AccountSettings = attrs.field(
        factory=AccountSettings,
        validator=attrs.validators.instance_of(AccountSettings),
    )
    verification: VerificationStatus = attrs.field(
        default=VerificationStatus.NOT_REQUIRED,
        validator=attrs.validators.instance_of(VerificationStatus),
    )
    security: SecuritySettings = attrs.field(
        factory=SecuritySettings,
        validator=attrs.validators.instance_of(SecuritySettings),
    )
    deletion_requests: tuple[DeletionRequest, ...] = attrs.field(default=(), converter=_requests)

    @classmethod
    def open(
        cls,
        account_id: str,
        login: str,
        *,
        email: str = "",
        language: str = "en",
        currency: str = "EUR",
        country: str | None = None,
    ) -> Account:
        """Open an account with a login and the first few profile fields.

        >>> Account.open("acc-1", "jfairy", email="j-fairy@test.com", currency="uah").profile.currency
        'UAH'
        """
        profile = Profile(email=email, language=language, currency=currency, country=country)
        return cls(account_id, login, profile)

    # ------------------------------------------------------------------ profile edits

    def change_name(self, last_name: str, first_name: str, middle_name: str = "") -> None:
        """Set last, first and middle name."""
        self.profile = attrs.evolve(
            self.profile, last_name=last_name, first_name=first_name, middle_name=middle_name
        )

    def change_email(self, email: str) -> None:
        """Set the main email address (also the fallback for every notification purpose)."""
        self.profile = attrs.evolve(self.profile, email=email)

    def change_phone(self, phone: str) -> None:
        """Set the mobile phone number."""
        self.profile = attrs.evolve(self.profile, phone=phone)

    def change_country(self, country: str) -> None:
        """Set the country (ISO 3166-1 alpha-2)."""
        self.profile = attrs.evolve(self.profile, country=country)

    def change_language(self, language: str) -> None:
        """Set the interface language (a CLDR locale code)."""
        self.profile = attrs.evolve(self.profile, language=language)

    def change_currency(self, currency: str) -> None:
        """Set the currency prices are shown and invoices are issued in.

        Raises:
            ValidationError: for a code that is not ISO 4217.
            ConflictError: while the low-balance threshold is in another currency: set it
                in the new currency, or switch it off, first. (A credit line, which the
                account does not hold, is the caller's to check.)
        """
        profile = attrs.evolve(self.profile, currency=currency)
        threshold = self.settings.low_balance_threshold
        if threshold is not None and threshold.currency.code != profile.currency:
            raise ConflictError(
                f"account {self.id!r}",
                f"its low-balance threshold is {threshold}; set it in {profile.currency} or "
                f"switch it off before changing the currency to {profile.currency}",
            )
        self.profile = profile

    def change_postal_address(self, address: PostalAddress) -> None:
        """Set the postal address."""
        self.profile = attrs.evolve(self.profile, postal_address=address)

    def change_company(self, company_name: str, tax_id: str) -> None:
        """Set the company's name and tax id (used by company profiles).

        A verified company that changes either is held for verification again: the
        provider checked other data (SPEC A2).

        >>> account = Account.open("acc-1", "acme")
        >>> account.change_profile_type(ProfileType.COMPANY)
        >>> account.change_company("Acme Ltd", "32855961")
        >>> account.mark_verified()
        >>> account.change_company("Acme Holding Ltd", "32855961")
        >>> account.verification
        <VerificationStatus.PENDING: 'pending'>
        """
        profile = attrs.evolve(self.profile, company_name=company_name, tax_id=tax_id)
        changed = (profile.company_name, profile.tax_id) != (
            self.profile.company_name,
            self.profile.tax_id,
        )
        self.profile = profile
        if changed and self.verification is VerificationStatus.VERIFIED:
            self.verification = VerificationStatus.PENDING

    def change_profile_type(
        self,
        profile_type: ProfileType,
        *,
        hold_for_verification: bool = True,
    ) -> None:
        """Switch between private person and company.

        Switching to a company holds the account for verification by default (Introserv:
        "paying may be blocked until our staff check the data"); switching to a private
        person lifts any hold.

        >>> account = Account.open("acc-1", "acme")
        >>> account.change_profile_type(ProfileType.COMPANY)
        >>> account.verification
        <VerificationStatus.PENDING: 'pending'>
        """
        self.profile = attrs.evolve(self.profile, profile_type=profile_type)
        if profile_type is ProfileType.PRIVATE_PERSON:
            self.verification = VerificationStatus.NOT_REQUIRED
        elif hold_for_verification:
            self.verification = VerificationStatus.PENDING

    def hold_for_verification(self) -> None:
        """Block paying until the company profile is verified.

        Raises:
            ConflictError: for a private-person profile, which is never verified.
        """
        if self.profile.profile_type is not ProfileType.COMPANY:
            raise ConflictError(
                f"account {self.id!r}",
                "only a company profile can be held for verification",
            )
        self.verification = VerificationStatus.PENDING

    def mark_verified(self) -> None:
        """Record that the provider checked the company profile; paying is possible again.

        Raises:
            ConflictError: when the account is not pending verification.
        """
        if self.verification is not VerificationStatus.PENDING:
            raise ConflictError(
                f"account {self.id!r}",
                f"is {self.verification.value}, only a pending profile can be verified",
            )
        self.verification = VerificationStatus.VERIFIED

    # ------------------------------------------------------------------ emails, settings

    def set_notification_email(self, purpose: NotificationPurpose, email: str) -> None:
        """Route mail for ``purpose`` to ``email``; ``""`` falls back to the main email.

        >>> account = Account.open("acc-1", "jfairy", email="j-fairy@test.com")
        >>> account.set_notification_email(NotificationPurpose.SUPPORT, "admin@test.com")
        >>> account.notification_email(NotificationPurpose.SUPPORT)
        'admin@test.com'
        >>> account.notification_email(NotificationPurpose.INVOICES_AND_ORDERS)
        'j-fairy@test.com'
        """
        if not isinstance(purpose, NotificationPurpose):
            raise ValidationError(
                "purpose",
                purpose,
                f"expected one of {', '.join(p.value for p in NotificationPurpose)}",
            )
        self.notification_emails = attrs.evolve(self.notification_emails, **{purpose.value: email})

    def notification_email(self, purpose: NotificationPurpose) -> str:
        """Where mail about ``purpose`` goes: its own address or else the main email."""
        return self.notification_emails.for_purpose(purpose, self.profile.email)

    def set_auto_renew_default(self, enabled: bool) -> None:
        """Whether new services renew automatically from the balance."""
        self.settings = attrs.evolve(self.settings, auto_renew_default=bool(enabled))

    def set_low_balance_threshold(self, threshold: Money | None) -> None:
        """Notify when the balance falls below ``threshold``; ``None`` switches it off.

        The threshold is compared with the balance in the account's currency, so it must
        be in that currency.

        Raises:
            CurrencyMismatchError: for a threshold in another currency than the account's.
            ValidationError: for a negative threshold or one finer than the minor unit.

        >>> account = Account.open("acc-1", "jfairy", currency="EUR")
        >>> account.set_low_balance_threshold(Money("20.00", "USD"))
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.CurrencyMismatchError: low-balance threshold 20.00 USD of account 'acc-1' is in USD, expected EUR
        """
        if threshold is not None:
            check_account_currency(self, threshold, "low-balance threshold")
        self.settings = attrs.evolve(self.settings, low_balance_threshold=threshold)

    def set_news_subscription(self, enabled: bool) -> None:
        """Whether the customer receives news mail."""
        self.settings = attrs.evolve(self.settings, news_subscription=bool(enabled))

    def set_service_code(self, code: str) -> None:
        """Set the account's code in invoice numbers (e.g. ``"11111"``).

        Raises:
            ValidationError: for anything but ASCII letters and digits.
        """
        self.settings = attrs.evolve(self.settings, service_code=code.strip())

    def set_pay_without_login(self, enabled: bool) -> None:
        """Whether invoices may be paid without logging in again."""
        self.settings = attrs.evolve(self.settings, pay_without_login=bool(enabled))

    # ------------------------------------------------------------------ deletion

    @property
    def deletion(self) -> DeletionRequest | None:
        """The latest deletion request, whatever became of it."""
        return self.deletion_requests[-1] if self.deletion_requests else None

    @property
    def pending_deletion(self) -> DeletionRequest | None:
        """The deletion request waiting for the provider, if any."""
        latest = self.deletion
        return latest if latest is not None and latest.pending else None

    @property
    def is_deleted(self) -> bool:
        """Whether the provider confirmed the account's deletion."""
        latest = self.deletion
        return latest is not None and latest.status is DeletionStatus.CONFIRMED

    def ensure_not_closing(self, action: str) -> None:
        """Refuse ``action`` while a deletion is pending or after it was confirmed.

        Raises:
            DeletionPendingError: naming the action and when the deletion was requested.
            AccountDeletedError: naming the action and when the deletion was confirmed.

        >>> from datetime import UTC, datetime
        >>> account = Account.open("acc-1", "shop")
        >>> _ = account.request_deletion(by="u-1", at=datetime(2024, 3, 21, 9, tzinfo=UTC))
        >>> account.ensure_not_closing("place orders")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.DeletionPendingError: account 'acc-1': cannot place orders: its deletion requested at 2024-03-21 09:00:00+00:00 is pending; withdraw the request first
        """
        latest = self.deletion
        if latest is None or latest.status is DeletionStatus.WITHDRAWN:
            return
        if latest.pending:
            raise DeletionPendingError(self.id, action, latest.requested_at)
        raise AccountDeletedError(self.id, action, latest.decided_at)

    def request_deletion(
        self,
        *,
        by: str,
        at: datetime,
        stopped_services: Iterable[str] = (),
    ) -> DeletionRequest:
        """Record a request to delete the account.

        Raises:
            DeletionPendingError: while another request is pending.
            AccountDeletedError: when the account is deleted.
            ValidationError: for an empty ``by`` or a naive ``at``.
        """
        self.ensure_not_closing("request its deletion")
        request = DeletionRequest(at, by, stopped_services=tuple(stopped_services))
        self.deletion_requests = (*self.deletion_requests, request)
        return request

    def note_stopped_for_deletion(self, service_ids: Iterable[str]) -> None:
        """Add services stopped later for the pending request (withdrawing starts them too).

        Raises:
            ConflictError: when no request is pending.
        """
        latest = self.pending_deletion
        if latest is None:
            raise ConflictError(f"account {self.id!r}", "has no pending deletion request")
        added = [i for i in _ids(tuple(service_ids)) if i not in latest.stopped_services]
        if added:
            noted = attrs.evolve(latest, stopped_services=(*latest.stopped_services, *added))
            self.deletion_requests = (*self.deletion_requests[:-1], noted)

    def _decide(self, status: DeletionStatus, by: str, at: datetime) -> DeletionRequest:
        latest = self.pending_deletion
        if latest is None:
            raise ConflictError(
                f"account {self.id!r}",
                f"has no pending deletion request to mark {status.value}",
            )
        decided = attrs.evolve(latest, status=status, decided_at=at, decided_by=_who(by))
        self.deletion_requests = (*self.deletion_requests[:-1], decided)
        return decided

    def withdraw_deletion(self, *, by: str, at: datetime) -> DeletionRequest:
        """Record that the customer withdrew the pending deletion request.

        Raises:
            ConflictError: when no request is pending.
            ValidationError: for an empty ``by`` or a naive ``at``.
        """
        return self._decide(DeletionStatus.WITHDRAWN, by, at)

    def confirm_deletion(self, *, by: str, at: datetime) -> DeletionRequest:
        """Record that the provider confirmed the pending deletion request.

        Raises:
            ConflictError: when no request is pending.
            ValidationError: for an empty ``by`` or a naive ``at``.
        """
        return self._decide(DeletionStatus.CONFIRMED, by, at)


def check_account_currency(account: Account, amount: object, what: str) -> Money:
    """Return ``amount`` if it is an amount in the account's currency.

    For every amount that is compared with the account's balance or debt: a low-balance
    threshold, a credit limit, a default taken from the provider's settings. Use it
    before storing such an amount: one in another currency would fail every later
    comparison (and every daily billing run of the account).

    Args:
        account: the account.
        amount: the amount (a ``moneyed.Money``).
        what: what the amount is, for the message ("credit limit").

    Raises:
        CurrencyMismatchError: naming the amount, the account and its currency.
        ValidationError: for something that is not an amount.

    >>> account = Account.open("acc-1", "jfairy", currency="RUB")
    >>> check_account_currency(account, Money("400000.00", "RUB"), "credit limit")
    Money('400000.00', 'RUB')
    >>> check_account_currency(account, Money("2000.00", "EUR"), "credit limit")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.CurrencyMismatchError: credit limit 2000.00 EUR of account 'acc-1' is in EUR, expected RUB
    """
    if not isinstance(amount, moneyed.Money):
        raise ValidationError(what, amount, f"must be an amount in {account.profile.currency}")
    money = Money.of(amount)
    if money.code != account.profile.currency:
        raise CurrencyMismatchError(
            money.code, account.profile.currency, f"{what} {money} of account {account.id!r}"
        )
    return money


# ----------------------------------------------------------------------------- gating

#: Fields a private person must fill in before paying, in the order they are reported (IS).
PRIVATE_PAYMENT_FIELDS: Final = ("last_name", "first_name", "email", "city", "address")

#: Fields a company must fill in before paying: the private ones plus name and tax id.
COMPANY_PAYMENT_FIELDS: Final = (*PRIVATE_PAYMENT_FIELDS, "company_name", "tax_id")

# Where each requirable field lives on a Profile.
_FIELD_PATHS: Final = {
    "last_name": "last_name",
    "first_name": "first_name",
    "middle_name": "middle_name",
    "email": "email",
    "phone": "phone",
    "country": "country",
    "city": "postal_address.city",
    "postal_code": "postal_address.postal_code",
    "address": "postal_address.address",
    "company_name": "company_name",
    "tax_id": "tax_id",
}


def _fields(value: Iterable[str]) -> tuple[str, ...]:
    fields = (value,) if isinstance(value, str) else tuple(value)
    unknown = [f for f in fields if f not in _FIELD_PATHS]
    if unknown:
        raise ValidationError(
            "requirements",
            value,
            f"unknown field(s) {', '.join(map(str, unknown))}; allowed: {', '.join(_FIELD_PATHS)}",
        )
    return fields


@attrs.frozen
class PaymentRequirements:
    """Which profile fields must be filled in before paying, per profile type (SPEC A2).

    The defaults are Introserv's: last name, first name, email, city and address for
    everybody; a company also needs its name and tax id. Fields are reported in the order
    given here. Known field names: ``last_name``, ``first_name``, ``middle_name``,
    ``email``, ``phone``, ``country``, ``city``, ``postal_code``, ``address``,
    ``company_name``, ``tax_id``.

    >>> PaymentRequirements(private=("email", "phone")).private
    ('email', 'phone')
    """

    private: tuple[str, ...] = attrs.field(
        default=PRIVATE_PAYMENT_FIELDS,
        converter=_fields,
    )
    company: tuple[str, ...] = attrs.field(
        default=COMPANY_PAYMENT_FIELDS,
        converter=_fields,
    )

    def for_type(self, profile_type: ProfileType) -> tuple[str, ...]:
        """The required fields for a profile type."""
        return self.company if profile_type is ProfileType.COMPANY else self.private


@attrs.frozen
class PaymentReadiness:
    """Whether an account may pay now, and if not, why.

    Attributes:
        missing: required fields that are empty, in the order of the requirements.
        pending_verification: whether a company profile awaits verification.
    """

    missing: tuple[str, ...]
    pending_verification: bool

    @property
    def ready(self) -> bool:
        """True when nothing is missing and no verification is pending."""
        return not self.missing and not self.pending_verification


def payment_readiness(
    account: Account,
    requirements: PaymentRequirements | None = None,
) -> PaymentReadiness:
    """Say whether ``account`` may pay now: the missing fields and the verification hold.

    Args:
        account: the account to check.
        requirements: which fields are required (default: Introserv's).

    >>> account = Account.open("acc-1", "acme", email="acme@example.com")
    >>> account.change_profile_type(ProfileType.COMPANY)
    >>> payment_readiness(account)
    PaymentReadiness(missing=('last_name', 'first_name', 'city', 'address', 'company_name', 'tax_id'), pending_verification=True)
    """
    needed = (requirements or PaymentRequirements()).for_type(account.profile.profile_type)
    profile = account.profile
    missing = tuple(f for f in needed if not attrgetter(_FIELD_PATHS[f])(profile))
    return PaymentReadiness(
        missing=missing,
        pending_verification=account.verification is VerificationStatus.PENDING,
    )


def ensure_can_pay(account: Account, requirements: PaymentRequirements | None = None) -> None:
    """Raise unless ``account`` may pay now.

    Raises:
        ProfileIncompleteError: listing the missing fields in a stable order, and whether
            a company profile awaits verification.
    """
    readiness = payment_readiness(account, requirements)
    if not readiness.ready:
        raise ProfileIncompleteError(readiness.missing, readiness.pending_verification)
