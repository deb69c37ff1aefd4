"""Properties of the allowlist, the requisites check digits and the code word.

The check digits are recomputed here by reference implementations written independently
of the library (digit by digit, from the published formulas), and the library must agree
with them on every valid number and on every single-digit corruption of one.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cabinet_billing import ValidationError
from cabinet_billing.domain.security import CodeWord, IpAllowlist, ScryptParams
from cabinet_billing.rules.requisites import (
    IBAN_LENGTHS,
    check_edrpou,
    check_iban,
    check_inn,
    check_ogrn,
    check_ogrnip,
    check_rnokpp,
    check_ru_settlement_account,
)

# ----------------------------------------------------------------------------- allowlist

# A small address space makes overlaps, edges and misses all likely.
BASE_V4 = int(ipaddress.IPv4Address("10.0.0.0"))
BASE_V6 = int(ipaddress.IPv6Address("2001:db8::"))
offsets = st.integers(min_value=0, max_value=63)
entries = st.tuples(offsets, offsets).map(sorted)
separators = st.sampled_from(["\n", " ", ",", ", ", "\r\n", "\n\n", "\t"])


def _text(ranges: list[list[int]], seps: list[str], make: Callable[[int], str]) -> str:
    parts = [make(a) if a == b else f"{make(a)}-{make(b)}" for a, b in ranges]
    out = parts[0] if parts else ""
    for part, sep in zip(parts[1:], seps, strict=False):
        out += sep + part
    return out


@pytest.mark.spec("A5")
@given(
    st.lists(entries, max_size=6),
    st.lists(separators, min_size=6, max_size=6),
    offsets,
    st.booleans(),
)
def test_allowlist_agrees_with_brute_force_membership(
    ranges: list[list[int]],
    seps: list[str],
    probe: int,
    v6: bool,
) -> None:
    base = BASE_V6 if v6 else BASE_V4
    address: Callable[[int], ipaddress.IPv4Address | ipaddress.IPv6Address] = (
        ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
    )
    allowlist = IpAllowlist.parse(_text(ranges, seps, lambda n: str(address(base + n))))
    expected = not ranges or any(a <= probe <= b for a, b in ranges)
    assert allowlist.allows(str(address(base + probe))) is expected
    assert len(allowlist.ranges) == len(ranges)
    assert IpAllowlist.parse(allowlist.to_text()) == allowlist


@pytest.mark.spec("A5")
@given(offsets, offsets)
def test_reversed_ranges_are_refused(a: int, b: int) -> None:
    assume(a != b)
    low, high = sorted((a, b))
    text = f"{ipaddress.IPv4Address(BASE_V4 + high)}-{ipaddress.IPv4Address(BASE_V4 + low)}"
    with pytest.raises(ValidationError) as info:
        IpAllowlist.parse(f"10.0.0.1\n{text}")
    assert "line 2" in str(info.value)


# ----------------------------------------------------------------------------- check digits


def _ref_mod11(body: str, weights: tuple[int, ...]) -> int:
    total = 0
    for i, digit in enumerate(body):
        total += int(digit) * weights[i]
    remainder = total % 11
    return 0 if remainder == 10 else remainder


def ref_edrpou(body: str) -> str:
    value = int(body + "0")
    weights = (7, 1, 2, 3, 4, 5, 6) if 30_000_000 <= value < 60_000_000 else (1, 2, 3, 4, 5, 6, 7)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    if total % 11 != 10:
        return str(total % 11)
    total = sum(int(d) * (w + 2) for d, w in zip(body, weights, strict=True))
    return str(_ref_mod11_total(total))


def _ref_mod11_total(total: int) -> int:
    remainder = total % 11
    return 0 if remainder == 10 else remainder


def ref_rnokpp(body: str) -> str:
    return str(_ref_mod11(body, (-1, 5, 7, 9, 4, 6, 10, 5, 7)))


def ref_inn10(body: str) -> str:
    return str(_ref_mod11(body, (2, 4, 10, 3, 5, 9, 4, 6, 8)))


def ref_inn12(body: str) -> str:
    n11 = str(_ref_mod11(body, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)))
    n12 = str(_ref_mod11(body + n11, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)))
    return n11 + n12


def ref_ogrn(body: str) -> str:
    return str(int(body) % 11)[-1]


def ref_ogrnip(body: str) -> str:
    return str(int(body) % 13)[-1]


# (check, body length, reference check digits, check digits that guarantee detection)
SCHEMES: dict[str, tuple[Callable[[str], str], int, Callable[[str], str], str]] = {
    "edrpou": (check_edrpou, 7, ref_edrpou, ""),
    "rnokpp": (check_rnokpp, 9, ref_rnokpp, "123456789"),
    "inn10": (check_inn, 9, ref_inn10, "123456789"),
    "inn12": (check_inn, 10, ref_inn12, "123456789"),
    "ogrn": (check_ogrn, 12, ref_ogrn, "123456789"),
    "ogrnip": (check_ogrnip, 14, ref_ogrnip, "3456789"),
}


def accepts(check: Callable[[str], str], number: str) -> bool:
    try:
        check(number)
    except ValidationError:
        return False
    return True


def corruptions(number: str) -> list[tuple[int, str]]:
    return [
        (i, number[:i] + d + number[i + 1 :])
        for i in range(len(number))
        for d in "0123456789"
        if d != number[i]
    ]


@pytest.mark.spec("A4")
@pytest.mark.parametrize("scheme", list(SCHEMES))
@given(data=st.data())
def test_numbers_with_correct_check_digits_are_accepted(scheme: str, data: st.DataObject) -> None:
    check, length, reference, _ = SCHEMES[scheme]
    body = data.draw(st.text("0123456789", min_size=length, max_size=length))
    number = body + reference(body)
    assert check(number) == number


@pytest.mark.spec("A4")
@pytest.mark.parametrize("scheme", list(SCHEMES))
@given(data=st.data())
def test_single_digit_corruptions_are_rejected(scheme: str, data: st.DataObject) -> None:
    check, length, reference, guaranteed = SCHEMES[scheme]
    body = data.draw(st.text("0123456789", min_size=length, max_size=length))
    number = body + reference(body)
    first_check = len(body)
    for position, corrupted in corruptions(number):
        accepted = accepts(check, corrupted)
        # The library agrees with the reference on every corruption ...
        assert accepted == (corrupted[first_check:] == reference(corrupted[:first_check]))
        # ... a corrupted check digit is always caught ...
        if position >= first_check:
            assert not accepted, corrupted
        # ... and so is any typo when the check digit is not shared by two remainders.
        if number[first_check] in guaranteed:
            assert not accepted, corrupted


def edrpou_first_pass(body: str) -> int:
    weights = (7, 1, 2, 3, 4, 5, 6) if body[0] in "345" else (1, 2, 3, 4, 5, 6, 7)
    return sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11


@pytest.mark.spec("A4")
@given(st.text("0123456789", min_size=7, max_size=7))
def test_edrpou_catches_every_typo_that_stays_in_the_first_pass(body: str) -> None:
    # The guarantee: a typo is caught unless it switches the weights (first digit moves
    # into or out of 3-5) or either number needs the second pass (remainder 10).
    number = body + ref_edrpou(body)
    for position, corrupted in corruptions(number):
        same_weights = (corrupted[0] in "345") == (number[0] in "345")
        first_pass_only = edrpou_first_pass(body) != 10 and edrpou_first_pass(corrupted[:7]) != 10
        if position == 7 or (same_weights and first_pass_only):
            assert not accepts(check_edrpou, corrupted), corrupted


def ref_iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


iban_countries = st.sampled_from(sorted(IBAN_LENGTHS))
bban_chars = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.mark.spec("A4")
@given(iban_countries, st.data())
def test_ibans_with_correct_check_digits_pass_and_every_substitution_fails(
    country: str,
    data: st.DataObject,
) -> None:
    size = IBAN_LENGTHS[country] - 4
    bban = "".join(data.draw(st.lists(bban_chars, min_size=size, max_size=size)))
    iban = ref_iban(country, bban)
    assert check_iban(iban) == iban
    for i in range(2, len(iban)):
        alphabet = "0123456789" if iban[i].isdigit() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for ch in alphabet:
            if ch != iban[i]:
                assert not accepts(check_iban, iban[:i] + ch + iban[i + 1 :])


def ref_settlement(bic: str, account_without_key: str) -> str:
    # The 9th account digit is the key; weights 7, 1, 3 run over BIC[-3:] + account.
    weights = [7, 1, 3] * 8
    digits = bic[-3:] + account_without_key[:8] + "0" + account_without_key[8:]
    total = sum(int(d) * weights[i] for i, d in enumerate(digits))
    key = next(k for k in range(10) if (total + k * weights[11]) % 10 == 0)
    return account_without_key[:8] + str(key) + account_without_key[8:]


@pytest.mark.spec("A4")
@given(
    st.text("0123456789", min_size=9, max_size=9),
    st.text("0123456789", min_size=19, max_size=19),
)
def test_settlement_accounts_are_keyed_and_every_typo_is_caught(bic: str, rest: str) -> None:
    account = ref_settlement(bic, rest)
    assert check_ru_settlement_account(account, bic) == account
    for _, corrupted in corruptions(account):
        with pytest.raises(ValidationError):
            check_ru_settlement_account(corrupted, bic)


# ----------------------------------------------------------------------------- code word

# The cheapest scrypt cost accepted (about 50 ms a hash): few examples are enough here.
FAST = ScryptParams(n=2**14, r=8)
words = st.text(min_size=1, max_size=20).filter(lambda w: w.strip() != "")


def _same_word(a: str, b: str) -> bool:
    return unicodedata.normalize("NFC", a.strip()) == unicodedata.normalize("NFC", b.strip())


@pytest.mark.spec("A5")
@settings(max_examples=15)
@given(words, st.text(max_size=20), st.binary(min_size=16, max_size=16))
def test_code_word_verifies_itself_and_nothing_else(word: str, other: str, salt: bytes) -> None:
    assume(not _same_word(word, other))
    code_word = CodeWord.create(word, salt=salt, params=FAST)
    assert code_word.verify(word)
    assert not code_word.verify(other)
