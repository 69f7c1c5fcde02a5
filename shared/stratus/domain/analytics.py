"""Trading metrics computed from round trips, net of fees. Pure; docs/analytics.md defines
each one once, with its formula and a worked example.

A trade is a closed round trip (stratus.domain.round_trips), counted in the period its
close falls in: start <= closed_at < end. It wins when its net PnL (gross less every fee
of its fills) is above zero and loses when below; a trade at exactly zero is neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from stratus.domain.common import ZERO
from stratus.domain.round_trips import RoundTrip

DAYS_PER_YEAR = Decimal(365)  # crypto trades every day: annualizes the daily ratios
ONE_DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None  # wins / trades; None without trades
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    profit_factor: Decimal | None  # net of wins / -(net of losses); None without losses
    expectancy: Decimal | None  # net_pnl / trades
    average_win: Decimal | None
    average_loss: Decimal | None  # negative
    largest_win: Decimal | None
    largest_loss: Decimal | None  # negative
    max_drawdown: Decimal  # of the equity curve, in money; 0 when it never fell
    sharpe: Decimal | None  # daily, annualized; None below two days or without variation
    sortino: Decimal | None  # daily, annualized; None below two days or without a losing day
    time_in_market: Decimal | None  # fraction of [start, end) with a trip open


@dataclass(frozen=True)
class EquityPoint:
    at: datetime  # the bucket's start
    net_pnl: Decimal  # of the trades closed in the bucket
    trades: int
    equity: Decimal  # cumulative net PnL since the period's start, after this bucket
    drawdown: Decimal  # below the highest equity so far (0 included), in money


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # weeks start on Monday

    @property
    def step(self) -> timedelta:
        return {"hour": timedelta(hours=1), "day": ONE_DAY, "week": timedelta(weeks=1)}[self]

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self is Interval.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return day if self is Interval.DAY else day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Outcomes:
    """How the trades came out, the part of TradeStats the portfolio summary shows."""

    trades: int
    wins: int
    losses: int
    won: Decimal  # net PnL of the winning trades
    lost: Decimal  # net PnL of the losing trades (negative)

    @property
    def win_rate(self) -> Decimal | None:  # None without trades
        return Decimal(self.wins) / self.trades if self.trades else None

    @property
    def profit_factor(self) -> Decimal | None:  # None without losses
        return self.won / -self.lost if self.losses else None


def outcomes(nets: Iterable[Decimal]) -> Outcomes:
    """The outcomes of trades with these net PnLs."""
    every = list(nets)
    wins = [n for n in every if n > ZERO]
    losses = [n for n in every if n < ZERO]
    return Outcomes(len(every), len(wins), len(losses), sum(wins, ZERO), sum(losses, ZERO))


def trades_in(trips: Iterable[RoundTrip], start: datetime, end: datetime) -> list[RoundTrip]:
    """The closed trips whose close falls in [start, end), in the order they closed."""
    closed = [t for t in trips if t.closed_at is not None and start <= t.closed_at < end]
    return sorted(closed, key=_closing_order)


def _closing_order(trip: RoundTrip) -> tuple[datetime, str]:
    assert trip.closed_at is not None
    return trip.closed_at, trip.trip_id


def trade_stats(trips: Iterable[RoundTrip], start: datetime, end: datetime) -> TradeStats:
    """Every metric of the trips over [start, end) (docs/analytics.md)."""
    everything = list(trips)
    trades = trades_in(everything, start, end)
    nets = [t.net_pnl for t in trades]
    wins = [n for n in nets if n > ZERO]
    losses = [n for n in nets if n < ZERO]
    count = len(nets)
    net = sum(nets, ZERO)
    won, lost = sum(wins, ZERO), sum(losses, ZERO)
    daily = daily_pnl(trades, start, end)
    came_out = Outcomes(count, len(wins), len(losses), won, lost)
    return TradeStats(
        trades=count,
        wins=len(wins),
        losses=len(losses),
        win_rate=came_out.win_rate,
        gross_pnl=sum((t.gross_pnl for t in trades), ZERO),
        fees=sum((t.fees for t in trades), ZERO),
        net_pnl=net,
        profit_factor=came_out.profit_factor,
        expectancy=net / count if count else None,
        average_win=won / len(wins) if wins else None,
        average_loss=lost / len(losses) if losses else None,
        largest_win=max(wins) if wins else None,
        largest_loss=min(losses) if losses else None,
        max_drawdown=max_drawdown(nets),
        sharpe=sharpe(daily),
        sortino=sortino(daily),
        time_in_market=time_in_market(everything, start, end),
    )


def lifetime_stats(trips: Iterable[RoundTrip]) -> TradeStats:
    """The metrics of every closed trip, from the first close to the last."""
    everything = list(trips)
    closes = [t.closed_at for t in everything if t.closed_at is not None]
    if not closes:
        return trade_stats([], EPOCH, EPOCH)  # no trade: nothing depends on the period
    return trade_stats(everything, min(closes), just_after(max(closes)))


def just_after(moment: datetime) -> datetime:
    """The end of a half-open period that holds `moment` (the last one there is, too)."""
    latest = datetime.max.replace(tzinfo=UTC)
    return moment if moment >= latest else moment + timedelta(microseconds=1)


def max_drawdown(nets: Sequence[Decimal]) -> Decimal:
    """The largest fall of cumulative net PnL from its highest point so far, in money;
    the curve starts at 0 before the first trade."""
    equity = peak = deepest = ZERO
    for net in nets:
        equity += net
        peak = max(peak, equity)
        deepest = max(deepest, peak - equity)
    return deepest


def daily_pnl(trades: Iterable[RoundTrip], start: datetime, end: datetime) -> list[Decimal]:
    """Net PnL of each UTC calendar day touching [start, end), days without trades as 0."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    # Counted, not stepped past `last`: the day after 9999-12-31 does not exist.
    days: dict[date, Decimal] = {
        first + timedelta(days=n): ZERO for n in range((last - first).days + 1)
    }
    for trade in trades:
        assert trade.closed_at is not None
        closed = trade.closed_at.astimezone(UTC).date()
        if closed in days:
            days[closed] += trade.net_pnl
    return list(days.values())


def sharpe(daily: Sequence[Decimal]) -> Decimal | None:
    """mean / sample standard deviation of daily net PnL, times sqrt(365)."""
    n = len(daily)
    if n < 2:
        return None
    mean = sum(daily, ZERO) / n
    variance = sum(((x - mean) ** 2 for x in daily), ZERO) / (n - 1)
    if variance == ZERO:
        return None
    return mean / variance.sqrt() * DAYS_PER_YEAR.sqrt()


def sortino(daily: Sequence[Decimal]) -> Decimal | None:
    """mean / downside deviation of daily net PnL, times sqrt(365); the downside deviation
    is sqrt(sum(min(x, 0)^2) / n) over all n days (target 0)."""
    n = len(daily)
    if n < 2:
        return None
    mean = sum(daily, ZERO) / n
    downside = sum((min(x, ZERO) ** 2 for x in daily), ZERO) / n
    if downside == ZERO:
        return None
    return mean / downside.sqrt() * DAYS_PER_YEAR.sqrt()


def time_in_market(trips: Iterable[RoundTrip], start: datetime, end: datetime) -> Decimal | None:
    """The fraction of [start, end) during which at least one of the trips was open (a
    trip still open counts until `end`)."""
    if end <= start:
        return None
    spans = sorted(
        (max(t.opened_at, start), min(t.closed_at or end, end))
        for t in trips
        if t.opened_at < end and (t.closed_at is None or t.closed_at > start)
    )
    covered = timedelta(0)
    reach = start
    for opened, closed in spans:
        if closed > reach:
            covered += closed - max(opened, reach)
            reach = closed
    return _seconds(covered) / _seconds(end - start)


def equity_curve(
    trips: Iterable[RoundTrip], start: datetime, end: datetime, interval: Interval
) -> list[EquityPoint]:
    """Net PnL per bucket of `interval` from the one holding `start` to the one holding
    the last moment before `end`, with the running equity and drawdown."""
    first = interval.floor(start)
    buckets: dict[datetime, list[Decimal]] = {
        first + n * interval.step: [] for n in range(bucket_count(start, end, interval))
    }
    for trade in trades_in(trips, start, end):
        assert trade.closed_at is not None
        buckets[interval.floor(trade.closed_at)].append(trade.net_pnl)
    points = []
    equity = peak = ZERO
    for at, nets in buckets.items():
        equity += sum(nets, ZERO)
        peak = max(peak, equity)
        points.append(EquityPoint(at, sum(nets, ZERO), len(nets), equity, peak - equity))
    return points


def bucket_count(start: datetime, end: datetime, interval: Interval) -> int:
    """How many points equity_curve would give (to bound a request before computing)."""
    first = interval.floor(start)
    return max(0, -(-(end - first) // interval.step))


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86_400 + span.seconds) + Decimal(span.microseconds) / 1_000_000
