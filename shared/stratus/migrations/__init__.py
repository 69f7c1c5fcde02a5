"""The schema of the system of record, as Alembic migrations: the only way it changes.

`upgrade` runs them programmatically: at bootstrap on the embedded SQLite database, and by
`stratus db upgrade` (a deploy step) against PostgreSQL / Cloud SQL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from stratus.adapters.sql.schema_head import HEAD

LOCATION = Path(__file__).parent
logging.getLogger("alembic").setLevel(logging.WARNING)  # callers report what changed


def config(engine: Engine | None = None) -> Config:
    alembic = Config()
    alembic.set_main_option("script_location", str(LOCATION))
    if engine is not None:
        alembic.attributes["engine"] = engine
    return alembic


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(config(engine), revision)


def upgrade_embedded(engine: Engine) -> None:
    """Bring an embedded (SQLite) database to head: zero setup for `stratus up`.

    Check and upgrade run in one write transaction (SQLite's BEGIN IMMEDIATE), so the
    processes of a local stack starting together migrate once, one after the other."""
    from sqlalchemy import inspect

    with engine.begin() as connection:
        at = MigrationContext.configure(connection).get_current_revision()
        if at == HEAD:
            return  # another process got there first
        if at is None and inspect(connection).has_table("positions"):
            raise RuntimeError(
                f"{engine.url.database} holds tables from before migrations existed; "
                "delete it (embedded development data) and start again"
            )
        alembic = config()
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "head")
