"""The cabinet's profile and the account's life: deletion requests (SPEC A1, L9)."""

from __future__ import annotations

from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import OWNER, Gate
from cabinet_billing.domain.autopay import CardAutopayStatus
from cabinet_billing.domain.events import BillingEvent, DeletionRequested, ServiceStopped
from cabinet_billing.domain.service import Actor, ServiceStatus

__all__ = ["CabinetProfile"]


class CabinetProfile:
    """The account's profile and deletion (the owner's)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def request_deletion(self) -> DeletionRequested:
        """Stop every service of the account and every automatic charge (SPEC L9).

        Auto-renewal is switched off for every service, autopayment and card autopay are
        stopped, and running services are stopped by the administrator role with the
        reason "deletion requested"; open invoices stay for the record, so nothing owed
        is forgotten.

        Raises:
            AccessDeniedError: unless the user is the account's owner.
        """
        with self._gate.open(OWNER) as call:
            uow, now, account_id = call.uow, call.now, call.account.id
            call.account.set_auto_renew_default(False)
            profile = uow.profiles.get(account_id)
            for sub in profile.subscriptions:
                sub.switch_off()
            profile.autopay = None
            card = profile.card_autopay
            if card is not None and card.status is not CardAutopayStatus.STOPPED:
                card.stop()
            stopped: list[str] = []
            events: list[BillingEvent] = []
            for service in uow.services.for_account(account_id):
                if service.status is ServiceStatus.DELETED:
                    continue
                service.set_auto_renew(False)
                if service.status is ServiceStatus.ACTIVE:
                    service.block_by_admin(Actor.admin("billing"), now, "deletion requested")
                    stopped.append(service.id)
                    events.append(
                        ServiceStopped(
                            account_id=account_id,
                            at=now,
                            service_id=service.id,
                            reason="deletion requested",
                        ),
                    )
            uow.keys.record(f"deletion:{account_id}:{now.isoformat()}")
            uow.commit()
        event = DeletionRequested(account_id=account_id, at=now, service_ids=tuple(stopped))
        self._ctx.notify([*events, event])
        return event
