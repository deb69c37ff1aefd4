r"""Security settings: billing-access IP allowlist, code word, last login (SPEC A5).

The allowlist uses Introserv's text format: one IP address or range ``a-b`` per line
(blanks and commas also separate entries); nothing at all means no restriction.

>>> from cabinet_billing.domain.security import IpAllowlist
>>> allowlist = IpAllowlist.parse("192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10")
>>> allowlist.allows("192.168.0.7"), allowlist.allows("192.168.0.11")
(True, False)
>>> IpAllowlist.parse("").allows("203.0.113.9")
True

A code word can be set once and is then only verified, never read back: it is kept as a
salted scrypt hash, with a cost no lower than the interactive setting of the scrypt paper
(:data:`MIN_SCRYPT_N`, :data:`MIN_SCRYPT_R`). Only the provider can clear it, with
:meth:`SecuritySettings.reset_code_word`.

>>> from cabinet_billing.domain.security import CodeWord, ScryptParams
>>> word = CodeWord.create("blue falcon")
>>> word.verify("blue falcon"), word.verify("red falcon")
(True, False)
>>> ScryptParams(n=2)
Traceback (most recent call last):
...
cabinet_billing.errors.WeakHashParametersError: n=2 is invalid: scrypt's cost n must be a power of two of at least 16384 (2**14)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeAlias

import attrs

from cabinet_billing.errors import (
    AccessDeniedError,
    ConflictError,
    ValidationError,
    WeakHashParametersError,
)

__all__ = [
    "LOGINS_KEPT",
    "MIN_SCRYPT_N",
    "MIN_SCRYPT_R",
    "CodeWord",
    "CodeWordReset",
    "IpAddress",
    "IpAllowlist",
    "IpRange",
    "LoginRecord",
    "ScryptParams",
    "SecuritySettings",
    "parse_ip",
]

#: An IPv4 or IPv6 address from :mod:`ipaddress`.
IpAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# Entries on one line are separated by blanks or commas; "a - b" is still one range.
_SEPARATORS: Final = re.compile(r"[\s,]+")
_RANGE_DASH: Final = re.compile(r"\s*-\s*")


def parse_ip(value: object, field: str = "ip") -> IpAddress:
    """Parse an IPv4 or IPv6 address; an IPv4-mapped IPv6 address becomes its IPv4 address.

    Raises:
        ValidationError: naming the field and the refused text.

    >>> parse_ip("::ffff:10.10.1.1")
    IPv4Address('10.10.1.1')
    >>> parse_ip("10.10.1.256")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: ip='10.10.1.256' is invalid: expected an IPv4 or IPv6 address such as '192.15.3.2'
    """
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        address: IpAddress = value
    else:
        try:
            address = ipaddress.ip_address(value.strip() if isinstance(value, str) else "")
        except ValueError:
            raise ValidationError(
                field,
                value,
                "expected an IPv4 or IPv6 address such as '192.15.3.2'",
            ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _check_range(instance: IpRange, _attribute: object, end: IpAddress) -> None:
    start = instance.start
    if start.version != end.version:
        raise ValidationError(
            "ip_range",
            f"{start}-{end}",
            "both ends must be IPv4 or both IPv6",
        )
    if int(start) > int(end):
        raise ValidationError(
            "ip_range",
            f"{start}-{end}",
            f"the start must not be after the end; did you mean {end}-{start}?",
        )


@attrs.frozen
class IpRange:
    """An inclusive range of addresses of one IP version; a single address is a range of one.

    >>> IpRange.parse("192.168.0.1-192.168.0.10").contains(parse_ip("192.168.0.10"))
    True
    >>> IpRange.parse("10.0.0.9-10.0.0.1")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: ip_range='10.0.0.9-10.0.0.1' is invalid: the start must not be after the end; did you mean 10.0.0.1-10.0.0.9?
    """

    start: IpAddress = attrs.field(converter=parse_ip)
    end: IpAddress = attrs.field(converter=parse_ip, validator=_check_range)

    @classmethod
    def parse(cls, text: str) -> IpRange:
        """Parse ``a`` or ``a-b``.

        Raises:
            ValidationError: for an unparsable address or a reversed or mixed range.
        """
        start, dash, end = _RANGE_DASH.sub("-", text.strip()).partition("-")
        return cls(start, end if dash else start)

    def contains(self, address: IpAddress) -> bool:
        """Whether ``address`` lies in the range (an address of the other version never does)."""
        return address.version == self.start.version and int(self.start) <= int(address) <= int(
            self.end
        )

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


@attrs.frozen
class IpAllowlist:
    """The addresses billing may be used from; no ranges means no restriction.

    Build it with :meth:`parse` from the text a customer typed.
    """

    ranges: tuple[IpRange, ...] = ()

    @classmethod
    def parse(cls, text: str) -> IpAllowlist:
        r"""Parse the Introserv format: one address or range ``a-b`` per line.

        Blanks and commas also separate entries, so ``192.15.3.2 10.10.1.1`` is two.
        Empty lines are ignored.

        Raises:
            ValidationError: naming the offending line, its number and the entry.

        >>> IpAllowlist.parse("10.10.1.1\n10.10.1.x")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.ValidationError: ip_allowlist='10.10.1.x' is invalid: line 2: '10.10.1.x' is not an IP address or range a-b: expected an IPv4 or IPv6 address such as '192.15.3.2'
        """
        ranges: list[IpRange] = []
        for number, line in enumerate(text.splitlines(), start=1):
            for entry in _SEPARATORS.split(_RANGE_DASH.sub("-", line.strip())):
                if not entry:
                    continue
                try:
                    ranges.append(IpRange.parse(entry))
                except ValidationError as error:
                    raise ValidationError(
                        "ip_allowlist",
                        line,
                        f"line {number}: {entry!r} is not an IP address or range a-b: "
                        f"{error.reason}",
                    ) from None
        return cls(tuple(ranges))

    @property
    def restricted(self) -> bool:
        """Whether any range is set (otherwise every address is allowed)."""
        return bool(self.ranges)

    def allows(self, ip: str | IpAddress) -> bool:
        """Whether billing may be used from ``ip``.

        Raises:
            ValidationError: when ``ip`` is not an address.
        """
        address = parse_ip(ip)
        return not self.ranges or any(r.contains(address) for r in self.ranges)

    def to_text(self) -> str:
        r"""The allowlist in the Introserv format, one entry per line.

        >>> IpAllowlist.parse("192.15.3.2, 192.168.0.1 - 192.168.0.10").to_text()
        '192.15.3.2\n192.168.0.1-192.168.0.10'
        """
        return "\n".join(str(r) for r in self.ranges)


# ----------------------------------------------------------------------------- code word


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValidationError(
                attribute.name, value, f"must be an integer of at least {minimum}"
            )

    return check


# The floor of the scrypt cost. Colin Percival, "Stronger Key Derivation via Sequential
# Memory-Hard Functions" (BSDCan 2009), section 7, gives N = 2**14, r = 8, p = 1 as the
# parameters for interactive logins (about 16 MiB and 100 ms); RFC 7914, section 2, keeps
# r = 8. Anything cheaper makes a stolen hash quick to guess. OWASP's Password Storage Cheat
# Sheet asks for N = 2**17 on new systems: raise n where memory allows.
#: The smallest scrypt CPU/memory cost ``n`` accepted: 2**14.
MIN_SCRYPT_N: Final = 2**14
#: The smallest scrypt block size ``r`` accepted: 8.
MIN_SCRYPT_R: Final = 8

# OpenSSL's scrypt needs 128 * r * (n + p + 2) bytes and allows 32 MiB when maxmem is 0.
_OPENSSL_DEFAULT_MAXMEM: Final = 32 * 1024 * 1024


@attrs.frozen
class ScryptParams:
    """The cost of the scrypt hash that protects a code word.

    The defaults (``n=2**14, r=8, p=1``, 16 MiB of memory) follow the scrypt paper's
    interactive setting, which is also the floor: cheaper parameters are refused. Raise
    ``n`` where logins are rare and memory is plentiful.

    Raises:
        WeakHashParametersError: for ``n`` below :data:`MIN_SCRYPT_N` or not a power of
            two, or ``r`` below :data:`MIN_SCRYPT_R`.
        ValidationError: for other values below their minimum, or a ``maxmem`` too small
            for ``n`` and ``r``.
    """

    n: int = attrs.field(default=MIN_SCRYPT_N)
    r: int = attrs.field(default=MIN_SCRYPT_R)
    p: int = attrs.field(default=1, validator=_at_least(1))
    salt_bytes: int = attrs.field(default=16, validator=_at_least(16))
    hash_bytes: int = attrs.field(default=32, validator=_at_least(16))
    maxmem: int = attrs.field(default=64 * 1024 * 1024, validator=_at_least(0))

    @n.validator
    def _check_n(self, _attribute: object, value: object) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < MIN_SCRYPT_N
            or value & (value - 1)
        ):
            raise WeakHashParametersError(
                "n",
                value,
                f"scrypt's cost n must be a power of two of at least {MIN_SCRYPT_N} (2**14)",
            )

    @r.validator
    def _check_r(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < MIN_SCRYPT_R:
            raise WeakHashParametersError(
                "r", value, f"scrypt's block size r must be an integer of at least {MIN_SCRYPT_R}"
            )

    def __attrs_post_init__(self) -> None:
        needed = 128 * self.r * (self.n + self.p + 2)
        allowed = self.maxmem or _OPENSSL_DEFAULT_MAXMEM
        if needed > allowed:
            raise ValidationError(
                "maxmem",
                self.maxmem,
                f"scrypt with n={self.n}, r={self.r}, p={self.p} needs {needed} bytes; "
                f"allow at least that much",
            )

    def derive(self, secret: bytes, salt: bytes) -> bytes:
        """The scrypt hash of ``secret`` with ``salt``."""
        return hashlib.scrypt(
            secret,
            salt=salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=self.maxmem,
            dklen=self.hash_bytes,
        )


def _normalize_word(word: object) -> bytes:
    if not isinstance(word, str) or not word.strip():
        # The refused value is never echoed: it may be a real secret typed by mistake.
        raise ValidationError("code_word", "<hidden>", "must be non-empty text")
    return unicodedata.normalize("NFC", word.strip()).encode()


@attrs.frozen
class CodeWord:
    """A code word kept only as a salted scrypt hash; it can be verified, never read.

    Neither ``repr()`` nor ``str()`` show the salt or the hash.
    """

    salt: bytes = attrs.field(repr=False)
    digest: bytes = attrs.field(repr=False)
    params: ScryptParams = attrs.field(factory=ScryptParams)

    @classmethod
    def create(
        cls,
        word: str,
        *,
        salt: bytes | None = None,
        params: ScryptParams | None = None,
    ) -> CodeWord:
        """Hash ``word`` with ``salt`` (default: fresh random bytes from :func:`os.urandom`).

        Blanks around the word are ignored and Unicode is NFC-normalized, so the same word
        typed on another keyboard still matches.

        Raises:
            ValidationError: for an empty word or a salt shorter than ``params.salt_bytes``.
        """
        cost = params or ScryptParams()
        secret = _normalize_word(word)
        if salt is None:
            salt = os.urandom(cost.salt_bytes)
        elif len(salt) < cost.salt_bytes:
            raise ValidationError(
                "salt",
                f"<{len(salt)} bytes>",
                f"must be at least {cost.salt_bytes} bytes",
            )
        return cls(salt, cost.derive(secret, salt), cost)

    def verify(self, word: str) -> bool:
        """Whether ``word`` is the code word (compared in constant time)."""
        try:
            secret = _normalize_word(word)
        except ValidationError:
            return False
        return hmac.compare_digest(self.params.derive(secret, self.salt), self.digest)


# ----------------------------------------------------------------------------- settings


def _check_instant(_instance: object, _attribute: object, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("at", value, "must be an aware datetime (with a time zone)")


@attrs.frozen
class LoginRecord:
    """Where and when someone logged in to billing.

    Args:
        ip: the address the login came from.
        at: when (aware).
        user_id: who logged in (``""`` when not known).
    """

    ip: IpAddress = attrs.field(converter=parse_ip)
    at: datetime = attrs.field(
        validator=[attrs.validators.instance_of(datetime), _check_instant],
    )
    user_id: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


#: How many logins an account remembers by default (the latest and the ones before it).
LOGINS_KEPT: Final = 10


@attrs.frozen
class CodeWordReset:
    """The provider's reset of a code word: who did it, when and why.

    Args:
        by: the staff member (or process) that reset it.
        at: when (aware).
        reason: why, in words.
    """

    by: str = attrs.field(validator=attrs.validators.instance_of(str))
    at: datetime = attrs.field(
        validator=[attrs.validators.instance_of(datetime), _check_instant],
    )
    reason: str = attrs.field(validator=attrs.validators.instance_of(str))

    def __attrs_post_init__(self) -> None:
        for field in ("by", "reason"):
            value: str = getattr(self, field)
            if not value.strip():
                raise ValidationError(field, value, "must be non-empty text")


@attrs.define
class SecuritySettings:
    r"""An account's security settings: IP allowlist, code word, last login (SPEC A5).

    The code word is write-once: :meth:`set_code_word` sets it when none is set, nothing
    assigns it, and only the provider clears it, with :meth:`reset_code_word`.

    >>> from datetime import UTC, datetime
    >>> security = SecuritySettings()
    >>> security.set_ip_allowlist("192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10")
    >>> _ = security.record_login("10.10.1.1", datetime(2024, 3, 21, 9, 30, tzinfo=UTC))
    >>> security.displayed_last_login_ip
    IPv4Address('10.10.1.1')
    >>> security.record_login("8.8.8.8", datetime(2024, 3, 21, 9, 31, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.AccessDeniedError: 8.8.8.8 may not access billing: the address is not in the billing IP allowlist
    >>> security.code_word = None
    Traceback (most recent call last):
    ...
    AttributeError: property 'code_word' of 'SecuritySettings' object has no setter
    """

    ip_allowlist: IpAllowlist = attrs.field(
        factory=IpAllowlist,
        validator=attrs.validators.instance_of(IpAllowlist),
    )
    _code_word: CodeWord | None = attrs.field(
        default=None,
        repr=False,
        alias="_code_word",
        validator=attrs.validators.optional(attrs.validators.instance_of(CodeWord)),
        on_setattr=attrs.setters.frozen,
    )
    show_last_login_ip: bool = True
    last_login: LoginRecord | None = None
    earlier_logins: tuple[LoginRecord, ...] = attrs.field(
        default=(),
        converter=tuple,
        validator=attrs.validators.deep_iterable(attrs.validators.instance_of(LoginRecord)),
    )
    _code_word_reset: CodeWordReset | None = attrs.field(
        default=None,
        repr=False,
        alias="_code_word_reset",
        validator=attrs.validators.optional(attrs.validators.instance_of(CodeWordReset)),
        on_setattr=attrs.setters.frozen,
    )

    def set_ip_allowlist(self, text: str) -> None:
        """Replace the allowlist with ``text`` in the Introserv format (empty: no restriction).

        Raises:
            ValidationError: naming the malformed line; the old allowlist stays.
        """
        self.ip_allowlist = IpAllowlist.parse(text)

    def ensure_allowed(self, ip: str | IpAddress) -> None:
        """Raise unless billing may be used from ``ip``.

        Raises:
            AccessDeniedError: naming the address.
        """
        address = parse_ip(ip)
        if not self.ip_allowlist.allows(address):
            raise AccessDeniedError(
                address,
                "access billing",
                "the address is not in the billing IP allowlist",
            )

    @property
    def code_word(self) -> CodeWord | None:
        """The code word's hash, if one is set; read-only (the word itself is never kept)."""
        return self._code_word

    @property
    def has_code_word(self) -> bool:
        """Whether a code word was set (the word itself can never be read)."""
        return self._code_word is not None

    @property
    def code_word_reset(self) -> CodeWordReset | None:
        """The provider's last reset of the code word, if any."""
        return self._code_word_reset

    def set_code_word(
        self,
        word: str,
        *,
        salt: bytes | None = None,
        params: ScryptParams | None = None,
    ) -> None:
        """Set the code word; this is possible once only (again after a provider reset).

        Raises:
            ConflictError: when a code word is already set.
            ValidationError: for an empty word.
        """
        if self._code_word is not None:
            raise ConflictError(
                "code word",
                "is already set and cannot be changed; ask the provider to reset it",
            )
        object.__setattr__(self, "_code_word", CodeWord.create(word, salt=salt, params=params))

    def reset_code_word(self, *, by: str, at: datetime, reason: str) -> None:
        """Clear the code word, on the provider's side: the customer may then set a new one.

        This is the only way a code word goes away. The reset is recorded.

        Args:
            by: the staff member or process that resets it.
            at: when (aware).
            reason: why, in words (e.g. "identity checked by phone").

        Raises:
            ConflictError: when no code word is set.
            ValidationError: for an empty ``by`` or ``reason`` or a naive ``at``; nothing
                changes then.

        >>> from datetime import UTC, datetime
        >>> security = SecuritySettings()
        >>> security.set_code_word("blue falcon")
        >>> security.reset_code_word(by="staff bob", at=datetime(2024, 3, 21, tzinfo=UTC),
        ...                          reason="identity checked by phone")
        >>> security.has_code_word, security.code_word_reset.by
        (False, 'staff bob')
        """
        record = CodeWordReset(by, at, reason)
        if self._code_word is None:
            raise ConflictError("code word", "is not set; there is nothing to reset")
        object.__setattr__(self, "_code_word", None)
        object.__setattr__(self, "_code_word_reset", record)

    def verify_code_word(self, word: str) -> bool:
        """Whether ``word`` is the code word; False when none is set."""
        return self._code_word is not None and self._code_word.verify(word)

    def record_login(
        self,
        ip: str | IpAddress,
        at: datetime,
        *,
        user_id: str = "",
        keep: int = LOGINS_KEPT,
    ) -> LoginRecord:
        """Record a login from ``ip`` at the instant ``at`` (an aware datetime).

        The latest login is :attr:`last_login`; the ones before it, newest first, are
        :attr:`earlier_logins`, so that :attr:`recent_logins` holds at most ``keep``.

        Raises:
            AccessDeniedError: when the allowlist does not allow ``ip``; nothing is recorded.
            ValidationError: for a malformed address, a naive datetime or a ``keep`` below 1.

        >>> from datetime import UTC, datetime
        >>> security = SecuritySettings()
        >>> for hour, ip in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        ...     _ = security.record_login(ip, datetime(2024, 3, 21, hour, tzinfo=UTC), keep=2)
        >>> [str(login.ip) for login in security.recent_logins]
        ['10.0.0.3', '10.0.0.2']
        """
        given: object = keep
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValidationError("keep", keep, "must be an integer of at least 1")
        record = LoginRecord(ip, at, user_id)
        self.ensure_allowed(record.ip)
        earlier = self.recent_logins[: keep - 1]
        self.last_login = record
        self.earlier_logins = earlier
        return record

    @property
    def recent_logins(self) -> tuple[LoginRecord, ...]:
        """The remembered logins, newest first (the latest is :attr:`last_login`)."""
        if self.last_login is None:
            return ()
        return (self.last_login, *self.earlier_logins)

    def set_show_last_login_ip(self, enabled: bool) -> None:
        """Whether the cabinet shows the address of the last login."""
        self.show_last_login_ip = bool(enabled)

    @property
    def displayed_last_login_ip(self) -> IpAddress | None:
        """The last login's address when showing it is switched on, else ``None``."""
        if not self.show_last_login_ip or self.last_login is None:
            return None
        return self.last_login.ip

    @property
    def displayed_login_ips(self) -> tuple[IpAddress, ...]:
        """The addresses of the remembered logins, newest first, when showing them is on.

        Introserv's "show the last IPs that logged in to billing": empty when switched off.
        """
        if not self.show_last_login_ip:
            return ()
        return tuple(login.ip for login in self.recent_logins)
