"""Portfolio metrics, summary, exposure and PnL at stored marks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from tests.integration.manager.conftest import START, Api, D, fill


def seed(api: Api) -> None:
    fills = [
        fill(1, quantity="2", price="100"),
        fill(2, "sell", quantity="1", price="120", fee="1"),  # +20
        fill(3, symbol="ETH/USDT", quantity="10", price="10"),
        fill(4, "sell", symbol="ETH/USDT", quantity="10", price="9"),  # -10, closed
        fill(5, "sell", symbol="SOL/USDT:USDT", quantity="4", price="50", strategy="carry"),
    ]
    api.post("/api/v1/positions/update", json={"fills": fills})
    api.put(
        "/api/v1/marks", role="trader", json={"marks": {"BTC/USDT": "90", "SOL/USDT:USDT": "50"}}
    )


def test_summary(api: Api) -> None:
    seed(api)
    summary = api.get("/api/v1/portfolio/summary", role="reader").json()
    assert (summary["open_positions"], summary["closed_positions"]) == (2, 1)
    # Trades are closed round trips, net of fees: only ETH closed, at a loss of 10.
    assert (summary["trades"], summary["closing_fills"]) == (1, 2)
    assert (summary["win_rate"], summary["profit_factor"]) == ("0", "0")
    assert D(summary["gross_exposure"]) == D(290)  # 1 BTC at 90 + 4 SOL at 50
    assert summary["largest_position_share"] == "0.689655"  # 200 / 290, 6 places
    assert summary["positions_at_risk"] == 1  # BTC: entry 100, mark 90
    assert (D(summary["realized_pnl"]), D(summary["fees"])) == (D(10), D(1))
    assert D(summary["unrealized_pnl"]) == D(-10)
    only_carry = api.get("/api/v1/portfolio/summary", params={"strategy": "carry"}).json()
    assert (only_carry["open_positions"], only_carry["positions_at_risk"]) == (1, 0)


def test_metrics_exposure_and_pnl(api: Api) -> None:
    seed(api)
    metrics = api.get("/api/v1/portfolio/metrics").json()
    assert D(metrics["value"]) == D(90) - D(200)
    assert D(metrics["net_pnl"]) == D(10) - D(10) - D(1)
    exposure = {e["asset"]: e for e in api.get("/api/v1/portfolio/exposure").json()}
    assert set(exposure) == {"BTC", "SOL"}
    assert (D(exposure["SOL"]["short"]), D(exposure["SOL"]["net"])) == (D(200), D(-200))
    pnl = api.get("/api/v1/portfolio/pnl", params={"account": "acct-1"}).json()
    assert (D(pnl["realized"]), D(pnl["realized_net"]), pnl["fills"]) == (D(10), D(9), 5)
    later = (START + timedelta(minutes=1)).isoformat()
    assert api.get("/api/v1/portfolio/pnl", params={"since": later}).json()["fills"] == 0


def test_older_marks_never_replace_newer(api: Api) -> None:
    api.put("/api/v1/marks", json={"marks": {"BTC/USDT": "100"}, "at": START.isoformat()})
    old = (START - timedelta(hours=1)).isoformat()
    api.put("/api/v1/marks", json={"marks": {"BTC/USDT": "1"}, "at": old})
    assert api.get("/api/v1/marks").json() == {"BTC/USDT": "100"}


def test_ledger_port_reads_what_the_api_wrote(api: Api) -> None:
    seed(api)
    ledger = api.store.ledger
    assert ledger.realized_pnl_since("acct-1", START) == D(9)
    assert ledger.position("acct-1", "trend", "BTC/USDT").quantity == D(1)
    assert ledger.position("acct-1", "trend", "XRP/USDT").quantity == D(0)
    assert len(ledger.positions("acct-1")) == 3


def test_database_summary_agrees_with_the_domain(api: Api) -> None:
    import random

    from stratus.adapters.sql.portfolio import PositionFilter
    from stratus.domain.performance import summarize

    rng = random.Random(7)
    symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT:USDT", "XRP/USDT"]
    fills = [
        fill(
            n,
            rng.choice(["buy", "sell"]),
            str(rng.randint(1, 5)),
            str(rng.randint(80, 120)),
            strategy=rng.choice(["a", "b"]),
            symbol=rng.choice(symbols),
            fee="0.25",
        )
        for n in range(120)
    ]
    closed = [fill(200, symbol="ADA/USDT"), fill(201, "sell", price="105", symbol="ADA/USDT")]
    api.post("/api/v1/positions/update", json={"fills": fills + closed})
    api.put("/api/v1/marks", json={"marks": {"BTC/USDT": "97.5", "SOL/USDT:USDT": "111"}})
    with api.store.database.engine.begin() as connection:  # XRP valued at its entry
        connection.execute(text("DELETE FROM marks WHERE symbol = 'XRP/USDT'"))
    wheres = [PositionFilter(), PositionFilter(strategy="a"), PositionFilter(mode="swap")]
    for where in [*wheres, PositionFilter(account="nobody")]:
        tracked, marks = api.store.portfolio.tracked(where)
        expected = summarize(tracked, marks, D("0.05"))
        assert api.store.portfolio.summary(where, D("0.05")) == expected
        assert expected == _one_by_one(tracked, marks, D("0.05"))
    assert api.store.portfolio.summary(PositionFilter(), D("0.05")).metrics.closed_positions > 0


def _one_by_one(tracked: Any, marks: Any, threshold: Any) -> Any:
    """The summary's definitions, one position at a time (an independent recomputation)."""
    from stratus.domain.performance import Summary
    from stratus.domain.portfolio import PortfolioMetrics

    opened = closed = risky = closing = 0
    gross = net = realized = unrealized = fees = largest = D(0)
    for item in tracked:
        p = item.position
        realized, fees, closing = (
            realized + p.realized_pnl,
            fees + p.fees,
            closing + item.closing_fills,
        )
        if p.quantity == 0:
            closed += 1
            continue
        opened += 1
        price = marks.get(p.symbol, p.average_entry)
        notional, loss = abs(p.quantity) * price, (price - p.average_entry) * p.quantity
        gross, net, unrealized = gross + notional, net + p.quantity * price, unrealized + loss
        largest = max(largest, notional)
        risky += -loss > notional * threshold
    metrics = PortfolioMetrics(opened, closed, gross, net, realized, unrealized, fees)
    share = largest / gross if gross > 0 else None
    return Summary(metrics, closing, share, risky)


def test_trip_outcomes_in_the_database_agree_with_the_trips(api: Api) -> None:
    """The portfolio summary's trades, win rate and profit factor come from the database
    (summed there on PostgreSQL): the same as lifetime_stats over the trip objects, for
    every scope the summary takes, asset and mode included."""
    import random

    from stratus.adapters.sql.round_trips import TripFilter
    from stratus.domain.analytics import lifetime_stats
    from stratus.domain.performance import asset_of, mode_of

    rng = random.Random(11)
    symbols = ["BTC/USDT", "BTCX/USDT", "SOL/USDT:USDT", "ETH/USDT"]
    fills = [
        fill(
            n,
            rng.choice(["buy", "sell"]),
            str(rng.randint(1, 3)),
            str(rng.randint(90, 110)),
            strategy=rng.choice(["a", "b"]),
            symbol=rng.choice(symbols),
            fee=rng.choice(["0", "0.5", "1.25"]),
        )
        for n in range(150)
    ]
    api.post("/api/v1/positions/update", json={"fills": fills})
    trips = api.store.trips
    scopes = [(None, None, None), ("a", None, None), (None, "BTC", None), (None, None, "swap")]
    for strategy, asset, mode in [*scopes, (None, None, "spot"), ("b", "ETH", "spot")]:
        expected = lifetime_stats(
            trip
            for trip in trips.all(TripFilter(strategy=strategy))
            if asset in (None, asset_of(trip.symbol)) and mode in (None, mode_of(trip.symbol))
        )
        found = trips.outcomes(TripFilter(strategy=strategy), asset, mode)
        assert (found.trades, found.wins, found.losses) == (
            expected.trades,
            expected.wins,
            expected.losses,
        )
        assert (found.win_rate, found.profit_factor) == (expected.win_rate, expected.profit_factor)
    assert trips.outcomes(TripFilter(account="nobody")).trades == 0
    assert trips.outcomes(TripFilter()).trades > 10
