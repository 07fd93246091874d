"""The model registry (issue 10): every model alias's versions, and which one it serves.

Deployment-wide tables (no tenant column): the gateway reads them, and writes them
when the configured models change; ``bastion models`` registers, rolls back and pins.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.schema import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("upstream_model", sa.String(256), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.UniqueConstraint("alias", "version", name="uq_model_versions"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
