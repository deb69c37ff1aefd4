"""One user of one account: the customer cabinet as an API.

A :class:`Cabinet` is what a host's request handler gets for the logged-in user:
``billing.cabinet(account_id, user_id, ip=request_ip)``. Its namespaces group the use
cases by topic; every call is admitted by one :class:`~cabinet_billing.app.gate.Gate`,
which checks the user, their right and the address before anything is read or changed.

>>> from cabinet_billing import Account, Money
>>> from cabinet_billing.adapters.memory import in_memory_billing
>>> billing = in_memory_billing().billing
>>> _ = billing.open_account(Account.open("acc-1", "alice"), owner_id="u-1", owner_name="Alice")
>>> cabinet = billing.cabinet("acc-1", "u-1")
>>> cabinet.balance.get("EUR")
Money('0', 'EUR')
>>> billing.cabinet("acc-1", "intruder").balance.get("EUR")
Traceback (most recent call last):
...
cabinet_billing.errors.AccessDeniedError: user 'intruder' may not invoices.view: not a user of account 'acc-1'
"""

from __future__ import annotations

from cabinet_billing.app.balance import CabinetBalance
from cabinet_billing.app.context import Context
from cabinet_billing.app.credit import CabinetCredit
from cabinet_billing.app.documents import CabinetDocuments
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.invoices import CabinetInvoices
from cabinet_billing.app.notifications import CabinetNotifications
from cabinet_billing.app.orders import CabinetOrders
from cabinet_billing.app.payers import CabinetPayers
from cabinet_billing.app.payments import CabinetPayments
from cabinet_billing.app.profile import CabinetProfile
from cabinet_billing.app.security import CabinetSecurity
from cabinet_billing.app.services import CabinetServices
from cabinet_billing.app.tickets import CabinetTickets
from cabinet_billing.app.users import CabinetUsers

__all__ = ["Cabinet"]


class Cabinet:
    """The use cases one user of one account may call, grouped by topic.

    Create it with :meth:`cabinet_billing.app.billing.Billing.cabinet`.

    Attributes:
        account_id: the account.
        user_id: the user acting in it.
        ip: the address the user calls from, checked against the account's allowlist.
        orders: placing orders.
        services: renewals and auto-renewal.
        invoices: paying, deleting and sharing invoices.
        payments: top-ups and saved payment methods.
        balance: balances, conversions and autopayment.
        credit: the credit line.
        payers: the account's payers.
        documents: the e-document exchange and statements.
        profile: the profile and the account's deletion.
        security: the billing IP allowlist, the code word and the recent logins.
        users: the account's users and their rights.
        tickets: support tickets.
        notifications: the user's notification matrix and the low-balance threshold.
    """

    def __init__(
        self,
        context: Context,
        account_id: str,
        user_id: str,
        *,
        ip: str | None = None,
    ) -> None:
        gate = Gate(context, account_id, user_id, ip)
        self.account_id = gate.account_id
        self.user_id = gate.user_id
        self.ip = gate.ip
        self.orders = CabinetOrders(context, gate)
        self.services = CabinetServices(context, gate)
        self.invoices = CabinetInvoices(context, gate)
        self.payments = CabinetPayments(context, gate)
        self.balance = CabinetBalance(context, gate)
        self.credit = CabinetCredit(context, gate)
        self.payers = CabinetPayers(context, gate)
        self.documents = CabinetDocuments(context, gate)
        self.profile = CabinetProfile(context, gate)
        self.security = CabinetSecurity(context, gate)
        self.users = CabinetUsers(context, gate)
        self.tickets = CabinetTickets(context, gate)
        self.notifications = CabinetNotifications(context, gate)

    def __repr__(self) -> str:
        return f"Cabinet(account_id={self.account_id!r}, user_id={self.user_id!r})"
