"""Governance tables (issue 10): the model registry.

Deployment-wide, not tenant rows: which upstream model, at which exact version, behind
each model name (alias) clients use. Every registered version is kept; an alias points
at one of them, so a rollback is one row update. Imported by :mod:`bastion.store.schema`
so the tables are part of ``Base.metadata``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bastion.store.schema import Base, UtcDateTime

__all__ = ["ModelAliasRow", "ModelVersionRow"]


class ModelVersionRow(Base):
    """One registered version of a model alias; never changed or deleted once written.

    ``spec`` is the canonical JSON of the model's configuration without secrets (key
    names, never key values; no extra headers) and ``fingerprint`` its SHA-256.
    ``source`` says who registered it: ``config`` (the settings' models, applied once
    per change) or ``cli``.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("alias", "version", name="uq_model_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alias: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(32))
    upstream_model: Mapped[str] = mapped_column(String(256))
    base_url: Mapped[str] = mapped_column(String(2048))
    region: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(320))
    note: Mapped[str] = mapped_column(String(500), default="")


class ModelAliasRow(Base):
    """The version an alias serves now (``version``), and who set it, when."""

    __tablename__ = "model_aliases"

    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(320))
