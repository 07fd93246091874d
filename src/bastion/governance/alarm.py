"""A local artifact that failed its integrity check: a critical alert, once.

The alert is an audit record in the deployment's chain (tenant ``deployment``, route
``alert``, outcome ``alert_artifact_integrity``), so it reaches the SIEM like every
detector's alert, and a count on ``GET /metrics``. The file is not used either way
(the loader refused it); a request that needed it fails closed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from bastion.audit import AuditEvent
from bastion.integrity import ArtifactIntegrityError
from bastion.observability import GatewayMetrics
from bastion.secrets import DEPLOYMENT

__all__ = ["DETECTOR", "IntegrityAlarm"]

DETECTOR = "artifact_integrity"
log = logging.getLogger("bastion.governance")


class IntegrityAlarm:
    """Raise the alert for ``error`` once per artifact file and hash seen."""

    def __init__(
        self,
        record: Callable[[AuditEvent], None],
        clock: Callable[[], datetime],
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._record = record
        self._clock = clock
        self._metrics = metrics
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IntegrityAlarm(raised={len(self._seen)})"

    def __call__(self, error: ArtifactIntegrityError) -> None:
        key = (error.artifact, error.path, error.actual)
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        log.error(
            "artifact refused: integrity check failed artifact=%s path=%s",
            error.artifact,
            error.path,
        )
        if self._metrics is not None:
            self._metrics.record_alert(DETECTOR, "critical")
        try:
            self._record(
                AuditEvent(
                    ts=self._clock(),
                    request_id=f"alert-{uuid.uuid4().hex}",
                    tenant_id=DEPLOYMENT,
                    user_id="",
                    key_id="",
                    model="",
                    route="alert",
                    outcome=f"alert_{DETECTOR}",
                    extra={
                        "detector": DETECTOR,
                        "severity": "critical",
                        "summary": f"{error.artifact} refused: its SHA-256 does not match the pin",
                        "artifact": error.artifact,
                        "path": error.path,
                        "expected_sha256": error.expected,
                        "actual_sha256": error.actual,
                    },
                )
            )
        except Exception as exc:  # the refusal stands; the alert is retried next time
            with self._lock:
                self._seen.discard(key)
            log.error("artifact alert not recorded error=%s", type(exc).__name__)
