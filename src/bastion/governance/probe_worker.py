"""Behaviour probes on a schedule, and an alert when a model starts failing one.

Every ``model_probe_seconds`` one process of the deployment (a lease, like the audit
stream consumers) probes every served model (``bastion.governance.probes``). Each run
is an audit record in the deployment's chain (route ``governance``, outcome
``model_probe``: checks, outcomes, latencies). A check that fails where it passed
before, or on the first run, raises an alert (route ``alert``, outcome
``alert_model_drift``) and counts on ``GET /metrics``; when it passes again a
``model_probe_recovered`` record says so. The last outcome per model and check is
kept in this process: after a restart a check still failing alerts once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread

from bastion.audit import AuditEvent
from bastion.governance.probes import ProbeResult, probe_model
from bastion.observability import GatewayMetrics
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig
from bastion.stream.store import StreamLeases
from bastion.upstream import UpstreamPool

__all__ = ["DETECTOR", "ProbeWorker"]

DETECTOR = "model_drift"
LEASE = "probe:models"
_SEVERITY = {"injection": "critical", "format": "medium", "latency": "low"}
log = logging.getLogger("bastion.governance")


class ProbeWorker:
    def __init__(
        self,
        models: Callable[[], list[ModelConfig]],
        upstreams: UpstreamPool,
        record: Callable[[AuditEvent], None],
        leases: StreamLeases,
        clock: Callable[[], datetime],
        *,
        interval: float,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._models = models
        self._upstreams = upstreams
        self._record = record
        self._leases = leases
        self._clock = clock
        self._interval = interval
        self._metrics = metrics
        self._holder = uuid.uuid4().hex
        self._last: dict[tuple[str, str], bool] = {}
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"ProbeWorker(interval={self._interval})"

    async def run_once(self) -> list[ProbeResult]:
        """Probe every served model now; the results (also recorded and alerted on)."""
        results: list[ProbeResult] = []
        for model in self._models():
            found = await probe_model(self._upstreams.get(model), model)
            results += found
            await anyio.to_thread.run_sync(self._note, model, found)
        return results

    def _event(
        self, outcome: str, route: str, model: ModelConfig, extra: dict[str, Any]
    ) -> AuditEvent:
        return AuditEvent(
            ts=self._clock(),
            request_id=f"probe-{uuid.uuid4().hex}",
            tenant_id=DEPLOYMENT,
            user_id="",
            key_id="",
            model=model.name,
            route=route,
            outcome=outcome,
            extra={"model": model.name, "upstream_model": model.target_model, **extra},
        )

    def _note(self, model: ModelConfig, results: list[ProbeResult]) -> None:
        checks = [
            {
                "check": r.check,
                "passed": r.passed,
                "detail": r.detail,
                "latency_ms": round(r.latency_ms, 1),
            }
            for r in results
        ]
        self._record(self._event("model_probe", "governance", model, {"checks": checks}))
        for result in results:
            key = (model.name, result.check)
            before = self._last.get(key)
            self._last[key] = result.passed
            if not result.passed and before is not False:
                severity = "medium" if result.detail == "unreachable" else _SEVERITY[result.check]
                log.warning(
                    "model drift model=%s check=%s detail=%s",
                    model.name,
                    result.check,
                    result.detail,
                )
                if self._metrics is not None:
                    self._metrics.record_alert(DETECTOR, severity)
                extra = {
                    "detector": DETECTOR,
                    "severity": severity,
                    "summary": (
                        f"model {model.name} failed its {result.check} probe ({result.detail})"
                    ),
                    "check": result.check,
                    "detail": result.detail,
                }
                self._record(self._event(f"alert_{DETECTOR}", "alert", model, extra))
            elif result.passed and before is False:
                extra = {"check": result.check}
                self._record(self._event("model_probe_recovered", "governance", model, extra))

    async def start(self) -> None:
        if self._interval <= 0 or self._task is not None:
            return
        self._task = asyncio.create_task(self._loop(), name="bastion-model-probes")

    async def _loop(self) -> None:
        while True:
            try:
                until = self._clock() + timedelta(seconds=2 * self._interval + 30)
                held = await anyio.to_thread.run_sync(
                    self._leases.acquire, LEASE, self._holder, until
                )
                if held:
                    await self.run_once()
            except Exception as exc:  # the database may be down; try again next time
                log.warning("model probes failed error=%s", type(exc).__name__)
            await asyncio.sleep(self._interval)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(self._leases.release, LEASE, self._holder)
