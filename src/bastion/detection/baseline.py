"""What the detectors share: the alert, the thresholds, memory, and record reading.

:class:`Alert`, :class:`DetectionConfig` and the :class:`Detector` protocol live here,
beside the state primitives, so that a detector module depends on this one and
nothing depends on a detector.

Windows
    Time is cut into tumbling windows of ``window_seconds`` aligned on the Unix epoch
    (:func:`window_of`), so that every detector and every replay of the same records
    agrees on where a window starts. Records arrive in order; a record stamped before
    the window a user is in (clock skew between gateway workers) is counted in the
    current window rather than reopening a closed one.

Baselines
    A user's baseline is learned from their *active* windows only (windows in which
    they sent at least one request). Counting the idle nights and weekends as zeros
    would drag the mean down and make every working morning look like a burst.
    :class:`Ewma` keeps an exponentially weighted mean and variance, so old habits fade
    and memory is constant per user. The standard deviation has a Poisson floor
    (``sqrt(mean)``): a user who made exactly ten queries in each of their windows has
    zero variance, and eleven is not an anomaly.

Bounds
    Every per-user or per-tenant table is an :class:`Lru` with a fixed capacity: the
    stream is unbounded and an attacker can mint user ids, so a forgotten user is the
    price of a memory bound (they start a new warm-up; detectors are quiet while
    warming up, which is documented, not hidden).

Reading records
    The helpers at the end read only identifiers and decisions (sources, tables,
    guard reasons, scanner names, finding types), never ``prompt`` or ``response``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

__all__ = [
    "DENIAL_CODES",
    "MAX_EVIDENCE",
    "Alert",
    "DetectionConfig",
    "Detector",
    "Evidence",
    "Ewma",
    "Lru",
    "Severity",
    "Subject",
    "Window",
    "access_targets",
    "data_types",
    "denial_targets",
    "injection_hit",
    "parse_ts",
    "query_units",
    "subject_of",
    "window_of",
]

K = TypeVar("K")
V = TypeVar("V")

DENIAL_CODES = frozenset({"permission_denied", "not_found", "forbidden", "not_allowed"})
"""``error_code`` values that mean the caller asked for something they may not have."""

_INJECTION_SCANNER = "prompt_injection"
_MAX_TYPES_PER_RECORD = 64

Severity = Literal["low", "medium", "high", "critical"]
MAX_EVIDENCE = 50


@dataclass(frozen=True, slots=True)
class Alert:
    """One finding of one detector. ``user_id`` is None for a tenant-wide alert."""

    detector: str
    severity: Severity
    tenant_id: str
    user_id: str | None
    summary: str
    evidence: tuple[str, ...]
    request_ids: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    key: str


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    """Every threshold the detectors use. Defaults suit a 10-minute window."""

    window_seconds: int = 600
    warmup_windows: int = 6
    max_users: int = 10_000
    max_tenants: int = 1_000
    max_evidence: int = MAX_EVIDENCE
    # QueryVolume: alert above max(min_count, mean + k * std); high at high_factor x.
    volume_alpha: float = 0.2
    volume_k: float = 3.0
    volume_min_count: int = 20
    volume_cold_count: int = 100
    volume_high_factor: float = 2.0
    # NewScope: each new source or source/table is one target.
    scope_max_known: int = 1_000
    scope_high_count: int = 3
    # BoundaryProbing: per user, and tenant-wide over users with enough denials.
    probe_min_denials: int = 5
    probe_min_targets: int = 3
    probe_tenant_user_denials: int = 2
    probe_tenant_min_users: int = 5
    # InjectionRate.
    injection_min_score: float = 0.8
    injection_alpha: float = 0.2
    injection_k: float = 3.0
    injection_min_count: int = 2
    injection_burst: int = 5
    # DataTypeShift: a type is "rare" below rare_share of the user's history.
    shift_max_types: int = 1_000
    shift_rare_share: float = 0.01
    shift_min_accesses: int = 10
    shift_share: float = 0.5
    shift_high_share: float = 0.9

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("window_seconds must be positive")
        if not 1 <= self.max_evidence <= MAX_EVIDENCE:
            raise ValueError(f"max_evidence must be between 1 and {MAX_EVIDENCE}")
        for name in ("volume_alpha", "injection_alpha"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if min(self.max_users, self.max_tenants, self.scope_max_known, self.shift_max_types) < 1:
            raise ValueError("table capacities must be at least 1")


class Detector(Protocol):
    """Takes records in order, keeps its own bounded state, returns new alerts."""

    name: str

    def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
        """New alerts for ``record``; ``seen``: its subject, when the caller parsed it
        already (:func:`subject_of` with the same window)."""
        ...


class Lru(Generic[K, V]):
    """A mapping that forgets its least recently used key beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, factory: Callable[[], V]) -> V:
        """The value for ``key`` (created by ``factory`` if absent), marked recent."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = factory()
        self._items[key] = value
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return value

    def peek(self, key: K) -> V | None:
        """The value for ``key`` without marking it recent; None if absent."""
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        """Set ``key`` to ``value``, marked recent."""
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(self._items.items())


@dataclass(slots=True)
class Ewma:
    """Exponentially weighted mean and variance of a series of window counts."""

    alpha: float
    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def update(self, value: float) -> None:
        if self.n == 0:
            self.mean, self.var = value, 0.0
        else:
            delta = value - self.mean
            self.mean += self.alpha * delta
            self.var = (1.0 - self.alpha) * (self.var + self.alpha * delta * delta)
        self.n += 1

    @property
    def std(self) -> float:
        """Standard deviation with a Poisson floor of ``sqrt(mean)``."""
        return max(math.sqrt(max(self.var, 0.0)), math.sqrt(max(self.mean, 0.0)))

    def threshold(self, k: float) -> float:
        return self.mean + k * self.std


@dataclass(slots=True)
class Evidence:
    """Record hashes and request ids behind an alert, at most ``limit``, first kept."""

    limit: int
    hashes: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)

    def add(self, record: Mapping[str, Any]) -> None:
        if len(self.hashes) >= self.limit:
            return
        digest = record.get("hash")
        if not isinstance(digest, str) or digest in self.hashes:
            return
        self.hashes.append(digest)
        request_id = record.get("request_id")
        self.request_ids.append(request_id if isinstance(request_id, str) else "")


@dataclass(slots=True)
class Window:
    """The window a user (or tenant) is in: its index, the severities it already
    raised, and the evidence gathered in it."""

    index: int = -1
    fired: set[str] = field(default_factory=set)
    evidence: Evidence = field(default_factory=lambda: Evidence(MAX_EVIDENCE))

    def advance(self, index: int, evidence_limit: int) -> bool:
        """Move to ``index`` if it is later; True when a new window opened."""
        if index <= self.index:
            return False
        self.index = index
        self.fired = set()
        self.evidence = Evidence(evidence_limit)
        return True

    def fire(self, severity: str) -> bool:
        """True the first time ``severity`` fires in this window."""
        if severity in self.fired:
            return False
        self.fired.add(severity)
        return True


def parse_ts(value: object) -> datetime | None:
    """An aware UTC datetime from a record's ``ts`` (ISO text or datetime), else None."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed.astimezone(UTC)


def window_of(ts: datetime, seconds: int) -> int:
    """The epoch-aligned window index of ``ts``."""
    return int(ts.timestamp() // seconds)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose record this is, and in which window."""

    tenant_id: str
    user_id: str
    window: int


def subject_of(record: Mapping[str, Any], window_seconds: int) -> Subject | None:
    """The record's subject and window; None for a record that names neither (skipped:
    a detector must not fail the stream on one malformed line)."""
    tenant_id, user_id = record.get("tenant_id"), record.get("user_id")
    ts = parse_ts(record.get("ts"))
    if not isinstance(tenant_id, str) or not isinstance(user_id, str) or ts is None:
        return None
    return Subject(tenant_id, user_id, window_of(ts, window_seconds))


def _dicts(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _tables(access: Mapping[str, Any]) -> list[str]:
    tables = access.get("tables")
    if not isinstance(tables, list):
        return []
    return [t for t in tables if isinstance(t, str)]


def query_units(record: Mapping[str, Any]) -> int:
    """How much one record counts for volume: its data accesses, and at least one (a
    chat request that touched no data is still a query to the gateway)."""
    return max(1, len(_dicts(record.get("data_sources"))))


def access_targets(record: Mapping[str, Any]) -> set[str]:
    """The sources and ``source/table`` pairs a record's data accesses aimed at
    (attempts count, allowed or not: the question is what the user reached for)."""
    targets: set[str] = set()
    for access in _dicts(record.get("data_sources")):
        source = access.get("source")
        if not isinstance(source, str):
            continue
        targets.add(source)
        targets.update(f"{source}/{table}" for table in _tables(access))
    return targets


def denial_targets(record: Mapping[str, Any]) -> list[str]:
    """One entry per denial in the record, naming what was denied.

    Denials are: data accesses whose guard reason is not ``ok`` (named by source and
    table, or by source and statement hash when the guard names no table), refused actions,
    an ``error_code`` in :data:`DENIAL_CODES`, and ``blocked_*`` / ``*_refused``
    outcomes. A record already counted through its accesses or actions is not
    counted again through its outcome.
    """
    denied: list[str] = []
    for access in _dicts(record.get("data_sources")):
        guard = access.get("guard")
        if isinstance(guard, str) and guard != "ok":
            source = access.get("source")
            tables = _tables(access)
            digest = access.get("query_sha256")
            if tables:
                name = f"{source}/{tables[0]}"
            elif isinstance(digest, str) and digest:
                # The guard names no table it refused as unknown (that would confirm
                # or deny it exists): each distinct statement is a distinct probe.
                name = f"{source}#{digest[:16]}"
            else:
                name = str(source)
            denied.append(f"data:{name}")
    for action in _dicts(record.get("actions")):
        if action.get("status") == "refused":
            denied.append(f"action:{action.get('tool')}")
    if denied:
        return denied
    route = str(record.get("route") or "")
    outcome = str(record.get("outcome") or "")
    code = record.get("error_code")
    if outcome == "action_refused":
        extra = record.get("extra")
        tool = extra.get("tool") if isinstance(extra, Mapping) else None
        return [f"action:{tool}"]
    if isinstance(code, str) and code in DENIAL_CODES:
        return [f"route:{route}"]
    if outcome.startswith("blocked_") or outcome.endswith("_refused"):
        return [f"{outcome}:{route}"]
    return []


def injection_hit(record: Mapping[str, Any], min_score: float) -> bool:
    """True when a ``prompt_injection`` verdict blocked or scored at least ``min_score``."""
    for verdict in _dicts(record.get("verdicts")):
        if verdict.get("scanner") != _INJECTION_SCANNER:
            continue
        score = verdict.get("score")
        if verdict.get("decision") == "block":
            return True
        if isinstance(score, int | float) and score >= min_score:
            return True
    return False


def data_types(record: Mapping[str, Any]) -> list[str]:
    """The kinds of data a record touched: ``table:<source>/<table>`` per table read and
    ``finding:<type>`` per scanner finding type (PII, secrets...), one entry each.

    Injection findings describe an attack, not data, and are left out.
    """
    kinds: set[str] = set()
    for access in _dicts(record.get("data_sources")):
        source = access.get("source")
        kinds.update(f"table:{source}/{table}" for table in _tables(access))
    for verdict in _dicts(record.get("verdicts")):
        if verdict.get("scanner") == _INJECTION_SCANNER:
            continue
        for finding in _dicts(verdict.get("findings")):
            kind = finding.get("type")
            if isinstance(kind, str):
                kinds.add(f"finding:{kind}")
    return sorted(kinds)[:_MAX_TYPES_PER_RECORD]
