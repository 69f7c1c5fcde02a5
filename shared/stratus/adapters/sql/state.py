"""The execution state store on SQL: the embedded stand-in for Firestore."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Engine, Integer, String, Text, delete, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import UtcDateTime
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.exits import ExitPlan
from stratus.domain.orders import OrderRecord, OrderStatus
from stratus.domain.risk import TradingState
from stratus.ports import Clock


class StateBase(DeclarativeBase):
    """Embedded stand-in for the Firestore execution state (not the system of record)."""


class ProcessedRow(StateBase):
    __tablename__ = "state_processed"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClaimRow(StateBase):
    __tablename__ = "state_claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class CounterRow(StateBase):
    __tablename__ = "state_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class KillSwitchRow(StateBase):
    __tablename__ = "state_kill_switch"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderDocRow(StateBase):
    __tablename__ = "state_orders"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    owed: Mapped[bool] = mapped_column(Boolean, index=True)  # OrderRecord.owes
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    document: Mapped[str] = mapped_column(Text)


class ExitPlanRow(StateBase):
    __tablename__ = "state_exit_plans"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)  # account/strategy/symbol
    has_exits: Mapped[bool] = mapped_column(Boolean, index=True)
    document: Mapped[str] = mapped_column(Text)


_LIVE = [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED]


class SqlStateStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        StateBase.metadata.create_all(database.engine)  # schemaless in production
        _add_owed_column(database.engine)

    def is_done(self, key: str) -> bool:
        with self._db.transaction() as session:
            return session.get(ProcessedRow, key) is not None

    def mark_done(self, key: str) -> None:
        try:
            with self._db.transaction() as session:
                session.add(ProcessedRow(key=key, done_at=self._clock.now()))
        except IntegrityError:
            pass  # a concurrent copy finished first: done is done

    def claim(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.now()
        try:
            with self._db.transaction() as session:
                # Expired claims go first, as Firestore's TTL policy would remove them.
                session.execute(delete(ClaimRow).where(ClaimRow.expires_at < now))
                session.add(ClaimRow(key=key, expires_at=now + timedelta(seconds=ttl_seconds)))
        except IntegrityError:
            return False
        return True

    def increment(self, key: str, ttl_seconds: int) -> int:
        now = self._clock.now()
        bump = (
            update(CounterRow)
            .where(CounterRow.key == key)
            .values(count=CounterRow.count + 1)
            .returning(CounterRow.count)
        )
        try:
            with self._db.transaction() as session:
                session.execute(delete(CounterRow).where(CounterRow.expires_at < now))
                count = session.execute(bump).scalar_one_or_none()
                if count is None:
                    expires_at = now + timedelta(seconds=ttl_seconds)
                    session.add(CounterRow(key=key, count=1, expires_at=expires_at))
                    count = 1
        except IntegrityError:  # a concurrent first hit inserted it: count on top of it
            with self._db.transaction() as session:
                count = session.execute(bump).scalar_one()
        return count

    def trading_state(self, scopes: Sequence[str]) -> dict[str, TradingState]:
        query = select(KillSwitchRow).where(KillSwitchRow.scope.in_(list(scopes)))
        with self._db.transaction() as session:
            return {row.scope: TradingState(row.state) for row in session.scalars(query)}

    def set_trading_state(self, scope: str, state: TradingState, reason: str) -> None:
        with self._db.transaction() as session:
            row = session.get(KillSwitchRow, scope)
            if row is None:
                row = KillSwitchRow(scope=scope)
                session.add(row)
            row.state, row.reason, row.updated_at = state.value, reason, self._clock.now()

    def create_order(self, record: OrderRecord) -> bool:
        try:
            with self._db.transaction() as session:
                session.add(_row(record))
        except IntegrityError:
            return False
        return True

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        with self._db.transaction() as session:
            row = session.get(OrderDocRow, client_order_id)
            return None if row is None else OrderRecord.model_validate_json(row.document)

    def save_order(self, record: OrderRecord) -> OrderRecord:
        """Compare-and-set on version; returns the record with its new version."""
        saved = record.model_copy(update={"version": record.version + 1})
        with self._db.transaction() as session:
            result = session.execute(
                update(OrderDocRow)
                .where(
                    OrderDocRow.client_order_id == record.client_order_id,
                    OrderDocRow.version == record.version,
                )
                .values(
                    status=saved.status.value,
                    owed=saved.owes,
                    version=saved.version,
                    document=saved.model_dump_json(),
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise ConcurrentUpdate(f"order {record.client_order_id} moved on")
        return saved

    def orders(
        self, account: str | None = None, live: bool = False, owed: bool = False
    ) -> list[OrderRecord]:
        query = select(OrderDocRow.document)
        if live:
            query = query.where(OrderDocRow.status.in_(_LIVE))
        if owed:
            query = query.where(OrderDocRow.owed.is_(True))
        if account is not None:
            query = query.where(OrderDocRow.account == account)
        with self._db.transaction() as session:
            documents = session.scalars(
                query.order_by(OrderDocRow.created_at, OrderDocRow.client_order_id)
            ).all()
        return [OrderRecord.model_validate_json(document) for document in documents]

    def save_exit_plan(self, plan: ExitPlan) -> None:
        with self._db.transaction() as session:
            row = ExitPlanRow(
                key=_plan_key(*plan.key), has_exits=plan.has_exits, document=plan.model_dump_json()
            )
            session.merge(row)

    def exit_plan(self, account: str, strategy: str, symbol: str) -> ExitPlan | None:
        with self._db.transaction() as session:
            row = session.get(ExitPlanRow, _plan_key(account, strategy, symbol))
            return None if row is None else ExitPlan.model_validate_json(row.document)

    def exit_plans(self) -> list[ExitPlan]:
        with self._db.transaction() as session:
            documents = session.scalars(
                select(ExitPlanRow.document)
                .where(ExitPlanRow.has_exits.is_(True))
                .order_by(ExitPlanRow.key)
            )
            return [ExitPlan.model_validate_json(document) for document in documents]


def _plan_key(account: str, strategy: str, symbol: str) -> str:
    return f"{account}/{strategy}/{symbol}"


def _row(record: OrderRecord) -> OrderDocRow:
    return OrderDocRow(
        client_order_id=record.client_order_id,
        account=record.request.account,
        status=record.status.value,
        owed=record.owes,
        version=record.version,
        created_at=record.created_at,
        document=record.model_dump_json(),
    )


def _add_owed_column(engine: Engine) -> None:
    """Embedded databases made before `owed` existed get it, computed from each document,
    so a fill saved but never published there is found by the sweep too."""
    if "owed" in {column["name"] for column in inspect(engine).get_columns("state_orders")}:
        return
    with engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE state_orders ADD COLUMN owed BOOLEAN NOT NULL DEFAULT FALSE")
        )
        connection.execute(text("CREATE INDEX ix_state_orders_owed ON state_orders (owed)"))
        for key, document in connection.execute(
            select(OrderDocRow.client_order_id, OrderDocRow.document)
        ):
            if OrderRecord.model_validate_json(document).owes:
                connection.execute(
                    update(OrderDocRow).where(OrderDocRow.client_order_id == key).values(owed=True)
                )
