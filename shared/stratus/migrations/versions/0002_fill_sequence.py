"""Fills remember the order they were applied in (the position version they produced).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:45:20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch_op:
        batch_op.drop_column("sequence")
