"""The portfolio summary in the database. PostgreSQL: one aggregate query (exact NUMERIC
arithmetic, one row over the wire instead of every position through the pure-Python
driver). SQLite keeps money as text, which its SUM would add as floats: there one query
fetches each text column as one string, which the domain's summary_of folds column by
column (no row, no model per position). The same tests hold both to the same answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, and_, case, func, literal, not_, select, type_coerce
from sqlalchemy.orm import Session

from stratus.adapters.sql.tables import MarkRow, PositionRow
from stratus.adapters.sql.types import plain
from stratus.domain.common import ZERO
from stratus.domain.performance import Summary, summary_of
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
    return Summary(
        metrics=metrics,
        closing_fills=int(closing),
        largest_position_share=largest / gross if gross > ZERO else None,
        positions_at_risk=int(at_risk),
    )


def folded_summary(session: Session, where: Any, threshold: Decimal) -> Summary:
    """SQLite: each text column of the matching positions as one comma-separated string
    (all aggregated in the one pass over the rows, so the i-th values are one position's),
    folded by the domain's summary_of: no row tuple per position (see summary_of)."""
    p, m = PositionRow.__table__.c, MarkRow.__table__.c
    every = [
        func.group_concat(type_coerce(column, String), ",")
        for column in (p.quantity, p.average_entry, p.realized_pnl, p.fees)
    ]
    marks = func.group_concat(func.coalesce(type_coerce(m.price, String), ""), ",")
    query = where.apply(
        select(*every, marks, func.sum(p.closing_fills)).select_from(
            PositionRow.__table__.outerjoin(MarkRow.__table__, m.symbol == p.symbol)
        )
    )
    *numbers, priced, closing = session.connection().execute(query).one()
    if priced is None:  # no position matches
        return summary_of([], [], [], [], [], 0, threshold)
    quantities, entries, realized, fees = (list(map(Decimal, n.split(","))) for n in numbers)
    prices = [Decimal(price) if price else None for price in priced.split(",")]
    return summary_of(quantities, entries, realized, fees, prices, int(closing), threshold)


def _money(value: Any) -> Decimal:
    return plain(Decimal(value))
