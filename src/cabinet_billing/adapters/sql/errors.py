"""The errors of the SQL store: a database that is not what this library expects.

>>> from cabinet_billing.errors import BillingError
>>> issubclass(SchemaOutOfDateError, BillingError), issubclass(StoredDataError, ValueError)
(True, True)
"""

from __future__ import annotations

from cabinet_billing.errors import BillingError

__all__ = ["SchemaOutOfDateError", "StoredDataError"]


class SchemaOutOfDateError(BillingError, RuntimeError):
    """The database's schema is not the one this version of the library works with.

    Attributes:
        found: the revision the database is at (None: no revision, or tables of an
            earlier version without one).
        expected: the revision this library needs.

    >>> print(SchemaOutOfDateError(None, "0002"))
    the database has no cabinet_billing schema revision, this version needs 0002: run `cabinet-billing db upgrade --url URL`
    """

    def __init__(self, found: str | None, expected: str) -> None:
        self.found = found
        self.expected = expected
        at = (
            "has no cabinet_billing schema revision" if found is None else f"is at revision {found}"
        )
        super().__init__(
            f"the database {at}, this version needs {expected}: "
            "run `cabinet-billing db upgrade --url URL`"
        )


class StoredDataError(BillingError, ValueError):
    """Stored data that this version of the library cannot read without losing something.

    Attributes:
        where: the table, class or column.
        reason: what is wrong and what to do.

    >>> print(StoredDataError("Invoice", "holds field(s) colour that ... does not know"))
    stored Invoice holds field(s) colour that ... does not know
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"stored {where} {reason}")
