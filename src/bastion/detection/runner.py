"""Detection on the live audit chain: a :class:`~bastion.stream.StreamConsumer`.

:class:`DetectionRunner` is fed each tenant's committed records in order by a
:class:`~bastion.stream.StreamWorker` (stream ``detection``, starting at the heads
when it first runs). It keeps one :class:`DetectionEngine` per distinct
:class:`DetectionConfig` (tenants with the same thresholds share one; state is keyed by
tenant and user inside it), and appends every alert to the tenant's audit chain as a
record of its own (route ``alert``, outcome ``alert_<detector>``, ``extra`` with
severity, summary, window and evidence hashes), so an alert is as tamper-evident as
what it points at and flows to the SIEM like any record. Then ``on_alert`` runs (the
gateway counts it and starts the tenant's automatic playbook, if any).

Restart
    Detector state lives in memory. Before a tenant's first batch in a process (and
    whenever its thresholds change), the runner replays the tenant's last
    ``replay_hours`` of records up to the cursor into the engine, alerts dropped: the
    baselines, windows and "already fired" marks come back exactly as they were
    (detectors are deterministic over the records), and the alert records in that
    history teach the engine which alerts exist, so none is raised twice. History
    beyond ``replay_hours`` is forgotten, which a user pays for with a new warm-up.

Failure
    If appending an alert fails, the batch fails; the worker keeps the cursor and calls
    :meth:`reset`, which drops all engines, so the retry replays from the chain rather
    than counting the batch's records twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import anyio.to_thread
from sqlalchemy import Engine

from bastion.audit.record import AuditEvent, AuditReceipt
from bastion.detection.baseline import Alert, DetectionConfig
from bastion.detection.detectors import ALERT_ROUTE, DetectionEngine
from bastion.detection.policy import DetectionPolicy
from bastion.stream.store import read_records

__all__ = ["DetectionRunner", "alert_event"]

log = logging.getLogger("bastion.detection")

_REPLAY_PAGE = 2000
_SLICE = 32  # records judged between two yields to the event loop (about 0.5 ms)


def alert_event(alert: Alert, ts: datetime) -> AuditEvent:
    """The audit record of ``alert``: identifiers, counts and evidence hashes only."""
    evidence = list(alert.evidence)
    return AuditEvent(
        ts=ts,
        request_id=f"alert-{alert.key}",
        tenant_id=alert.tenant_id,
        user_id=alert.user_id or "",
        key_id="",
        model="",
        route=ALERT_ROUTE,
        outcome=f"alert_{alert.detector}",
        extra={
            "detector": alert.detector,
            "severity": alert.severity,
            "summary": alert.summary,
            "key": alert.key,
            "window_start": alert.window_start,
            "window_end": alert.window_end,
            "evidence": evidence,
            "request_ids": list(alert.request_ids),
            "evidence_count": len(evidence),
            "evidence_first": evidence[0] if evidence else None,
            "evidence_last": evidence[-1] if evidence else None,
        },
    )


class DetectionRunner:
    """Feeds records to the tenant's detection engine and records its alerts.

    ``engine``: a database engine that sees every tenant (for the replay).
    ``policy_for``: the tenant's detection policy (a failure to load it falls back to
    the defaults: detection keeps watching). ``append``: ``AuditLog.append``.
    ``on_alert``: awaited after an alert's record is committed.
    """

    stream = "detection"
    start_at: Literal["start", "now"] = "now"

    def __init__(
        self,
        engine: Engine,
        policy_for: Callable[[str], DetectionPolicy],
        append: Callable[[AuditEvent], Awaitable[AuditReceipt]],
        clock: Callable[[], datetime],
        *,
        on_alert: Callable[[Alert, AuditReceipt], Awaitable[None]] | None = None,
    ) -> None:
        self._db = engine
        self._policy_for = policy_for
        self._append = append
        self._clock = clock
        self._on_alert = on_alert
        self._engines: dict[DetectionConfig, DetectionEngine] = {}
        self._primed: dict[str, DetectionConfig] = {}
        self.alerts_raised = 0

    def __repr__(self) -> str:
        return f"DetectionRunner(engines={len(self._engines)}, tenants={len(self._primed)})"

    def reset(self) -> None:
        self._engines.clear()
        self._primed.clear()

    async def consume(self, tenant_id: str, records: list[dict[str, Any]]) -> None:
        policy = await anyio.to_thread.run_sync(self._policy, tenant_id)
        if not policy.enabled or not records:
            return
        engine = await self._engine_for(tenant_id, policy, int(records[0]["seq"]))
        # The detectors' work is CPU on the event loop, in slices: requests interleave
        # between slices (a worker thread would contend for the GIL instead).
        alerts: list[Alert] = []
        for start in range(0, len(records), _SLICE):
            alerts += engine.observe_all(records[start : start + _SLICE])
            await asyncio.sleep(0)
        if alerts:
            await self._record(alerts)

    async def _record(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            receipt = await self._append(alert_event(alert, self._clock()))
            self.alerts_raised += 1
            log.warning(
                "alert detector=%s severity=%s tenant=%s seq=%d",
                alert.detector,
                alert.severity,
                alert.tenant_id,
                receipt.seq,
            )
            if self._on_alert is not None:
                await self._on_alert(alert, receipt)

    def _policy(self, tenant_id: str) -> DetectionPolicy:
        try:
            return self._policy_for(tenant_id)
        except Exception as exc:  # watch with the defaults rather than not at all
            log.error(
                "detection policy unavailable tenant=%s error=%s", tenant_id, type(exc).__name__
            )
            return DetectionPolicy()

    async def _engine_for(
        self, tenant_id: str, policy: DetectionPolicy, first_seq: int
    ) -> DetectionEngine:
        engine = self._engines.get(policy.config)
        if engine is None:
            engine = self._engines[policy.config] = DetectionEngine(policy.config)
        if self._primed.get(tenant_id) != policy.config:
            await self._replay(engine, tenant_id, policy, first_seq)
            self._primed[tenant_id] = policy.config
        return engine

    async def _replay(
        self, engine: DetectionEngine, tenant_id: str, policy: DetectionPolicy, first_seq: int
    ) -> None:
        """Feed the tenant's recent history before ``first_seq`` to ``engine``, alerts
        dropped (they were raised, and recorded, when those records were new)."""
        if policy.replay_hours <= 0 or first_seq <= 1:
            return
        since = self._clock() - timedelta(hours=policy.replay_hours)
        after, replayed = 0, 0
        while True:
            read = functools.partial(read_records, since=since, until_seq=first_seq - 1)
            page = await anyio.to_thread.run_sync(read, self._db, tenant_id, after, _REPLAY_PAGE)
            for start in range(0, len(page), _SLICE):
                engine.observe_all(page[start : start + _SLICE])
                await asyncio.sleep(0)
            replayed += len(page)
            if len(page) < _REPLAY_PAGE:
                break
            after = int(page[-1]["seq"])
        log.info("detection replay tenant=%s records=%d", tenant_id, replayed)
