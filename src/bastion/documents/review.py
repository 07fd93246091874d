"""Review of quarantined documents: list them, release one, or reject it.

A quarantined document is stored (its chunks sealed, as uploaded) but never
retrieved. A reviewer (``knowledge.review``, checked by the caller) sees its name,
collection, uploader, size and reason codes, never its text, and decides:

* **release**: the document becomes ``active`` and a new version of its collection
  (``document_released``); from then on its chunks are retrieved as uploaded. With an
  embedder (the ``sealer``'s, the one uploads use), the chunks are embedded on
  release, as an accepted upload's are at ingest, so they rank by meaning too; if
  embedding fails, or a chunk does not open, they rank by words only;
* **reject**: the document becomes ``rejected`` and is never retrieved; the owner may
  delete it.

Nobody decides on their own upload (separation of duties). The checks run before
any embedding (so nobody makes the gateway embed what they may not release), and
again in the deciding transaction: one conditional update with the new vectors and
the version, so two reviewers racing get one success and one conflict. Sync: call
from a worker thread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, select, update

from bastion.documents.ingest import ACTIVE, QUARANTINED, REJECTED, Status
from bastion.documents.sealed import ChunkSealer
from bastion.documents.store import DocumentInfo
from bastion.feedback.errors import KnowledgeConflict, KnowledgeForbidden, KnowledgeNotFound
from bastion.feedback.versions import record_version
from bastion.store.schema import DocumentChunkRow, DocumentRow
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

log = logging.getLogger("bastion.documents")


class DocumentReview:
    """Quarantine review for every collection of a tenant. ``sealer`` opens, embeds
    and reseals a released document's chunks (None, or one without an embedder: they
    stay unembedded and rank by words only)."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], *, sealer: ChunkSealer | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sealer = sealer

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
        with tenant_connect(self._engine, tenant_id) as conn:
            _decidable(conn, tenant_id, document_id, reviewer)
        embedded = self._embedded(tenant_id, document_id) if new == ACTIVE else {}
        with tenant_begin(self._engine, tenant_id) as conn:
            row = _decidable(conn, tenant_id, document_id, reviewer)
            where = (DocumentRow.tenant_id == tenant_id, DocumentRow.id == document_id)
            changed = conn.execute(
                update(DocumentRow)
                .where(*where, DocumentRow.status == QUARANTINED)
                .values(status=new)
            ).rowcount
            if changed != 1:
                raise KnowledgeConflict("the document is not quarantined")
            version = None
            if new == ACTIVE:
                for chunk_id, (name, blob) in embedded.items():
                    conn.execute(
                        update(DocumentChunkRow)
                        .where(
                            DocumentChunkRow.tenant_id == tenant_id,
                            DocumentChunkRow.document_id == document_id,
                            DocumentChunkRow.id == chunk_id,
                        )
                        .values(embedder=name, sealed=blob)
                    )
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

    def _embedded(self, tenant_id: str, document_id: str) -> dict[str, tuple[str, bytes]]:
        """Per chunk of the document not yet embedded by the current embedder: the
        embedder's name and the chunk resealed with its vector (empty: nothing to do,
        or embedding failed)."""
        sealer = self._sealer
        if sealer is None or sealer.embedder is None:
            return {}
        name = sealer.embedder.name
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(
                select(DocumentChunkRow.id, DocumentChunkRow.sealed)
                .where(
                    DocumentChunkRow.tenant_id == tenant_id,
                    DocumentChunkRow.document_id == document_id,
                    DocumentChunkRow.embedder != name,
                )
                .order_by(DocumentChunkRow.ord)
            ).all()
        opened = [(row.id, sealer.open(tenant_id, row.id, row.sealed)) for row in rows]
        texts = {chunk_id: pair[0] for chunk_id, pair in opened if pair is not None}
        if len(texts) < len(opened):
            log.error(
                "document chunks did not open; not embedded count=%d", len(opened) - len(texts)
            )
        vectors, made_by = sealer.embed(list(texts.values()))
        if not made_by:
            return {}
        return {
            chunk_id: (made_by, sealer.seal(tenant_id, chunk_id, text, vector))
            for (chunk_id, text), vector in zip(texts.items(), vectors, strict=True)
        }


def _decidable(conn: Connection, tenant_id: str, document_id: str, reviewer: str) -> Any:
    """The document's row (of ``_COLUMNS``) if ``reviewer`` may decide on it now."""
    row = conn.execute(
        select(*_COLUMNS).where(DocumentRow.tenant_id == tenant_id, DocumentRow.id == document_id)
    ).first()
    if row is None:
        raise KnowledgeNotFound("no such document")
    if row.uploaded_by == reviewer:
        raise KnowledgeForbidden("nobody releases or rejects their own document")
    if row.status != QUARANTINED:
        raise KnowledgeConflict("the document is not quarantined")
    return row


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
