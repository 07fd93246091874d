"""Exports carry every record and can be re-verified from the file alone."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import datetime

import orjson
import pytest
from sqlalchemy import Engine

from bastion.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditLog,
    canonical_body,
    export_jsonl,
    record_hash,
)
from bastion.audit.export import CHAIN_FIELDS

EventFactory = Callable[..., AuditEvent]


@pytest.fixture
async def events(engine: Engine, make_event: EventFactory) -> list[AuditEvent]:
    """Twenty events, alternating between two tenants, all appended."""
    written = [make_event(i, tenant=f"t{i % 2}") for i in range(20)]
    async with AuditLog(engine) as log:
        await asyncio.gather(*(log.append(event) for event in written))
    return written


def _export(
    engine: Engine,
    tenant_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, object]]:
    out = io.StringIO()
    count = export_jsonl(engine, out, tenant_id=tenant_id, since=since, until=until)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines)
    return lines


def test_export_round_trip(engine: Engine, events: list[AuditEvent]) -> None:
    """Each line holds the body and chain fields; the file alone re-verifies the chains."""
    lines = _export(engine)
    assert len(lines) == 20
    bodies = {event.request_id: canonical_body(event) for event in events}
    last_hash: dict[str, str] = {}
    for line in lines:
        body_fields = {k: v for k, v in line.items() if k not in CHAIN_FIELDS}
        body = orjson.dumps(body_fields, option=orjson.OPT_SORT_KEYS).decode()
        assert body == bodies[str(line["request_id"])]
        tenant = str(line["tenant_id"])
        assert line["prev_hash"] == last_hash.get(tenant, GENESIS_HASH)
        seq = line["seq"]
        assert isinstance(seq, int)
        assert line["hash"] == record_hash(tenant, seq, str(line["prev_hash"]), body)
        last_hash[tenant] = str(line["hash"])
    assert [(line["tenant_id"], line["seq"]) for line in lines] == sorted(
        (f"t{t}", s) for t in range(2) for s in range(1, 11)
    )


def test_export_filters_by_tenant_and_time(engine: Engine, events: list[AuditEvent]) -> None:
    """since is inclusive, until exclusive, and tenant_id narrows to one chain."""
    since, until = events[4].ts, events[10].ts
    lines = _export(engine, since=since, until=until)
    assert sorted(str(line["request_id"]) for line in lines) == sorted(
        event.request_id for event in events[4:10]
    )
    only_t1 = _export(engine, tenant_id="t1", since=since)
    assert {line["tenant_id"] for line in only_t1} == {"t1"}
    assert len(only_t1) == 8


def test_export_of_empty_log_writes_nothing(engine: Engine) -> None:
    """An empty log exports zero lines."""
    assert _export(engine) == []


def test_export_refuses_naive_bounds(engine: Engine) -> None:
    """Naive datetimes are refused rather than guessed at."""
    with pytest.raises(ValueError, match="timezone-aware"):
        export_jsonl(engine, io.StringIO(), since=datetime(2025, 1, 1))
