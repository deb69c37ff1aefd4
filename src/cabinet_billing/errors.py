"""Every error the library raises, rooted at :class:`BillingError`.

Each error names the offending value and what would have been allowed, and carries
both as attributes so that a host can render its own message. Where a built-in
exception fits, an error subclasses it too, so ``except ValueError`` in host code
keeps working.

>>> from cabinet_billing.errors import BillingError, CurrencyMismatchError
>>> issubclass(CurrencyMismatchError, TypeError), issubclass(CurrencyMismatchError, BillingError)
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable


def _listing(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values) or "none"


#: The longest text of an offending value that a message repeats in full.
SHOWN_VALUE_LENGTH = 80


def _short(value: object) -> object:
    """The value, or for a long one its start and its length, so that messages stay short."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= SHOWN_VALUE_LENGTH:
        return value
    return f"{text[:SHOWN_VALUE_LENGTH]}... ({len(text)} characters)"


class BillingError(Exception):
    """Root of every error raised by cabinet_billing."""


# ----------------------------------------------------------------------------- money


class InvalidAmountError(BillingError, ValueError):
    """An amount is not a finite decimal number, or has the wrong sign.

    Attributes:
        value: the refused input.
        reason: what is wrong with it.
    """

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid amount {value!r}: {reason}")


class PrecisionError(InvalidAmountError):
    """An amount has more decimal places than allowed (e.g. ``10.005 EUR`` for a payment).

    Attributes:
        places: the number of decimal places allowed.
    """

    def __init__(self, value: object, places: int) -> None:
        self.places = places
        super().__init__(value, f"at most {places} decimal place(s) allowed")


class AmountTooLargeError(InvalidAmountError):
    """An amount larger than storage holds (``NUMERIC(38)`` with 4 decimal places).

    Attributes:
        digits: the number of integer digits allowed.
    """

    def __init__(self, value: object, digits: int) -> None:
        self.digits = digits
        super().__init__(
            _short(value),
            f"more than {digits} integer digits; amounts are stored as NUMERIC(38) with "
            f"4 decimal places, so at most {'9' * digits}.9999 is allowed",
        )


class InvalidOperandError(BillingError, TypeError):
    """Arithmetic or a comparison between an amount and something that is not an amount.

    ``Money + 1`` or ``Money < Decimal("2")`` are refused: a bare number has no currency.

    Attributes:
        operation: what was attempted ("add", "compare" ...).
        amount: the amount.
        other: the refused operand.
    """

    def __init__(self, operation: str, amount: object, other: object) -> None:
        self.operation = operation
        self.amount = amount
        self.other = other
        code = getattr(getattr(amount, "currency", None), "code", "its currency")
        if operation == "multiply":
            allowed = "multiply it by a str, int or Decimal number"
        elif operation == "divide":
            allowed = f"divide it by a str, int or Decimal number, or by an amount in {code}"
        else:
            allowed = f"{operation} a Money amount in {code} instead"
        super().__init__(
            f"cannot {operation} {_short(other)!r} ({type(other).__name__}) and {amount!r}: "
            f"{allowed}",
        )


class UnknownCurrencyError(BillingError, LookupError):
    """A currency code that is not an ISO 4217 code known to the library."""

    def __init__(self, code: object) -> None:
        self.code = code
        super().__init__(f"unknown currency {code!r}: expected an ISO 4217 code such as 'EUR'")


class CurrencyMismatchError(BillingError, TypeError):
    """Two amounts in different currencies were combined, or an amount has the wrong currency.

    Attributes:
        got: the currency code that was given.
        expected: the currency code(s) that would have been accepted.
    """

    def __init__(self, got: str, expected: str | Iterable[str], what: str = "amount") -> None:
        self.got = got
        self.expected = (expected,) if isinstance(expected, str) else tuple(expected)
        super().__init__(
            f"{what} is in {got}, expected {' or '.join(self.expected) or 'no currency'}",
        )


class AmountOutOfRangeError(BillingError, ValueError):
    """An amount lies outside the range a payment method or rule accepts.

    Attributes:
        amount: the refused amount.
        minimum: the smallest accepted amount, or ``None``.
        maximum: the largest accepted amount, or ``None``.
    """

    def __init__(self, amount: object, minimum: object | None, maximum: object | None) -> None:
        self.amount = amount
        self.minimum = minimum
        self.maximum = maximum
        if minimum is not None and maximum is not None:
            allowed = f"from {minimum} to {maximum}"
        elif minimum is not None:
            allowed = f"at least {minimum}"
        else:
            allowed = f"at most {maximum}"
        super().__init__(f"amount {amount} is out of range: allowed {allowed}")


class ConversionTooSmallError(InvalidAmountError):
    """A conversion whose target rounds to nothing: the source would vanish.

    Attributes:
        source: the amount to convert.
        exact: its exact value in the target currency.
        rounded: what that rounds to (zero).
        rate: the pair and rate used, e.g. ``'UAH/EUR 0.0225'``.
        minimum: the smallest amount of the source currency that converts.
    """

    def __init__(
        self,
        source: object,
        exact: object,
        rounded: object,
        rate: str,
        minimum: object,
    ) -> None:
        self.source = source
        self.exact = exact
        self.rounded = rounded
        self.rate = rate
        self.minimum = minimum
        super().__init__(
            str(source),
            f"it is {_approximately(exact)} at {rate}, which rounds to {rounded}; "
            f"convert at least {minimum}",
        )


def _approximately(amount: object) -> str:
    # An exact quotient has 50 digits: a message shows twelve.
    value = getattr(amount, "amount", None)
    code = getattr(getattr(amount, "currency", None), "code", "")
    if value is None:
        return str(amount)
    if len(value.as_tuple().digits) <= 12:  # noqa: PLR2004 - the digits a message shows
        return f"{value:f} {code}"
    return f"about {value:.12g} {code}"


class ExchangeRateNotFoundError(BillingError, LookupError):
    """No exchange rate is known for a currency pair."""

    def __init__(self, base: str, quote: str, available: Iterable[str] = ()) -> None:
        self.base = base
        self.quote = quote
        self.available = tuple(available)
        super().__init__(
            f"no exchange rate from {base} to {quote}; known pairs: {_listing(self.available)}",
        )


# ----------------------------------------------------------------------------- general


class ValidationError(BillingError, ValueError):
    """A value does not satisfy a domain rule (a malformed tax id, an empty name ...).

    Attributes:
        field: the name of the offending field.
        value: the refused value.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r} is invalid: {reason}")


class InvalidArgumentError(ValidationError, TypeError):
    """An argument of the wrong kind handed to a use case, or one out of its bounds.

    A str where an amount belongs, a datetime for a billing day, text for a callback's
    body, a batch size of 0.

    It is a :class:`ValidationError` (and a ``ValueError``) and also a ``TypeError``, so
    host code catching either keeps working.
    """


class InvalidScenarioError(ValidationError):
    """A scenario (TOML text or file) that cannot be read or run as written.

    Attributes:
        step: the number of the step at fault (from 1), or ``None`` for the file itself.
    """

    def __init__(self, field: str, value: object, reason: str, step: int | None = None) -> None:
        self.step = step
        super().__init__(field, _short(value), reason)


class WeakHashParametersError(ValidationError):
    """Hash parameters cheaper than the library's floor (a scrypt cost ``n=2``)."""


class PerAccountNumberingError(ValidationError):
    """A per-account invoice sequence with a template that does not tell accounts apart."""

    def __init__(self, template: str) -> None:
        super().__init__(
            "template",
            template,
            "with a sequence per account every account's first invoice is number 1, so the "
            "template must tell accounts apart with {service_code} or {account}",
        )


class MissingPortError(ValidationError):
    """A setting that needs a port the host did not plug in (rates for paying across currencies).

    Raised when a :class:`~cabinet_billing.app.billing.Billing` is built, so that a
    setting never does nothing in silence.

    Attributes:
        field: the setting.
        port: the :class:`~cabinet_billing.app.context.Ports` field it needs.
    """

    def __init__(self, setting: str, port: str, needs: str) -> None:
        self.port = port
        super().__init__(
            setting,
            value=True,
            reason=f"it needs {needs}: plug one in as Ports({port}=...), or switch the setting off",
        )


class InvalidTextError(ValidationError):
    """Text that cannot be an id, a name or a message.

    It is empty, too long, or holds NUL, control or bidirectional-override characters. The
    message shows at most the start of a long value; :attr:`text` keeps all of it.

    Attributes:
        text: the refused text (or the refused value, when it is not text).
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.text = value
        super().__init__(field, _short(value), reason)


class NotFoundError(BillingError, LookupError):
    """An id that names nothing known.

    Attributes:
        kind: what was looked for ("invoice", "service" ...).
        key: the id that was not found.
    """

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} with id {key!r}")


class InvalidTransitionError(BillingError):
    """A state change that the state machine does not allow.

    Attributes:
        current: the current state.
        attempted: the state (or action) that was refused.
        allowed: what would have been allowed from the current state.
    """

    def __init__(self, current: object, attempted: object, allowed: Iterable[object]) -> None:
        self.current = current
        self.attempted = attempted
        self.allowed = tuple(allowed)
        super().__init__(
            f"cannot go from {current} to {attempted}; allowed from {current}: "
            f"{_listing(self.allowed)}",
        )


class AccessDeniedError(BillingError, PermissionError):
    """A user tried an action that their rights, or the account's settings, do not allow."""

    def __init__(self, who: object, action: str, reason: str = "no right to do this") -> None:
        self.who = who
        self.action = action
        self.reason = reason
        super().__init__(f"{who} may not {action}: {reason}")


class ProfileIncompleteError(BillingError):
    """Paying is refused until the profile is complete or the company is verified.

    Attributes:
        missing: the names of the required fields that are empty.
        pending_verification: whether a company profile awaits verification.
    """

    def __init__(self, missing: Iterable[str], pending_verification: bool = False) -> None:
        self.missing = tuple(missing)
        self.pending_verification = pending_verification
        parts = []
        if self.missing:
            parts.append(f"fill in {', '.join(self.missing)}")
        if pending_verification:
            parts.append("wait until the company profile is verified")
        super().__init__(f"paying is not possible yet: {'; '.join(parts) or 'profile incomplete'}")


class LimitExceededError(BillingError):
    """An action would take a capped metric past its plan limit.

    Attributes:
        metric: the capped metric.
        current: its current count.
        requested: how much the action adds.
        maximum: the cap.
    """

    def __init__(self, metric: str, current: int, requested: int, maximum: int) -> None:
        self.metric = metric
        self.current = current
        self.requested = requested
        self.maximum = maximum
        super().__init__(
            f"{metric}: {current} + {requested} would exceed the plan limit of {maximum} "
            f"(at most {max(maximum - current, 0)} more allowed)",
        )


class ConflictError(BillingError):
    """An action conflicts with the current state.

    For example a code word that is already set, the first user of an account deleted,
    or an id that already exists.

    Attributes:
        subject: what the action was about.
        reason: why it conflicts.
    """

    def __init__(self, subject: object, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class PaymentMethodFixedError(ConflictError):
    """An invoice paid another way than the method its order was checked out with.

    The method is chosen at checkout and never changes (SPEC C4): paying the order's
    invoice by another method, or from the balance when it was checked out for a method,
    needs a new order.

    Attributes:
        invoice_id: the invoice.
        fixed: the method chosen at checkout.
        asked: the method asked for (``"balance"`` for paying from the balance).
    """

    def __init__(self, invoice_id: str, fixed: str, asked: str) -> None:
        self.invoice_id = invoice_id
        self.fixed = fixed
        self.asked = asked
        super().__init__(
            f"invoice {_short(invoice_id)!r}",
            f"was checked out to be paid by {_short(fixed)!r}, not by {_short(asked)!r}: "
            f"pay it by {_short(fixed)!r}, or delete it and place a new order to pay "
            "another way",
        )


class PromoCodeError(BillingError, ValueError):
    """A promo code that does not exist, has expired, was used up or does not apply.

    Attributes:
        code: the promo code.
        reason: why it cannot be applied.
    """

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"promo code {code!r} cannot be applied: {reason}")


class OrderRejectedError(ValidationError):
    """An order the cabinet cannot place as given, naming the value and what is allowed.

    For example another account's order, a currency or payment method the settings do
    not offer, a plan the catalog does not sell, or days the order pays for that no
    pricing rule gives. Wrong amounts are not refused: every line is priced again.
    """


class PriceNotFoundError(NotFoundError):
    """A plan or add-on has no price for the asked period and currency.

    Attributes:
        item: the plan or add-on.
        period: the asked billing period.
        currency: the asked currency code.
        available: the period and currency pairs that do have a price.
    """

    def __init__(
        self,
        item: str,
        period: object,
        currency: str,
        available: Iterable[object],
    ) -> None:
        super().__init__("price", f"{item} for {period} in {currency}")
        self.item = item
        self.period = period
        self.currency = currency
        self.available = tuple(available)
        message = (
            f"no price for {item} for {period} in {currency}; available: {_listing(self.available)}"
        )
        self.args = (message,)


# ----------------------------------------------------------------------------- pay links


def _token_hint(token: object) -> str:
    # Whoever holds a pay link can pay the invoice: messages (and so logs) show its start only.
    text = str(token)
    return repr(text if len(text) <= 12 else f"{text[:12]}...")  # noqa: PLR2004 - a display length


class InvalidPayLinkError(BillingError, ValueError):
    """A pay link token that is malformed, was altered, or is signed with an unknown key.

    The message shows only the first characters of the token.

    Attributes:
        token: the refused token.
        reason: what is wrong with it.
    """

    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"pay link {_token_hint(token)} is not valid: {reason}")


class ExpiredPayLinkError(InvalidPayLinkError):
    """An authentic pay link whose expiry instant has passed: issue a new one.

    Attributes:
        invoice_id: the invoice the link pays.
        account_id: the account the invoice belongs to.
        expires_at: the instant the link stopped being valid.
        now: the instant it was presented.
    """

    def __init__(
        self,
        token: str,
        invoice_id: str,
        account_id: str,
        expires_at: object,
        now: object,
    ) -> None:
        self.invoice_id = invoice_id
        self.account_id = account_id
        self.expires_at = expires_at
        self.now = now
        super().__init__(
            token,
            f"the link to pay invoice {invoice_id!r} expired at {expires_at} and is valid "
            f"only until then (now {now}); issue a new link",
        )


class PayLinkTooOldError(ExpiredPayLinkError):
    """An expired pay link that is no longer re-issued: it expired too long ago.

    Attributes:
        reissue_within: how long after expiry links are re-issued.
    """

    def __init__(
        self,
        token: str,
        invoice_id: str,
        account_id: str,
        expires_at: object,
        now: object,
        *,
        reissue_within: object,
    ) -> None:
        self.invoice_id = invoice_id
        self.account_id = account_id
        self.expires_at = expires_at
        self.now = now
        self.reissue_within = reissue_within
        InvalidPayLinkError.__init__(
            self,
            token,
            f"the link to pay invoice {invoice_id!r} expired at {expires_at}, more than "
            f"{reissue_within} before now ({now}), and is no longer re-issued; copy a new "
            "link in the cabinet",
        )


class InsufficientFundsError(BillingError):
    """The balance does not cover an amount that must be paid from it.

    Attributes:
        needed: the amount to pay.
        available: what the balance holds.
        missing: ``needed - available``.
    """

    def __init__(self, needed: object, available: object, missing: object) -> None:
        self.needed = needed
        self.available = available
        self.missing = missing
        super().__init__(
            f"the balance of {available} does not cover {needed}: top up at least {missing}",
        )


class GatewayError(BillingError):
    """The payment provider refused a request or could not be reached."""


class GatewayTimeoutError(GatewayError, TimeoutError):
    """The payment provider did not answer in time; the outcome is unknown."""

    def __init__(self, operation: str, key: str) -> None:
        self.operation = operation
        self.key = key
        super().__init__(
            f"the payment provider did not answer {operation} (idempotency key {key!r}); "
            "retry with the same key",
        )


class InvalidWebhookError(GatewayError, ValueError):
    """A gateway callback that is malformed, unsigned or signed with the wrong key."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"gateway callback refused: {reason}")


class EventIdReusedError(ConflictError):
    """A gateway event id seen before arrived with other content.

    An event id names one event, as an idempotency key names one request: the provider
    may deliver an event many times, never another event under its id. Like a payment
    provider refusing an idempotency key reused with other parameters, the library
    refuses the event and changes nothing.

    Attributes:
        event_id: the reused id.
        payment_id: the payment the new content is about.
        kind: what the new content reports.
    """

    def __init__(self, event_id: str, payment_id: str, kind: str) -> None:
        self.event_id = event_id
        self.payment_id = payment_id
        self.kind = kind
        super().__init__(
            f"gateway event {_short(event_id)!r}",
            f"was processed before with other content; this one ({kind} of payment "
            f"{_short(payment_id)!r}) is refused and changes nothing: an event id may be "
            "delivered again only with the same content",
        )


# ----------------------------------------------------------------------------- documents


class PayerNotReplaceableError(ConflictError):
    """A payer cannot be replaced on a payment: its unpaid expenses are already in an act.

    Attributes:
        payer_id: the payer that would be replaced.
        act_ids: the acts that contain its unpaid expenses.
        expense_ids: those unpaid expenses.
    """

    def __init__(self, payer_id: str, act_ids: Iterable[str], expense_ids: Iterable[str]) -> None:
        self.payer_id = payer_id
        self.act_ids = tuple(act_ids)
        self.expense_ids = tuple(expense_ids)
        super().__init__(
            f"payer {payer_id!r}",
            f"has unpaid expenses {_listing(self.expense_ids)} in act(s) "
            f"{_listing(self.act_ids)}; pay the expenses, or delete the act(s) and make "
            "them out to the new payer",
        )


class DocumentExchangeError(BillingError):
    """An e-document exchange refused or failed to take a document.

    Attributes:
        provider: the exchange's name.
        document: the document's number.
        reason: what the exchange answered.
    """

    def __init__(self, provider: str, document: str, reason: str) -> None:
        self.provider = provider
        self.document = document
        self.reason = reason
        super().__init__(
            f"{provider} did not take document {document!r}: {reason}; "
            "check the connection and send it again",
        )


class MissingExtraError(BillingError, ImportError):
    """A feature needs an optional extra of the package that is not installed.

    Attributes:
        extra: the extra to install, e.g. ``"documents"``.
        missing: the module that could not be imported.
    """

    def __init__(self, extra: str, missing: str, feature: str) -> None:
        self.extra = extra
        self.missing = missing
        super().__init__(
            f"{feature} need the {extra!r} extra (module {missing!r} is not installed): "
            f"pip install 'cabinet_billing[{extra}]'",
            name=missing,
        )


# ----------------------------------------------------------------------------- credit


class CreditBlockedError(AccessDeniedError):
    """An action the credit policy forbids while the account's credit line is blocked.

    Attributes:
        account_id: the account whose credit line is blocked.
        blocked_on: the day the credit line was blocked.
        overdue: the overdue amount whose payment unblocks it.
        allowed: the actions that stay allowed while blocked.
    """

    def __init__(
        self,
        account_id: str,
        action: str,
        blocked_on: object,
        overdue: object,
        allowed: Iterable[object] = (),
    ) -> None:
        self.account_id = account_id
        self.blocked_on = blocked_on
        self.overdue = overdue
        self.allowed = tuple(allowed)
        super().__init__(
            account_id,
            action,
            f"the credit line is blocked since {blocked_on}; pay the overdue {overdue} to "
            f"unblock it (still allowed: {_listing(self.allowed)})",
        )


# ----------------------------------------------------------------------------- deletion


class DeletionPendingError(ConflictError):
    """An action refused while the account's deletion request waits for the provider.

    Nothing new starts on an account that is being deleted: no orders, renewals,
    auto-renewal, autopayment or card binding, until the request is withdrawn or confirmed.

    Attributes:
        account_id: the account.
        action: what was refused.
        requested_at: when the deletion was requested.
    """

    def __init__(self, account_id: str, action: str, requested_at: object) -> None:
        self.account_id = account_id
        self.action = action
        self.requested_at = requested_at
        super().__init__(
            f"account {account_id!r}",
            f"cannot {action}: its deletion requested at {requested_at} is pending; "
            "withdraw the request first",
        )


class AccountDeletedError(ConflictError):
    """An action refused because the account's deletion was confirmed.

    Attributes:
        account_id: the account.
        action: what was refused.
        deleted_at: when the provider confirmed the deletion.
    """

    def __init__(self, account_id: str, action: str, deleted_at: object) -> None:
        self.account_id = account_id
        self.action = action
        self.deleted_at = deleted_at
        super().__init__(
            f"account {account_id!r}",
            f"cannot {action}: the account was deleted at {deleted_at}",
        )


class TransientStorageError(BillingError):
    """The store failed in a way that trying again may cure; nothing of the unit of work stayed.

    A deadlock, a serialization failure, a lost connection or a database busy with
    another writer. The unit of work was rolled back (when the connection was lost while
    committing, the commit may have happened: the billing run's keys make trying again
    safe). The billing run tries the account again a few times
    (``BillingSettings.transient_retries``) and then reports it with this error.

    Attributes:
        kind: ``"deadlock"``, ``"serialization failure"``, ``"lock timeout"``,
            ``"lost connection"`` or ``"database busy"``.
        code: the SQLSTATE the database answered with, when it gave one.
        detail: the database's message.

    >>> print(TransientStorageError("deadlock", "40P01", "deadlock detected"))
    the store failed with a deadlock (SQLSTATE 40P01): deadlock detected; nothing was stored, try again
    """

    def __init__(self, kind: str, code: str | None, detail: str) -> None:
        self.kind = kind
        self.code = code
        self.detail = detail
        state = f" (SQLSTATE {code})" if code else ""
        super().__init__(
            f"the store failed with a {kind}{state}: {detail}; nothing was stored, try again"
        )


class MonthNotFinishedError(BillingError, ValueError):
    """A billing month closed before it is over: its acts would miss its last expenses.

    Attributes:
        month: the first day of the month asked for.
        today: the provider's today.

    >>> from datetime import date
    >>> print(MonthNotFinishedError(date(2024, 3, 1), date(2024, 3, 15)))
    month 2024-03 is not finished on 2024-03-15: it can be closed from 2024-04-01 on
    """

    def __init__(self, month: object, today: object) -> None:
        self.month = month
        self.today = today
        first = getattr(month, "month", 0)
        year = getattr(month, "year", 0)
        after = f"{year + first // 12:04d}-{first % 12 + 1:02d}-01"
        super().__init__(
            f"month {year:04d}-{first:02d} is not finished on {today}: "
            f"it can be closed from {after} on"
        )
