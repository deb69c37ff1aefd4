"""Alembic's environment: run the revisions on the connection the command gives."""

from __future__ import annotations

from alembic import context

from cabinet_billing.adapters.sql.schema import Tables

config = context.config
tables: Tables = config.attributes["tables"]
context.configure(
    connection=config.attributes["connection"],
    target_metadata=tables.metadata,
    version_table=tables.version_table,
    version_table_schema=tables.schema,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
