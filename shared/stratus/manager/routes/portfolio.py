"""Portfolio: metrics, exposure, PnL and the summary, at the stored marks."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratus.adapters.sql.portfolio import LedgerFilter, PositionFilter
from stratus.adapters.sql.round_trips import TripFilter
from stratus.domain.common import Identifier, Symbol
from stratus.domain.performance import exposure_by_asset
from stratus.domain.portfolio import PortfolioMetrics
from stratus.manager.auth import Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.numbers import Fraction, Money, Ratio
from stratus.manager.numbers import Price as PriceOut
from stratus.manager.routes.deps import ServicesDep, StoreDep
from stratus.manager.schemas import Asset, Mode, Price

router = APIRouter(tags=["portfolio"], route_class=StrictJsonRoute)
ONE = Decimal(1)  # "at risk" threshold when only the metrics are wanted


class MetricsOut(BaseModel):
    open_positions: int
    closed_positions: int
    value: Money  # market value of the open positions: longs minus shorts at mark
    gross_exposure: Money
    net_exposure: Money
    realized_pnl: Money
    unrealized_pnl: Money
    fees: Money
    net_pnl: Money

    @classmethod
    def of(cls, metrics: PortfolioMetrics) -> MetricsOut:
        return cls(
            **vars(metrics),
            value=metrics.net_exposure,
            net_pnl=metrics.net_pnl,
        )


class SummaryOut(MetricsOut):
    closing_fills: int
    trades: int  # closed round trips (docs/analytics.md), as are the next two
    win_rate: Fraction | None
    profit_factor: Ratio | None
    largest_position_share: Fraction | None
    positions_at_risk: int
    at_risk_threshold: Fraction


class ExposureOut(BaseModel):
    asset: str
    long: Money
    short: Money
    net: Money
    gross: Money
    share: Fraction  # of the portfolio's gross exposure


class PnlOut(BaseModel):
    realized: Money
    fees: Money
    realized_net: Money
    fills: int
    unrealized: Money


@router.get("/portfolio", response_model=MetricsOut)
@router.get("/portfolio/metrics", response_model=MetricsOut)
def metrics(
    store: StoreDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
) -> MetricsOut:
    return MetricsOut.of(store.portfolio.summary(PositionFilter(account, strategy), ONE).metrics)


@router.get("/portfolio/summary", response_model=SummaryOut)
def summary(
    store: StoreDep,
    services: ServicesDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    asset: Asset | None = None,
    mode: Mode | None = None,
) -> SummaryOut:
    threshold = Decimal(str(services.settings.unrealized_loss_warning))
    where = PositionFilter(account, strategy, None, asset, mode)
    result = store.portfolio.summary(where, threshold)
    trades = store.trips.outcomes(TripFilter(account, strategy), asset, mode)
    return SummaryOut(
        **MetricsOut.of(result.metrics).model_dump(),
        closing_fills=result.closing_fills,
        trades=trades.trades,
        win_rate=trades.win_rate,
        profit_factor=trades.profit_factor,
        largest_position_share=result.largest_position_share,
        positions_at_risk=result.positions_at_risk,
        at_risk_threshold=threshold,
    )


@router.get("/portfolio/exposure", response_model=list[ExposureOut])
def exposure(
    store: StoreDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
) -> list[ExposureOut]:
    tracked, marks = store.portfolio.tracked(PositionFilter(account, strategy, status="open"))
    lines = exposure_by_asset([item.position for item in tracked], marks)
    return [ExposureOut(**vars(line)) for line in lines]


@router.get("/portfolio/pnl", response_model=PnlOut)
def pnl(
    store: StoreDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> PnlOut:
    """Realized PnL from the fills ledger (optionally in [since, until)); unrealized PnL
    of the open positions now."""
    realized = store.portfolio.pnl(LedgerFilter(account, strategy, since=since, until=until))
    where = PositionFilter(account, strategy, status="open")
    unrealized = store.portfolio.summary(where, ONE).metrics.unrealized_pnl
    return PnlOut(
        realized=realized.realized,
        fees=realized.fees,
        realized_net=realized.realized_net,
        fills=realized.fills,
        unrealized=unrealized,
    )


class MarksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marks: dict[Symbol, Price] = Field(min_length=1, max_length=10_000)
    at: AwareDatetime | None = None


@router.get("/marks", response_model=dict[str, PriceOut])
def get_marks(store: StoreDep, _: Reader) -> dict[str, Decimal]:
    return store.portfolio.marks()


@router.put("/marks", status_code=204)
def put_marks(body: MarksIn, store: StoreDep, principal: Trader) -> Response:
    """Latest prices (e.g. from the snapshot schedule); an older price never replaces a
    newer one."""
    at = body.at or store.ledger.clock.now()
    store.portfolio.put_marks(body.marks, at, actor=principal.name)
    return Response(status_code=204)
