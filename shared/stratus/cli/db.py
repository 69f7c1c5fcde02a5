"""`stratus db`: the system of record's schema (Alembic migrations).

In production run `stratus db upgrade` as a deploy step, before the new manager revision
takes traffic (migrations are written to be compatible with the previous revision). The
embedded SQLite database is upgraded automatically on start.
"""

from __future__ import annotations

import argparse
from typing import Any

from stratus import migrations
from stratus.adapters.sql.db import configured_engine
from stratus.config import Settings


def register(commands: Any) -> None:
    command = commands.add_parser(
        "db",
        help="migrate the system of record (STRATUS_DATABASE_URL or Cloud SQL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate to a revision (default: head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=run_upgrade)
    downgrade = actions.add_parser("downgrade", help="migrate back to a revision")
    downgrade.add_argument("revision")
    downgrade.set_defaults(run=run_downgrade)
    current = actions.add_parser("current", help="print the revision the database is at")
    current.set_defaults(run=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    engine = configured_engine(Settings())
    before = migrations.current(engine)
    migrations.upgrade(engine, args.revision)
    print(f"schema: {before or 'empty'} -> {migrations.current(engine)}")
    engine.dispose()
    return 0


def run_downgrade(args: argparse.Namespace) -> int:
    engine = configured_engine(Settings())
    migrations.downgrade(engine, args.revision)
    print(f"schema: {migrations.current(engine) or 'empty'}")
    engine.dispose()
    return 0


def run_current(args: argparse.Namespace) -> int:
    engine = configured_engine(Settings())
    at = migrations.current(engine)
    head = migrations.head()
    print(f"schema: {at or 'empty'} (head {head})")
    engine.dispose()
    return 0 if at == head else 1
