"""Round trips on SQL: rows to domain values and back, and the ledger's upkeep of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import sub
from typing import Any

from sqlalchemy import Select, String, case, delete, func, not_, or_, select, type_coerce
from sqlalchemy.orm import Session

from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import RoundTripRow
from stratus.adapters.sql.types import plain
from stratus.domain.analytics import Outcomes, outcomes
from stratus.domain.orders import Fill
from stratus.domain.positions import Position
from stratus.domain.round_trips import Direction, RoundTrip, advance, round_trips

TRIP_FIELDS = (
    "trip_id", "account", "strategy", "symbol", "opened_at", "closed_at", "size", "max_size",
    "entry_quantity", "entry_notional", "exit_quantity", "exit_notional", "gross_pnl",
    "fees", "fills",
)  # fmt: skip


def trip_values(trip: RoundTrip) -> dict[str, Any]:
    """The row's columns."""
    values = {name: getattr(trip, name) for name in TRIP_FIELDS}
    return {**values, "side": trip.side.value, "status": trip.status.value}


def trip_of(row: RoundTripRow) -> RoundTrip:
    return RoundTrip(side=Direction(row.side), **{name: getattr(row, name) for name in TRIP_FIELDS})


def follow_fill(
    session: Session, before: Position, current: RoundTripRow | None, fill: Fill
) -> str:
    """Move the position's open trip by `fill` (applied to `before` in this transaction);
    the position's trip after it. `current` is the position's trip before the fill: its
    open one unless the position was flat."""
    row = current if before.quantity != 0 else None
    trips = advance(before, None if row is None else trip_of(row), fill)
    for trip in trips:
        if row is not None and row.trip_id == trip.trip_id:
            for name, value in trip_values(trip).items():
                setattr(row, name, value)
        else:
            session.add(RoundTripRow(**trip_values(trip)))
    return trips[-1].trip_id


def replace_trips(
    session: Session, fills: Iterable[Fill], account: str, strategy: str, symbol: str
) -> str | None:
    """The position's trips replayed from all its fills (a fill arrived late); the last
    one's id."""
    session.execute(
        delete(RoundTripRow).where(
            RoundTripRow.account == account,
            RoundTripRow.strategy == strategy,
            RoundTripRow.symbol == symbol,
        )
    )
    session.flush()
    trips = round_trips(fills)
    session.add_all(RoundTripRow(**trip_values(trip)) for trip in trips)
    return trips[-1].trip_id if trips else None


@dataclass(frozen=True)
class TripFilter:
    """Which trips: by owner, and (closed ones) by when they closed, since <= t < until."""

    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        c = RoundTripRow
        for column, value in (
            (c.account, self.account),
            (c.strategy, self.strategy),
            (c.symbol, self.symbol),
            (c.status, self.status),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(c.closed_at >= self.since)
        if self.until is not None:
            query = query.where(c.closed_at < self.until)
        return query


class SqlRoundTrips:
    """Reads the round trips the ledger keeps."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def find(self, where: TripFilter, page: Page) -> tuple[list[RoundTrip], int]:
        """Newest first: by when they opened."""
        query = where.apply(select(RoundTripRow)).order_by(
            RoundTripRow.opened_at.desc(), RoundTripRow.trip_id.desc()
        )
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [trip_of(row) for row in rows], total

    def all(self, where: TripFilter) -> list[RoundTrip]:
        """Oldest first: by when they opened."""
        query = where.apply(select(RoundTripRow)).order_by(
            RoundTripRow.opened_at, RoundTripRow.trip_id
        )
        with self._db.transaction() as session:
            return [trip_of(row) for row in session.scalars(query)]

    def outcomes(
        self, where: TripFilter, asset: str | None = None, mode: str | None = None
    ) -> Outcomes:
        """How the closed trips in scope came out (domain.analytics.outcomes), without a
        trip object each: PostgreSQL adds them up in the query; SQLite, whose money is
        text, sends every net as one string."""
        c = RoundTripRow.__table__.c
        scope = where.apply(select()).where(c.closed_at.is_not(None))
        if asset is not None:  # domain.performance.asset_of and mode_of, in SQL
            scope = scope.where(or_(c.symbol == asset, c.symbol.startswith(f"{asset}/")))
        if mode is not None:
            swap = c.symbol.contains(":")
            scope = scope.where(swap if mode == "swap" else not_(swap))
        with self._db.transaction() as session:
            if self._db.embedded:
                every = (
                    func.group_concat(type_coerce(v, String), ",") for v in (c.gross_pnl, c.fees)
                )
                gross, fees = session.execute(scope.add_columns(*every)).one()
                if gross is None:
                    return outcomes([])
                nets = map(sub, map(Decimal, gross.split(",")), map(Decimal, fees.split(",")))
                return outcomes(nets)
            net = c.gross_pnl - c.fees
            row = session.execute(
                scope.add_columns(
                    func.count(),
                    func.sum(case((net > 0, 1), else_=0)),
                    func.sum(case((net < 0, 1), else_=0)),
                    func.sum(case((net > 0, net), else_=0)),
                    func.sum(case((net < 0, net), else_=0)),
                )
            ).one()
        trades, wins, losses, won, lost = (0 if value is None else value for value in row)
        return Outcomes(
            int(trades), int(wins), int(losses), plain(Decimal(won)), plain(Decimal(lost))
        )
