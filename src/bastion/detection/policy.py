"""A tenant's ``[detection]`` and ``[response]`` policy tables.

``[detection]`` turns detection on or off for the tenant (on by default), sets how
much history rebuilds the baselines after a restart (``replay_hours``), and may set
any threshold of :class:`~bastion.detection.DetectionConfig` by its field name::

    [detection]
    enabled = true
    replay_hours = 24
    volume_min_count = 40
    probe_min_denials = 3

``[response]`` names the playbooks that run by themselves when an alert comes in;
there are none by default (containment that locks users out is the tenant's choice)::

    [response.auto]
    injection_rate = { playbook = "injection", min_severity = "high" }
    boundary_probing = { playbook = "data_leakage" }   # min_severity: medium

Unknown keys, a value of the wrong type, an unknown detector, playbook or severity
make the table invalid, and with it the policy (requests fail closed, as for every
other table).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.detection.baseline import DetectionConfig, Severity

__all__ = [
    "DETECTORS",
    "PLAYBOOKS",
    "SEVERITIES",
    "AutoResponse",
    "DetectionPolicy",
    "ResponsePolicy",
    "parse_detection_policy",
    "parse_response_policy",
]

DETECTORS = ("query_volume", "new_scope", "boundary_probing", "injection_rate", "data_type_shift")
PLAYBOOKS = ("injection", "data_leakage", "harmful_output", "compromised_credentials")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
_MAX_REPLAY_HOURS = 24 * 30
_CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(DetectionConfig)}


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """Whether the tenant's records are watched, with which thresholds."""

    enabled: bool = True
    config: DetectionConfig = field(default_factory=DetectionConfig)
    replay_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class AutoResponse:
    """Run ``playbook`` on an alert of at least ``min_severity``."""

    playbook: str
    min_severity: Severity = "medium"

    def applies(self, severity: str) -> bool:
        if severity not in SEVERITIES:
            return False
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """Per detector, the playbook that runs by itself (none by default)."""

    auto: Mapping[str, AutoResponse] = field(default_factory=dict)

    def playbook_for(self, detector: str, severity: str) -> str | None:
        rule = self.auto.get(detector)
        return rule.playbook if rule is not None and rule.applies(severity) else None


def _number(key: str, value: object, kind: type) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"detection: {key} must be a number")
    if kind is int:
        if not isinstance(value, int):
            raise ValueError(f"detection: {key} must be a whole number")
        return value
    if not math.isfinite(value):
        raise ValueError(f"detection: {key} must be finite")
    return float(value)


def parse_detection_policy(table: Mapping[str, Any]) -> DetectionPolicy:
    """The ``[detection]`` table, checked (ValueError names the key, not the value)."""
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("detection: enabled must be true or false")
    replay = _number("replay_hours", table.get("replay_hours", 24.0), float)
    if not 0 <= replay <= _MAX_REPLAY_HOURS:
        raise ValueError(f"detection: replay_hours must be between 0 and {_MAX_REPLAY_HOURS}")
    values: dict[str, int | float] = {}
    for key, value in table.items():
        if key in ("enabled", "replay_hours"):
            continue
        spec = _CONFIG_FIELDS.get(key) if isinstance(key, str) else None
        if spec is None:
            raise ValueError(f"detection: unknown key {str(key)[:40]!r}")
        kind = int if spec.type in ("int", int) else float
        values[key] = _number(key, value, kind)
        if values[key] < 0:
            raise ValueError(f"detection: {key} must not be negative")
    try:
        config = DetectionConfig(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"detection: {exc}") from None
    return DetectionPolicy(enabled=enabled, config=config, replay_hours=replay)


def parse_response_policy(table: Mapping[str, Any]) -> ResponsePolicy:
    """The ``[response]`` table, checked (ValueError names the key, not the value)."""
    unknown = sorted(str(k)[:40] for k in table if k != "auto")
    if unknown:
        raise ValueError(f"response: unknown key {unknown[0]!r} (keys: auto)")
    auto_table = table.get("auto", {})
    if not isinstance(auto_table, Mapping):
        raise ValueError("response: auto must be a table")
    auto: dict[str, AutoResponse] = {}
    for detector, rule in auto_table.items():
        if detector not in DETECTORS:
            raise ValueError(f"response.auto: unknown detector {str(detector)[:40]!r}")
        if not isinstance(rule, Mapping) or set(rule) - {"playbook", "min_severity"}:
            raise ValueError(f"response.auto.{detector}: keys are playbook and min_severity")
        playbook = rule.get("playbook")
        if playbook not in PLAYBOOKS:
            raise ValueError(f"response.auto.{detector}: playbook must be one of {PLAYBOOKS}")
        severity = rule.get("min_severity", "medium")
        if severity not in SEVERITIES:
            raise ValueError(f"response.auto.{detector}: min_severity must be one of {SEVERITIES}")
        auto[detector] = AutoResponse(playbook, severity)
    return ResponsePolicy(auto)
