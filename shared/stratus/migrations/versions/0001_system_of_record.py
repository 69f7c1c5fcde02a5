"""The system of record: ledger, positions, accounts, quotas, tokens and audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 11:36:29.086464
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stratus.adapters.sql.types import Money, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("exchange_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("key_version", sa.String(length=32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_key_version"), ["key_version"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("amount", Money(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "strategy", name=op.f("pk_allocations")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=400), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_entity_entity_id"), ["entity", "entity_id"], unique=False
        )

    op.create_table(
        "balances",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("free", Money(precision=38, scale=18), nullable=False),
        sa.Column("used", Money(precision=38, scale=18), nullable=False),
        sa.Column("total", Money(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "asset", name=op.f("pk_balances")),
    )
    op.create_table(
        "fills",
        sa.Column("fill_id", sa.String(length=160), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=160), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("price", Money(precision=38, scale=18), nullable=False),
        sa.Column("fee", Money(precision=38, scale=18), nullable=False),
        sa.Column("fee_currency", sa.String(length=16), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("realized_pnl", Money(precision=38, scale=18), nullable=False),
        sa.Column("executed_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fill_id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fills_account_executed_at"), ["account", "executed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_fills_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_fills_strategy_executed_at"), ["strategy", "executed_at"], unique=False
        )

    op.create_table(
        "marks",
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("price", Money(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_marks")),
    )
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=160), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=128), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=10), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("limit_price", Money(precision=38, scale=18), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled", Money(precision=38, scale=18), nullable=False),
        sa.Column("cost", Money(precision=38, scale=18), nullable=False),
        sa.Column("fee", Money(precision=38, scale=18), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_orders")),
        sa.UniqueConstraint("request_id", name=op.f("uq_orders_request_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_account_created_at"), ["account", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_strategy_created_at"), ["strategy", "created_at"], unique=False
        )

    op.create_table(
        "position_snapshots",
        sa.Column("taken_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("average_entry", Money(precision=38, scale=18), nullable=False),
        sa.Column("mark_price", Money(precision=38, scale=18), nullable=False),
        sa.Column("realized_pnl", Money(precision=38, scale=18), nullable=False),
        sa.Column("unrealized_pnl", Money(precision=38, scale=18), nullable=False),
        sa.Column("fees", Money(precision=38, scale=18), nullable=False),
        sa.PrimaryKeyConstraint(
            "taken_at", "account", "strategy", "symbol", name=op.f("pk_position_snapshots")
        ),
    )
    op.create_table(
        "positions",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=False),
        sa.Column("average_entry", Money(precision=38, scale=18), nullable=False),
        sa.Column("realized_pnl", Money(precision=38, scale=18), nullable=False),
        sa.Column("fees", Money(precision=38, scale=18), nullable=False),
        sa.Column("closing_fills", sa.Integer(), nullable=False),
        sa.Column("winning_fills", sa.Integer(), nullable=False),
        sa.Column("gross_profit", Money(precision=38, scale=18), nullable=False),
        sa.Column("gross_loss", Money(precision=38, scale=18), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "strategy", "symbol", name=op.f("pk_positions")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_asset"), ["asset"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_positions_asset_mode"), ["asset", "mode"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_positions_is_open"), ["is_open"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_mode"), ["mode"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_strategy"), ["strategy"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_symbol"), ["symbol"], unique=False)

    op.create_table(
        "quota_reservations",
        sa.Column("request_id", sa.String(length=160), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("notional", Money(precision=38, scale=18), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_quota_reservations")),
    )
    with op.batch_alter_table("quota_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quota_reservations_account_strategy_held"),
            ["account", "strategy", "held"],
            unique=False,
        )

    op.create_table(
        "quotas",
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("max_notional", Money(precision=38, scale=18), nullable=True),
        sa.Column("max_order_notional", Money(precision=38, scale=18), nullable=True),
        sa.Column("max_open_orders", sa.Integer(), nullable=True),
        sa.Column("max_daily_loss", Money(precision=38, scale=18), nullable=True),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "strategy", name=op.f("pk_quotas")),
    )
    op.create_table(
        "snapshot_runs",
        sa.Column("taken_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("taken_at", name=op.f("pk_snapshot_runs")),
    )


def downgrade() -> None:

    op.drop_table("snapshot_runs")
    op.drop_table("quotas")
    with op.batch_alter_table("quota_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_reservations_account_strategy_held"))

    op.drop_table("quota_reservations")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_symbol"))
        batch_op.drop_index(batch_op.f("ix_positions_strategy"))
        batch_op.drop_index(batch_op.f("ix_positions_mode"))
        batch_op.drop_index(batch_op.f("ix_positions_is_open"))
        batch_op.drop_index(batch_op.f("ix_positions_asset_mode"))
        batch_op.drop_index(batch_op.f("ix_positions_asset"))

    op.drop_table("positions")
    op.drop_table("position_snapshots")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_strategy_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_account_created_at"))

    op.drop_table("orders")
    op.drop_table("marks")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_strategy_executed_at"))
        batch_op.drop_index(batch_op.f("ix_fills_client_order_id"))
        batch_op.drop_index(batch_op.f("ix_fills_account_executed_at"))

    op.drop_table("fills")
    op.drop_table("balances")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_entity_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("allocations")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_key_version"))

    op.drop_table("accounts")
