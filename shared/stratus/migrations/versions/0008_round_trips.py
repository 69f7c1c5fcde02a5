"""Round trips: each strategy position from leaving zero to coming back, rebuilt here from
the fills already in the ledger.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stratus.adapters.sql.types import Money, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round_trips",
        sa.Column("trip_id", sa.String(length=160), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("opened_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("size", Money(precision=38, scale=18), nullable=False),
        sa.Column("max_size", Money(precision=38, scale=18), nullable=False),
        sa.Column("entry_quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("entry_notional", Money(precision=38, scale=18), nullable=False),
        sa.Column("exit_quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("exit_notional", Money(precision=38, scale=18), nullable=False),
        sa.Column("gross_pnl", Money(precision=38, scale=18), nullable=False),
        sa.Column("fees", Money(precision=38, scale=18), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("trip_id", name=op.f("pk_round_trips")),
    )
    with op.batch_alter_table("round_trips") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_round_trips_account_strategy_symbol_status"),
            ["account", "strategy", "symbol", "status"],
        )
        batch_op.create_index(
            batch_op.f("ix_round_trips_account_opened_at"), ["account", "opened_at"]
        )
        batch_op.create_index(
            batch_op.f("ix_round_trips_strategy_opened_at"), ["strategy", "opened_at"]
        )
        batch_op.create_index(batch_op.f("ix_round_trips_closed_at"), ["closed_at"])
    with op.batch_alter_table("positions") as batch_op:
        batch_op.add_column(sa.Column("trip_id", sa.String(length=160), nullable=True))
    _backfill()


def _backfill() -> None:
    """The trips of the fills already booked, by the rules the ledger follows from now on."""
    from stratus.adapters.sql.round_trips import trip_values
    from stratus.domain.common import Side
    from stratus.domain.orders import Fill, Liquidity
    from stratus.domain.round_trips import round_trips

    columns = (
        "fill_id", "client_order_id", "exchange_order_id", "request_id", "account",
        "strategy", "symbol", "side", "quantity", "price", "fee", "fee_currency",
        "liquidity", "executed_at",
    )  # fmt: skip
    money = {"quantity", "price", "fee"}
    fills_table = sa.table(
        "fills",
        *(
            sa.column(
                name,
                Money()
                if name in money
                else UtcDateTime()
                if name == "executed_at"
                else sa.String(),
            )
            for name in columns
        ),
    )
    connection = op.get_bind()
    fills = []
    for row in connection.execute(sa.select(fills_table)).mappings():
        values = dict(row)
        values["side"], values["liquidity"] = Side(row["side"]), Liquidity(row["liquidity"])
        fills.append(Fill.model_construct(**values))
    trips = [trip_values(trip) for trip in round_trips(fills)]
    if trips:
        op.bulk_insert(sa.table("round_trips", *(_typed(name) for name in trips[0])), trips)
    # Each position's trip: the open one, else the last one closed.
    latest = {}
    for trip in sorted(trips, key=lambda t: (t["opened_at"], t["trip_id"])):
        latest[trip["account"], trip["strategy"], trip["symbol"]] = trip["trip_id"]
    positions = sa.table(
        "positions",
        *(sa.column(name, sa.String()) for name in ("account", "strategy", "symbol", "trip_id")),
    )
    for (account, strategy, symbol), trip_id in latest.items():
        connection.execute(
            positions.update()
            .where(
                positions.c.account == account,
                positions.c.strategy == strategy,
                positions.c.symbol == symbol,
            )
            .values(trip_id=trip_id)
        )


def _typed(name: str) -> sa.ColumnClause[object]:
    if name in ("opened_at", "closed_at"):
        return sa.column(name, UtcDateTime())
    if name == "fills":
        return sa.column(name, sa.Integer())
    if name in ("trip_id", "account", "strategy", "symbol", "side", "status"):
        return sa.column(name, sa.String())
    return sa.column(name, Money())


def downgrade() -> None:
    with op.batch_alter_table("positions") as batch_op:
        batch_op.drop_column("trip_id")
    op.drop_table("round_trips")
