"""Anomaly detectors over the audit stream, each with a per-user baseline.

The audit chain already says what happened; these detectors say what looks wrong:
a user querying far more than they usually do (:class:`QueryVolume`), reaching for
sources or tables they never used (:class:`NewScope`), collecting refusals across
many targets (:class:`BoundaryProbing`, per user and tenant-wide), sending prompts
the injection scanner keeps flagging (:class:`InjectionRate`), or suddenly reading
other kinds of data (:class:`DataTypeShift`).

Every detector is incremental: :meth:`Detector.observe` takes one exported audit
record (the canonical body plus ``seq``, ``hash``...), in order, and returns the
alerts it raises at that point, so an alert comes out as soon as the evidence is
there and not at the end of a batch. State is per ``(tenant_id, user_id)`` in bounded
tables (see :mod:`bastion.detection.baseline`); nothing here is global, and two
engines never share anything.

Rules that hold for every detector:

* Deterministic thresholds only, all in :class:`DetectionConfig` (a tenant policy
  table will fill it). No model, no sampling, no clock: time is the records' ``ts``.
* A user is not judged against their own baseline before ``warmup_windows`` active
  windows; until then :class:`QueryVolume` uses the tenant's baseline, and the other
  baseline detectors stay quiet (a new user has no "normal scope" to leave).
* An alert carries identifiers, counts and evidence (the records' ``hash`` and
  ``request_id``, at most 50), never prompt or response text, SQL, or table names:
  whoever reads the alert follows the hashes into the audit chain, where access to
  content is controlled.
* At most one alert per detector, subject, window and severity: ``Alert.key`` is a
  hash of those, and :class:`DetectionEngine` drops a key it already emitted, so a
  replay of the same records does not page anyone twice within the engine's memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.detection.baseline import (
    Alert,
    DetectionConfig,
    Detector,
    Ewma,
    Lru,
    Severity,
    Subject,
    Window,
    access_targets,
    data_types,
    denial_targets,
    injection_hit,
    query_units,
    subject_of,
)

__all__ = [
    "ALERT_ROUTE",
    "SELF_ROUTES",
    "BoundaryProbing",
    "DataTypeShift",
    "DetectionEngine",
    "InjectionRate",
    "NewScope",
    "QueryVolume",
    "default_detectors",
]


ALERT_ROUTE = "alert"
"""The ``route`` of an alert's audit record."""
SELF_ROUTES = frozenset({ALERT_ROUTE, "incident", "governance"})
"""Routes of records the gateway writes about its own detection and response."""


def _alert(
    detector: str,
    severity: Severity,
    seen: Subject,
    config: DetectionConfig,
    summary: str,
    window: Window,
    *,
    tenant_wide: bool = False,
) -> Alert:
    user_id = None if tenant_wide else seen.user_id
    # The window the state is in: a late record is counted there, and alerted there.
    start = datetime.fromtimestamp(window.index * config.window_seconds, UTC)
    parts = (detector, severity, seen.tenant_id, user_id or "", str(window.index))
    key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return Alert(
        detector=detector,
        severity=severity,
        tenant_id=seen.tenant_id,
        user_id=user_id,
        summary=summary,
        evidence=tuple(window.evidence.hashes),
        request_ids=tuple(window.evidence.request_ids),
        window_start=start,
        window_end=start + timedelta(seconds=config.window_seconds),
        key=key,
    )


@dataclass(slots=True)
class _VolumeState:
    stats: Ewma
    window: Window = field(default_factory=Window)
    count: int = 0


class QueryVolume:
    """Queries per user per window against the user's own EWMA baseline (or the
    tenant's, for a user still warming up; ``volume_cold_count`` when neither has
    one). Each record counts its data accesses, at least one."""

    name = "query_volume"

    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._users: Lru[tuple[str, str], _VolumeState] = Lru(config.max_users)
        self._tenants: Lru[str, Ewma] = Lru(config.max_tenants)

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        cfg = self._config
        seen = seen or subject_of(record, cfg.window_seconds)
        if seen is None:
            return []
        tenant = self._tenants.get(seen.tenant_id, lambda: Ewma(cfg.volume_alpha))
        state = self._users.get(
            (seen.tenant_id, seen.user_id), lambda: _VolumeState(Ewma(cfg.volume_alpha))
        )
        if seen.window > state.window.index:
            if state.count:
                state.stats.update(state.count)
                tenant.update(state.count)
            state.window.advance(seen.window, cfg.max_evidence)
            state.count = 0
        state.count += query_units(record)
        state.window.evidence.add(record)
        if state.stats.n >= cfg.warmup_windows:
            limit = max(cfg.volume_min_count, state.stats.threshold(cfg.volume_k))
        elif tenant.n >= cfg.warmup_windows:
            limit = max(cfg.volume_min_count, tenant.threshold(cfg.volume_k))
        else:
            limit = float(cfg.volume_cold_count)
        alerts: list[Alert] = []
        levels: tuple[tuple[Severity, float], ...] = (
            ("medium", limit),
            ("high", limit * cfg.volume_high_factor),
        )
        for severity, bar in levels:
            if state.count > bar and state.window.fire(severity):
                summary = f"{state.count} queries in the window; usual limit {limit:.1f}"
                alerts.append(_alert(self.name, severity, seen, cfg, summary, state.window))
        return alerts


@dataclass(slots=True)
class _ScopeState:
    known: Lru[str, bool]
    windows: int = 0
    window: Window = field(default_factory=Window)
    new: set[str] = field(default_factory=set)


class NewScope:
    """Sources and tables a user never touched before. Learns for ``warmup_windows``
    active windows, then one new target in a window is medium, ``scope_high_count``
    is high (a whole new source with two tables is three targets)."""

    name = "new_scope"

    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._users: Lru[tuple[str, str], _ScopeState] = Lru(config.max_users)

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        cfg = self._config
        seen = seen or subject_of(record, cfg.window_seconds)
        if seen is None:
            return []
        state = self._users.get(
            (seen.tenant_id, seen.user_id), lambda: _ScopeState(Lru(cfg.scope_max_known))
        )
        if state.window.advance(seen.window, cfg.max_evidence):
            state.windows += 1
            state.new = set()
        learning = state.windows <= cfg.warmup_windows
        for target in sorted(access_targets(record)):
            if target not in state.known and not learning:
                state.new.add(target)
                state.window.evidence.add(record)
            state.known.get(target, lambda: True)
        alerts: list[Alert] = []
        count = len(state.new)
        levels: tuple[tuple[Severity, int], ...] = (("medium", 1), ("high", cfg.scope_high_count))
        for severity, bar in levels:
            if count >= bar and state.window.fire(severity):
                summary = f"{count} data targets outside the user's baseline"
                alerts.append(_alert(self.name, severity, seen, cfg, summary, state.window))
        return alerts


@dataclass(slots=True)
class _ProbeState:
    window: Window = field(default_factory=Window)
    denials: int = 0
    targets: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _TenantProbeState:
    window: Window = field(default_factory=Window)
    users: dict[str, int] = field(default_factory=dict)


_MAX_TARGETS = 1_000


class BoundaryProbing:
    """Denials per user per window across distinct targets; tenant-wide, many users
    each collecting denials in the same window (a spray, high).

    Cross-tenant probing is not derivable here: a key is bound to its tenant when it
    authenticates, so a request for another tenant's data never becomes a record in
    that tenant; it shows up as per-user denials in the key's own tenant instead.
    """

    name = "boundary_probing"

    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._users: Lru[tuple[str, str], _ProbeState] = Lru(config.max_users)
        self._tenants: Lru[str, _TenantProbeState] = Lru(config.max_tenants)

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        cfg = self._config
        seen = seen or subject_of(record, cfg.window_seconds)
        if seen is None:
            return []
        denied = denial_targets(record)
        if not denied:
            return []
        state = self._users.get((seen.tenant_id, seen.user_id), _ProbeState)
        if state.window.advance(seen.window, cfg.max_evidence):
            state.denials, state.targets = 0, set()
        state.denials += len(denied)
        if len(state.targets) < _MAX_TARGETS:
            state.targets.update(denied)
        state.window.evidence.add(record)
        alerts: list[Alert] = []
        levels: tuple[tuple[Severity, int], ...] = (("medium", 1), ("high", 2))
        for severity, factor in levels:
            if (
                state.denials >= cfg.probe_min_denials * factor
                and len(state.targets) >= cfg.probe_min_targets * factor
                and state.window.fire(severity)
            ):
                summary = f"{state.denials} denials across {len(state.targets)} targets"
                alerts.append(_alert(self.name, severity, seen, cfg, summary, state.window))
        alerts.extend(self._tenant(seen, record, len(denied)))
        return alerts

    def _tenant(self, seen: Subject, record: Mapping[str, Any], denied: int) -> list[Alert]:
        cfg = self._config
        tenant = self._tenants.get(seen.tenant_id, _TenantProbeState)
        if tenant.window.advance(seen.window, cfg.max_evidence):
            tenant.users = {}
        if seen.user_id in tenant.users or len(tenant.users) < cfg.max_users:
            tenant.users[seen.user_id] = tenant.users.get(seen.user_id, 0) + denied
        tenant.window.evidence.add(record)
        users = sum(1 for n in tenant.users.values() if n >= cfg.probe_tenant_user_denials)
        if users >= cfg.probe_tenant_min_users and tenant.window.fire("high"):
            summary = f"{users} users each denied at least {cfg.probe_tenant_user_denials} times"
            return [_alert(self.name, "high", seen, cfg, summary, tenant.window, tenant_wide=True)]
        return []


@dataclass(slots=True)
class _InjectionState:
    stats: Ewma
    window: Window = field(default_factory=Window)
    hits: int = 0


class InjectionRate:
    """Records with a blocking or high-scoring ``prompt_injection`` verdict, per user
    per window, against the user's EWMA of past active windows (one without a hit
    counts as 0): above baseline and at least ``injection_min_count`` is medium, a burst of
    ``injection_burst`` is high whatever the baseline."""

    name = "injection_rate"

    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._users: Lru[tuple[str, str], _InjectionState] = Lru(config.max_users)

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        cfg = self._config
        seen = seen or subject_of(record, cfg.window_seconds)
        if seen is None:
            return []
        state = self._users.get(
            (seen.tenant_id, seen.user_id), lambda: _InjectionState(Ewma(cfg.injection_alpha))
        )
        if seen.window > state.window.index:
            if state.window.index >= 0:
                state.stats.update(state.hits)
            state.window.advance(seen.window, cfg.max_evidence)
            state.hits = 0
        if not injection_hit(record, cfg.injection_min_score):
            return []
        state.hits += 1
        state.window.evidence.add(record)
        bar = max(float(cfg.injection_min_count), state.stats.threshold(cfg.injection_k))
        alerts: list[Alert] = []
        summary = f"{state.hits} prompt-injection findings in the window"
        if state.hits >= bar and state.window.fire("medium"):
            alerts.append(_alert(self.name, "medium", seen, cfg, summary, state.window))
        if state.hits >= cfg.injection_burst and state.window.fire("high"):
            alerts.append(_alert(self.name, "high", seen, cfg, summary, state.window))
        return alerts


@dataclass(slots=True)
class _ShiftState:
    history: Lru[str, int]
    total: int = 0
    windows: int = 0
    window: Window = field(default_factory=Window)
    current: dict[str, int] = field(default_factory=dict)


class DataTypeShift:
    """The share of a window's data types (tables read, finding types) that the user
    never or rarely (below ``shift_rare_share`` of their history) saw before. After
    warm-up, a window with ``shift_min_accesses`` accesses of which more than
    ``shift_share`` are rare is medium; ``shift_high_share`` or more is high."""

    name = "data_type_shift"

    def __init__(self, config: DetectionConfig) -> None:
        self._config = config
        self._users: Lru[tuple[str, str], _ShiftState] = Lru(config.max_users)

    def _rare(self, state: _ShiftState, kind: str) -> bool:
        seen_count = state.history.peek(kind) or 0
        return state.total == 0 or seen_count < self._config.shift_rare_share * state.total

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        cfg = self._config
        seen = seen or subject_of(record, cfg.window_seconds)
        if seen is None:
            return []
        state = self._users.get(
            (seen.tenant_id, seen.user_id), lambda: _ShiftState(Lru(cfg.shift_max_types))
        )
        if state.window.advance(seen.window, cfg.max_evidence):
            for kind, count in state.current.items():
                state.history.put(kind, (state.history.peek(kind) or 0) + count)
                state.total += count
            state.windows += 1
            state.current = {}
        kinds = data_types(record)
        for kind in kinds:
            state.current[kind] = state.current.get(kind, 0) + 1
        if state.windows <= cfg.warmup_windows or not kinds:
            return []
        if any(self._rare(state, kind) for kind in kinds):
            state.window.evidence.add(record)
        accesses = sum(state.current.values())
        if accesses < cfg.shift_min_accesses:
            return []
        rare = sum(n for kind, n in state.current.items() if self._rare(state, kind))
        share = rare / accesses
        alerts: list[Alert] = []
        levels: tuple[tuple[Severity, float], ...] = (
            ("medium", cfg.shift_share),
            ("high", cfg.shift_high_share),
        )
        for severity, bar in levels:
            if share > bar and state.window.fire(severity):
                summary = f"{share:.0%} of {accesses} data accesses are of types new to the user"
                alerts.append(_alert(self.name, severity, seen, cfg, summary, state.window))
        return alerts


def default_detectors(config: DetectionConfig) -> tuple[Detector, ...]:
    """One of each detector, sharing ``config``."""
    return (
        QueryVolume(config),
        NewScope(config),
        BoundaryProbing(config),
        InjectionRate(config),
        DataTypeShift(config),
    )


class DetectionEngine:
    """Fans each record out to the detectors, in order, and drops alerts whose key it
    already emitted (the memory of keys is bounded like everything else)."""

    def __init__(
        self,
        config: DetectionConfig | None = None,
        detectors: Iterable[Detector] | None = None,
    ) -> None:
        self.config = config or DetectionConfig()
        self.detectors: tuple[Detector, ...] = (
            tuple(detectors) if detectors is not None else default_detectors(self.config)
        )
        self._emitted: Lru[str, bool] = Lru(self.config.max_users)

    def observe(self, record: Mapping[str, Any]) -> list[Alert]:
        """The new alerts ``record`` raises, detector by detector.

        Records the gateway writes about itself (routes in :data:`SELF_ROUTES`: alerts,
        incident steps) are not user activity and raise nothing; an alert record's
        ``extra.key`` is remembered, so replaying a chain that already holds an alert
        does not raise it again.
        """
        if record.get("route") in SELF_ROUTES:
            extra = record.get("extra")
            key = extra.get("key") if isinstance(extra, Mapping) else None
            if record.get("route") == ALERT_ROUTE and isinstance(key, str):
                self._emitted.put(key, True)
            return []
        # Parsed once for every detector (they share the engine's window).
        seen = subject_of(record, self.config.window_seconds)
        if seen is None:
            return []
        alerts: list[Alert] = []
        for detector in self.detectors:
            for alert in detector.observe(record, seen):
                if alert.key in self._emitted:
                    continue
                self._emitted.put(alert.key, True)
                alerts.append(alert)
        return alerts

    def observe_all(self, records: Iterable[Mapping[str, Any]]) -> list[Alert]:
        """Every alert raised over ``records``, in order."""
        return [alert for record in records for alert in self.observe(record)]
