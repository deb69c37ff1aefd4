"""Document numbers taken without waiting for other accounts' transactions.

``number_claims`` keeps the document numbers taken and not yet stored with their document
(PostgreSQL): a unit of work takes a number in a transaction of its own, which advances
``counters`` and records the claim, and deletes the claim in its own transaction, so the
number is kept with the document or handed out again. Ids come from PostgreSQL sequences
created when first used, starting after the value their ``counters`` row reached.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.create_table(
        f"{p}number_claims",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", "value", name=f"{p}number_claims_pkey"),
        schema=s,
    )
