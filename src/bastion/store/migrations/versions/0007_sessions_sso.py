"""Browser sessions, sign-ins in flight, accepted SAML assertion ids, the IdP subjects
users sign in as, and policies written through the admin API (issue 6).

Tenant tables: row-level security like the others (see ``bastion.store.rls``);
``sessions`` also has the ``session_by_id`` lookup policy (a cookie names its session
before the tenant is known, as an API key names its prefix).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLES = ("sessions", "sso_states", "sso_replay", "sso_identities", "tenant_policies")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("authenticated_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_sessions_tenant_id", "sessions", ["tenant_id"])
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "sso_states",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.Column("return_to", sa.String(512), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sso_states_tenant_id", "sso_states", ["tenant_id"])
    op.create_index("ix_sso_states_expires_at", "sso_states", ["expires_at"])
    op.create_table(
        "sso_replay",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("assertion_id", sa.String(256), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sso_replay_expires_at", "sso_replay", ["expires_at"])
    op.create_table(
        "sso_identities",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("idp", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sso_identities_user_id", "sso_identities", ["user_id"])
    op.create_table(
        "tenant_policies",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
    )
    for table in _TABLES:
        enable_tenant_rls(op, table)


def downgrade() -> None:
    for table in _TABLES:
        disable_tenant_rls(op, table)
    op.drop_table("tenant_policies")
    op.drop_table("sso_identities")
    op.drop_table("sso_replay")
    op.drop_table("sso_states")
    op.drop_table("sessions")
