"""Round trips kept by the ledger, on SQLite and PostgreSQL: a random fill stream, posted
out of order and twice, against an independent recomputation (tests/trip_oracle.py)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from stratus import migrations
from stratus.adapters.sql.db import Database, make_engine
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.round_trips import SqlRoundTrips, TripFilter
from stratus.domain.orders import Fill
from tests.integration.manager.conftest import START, Api, fill
from tests.trip_oracle import expected_trips

TINY = Decimal("1e-9")


def _stream(seed: int, count: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        fill(
            n,
            rng.choice(["buy", "sell"]),
            quantity=rng.choice(["0.5", "1", "2", "3"]),
            price=rng.choice(["95", "100.1", "103", "111.37"]),
            fee=rng.choice(["0", "0.1", "0.33"]),
            symbol=rng.choice(["BTC/USDT", "ETH/USDT"]),
            strategy=rng.choice(["trend", "carry"]),
            at=START + timedelta(minutes=n),
        )
        for n in range(count)
    ]


def test_ledger_trips_match_a_recomputation(api: Api) -> None:
    stream = _stream(11, 120)
    arrival = list(stream)
    random.Random(3).shuffle(arrival[60:])  # the second half arrives out of order
    for start in range(0, len(arrival), 20):
        batch = arrival[start : start + 20]
        assert api.post("/api/v1/positions/update", json={"fills": batch}).status_code == 200
    again = api.post("/api/v1/positions/update", json={"fills": arrival[:30]}).json()
    assert not any(result["applied"] for result in again["results"])  # exactly once
    trips = api.store.trips.all(TripFilter())
    expected = expected_trips([Fill.model_validate(f) for f in stream])
    assert sorted(t.trip_id for t in trips) == sorted(e.trip_id for e in expected)
    want = {e.trip_id: e for e in expected}
    for trip in trips:
        e = want[trip.trip_id]
        assert (trip.side.sign, trip.opened_at, trip.closed_at) == (
            e.sign,
            e.opened_at,
            e.closed_at,
        )
        assert (trip.size, trip.max_size) == (e.held, e.max_size)
        assert abs(trip.entry_average - e.entry_average) < TINY
        assert abs(trip.fees - e.fees) < TINY
        if not trip.is_open:
            assert abs(trip.gross_pnl - e.gross) < TINY
    positions = api.get("/api/v1/positions", params={"limit": 1000}).json()["items"]
    for position in positions:
        key = (position["account"], position["strategy"], position["symbol"])
        mine = [e for e in expected if e.key == key]
        assert position["round_trip_id"] == mine[-1].trip_id
        realized = sum(
            (t.gross_pnl for t in trips if (t.account, t.strategy, t.symbol) == key), Decimal(0)
        )
        assert abs(realized - Decimal(position["realized_pnl"])) <= Decimal(
            "0.000000005"
        )  # 8 places


def test_positions_filter_by_status_and_name_their_trip(api: Api) -> None:
    fills = [
        fill(1, quantity="1", price="100"),
        fill(2, "sell", quantity="1", price="110"),
        fill(3, symbol="ETH/USDT", quantity="2", price="10", at=START + timedelta(minutes=1)),
    ]
    api.post("/api/v1/positions/update", json={"fills": fills})
    closed = api.get("/api/v1/positions", params={"status": "closed"}).json()["items"]
    opened = api.get("/api/v1/positions", params={"status": "open"}).json()["items"]
    assert [(p["symbol"], p["round_trip_id"]) for p in closed] == [("BTC/USDT", "fill-1")]
    assert [(p["symbol"], p["round_trip_id"]) for p in opened] == [("ETH/USDT", "fill-3")]


def test_migration_builds_trips_from_fills_already_booked(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/trips.db"
    engine = make_engine(url)
    migrations.upgrade(engine)
    ledger = SqlLedger(Database(engine), migrate=False)
    stream = [Fill.model_validate(f) for f in _stream(5, 40)]
    for each in stream:
        ledger.apply_fill(each)
    before = SqlRoundTrips(Database(engine)).all(TripFilter())
    migrations.downgrade(engine, "0007")
    migrations.upgrade(engine)
    after = SqlRoundTrips(Database(engine)).all(TripFilter())
    assert after == before
    assert [t.trip_id for t in after] == sorted(
        (e.trip_id for e in expected_trips(stream)),
        key=lambda trip_id: next(t.opened_at for t in before if t.trip_id == trip_id),
    )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM round_trips")).scalar() == len(before)
    engine.dispose()
