"""The metrics of docs/analytics.md against hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from stratus.domain.analytics import (
    Interval,
    bucket_count,
    equity_curve,
    just_after,
    lifetime_stats,
    max_drawdown,
    sharpe,
    sortino,
    time_in_market,
    trade_stats,
)
from stratus.domain.round_trips import Direction, RoundTrip

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def trip(n: int, opened_h: float, closed_h: float | None, gross: str, fees: str) -> RoundTrip:
    return RoundTrip(
        trip_id=f"t{n}", account="a", strategy="s", symbol="BTC/USDT", side=Direction.LONG,
        opened_at=DAY0 + timedelta(hours=opened_h),
        closed_at=None if closed_h is None else DAY0 + timedelta(hours=closed_h),
        entry_quantity=D(1), entry_notional=D(100), gross_pnl=D(gross), fees=D(fees),
    )  # fmt: skip


EXAMPLE = [  # docs/analytics.md, "Worked example"
    trip(1, 0, 12, "10", "1"),
    trip(2, 24, 30, "-8", "2"),
    trip(3, 36, 48, "6", "1"),
    trip(4, 54, 60, "0.5", "1"),
]


def test_the_worked_example() -> None:
    stats = trade_stats(EXAMPLE, DAY0, DAY0 + timedelta(days=3))
    assert (stats.trades, stats.wins, stats.losses, stats.win_rate) == (4, 2, 2, D("0.5"))
    assert (stats.gross_pnl, stats.fees, stats.net_pnl) == (D("8.5"), D(5), D("3.5"))
    assert stats.profit_factor == D(14) / D("10.5")
    assert stats.expectancy == D("0.875")
    assert (stats.average_win, stats.average_loss) == (D(7), D("-5.25"))
    assert (stats.largest_win, stats.largest_loss) == (D(9), D(-10))
    assert stats.max_drawdown == D(10)
    assert stats.sharpe is not None
    assert round(stats.sharpe, 6) == D("2.244871")
    assert stats.sortino is not None
    assert round(stats.sortino, 6) == D("3.860591")
    assert stats.time_in_market == D("0.5")


def test_a_period_counts_trades_closing_in_it() -> None:
    stats = trade_stats(EXAMPLE, DAY0 + timedelta(hours=12), DAY0 + timedelta(hours=48))
    assert (stats.trades, stats.net_pnl) == (2, D(-1))  # closed at 12:00 in, at 48:00 out
    stats = trade_stats(EXAMPLE, DAY0 + timedelta(hours=13), DAY0 + timedelta(hours=48))
    assert (stats.trades, stats.net_pnl) == (1, D(-10))
    assert stats.profit_factor == D(0)
    assert stats.win_rate == D(0)
    assert (stats.average_win, stats.largest_win) == (None, None)


def test_no_trades() -> None:
    stats = trade_stats([], DAY0, DAY0 + timedelta(days=2))
    assert (stats.trades, stats.win_rate, stats.profit_factor, stats.expectancy) == (
        0, None, None, None,
    )  # fmt: skip
    assert (stats.max_drawdown, stats.sharpe, stats.sortino) == (D(0), None, None)
    assert stats.time_in_market == D(0)
    assert lifetime_stats([trip(1, 0, None, "0", "1")]).trades == 0


def test_drawdown_starts_from_zero_equity() -> None:
    assert max_drawdown([D(-3), D(1), D(-2)]) == D(4)
    assert max_drawdown([D(1), D(2)]) == D(0)


def test_ratios_need_variation_and_losing_days() -> None:
    assert sharpe([D(1), D(1)]) is None
    assert sortino([D(1), D(2)]) is None
    assert sharpe([D(1)]) is None
    assert sortino([D(2), D(-1)]) == D("0.5") / (D("0.5").sqrt()) * D(365).sqrt()


def test_time_in_market_merges_overlaps_and_counts_open_trips_to_the_end() -> None:
    trips = [trip(1, 0, 10, "0", "0"), trip(2, 5, 12, "0", "0"), trip(3, 20, None, "0", "0")]
    assert time_in_market(trips, DAY0, DAY0 + timedelta(hours=24)) == D(16) / D(24)
    assert time_in_market(trips, DAY0 + timedelta(hours=6), DAY0 + timedelta(hours=8)) == D(1)


def test_equity_curve_buckets() -> None:
    end = DAY0 + timedelta(days=3)
    points = equity_curve(EXAMPLE, DAY0, end, Interval.DAY)
    assert [(p.net_pnl, p.trades, p.equity, p.drawdown) for p in points] == [
        (D(9), 1, D(9), D(0)),
        (D(-10), 1, D(-1), D(10)),
        (D("4.5"), 2, D("3.5"), D("5.5")),
    ]
    assert [p.at for p in points] == [DAY0, DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)]
    assert (
        len(equity_curve(EXAMPLE, DAY0, end, Interval.HOUR))
        == bucket_count(DAY0, end, Interval.HOUR)
        == 72
    )
    weeks = equity_curve(EXAMPLE, DAY0, end, Interval.WEEK)  # 2026-03-01 is a Sunday
    assert [p.at for p in weeks] == [DAY0 - timedelta(days=6), DAY0 + timedelta(days=1)]
    assert [p.trades for p in weeks] == [1, 3]


def test_periods_at_the_end_of_time_do_not_overflow() -> None:
    last = datetime.max.replace(tzinfo=UTC)
    start = last - timedelta(days=2)
    assert just_after(last) == last
    assert trade_stats([], start, last).sharpe is None  # three days of zero PnL
    assert len(equity_curve([], start, last, Interval.HOUR)) == bucket_count(
        start, last, Interval.HOUR
    )
