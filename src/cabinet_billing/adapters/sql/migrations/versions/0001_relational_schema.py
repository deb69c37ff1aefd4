"""The relational schema: one table per aggregate, child tables, counters and keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cabinet_billing.adapters.sql import schema as types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the store."""
    tables: types.Tables = context.config.attributes["tables"]
    p, s = tables.prefix, tables.schema
    q = f"{s}." if s else ""
    op.create_table(
        f"{p}account_users",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}account_users_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}account_users_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}accounts",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("login", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("profile_type", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("tax_id", sa.String(length=200), nullable=False),
        sa.Column("verification", sa.String(length=200), nullable=False),
        sa.Column("service_code", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}accounts_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}accounts_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}billing_profiles",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}billing_profiles_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}billing_profiles_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}counters",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("value >= 1", name=f"{p}counters_value_check"),
        sa.PrimaryKeyConstraint("account_id", "name", name=f"{p}counters_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}document_books",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}document_books_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}document_books_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}expense_books",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}expense_books_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}expense_books_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}invoices",
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("tax", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("gross", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column(
            "amount_paid", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False
        ),
        sa.Column(
            "amount_due", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False
        ),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("payment_method_id", sa.String(length=200), nullable=True),
        sa.Column("payer_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}invoices_currency_check"),
        sa.CheckConstraint("version >= 1", name=f"{p}invoices_version_check"),
        sa.PrimaryKeyConstraint("account_id", "invoice_id", name=f"{p}invoices_pkey"),
        sa.UniqueConstraint("invoice_id", name=f"{p}invoices_invoice_id_key"),
        sa.UniqueConstraint("number", name=f"{p}invoices_number_key"),
        schema=s,
    )
    op.create_index(f"{p}invoices_is_open_idx", f"{p}invoices", ["is_open"], unique=False, schema=s)
    op.create_index(
        f"{p}invoices_issued_on_idx", f"{p}invoices", ["issued_on"], unique=False, schema=s
    )
    op.create_index(f"{p}invoices_status_idx", f"{p}invoices", ["status"], unique=False, schema=s)
    op.create_table(
        f"{p}keys",
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("key", name=f"{p}keys_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}ledgers",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}ledgers_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}ledgers_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}payer_books",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("version >= 1", name=f"{p}payer_books_version_check"),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}payer_books_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}payments",
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("created_at", types.Instant(timezone=True), nullable=False),
        sa.Column("method_id", sa.String(length=200), nullable=True),
        sa.Column("invoice_id", sa.String(length=200), nullable=True),
        sa.Column("payer_id", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("fee", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("total", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("cashback", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}payments_currency_check"),
        sa.CheckConstraint("version >= 1", name=f"{p}payments_version_check"),
        sa.PrimaryKeyConstraint("account_id", "payment_id", name=f"{p}payments_pkey"),
        sa.UniqueConstraint("payment_id", name=f"{p}payments_payment_id_key"),
        schema=s,
    )
    op.create_index(
        f"{p}payments_created_at_idx", f"{p}payments", ["created_at"], unique=False, schema=s
    )
    op.create_index(f"{p}payments_status_idx", f"{p}payments", ["status"], unique=False, schema=s)
    op.create_table(
        f"{p}services",
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("plan_id", sa.String(length=200), nullable=False),
        sa.Column("plan_name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("billing_mode", sa.String(length=200), nullable=False),
        sa.Column("price", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_unit", sa.String(length=200), nullable=False),
        sa.Column("period_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", types.Instant(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=200), nullable=True),
        sa.Column("paid_until", sa.Date(), nullable=True),
        sa.Column("anchor", sa.Date(), nullable=True),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}services_currency_check"),
        sa.CheckConstraint("version >= 1", name=f"{p}services_version_check"),
        sa.PrimaryKeyConstraint("account_id", "service_id", name=f"{p}services_pkey"),
        sa.UniqueConstraint("service_id", name=f"{p}services_service_id_key"),
        schema=s,
    )
    op.create_index(
        f"{p}services_paid_until_idx", f"{p}services", ["paid_until"], unique=False, schema=s
    )
    op.create_index(f"{p}services_status_idx", f"{p}services", ["status"], unique=False, schema=s)
    op.create_table(
        f"{p}tickets",
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("related_service_id", sa.String(length=200), nullable=True),
        sa.Column("unread_by_customer", sa.Boolean(), nullable=False),
        sa.Column("unread_by_staff", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.Column("row_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("version >= 1", name=f"{p}tickets_version_check"),
        sa.PrimaryKeyConstraint("account_id", "ticket_id", name=f"{p}tickets_pkey"),
        sa.UniqueConstraint("ticket_id", name=f"{p}tickets_ticket_id_key"),
        schema=s,
    )
    op.create_index(f"{p}tickets_status_idx", f"{p}tickets", ["status"], unique=False, schema=s)
    op.create_table(
        f"{p}acts",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("act_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("payer_id", sa.String(length=200), nullable=True),
        sa.Column("tax_rate", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("tax_name", sa.String(length=200), nullable=False),
        sa.Column("tax_mode", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("tax", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("gross", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}acts_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}document_books.account_id"],
            name=f"{p}acts_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "act_id", name=f"{p}acts_pkey"),
        sa.UniqueConstraint("number", name=f"{p}acts_number_key"),
        schema=s,
    )
    op.create_table(
        f"{p}balances",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}balances_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}ledgers.account_id"],
            name=f"{p}balances_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "currency", name=f"{p}balances_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}contracts",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.String(length=200), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}document_books.account_id"],
            name=f"{p}contracts_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "number", name=f"{p}contracts_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}credit_lines",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "credit_limit", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False
        ),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}credit_lines_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}billing_profiles.account_id"],
            name=f"{p}credit_lines_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=f"{p}credit_lines_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}done_keys",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("done_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}billing_profiles.account_id"],
            name=f"{p}done_keys_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "done_key", name=f"{p}done_keys_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}expenses",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("expense_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("charged_on", sa.Date(), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=True),
        sa.Column("service_name", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("tax", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("unpaid", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("payer_id", sa.String(length=200), nullable=True),
        sa.Column("act_id", sa.String(length=200), nullable=True),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}expenses_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}expense_books.account_id"],
            name=f"{p}expenses_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "expense_id", name=f"{p}expenses_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}invoice_lines",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=True),
        sa.Column("expense_id", sa.String(length=200), nullable=True),
        sa.Column("paid_until", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("tax", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("gross", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("tax_name", sa.String(length=200), nullable=True),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}invoice_lines_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id", "invoice_id"],
            [f"{q}{p}invoices.account_id", f"{q}{p}invoices.invoice_id"],
            name=f"{p}invoice_lines_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "invoice_id", "position", name=f"{p}invoice_lines_pkey"
        ),
        schema=s,
    )
    op.create_index(
        f"{p}invoice_lines_service_id_idx",
        f"{p}invoice_lines",
        ["service_id"],
        unique=False,
        schema=s,
    )
    op.create_table(
        f"{p}invoice_payments",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}invoice_payments_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id", "invoice_id"],
            [f"{q}{p}invoices.account_id", f"{q}{p}invoices.invoice_id"],
            name=f"{p}invoice_payments_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "invoice_id", "position", name=f"{p}invoice_payments_pkey"
        ),
        schema=s,
    )
    op.create_table(
        f"{p}ledger_entries",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("at", types.Instant(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column(
            "balance_after", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False
        ),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("reverses", sa.BigInteger(), nullable=True),
        sa.Column("data", types.Payload(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}ledger_entries_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}ledgers.account_id"],
            name=f"{p}ledger_entries_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "seq", name=f"{p}ledger_entries_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}payers",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("payer_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=200), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}payer_books.account_id"],
            name=f"{p}payers_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "payer_id", name=f"{p}payers_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}payment_events",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("at", types.Instant(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "payment_id"],
            [f"{q}{p}payments.account_id", f"{q}{p}payments.payment_id"],
            name=f"{p}payment_events_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "payment_id", "event_key", name=f"{p}payment_events_pkey"
        ),
        schema=s,
    )
    op.create_table(
        f"{p}saved_methods",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("method_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("for_purchases", sa.Boolean(), nullable=False),
        sa.Column("for_subscriptions", sa.Boolean(), nullable=False),
        sa.Column("changed_at", types.Instant(timezone=True), nullable=True),
        sa.Column("data", types.Payload(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}billing_profiles.account_id"],
            name=f"{p}saved_methods_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "method_id", name=f"{p}saved_methods_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}service_history",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("at", types.Instant(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=200), nullable=True),
        sa.Column("to_status", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=200), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", types.Payload(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id", "service_id"],
            [f"{q}{p}services.account_id", f"{q}{p}services.service_id"],
            name=f"{p}service_history_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "service_id", "position", name=f"{p}service_history_pkey"
        ),
        schema=s,
    )
    op.create_table(
        f"{p}subscriptions",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("method_id", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("period_unit", sa.String(length=200), nullable=False),
        sa.Column("period_count", sa.BigInteger(), nullable=False),
        sa.Column("paid_until", sa.Date(), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.BigInteger(), nullable=False),
        sa.Column("last_failure_on", sa.Date(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}subscriptions_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}billing_profiles.account_id"],
            name=f"{p}subscriptions_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "service_id", name=f"{p}subscriptions_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}ticket_messages",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("ticket_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("at", types.Instant(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id", "ticket_id"],
            [f"{q}{p}tickets.account_id", f"{q}{p}tickets.ticket_id"],
            name=f"{p}ticket_messages_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "ticket_id", "position", name=f"{p}ticket_messages_pkey"
        ),
        schema=s,
    )
    op.create_table(
        f"{p}users",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_owner", sa.Boolean(), nullable=False),
        sa.Column("data", types.Payload(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}account_users.account_id"],
            name=f"{p}users_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "user_id", name=f"{p}users_pkey"),
        schema=s,
    )
    op.create_table(
        f"{p}credit_statements",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("statement_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("block_on", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("paid", types.Amount(precision=38, scale=4, asdecimal=False), nullable=False),
        sa.Column("repaid_on", sa.Date(), nullable=True),
        sa.CheckConstraint("length(currency) = 3", name=f"{p}credit_statements_currency_check"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{q}{p}credit_lines.account_id"],
            name=f"{p}credit_statements_parent_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "statement_id", name=f"{p}credit_statements_pkey"),
        schema=s,
    )
