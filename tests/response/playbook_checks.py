"""What the playbook tests share: timelines, an incident's audit records, and the
check that every step is recorded."""

from __future__ import annotations

import json

from sqlalchemy import select

from bastion.audit import verify_chain
from bastion.response import (
    IncidentReport,
)
from bastion.response.store import detail_sha256
from bastion.store.schema import AuditRecord, IncidentStepRow
from tests.response.conftest import World


def timeline(report: IncidentReport) -> list[tuple[str, str]]:
    return [(s.step, s.status) for s in report.incident.steps]


def incident_records(world: World, incident_id: str) -> list[dict[str, object]]:
    """The audit records of one incident, in chain order."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(AuditRecord.body)
            .where(AuditRecord.tenant_id == world.tenant_id)
            .order_by(AuditRecord.seq)
        ).all()
    bodies = [json.loads(row.body) for row in rows]
    return [
        b for b in bodies if b["route"] == "incident" and b["extra"]["incident_id"] == incident_id
    ]


def stored_text(world: World) -> str:
    """Everything stored in clear about incidents: step details and audit bodies."""
    with world.engine.connect() as conn:
        details = conn.execute(select(IncidentStepRow.detail)).scalars().all()
        bodies = conn.execute(select(AuditRecord.body)).scalars().all()
    return "\n".join([*details, *bodies])


def assert_recorded(world: World, report: IncidentReport) -> None:
    """One audit record per step (status and detail digest as stored), the opening one
    and, when contained, the containment one; the chain verifies."""
    records = incident_records(world, report.incident.id)
    outcomes = [r["outcome"] for r in records]
    steps = [r for r in records if r["outcome"] == "incident_step"]
    assert outcomes[0] == "incident_opened"
    assert [(r["extra"]["step"], r["extra"]["status"]) for r in steps] == timeline(report)  # type: ignore[index]
    for record, step in zip(steps, report.incident.steps, strict=True):
        assert record["extra"]["detail_sha256"] == detail_sha256(step.detail)  # type: ignore[index]
        assert record["extra"]["seq"] == step.seq  # type: ignore[index]
    assert ("incident_contained" in outcomes) == report.contained
    assert report.audit_failures == 0
    assert verify_chain(world.app_engine, world.tenant_id, sealer=world.sealer).ok
