"""Pseudonym vaults: per-conversation placeholder maps of the DLP operators, sealed.

A tenant table: row-level security like the others (see ``bastion.store.rls``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pseudonym_vaults",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "owner", name="uq_pseudonym_vaults_owner"),
    )
    op.create_index("ix_pseudonym_vaults_tenant_id", "pseudonym_vaults", ["tenant_id"])
    op.create_index("ix_pseudonym_vaults_expires_at", "pseudonym_vaults", ["expires_at"])
    enable_tenant_rls(op, "pseudonym_vaults")


def downgrade() -> None:
    disable_tenant_rls(op, "pseudonym_vaults")
    op.drop_index("ix_pseudonym_vaults_expires_at", table_name="pseudonym_vaults")
    op.drop_index("ix_pseudonym_vaults_tenant_id", table_name="pseudonym_vaults")
    op.drop_table("pseudonym_vaults")
