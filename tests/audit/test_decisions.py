"""Decision records: the event as built, and a failed append refusing the answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bastion.audit import AuditEvent
from bastion.audit.decisions import record_decision
from bastion.errors import AuditUnavailable


async def test_a_decision_is_one_event_and_a_failed_append_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[AuditEvent] = []

    async def append(event: AuditEvent) -> None:
        seen.append(event)

    now = datetime(2026, 12, 2, tzinfo=UTC)
    await record_decision(
        append, ts=now, tenant_id="t", route="GET /x", outcome="admin_change",
        unavailable="nope", user_id="u", extra={"action": "a"},
    )  # fmt: skip
    assert [(e.tenant_id, e.outcome, e.extra, e.model) for e in seen] == [
        ("t", "admin_change", {"action": "a"}, "")
    ]

    async def broken(event: AuditEvent) -> None:
        raise RuntimeError("INSERT ... 'secret prompt text'")

    with caplog.at_level(logging.ERROR), pytest.raises(AuditUnavailable, match="not answered"):
        await record_decision(
            broken, ts=now, tenant_id="t", route="GET /x", outcome="query_ran",
            unavailable="not answered",
        )  # fmt: skip
    assert "secret prompt" not in caplog.text and "RuntimeError" in caplog.text
