from __future__ import annotations

import hashlib
import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cabinet_billing import AccessDeniedError, ConflictError, ValidationError
from cabinet_billing.domain.security import (
    CodeWord,
    CodeWordReset,
    IpAllowlist,
    IpRange,
    LoginRecord,
    ScryptParams,
    SecuritySettings,
    parse_ip,
)
from cabinet_billing.errors import WeakHashParametersError

pytestmark = pytest.mark.spec("A5")

INTROSERV_EXAMPLE = "192.15.3.2\n10.10.1.1\n192.168.0.1-192.168.0.10"
# The cheapest parameters accepted: the floor of the scrypt paper's interactive setting.
FAST = ScryptParams(n=2**14, r=8)
SALT = bytes(range(16))
MORNING = datetime(2024, 3, 21, 9, 30, tzinfo=UTC)


# ----------------------------------------------------------------------------- allowlist


def test_introserv_example_allows_exactly_its_addresses() -> None:
    allowlist = IpAllowlist.parse(INTROSERV_EXAMPLE)
    assert allowlist.restricted
    assert [str(r) for r in allowlist.ranges] == [
        "192.15.3.2",
        "10.10.1.1",
        "192.168.0.1-192.168.0.10",
    ]
    allowed = ["192.15.3.2", "10.10.1.1", "192.168.0.1", "192.168.0.5", "192.168.0.10"]
    refused = ["192.15.3.3", "10.10.1.2", "192.168.0.0", "192.168.0.11", "8.8.8.8", "::1"]
    assert [allowlist.allows(ip) for ip in allowed] == [True] * 5
    assert [allowlist.allows(ip) for ip in refused] == [False] * 6


def test_example_written_on_one_line_with_blanks_or_commas_is_the_same() -> None:
    expected = IpAllowlist.parse(INTROSERV_EXAMPLE)
    assert IpAllowlist.parse("192.15.3.2 10.10.1.1 192.168.0.1-192.168.0.10") == expected
    assert IpAllowlist.parse("192.15.3.2, 10.10.1.1,192.168.0.1 - 192.168.0.10") == expected
    assert (
        IpAllowlist.parse("\n  192.15.3.2\r\n\n10.10.1.1\t192.168.0.1-192.168.0.10\n") == expected
    )


def test_empty_allowlist_means_no_restriction() -> None:
    for text in ("", "\n\n", "   "):
        allowlist = IpAllowlist.parse(text)
        assert not allowlist.restricted
        assert allowlist.allows("203.0.113.9")
        assert allowlist.allows("2001:db8::1")


def test_ipv6_addresses_and_ranges() -> None:
    allowlist = IpAllowlist.parse("2001:db8::1\n2001:db8:1::-2001:db8:1::ff")
    assert allowlist.allows("2001:db8::1")
    assert allowlist.allows("2001:db8:1::80")
    assert not allowlist.allows("2001:db8:1::100")
    assert not allowlist.allows("10.10.1.1")


def test_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address() -> None:
    allowlist = IpAllowlist.parse("10.10.1.1")
    assert allowlist.allows("::ffff:10.10.1.1")
    assert allowlist.allows(ipaddress.IPv6Address("::ffff:10.10.1.1"))
    assert parse_ip("::ffff:192.168.0.1") == ipaddress.IPv4Address("192.168.0.1")


def test_to_text_writes_one_entry_per_line() -> None:
    text = IpAllowlist.parse("192.15.3.2, 10.10.1.1 192.168.0.1 - 192.168.0.10").to_text()
    assert text == INTROSERV_EXAMPLE
    assert IpAllowlist.parse(text) == IpAllowlist.parse(INTROSERV_EXAMPLE)


@pytest.mark.parametrize(
    ("text", "line", "number", "entry", "reason"),
    [
        ("10.10.1.1\n10.10.1.x", "10.10.1.x", 2, "10.10.1.x", "IPv4 or IPv6 address"),
        ("10.10.1.300", "10.10.1.300", 1, "10.10.1.300", "IPv4 or IPv6 address"),
        (
            "1.1.1.1\n\n10.0.0.9-10.0.0.1",
            "10.0.0.9-10.0.0.1",
            3,
            "10.0.0.9-10.0.0.1",
            "the start must not be after the end; did you mean 10.0.0.1-10.0.0.9?",
        ),
        ("10.0.0.1-::1", "10.0.0.1-::1", 1, "10.0.0.1-::1", "both ends must be IPv4 or both IPv6"),
        ("10.0.0.1-", "10.0.0.1-", 1, "10.0.0.1-", "IPv4 or IPv6 address"),
        (
            "10.0.0.1-10.0.0.5-10.0.0.9",
            "10.0.0.1-10.0.0.5-10.0.0.9",
            1,
            "10.0.0.1-10.0.0.5-10.0.0.9",
            "IPv4 or IPv6",
        ),
        ("10.0.0.0/24", "10.0.0.0/24", 1, "10.0.0.0/24", "IPv4 or IPv6 address"),
        ("1.1.1.1 example.com", "1.1.1.1 example.com", 1, "example.com", "IPv4 or IPv6"),
    ],
)
def test_malformed_line_is_refused_naming_line_and_number(
    text: str,
    line: str,
    number: int,
    entry: str,
    reason: str,
) -> None:
    with pytest.raises(ValidationError) as info:
        IpAllowlist.parse(text)
    assert info.value.field == "ip_allowlist"
    assert info.value.value == line
    assert f"line {number}: {entry!r} is not an IP address or range a-b" in str(info.value)
    assert reason in str(info.value)


def test_reversed_range_is_refused_directly() -> None:
    with pytest.raises(ValidationError) as info:
        IpRange("10.0.0.9", "10.0.0.1")
    assert info.value.field == "ip_range"
    assert info.value.value == "10.0.0.9-10.0.0.1"


def test_allows_refuses_a_malformed_address() -> None:
    with pytest.raises(ValidationError) as info:
        IpAllowlist.parse(INTROSERV_EXAMPLE).allows("not-an-ip")
    assert info.value.field == "ip"
    assert info.value.value == "not-an-ip"
    assert "expected an IPv4 or IPv6 address" in str(info.value)


def test_a_bad_allowlist_leaves_the_old_one_in_place() -> None:
    security = SecuritySettings()
    security.set_ip_allowlist(INTROSERV_EXAMPLE)
    with pytest.raises(ValidationError):
        security.set_ip_allowlist("10.10.1.1\n10.10.1.x")
    assert security.ip_allowlist == IpAllowlist.parse(INTROSERV_EXAMPLE)
    security.set_ip_allowlist("")
    assert not security.ip_allowlist.restricted


def test_ensure_allowed_names_the_refused_address() -> None:
    security = SecuritySettings()
    security.set_ip_allowlist(INTROSERV_EXAMPLE)
    security.ensure_allowed("192.168.0.3")
    with pytest.raises(AccessDeniedError) as info:
        security.ensure_allowed("8.8.8.8")
    assert info.value.who == ipaddress.IPv4Address("8.8.8.8")
    assert info.value.action == "access billing"
    assert str(info.value) == (
        "8.8.8.8 may not access billing: the address is not in the billing IP allowlist"
    )


# ----------------------------------------------------------------------------- code word


def test_code_word_verifies_and_refuses_others() -> None:
    word = CodeWord.create("blue falcon", salt=SALT, params=FAST)
    assert word.verify("blue falcon")
    assert word.verify("  blue falcon ")
    assert not word.verify("Blue falcon")
    assert not word.verify("")


def test_code_word_is_a_salted_scrypt_hash() -> None:
    word = CodeWord.create("blue falcon", salt=SALT, params=FAST)
    expected = hashlib.scrypt(b"blue falcon", salt=SALT, n=2**14, r=8, p=1, dklen=32, maxmem=2**26)
    assert word.salt == SALT
    assert word.digest == expected
    assert b"blue falcon" not in word.digest
    other_salt = CodeWord.create("blue falcon", salt=bytes(16), params=FAST)
    assert other_salt.digest != word.digest


def test_code_word_is_unicode_normalized() -> None:
    word = CodeWord.create("caf\u00e9", salt=SALT, params=FAST)
    assert word.verify("cafe\u0301")


def test_random_salt_by_default() -> None:
    first = CodeWord.create("blue falcon", params=FAST)
    second = CodeWord.create("blue falcon", params=FAST)
    assert len(first.salt) == 16
    assert first.salt != second.salt
    assert first.verify("blue falcon")
    assert second.verify("blue falcon")


def test_code_word_is_never_shown() -> None:
    security = SecuritySettings()
    security.set_code_word("blue falcon", salt=SALT, params=FAST)
    word = security.code_word
    assert word is not None
    assert "blue falcon" not in repr(security)
    assert SALT.hex() not in repr(word)
    assert repr(word.salt) not in repr(word)
    assert repr(word.digest) not in repr(word)
    assert "code_word" not in repr(security)


def test_code_word_can_be_set_once() -> None:
    assert not SecuritySettings().has_code_word
    assert not SecuritySettings().verify_code_word("anything")
    security = SecuritySettings()
    security.set_code_word("blue falcon", salt=SALT, params=FAST)
    assert security.has_code_word
    before = security.code_word
    with pytest.raises(ConflictError) as info:
        security.set_code_word("red falcon", params=FAST)
    assert str(info.value) == (
        "code word: is already set and cannot be changed; ask the provider to reset it"
    )
    assert security.code_word is before
    assert security.verify_code_word("blue falcon")
    assert not security.verify_code_word("red falcon")


@pytest.mark.parametrize("word", ["", "   "])
def test_empty_code_word_is_refused_without_echoing_it(word: str) -> None:
    security = SecuritySettings()
    with pytest.raises(ValidationError) as info:
        security.set_code_word(word, params=FAST)
    assert info.value.field == "code_word"
    assert info.value.value == "<hidden>"
    assert str(info.value) == "code_word='<hidden>' is invalid: must be non-empty text"
    assert not security.has_code_word


def test_short_salt_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        CodeWord.create("blue falcon", salt=b"short", params=FAST)
    assert str(info.value) == "salt='<5 bytes>' is invalid: must be at least 16 bytes"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000, 2**13, 2**14 + 1, 3 * 2**14])
def test_scrypt_cost_must_be_a_power_of_two_of_at_least_2_14(n: int) -> None:
    with pytest.raises(WeakHashParametersError) as info:
        ScryptParams(n=n)
    assert info.value.value == n
    assert str(info.value) == (
        f"n={n} is invalid: scrypt's cost n must be a power of two of at least 16384 (2**14)"
    )


@pytest.mark.parametrize(
    ("field", "value", "minimum"),
    [("p", 0, 1), ("salt_bytes", 8, 16), ("hash_bytes", 4, 16), ("maxmem", -1, 0)],
)
def test_scrypt_settings_have_minimums(field: str, value: int, minimum: int) -> None:
    with pytest.raises(ValidationError) as info:
        ScryptParams(**{field: value})
    assert (
        str(info.value) == f"{field}={value!r} is invalid: must be an integer of at least {minimum}"
    )


def test_default_scrypt_cost() -> None:
    assert ScryptParams() == ScryptParams(
        n=2**14,
        r=8,
        p=1,
        salt_bytes=16,
        hash_bytes=32,
        maxmem=64 * 1024 * 1024,
    )


# ----------------------------------------------------------------------------- last login


def test_last_login_is_recorded_with_the_given_instant() -> None:
    security = SecuritySettings()
    assert security.displayed_last_login_ip is None
    security.record_login("10.10.1.1", MORNING)
    later = MORNING + timedelta(hours=2)
    security.record_login("2001:db8::1", later)
    assert security.last_login == LoginRecord(ipaddress.IPv6Address("2001:db8::1"), later)
    assert security.displayed_last_login_ip == ipaddress.IPv6Address("2001:db8::1")


def test_showing_the_last_login_ip_is_a_setting() -> None:
    security = SecuritySettings()
    security.record_login("10.10.1.1", MORNING)
    security.set_show_last_login_ip(False)
    assert security.displayed_last_login_ip is None
    assert security.last_login is not None
    assert str(security.last_login.ip) == "10.10.1.1"
    security.set_show_last_login_ip(True)
    assert security.displayed_last_login_ip == ipaddress.IPv4Address("10.10.1.1")


def test_login_from_outside_the_allowlist_is_refused_and_not_recorded() -> None:
    security = SecuritySettings()
    security.set_ip_allowlist(INTROSERV_EXAMPLE)
    security.record_login("192.168.0.10", MORNING)
    with pytest.raises(AccessDeniedError):
        security.record_login("192.168.0.11", MORNING + timedelta(minutes=1))
    assert security.last_login == LoginRecord("192.168.0.10", MORNING)


def test_login_needs_an_aware_instant_and_a_valid_address() -> None:
    security = SecuritySettings()
    with pytest.raises(ValidationError) as info:
        security.record_login("10.10.1.1", datetime(2024, 3, 21, 9, 30))  # noqa: DTZ001
    assert info.value.field == "at"
    assert "aware datetime" in str(info.value)
    with pytest.raises(ValidationError) as ip_info:
        security.record_login("10.10.1", MORNING)
    assert ip_info.value.value == "10.10.1"
    assert security.last_login is None
    kyiv = timezone(timedelta(hours=2))
    security.record_login("10.10.1.1", datetime(2024, 3, 21, 11, 30, tzinfo=kyiv))
    assert security.last_login == LoginRecord("10.10.1.1", MORNING)


# ----------------------------------------------------------------------------- write-once


RESET_AT = datetime(2024, 3, 21, 10, tzinfo=UTC)


def test_code_word_write_once_cannot_be_cleared_by_assignment() -> None:
    security = SecuritySettings()
    security.set_code_word("blue falcon", salt=SALT, params=FAST)
    with pytest.raises(AttributeError):
        security.code_word = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        security._code_word = None
    with pytest.raises(ConflictError):
        security.set_code_word("red falcon", params=FAST)
    assert security.verify_code_word("blue falcon")


def test_code_word_write_once_the_provider_resets_it_and_a_new_one_can_be_set() -> None:
    security = SecuritySettings()
    security.set_code_word("blue falcon", salt=SALT, params=FAST)
    security.reset_code_word(by="staff bob", at=RESET_AT, reason="identity checked by phone")
    assert not security.has_code_word
    assert security.code_word_reset == CodeWordReset(
        "staff bob", RESET_AT, "identity checked by phone"
    )
    security.set_code_word("red falcon", salt=SALT, params=FAST)
    assert security.verify_code_word("red falcon")
    assert not security.verify_code_word("blue falcon")


@pytest.mark.parametrize(
    ("by", "at", "reason", "message"),
    [
        ("", RESET_AT, "checked", "by='' is invalid: must be non-empty text"),
        ("bob", RESET_AT, "  ", "reason='  ' is invalid: must be non-empty text"),
        (
            "bob",
            datetime(2024, 3, 21, 10),  # noqa: DTZ001 - the naive datetime is the subject
            "checked",
            (
                "at=datetime.datetime(2024, 3, 21, 10, 0) is invalid: must be an aware "
                "datetime (with a time zone)"
            ),
        ),
    ],
)
def test_code_word_write_once_a_reset_names_who_and_why(
    by: str, at: datetime, reason: str, message: str
) -> None:
    security = SecuritySettings()
    security.set_code_word("blue falcon", salt=SALT, params=FAST)
    with pytest.raises(ValidationError) as info:
        security.reset_code_word(by=by, at=at, reason=reason)
    assert str(info.value) == message
    assert security.verify_code_word("blue falcon")
    assert security.code_word_reset is None


def test_code_word_write_once_nothing_to_reset() -> None:
    with pytest.raises(ConflictError) as info:
        SecuritySettings().reset_code_word(by="bob", at=RESET_AT, reason="asked")
    assert str(info.value) == "code word: is not set; there is nothing to reset"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n": 2},
            "n=2 is invalid: scrypt's cost n must be a power of two of at least 16384 (2**14)",
        ),
        ({"r": 1}, "r=1 is invalid: scrypt's block size r must be an integer of at least 8"),
        ({"r": 7}, "r=7 is invalid: scrypt's block size r must be an integer of at least 8"),
        (
            {"n": True},
            "n=True is invalid: scrypt's cost n must be a power of two of at least 16384 (2**14)",
        ),
    ],
)
def test_code_word_weak_scrypt_parameters_are_refused(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(WeakHashParametersError) as info:
        ScryptParams(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)
    security = SecuritySettings()
    with pytest.raises(WeakHashParametersError):
        security.set_code_word("blue falcon", params=ScryptParams(**kwargs))  # type: ignore[arg-type]
    assert not security.has_code_word


def test_code_word_scrypt_memory_must_fit_its_cost() -> None:
    with pytest.raises(ValidationError) as info:
        ScryptParams(n=2**20, maxmem=64 * 1024 * 1024)
    assert str(info.value) == (
        "maxmem=67108864 is invalid: scrypt with n=1048576, r=8, p=1 needs 1073744896 bytes; "
        "allow at least that much"
    )
    assert ScryptParams(n=2**15).n == 2**15
