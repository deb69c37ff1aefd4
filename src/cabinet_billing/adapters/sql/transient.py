"""Telling transient database failures from the others.

A failure is transient when the same unit of work may well succeed if it is tried again:
PostgreSQL's deadlock (SQLSTATE ``40P01``), serialization failure (``40001``), lock
timeout (``55P03``), a connection lost or refused (class ``08``, ``57P01``-``57P03``, or
a connection SQLAlchemy invalidated), and SQLite's "database is locked". The SQL unit of
work raises :class:`~cabinet_billing.errors.TransientStorageError` for them, after
rolling back; every other database error is left as it is.

>>> from sqlalchemy.exc import OperationalError
>>> class Deadlock(Exception):
...     sqlstate = "40P01"
>>> print(transient(OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))))
the store failed with a deadlock (SQLSTATE 40P01): deadlock detected; nothing was stored, try again
>>> transient(ValueError("not a database error")) is None
True
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from cabinet_billing.errors import TransientStorageError

__all__ = ["transient"]

_KINDS = {
    "40P01": "deadlock",
    "40001": "serialization failure",
    "55P03": "lock timeout",
    "57P01": "lost connection",
    "57P02": "lost connection",
    "57P03": "lost connection",
}

_SQLITE_BUSY = ("database is locked", "database table is locked")


def transient(exc: BaseException) -> TransientStorageError | None:
    """The typed error for a transient database failure; None for any other exception."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    code = str(code) if code else None
    detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    kind = _KINDS.get(code or "")
    if kind is None and code is not None and code.startswith("08"):
        kind = "lost connection"
    if kind is None and exc.connection_invalidated:
        kind = "lost connection"
    if kind is None and any(text in str(orig).lower() for text in _SQLITE_BUSY):
        kind = "database busy"
    if kind is None:
        return None
    return TransientStorageError(kind, code, detail)
