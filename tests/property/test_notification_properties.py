"""Delivery decisions over random matrices, policies and contacts (SPEC R9)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cabinet_billing.domain.notifications import (
    DEFAULT_MANDATORY,
    DeliveryContacts,
    DeliveryReason,
    MandatoryNotices,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationPreferences,
)
from cabinet_billing.rules.notify import DEFAULT_ROUTING, deliveries

pytestmark = pytest.mark.spec("R9")

AT = datetime(2024, 3, 21, tzinfo=UTC)
CELLS = [(cat, ch) for cat in NotificationCategory for ch in NotificationChannel]
KINDS = ["invoice.issued", "invoice.paid", "payment.failed", "security.new_ip", "news.digest"]

cells = st.frozensets(st.sampled_from(CELLS))
channels = st.frozensets(st.sampled_from(list(NotificationChannel)), min_size=1)
mandatory_notices = st.one_of(
    st.just(DEFAULT_MANDATORY),
    st.builds(
        MandatoryNotices,
        cells=cells,
        kinds=st.dictionaries(
            st.sampled_from(["security.", "invoice.issued", "payment."]), channels
        ),
    ),
)
notifications = st.builds(
    Notification,
    st.just("acc-1"),
    st.sampled_from(list(NotificationCategory)),
    st.sampled_from(KINDS),
    st.just(AT),
)


@st.composite
def contacts(draw: st.DrawFn) -> DeliveryContacts:
    phone = draw(st.sampled_from(["", "+380 44 123 45 67"]))
    return DeliveryContacts(
        "acc-1",
        main_email=draw(st.sampled_from(["", "j-fairy@test.com"])),
        phone=phone,
        phone_confirmed=bool(phone) and draw(st.booleans()),
        messenger_id=draw(st.sampled_from(["", "jfairy"])),
    )


@st.composite
def preferences(draw: st.DrawFn) -> NotificationPreferences:
    mandatory = draw(mandatory_notices)
    return NotificationPreferences(draw(cells) | mandatory.cells, mandatory)


@given(notifications, preferences(), contacts())
def test_a_switched_off_channel_never_gets_an_optional_notice(
    notification: Notification,
    prefs: NotificationPreferences,
    reach: DeliveryContacts,
) -> None:
    result = deliveries(notification, prefs, reach)
    mandatory = prefs.mandatory.channels_for(notification)
    for delivery in result:
        if delivery.reason is DeliveryReason.CHOSEN:
            assert prefs.allows(notification.category, delivery.channel)
            assert delivery.channel not in mandatory
        elif delivery.reason is DeliveryReason.MANDATORY:
            assert delivery.channel in mandatory
        else:
            assert delivery.channel is NotificationChannel.CABINET
            assert len(result) == 1
    off = {
        ch
        for ch in NotificationChannel
        if not prefs.allows(notification.category, ch) and ch not in mandatory
    }
    assert not any(d.channel in off and d.reason is not DeliveryReason.FALLBACK for d in result)


@given(notifications, preferences(), contacts())
def test_every_notification_reaches_at_least_one_channel_once(
    notification: Notification,
    prefs: NotificationPreferences,
    reach: DeliveryContacts,
) -> None:
    result = deliveries(notification, prefs, reach)
    assert len(result) >= 1
    assert len({d.channel for d in result}) == len(result)
    assert len({d.key for d in result}) == len(result)
    purpose = DEFAULT_ROUTING.purpose_for(notification)
    for delivery in result:
        assert delivery.address == reach.address(delivery.channel, purpose)


@given(notifications, cells, contacts())
def test_with_the_default_policy_the_cabinet_always_keeps_a_copy(
    notification: Notification,
    chosen: frozenset[tuple[NotificationCategory, NotificationChannel]],
    reach: DeliveryContacts,
) -> None:
    prefs = NotificationPreferences(chosen | DEFAULT_MANDATORY.cells)
    result = deliveries(notification, prefs, reach)
    assert all(d.reason is not DeliveryReason.FALLBACK for d in result)
    assert result[-1].channel is NotificationChannel.CABINET
