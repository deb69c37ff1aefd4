"""Pay links: signed, expiring links to pay one invoice without logging in (SPEC L5).

Introserv lets a customer copy a link that pays an invoice without logging in; Horoshop's
online-payment links live 30 minutes and are re-issued automatically once expired. A pay
link here is a token signed with HMAC-SHA256 that names exactly one invoice of one
account and the instant it expires:

>>> from datetime import UTC, datetime
>>> signer = PayLinkSigner(PayLinkKeys("k1", {"k1": b"0123456789abcdef0123456789abcdef"}))
>>> now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
>>> link = signer.issue("inv-7", "acc-1", now)
>>> str(link.expires_at)
'2024-05-01 12:30:00+00:00'
>>> claims = signer.verify(link.token, now)
>>> claims.invoice_id, claims.account_id
('inv-7', 'acc-1')

The token is ``<key id>.<payload>.<signature>``, URL-safe base64 without padding, so it
can be put in a URL as it is. The payload is signed, not encrypted: anyone holding the
token can read the invoice id, the account id and the expiry. What the link pays is
looked up when it is used, so the amount is always the invoice's current amount due.

Keys rotate: :class:`PayLinkKeys` signs with its current key and verifies with any key it
still holds, so links issued before a rotation keep working until they expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from cabinet_billing.errors import (
    ExpiredPayLinkError,
    InvalidPayLinkError,
    PayLinkTooOldError,
    ValidationError,
)

__all__ = [
    "MIN_SECRET_BYTES",
    "REISSUE_WITHIN",
    "PayLink",
    "PayLinkClaims",
    "PayLinkKeys",
    "PayLinkPolicy",
    "PayLinkSigner",
]

#: The shortest secret accepted for signing pay links: the size of an HMAC-SHA256 output.
MIN_SECRET_BYTES: Final = 32

_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")

# Signatures are bound to their purpose, so a key shared by mistake with another
# signing scheme cannot produce valid pay links.
_PURPOSE: Final = b"cabinet_billing pay link v1\n"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_PARTS: Final = 3


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _instant(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(name, value, "must be an aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            name,
            value,
            "a naive datetime is ambiguous; pass an aware one such as "
            "datetime(2024, 5, 1, 12, 0, tzinfo=UTC)",
        )
    return value


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, "must be a non-empty string")
    return value


def _check_lifetime(
    _instance: object, _attribute: attrs.Attribute[timedelta], value: object
) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError("lifetime", value, "must be a positive timedelta, e.g. 30 minutes")


def _check_reissue_within(
    _instance: object, _attribute: attrs.Attribute[timedelta], value: object
) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError(
            "reissue_within", value, "must be a timedelta of zero or more, e.g. 14 days"
        )


#: How long after expiry a pay link may still be re-issued by default: the default payment
#: term of an invoice (``BillingSettings.invoice_due_days``), so a link sent with an invoice
#: keeps working while the invoice is due, and a leaked old link does not work forever.
REISSUE_WITHIN: Final = timedelta(days=14)


@attrs.frozen
class PayLinkPolicy:
    """How long pay links live, and how long after expiry they may be re-issued.

    Args:
        lifetime: how long a link stays valid after it is issued; Horoshop's links live
            30 minutes, the default.
        reissue_within: how long after its expiry an expired link is still re-issued
            when opened (14 days by default; zero: never re-issued).

    Raises:
        ValidationError: for a lifetime that is not a positive ``timedelta``, or a
            negative ``reissue_within``.

    >>> PayLinkPolicy().lifetime, PayLinkPolicy().reissue_within
    (datetime.timedelta(seconds=1800), datetime.timedelta(days=14))
    """

    lifetime: timedelta = attrs.field(default=timedelta(minutes=30), validator=_check_lifetime)
    reissue_within: timedelta = attrs.field(default=REISSUE_WITHIN, validator=_check_reissue_within)


def _secrets(
    value: Mapping[str, bytes] | tuple[tuple[str, bytes], ...],
) -> tuple[tuple[str, bytes], ...]:
    # Checked at run time too: keys often come from configuration. Pairs come from evolve().
    given: object = dict(value) if isinstance(value, tuple) else value
    if not isinstance(given, Mapping) or not given:
        raise ValidationError(
            "secrets", type(given).__name__, "must be a non-empty mapping of key id to bytes"
        )
    pairs = []
    for key_id, secret in given.items():
        if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
            raise ValidationError(
                "key_id", key_id, "must be 1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'"
            )
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            # The secret itself is never put in a message.
            size = f"{len(secret)} bytes" if isinstance(secret, bytes) else type(secret).__name__
            raise ValidationError(
                f"secrets[{key_id!r}]",
                size,
                f"must be at least {MIN_SECRET_BYTES} random bytes, e.g. "
                f"secrets.token_bytes({MIN_SECRET_BYTES})",
            )
        pairs.append((key_id, secret))
    return tuple(sorted(pairs))


@attrs.frozen(repr=False)
class PayLinkKeys:
    """The keys that sign and verify pay links.

    New links are signed with the ``current`` key; links signed with any key still held
    verify. To rotate, add a new key and make it current (:meth:`rotate`); retire the
    old one (:meth:`retire`) once the links it signed have expired.

    Args:
        current: the id of the key that signs new links.
        secrets: key id to secret. Key ids are 1 to 32 characters of ``A-Z a-z 0-9 _ -``;
            secrets are at least 32 random bytes.

    Raises:
        ValidationError: for a malformed key id, a short or non-bytes secret, or a
            current key id that has no secret.

    >>> keys = PayLinkKeys("k1", {"k1": bytes(32)})
    >>> keys.rotate("k2", bytes(range(32)))
    PayLinkKeys(current='k2', key_ids=('k1', 'k2'))
    >>> PayLinkKeys("k1", {"k1": b"short"})
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: secrets['k1']='5 bytes' is invalid: must be at least 32 random bytes, e.g. secrets.token_bytes(32)
    """

    current: str
    _secrets: tuple[tuple[str, bytes], ...] = attrs.field(converter=_secrets, alias="secrets")

    def __attrs_post_init__(self) -> None:
        if self.current not in self.key_ids:
            raise ValidationError(
                "current", self.current, f"must be one of the key ids: {', '.join(self.key_ids)}"
            )

    def __repr__(self) -> str:
        return f"PayLinkKeys(current={self.current!r}, key_ids={self.key_ids!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of all keys held, sorted."""
        return tuple(key_id for key_id, _ in self._secrets)

    def secret(self, key_id: str) -> bytes | None:
        """The secret of key ``key_id``, or ``None`` when it is not held."""
        return dict(self._secrets).get(key_id)

    def rotate(self, key_id: str, secret: bytes) -> PayLinkKeys:
        """These keys plus a new one that becomes current.

        Raises:
            ValidationError: for a malformed or already used key id, or a short secret.
        """
        if key_id in self.key_ids:
            raise ValidationError("key_id", key_id, "is already used; pick a new key id")
        return PayLinkKeys(key_id, {**dict(self._secrets), key_id: secret})

    def retire(self, key_id: str) -> PayLinkKeys:
        """These keys without ``key_id``; links it signed no longer verify.

        Raises:
            ValidationError: for the current key, or a key id that is not held.

        >>> PayLinkKeys("k2", {"k1": bytes(32), "k2": bytes(range(32))}).retire("k1")
        PayLinkKeys(current='k2', key_ids=('k2',))
        """
        if key_id == self.current:
            raise ValidationError("key_id", key_id, "is the current key; rotate first")
        if key_id not in self.key_ids:
            raise ValidationError(
                "key_id", key_id, f"is not held; held key ids: {', '.join(self.key_ids)}"
            )
        return PayLinkKeys(self.current, {k: s for k, s in self._secrets if k != key_id})


@attrs.frozen
class PayLink:
    """A link's token and the instant it stops being valid.

    Attributes:
        token: the signed token; URL-safe, to be put in a URL as it is.
        expires_at: the last instant at which the token verifies, in UTC.
    """

    token: str
    expires_at: datetime


@attrs.frozen
class PayLinkClaims:
    """What a verified pay link says.

    Attributes:
        invoice_id: the one invoice the link pays.
        account_id: the account the invoice belongs to.
        expires_at: the last instant at which the link verifies, in UTC.
        key_id: the key that signed it.
    """

    invoice_id: str
    account_id: str
    expires_at: datetime
    key_id: str


@attrs.frozen
class PayLinkSigner:
    """Issues and verifies pay links (SPEC L5).

    Args:
        keys: the signing keys.
        policy: the link lifetime (30 minutes by default).

    >>> from datetime import UTC, datetime
    >>> signer = PayLinkSigner(PayLinkKeys("k1", {"k1": bytes(range(32))}))
    >>> link = signer.issue("inv-7", "acc-1", datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    >>> signer.verify(link.token, datetime(2024, 5, 1, 12, 31, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ExpiredPayLinkError: pay link '...' is not valid: the link to pay invoice 'inv-7' expired at 2024-05-01 12:30:00+00:00 and is valid only until then (now 2024-05-01 12:31:00+00:00); issue a new link
    """

    keys: PayLinkKeys
    policy: PayLinkPolicy = attrs.field(factory=PayLinkPolicy)

    def issue(self, invoice_id: str, account_id: str, now: datetime) -> PayLink:
        """A new link to pay ``invoice_id`` of ``account_id``, valid from ``now`` for the lifetime.

        Raises:
            ValidationError: for an empty id or a naive ``now``.
        """
        micros = (_instant(now, "now") + self.policy.lifetime - _EPOCH) // _MICROSECOND
        payload = {
            "a": _check_id("account_id", account_id),
            "e": micros,
            "i": _check_id("invoice_id", invoice_id),
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{self.keys.current}.{body}"
        return PayLink(
            f"{signed}.{self._signature(self.keys.current, signed, signed)}",
            _EPOCH + micros * _MICROSECOND,
        )

    def verify(self, token: str, now: datetime) -> PayLinkClaims:
        """What ``token`` says, if it is authentic and has not expired at ``now``.

        A token is valid up to and including its expiry instant.

        Raises:
            InvalidPayLinkError: for a malformed or altered token, or one signed with a key
                that is not held.
            ExpiredPayLinkError: for an authentic token whose expiry instant is before ``now``;
                it carries the invoice and account ids, so a new link can be issued.
            ValidationError: for a naive ``now``.
        """
        now = _instant(now, "now")
        claims = self._authentic(token)
        if now > claims.expires_at:
            raise ExpiredPayLinkError(
                token, claims.invoice_id, claims.account_id, claims.expires_at, now
            )
        return claims

    def reissue_if_expired(self, token: str, now: datetime) -> PayLink:
        """The same link while it is valid; a new one for the same invoice once it expired.

        Horoshop re-issues expired links automatically, up to the policy's
        ``reissue_within`` after expiry. An altered or malformed token is never
        re-issued. Whether the invoice may still be paid, and by a link, is for the caller
        to check (``billing.pay_links.open`` does).

        Raises:
            InvalidPayLinkError: for a malformed or altered token, or an unknown key.
            PayLinkTooOldError: for a link that expired longer than ``reissue_within`` ago.
            ValidationError: for a naive ``now``.
        """
        try:
            claims = self.verify(token, now)
        except ExpiredPayLinkError as expired:
            return self.reissue(expired)
        return PayLink(token, claims.expires_at)

    def reissue(self, expired: ExpiredPayLinkError) -> PayLink:
        """A new link for the invoice of an expired one, while it may still be re-issued.

        Raises:
            PayLinkTooOldError: for a link that expired longer than ``reissue_within`` ago.
        """
        now = _instant(expired.now, "now")
        if now - _instant(expired.expires_at, "expires_at") > self.policy.reissue_within:
            raise PayLinkTooOldError(
                expired.token,
                expired.invoice_id,
                expired.account_id,
                expired.expires_at,
                now,
                reissue_within=self.policy.reissue_within,
            )
        return self.issue(expired.invoice_id, expired.account_id, now)

    def _signature(self, key_id: str, signed: str, token: str) -> str:
        secret = self.keys.secret(key_id)
        if secret is None:
            raise InvalidPayLinkError(
                token,
                f"signed with key id {key_id!r}, which is not held; held key ids: "
                f"{', '.join(self.keys.key_ids)}",
            )
        mac = hmac.new(secret, _PURPOSE + signed.encode("ascii"), hashlib.sha256)
        return _b64(mac.digest())

    def _authentic(self, token: str) -> PayLinkClaims:
        given: object = token
        if not isinstance(given, str) or not given.isascii():
            raise InvalidPayLinkError(str(given), "a token is a string of URL-safe characters")
        parts = token.split(".")
        if len(parts) != _PARTS or not all(parts):
            raise InvalidPayLinkError(token, "expected <key id>.<payload>.<signature>")
        key_id, body, signature = parts
        expected = self._signature(key_id, f"{key_id}.{body}", token)
        # The signature is compared as text: every character counts, even the unused
        # low bits of the last base64 character.
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise InvalidPayLinkError(token, "the signature does not match; the link was altered")
        try:
            payload = json.loads(_unb64(body))
            invoice_id, account_id, micros = payload["i"], payload["a"], payload["e"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise InvalidPayLinkError(token, "the payload is not a pay link") from None
        if (
            not (isinstance(invoice_id, str) and isinstance(account_id, str))
            or type(micros) is not int
        ):
            raise InvalidPayLinkError(token, "the payload is not a pay link")
        return PayLinkClaims(invoice_id, account_id, _EPOCH + micros * _MICROSECOND, key_id)
