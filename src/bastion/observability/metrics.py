"""Prometheus metrics of one gateway, derived from its audit events.

Every decision the gateway makes ends in one audit record, so the metrics are counted
from the committed :class:`~bastion.audit.AuditEvent` (see ``AuditLog(observer=...)``)
and never from a second, separate code path that could disagree with the audit log.

Labels are bounded and never carry content. A label value is kept only if it is a short
string of a safe charset, otherwise it becomes ``"other"``:

* routes (already templates in audit records, e.g. ``POST /v1/actions/{action_id}/confirm``)
  match ``[A-Za-z0-9_./{}: -]{1,80}``;
* codes (outcome, stage, reason, tool, status, detector, severity, playbook) match
  ``[A-Za-z0-9_.:-]{1,64}``: no spaces and no ``@``, so neither a sentence of a prompt
  nor an email address can pass.

Each :class:`GatewayMetrics` owns its own ``CollectorRegistry``; nothing is registered
in prometheus_client's process-wide default registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from bastion.audit.record import AuditEvent

__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "GatewayMetrics", "code_label", "route_label"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The content type of :meth:`GatewayMetrics.exposition` (Prometheus text format)."""

OTHER = "other"

# 1 ms .. 30 s: a scan-and-refuse answers in milliseconds, a long completion in seconds.
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

_ROUTE = re.compile(r"[A-Za-z0-9_./{}: -]{1,80}")
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_ACTION_PREFIX = "action_"


def route_label(value: object) -> str:
    """``value`` if it is a short route template of the safe charset, else ``"other"``."""
    if isinstance(value, str) and _ROUTE.fullmatch(value):
        return value
    return OTHER


def code_label(value: object) -> str:
    """``value`` if it is a short code (no spaces, no ``@``), else ``"other"``."""
    if isinstance(value, str) and _CODE.fullmatch(value):
        return value
    return OTHER


class GatewayMetrics:
    """The metrics of one gateway :class:`~bastion.gateway.runtime.Runtime`.

    Feed it with :meth:`observe` (one committed audit event), :meth:`record_alert`
    and :meth:`record_incident`; read it with :meth:`exposition`.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "bastion_requests",
            "Requests the gateway decided, by route template and audit outcome.",
            ("route", "outcome"),
            registry=r,
        )
        self.blocks = Counter(
            "bastion_blocks",
            "Blocking scanner verdicts, by stage (input/output) and reason code.",
            ("stage", "reason"),
            registry=r,
        )
        self.duration = Histogram(
            "bastion_request_duration_seconds",
            "Time from request to audit record, by route template.",
            ("route",),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.audit_records = Counter(
            "bastion_audit_records", "Audit records committed by this process.", registry=r
        )
        self.actions = Counter(
            "bastion_actions",
            "Agent action proposals and decisions, by tool and status.",
            ("tool", "status"),
            registry=r,
        )
        self.alerts = Counter(
            "bastion_alerts",
            "Alerts raised, by detector and severity.",
            ("detector", "severity"),
            registry=r,
        )
        self.incidents = Counter(
            "bastion_incidents",
            "Incident playbook runs, by playbook and status.",
            ("playbook", "status"),
            registry=r,
        )

    def __repr__(self) -> str:
        return "GatewayMetrics()"

    def observe(self, event: AuditEvent) -> None:
        """Count one committed audit event: request, latency, blocks and actions."""
        route = route_label(event.route)
        self.audit_records.inc()
        self.requests.labels(route=route, outcome=code_label(event.outcome)).inc()
        seconds = event.latency_ms / 1000.0 if isinstance(event.latency_ms, int | float) else -1.0
        if math.isfinite(seconds) and seconds >= 0:
            self.duration.labels(route=route).observe(seconds)
        for verdict in event.verdicts:
            if isinstance(verdict, Mapping) and verdict.get("decision") == "block":
                self.blocks.labels(
                    stage=code_label(verdict.get("stage")), reason=code_label(verdict.get("reason"))
                ).inc()
        for entry in event.actions:
            if isinstance(entry, Mapping) and "tier" in entry:
                self._action(entry.get("tool"), entry.get("status"))
        if event.outcome.startswith(_ACTION_PREFIX):
            self._action(event.extra.get("tool"), event.outcome.removeprefix(_ACTION_PREFIX))

    def record_alert(self, detector: str, severity: str) -> None:
        """Count one alert raised by ``detector`` at ``severity``."""
        self.alerts.labels(detector=code_label(detector), severity=code_label(severity)).inc()

    def record_incident(self, playbook: str, status: str) -> None:
        """Count one incident handled by ``playbook`` that ended in ``status``."""
        self.incidents.labels(playbook=code_label(playbook), status=code_label(status)).inc()

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def _action(self, tool: Any, status: Any) -> None:
        self.actions.labels(tool=code_label(tool), status=code_label(status)).inc()
