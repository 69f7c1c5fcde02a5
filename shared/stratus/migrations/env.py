"""Alembic environment: runs against the engine handed over by stratus.migrations, or
else the configured database (STRATUS_DATABASE_URL / STRATUS_CLOUDSQL_INSTANCE)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

# The models are imported so that `alembic revision --autogenerate` sees every table.
import stratus.adapters.sql.admin_tables
from stratus.adapters.sql.db import configured_engine, make_engine
from stratus.adapters.sql.tables import Base
from stratus.config import Settings

import stratus.adapters.sql.outcome_tables  # noqa: F401  isort: skip


def _engine() -> Engine:
    given = context.config.attributes.get("engine")
    if isinstance(given, Engine):
        return given
    url = context.config.get_main_option("sqlalchemy.url")
    return make_engine(url) if url else configured_engine(Settings())


def run() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:  # the caller holds the transaction (and its lock)
        context.configure(
            connection=given,
            target_metadata=Base.metadata,
            render_as_batch=given.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
