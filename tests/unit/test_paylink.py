from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from cabinet_billing.domain.paylink import (
    MIN_SECRET_BYTES,
    PayLink,
    PayLinkClaims,
    PayLinkKeys,
    PayLinkPolicy,
    PayLinkSigner,
)
from cabinet_billing.errors import (
    BillingError,
    ExpiredPayLinkError,
    InvalidPayLinkError,
    ValidationError,
)

pytestmark = pytest.mark.spec("L5")

SECRET_1 = bytes(range(32))
SECRET_2 = bytes(range(100, 140))
KEYS = PayLinkKeys("k1", {"k1": SECRET_1})
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SIGNER = PayLinkSigner(KEYS)


def test_horoshop_links_live_30_minutes_by_default() -> None:
    assert PayLinkPolicy().lifetime == timedelta(minutes=30)
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    assert link.expires_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_a_link_names_exactly_one_invoice_of_one_account() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    assert SIGNER.verify(link.token, NOW) == PayLinkClaims(
        "inv-7", "acc-1", datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "k1"
    )


def test_token_is_url_safe_without_padding() -> None:
    token = SIGNER.issue("счёт/7?&=", "acc 1", NOW).token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 2
    assert SIGNER.verify(token, NOW).invoice_id == "счёт/7?&="


def test_issue_is_deterministic() -> None:
    assert SIGNER.issue("inv-7", "acc-1", NOW) == SIGNER.issue("inv-7", "acc-1", NOW)


def test_lifetime_is_a_setting() -> None:
    signer = PayLinkSigner(KEYS, PayLinkPolicy(lifetime=timedelta(hours=24)))
    assert signer.issue("inv-7", "acc-1", NOW).expires_at == NOW + timedelta(hours=24)


def test_valid_up_to_and_including_the_expiry_instant() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    assert SIGNER.verify(link.token, link.expires_at).invoice_id == "inv-7"
    with pytest.raises(ExpiredPayLinkError):
        SIGNER.verify(link.token, link.expires_at + timedelta(microseconds=1))


def test_other_time_zones_are_the_same_instant() -> None:
    kyiv = timezone(timedelta(hours=3))
    link = SIGNER.issue("inv-7", "acc-1", datetime(2024, 5, 1, 15, 0, tzinfo=kyiv))
    assert link.expires_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert link.expires_at.tzinfo is UTC
    assert (
        SIGNER.verify(link.token, datetime(2024, 5, 1, 15, 30, tzinfo=kyiv)).account_id == "acc-1"
    )


def test_microseconds_survive_the_round_trip() -> None:
    now = NOW + timedelta(microseconds=123457)
    link = SIGNER.issue("inv-7", "acc-1", now)
    assert link.expires_at == now + timedelta(minutes=30)
    assert SIGNER.verify(link.token, now).expires_at == link.expires_at


def test_expired_error_carries_the_invoice_so_a_new_link_can_be_issued() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    later = NOW + timedelta(minutes=31)
    with pytest.raises(ExpiredPayLinkError) as info:
        SIGNER.verify(link.token, later)
    error = info.value
    assert isinstance(error, InvalidPayLinkError)
    assert isinstance(error, BillingError)
    assert isinstance(error, ValueError)
    assert (error.invoice_id, error.account_id, error.expires_at, error.now) == (
        "inv-7",
        "acc-1",
        link.expires_at,
        later,
    )
    assert error.token == link.token
    assert str(error) == (
        f"pay link {link.token[:12] + '...'!r} is not valid: the link to pay invoice 'inv-7' "
        "expired at 2024-05-01 12:30:00+00:00 and is valid only until then "
        "(now 2024-05-01 12:31:00+00:00); issue a new link"
    )


def test_messages_show_only_the_start_of_a_token() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    with pytest.raises(InvalidPayLinkError) as info:
        SIGNER.verify(link.token + "x", NOW)
    assert link.token not in str(info.value)
    assert link.token[:12] in str(info.value)


# ----------------------------------------------------------------------------- re-issue


def test_reissue_returns_the_same_link_while_valid() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    assert SIGNER.reissue_if_expired(link.token, NOW + timedelta(minutes=30)) == link


def test_reissue_gives_a_new_30_minute_link_once_expired() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    later = NOW + timedelta(hours=2)
    new = SIGNER.reissue_if_expired(link.token, later)
    assert new == PayLink(new.token, later + timedelta(minutes=30))
    assert new.token != link.token
    claims = SIGNER.verify(new.token, later)
    assert (claims.invoice_id, claims.account_id) == ("inv-7", "acc-1")


def test_reissue_never_renews_an_altered_token() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    key_id, _, signature = link.token.split(".")
    forged_body = base64.urlsafe_b64encode(b'{"a":"acc-1","e":1,"i":"inv-8"}').rstrip(b"=")
    forged = f"{key_id}.{forged_body.decode()}.{signature}"
    with pytest.raises(InvalidPayLinkError, match="signature does not match") as info:
        SIGNER.reissue_if_expired(forged, NOW + timedelta(hours=2))
    assert not isinstance(info.value, ExpiredPayLinkError)


def test_reissue_after_rotation_signs_with_the_new_key() -> None:
    old = SIGNER.issue("inv-7", "acc-1", NOW)
    rotated = PayLinkSigner(KEYS.rotate("k2", SECRET_2))
    new = rotated.reissue_if_expired(old.token, NOW + timedelta(hours=1))
    assert new.token.startswith("k2.")
    assert rotated.verify(new.token, NOW + timedelta(hours=1)).key_id == "k2"


# ----------------------------------------------------------------------------- tampering


def test_a_link_for_another_invoice_cannot_be_forged_by_editing_the_payload() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    key_id, body, signature = link.token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["i"] = "inv-8"
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidPayLinkError, match="the signature does not match"):
        SIGNER.verify(f"{key_id}.{edited}.{signature}", NOW)


def test_extending_the_expiry_is_detected() -> None:
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    key_id, body, signature = link.token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["e"] += 10**12
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidPayLinkError, match="signature does not match"):
        SIGNER.verify(f"{key_id}.{edited}.{signature}", NOW + timedelta(hours=1))


def test_a_token_signed_with_another_secret_under_the_same_key_id_fails() -> None:
    other = PayLinkSigner(PayLinkKeys("k1", {"k1": SECRET_2}))
    token = other.issue("inv-7", "acc-1", NOW).token
    with pytest.raises(InvalidPayLinkError, match="signature does not match"):
        SIGNER.verify(token, NOW)


def test_unknown_key_id_names_the_held_ones() -> None:
    token = PayLinkSigner(PayLinkKeys("k9", {"k9": SECRET_2})).issue("inv-7", "acc-1", NOW).token
    with pytest.raises(
        InvalidPayLinkError, match="signed with key id 'k9', which is not held; held key ids: k1"
    ) as info:
        SIGNER.verify(token, NOW)
    assert info.value.token == token


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "expected <key id>.<payload>.<signature>"),
        ("k1.abc", "expected <key id>.<payload>.<signature>"),
        ("k1..sig", "expected <key id>.<payload>.<signature>"),
        ("k1.a.b.c", "expected <key id>.<payload>.<signature>"),
        ("k1.тест.sig", "a token is a string of URL-safe characters"),
        ("k1.abc.def", "the signature does not match"),
    ],
)
def test_malformed_tokens(token: str, reason: str) -> None:
    with pytest.raises(InvalidPayLinkError, match=reason) as info:
        SIGNER.verify(token, NOW)
    assert info.value.token == token
    assert info.value.reason.startswith(reason)


def test_a_non_string_token_is_invalid() -> None:
    with pytest.raises(InvalidPayLinkError, match="string of URL-safe characters"):
        SIGNER.verify(None, NOW)  # type: ignore[arg-type]


def test_an_authentic_token_with_a_foreign_payload_is_invalid() -> None:
    # Only reachable with the secret itself: the payload is checked after the signature.
    body = base64.urlsafe_b64encode(b'{"i": 7}').rstrip(b"=").decode()
    signature = SIGNER._signature("k1", f"k1.{body}", "")
    with pytest.raises(InvalidPayLinkError, match="the payload is not a pay link"):
        SIGNER.verify(f"k1.{body}.{signature}", NOW)
    body = base64.urlsafe_b64encode(b"not json").rstrip(b"=").decode()
    signature = SIGNER._signature("k1", f"k1.{body}", "")
    with pytest.raises(InvalidPayLinkError, match="the payload is not a pay link"):
        SIGNER.verify(f"k1.{body}.{signature}", NOW)


# ----------------------------------------------------------------------------- time


@pytest.mark.parametrize("method", ["issue", "verify", "reissue_if_expired"])
def test_naive_datetimes_are_refused(method: str) -> None:
    naive = datetime(2024, 5, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    link = SIGNER.issue("inv-7", "acc-1", NOW)
    calls: dict[str, Callable[[], object]] = {
        "issue": lambda: SIGNER.issue("inv-7", "acc-1", naive),
        "verify": lambda: SIGNER.verify(link.token, naive),
        "reissue_if_expired": lambda: SIGNER.reissue_if_expired(link.token, naive),
    }
    with pytest.raises(ValidationError, match="a naive datetime is ambiguous") as info:
        calls[method]()
    assert info.value.field == "now"
    assert info.value.value == naive


def test_a_date_is_not_an_instant() -> None:
    with pytest.raises(ValidationError, match="must be an aware datetime"):
        SIGNER.issue("inv-7", "acc-1", NOW.date())  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["invoice_id", "account_id"])
def test_ids_must_be_non_empty(field: str) -> None:
    ids = {"invoice_id": "inv-7", "account_id": "acc-1", field: " "}
    with pytest.raises(ValidationError, match="must be a non-empty string") as info:
        SIGNER.issue(ids["invoice_id"], ids["account_id"], NOW)
    assert info.value.field == field


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(minutes=-1), 30])
def test_lifetime_must_be_positive(lifetime: object) -> None:
    with pytest.raises(ValidationError, match=r"lifetime=.* must be a positive timedelta"):
        PayLinkPolicy(lifetime=lifetime)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- keys


def test_old_links_verify_after_rotation_until_the_key_is_retired() -> None:
    old = SIGNER.issue("inv-7", "acc-1", NOW)
    rotated = KEYS.rotate("k2", SECRET_2)
    signer = PayLinkSigner(rotated)
    assert signer.issue("inv-8", "acc-1", NOW).token.startswith("k2.")
    assert signer.verify(old.token, NOW).key_id == "k1"
    retired = PayLinkSigner(rotated.retire("k1"))
    with pytest.raises(InvalidPayLinkError, match="key id 'k1', which is not held"):
        retired.verify(old.token, NOW)


def test_keys_never_show_their_secrets() -> None:
    keys = KEYS.rotate("k2", SECRET_2)
    assert repr(keys) == "PayLinkKeys(current='k2', key_ids=('k1', 'k2'))"
    assert repr(SECRET_2) not in repr(PayLinkSigner(keys))
    assert keys.secret("k2") == SECRET_2
    assert keys.secret("k3") is None


def test_short_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as info:
        PayLinkKeys("k1", {"k1": b"p" * (MIN_SECRET_BYTES - 1)})
    assert str(info.value) == (
        "secrets['k1']='31 bytes' is invalid: must be at least 32 random bytes, "
        "e.g. secrets.token_bytes(32)"
    )
    assert "ppp" not in str(info.value)


def test_text_secret_is_refused() -> None:
    with pytest.raises(
        ValidationError, match="secrets\\['k1'\\]='str' is invalid: must be at least"
    ):
        PayLinkKeys("k1", {"k1": "a" * 40})  # type: ignore[dict-item]


@pytest.mark.parametrize("key_id", ["", "k.1", "k 1", "x" * 33, "ключ"])
def test_key_ids_are_url_safe(key_id: str) -> None:
    with pytest.raises(ValidationError, match="must be 1 to 32 characters of A-Z") as info:
        PayLinkKeys(key_id, {key_id: SECRET_1})
    assert info.value.value == key_id


def test_current_key_must_be_held() -> None:
    with pytest.raises(
        ValidationError, match="current='k2' is invalid: must be one of the key ids: k1"
    ):
        PayLinkKeys("k2", {"k1": SECRET_1})


def test_empty_secrets_are_refused() -> None:
    with pytest.raises(ValidationError, match="must be a non-empty mapping"):
        PayLinkKeys("k1", {})


def test_rotate_refuses_a_used_key_id_and_leaves_the_keys_unchanged() -> None:
    before = attrs.evolve(KEYS)
    with pytest.raises(ValidationError, match="key_id='k1' is invalid: is already used"):
        KEYS.rotate("k1", SECRET_2)
    assert before == KEYS
    assert KEYS.key_ids == ("k1",)


def test_retire_refuses_the_current_key_and_an_unknown_one() -> None:
    keys = KEYS.rotate("k2", SECRET_2)
    with pytest.raises(ValidationError, match="is the current key; rotate first"):
        keys.retire("k2")
    with pytest.raises(
        ValidationError, match="key_id='k7' is invalid: is not held; held key ids: k1, k2"
    ):
        keys.retire("k7")
    assert keys.key_ids == ("k1", "k2")
