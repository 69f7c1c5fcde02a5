"""Read side of the ledger for the API: filtered, paginated positions, orders and fills,
snapshots, marks, PnL, and the replay check of positions against their fills."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from stratus.adapters.sql import audit
from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.convert import fill_of, order_row, tracked_of
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.marks import load_dated_marks, load_marks, store_marks, upsert_marks
from stratus.adapters.sql.summary import aggregate_summary, folded_summary
from stratus.adapters.sql.tables import (
    FillRow,
    MarkRow,
    OrderRow,
    PositionRow,
    SnapshotRow,
)
from stratus.domain.common import ZERO
from stratus.domain.market import Mark, Marks
from stratus.domain.orders import Fill
from stratus.domain.performance import MarkedPosition, Summary, TrackedPosition
from stratus.domain.positions import Position, replay
from stratus.domain.records import NotFound, OrderEntry
from stratus.ports import Clock


@dataclass(frozen=True)
class PositionFilter:
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    asset: str | None = None
    mode: str | None = None
    status: str | None = None  # "open" | "closed"

    def apply(self, query: Select[Any]) -> Select[Any]:
        for column, value in (
            (PositionRow.account, self.account),
            (PositionRow.strategy, self.strategy),
            (PositionRow.symbol, self.symbol),
            (PositionRow.asset, self.asset),
            (PositionRow.mode, self.mode),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.status is not None:
            query = query.where(PositionRow.is_open.is_(self.status == "open"))
        return query


@dataclass(frozen=True)
class LedgerFilter:
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    status: str | None = None  # orders only
    client_order_id: str | None = None  # fills only
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class PositionsPage:
    items: list[MarkedPosition]
    total: int  # positions matching the filter
    digest: str | None = None  # of the rows and the total (PostgreSQL), else None
    unchanged: bool = False  # the digest is the caller's `known` one: items left out


@dataclass(frozen=True)
class Mismatch:
    position: Position
    replayed: Position


@dataclass(frozen=True)
class Pnl:
    realized: Decimal
    fees: Decimal
    fills: int

    @property
    def realized_net(self) -> Decimal:
        return self.realized - self.fees


TOLERANCE = Decimal("1e-9")
_ORDER = (PositionRow.account, PositionRow.strategy, PositionRow.symbol)


class SqlPortfolio:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def positions(
        self, where: PositionFilter, page: Page, known: str | None = None
    ) -> PositionsPage:
        """A page of positions with their marks, and how many match, in one query.

        PostgreSQL also answers a digest of the page (SHA-256 of its rows' text and the
        total, from the same snapshot) and, when it equals `known` (the digest of a page
        the caller kept), leaves the rows out: the caller serves what it kept, and no row
        is sent or decoded. Any committed change to a row of the page, its mark, its round
        trip or the total changes the digest."""
        rows: list[Any]
        with self._db.transaction() as session:
            if self._db.embedded:
                rows = list(session.execute(_page_query(where, page)))
                if not rows:  # past the end (or nothing matches): the count on its own
                    count = session.scalar(
                        where.apply(select(func.count()).select_from(PositionRow))
                    )
                    return PositionsPage([], int(count or 0))
                total, digest = int(rows[0][-1]), None
            else:
                found = session.execute(_digested(where, page), {"known": known or ""}).all()
                digest, total = found[0][:2]
                if digest == known:
                    return PositionsPage([], int(total), digest, unchanged=True)
                rows = [row[2:] for row in found if row[2] is not None]
        marked = [MarkedPosition(_tracked(row), _mark(row), row[15]) for row in rows]
        return PositionsPage(marked, int(total), digest)

    def tracked(self, where: PositionFilter) -> tuple[list[TrackedPosition], dict[str, Decimal]]:
        """Every matching position and the marks of their symbols, in one transaction
        (the portfolio endpoints' hot path)."""
        columns: Select[Any] = select(*_POSITION_COLUMNS)  # type: ignore[assignment]
        query = where.apply(columns)
        with self._db.transaction() as session:
            rows = session.execute(query).all()
            marks = load_marks(session, {row[2] for row in rows})
        return [_tracked(row) for row in rows], marks

    def summary(self, where: PositionFilter, threshold: Decimal) -> Summary:
        """The portfolio summary at the stored marks (entry price where none)."""
        summary = folded_summary if self._db.embedded else aggregate_summary
        with self._db.transaction() as session:
            return summary(session, where, threshold)

    def marks(self) -> dict[str, Decimal]:
        with self._db.transaction() as session:
            return load_marks(session)

    def dated_marks(self, symbols: set[str]) -> dict[str, Mark]:
        """The marks of these symbols and when each was quoted."""
        with self._db.transaction() as session:
            return load_dated_marks(session, symbols)

    def record_marks(self, marks: Marks) -> None:
        """Marks from the watcher: each kept unless a newer one is stored. Market data,
        so not audited (a person's PUT /marks is)."""
        with self._db.transaction() as session:
            latest = {mark.symbol: mark for mark in sorted(marks.marks, key=lambda m: m.at)}
            upsert_marks(session, [(m.symbol, m.price, m.at) for m in latest.values()])

    def put_marks(
        self, marks: Mapping[str, Decimal], at: datetime, actor: str = audit.SYSTEM
    ) -> None:
        with self._db.transaction() as session:
            store_marks(session, marks, at)
            audit.record(
                session,
                actor=actor,
                action="marks.put",
                entity="marks",
                entity_id="*",
                before=None,
                after={s: str(p) for s, p in marks.items()},
                at=self._clock.now(),
            )

    def validate(self, where: PositionFilter) -> tuple[int, list[Mismatch]]:
        """Replay each position's fills and compare with the stored position."""
        with self._db.transaction() as session:
            rows = session.scalars(where.apply(select(PositionRow))).all()
            fills = _fills_by_position(session, where)
        mismatches = []
        for row in rows:
            stored = tracked_of(row).position
            key = (row.account, row.strategy, row.symbol)
            replayed = replay(fills.get(key, []), *key)
            if not all(_close(a, b) for a, b in zip(_state(replayed), _state(stored), strict=True)):
                mismatches.append(Mismatch(stored, replayed))
        return len(rows), mismatches

    def snapshots(
        self, page: Page, taken_at: datetime | None = None, account: str | None = None
    ) -> tuple[list[SnapshotRow], int]:
        query = select(SnapshotRow).order_by(SnapshotRow.taken_at.desc(), *_snapshot_order())
        if taken_at is not None:
            query = query.where(SnapshotRow.taken_at == taken_at)
        if account is not None:
            query = query.where(SnapshotRow.account == account)
        with self._db.transaction() as session:
            return paged(session, query, page)

    def orders(self, where: LedgerFilter, page: Page) -> tuple[list[OrderEntry], int]:
        query = _ledger_query(
            select(OrderRow),
            where,
            {
                "account": OrderRow.account,
                "strategy": OrderRow.strategy,
                "symbol": OrderRow.symbol,
                "status": OrderRow.status,
            },
            stamp=OrderRow.created_at,
        ).order_by(OrderRow.created_at.desc(), OrderRow.client_order_id)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [order_row(row) for row in rows], total

    def order(self, client_order_id: str) -> OrderEntry:
        with self._db.transaction() as session:
            row = session.get(OrderRow, client_order_id)
            if row is None:
                raise NotFound("order", client_order_id)
            return order_row(row)

    def fills(self, where: LedgerFilter, page: Page) -> tuple[list[Fill], int]:
        with self._db.transaction() as session:
            query = _fill_query(where).order_by(FillRow.executed_at, FillRow.fill_id)
            rows, total = paged(session, query, page)
            return [fill_of(row) for row in rows], total

    def pnl(self, where: LedgerFilter) -> Pnl:
        query = _fill_query(where).with_only_columns(FillRow.realized_pnl, FillRow.fee)
        realized = fees = ZERO
        count = 0
        with self._db.transaction() as session:
            for pnl, fee in session.execute(query):
                realized, fees, count = realized + pnl, fees + fee, count + 1
        return Pnl(realized, fees, count)


def _fill_query(where: LedgerFilter) -> Select[Any]:
    columns = {
        "account": FillRow.account,
        "strategy": FillRow.strategy,
        "symbol": FillRow.symbol,
        "client_order_id": FillRow.client_order_id,
    }
    return _ledger_query(select(FillRow), where, columns, stamp=FillRow.executed_at)


def _ledger_query(
    query: Select[Any], where: LedgerFilter, columns: dict[str, Any], stamp: Any
) -> Select[Any]:
    """`query` narrowed by the filter's given fields (by name) and its [since, until)."""
    for name, column in columns.items():
        value = getattr(where, name)
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(stamp >= where.since)
    if where.until is not None:
        query = query.where(stamp < where.until)
    return query


def _fills_by_position(
    session: Any, where: PositionFilter
) -> dict[tuple[str, str, str], list[Fill]]:
    query = _fill_query(LedgerFilter(where.account, where.strategy, where.symbol))
    grouped: dict[tuple[str, str, str], list[Fill]] = defaultdict(list)
    for row in session.scalars(query):
        grouped[(row.account, row.strategy, row.symbol)].append(fill_of(row))
    return grouped


def _state(position: Position) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return (position.quantity, position.average_entry, position.realized_pnl, position.fees)


_POSITION_COLUMNS = (
    PositionRow.account,
    PositionRow.strategy,
    PositionRow.symbol,
    PositionRow.quantity,
    PositionRow.average_entry,
    PositionRow.realized_pnl,
    PositionRow.fees,
    PositionRow.updated_at,
    PositionRow.closing_fills,
    PositionRow.winning_fills,
    PositionRow.gross_profit,
    PositionRow.gross_loss,
    PositionRow.version,
)


def _page_query(where: PositionFilter, page: Page, counted: bool = True) -> Select[Any]:
    """The page's rows (_POSITION_COLUMNS, the mark's price and time, the round trip) and,
    when `counted`, the total (an uncorrelated count subquery: evaluated once)."""
    mark = MarkRow.__table__.c
    total = where.apply(select(func.count()).select_from(PositionRow)).scalar_subquery()
    extra = (total,) if counted else ()
    columns: Select[Any] = select(  # type: ignore[assignment]
        *_POSITION_COLUMNS, mark.price, mark.updated_at, PositionRow.trip_id, *extra
    )
    return (
        where.apply(columns)
        .outerjoin(MarkRow, mark.symbol == PositionRow.symbol)
        .order_by(*_ORDER)
        .limit(page.limit)
        .offset(page.offset)
    )


@lru_cache(maxsize=256)  # built once per filter and page: building it costs ~1 ms
def _digested(where: PositionFilter, page: Page) -> Select[Any]:
    """PostgreSQL: (digest, total, *row) per row of the page, or one (digest, total,
    NULL..) row when the page is empty or its digest is the `known` parameter. The digest
    hashes the total and the rows' text in page order, read in one statement's snapshot."""
    rows = _page_query(where, page, counted=False).cte("page_rows")
    counted = where.apply(select(func.count().label("n")).select_from(PositionRow)).cte("counted")
    total = select(counted.c.n).scalar_subquery()
    order = (rows.c.account, rows.c.strategy, rows.c.symbol)
    each = func.string_agg(
        cast(literal_column(rows.name), Text), aggregate_order_by(literal("|"), *order)
    )
    sha = func.encode(func.sha256(func.convert_to(func.concat(total, ":", each), "UTF8")), "hex")
    digest = select(sha.label("digest"), total.label("total")).select_from(rows).cte("digest")
    return (
        select(digest.c.digest, digest.c.total, *rows.c)
        .select_from(digest.outerjoin(rows, digest.c.digest != bindparam("known", type_=String)))
        .order_by(*order)
    )


def _tracked(row: Any) -> TrackedPosition:
    """A row of _POSITION_COLUMNS: plain columns, no ORM identity map, and no
    re-validation of values that were validated on the way in."""
    account, strategy, symbol, quantity, entry, realized, fees, updated_at = row[:8]
    position = Position.model_construct(
        account=account,
        strategy=strategy,
        symbol=symbol,
        quantity=quantity,
        average_entry=entry,
        realized_pnl=realized,
        fees=fees,
        updated_at=updated_at,
    )
    return TrackedPosition(position, *row[8:13])


def _mark(row: Any) -> Mark | None:
    """The mark columns that follow _POSITION_COLUMNS (None: no mark for the symbol)."""
    price, at = row[13:15]
    return None if price is None else Mark.model_construct(symbol=row[2], price=price, at=at)


def _close(a: Decimal, b: Decimal) -> bool:
    # PostgreSQL keeps 18 decimals; a replay in Python keeps 28 significant digits.
    return abs(a - b) <= TOLERANCE


def _snapshot_order() -> tuple[Any, ...]:
    return (SnapshotRow.account, SnapshotRow.strategy, SnapshotRow.symbol)
