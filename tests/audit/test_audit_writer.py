"""The group-commit writer keeps one unbroken chain per tenant, or stores nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, delete, func, insert, select

from bastion.audit import AuditEvent, AuditLog, AuditWriteError, verify_chain
from bastion.store import make_engine
from bastion.store.schema import AuditHead, AuditRecord

EventFactory = Callable[..., AuditEvent]


def _count(engine: Engine, tenant: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.tenant_id == tenant)
        ).scalar_one()


async def test_concurrent_appends_form_one_chain(engine: Engine, make_event: EventFactory) -> None:
    """200 concurrent appends get seq 1..200 and the chain verifies."""
    async with AuditLog(engine, batch_max=64) as log:
        receipts = await asyncio.gather(*(log.append(make_event(i)) for i in range(200)))
    assert sorted(r.seq for r in receipts) == list(range(1, 201))
    assert len({r.hash for r in receipts}) == 200
    report = verify_chain(engine)
    assert report.ok, report.failures
    assert report["tenant-a"].count == 200
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead.seq, AuditHead.hash)).one()
    by_seq = {r.seq: r.hash for r in receipts}
    assert (head.seq, head.hash) == (200, by_seq[200])


async def test_receipts_follow_append_order_within_a_batch(
    engine: Engine, make_event: EventFactory
) -> None:
    """Appends queued together are chained in the order they were appended."""
    async with AuditLog(engine) as log:
        receipts = await asyncio.gather(*(log.append(make_event(i)) for i in range(10)))
    assert [r.seq for r in receipts] == list(range(1, 11))


async def test_tenants_have_separate_chains(engine: Engine, make_event: EventFactory) -> None:
    """Records of several tenants in one batch each start their own chain at 1."""
    tenants = ["t-b", "t-a", "t-c"]
    async with AuditLog(engine) as log:
        receipts = await asyncio.gather(
            *(log.append(make_event(i, tenant=tenants[i % 3])) for i in range(30))
        )
    for tenant in tenants:
        assert sorted(r.seq for r in receipts if r.tenant_id == tenant) == list(range(1, 11))
    report = verify_chain(engine)
    assert report.ok, report.failures
    assert sorted(report.tenants) == sorted(tenants)


@pytest.mark.parametrize("batch_max", [1, 7])
async def test_two_writers_on_one_database_share_the_chain(
    db_url: str, make_event: EventFactory, batch_max: int
) -> None:
    """Two AuditLogs on separate engines (two replicas) interleave into one chain."""
    first, second = make_engine(db_url), make_engine(db_url)
    try:
        async with (
            AuditLog(first, batch_max=batch_max) as one,
            AuditLog(second, batch_max=batch_max) as two,
        ):
            receipts = await asyncio.gather(
                *(
                    (one if i % 2 else two).append(make_event(i, tenant=f"t{i % 3}"))
                    for i in range(150)
                )
            )
        for tenant in ("t0", "t1", "t2"):
            assert sorted(r.seq for r in receipts if r.tenant_id == tenant) == list(range(1, 51))
        report = verify_chain(first)
        assert report.ok, report.failures
        assert [report[t].count for t in ("t0", "t1", "t2")] == [50, 50, 50]
    finally:
        first.dispose()
        second.dispose()


_WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime, timedelta
    from bastion.audit import AuditEvent, AuditLog
    from bastion.store import make_engine

    url, worker = sys.argv[1], int(sys.argv[2])
    T0 = datetime(2025, 1, 1, tzinfo=UTC)

    def event(i):
        return AuditEvent(
            ts=T0 + timedelta(seconds=i), request_id=f"w{worker}-{i}",
            tenant_id=f"t{i % 2}", user_id="u", key_id="k", model="m",
            route="/v1/chat/completions", outcome="allowed",
            prompt=[{"role": "user", "content": f"q{i}"}], response=f"a{i}",
        )

    async def main():
        engine = make_engine(url)
        async with AuditLog(engine, batch_max=16) as log:
            await asyncio.gather(*(log.append(event(i)) for i in range(120)))
        engine.dispose()

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_writer_processes_share_the_chain(engine: Engine, db_url: str) -> None:
    """Three OS processes appending at once leave two unbroken chains."""
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER_SCRIPT, db_url, str(worker)])
        for worker in range(3)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0]
    report = verify_chain(engine)
    assert report.ok, report.failures
    assert (report["t0"].count, report["t1"].count) == (180, 180)


async def test_failed_transaction_stores_nothing(engine: Engine, make_event: EventFactory) -> None:
    """A batch that fails inside the database fails every append and writes no row."""
    planted = make_event(999)
    with engine.begin() as conn:
        conn.execute(
            insert(AuditRecord).values(
                tenant_id="tenant-a",
                seq=3,
                ts=planted.ts,
                request_id="planted",
                outcome="allowed",
                body="{}",
                prev_hash="0" * 64,
                hash="f" * 64,
            )
        )
    secret = "secret-prompt-text"
    async with AuditLog(engine) as log:
        results = await asyncio.gather(
            *(
                log.append(make_event(i, prompt=[{"role": "user", "content": secret}]))
                for i in range(5)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(result, AuditWriteError) for result in results)
        for error in results:
            assert secret not in str(error)
            assert secret not in repr(error)
            assert isinstance(error, AuditWriteError)
            assert error.__cause__ is None
            assert error.status == 503
        assert _count(engine, "tenant-a") == 1
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(AuditHead)).scalar_one() == 0
        with engine.begin() as conn:
            conn.execute(delete(AuditRecord))
        receipt = await log.append(make_event(5))
    assert (receipt.seq, _count(engine, "tenant-a")) == (1, 1)
    assert verify_chain(engine).ok


async def test_unfit_event_fails_alone(engine: Engine, make_event: EventFactory) -> None:
    """An event whose request_id is too long is refused without failing the others."""
    async with AuditLog(engine) as log:
        results = await asyncio.gather(
            log.append(make_event(0)),
            log.append(make_event(1, request_id="x" * 65)),
            log.append(make_event(2)),
            return_exceptions=True,
        )
    assert isinstance(results[1], ValueError)
    assert "request_id" in str(results[1])
    assert [getattr(r, "seq", None) for r in (results[0], results[2])] == [1, 2]


async def test_aclose_flushes_queued_appends(engine: Engine, make_event: EventFactory) -> None:
    """Appends queued before aclose() are committed before it returns."""
    log = AuditLog(engine)
    await log.start()
    tasks = [asyncio.create_task(log.append(make_event(i))) for i in range(20)]
    await asyncio.sleep(0)  # let every task enqueue its record
    await log.aclose()
    assert all(task.done() for task in tasks)
    assert sorted(task.result().seq for task in tasks) == list(range(1, 21))
    with pytest.raises(AuditWriteError, match="closed"):
        await log.append(make_event(99))
    await log.aclose()


async def test_append_before_start_is_a_programming_error(
    engine: Engine, make_event: EventFactory
) -> None:
    """append() without start() raises RuntimeError instead of hanging."""
    with pytest.raises(RuntimeError, match="start"):
        await AuditLog(engine).append(make_event(0))


def test_batch_max_must_be_positive(engine: Engine) -> None:
    """batch_max below 1 is refused at construction."""
    with pytest.raises(ValueError, match="batch_max"):
        AuditLog(engine, batch_max=0)
