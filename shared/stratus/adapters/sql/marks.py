"""Latest prices per symbol, which the portfolio values open positions at."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from stratus.adapters.sql.tables import MarkRow
from stratus.domain.market import Mark


def store_marks(
    session: Session, marks: Mapping[str, Decimal], at: datetime, only_newer: bool = False
) -> None:
    """Upsert; with only_newer a late-arriving older price never replaces a newer one."""
    if not marks:
        return
    existing = {
        row.symbol: row
        for row in session.scalars(select(MarkRow).where(MarkRow.symbol.in_(list(marks))))
    }
    for symbol, price in marks.items():
        row = existing.get(symbol)
        if row is None:
            session.add(MarkRow(symbol=symbol, price=price, updated_at=at))
        elif not only_newer or at >= row.updated_at:
            row.price, row.updated_at = price, at


def load_marks(session: Session, symbols: Iterable[str] | None = None) -> dict[str, Decimal]:
    query = select(MarkRow.symbol, MarkRow.price)
    if symbols is not None:
        query = query.where(MarkRow.symbol.in_(list(symbols)))
    return dict(session.execute(query).all())


def load_dated_marks(session: Session, symbols: Iterable[str]) -> dict[str, Mark]:
    """The marks of `symbols` with the time each was quoted."""
    query = select(MarkRow).where(MarkRow.symbol.in_(list(symbols)))
    return {
        row.symbol: Mark(symbol=row.symbol, price=row.price, at=row.updated_at)
        for row in session.scalars(query)
    }
