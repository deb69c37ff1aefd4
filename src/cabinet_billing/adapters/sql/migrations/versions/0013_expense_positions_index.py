"""An expense book's last position found by index seeks, without reading its expenses.

A book's new expenses are stored after its last one: loading a book reads the last
position of the account's expenses, which the primary key ``(account_id, expense_id)``
answered by reading every expense of the account (2.4 ms of a 9 ms renewal on SQLite
after 10,000 paid expenses). The partial index of unpaid expenses (revision 0012) now
holds their position too, and a second one holds the paid expenses' (``unpaid = 0``):
the last position is the greater of two index seeks, and the unpaid expenses are read
in their order from the first.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Put the position into the unpaid expenses' index and index the paid ones likewise."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    op.drop_index(f"{p}{types.UNPAID_EXPENSES_INDEX}", f"{p}expenses", schema=s)
    for name, only in (
        (types.UNPAID_EXPENSES_INDEX, sa.text("unpaid != 0")),
        (types.PAID_EXPENSES_INDEX, sa.text("unpaid = 0")),
    ):
        op.create_index(
            f"{p}{name}",
            f"{p}expenses",
            ["account_id", "position"],
            schema=s,
            postgresql_where=only,
            sqlite_where=only,
        )
