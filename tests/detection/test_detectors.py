"""Scripted audit traffic through each detector: what must alert, and what must not.

Records are built as exported audit lines (body fields plus ``seq`` and ``hash``) by
:class:`Traffic`, with explicit timestamps: minute ``m`` after ``START`` falls in
window ``m // 10`` with the default 10-minute windows. Nothing sleeps or reads a clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.detection import (
    MAX_EVIDENCE,
    Alert,
    BoundaryProbing,
    DataTypeShift,
    DetectionConfig,
    DetectionEngine,
    InjectionRate,
    NewScope,
    QueryVolume,
)
from bastion.detection.baseline import Subject, data_types, denial_targets, injection_hit

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # on a 10-minute boundary
CONFIG = DetectionConfig()


def access(source: str, *tables: str, guard: str = "ok") -> dict[str, Any]:
    return {"source": source, "tables": list(tables), "guard": guard, "query_sha256": "0" * 64}


def injection(decision: str = "block", score: float = 0.97) -> dict[str, Any]:
    return {
        "scanner": "prompt_injection",
        "stage": "input",
        "decision": decision,
        "score": score,
        "reason": "",
        "target": "messages[0]",
        "findings": [],
    }


def pii(*kinds: str) -> dict[str, Any]:
    findings = [{"type": k, "start": 0, "end": 1, "score": 1.0} for k in kinds]
    return {
        "scanner": "pii",
        "stage": "output",
        "decision": "redact",
        "score": 1.0,
        "reason": "",
        "target": "choices[0]",
        "findings": findings,
    }


class Traffic:
    """Builds records with increasing ``seq`` and distinct hashes."""

    def __init__(self) -> None:
        self.seq = 0

    def record(
        self,
        minute: float,
        user: str = "alice",
        tenant: str = "acme",
        *,
        sources: Iterable[dict[str, Any]] = (),
        verdicts: Iterable[dict[str, Any]] = (),
        actions: Iterable[dict[str, Any]] = (),
        outcome: str = "allowed",
        error_code: str | None = None,
    ) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "hash": hashlib.sha256(f"{tenant}:{self.seq}".encode()).hexdigest(),
            "prev_hash": "0" * 64,
            "request_id": f"req-{self.seq}",
            "ts": (START + timedelta(minutes=minute)).isoformat(timespec="microseconds"),
            "tenant_id": tenant,
            "user_id": user,
            "key_id": f"key-{user}",
            "route": "/v1/chat/completions",
            "model": "m",
            "outcome": outcome,
            "error_code": error_code,
            "data_sources": list(sources),
            "verdicts": list(verdicts),
            "actions": list(actions),
            "prompt": [{"role": "user", "content": "SECRET PROMPT TEXT"}],
            "response": "SECRET RESPONSE TEXT",
            "extra": {},
        }

    def window(
        self, index: int, count: int, user: str = "alice", **kw: Any
    ) -> list[dict[str, Any]]:
        """``count`` records spread over window ``index``."""
        return [self.record(index * 10 + i * 9 / max(count, 1), user, **kw) for i in range(count)]


def feed(detector: Any, records: Iterable[Mapping[str, Any]]) -> list[Alert]:
    return [alert for record in records for alert in detector.observe(record)]


def hashes(records: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(r["hash"] for r in records)


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


def crm() -> list[dict[str, Any]]:
    return [access("crm", "accounts")]


# QueryVolume ----------------------------------------------------------------------


def test_volume_steady_usage_stays_quiet(traffic: Traffic) -> None:
    detector = QueryVolume(CONFIG)
    records = [r for w in range(12) for r in traffic.window(w, 8 + w % 3, sources=crm())]
    assert feed(detector, records) == []


def test_volume_spike_against_own_baseline(traffic: Traffic) -> None:
    detector = QueryVolume(CONFIG)
    assert feed(detector, [r for w in range(8) for r in traffic.window(w, 8, sources=crm())]) == []
    spike = traffic.window(8, 45, sources=crm())
    alerts = feed(detector, spike)
    assert [a.severity for a in alerts] == ["medium", "high"]
    medium, high = alerts
    # mean 8, std floor sqrt(8): the bar is max(20, 16.5) = 20, crossed by the 21st query
    assert medium.evidence == hashes(spike[:21])
    assert medium.request_ids == tuple(r["request_id"] for r in spike[:21])
    assert high.evidence == hashes(spike[:41])
    assert (medium.tenant_id, medium.user_id, medium.detector) == ("acme", "alice", "query_volume")
    assert medium.window_start == START + timedelta(minutes=80)
    assert medium.window_end == START + timedelta(minutes=90)


def test_volume_counts_data_accesses_not_just_requests(traffic: Traffic) -> None:
    detector = QueryVolume(CONFIG)
    feed(detector, [r for w in range(8) for r in traffic.window(w, 8, sources=crm())])
    many = [access("crm", f"t{i}") for i in range(5)]
    alerts = feed(detector, traffic.window(8, 5, sources=many))  # 25 accesses
    assert [a.severity for a in alerts] == ["medium"]


def test_volume_new_user_judged_against_tenant(traffic: Traffic) -> None:
    detector = QueryVolume(CONFIG)
    for user in ("bob", "carol"):
        feed(detector, [r for w in range(5) for r in traffic.window(w, 8, user, sources=crm())])
    assert feed(detector, traffic.window(6, 9, "dave", sources=crm())) == []
    burst = traffic.window(6, 30, "eve", sources=crm())
    alerts = feed(detector, burst)
    assert [(a.user_id, a.severity) for a in alerts] == [("eve", "medium")]
    assert alerts[0].evidence == hashes(burst[:21])


def test_volume_cold_start_uses_absolute_bar(traffic: Traffic) -> None:
    detector = QueryVolume(CONFIG)
    assert feed(detector, traffic.window(0, 90)) == []
    alerts = feed(detector, traffic.window(1, 101, "bob"))
    assert [a.severity for a in alerts] == ["medium"]
    assert len(alerts[0].evidence) == MAX_EVIDENCE


# NewScope -------------------------------------------------------------------------


def test_new_scope_after_warmup(traffic: Traffic) -> None:
    detector = NewScope(CONFIG)
    baseline = [r for w in range(6) for r in traffic.window(w, 3, sources=crm())]
    assert feed(detector, baseline) == []
    assert feed(detector, traffic.window(6, 3, sources=crm())) == []
    first = traffic.record(70, sources=[access("crm", "opportunities")])
    alerts = feed(detector, [first])
    assert [(a.severity, a.evidence) for a in alerts] == [("medium", (first["hash"],))]
    second = traffic.record(72, sources=[access("hr", "salaries", "reviews")])
    alerts = feed(detector, [second])
    assert [a.severity for a in alerts] == ["high"]
    assert alerts[0].evidence == (first["hash"], second["hash"])
    # once seen, a target is part of the scope: the next window is quiet
    again = traffic.record(80, sources=[access("hr", "salaries"), access("crm", "opportunities")])
    assert feed(detector, [again]) == []


def test_new_scope_quiet_while_learning_and_for_known_targets(traffic: Traffic) -> None:
    detector = NewScope(CONFIG)
    learning = [traffic.record(w * 10, "bob", sources=[access(f"src{w}", "t")]) for w in range(6)]
    assert feed(detector, learning) == []
    known = [traffic.record(60 + i, "bob", sources=[access(f"src{i}", "t")]) for i in range(6)]
    assert feed(detector, known) == []


# BoundaryProbing ------------------------------------------------------------------


def test_denials_are_read_from_every_place() -> None:
    t = Traffic()
    assert denial_targets(t.record(0, sources=[access("hr", "salaries", guard="table_denied")]))
    assert denial_targets(t.record(0, actions=[{"tool": "refund", "status": "refused"}]))
    assert denial_targets(t.record(0, outcome="error", error_code="permission_denied"))
    assert denial_targets(t.record(0, outcome="blocked_input"))
    assert denial_targets(t.record(0, outcome="query_refused"))
    assert denial_targets(t.record(0, sources=crm())) == []
    assert denial_targets(t.record(0, outcome="error", error_code="upstream_timeout")) == []


def test_probing_across_targets(traffic: Traffic) -> None:
    detector = BoundaryProbing(CONFIG)
    probes = [
        traffic.record(i, sources=[access("hr", f"t{i % 3}", guard="table_denied")])
        for i in range(5)
    ]
    alerts = feed(detector, probes)
    assert [a.severity for a in alerts] == ["medium"]
    assert alerts[0].evidence == hashes(probes)
    more = [
        traffic.record(5 + i * 0.5, outcome="error", error_code="permission_denied")
        for i in range(2)
    ] + [
        traffic.record(6 + i * 0.5, sources=[access(f"s{i}", "x", guard="source_denied")])
        for i in range(4)
    ]
    alerts = feed(detector, more)
    assert [a.severity for a in alerts] == ["high"]


def test_occasional_or_repeated_single_target_denials_are_quiet(traffic: Traffic) -> None:
    detector = BoundaryProbing(CONFIG)
    single = [
        traffic.record(w * 10, sources=[access("hr", "salaries", guard="table_denied")])
        for w in range(10)
    ]
    assert feed(detector, single) == []
    # a user retrying the same forbidden table is not exploring the boundary
    same = traffic.window(10, 8, sources=[access("hr", "salaries", guard="table_denied")])
    assert feed(detector, same) == []


def test_tenant_wide_spray(traffic: Traffic) -> None:
    detector = BoundaryProbing(CONFIG)
    records = [
        traffic.record(i, f"user{i % 5}", outcome="error", error_code="permission_denied")
        for i in range(10)
    ]
    alerts = feed(detector, records)
    assert [(a.severity, a.user_id) for a in alerts] == [("high", None)]
    assert alerts[0].evidence == hashes(records)
    # another tenant's identical user ids are counted apart
    other = [traffic.record(i, f"user{i}", "globex", outcome="blocked_input") for i in range(4)]
    assert feed(detector, other) == []


# InjectionRate --------------------------------------------------------------------


def test_injection_hits_need_block_or_high_score() -> None:
    t = Traffic()
    assert injection_hit(t.record(0, verdicts=[injection()]), 0.8)
    assert injection_hit(t.record(0, verdicts=[injection("allow", 0.85)]), 0.8)
    assert not injection_hit(t.record(0, verdicts=[injection("allow", 0.3)]), 0.8)
    assert not injection_hit(t.record(0, verdicts=[pii("email")]), 0.8)


def test_injection_burst(traffic: Traffic) -> None:
    detector = InjectionRate(CONFIG)
    feed(detector, [r for w in range(6) for r in traffic.window(w, 5)])
    attack = traffic.window(6, 6, verdicts=[injection()])
    alerts = feed(detector, attack)
    assert [a.severity for a in alerts] == ["medium", "high"]
    assert alerts[0].evidence == hashes(attack[:2])
    assert alerts[1].evidence == hashes(attack[:5])


def test_injection_occasional_hit_is_quiet(traffic: Traffic) -> None:
    detector = InjectionRate(CONFIG)
    records = []
    for w in range(10):
        records += traffic.window(w, 4)
        records.append(traffic.record(w * 10 + 9.5, verdicts=[injection("allow", 0.9)]))
    assert feed(detector, records) == []


def test_injection_baseline_raises_the_bar(traffic: Traffic) -> None:
    detector = InjectionRate(CONFIG)  # e.g. a red-team account: two hits every window
    feed(detector, [r for w in range(8) for r in traffic.window(w, 2, verdicts=[injection()])])
    assert feed(detector, traffic.window(8, 3, verdicts=[injection()])) == []
    alerts = feed(detector, traffic.window(9, 5, verdicts=[injection()]))
    assert [a.severity for a in alerts] == ["high"]


# DataTypeShift --------------------------------------------------------------------


def test_data_types_of_a_record() -> None:
    record = Traffic().record(
        0, sources=[access("crm", "accounts")], verdicts=[pii("email", "iban"), injection()]
    )
    assert data_types(record) == ["finding:email", "finding:iban", "table:crm/accounts"]


def _shift_baseline(traffic: Traffic, detector: DataTypeShift) -> None:
    records = [r for w in range(7) for r in traffic.window(w, 5, sources=crm())]
    assert feed(detector, records) == []


def test_shift_to_new_data_types(traffic: Traffic) -> None:
    detector = DataTypeShift(CONFIG)
    _shift_baseline(traffic, detector)
    known = traffic.window(7, 3, sources=crm())
    new = [traffic.record(73 + i, sources=[access("hr", "salaries")]) for i in range(7)]
    alerts = feed(detector, known + new)
    assert [a.severity for a in alerts] == ["medium"]  # 7 of 10 accesses are new
    assert alerts[0].evidence == hashes(new)


def test_complete_shift_is_high(traffic: Traffic) -> None:
    detector = DataTypeShift(CONFIG)
    _shift_baseline(traffic, detector)
    new = traffic.window(7, 10, sources=[access("hr", "salaries")], verdicts=[pii("iban")])
    alerts = feed(detector, new)
    assert [a.severity for a in alerts] == ["medium", "high"]
    assert alerts[1].evidence == hashes(new[:5])  # two types a record: 10 accesses by the 5th


def test_shift_quiet_for_steady_mix_and_small_windows(traffic: Traffic) -> None:
    detector = DataTypeShift(CONFIG)
    mix = [access("crm", "accounts"), access("crm", "leads")]
    assert feed(detector, [r for w in range(10) for r in traffic.window(w, 6, sources=mix)]) == []
    few = traffic.window(10, 4, sources=[access("hr", "salaries")])
    assert feed(detector, few) == []


# Engine ---------------------------------------------------------------------------


def test_engine_runs_every_detector_and_hides_content(traffic: Traffic) -> None:
    engine = DetectionEngine()
    baseline = [r for w in range(8) for r in traffic.window(w, 4, sources=crm())]
    assert engine.observe_all(baseline) == []
    attack = [
        traffic.record(
            80 + i * 0.2,
            sources=[access("hr", f"t{i}", guard="table_denied")],
            verdicts=[injection()],
        )
        for i in range(30)
    ]
    alerts = engine.observe_all(attack)
    found = {(a.detector, a.severity) for a in alerts}
    assert {
        ("query_volume", "medium"),
        ("new_scope", "high"),
        ("boundary_probing", "high"),
        ("injection_rate", "high"),
        ("data_type_shift", "high"),
    } <= found
    assert len({a.key for a in alerts}) == len(alerts)
    for alert in alerts:
        text = repr(alert)
        assert "SECRET" not in text and "hr" not in alert.summary
        assert len(alert.evidence) <= MAX_EVIDENCE


def test_engine_drops_repeated_keys(traffic: Traffic) -> None:
    class Twice:
        name = "twice"

        def __init__(self) -> None:
            self.inner = NewScope(DetectionConfig(warmup_windows=0))

        def observe(self, record: Mapping[str, Any], seen: Subject | None = None) -> list[Alert]:
            alerts = self.inner.observe(record, seen)
            return alerts + alerts

    engine = DetectionEngine(detectors=[Twice()])
    alerts = engine.observe(traffic.record(0, sources=crm()))
    assert len(alerts) == 1


def test_malformed_records_are_skipped() -> None:
    engine = DetectionEngine()
    assert engine.observe({"tenant_id": "acme", "user_id": "alice", "ts": "not a time"}) == []
    assert engine.observe({"tenant_id": "acme", "ts": START.isoformat()}) == []
    assert engine.observe({"tenant_id": "acme", "user_id": "a", "ts": "2026-01-05T09:00"}) == []


def test_config_is_checked_and_frozen() -> None:
    with pytest.raises(ValueError, match="max_evidence"):
        DetectionConfig(max_evidence=51)
    with pytest.raises(ValueError, match="volume_alpha"):
        DetectionConfig(volume_alpha=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.window_seconds = 1  # type: ignore[misc]


def test_memory_is_bounded(traffic: Traffic) -> None:
    detector = QueryVolume(DetectionConfig(max_users=3))
    feed(detector, [traffic.record(0, f"user{i}") for i in range(50)])
    assert len(detector._users) == 3


def test_late_record_counts_in_the_current_window(traffic: Traffic) -> None:
    detector = BoundaryProbing(CONFIG)
    denied: dict[str, Any] = {"outcome": "error", "error_code": "permission_denied"}
    feed(detector, [traffic.record(20 + i, **denied) for i in range(4)])
    late = traffic.record(5, sources=[access("a", "b", guard="table_denied")])
    alerts = feed(detector, [late, traffic.record(25, outcome="blocked_input")])
    assert [a.window_start for a in alerts] == [START + timedelta(minutes=20)]
