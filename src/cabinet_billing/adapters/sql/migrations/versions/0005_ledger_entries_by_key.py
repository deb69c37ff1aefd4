"""Ledger entries found by idempotency key.

A ledger is loaded with its running balances only; an entry booked under an idempotency
key is looked up when the key comes again, through ``ledger_entries_key_idx`` on
``(account_id, idempotency_key)``. Nothing is rewritten.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the index."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.create_index(
        f"{p}{types.LEDGER_KEY_INDEX}",
        f"{p}ledger_entries",
        ["account_id", "idempotency_key"],
        schema=s,
    )
