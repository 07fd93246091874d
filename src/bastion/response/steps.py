"""The playbook steps: each a plain function of a :class:`StepContext`.

A step does one thing through Bastion's own services and returns a
:class:`StepOutcome`: ``done``, ``skipped`` (it does not apply: there is nothing to
snapshot, nothing to roll back) or ``failed`` (it should have acted and could not), a
``reason`` code, and a detail of identifiers and counts. A step never puts content
in its detail; content evidence (a conversation snapshot) goes in ``evidence``, which
the store seals. Secrets a step handles (the operator's new upstream keys, the
replacement API keys) appear in no detail, repr or error.

Exceptions a step raises are the runner's to record (as ``failed`` with the
exception's type name only): a step need not catch what it cannot handle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from bastion.assistant.memory import ConversationError, ConversationNotFound
from bastion.audit import SealedContentError, verify_chain
from bastion.governance.registry import RegistryError
from bastion.identity.service import IdentityError, IssuedKey, KeyInfo
from bastion.response import evidence as audit_evidence
from bastion.response.isolation import IsolationKind, Isolations
from bastion.response.rules import injection_proposal, output_rule, patched
from bastion.response.services import ResponseServices
from bastion.response.store import StepStatus
from bastion.response.subject import Subject
from bastion.secrets.store import SecretError
from bastion.store.schema import AuditRecord, SessionRow
from bastion.store.tenancy import tenant_connect

__all__ = [
    "Phase",
    "StepContext",
    "StepFunction",
    "StepOutcome",
    "resolve_subject",
]

Phase = Literal["contain", "collect", "remediate"]
_UNREAD = object()


@dataclass(frozen=True, slots=True)
class StepOutcome:
    status: StepStatus
    detail: dict[str, Any]
    evidence: dict[str, Any] | None = field(default=None, repr=False)
    forget_keys: bool = False


def _done(**detail: Any) -> StepOutcome:
    return StepOutcome("done", detail)


def _skipped(reason: str, **detail: Any) -> StepOutcome:
    return StepOutcome("skipped", {"reason": reason, **detail})


def _failed(reason: str, **detail: Any) -> StepOutcome:
    return StepOutcome("failed", {"reason": reason, **detail})


@dataclass(slots=True, repr=False)
class StepContext:
    """What one run's steps share. ``issued_keys`` collects replacement keys for the
    caller of the run (shown once, never stored); ``upstream_values`` are the
    operator's new provider keys."""

    services: ResponseServices
    isolations: Isolations
    subject: Subject
    incident_id: str
    playbook: str
    actor: str
    upstream_values: Mapping[str, str] = field(default_factory=dict)
    issued_keys: list[IssuedKey] = field(default_factory=list)
    _record: object = _UNREAD

    def __repr__(self) -> str:
        return f"StepContext(incident_id={self.incident_id!r}, playbook={self.playbook!r})"

    @property
    def tenant_id(self) -> str:
        return self.subject.tenant_id

    def now(self) -> datetime:
        return self.services.clock()

    def record(self) -> audit_evidence.RecordRef | None:
        """The audit record of the subject's request (read once per run)."""
        if self._record is _UNREAD:
            rid = self.subject.request_id
            found = None
            if rid is not None:
                found = audit_evidence.find_record(self.services.engine, self.tenant_id, rid)
            self._record = found
        return self._record if isinstance(self._record, audit_evidence.RecordRef) else None

    def finding_types(self, stage: str | None = None) -> list[str]:
        """The subject's finding types and those of its request's record."""
        found = list(self.subject.finding_types)
        record = self.record()
        for record_stage, _, kind in record.findings if record else ():
            if (stage is None or record_stage == stage) and kind not in found:
                found.append(kind)
        return found


StepFunction = Callable[[StepContext], StepOutcome]


def resolve_subject(services: ResponseServices, subject: Subject) -> Subject:
    """``subject`` with its user filled in from its key or session when missing."""
    if subject.user_id is not None:
        return subject
    if subject.key_id is not None:
        try:
            return subject.with_user(
                services.directory.key_owner(subject.tenant_id, subject.key_id)
            )
        except IdentityError:
            pass
    if subject.session_id is not None:
        query = select(SessionRow.user_id).where(
            SessionRow.tenant_id == subject.tenant_id, SessionRow.id == subject.session_id
        )
        with tenant_connect(services.engine, subject.tenant_id) as conn:
            owner = conn.execute(query).scalar()
        if owner is not None:
            return subject.with_user(str(owner))
    return subject


# -- containment ------------------------------------------------------------------
def isolate_session(ctx: StepContext) -> StepOutcome:
    """Isolate the session; without one the conversation; without one the key."""
    s = ctx.subject
    target: tuple[IsolationKind, str | None] = next(
        (t for t in (("session", s.session_id), ("conversation", s.conversation_id),
                     ("key", s.key_id)) if t[1]),
        ("session", None),
    )  # fmt: skip
    kind, ref = target
    if ref is None:
        return _failed("no_isolation_target")
    isolation, new = ctx.isolations.isolate(ctx.tenant_id, kind, ref, ctx.incident_id)
    return _done(
        kind=kind,
        ref=ref,
        isolation_id=isolation.id,
        already_isolated=not new,
        isolated_by=isolation.incident_id,
    )


def revoke_sessions(ctx: StepContext) -> StepOutcome:
    """End every open session of the user (or the one session, if no user is known)."""
    sessions, s = ctx.services.sessions, ctx.subject
    if s.user_id is not None:
        return _done(scope="user", revoked=sessions.revoke_user(ctx.tenant_id, s.user_id))
    if s.session_id is not None:
        return _done(scope="session", revoked=int(sessions.revoke(ctx.tenant_id, s.session_id)))
    return _failed("no_user")


def _active_keys(ctx: StepContext) -> list[KeyInfo] | None:
    s, directory, now = ctx.subject, ctx.services.directory, ctx.now()
    if s.user_id is not None:
        keys = directory.keys(ctx.tenant_id, s.user_id)
    elif s.key_id is not None:
        keys = [k for k in directory.keys(ctx.tenant_id) if k.id == s.key_id]
    else:
        return None
    return [k for k in keys if k.status(now) == "active"]


def revoke_api_keys(ctx: StepContext) -> StepOutcome:
    """Revoke every active API key of the user; this process forgets them at once."""
    keys = _active_keys(ctx)
    if keys is None:
        return _failed("no_user")
    for key in keys:
        ctx.services.directory.revoke_key(ctx.tenant_id, key.id, ctx.now())
    detail = {"revoked": len(keys), "key_ids": [k.id for k in keys]}
    return StepOutcome("done", detail, forget_keys=bool(keys))


def rotate_api_keys(ctx: StepContext) -> StepOutcome:
    """Revoke every active key of the user and issue one replacement for each (same
    name and expiry); the new secrets go to the run's caller only. No replacement is
    issued to a disabled user: the revocation alone stands."""
    keys = _active_keys(ctx)
    if keys is None or ctx.subject.user_id is None:
        return _failed("no_user")
    directory, user_id, now = ctx.services.directory, ctx.subject.user_id, ctx.now()
    for key in keys:
        directory.revoke_key(ctx.tenant_id, key.id, now)
    issued: list[dict[str, str]] = []
    refused = 0
    for key in keys:
        try:
            new = directory.create_key(
                ctx.tenant_id, user_id, now, name=key.name, expires_at=key.expires_at
            )
        except IdentityError:
            refused += 1
            continue
        ctx.issued_keys.append(new)
        issued.append({"replaces": key.id, "key_id": new.id, "prefix": new.prefix})
    detail = {
        "revoked": len(keys),
        "key_ids": [k.id for k in keys],
        "issued": issued,
        "replacements_refused": refused,
    }
    return StepOutcome("done", detail, forget_keys=bool(keys))


def add_output_rule(ctx: StepContext) -> StepOutcome:
    """Apply the output-filter rule built from the output findings, as the tenant's
    next policy version (see ``rules.output_rule``)."""
    record = ctx.record()
    pairs: list[tuple[str | None, str]] = [
        (scanner, kind) for stage, scanner, kind in (record.findings if record else ())
        if stage == "output"
    ]  # fmt: skip
    pairs += [(None, kind) for kind in ctx.subject.finding_types]
    types = sorted({kind for _, kind in pairs})
    patch = output_rule(pairs)
    if not patch:
        return _skipped("no_applicable_rule", finding_types=types, applied=False)
    editor = ctx.services.policies
    if editor is None:
        return _failed("no_policy_editor", rule=patch, finding_types=types, applied=False)
    current = editor.current(ctx.tenant_id)
    updated = patched(current, patch)
    if updated == current:
        return _done(rule=patch, finding_types=types, applied=False, already_in_force=True)
    name = editor.write(ctx.tenant_id, updated, ctx.actor, ctx.now())
    detail = {"rule": patch, "finding_types": types, "applied": True, "policy": name}
    # Cached principals still name the previous policy: forget them, as the admin API does.
    return StepOutcome("done", detail, forget_keys=True)


# -- evidence -----------------------------------------------------------------------
def snapshot_conversation(ctx: StepContext) -> StepOutcome:
    """A sealed copy of the subject's assistant conversation, kept with the step."""
    s, services = ctx.subject, ctx.services
    if s.conversation_id is None:
        return _skipped("no_conversation")
    if services.conversations is None:
        return _failed("no_conversation_store", conversation_id=s.conversation_id)
    if services.keyring is None:
        return _failed("no_keyring", conversation_id=s.conversation_id)
    if s.user_id is None:
        return _failed("no_user", conversation_id=s.conversation_id)
    try:
        turns = services.conversations.load(ctx.tenant_id, s.user_id, s.conversation_id)
    except ConversationNotFound:
        return _skipped("conversation_not_found", conversation_id=s.conversation_id)
    except ConversationError:
        return _failed("conversation_unreadable", conversation_id=s.conversation_id)
    sealed = {
        "kind": "conversation_snapshot",
        "conversation_id": s.conversation_id,
        "turns": [[t.role, t.content] for t in turns],
    }
    detail = {"conversation_id": s.conversation_id, "turns": len(turns), "sealed": True}
    return StepOutcome("done", detail, evidence=sealed)


def flag_interaction(ctx: StepContext) -> StepOutcome:
    """Pin the interaction's audit record (seq and hash) and its findings."""
    if ctx.subject.request_id is None:
        return _skipped("no_request")
    record = ctx.record()
    if record is None:
        return _skipped("request_not_found", request_id=ctx.subject.request_id)
    return _done(flagged=True, **record.detail())


def _activity(ctx: StepContext, order: tuple[audit_evidence.Scope, ...]) -> StepOutcome:
    s = ctx.subject
    refs: dict[audit_evidence.Scope, str | None] = {
        "session_id": s.session_id,
        "key_id": s.key_id,
        "user_id": s.user_id,
    }
    scope = next((name for name in order if refs[name]), None)
    if scope is None:
        return _failed("no_subject")
    now = ctx.now()
    since = s.since or now - ctx.services.lookback
    found = audit_evidence.activity(
        ctx.services.engine,
        ctx.tenant_id,
        scope,
        str(refs[scope]),
        since=since,
        until=now,
        limit=ctx.services.scan_limit,
    )
    return _done(**found)


def list_queries(ctx: StepContext) -> StepOutcome:
    """Every query of the session (else of the key, else of the user) and the data it
    reached, from the audit chain."""
    return _activity(ctx, ("session_id", "key_id", "user_id"))


def list_activity(ctx: StepContext) -> StepOutcome:
    """The user's recent activity (else the key's, else the session's)."""
    return _activity(ctx, ("user_id", "key_id", "session_id"))


def verify_audit_chain(ctx: StepContext) -> StepOutcome:
    """Verify the tenant's audit chain; a broken chain is a failed step."""
    sealer, engine = ctx.services.audit_sealer, ctx.services.engine
    if sealer is None and _has_sealed_records(ctx):
        # Asked first: verify_chain raising mid-stream would leave its cursor open.
        return _failed("sealer_required")
    try:
        report = verify_chain(engine, ctx.tenant_id, sealer=sealer)[ctx.tenant_id]
    except SealedContentError:
        return _failed("sealer_required")
    if report.ok:
        return _done(ok=True, records=report.count)
    return _failed(
        "chain_broken",
        ok=False,
        records=report.count,
        problem=report.problem,
        seq=report.seq,
        request_id=report.request_id,
    )


def _has_sealed_records(ctx: StepContext) -> bool:
    query = (
        select(AuditRecord.id)
        .where(AuditRecord.tenant_id == ctx.tenant_id, AuditRecord.sealed.is_not(None))
        .limit(1)
    )
    with tenant_connect(ctx.services.engine, ctx.tenant_id) as conn:
        return conn.execute(query).first() is not None


# -- remediation ----------------------------------------------------------------------
def propose_filter_update(ctx: StepContext) -> StepOutcome:
    """Propose (never apply) an input-filter update from the injection findings."""
    types = ctx.finding_types()
    editor, current, note = ctx.services.policies, None, None
    if editor is not None:
        try:
            current = editor.current(ctx.tenant_id)
        except Exception as exc:  # the proposal stands without it, and says so
            note = f"policy_unread:{type(exc).__name__}"
    detail: dict[str, Any] = {
        "proposal": injection_proposal(types, current),
        "applied": False,
        "finding_types": types,
    }
    if note is not None:
        detail["note"] = note
    return StepOutcome("done", detail)


def rotate_upstream_keys(ctx: StepContext) -> StepOutcome:
    """Store the operator's new upstream provider keys (names the deployment's models
    use, and only those) and tell the gateway to reopen them. Bastion cannot mint a
    provider key: without new values the step lists the names that need one."""
    names, values, services = ctx.services.upstream_secrets, ctx.upstream_values, ctx.services
    if not values:
        if not names:
            return _skipped("no_upstream_secrets")
        return _skipped("new_values_required", secrets=sorted(names))
    unknown = [name for name in values if name not in names]
    if unknown:
        # Counted, not named: an operator's typo could be a key pasted in the wrong place.
        return _failed("unknown_secret", unknown=len(unknown), stored=[])
    if services.secrets is None:
        return _failed("no_secret_store", secrets=sorted(values), stored=[])
    stored: list[str] = []
    for name in sorted(values):
        try:
            services.secrets.put(name, values[name], kind="upstream_api_key")
        except SecretError:
            return _failed("secret_rejected", secret=name, stored=stored)
        stored.append(name)
    missing = sorted(set(names) - set(stored))
    if services.rotate_upstream is not None:
        try:
            services.rotate_upstream(tuple(stored))
        except Exception as exc:  # stored but not in use here: say so
            return _failed(f"reload_failed:{type(exc).__name__}", stored=stored)
    return _done(stored=stored, not_rotated=missing, reloaded=services.rotate_upstream is not None)


def rollback_model(ctx: StepContext) -> StepOutcome:
    """Roll the interaction's model back one version in the registry, where the
    deployment allows playbooks to (``BASTION_INCIDENT_MODEL_ROLLBACK``: a rollback
    changes the model for every tenant) and an earlier version exists."""
    registry = ctx.services.models
    if registry is None:
        return _skipped("rollback_not_allowed", setting="BASTION_INCIDENT_MODEL_ROLLBACK")
    record = ctx.record()
    if record is None or not record.model:
        return _skipped("no_model", request_id=ctx.subject.request_id)
    try:
        old, new = registry.rollback(record.model, actor=f"incident:{ctx.incident_id}")
    except RegistryError as exc:
        reason = "no_earlier_version" if "first" in str(exc) else "not_in_registry"
        if "someone else" in str(exc):
            return _failed("concurrent_change", model=record.model)
        return _skipped(reason, model=record.model)
    return _done(model=record.model, from_version=old, to_version=new)
