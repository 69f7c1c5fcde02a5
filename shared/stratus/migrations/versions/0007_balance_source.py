"""Balances say where they come from: the exchange, or a person (paper accounts only).

Rows stored before were all put by hand, so they are manual.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("balances") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(8), server_default="manual", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("balances") as batch_op:
        batch_op.drop_column("source")
