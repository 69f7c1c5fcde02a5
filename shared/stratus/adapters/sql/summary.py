"""The portfolio summary in the database. PostgreSQL: one aggregate query (exact NUMERIC
arithmetic, one row over the wire instead of every position through the pure-Python
driver). SQLite keeps money as text, which its SUM would add as floats: there one query
streams the bare text columns into the domain's SummaryFold (no ORM row, no model per
position). The same tests hold both to the same answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, and_, case, func, literal, not_, select, type_coerce
from sqlalchemy.orm import Session

from stratus.adapters.sql.tables import MarkRow, PositionRow
from stratus.adapters.sql.types import plain
from stratus.domain.common import ZERO
from stratus.domain.performance import Summary, SummaryFold
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
    """SQLite: the summary folded over the matching rows' raw text (see the module)."""
    p, m = PositionRow.__table__.c, MarkRow.__table__.c
    text = [type_coerce(column, String) for column in (*_folded(p), m.price)]
    query = where.apply(
        select(*text).select_from(
            PositionRow.__table__.outerjoin(MarkRow.__table__, m.symbol == p.symbol)
        )
    )
    fold = SummaryFold(threshold)
    add = fold.add
    rows = session.execute(query).all()  # one fetchall: cheaper than a fetch per row
    for quantity, entry, realized, fees, closing, wins, profit, loss, mark in rows:
        add(
            Decimal(quantity),
            Decimal(entry),
            Decimal(realized),
            Decimal(fees),
            int(closing),
            int(wins),
            Decimal(profit),
            Decimal(loss),
            None if mark is None else Decimal(mark),
        )
    return fold.result()


def _folded(p: Any) -> tuple[Any, ...]:
    return (
        p.quantity,
        p.average_entry,
        p.realized_pnl,
        p.fees,
        p.closing_fills,
        p.winning_fills,
        p.gross_profit,
        p.gross_loss,
    )


def _money(value: Any) -> Decimal:
    return plain(Decimal(value))
