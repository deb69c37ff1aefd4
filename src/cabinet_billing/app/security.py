r"""The cabinet's security settings: IP allowlist, code word, recent logins (SPEC A5).

Introserv's "Security" block: billing may be restricted to some addresses (one IP or
range ``a-b`` per line, nothing meaning no restriction), a code word that support asks
for on the phone can be set once and is never shown again, and the cabinet may show
the addresses of the last logins. Every call needs the right ``settings.manage``.

Saving an allowlist that leaves out the caller's own address would lock the caller out
(Introserv: "be careful: if you list addresses and leave yours out, you will not get
into billing"). Such a change is not saved: the result carries the warning, and the
change is saved only when repeated with ``confirm_lockout=True``.

Logins are recorded by :meth:`cabinet_billing.app.billing.Billing.login`, which admits
the user like any cabinet call (enabled, from an allowed address) and remembers the
address; the code word is reset only by the provider
(:meth:`cabinet_billing.app.staff.Staff.reset_code_word`).
"""

from __future__ import annotations

import attrs

from cabinet_billing.app import checks
from cabinet_billing.app.context import Context
from cabinet_billing.app.gate import ANY_USER, Gate
from cabinet_billing.domain.security import IpAllowlist, LoginRecord, SecuritySettings, parse_ip
from cabinet_billing.errors import ValidationError

__all__ = ["AllowlistChange", "CabinetSecurity", "SecurityView", "record_login"]


@attrs.frozen(kw_only=True)
class SecurityView:
    """What the cabinet shows of an account's security settings.

    The code word itself is never shown, only whether one is set.

    Attributes:
        ip_allowlist: the allowlist in the Introserv text format (``""``: no restriction).
        restricted: whether billing is restricted to the listed addresses.
        has_code_word: whether a code word is set.
        show_login_ips: whether the cabinet shows the addresses of recent logins.
        recent_logins: the recent logins, newest first (empty while showing them is off).
    """

    ip_allowlist: str
    restricted: bool
    has_code_word: bool
    show_login_ips: bool
    recent_logins: tuple[LoginRecord, ...]

    @classmethod
    def of(cls, security: SecuritySettings) -> SecurityView:
        """The view of an account's settings."""
        return cls(
            ip_allowlist=security.ip_allowlist.to_text(),
            restricted=security.ip_allowlist.restricted,
            has_code_word=security.has_code_word,
            show_login_ips=security.show_last_login_ip,
            recent_logins=security.recent_logins if security.show_last_login_ip else (),
        )


@attrs.frozen(kw_only=True)
class AllowlistChange:
    """What saving a billing IP allowlist did.

    Attributes:
        ip_allowlist: the new allowlist, normalised (one entry per line).
        applied: whether it was saved.
        warning: why the caller would lose access with it, or ``None``.
        caller_ip: the address the change was asked from (``None`` when not given).
    """

    ip_allowlist: str
    applied: bool
    warning: str | None
    caller_ip: str | None


def _lockout(allowlist: IpAllowlist, ip: str | None) -> str | None:
    """Why ``allowlist`` would refuse the caller calling from ``ip``, or ``None``."""
    if not allowlist.restricted:
        return None
    if ip is None:
        return (
            "this call gave no address, and once the allowlist is saved every call without "
            "an address is refused"
        )
    if not allowlist.allows(ip):
        return (
            f"your address {parse_ip(ip)} is not in the new allowlist: you would lose "
            "access to billing"
        )
    return None


class CabinetSecurity:
    """The account's security settings (right ``settings.manage``)."""

    def __init__(self, context: Context, gate: Gate) -> None:
        self._ctx = context
        self._gate = gate

    def view(self) -> SecurityView:
        """The allowlist, whether a code word is set, and the recent logins.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
        """
        with self._gate.open("settings.manage") as call:
            return SecurityView.of(call.account.security)

    def set_ip_allowlist(self, text: str, *, confirm_lockout: bool = False) -> AllowlistChange:
        r"""Replace the billing IP allowlist (Introserv format; ``""`` removes the restriction).

        When the new list would refuse the caller's own address (or the call gave no
        address), the list is not saved and the result says why; repeat with
        ``confirm_lockout=True`` to save it anyway.

        Args:
            text: one IP address or range ``a-b`` per line.
            confirm_lockout: save even when the caller would lose access.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: naming the malformed line; nothing changes.
        """
        if not isinstance(confirm_lockout, bool):
            raise ValidationError("confirm_lockout", confirm_lockout, "expected True or False")
        checks.instance("text", text, str, "the allowlist as text, one address or range a line")
        with self._gate.open("settings.manage") as call:
            allowlist = IpAllowlist.parse(text)
            warning = _lockout(allowlist, call.ip)
            applied = warning is None or confirm_lockout
            if applied:
                call.account.security.set_ip_allowlist(text)
                call.uow.commit()
        return AllowlistChange(
            ip_allowlist=allowlist.to_text(),
            applied=applied,
            warning=warning,
            caller_ip=call.ip,
        )

    def set_code_word(self, word: str) -> SecurityView:
        """Set the code word support asks for; it is possible once (SPEC A5).

        The word is kept only as a salted scrypt hash with the settings' cost
        (``BillingSettings.code_word_hashing``) and never shown again. Only the provider
        can reset it; after a reset the customer may set a new one.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ConflictError: when a code word is already set.
            ValidationError: for an empty word.
        """
        params = self._ctx.settings.code_word_hashing
        with self._gate.open("settings.manage") as call:
            security = call.account.security
            security.set_code_word(word, params=params)
            call.uow.commit()
        return SecurityView.of(security)

    def show_login_ips(self, *, enabled: bool) -> SecurityView:
        """Show, or hide, the addresses of the recent logins in the cabinet.

        Raises:
            AccessDeniedError: without the right ``settings.manage``.
            ValidationError: for anything but True or False.
        """
        if not isinstance(enabled, bool):
            raise ValidationError("enabled", enabled, "expected True or False")
        with self._gate.open("settings.manage") as call:
            security = call.account.security
            security.set_show_last_login_ip(enabled)
            call.uow.commit()
        return SecurityView.of(security)


def record_login(context: Context, gate: Gate) -> LoginRecord:
    """Admit a login of ``gate``'s user from ``gate.ip`` and remember the address.

    Raises:
        ValidationError: when the login gives no address.
        AccessDeniedError: for a user of another account, a disabled user or an address
            the allowlist refuses; nothing is recorded.
        NotFoundError: for an unknown account.
    """
    if gate.ip is None:
        raise ValidationError("ip", None, "a login is recorded with the address it came from")
    with gate.open(ANY_USER) as call:
        record = call.account.security.record_login(
            gate.ip,
            call.now,
            user_id=call.user.id,
            keep=context.settings.logins_kept,
        )
        call.uow.commit()
    return record
