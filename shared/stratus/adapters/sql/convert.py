"""Rows to domain values and back, for the ledger tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stratus.adapters.sql.tables import FillRow, OrderRow, PositionRow
from stratus.domain.common import Side
from stratus.domain.orders import Fill, Liquidity, OrderRecord
from stratus.domain.performance import TrackedPosition
from stratus.domain.positions import Position
from stratus.domain.records import OrderEntry


def fill_row(fill: Fill, realized: Decimal, sequence: int) -> FillRow:
    return FillRow(**fill_values(fill, realized, sequence))


def fill_values(fill: Fill, realized: Decimal, sequence: int) -> dict[str, Any]:
    """The fills row's columns."""
    return {**fill.model_dump(), "realized_pnl": realized, "sequence": sequence}


def fill_of(row: FillRow) -> Fill:
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


def position_of(row: PositionRow) -> Position:
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


def tracked_of(row: PositionRow) -> TrackedPosition:
    return TrackedPosition(
        position=position_of(row),
        closing_fills=row.closing_fills,
        winning_fills=row.winning_fills,
        gross_profit=row.gross_profit,
        gross_loss=row.gross_loss,
        version=row.version,
    )


def store_position(row: PositionRow, tracked: TrackedPosition) -> None:
    for name, value in position_values(tracked).items():
        setattr(row, name, value)


def position_values(tracked: TrackedPosition) -> dict[str, Any]:
    """The positions row's columns but version and trip_id."""
    position = tracked.position
    return {
        "account": position.account,
        "strategy": position.strategy,
        "symbol": position.symbol,
        "asset": tracked.asset,
        "mode": tracked.mode,
        "is_open": position.is_open,
        "quantity": position.quantity,
        "average_entry": position.average_entry,
        "realized_pnl": position.realized_pnl,
        "fees": position.fees,
        "closing_fills": tracked.closing_fills,
        "winning_fills": tracked.winning_fills,
        "gross_profit": tracked.gross_profit,
        "gross_loss": tracked.gross_loss,
        "updated_at": position.updated_at,
    }


def store_order(row: OrderRow, record: OrderRecord) -> None:
    request = record.request
    row.client_order_id = record.client_order_id
    row.request_id, row.signal_id = request.request_id, request.signal_id
    row.exchange_order_id = record.exchange_order_id
    row.account, row.strategy, row.symbol = request.account, request.strategy, request.symbol
    row.side, row.order_type = request.side.value, request.order_type.value
    row.quantity, row.limit_price = request.quantity, request.limit_price
    row.status = record.status.value
    row.filled, row.cost, row.fee = record.filled, record.cost, record.fee
    row.detail = record.explanation
    row.created_at, row.updated_at = record.created_at, record.updated_at


def order_row(row: OrderRow) -> OrderEntry:
    return OrderEntry(
        client_order_id=row.client_order_id,
        request_id=row.request_id,
        signal_id=row.signal_id,
        exchange_order_id=row.exchange_order_id,
        account=row.account,
        strategy=row.strategy,
        symbol=row.symbol,
        side=row.side,
        order_type=row.order_type,
        quantity=row.quantity,
        limit_price=row.limit_price,
        status=row.status,
        filled=row.filled,
        cost=row.cost,
        fee=row.fee,
        detail=row.detail,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )
