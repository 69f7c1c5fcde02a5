"""Fills posted in batches (POST /positions/update with several fills): one transaction of
a handful of statements, each fill still its own exactly-once effect, a refused fill
refused alone, concurrent batches neither losing nor doubling a fill nor deadlocking.
SQLite and PostgreSQL alike unless marked."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from stratus.domain.orders import Fill
from stratus.service.services import Services
from tests.integration.manager.conftest import START, Api, fill
from tests.integration.manager.test_concurrency import run_all
from tests.integration.manager.test_query_budget import statements

UPDATE = "/api/v1/positions/update"
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _distinct(first: int, count: int, at_minutes: int = 0) -> list[dict[str, str]]:
    """`count` fills, one per position (accounts acct-N), executed `at_minutes` in."""
    at = START + timedelta(minutes=at_minutes)
    return [fill(n, account=f"acct-{n}", at=at) for n in range(first, first + count)]


def test_a_batch_is_one_transaction_of_at_most_seven_statements(api: Api) -> None:
    api.post(UPDATE, json={"fills": _distinct(0, 10)})  # ten positions exist, ten do not
    batch = _distinct(100, 10, at_minutes=1)
    batch += [{**f, "fill_id": f"again-{f['account']}"} for f in _distinct(0, 10, 1)]
    commits: list[object] = []
    engine = api.store.database.engine

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "commit", committed)
    try:
        with statements(engine) as seen:
            response = api.post(UPDATE, json={"fills": batch})
    finally:
        event.remove(engine, "commit", committed)
    results = response.json()["results"]
    assert [r["applied"] for r in results] == [True] * 20
    # positions and trips locked in one read; fills, new positions, moved positions,
    # round trips, audit rows, marks: one statement each, however many fills.
    assert len(seen) <= 7, "\n".join(s[:90] for s in seen)
    assert len(commits) == 1
    assert [r["position"]["version"] for r in results] == [1] * 10 + [2] * 10
    assert {r["position"]["quantity"] for r in results} == {"1", "2"}
    audited = api.get("/api/v1/audit", params={"limit": 100}).json()["items"]
    assert sum(entry["action"] == "fill.apply" for entry in audited) == 30


def test_each_fill_of_a_batch_is_answered_on_its_own(api: Api, system: Services) -> None:
    api.post(UPDATE, json={"fills": [fill(1)]})
    later = START + timedelta(seconds=1)
    batch = [
        fill(1),  # applied before
        fill(2, price="110", at=later),
        fill(2, price="110", at=later),  # repeated within the batch
        fill(3, "sell", price="120", at=later + timedelta(seconds=1)),  # same position
        fill(4, symbol="ETH/USDT", price="2000", at=later),
    ]
    results = api.post(UPDATE, json={"fills": batch}).json()["results"]
    assert [r["applied"] for r in results] == [False, True, False, True, True]
    assert [r["position"] and r["position"]["quantity"] for r in results] == [
        None,
        "2",
        None,
        "1",
        "1",
    ]
    assert [r["position"] and r["position"]["version"] for r in results][3] == 3
    assert results[3]["position"]["realized_pnl"] == "15"  # (120 - 105) x 1
    assert results[3]["position"]["mark_price"] == "120"
    assert len(system.ledger.fills("acct-1")) == 4
    assert api.post("/api/v1/positions/validate").json()["valid"] is True


def test_a_late_fill_in_a_batch_is_replayed_in_execution_order(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1, at=START + timedelta(minutes=5))]})
    late = fill(2, "sell", price="90", at=START)  # executed before the fill above
    results = api.post(UPDATE, json={"fills": [late, _distinct(7, 1)[0]]}).json()["results"]
    assert [r["applied"] for r in results] == [True, True]
    assert results[0]["position"]["quantity"] == "0"
    assert results[0]["position"]["updated_at"].startswith("2026-03-02T12:05")
    assert api.post("/api/v1/positions/validate").json()["valid"] is True


def test_concurrent_batches_apply_each_fill_once_in_any_order(api: Api, system: Services) -> None:
    fills = [Fill.model_validate(f) for f in _distinct(0, 12)]
    fills += [Fill.model_validate(f) for f in _distinct(20, 12, at_minutes=1)]
    # The same fills twice, in opposite orders at once: each lands once, nothing waits
    # forever (positions are locked in key order, whatever the batch's order).
    batches = [fills, fills[::-1], fills[:6], fills[18:]]
    answers = run_all([lambda b=b: api.store.ledger.apply_many(b) for b in batches])
    applied = [a for answer in answers for a in answer if a is not None]
    assert len(applied) == len(fills)
    assert len(system.ledger.fills()) == len(fills)
    assert all(p.quantity == Decimal(1) for p in system.ledger.positions())


@ON_POSTGRES
def test_a_fill_the_database_refuses_does_not_poison_its_batch(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1, at=START + timedelta(minutes=5))]})
    # 9e11 at 9e8 is a notional of 8.1e20, past NUMERIC(38,18): PostgreSQL refuses it.
    huge = fill(2, quantity="900000000000", price="900000000", account="whale")
    late = fill(3, "sell", price="90", at=START)  # before fill 1: its position is rebuilt
    batch = [_distinct(10, 1)[0], huge, late, _distinct(11, 1)[0]]
    results = api.post(UPDATE, json={"fills": batch}).json()["results"]
    assert [(r["applied"], r["error"]) for r in results] == [
        (True, None),
        (False, "a value is out of range"),
        (True, None),
        (True, None),
    ]
    assert results[2]["position"]["quantity"] == "0"
    accounts = {p["account"] for p in api.get("/api/v1/positions").json()["items"]}
    assert accounts == {"acct-1", "acct-10", "acct-11"}  # nothing of the refused fill
    alone = api.post(UPDATE, json={"fills": [huge]})
    assert alone.status_code == 422
    assert alone.json()["detail"][0]["msg"] == "a value is out of range"


@ON_POSTGRES
def test_postgres_connections_send_without_delay(api: Api) -> None:
    """Nagle's algorithm would hold a multi-row statement's last segment for the
    server's delayed ACK (tens of milliseconds): pg8000 connections turn it off."""
    raw = api.store.database.engine.raw_connection()
    try:
        sock = raw.driver_connection._usock  # type: ignore[union-attr]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        raw.close()
