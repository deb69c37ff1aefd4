"""A document number's collation key orders texts exactly as the natural sort key does (L4).

A SQL store sorts and pages invoices by the key's characters, so any pair of numbers the
two keys ordered differently would put an invoice on the wrong page.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cabinet_billing.domain.numbering import document_collation_key, document_sort_key

pytestmark = pytest.mark.spec("L4")

# Digits, zeros, letters in both cases, separators, the characters the key escapes and
# characters beyond ASCII (non-ASCII digits are text to both keys).
NUMBERS = st.text(
    alphabet=st.sampled_from("0012789aAbBzZ-_ /.\x00\x01\x02ßẞİ²٣é€"), max_size=12
) | st.text(max_size=8)


def _sign(a: str | tuple[tuple[int, int, str], ...], b: object) -> int:
    return int(a > b) - int(a < b)  # type: ignore[operator]


@given(NUMBERS, NUMBERS)
@example("INV-009", "INV-9")
@example("0", "00")
@example("A", "A0")
@example("a\x00", "a")
@example("a\x01b", "a\x02")
@example("9" * 12, "1" + "0" * 12)
def test_the_collation_key_orders_as_the_natural_sort_key(a: str, b: str) -> None:
    assert _sign(document_collation_key(a), document_collation_key(b)) == _sign(
        document_sort_key(a), document_sort_key(b)
    )


@given(NUMBERS)
def test_the_collation_key_never_holds_a_nul(number: str) -> None:
    # PostgreSQL's text cannot hold U+0000.
    assert "\x00" not in document_collation_key(number)
