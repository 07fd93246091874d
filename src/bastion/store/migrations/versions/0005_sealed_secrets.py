"""Sealed secrets: upstream provider keys and other credentials, encrypted at rest.

A tenant table: row-level security like the others (see ``bastion.store.rls``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sealed_secrets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_sealed_secrets_name"),
    )
    op.create_index("ix_sealed_secrets_tenant_id", "sealed_secrets", ["tenant_id"])
    enable_tenant_rls(op, "sealed_secrets")


def downgrade() -> None:
    disable_tenant_rls(op, "sealed_secrets")
    op.drop_index("ix_sealed_secrets_tenant_id", table_name="sealed_secrets")
    op.drop_table("sealed_secrets")
