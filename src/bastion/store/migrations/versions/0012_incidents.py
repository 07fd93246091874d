"""Incident response (issue 9): incidents, their step timelines, and isolations.

Three tenant tables with row-level security like the others (see
``bastion.store.rls``). ``incident_steps`` is append-only for the application (a
timeline is evidence): it may insert and read, and re-encrypt the sealed snapshot
(data-key rotation), never change or delete a step. ``incidents`` and ``isolations``
change state (contained, closed, released) but are never deleted by the application.
``incident_steps.sealed`` is listed in ``bastion.crypto.columns.SEALED_COLUMNS``.

``uq_isolations_active`` is a partial unique index (rows not released): one active
isolation per tenant, ref and kind, and the index the request path's check reads.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("released_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("playbook", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("alert_key", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.Column("key_id", sa.String(36), nullable=True),
        sa.Column("conversation_id", sa.String(80), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.UniqueConstraint("tenant_id", "playbook", "alert_key", name="uq_incidents_alert"),
    )
    op.create_index("ix_incidents_tenant_opened", "incidents", ["tenant_id", "opened_at"])
    enable_tenant_rls(op, "incidents", privileges=("SELECT", "INSERT", "UPDATE"))

    op.create_table(
        "incident_steps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "incident_id",
            sa.String(36),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(48), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_steps_seq"),
    )
    op.create_index("ix_incident_steps_tenant_id", "incident_steps", ["tenant_id"])
    enable_tenant_rls(op, "incident_steps", privileges=("SELECT", "INSERT", "UPDATE (sealed)"))

    op.create_table(
        "isolations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(80), nullable=False),
        sa.Column(
            "incident_id",
            sa.String(36),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
    )
    op.create_index(
        "uq_isolations_active",
        "isolations",
        ["tenant_id", "ref", "kind"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_index("ix_isolations_incident_id", "isolations", ["incident_id"])
    enable_tenant_rls(op, "isolations", privileges=("SELECT", "INSERT", "UPDATE"))


def downgrade() -> None:
    disable_tenant_rls(op, "isolations")
    op.drop_index("ix_isolations_incident_id", table_name="isolations")
    op.drop_index("uq_isolations_active", table_name="isolations")
    op.drop_table("isolations")
    disable_tenant_rls(op, "incident_steps")
    op.drop_index("ix_incident_steps_tenant_id", table_name="incident_steps")
    op.drop_table("incident_steps")
    disable_tenant_rls(op, "incidents")
    op.drop_index("ix_incidents_tenant_opened", table_name="incidents")
    op.drop_table("incidents")
