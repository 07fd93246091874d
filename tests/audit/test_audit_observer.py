"""AuditLog's observer sees each committed event once; its failure fails nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from bastion.audit import AuditEvent, AuditLog, AuditWriteError, verify_chain

EventFactory = Callable[..., AuditEvent]


async def test_observer_sees_every_committed_event(
    engine: Engine, make_event: EventFactory
) -> None:
    seen: list[AuditEvent] = []
    async with AuditLog(engine, batch_max=8, observer=seen.append) as log:
        events = [make_event(i) for i in range(20)]
        await asyncio.gather(*(log.append(e) for e in events))
        assert sorted(e.request_id for e in seen) == sorted(e.request_id for e in events)
    assert all(any(s is e for s in seen) for e in events)


async def test_observer_error_never_fails_the_append(
    engine: Engine, make_event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(event: AuditEvent) -> None:
        calls.append(event.request_id)
        raise RuntimeError(f"boom {event.prompt}")

    async with AuditLog(engine, observer=broken) as log:
        receipts = [await log.append(make_event(i)) for i in range(3)]
    assert [r.seq for r in receipts] == [1, 2, 3]
    assert len(calls) == 3
    assert verify_chain(engine).ok
    messages = [r.getMessage() for r in caplog.records if "observer" in r.getMessage()]
    assert messages == ["audit observer failed: RuntimeError"] * 3
    assert "question" not in caplog.text and "boom" not in caplog.text


async def test_observer_is_not_told_of_records_not_stored(
    engine: Engine, make_event: EventFactory
) -> None:
    """A failed transaction stores nothing, and the observer hears of nothing."""
    seen: list[AuditEvent] = []
    async with AuditLog(engine, observer=seen.append) as log:
        await log.append(make_event(0))
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE audit_heads"))
        with pytest.raises(AuditWriteError):
            await log.append(make_event(1))
    assert [e.request_id for e in seen] == [make_event(0).request_id]
