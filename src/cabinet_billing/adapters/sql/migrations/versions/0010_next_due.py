"""The due index: each account's next event date, so a day's run visits only what is due.

A new table, ``next_due``: one row per account with ``next_due``, the earliest day the
billing run has something to do for it (indexed with the account id), and
``due_marks``, how many commits made the account due, which keeps a run from
overwriting a change made while it billed the account. An upgraded database has every
existing account due at once (``0001-01-01``): its next run visits each of them once
and sets their dates.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and its index; every existing account is due."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    q = f"{s}." if s else ""
    op.create_table(
        f"{p}next_due",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=False),
        sa.Column("due_marks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}accounts.account_id"],
            name=f"{p}next_due_account_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}next_due_pkey"),
        schema=s,
    )
    op.create_index(f"{p}next_due_idx", f"{p}next_due", ["next_due", "account_id"], schema=s)
    op.execute(
        f"INSERT INTO {q}{p}next_due (account_id, next_due, due_marks) "  # noqa: S608 - our own names
        f"SELECT account_id, '0001-01-01', 0 FROM {q}{p}accounts"
    )
