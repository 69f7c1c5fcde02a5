"""Analytics: trades (closed round trips) and the metrics computed from them, net of fees
(docs/analytics.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel

from stratus.adapters.sql.round_trips import TripFilter
from stratus.domain.analytics import (
    EquityPoint,
    Interval,
    TradeStats,
    bucket_count,
    equity_curve,
    just_after,
    trade_stats,
)
from stratus.domain.common import Identifier, Symbol
from stratus.domain.round_trips import RoundTrip
from stratus.manager.auth import Reader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.errors import BadRequest
from stratus.manager.numbers import Fraction, Money, Price, Quantity, Ratio
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import Paged, Paging, Status, paged
from stratus.manager.store import Store

router = APIRouter(prefix="/analytics", tags=["analytics"], route_class=StrictJsonRoute)
MAX_POINTS = 5_000  # of one equity curve: a year of hours, a decade of days
MAX_DAYS = 3_660  # of one summary (its daily series)


class TradeOut(BaseModel):
    id: str  # the fill that opened it
    account: str
    strategy: str
    symbol: str
    side: str  # long, short
    status: str  # open, closed
    opened_at: datetime
    closed_at: datetime | None
    duration_seconds: int  # to now while open
    size: Quantity  # held now; 0 once closed
    max_size: Quantity
    entry_average: Price
    exit_average: Price | None  # None before the first exit
    gross_pnl: Money  # realized so far
    fees: Money
    net_pnl: Money
    fills: int

    @classmethod
    def of(cls, trip: RoundTrip, now: datetime) -> TradeOut:
        return cls(
            id=trip.trip_id,
            account=trip.account,
            strategy=trip.strategy,
            symbol=trip.symbol,
            side=trip.side.value,
            status=trip.status.value,
            opened_at=trip.opened_at,
            closed_at=trip.closed_at,
            duration_seconds=int(trip.duration(now).total_seconds()),
            size=trip.size,
            max_size=trip.max_size,
            entry_average=trip.entry_average,
            exit_average=trip.exit_average,
            gross_pnl=trip.gross_pnl,
            fees=trip.fees,
            net_pnl=trip.net_pnl,
            fills=trip.fills,
        )


class SummaryOut(BaseModel):
    account: str | None
    strategy: str | None
    symbol: str | None
    since: datetime
    until: datetime
    trades: int
    wins: int
    losses: int
    win_rate: Fraction | None
    gross_pnl: Money
    fees: Money
    net_pnl: Money
    profit_factor: Ratio | None
    expectancy: Money | None
    average_win: Money | None
    average_loss: Money | None
    largest_win: Money | None
    largest_loss: Money | None
    max_drawdown: Money
    sharpe: Ratio | None
    sortino: Ratio | None
    time_in_market_fraction: Fraction | None
    open_trades: int  # open now, not in the metrics

    @classmethod
    def of(cls, stats: TradeStats, **scope: object) -> SummaryOut:
        values = vars(stats) | {"time_in_market_fraction": stats.time_in_market}
        del values["time_in_market"]
        return cls.model_validate(values | scope)


class PointOut(BaseModel):
    at: datetime
    net_pnl: Money
    trades: int
    equity: Money
    drawdown: Money

    @classmethod
    def of(cls, point: EquityPoint) -> PointOut:
        return cls(**vars(point))


class HistoryOut(BaseModel):
    interval: Interval
    since: datetime
    until: datetime
    points: list[PointOut]


@router.get("/trades", response_model=Paged[TradeOut])
def trades(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    status: Status | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Paged[TradeOut]:
    """Round trips, newest first; since/until select by when they closed."""
    where = TripFilter(account, strategy, symbol, status, since, until)
    items, total = store.trips.find(where, page)
    now = store.ledger.clock.now()
    return paged([TradeOut.of(trip, now) for trip in items], total, page)


@router.get("/summary", response_model=SummaryOut)
def summary(
    store: StoreDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> SummaryOut:
    """The metrics of the trades that closed in [since, until): by default from the first
    trip's opening to now."""
    return summarize(store, account, strategy, symbol, since, until)


def summarize(
    store: Store,
    account: str | None = None,
    strategy: str | None = None,
    symbol: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SummaryOut:
    """GET /analytics/summary's answer (the console's PnL page shows it too)."""
    trips = store.trips.all(TripFilter(account, strategy, symbol))
    start, end = _period(store, trips, since, until)
    if end - start > timedelta(days=MAX_DAYS):
        raise BadRequest("range_too_long", f"a summary covers {MAX_DAYS} days at most")
    return SummaryOut.of(
        trade_stats(trips, start, end),
        account=account,
        strategy=strategy,
        symbol=symbol,
        since=start,
        until=end,
        open_trades=sum(trip.is_open for trip in trips),
    )


@router.get("/pnl-history", response_model=HistoryOut)
def pnl_history(
    store: StoreDep,
    _: Reader,
    interval: Interval = Interval.DAY,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> HistoryOut:
    """The equity curve: net PnL of the trades closed in each interval, cumulative from
    `since`, with the drawdown below its running peak."""
    trips = store.trips.all(TripFilter(account, strategy, symbol))
    start, end = _period(store, trips, since, until)
    if bucket_count(start, end, interval) > MAX_POINTS:
        raise BadRequest(
            "too_many_points", f"at most {MAX_POINTS} points: a longer interval or a shorter range"
        )
    points = [PointOut.of(point) for point in equity_curve(trips, start, end, interval)]
    return HistoryOut(interval=interval, since=start, until=end, points=points)


def _period(
    store: Store, trips: list[RoundTrip], since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime]:
    """[since, until), by default from the first trip's opening to now (or just past the
    last fill, should the ledger hold fills stamped later than this clock)."""
    latest = (trip.closed_at or trip.opened_at for trip in trips)
    end = until or max([store.ledger.clock.now(), *(just_after(t) for t in latest)])
    start = since or min((trip.opened_at for trip in trips), default=end)
    if start > end:
        raise BadRequest("empty_range", "since must not be after until")
    return start, end
