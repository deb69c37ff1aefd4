"""The billing of one provider: the facade a host builds once (SPEC P).

A host builds one :class:`Billing` from the :class:`~cabinet_billing.app.context.Ports`
it plugs in (storage, clock, payment gateway, notifier, ...) and its
:class:`~cabinet_billing.app.settings.BillingSettings`. From it come:

- :meth:`Billing.cabinet`: one user of one account, with the customer's use cases by
  topic (``cabinet.orders``, ``cabinet.invoices``, ``cabinet.payments`` ...), each call
  checked for the user's right and address;
- the provider's side: ``billing.run`` (the daily billing run), ``billing.webhooks``
  (payment callbacks), ``billing.bank`` (bank statements), ``billing.staff`` (what only
  the provider decides) and ``billing.pay_links`` (paying without logging in).

Every call reads the clock once, works in one unit of work, commits, then sends its
notifications and returns what happened. How money flows is described in
:mod:`cabinet_billing.app.context`.
"""

from __future__ import annotations

from cabinet_billing.app import checks
from cabinet_billing.app.bank import Bank
from cabinet_billing.app.cabinet import Cabinet
from cabinet_billing.app.context import Context, Ports
from cabinet_billing.app.gate import Gate
from cabinet_billing.app.limits import Limits
from cabinet_billing.app.pay_links import PayLinks
from cabinet_billing.app.run import BillingRun
from cabinet_billing.app.security import record_login
from cabinet_billing.app.services import ProviderServices
from cabinet_billing.app.settings import BillingSettings
from cabinet_billing.app.staff import Staff
from cabinet_billing.app.webhooks import Webhooks
from cabinet_billing.domain.access import AccountUsers
from cabinet_billing.domain.checks import check_text
from cabinet_billing.domain.customer import Account
from cabinet_billing.domain.events import AccountOpened
from cabinet_billing.errors import MissingPortError

__all__ = ["Billing"]


class Billing:
    """The billing of one provider, over the ports a host plugs in.

    Args:
        ports: storage, clock, payment gateway and the optional notifier, exchange
            rates and e-document exchange.
        settings: the provider's settings (default: :class:`BillingSettings`).

    Attributes:
        run: the daily billing run.
        webhooks: the payment provider's callbacks.
        bank: bank statements.
        staff: the provider's staff actions.
        services: what the provider's control panel reports about services.
        limits: the counts of capped plan metrics (SPEC C7).
        pay_links: paying without logging in.
    """

    def __init__(self, ports: Ports, settings: BillingSettings | None = None) -> None:
        """Build the billing, refusing settings that need a port not plugged in.

        Raises:
            MissingPortError: for ``pay_across_currencies`` without ``Ports(rates=...)``:
                the balance in other currencies could never pay, in silence.
        """
        self._settings = settings if settings is not None else BillingSettings()
        if self._settings.pay_across_currencies and ports.rates is None:
            raise MissingPortError(
                "pay_across_currencies", "rates", "an exchange-rate port to convert at"
            )
        self._ctx = Context(ports, self._settings)
        self.run = BillingRun(self._ctx)
        self.webhooks = Webhooks(self._ctx)
        self.bank = Bank(self._ctx)
        self.staff = Staff(self._ctx)
        self.pay_links = PayLinks(self._ctx)
        self.services = ProviderServices(self._ctx)
        self.limits = Limits(self._ctx)

    @property
    def settings(self) -> BillingSettings:
        """The provider's settings, fixed when the billing is built.

        Every use case reads them from here, so they cannot be swapped on a running
        billing: build another :class:`Billing` with other settings instead.

        >>> from cabinet_billing.adapters.memory import in_memory_billing
        >>> billing = in_memory_billing().billing
        >>> billing.settings.invoice_due_days
        14
        >>> billing.settings = None
        Traceback (most recent call last):
        ...
        AttributeError: property 'settings' of 'Billing' object has no setter
        """
        return self._settings

    def cabinet(self, account_id: str, user_id: str, *, ip: str | None = None) -> Cabinet:
        """The cabinet of one user of one account.

        Making a cabinet reads nothing; each call through it checks that the user belongs
        to the account, is enabled and holds the right the call needs, and that ``ip``
        passes the account's billing IP allowlist.

        Raises:
            ValidationError: for an empty account or user id, or an ``ip`` that is not text.
        """
        return Cabinet(self._ctx, account_id, user_id, ip=ip)

    def login(self, account_id: str, user_id: str, *, ip: str) -> Cabinet:
        """Let a user log in to billing from ``ip``: admit them and remember the address.

        The user must be an enabled user of the account and ``ip`` must pass the
        account's billing IP allowlist, as for every cabinet call; the login is then
        recorded among the account's recent logins (``cabinet.security.view()``), which
        keep ``settings.logins_kept`` of them.

        Returns:
            The user's cabinet, calling from ``ip``.

        Raises:
            AccessDeniedError: for a user of another account, a disabled user or an
                address the allowlist refuses; nothing is recorded.
            ValidationError: for an empty id or no address.
            NotFoundError: for an unknown account.
        """
        cabinet = self.cabinet(account_id, user_id, ip=ip)
        record_login(self._ctx, Gate(self._ctx, account_id, user_id, ip))
        return cabinet

    def open_account(
        self,
        account: Account,
        *,
        owner_id: str,
        owner_name: str,
    ) -> AccountOpened:
        """Store a new account with its first user, who has every right.

        Raises:
            ConflictError: when the account exists.
            InvalidArgumentError: for an ``account`` that is not an :class:`Account`.
            InvalidTextError: for an owner id that is not an id, or an owner name that is
                empty, longer than 1000 characters or holds control characters.
        """
        checks.instance("account", account, Account, "an Account such as Account.open(...)")
        checks.identifier("owner_id", owner_id)
        check_text("owner_name", owner_name)
        ctx = self._ctx
        now = ctx.clock.now()
        default = self._settings.low_balance_threshold
        if (
            account.settings.low_balance_threshold is None
            and default is not None
            and default.code == account.profile.currency
        ):
            account.set_low_balance_threshold(default)
        with ctx.unit_of_work() as uow:
            uow.accounts.add(account)
            uow.users.add(
                AccountUsers.create(account.id, owner_id, owner_name, account.profile.email),
            )
            uow.ledgers.get(account.id)
            uow.expenses.get(account.id)
            uow.commit()
        return AccountOpened(account_id=account.id, at=now, owner_id=owner_id)
