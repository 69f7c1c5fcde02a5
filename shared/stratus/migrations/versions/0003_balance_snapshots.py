"""Snapshots keep each account's exchange balances beside its positions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stratus.adapters.sql.types import Money, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "balance_snapshots",
        sa.Column("taken_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("total", Money(precision=38, scale=18), nullable=False),
        sa.PrimaryKeyConstraint("taken_at", "account", "asset", name=op.f("pk_balance_snapshots")),
    )
    with op.batch_alter_table("balance_snapshots") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_balance_snapshots_account_taken_at"),
            ["account", "taken_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("balance_snapshots") as batch_op:
        batch_op.drop_index(batch_op.f("ix_balance_snapshots_account_taken_at"))
    op.drop_table("balance_snapshots")
