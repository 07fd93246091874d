"""Knowledge updates over HTTP: feedback, quarantine review, source versions, rollback.

``POST /v1/feedback`` (``feedback.write``) rates one of the caller's own answers; the
per-user rate (the tenant policy's ``[knowledge]`` table) is counted by the gateway's
rate limiter (429 beyond it), and the store judges the rest
(:mod:`bastion.feedback.store`): the answer says ``accepted`` or ``quarantined`` with
the reason codes. Analysts (``knowledge.read``) list accepted feedback, what is
quarantined and each source's versions; ``knowledge.review`` (a step-up permission)
releases or rejects quarantined documents and feedback, never one's own, and rolls a
source back to an earlier version. Bodies and answers:
:mod:`bastion.gateway.feedback_schema`.

Every decision is one record in the tenant's audit chain: ids, ratings, counts,
versions and reason codes; never a correction or a document's text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Query
from starlette.requests import Request

from bastion.assistant.memory import ConversationError, ConversationNotFound, Conversations
from bastion.audit import AuditLog
from bastion.audit.decisions import record_decision
from bastion.documents.review import DocumentReview
from bastion.documents.sealed import ChunkSealer
from bastion.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    VaultUnavailable,
)
from bastion.errors import PermissionDenied as Forbidden
from bastion.feedback import (
    FeedbackStore,
    KnowledgeConflict,
    KnowledgeError,
    KnowledgeForbidden,
    KnowledgeNotFound,
    KnowledgeVersions,
    Submission,
)
from bastion.gateway.callers import Caller, Callers
from bastion.gateway.feedback_schema import (
    FeedbackIn,
    FeedbackOut,
    QuarantinedDocument,
    QuarantineOut,
    RollbackIn,
    RollbackOut,
    VersionOut,
    by_kind,
    document_out,
    feedback_out,
)
from bastion.gateway.openapi import error_responses
from bastion.gateway.runtime import Runtime
from bastion.ratelimit import RateLimiter

__all__ = ["KnowledgeServices", "feedback_router", "knowledge_router"]

T = TypeVar("T")

_ERRORS = error_responses(
    {
        "400": "Invalid body: no answer named, an oversized or empty correction, a bad "
        "version (the message names the problem)",
        "401": "Not authenticated",
        "403": "The role lacks the permission, or a reviewer decided on their own update",
        "404": "No such answer, conversation, source, document or feedback",
        "409": "The item is not in a state that allows this (not quarantined, already "
        "at that version)",
        "429": "Too much feedback from this user; try again later",
        "503": "The decision could not be recorded in the audit log",
    }
)


class KnowledgeServices:
    def __init__(
        self,
        callers: Callers,
        feedback: FeedbackStore,
        review: DocumentReview,
        versions: KnowledgeVersions,
        limiter: RateLimiter,
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self.callers = callers
        self.feedback = feedback
        self.review = review
        self.versions = versions
        self.limiter = limiter
        self.audit = audit
        self.clock = clock

    def __repr__(self) -> str:
        return "KnowledgeServices()"


def knowledge_router(runtime: Runtime) -> APIRouter:
    """The routes over ``runtime`` (none without a keyring: corrections are sealed)."""
    if runtime.keyring is None or runtime.data_sources is None:
        return APIRouter()
    policies = runtime.policies
    store = FeedbackStore(
        runtime.engine,
        runtime.keyring,
        runtime.clock,
        lambda name: policies.get(name).pipeline,
        Conversations(runtime.engine, runtime.keyring, runtime.clock),
        lambda name: policies.get(name).knowledge,
    )
    # Released documents are embedded like accepted uploads: with the uploads' embedder.
    embedder = runtime.documents.embedder if runtime.documents is not None else runtime.embedder
    services = KnowledgeServices(
        runtime.callers,
        store,
        DocumentReview(
            runtime.engine, runtime.clock, sealer=ChunkSealer(runtime.keyring, embedder)
        ),
        KnowledgeVersions(runtime.engine, runtime.clock),
        runtime.limiter,
        runtime.audit,
        runtime.clock,
    )
    return feedback_router(services)


async def _mapped(call: Awaitable[T]) -> T:
    """The stores' errors as API errors (their messages never hold content)."""
    try:
        return await call
    except ConversationNotFound:
        raise NotFound("No such conversation.") from None
    except ConversationError:
        raise VaultUnavailable("The conversation could not be opened.") from None
    except KnowledgeNotFound as exc:
        raise NotFound(f"{str(exc)[:200].capitalize()}.") from None
    except KnowledgeForbidden as exc:
        raise Forbidden(f"{str(exc)[:200].capitalize()}.") from None
    except KnowledgeConflict as exc:
        raise Conflict(f"{str(exc)[:200].capitalize()}.", code="invalid_state") from None
    except KnowledgeError as exc:
        raise InvalidRequest(f"{str(exc)[:300].capitalize()}.") from None


def feedback_router(services: KnowledgeServices) -> APIRouter:
    router = APIRouter(tags=["knowledge"], responses=_ERRORS)
    s = services

    def thread(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        return anyio.to_thread.run_sync(fn, *args)

    @router.post("/v1/feedback", status_code=201, response_model=FeedbackOut)
    async def give(request: Request, body: FeedbackIn) -> FeedbackOut:
        """Rate one of your answers, optionally with a correction: checked, and
        quarantined (never used) when flagged; the answer lists the reason codes."""
        c = await s.callers.identify_for(request, "feedback.write")
        p = c.principal
        # The tenant policy's [knowledge] rate (PolicyUnavailable: the policy is bad).
        limit = s.feedback.limits_for(p.policy).feedback_rate
        if not await s.limiter.hit(limit, "feedback", p.tenant_id, p.user_id):
            await _audit(
                s, c, "POST /v1/feedback", "feedback_refused", None, None, "rate_limit_exceeded"
            )
            raise RateLimited("Too much feedback; please try again later.", retry_after=60)
        submission = Submission(
            rating=body.rating,
            conversation_id=body.conversation_id,
            turn=body.turn,
            request_id=body.request_id,
            source_id=body.source_id,
            correction=body.correction,
        )
        info = await _mapped(
            s.feedback.submit(p.tenant_id, p.user_id, c.role, submission, policy=p.policy)
        )
        await _audit(
            s,
            c,
            "POST /v1/feedback",
            f"feedback_{info.status}",
            info.source_id,
            {
                "feedback_id": info.id,
                "rating": info.rating,
                "target_kind": info.target_kind,
                "reasons": list(info.reasons),
                "correction_chars": info.correction_chars,
                "version": info.version,
            },
        )
        return feedback_out(info)

    @router.get("/v1/feedback", response_model=list[FeedbackOut])
    async def listing(
        request: Request,
        status: Literal["accepted", "quarantined", "rejected", "rolled_back"] = Query(
            default="accepted"
        ),
    ) -> list[FeedbackOut]:
        """The tenant's feedback in one state, newest first (corrections: accepted only)."""
        c = await s.callers.identify_for(request, "knowledge.read")
        found = await thread(s.feedback.list, c.principal.tenant_id, status)
        return [feedback_out(info) for info in found]

    @router.get("/v1/knowledge/quarantine", response_model=QuarantineOut)
    async def quarantine(request: Request) -> QuarantineOut:
        """What waits for review: documents and feedback, with reason codes, no text."""
        c = await s.callers.identify_for(request, "knowledge.read")
        tenant_id = c.principal.tenant_id
        documents = await thread(s.review.quarantined, tenant_id)
        feedback = await thread(s.feedback.list, tenant_id, "quarantined")
        return QuarantineOut(
            documents=[document_out(d) for d in documents],
            feedback=[feedback_out(f) for f in feedback],
        )

    async def decide_document(
        request: Request, document_id: str, decision: Literal["release", "reject"]
    ) -> QuarantinedDocument:
        c = await s.callers.identify_for(request, "knowledge.review")
        p = c.principal
        info = await _mapped(thread(s.review.decide, p.tenant_id, document_id, decision, p.user_id))
        await _audit(
            s,
            c,
            f"POST /v1/knowledge/documents/{{document_id}}/{decision}",
            "document_released" if decision == "release" else "document_rejected",
            info.source_id,
            {"document_id": info.id, "reasons": list(info.reasons), "version": info.version},
            documents=[info.id],
        )
        return document_out(info)

    @router.post(
        "/v1/knowledge/documents/{document_id}/release", response_model=QuarantinedDocument
    )
    async def release_document(request: Request, document_id: str) -> QuarantinedDocument:
        """Release a quarantined document: it is retrieved from now on (a new version)."""
        return await decide_document(request, document_id, "release")

    @router.post("/v1/knowledge/documents/{document_id}/reject", response_model=QuarantinedDocument)
    async def reject_document(request: Request, document_id: str) -> QuarantinedDocument:
        """Reject a quarantined document: it is never retrieved."""
        return await decide_document(request, document_id, "reject")

    async def decide_feedback(
        request: Request, feedback_id: str, decision: Literal["release", "reject"]
    ) -> FeedbackOut:
        c = await s.callers.identify_for(request, "knowledge.review")
        p = c.principal
        info = await _mapped(
            thread(s.feedback.decide, p.tenant_id, feedback_id, decision, p.user_id)
        )
        await _audit(
            s,
            c,
            f"POST /v1/feedback/{{feedback_id}}/{decision}",
            "feedback_released" if decision == "release" else "feedback_rejected",
            info.source_id,
            {"feedback_id": info.id, "reasons": list(info.reasons), "version": info.version},
        )
        return feedback_out(info)

    @router.post("/v1/feedback/{feedback_id}/release", response_model=FeedbackOut)
    async def release_feedback(request: Request, feedback_id: str) -> FeedbackOut:
        """Release a quarantined feedback: it is accepted and used from now on."""
        return await decide_feedback(request, feedback_id, "release")

    @router.post("/v1/feedback/{feedback_id}/reject", response_model=FeedbackOut)
    async def reject_feedback(request: Request, feedback_id: str) -> FeedbackOut:
        """Reject a quarantined feedback: it is never used."""
        return await decide_feedback(request, feedback_id, "reject")

    @router.get("/v1/sources/{source_id}/versions", response_model=list[VersionOut])
    async def versions(request: Request, source_id: str) -> list[VersionOut]:
        """Every version of a source's knowledge, oldest first."""
        c = await s.callers.identify_for(request, "knowledge.read")
        found = await _mapped(thread(s.versions.history, c.principal.tenant_id, source_id))
        return [
            VersionOut(
                version=v.version,
                change=v.change,
                ref_kind=v.ref_kind,
                ref_id=v.ref_id,
                target_version=v.target_version,
                actor=v.actor,
                created_at=v.created_at,
            )
            for v in found
        ]

    @router.post("/v1/sources/{source_id}/rollback", response_model=RollbackOut)
    async def rollback(request: Request, source_id: str, body: RollbackIn) -> RollbackOut:
        """Return a source's knowledge to an earlier version: what was added after it
        stops being retrieved; what it held and is still stored comes back."""
        c = await s.callers.identify_for(request, "knowledge.review")
        p = c.principal
        done = await _mapped(
            thread(s.versions.rollback, p.tenant_id, source_id, body.version, p.user_id)
        )
        withdrawn = by_kind(done.withdrawn)
        restored = by_kind(done.restored)
        await _audit(
            s,
            c,
            "POST /v1/sources/{source_id}/rollback",
            "knowledge_rolled_back",
            source_id,
            {
                "version": done.version,
                "target_version": done.target,
                "withdrawn": withdrawn,
                "restored": restored,
                "gone": done.gone,
            },
        )
        return RollbackOut(
            source_id=source_id,
            version=done.version,
            target_version=done.target,
            withdrawn=withdrawn,
            restored=restored,
            gone=done.gone,
        )

    return router


async def _audit(
    s: KnowledgeServices,
    c: Caller,
    route: str,
    outcome: str,
    source_id: str | None,
    extra: dict[str, Any] | None,
    error_code: str | None = None,
    *,
    documents: list[str] | None = None,
) -> None:
    p = c.principal
    access: list[dict[str, Any]] = []
    if source_id is not None:
        entry: dict[str, Any] = {"source": source_id}
        if documents:
            entry["documents"] = documents
        access.append(entry)
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
