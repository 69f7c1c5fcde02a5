"""PnL over time for the console's chart: net PnL at each snapshot, and realized PnL net
of fees accumulated fill by fill."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import FillRow, SnapshotRow, SnapshotRunRow
from stratus.domain.common import ZERO

MAX_POINTS = 5000  # the newest points of each series


@dataclass(frozen=True)
class Point:
    at: datetime
    value: Decimal


@dataclass(frozen=True)
class PnlHistory:
    snapshots: list[Point]  # realized + unrealized - fees of every position, per snapshot
    fills: list[Point]  # cumulative realized - fees after each fill (of the newest fills)


class SqlHistory:
    def __init__(self, database: Database) -> None:
        self._db = database

    def pnl(self, account: str | None = None) -> PnlHistory:
        """Summed in Python: SQLite keeps money as text, and its SUM would be a float."""
        runs = select(SnapshotRunRow.taken_at).order_by(SnapshotRunRow.taken_at.desc())
        snapshots = select(
            SnapshotRow.taken_at,
            SnapshotRow.realized_pnl,
            SnapshotRow.unrealized_pnl,
            SnapshotRow.fees,
        )
        fills = select(FillRow.executed_at, FillRow.realized_pnl, FillRow.fee).order_by(
            FillRow.executed_at, FillRow.fill_id
        )
        if account is not None:
            snapshots = snapshots.where(SnapshotRow.account == account)
            fills = fills.where(FillRow.account == account)
        by_time: dict[datetime, Decimal] = defaultdict(Decimal)
        fill_points: deque[Point] = deque(maxlen=MAX_POINTS)
        with self._db.transaction() as session:
            oldest = session.scalars(runs.limit(MAX_POINTS)).all()
            if oldest:
                query = snapshots.where(SnapshotRow.taken_at >= oldest[-1])
                for at, realized, unrealized, fees in session.execute(query):
                    by_time[at] += realized + unrealized - fees
            running = ZERO
            for at, pnl, fee in session.execute(fills):
                running += pnl - fee
                fill_points.append(Point(at, running))
        snapshot_points = [Point(at, by_time[at]) for at in sorted(by_time)]
        return PnlHistory(snapshots=snapshot_points, fills=list(fill_points))

    def last_snapshot(self) -> datetime | None:
        with self._db.transaction() as session:
            taken_at: datetime | None = session.scalar(select(func.max(SnapshotRunRow.taken_at)))
            return taken_at
