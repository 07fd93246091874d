"""Audit records: a sealed column for prompts and responses encrypted at rest.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_records", sa.Column("sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("sealed")
