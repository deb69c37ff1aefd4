"""The schema revision this version of the library works with.

The revisions themselves are Alembic scripts in
:mod:`cabinet_billing.adapters.sql.migrations`; ``cabinet-billing db upgrade`` applies
them. A test checks that :data:`HEAD` is the last of them.
"""

from __future__ import annotations

__all__ = ["HEAD"]

HEAD = "0013"
"""The head revision: the relational schema of :mod:`cabinet_billing.adapters.sql.schema`."""
