"""The gateway's consumers of its own audit chain: detection, what alerts start, and
SIEM forwarding.

:class:`Monitoring` owns one :class:`~bastion.stream.StreamWorker` per consumer: the
:class:`~bastion.detection.runner.DetectionRunner` and one
:class:`~bastion.siem.forwarder.SiemForwarder` per configured sink
(``BASTION_SIEM_SINKS``). The audit log's observer wakes them after each commit. Each
alert goes to the handlers registered with :meth:`on_alert` (metrics; the tenant's
automatic playbook).

The workers read every tenant, so they need a connection that sees every tenant: on
PostgreSQL the owner connection (``BASTION_DATABASE_ADMIN_URL``). Without one,
:meth:`start` logs why and leaves the workers off rather than report a clean, empty
stream.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Engine, select

from bastion.audit import AuditLog
from bastion.audit.record import AuditReceipt
from bastion.detection.baseline import Alert
from bastion.detection.policy import DetectionPolicy
from bastion.detection.runner import DetectionRunner
from bastion.gateway.policies import PolicyStore, ResolvedPolicy
from bastion.observability import GatewayMetrics
from bastion.settings import Settings
from bastion.siem.config import build_sink
from bastion.siem.forwarder import SiemForwarder
from bastion.store import make_engine
from bastion.store.schema import Tenant
from bastion.store.tenancy import TenantScopeError
from bastion.store.transactions import read_snapshot
from bastion.stream import StreamWorker, tenant_heads

__all__ = ["AlertHandler", "Monitoring"]

log = logging.getLogger("bastion.monitoring")

AlertHandler = Callable[[Alert, AuditReceipt], Awaitable[None]]


class Monitoring:
    """Detection and SIEM forwarding over the audit chain, for one gateway runtime."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        audit: AuditLog,
        policies: PolicyStore,
        metrics: GatewayMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        admin_url = settings.database_admin_url
        self._own_engine = (
            make_engine(admin_url) if admin_url and admin_url != settings.database_url else None
        )
        self.engine = self._own_engine or engine
        self._policies = policies
        self._metrics = metrics
        self._handlers: list[AlertHandler] = []
        self.detection: DetectionRunner | None = None
        self.workers: list[StreamWorker] = []
        self.running = False
        if settings.detection:
            self.detection = DetectionRunner(
                self.engine, self._detection_policy, audit.append, clock, on_alert=self._alert
            )
            worker = StreamWorker(
                self.engine, self.detection, clock, poll_seconds=settings.stream_poll_seconds
            )
            self.workers.append(worker)
            audit.add_observer(worker.wake)
        hostname = socket.gethostname()[:255] or "bastion"
        self.forwarders: list[SiemForwarder] = []
        for sink_config in settings.siem_sinks:
            forwarder = SiemForwarder(
                sink_config.name,
                build_sink(sink_config, hostname),
                start_at=sink_config.start_at,
            )
            self.forwarders.append(forwarder)
            worker = StreamWorker(
                self.engine, forwarder, clock, poll_seconds=settings.stream_poll_seconds
            )
            self.workers.append(worker)
            audit.add_observer(worker.wake)

    def __repr__(self) -> str:
        return f"Monitoring(workers={[w.stream for w in self.workers]}, running={self.running})"

    def on_alert(self, handler: AlertHandler) -> None:
        """Await ``handler`` for each alert, after its record is committed."""
        self._handlers.append(handler)

    def tenant_policy(self, tenant_id: str) -> ResolvedPolicy:
        """The tenant's resolved policy, by tenant id (raises as ``PolicyStore.get``)."""
        with read_snapshot(self.engine, tenant_id) as conn:
            name = conn.execute(select(Tenant.policy).where(Tenant.id == tenant_id)).scalar()
        return self._policies.get(name or "default")

    def _detection_policy(self, tenant_id: str) -> DetectionPolicy:
        return self.tenant_policy(tenant_id).detection

    async def _alert(self, alert: Alert, receipt: AuditReceipt) -> None:
        self._metrics.record_alert(alert.detector, alert.severity)
        for handler in self._handlers:
            try:
                await handler(alert, receipt)
            except Exception as exc:  # one handler's failure does not stop the others
                log.error(
                    "alert handler failed detector=%s tenant=%s error=%s",
                    alert.detector,
                    alert.tenant_id,
                    type(exc).__name__,
                )

    async def start(self) -> None:
        """Start the workers, if the engine sees every tenant (else log why, and stay off)."""
        if not self.workers or not await self.readable():
            return
        for worker in self.workers:
            await worker.start()
        self.running = True

    async def readable(self) -> bool:
        """Whether the engine sees every tenant's chain (else log why: False)."""
        try:
            await anyio.to_thread.run_sync(tenant_heads, self.engine)
        except TenantScopeError:
            log.error(
                "detection and SIEM forwarding are off: reading every tenant's audit "
                "chain needs the owner connection on PostgreSQL (set "
                "BASTION_DATABASE_ADMIN_URL)"
            )
            return False
        return True

    async def drain(self) -> int:
        """Run every worker until it is caught up (``bastion monitor --drain``)."""
        total = 0
        for worker in self.workers:
            total += await worker.drain()
        return total

    async def aclose(self) -> None:
        for worker in self.workers:
            await worker.aclose()
        for forwarder in self.forwarders:
            await forwarder.sink.aclose()
        self.running = False
        if self._own_engine is not None:
            self._own_engine.dispose()
