from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cabinet_billing import CurrencyMismatchError, Money, Period, ProductKind, ValidationError
from cabinet_billing.domain.notifications import NotificationCategory
from cabinet_billing.domain.saved_method import (
    MethodKind,
    SavedMethodStatus,
    SavedPaymentMethod,
)
from cabinet_billing.domain.subscription import RenewalSource, Subscription
from cabinet_billing.rules.renewal import (
    RenewalAction,
    RenewalDecision,
    RenewalPolicy,
    SkipReason,
    decide_renewal,
    describe_subscription,
    renewal_date,
    renewal_failure_notice,
    renewal_key,
    renewals_due,
)

PRICE = Money("250.00", "RUB")
AT = datetime(2024, 3, 20, 3, 0, tzinfo=UTC)


def on_card(paid_until: date = date(2024, 3, 21)) -> Subscription:
    return Subscription(
        "8558",
        "acc-1",
        PRICE,
        Period.months(),
        paid_until,
        source=RenewalSource.SAVED_METHOD,
        method_id="card-1111",
    )


def from_balance(paid_until: date = date(2023, 5, 27)) -> Subscription:
    return Subscription("3925", "acc-1", Money("100.00", "RUB"), "month", paid_until, "vps")


def card(status: SavedMethodStatus = SavedMethodStatus.ENABLED) -> SavedPaymentMethod:
    return SavedPaymentMethod(
        "card-1111",
        "acc-1",
        MethodKind.CARD,
        "tok_1111",
        "Bank card *1111",
        "•••• 1111",
        status=status,
    )


# ----------------------------------------------------------------------------- lead times


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ProductKind.VPS, date(2024, 3, 20)),
        (ProductKind.HOSTING, date(2024, 3, 20)),
        (ProductKind.DOMAIN, date(2024, 1, 21)),
        (ProductKind.SSL, date(2024, 1, 21)),
    ],
)
def test_renewal_is_attempted_1_day_ahead_and_60_days_for_domains_and_ssl(
    kind: ProductKind,
    expected: date,
) -> None:
    assert renewal_date(date(2024, 3, 21), kind, RenewalPolicy()) == expected


@pytest.mark.spec("R4")
def test_lead_times_are_settings() -> None:
    policy = RenewalPolicy(lead_days=3, lead_days_by_kind={ProductKind.DOMAIN: 30})
    assert renewal_date(date(2024, 3, 21), ProductKind.VPS, policy) == date(2024, 3, 18)
    assert renewal_date(date(2024, 3, 21), ProductKind.DOMAIN, policy) == date(2024, 2, 20)
    assert renewal_date(date(2024, 3, 21), ProductKind.SSL, policy) == date(2024, 3, 18)
    assert RenewalPolicy(lead_days_by_kind={}) != RenewalPolicy()
    assert RenewalPolicy(lead_days_by_kind={}).lead_for(ProductKind.DOMAIN) == 1


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lead_days": -1}, "lead_days=-1 is invalid: must be a whole number of days >= 0"),
        ({"lead_days_by_kind": {"domain": 60}}, "keys must be ProductKind"),
        ({"lead_days_by_kind": {ProductKind.SSL: -2}}, "the lead time for ssl must be"),
        ({"retry_days": (0,)}, "retry_days=(0,) is invalid: must be whole numbers of days"),
        ({"retry_days": (8, -8)}, "each at least 1, counted from the previous failed attempt"),
        ({"retry_days": (1,) * 1001}, "retry_days='<1001 retries>' is invalid: at most 1000"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RenewalPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.spec("R4")
def test_renewals_due_lists_switched_on_subscriptions_whose_day_has_come() -> None:
    domain = Subscription(
        "d-1", "acc-1", Money("900.00", "RUB"), "year", date(2024, 5, 1), "domain"
    )
    vps = from_balance(date(2024, 3, 21))
    later = from_balance(date(2024, 3, 25))
    off = Subscription("off", "acc-1", Money("1.00", "RUB"), "month", date(2024, 3, 1))
    off.switch_off()
    due = renewals_due([later, vps, off, domain], date(2024, 3, 20))
    assert [s.service_id for s in due] == ["d-1", "3925"]


# ----------------------------------------------------------------------------- balance


@pytest.mark.spec("R4")
def test_a_balance_renewal_is_charged_when_the_balance_is_enough() -> None:
    sub = from_balance()
    decision = decide_renewal(sub, date(2023, 5, 26), available=Money("100.00", "RUB"))
    assert decision == RenewalDecision(
        RenewalAction.CHARGE_BALANCE,
        "3925",
        date(2023, 5, 27),
        date(2023, 6, 27),
        date(2023, 5, 26),
        "renewal:3925:2023-05-27",
        amount=Money("100.00", "RUB"),
        next_attempt_on=date(2023, 5, 26),
    )
    assert decision.charges


@pytest.mark.spec("R4")
def test_a_balance_renewal_waits_while_the_balance_is_short() -> None:
    decision = decide_renewal(from_balance(), date(2023, 5, 26), available=Money("99.99", "RUB"))
    assert (decision.action, decision.reason, decision.amount) == (
        RenewalAction.SKIP,
        SkipReason.BALANCE_INSUFFICIENT,
        None,
    )
    assert not decision.charges


@pytest.mark.spec("R4")
def test_nothing_is_charged_before_the_renewal_day() -> None:
    decision = decide_renewal(from_balance(), date(2023, 5, 25), available=Money("500", "RUB"))
    assert (decision.reason, decision.due_on) == (SkipReason.NOT_DUE, date(2023, 5, 26))


@pytest.mark.spec("R4")
def test_nothing_is_charged_with_auto_renewal_off() -> None:
    sub = from_balance()
    sub.switch_off()
    decision = decide_renewal(sub, date(2023, 5, 26), available=Money("500", "RUB"))
    assert decision.reason is SkipReason.AUTO_RENEW_OFF


@pytest.mark.spec("R4")
def test_a_blocked_credit_line_stops_balance_renewals_but_not_saved_method_ones() -> None:
    blocked = decide_renewal(
        from_balance(),
        date(2023, 5, 26),
        available=Money("500", "RUB"),
        balance_renewal_blocked=True,
    )
    assert blocked.reason is SkipReason.CREDIT_BLOCKED
    by_card = decide_renewal(
        on_card(),
        date(2024, 3, 20),
        method=card(),
        balance_renewal_blocked=True,
    )
    assert by_card.action is RenewalAction.CHARGE_METHOD


@pytest.mark.spec("R4")
def test_a_balance_renewal_needs_the_available_amount_in_its_currency() -> None:
    with pytest.raises(ValidationError, match="a balance renewal needs the available amount"):
        decide_renewal(from_balance(), date(2023, 5, 26))
    with pytest.raises(CurrencyMismatchError, match="is in EUR, expected RUB"):
        decide_renewal(from_balance(), date(2023, 5, 26), available=Money("500", "EUR"))


# ----------------------------------------------------------------------------- one period once


@pytest.mark.spec("R4")
def test_one_period_is_never_charged_twice() -> None:
    sub = from_balance()
    first = decide_renewal(sub, date(2023, 5, 26), available=Money("500", "RUB"))
    assert first.key == renewal_key("3925", date(2023, 5, 27))
    again = decide_renewal(
        sub,
        date(2023, 5, 26),
        available=Money("500", "RUB"),
        done={first.key},
    )
    assert again.reason is SkipReason.ALREADY_RENEWED
    sub.renewed(date(2023, 5, 26))
    after = decide_renewal(sub, date(2023, 5, 26), available=Money("500", "RUB"), done={first.key})
    assert (after.reason, after.key) == (SkipReason.NOT_DUE, "renewal:3925:2023-06-27")


# ----------------------------------------------------------------------------- saved method


@pytest.mark.spec("R4")
def test_a_subscription_is_charged_to_its_card_1_day_before_expiry() -> None:
    decision = decide_renewal(on_card(), date(2024, 3, 20), method=card())
    assert (decision.action, decision.amount, decision.method_id, decision.period_end) == (
        RenewalAction.CHARGE_METHOD,
        PRICE,
        "card-1111",
        date(2024, 4, 21),
    )


@pytest.mark.spec("R4")
def test_a_failed_charge_is_retried_the_next_day_when_the_card_works_again() -> None:
    sub, method = on_card(), card()
    assert decide_renewal(sub, date(2024, 3, 20), method=method).charges
    # The provider declines: the card stops working and the customer is told.
    method.mark_failed(AT, "insufficient funds")
    sub.charge_failed(date(2024, 3, 20))
    notice = renewal_failure_notice(sub, AT, "insufficient funds")
    assert (notice.category, notice.kind, notice.params["retry_on"]) == (
        NotificationCategory.FINANCE,
        "renewal.failed",
        "2024-03-21",
    )
    assert method.status is SavedMethodStatus.NOT_WORKING

    same_day = decide_renewal(sub, date(2024, 3, 20), method=method)
    assert (same_day.reason, same_day.retry_on) == (SkipReason.WAITING_FOR_RETRY, date(2024, 3, 21))
    still_broken = decide_renewal(sub, date(2024, 3, 21), method=method)
    assert (still_broken.reason, still_broken.retry_on) == (
        SkipReason.METHOD_NOT_WORKING,
        date(2024, 3, 21),
    )

    # The customer tops the card up and pays once by hand: it works again.
    method.mark_working(datetime(2024, 3, 21, 12, 0, tzinfo=UTC))
    retry = decide_renewal(sub, date(2024, 3, 22), method=method)
    assert (retry.action, retry.amount, retry.key) == (
        RenewalAction.CHARGE_METHOD,
        PRICE,
        "renewal:8558:2024-03-21",
    )


@pytest.mark.spec("R4")
def test_the_default_schedule_retries_once_then_waits_for_the_customer() -> None:
    sub = on_card()
    sub.charge_failed(date(2024, 3, 20))
    sub.charge_failed(date(2024, 3, 21))
    decision = decide_renewal(sub, date(2024, 3, 25), method=card())
    assert decision.reason is SkipReason.RETRIES_EXHAUSTED


@pytest.mark.spec("R4")
def test_a_longer_retry_schedule_is_a_setting() -> None:
    policy = RenewalPolicy(retry_days=(1, 3, 7))
    sub = on_card()
    sub.charge_failed(date(2024, 3, 20))
    sub.charge_failed(date(2024, 3, 21))
    waiting = decide_renewal(sub, date(2024, 3, 23), policy, method=card())
    assert (waiting.reason, waiting.retry_on) == (SkipReason.WAITING_FOR_RETRY, date(2024, 3, 24))
    assert decide_renewal(sub, date(2024, 3, 24), policy, method=card()).charges


@pytest.mark.spec("R4")
@pytest.mark.parametrize("status", [SavedMethodStatus.CONFIGURING, SavedMethodStatus.NOT_WORKING])
def test_a_method_that_does_not_work_is_not_charged(status: SavedMethodStatus) -> None:
    decision = decide_renewal(on_card(), date(2024, 3, 20), method=card(status))
    assert decision.reason is SkipReason.METHOD_NOT_WORKING


@pytest.mark.spec("R4")
def test_a_missing_method_or_one_barred_from_subscriptions_is_not_charged() -> None:
    assert decide_renewal(on_card(), date(2024, 3, 20)).reason is SkipReason.METHOD_NOT_WORKING
    barred = card()
    barred.set_use(subscriptions=False)
    decision = decide_renewal(on_card(), date(2024, 3, 20), method=barred)
    assert decision.reason is SkipReason.METHOD_NOT_WORKING


@pytest.mark.spec("R4")
def test_another_method_than_the_subscriptions_is_refused() -> None:
    other = SavedPaymentMethod("card-0002", "acc-1", "card", "tok_2", "Card 2", "•••• 0002")
    with pytest.raises(ValidationError, match="renews from method 'card-1111'"):
        decide_renewal(on_card(), date(2024, 3, 20), method=other)


# ----------------------------------------------------------------------------- wording


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "250.00 RUB will be charged on 21 March 2024 and every 21st"),
        ("ru", "250,00 RUB спишется 21 марта 2024 и будет списываться каждое 21 число"),
        (
            "uk",
            "250,00 RUB буде списано 21 березня 2024 і надалі списуватиметься щомісяця 21 числа",
        ),
        ("de", "250,00 RUB werden am 21. März 2024 und danach jeden Monat am 21. abgebucht"),
        ("ru_RU", "250,00 RUB спишется 21 марта 2024 и будет списываться каждое 21 число"),
    ],
)
def test_every_21st_wording(locale: str, expected: str) -> None:
    assert describe_subscription(on_card(), locale) == expected


@pytest.mark.spec("R4")
@pytest.mark.parametrize(
    ("day", "ordinal"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (22, "22nd"), (23, "23rd")],
)  # fmt: skip
def test_english_ordinals(day: int, ordinal: str) -> None:
    sub = Subscription("1", "a", PRICE, "month", date(2024, 3, day))
    assert describe_subscription(sub, "en").endswith(f"and every {ordinal}")


@pytest.mark.spec("R4")
def test_an_anchor_on_the_31st_is_worded_with_the_short_months() -> None:
    sub = Subscription("1", "a", PRICE, "month", date(2024, 2, 29), anchor=date(2024, 1, 31))
    assert describe_subscription(sub, "en") == (
        "250.00 RUB will be charged on 29 February 2024 and every 31st "
        "(on the last day of shorter months)"
    )
    assert describe_subscription(sub, "ru") == (
        "250,00 RUB спишется 29 февраля 2024 и будет списываться каждое 31 число "
        "(в более коротких месяцах — в последний день)"
    )


@pytest.mark.spec("R4")
def test_other_periods_are_worded_by_their_length() -> None:
    quarterly = Subscription("1", "a", PRICE, "quarter", date(2024, 3, 21))
    daily = Subscription("2", "a", Money("20.00", "RUB"), "day", date(2024, 3, 21))
    weekly = Subscription("3", "a", Money("20.00", "RUB"), "week", date(2024, 3, 21))
    assert describe_subscription(quarterly, "en") == (
        "250.00 RUB will be charged on 21 March 2024 and then every 3 months on the 21st"
    )
    assert describe_subscription(daily, "en") == (
        "20.00 RUB will be charged on 21 March 2024 and then every day"
    )
    assert describe_subscription(weekly, "de") == (
        "20,00 RUB werden am 21. März 2024 und danach alle 7 Tage abgebucht"
    )


@pytest.mark.spec("R4")
def test_large_amounts_use_the_locale_grouping() -> None:
    sub = Subscription("1", "a", Money("400000.00", "RUB"), "month", date(2024, 3, 21))
    assert describe_subscription(sub, "ru").startswith("400\xa0000,00 RUB")
    assert describe_subscription(sub, "en").startswith("400,000.00 RUB")


@pytest.mark.spec("R4")
@pytest.mark.parametrize("locale", ["fr", "xx-nope", ""])
def test_an_unsupported_language_names_the_supported_ones(locale: str) -> None:
    with pytest.raises(ValidationError) as error:
        describe_subscription(on_card(), locale)
    assert str(error.value) == f"locale={locale!r} is invalid: expected one of en, ru, uk, de"
