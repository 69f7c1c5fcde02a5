"""The system of record on SQL: fills ledger, positions, orders and snapshots (the Ledger
port). The manager API and the embedded pipeline use it directly; functions in production
reach it through the manager's HTTP API (stratus.adapters.manager_client)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from stratus.adapters.clock import SystemClock
from stratus.adapters.sql import audit
from stratus.adapters.sql.convert import (
    fill_of,
    fill_row,
    order_row,
    position_of,
    store_order,
    store_position,
    tracked_of,
)
from stratus.adapters.sql.db import Database, refused_value
from stratus.adapters.sql.fill_batch import Late, apply_batch
from stratus.adapters.sql.marks import load_dated_marks, store_marks
from stratus.adapters.sql.quotas import release_in
from stratus.adapters.sql.round_trips import follow_fill, replace_trips
from stratus.adapters.sql.schema_head import at_head
from stratus.adapters.sql.tables import (
    BalanceSnapshotRow,
    FillRow,
    OrderRow,
    PositionRow,
    RoundTripRow,
    SnapshotRow,
    SnapshotRunRow,
)
from stratus.domain.common import ZERO
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.orders import Fill, OrderRecord, OrderStatus
from stratus.domain.performance import MarkedPosition, TrackedPosition
from stratus.domain.positions import Position, execution_order
from stratus.ports import BalanceTotals, Clock

ATTEMPTS = 5


@dataclass(frozen=True)
class Refused:
    """A fill of a batch the database would not hold (a value out of its range): nothing
    of it was written."""

    fill_id: str
    reason: str


class SqlLedger:
    def __init__(
        self, database: Database, clock: Clock | None = None, migrate: bool = True
    ) -> None:
        """`migrate` brings an embedded (SQLite) database to head; PostgreSQL is migrated
        by `stratus db upgrade`, a deploy step, never by a serving instance."""
        self._db = database
        self._clock = clock or SystemClock()
        if migrate and database.embedded and not at_head(database.engine):
            from stratus import migrations  # Alembic only when there is work for it

            migrations.upgrade_embedded(database.engine)

    @property
    def database(self) -> Database:
        return self._db

    @property
    def clock(self) -> Clock:
        return self._clock

    def apply_fill(self, fill: Fill, actor: str = audit.SYSTEM) -> Position | None:
        """Insert the fill and move its position in one transaction; None when the fill
        was applied before."""
        applied = self.apply(fill, actor)
        return None if applied is None else applied.tracked.position

    def apply(self, fill: Fill, actor: str = audit.SYSTEM) -> MarkedPosition | None:
        """apply_fill, answering the moved position with its statistics and mark."""
        return self._in_one_transaction([fill], actor)[0]

    def apply_many(
        self, fills: Sequence[Fill], actor: str = audit.SYSTEM
    ) -> list[MarkedPosition | Refused | None]:
        """Apply `fills` in order, each exactly once by fill_id (None: applied before),
        in one transaction. Fill by fill instead, each in its own, when one of them
        arrived late (it rebuilds its position) or when the database refuses a value of
        the batch (refused_value): that tells the fill it refuses (Refused, nothing
        written) from the others. A batch of one raises the refusal."""
        try:
            return list(self._in_one_transaction(fills, actor))
        except Late:
            pass
        except DBAPIError as error:
            if len(fills) == 1 or not refused_value(error):
                raise
        return [self._refused_or_applied(fill, actor) for fill in fills]

    def _in_one_transaction(self, fills: Sequence[Fill], actor: str) -> list[MarkedPosition | None]:
        """One short transaction of one statement per table (adapters.sql.fill_batch).
        Two writers on one position queue on its row lock; a fill_id another writer
        stored meanwhile fails the batch on the fills table's key: it is tried again,
        knowing it, a few times, then ConcurrentUpdate. A late fill alone takes the ORM
        path, which replays its position; in a batch of several it raises Late."""
        applied: set[str] = set()
        for _ in range(ATTEMPTS):
            try:
                with self._db.transaction() as session:
                    return apply_batch(session, fills, applied, actor, self._clock.now())
            except Late:
                if len(fills) > 1:
                    raise
                return [self._apply_alone(fills[0], actor)]
            except (IntegrityError, StaleDataError):
                applied = self._stored({fill.fill_id for fill in fills})
        raise ConcurrentUpdate(f"{len(fills)} fills kept meeting concurrent writers")

    def _refused_or_applied(self, fill: Fill, actor: str) -> MarkedPosition | Refused | None:
        try:
            return self.apply(fill, actor)
        except DBAPIError as error:
            if not refused_value(error):
                raise
            return Refused(fill.fill_id, "a value is out of range")

    def _stored(self, fill_ids: set[str]) -> set[str]:
        with self._db.transaction() as session:
            query = select(FillRow.fill_id).where(FillRow.fill_id.in_(fill_ids))
            return set(session.scalars(query))

    def _apply_alone(self, fill: Fill, actor: str) -> MarkedPosition | None:
        """One fill in its own transaction through the ORM, which replays its position
        when it arrived late."""
        for _ in range(ATTEMPTS):
            try:
                return self._apply(fill, actor)
            except (IntegrityError, StaleDataError):
                if self._stored({fill.fill_id}):
                    return None  # applied before, or by a concurrent copy
        raise ConcurrentUpdate(f"position {fill.account}/{fill.symbol} kept moving")

    def _apply(self, fill: Fill, actor: str) -> MarkedPosition:
        with self._db.transaction() as session:
            row, trip = _locked_position(session, fill.account, fill.strategy, fill.symbol)
            existed = row is not None
            flat = Position(account=fill.account, strategy=fill.strategy, symbol=fill.symbol)
            before = tracked_of(row) if row is not None else TrackedPosition(flat)
            added = fill_row(fill, ZERO, before.version + 1 if existed else 1)
            session.add(added)
            if row is not None and _arrived_late(session, row, fill):
                # The position and its round trips follow execution order, not arrival.
                after, trip_id = _rebuilt(session, TrackedPosition(flat))
            else:
                after = before.apply(fill)
                added.realized_pnl = after.position.realized_pnl - before.position.realized_pnl
                trip_id = follow_fill(session, before.position, trip, fill)
            if row is None:
                row = PositionRow()
                session.add(row)
            store_position(row, after)
            row.trip_id = trip_id
            session.flush()  # a repeated fill_id fails here, before anything else is written
            audit.record(
                session,
                actor=actor,
                action="fill.apply",
                entity="position",
                entity_id=f"{fill.account}/{fill.strategy}/{fill.symbol}",
                before=before.position if existed else None,
                after={**after.position.model_dump(mode="json"), "fill_id": fill.fill_id},
                at=self._clock.now(),
            )
            # Last, so the symbol's mark row (shared by every position in the symbol) is
            # locked only from here to the commit.
            marks = store_marks(session, {fill.symbol: fill.price}, fill.executed_at)
            if fill.symbol not in marks:  # a newer mark is stored: answer with it
                marks = load_dated_marks(session, {fill.symbol})
            return MarkedPosition(
                replace(after, version=row.version), marks.get(fill.symbol), trip_id
            )

    def position(self, account: str, strategy: str, symbol: str) -> Position:
        with self._db.transaction() as session:
            row = session.get(PositionRow, (account, strategy, symbol))
            if row is None:
                return Position(account=account, strategy=strategy, symbol=symbol)
            return position_of(row)

    def positions(self, account: str | None = None) -> list[Position]:
        query = select(PositionRow).order_by(
            PositionRow.account, PositionRow.strategy, PositionRow.symbol
        )
        if account is not None:
            query = query.where(PositionRow.account == account)
        with self._db.transaction() as session:
            return [position_of(row) for row in session.scalars(query)]

    def fills(self, account: str | None = None) -> list[Fill]:
        query = select(FillRow).order_by(FillRow.executed_at, FillRow.fill_id)
        if account is not None:
            query = query.where(FillRow.account == account)
        with self._db.transaction() as session:
            return [fill_of(row) for row in session.scalars(query)]

    def realized_pnl_since(self, account: str, since: datetime) -> Decimal:
        query = select(FillRow.realized_pnl, FillRow.fee).where(
            FillRow.account == account, FillRow.executed_at >= since
        )
        with self._db.transaction() as session:
            # Summed here, exactly: SQLite would sum decimals as floats.
            return sum((pnl - fee for pnl, fee in session.execute(query)), ZERO)

    def record_snapshot(
        self,
        taken_at: datetime,
        marks: Mapping[str, Decimal],
        balances: BalanceTotals,
        actor: str = audit.SYSTEM,
    ) -> bool:
        """Snapshot every position at `marks` (entry price where a mark is missing) and the
        accounts' exchange balances in one transaction; False, writing nothing, when this
        schedule time was snapshotted already."""
        try:
            with self._db.transaction() as session:
                rows = session.scalars(select(PositionRow)).all()
                session.add(SnapshotRunRow(taken_at=taken_at, positions=len(rows)))
                session.flush()  # a second run for this time fails here, writing nothing
                for row in rows:
                    position = position_of(row)
                    mark = marks.get(position.symbol, position.average_entry)
                    session.add(_snapshot_row(taken_at, position, mark))
                held = _balance_rows(taken_at, balances)
                session.add_all(held)
                store_marks(session, marks, taken_at)
                audit.record(
                    session,
                    actor=actor,
                    action="snapshot.create",
                    entity="snapshot",
                    entity_id=taken_at.isoformat(),
                    before=None,
                    after={"positions": len(rows), "balances": len(held)},
                    at=self._clock.now(),
                )
        except IntegrityError:
            return False
        return True

    def record_order(self, record: OrderRecord, actor: str = audit.SYSTEM) -> bool:
        """Upsert the orders ledger from the executor's document; never moves an order
        backwards (older copies arriving late are ignored). True when something changed.
        An order recorded final gives its quota reservation back in the same transaction
        (one write where the executor's finish made two)."""
        for _ in range(ATTEMPTS):
            try:
                return self._record_order(record, actor)
            except (IntegrityError, StaleDataError):
                continue
        raise ConcurrentUpdate(f"order {record.client_order_id} kept moving")

    def _record_order(self, record: OrderRecord, actor: str) -> bool:
        with self._db.transaction() as session:
            row = session.get(OrderRow, record.client_order_id, with_for_update=True)
            before = None if row is None else order_row(row)
            if row is None:
                row = OrderRow()
                session.add(row)
            elif not _newer(record, row):
                if OrderStatus(row.status).is_terminal:  # a crash may have left it held
                    release_in(session, record.request.request_id, self._clock.now())
                return False
            store_order(row, record)
            session.flush()
            audit.record(
                session,
                actor=actor,
                action="order.record",
                entity="order",
                entity_id=record.client_order_id,
                before=before,
                after=order_row(row),
                at=self._clock.now(),
            )
            if record.status.is_terminal:
                release_in(session, record.request.request_id, self._clock.now())
            return True


def _newer(record: OrderRecord, row: OrderRow) -> bool:
    if record.filled < row.filled:
        return False
    if OrderStatus(row.status).is_terminal and not record.status.is_terminal:
        return False
    return (record.status.value, record.filled, record.exchange_order_id) != (
        row.status,
        row.filled,
        row.exchange_order_id,
    )


def _arrived_late(session: Session, row: PositionRow, fill: Fill) -> bool:
    """Whether a fill executed after this one is in the position already (a resting
    order's fill adopted by reconciliation, or a later fill at the same moment)."""
    latest = row.updated_at  # the execution time of the position's last fill
    if latest is None or fill.executed_at > latest:
        return False
    if fill.executed_at < latest:
        return True
    same_moment = session.scalars(
        select(FillRow.fill_id).where(
            FillRow.account == fill.account,
            FillRow.strategy == fill.strategy,
            FillRow.symbol == fill.symbol,
            FillRow.executed_at == fill.executed_at,
        )
    )
    return any(other > fill.fill_id for other in same_moment)  # compared as replay does


def _rebuilt(session: Session, flat: TrackedPosition) -> tuple[TrackedPosition, str | None]:
    """The position replayed from all its fills in execution order, and each fill's
    realized PnL set again to what it realizes in that order; its round trips replayed
    (the last one's id)."""
    held = flat.position
    rows = session.scalars(
        select(FillRow).where(
            FillRow.account == held.account,
            FillRow.strategy == held.strategy,
            FillRow.symbol == held.symbol,
        )
    ).all()
    tracked = flat
    replayed = sorted(((r, fill_of(r)) for r in rows), key=lambda p: execution_order(p[1]))
    for row, fill in replayed:
        after = tracked.apply(fill)
        row.realized_pnl = after.position.realized_pnl - tracked.position.realized_pnl
        tracked = after
    fills = [fill for _, fill in replayed]
    return tracked, replace_trips(session, fills, held.account, held.strategy, held.symbol)


def _locked_position(
    session: Session, account: str, strategy: str, symbol: str
) -> tuple[PositionRow | None, RoundTripRow | None]:
    """The position's row, locked (on PostgreSQL; SQLite already serializes writers at
    BEGIN IMMEDIATE), and its round trip, in one statement."""
    query = (
        select(PositionRow, RoundTripRow)
        .outerjoin(RoundTripRow, RoundTripRow.trip_id == PositionRow.trip_id)
        .where(
            PositionRow.account == account,
            PositionRow.strategy == strategy,
            PositionRow.symbol == symbol,
        )
        .with_for_update(of=PositionRow)
    )
    found = session.execute(query).first()
    return (None, None) if found is None else (found[0], found[1])


def _snapshot_row(taken_at: datetime, position: Position, mark: Decimal) -> SnapshotRow:
    return SnapshotRow(
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


def _balance_rows(taken_at: datetime, balances: BalanceTotals) -> list[BalanceSnapshotRow]:
    return [
        BalanceSnapshotRow(taken_at=taken_at, account=account, asset=currency, total=total)
        for account, wallet in balances.items()
        for currency, total in wallet.items()
    ]
