"""Incident response inside the gateway: the services playbooks act through, and the
automatic run of a tenant's playbook when detection raises an alert.

:func:`response_services` builds :class:`~bastion.response.ResponseServices` from the
runtime's parts. :class:`AutoResponder` is the alert handler of
:class:`~bastion.gateway.monitoring.Monitoring`: it reads the tenant's ``[response]``
policy and, when it names a playbook for the alert's detector at that severity, runs
it (an alert opens at most one incident: its key is the incident's ``alert_key``).
The subject comes from the alert and from the last record of its evidence (the
session, key and conversation that record names), so an ``injection`` playbook
isolates the session the injections came through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import orjson
from sqlalchemy import Engine, select

from bastion.audit.record import AuditReceipt
from bastion.detection.baseline import Alert
from bastion.detection.policy import ResponsePolicy
from bastion.observability import GatewayMetrics
from bastion.response import ResponseServices, Subject, run_playbook
from bastion.store.schema import AuditRecord
from bastion.store.transactions import read_snapshot

__all__ = ["AutoResponder", "alert_subject"]

log = logging.getLogger("bastion.response")


def alert_subject(engine: Engine, alert: Alert) -> Subject:
    """The alert's subject, with the session, key and conversation of the last record
    of its evidence."""
    subject = Subject.from_alert(alert)
    if not alert.evidence:
        return subject
    query = select(AuditRecord.body).where(
        AuditRecord.tenant_id == alert.tenant_id, AuditRecord.hash == alert.evidence[-1]
    )
    with read_snapshot(engine, alert.tenant_id) as conn:
        body = conn.execute(query).scalar()
    if body is None:
        return subject
    last: dict[str, Any] = orjson.loads(body)
    last["tenant_id"] = alert.tenant_id
    found = Subject.from_audit_record(last)
    return Subject(
        tenant_id=alert.tenant_id,
        user_id=subject.user_id or found.user_id,
        session_id=found.session_id,
        key_id=found.key_id,
        conversation_id=found.conversation_id,
        request_id=found.request_id or subject.request_id,
        finding_types=found.finding_types,
        since=subject.since,
    )


class AutoResponder:
    """Runs the playbook a tenant's ``[response.auto]`` names for an alert."""

    def __init__(
        self,
        services: ResponseServices,
        policy_for: Callable[[str], ResponsePolicy],
        metrics: GatewayMetrics,
        on_incident: Callable[[str], None],
    ) -> None:
        self._services = services
        self._policy_for = policy_for
        self._metrics = metrics
        self._on_incident = on_incident

    def __repr__(self) -> str:
        return "AutoResponder()"

    async def __call__(self, alert: Alert, receipt: AuditReceipt) -> None:
        policy = await anyio.to_thread.run_sync(self._policy_for, alert.tenant_id)
        playbook = policy.playbook_for(alert.detector, alert.severity)
        if playbook is None:
            return
        subject = await anyio.to_thread.run_sync(alert_subject, self._services.engine, alert)
        report = await run_playbook(
            playbook,
            subject,
            self._services,
            trigger="alert",
            opened_by=f"detector:{alert.detector}",
            alert_key=alert.key,
        )
        self._on_incident(alert.tenant_id)
        if report.created:
            self._metrics.record_incident(playbook, report.incident.status)
            log.warning(
                "incident opened playbook=%s tenant=%s status=%s",
                playbook,
                alert.tenant_id,
                report.incident.status,
            )
