"""The shipped adapters: sandbox gateway, clocks, in-memory store and notifier."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from cabinet_billing import (
    Account,
    ConflictError,
    InvalidWebhookError,
    Money,
    NotFoundError,
    Payment,
    ValidationError,
)
from cabinet_billing.adapters.clock import FixedClock, SystemClock
from cabinet_billing.adapters.fx import FixedRates
from cabinet_billing.adapters.memory import (
    InMemoryNotifier,
    MemoryStore,
    MemoryUnitOfWork,
    in_memory_billing,
)
from cabinet_billing.adapters.memory.store import _same, clone, read_only
from cabinet_billing.adapters.sandbox import Outcome, SandboxGateway
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.domain.catalog import ProductKind
from cabinet_billing.domain.ledger import Ledger
from cabinet_billing.domain.limits import Limit, PlanLimits
from cabinet_billing.domain.notifications import Notification, NotificationCategory
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Actor, Service, ServiceStatus
from cabinet_billing.errors import GatewayTimeoutError
from cabinet_billing.ports.gateway import ChargeStatus
from cabinet_billing.rules.presets import INTROSERV

pytestmark = pytest.mark.spec("P")

AT = datetime(2024, 3, 21, 9, tzinfo=UTC)
SECRET = b"k" * 32


def rub(amount: str) -> Money:
    return Money(amount, "RUB")


def test_sandbox_plays_scripted_outcomes_per_token() -> None:
    gw = SandboxGateway(SECRET)
    gw.script("tok", Outcome.DECLINE, Outcome.INSUFFICIENT_FUNDS, Outcome.TIMEOUT)
    assert (
        gw.charge_saved_method("tok", rub("250.00"), idempotency_key="a").status
        is ChargeStatus.DECLINED
    )
    funds = gw.charge_saved_method("tok", rub("250.00"), idempotency_key="b")
    assert (funds.status, funds.reason) == (ChargeStatus.INSUFFICIENT_FUNDS, "insufficient funds")
    with pytest.raises(GatewayTimeoutError, match="retry with the same key"):
        gw.charge_saved_method("tok", rub("250.00"), idempotency_key="c")
    ok = gw.charge_saved_method("tok", rub("250.00"), idempotency_key="c")
    assert ok.succeeded
    # the same key never charges twice
    assert gw.charge_saved_method("tok", rub("250.00"), idempotency_key="c") == ok
    assert [c.key for c in gw.charges] == ["a", "b", "c"]


def test_sandbox_refund_and_card_verification() -> None:
    gw = SandboxGateway(SECRET)
    verified = gw.verify_card("tok", Money("1.00", "UAH"), idempotency_key="v1")
    refunded = gw.refund(verified.reference, Money("1.00", "UAH"), idempotency_key="r1")
    assert verified.succeeded
    assert refunded.succeeded
    assert [c.operation for c in gw.charges] == ["verify", "refund"]
    gw.default = Outcome.DECLINE
    assert not gw.verify_card("tok2", Money("1.00", "UAH"), idempotency_key="v2").succeeded


def test_sandbox_webhooks_are_signed_and_repeatable() -> None:
    gw = SandboxGateway(SECRET)
    payment = Payment.top_up("pay-1", "acc-1", rub("100.00"), AT)
    session = gw.checkout(payment, return_url="https://cabinet.example/back")
    assert session.url == "https://sandbox.invalid/pay/pay-1?return=https://cabinet.example/back"
    headers, body = gw.webhook("pay-1", PaymentEventKind.CREDITED, AT)
    first = gw.parse_webhook(headers, body)
    again = gw.parse_webhook({k.lower(): v for k, v in headers.items()}, body)
    assert first == again
    assert (first.payment_id, first.event.kind, first.event.key) == (
        "pay-1",
        PaymentEventKind.CREDITED,
        "evt-1",
    )
    other = SandboxGateway(b"x" * 32)
    with pytest.raises(InvalidWebhookError, match="signature"):
        other.parse_webhook(headers, body)
    bad = b'{"id": "e"}'
    with pytest.raises(InvalidWebhookError, match="malformed"):
        gw.parse_webhook({"X-Sandbox-Signature": gw._sign(bad)}, bad)
    with pytest.raises(ValidationError, match="32 bytes"):
        SandboxGateway(b"short")


def test_fixed_clock_moves_only_when_told_and_knows_the_billing_day() -> None:
    clock = FixedClock(datetime(2024, 1, 31, 23, 30, tzinfo=UTC), tz="Europe/Kyiv")
    assert clock.today().isoformat() == "2024-02-01"
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=1)).advance(days=1)
    assert clock.now().astimezone(UTC) == datetime(2024, 2, 2, 0, 30, tzinfo=UTC)
    with pytest.raises(ValidationError, match="forwards"):
        clock.advance(days=-1)
    with pytest.raises(ValidationError, match="aware"):
        clock.set(datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="IANA"):
        FixedClock(AT, tz="Mars/Olympus")
    system = SystemClock("Europe/Kyiv")
    assert system.now().tzinfo is not None
    assert system.today() == system.now().date()


def test_memory_unit_of_work_isolates_and_rolls_back() -> None:
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        uow.accounts.add(Account.open("acc-1", "alice"))
        assert uow.accounts.get("acc-1") is uow.accounts.get("acc-1")
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        account = uow.accounts.get("acc-1")
        account.change_email("a@example.com")
        assert store.accounts.rows["acc-1"].profile.email == ""  # not yet committed
    assert store.accounts.rows["acc-1"].profile.email == ""  # rolled back

    def fail_midway() -> None:
        with MemoryUnitOfWork(store) as uow:
            uow.accounts.get("acc-1").change_email("b@example.com")
            uow.sequences.next("invoice")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_midway()
    assert store.accounts.rows["acc-1"].profile.email == ""
    assert store.sequences == {}
    with MemoryUnitOfWork(store) as uow:
        with pytest.raises(ConflictError, match="already exists"):
            uow.accounts.add(Account.open("acc-1", "again"))
        with pytest.raises(NotFoundError, match="'acc-9'"):
            uow.accounts.get("acc-9")
        assert [uow.sequences.next("x"), uow.sequences.next("x")] == [1, 2]
        uow.keys.record("k")
        with pytest.raises(ConflictError):
            uow.keys.record("k")
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        assert uow.sequences.next("x") == 3
        assert uow.keys.seen("k")
        assert list(uow.keys.all("k")) == ["k"]


def test_in_memory_notifier_sends_each_notification_once() -> None:
    notifier = InMemoryNotifier()
    n = Notification(
        "acc-1", NotificationCategory.FINANCE, "invoice.issued", AT, {"number": "INV-1"}
    )
    notifier.send(n)
    notifier.send(n)
    notifier.send(Notification("acc-2", NotificationCategory.FINANCE, "invoice.issued", AT))
    assert notifier.kinds() == ["invoice.issued", "invoice.issued"]
    assert notifier.kinds("acc-1") == ["invoice.issued"]
    assert dict(notifier.sent[0].params) == {"number": "INV-1"}


def test_clone_copies_what_can_change_and_shares_what_cannot() -> None:
    ledger = Ledger("acc-1")
    entry = ledger.top_up(rub("10"), AT)
    copied = clone(ledger)
    copied.charge(rub("4"), AT)
    assert ledger.balance("RUB") == rub("10")
    assert len(ledger) == 1
    assert copied.balance("RUB") == rub("6")
    assert copied.entry(1) is entry  # an immutable entry is shared, not copied
    assert copied.verify()
    assert ledger.verify()


@attrs.define
class _Held:
    name: str
    parts: dict[str, list[Money]]
    note: str = attrs.field(default="", eq=False)


def test_a_loaded_copy_is_unchanged_until_a_part_of_it_changes() -> None:
    held = _Held("a", {"x": [rub("1")]})
    copied = clone(held)
    assert copied.parts is not held.parts
    assert _same(copied, held)
    copied.note = "not compared"
    assert _same(copied, held)
    copied.parts["x"].append(rub("2"))
    assert not _same(copied, held)
    assert held.parts == {"x": [rub("1")]}


def test_clone_shares_a_tuple_of_values_that_cannot_change_and_copies_one_that_can() -> None:
    fixed = (rub("1"), "text", AT, Decimal("2.5"))
    assert clone(fixed) is fixed
    ledger = Ledger("acc-1")
    holder = ([ledger], {"a": ledger})
    copied = clone(holder)
    copied[0][0].top_up(rub("5"), AT)
    copied[1]["a"].top_up(rub("7"), AT)
    assert ledger.balance("RUB") == rub("0")
    assert copied[0][0] is not copied[1]["a"]  # copies are not a deep copy's memo
    assert copied[0][0].balance("RUB") == rub("5")


def _vps(service_id: str, account_id: str, paid_until: date) -> Service:
    return Service(
        id=service_id,
        account_id=account_id,
        plan_id="vps",
        plan_name="VPS",
        kind=ProductKind.VPS,
        price=Money("9.90", "EUR"),
        period=Period.months(),
        created_at=AT,
        paid_until=paid_until,
        anchor=paid_until,
        auto_renew=True,
        paid=True,
        status=ServiceStatus.ACTIVE,
        limits=PlanLimits([Limit("products", 10)]),
    )


def test_a_viewed_service_refuses_every_change_and_is_copied_once_per_version() -> None:
    store = MemoryStore()
    with MemoryUnitOfWork(store) as uow:
        uow.services.add(_vps("ser-1", "acc-1", date(2024, 4, 1)))
        uow.commit()
    committed = store.services.rows["ser-1"]
    with MemoryUnitOfWork(store) as uow, MemoryUnitOfWork(store) as other:
        (viewed,) = uow.services.view("acc-1")
        assert other.services.view("acc-1") == [viewed]
        assert other.services.view("acc-1")[0] is viewed  # one copy for every unit of work
        assert viewed == committed
        assert committed == viewed
        assert isinstance(viewed, Service)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            viewed.set_auto_renew(enabled=False)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            viewed.expire(Actor.system(), AT, "the paid period ended")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            viewed.ip = "192.0.2.1"
        with pytest.raises(TypeError):
            viewed.limits.refresh("products", 3, AT.date())
        assert viewed.auto_renew
        assert viewed.status is ServiceStatus.ACTIVE
        assert committed.auto_renew
        assert committed.limits.status("products").current == 0
        # Fetched to change it: the unit of work's own copy, which its view then shows.
        uow.services.get("ser-1").set_auto_renew(enabled=False)
        assert [s.auto_renew for s in uow.services.view("acc-1")] == [False]
        assert other.services.view("acc-1") == [viewed]
        uow.commit()
    with MemoryUnitOfWork(store) as uow:
        (again,) = uow.services.view("acc-1")
        assert again is not viewed
        assert not again.auto_renew


def test_a_read_only_copy_turns_containers_into_read_only_ones() -> None:
    held = _Held("a", {"x": [rub("1")]})
    viewed: Any = read_only(held)  # its parts are no longer of their declared types
    assert viewed == held
    assert viewed.parts["x"] == (rub("1"),)
    with pytest.raises(TypeError):
        viewed.parts["y"] = []
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        viewed.name = "b"
    assert read_only(viewed) is viewed
    amount = rub("1")
    assert read_only(amount) is amount


def test_a_day_of_an_account_copies_only_the_services_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup = in_memory_billing(
        BillingSettings.from_preset(INTROSERV), now=AT, rates=FixedRates(INTROSERV.exchange_rates)
    )
    with MemoryUnitOfWork(setup.store) as uow:
        uow.accounts.add(Account.open("acc-1", "alice", currency="EUR"))
        uow.ledgers.get("acc-1").top_up(Money("100.00", "EUR"), AT)
        for n, day in enumerate((2, 5, 9), start=1):
            uow.services.add(_vps(f"ser-{n}", "acc-1", date(2024, 4, day)))
        uow.commit()
    setup.billing.run.day(date(2024, 4, 2))
    copied: list[str] = []

    def counting(value: object) -> object:
        if isinstance(value, Service):
            copied.append(value.id)
        return clone(value)

    monkeypatch.setattr("cabinet_billing.adapters.memory.store.clone", counting)
    summary = setup.billing.run.day(date(2024, 4, 5))
    assert summary.renewals == 1
    # the run's private copy to change, and the store's own copy of it at the commit
    assert copied == ["ser-2", "ser-2"]
    assert setup.store.services.rows["ser-2"].paid_until == date(2024, 5, 5)
    assert setup.store.services.rows["ser-3"].paid_until == date(2024, 4, 9)
