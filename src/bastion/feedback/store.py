"""Feedback on assistant answers: validated, scanned, judged against the user's own
baseline, stored per tenant with the correction sealed, and reviewed when flagged.

A feedback rates one answer the caller received: a turn of their own assistant
conversation (``conversation_id`` + ``turn``, the index in
``GET /v1/assistant/conversations/{id}``) or a request of theirs in the tenant's audit
log (``request_id``; the assistant's ``asst-`` prefix is accepted). Anything else is
"not found", so ids cannot be probed. It may name the documents collection its
correction is about (``source_id``, one the caller may see): then an accepted
feedback is a version of that collection and a rollback withdraws it.

Checks, in order: size (``max_correction_chars``, a 400); the answer exists for this
caller; the tenant policy's input scanners over the correction as untrusted content
(the documents' ingest scan: injection, secrets, personal data; any finding, even one
that would only redact, flags it, and a scanner failure flags ``scan_error``); the
user's volume and direction against their own baseline (:mod:`.anomaly`). Flagged
feedback is stored ``quarantined`` with its reason codes; clean feedback
``accepted``. Only accepted feedback is ever used: listed for analysts with its
correction, and nothing else reads it. Nothing is trained: there are no shared
weights, and each tenant's feedback lives in its own rows.

At rest the correction is sealed under the tenant's ``app`` key bound to the row id
(table ``feedback``); the row keeps its length and SHA-256. Per-user request rates
(429) are the gateway route's, counted by the shared rate limiter. Errors:
:mod:`.errors`. ``submit`` is async; everything else is sync (worker threads).
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, cast

import anyio.to_thread
from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from bastion.crypto import DecryptionError, Keyring
from bastion.datasources.sources import DOCUMENTS, visible_to
from bastion.documents.ingest import QUARANTINED as SCAN_QUARANTINED
from bastion.documents.ingest import scan_chunks
from bastion.feedback.anomaly import Activity
from bastion.feedback.anomaly import reasons as anomaly_reasons
from bastion.feedback.errors import (
    KnowledgeConflict,
    KnowledgeError,
    KnowledgeForbidden,
    KnowledgeNotFound,
)
from bastion.feedback.limits import KnowledgeLimits
from bastion.feedback.versions import record_version
from bastion.scanners import Pipeline
from bastion.store.schema import AuditRecord, DataSourceRow
from bastion.store.schema_feedback import FeedbackRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = [
    "FeedbackInfo",
    "FeedbackStatus",
    "FeedbackStore",
    "Rating",
    "Submission",
    "TurnReader",
]

Rating = Literal["up", "down"]
FeedbackStatus = Literal["accepted", "quarantined", "rejected", "rolled_back"]
_TABLE = "feedback"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UUID = re.compile(r"^[0-9a-fA-F-]{36}$")
_DEFAULTS = KnowledgeLimits()


class TurnReader(Protocol):
    """What feedback needs of the assistant's memory
    (:class:`bastion.assistant.memory.Conversations`): one user's turns, or
    ``ConversationNotFound`` for anyone else's id."""

    def load(self, tenant_id: str, user_id: str, conversation_id: str) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Submission:
    """What a caller sends: the answer rated (a conversation turn or a request id),
    the rating, optionally a correction and the collection it is about."""

    rating: Rating
    conversation_id: str | None = None
    turn: int | None = None
    request_id: str | None = None
    source_id: str | None = None
    correction: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FeedbackInfo:
    """A stored feedback; ``correction`` is only filled where it may be shown."""

    id: str
    user_id: str
    target_kind: str
    target_ref: str
    turn: int | None
    source_id: str | None
    rating: str
    status: FeedbackStatus
    reasons: tuple[str, ...]
    correction_chars: int
    created_at: datetime
    version: int | None = None
    reviewed_by: str | None = None
    correction: str | None = field(default=None, repr=False)


class FeedbackStore:
    """Every tenant's feedback. ``pipeline_for`` maps a policy name to its scanners and
    ``limits_for`` to its limits (the policy's ``[knowledge]`` table; default: the code
    defaults for every policy); ``turns`` reads a caller's conversation (None: only
    request ids can be rated)."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Callable[[], datetime],
        pipeline_for: Callable[[str], Pipeline],
        turns: TurnReader | None,
        limits_for: Callable[[str], KnowledgeLimits] | None = None,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._pipeline_for = pipeline_for
        self._turns = turns
        self.limits_for = limits_for or _default_limits

    def __repr__(self) -> str:
        return "FeedbackStore()"

    async def submit(
        self, tenant_id: str, user_id: str, role: str, body: Submission, *, policy: str
    ) -> FeedbackInfo:
        """Check, judge and store one feedback (see the module doc), held to the
        limits of ``policy``."""
        limits = self.limits_for(policy)
        target_kind, target_ref = self._validate(body, limits)
        await anyio.to_thread.run_sync(
            self._check_target, tenant_id, user_id, role, body, target_kind, target_ref
        )
        flagged: tuple[str, ...] = ()
        if body.correction is not None:
            scanned = await scan_chunks(
                self._pipeline_for(policy), [body.correction], tenant_id=tenant_id
            )
            flagged = scanned.reasons
            if scanned.status == SCAN_QUARANTINED and not flagged:
                flagged = ("scan_error",)
        return await anyio.to_thread.run_sync(
            self._store, tenant_id, user_id, body, target_kind, target_ref, flagged, limits
        )

    def list(
        self, tenant_id: str, status: FeedbackStatus = "accepted", limit: int = 200
    ) -> builtins.list[FeedbackInfo]:
        """Feedback in ``status``, newest first; corrections opened for accepted only
        (a flagged correction is never shown or used)."""
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(
                select(FeedbackRow)
                .where(FeedbackRow.tenant_id == tenant_id, FeedbackRow.status == status)
                .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id)
                .limit(limit)
            ).all()
        return [self._info(row, opened=status == "accepted") for row in rows]

    def decide(
        self,
        tenant_id: str,
        feedback_id: str,
        decision: Literal["release", "reject"],
        reviewer: str,
    ) -> FeedbackInfo:
        """Release (then ``accepted``, a version of its collection if it names one) or
        reject a quarantined feedback; nobody decides on their own."""
        new: FeedbackStatus = "accepted" if decision == "release" else "rejected"
        now = self._clock()
        with tenant_begin(self._engine, tenant_id) as conn:
            where = (FeedbackRow.tenant_id == tenant_id, FeedbackRow.id == feedback_id)
            row = conn.execute(select(FeedbackRow).where(*where)).first()
            if row is None:
                raise KnowledgeNotFound("no such feedback")
            if row.user_id == reviewer:
                raise KnowledgeForbidden("nobody releases or rejects their own feedback")
            changed = conn.execute(
                update(FeedbackRow)
                .where(*where, FeedbackRow.status == "quarantined")
                .values(status=new, reviewed_by=reviewer, reviewed_at=now)
            ).rowcount
            if changed != 1:
                raise KnowledgeConflict("the feedback is not quarantined")
            version = None
            if new == "accepted" and row.source_id is not None:
                version = record_version(
                    conn,
                    tenant_id,
                    row.source_id,
                    change="feedback_released",
                    ref_kind="feedback",
                    ref_id=feedback_id,
                    actor=reviewer,
                    now=now,
                )
        info = self._info(row, opened=False)
        return dataclasses.replace(info, status=new, version=version, reviewed_by=reviewer)

    # Steps -------------------------------------------------------------------------

    def _validate(self, body: Submission, limits: KnowledgeLimits) -> tuple[str, str]:
        if body.rating not in ("up", "down"):
            raise KnowledgeError("rating is 'up' or 'down'")
        if body.correction is not None:
            if not body.correction.strip():
                raise KnowledgeError("correction is empty; leave it out instead")
            if len(body.correction) > limits.max_correction_chars:
                raise KnowledgeError(
                    f"a correction is at most {limits.max_correction_chars} characters"
                )
        if body.source_id is not None and not _UUID.match(body.source_id):
            raise KnowledgeNotFound("no such source")
        by_turn = body.conversation_id is not None or body.turn is not None
        if by_turn == (body.request_id is not None):
            raise KnowledgeError("name the answer by conversation_id and turn, or by request_id")
        if by_turn:
            if body.conversation_id is None or body.turn is None:
                raise KnowledgeError("conversation_id and turn go together")
            if not _UUID.match(body.conversation_id):
                raise KnowledgeNotFound("no such conversation")
            return "conversation", body.conversation_id
        request_id = cast(str, body.request_id).removeprefix("asst-")
        if not _REQUEST_ID.match(request_id):
            raise KnowledgeError("request_id is the id of one of your answers")
        return "request", request_id

    def _check_target(
        self,
        tenant_id: str,
        user_id: str,
        role: str,
        body: Submission,
        kind: str,
        ref: str,
    ) -> None:
        """Pass if the answer is the caller's own (and the collection visible to them)."""
        if kind == "conversation":
            if self._turns is None:
                raise KnowledgeNotFound("no such conversation")
            turns = self._turns.load(tenant_id, user_id, ref)  # ConversationNotFound
            turn = cast(int, body.turn)
            if not 0 <= turn < len(turns) or turns[turn].role != "assistant":
                raise KnowledgeError("turn must be the index of an answer in the conversation")
        with tenant_connect(self._engine, tenant_id) as conn:
            if kind == "request" and not _own_request(conn, tenant_id, user_id, ref):
                raise KnowledgeNotFound("no such answer")
            if body.source_id is not None:
                visible = conn.execute(
                    select(DataSourceRow.id).where(
                        DataSourceRow.tenant_id == tenant_id,
                        DataSourceRow.id == body.source_id,
                        DataSourceRow.kind == DOCUMENTS,
                        DataSourceRow.disabled.is_(False),
                        visible_to(tenant_id, user_id, role),
                    )
                ).first()
                if visible is None:
                    raise KnowledgeNotFound("no such source")

    def _store(
        self,
        tenant_id: str,
        user_id: str,
        body: Submission,
        kind: str,
        ref: str,
        flagged: tuple[str, ...],
        limits: KnowledgeLimits,
    ) -> FeedbackInfo:
        now = self._clock()
        feedback_id = str(uuid.uuid4())
        correction = body.correction
        sealed = digest = None
        if correction is not None:
            encoded = correction.encode("utf-8")
            sealed = self._keyring.encrypt(tenant_id, "app", _TABLE, feedback_id, encoded)
            digest = hashlib.sha256(encoded).hexdigest()
        with tenant_begin(self._engine, tenant_id) as conn:
            activity = _activity(conn, tenant_id, user_id, body.rating, now, limits)
            reasons = (*flagged, *anomaly_reasons(activity, limits, rated=True))
            status: FeedbackStatus = "quarantined" if reasons else "accepted"
            conn.execute(
                insert(FeedbackRow).values(
                    id=feedback_id,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    target_kind=kind,
                    target_ref=ref,
                    turn=body.turn,
                    source_id=body.source_id,
                    rating=body.rating,
                    sealed=sealed,
                    correction_sha256=digest,
                    correction_chars=len(correction) if correction is not None else 0,
                    status=status,
                    reasons=json.dumps(list(reasons)),
                    created_at=now,
                )
            )
            version = None
            if status == "accepted" and body.source_id is not None:
                version = record_version(
                    conn,
                    tenant_id,
                    body.source_id,
                    change="feedback_accepted",
                    ref_kind="feedback",
                    ref_id=feedback_id,
                    actor=user_id,
                    now=now,
                )
        return FeedbackInfo(
            id=feedback_id,
            user_id=user_id,
            target_kind=kind,
            target_ref=ref,
            turn=body.turn,
            source_id=body.source_id,
            rating=body.rating,
            status=status,
            reasons=reasons,
            correction_chars=len(correction) if correction is not None else 0,
            created_at=now,
            version=version,
        )

    def _info(self, row: Row[Any], *, opened: bool) -> FeedbackInfo:
        correction = None
        if opened and row.sealed is not None:
            try:
                plain = self._keyring.decrypt(row.tenant_id, "app", _TABLE, row.id, row.sealed)
                correction = plain.decode("utf-8")
            except (DecryptionError, UnicodeDecodeError):
                correction = None  # shown as absent; the row's reasons stay visible
        return FeedbackInfo(
            id=row.id,
            user_id=row.user_id,
            target_kind=row.target_kind,
            target_ref=row.target_ref,
            turn=row.turn,
            source_id=row.source_id,
            rating=row.rating,
            status=cast(FeedbackStatus, row.status),
            reasons=tuple(json.loads(row.reasons)),
            correction_chars=row.correction_chars,
            created_at=row.created_at,
            reviewed_by=row.reviewed_by,
            correction=correction,
        )


def _activity(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    rating: str,
    now: datetime,
    limits: KnowledgeLimits,
) -> Activity:
    """The user's feedback in the window (this one included) and in the baseline."""
    start = now - limits.window
    since = start - limits.baseline
    mine = (FeedbackRow.tenant_id == tenant_id, FeedbackRow.user_id == user_id)
    same = FeedbackRow.rating == rating

    def count(*where: Any) -> int:
        query = select(func.count()).select_from(FeedbackRow).where(*mine, *where)
        return int(conn.execute(query).scalar_one())

    recent = (FeedbackRow.created_at > start,)
    baseline = (FeedbackRow.created_at > since, FeedbackRow.created_at <= start)
    return Activity(
        recent=count(*recent) + 1,
        recent_same=count(*recent, same) + 1,
        baseline=count(*baseline),
        baseline_same=count(*baseline, same),
    )


def _default_limits(policy: str) -> KnowledgeLimits:
    del policy
    return _DEFAULTS


def _own_request(conn: Connection, tenant_id: str, user_id: str, request_id: str) -> bool:
    """Whether the tenant's audit log holds a request of this user with that id."""
    bodies = conn.execute(
        select(AuditRecord.body)
        .where(AuditRecord.tenant_id == tenant_id, AuditRecord.request_id == request_id)
        .limit(5)
    ).scalars()
    for body in bodies:
        try:
            if json.loads(body).get("user_id") == user_id:
                return True
        except (ValueError, AttributeError):
            continue
    return False
