"""The knowledge routes' bodies and answers (:mod:`bastion.gateway.feedback_routes`).

Requests are strict (unknown fields and wrong types are a 400); answers carry ids,
states, counts and reason codes, and a correction only where it may be shown (an
accepted feedback), never a document's text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bastion.documents.store import DocumentInfo
from bastion.feedback import FeedbackInfo

__all__ = [
    "FeedbackIn",
    "FeedbackOut",
    "QuarantineOut",
    "QuarantinedDocument",
    "RollbackIn",
    "RollbackOut",
    "VersionOut",
    "by_kind",
    "document_out",
    "feedback_out",
]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    rating: Literal["up", "down"]
    conversation_id: str | None = Field(default=None, max_length=36)
    turn: int | None = Field(
        default=None, ge=0, le=10_000, description="The answer's index in the conversation."
    )
    request_id: str | None = Field(
        default=None, max_length=80, description="Or: the answer's id (asst-...)."
    )
    source_id: str | None = Field(
        default=None, max_length=36, description="The documents collection it corrects."
    )
    correction: str | None = Field(default=None, max_length=100_000)


class FeedbackOut(BaseModel):
    id: str
    user_id: str
    target_kind: str
    target_ref: str
    turn: int | None
    source_id: str | None
    rating: str
    status: Literal["accepted", "quarantined", "rejected", "rolled_back"]
    reasons: list[str] = Field(description="Reason codes, never content.")
    correction_chars: int
    created_at: datetime
    version: int | None = Field(default=None, description="The source version it made.")
    reviewed_by: str | None = None
    correction: str | None = Field(default=None, description="Shown for accepted only.")


class QuarantinedDocument(BaseModel):
    id: str
    source_id: str
    name: str
    status: str
    reasons: list[str]
    sha256: str
    chars: int
    chunks: int
    uploaded_by: str
    created_at: datetime
    version: int | None = None


class QuarantineOut(BaseModel):
    documents: list[QuarantinedDocument]
    feedback: list[FeedbackOut]


class VersionOut(BaseModel):
    version: int
    change: str
    ref_kind: str
    ref_id: str
    target_version: int | None
    actor: str
    created_at: datetime


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: int = Field(ge=0, description="The version to return to (0: empty).")


class RollbackOut(BaseModel):
    source_id: str
    version: int = Field(description="The new version the rollback made.")
    target_version: int
    withdrawn: dict[str, list[str]]
    restored: dict[str, list[str]]
    gone: int = Field(description="Documents of the target deleted since (not restored).")


def feedback_out(info: FeedbackInfo) -> FeedbackOut:
    """The API view of a feedback (its correction for accepted feedback only)."""
    return FeedbackOut(
        id=info.id,
        user_id=info.user_id,
        target_kind=info.target_kind,
        target_ref=info.target_ref,
        turn=info.turn,
        source_id=info.source_id,
        rating=info.rating,
        status=info.status,
        reasons=list(info.reasons),
        correction_chars=info.correction_chars,
        created_at=info.created_at,
        version=info.version,
        reviewed_by=info.reviewed_by,
        correction=info.correction if info.status == "accepted" else None,
    )


def document_out(info: DocumentInfo) -> QuarantinedDocument:
    """The API view of a document under review (never its text)."""
    return QuarantinedDocument(
        id=info.id,
        source_id=info.source_id,
        name=info.name,
        status=info.status,
        reasons=list(info.reasons),
        sha256=info.sha256,
        chars=info.chars,
        chunks=info.chunks,
        uploaded_by=info.uploaded_by,
        created_at=info.created_at,
        version=info.version,
    )


def by_kind(items: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """A rollback's items as ``{"documents": [...], "feedback": [...]}``."""
    out: dict[str, list[str]] = {"documents": [], "feedback": []}
    for kind, ref in items:
        out["documents" if kind == "document" else "feedback"].append(ref)
    return out
