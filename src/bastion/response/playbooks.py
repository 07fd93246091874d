"""The four response playbooks, as data, and the runner that carries them out.

A playbook is an ordered tuple of steps, each with a phase: ``contain`` (isolate,
revoke, apply a rule: what stops the harm), ``collect`` (snapshot, list, verify: what
preserves the evidence) and ``remediate`` (propose, rotate elsewhere, roll back).
Containment steps come first in every playbook (a test holds them to it).

:func:`run_playbook` opens an incident (or, for an alert already handled, returns
the incident it opened), then runs every step in order. Each outcome is appended to
the incident's timeline *and* appended to the tenant's audit chain (route
``incident``, outcome ``incident_step``, ``extra`` with the incident, playbook, step,
status, reason, the detail's counts and the SHA-256 of the stored detail, which ties
the timeline row to the tamper-evident chain). A step that raises is recorded
``failed`` with the exception's type name only, and the next step runs. The incident
becomes ``contained`` when every containment step is ``done`` and every audit record
of the run was written; otherwise it stays ``open`` for a person.

Names (``injection``, ``data_leakage``, ``harmful_output``,
``compromised_credentials``) and step names are stable identifiers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.audit import AuditEvent
from bastion.identity.service import IssuedKey
from bastion.response import steps
from bastion.response.isolation import IsolationKind, Isolations
from bastion.response.services import ResponseServices
from bastion.response.store import (
    Incident,
    IncidentStep,
    IncidentStore,
    Trigger,
    detail_sha256,
)
from bastion.response.subject import Subject

__all__ = [
    "PLAYBOOKS",
    "IncidentReport",
    "Playbook",
    "Step",
    "close_incident",
    "release_isolation",
    "run_playbook",
]

log = logging.getLogger("bastion.response")
ROUTE = "incident"


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    phase: steps.Phase
    run: steps.StepFunction


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    summary: str
    steps: tuple[Step, ...]

    @property
    def containment(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps if step.phase == "contain")


PLAYBOOKS: Mapping[str, Playbook] = {
    p.name: p
    for p in (
        Playbook(
            "injection",
            "Isolate the session, snapshot the conversation, propose a filter update.",
            (
                Step("isolate_session", "contain", steps.isolate_session),
                Step("snapshot_conversation", "collect", steps.snapshot_conversation),
                Step("propose_filter_update", "remediate", steps.propose_filter_update),
            ),
        ),
        Playbook(
            "data_leakage",
            "Revoke the user's sessions and keys, list the session's queries and data.",
            (
                Step("revoke_sessions", "contain", steps.revoke_sessions),
                Step("revoke_api_keys", "contain", steps.revoke_api_keys),
                Step("list_queries", "collect", steps.list_queries),
            ),
        ),
        Playbook(
            "harmful_output",
            "Add an output filter rule, flag the interaction, roll back the model.",
            (
                Step("add_output_rule", "contain", steps.add_output_rule),
                Step("flag_interaction", "collect", steps.flag_interaction),
                Step("rollback_model", "remediate", steps.rollback_model),
            ),
        ),
        Playbook(
            "compromised_credentials",
            "Rotate keys, revoke sessions, rotate upstream keys, list activity, verify.",
            (
                Step("rotate_api_keys", "contain", steps.rotate_api_keys),
                Step("revoke_sessions", "contain", steps.revoke_sessions),
                Step("rotate_upstream_keys", "remediate", steps.rotate_upstream_keys),
                Step("list_activity", "collect", steps.list_activity),
                Step("verify_audit_chain", "collect", steps.verify_audit_chain),
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """What a run did. ``issued_keys``: replacement API keys, their secrets shown to
    this caller once and stored nowhere. ``created``: False when the alert had
    already opened this incident (nothing ran again). ``audit_failures``: records
    of this run the audit log did not take (the incident then stays open)."""

    incident: Incident
    created: bool
    issued_keys: tuple[IssuedKey, ...] = ()
    audit_failures: int = 0

    @property
    def contained(self) -> bool:
        return self.incident.status == "contained"

    def __repr__(self) -> str:
        return (
            f"IncidentReport(incident_id={self.incident.id!r}, status={self.incident.status!r}, "
            f"issued_keys={len(self.issued_keys)})"
        )


async def run_playbook(
    name: str,
    subject: Subject,
    services: ResponseServices,
    *,
    trigger: Trigger,
    opened_by: str,
    alert_key: str | None = None,
    upstream_values: Mapping[str, str] | None = None,
) -> IncidentReport:
    """Open an incident on ``subject`` and run playbook ``name`` (see module doc).

    ``opened_by``: the person (user id) or component (``detector:<name>``) acting.
    ``upstream_values``: new upstream provider keys by secret name, for
    ``compromised_credentials`` (stored sealed, never recorded). ``KeyError`` for an
    unknown playbook; ``ValueError`` for a bad trigger or actor.
    """
    playbook = PLAYBOOKS.get(name)
    if playbook is None:
        raise KeyError(f"unknown playbook {name!r:.40}; known: {', '.join(PLAYBOOKS)}")
    store = IncidentStore(services.engine, services.clock, services.keyring)
    subject = await asyncio.to_thread(steps.resolve_subject, services, subject)
    incident, created = await asyncio.to_thread(
        store.open, subject, name, trigger=trigger, opened_by=opened_by, alert_key=alert_key
    )
    if not created:
        return IncidentReport(incident, created=False)
    run = _Run(services, store, incident, subject, opened_by)
    await run.audit(
        "incident_opened", {"trigger": trigger, "alert_key": alert_key, "opened_by": opened_by}
    )
    ctx = steps.StepContext(
        services=services,
        isolations=Isolations(services.engine, services.clock),
        subject=subject,
        incident_id=incident.id,
        playbook=name,
        actor=opened_by,
        upstream_values=dict(upstream_values or {}),
    )
    done: set[str] = set()
    for step in playbook.steps:
        recorded = await run.step(step, ctx)
        if recorded is not None and recorded.status == "done":
            done.add(step.name)
    contained = set(playbook.containment) <= done and run.audit_failures == 0
    if contained and await asyncio.to_thread(store.mark_contained, subject.tenant_id, incident.id):
        await run.audit("incident_contained", {})
    final = await asyncio.to_thread(store.get, subject.tenant_id, incident.id)
    return IncidentReport(final, True, tuple(ctx.issued_keys), run.audit_failures)


async def close_incident(
    services: ResponseServices, tenant_id: str, incident_id: str, closed_by: str
) -> bool:
    """Close an incident (recorded in the audit chain); False if already closed."""
    store = IncidentStore(services.engine, services.clock, services.keyring)
    incident = await asyncio.to_thread(store.get, tenant_id, incident_id)
    if not await asyncio.to_thread(store.close, tenant_id, incident_id, closed_by):
        return False
    subject = Subject(tenant_id, incident.user_id, incident.session_id, incident.key_id)
    await _Run(services, store, incident, subject, closed_by).audit(
        "incident_closed", {"closed_by": closed_by}, strict=True
    )
    return True


async def release_isolation(
    services: ResponseServices,
    tenant_id: str,
    kind: IsolationKind,
    ref: str,
    released_by: str,
) -> bool:
    """Lift an isolation (recorded in the audit chain); False if none was active."""
    isolations = Isolations(services.engine, services.clock)
    active = await asyncio.to_thread(isolations.active, tenant_id, kind, ref)
    if active is None:
        return False
    if not await asyncio.to_thread(isolations.release, tenant_id, kind, ref, released_by):
        return False
    store = IncidentStore(services.engine, services.clock, services.keyring)
    incident = await asyncio.to_thread(store.get, tenant_id, active.incident_id)
    subject = Subject(tenant_id, incident.user_id, incident.session_id, incident.key_id)
    await _Run(services, store, incident, subject, released_by).audit(
        "isolation_released",
        {"kind": kind, "ref": ref, "isolation_id": active.id, "released_by": released_by},
        strict=True,
    )
    return True


class _Run:
    """Records one run's steps in the timeline and the audit chain."""

    def __init__(
        self,
        services: ResponseServices,
        store: IncidentStore,
        incident: Incident,
        subject: Subject,
        actor: str,
    ) -> None:
        self.services = services
        self.store = store
        self.incident = incident
        self.subject = subject
        self.actor = actor
        self.audit_failures = 0

    async def step(self, step: Step, ctx: steps.StepContext) -> IncidentStep | None:
        try:
            outcome = await asyncio.to_thread(step.run, ctx)
        except Exception as exc:  # recorded as failed; the playbook goes on
            outcome = steps.StepOutcome("failed", {"reason": f"error:{type(exc).__name__}"})
        if outcome.forget_keys:
            self.services.forget_keys()
        detail = {"phase": step.phase, **outcome.detail}
        try:
            recorded = await asyncio.to_thread(
                self.store.add_step,
                self.subject.tenant_id,
                self.incident.id,
                step.name,
                outcome.status,
                detail,
                evidence=outcome.evidence,
            )
        except Exception as exc:
            # The step happened but its row did not: the audit record still says so.
            log.error("incident step not stored step=%s error=%s", step.name, type(exc).__name__)
            self.audit_failures += 1
            recorded = None
        extra = {
            "step": step.name,
            "seq": recorded.seq if recorded else None,
            "status": outcome.status,
            "reason": outcome.detail.get("reason"),
            "counts": _counts(outcome.detail),
            "detail_sha256": detail_sha256(recorded.detail if recorded else detail),
        }
        await self.audit("incident_step", extra)
        return recorded

    async def audit(self, outcome: str, extra: dict[str, Any], *, strict: bool = False) -> None:
        """Append one record; a failure is counted (or raised when ``strict``)."""
        event = AuditEvent(
            ts=self.services.clock(),
            request_id=secrets.token_hex(16),
            tenant_id=self.subject.tenant_id,
            user_id=self.subject.user_id or "",
            key_id=self.subject.key_id or "",
            session_id=self.subject.session_id,
            model="",
            route=ROUTE,
            outcome=outcome,
            extra={
                "incident_id": self.incident.id,
                "playbook": self.incident.playbook,
                "actor": self.actor,
                **extra,
            },
        )
        try:
            await self.services.audit(event)
        except Exception as exc:
            log.error("incident audit failed outcome=%s error=%s", outcome, type(exc).__name__)
            if strict:
                raise
            self.audit_failures += 1


def _counts(detail: Mapping[str, Any]) -> dict[str, int]:
    return {
        key: int(value)
        for key, value in detail.items()
        if isinstance(value, int | bool) and not isinstance(value, str)
    }
