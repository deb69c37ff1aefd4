"""Pay links honour the profile gate, the account's pay-without-login and a re-issue cap."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cabinet_billing import (
    Account,
    BillingSettings,
    Cabinet,
    CheckoutStarted,
    Money,
    PaymentMethod,
    PostalAddress,
)
from cabinet_billing.adapters.memory import InMemoryBilling, MemoryUnitOfWork, in_memory_billing
from cabinet_billing.domain.invoice import Invoice, InvoiceLine
from cabinet_billing.domain.paylink import PayLinkKeys, PayLinkPolicy, PayLinkSigner
from cabinet_billing.domain.payment import PaymentEventKind
from cabinet_billing.domain.payment_method import PaymentMethodPricing
from cabinet_billing.errors import (
    AccessDeniedError,
    ExpiredPayLinkError,
    InvalidTransitionError,
    PayLinkTooOldError,
    ProfileIncompleteError,
    ValidationError,
)

START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def wired(policy: PayLinkPolicy | None = None, *, complete: bool = True) -> InMemoryBilling:
    s = in_memory_billing(
        BillingSettings(
            payment_methods=(PaymentMethod("card", "Card", PaymentMethodPricing("EUR")),),
            pay_links=PayLinkSigner(
                PayLinkKeys("k1", {"k1": b"pay links: a signing key of 32 bytes or more"}),
                policy or PayLinkPolicy(),
            ),
        ),
        now=START,
    )
    account = Account.open("acc-1", "jill", email="jill@example.com", country="DE")
    account.change_name("Fairy", "Jill")
    if complete:
        account.change_postal_address(PostalAddress("Berlin", "10115", "Unter den Linden 1"))
    s.billing.open_account(account, owner_id="u-1", owner_name="Jill")
    with MemoryUnitOfWork(s.store) as uow:
        uow.invoices.add(
            Invoice.issue(
                "inv-1",
                "INV-1",
                "acc-1",
                [InvoiceLine("Hosting, May", eur("50.00"))],
                issued_on=date(2024, 5, 1),
            ),
        )
        uow.commit()
    return s


def owner(s: InMemoryBilling) -> Cabinet:
    return s.billing.cabinet("acc-1", "u-1")


def payments(s: InMemoryBilling) -> list[str]:
    return sorted(s.store.payments.rows)


@pytest.mark.spec("L5", "A2")
def test_item_16_paying_by_link_asks_for_a_complete_profile() -> None:
    s = wired(complete=False)
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link("inv-1")
    with pytest.raises(ProfileIncompleteError) as refused:
        s.billing.pay_links.pay(link.token, "card")
    assert refused.value.missing == ("city", "address")
    assert payments(s) == []
    owner(s).profile.change_postal_address(PostalAddress("Berlin", "10115", "Linden 1"))
    assert isinstance(s.billing.pay_links.pay(link.token, "card"), CheckoutStarted)


@pytest.mark.spec("L5")
def test_item_16_links_work_only_while_the_account_allows_paying_without_login() -> None:
    s = wired()
    assert owner(s).payments.set_pay_without_login(True) is True
    link = owner(s).invoices.pay_link("inv-1")
    # A link copied while the setting was on stops working once it is off.
    owner(s).payments.set_pay_without_login(False)
    for use in (
        lambda: s.billing.pay_links.open(link.token),
        lambda: s.billing.pay_links.pay(link.token, "card"),
    ):
        with pytest.raises(AccessDeniedError, match="setting pay_without_login is off"):
            use()
    assert payments(s) == []
    owner(s).payments.set_pay_without_login(True)
    invoice, same = s.billing.pay_links.open(link.token)
    assert (invoice.id, same) == ("inv-1", link)
    # Switched off again, the link stops working, and an expired one is not re-issued.
    owner(s).payments.set_pay_without_login(False)
    s.clock.advance(hours=1)
    with pytest.raises(AccessDeniedError):
        s.billing.pay_links.open(link.token)
    with pytest.raises(ValidationError, match="must be True or False"):
        owner(s).payments.set_pay_without_login("yes")  # type: ignore[arg-type]


@pytest.mark.spec("L5")
def test_item_16_copying_a_pay_link_is_refused_while_pay_without_login_is_off() -> None:
    s = wired()
    before = (payments(s), dict(s.store.accounts.versions), list(s.notifier.sent))
    with pytest.raises(AccessDeniedError) as refused:
        owner(s).invoices.pay_link("inv-1")
    assert str(refused.value) == (
        "a pay link of account 'acc-1' may not pay without logging in: the account's setting "
        "pay_without_login is off; log in to pay, or switch it on in the cabinet"
    )
    assert (payments(s), dict(s.store.accounts.versions), list(s.notifier.sent)) == before
    # Inside the cabinet the customer pays as always.
    started = owner(s).invoices.pay("inv-1", method_id="card")
    assert isinstance(started, CheckoutStarted)
    assert payments(s) == [started.payment.id]


@pytest.mark.spec("L5")
def test_item_16_expired_links_are_reissued_only_within_the_cap_after_expiry() -> None:
    s = wired()
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link("inv-1")
    assert link.expires_at == START + timedelta(minutes=30)
    s.clock.set(link.expires_at + timedelta(days=14))
    _, fresh = s.billing.pay_links.open(link.token)
    assert fresh.expires_at == s.clock.now() + timedelta(minutes=30)
    with pytest.raises(ExpiredPayLinkError):
        s.billing.pay_links.pay(link.token, "card")
    s.clock.advance(seconds=1)
    with pytest.raises(PayLinkTooOldError) as refused:
        s.billing.pay_links.open(link.token)
    assert isinstance(refused.value, ExpiredPayLinkError)
    assert (refused.value.invoice_id, refused.value.reissue_within) == ("inv-1", timedelta(14))
    assert "is no longer re-issued" in str(refused.value)
    # The fresh link, re-issued in time, pays.
    s.clock.set(fresh.expires_at)
    assert isinstance(s.billing.pay_links.pay(fresh.token, "card"), CheckoutStarted)


@pytest.mark.spec("L5")
def test_item_16_an_expired_link_of_a_paid_invoice_is_not_reissued() -> None:
    s = wired()
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link("inv-1")
    started = s.billing.pay_links.pay(link.token, "card")
    s.billing.webhooks.handle(
        *s.gateway.webhook(started.payment.id, PaymentEventKind.CREDITED, s.clock.now())
    )
    s.clock.advance(hours=1)
    with pytest.raises(InvalidTransitionError, match="paid"):
        s.billing.pay_links.open(link.token)


@pytest.mark.spec("L5")
def test_item_16_the_reissue_cap_is_a_setting() -> None:
    with pytest.raises(ValidationError, match="reissue_within"):
        PayLinkPolicy(reissue_within=timedelta(days=-1))
    s = wired(PayLinkPolicy(reissue_within=timedelta(0)))
    owner(s).payments.set_pay_without_login(True)
    link = owner(s).invoices.pay_link("inv-1")
    s.clock.set(link.expires_at)
    assert s.billing.pay_links.open(link.token)[1] == link
    s.clock.advance(seconds=1)
    with pytest.raises(PayLinkTooOldError):
        s.billing.pay_links.open(link.token)
