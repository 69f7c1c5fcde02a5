"""The system of record on SQL: fills ledger, positions and snapshots.

This is the manager's storage; the manager API and the embedded pipeline use it directly,
functions in production reach it through the manager's HTTP API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import Base, FillRow, PositionRow, SnapshotRow, SnapshotRunRow
from stratus.domain.common import ZERO, Side
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.orders import Fill, Liquidity
from stratus.domain.positions import Position


class SqlLedger:
    def __init__(self, database: Database, create_schema: bool = True) -> None:
        self._db = database
        if create_schema:
            Base.metadata.create_all(database.engine)

    def apply_fill(self, fill: Fill) -> Position | None:
        """Insert the fill and move its position in one transaction.

        The fill's primary key makes a second application fail on insert; the position's
        version column makes two concurrent fills on one position retry instead of one
        overwriting the other.
        """
        try:
            with self._db.transaction() as session:
                if session.get(FillRow, fill.fill_id) is not None:
                    return None
                row = _locked_position(session, fill.account, fill.strategy, fill.symbol)
                before = (
                    _position(row)
                    if row
                    else Position(account=fill.account, strategy=fill.strategy, symbol=fill.symbol)
                )
                after = before.apply(fill)
                session.add(_fill_row(fill, after.realized_pnl - before.realized_pnl))
                if row is None:
                    session.add(_new_position_row(after))
                else:
                    row.quantity = after.quantity
                    row.average_entry = after.average_entry
                    row.realized_pnl = after.realized_pnl
                    row.fees = after.fees
                    row.updated_at = after.updated_at
                session.flush()
                return after
        except IntegrityError:
            with self._db.transaction() as session:
                if session.get(FillRow, fill.fill_id) is not None:
                    return None  # a concurrent copy of this fill won
            raise ConcurrentUpdate(f"position {fill.account}/{fill.symbol} moved on") from None

    def position(self, account: str, strategy: str, symbol: str) -> Position:
        with self._db.transaction() as session:
            row = session.get(PositionRow, (account, strategy, symbol))
            if row is None:
                return Position(account=account, strategy=strategy, symbol=symbol)
            return _position(row)

    def positions(self, account: str | None = None) -> list[Position]:
        query = select(PositionRow).order_by(
            PositionRow.account, PositionRow.strategy, PositionRow.symbol
        )
        if account is not None:
            query = query.where(PositionRow.account == account)
        with self._db.transaction() as session:
            return [_position(row) for row in session.scalars(query)]

    def fills(self, account: str | None = None) -> list[Fill]:
        query = select(FillRow).order_by(FillRow.executed_at, FillRow.fill_id)
        if account is not None:
            query = query.where(FillRow.account == account)
        with self._db.transaction() as session:
            return [_fill(row) for row in session.scalars(query)]

    def realized_pnl_since(self, account: str, since: datetime) -> Decimal:
        query = select(FillRow.realized_pnl, FillRow.fee).where(
            FillRow.account == account, FillRow.executed_at >= since
        )
        with self._db.transaction() as session:
            # Summed here, exactly: SQLite would sum decimals as floats.
            return sum((pnl - fee for pnl, fee in session.execute(query)), ZERO)

    def record_snapshot(self, taken_at: datetime, marks: Mapping[str, Decimal]) -> bool:
        try:
            with self._db.transaction() as session:
                rows = session.scalars(select(PositionRow)).all()
                session.add(SnapshotRunRow(taken_at=taken_at, positions=len(rows)))
                session.flush()  # a second run for this time fails here, writing nothing
                for row in rows:
                    position = _position(row)
                    mark = marks.get(position.symbol, position.average_entry)
                    session.add(
                        SnapshotRow(
                            taken_at=taken_at,
                            account=position.account,
                            strategy=position.strategy,
                            symbol=position.symbol,
                            quantity=position.quantity,
                            average_entry=position.average_entry,
                            mark_price=mark,
                            realized_pnl=position.realized_pnl,
                            unrealized_pnl=position.unrealized_pnl(mark),
                            fees=position.fees,
                        )
                    )
        except IntegrityError:
            return False  # this schedule time was already snapshotted
        return True


def _locked_position(
    session: Session, account: str, strategy: str, symbol: str
) -> PositionRow | None:
    query = select(PositionRow).where(
        PositionRow.account == account,
        PositionRow.strategy == strategy,
        PositionRow.symbol == symbol,
    )
    # Row lock on PostgreSQL; SQLite already serializes writers (BEGIN IMMEDIATE).
    return session.scalars(query.with_for_update()).one_or_none()


def _position(row: PositionRow) -> Position:
    return Position(
        account=row.account,
        strategy=row.strategy,
        symbol=row.symbol,
        quantity=row.quantity,
        average_entry=row.average_entry,
        realized_pnl=row.realized_pnl,
        fees=row.fees,
        updated_at=row.updated_at,
    )


def _new_position_row(position: Position) -> PositionRow:
    return PositionRow(
        account=position.account,
        strategy=position.strategy,
        symbol=position.symbol,
        quantity=position.quantity,
        average_entry=position.average_entry,
        realized_pnl=position.realized_pnl,
        fees=position.fees,
        updated_at=position.updated_at,
    )


def _fill_row(fill: Fill, realized: Decimal) -> FillRow:
    return FillRow(**fill.model_dump(), realized_pnl=realized)


def _fill(row: FillRow) -> Fill:
    return Fill(
        fill_id=row.fill_id,
        client_order_id=row.client_order_id,
        exchange_order_id=row.exchange_order_id,
        request_id=row.request_id,
        account=row.account,
        strategy=row.strategy,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_currency=row.fee_currency,
        liquidity=Liquidity(row.liquidity),
        executed_at=row.executed_at,
    )
