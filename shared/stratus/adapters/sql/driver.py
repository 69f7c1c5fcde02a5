"""Driver-level tuning shared by every PostgreSQL engine (local URL and Cloud SQL)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, event

TIMESTAMPTZ_OID = 1184


def tuned(engine: Engine) -> Engine:
    """pg8000, where the profile of a small query found its time (GET /positions, issue 18):

    - it parses every timestamptz with strptime (~30 us a value); fromisoformat reads
      PostgreSQL's text form in ~1 us;
    - it rewrites each statement's placeholders to $n with a character-by-character scan
      in Python on every execution (~0.5 us a character: 1 ms for a 2 kB statement);
      the result depends on the text alone, so it is remembered per text;
    - it commits (and rolls back) with the extended protocol: parse, describe, then
      bind and execute, three messages flushed apart for a statement that takes no
      parameter; the simple protocol sends it in one.
    """
    if engine.dialect.driver == "pg8000":
        _remember_placeholders()
        event.listen(engine, "connect", _pg8000_connection)
    return engine


def _pg8000_connection(dbapi_connection: Any, _record: Any) -> None:
    from pg8000.converters import timestamptz_in

    def parse(text: str) -> Any:
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # infinity, BC dates, years past 9999: pg8000's own rules
            return timestamptz_in(text)

    dbapi_connection.register_in_adapter(TIMESTAMPTZ_OID, parse)

    def commit() -> None:
        dbapi_connection.execute_simple("commit")

    def rollback() -> None:
        if dbapi_connection._in_transaction:
            dbapi_connection.execute_simple("rollback")

    dbapi_connection.commit = commit
    dbapi_connection.rollback = rollback


POSITIONAL = ("format", "numeric", "qmark")  # pg8000 passes their values through as given


def _remember_placeholders() -> None:
    """pg8000's placeholder rewrite, kept per statement text for the positional styles
    (SQLAlchemy's is "format"): for those the rewrite is a pure function of the text.
    SQLAlchemy renders one text per statement shape, so the cache holds the
    application's statements. Both of pg8000's interfaces (the legacy one SQLAlchemy
    uses; dbapi, which the Cloud SQL connector uses) look the function up per call."""
    from pg8000 import dbapi, legacy

    original = dbapi.convert_paramstyle
    if getattr(original, "remembered", False):
        return

    @lru_cache(maxsize=1024)
    def rewritten(style: str, query: str) -> str:
        statement: str = original(style, query, ())[0]
        return statement

    def convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in POSITIONAL:
            return rewritten(style, query), args
        return original(style, query, args)  # type: ignore[no-any-return]

    convert_paramstyle.remembered = True  # type: ignore[attr-defined]
    convert_paramstyle.__wrapped_original__ = original  # type: ignore[attr-defined]
    dbapi.convert_paramstyle = convert_paramstyle
    legacy.convert_paramstyle = convert_paramstyle
