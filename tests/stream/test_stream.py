"""Audit-stream consumers: cursors, leases, and a worker that loses nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from sqlalchemy import Engine

from bastion.audit import AuditEvent, AuditLog
from bastion.stream import StreamCursors, StreamLeases, StreamWorker, read_records, tenant_heads
from tests.audit.conftest import build_event

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


class Recorder:
    """A consumer that keeps what it was given and fails on demand."""

    def __init__(self, stream: str = "test", start_at: Literal["start", "now"] = "start") -> None:
        self.stream = stream
        self.start_at = start_at
        self.seen: list[tuple[str, int]] = []
        self.fail_next = 0
        self.resets = 0

    async def consume(self, tenant_id: str, records: list[dict[str, Any]]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("sink down")
        self.seen += [(tenant_id, int(r["seq"])) for r in records]

    def reset(self) -> None:
        self.resets += 1


async def write(engine: Engine, events: list[AuditEvent]) -> None:
    async with AuditLog(engine) as log:
        for event in events:
            await log.append(event)


def events(n: int, tenant: str, start: int = 0, **extra: Any) -> list[AuditEvent]:
    return [build_event(start + i, tenant, **extra) for i in range(n)]


async def test_records_read_in_order_without_content(engine: Engine) -> None:
    await write(engine, events(5, "tenant-a") + events(3, "tenant-b"))
    assert tenant_heads(engine) == {"tenant-a": 5, "tenant-b": 3}
    page = read_records(engine, "tenant-a", 1, 2)
    assert [r["seq"] for r in page] == [2, 3]
    for record in page:
        assert "prompt" not in record and "response" not in record
        assert record["tenant_id"] == "tenant-a" and len(record["hash"]) == 64
    assert [r["seq"] for r in read_records(engine, "tenant-a", 0, 10, until_seq=2)] == [1, 2]
    assert read_records(engine, "tenant-b", 3, 10) == []


def test_cursors_only_move_forward(engine: Engine) -> None:
    cursors = StreamCursors(engine, clock)
    assert cursors.get("siem:main") == {}
    cursors.advance("siem:main", {"tenant-a": 5, "tenant-b": 2})
    cursors.advance("siem:main", {"tenant-a": 3})
    cursors.advance("detection", {"tenant-a": 1})
    assert cursors.get("siem:main") == {"tenant-a": 5, "tenant-b": 2}
    assert cursors.get("detection") == {"tenant-a": 1}
    assert cursors.reset("siem:main") == 2
    assert cursors.get("siem:main") == {}
    with pytest.raises(ValueError, match="stream name"):
        cursors.get("bad name")


def test_one_lease_holder_at_a_time(engine: Engine) -> None:
    now = [NOW]
    leases = StreamLeases(engine, lambda: now[0])
    later = NOW + timedelta(seconds=30)
    assert leases.acquire("detection", "a", later)
    assert leases.acquire("detection", "a", later)  # renewal
    assert not leases.acquire("detection", "b", later)
    assert leases.acquire("other", "b", later)
    now[0] = later  # a's lease ran out: b takes over
    assert leases.acquire("detection", "b", later + timedelta(seconds=30))
    assert not leases.acquire("detection", "a", later + timedelta(seconds=30))
    leases.release("detection", "b")
    assert leases.acquire("detection", "a", later + timedelta(seconds=30))


async def test_worker_retries_a_failed_batch_and_resumes_after_restart(engine: Engine) -> None:
    await write(engine, events(7, "tenant-a") + events(4, "tenant-b"))
    consumer = Recorder()
    worker = StreamWorker(engine, consumer, clock, batch_size=3)
    consumer.fail_next = 1
    with pytest.raises(RuntimeError):
        await worker.step()
    assert consumer.seen == []  # nothing was handed over, the cursor did not move
    assert await worker.drain() == 11
    expected = [("tenant-a", i) for i in range(1, 8)] + [("tenant-b", i) for i in range(1, 5)]
    assert sorted(consumer.seen) == expected
    await worker.aclose()

    # A new process: the persisted cursors say where to go on, nothing is repeated.
    await write(engine, events(2, "tenant-a", start=7))
    again = Recorder()
    restarted = StreamWorker(engine, again, clock)
    assert await restarted.drain() == 2
    assert again.seen == [("tenant-a", 8), ("tenant-a", 9)]
    await restarted.aclose()


async def test_a_stream_starting_now_skips_history_but_not_new_tenants(engine: Engine) -> None:
    await write(engine, events(5, "tenant-a"))
    consumer = Recorder(start_at="now")
    worker = StreamWorker(engine, consumer, clock)
    assert await worker.drain() == 0
    await write(engine, events(1, "tenant-a", start=5) + events(2, "tenant-new"))
    assert await worker.drain() == 3
    assert sorted(consumer.seen) == [("tenant-a", 6), ("tenant-new", 1), ("tenant-new", 2)]
    await worker.aclose()


async def test_a_second_worker_waits_for_the_lease(engine: Engine) -> None:
    await write(engine, events(3, "tenant-a"))
    first, second = Recorder(), Recorder()
    one = StreamWorker(engine, first, clock)
    two = StreamWorker(engine, second, clock)
    assert await one.drain() == 3
    assert await two.drain() == 0  # the lease is one's until it expires
    await one.aclose()  # gives the lease up
    await write(engine, events(1, "tenant-a", start=3))
    assert await two.drain() == 1
    assert second.seen == [("tenant-a", 4)]
    await two.aclose()


async def test_background_worker_is_woken_by_commits(engine: Engine) -> None:
    """Started in the background with a long poll, it still sees a commit at once:
    the audit log's observer wakes it."""
    consumer = Recorder()
    worker = StreamWorker(engine, consumer, clock, poll_seconds=30, lease_seconds=60)
    async with AuditLog(engine, observer=worker.wake) as log:
        await worker.start()
        for event in events(3, "tenant-a"):
            await log.append(event)
        for _ in range(200):  # bounded: the worker runs about 0.1 s after the wake
            if len(consumer.seen) == 3:
                break
            await _tick()
        assert consumer.seen == [("tenant-a", 1), ("tenant-a", 2), ("tenant-a", 3)]
        await worker.aclose()


async def _tick() -> None:
    await asyncio.sleep(0.02)


def test_a_cursor_write_leaves_the_connections_durability_as_it_was(engine: Engine) -> None:
    """Cursors commit without fsync on SQLite; the pooled connection goes back with
    synchronous=FULL, which the audit log's commits rely on."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's synchronous setting")
    StreamCursors(engine, clock).advance("detection", {"tenant-a": 1})
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert StreamCursors(engine, clock).get("detection") == {"tenant-a": 1}
