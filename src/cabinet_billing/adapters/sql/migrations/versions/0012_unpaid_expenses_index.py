"""An account's unpaid expenses found by an index, without reading its paid ones.

An expense book is loaded with its unpaid expenses only (``unpaid != 0``); the primary
key ``(account_id, expense_id)`` found them by reading every expense of the account.
A partial index on ``account_id`` of the unpaid rows only (PostgreSQL and SQLite) makes
that load cost the same after 10,000 paid expenses as after 10.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the partial index of unpaid expenses."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    unpaid = sa.text("unpaid != 0")
    op.create_index(
        f"{p}{types.UNPAID_EXPENSES_INDEX}",
        f"{p}expenses",
        ["account_id"],
        schema=s,
        postgresql_where=unpaid,
        sqlite_where=unpaid,
    )
