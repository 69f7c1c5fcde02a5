"""The schema revision this code needs, checked without importing Alembic (~0.15 s of an
embedded cold start); stratus.migrations does the upgrading when it is not there."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

HEAD = "0008"  # the newest revision in stratus/migrations/versions; a test keeps them equal


def at_head(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return found == HEAD
