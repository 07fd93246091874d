"""Document collections over HTTP: upload, list, delete, search (issue 7).

A collection is a data source of kind ``documents`` (``POST /v1/sources`` with
``{"name", "kind": "documents"}``), shared like any source. Every route needs
``datasources.use`` and works on the caller's own tenant only. Uploads are scanned by
the tenant's input scanners before anything is stored (:mod:`bastion.documents.ingest`);
a flagged document is kept quarantined and the answer (201) says so, with the reasons.

Knowledge updates (``docs/poisoning.md``): an accepted upload or the deletion of a
document that was knowledge is a new version of its collection (the answer and the
record carry ``version``); uploads beyond the uploader's own baseline are quarantined
(``anomaly.volume``); with a ``limiter``, uploads per user are also rate limited (429).
Both thresholds are the caller's tenant policy's ``[knowledge]`` table
(``Documents.limits_for``).
Quarantined documents are reviewed through ``bastion.gateway.feedback_routes``.

Every upload, deletion and search is one audit record: the collection, the document
ids and the chunk count, the scanners' reasons, and for a search the SHA-256 of the
query; never a document's text or the query itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from bastion.audit import AuditLog
from bastion.audit.decisions import record_decision
from bastion.datasources.sources import SourceError, SourceForbidden, SourceNotFound
from bastion.documents.errors import DocumentNotFound
from bastion.documents.store import MAX_K, MAX_QUERY_CHARS, DocumentInfo, Documents, Hit
from bastion.errors import InvalidRequest, NotFound, RateLimited
from bastion.errors import PermissionDenied as Forbidden
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.openapi import error_responses
from bastion.ratelimit import RateLimiter

__all__ = ["DocumentServices", "document_router"]

T = TypeVar("T")

_ERRORS = error_responses(
    {
        "400": "Invalid body: empty or oversized text or query, bad k, a database "
        "source where a collection is needed (the message names the problem)",
        "401": "Not authenticated",
        "403": "The role lacks datasources.use, or only the owner may do this",
        "404": "No such collection or document, or not one the caller may use",
        "429": "Too many uploads from this user; try again later",
        "503": "The decision could not be recorded in the audit log",
    }
)


class NewDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    text: str = Field(description="Plain text, at most 2,000,000 characters.")


class Search(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(default=5, ge=1, le=MAX_K)
    source_ids: list[str] | None = Field(
        default=None, max_length=50, description="Only these collections (default: all)."
    )


class DocumentOut(BaseModel):
    id: str
    source_id: str
    name: str
    status: Literal["active", "quarantined", "rejected", "rolled_back"]
    reasons: list[str] = Field(description="The scanners' reason codes, never content.")
    sha256: str
    chars: int
    chunks: int
    uploaded_by: str
    created_at: datetime
    version: int | None = Field(
        default=None, description="The collection's version this upload made, if accepted."
    )


class HitOut(BaseModel):
    source_id: str
    source_name: str
    document_id: str
    document_name: str
    ord: int = Field(description="The chunk's position in its document (from 0).")
    text: str
    score: float = Field(description="Higher is better; comparable within one answer.")


class SearchOut(BaseModel):
    hits: list[HitOut]


class DocumentServices:
    def __init__(
        self,
        callers: Callers,
        documents: Documents,
        audit: AuditLog,
        clock: Callable[[], datetime],
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.callers = callers
        self.documents = documents
        self.audit = audit
        self.clock = clock
        self.limiter = limiter

    def __repr__(self) -> str:
        return "DocumentServices()"


def _out(info: DocumentInfo) -> DocumentOut:
    return DocumentOut(
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


def _hit(hit: Hit) -> HitOut:
    return HitOut(
        source_id=hit.source_id,
        source_name=hit.source_name,
        document_id=hit.document_id,
        document_name=hit.document_name,
        ord=hit.ord,
        text=hit.text,
        score=round(hit.score, 6),
    )


async def _mapped(call: Awaitable[T]) -> T:
    """The store's errors as API errors (their messages never hold text)."""
    try:
        return await call
    except DocumentNotFound:
        raise NotFound("No such document.") from None
    except SourceNotFound:
        raise NotFound("No such document collection.") from None
    except SourceForbidden:
        raise Forbidden("Only the collection's owner may do this.") from None
    except SourceError as exc:
        raise InvalidRequest(str(exc)[:300]) from None


def document_router(services: DocumentServices) -> APIRouter:
    router = APIRouter(tags=["documents"], responses=_ERRORS)
    s = services

    async def caller(request: Request) -> Caller:
        return await s.callers.identify_for(request, "datasources.use")

    def thread(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        return anyio.to_thread.run_sync(fn, *args)

    @router.post("/v1/sources/{source_id}/documents", status_code=201, response_model=DocumentOut)
    async def upload(request: Request, source_id: str, body: NewDocument) -> DocumentOut:
        """Scan and store a document (the collection's owner only); a flagged one is
        stored quarantined, never retrieved, and the answer lists the reasons."""
        c = await caller(request)
        p = c.principal
        route = "POST /v1/sources/{source_id}/documents"
        rate = s.documents.limits_for(p.policy).document_rate  # the tenant's [knowledge]
        if s.limiter is not None and not await s.limiter.hit(
            rate, "documents", p.tenant_id, p.user_id
        ):
            access = [{"source": source_id}]
            await _audit(s, c, route, "document_refused", access, None, "rate_limit_exceeded")
            raise RateLimited("Too many uploads; please try again later.", retry_after=60)
        info = await _mapped(
            s.documents.upload(
                p.tenant_id, source_id, p.user_id, c.role, body.name, body.text, policy=p.policy
            )
        )
        outcome = "document_ingested" if info.status == "active" else "document_quarantined"
        await _audit(
            s,
            c,
            route,
            outcome,
            [{"source": source_id, "documents": [info.id], "chunks": info.chunks}],
            {
                "reasons": list(info.reasons),
                "document_sha256": info.sha256,
                "version": info.version,
            },
        )
        return _out(info)

    @router.get("/v1/sources/{source_id}/documents", response_model=list[DocumentOut])
    async def listing(request: Request, source_id: str) -> list[DocumentOut]:
        """The documents of a collection the caller may see, with status and reasons."""
        c = await caller(request)
        p = c.principal
        found = await _mapped(thread(s.documents.list, p.tenant_id, source_id, p.user_id, c.role))
        return [_out(info) for info in found]

    @router.delete("/v1/sources/{source_id}/documents/{document_id}", status_code=204)
    async def remove(request: Request, source_id: str, document_id: str) -> Response:
        """Delete a document and its chunks (the collection's owner only)."""
        c = await caller(request)
        p = c.principal
        version = await _mapped(
            thread(s.documents.delete, p.tenant_id, source_id, document_id, p.user_id)
        )
        await _audit(
            s,
            c,
            "DELETE /v1/sources/{source_id}/documents/{document_id}",
            "document_deleted",
            [{"source": source_id, "documents": [document_id]}],
            {"version": version} if version is not None else None,
        )
        return Response(status_code=204)

    @router.post("/v1/documents/search", response_model=SearchOut)
    async def search(request: Request, body: Search) -> SearchOut:
        """The best chunks for a query among the active documents of the collections
        the caller may see: filtered by permission first, then ranked."""
        c = await caller(request)
        p = c.principal
        hits = await _mapped(
            thread(
                s.documents.search,
                p.tenant_id,
                p.user_id,
                c.role,
                body.query,
                body.k,
                body.source_ids,
            )
        )
        sources: dict[str, dict[str, Any]] = {}
        for hit in hits:
            entry = sources.setdefault(
                hit.source_id, {"source": hit.source_id, "documents": [], "chunks": 0}
            )
            if hit.document_id not in entry["documents"]:
                entry["documents"].append(hit.document_id)
            entry["chunks"] += 1
        query_sha256 = hashlib.sha256(body.query.encode("utf-8")).hexdigest()
        await _audit(
            s,
            c,
            "POST /v1/documents/search",
            "documents_searched",
            list(sources.values()),
            {"query_sha256": query_sha256, "hits": len(hits)},
        )
        return SearchOut(hits=[_hit(hit) for hit in hits])

    return router


async def _audit(
    s: DocumentServices,
    c: Caller,
    route: str,
    outcome: str,
    access: list[dict[str, Any]],
    extra: dict[str, Any] | None,
    error_code: str | None = None,
) -> None:
    p = c.principal
    await record_decision(
        s.audit.append,
        ts=s.clock(),
        tenant_id=p.tenant_id,
        route=route,
        outcome=outcome,
        unavailable="The decision could not be recorded; it was not answered.",
        user_id=p.user_id,
        key_id=p.key_id,
        session_id=p.session_id,
        error_code=error_code,
        extra=extra,
        data_sources=access,
    )
