"""The Alembic revisions of the SQL store's schema, shipped with the package.

Run them with ``cabinet-billing db upgrade --url URL`` (see
:mod:`cabinet_billing.adapters.sql.commands`). Each revision reads the store's table
prefix and schema from the Alembic configuration, so one set of revisions serves every
host's naming.
"""
