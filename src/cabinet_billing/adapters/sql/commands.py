"""``cabinet-billing db``: bring a database's schema up to date, or say where it stands.

``upgrade`` applies the Alembic revisions shipped in
:mod:`cabinet_billing.adapters.sql.migrations` up to the head (or a named revision),
bringing in the data of a database made by an earlier version; ``current`` prints the
revision a database is at; ``history`` lists the revisions. Each takes the database URL
and, when the host chose them, the store's table prefix and schema::

    cabinet-billing db upgrade --url sqlite:///billing.db
    cabinet-billing db current --url postgresql+psycopg://billing@db/billing --prefix cb_

The same from Python:

>>> from sqlalchemy import create_engine
>>> engine = create_engine("sqlite://")
>>> upgrade(engine)
>>> current(engine) == HEAD
True
>>> [revision for revision, _ in history()][:3]
['0001', '0002', '0003']
>>> history()[-1][0] == HEAD
True
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

from cabinet_billing.adapters.sql.revision import HEAD
from cabinet_billing.adapters.sql.schema import DEFAULT_PREFIX, Tables, tables

__all__ = ["HEAD", "current", "history", "main", "upgrade"]

_SCRIPTS = "cabinet_billing.adapters.sql:migrations"


def _config(found: Tables) -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    config.attributes["tables"] = found
    return config


def upgrade(
    engine: Engine,
    *,
    prefix: str = DEFAULT_PREFIX,
    schema: str | None = None,
    revision: str = "head",
) -> None:
    """Apply the revisions a database lacks, up to ``revision``, in one transaction.

    Args:
        engine: the database.
        prefix: the store's table prefix.
        schema: the store's database schema (None: the default one).
        revision: the revision to reach (default the head).
    """
    config = _config(tables(prefix, schema))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def current(
    engine: Engine, *, prefix: str = DEFAULT_PREFIX, schema: str | None = None
) -> str | None:
    """The revision a database is at; None when it has none.

    Args:
        engine: the database.
        prefix: the store's table prefix.
        schema: the store's database schema.
    """
    found = tables(prefix, schema)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"version_table": found.version_table, "version_table_schema": schema},
        )
        return context.get_current_revision()


def history() -> list[tuple[str, str]]:
    """Every revision, oldest first, with the first line of its description."""
    scripts = ScriptDirectory.from_config(_config(tables()))
    found = [(s.revision, (s.doc or "").splitlines()[0]) for s in scripts.walk_revisions()]
    return list(reversed(found))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cabinet-billing db", description="The SQL store's schema: upgrade it or show it."
    )
    commands = parser.add_subparsers(dest="action", required=True)
    for name, text in (
        ("upgrade", "apply the revisions the database lacks (and bring in older data)"),
        ("current", "print the revision the database is at"),
        ("history", "list the revisions"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        if name == "history":
            continue
        sub.add_argument("--url", required=True, help="the database URL (SQLAlchemy)")
        sub.add_argument("--prefix", default=DEFAULT_PREFIX, help="the table prefix")
        sub.add_argument("--schema", default=None, help="the database schema of the tables")
        if name == "upgrade":
            sub.add_argument("revision", nargs="?", default="head", help="default: head")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cabinet-billing db ...``; returns the exit code."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    if args.action == "history":
        for revision, text in history():
            out.write(f"{revision}  {text}{'  (head)' if revision == HEAD else ''}\n")
        return 0
    engine = create_engine(args.url)
    try:
        if args.action == "upgrade":
            upgrade(engine, prefix=args.prefix, schema=args.schema, revision=args.revision)
        found = current(engine, prefix=args.prefix, schema=args.schema)
    finally:
        engine.dispose()
    state = "head" if found == HEAD else f"head is {HEAD}: run `cabinet-billing db upgrade`"
    out.write(f"{found or 'no revision'} ({state})\n")
    return 0
