"""Agent actions and their confirmations and approvals (issue 8).

A tenant table with row-level security like the others (see ``bastion.store.rls``).
The arguments, the summary and the result's detail are sealed (listed in
``bastion.crypto.columns.SEALED_COLUMNS``); the status, tool, tier, hash and times are
in clear for the approvals API and the audit.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("requester_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(80), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("action_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_detail", sa.LargeBinary(), nullable=True),
        sa.Column("result_code", sa.String(32), nullable=True),
        sa.Column("result_message", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_agent_actions_tenant_id", "agent_actions", ["tenant_id"])
    op.create_index("ix_agent_actions_requester_id", "agent_actions", ["requester_id"])
    op.create_index("ix_agent_actions_status", "agent_actions", ["status"])
    enable_tenant_rls(op, "agent_actions")


def downgrade() -> None:
    disable_tenant_rls(op, "agent_actions")
    op.drop_index("ix_agent_actions_status", table_name="agent_actions")
    op.drop_index("ix_agent_actions_requester_id", table_name="agent_actions")
    op.drop_index("ix_agent_actions_tenant_id", table_name="agent_actions")
    op.drop_table("agent_actions")
