"""Texts for people, kept as a message id and values, never as words (SPEC M7).

An invoice line says what is billed. Stored as an English sentence, it could only ever be
shown in English; stored as a :class:`LineText` — a message id of the library's gettext
catalogs and the values the message needs — it is put into words when a document is
rendered, in the reader's language (see :func:`cabinet_billing.l10n.render_line_text`).

>>> from datetime import date
>>> text = LineText.of("line.renewal", plan="VPS S", until=date(2024, 4, 1))
>>> text.msgid, text.as_dict()
('line.renewal', {'plan': 'VPS S', 'until': datetime.date(2024, 4, 1)})
>>> text.fallback
'line.renewal: plan=VPS S, until=2024-04-01'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TypeAlias

import attrs

from cabinet_billing.domain.checks import shared_copies
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import ValidationError

__all__ = ["LineParam", "LineText"]

#: What a message's value may be: amounts and dates are formatted in the reader's
#: locale, numbers and texts are shown as they are.
LineParam: TypeAlias = Money | date | Decimal | int | str

_ALLOWED = "Money, date, Decimal, int or str"


def _msgid(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValidationError(
            "msgid", value, "expected a message id of the catalogs such as 'line.renewal'"
        )
    return value


def _param(name: object, value: object) -> tuple[str, LineParam]:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValidationError("params", name, "a value's name must be an identifier")
    # A datetime is an instant, not a day, and a bool is not a number: both would print
    # as something other than what the reader expects.
    if isinstance(value, datetime | bool) or not isinstance(
        value, Money | date | Decimal | int | str
    ):
        raise ValidationError(f"params[{name!r}]", value, f"expected {_ALLOWED}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(f"params[{name!r}]", value, "expected a finite number")
    return name, value


def _params(
    value: Mapping[str, LineParam] | Iterable[tuple[str, LineParam]],
) -> tuple[tuple[str, LineParam], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    checked = [_param(*pair) for pair in pairs]
    names = [name for name, _ in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationError("params", repeated, "each value is named once")
    # Sorted by name, so that two texts with the same values are equal in any order.
    return tuple(sorted(checked, key=lambda pair: pair[0]))


@shared_copies
@attrs.frozen
class LineText:
    """A text as a message id and named values, put into words at render time.

    Args:
        msgid: a message id of the catalogs, e.g. ``"line.renewal"``.
        params: the values the message needs, as a mapping or ``(name, value)`` pairs;
            each a :class:`~cabinet_billing.Money`, a ``date``, a ``Decimal``, an
            ``int`` or a ``str``.

    Raises:
        ValidationError: for an empty id, a value name that is not an identifier, a
            name given twice, or a value of another type (a float, a datetime ...).

    >>> LineText("line.top_up") == LineText.of("line.top_up")
    True
    >>> LineText.of("line.renewal", until=1.5)
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: params['until']=1.5 is invalid: expected Money, date, Decimal, int or str
    """

    msgid: str = attrs.field(converter=_msgid)
    params: tuple[tuple[str, LineParam], ...] = attrs.field(default=(), converter=_params)

    @classmethod
    def of(cls, msgid: str, /, **params: LineParam) -> LineText:
        """A text from a message id and its values as keywords.

        >>> from datetime import date
        >>> LineText.of("line.credit_statement", month=date(2024, 3, 1)).params
        (('month', datetime.date(2024, 3, 1)),)
        """
        return cls(msgid, params)

    def as_dict(self) -> dict[str, LineParam]:
        """The values by name."""
        return dict(self.params)

    @property
    def fallback(self) -> str:
        """A plain rendering that needs no catalog: the id and the values, for logs.

        >>> LineText.of("line.order", plan="VPS S").fallback
        'line.order: plan=VPS S'
        """
        if not self.params:
            return self.msgid
        values = ", ".join(f"{name}={_plain(value)}" for name, value in self.params)
        return f"{self.msgid}: {values}"


def _plain(value: LineParam) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
