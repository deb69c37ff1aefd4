"""Credit notes: the numbered notes of refunds, kept with the account's documents.

A new child table of ``document_books``, ``credit_notes``: one row per note with its
number (unique), date, reason, status, the invoice and payment it corrects, the payer,
and its net, tax and gross; its lines are in the row's ``data``. Nothing existing
changes: a database upgraded from 0007 has no credit notes, which is what it had.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _amount() -> types.Amount:
    return types.Amount(precision=38, scale=4, asdecimal=False)


def upgrade() -> None:
    """Create the table."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    q = f"{s}." if s else ""
    op.create_table(
        f"{p}credit_notes",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("credit_note_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=True),
        sa.Column("payment_id", sa.String(length=200), nullable=True),
        sa.Column("payer_id", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", _amount(), nullable=False),
        sa.Column("tax", _amount(), nullable=False),
        sa.Column("gross", _amount(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}credit_notes_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}document_books.account_id"],
            name=f"{p}credit_notes_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "credit_note_id", name=f"{p}credit_notes_pkey"),
        sa.UniqueConstraint("number", name=f"{p}credit_notes_number_key"),
        schema=s,
    )
