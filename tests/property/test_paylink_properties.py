from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkPolicy, PayLinkSigner
from cabinet_billing.errors import ExpiredPayLinkError, InvalidPayLinkError, PayLinkTooOldError

pytestmark = pytest.mark.spec("L5")

KEYS = PayLinkKeys("k1", {"k1": bytes(range(32)), "k0": bytes(range(1, 33))})
SIGNER = PayLinkSigner(KEYS)

ids = st.text(min_size=1, max_size=40).filter(lambda s: bool(s.strip()))
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds of a strategy that adds a zone
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
lifetimes = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30))
replacements = st.sampled_from(string.ascii_letters + string.digits + "-_.=+/ ")


@given(ids, ids, instants)
def test_a_token_names_its_invoice_and_account(
    invoice_id: str, account_id: str, now: datetime
) -> None:
    claims = SIGNER.verify(SIGNER.issue(invoice_id, account_id, now).token, now)
    assert (claims.invoice_id, claims.account_id) == (invoice_id, account_id)


@given(ids, ids, instants, st.data(), replacements)
def test_any_single_character_change_fails_verification(
    invoice_id: str, account_id: str, now: datetime, data: st.DataObject, replacement: str
) -> None:
    token = SIGNER.issue(invoice_id, account_id, now).token
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    assume(token[position] != replacement)
    altered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(InvalidPayLinkError) as info:
        SIGNER.verify(altered, now)
    assert not isinstance(info.value, ExpiredPayLinkError)
    with pytest.raises(InvalidPayLinkError):
        SIGNER.reissue_if_expired(altered, now + timedelta(days=365))


@given(instants, lifetimes, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_a_token_verifies_until_exactly_its_expiry_and_fails_after(
    now: datetime, lifetime: timedelta, elapsed: timedelta
) -> None:
    signer = PayLinkSigner(KEYS, PayLinkPolicy(lifetime=lifetime))
    link = signer.issue("inv-7", "acc-1", now)
    assert link.expires_at == now + lifetime
    assert signer.verify(link.token, link.expires_at).invoice_id == "inv-7"
    later = now + elapsed
    if elapsed <= lifetime:
        assert signer.verify(link.token, later).expires_at == link.expires_at
        assert signer.reissue_if_expired(link.token, later) == link
    else:
        with pytest.raises(ExpiredPayLinkError) as info:
            signer.verify(link.token, later)
        assert info.value.invoice_id == "inv-7"
        if later - link.expires_at > signer.policy.reissue_within:
            with pytest.raises(PayLinkTooOldError):
                signer.reissue_if_expired(link.token, later)
            return
        renewed = signer.reissue_if_expired(link.token, later)
        assert renewed.expires_at == later + lifetime
        assert signer.verify(renewed.token, later).invoice_id == "inv-7"


@given(ids, ids, instants)
def test_links_signed_with_any_held_key_verify(
    invoice_id: str, account_id: str, now: datetime
) -> None:
    old = PayLinkSigner(PayLinkKeys("k0", {"k0": bytes(range(1, 33))}))
    token = old.issue(invoice_id, account_id, now).token
    assert SIGNER.verify(token, now).key_id == "k0"
