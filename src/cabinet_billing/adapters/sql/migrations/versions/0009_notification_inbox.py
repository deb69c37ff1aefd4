"""The notification inbox: every notification an account got, and who read it.

Two new tables: ``inbox``, one row per notification kept in an account's inbox (its
key, category, kind, instant, whether it is always shown, the insertion order and its
values as ``data``), and ``inbox_reads``, one row per entry a user marked read. Nothing
existing changes: a database upgraded from 0008 starts with empty inboxes.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the inbox tables."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.create_table(
        f"{p}inbox",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("at", types.Instant(), nullable=False),
        sa.Column("always_shown", sa.Boolean(), nullable=False),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.Column("data", types.Payload(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", name=f"{p}inbox_pkey"),
        schema=s,
    )
    op.create_index(f"{p}inbox_order_idx", f"{p}inbox", ["account_id", "row_order"], schema=s)
    op.create_table(
        f"{p}inbox_reads",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("read_at", types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", "user_id", name=f"{p}inbox_reads_pkey"),
        schema=s,
    )
