"""Latest prices per symbol, which the portfolio values open positions at."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from stratus.adapters.sql.tables import MarkRow
from stratus.domain.market import Mark


def store_marks(session: Session, marks: Mapping[str, Decimal], at: datetime) -> dict[str, Mark]:
    """Upsert, one statement per 1,000 symbols; a late-arriving older price never replaces
    a newer one. Returns the marks this call wrote (a symbol whose stored mark is newer is
    left out)."""
    return upsert_marks(session, [(symbol, price, at) for symbol, price in marks.items()])


def upsert_marks(session: Session, marks: list[tuple[str, Decimal, datetime]]) -> dict[str, Mark]:
    """store_marks with a time per mark (the watcher's quotes); one mark per symbol."""
    if not marks:
        return {}
    rows = [{"symbol": symbol, "price": price, "updated_at": at} for symbol, price, at in marks]
    # Compiled once: SQLAlchemy renders the rows as multi-row VALUES ("insertmanyvalues"),
    # 1,000 rows a statement (3,000 parameters, far below either database's limit).
    statement = _upsert(session.get_bind().dialect.name)
    return {
        symbol: Mark.model_construct(symbol=symbol, price=price, at=when)
        for symbol, price, when in session.execute(statement, rows)
    }


@cache
def _upsert(dialect: str) -> Any:
    table: Any = MarkRow.__table__  # Core: no ORM bookkeeping per row
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    fresh, stored = statement.excluded, table.c
    return statement.on_conflict_do_update(
        index_elements=[stored.symbol],
        set_={"price": fresh.price, "updated_at": fresh.updated_at},
        where=stored.updated_at <= fresh.updated_at,
    ).returning(stored.symbol, stored.price, stored.updated_at)


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
