"""The SQL adapters: the store over SQLite or PostgreSQL through SQLAlchemy Core.

Install the ``sql`` extra (``pip install cabinet_billing[sql]``) and see
``docs/storage.md`` for wiring a host and querying the tables.

>>> from sqlalchemy import create_engine
>>> store = SqlStore(create_engine("sqlite://"))
>>> store.create_schema()
>>> with store.unit_of_work() as uow:
...     uow.sequences.next("invoice-number")
1
"""

from __future__ import annotations

from cabinet_billing.adapters.sql.errors import SchemaOutOfDateError, StoredDataError
from cabinet_billing.adapters.sql.schema import DEFAULT_PREFIX, Tables
from cabinet_billing.adapters.sql.store import SQLITE_PRAGMAS, SqlStore, SqlUnitOfWork

__all__ = [
    "DEFAULT_PREFIX",
    "SQLITE_PRAGMAS",
    "SchemaOutOfDateError",
    "SqlStore",
    "SqlUnitOfWork",
    "StoredDataError",
    "Tables",
]
