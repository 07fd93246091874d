"""Incidents and their timelines, one row of ``incidents`` and of ``incident_steps`` each.

An incident is opened by a playbook run (or by hand) and moves ``open`` →
``contained`` → ``closed``, or straight from ``open`` to ``closed``; each change is one
conditional ``UPDATE`` on the status it leaves, so of two people closing at once
exactly one wins, and nothing reopens a closed incident. Steps are only appended:
``seq`` runs 1, 2, ... per incident: appends lock the incident's row (SQLite: the
database write lock), read the last ``seq`` and insert the next, under a unique
constraint as a second line of defence; a closed incident takes no more steps.

A step's ``detail`` is JSON of identifiers and counts; evidence that is content (a
conversation snapshot) goes in ``sealed``, under the tenant's ``app`` data key bound
to the step's id, and opens only through :meth:`IncidentStore.open_evidence`. Nothing
here logs; no repr or error holds a value of the sealed evidence.

Exceptions::

    LookupError
     +- IncidentNotFound   no such incident in this tenant
    Exception
     +- IncidentError      a closed incident, evidence that does not open
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.crypto import DecryptionError, Keyring
from bastion.response.subject import Subject
from bastion.store.schema import IncidentRow, IncidentStepRow
from bastion.store.tenancy import bind_tenant, clear_scope, tenant_begin, tenant_connect
from bastion.store.transactions import write_transaction

__all__ = [
    "INCIDENT_STATUSES",
    "STEP_STATUSES",
    "Incident",
    "IncidentError",
    "IncidentNotFound",
    "IncidentStep",
    "IncidentStore",
    "StepStatus",
    "Trigger",
    "detail_sha256",
    "locked_write",
]

_TABLE = "incident_steps"
_FORMAT = 1
_MAX_LIST = 200
_SEQ_RETRIES = 5
INCIDENT_STATUSES = ("open", "contained", "closed")
STEP_STATUSES = ("done", "skipped", "failed")
StepStatus = Literal["done", "skipped", "failed"]
Trigger = Literal["manual", "alert"]


@contextmanager
def locked_write(engine: Engine, tenant_id: str) -> Iterator[Connection]:
    """A write transaction bound to ``tenant_id`` for a read-then-write: on SQLite it
    holds the write lock from the first read (``BEGIN IMMEDIATE``), so a concurrent
    writer waits instead of failing at the write; on PostgreSQL the caller locks the
    row it reads (``FOR UPDATE``) or lets a unique constraint settle the race."""
    with write_transaction(engine) as conn:
        try:
            bind_tenant(conn, tenant_id)
            yield conn
        finally:
            clear_scope(conn.info)


class IncidentNotFound(LookupError):
    """No such incident in this tenant."""


class IncidentError(Exception):
    """The incident cannot take the change, or its evidence does not open."""


@dataclass(frozen=True, slots=True)
class IncidentStep:
    id: str
    seq: int
    step: str
    status: str
    detail: Mapping[str, Any]
    ts: datetime
    has_evidence: bool

    @property
    def reason(self) -> str | None:
        value = self.detail.get("reason")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    tenant_id: str
    playbook: str
    status: str
    trigger: str
    alert_key: str | None
    user_id: str | None
    session_id: str | None
    key_id: str | None
    conversation_id: str | None
    request_id: str | None
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    steps: tuple[IncidentStep, ...] = ()

    def step(self, name: str) -> IncidentStep:
        """The first step called ``name`` (KeyError if the timeline has none)."""
        for step in self.steps:
            if step.step == name:
                return step
        raise KeyError(name)


_COLUMNS = (
    IncidentRow.id,
    IncidentRow.tenant_id,
    IncidentRow.playbook,
    IncidentRow.status,
    IncidentRow.trigger,
    IncidentRow.alert_key,
    IncidentRow.user_id,
    IncidentRow.session_id,
    IncidentRow.key_id,
    IncidentRow.conversation_id,
    IncidentRow.request_id,
    IncidentRow.opened_by,
    IncidentRow.opened_at,
    IncidentRow.closed_at,
    IncidentRow.closed_by,
)
_STEP_COLUMNS = (
    IncidentStepRow.id,
    IncidentStepRow.seq,
    IncidentStepRow.step,
    IncidentStepRow.status,
    IncidentStepRow.detail,
    IncidentStepRow.ts,
    IncidentStepRow.sealed.is_not(None),
)


class IncidentStore:
    """Incidents of every tenant, each statement bound to its tenant. ``keyring``
    seals step evidence; without one, a step with evidence is refused."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], keyring: Keyring | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._keyring = keyring

    def __repr__(self) -> str:
        return "IncidentStore()"

    def open(
        self,
        subject: Subject,
        playbook: str,
        *,
        trigger: Trigger,
        opened_by: str,
        alert_key: str | None = None,
    ) -> tuple[Incident, bool]:
        """A new ``open`` incident on ``subject``, and True; or, when an incident of
        this playbook already exists for ``alert_key``, that one and False."""
        if trigger not in ("manual", "alert"):
            raise ValueError("trigger must be 'manual' or 'alert'")
        if not opened_by or len(opened_by) > 64:
            raise ValueError("opened_by must be 1 to 64 characters")
        if alert_key is not None and not 0 < len(alert_key) <= 64:
            raise ValueError("alert_key must be 1 to 64 characters")
        tenant_id, incident_id = subject.tenant_id, str(uuid.uuid4())
        values = {
            "id": incident_id,
            "tenant_id": tenant_id,
            "playbook": playbook,
            "status": "open",
            "trigger": trigger,
            "alert_key": alert_key,
            "user_id": subject.user_id,
            "session_id": subject.session_id,
            "key_id": subject.key_id,
            "conversation_id": subject.conversation_id,
            "request_id": subject.request_id,
            "opened_by": opened_by,
            "opened_at": self._clock(),
        }
        try:
            with tenant_begin(self._engine, tenant_id) as conn:
                conn.execute(insert(IncidentRow).values(**values))
        except IntegrityError:
            if alert_key is None:
                raise
            found = self._by_alert(tenant_id, playbook, alert_key)
            if found is None:
                raise
            return found, False
        return self.get(tenant_id, incident_id), True

    def add_step(
        self,
        tenant_id: str,
        incident_id: str,
        step: str,
        status: StepStatus,
        detail: Mapping[str, Any],
        *,
        evidence: Mapping[str, Any] | None = None,
    ) -> IncidentStep:
        """Append a step to an incident that is not closed. ``detail``: identifiers
        and counts (stored in clear); ``evidence``: content, stored sealed."""
        if status not in STEP_STATUSES:
            raise ValueError(f"a step status is one of {', '.join(STEP_STATUSES)}")
        text = _encode(detail)
        step_id = str(uuid.uuid4())
        sealed = None if evidence is None else self._seal(tenant_id, step_id, evidence)
        for _ in range(_SEQ_RETRIES):
            try:
                return self._append(tenant_id, incident_id, step_id, step, status, text, sealed)
            except IntegrityError:
                continue  # another writer took this seq: take the next
        raise IncidentError("the step could not be appended (too many concurrent writers)")

    def _append(
        self,
        tenant_id: str,
        incident_id: str,
        step_id: str,
        step: str,
        status: str,
        text: str,
        sealed: bytes | None,
    ) -> IncidentStep:
        now = self._clock()
        with locked_write(self._engine, tenant_id) as conn:
            state = conn.execute(  # the incident row's lock orders its appends
                select(IncidentRow.status)
                .where(IncidentRow.tenant_id == tenant_id, IncidentRow.id == incident_id)
                .with_for_update()
            ).scalar()
            if state is None:
                raise IncidentNotFound()
            if state == "closed":
                raise IncidentError("the incident is closed")
            last = conn.execute(
                select(func.max(IncidentStepRow.seq)).where(
                    IncidentStepRow.tenant_id == tenant_id,
                    IncidentStepRow.incident_id == incident_id,
                )
            ).scalar()
            seq = int(last or 0) + 1
            conn.execute(
                insert(IncidentStepRow).values(
                    id=step_id,
                    incident_id=incident_id,
                    tenant_id=tenant_id,
                    seq=seq,
                    step=step,
                    status=status,
                    detail=text,
                    sealed=sealed,
                    ts=now,
                )
            )
        return IncidentStep(step_id, seq, step, status, json.loads(text), now, sealed is not None)

    def get(self, tenant_id: str, incident_id: str) -> Incident:
        """The incident with its timeline, steps in order."""
        if not _is_uuid(incident_id):
            raise IncidentNotFound()
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(
                select(*_COLUMNS).where(
                    IncidentRow.tenant_id == tenant_id, IncidentRow.id == incident_id
                )
            ).first()
            if row is None:
                raise IncidentNotFound()
            steps = conn.execute(
                select(*_STEP_COLUMNS)
                .where(
                    IncidentStepRow.tenant_id == tenant_id,
                    IncidentStepRow.incident_id == incident_id,
                )
                .order_by(IncidentStepRow.seq)
            ).all()
        timeline = tuple(
            IncidentStep(s[0], int(s[1]), s[2], s[3], _detail(s[4]), s[5], bool(s[6]))
            for s in steps
        )
        return _incident(row, timeline)

    def list(
        self,
        tenant_id: str,
        *,
        statuses: tuple[str, ...] = (),
        playbook: str | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """The tenant's incidents, newest first, without their timelines."""
        query = select(*_COLUMNS).where(IncidentRow.tenant_id == tenant_id)
        if statuses:
            query = query.where(IncidentRow.status.in_(statuses))
        if playbook is not None:
            query = query.where(IncidentRow.playbook == playbook)
        query = query.order_by(IncidentRow.opened_at.desc(), IncidentRow.id)
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(query.limit(max(1, min(limit, _MAX_LIST)))).all()
        return [_incident(row) for row in rows]

    def mark_contained(self, tenant_id: str, incident_id: str) -> bool:
        """``open`` → ``contained``; False if it was not open."""
        query = (
            update(IncidentRow)
            .where(
                IncidentRow.tenant_id == tenant_id,
                IncidentRow.id == incident_id,
                IncidentRow.status == "open",
            )
            .values(status="contained")
        )
        with tenant_begin(self._engine, tenant_id) as conn:
            return bool(conn.execute(query).rowcount == 1)

    def close(self, tenant_id: str, incident_id: str, closed_by: str) -> bool:
        """``open`` or ``contained`` → ``closed``; False if it was already closed
        (IncidentNotFound if there is no such incident)."""
        if not closed_by or len(closed_by) > 64:
            raise ValueError("closed_by must be 1 to 64 characters")
        query = (
            update(IncidentRow)
            .where(
                IncidentRow.tenant_id == tenant_id,
                IncidentRow.id == incident_id,
                IncidentRow.status.in_(("open", "contained")),
            )
            .values(status="closed", closed_at=self._clock(), closed_by=closed_by)
        )
        with tenant_begin(self._engine, tenant_id) as conn:
            done = conn.execute(query).rowcount == 1
        if not done:
            self.get(tenant_id, incident_id)  # raises IncidentNotFound when absent
        return bool(done)

    def open_evidence(self, tenant_id: str, incident_id: str, step_id: str) -> dict[str, Any]:
        """The sealed evidence of one step of an incident ({} when it has none)."""
        query = select(IncidentStepRow.sealed).where(
            IncidentStepRow.tenant_id == tenant_id,
            IncidentStepRow.incident_id == incident_id,
            IncidentStepRow.id == step_id,
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise IncidentNotFound()
        if row[0] is None:
            return {}
        if self._keyring is None:
            raise IncidentError("opening evidence needs the key-encryption key")
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, step_id, row[0])
            payload = json.loads(raw)
        except (DecryptionError, ValueError):
            raise IncidentError("the step's evidence does not open") from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise IncidentError("the step's evidence is not in a known format")
        evidence = payload.get("evidence")
        return evidence if isinstance(evidence, dict) else {}

    def _seal(self, tenant_id: str, step_id: str, evidence: Mapping[str, Any]) -> bytes:
        if self._keyring is None:
            raise IncidentError("sealing evidence needs the key-encryption key")
        payload = {"format": _FORMAT, "evidence": dict(evidence)}
        raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
        return self._keyring.encrypt(tenant_id, "app", _TABLE, step_id, raw)

    def _by_alert(self, tenant_id: str, playbook: str, alert_key: str) -> Incident | None:
        query = select(IncidentRow.id).where(
            IncidentRow.tenant_id == tenant_id,
            IncidentRow.playbook == playbook,
            IncidentRow.alert_key == alert_key,
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            found = conn.execute(query).scalar()
        return None if found is None else self.get(tenant_id, found)


def _incident(row: Any, steps: tuple[IncidentStep, ...] = ()) -> Incident:
    return Incident(**dict(row._mapping), steps=steps)


def detail_sha256(detail: Mapping[str, Any]) -> str:
    """The SHA-256 of a step's stored detail text (what its audit record carries)."""
    return hashlib.sha256(_encode(detail).encode()).hexdigest()


def _encode(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), separators=(",", ":"), sort_keys=True, default=str)


def _detail(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
