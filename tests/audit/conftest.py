"""Audit test data: events with fixed, distinct content and no clock reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.audit import AuditEvent

T0 = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)

EventFactory = Callable[..., AuditEvent]


def build_event(i: int, tenant: str = "tenant-a", **overrides: Any) -> AuditEvent:
    """Event number ``i``: its ts is ``T0 + i`` seconds and its content names ``i``."""
    fields: dict[str, Any] = {
        "ts": T0 + timedelta(seconds=i),
        "request_id": f"req-{tenant}-{i:05d}",
        "session_id": None,
        "tenant_id": tenant,
        "user_id": "user-1",
        "key_id": "key-1",
        "model": "gpt-test",
        "route": "/v1/chat/completions",
        "stream": False,
        "prompt": [{"role": "user", "content": f"question {i}"}],
        "response": f"answer {i}",
        "verdicts": [
            {
                "stage": "input",
                "scanner": "size",
                "decision": "allow",
                "score": 0.0,
                "reason": "ok",
                "findings": [],
            }
        ],
        "latency_ms": 12.5,
        "outcome": "allowed",
    }
    fields.update(overrides)
    return AuditEvent(**fields)


@pytest.fixture
def make_event() -> EventFactory:
    """A factory for distinct, deterministic events."""
    return build_event
