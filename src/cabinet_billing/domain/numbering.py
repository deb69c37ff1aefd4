"""Invoice numbers: a configurable format, and recognising numbers in free text (SPEC L4).

A :class:`NumberFormat` is built from a template of named fields. Horoshop numbers its
invoices ``HOR-11111-007``: a prefix, the code of the service (the site) and a
sequence padded to three digits:

>>> hs = NumberFormat("{prefix}-{service_code}-{seq:03}")
>>> hs.format(7, prefix="HOR", service_code="11111")
'HOR-11111-007'
>>> hs.parse("HOR-11111-007")
ParsedNumber(seq=7, prefix='HOR', service_code='11111', account=None, year=None, month=None)
>>> hs.find("Оплата по счету HOR-11111-007, без НДС")
('HOR-11111-007',)

The fields a template may use are ``prefix`` (letters), ``service_code`` and ``account``
(letters and digits), and the integers ``seq``, ``year`` and ``month``. An integer field
takes an optional zero-padding width (``{seq:03}``, ``{month:02}``); a value longer than
the width is written in full (sequence 1234 gives ``HOR-11111-1234``).

Where the sequence comes from: this module only renders and reads numbers. The sequence
is allocated by the storage adapter in the same transaction that stores the invoice, so
an invoice number is never used twice and no number is skipped by a failed write. With
one sequence per account, every account's first invoice has sequence 1: the template must
then tell accounts apart (``{service_code}`` or ``{account}``), which
:func:`check_per_account` checks.

Numbers sort naturally with :func:`document_sort_key`: ``HOR-11111-999`` comes before
``HOR-11111-1000``, which plain text sorting gets wrong:

>>> sorted(["HOR-11111-1000", "HOR-11111-999", "HOR-11111-007"], key=document_sort_key)
['HOR-11111-007', 'HOR-11111-999', 'HOR-11111-1000']
"""

from __future__ import annotations

import enum
import functools
import re
import string
from collections.abc import Mapping
from typing import Final

import attrs

from cabinet_billing.errors import PerAccountNumberingError, ValidationError

__all__ = [
    "ACCOUNT_FIELDS",
    "NUMBER_FIELDS",
    "NumberFormat",
    "ParsedNumber",
    "check_per_account",
    "document_collation_key",
    "document_sort_key",
]


class _Kind(enum.Enum):
    LETTERS = r"[^\W\d_]+"
    ALNUM = r"[^\W_]+"
    INTEGER = r"[0-9]+"


_KINDS: Final[Mapping[str, _Kind]] = {
    "prefix": _Kind.LETTERS,
    "service_code": _Kind.ALNUM,
    "account": _Kind.ALNUM,
    "seq": _Kind.INTEGER,
    "year": _Kind.INTEGER,
    "month": _Kind.INTEGER,
}

#: The field names a number template may use.
NUMBER_FIELDS: Final = tuple(_KINDS)

#: The fields that tell one account's numbers from another's.
ACCOUNT_FIELDS: Final = ("service_code", "account")

_ALLOWED: Final = ", ".join("{" + name + "}" for name in NUMBER_FIELDS)

# Smallest and largest value of each integer field.
_RANGES: Final[Mapping[str, tuple[int, int | None]]] = {
    "seq": (1, None),
    "year": (1, 9999),
    "month": (1, 12),
}

_WIDTH: Final = re.compile(r"0([1-9]\d?)")

_KIND_NAMES: Final[Mapping[_Kind, str]] = {
    _Kind.LETTERS: "letters",
    _Kind.ALNUM: "letters and digits",
    _Kind.INTEGER: "digits",
}


@attrs.frozen
class _Field:
    name: str
    width: int

    @property
    def kind(self) -> _Kind:
        return _KINDS[self.name]

    def regex(self) -> str:
        if self.kind is not _Kind.INTEGER:
            return f"(?P<{self.name}>{self.kind.value})"
        # Only the canonical rendering: "007" and "1234" for width 3, never "0071".
        if self.width:
            digits = f"[0-9]{{{self.width}}}|[1-9][0-9]{{{self.width},}}"
        else:
            digits = "[1-9][0-9]*"
        return f"(?P<{self.name}>{digits})"

    def accepts(self, char: str) -> bool:
        return re.fullmatch(self.kind.value, char) is not None


@attrs.frozen
class _Analysis:
    items: tuple[str | _Field, ...]
    ambiguity: str | None
    regex: str


def _check_spec(template: str, name: str, spec: str, conversion: str | None) -> int:
    if conversion is not None:
        raise ValidationError(
            "template", template, f"{{{name}!{conversion}}}: conversions are not allowed"
        )
    if not spec:
        return 0
    match = _WIDTH.fullmatch(spec)
    if _KINDS[name] is not _Kind.INTEGER or match is None:
        allowed = "a zero-padding width such as {seq:03}, on seq, year and month only"
        raise ValidationError("template", template, f"{{{name}:{spec}}}: allowed is {allowed}")
    return int(match.group(1))


def _items(template: str) -> tuple[str | _Field, ...]:
    items: list[str | _Field] = []
    seen: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValidationError("template", template, f"not a valid template: {error}") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            items.append(literal)
        if name is None:
            continue
        if name not in _KINDS:
            raise ValidationError(
                "template", template, f"unknown field {{{name}}}; allowed fields: {_ALLOWED}"
            )
        if name in seen:
            raise ValidationError("template", template, f"field {{{name}}} appears twice")
        seen.add(name)
        items.append(_Field(name, _check_spec(template, name, spec or "", conversion)))
    if "seq" not in seen:
        raise ValidationError(
            "template", template, f"must contain {{seq}}; allowed fields: {_ALLOWED}"
        )
    return tuple(items)


def _ambiguity(items: tuple[str | _Field, ...]) -> str | None:
    # A field ends at the first character its kind cannot contain; the number can be read
    # back only if that character is always the start of what follows.
    for item, following in zip(items, (*items[1:], None), strict=True):
        if not isinstance(item, _Field) or following is None:
            continue
        if isinstance(following, str):
            if item.accepts(following[0]):
                return f"{{{item.name}}} may contain the {following[0]!r} that follows it"
        elif item.kind is _Kind.ALNUM or following.kind in {item.kind, _Kind.ALNUM}:
            return (
                f"{{{item.name}}} and {{{following.name}}} touch; put a separator such as '-' "
                "between them"
            )
    return None


@functools.lru_cache(maxsize=256)
def _analyse(template: str) -> _Analysis:
    items = _items(template)
    body = "".join(re.escape(i) if isinstance(i, str) else i.regex() for i in items)
    joiners = sorted({c for i in items if isinstance(i, str) for c in i if re.match(r"\W", c)})
    # A whole token: not glued to letters or digits, nor to more parts joined by the
    # template's own separators ("HOR-11111-007-2" is not HOR-11111-007).
    left, right = r"(?<!\w)", r"(?!\w)"
    if joiners:
        joined = "[" + "".join(re.escape(c) for c in joiners) + "]"
        left += rf"(?<!\w{joined})"
        right += rf"(?!{joined}\w)"
    return _Analysis(items, _ambiguity(items), f"{left}{body}{right}")


@attrs.frozen
class ParsedNumber:
    """The fields read back from an invoice number.

    Attributes:
        seq: the sequence number.
        prefix: the prefix, when the template has one.
        service_code: the service code, when the template has one.
        account: the account, when the template has one.
        year: the year, when the template has one.
        month: the month, when the template has one.
    """

    seq: int
    prefix: str | None = None
    service_code: str | None = None
    account: str | None = None
    year: int | None = None
    month: int | None = None


def _check_template(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError("template", value, f"must be a string using {_ALLOWED}")
    _analyse(value)


@attrs.frozen
class NumberFormat:
    """How invoice numbers are written: a template of named fields (SPEC L4).

    Args:
        template: a :meth:`str.format` template using ``{prefix}``, ``{service_code}``,
            ``{account}``, ``{seq}``, ``{year}`` and ``{month}``; ``{seq}`` is required.
            Integer fields take an optional zero-padding width, e.g. ``{seq:03}``.

    Raises:
        ValidationError: for an unknown field, a missing ``{seq}``, a field used twice,
            a conversion or a format other than a zero-padding width.

    >>> NumberFormat("{prefix}-{year}-{number}")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: template='{prefix}-{year}-{number}' is invalid: unknown field {number}; allowed fields: {prefix}, {service_code}, {account}, {seq}, {year}, {month}
    """

    template: str = attrs.field(validator=_check_template)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the template uses, in order.

        >>> NumberFormat("{prefix}-{year}-{seq:05}").fields
        ('prefix', 'year', 'seq')
        """
        return tuple(i.name for i in _analyse(self.template).items if isinstance(i, _Field))

    @property
    def distinguishes_accounts(self) -> bool:
        """Whether numbers of different accounts differ even with the same sequence.

        True when the template has ``{service_code}`` or ``{account}``.

        >>> NumberFormat("{prefix}-{seq:06}").distinguishes_accounts
        False
        >>> NumberFormat("{prefix}-{service_code}-{seq:03}").distinguishes_accounts
        True
        """
        return any(field in ACCOUNT_FIELDS for field in self.fields)

    @property
    def parseable(self) -> bool:
        """Whether a number of this format can be read back unambiguously.

        It cannot when two fields touch and the first may contain what the second starts
        with (``{service_code}{seq}``), or a field may contain the separator after it.

        >>> NumberFormat("{prefix}{seq:04}").parseable, NumberFormat("{account}{seq}").parseable
        (True, False)
        """
        return _analyse(self.template).ambiguity is None

    def format(self, seq: int, **context: str | int) -> str:
        """Write the number with sequence ``seq``.

        Args:
            seq: the sequence number, from 1.
            **context: the other fields the template uses. Fields the template does not
                use are ignored, so a host may always pass the same context.

        Returns:
            The invoice number.

        Raises:
            ValidationError: for an unknown or missing field, or a value that does not fit
                its field (a prefix with digits, month 13, a sequence below 1 ...).

        >>> NumberFormat("INV/{year}/{month:02}/{seq:04}").format(12, year=2024, month=3)
        'INV/2024/03/0012'
        """
        unknown = sorted(set(context) - set(_KINDS))
        if unknown:
            raise ValidationError(
                unknown[0], context[unknown[0]], f"not a context field; allowed: {_ALLOWED}"
            )
        values: dict[str, object] = {**context, "seq": seq}
        parts: list[str] = []
        for item in _analyse(self.template).items:
            if isinstance(item, str):
                parts.append(item)
                continue
            if item.name not in values:
                raise ValidationError(
                    item.name, None, f"the template {self.template!r} needs a value for it"
                )
            parts.append(_render(item, values[item.name]))
        return "".join(parts)

    def parse(self, number: str) -> ParsedNumber:
        """Read the fields back from a number of this format.

        Raises:
            ValidationError: when the template is ambiguous, or ``number`` is not a number
                of this format (written exactly as :meth:`format` writes it).

        >>> NumberFormat("{prefix}-{service_code}-{seq:03}").parse("HOR-11111-0071")
        Traceback (most recent call last):
        ...
        cabinet_billing.errors.ValidationError: number='HOR-11111-0071' is invalid: not a number of the format '{prefix}-{service_code}-{seq:03}'
        """
        analysis = self._parseable()
        match = re.fullmatch(analysis.regex, number)
        if match is None:
            raise ValidationError("number", number, f"not a number of the format {self.template!r}")
        texts: dict[str, str] = {}
        ints: dict[str, int] = {}
        for name, text in match.groupdict().items():
            if _KINDS[name] is not _Kind.INTEGER:
                texts[name] = text
                continue
            if not _in_range(name, int(text)):
                raise ValidationError(
                    "number", number, f"{name} {int(text)} is not {_range_text(name)}"
                )
            ints[name] = int(text)
        return ParsedNumber(
            seq=ints["seq"],
            prefix=texts.get("prefix"),
            service_code=texts.get("service_code"),
            account=texts.get("account"),
            year=ints.get("year"),
            month=ints.get("month"),
        )

    def pattern(self) -> re.Pattern[str]:
        """A compiled regular expression that finds numbers of this format in free text.

        A number is found only as a whole token: not glued to letters or digits, nor to
        further parts joined by the template's own separators.

        Raises:
            ValidationError: when the template is ambiguous (see :attr:`parseable`).

        >>> p = NumberFormat("{prefix}-{service_code}-{seq:03}").pattern()
        >>> [m.group() for m in p.finditer("HOR-11111-007; HOR-11111-0071; HOR-11111-008-2")]
        ['HOR-11111-007']
        """
        return _compiled(self._parseable().regex)

    def find(self, text: str) -> tuple[str, ...]:
        """The distinct numbers of this format in ``text``, in order of appearance.

        >>> NumberFormat("{prefix}-{seq:03}").find("INV-001 and INV-002, again INV-001")
        ('INV-001', 'INV-002')
        """
        return tuple(dict.fromkeys(m.group() for m in self.pattern().finditer(text)))

    def _parseable(self) -> _Analysis:
        analysis = _analyse(self.template)
        if analysis.ambiguity is not None:
            raise ValidationError(
                "template",
                self.template,
                f"numbers cannot be read back: {analysis.ambiguity}",
            )
        return analysis


def check_per_account(number_format: NumberFormat, *, per_account: bool) -> NumberFormat:
    """Check that a numbering with one sequence per account gives unique numbers.

    With a sequence per account, every account's first invoice has sequence 1; unless the
    template has ``{service_code}`` or ``{account}``, the first invoices of two accounts
    get the same number. Settings that offer ``invoice_sequence_per_account`` call this
    when they are built.

    Args:
        number_format: the invoice number format.
        per_account: whether each account's invoices are numbered from 1.

    Returns:
        ``number_format``, for use in a validator.

    Raises:
        PerAccountNumberingError: for a per-account sequence with a template that does
            not tell accounts apart.

    >>> check_per_account(NumberFormat("{prefix}-{seq:06}"), per_account=False).template
    '{prefix}-{seq:06}'
    >>> check_per_account(NumberFormat("{prefix}-{seq:06}"), per_account=True)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.PerAccountNumberingError: template='{prefix}-{seq:06}' is invalid: with a sequence per account every account's first invoice is number 1, so the template must tell accounts apart with {service_code} or {account}
    """
    if per_account and not number_format.distinguishes_accounts:
        raise PerAccountNumberingError(number_format.template)
    return number_format


_DIGITS: Final = re.compile(r"([0-9]+)")


def document_sort_key(number: str) -> tuple[tuple[int, int, str], ...]:
    """A key that sorts document numbers (and other ids) naturally.

    Runs of digits compare by their value, the rest case-insensitively, so that
    ``HOR-11111-999`` sorts before ``HOR-11111-1000`` and ``VM 9`` before ``VM 10``.
    Numbers that differ only in leading zeros (``007``, ``7``) are told apart by their
    text.

    >>> sorted(["INV-10", "INV-9", "inv-9a", "INV-009"], key=document_sort_key)
    ['INV-009', 'INV-9', 'inv-9a', 'INV-10']
    """
    return tuple(
        (0, int(chunk), chunk) if chunk.isascii() and chunk.isdigit() else (1, 0, chunk.casefold())
        for chunk in _DIGITS.split(str(number))
        if chunk
    )


_END: Final = "\x01\x01"
"""Ends a chunk of :func:`document_collation_key`: below every character it escapes."""

_ESCAPED: Final = {0: "\x01\x02", 1: "\x01\x03"}
"""The two characters that sort below ``_END``'s second one, kept in order above it."""


def document_collation_key(number: str) -> str:
    """A text whose plain character order is :func:`document_sort_key`'s order.

    A database compares it byte by byte (SQLite's ``BINARY`` collation, PostgreSQL's
    ``"C"``), so a store can sort and page invoices naturally in SQL: ``HOR-999``
    before ``HOR-1000``. Each run of digits is written as the count of its significant
    digits (itself prefixed with its own length), those digits, then the run as it
    was, which orders ``007`` before ``7`` as the tuple key does; the rest is
    case-folded. Chunks end with a mark below every other character.

    >>> sorted(["INV-10", "INV-9", "inv-9a", "INV-009"], key=document_collation_key)
    ['INV-009', 'INV-9', 'inv-9a', 'INV-10']
    >>> document_collation_key("INV-10") < document_collation_key("INV-9")
    False
    """
    parts: list[str] = []
    for chunk in _DIGITS.split(str(number)):
        if not chunk:
            continue
        if chunk.isascii() and chunk.isdigit():
            size = str(len(chunk.lstrip("0")))
            parts += ("0", str(len(size)), size, chunk.lstrip("0"), chunk, _END)
        else:
            text = chunk.casefold()
            if "\x00" in text or "\x01" in text:
                text = text.translate(_ESCAPED)
            parts += ("1", text, _END)
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _in_range(name: str, value: int) -> bool:
    low, high = _RANGES[name]
    return low <= value and (high is None or value <= high)


def _range_text(name: str) -> str:
    low, high = _RANGES[name]
    return f"from {low}" if high is None else f"from {low} to {high}"


def _render(item: _Field, value: object) -> str:
    if item.kind is _Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int) or not _in_range(item.name, value):
            raise ValidationError(item.name, value, f"must be an integer {_range_text(item.name)}")
        return f"{value:0{item.width}d}" if item.width else str(value)
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or re.fullmatch(item.kind.value, text) is None:
        raise ValidationError(
            item.name, value, f"must be non-empty and contain only {_KIND_NAMES[item.kind]}"
        )
    return text
