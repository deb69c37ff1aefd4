"""The notification outbox.

Notifications are queued in ``outbox`` by the unit of work that makes the change they
tell about, and delivered after it committed; a row keeps whether the notification was
delivered, how often delivering it failed and when it is tried again. A database upgraded
from an earlier revision has an empty outbox: what earlier versions sent was sent at once.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the outbox table."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.create_table(
        f"{p}outbox",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("at", types.Instant(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", types.Instant(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("done_at", types.Instant(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.Column("data", types.Payload(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", name=f"{p}outbox_pkey"),
        schema=s,
    )
    op.create_index(f"{p}outbox_status_idx", f"{p}outbox", ["status", "row_order"], schema=s)
