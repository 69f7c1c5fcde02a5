"""Positions, fills and portfolio metrics (read side)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from stratus.domain.orders import Fill
from stratus.domain.portfolio import portfolio_metrics
from stratus.manager.routes.deps import ServicesDep

router = APIRouter(tags=["portfolio"])


class PositionOut(BaseModel):
    account: str
    strategy: str
    symbol: str
    quantity: Decimal
    average_entry: Decimal
    realized_pnl: Decimal
    fees: Decimal


class PortfolioOut(BaseModel):
    open_positions: int
    closed_positions: int
    gross_exposure: Decimal
    net_exposure: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal


@router.get("/positions", response_model=list[PositionOut])
def list_positions(services: ServicesDep, account: str | None = None) -> list[PositionOut]:
    return [PositionOut.model_validate(p.model_dump()) for p in services.ledger.positions(account)]


@router.get("/fills", response_model=list[Fill])
def list_fills(services: ServicesDep, account: str | None = None) -> list[Fill]:
    return services.ledger.fills(account)


@router.get("/portfolio", response_model=PortfolioOut)
def portfolio(services: ServicesDep, account: str | None = None) -> PortfolioOut:
    positions = services.ledger.positions(account)
    marks = {
        p.symbol: services.exchanges.for_account(p.account).quote(p.symbol).mid
        for p in positions
        if p.is_open
    }
    metrics = portfolio_metrics(positions, marks)
    return PortfolioOut(**vars(metrics), net_pnl=metrics.net_pnl)
