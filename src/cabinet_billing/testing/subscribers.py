"""Subscribers written straight into a store: an account, a balance, a monthly service.

Benchmarks and tests of the billing run need many customers who each renew one monthly
service from their balance, and need them fast: :func:`add_subscriber` writes one
through the repositories of an open unit of work (no use case runs, no event or
notification is made), :func:`monthly_service` makes the service alone. What the run
then does with them is the real thing.

>>> from datetime import UTC, date, datetime
>>> from cabinet_billing.adapters.memory import MemoryStore, MemoryUnitOfWork
>>> store = MemoryStore()
>>> at = datetime(2024, 1, 1, 9, tzinfo=UTC)
>>> with MemoryUnitOfWork(store) as uow:
...     service = add_subscriber(
...         uow, "acc-1", "user1", service_id="ser-1", paid_until=date(2024, 2, 1), at=at
...     )
...     uow.commit()
>>> with MemoryUnitOfWork(store) as uow:
...     service = uow.services.get("ser-1")
...     balance = uow.ledgers.get("acc-1").balance("EUR")
>>> service.status.value, service.paid_until, service.price, balance
('active', datetime.date(2024, 2, 1), Money('30.00', 'EUR'), Money('100.00', 'EUR'))
"""

from __future__ import annotations

from datetime import date, datetime

from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.money import Money
from cabinet_billing.domain.periods import Period
from cabinet_billing.domain.service import Actor, Service
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = ["add_subscriber", "monthly_service"]

PRICE = Money("30.00", "EUR")
"""The monthly price of a subscriber's service unless another is given."""

BALANCE = Money("100.00", "EUR")
"""A subscriber's balance unless another is given."""


def monthly_service(
    account_id: str,
    service_id: str,
    paid_until: date,
    at: datetime,
    *,
    price: Money = PRICE,
) -> Service:
    """An active monthly VPS that renews itself, paid until ``paid_until``.

    Args:
        account_id: the account it belongs to.
        service_id: its id.
        paid_until: the day its next renewal is due.
        at: when it was ordered, paid and activated.
        price: its price per month.
    """
    service = Service.order(
        id=service_id,
        account_id=account_id,
        plan_id="vps",
        plan_name="VPS",
        kind="vps",
        price=price,
        period=Period.months(),
        created_at=at,
        actor=Actor.system(),
        auto_renew=True,
    )
    service.mark_paid(paid_until, Actor.system(), at)
    service.activate(Actor.system(), at)
    return service


def add_subscriber(
    uow: UnitOfWork,
    account_id: str,
    login: str,
    *,
    service_id: str,
    paid_until: date,
    at: datetime,
    balance: Money = BALANCE,
    price: Money = PRICE,
) -> Service:
    """Open an account with a balance and one :func:`monthly_service`, in ``uow``.

    The account's currency is the balance's. Nothing is committed: the caller commits
    (many subscribers in one unit of work write fastest).

    Args:
        uow: an open unit of work.
        account_id: the new account's id.
        login: its login.
        service_id: the service's id.
        paid_until: the day the service's next renewal is due.
        at: when the account was opened and topped up and the service ordered.
        balance: the account's balance, topped up at ``at``.
        price: the service's price per month.

    Returns:
        The service, added to ``uow.services`` (a change made to it before the commit
        is stored with it).
    """
    uow.accounts.add(Account.open(account_id, login, currency=balance.code))
    uow.ledgers.get(account_id).top_up(balance, at)
    service = monthly_service(account_id, service_id, paid_until, at, price=price)
    uow.services.add(service)
    return service
