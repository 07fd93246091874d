"""Review of quarantined documents: list them, release one, or reject it.

A quarantined document is stored (its chunks sealed, as uploaded) but never
retrieved. A reviewer (``knowledge.review``, checked by the caller) sees its name,
collection, uploader, size and reason codes, never its text, and decides:

* **release**: the document becomes ``active`` and a new version of its collection
  (``document_released``); from then on its chunks are retrieved exactly as stored.
  Released chunks have no embedding vector, so they rank by words only;
* **reject**: the document becomes ``rejected`` and is never retrieved; the owner may
  delete it.

Nobody decides on their own upload (separation of duties). Each decision is one
conditional update in one transaction with its version, so two reviewers racing
get one success and one conflict. Sync: call from a worker thread.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Engine, select, update

from bastion.documents.ingest import ACTIVE, QUARANTINED, REJECTED, Status
from bastion.documents.store import DocumentInfo
from bastion.feedback.errors import KnowledgeConflict, KnowledgeForbidden, KnowledgeNotFound
from bastion.feedback.versions import record_version
from bastion.store.schema import DocumentRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["Decision", "DocumentReview"]

Decision = Literal["release", "reject"]

_COLUMNS = (
    DocumentRow.id,
    DocumentRow.source_id,
    DocumentRow.name,
    DocumentRow.status,
    DocumentRow.reasons,
    DocumentRow.sha256,
    DocumentRow.chars,
    DocumentRow.chunks,
    DocumentRow.uploaded_by,
    DocumentRow.created_at,
)


class DocumentReview:
    """Quarantine review for every collection of a tenant."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return "DocumentReview()"

    def quarantined(self, tenant_id: str, limit: int = 200) -> list[DocumentInfo]:
        """The tenant's quarantined documents, oldest first, without their text."""
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(
                select(*_COLUMNS)
                .where(DocumentRow.tenant_id == tenant_id, DocumentRow.status == QUARANTINED)
                .order_by(DocumentRow.created_at, DocumentRow.id)
                .limit(limit)
            ).all()
        return [_info(row) for row in rows]

    def decide(
        self, tenant_id: str, document_id: str, decision: Decision, reviewer: str
    ) -> DocumentInfo:
        """Release or reject a quarantined document (see the module doc)."""
        new: Status = ACTIVE if decision == "release" else REJECTED
        with tenant_begin(self._engine, tenant_id) as conn:
            where = (DocumentRow.tenant_id == tenant_id, DocumentRow.id == document_id)
            row = conn.execute(select(*_COLUMNS).where(*where)).first()
            if row is None:
                raise KnowledgeNotFound("no such document")
            if row.uploaded_by == reviewer:
                raise KnowledgeForbidden("nobody releases or rejects their own document")
            changed = conn.execute(
                update(DocumentRow)
                .where(*where, DocumentRow.status == QUARANTINED)
                .values(status=new)
            ).rowcount
            if changed != 1:
                raise KnowledgeConflict("the document is not quarantined")
            version = None
            if new == ACTIVE:
                version = record_version(
                    conn,
                    tenant_id,
                    row.source_id,
                    change="document_released",
                    ref_kind="document",
                    ref_id=document_id,
                    actor=reviewer,
                    now=self._clock(),
                )
        return dataclasses.replace(_info(row), status=new, version=version)


def _info(row: Any) -> DocumentInfo:  # a Row of _COLUMNS
    return DocumentInfo(
        id=row.id,
        source_id=row.source_id,
        name=row.name,
        status=cast(Status, row.status),
        reasons=tuple(json.loads(row.reasons)),
        sha256=row.sha256,
        chars=row.chars,
        chunks=row.chunks,
        uploaded_by=row.uploaded_by,
        created_at=row.created_at,
    )
