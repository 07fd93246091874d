"""Data sources users connect (issue 7) and their explicit shares.

Tenant tables: row-level security like the others (see ``bastion.store.rls``). The
connection URL is sealed (``data_sources.sealed_url``, listed in
``bastion.crypto.columns.SEALED_COLUMNS``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_sources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column(
            "owner_user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sealed_url", sa.LargeBinary(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_data_sources_name"),
    )
    op.create_index("ix_data_sources_tenant_id", "data_sources", ["tenant_id"])
    op.create_index("ix_data_sources_owner_user_id", "data_sources", ["owner_user_id"])
    op.create_table(
        "data_source_shares",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column(
            "source_id",
            sa.String(36),
            sa.ForeignKey("data_sources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("grantee_kind", sa.String(8), primary_key=True),
        sa.Column("grantee", sa.String(64), primary_key=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    enable_tenant_rls(op, "data_sources")
    enable_tenant_rls(op, "data_source_shares")


def downgrade() -> None:
    disable_tenant_rls(op, "data_source_shares")
    disable_tenant_rls(op, "data_sources")
    op.drop_table("data_source_shares")
    op.drop_index("ix_data_sources_owner_user_id", table_name="data_sources")
    op.drop_index("ix_data_sources_tenant_id", table_name="data_sources")
    op.drop_table("data_sources")
