"""GatewayMetrics: bounded labels, counts derived from audit events, its own registry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bastion.audit import AuditEvent
from bastion.observability import GatewayMetrics, code_label, route_label
from bastion.settings import Settings, unsafe_reasons

T0 = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
GOOD_KEK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def event(**overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "ts": T0,
        "request_id": "req-1",
        "tenant_id": "tenant-a",
        "user_id": "user-1",
        "key_id": "key-1",
        "model": "gpt-test",
        "route": "/v1/chat/completions",
        "outcome": "allowed",
        "prompt": [{"role": "user", "content": "tell bob@example.com the plan"}],
        "response": "the secret plan",
        "latency_ms": 12.5,
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: GatewayMetrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize(
    "route",
    [
        "/v1/chat/completions",
        "POST /v1/actions/{action_id}/confirm",
        "POST /v1/sources/{source_id}/query",
        "GET /admin/v1/audit:verify",
        "x" * 80,
    ],
)
def test_route_templates_are_kept(route: str) -> None:
    assert route_label(route) == route


@pytest.mark.parametrize(
    "route",
    [
        "",
        "x" * 81,
        "/v1/users/alice@acme.test",
        "/v1/chat\ncompletions",
        "/v1/caf\u00e9",
        "/v1/x?token=abc",
        "/v1/%2e%2e",
        None,
        42,
        b"/v1/chat/completions",
    ],
)
def test_unsafe_routes_become_other(route: object) -> None:
    assert route_label(route) == "other"


@pytest.mark.parametrize(
    "code", ["allowed", "blocked_input", "injection.hijack", "a:b-c", "x" * 64]
)
def test_codes_are_kept(code: str) -> None:
    assert code_label(code) == code


@pytest.mark.parametrize(
    "code",
    ["", "x" * 65, "ignore previous instructions", "bob@example.com", "a/b", "{x}", "é", None, 3],
)
def test_unsafe_codes_become_other(code: object) -> None:
    """No spaces (no sentence of a prompt), no '@' (no email address), bounded length."""
    assert code_label(code) == "other"


def test_observe_counts_request_latency_blocks_and_record() -> None:
    metrics = GatewayMetrics()
    metrics.observe(event())
    metrics.observe(
        event(
            outcome="blocked_input",
            latency_ms=2500.0,
            verdicts=[
                {"stage": "input", "scanner": "size", "decision": "allow", "reason": ""},
                {
                    "stage": "input",
                    "scanner": "prompt_injection",
                    "decision": "block",
                    "reason": "injection.hijack",
                },
                {"stage": "output", "scanner": "x", "decision": "block", "reason": "bad reason!"},
                "not a verdict",
            ],
        )
    )
    route = "/v1/chat/completions"
    assert value(metrics, "bastion_requests_total", route=route, outcome="allowed") == 1
    assert value(metrics, "bastion_requests_total", route=route, outcome="blocked_input") == 1
    assert value(metrics, "bastion_blocks_total", stage="input", reason="injection.hijack") == 1
    assert value(metrics, "bastion_blocks_total", stage="output", reason="other") == 1
    assert value(metrics, "bastion_request_duration_seconds_count", route=route) == 2
    assert value(metrics, "bastion_request_duration_seconds_sum", route=route) == 2.5125
    assert value(metrics, "bastion_request_duration_seconds_bucket", route=route, le="0.025") == 1
    assert value(metrics, "bastion_request_duration_seconds_bucket", route=route, le="5.0") == 2
    assert value(metrics, "bastion_audit_records_total") == 2


def test_buckets_span_a_millisecond_to_thirty_seconds() -> None:
    metrics = GatewayMetrics()
    metrics.observe(event(latency_ms=0.5))
    metrics.observe(event(latency_ms=60_000.0))
    buckets = {
        dict(labels)["le"]: v
        for (name, labels), v in samples(metrics).items()
        if name == "bastion_request_duration_seconds_bucket"
    }
    assert buckets["0.001"] == 1 and buckets["30.0"] == 1 and buckets["+Inf"] == 2


@pytest.mark.parametrize("latency", [-1.0, float("nan"), float("inf")])
def test_impossible_latencies_are_not_observed(latency: float) -> None:
    metrics = GatewayMetrics()
    metrics.observe(event(latency_ms=latency))
    route = "/v1/chat/completions"
    assert value(metrics, "bastion_request_duration_seconds_count", route=route) == 0
    assert value(metrics, "bastion_requests_total", route=route, outcome="allowed") == 1


def test_actions_from_entries_with_a_tier_and_from_action_outcomes() -> None:
    metrics = GatewayMetrics()
    metrics.observe(
        event(
            route="POST /v1/assistant/chat",
            actions=[
                {"tool": "send_email", "status": "pending", "code": None, "tier": 2},
                {"tool": "call_webhook", "status": "done", "code": "ok", "tier": 0},
                {"tool": "made up by the model", "status": "refused", "code": "unknown_action"},
                {"query": "select 1"},  # a data tool's entry: not an action
            ],
        )
    )
    metrics.observe(
        event(
            route="POST /v1/actions/{action_id}/confirm",
            outcome="action_confirmed",
            extra={"action_id": "a1", "tool": "send_email", "tier": 1},
        )
    )
    metrics.observe(event(outcome="action_refused", extra={}))
    assert value(metrics, "bastion_actions_total", tool="send_email", status="pending") == 1
    assert value(metrics, "bastion_actions_total", tool="call_webhook", status="done") == 1
    assert value(metrics, "bastion_actions_total", tool="send_email", status="confirmed") == 1
    assert value(metrics, "bastion_actions_total", tool="other", status="refused") == 1
    total = sum(v for (n, _), v in samples(metrics).items() if n == "bastion_actions_total")
    assert total == 4
    assert (
        value(
            metrics,
            "bastion_requests_total",
            route="POST /v1/actions/{action_id}/confirm",
            outcome="action_confirmed",
        )
        == 1
    )


def test_alerts_and_incidents() -> None:
    metrics = GatewayMetrics()
    metrics.record_alert("canary_leak", "high")
    metrics.record_alert("user@example.com", "very high")
    metrics.record_incident("revoke_key", "contained")
    assert value(metrics, "bastion_alerts_total", detector="canary_leak", severity="high") == 1
    assert value(metrics, "bastion_alerts_total", detector="other", severity="other") == 1
    assert value(metrics, "bastion_incidents_total", playbook="revoke_key", status="contained") == 1


def test_no_content_in_the_exposition() -> None:
    """Prompt, response, user, tenant, key and request ids never become labels."""
    metrics = GatewayMetrics()
    metrics.observe(event(outcome="blocked_output", error_code="request_blocked"))
    text = metrics.exposition().decode()
    for needle in ("bob@example.com", "secret plan", "user-1", "tenant-a", "key-1", "req-1"):
        assert needle not in text
    assert repr(metrics) == "GatewayMetrics()"


def test_each_instance_has_its_own_registry() -> None:
    """Two gateways in one process count apart; nothing goes to the global registry."""
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe(event())
    assert value(first, "bastion_audit_records_total") == 1
    assert value(second, "bastion_audit_records_total") == 0
    assert REGISTRY.get_sample_value("bastion_audit_records_total") is None


def test_metrics_token_is_secret_and_checked(tmp_path: Path) -> None:
    token = "a-long-enough-metrics-token-42"
    settings = Settings(data_dir=tmp_path, kek=GOOD_KEK, metrics_token=token)
    assert token not in repr(settings) and token not in str(settings.model_dump())
    assert unsafe_reasons(settings) == []
    for weak in ("tiny-token", "changeme", ""):
        reasons = unsafe_reasons(Settings(data_dir=tmp_path, kek=GOOD_KEK, metrics_token=weak))
        assert any("BASTION_METRICS_TOKEN" in r for r in reasons)
        assert all(weak not in r for r in reasons if weak)


def test_metrics_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_METRICS_TOKEN", "from-the-environment-0123")
    token = Settings(data_dir=tmp_path).metrics_token
    assert token is not None and token.get_secret_value() == "from-the-environment-0123"
