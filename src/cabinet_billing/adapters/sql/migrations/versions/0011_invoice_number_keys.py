"""Invoices sorted and paged naturally in SQL: each invoice's number as a collation key.

A new column, ``invoices.number_key``: the invoice number's
:func:`~cabinet_billing.domain.numbering.document_collation_key`, a text that sorts
``HOR-999`` before ``HOR-1000`` when compared character by character (``COLLATE "C"``
on PostgreSQL), and an index on the invoice list's order: account, day, number key,
id. The key of every invoice already stored is computed here, in batches.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types
from cabinet_billing.domain.numbering import document_collation_key

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1000
"""Invoices whose keys are written per statement."""


def _key_type() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    """Add the column, fill it in for every stored invoice, and index it.

    The column stays nullable: making it NOT NULL would rebuild the table on SQLite,
    whose drop of the old table would cascade to the invoices' lines and payments.
    Every invoice the store writes has its key.
    """
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    name = f"{p}invoices"
    with op.batch_alter_table(name, schema=s) as batch:
        batch.add_column(sa.Column("number_key", _key_type(), nullable=True))
    invoices = sa.table(
        name,
        sa.column("invoice_id", sa.String()),
        sa.column("number", sa.String()),
        sa.column("number_key", sa.Text()),
        schema=s,
    )
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.select(invoices.c.invoice_id, invoices.c.number)
            .where(invoices.c.invoice_id > after)
            .order_by(invoices.c.invoice_id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            invoices.update()
            .where(invoices.c.invoice_id == sa.bindparam("b_id"))
            .values(number_key=sa.bindparam("b_key")),
            [{"b_id": i, "b_key": document_collation_key(n)} for i, n in rows],
        )
        after = rows[-1][0]
    op.create_index(
        f"{name}_listing_idx",
        name,
        ["account_id", "issued_on", "number_key", "invoice_id"],
        schema=s,
    )
