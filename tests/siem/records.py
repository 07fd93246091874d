"""Exported audit records for the SIEM tests, built the way the export builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from bastion.audit.record import GENESIS_HASH, AuditEvent, canonical_body, record_hash

MARKER = "SIEM-MUST-NOT-SEE-4d1e"
TS = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
TS_MS = 1741964966535


def exported(event: AuditEvent, seq: int = 1, prev: str = GENESIS_HASH) -> dict[str, Any]:
    """The line :func:`bastion.audit.export_jsonl` writes for ``event``."""
    body = canonical_body(event)
    line: dict[str, Any] = orjson.loads(body)
    line.update(seq=seq, prev_hash=prev, hash=record_hash(event.tenant_id, seq, prev, body))
    return line


def chat_event(**overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "ts": TS,
        "request_id": "req-0001",
        "tenant_id": "acme",
        "user_id": "alice",
        "key_id": "key-7",
        "session_id": "sess-9",
        "model": "gpt-test",
        "route": "POST /v1/assistant/chat",
        "outcome": "allowed",
        "prompt": [{"role": "user", "content": f"my secret plan {MARKER}"}],
        "response": f"the answer {MARKER}",
        "verdicts": [
            {
                "stage": "input",
                "target": "prompt",
                "scanner": "pii",
                "decision": "redact",
                "score": 0.91,
                "reason": "pii_detected",
                "findings": [{"type": "EMAIL", "start": 3, "end": 20, "score": 0.91}],
            }
        ],
        "actions": [{"tool": "run_query", "status": "ran", "query": {"sql": MARKER}}],
        "data_sources": [{"source": "crm", "tables": ["accounts"], "status": "ran", "rows": 3}],
        "latency_ms": 12.5,
        "extra": {"tier": 2, "idp": "okta"},
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def blocked(scanner: str = "secrets") -> dict[str, Any]:
    verdict = {"stage": "output", "target": "response", "scanner": scanner}
    verdict |= {"decision": "block", "score": 1.0, "reason": "secret_detected", "findings": []}
    return exported(
        chat_event(outcome="blocked_output", error_code="request_blocked", verdicts=[verdict])
    )
