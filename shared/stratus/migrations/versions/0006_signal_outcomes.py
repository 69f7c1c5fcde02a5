"""Signal outcomes, dead letters and reconciliation reports in the system of record;
orders remember their signal.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stratus.adapters.sql.types import Money, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("signal_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("strategy", sa.String(length=128), nullable=True),
        sa.Column("symbol", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("quantity", Money(precision=38, scale=18), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_signals")),
    )
    with op.batch_alter_table("signals") as batch_op:
        batch_op.create_index(batch_op.f("ix_signals_received_at"), ["received_at"])
        batch_op.create_index(
            batch_op.f("ix_signals_status_received_at"), ["status", "received_at"]
        )
        batch_op.create_index(
            batch_op.f("ix_signals_account_received_at"), ["account", "received_at"]
        )
    op.create_table(
        "dead_letters",
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("function", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("signal_id", sa.String(length=128), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("dead_lettered_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "message_id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_signal_id"), ["signal_id"])
        batch_op.create_index(batch_op.f("ix_dead_letters_dead_lettered_at"), ["dead_lettered_at"])
    op.create_table(
        "reconciliation_reports",
        sa.Column("report_id", sa.String(length=160), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("run_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("adopted_fills", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reconciliation_reports")),
    )
    with op.batch_alter_table("reconciliation_reports") as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_reports_run_at"), ["run_at"])
        batch_op.create_index(
            batch_op.f("ix_reconciliation_reports_account_run_at"), ["account", "run_at"]
        )
    # Orders remember their signal; existing ones are named "<signal_id>-<leg>".
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(
            sa.Column("signal_id", sa.String(length=128), server_default="", nullable=False)
        )
    orders = sa.table(
        "orders", sa.column("request_id", sa.String), sa.column("signal_id", sa.String)
    )
    connection = op.get_bind()
    for (request_id,) in connection.execute(sa.select(orders.c.request_id)).all():
        signal_id = request_id.rsplit("-", 1)[0]
        connection.execute(
            orders.update().where(orders.c.request_id == request_id).values(signal_id=signal_id)
        )
    with op.batch_alter_table("orders") as batch_op:
        batch_op.alter_column("signal_id", server_default=None)
        batch_op.create_index(batch_op.f("ix_orders_signal_id"), ["signal_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_signal_id"))
        batch_op.drop_column("signal_id")
    op.drop_table("reconciliation_reports")
    op.drop_table("dead_letters")
    op.drop_table("signals")
