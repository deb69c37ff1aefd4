"""The review queue of bank transfers.

A bank statement line that is not credited automatically waits in ``bank_reviews`` with
its reason, linked to the account its invoice number names (``account_id`` is empty when
it names none), until a member of the staff credits it to an invoice or a balance, or
rejects it. A database upgraded from an earlier revision has an empty queue: earlier
versions kept only the line ids.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the bank review table."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.create_table(
        f"{p}bank_reviews",
        sa.Column("line_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", types.Instant(), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=True),
        sa.Column("credited_to", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=False),
        sa.Column("resolved_at", types.Instant(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}bank_reviews_currency_check"),
        sa.CheckConstraint("version >= 1", name=f"{p}bank_reviews_version_check"),
        sa.PrimaryKeyConstraint("account_id", "line_id", name=f"{p}bank_reviews_pkey"),
        sa.UniqueConstraint("line_id", name=f"{p}bank_reviews_line_id_key"),
        schema=s,
    )
    op.create_index(
        f"{p}bank_reviews_status_idx", f"{p}bank_reviews", ["status"], unique=False, schema=s
    )
