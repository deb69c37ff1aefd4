"""Auto-renewal: when to charge, from where, and when to retry (SPEC R4).

A :class:`RenewalPolicy` holds the numbers: the attempt is made **1 day** before the paid
period ends, **60 days** for domains and SSL certificates (Astra Cloud), and after a failed
charge the attempt is repeated **the next day** if the saved method works again. Every
number is a setting.

:func:`decide_renewal` looks at one :class:`~cabinet_billing.domain.subscription.Subscription`
on one day and says what to do: charge the balance, charge the saved method, or skip, with
the reason. It never charges twice for one period: each decision carries a
:func:`renewal_key` (service and period start) that the caller records with the charge and
passes back in ``done``.

>>> from datetime import date
>>> from cabinet_billing import Money, ProductKind
>>> policy = RenewalPolicy()
>>> renewal_date(date(2024, 3, 21), ProductKind.VPS, policy).isoformat()
'2024-03-20'
>>> renewal_date(date(2024, 6, 1), ProductKind.DOMAIN, policy).isoformat()
'2024-04-02'

The customer reads the schedule in their language:

>>> from cabinet_billing.domain.subscription import Subscription
>>> sub = Subscription("8558", "acc-1", Money("250.00", "RUB"), "month", date(2024, 3, 21),
...                    source="saved_method", method_id="card-1111")
>>> describe_subscription(sub, "en")
'250.00 RUB will be charged on 21 March 2024 and every 21st'
>>> describe_subscription(sub, "ru")
'250,00 RUB спишется 21 марта 2024 и будет списываться каждое 21 число'
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final

import attrs
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.periods import PeriodUnit
from cabinet_billing.domain.saved_method import SavedPaymentMethod
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.errors import ValidationError
from cabinet_billing.l10n import N_, translate

__all__ = [
    "DEFAULT_LEAD_DAYS_BY_KIND",
    "MAX_RETRIES",
    "RenewalAction",
    "RenewalDecision",
    "RenewalPolicy",
    "SkipReason",
    "decide_renewal",
    "describe_subscription",
    "renewal_date",
    "renewal_failure_notice",
    "renewal_key",
    "renewals_due",
]

#: Product kinds renewed earlier than the default (Astra Cloud: domains and SSL, 60 days).
DEFAULT_LEAD_DAYS_BY_KIND: Final[Mapping[ProductKind, int]] = MappingProxyType(
    {ProductKind.DOMAIN: 60, ProductKind.SSL: 60},
)


def _check_days(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(attribute.name, value, "must be a whole number of days >= 0")


def _to_lead_map(value: object) -> Mapping[ProductKind, int]:
    if not isinstance(value, Mapping):
        raise ValidationError("lead_days_by_kind", value, "must map ProductKind to days")
    result: dict[ProductKind, int] = {}
    for kind, days in value.items():
        if not isinstance(kind, ProductKind):
            raise ValidationError(
                "lead_days_by_kind",
                kind,
                f"keys must be ProductKind: {', '.join(k.value for k in ProductKind)}",
            )
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValidationError(
                "lead_days_by_kind",
                days,
                f"the lead time for {kind.value} must be a whole number of days >= 0",
            )
        result[kind] = days
    return MappingProxyType(result)


#: The longest retry schedule a policy may have (attempts after the first failure).
MAX_RETRIES: Final = 1000


def _to_retry_days(value: Iterable[object]) -> tuple[int, ...]:
    given = tuple(value)
    for day in given:
        if not isinstance(day, int) or isinstance(day, bool) or day < 1:
            raise ValidationError(
                "retry_days",
                given,
                "must be whole numbers of days, each at least 1, counted from the previous "
                "failed attempt (equal intervals such as (8, 8, 8) are allowed)",
            )
    if len(given) > MAX_RETRIES:
        raise ValidationError(
            "retry_days", f"<{len(given)} retries>", f"at most {MAX_RETRIES} retries are allowed"
        )
    return tuple(day for day in given if isinstance(day, int))


@attrs.frozen
class RenewalPolicy:
    """When automatic renewals are attempted and retried.

    Args:
        lead_days: days before the end of the paid period the charge is attempted
            (default 1).
        lead_days_by_kind: per product kind overrides (default: domains and SSL 60).
        retry_days: the retry schedule, and its limit: after the first, second ...
            failed attempt, the number of days **after that failed attempt** (not after
            the first failure) before the next attempt (default ``(1,)``: the next day,
            once). ``(8, 8, 8)`` retries every 8 days three times, as Kill Bill's
            ``retry.days`` and Lago's ``days_between_attempts`` do. An attempt is a charge
            of the saved method or, while the method is not working, a check of it; a
            failed check counts like a failed charge. When the schedule is used up, no
            charge, probe or check is made for the period any more: the decision gives up
            (``next_attempt_on`` is ``None``) and the subscription waits for the customer.
        restart_after_expiry: when an expired service is renewed later, start its new
            period on the day it comes back (``True``) instead of at the end of the last
            paid period (``False``, the default: the days it was off are paid too, as on
            billing panels that extend from the expiry date).

    Raises:
        ValidationError: for negative lead times, or a retry schedule with a day below 1
            or more than :data:`MAX_RETRIES` retries.

    >>> RenewalPolicy(retry_days=(1, 3, 7)).retry_days
    (1, 3, 7)
    >>> RenewalPolicy(retry_days=(8, 8, 8)).retry_days
    (8, 8, 8)
    >>> RenewalPolicy(retry_days=(3, 0))
    Traceback (most recent call last):
    ...
    cabinet_billing.errors.ValidationError: retry_days=(3, 0) is invalid: must be whole numbers of days, each at least 1, counted from the previous failed attempt (equal intervals such as (8, 8, 8) are allowed)
    """

    lead_days: int = attrs.field(default=1, validator=_check_days)
    lead_days_by_kind: Mapping[ProductKind, int] = attrs.field(
        default=DEFAULT_LEAD_DAYS_BY_KIND,
        converter=_to_lead_map,
        hash=False,
    )
    retry_days: tuple[int, ...] = attrs.field(default=(1,), converter=_to_retry_days)
    restart_after_expiry: bool = False

    def lead_for(self, kind: ProductKind) -> int:
        """The lead time in days for a product kind.

        >>> RenewalPolicy().lead_for(ProductKind.SSL), RenewalPolicy().lead_for(ProductKind.VPS)
        (60, 1)
        """
        return self.lead_days_by_kind.get(kind, self.lead_days)


def renewal_date(
    service_paid_until: date,
    kind: ProductKind,
    policy: RenewalPolicy = RenewalPolicy(),
) -> date:
    """The day the renewal of a service paid until ``service_paid_until`` is attempted.

    >>> from datetime import date
    >>> renewal_date(date(2024, 3, 21), ProductKind.SSL).isoformat()
    '2024-01-21'
    """
    return service_paid_until - timedelta(days=policy.lead_for(kind))


def renewal_key(service_id: str, period_start: date) -> str:
    """The idempotency key of renewing ``service_id`` for the period starting ``period_start``.

    A caller records it with the charge (as the gateway's idempotency key and in its
    store) and passes the recorded keys to :func:`decide_renewal`, so one period is never
    charged twice, even when two billing runs race.

    >>> from datetime import date
    >>> renewal_key("8558", date(2024, 3, 21))
    'renewal:8558:2024-03-21'
    """
    return f"renewal:{service_id}:{period_start.isoformat()}"


def renewals_due(
    subscriptions: Iterable[Subscription],
    today: date,
    policy: RenewalPolicy = RenewalPolicy(),
) -> tuple[Subscription, ...]:
    """The switched-on subscriptions whose renewal day has come, earliest first.

    >>> from datetime import date
    >>> from cabinet_billing import Money
    >>> subs = [Subscription("a", "acc", Money("1.00", "EUR"), "month", date(2024, 3, 21)),
    ...         Subscription("b", "acc", Money("1.00", "EUR"), "month", date(2024, 3, 25))]
    >>> [s.service_id for s in renewals_due(subs, date(2024, 3, 20))]
    ['a']
    """
    due = [
        s
        for s in subscriptions
        if s.enabled and renewal_date(s.paid_until, s.kind, policy) <= today
    ]
    return tuple(
        sorted(due, key=lambda s: (renewal_date(s.paid_until, s.kind, policy), s.service_id))
    )


class RenewalAction(enum.StrEnum):
    """What to do with a subscription today."""

    CHARGE_BALANCE = "charge_balance"
    CHARGE_METHOD = "charge_method"
    SKIP = "skip"


class SkipReason(enum.StrEnum):
    """Why a renewal is not charged today.

    Attributes:
        AUTO_RENEW_OFF: auto-renewal is switched off.
        NOT_DUE: the renewal day has not come.
        ALREADY_RENEWED: this period has already been charged (its key is recorded).
        BALANCE_INSUFFICIENT: the balance does not cover the price.
        CREDIT_BLOCKED: the credit line is blocked, which stops renewals from balance.
        METHOD_NOT_WORKING: the saved method is not working (or missing, or not allowed
            for subscriptions).
        WAITING_FOR_RETRY: a charge failed and its retry day has not come.
        RETRIES_EXHAUSTED: every retry of the policy failed; the customer must act.
    """

    AUTO_RENEW_OFF = "auto_renew_off"
    NOT_DUE = "not_due"
    ALREADY_RENEWED = "already_renewed"
    BALANCE_INSUFFICIENT = "balance_insufficient"
    CREDIT_BLOCKED = "credit_blocked"
    METHOD_NOT_WORKING = "method_not_working"
    WAITING_FOR_RETRY = "waiting_for_retry"
    RETRIES_EXHAUSTED = "retries_exhausted"


@attrs.frozen
class RenewalDecision:
    """What :func:`decide_renewal` says for one subscription on one day.

    Attributes:
        action: charge the balance, charge the saved method, or skip.
        service_id: the service renewed.
        period_start: the first day of the period the charge pays for (the current
            paid-until date).
        period_end: the paid-until date once the charge succeeds.
        due_on: the day the renewal is attempted (``period_start`` minus the lead time).
        key: the renewal key to record with the charge (see :func:`renewal_key`).
        amount: the amount to charge, or ``None`` when skipping.
        method_id: the saved method to charge, for :attr:`RenewalAction.CHARGE_METHOD`.
        reason: why it is skipped, for :attr:`RenewalAction.SKIP`.
        retry_on: the first day a failed charge may be retried, while waiting for it.
        probe: whether a check of the not-working saved method is due today: the only
            call the caller may make to the provider for this period today. A check that
            fails is a failed attempt (:meth:`Subscription.check_failed`).
        next_attempt_on: the first day a charge, a probe or a check may be made for this
            period (today when one is due); ``None`` when none will be made: the schedule
            is used up, auto-renewal is off, or the period is paid.
    """

    action: RenewalAction
    service_id: str
    period_start: date
    period_end: date
    due_on: date
    key: str
    amount: Money | None = None
    method_id: str | None = None
    reason: SkipReason | None = None
    retry_on: date | None = None
    probe: bool = False
    next_attempt_on: date | None = None

    @property
    def charges(self) -> bool:
        """Whether the decision is to charge."""
        return self.action is not RenewalAction.SKIP

    @property
    def gives_up(self) -> bool:
        """Whether every attempt of the retry schedule failed: nothing more is tried."""
        return self.reason is SkipReason.RETRIES_EXHAUSTED


def _retry_on(sub: Subscription, policy: RenewalPolicy) -> date | None:
    """The first day the next retry may happen; ``None`` once the schedule is used up."""
    if sub.last_failure_on is None:
        return None
    if sub.failed_attempts > len(policy.retry_days):
        return None
    return sub.last_failure_on + timedelta(days=policy.retry_days[sub.failed_attempts - 1])


def decide_renewal(
    sub: Subscription,
    today: date,
    policy: RenewalPolicy = RenewalPolicy(),
    *,
    available: Money | None = None,
    method: SavedPaymentMethod | None = None,
    balance_renewal_blocked: bool = False,
    done: Container[str] = frozenset(),
) -> RenewalDecision:
    """Decide the renewal of one subscription on ``today``.

    Checked in order: auto-renewal on; the renewal day reached; the period not renewed
    yet (its key not in ``done``); after a failed attempt, the retry day reached and the
    retry schedule not used up. Then a balance renewal is charged when renewals from
    balance are not blocked (a blocked credit line stops them, SPEC R1) and ``available``
    covers the price; a saved-method renewal is charged when the method works and may
    pay for subscriptions (a blocked credit line does not stop these).

    The retry schedule is the limit of what the caller does for the period: it charges
    only when the decision :attr:`~RenewalDecision.charges`, checks a not-working method
    only when :attr:`~RenewalDecision.probe` is set (and records a failed check with
    :meth:`Subscription.check_failed`), and does nothing at all before
    :attr:`~RenewalDecision.next_attempt_on`, or ever again when it is ``None``
    (:attr:`~RenewalDecision.gives_up`).

    Args:
        sub: the subscription.
        today: the current billing day.
        policy: lead times and the retry schedule.
        available: what the balance can pay now (the balance plus any available credit);
            required for balance renewals.
        method: the saved method of a saved-method renewal (``None`` when it is gone).
        balance_renewal_blocked: whether renewals from balance are blocked now (e.g. a
            blocked credit line).
        done: the renewal keys already charged.

    Raises:
        ValidationError: for a balance renewal without ``available``, or a method
            that is not the subscription's.
        CurrencyMismatchError: when ``available`` is not in the price's currency.

    >>> from datetime import date
    >>> sub = Subscription("3925", "acc-1", Money("100.00", "RUB"), "month", date(2023, 5, 27))
    >>> d = decide_renewal(sub, date(2023, 5, 26), available=Money("150.00", "RUB"))
    >>> d.action.value, str(d.amount), d.period_end.isoformat(), d.key
    ('charge_balance', '100.00 RUB', '2023-06-27', 'renewal:3925:2023-05-27')
    >>> decide_renewal(sub, date(2023, 5, 26), available=Money("99.99", "RUB")).reason
    <SkipReason.BALANCE_INSUFFICIENT: 'balance_insufficient'>
    """
    due_on = renewal_date(sub.paid_until, sub.kind, policy)
    key = renewal_key(sub.service_id, sub.paid_until)
    base = RenewalDecision(
        RenewalAction.SKIP,
        sub.service_id,
        sub.paid_until,
        sub.next_paid_until,
        due_on,
        key,
    )
    if sub.source is RenewalSource.BALANCE and available is None:
        raise ValidationError("available", None, "a balance renewal needs the available amount")
    if available is not None:
        available.require_currency(sub.price.code)
    if method is not None and method.id != sub.method_id:
        raise ValidationError(
            "method",
            method.id,
            f"the subscription renews from method {sub.method_id!r}",
        )

    blocked = _schedule_block(
        sub, today, due_on=due_on, key=key, policy=policy, done=done
    ) or _source_block(
        sub,
        policy,
        available,
        method,
        balance_renewal_blocked=balance_renewal_blocked,
    )
    if blocked is not None:
        reason, retry_on = blocked
        probe = (
            reason is SkipReason.METHOD_NOT_WORKING
            and method is not None
            and method.for_subscriptions
            and not method.working
        )
        return attrs.evolve(
            base,
            reason=reason,
            retry_on=retry_on,
            probe=probe,
            next_attempt_on=_next_attempt(reason, today, due_on, retry_on, probe=probe),
        )
    if sub.source is RenewalSource.BALANCE:
        return attrs.evolve(
            base, action=RenewalAction.CHARGE_BALANCE, amount=sub.price, next_attempt_on=today
        )
    return attrs.evolve(
        base,
        action=RenewalAction.CHARGE_METHOD,
        amount=sub.price,
        method_id=sub.method_id,
        next_attempt_on=today,
    )


def _next_attempt(
    reason: SkipReason, today: date, due_on: date, retry_on: date | None, *, probe: bool
) -> date | None:
    if reason is SkipReason.NOT_DUE:
        return due_on
    if reason is SkipReason.WAITING_FOR_RETRY:
        return retry_on
    if reason in {SkipReason.BALANCE_INSUFFICIENT, SkipReason.CREDIT_BLOCKED}:
        # Looking at the balance costs nothing and calls nobody: tomorrow again.
        return today + timedelta(days=1)
    if reason is SkipReason.METHOD_NOT_WORKING and probe:
        return today
    # Retries used up, auto-renewal off, the period paid, or no method to try: nothing
    # more is attempted until the customer or the service changes something.
    return None


_Block = tuple[SkipReason, date | None]


def _schedule_block(
    sub: Subscription,
    today: date,
    *,
    due_on: date,
    key: str,
    policy: RenewalPolicy,
    done: Container[str],
) -> _Block | None:
    if not sub.enabled:
        return SkipReason.AUTO_RENEW_OFF, None
    if today < due_on:
        return SkipReason.NOT_DUE, None
    if key in done:
        return SkipReason.ALREADY_RENEWED, None
    if sub.failed_attempts:
        retry_on = _retry_on(sub, policy)
        if retry_on is None:
            return SkipReason.RETRIES_EXHAUSTED, None
        if today < retry_on:
            return SkipReason.WAITING_FOR_RETRY, retry_on
    return None


def _source_block(
    sub: Subscription,
    policy: RenewalPolicy,
    available: Money | None,
    method: SavedPaymentMethod | None,
    *,
    balance_renewal_blocked: bool,
) -> _Block | None:
    if sub.source is RenewalSource.BALANCE:
        if balance_renewal_blocked:
            return SkipReason.CREDIT_BLOCKED, None
        if available is None or available < sub.price:
            return SkipReason.BALANCE_INSUFFICIENT, None
        return None
    if method is None or not method.for_subscriptions or not method.working:
        return SkipReason.METHOD_NOT_WORKING, _retry_on(sub, policy)
    return None


def renewal_failure_notice(
    sub: Subscription,
    at: datetime,
    reason: str,
    policy: RenewalPolicy = RenewalPolicy(),
) -> Notification:
    """The notice sent to the customer when a renewal charge fails.

    Args:
        sub: the subscription, after :meth:`Subscription.charge_failed` was recorded.
        at: when the charge failed (an aware ``datetime``).
        reason: what the payment provider said.
        policy: gives the retry day named in the notice.

    >>> from datetime import date, datetime, timezone
    >>> sub = Subscription("8558", "acc-1", Money("250.00", "RUB"), "month", date(2024, 3, 21),
    ...                    source="saved_method", method_id="card-1111")
    >>> sub.charge_failed(date(2024, 3, 20))
    >>> n = renewal_failure_notice(sub, datetime(2024, 3, 20, 3, tzinfo=timezone.utc), "declined")
    >>> n.kind, n.params["retry_on"], n.params["method_id"]
    ('renewal.failed', '2024-03-21', 'card-1111')
    """
    retry_on = _retry_on(sub, policy)
    return Notification(
        sub.account_id,
        NotificationCategory.FINANCE,
        "renewal.failed",
        at,
        {
            "service_id": sub.service_id,
            "amount": str(sub.price),
            "period_start": sub.paid_until.isoformat(),
            "method_id": sub.method_id or "",
            "reason": reason,
            "retry_on": retry_on.isoformat() if retry_on else "",
        },
        dedup=renewal_key(sub.service_id, sub.paid_until),
    )


# ----------------------------------------------------------------------------- wording


_EN_ORDINAL_TEEN: Final = range(11, 14)
_EN_SUFFIX: Final = {1: "st", 2: "nd", 3: "rd"}

#: The latest day of month every month has; later anchor days fall on shorter months' ends.
_SHORTEST_MONTH: Final = 28

#: The CLDR date pattern of each language's sentence (a notation, not words: the words
#: come from the gettext catalogs, ``subscription.*``).
_DATE_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {"en": "d MMMM y", "ru": "d MMMM y", "uk": "d MMMM y", "de": "d. MMMM y"}
)

#: The sentences of a charge schedule, by rhythm.
_MONTHLY: Final = N_("subscription.monthly")
_MONTHS: Final = N_("subscription.months")
_DAILY: Final = N_("subscription.daily")
_DAYS: Final = N_("subscription.days")
_SHORT_MONTHS: Final = N_("subscription.short_months")


def _english_ordinal(day: int) -> str:
    suffix = "th" if day in _EN_ORDINAL_TEEN else _EN_SUFFIX.get(day % 10, "th")
    return f"{day}{suffix}"


def _language(locale: str) -> tuple[Locale, str]:
    supported = ", ".join(_DATE_PATTERNS)
    try:
        loc = Locale.parse(str(locale).strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError("locale", locale, f"expected one of {supported}") from None
    if loc.language not in _DATE_PATTERNS:
        raise ValidationError("locale", locale, f"expected one of {supported}")
    return loc, str(loc.language)


def describe_subscription(sub: Subscription, locale: str) -> str:
    r"""The subscription's charge schedule as a sentence for the customer.

    Names the amount with its currency code, the next day charged for and the rhythm
    that follows: the day of month of the renewal cycle's anchor for monthly periods
    (with a note for anchors after the 28th, which fall on the last day of shorter
    months), or the number of days. The sentences come from the gettext catalogs
    (``subscription.*``). Supported languages: en, ru, uk, de (any region).

    Raises:
        ValidationError: for a locale in another language, or one babel cannot read.

    >>> from datetime import date
    >>> sub = Subscription("1", "a", Money("1250.00", "EUR"), "month", date(2024, 1, 31))
    >>> describe_subscription(sub, "en")
    '1,250.00 EUR will be charged on 31 January 2024 and every 31st (on the last day of shorter months)'
    >>> describe_subscription(sub, "de").replace("\xa0", " ")
    '1.250,00 EUR werden am 31. Januar 2024 und danach jeden Monat am 31. abgebucht (in kürzeren Monaten am letzten Tag)'
    """
    loc, language = _language(locale)
    amount = format_currency(
        Decimal(sub.price.amount),
        sub.price.code,
        format="#,##0.00 ¤¤",
        locale=loc,
        currency_digits=True,
    )
    when = format_date(sub.paid_until, _DATE_PATTERNS[language], locale=loc)
    period = sub.period
    if period.unit is PeriodUnit.DAY:
        template = translate(_DAILY if period.count == 1 else _DAYS, language)
        return template.format(amount=amount, date=when, n=period.count)
    day = (sub.anchor or sub.paid_until).day
    template = translate(_MONTHLY if period.count == 1 else _MONTHS, language)
    # English names the day by its ordinal ("every 21st"), the others by its number.
    text = template.format(
        amount=amount,
        date=when,
        n=period.count,
        day=_english_ordinal(day) if language == "en" else day,
    )
    return text + (" " + translate(_SHORT_MONTHS, language) if day > _SHORTEST_MONTH else "")
