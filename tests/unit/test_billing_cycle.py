"""The billing run: idempotent per day, restartable, isolating failures, dry runs, batches."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cabinet_billing import Money
from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
from cabinet_billing.app.run import AccountFailure, CycleSummary, Preview
from cabinet_billing.domain.autopay import AutopayMode, AutopayPolicy
from cabinet_billing.domain.billing_profile import AutopaySettings
from cabinet_billing.testing.scenario import Scenario

RUN_DAY = date(2024, 2, 10)


def _five_accounts() -> Scenario:
    """Five Introserv accounts, the day before their services' renewal day.

    * acc-1: 100.00 EUR, a 30.00 EUR VPS: renews from the balance.
    * acc-2: 45.00 EUR, a 30.00 EUR VPS: 15.00 EUR left, the VPS expires.
    * acc-3: a 30.00 EUR VPS renewing from a saved card (tok-3), balance 0.
    * acc-4: 5.00 EUR, no service, autopayment of 50.00 EUR below 10.00 EUR from tok-4.
    * acc-5: 60.00 EUR, two 20.00 EUR services: 20.00 EUR left renews the first only,
      the second expires.
    """
    s = Scenario("introserv", start=date(2024, 1, 10))
    for n in range(1, 6):
        s.account(f"acc-{n}")
    s.top_up("acc-1", "100.00 EUR").order("acc-1", "vps", price="30.00 EUR", ref="vps-1")
    s.top_up("acc-2", "45.00 EUR").order("acc-2", "vps", price="30.00 EUR", ref="vps-2")
    s.top_up("acc-3", "30.00 EUR").order("acc-3", "vps", price="30.00 EUR", ref="vps-3")
    s.save_card("acc-3", "card-3", "tok-3")
    s.top_up("acc-4", "5.00 EUR").save_card("acc-4", "card-4", "tok-4", subscribe_services=False)
    s.top_up("acc-5", "60.00 EUR")
    s.order("acc-5", "web", price="20.00 EUR", ref="web-5")
    s.order("acc-5", "mail", price="20.00 EUR", ref="mail-5")
    s.advance(to=date(2024, 2, 9))
    s.autopay("acc-4", "card-4", "10.00 EUR", "50.00 EUR", monthly_cap="100.00 EUR")
    s.cabinet.clock.set(datetime(2024, 2, 10, tzinfo=UTC))
    return s


def _state(store: MemoryStore) -> dict[str, Any]:
    """A deep copy of everything the store holds, comparable with ``==``."""
    state: dict[str, Any] = {
        name: copy.deepcopy(dict(getattr(store, name).rows))
        for name in (
            "accounts",
            "services",
            "invoices",
            "payments",
            "ledgers",
            "expenses",
            "profiles",
            "documents",
        )
    }
    state["sequences"] = dict(store.sequences)
    state["keys"] = set(store.keys)
    state["invoice_numbers"] = dict(store.invoice_numbers)
    return state


def _balances(s: Scenario) -> list[Money]:
    return [s.balance(f"acc-{n}") for n in range(1, 6)]


def _expected_after_run(s: Scenario) -> None:
    """What the renewal day does to the five accounts."""
    assert _balances(s) == [
        Money("40.00", "EUR"),
        Money("15.00", "EUR"),
        Money("0.00", "EUR"),
        Money("55.00", "EUR"),
        Money("0.00", "EUR"),
    ]
    assert [s.service(r).status.value for r in ("vps-1", "vps-2", "vps-3", "web-5", "mail-5")] == [
        "active",
        "expired",
        "active",
        "active",
        "expired",
    ]
    assert s.service("vps-1").paid_until == date(2024, 3, 10)
    assert s.service("vps-3").paid_until == date(2024, 3, 10)
    assert s.service("vps-2").paid_until == RUN_DAY


@pytest.mark.spec("R4", "R6", "P")
def test_one_run_renews_expires_and_autopays_every_account() -> None:
    s = _five_accounts()
    summary = s.billing.run.day(RUN_DAY)
    assert (summary.accounts, summary.skipped, summary.failures) == (5, 0, ())
    assert (summary.invoices, summary.renewals, summary.expired) == (3, 3, 2)
    assert (summary.charges, summary.failed_charges) == (2, 0)
    # Payments credited: the card renewal of acc-3 and the autopayment of acc-4.
    assert summary.revenue == {"EUR": Money("80.00", "EUR")}
    _expected_after_run(s)
    assert [(c.operation, c.token, str(c.amount)) for c in s.cabinet.gateway.charges[-2:]] == [
        ("charge", "tok-3", "30.00 EUR"),
        ("charge", "tok-4", "50.00 EUR"),
    ]


@pytest.mark.spec("P")
def test_a_second_run_on_the_same_day_changes_nothing() -> None:
    s = _five_accounts()
    s.billing.run.day(RUN_DAY)
    before, sent, charges = (
        _state(s.cabinet.store),
        len(s.cabinet.notifier.sent),
        len(s.cabinet.gateway.charges),
    )
    again = s.billing.run.day(RUN_DAY)
    # Nothing is due on the day any more: no account is even visited.
    assert (again.accounts, again.skipped, again.not_due) == (0, 0, 5)
    assert (again.invoices, again.renewals, again.expired, again.charges) == (0, 0, 0, 0)
    assert (again.notifications, again.events, again.revenue) == (0, (), {})
    # Named explicitly, each is found done under the day's key.
    named = s.billing.run.day(RUN_DAY, accounts=[f"acc-{n}" for n in range(1, 6)])
    assert (named.accounts, named.skipped, named.not_due, named.events) == (0, 5, 0, ())
    assert _state(s.cabinet.store) == before
    assert len(s.cabinet.notifier.sent) == sent
    assert len(s.cabinet.gateway.charges) == charges


class _Interrupt(KeyboardInterrupt):
    """Stands for a process stopped half-way (a crash, a deploy)."""


def _interrupt_after(k: int) -> Any:
    def progress(done: int, _total: int) -> None:
        if done == k:
            raise _Interrupt

    return progress


@pytest.mark.spec("P")
@pytest.mark.parametrize("k", [1, 2, 4])
def test_an_interrupted_run_restarted_finishes_like_an_uninterrupted_one(k: int) -> None:
    interrupted, whole = _five_accounts(), _five_accounts()
    with pytest.raises(_Interrupt):
        interrupted.billing.run.day(RUN_DAY, progress=_interrupt_after(k))
    restarted = interrupted.billing.run.day(RUN_DAY)
    assert (restarted.accounts, restarted.skipped, restarted.not_due) == (5 - k, 0, k)
    whole.billing.run.day(RUN_DAY)
    _expected_after_run(interrupted)
    assert _state(interrupted.cabinet.store) == _state(whole.cabinet.store)
    assert interrupted.cabinet.gateway.charges == whole.cabinet.gateway.charges


@pytest.mark.spec("P")
def test_an_interrupted_run_restarted_sends_the_same_notifications() -> None:
    interrupted, whole = _five_accounts(), _five_accounts()
    with pytest.raises(_Interrupt):
        interrupted.billing.run.day(RUN_DAY, progress=_interrupt_after(2))
    interrupted.billing.run.day(RUN_DAY)
    whole.billing.run.day(RUN_DAY)
    assert interrupted.cabinet.notifier.kinds() == whole.cabinet.notifier.kinds()


def _break_autopay(s: Scenario, account_id: str) -> None:
    """Corrupt an account: its autopayment names a saved method it does not have."""
    policy = AutopayPolicy(
        Money("100.00", "EUR"),
        AutopayMode.FIXED,
        Money("50.00", "EUR"),
        Money("100.00", "EUR"),
    )
    with MemoryUnitOfWork(s.cabinet.store) as uow:
        uow.profiles.get(account_id).autopay = AutopaySettings("ghost", policy)
        uow.commit()


@pytest.mark.spec("P")
def test_a_failing_account_is_rolled_back_and_named_while_the_others_finish() -> None:
    s = _five_accounts()
    _break_autopay(s, "acc-1")
    before = _state(s.cabinet.store)
    summary = s.billing.run.day(RUN_DAY)
    assert summary.failures == (AccountFailure("acc-1", "no saved payment method with id 'ghost'"),)
    assert (summary.accounts, summary.renewals, summary.expired) == (5, 2, 2)
    # acc-1's renewal ran before the failure, and was rolled back with it.
    assert s.balance("acc-1") == Money("70.00", "EUR")
    assert s.service("vps-1").paid_until == RUN_DAY
    after = _state(s.cabinet.store)
    assert after["ledgers"]["acc-1"] == before["ledgers"]["acc-1"]
    assert after["services"][s.service_id("vps-1")] == before["services"][s.service_id("vps-1")]
    assert f"cycle:acc-1:{RUN_DAY}" not in s.cabinet.store.keys
    assert _balances(s)[1:] == [
        Money("15.00", "EUR"),
        Money("0.00", "EUR"),
        Money("55.00", "EUR"),
        Money("0.00", "EUR"),
    ]
    assert not [
        n for n in s.cabinet.notifier.sent if n.account_id == "acc-1" and n.at.date() == RUN_DAY
    ]


@pytest.mark.spec("P")
def test_a_failed_account_is_retried_by_the_next_run_of_the_day() -> None:
    s = _five_accounts()
    _break_autopay(s, "acc-1")
    s.billing.run.day(RUN_DAY)
    with MemoryUnitOfWork(s.cabinet.store) as uow:
        uow.profiles.get("acc-1").autopay = None
        uow.commit()
    again = s.billing.run.day(RUN_DAY)
    # The failed account is still due (the fix made it due again anyway); the others not.
    assert (again.accounts, again.not_due, again.renewals, again.failures) == (1, 4, 1, ())
    _expected_after_run(s)


def _expected_previews(s: Scenario) -> tuple[Preview, ...]:
    vps = {n: s.service_id(f"vps-{n}") for n in (1, 2, 3)}
    web, mail = s.service_id("web-5"), s.service_id("mail-5")
    return (
        Preview("acc-1", f"renew {vps[1]} from the balance", Money("30.00", "EUR")),
        Preview("acc-2", f"expire service {vps[2]}"),
        Preview("acc-3", f"renew {vps[3]} from method card-3", Money("30.00", "EUR")),
        Preview("acc-4", "top the balance up automatically", Money("50.00", "EUR")),
        Preview("acc-5", f"renew {web} from the balance", Money("20.00", "EUR")),
        Preview("acc-5", f"expire service {mail}"),
    )


@pytest.mark.spec("P", "R4", "R6")
def test_a_dry_run_commits_nothing_charges_nothing_and_previews() -> None:
    s = _five_accounts()
    before, charges = _state(s.cabinet.store), list(s.cabinet.gateway.charges)
    sent = len(s.cabinet.notifier.sent)
    preview = s.billing.run.day(RUN_DAY, dry_run=True)
    assert _state(s.cabinet.store) == before
    assert s.cabinet.gateway.charges == charges
    assert len(s.cabinet.notifier.sent) == sent
    assert preview.dry_run
    assert (preview.accounts, preview.renewals) == (5, 3)
    found = [p for p in preview.previews if p.account_id != "acc-3" or "renew" in p.what]
    assert tuple(found) == _expected_previews(s)
    # Nothing was recorded: the real run of the day still does everything.
    real = s.billing.run.day(RUN_DAY)
    assert (real.accounts, real.skipped, real.renewals, real.expired) == (5, 0, 3, 2)
    _expected_after_run(s)


@pytest.mark.spec("P", "R4")
def test_a_dry_run_previews_a_card_renewal_without_an_expiry() -> None:
    s = _five_accounts()
    preview = s.billing.run.day(RUN_DAY, dry_run=True)
    assert preview.previews == _expected_previews(s)
    assert preview.expired == 2


def _comparable(summary: CycleSummary) -> tuple[object, ...]:
    return (
        summary.accounts,
        summary.invoices,
        summary.renewals,
        summary.charges,
        summary.expired,
        summary.notifications,
        summary.revenue,
        summary.failures,
        summary.events,
    )


@pytest.mark.spec("P")
def test_batches_give_the_same_result_as_one_batch() -> None:
    batched, single = _five_accounts(), _five_accounts()
    calls: list[tuple[int, int]] = []
    small = batched.billing.run.day(
        RUN_DAY, batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    one = single.billing.run.day(RUN_DAY, batch_size=500)
    assert _comparable(small) == _comparable(one)
    assert _state(batched.cabinet.store) == _state(single.cabinet.store)
    assert batched.cabinet.notifier.kinds() == single.cabinet.notifier.kinds()
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


@pytest.mark.spec("P")
def test_progress_counts_skipped_accounts_too() -> None:
    s = _five_accounts()
    s.billing.run.day(RUN_DAY, accounts=["acc-2", "acc-4"])
    # A change after its run makes acc-2 due again: visited, and found done for the day.
    s.top_up("acc-2", "5.00 EUR")
    calls: list[tuple[int, int]] = []
    summary = s.billing.run.day(RUN_DAY, progress=lambda done, total: calls.append((done, total)))
    assert (summary.accounts, summary.skipped, summary.not_due) == (3, 1, 1)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    named = [f"acc-{n}" for n in range(1, 6)]
    s.billing.run.day(RUN_DAY, accounts=named, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


@pytest.mark.spec("R4", "R9")
def test_two_renewals_in_one_run_send_two_notifications_each() -> None:
    s = Scenario("introserv", start=date(2024, 1, 10)).account("acc-1")
    s.top_up("acc-1", "100.00 EUR")
    s.order("acc-1", "web", price="20.00 EUR").order("acc-1", "mail", price="20.00 EUR")
    s.advance(to=RUN_DAY)
    assert s.days[-1].renewals == 2
    sent = [n.kind for n in s.cabinet.notifier.sent if n.at.date() == RUN_DAY]
    assert sent.count("service.renewed") == 2
    assert len(sent) == s.days[-1].notifications
