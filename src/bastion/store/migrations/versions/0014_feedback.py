"""Knowledge updates (poisoning defense): feedback, and each source's version log.

Two tenant tables with row-level security like the others (see ``bastion.store.rls``).
``feedback.sealed`` holds a correction sealed under the tenant's ``app`` key.
``knowledge_versions`` is append-only for the application (insert and read): it is the
history a rollback replays. Documents already active get one ``document_added``
version each, per source in upload order, so a rollback knows them.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from bastion.store.rls import disable_tenant_rls, enable_tenant_rls
from bastion.store.schema import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_ref", sa.String(80), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column(
            "source_id",
            sa.String(36),
            sa.ForeignKey("data_sources.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("correction_sha256", sa.String(64), nullable=True),
        sa.Column("correction_chars", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(36), nullable=True),
        sa.Column("reviewed_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_feedback_tenant_id", "feedback", ["tenant_id"])
    op.create_index("ix_feedback_source_id", "feedback", ["source_id"])
    op.create_index(
        "ix_feedback_tenant_user_created", "feedback", ["tenant_id", "user_id", "created_at"]
    )
    enable_tenant_rls(op, "feedback", privileges=("SELECT", "INSERT", "UPDATE"))

    versions = op.create_table(
        "knowledge_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column(
            "source_id",
            sa.String(36),
            sa.ForeignKey("data_sources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(24), nullable=False),
        sa.Column("ref_kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(36), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "source_id", "version", name="uq_knowledge_versions"),
    )
    op.create_index("ix_knowledge_versions_tenant_id", "knowledge_versions", ["tenant_id"])
    op.create_index("ix_knowledge_versions_source_id", "knowledge_versions", ["source_id"])
    # Append-only (a source's deletion cascades as the table owner).
    enable_tenant_rls(op, "knowledge_versions", privileges=("SELECT", "INSERT"))
    _backfill(versions)


def _backfill(versions: sa.Table | None) -> None:
    """One ``document_added`` version per active document, per source in upload order."""
    if versions is None:
        return
    documents = sa.table(
        "documents",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("source_id", sa.String),
        sa.column("uploaded_by", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", UtcDateTime()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(documents)
        .where(documents.c.status == "active")
        .order_by(documents.c.tenant_id, documents.c.source_id, documents.c.created_at)
    ).all()
    counters: dict[tuple[str, str], int] = {}
    values = []
    for row in rows:
        key = (row.tenant_id, row.source_id)
        counters[key] = counters.get(key, 0) + 1
        values.append(
            {
                "id": str(uuid.uuid4()),
                "tenant_id": row.tenant_id,
                "source_id": row.source_id,
                "version": counters[key],
                "change": "document_added",
                "ref_kind": "document",
                "ref_id": row.id,
                "target_version": None,
                "actor": row.uploaded_by,
                "created_at": row.created_at,
            }
        )
    if values:
        op.bulk_insert(versions, values)


def downgrade() -> None:
    disable_tenant_rls(op, "knowledge_versions")
    op.drop_index("ix_knowledge_versions_source_id", table_name="knowledge_versions")
    op.drop_index("ix_knowledge_versions_tenant_id", table_name="knowledge_versions")
    op.drop_table("knowledge_versions")
    disable_tenant_rls(op, "feedback")
    op.drop_index("ix_feedback_tenant_user_created", table_name="feedback")
    op.drop_index("ix_feedback_source_id", table_name="feedback")
    op.drop_index("ix_feedback_tenant_id", table_name="feedback")
    op.drop_table("feedback")
