"""Accounts show the end of their API key, so people can tell which key is stored.

Accounts stored before show none until their keys are replaced (the migration cannot
compute it: it has no master key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("api_key_fingerprint", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("api_key_fingerprint")
