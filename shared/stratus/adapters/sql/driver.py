"""Driver-level tuning shared by every PostgreSQL engine (local URL and Cloud SQL)."""

from __future__ import annotations

import socket
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, event

TIMESTAMPTZ_OID = 1184


def tuned(engine: Engine) -> Engine:
    """pg8000, where the profiles of a page read and of a fill found their time (issue 18):

    - it parses every timestamptz with strptime (~30 us a value); fromisoformat reads
      PostgreSQL's text form in ~1 us;
    - it rewrites each statement's placeholders to $n with a character-by-character scan
      in Python on every execution (~0.5 us a character: 1 ms for a 2 kB statement);
      the result depends on the text alone, so it is remembered per text;
    - it sends each statement in three round trips where the protocol needs one (see
      _one_round_trip), and commits (and rolls back) with the extended protocol, three
      messages for a statement without parameters; the simple protocol sends it in one;
    - it leaves Nagle's algorithm on (libpq turns it off), see _no_delay;
    - a list of rows is inserted as one multi-row statement (SQLAlchemy's
      insertmanyvalues), not a round trip a row.
    """
    if engine.dialect.driver == "pg8000":
        _remember_placeholders()
        _one_round_trip()
        engine.dialect.use_insertmanyvalues_wo_returning = True
        event.listen(engine, "connect", _pg8000_connection)
        event.listen(engine, "connect", _no_delay)
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


def _no_delay(dbapi_connection: Any, _record: Any) -> None:
    """TCP_NODELAY, as libpq sets it. With Nagle's algorithm on, a statement larger than
    pg8000's 8 KiB write buffer leaves in two segments and the second waits for the
    server's delayed ACK of the first: ~40 ms for a multi-row insert of 50 fills that
    PostgreSQL executes in 0.5 ms (measured)."""
    sock = getattr(dbapi_connection, "_usock", None)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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


def _one_round_trip() -> None:
    """pg8000 (1.31) runs a statement as Parse, Sync; Describe, Sync; Bind, Execute, Sync,
    waiting for the server after each: three round trips (on a loaded machine each costs
    a send, a receive and two context switches; 21 of a fill's 23 in the profile). The
    extended query protocol allows all five messages at once, as libpq and asyncpg send
    them: the Bind does not depend on the Describe's answer (pg8000 binds every value as
    text and reads every column as text), and Describe Portal answers the same
    RowDescription. An error anywhere makes the server skip to the Sync and answer it;
    pg8000's message loop raises it as before."""
    from pg8000 import core

    if getattr(core.CoreConnection.execute_unnamed, "one_round_trip", False):
        return

    def execute_unnamed(
        self: Any, statement: str, vals: Any = (), oids: Any = (), stream: Any = None
    ) -> Any:
        context = core.Context(statement, stream=stream)
        parse = bytearray(core.NULL_BYTE + statement.encode(self._client_encoding))
        parse.extend(core.NULL_BYTE + core.H_pack(len(oids)))
        for oid in oids:
            parse.extend(core.i_pack(0 if oid == -1 else oid))
        self._send_message(core.PARSE, parse)
        self.send_BIND(core.NULL_BYTE, core.make_params(self.py_types, vals))
        self._send_message(core.DESCRIBE, core.PORTAL + core.NULL_BYTE)
        core._write(self._sock, core.EXECUTE_MSG)
        core._write(self._sock, core.SYNC_MSG)
        core._flush(self._sock)
        self.handle_messages(context)
        return context

    execute_unnamed.one_round_trip = True  # type: ignore[attr-defined]
    core.CoreConnection.execute_unnamed = execute_unnamed
