"""Notification preferences, mandatory notices, contacts and delivery decisions (SPEC R9)."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from cabinet_billing.adapters.memory.outbox import InMemoryOutbox
from cabinet_billing.domain.customer import Account, NotificationPurpose
from cabinet_billing.domain.notifications import (
    DEFAULT_CHOICES,
    DEFAULT_MANDATORY,
    Delivery,
    DeliveryContacts,
    DeliveryReason,
    MandatoryNotices,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationPreferences,
)
from cabinet_billing.errors import ValidationError
from cabinet_billing.ports.notifier import Notifier
from cabinet_billing.rules.notify import DEFAULT_ROUTING, EmailRouting, deliveries

pytestmark = pytest.mark.spec("R9")

AT = datetime(2024, 3, 21, 12, tzinfo=UTC)
FIN = NotificationCategory.FINANCE
NEWS = NotificationCategory.NEWS
SERV = NotificationCategory.SERVICES
SUP = NotificationCategory.SUPPORT
EMAIL = NotificationChannel.EMAIL
SMS = NotificationChannel.SMS
MSG = NotificationChannel.MESSENGER
CAB = NotificationChannel.CABINET


def note(category: NotificationCategory, kind: str, account_id: str = "acc-1") -> Notification:
    return Notification(account_id, category, kind, AT)


def full_contacts() -> DeliveryContacts:
    account = Account.open("acc-1", "jfairy", email="j-fairy@test.com")
    account.change_phone("+380 44 123 45 67")
    account.set_notification_email(NotificationPurpose.INVOICES_AND_ORDERS, "billing@test.com")
    account.set_notification_email(NotificationPurpose.SUPPORT, "admin@test.com")
    account.set_notification_email(NotificationPurpose.ABUSE, "abuse@test.com")
    return DeliveryContacts.from_account(account, phone_confirmed=True, messenger_id="@jfairy")


def plan(
    notification: Notification,
    preferences: NotificationPreferences,
    contacts: DeliveryContacts,
) -> list[tuple[str, str, str]]:
    return [
        (d.channel.value, d.address, d.reason.value)
        for d in deliveries(notification, preferences, contacts)
    ]


# ----------------------------------------------------------------------------- matrix


def test_channels_are_the_four_of_astra_cloud() -> None:
    assert [c.value for c in NotificationChannel] == ["email", "sms", "messenger", "cabinet"]


def test_default_matrix() -> None:
    prefs = NotificationPreferences.defaults()
    assert prefs.matrix() == {
        "finance": {"email": True, "sms": False, "messenger": False, "cabinet": True},
        "news": {"email": False, "sms": False, "messenger": False, "cabinet": True},
        "services": {"email": True, "sms": False, "messenger": False, "cabinet": True},
        "support": {"email": True, "sms": False, "messenger": False, "cabinet": True},
    }
    assert prefs.enabled == DEFAULT_CHOICES
    assert prefs.mandatory == DEFAULT_MANDATORY


def test_everything_and_only_mandatory() -> None:
    assert len(NotificationPreferences.everything().enabled) == 16
    only = NotificationPreferences.only_mandatory()
    assert only.enabled == frozenset({(FIN, CAB), (NEWS, CAB), (SERV, CAB), (SUP, CAB)})


def test_switch_on_and_off_returns_new_values() -> None:
    prefs = NotificationPreferences.defaults()
    with_sms = prefs.switch(FIN, SMS, on=True)
    assert with_sms.allows(FIN, SMS)
    assert not prefs.allows(FIN, SMS)
    back = with_sms.switch("finance", "sms", on=False)
    assert back == prefs
    assert with_sms.channels(FIN) == frozenset({EMAIL, SMS, CAB})


def test_switch_off_a_mandatory_cell_is_refused() -> None:
    prefs = NotificationPreferences.defaults()
    with pytest.raises(ValidationError) as err:
        prefs.switch(SUP, CAB, on=False)
    assert err.value.field == "support/cabinet"
    assert err.value.value is False
    assert str(err.value) == (
        "support/cabinet=False is invalid: support notifications always go to cabinet; "
        "the provider does not allow switching this off"
    )
    assert prefs == NotificationPreferences.defaults()


def test_switch_with_unknown_category_or_channel_is_refused() -> None:
    prefs = NotificationPreferences.defaults()
    with pytest.raises(
        ValidationError,
        match=r"category='promo' is invalid: expected one of finance, news, services, support",
    ):
        prefs.switch("promo", EMAIL, on=True)
    with pytest.raises(
        ValidationError,
        match=r"channel='fax' is invalid: expected one of email, sms, messenger, cabinet",
    ):
        prefs.switch(FIN, "fax", on=True)
    with pytest.raises(ValidationError, match=r"on='yes' is invalid: expected True or False"):
        prefs.switch(FIN, EMAIL, on="yes")  # type: ignore[arg-type]
    assert prefs == NotificationPreferences.defaults()


def test_switch_category_keeps_mandatory_cells() -> None:
    prefs = NotificationPreferences.everything().switch_category(NEWS, on=False)
    assert prefs.channels(NEWS) == frozenset({CAB})
    assert prefs.switch_category("news", on=True).channels(NEWS) == frozenset(NotificationChannel)
    with pytest.raises(ValidationError, match="on=1 is invalid"):
        prefs.switch_category(NEWS, on=1)  # type: ignore[arg-type]


def test_a_matrix_without_the_mandatory_cells_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        NotificationPreferences({(FIN, EMAIL)})
    assert str(err.value) == (
        "enabled='finance/email' is invalid: must include the mandatory cells "
        "finance/cabinet, news/cabinet, services/cabinet, support/cabinet"
    )


def test_a_provider_may_drop_the_mandatory_cabinet() -> None:
    relaxed = MandatoryNotices()
    prefs = NotificationPreferences({(FIN, EMAIL)}, relaxed)
    assert prefs.switch(FIN, EMAIL, on=False).enabled == frozenset()


# ----------------------------------------------------------------------------- mandatory


def test_mandatory_kinds_match_exactly_or_by_prefix() -> None:
    assert DEFAULT_MANDATORY.channels_for(note(FIN, "invoice.issued")) == {EMAIL, CAB}
    assert DEFAULT_MANDATORY.channels_for(note(FIN, "invoice.paid")) == {CAB}
    assert DEFAULT_MANDATORY.channels_for(note(SERV, "security.new_ip_login")) == {EMAIL, CAB}
    assert DEFAULT_MANDATORY.channels_for(note(SERV, "securityx")) == {CAB}
    assert DEFAULT_MANDATORY.is_mandatory(NEWS, CAB)
    assert not DEFAULT_MANDATORY.is_mandatory(NEWS, EMAIL)


def test_mandatory_notices_refuse_bad_data() -> None:
    with pytest.raises(ValidationError, match=r"kinds='' is invalid: expected a notification kind"):
        MandatoryNotices(kinds={"": ["email"]})
    with pytest.raises(ValidationError, match=r"channel='pager' is invalid"):
        MandatoryNotices(kinds={"security.": ["pager"]})
    with pytest.raises(ValidationError, match=r"category='x' is invalid"):
        MandatoryNotices(cells={("x", "email")})


# ----------------------------------------------------------------------------- contacts


def test_contacts_from_account_route_email_by_purpose() -> None:
    contacts = full_contacts()
    assert contacts.email_for(NotificationPurpose.SUPPORT) == "admin@test.com"
    assert contacts.email_for(None) == "j-fairy@test.com"
    assert contacts.address(SMS) == "+380 44 123 45 67"
    assert contacts.address(MSG) == "jfairy"
    assert contacts.address(CAB) == "acc-1"


def test_unconfirmed_phone_and_unlinked_messenger_cannot_be_reached() -> None:
    contacts = DeliveryContacts("acc-1", phone="+380 44 123 45 67")
    assert contacts.address(SMS) is None
    assert contacts.address(MSG) is None
    assert contacts.address(EMAIL) is None


def test_contacts_refuse_bad_values() -> None:
    with pytest.raises(
        ValidationError,
        match=r"phone_confirmed=True is invalid: a phone must be set to be confirmed",
    ):
        DeliveryContacts("acc-1", phone_confirmed=True)
    with pytest.raises(
        ValidationError, match=r"messenger_id='j fairy' is invalid: expected a messenger user name"
    ):
        DeliveryContacts("acc-1", messenger_id="j fairy")
    with pytest.raises(ValidationError, match=r"main_email='nobody' is invalid"):
        DeliveryContacts("acc-1", main_email="nobody")


# ----------------------------------------------------------------------------- deliveries


def test_finance_notice_goes_to_the_invoices_address_and_the_cabinet() -> None:
    assert plan(
        note(FIN, "payment.credited"), NotificationPreferences.defaults(), full_contacts()
    ) == [
        ("email", "billing@test.com", "chosen"),
        ("cabinet", "acc-1", "mandatory"),
    ]


def test_support_notice_goes_to_the_support_address() -> None:
    assert plan(
        note(SUP, "ticket.staff_replied"), NotificationPreferences.defaults(), full_contacts()
    ) == [
        ("email", "admin@test.com", "chosen"),
        ("cabinet", "acc-1", "mandatory"),
    ]


def test_abuse_kinds_go_to_the_abuse_address_and_news_to_the_main_email() -> None:
    prefs = NotificationPreferences.everything()
    assert plan(note(SERV, "abuse.complaint"), prefs, full_contacts())[0] == (
        "email",
        "abuse@test.com",
        "chosen",
    )
    assert plan(note(NEWS, "news.digest"), prefs, full_contacts()) == [
        ("email", "j-fairy@test.com", "chosen"),
        ("sms", "+380 44 123 45 67", "chosen"),
        ("messenger", "jfairy", "chosen"),
        ("cabinet", "acc-1", "mandatory"),
    ]


def test_a_switched_off_email_still_gets_a_mandatory_invoice() -> None:
    prefs = NotificationPreferences.defaults().switch_category(FIN, on=False)
    assert plan(note(FIN, "invoice.issued"), prefs, full_contacts()) == [
        ("email", "billing@test.com", "mandatory"),
        ("cabinet", "acc-1", "mandatory"),
    ]
    assert plan(note(FIN, "invoice.paid"), prefs, full_contacts()) == [
        ("cabinet", "acc-1", "mandatory"),
    ]


def test_news_are_not_sent_by_sms_by_default() -> None:
    assert plan(note(NEWS, "news.digest"), NotificationPreferences.defaults(), full_contacts()) == [
        ("cabinet", "acc-1", "mandatory"),
    ]


def test_unreachable_channels_are_skipped_and_the_cabinet_is_the_fallback() -> None:
    relaxed = MandatoryNotices()
    prefs = NotificationPreferences({(FIN, SMS)}, relaxed)
    contacts = DeliveryContacts("acc-1", phone="+380 44 123 45 67")
    assert plan(note(FIN, "invoice.paid"), prefs, contacts) == [("cabinet", "acc-1", "fallback")]
    confirmed = attrs.evolve(contacts, phone_confirmed=True)
    assert plan(note(FIN, "invoice.paid"), prefs, confirmed) == [
        ("sms", "+380 44 123 45 67", "chosen"),
    ]


def test_contacts_of_another_account_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        deliveries(
            note(FIN, "invoice.paid", "acc-2"), NotificationPreferences.defaults(), full_contacts()
        )
    assert str(err.value) == (
        "contacts='acc-1' is invalid: belong to another account; expected the contacts of 'acc-2'"
    )


def test_delivery_key_is_notification_key_plus_channel() -> None:
    n = note(FIN, "invoice.paid")
    delivery = Delivery(n, SMS, "+380441234567", DeliveryReason.CHOSEN)
    assert delivery.key == f"{n.key}:sms"
    keys = [d.key for d in deliveries(n, NotificationPreferences.everything(), full_contacts())]
    assert len(keys) == len(set(keys)) == 4


def test_email_routing_prefers_the_longest_prefix() -> None:
    routing = EmailRouting(
        by_category={FIN: NotificationPurpose.INVOICES_AND_ORDERS},
        by_kind_prefix={
            "abuse.": NotificationPurpose.ABUSE,
            "abuse.ticket.": NotificationPurpose.SUPPORT,
        },
    )
    assert routing.purpose_for(note(FIN, "abuse.ticket.opened")) is NotificationPurpose.SUPPORT
    assert routing.purpose_for(note(FIN, "abuse.complaint")) is NotificationPurpose.ABUSE
    assert routing.purpose_for(note(NEWS, "news.digest")) is None
    assert (
        DEFAULT_ROUTING.purpose_for(note(SERV, "service.paid"))
        is NotificationPurpose.INVOICES_AND_ORDERS
    )


def test_email_routing_refuses_bad_data() -> None:
    with pytest.raises(
        ValidationError,
        match=r"purpose='support' is invalid: expected one of invoices_and_orders, support, abuse",
    ):
        EmailRouting(by_category={FIN: "support"})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match=r"by_category='finance' is invalid"):
        EmailRouting(by_category={"finance": NotificationPurpose.SUPPORT})  # type: ignore[dict-item]
    with pytest.raises(
        ValidationError, match=r"by_kind_prefix='' is invalid: expected a kind prefix"
    ):
        EmailRouting(by_category={}, by_kind_prefix={"": NotificationPurpose.ABUSE})


# ----------------------------------------------------------------------------- outbox


def test_outbox_records_each_delivery_once_per_channel() -> None:
    outbox = InMemoryOutbox()
    outbox.register(full_contacts(), NotificationPreferences.defaults().switch(FIN, MSG, on=True))
    n = note(FIN, "invoice.paid")
    first = outbox.deliver(n)
    assert [d.channel for d in first] == [EMAIL, MSG, CAB]
    assert outbox.deliver(n) == ()
    outbox.send(n)
    assert outbox.addresses(EMAIL) == ["billing@test.com"]
    assert outbox.addresses(MSG) == ["jfairy"]
    assert outbox.kinds(CAB, "acc-1") == ["invoice.paid"]
    assert outbox.to(SMS) == []
    assert len(outbox.delivered) == 3


def test_outbox_is_a_notifier() -> None:
    notifier: Notifier = InMemoryOutbox()
    notifier.send(note(SUP, "ticket.opened"))
    assert isinstance(notifier, InMemoryOutbox)
    assert notifier.kinds(CAB) == ["ticket.opened"]


def test_a_single_channel_may_be_given_as_text() -> None:
    assert MandatoryNotices(kinds={"payment.failed": "sms"}).kinds == frozenset(
        {("payment.failed", SMS)}
    )


def test_outbox_unknown_account_gets_the_cabinet_only() -> None:
    outbox = InMemoryOutbox()
    outbox.deliver(note(FIN, "invoice.issued", "acc-9"))
    assert [(d.channel, d.address) for d in outbox.delivered] == [(CAB, "acc-9")]
    outbox.set_preferences("acc-9", NotificationPreferences.everything())
    assert outbox.preferences("acc-9") == NotificationPreferences.everything()
    assert outbox.contacts("acc-9") == DeliveryContacts("acc-9")
