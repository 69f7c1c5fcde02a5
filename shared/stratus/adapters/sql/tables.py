"""Tables of the trading ledger: fills, orders, positions, marks and snapshots (positions
and exchange balances).

The schema is owned by the Alembic migrations (stratus/migrations); these models must
match them, which tests/integration/manager/test_migrations.py checks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.adapters.sql.types import Money, UtcDateTime, plain

__all__ = ["Base", "Money", "UtcDateTime", "plain"]


class Base(DeclarativeBase):
    """System of record: the manager's tables in Cloud SQL."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )


class FillRow(Base):
    __tablename__ = "fills"

    fill_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    exchange_order_id: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(160))
    account: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money())
    fee_currency: Mapped[str] = mapped_column(String(16))
    liquidity: Mapped[str] = mapped_column(String(5))
    realized_pnl: Mapped[Decimal] = mapped_column(Money())  # what this fill realized
    executed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The position's version this fill produced: the order fills were applied in, which
    # may differ from executed_at order when they arrive late (the position itself and
    # realized_pnl always follow execution order: a late fill rebuilds them).
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        Index(None, "account", "executed_at"),
        Index(None, "strategy", "executed_at"),
    )


class OrderRow(Base):
    """The orders ledger: what the executor asked for and how far it got."""

    __tablename__ = "orders"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(160), unique=True)
    signal_id: Mapped[str] = mapped_column(String(128), index=True)  # what the order came from
    exchange_order_id: Mapped[str | None] = mapped_column(String(128))
    account: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[Decimal] = mapped_column(Money())
    limit_price: Mapped[Decimal | None] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(20), index=True)
    filled: Mapped[Decimal] = mapped_column(Money())
    cost: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money())
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index(None, "account", "created_at"), Index(None, "strategy", "created_at"))


class PositionRow(Base):
    __tablename__ = "positions"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset: Mapped[str] = mapped_column(String(32))  # base currency: BTC in BTC/USDT
    mode: Mapped[str] = mapped_column(String(8))  # spot, or swap for BASE/QUOTE:SETTLE
    is_open: Mapped[bool] = mapped_column(Boolean)
    quantity: Mapped[Decimal] = mapped_column(Money())
    average_entry: Mapped[Decimal] = mapped_column(Money())
    realized_pnl: Mapped[Decimal] = mapped_column(Money())
    fees: Mapped[Decimal] = mapped_column(Money())
    closing_fills: Mapped[int] = mapped_column(Integer)
    winning_fills: Mapped[int] = mapped_column(Integer)
    gross_profit: Mapped[Decimal] = mapped_column(Money())
    gross_loss: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)
    # Its round trip: the open one, else the last one closed (kept with each fill).
    trip_id: Mapped[str | None] = mapped_column(String(160))

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(None, "symbol"),
        Index(None, "asset"),
        Index(None, "mode"),
        Index(None, "asset", "mode"),
        Index(None, "strategy"),
        Index(None, "is_open"),
    )


class MarkRow(Base):
    """Latest known price per symbol: from fills, snapshots or PUT /marks."""

    __tablename__ = "marks"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SnapshotRunRow(Base):
    """One row per schedule time: makes a snapshot idempotent even with no positions."""

    __tablename__ = "snapshot_runs"

    taken_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    positions: Mapped[int] = mapped_column(Integer)


class SnapshotRow(Base):
    __tablename__ = "position_snapshots"

    taken_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(Money())
    average_entry: Mapped[Decimal] = mapped_column(Money())
    mark_price: Mapped[Decimal] = mapped_column(Money())
    realized_pnl: Mapped[Decimal] = mapped_column(Money())
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money())
    fees: Mapped[Decimal] = mapped_column(Money())


class BalanceSnapshotRow(Base):
    """An account's exchange wallet, per currency, at a snapshot's schedule time."""

    __tablename__ = "balance_snapshots"

    taken_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset: Mapped[str] = mapped_column(String(32), primary_key=True)  # currency code
    total: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (Index(None, "account", "taken_at"),)  # one account's history


class RoundTripRow(Base):
    """A strategy position from leaving zero to coming back (stratus.domain.round_trips),
    kept by the ledger in the transaction that applies each fill."""

    __tablename__ = "round_trips"

    trip_id: Mapped[str] = mapped_column(String(160), primary_key=True)  # its first fill
    account: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(5))  # long, short
    status: Mapped[str] = mapped_column(String(6))  # open, closed
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    size: Mapped[Decimal] = mapped_column(Money())
    max_size: Mapped[Decimal] = mapped_column(Money())
    entry_quantity: Mapped[Decimal] = mapped_column(Money())
    entry_notional: Mapped[Decimal] = mapped_column(Money())
    exit_quantity: Mapped[Decimal] = mapped_column(Money())
    exit_notional: Mapped[Decimal] = mapped_column(Money())
    gross_pnl: Mapped[Decimal] = mapped_column(Money())
    fees: Mapped[Decimal] = mapped_column(Money())
    fills: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index(None, "account", "strategy", "symbol", "status"),
        Index(None, "account", "opened_at"),
        Index(None, "strategy", "opened_at"),
        Index(None, "closed_at"),
    )
