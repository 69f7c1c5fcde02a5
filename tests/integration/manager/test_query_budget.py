"""What the manager's hot paths cost in statements, and that fills on different positions
never wait on each other (SQLite and PostgreSQL alike, through the `api` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from stratus.adapters.clock import ManualClock
from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.db import Database, make_engine
from stratus.adapters.sql.driver import TIMESTAMPTZ_OID
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.portfolio import PositionFilter
from stratus.domain.orders import Fill, client_order_id_for
from stratus.manager.routes.positions import exits_digest
from stratus.service.services import Services
from tests.integration.manager.conftest import START, Api, fill, order

UPDATE = "/api/v1/positions/update"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` inside the block (pings and BEGIN excluded)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = args[2]
        if statement.strip().upper() not in ("SELECT 1", "BEGIN IMMEDIATE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# Where the executor records its order documents (PUT: the POST is a person's order).
ORDER_1 = f"/api/v1/orders/{client_order_id_for('sig-1-0')}"
ORDER_2 = f"/api/v1/orders/{client_order_id_for('sig-2-0')}"


def test_a_page_of_positions_is_one_query_with_marks_and_total(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(n, symbol=f"C{n}/USDT") for n in range(5)]})
    api.get("/api/v1/me", role="reader")  # the token is looked up once, then remembered
    with statements(api.store.database.engine) as seen:
        page = api.get("/api/v1/positions", role="reader", params={"limit": 2, "offset": 1})
    # The page is one query; beside it, the positions' protective exits are one read of
    # the execution state store (Firestore in production, these tables embedded).
    ledger = [s for s in seen if "state_exit_plans" not in s]
    assert len(ledger) == 1, seen
    assert len(seen) == 2, seen
    body = page.json()
    assert (body["total"], [p["symbol"] for p in body["items"]]) == (5, ["C1/USDT", "C2/USDT"])
    assert body["items"][0]["mark_price"] == "100"
    assert body["items"][0]["mark_time"] is not None


def test_a_page_past_the_end_still_counts(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1), fill(2, symbol="ETH/USDT")]})
    body = api.get("/api/v1/positions", params={"offset": 5}).json()
    assert (body["total"], body["items"]) == (2, [])
    assert api.get("/api/v1/positions", params={"account": "nobody"}).json()["total"] == 0


def test_a_fill_is_one_transaction_answered_from_it(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1)]})
    later = fill(2, price="110", at=START + timedelta(seconds=1))
    with statements(api.store.database.engine) as seen:
        [result] = api.post(UPDATE, json={"fills": [later]}).json()["results"]
    # position and its round trip (one locking read), fill, position, round trip, audit,
    # mark: no read-back, no second transaction.
    assert len(seen) <= 6, "\n".join(s[:90] for s in seen)
    assert not any(s.lstrip().upper().startswith("SELECT COUNT") for s in seen)
    position = result["position"]
    assert (position["quantity"], position["version"], position["mark_price"]) == ("2", 2, "110")


def test_a_fill_older_than_the_mark_answers_with_the_newer_mark(api: Api) -> None:
    minute = timedelta(minutes=1)
    api.post(UPDATE, json={"fills": [fill(1, symbol="ETH/USDT", price="200", at=START + minute)]})
    [result] = api.post(UPDATE, json={"fills": [fill(2, price="100")]}).json()["results"]
    assert result["position"]["mark_price"] == "100"  # BTC: its own first mark
    [late] = api.post(
        UPDATE, json={"fills": [fill(3, symbol="ETH/USDT", price="150", at=START)]}
    ).json()["results"]
    assert late["position"]["mark_price"] == "200"
    assert late["position"]["quantity"] == "2"
    marks = api.get("/api/v1/positions", params={"symbol": "ETH/USDT"}).json()["items"]
    assert marks[0]["mark_price"] == "200"


def test_a_repeated_fill_writes_nothing(api: Api, system: Services) -> None:
    api.post(UPDATE, json={"fills": [fill(1)]})
    audited = len(api.get("/api/v1/audit").json()["items"])
    [again] = api.post(UPDATE, json={"fills": [fill(1)]}).json()["results"]
    assert (again["applied"], again["position"]) == (False, None)
    assert len(api.get("/api/v1/audit").json()["items"]) == audited
    assert system.ledger.position("acct-1", "trend", "BTC/USDT").quantity == Decimal(1)


def test_marks_in_bulk_keep_the_newest(api: Api) -> None:
    later = START + timedelta(hours=1)
    body = {"marks": {"BTC/USDT": "101", "ETH/USDT": "201"}, "at": later.isoformat()}
    assert api.put("/api/v1/marks", json=body).status_code == 204
    older = {"marks": {"BTC/USDT": "99", "SOL/USDT": "9"}, "at": START.isoformat()}
    assert api.put("/api/v1/marks", json=older).status_code == 204
    assert api.store.portfolio.marks() == {
        "BTC/USDT": Decimal(101),
        "ETH/USDT": Decimal(201),
        "SOL/USDT": Decimal(9),
    }


def test_an_order_recorded_final_gives_its_quota_back_in_the_same_transaction(
    api: Api,
) -> None:
    quotas = api.store.quotas
    assert quotas.reserve_for("sig-1-0", "acct-1", "trend", Decimal(100)) is None
    working = order(1, status="open", exchange_order_id="ex-1")
    assert api.put(ORDER_1, role="trader", json=working).json()["changed"] is True
    assert quotas.held("acct-1", "trend") == 1  # still working: still held
    done = {**working, "status": "filled", "filled": "1", "cost": "100"}
    commits: list[object] = []
    engine = api.store.database.engine

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "commit", committed)
    try:
        assert api.put(ORDER_1, role="trader", json=done).json()["changed"] is True
    finally:
        event.remove(engine, "commit", committed)
    assert quotas.held("acct-1", "trend") == 0
    assert len(commits) == 1


def test_a_final_order_seen_again_releases_what_a_crash_left_held(api: Api) -> None:
    """Before this release moved into record_order, a crash between the two writes could
    leave the order final in the ledger and its reservation held: a later copy frees it."""
    done = order(2, status="filled", filled="1", cost="100", exchange_order_id="ex-2")
    assert api.put(ORDER_2, role="trader", json=done).json()["changed"] is True
    quotas = api.store.quotas
    assert quotas.reserve_for("sig-2-0", "acct-1", "trend", Decimal(100)) is None
    assert api.put(ORDER_2, role="trader", json=done).json()["changed"] is False
    assert quotas.held("acct-1", "trend") == 0


# Row locks and pg8000's parsing are PostgreSQL's (SQLite serializes every writer by design).
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@ON_POSTGRES
def test_fills_on_different_positions_never_wait_on_each_other(database_url: str) -> None:
    """A position locked by a transaction still open leaves every other position free,
    also one in the same symbol (the symbol's mark row is taken only at the end of a
    fill). lock_timeout turns a wait into an error instead of a hang."""
    engine = make_engine(database_url)
    event.listen(engine, "connect", _lock_timeout)
    ledger = SqlLedger(Database(engine), ManualClock(START))
    ledger.apply_fill(Fill.model_validate(fill(1, account="held")))
    holder = engine.connect()
    try:
        holder.execute(text("SELECT 1 FROM positions WHERE account = 'held' FOR UPDATE"))
        other = Fill.model_validate(fill(2, account="other"))  # same symbol, same strategy
        applied = _in_thread(lambda: ledger.apply_fill(other))
        assert applied is not None
        assert applied.quantity == Decimal(1)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


@ON_POSTGRES
def test_postgres_timestamps_keep_zone_and_microseconds(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            sql = "SELECT TIMESTAMPTZ '2026-03-02 12:00:00.123456+05:30', 'infinity'::timestamptz"
            moment, endless = connection.execute(text(sql)).one()
        assert moment == datetime(2026, 3, 2, 6, 30, 0, 123456, tzinfo=UTC)
        assert endless == "infinity"  # pg8000's own answer where fromisoformat has none
        assert TIMESTAMPTZ_OID == 1184
    finally:
        engine.dispose()


def _lock_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET lock_timeout = '5s'")
    cursor.close()


def _in_thread(call: Any) -> Any:
    """`call` on another thread (the ledger's own connection), its answer or its error."""
    answer: list[Any] = []

    def run() -> None:
        try:
            answer.append(call())
        except Exception as error:  # reported to the test below
            answer.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def test_a_kept_page_is_served_after_one_query_and_never_after_a_change(api: Api) -> None:
    """PostgreSQL: a worker keeps a rendered page with its digest; the one query of the
    next request confirms the digest (rows left out) or returns the changed rows. Every
    committed change behind the page shows: a fill, a mark, a row changed behind the
    API's back, a new position that moves the total. SQLite reads the page each time."""
    api.post(UPDATE, json={"fills": [fill(n, symbol=f"C{n}/USDT") for n in range(3)]})
    api.get("/api/v1/me", role="reader")
    first = api.get("/api/v1/positions", role="reader").content
    with statements(api.store.database.engine) as seen:
        again = api.get("/api/v1/positions", role="reader")
    # One query of the page, and one read of the exit plans (the state store: these
    # tables embedded, Firestore in production) whose digest is part of the kept key.
    page_queries = [s for s in seen if "state_exit_plans" not in s]
    assert (len(page_queries), len(seen), again.content) == (1, 2, first)
    kept = api.client.app.state.kept  # type: ignore[attr-defined]
    key = (PositionFilter(), Page(), exits_digest({}, []))
    held = kept.get(key)
    if held is not None:  # PostgreSQL: what it serves while the digest holds is the kept body
        assert held[1] == first
        kept.put(key, held[0], b'{"kept":true}')
        assert api.get("/api/v1/positions", role="reader").json() == {"kept": True}
    else:
        assert api.store.database.embedded

    def page() -> dict[str, Any]:
        body: dict[str, Any] = api.get("/api/v1/positions", role="reader").json()
        return body

    api.post(UPDATE, json={"fills": [fill(9, "sell", price="110", symbol="C1/USDT")]})
    assert page()["items"][1]["status"] == "closed"
    assert page()["items"][1]["mark_price"] == "110"
    assert api.put("/api/v1/marks", json={"marks": {"C2/USDT": "120"}}).status_code == 204
    assert page()["items"][2]["mark_price"] == "120"
    with api.store.database.engine.begin() as connection:
        connection.execute(text("UPDATE positions SET fees = '0.5' WHERE symbol = 'C0/USDT'"))
    assert page()["items"][0]["fees"] == "0.5"
    api.post(UPDATE, json={"fills": [fill(10, symbol="C3/USDT")]})
    assert page()["total"] == 4


def test_the_digest_leaves_the_rows_out_only_when_they_hash_to_it(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(n, symbol=f"C{n}/USDT") for n in range(3)]})
    portfolio, page, where = api.store.portfolio, Page(2, 1), PositionFilter()
    read = portfolio.positions(where, page)
    if api.store.database.embedded:
        assert (read.digest, [p.tracked.position.symbol for p in read.items]) == (
            None,
            ["C1/USDT", "C2/USDT"],
        )
        return
    kept = portfolio.positions(where, page, read.digest)
    assert (kept.unchanged, kept.items, kept.total, kept.digest) == (True, [], 3, read.digest)
    other = portfolio.positions(where, page, "0" * 64)
    assert (other.unchanged, other.items, other.digest) == (False, read.items, read.digest)
    elsewhere = portfolio.positions(where, Page(2, 0), read.digest)
    assert not elsewhere.unchanged
    assert [p.tracked.position.symbol for p in elsewhere.items] == ["C0/USDT", "C1/USDT"]
    empty = portfolio.positions(where, Page(2, 5))
    assert (empty.items, empty.total) == ([], 3)
    assert portfolio.positions(where, Page(2, 5), empty.digest).unchanged


@ON_POSTGRES
def test_pg8000_placeholders_are_rewritten_as_pg8000_does(database_url: str) -> None:
    from pg8000 import dbapi, legacy

    engine = make_engine(database_url)  # installs the remembered rewrite
    try:
        original = dbapi.convert_paramstyle.__wrapped_original__
        assert legacy.convert_paramstyle is dbapi.convert_paramstyle
        for query, args in (
            ("SELECT %s, '%s', \"a%%s\" FROM t WHERE x = %s -- %s\n", (1, 2)),
            ("SELECT 1", ()),
            ("SELECT $$%s$$, E'\\'%s', %s", ("v",)),
        ):
            for _ in range(2):  # computed, then remembered
                assert dbapi.convert_paramstyle("format", query, args) == original(
                    "format", query, args
                )
        named = ("SELECT :a, :b, :a", {"a": 1, "b": 2})
        assert dbapi.convert_paramstyle("named", *named) == original("named", *named)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT :n + 1"), {"n": 41}).scalar() == 42
    finally:
        engine.dispose()


@ON_POSTGRES
def test_pg8000_commits_and_rolls_back_in_one_message(database_url: str) -> None:
    engine = make_engine(database_url)
    sent: list[str] = []
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            execute_simple = raw.execute_simple

            def recorded(sql: str) -> Any:
                sent.append(sql)
                return execute_simple(sql)

            raw.execute_simple = recorded
            connection.execute(text("INSERT INTO marks VALUES ('X/USDT', '1', now())"))
            connection.commit()
            connection.execute(text("INSERT INTO marks VALUES ('Y/USDT', '1', now())"))
            connection.rollback()
            ends = ["commit", "rollback"]  # each in the simple protocol: one message
            assert [s for s in sent if s in ends] == ends
            raw.rollback()  # nothing open: nothing sent
            assert [s for s in sent if s in ends] == ends
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT symbol FROM marks")).scalars().all()
        assert kept == ["X/USDT"]
    finally:
        engine.dispose()
