"""Engines and transactions. One place decides how Stratus talks to a database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from stratus.adapters.sql.cloudsql import cloudsql_engine
from stratus.adapters.sql.driver import tuned
from stratus.config import Settings


def refused_value(error: DBAPIError) -> bool:
    """Whether the database refused a value it cannot hold (SQLSTATE class 22, "data
    exception": a numeric overflow, say). pg8000 raises those as ProgrammingError, other
    drivers as DataError."""
    if isinstance(error, DataError):
        return True
    fields = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return isinstance(fields, dict) and str(fields.get("C", "")).startswith("22")


def configured_engine(settings: Settings) -> Engine:
    """The configured database: Cloud SQL when cloudsql_instance is set, else database_url."""
    if settings.cloudsql_instance:
        return cloudsql_engine(settings)
    return make_engine(settings.database_url)


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+pg8000")
        return tuned(create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10))
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": 30},
        # One shared connection keeps an in-memory database alive across sessions.
        poolclass=StaticPool if in_memory else None,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so two writers serialize instead of deadlocking.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine plus the unit of work: one transaction per use case."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # An in-memory SQLite database is one shared connection: threads take turns.
        shared = isinstance(engine.pool, StaticPool)
        self._turns: AbstractContextManager[object] = threading.RLock() if shared else nullcontext()

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @classmethod
    def configured(cls, settings: Settings) -> Database:
        return cls(configured_engine(settings))

    @property
    def embedded(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any exception; repositories never commit."""
        with self._turns, self._sessions() as session, session.begin():
            yield session
