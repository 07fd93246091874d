"""The red team's findings and report: typed, JSON round-trippable, no secrets inside.

A :class:`Finding` holds only what the judge decided and a short, masked excerpt; the
attack text itself is never stored in a finding, so a report can be shared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Evidence", "Finding", "Outcome", "RedTeamReport", "Severity"]


class Outcome(StrEnum):
    BLOCKED = "blocked"
    GOT_THROUGH = "got_through"
    ERROR = "error"
    SKIPPED = "skipped"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the judge saw: HTTP status, error code, the markers found, a masked excerpt."""

    status: int | None = None
    code: str | None = None
    markers: tuple[str, ...] = ()
    excerpt: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One attack's verdict. ``severity`` is what is at stake if it gets through.
    ``goal``: the goal style an injection used (``loud``, ``quiet``), else empty."""

    scenario: str
    attack_id: str
    outcome: Outcome
    severity: Severity
    evidence: Evidence = field(default_factory=Evidence)
    vector: str = ""
    source: str = ""
    goal: str = ""

    @property
    def failed(self) -> bool:
        """Got through at high or critical severity (what makes the exit code 1)."""
        return self.outcome is Outcome.GOT_THROUGH and self.severity.rank >= 2

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["severity"] = self.severity.value
        data["evidence"]["markers"] = list(self.evidence.markers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        ev = dict(data.get("evidence") or {})
        ev["markers"] = tuple(ev.get("markers") or ())
        return cls(
            scenario=str(data["scenario"]),
            attack_id=str(data["attack_id"]),
            outcome=Outcome(data["outcome"]),
            severity=Severity(data["severity"]),
            evidence=Evidence(**ev),
            vector=str(data.get("vector", "")),
            source=str(data.get("source", "")),
            goal=str(data.get("goal", "")),
        )


@dataclass(frozen=True, slots=True)
class RedTeamReport:
    """A whole run: when, against what (URL and model only), and every finding."""

    target: str
    model: str
    started_at: datetime
    finished_at: datetime
    scenarios: tuple[str, ...]
    findings: tuple[Finding, ...]
    version: int = 1

    @property
    def exit_code(self) -> int:
        """0 when nothing got through at high or critical severity, else 1."""
        return 1 if any(f.failed for f in self.findings) else 0

    def counts(self) -> dict[str, dict[str, int]]:
        """Per scenario, how many findings had each outcome."""
        table: dict[str, dict[str, int]] = {}
        for f in self.findings:
            row = table.setdefault(f.scenario, {o.value: 0 for o in Outcome})
            row[f.outcome.value] += 1
        return table

    def goal_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per scenario and goal style, how many findings had each outcome (only the
        findings whose attack carried a goal): does the lure or the goal's wording
        decide?"""
        table: dict[str, dict[str, dict[str, int]]] = {}
        for f in self.findings:
            if f.goal:
                styles = table.setdefault(f.scenario, {})
                row = styles.setdefault(f.goal, {o.value: 0 for o in Outcome})
                row[f.outcome.value] += 1
        return table

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "target": self.target,
            "model": self.model,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "scenarios": list(self.scenarios),
            "exit_code": self.exit_code,
            "summary": self.counts(),
            "summary_by_goal": self.goal_counts(),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RedTeamReport:
        return cls(
            target=str(data["target"]),
            model=str(data["model"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            scenarios=tuple(data["scenarios"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            version=int(data.get("version", 1)),
        )
