"""Data keys: per-tenant, per-purpose AES-256 keys, stored wrapped.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(128), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("tenant_id", "purpose", "version", name="uq_data_keys_version"),
    )
    op.create_index("ix_data_keys_tenant_id", "data_keys", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_data_keys_tenant_id", table_name="data_keys")
    op.drop_table("data_keys")
