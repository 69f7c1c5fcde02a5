"""The ledger's hot path: fills applied in one transaction, one statement per table.

The batch's positions (and their round trips) are read and locked by one statement, in
key order, so two batches never lock each other's positions in opposite orders; the new
state is computed in Python (the domain's own arithmetic); then the fills, positions,
round trips, audit rows and marks are each written by one multi-row statement. A batch
of one fill is six statements, a batch of 500 about the same. Marks come last, so a
symbol's mark row (shared by every position in the symbol) is held only to the commit.

A fill executed before its position's last fill (a resting order's fill adopted by
reconciliation) moves the position by a replay of all its fills: `Late` sends it back to
the ledger, which replays it on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from stratus.adapters.sql import audit
from stratus.adapters.sql.admin_tables import AuditRow
from stratus.adapters.sql.convert import fill_values, position_values
from stratus.adapters.sql.marks import load_dated_marks, upsert_marks
from stratus.adapters.sql.round_trips import TRIP_FIELDS, trip_values
from stratus.adapters.sql.tables import FillRow, PositionRow, RoundTripRow
from stratus.domain.market import Mark
from stratus.domain.orders import Fill
from stratus.domain.performance import MarkedPosition, TrackedPosition
from stratus.domain.positions import Position
from stratus.domain.round_trips import Direction, RoundTrip, advance

Key = tuple[str, str, str]  # account, strategy, symbol

POSITIONS: Table = PositionRow.__table__  # type: ignore[assignment]
TRIPS: Table = RoundTripRow.__table__  # type: ignore[assignment]
FILLS: Table = FillRow.__table__  # type: ignore[assignment]
AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]
_TRIP = "trip_"  # label prefix of the round trip's columns in the locking read


class Late(Exception):
    """A fill of the batch executed before (or with) its position's last fill."""


@dataclass
class _Held:
    """A position as the batch moves it."""

    tracked: TrackedPosition
    trip: RoundTrip | None  # its round trip: the open one, else the last one closed
    stored: bool  # its row existed before this batch
    moved: bool = False


def apply_batch(
    session: Session, fills: Sequence[Fill], applied: set[str], actor: str, at: datetime
) -> list[MarkedPosition | None]:
    """Apply `fills` in order, each moving its position once; a fill in `applied` (the
    ledger has it) or repeated within the batch is answered None and writes nothing. A
    fill_id already stored by someone else fails the fills insert (IntegrityError): the
    caller rolls back and tries again knowing it."""
    held = _locked(session, sorted({_key(fill) for fill in fills}))
    seen = set(applied)
    fill_rows: list[dict[str, Any]] = []
    trips: dict[str, RoundTrip] = {}
    audits: list[dict[str, Any]] = []
    moved: list[tuple[Fill, TrackedPosition, str]] = []  # answered after the marks
    for fill in fills:
        if fill.fill_id in seen:
            continue
        seen.add(fill.fill_id)
        position = held[_key(fill)]
        before = position.tracked.position
        if before.updated_at is not None and fill.executed_at <= before.updated_at:
            raise Late(fill.fill_id)
        after = position.tracked.apply(fill)
        after = replace(after, version=position.tracked.version + 1)
        realized = after.position.realized_pnl - before.realized_pnl
        fill_rows.append(fill_values(fill, realized, after.version))
        open_trip = position.trip if before.quantity != 0 else None
        touched = advance(before, open_trip, fill)  # the last one is the position's now
        trips.update((trip.trip_id, trip) for trip in touched)
        position.trip = touched[-1]
        existed = position.stored or position.moved
        after_audit = {**after.position.model_dump(mode="json"), "fill_id": fill.fill_id}
        audits.append(
            audit.values(
                actor,
                "fill.apply",
                "position",
                "/".join(_key(fill)),
                before if existed else None,
                after_audit,
                at,
            )
        )
        position.tracked, position.moved = after, True
        moved.append((fill, after, touched[-1].trip_id))
    if not moved:
        return [None] * len(fills)
    _write(session, fill_rows, held, trips, audits)
    marks = _marks(session, [fill for fill, *_ in moved])
    answers = {
        fill.fill_id: MarkedPosition(tracked, marks.get(fill.symbol), trip_id)
        for fill, tracked, trip_id in moved
    }
    answered: list[MarkedPosition | None] = []
    for fill in fills:
        answered.append(answers.pop(fill.fill_id, None))  # a repeat within the batch: None
    return answered


def _write(
    session: Session,
    fill_rows: list[dict[str, Any]],
    held: dict[Key, _Held],
    trips: dict[str, RoundTrip],
    audits: list[dict[str, Any]],
) -> None:
    # Rows in key order: two batches inserting the same keys wait for each other in one
    # order (the loser fails on the key) instead of deadlocking.
    dialect = session.get_bind().dialect.name
    session.execute(insert(FILLS), sorted(fill_rows, key=lambda row: row["fill_id"]))
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for key in sorted(held):
        position = held[key]
        if position.moved:
            row = {**position_values(position.tracked), "version": position.tracked.version}
            row["trip_id"] = None if position.trip is None else position.trip.trip_id
            (updated if position.stored else created).append(row)
    if created:  # a concurrent creator of the same position fails this on its key
        session.execute(insert(POSITIONS), created)
    if updated:  # rows this transaction holds locked: the upsert always updates
        session.execute(_upsert(dialect, "positions"), updated)
    # A trip's id is the fill that opened it, so no one else can write a new trip's row.
    rows = [trip_values(trips[trip_id]) for trip_id in sorted(trips)]
    session.execute(_upsert(dialect, "round_trips"), rows)
    session.execute(insert(AUDIT), audits)


def _marks(session: Session, fills: Iterable[Fill]) -> dict[str, Mark]:
    """Each symbol's mark after the batch: its latest fill's price unless a newer mark is
    stored."""
    latest: dict[str, Fill] = {}
    for fill in fills:
        if fill.symbol not in latest or fill.executed_at >= latest[fill.symbol].executed_at:
            latest[fill.symbol] = fill
    ordered = [(s, latest[s].price, latest[s].executed_at) for s in sorted(latest)]
    marks = upsert_marks(session, ordered)
    older = set(latest) - set(marks)
    if older:  # a newer mark is stored: answer with it
        marks.update(load_dated_marks(session, older))
    return marks


def _locked(session: Session, keys: list[Key]) -> dict[Key, _Held]:
    """The positions of `keys` (flat where none is stored) with their round trips, their
    rows locked in key order (on PostgreSQL; SQLite serializes writers at BEGIN)."""
    p = POSITIONS.c
    query = (
        select(POSITIONS, *[column.label(_TRIP + column.name) for column in TRIPS.c])
        .outerjoin(TRIPS, TRIPS.c.trip_id == p.trip_id)
        .where(tuple_(p.account, p.strategy, p.symbol).in_(keys))
        .order_by(p.account, p.strategy, p.symbol)
        .with_for_update(of=POSITIONS)
    )
    flat = {key: Position(account=key[0], strategy=key[1], symbol=key[2]) for key in keys}
    held = {key: _Held(TrackedPosition(position), None, False) for key, position in flat.items()}
    for row in session.execute(query).mappings():
        key = (row["account"], row["strategy"], row["symbol"])
        held[key] = _Held(_tracked(row), _trip(row), True)
    return held


def _tracked(row: Any) -> TrackedPosition:
    position = Position(
        account=row["account"],
        strategy=row["strategy"],
        symbol=row["symbol"],
        quantity=row["quantity"],
        average_entry=row["average_entry"],
        realized_pnl=row["realized_pnl"],
        fees=row["fees"],
        updated_at=row["updated_at"],
    )
    return TrackedPosition(
        position=position,
        closing_fills=row["closing_fills"],
        winning_fills=row["winning_fills"],
        gross_profit=row["gross_profit"],
        gross_loss=row["gross_loss"],
        version=row["version"],
    )


def _trip(row: Any) -> RoundTrip | None:
    if row[_TRIP + "trip_id"] is None:
        return None
    fields = {name: row[_TRIP + name] for name in TRIP_FIELDS}
    return RoundTrip(side=Direction(row[_TRIP + "side"]), **fields)


@cache
def _upsert(dialect: str, table: str) -> Insert:
    """INSERT .. ON CONFLICT (primary key) DO UPDATE every other column."""
    target = {"positions": POSITIONS, "round_trips": TRIPS}[table]
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)
    keys = [column.name for column in target.primary_key]
    fresh = statement.excluded
    # RETURNING makes SQLAlchemy send the rows as one multi-row statement (without it,
    # an upsert of a list of rows is one round trip per row).
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: fresh[c.name] for c in target.c if c.name not in keys},
    ).returning(*target.primary_key)


def _key(fill: Fill) -> Key:
    return (fill.account, fill.strategy, fill.symbol)
