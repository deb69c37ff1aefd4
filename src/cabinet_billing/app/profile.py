"""The cabinet's profile and the account's life: editing the profile, deletion (SPEC A1, A2, L9).

Introserv's "Settings": the customer edits the contact data, the postal address, the
interface language, the currency prices are shown and invoiced in, and the mailboxes
per purpose (invoices and orders, support, abuse), with the right ``settings.manage``.
Fields the customer may not change alone go through the provider
(:class:`~cabinet_billing.app.staff.Staff`): the country, the profile type and the main
email (Introserv: "to change the country, create a ticket"; Astra Cloud: "the first
user's email is changed by the provider"). While the country or the main email is not
filled in yet, the customer fills it in once. A verified company that changes its name
or tax id is held for verification again (SPEC A2).

Deletion (Horoshop: the customer asks, a manager confirms). The owner requests it and
may withdraw it; the provider confirms it. Each step is recorded on the account
(``account.deletion_requests``). While a request is pending nothing new starts: orders,
renewals, auto-renewal, autopayment and card binding are refused with
:class:`~cabinet_billing.errors.DeletionPendingError`, and the daily run stops a service
that finishes opening meanwhile. Debts stay payable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import attrs

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import ANY_USER, OWNER, Call, Gate
from cabinet_billing.domain.autopay import CardAutopayStatus
from cabinet_billing.domain.customer import (
    Account,
    AccountSettings,
    DeletionRequest,
    NotificationEmails,
    NotificationPurpose,
    PaymentReadiness,
    PostalAddress,
    Profile,
    VerificationStatus,
    payment_readiness,
)
from cabinet_billing.domain.events import (
    DeletionRequested,
    DeletionWithdrawn,
    ServiceStopped,
)
from cabinet_billing.domain.service import (
    Actor,
    ActorRole,
    Service,
    ServiceAction,
    ServiceStatus,
)
from cabinet_billing.errors import ConflictError, CurrencyMismatchError, ValidationError
from cabinet_billing.ports.repositories import UnitOfWork

__all__ = [
    "DELETION_REASON",
    "CabinetProfile",
    "ProfileView",
    "delete_services",
    "hold_deletion",
    "stop_for_deletion",
]

#: The reason recorded on services stopped, cancelled or deleted for a deletion request.
DELETION_REASON = "deletion requested"
_BILLING = Actor.admin("billing")
_SYSTEM = Actor.system()


@attrs.frozen(kw_only=True)
class ProfileView:
    """The profile as the cabinet shows it.

    Attributes:
        account_id: the account.
        login: the login (never changes).
        profile: contact data, country, language, currency, type, address, company.
        notification_emails: the mailboxes per purpose (empty: the main email).
        settings: the account-wide preferences.
        verification: whether a company profile awaits the provider's check.
        readiness: whether the account may pay, and if not, what is missing (SPEC A2).
        deletion: the latest deletion request, if any.
    """

    account_id: str
    login: str
    profile: Profile
    notification_emails: NotificationEmails
    settings: AccountSettings
    verification: VerificationStatus
    readiness: PaymentReadiness
    deletion: DeletionRequest | None

    @classmethod
    def of(cls, account: Account, readiness: PaymentReadiness) -> ProfileView:
        """The view of an account."""
        return cls(
            account_id=account.id,
            login=account.login,
            profile=account.profile,
            notification_emails=account.notification_emails,
            settings=account.settings,
            verification=account.verification,
            readiness=readiness,
            deletion=account.deletion,
        )


def _purpose(value: object) -> NotificationPurpose:
    if isinstance(value, NotificationPurpose):
        return value
    try:
        return NotificationPurpose(value)
    except ValueError:
        raise ValidationError(
            "purpose",
            value,
            f"expected one of {', '.join(p.value for p in NotificationPurpose)}",
        ) from None


class CabinetProfile:
    """The account's profile (``settings.manage`` to edit) and deletion (the owner's)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def _view(self, account: Account) -> ProfileView:
        return ProfileView.of(
            account, payment_readiness(account, self._ctx.settings.payment_requirements)
        )

    def _edit(self, change: Callable[[Call], object]) -> ProfileView:
        with self._gate.open("settings.manage") as call:
            change(call)
            call.uow.commit()
        return self._view(call.account)

    # ------------------------------------------------------------------ reading

    def get(self) -> ProfileView:
        """The profile, the notification emails, the settings and whether paying is possible.

        Any enabled user of the account may read it.

        Raises:
            AccessDeniedError: for a disabled user, a user of another account or a
                refused address.
        """
        with self._gate.open(ANY_USER) as call:
            return self._view(call.account)

    # ------------------------------------------------------------------ editing

    def change_name(self, last_name: str, first_name: str, middle_name: str = "") -> ProfileView:
        """Set the last, first and middle name.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for anything but text; nothing changes.
        """
        return self._edit(lambda call: call.account.change_name(last_name, first_name, middle_name))

    def change_phone(self, phone: str) -> ProfileView:
        """Set the mobile phone number (``""`` clears it).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for a malformed number; nothing changes.
        """
        return self._edit(lambda call: call.account.change_phone(phone))

    def change_postal_address(self, address: PostalAddress) -> ProfileView:
        """Set the postal address (city, postal code, address).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for anything but a ``PostalAddress``; nothing changes.
        """
        if not isinstance(address, PostalAddress):
            raise ValidationError(
                "address", address, "expected PostalAddress(city=..., postal_code=..., address=...)"
            )
        return self._edit(lambda call: call.account.change_postal_address(address))

    def change_company(self, company_name: str, tax_id: str) -> ProfileView:
        """Set the company's name and tax id.

        A verified company that changes either is held for verification again: paying
        waits until the provider verifies it (SPEC A2).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for anything but text; nothing changes.
        """
        return self._edit(lambda call: call.account.change_company(company_name, tax_id))

    def change_language(self, language: str) -> ProfileView:
        """Set the interface language (a CLDR code such as ``uk``, ``ru``, ``de``, ``en``).

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for an unknown language; nothing changes.
        """
        return self._edit(lambda call: call.account.change_language(language))

    def change_currency(self, currency: str) -> ProfileView:
        """Set the currency prices are shown and invoices are issued in.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for a code that is not ISO 4217.
            CurrencyMismatchError: for a currency the provider keeps no balances in, or
                while the account's credit line is in another currency.
            ConflictError: while the low-balance threshold is in another currency.
        """
        settings = self._ctx.settings

        def change(call: Call) -> None:
            given: object = currency
            code = given.strip().upper() if isinstance(given, str) else str(given)
            if settings.currencies and code not in settings.currencies:
                raise CurrencyMismatchError(code, settings.currencies, "account currency")
            credit = call.uow.profiles.get(call.account.id).credit
            if credit is not None and credit.currency != code:
                raise CurrencyMismatchError(
                    str(code),
                    credit.currency,
                    f"currency of account {call.account.id!r}, whose credit line is",
                )
            call.account.change_currency(str(code))

        return self._edit(change)

    def set_notification_email(self, purpose: NotificationPurpose | str, email: str) -> ProfileView:
        """Send mail about ``purpose`` to ``email``; ``""`` falls back to the main email.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for an unknown purpose or a malformed email.
        """
        kind = _purpose(purpose)
        return self._edit(lambda call: call.account.set_notification_email(kind, email))

    def fill_in_country(self, country: str) -> ProfileView:
        """Choose the country, once: afterwards only the provider changes it.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ConflictError: when a country is chosen already (ask the provider).
            ValidationError: for a code that is not ISO 3166-1 alpha-2.
        """

        def change(call: Call) -> None:
            chosen = call.account.profile.country
            if chosen is not None:
                raise ConflictError(
                    f"country of account {call.account.id!r}",
                    f"is {chosen}; ask the provider to change it",
                )
            call.account.change_country(country)

        return self._edit(change)

    def fill_in_email(self, email: str) -> ProfileView:
        """Give the main email, once: afterwards only the provider changes it.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ConflictError: when the main email is given already (ask the provider).
            ValidationError: for a malformed or empty email.
        """

        def change(call: Call) -> None:
            current = call.account.profile.email
            if current:
                raise ConflictError(
                    f"main email of account {call.account.id!r}",
                    f"is {current}; ask the provider to change it",
                )
            given: object = email
            if not isinstance(given, str) or not given.strip():
                raise ValidationError(
                    "email", email, "expected an address such as 'name@example.com'"
                )
            call.account.change_email(email)

        return self._edit(change)

    # ------------------------------------------------------------------ deletion

    def request_deletion(self) -> DeletionRequested:
        """Ask to delete the account: every service stops, nothing new starts (SPEC L9).

        Auto-renewal is switched off for every service, autopayment and card autopay
        are stopped, running services are stopped by the administrator role and orders
        awaiting payment are cancelled with their unpaid invoices. Other open invoices
        stay payable, so nothing owed is forgotten. The request waits for the provider
        (:meth:`cabinet_billing.app.staff.Staff.confirm_deletion`) or for the owner to
        withdraw it (:meth:`withdraw_deletion`).

        Raises:
            AccessDeniedError: unless the user is the account's owner.
            ConflictError: when a deletion is pending already or the account is deleted.
        """
        with self._gate.open(OWNER) as call:
            uow, now, account = call.uow, call.now, call.account
            account.ensure_not_closing("request its deletion again")
            account.set_auto_renew_default(False)
            profile = uow.profiles.get(account.id)
            for sub in profile.subscriptions:
                sub.switch_off()
            profile.autopay = None
            card = profile.card_autopay
            if card is not None and card.status is not CardAutopayStatus.STOPPED:
                card.stop()
            events = stop_for_deletion(uow, account.id, now)
            stopped = tuple(e.service_id for e in events)
            _cancel_unpaid_orders(uow, account.id, now)
            account.request_deletion(by=call.user.id, at=now, stopped_services=stopped)
            event = DeletionRequested(account_id=account.id, at=now, service_ids=stopped)
            queued = self._ctx.commit(uow, [*events, event])
        self._ctx.send(queued)
        return event

    def withdraw_deletion(self) -> DeletionWithdrawn:
        """Withdraw a pending deletion request: the services it stopped run again.

        Services stopped for the request start again (an expired period then expires as
        usual); auto-renewal, autopayment and card autopay stay off until the customer
        switches them on, and cancelled orders stay cancelled.

        Raises:
            AccessDeniedError: unless the user is the account's owner.
            ConflictError: when no deletion is pending.
        """
        with self._gate.open(OWNER) as call:
            uow, now, account = call.uow, call.now, call.account
            request = account.withdraw_deletion(by=call.user.id, at=now)
            resumed: list[str] = []
            for service_id in request.stopped_services:
                service = uow.services.get(service_id)
                if service.status is ServiceStatus.STOPPED_BY_ADMIN and service.can(
                    ServiceAction.UNBLOCK, _BILLING.role
                ):
                    service.unblock(_BILLING, now, "deletion withdrawn")
                    resumed.append(service_id)
            event = DeletionWithdrawn(account_id=account.id, at=now, service_ids=tuple(resumed))
            queued = self._ctx.commit(uow, [event])
        self._ctx.send(queued)
        return event


def hold_deletion(uow: UnitOfWork, account: Account, now: datetime) -> list[ServiceStopped]:
    """Keep an account that is being deleted as its deletion left it (the daily run's step).

    While a request is pending, a service that finished opening (or was started by
    staff) is stopped; once the deletion is confirmed, what can be deleted is deleted.
    Nothing happens to other accounts.
    """
    if account.pending_deletion is not None:
        stopped = stop_for_deletion(uow, account.id, now)
        account.note_stopped_for_deletion(e.service_id for e in stopped)
        return stopped
    if account.is_deleted:
        delete_services(uow, account.id, now)
    return []


def holds_deletion_work(account: Account, services: Iterable[Service]) -> bool:
    """Whether :func:`hold_deletion` has something to do for these services of the account.

    A service that auto-renews or could still run while a request is pending, one that
    may be deleted once the deletion is confirmed. The services change only by a use
    case (opening finished, staff started one) or by the billing run itself, so with
    nothing to do now there is nothing until then.
    """
    if account.pending_deletion is not None:
        return any(
            s.auto_renew or s.can(ServiceAction.BLOCK_BY_ADMIN, _BILLING.role) for s in services
        )
    return account.is_deleted and any(
        s.status is not ServiceStatus.DELETED and s.can(ServiceAction.DELETE, _SYSTEM.role)
        for s in services
    )


def delete_services(uow: UnitOfWork, account_id: str, now: datetime) -> tuple[str, ...]:
    """Delete every service of a deleted account that may be deleted now.

    A service still processing is deleted by a later run, once it has finished.
    """
    deleted: list[str] = []
    for service in uow.services.for_account(account_id):
        if service.status is not ServiceStatus.DELETED and service.can(
            ServiceAction.DELETE, _SYSTEM.role
        ):
            service.delete(_SYSTEM, now, "account deleted")
            deleted.append(service.id)
    return tuple(deleted)


def stop_for_deletion(uow: UnitOfWork, account_id: str, now: datetime) -> list[ServiceStopped]:
    """Stop every running service of an account whose deletion is asked for.

    Used when the request is made and by the daily run, which stops a service that
    finished opening (or was started) while the request is pending.
    """
    events: list[ServiceStopped] = []
    for service in uow.services.for_account(account_id):
        if service.auto_renew:
            service.set_auto_renew(False)
        if service.can(ServiceAction.BLOCK_BY_ADMIN, _BILLING.role):
            service.block_by_admin(_BILLING, now, DELETION_REASON)
            events.append(
                ServiceStopped(
                    account_id=account_id,
                    at=now,
                    service_id=service.id,
                    reason=DELETION_REASON,
                ),
            )
    return events


def _cancel_unpaid_orders(uow: UnitOfWork, account_id: str, now: datetime) -> None:
    """Cancel the orders nobody paid for yet, with their invoices: nothing is owed for them."""
    for invoice in uow.invoices.for_account(account_id):
        if not invoice.is_open() or invoice.payments:
            continue
        services = [uow.services.get(ln.service_id) for ln in invoice.lines if ln.service_id]
        if not services or not all(s.awaiting_payment for s in services):
            continue
        for service in services:
            if service.can(ServiceAction.CANCEL, ActorRole.CLIENT):
                service.cancel(Actor.client(account_id), now, DELETION_REASON)
        invoice.delete(now.date(), reason=DELETION_REASON)
