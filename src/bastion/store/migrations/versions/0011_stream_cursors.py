"""Audit-stream consumers: persisted cursors and leases (issue 9).

``stream_cursors`` holds, per consumer (``stream``) and tenant, the ``seq`` of the last
audit record the consumer is done with; it is a tenant table with row-level security
like the others, read and written by the consumer on the owner connection.
``stream_leases`` lets one gateway process at a time run a consumer; it holds no
tenant data.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_cursors",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    enable_tenant_rls(op, "stream_cursors")
    op.create_table(
        "stream_leases",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stream_leases")
    disable_tenant_rls(op, "stream_cursors")
    op.drop_table("stream_cursors")
