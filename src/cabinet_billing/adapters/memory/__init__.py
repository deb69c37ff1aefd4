"""The in-memory adapters: the embedded default for simulations, tests and small hosts.

:func:`in_memory_billing` wires a complete :class:`~cabinet_billing.app.billing.Billing`
over an in-memory store, a fixed clock and the sandbox gateway:

>>> from datetime import datetime, timezone
>>> from cabinet_billing import Account
>>> setup = in_memory_billing(now=datetime(2024, 3, 1, 9, tzinfo=timezone.utc))
>>> _ = setup.billing.open_account(Account.open("acc-1", "alice"), owner_id="u1", owner_name="Alice")
>>> setup.store.accounts.ids()
['acc-1']
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

from cabinet_billing.adapters.clock import FixedClock
from cabinet_billing.adapters.memory.documents import InMemoryDocumentExchange, PlainTextRenderer
from cabinet_billing.adapters.memory.notifier import InMemoryNotifier
from cabinet_billing.adapters.memory.store import MemoryStore, MemoryUnitOfWork
from cabinet_billing.adapters.sandbox import SandboxGateway
from cabinet_billing.app.billing import Billing
from cabinet_billing.app.context import Ports
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.ports.documents import DocumentRenderer
from cabinet_billing.ports.fx import ExchangeRateProvider

__all__ = [
    "InMemoryBilling",
    "InMemoryNotifier",
    "MemoryStore",
    "MemoryUnitOfWork",
    "in_memory_billing",
]

_SANDBOX_SECRET = b"cabinet-billing sandbox signing key"


@attrs.frozen
class InMemoryBilling:
    """A wired billing and the parts a test drives: store, clock, gateway, notifier, exchange."""

    billing: Billing
    store: MemoryStore
    clock: FixedClock
    gateway: SandboxGateway
    notifier: InMemoryNotifier
    exchange: InMemoryDocumentExchange


def in_memory_billing(
    settings: BillingSettings | None = None,
    *,
    now: datetime | None = None,
    tz: str = "UTC",
    rates: ExchangeRateProvider | None = None,
    renderers: Mapping[str, DocumentRenderer] | None = None,
) -> InMemoryBilling:
    """A complete billing over in-memory adapters.

    Args:
        settings: the provider's settings (default: :class:`BillingSettings`).
        now: the clock's starting instant (default 2024-01-01 00:00 UTC).
        tz: the provider's time zone.
        rates: where exchange rates come from (e.g. :class:`~cabinet_billing.adapters.fx.FixedRates`).
        renderers: the document renderers by format (default: ``"text"``, the
            :class:`~cabinet_billing.adapters.memory.documents.PlainTextRenderer`).
    """
    store = MemoryStore()
    clock = FixedClock(now or datetime(2024, 1, 1, tzinfo=UTC), tz=tz)
    gateway = SandboxGateway(_SANDBOX_SECRET)
    notifier = InMemoryNotifier()
    exchange = InMemoryDocumentExchange()
    billing = Billing(
        Ports(
            unit_of_work=lambda: MemoryUnitOfWork(store),
            clock=clock,
            gateway=gateway,
            notifier=notifier,
            rates=rates,
            exchange=exchange,
            renderers={"text": PlainTextRenderer()} if renderers is None else renderers,
        ),
        settings,
    )
    return InMemoryBilling(billing, store, clock, gateway, notifier, exchange)
