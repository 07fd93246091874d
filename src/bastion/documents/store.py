"""Document collections: upload (scanned first), list, delete, permission-filtered search.

A collection is a data source of kind ``documents`` (:mod:`bastion.datasources.sources`),
so it has one owner and is shared only explicitly, to users or roles, like any source.
Only the owner uploads or deletes; whoever may see the collection may list and search
it; for everyone else it does not exist (:class:`SourceNotFound`).

At rest: a document row holds its name, status, the scanners' reasons, the SHA-256
and length of its text, never the text. Each chunk's text and, when an embedder ran,
its vector are sealed together under the tenant's ``app`` data key bound to the chunk
id (:mod:`bastion.documents.sealed`), so key rotation and backups cover them like
every sealed column. Every statement runs bound to the tenant (:mod:`bastion.store.tenancy`):
the ``tenant_id`` column is the namespace, enforced by row-level security on
PostgreSQL and by the tenant guard everywhere.

Search filters by permission before it ranks. Candidates are chosen in SQL
(:mod:`bastion.documents.access`): chunks of ``active`` documents in collections the
caller owns or that are shared with them or their role (and, if asked, only the named
ones). Only those are opened and ranked, in
Python (:mod:`bastion.documents.ranking`: BM25, fused with cosine similarity when an
embedder is configured). Ranking cannot happen in the database because the database
never holds the text or the vectors in clear: PostgreSQL full-text search would need
a plaintext ``tsvector`` and pgvector plaintext vectors (which leak content through
inversion and nearest-neighbour probing), and SQLite has neither. The cost is linear
in the caller's visible chunks, one AES-GCM open each (at most
:data:`MAX_CANDIDATES`, beyond which the caller must name ``source_ids``).

Knowledge updates (``docs/poisoning.md``): besides the scanners, an upload is held to
the uploader's own baseline (:mod:`bastion.feedback.anomaly`: far more uploads in an
hour than usual quarantines with ``anomaly.volume``; the thresholds are the tenant
policy's ``[knowledge]`` table, through ``limits_for``); a document accepted at
upload, or deleted while it was knowledge, is a new version of its collection
(:mod:`bastion.feedback.versions`), written in the same transaction as the change.
Release and reject of quarantined documents: :mod:`bastion.documents.review`.

Upload is async (the scanners are); its database work and embedding run on worker
threads. ``list``, ``delete`` and ``search`` are sync: call them from a worker thread.
Errors: see :mod:`bastion.documents.errors`.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import anyio.to_thread
from sqlalchemy import Connection, Engine, delete, func, insert, select

from bastion.crypto import Keyring
from bastion.documents.access import (
    MAX_CANDIDATES,
    candidates,
    owned_collection,
    require_visible,
    source_filter,
)
from bastion.documents.chunking import chunk_text
from bastion.documents.embed import Embedder
from bastion.documents.errors import DocumentError, DocumentNotFound
from bastion.documents.ingest import ACTIVE, QUARANTINED, ROLLED_BACK, Status, scan_chunks
from bastion.documents.ranking import rank
from bastion.documents.sealed import ChunkSealer, SealedChunk
from bastion.feedback.anomaly import Activity
from bastion.feedback.anomaly import reasons as anomaly_reasons
from bastion.feedback.limits import KnowledgeLimits
from bastion.feedback.versions import record_version
from bastion.scanners import Pipeline
from bastion.store.schema import DocumentChunkRow, DocumentRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["MAX_CANDIDATES", "MAX_K", "MAX_QUERY_CHARS", "DocumentInfo", "Documents", "Hit"]

MAX_K = 20
MAX_QUERY_CHARS = 2000
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_DEFAULTS = KnowledgeLimits()

log = logging.getLogger("bastion.documents")


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What a listing shows of a document: status and reasons, never its text."""

    id: str
    source_id: str
    name: str
    status: Status
    reasons: tuple[str, ...]
    sha256: str
    chars: int
    chunks: int
    uploaded_by: str
    created_at: datetime
    # The collection's version this upload made (None: not accepted, or not known).
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk. ``score`` orders hits within one answer only."""

    source_id: str
    source_name: str
    document_id: str
    document_name: str
    ord: int
    text: str = field(repr=False)
    score: float


class Documents:
    """Every tenant's document collections. ``pipeline_for`` maps a policy name to its
    scanner pipeline and ``limits_for`` to its limits (the policy's ``[knowledge]``
    table; default: the code defaults for every policy); ``embedder`` is None for
    lexical-only retrieval."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Callable[[], datetime],
        pipeline_for: Callable[[str], Pipeline],
        embedder: Embedder | None,
        *,
        limits_for: Callable[[str], KnowledgeLimits] | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._pipeline_for = pipeline_for
        self._sealer = ChunkSealer(keyring, embedder)
        self.limits_for = limits_for or _default_limits

    @property
    def embedder(self) -> Embedder | None:
        return self._sealer.embedder

    def __repr__(self) -> str:
        name = self.embedder.name if self.embedder is not None else None
        return f"Documents(embedder={name!r})"

    async def upload(
        self,
        tenant_id: str,
        source_id: str,
        user_id: str,
        role: str,
        name: str,
        text: str,
        *,
        policy: str,
        request_id: str = "",
    ) -> DocumentInfo:
        """Scan and store a document in a collection the caller owns.

        ``policy`` names the tenant's policy, whose input scanners judge each chunk
        (:mod:`bastion.documents.ingest`), and whose ``[knowledge]`` limits hold the
        uploader's volume to their own baseline. A flagged document is stored
        quarantined: the answer says so, with the reasons. ``role`` is unused: only
        the owner uploads, whatever their role."""
        del role
        if not _NAME.match(name):
            raise DocumentError("a document name is 1-256 characters, none of them control")
        limits = self.limits_for(policy)
        chunks, anomalies = await anyio.to_thread.run_sync(
            self._prepare, tenant_id, source_id, user_id, text, limits
        )
        scanned = await scan_chunks(
            self._pipeline_for(policy), chunks, tenant_id=tenant_id, request_id=request_id
        )
        status = QUARANTINED if anomalies else scanned.status
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        sealable = await anyio.to_thread.run_sync(
            self._sealer.seal_new, tenant_id, scanned.texts, status == ACTIVE
        )
        info = DocumentInfo(
            id=str(uuid.uuid4()),
            source_id=source_id,
            name=name,
            status=status,
            reasons=(*scanned.reasons, *anomalies),
            sha256=digest,
            chars=len(text),
            chunks=len(sealable),
            uploaded_by=user_id,
            created_at=self._clock(),
        )
        version = await anyio.to_thread.run_sync(self._insert, tenant_id, info, sealable)
        return dataclasses.replace(info, version=version)

    def delete(self, tenant_id: str, source_id: str, document_id: str, user_id: str) -> int | None:
        """Delete a document and its chunks; only the collection's owner may. A
        document that was knowledge (active or rolled back) makes a new version of the
        collection (its number is returned; None otherwise). Deletion is erasure: no
        rollback brings the document back."""
        with tenant_begin(self._engine, tenant_id) as conn:
            owned_collection(conn, tenant_id, source_id, user_id)
            where = (
                DocumentRow.tenant_id == tenant_id,
                DocumentRow.source_id == source_id,
                DocumentRow.id == document_id,
            )
            status = conn.execute(select(DocumentRow.status).where(*where)).scalar()
            if status is None:
                raise DocumentNotFound()
            version = None
            if status in (ACTIVE, ROLLED_BACK):
                version = record_version(
                    conn,
                    tenant_id,
                    source_id,
                    change="document_removed",
                    ref_kind="document",
                    ref_id=document_id,
                    actor=user_id,
                    now=self._clock(),
                )
            conn.execute(
                delete(DocumentChunkRow).where(
                    DocumentChunkRow.tenant_id == tenant_id,
                    DocumentChunkRow.document_id == document_id,
                )
            )
            conn.execute(delete(DocumentRow).where(*where))
        return version

    def search(
        self,
        tenant_id: str,
        user_id: str,
        role: str,
        query: str,
        k: int = 5,
        source_ids: Sequence[str] | None = None,
    ) -> builtins.list[Hit]:
        """The ``k`` best chunks for ``query`` among the active documents of the
        collections the caller may see (only ``source_ids`` if given: each must be a
        visible collection, else SourceNotFound)."""
        if not query.strip():
            raise DocumentError("the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise DocumentError(f"a query is at most {MAX_QUERY_CHARS} characters")
        if not 1 <= k <= MAX_K:
            raise DocumentError(f"k is 1 to {MAX_K}")
        wanted = source_filter(source_ids)
        with tenant_connect(self._engine, tenant_id) as conn:
            if wanted is not None:
                require_visible(conn, tenant_id, user_id, role, wanted)
            rows = conn.execute(candidates(tenant_id, user_id, role, wanted)).all()
        if len(rows) > MAX_CANDIDATES:
            raise DocumentError(
                f"more than {MAX_CANDIDATES} chunks to search: name the collections "
                "to search in source_ids"
            )
        opened = [(row, self._sealer.open(tenant_id, row.id, row.sealed)) for row in rows]
        usable = [(row, pair) for row, pair in opened if pair is not None]
        if len(usable) < len(opened):
            log.error("document chunks did not open; left out count=%d", len(opened) - len(usable))
        texts = [text for _, (text, _) in usable]
        embedder, query_vector = self.embedder, None
        vectors: list[bytes | None] = []
        if embedder is not None:
            vectors = [
                vector if row.embedder == embedder.name and vector else None
                for row, (_, vector) in usable
            ]
            if any(v is not None for v in vectors):
                query_vector = embedder.embed([query])[0]
        ranked = rank(
            query,
            texts,
            k,
            query_vector=query_vector,
            vectors=vectors,
            similarities=embedder.similarities if embedder is not None else None,
        )
        hits = []
        for r in ranked:
            row = usable[r.index][0]
            hits.append(
                Hit(
                    source_id=row.source_id,
                    source_name=row.source_name,
                    document_id=row.document_id,
                    document_name=row.document_name,
                    ord=row.ord,
                    text=texts[r.index],
                    score=r.score,
                )
            )
        return hits

    # Upload steps (worker threads) ---------------------------------------------------

    def _prepare(
        self, tenant_id: str, source_id: str, user_id: str, text: str, limits: KnowledgeLimits
    ) -> tuple[list[str], tuple[str, ...]]:
        """The chunks and the uploader's anomaly reasons, once the caller is known to
        own the collection."""
        with tenant_connect(self._engine, tenant_id) as conn:
            owned_collection(conn, tenant_id, source_id, user_id)
            activity = self._activity(conn, tenant_id, user_id, limits)
        chunks = chunk_text(text)
        return chunks, anomaly_reasons(activity, limits, rated=False)

    def _activity(
        self, conn: Connection, tenant_id: str, user_id: str, limits: KnowledgeLimits
    ) -> Activity:
        """The uploader's uploads in the window (this one included) and the baseline."""
        now = self._clock()
        start = now - limits.window
        since = start - limits.baseline
        mine = (DocumentRow.tenant_id == tenant_id, DocumentRow.uploaded_by == user_id)
        count = select(func.count()).select_from(DocumentRow).where(*mine)
        recent = conn.execute(count.where(DocumentRow.created_at > start)).scalar_one() + 1
        baseline = conn.execute(
            count.where(DocumentRow.created_at > since, DocumentRow.created_at <= start)
        ).scalar_one()
        return Activity(recent, recent, baseline, baseline)

    def _insert(
        self, tenant_id: str, info: DocumentInfo, chunks: Sequence[SealedChunk]
    ) -> int | None:
        """Store the document, and if it is accepted, the collection's new version."""
        with tenant_begin(self._engine, tenant_id) as conn:
            # Again, in the writing transaction: the collection may have gone meanwhile.
            owned_collection(conn, tenant_id, info.source_id, info.uploaded_by)
            conn.execute(
                insert(DocumentRow).values(
                    id=info.id,
                    tenant_id=tenant_id,
                    source_id=info.source_id,
                    uploaded_by=info.uploaded_by,
                    name=info.name,
                    status=info.status,
                    reasons=json.dumps(list(info.reasons)),
                    sha256=info.sha256,
                    chars=info.chars,
                    chunks=info.chunks,
                    created_at=info.created_at,
                )
            )
            if chunks:
                conn.execute(
                    insert(DocumentChunkRow),
                    [
                        {
                            "id": c.chunk_id,
                            "tenant_id": tenant_id,
                            "document_id": info.id,
                            "source_id": info.source_id,
                            "ord": c.ord,
                            "embedder": c.embedder,
                            "sealed": c.blob,
                        }
                        for c in chunks
                    ],
                )
            if info.status != ACTIVE:
                return None
            return record_version(
                conn,
                tenant_id,
                info.source_id,
                change="document_added",
                ref_kind="document",
                ref_id=info.id,
                actor=info.uploaded_by,
                now=info.created_at,
            )

    def list(
        self, tenant_id: str, source_id: str, user_id: str, role: str
    ) -> builtins.list[DocumentInfo]:
        """The documents of a collection the caller may see, oldest first, with their
        status and reasons (quarantined ones included), never their text."""
        with tenant_connect(self._engine, tenant_id) as conn:
            require_visible(conn, tenant_id, user_id, role, [source_id])
            rows = conn.execute(
                select(
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
                .where(DocumentRow.tenant_id == tenant_id, DocumentRow.source_id == source_id)
                .order_by(DocumentRow.created_at, DocumentRow.id)
            ).all()
        return [
            DocumentInfo(
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
            for row in rows
        ]


def _default_limits(policy: str) -> KnowledgeLimits:
    del policy
    return _DEFAULTS
