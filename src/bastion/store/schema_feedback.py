"""Knowledge-update tables (poisoning defense): feedback and the per-source version log.

Both are tenant tables (a ``tenant_id`` column, row-level security from migration
0014). Imported by :mod:`bastion.store.schema` so they are part of ``Base.metadata``.
See ``docs/poisoning.md``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bastion.store.schema import Base, UtcDateTime

__all__ = ["FeedbackRow", "KnowledgeVersionRow"]


class FeedbackRow(Base):
    """One rating of an assistant answer, with an optional correction.

    ``target_kind`` is ``conversation`` (``target_ref`` the conversation id, ``turn`` the
    index of the answer in it) or ``request`` (``target_ref`` the audit request id).
    ``status``: ``accepted`` (used), ``quarantined`` (flagged: kept for review, never
    used), ``rejected`` (a reviewer said no) or ``rolled_back`` (withdrawn by a rollback
    of its source). ``reasons`` is the JSON list of reason codes, never content. The
    correction lives only in ``sealed`` (the tenant's ``app`` key, bound to ``id``);
    ``correction_sha256`` and ``correction_chars`` describe it.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_tenant_user_created", "tenant_id", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    target_kind: Mapped[str] = mapped_column(String(16))
    target_ref: Mapped[str] = mapped_column(String(80))
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_sources.id", ondelete="SET NULL"), nullable=True, index=True
    )
    rating: Mapped[str] = mapped_column(String(8))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    correction_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    correction_chars: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class KnowledgeVersionRow(Base):
    """One version of a source's knowledge: the change that made it (``document_added``,
    ``document_released``, ``document_removed``, ``feedback_accepted``,
    ``feedback_released``, ``rollback``), what it changed (``ref_kind`` ``document`` or
    ``feedback``, ``ref_id``; for a rollback the version it returned to,
    ``target_version``), who and when. Append-only for the application."""

    __tablename__ = "knowledge_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_id", "version", name="uq_knowledge_versions"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    source_id: Mapped[str] = mapped_column(
        ForeignKey("data_sources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(24))
    ref_kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[str] = mapped_column(String(36))
    target_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
