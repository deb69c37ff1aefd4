from __future__ import annotations

import attrs
import pytest

from cabinet_billing import ConflictError, Money, ProfileIncompleteError, ValidationError
from cabinet_billing.domain.customer import (
    COMPANY_PAYMENT_FIELDS,
    PRIVATE_PAYMENT_FIELDS,
    Account,
    AccountSettings,
    NotificationEmails,
    NotificationPurpose,
    PaymentReadiness,
    PaymentRequirements,
    PostalAddress,
    Profile,
    ProfileType,
    VerificationStatus,
    check_country,
    check_email,
    check_phone,
    ensure_can_pay,
    payment_readiness,
)

KYIV = PostalAddress(city="Kyiv", postal_code="01001", address="1 Khreshchatyk St")


def complete_account() -> Account:
    account = Account.open("acc-1", "jfairy", email="j-fairy@test.com", country="UA")
    account.change_name(last_name="Fairy", first_name="Jill")
    account.change_postal_address(KYIV)
    return account


# ----------------------------------------------------------------------------- A1


@pytest.mark.spec("A1")
def test_open_sets_login_and_first_profile_fields() -> None:
    account = Account.open(
        "acc-1",
        "jfairy",
        email="j-fairy@test.com",
        language="uk",
        currency="uah",
        country="ua",
    )
    assert account.id == "acc-1"
    assert account.login == "jfairy"
    assert account.profile.email == "j-fairy@test.com"
    assert account.profile.language == "uk"
    assert account.profile.currency == "UAH"
    assert account.profile.country == "UA"
    assert account.profile.profile_type is ProfileType.PRIVATE_PERSON
    assert account.verification is VerificationStatus.NOT_REQUIRED
    assert account.settings == AccountSettings()
    assert not account.security.ip_allowlist.restricted
    assert account.security.code_word is None


@pytest.mark.spec("A1")
def test_login_cannot_change_after_creation() -> None:
    account = complete_account()
    with pytest.raises(ConflictError) as info:
        account.login = "someone-else"
    assert str(info.value) == (
        "login 'jfairy': cannot be changed to 'someone-else': "
        "a login is fixed when the account is created"
    )
    assert account.login == "jfairy"


@pytest.mark.spec("A1")
@pytest.mark.parametrize("login", ["", "two words", "x" * 129])
def test_login_must_be_non_blank_text(login: str) -> None:
    with pytest.raises(ValidationError) as info:
        Account.open("acc-1", login)
    assert info.value.field == "login"
    assert info.value.value == login
    assert "without blanks" in str(info.value)


@pytest.mark.spec("A1")
def test_profile_edits_go_through_validating_methods() -> None:
    account = complete_account()
    account.change_name("Ivanov", "Ivan", "Ivanovich")
    account.change_email(" ivan@example.com ")
    account.change_phone("+7 (999) 111-22-33")
    account.change_country("de")
    account.change_language("de_DE")
    account.change_currency("eur")
    account.change_company("Company No. 1", "7707083893")
    profile = account.profile
    assert profile.full_name == "Ivanov Ivan Ivanovich"
    assert profile.email == "ivan@example.com"
    assert profile.phone == "+7 (999) 111-22-33"
    assert profile.country == "DE"
    assert profile.language == "de_DE"
    assert profile.currency == "EUR"
    assert profile.company_name == "Company No. 1"
    assert profile.tax_id == "7707083893"


@pytest.mark.spec("A1")
@pytest.mark.parametrize(
    ("edit", "field", "value", "allowed"),
    [
        (lambda a: a.change_email("j-fairy@"), "email", "j-fairy@", "'name@example.com'"),
        (lambda a: a.change_phone("12-34"), "phone", "12-34", "7 to 15 digits"),
        (lambda a: a.change_phone("+7 999 CALL ME"), "phone", "+7 999 CALL ME", "7 to 15"),
        (lambda a: a.change_country("Ukraine"), "country", "Ukraine", "ISO 3166-1 alpha-2"),
        (lambda a: a.change_country("EU"), "country", "EU", "ISO 3166-1 alpha-2"),
        (lambda a: a.change_language("klingon"), "language", "klingon", "'uk', 'ru', 'de'"),
        (lambda a: a.change_currency("EURO"), "currency", "EURO", "ISO 4217"),
        (lambda a: a.change_name(123, "Jill"), "last_name", 123, "text"),
    ],
)
def test_invalid_edit_is_refused_and_changes_nothing(
    edit: object,
    field: str,
    value: object,
    allowed: str,
) -> None:
    account = complete_account()
    before = attrs.evolve(account.profile)
    with pytest.raises(ValidationError) as info:
        edit(account)  # type: ignore[operator]
    assert info.value.field == field
    assert info.value.value == value
    assert repr(value) in str(info.value)
    assert allowed in str(info.value)
    assert account.profile == before


@pytest.mark.spec("A1")
def test_empty_contact_fields_mean_not_filled_in() -> None:
    profile = Profile()
    assert (profile.email, profile.phone, profile.country) == ("", "", None)
    assert check_email("  ") == ""
    assert check_phone("") == ""


@pytest.mark.spec("A1")
def test_country_codes_come_from_cldr() -> None:
    assert check_country("ua") == "UA"
    assert check_country(" de ", "payer.country") == "DE"
    with pytest.raises(ValidationError) as info:
        check_country("ZZ", "payer.country")
    assert info.value.field == "payer.country"


@pytest.mark.spec("A1")
def test_postal_address_is_part_of_the_profile() -> None:
    account = complete_account()
    assert account.profile.postal_address == PostalAddress(
        city="Kyiv",
        postal_code="01001",
        address="1 Khreshchatyk St",
    )
    assert PostalAddress(country="ua").country == "UA"
    with pytest.raises(ValidationError):
        PostalAddress(country="Ukraine")


@pytest.mark.spec("A1")
def test_notification_emails_fall_back_to_the_main_email() -> None:
    account = complete_account()
    assert [account.notification_email(p) for p in NotificationPurpose] == [
        "j-fairy@test.com",
        "j-fairy@test.com",
        "j-fairy@test.com",
    ]
    account.set_notification_email(NotificationPurpose.INVOICES_AND_ORDERS, "billing@test.com")
    account.set_notification_email(NotificationPurpose.SUPPORT, "admin@test.com")
    account.set_notification_email(NotificationPurpose.ABUSE, "abuse@test.com")
    assert account.notification_emails == NotificationEmails(
        invoices_and_orders="billing@test.com",
        support="admin@test.com",
        abuse="abuse@test.com",
    )
    assert account.notification_email(NotificationPurpose.ABUSE) == "abuse@test.com"
    account.set_notification_email(NotificationPurpose.ABUSE, "")
    assert account.notification_email(NotificationPurpose.ABUSE) == "j-fairy@test.com"
    account.change_email("new@test.com")
    assert account.notification_email(NotificationPurpose.ABUSE) == "new@test.com"
    assert account.notification_email(NotificationPurpose.SUPPORT) == "admin@test.com"


@pytest.mark.spec("A1")
def test_malformed_notification_email_is_refused() -> None:
    account = complete_account()
    with pytest.raises(ValidationError) as info:
        account.set_notification_email(NotificationPurpose.SUPPORT, "admin at test")
    assert info.value.field == "support"
    assert info.value.value == "admin at test"
    assert account.notification_emails == NotificationEmails()
    with pytest.raises(ValidationError) as purpose_info:
        account.set_notification_email("support", "admin@test.com")  # type: ignore[arg-type]
    assert "invoices_and_orders, support, abuse" in str(purpose_info.value)


@pytest.mark.spec("A1")
def test_settings_hold_auto_renew_and_low_balance_threshold() -> None:
    account = complete_account()
    account.set_auto_renew_default(True)
    account.set_low_balance_threshold(Money("50.00", "EUR"))
    account.set_news_subscription(True)
    account.set_pay_without_login(True)
    assert account.settings == AccountSettings(
        auto_renew_default=True,
        low_balance_threshold=Money("50.00", "EUR"),
        news_subscription=True,
        pay_without_login=True,
    )
    account.set_low_balance_threshold(None)
    assert account.settings.low_balance_threshold is None


@pytest.mark.spec("A1")
@pytest.mark.parametrize("threshold", [Money("-1", "EUR"), Money("1.005", "EUR")])
def test_low_balance_threshold_must_be_a_non_negative_currency_amount(threshold: Money) -> None:
    account = complete_account()
    account.set_low_balance_threshold(Money("10", "EUR"))
    with pytest.raises(ValidationError) as info:
        account.set_low_balance_threshold(threshold)
    assert info.value.field == "low_balance_threshold"
    assert info.value.value == threshold
    assert "zero or more" in str(info.value)
    assert account.settings.low_balance_threshold == Money("10", "EUR")


# ----------------------------------------------------------------------------- A2


@pytest.mark.spec("A2")
def test_new_account_cannot_pay_and_error_lists_missing_fields_in_order() -> None:
    account = Account.open("acc-1", "jfairy")
    assert payment_readiness(account) == PaymentReadiness(
        missing=("last_name", "first_name", "email", "city", "address"),
        pending_verification=False,
    )
    with pytest.raises(ProfileIncompleteError) as info:
        ensure_can_pay(account)
    assert info.value.missing == ("last_name", "first_name", "email", "city", "address")
    assert info.value.pending_verification is False
    assert str(info.value) == (
        "paying is not possible yet: fill in last_name, first_name, email, city, address"
    )


@pytest.mark.spec("A2")
def test_introserv_required_fields_are_the_default() -> None:
    assert PRIVATE_PAYMENT_FIELDS == ("last_name", "first_name", "email", "city", "address")
    assert (*PRIVATE_PAYMENT_FIELDS, "company_name", "tax_id") == COMPANY_PAYMENT_FIELDS


@pytest.mark.spec("A2")
def test_complete_private_profile_may_pay() -> None:
    account = complete_account()
    readiness = payment_readiness(account)
    assert readiness.ready
    assert readiness.missing == ()
    ensure_can_pay(account)


@pytest.mark.spec("A2")
def test_blank_only_fields_count_as_missing() -> None:
    account = complete_account()
    account.change_name(last_name="   ", first_name="Jill")
    account.change_postal_address(PostalAddress(city="Kyiv", address=" "))
    assert payment_readiness(account).missing == ("last_name", "address")


@pytest.mark.spec("A2")
def test_company_needs_name_and_tax_id_and_verification() -> None:
    account = complete_account()
    account.change_profile_type(ProfileType.COMPANY)
    assert account.verification is VerificationStatus.PENDING
    assert payment_readiness(account) == PaymentReadiness(
        missing=("company_name", "tax_id"),
        pending_verification=True,
    )
    account.change_company("Lala limited", "32855961")
    with pytest.raises(ProfileIncompleteError) as info:
        ensure_can_pay(account)
    assert info.value.missing == ()
    assert info.value.pending_verification is True
    assert str(info.value) == (
        "paying is not possible yet: wait until the company profile is verified"
    )
    account.mark_verified()
    assert payment_readiness(account).pending_verification is False
    assert account.verification.value == "verified"
    ensure_can_pay(account)


@pytest.mark.spec("A2")
def test_company_without_hold_pays_once_complete() -> None:
    account = complete_account()
    account.change_company("Lala limited", "32855961")
    account.change_profile_type(ProfileType.COMPANY, hold_for_verification=False)
    assert account.verification is VerificationStatus.NOT_REQUIRED
    ensure_can_pay(account)
    account.hold_for_verification()
    assert payment_readiness(account).pending_verification is True


@pytest.mark.spec("A2")
def test_switching_back_to_private_lifts_the_hold() -> None:
    account = complete_account()
    account.change_profile_type(ProfileType.COMPANY)
    account.change_profile_type(ProfileType.PRIVATE_PERSON)
    assert account.verification is VerificationStatus.NOT_REQUIRED
    ensure_can_pay(account)


@pytest.mark.spec("A2")
def test_private_profile_cannot_be_held_or_verified() -> None:
    account = complete_account()
    with pytest.raises(ConflictError) as info:
        account.hold_for_verification()
    assert str(info.value) == (
        "account 'acc-1': only a company profile can be held for verification"
    )
    with pytest.raises(ConflictError) as verify_info:
        account.mark_verified()
    assert str(verify_info.value) == (
        "account 'acc-1': is not_required, only a pending profile can be verified"
    )
    assert account.verification is VerificationStatus.NOT_REQUIRED


@pytest.mark.spec("A2")
def test_required_fields_are_a_setting() -> None:
    requirements = PaymentRequirements(private=("email", "phone", "middle_name"))
    account = complete_account()
    assert payment_readiness(account, requirements).missing == ("phone", "middle_name")
    with pytest.raises(ProfileIncompleteError) as info:
        ensure_can_pay(account, requirements)
    assert info.value.missing == ("phone", "middle_name")
    assert requirements.for_type(ProfileType.COMPANY) == COMPANY_PAYMENT_FIELDS


@pytest.mark.spec("A2")
def test_unknown_required_field_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        PaymentRequirements(private=("email", "shoe_size"))
    assert info.value.field == "requirements"
    assert "shoe_size" in str(info.value)
    assert "allowed: last_name, first_name" in str(info.value)
