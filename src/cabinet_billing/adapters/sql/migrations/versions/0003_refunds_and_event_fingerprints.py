"""Partial refunds and gateway event fingerprints.

A payment keeps how much of it has been refunded (``payments.refunded``), and each of its
events the amount it carried and the amount it refunded (``payment_events.currency``,
``amount``, ``refunded``). Idempotency keys keep the fingerprint of what they stand for
(``keys.fingerprint``; empty for the keys recorded before), so a gateway event id seen
again with other content is told from a repeat. Every new column is empty (or ``''``) for
the rows already there, which is what they mean for them: nothing refunded in part, no
amount carried, no fingerprint recorded.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _amount() -> types.Amount:
    return types.Amount(precision=38, scale=4, asdecimal=False)


def upgrade() -> None:
    """Add the columns."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    with op.batch_alter_table(f"{p}payments", schema=s) as batch:
        batch.add_column(sa.Column("refunded", _amount(), nullable=True))
    with op.batch_alter_table(f"{p}payment_events", schema=s) as batch:
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("amount", _amount(), nullable=True))
        batch.add_column(sa.Column("refunded", _amount(), nullable=True))
        batch.create_check_constraint(
            f"{p}payment_events_currency_check", sa.text("length(currency) = 3")
        )
    with op.batch_alter_table(f"{p}keys", schema=s) as batch:
        batch.add_column(
            sa.Column("fingerprint", sa.String(length=128), nullable=False, server_default="")
        )
