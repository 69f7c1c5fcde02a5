"""The portfolio summary as one aggregate query on PostgreSQL (exact NUMERIC arithmetic,
one row over the wire instead of every position through the pure-Python driver). SQLite
keeps money as text, so there the domain's `summarize` runs over the rows instead; the
same tests hold both to the same answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, case, func, literal, not_, select
from sqlalchemy.orm import Session

from stratus.adapters.sql.tables import MarkRow, PositionRow
from stratus.adapters.sql.types import plain
from stratus.domain.common import ZERO
from stratus.domain.performance import HUNDRED, Summary
from stratus.domain.portfolio import PortfolioMetrics


def aggregate_summary(session: Session, where: Any, threshold: Decimal) -> Summary:
    """`where` is a PositionFilter; same meaning as domain.performance.summarize."""
    p = PositionRow.__table__.c
    mark = func.coalesce(MarkRow.__table__.c.price, p.average_entry)
    opened = p.is_open.is_(True)
    notional = func.abs(p.quantity) * mark
    unrealized = (mark - p.average_entry) * p.quantity
    risky = and_(opened, -unrealized > notional * literal(threshold, Numeric(38, 18)))

    def when(condition: Any, value: Any) -> Any:
        return func.sum(case((condition, value), else_=0))

    query = where.apply(
        select(
            when(opened, 1),
            when(not_(opened), 1),
            when(opened, notional),
            when(opened, p.quantity * mark),
            func.sum(p.realized_pnl),
            when(opened, unrealized),
            func.sum(p.fees),
            func.sum(p.closing_fills),
            func.sum(p.winning_fills),
            func.sum(p.gross_profit),
            func.sum(p.gross_loss),
            func.max(case((opened, notional), else_=None)),
            when(risky, 1),
        ).select_from(
            PositionRow.__table__.outerjoin(
                MarkRow.__table__, MarkRow.__table__.c.symbol == p.symbol
            )
        )
    )
    row = session.execute(query).one()
    (
        opened_n,
        closed_n,
        gross,
        net,
        realized,
        unreal,
        fees,
        closing,
        wins,
        profit,
        loss,
        largest,
        at_risk,
    ) = (ZERO if value is None else value for value in row)
    gross, largest = _money(gross), _money(largest)
    metrics = PortfolioMetrics(
        int(opened_n),
        int(closed_n),
        gross,
        _money(net),
        _money(realized),
        _money(unreal),
        _money(fees),
    )
    closing, wins = int(closing), int(wins)
    return Summary(
        metrics=metrics,
        closing_fills=closing,
        win_rate=Decimal(wins) / closing if closing else None,
        profit_factor=_money(profit) / _money(loss) if loss else None,
        largest_position_pct=largest / gross * HUNDRED if gross > ZERO else None,
        positions_at_risk=int(at_risk),
    )


def _money(value: Any) -> Decimal:
    return plain(Decimal(value))
