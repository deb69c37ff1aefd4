"""The notification outbox: notifications kept with the change that caused them (SPEC R9).

A use case that emits notifications queues them in the unit of work that makes the
change, so they are committed with it or not at all; they are delivered to the
:class:`~cabinet_billing.ports.notifier.Notifier` after the commit. An
:class:`OutboxMessage` is one queued notification and what became of it: delivered,
waiting for another attempt after the notifier failed, or given up once the
:class:`DeliveryPolicy`'s attempts are spent.

>>> from datetime import datetime, timedelta, timezone
>>> from cabinet_billing.domain.notifications import Notification, NotificationCategory
>>> at = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
>>> message = OutboxMessage(Notification("acc-1", NotificationCategory.FINANCE, "invoice.paid", at))
>>> policy = DeliveryPolicy(retry_delays=(timedelta(minutes=5),))
>>> failed = message.failed(at, "ConnectionError: refused", policy)
>>> failed.status.value, failed.attempts, failed.next_attempt_at.time()
('pending', 1, datetime.time(12, 5))
>>> failed.due(at), failed.due(at + timedelta(minutes=5))
(False, True)
>>> failed.failed(at, "ConnectionError: refused", policy).status.value
'given_up'
>>> message.delivered(at).status.value
'delivered'
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from cabinet_billing.domain.checks import aware
from cabinet_billing.domain.notifications import Notification
from cabinet_billing.errors import ConflictError, ValidationError

__all__ = ["DEFAULT_RETRY_DELAYS", "DeliveryPolicy", "OutboxMessage", "OutboxStatus"]

#: How long the outbox waits after each failed delivery before the next attempt: 1 minute,
#: 10 minutes, 1 hour, 6 hours, 1 day. Six attempts in all, over about 31 hours.
DEFAULT_RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)

#: The longest error text kept with a message.
_ERROR_LENGTH = 500


def _delays(value: object) -> tuple[timedelta, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValidationError("retry_delays", value, "expected a sequence of timedelta")
    delays = tuple(value)
    if len(delays) > 100:  # noqa: PLR2004 - a bound, stated in the message
        raise ValidationError("retry_delays", len(delays), "at most 100 retries")
    for delay in delays:
        if not isinstance(delay, timedelta) or delay < timedelta(0):
            raise ValidationError("retry_delays", delay, "each delay is a timedelta of 0 or more")
    return delays


@attrs.frozen
class DeliveryPolicy:
    """How often a notification the notifier failed to take is tried again.

    Args:
        retry_delays: the wait after each failed attempt; their number is the number of
            retries, so a notification is tried ``len(retry_delays) + 1`` times at most
            and then given up (kept in the outbox, marked ``given_up``).
        batch_size: how many messages one delivery reads at a time.
    """

    retry_delays: tuple[timedelta, ...] = attrs.field(
        default=DEFAULT_RETRY_DELAYS, converter=_delays
    )
    batch_size: int = attrs.field(default=500)

    @batch_size.validator
    def _check_batch_size(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError("batch_size", value, "must be an integer of at least 1")

    @property
    def attempts(self) -> int:
        """The most attempts a notification gets."""
        return len(self.retry_delays) + 1


class OutboxStatus(enum.Enum):
    """What became of a queued notification."""

    PENDING = "pending"
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


@attrs.frozen
class OutboxMessage:
    """One notification in the outbox and its delivery so far.

    Attributes:
        notification: what to deliver; its key identifies the message.
        status: pending, delivered or given up.
        attempts: failed attempts so far.
        next_attempt_at: when a pending message that failed may be tried again (``None``:
            at once).
        last_error: what the notifier raised last time (empty: nothing yet).
        done_at: when it was delivered or given up.
    """

    notification: Notification
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = attrs.field(
        default=None, validator=attrs.validators.optional(aware)
    )
    last_error: str = ""
    done_at: datetime | None = attrs.field(default=None, validator=attrs.validators.optional(aware))

    @property
    def key(self) -> str:
        """The notification's key."""
        return self.notification.key

    @property
    def account_id(self) -> str:
        """The account the notification is for."""
        return self.notification.account_id

    def due(self, now: datetime) -> bool:
        """Whether the message should be tried at ``now``."""
        return self.status is OutboxStatus.PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )

    def requeued(self) -> OutboxMessage:
        """A given-up message queued again: tried at the next delivery, with every attempt.

        Its last error is kept until the next attempt replaces it.

        Raises:
            ConflictError: unless the message was given up.
        """
        if self.status is not OutboxStatus.GIVEN_UP:
            raise ConflictError(
                f"outbox message {self.key!r}",
                f"is {self.status.value}; only a given-up message is queued again",
            )
        return attrs.evolve(
            self, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None, done_at=None
        )

    def delivered(self, at: datetime) -> OutboxMessage:
        """The message once the notifier took it."""
        # Every message delivered takes this: built directly, not through attrs.evolve.
        return OutboxMessage(
            self.notification, OutboxStatus.DELIVERED, self.attempts, None, self.last_error, at
        )

    def failed(self, at: datetime, error: str, policy: DeliveryPolicy) -> OutboxMessage:
        """The message after the notifier failed at ``at``: retried later, or given up."""
        attempts = self.attempts + 1
        error = error[:_ERROR_LENGTH]
        if attempts >= policy.attempts:
            return attrs.evolve(
                self,
                status=OutboxStatus.GIVEN_UP,
                attempts=attempts,
                next_attempt_at=None,
                last_error=error,
                done_at=at,
            )
        return attrs.evolve(
            self,
            attempts=attempts,
            next_attempt_at=at + policy.retry_delays[attempts - 1],
            last_error=error,
        )
