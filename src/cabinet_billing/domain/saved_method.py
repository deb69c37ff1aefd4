"""Saved payment methods and card binding (SPEC R5).

A :class:`SavedPaymentMethod` is a card or a wallet that the payment provider keeps for a
customer. The library never sees card data: it holds the provider's opaque token, a name
the customer chose and a masked label such as ``'•••• 4242'``. A method is *configuring*
while the customer completes the provider's page, *enabled* once it works, and *not
working* after a failed charge, until a charge succeeds again (Astra Cloud's
"Настраивается", "Включено", "Не работает"):

>>> from datetime import datetime, timezone
>>> at = datetime(2024, 3, 20, 9, tzinfo=timezone.utc)
>>> card = SavedPaymentMethod("pm-1", "acc-1", MethodKind.CARD, "tok_8f3a", "Bank card *1111",
...                           mask_card("1111"))
>>> card.status
<SavedMethodStatus.CONFIGURING: 'configuring'>
>>> card.mark_working(at)
>>> card.mark_failed(at, "insufficient funds")
>>> card.status, card.usable_for(MethodUse.SUBSCRIPTIONS)
(<SavedMethodStatus.NOT_WORKING: 'not_working'>, False)

Binding a card (Horoshop): with an unpaid invoice the customer pays it with the card;
otherwise the provider charges a small verification amount (1 UAH by default) and
refunds it. :func:`binding_plan` says which:

>>> binding_plan([]).action, str(binding_plan([]).amount)
(<BindingAction.VERIFY_AND_REFUND: 'verify_and_refund'>, '1.00 UAH')
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

import attrs

from cabinet_billing.domain.checks import aware, check_id, check_text, enum_member, shared_copies
from cabinet_billing.domain.invoice import Invoice
from cabinet_billing.domain.money import Money
from cabinet_billing.errors import ConflictError, InvalidTransitionError, ValidationError

__all__ = [
    "MAX_METHOD_NAME_LENGTH",
    "SAVED_METHOD_TRANSITIONS",
    "BindingAction",
    "BindingPlan",
    "MethodFailure",
    "MethodKind",
    "MethodUse",
    "SavedMethodStatus",
    "SavedPaymentMethod",
    "binding_plan",
    "mask_card",
]


#: The longest display name a saved method may have.
MAX_METHOD_NAME_LENGTH: Final = 100

#: The mask shown before the last digits of a card.
CARD_MASK: Final = "\u2022\u2022\u2022\u2022"

# A run of 12 or more digits (spaces and dashes allowed between them) looks like a card
# number: such text never enters a label, a name or a token.
_PAN_LIKE: Final = re.compile(r"(?:\d[ -]?){12,}")


class MethodKind(enum.StrEnum):
    """What the provider saved: a bank card or an electronic wallet."""

    CARD = "card"
    WALLET = "wallet"


class SavedMethodStatus(enum.StrEnum):
    """The status of a saved method; it is updated by the outcome of charges.

    Attributes:
        CONFIGURING: the customer is completing the provider's page ("Настраивается").
        ENABLED: the method works ("Включено").
        NOT_WORKING: the last charge failed ("Не работает").
    """

    CONFIGURING = "configuring"
    ENABLED = "enabled"
    NOT_WORKING = "not_working"


class MethodUse(enum.StrEnum):
    """What a saved method may pay for: purchases, subscriptions (auto-renewal), or both."""

    PURCHASES = "purchases"
    SUBSCRIPTIONS = "subscriptions"


#: The allowed status changes of a saved method.
SAVED_METHOD_TRANSITIONS: Final[Mapping[SavedMethodStatus, frozenset[SavedMethodStatus]]] = (
    MappingProxyType(
        {
            SavedMethodStatus.CONFIGURING: frozenset(
                {SavedMethodStatus.ENABLED, SavedMethodStatus.NOT_WORKING},
            ),
            SavedMethodStatus.ENABLED: frozenset({SavedMethodStatus.NOT_WORKING}),
            SavedMethodStatus.NOT_WORKING: frozenset({SavedMethodStatus.ENABLED}),
        },
    )
)


def _to_kind(value: object) -> MethodKind:
    return enum_member(MethodKind, "kind", value)


def _to_status(value: object) -> SavedMethodStatus:
    return enum_member(SavedMethodStatus, "status", value)


def mask_card(last_digits: object) -> str:
    """A card's masked label from its last digits, as the provider reports them.

    Raises:
        ValidationError: unless ``last_digits`` is 2 to 4 digits.

    >>> mask_card("4242")
    '•••• 4242'
    >>> mask_card("4242424242424242")
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: last_digits='4242424242424242' is invalid: expected the last 2 to 4 digits of the card, never the card number
    """
    if not isinstance(last_digits, str) or not re.fullmatch(r"\d{2,4}", last_digits):
        raise ValidationError(
            "last_digits",
            last_digits,
            "expected the last 2 to 4 digits of the card, never the card number",
        )
    return f"{CARD_MASK} {last_digits}"


def _check_text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_text(attribute.name, value)


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_id(attribute.name, value)


def _check_no_card_number(
    _instance: object,
    attribute: attrs.Attribute[str],
    value: object,
) -> None:
    _check_text(_instance, attribute, value)
    if isinstance(value, str) and _PAN_LIKE.search(value):
        raise ValidationError(
            attribute.name,
            "<withheld: looks like a card number>",
            "must not contain a card number; the provider keeps card data, the library "
            "holds only its token and a masked label",
        )


def _check_name(value: object) -> str:
    name = check_text("name", value).strip()
    if len(name) > MAX_METHOD_NAME_LENGTH:
        raise ValidationError(
            "name",
            value,
            f"must be at most {MAX_METHOD_NAME_LENGTH} characters, got {len(name)}",
        )
    if _PAN_LIKE.search(name):
        raise ValidationError(
            "name",
            "<withheld: looks like a card number>",
            "must not contain a card number",
        )
    return name


@shared_copies
@attrs.frozen
class MethodFailure:
    """The last failed charge of a saved method.

    Args:
        at: when the charge failed (aware).
        reason: what the provider said.
    """

    at: datetime = attrs.field(validator=aware)
    reason: str = attrs.field(validator=_check_text)


@attrs.define(on_setattr=attrs.setters.frozen)
class SavedPaymentMethod:
    """A card or wallet saved with the payment provider, usable without the customer present.

    Fields cannot be assigned: :meth:`rename`, :meth:`set_use`, :meth:`mark_working` and
    :meth:`mark_failed` change them and check the rules.

    Args:
        id: the method's id.
        account_id: the owning account.
        kind: card or wallet.
        token: the provider's opaque reference; never card data.
        name: the name shown to the customer (renameable).
        label: the masked label, e.g. ``'•••• 4242'`` (see :func:`mask_card`).
        provider: the payment system that holds it (e.g. ``'YooKassa'``), if known.
        status: the status (default :attr:`SavedMethodStatus.CONFIGURING`).
        for_purchases: whether it may pay for purchases.
        for_subscriptions: whether it may pay for subscriptions (auto-renewal).
        last_failure: the last failed charge, while the method is not working.
        changed_at: when the status last changed.

    Raises:
        ValidationError: for empty ids, a name that is empty, too long or holds a card
            number, or a label or token that looks like a card number.
    """

    id: str = attrs.field(validator=_check_id)
    account_id: str = attrs.field(validator=_check_id)
    kind: MethodKind = attrs.field(converter=_to_kind)
    token: str = attrs.field(validator=_check_no_card_number, repr=False)
    name: str = attrs.field(converter=_check_name)
    label: str = attrs.field(validator=_check_no_card_number)
    provider: str = ""
    status: SavedMethodStatus = attrs.field(
        default=SavedMethodStatus.CONFIGURING,
        converter=_to_status,
    )
    for_purchases: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    for_subscriptions: bool = attrs.field(
        default=True,
        validator=attrs.validators.instance_of(bool),
    )
    last_failure: MethodFailure | None = None
    changed_at: datetime | None = None

    def _set(self, **changes: object) -> None:
        for field, value in changes.items():
            object.__setattr__(self, field, value)

    def _move(self, target: SavedMethodStatus, at: datetime) -> None:
        aware(None, attrs.fields(MethodFailure).at, at)
        allowed = SAVED_METHOD_TRANSITIONS[self.status]
        if target not in allowed:
            raise InvalidTransitionError(self.status, target, sorted(allowed))
        if self.changed_at is not None and at < self.changed_at:
            raise ValidationError(
                "at", at, f"must not be before the last change at {self.changed_at}"
            )

    @property
    def working(self) -> bool:
        """Whether the method can be charged now (its status is enabled)."""
        return self.status is SavedMethodStatus.ENABLED

    def usable_for(self, use: MethodUse) -> bool:
        """Whether the method may be charged now for ``use``.

        >>> from datetime import datetime, timezone
        >>> m = SavedPaymentMethod("pm-1", "acc-1", "wallet", "tok", "Wallet", "W-77",
        ...                        status="enabled", for_purchases=False)
        >>> m.usable_for(MethodUse.PURCHASES), m.usable_for(MethodUse.SUBSCRIPTIONS)
        (False, True)
        """
        allowed = self.for_purchases if use is MethodUse.PURCHASES else self.for_subscriptions
        return self.working and allowed

    def rename(self, name: str) -> None:
        """Give the method a new display name (surrounding blanks are dropped).

        Raises:
            ValidationError: for an empty name, one longer than
                :data:`MAX_METHOD_NAME_LENGTH`, or one holding a card number; the name
                is then unchanged.

        >>> m = SavedPaymentMethod("pm-1", "acc-1", "card", "tok", "Bank card *1111", "•••• 1111")
        >>> m.rename("  Salary card ")
        >>> m.name
        'Salary card'
        """
        self._set(name=_check_name(name))

    def set_use(self, *, purchases: bool | None = None, subscriptions: bool | None = None) -> None:
        """Allow or forbid the method for purchases and/or subscriptions.

        Raises:
            ValidationError: for a value that is not a bool; nothing changes then.
        """
        for field, value in (("for_purchases", purchases), ("for_subscriptions", subscriptions)):
            if value is not None and not isinstance(value, bool):
                raise ValidationError(field, value, "must be True or False")
        self._set(
            for_purchases=self.for_purchases if purchases is None else purchases,
            for_subscriptions=self.for_subscriptions if subscriptions is None else subscriptions,
        )

    def mark_working(self, at: datetime) -> None:
        """Record a successful charge or finished setup: the method is enabled again.

        Raises:
            InvalidTransitionError: when the method is already enabled.
            ValidationError: for a naive ``at`` or one before the last change.
        """
        self._move(SavedMethodStatus.ENABLED, at)
        self._set(status=SavedMethodStatus.ENABLED, last_failure=None, changed_at=at)

    def mark_failed(self, at: datetime, reason: str) -> None:
        """Record a failed charge: the method becomes *not working*.

        Raises:
            InvalidTransitionError: when it is already not working (it is not charged then).
            ValidationError: for a naive ``at``, one before the last change, or an empty
                reason.
        """
        self._move(SavedMethodStatus.NOT_WORKING, at)
        failure = MethodFailure(at, reason)
        self._set(status=SavedMethodStatus.NOT_WORKING, last_failure=failure, changed_at=at)

    def check_failed(self, at: datetime, reason: str) -> None:
        """Record a failed check (a probe charge) of a method that is not working.

        The method stays *not working*; its last failure becomes this one. The caller
        counts the check as a failed attempt of its retry schedule too
        (:meth:`~cabinet_billing.domain.subscription.Subscription.check_failed`), so
        that checks end when the schedule does.

        Raises:
            ConflictError: when the method is not *not working* (a working method is
                charged, not checked).
            ValidationError: for a naive ``at``, one before the last change, or an empty
                reason.

        >>> from datetime import datetime, timezone
        >>> card = SavedPaymentMethod("pm-1", "acc-1", "card", "tok", "Card", mask_card("1111"),
        ...                           status="not_working")
        >>> card.check_failed(datetime(2024, 3, 21, 3, tzinfo=timezone.utc), "declined")
        >>> card.status.value, card.last_failure.reason
        ('not_working', 'declined')
        """
        if self.status is not SavedMethodStatus.NOT_WORKING:
            raise ConflictError(
                f"saved method {self.id!r}",
                f"is {self.status.value}; only a method that is not working is checked",
            )
        aware(None, attrs.fields(MethodFailure).at, at)
        if self.changed_at is not None and at < self.changed_at:
            raise ValidationError(
                "at", at, f"must not be before the last change at {self.changed_at}"
            )
        self._set(last_failure=MethodFailure(at, reason))


class BindingAction(enum.StrEnum):
    """How a new card is bound.

    Attributes:
        PAY_INVOICE: pay the oldest unpaid invoice with the card.
        VERIFY_AND_REFUND: charge a verification amount and refund it.
    """

    PAY_INVOICE = "pay_invoice"
    VERIFY_AND_REFUND = "verify_and_refund"


@attrs.frozen
class BindingPlan:
    """What to charge to bind a card, from :func:`binding_plan`.

    Attributes:
        action: pay an invoice, or verify and refund.
        amount: the amount to charge on the card.
        invoice_id: the invoice to pay, for :attr:`BindingAction.PAY_INVOICE`.
        refund: the amount to refund once the charge succeeds (the verification amount),
            or ``None`` when an invoice is paid.
    """

    action: BindingAction
    amount: Money
    invoice_id: str | None = None
    refund: Money | None = None


def binding_plan(
    open_invoices: Iterable[Invoice],
    verification_amount: Money = Money("1.00", "UAH"),  # noqa: B008 - an immutable value
    *,
    always_verify: bool = False,
) -> BindingPlan:
    """Decide how to bind (or change) a card: pay an unpaid invoice, or verify and refund.

    With an unpaid invoice, the oldest one (by issue date, then id) is paid in full with
    the card; otherwise ``verification_amount`` is charged and refunded. Changing the
    card follows the same plan; a provider that always verifies a replacement card
    passes ``always_verify=True``.

    Args:
        open_invoices: the account's invoices; paid, cancelled and deleted ones are ignored.
        verification_amount: the amount charged and refunded to check a card (default
            1.00 UAH).
        always_verify: charge the verification amount even when an invoice is unpaid.

    Raises:
        InvalidAmountError: when the verification amount is not positive.
        PrecisionError: when it has more decimals than the currency's minor unit.

    >>> from datetime import date
    >>> from cabinet_billing import Invoice
    >>> from cabinet_billing.domain.invoice import InvoiceLine
    >>> inv = Invoice.issue("i-7", "HOR-11111-007", "acc-1",
    ...     [InvoiceLine("Tariff", Money("899.00", "UAH"))], issued_on=date(2024, 3, 1))
    >>> plan = binding_plan([inv])
    >>> plan.action.value, plan.invoice_id, str(plan.amount), plan.refund
    ('pay_invoice', 'i-7', '899.00 UAH', None)
    """
    verification_amount.require_positive().require_places()
    unpaid = [i for i in open_invoices if i.is_open() and i.amount_due.amount > 0]
    if unpaid and not always_verify:
        oldest = min(unpaid, key=lambda i: (i.issued_on, i.id))
        return BindingPlan(BindingAction.PAY_INVOICE, oldest.amount_due, oldest.id)
    return BindingPlan(
        BindingAction.VERIFY_AND_REFUND,
        verification_amount,
        refund=verification_amount,
    )
