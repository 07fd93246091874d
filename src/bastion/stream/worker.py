"""A background task that feeds one consumer the audit chain, tenant by tenant.

:class:`StreamWorker` holds its stream's lease (one process at a time), reads each
tenant's records past the persisted cursor in batches, hands a batch to the
consumer and moves the cursor once the consumer returned. A consumer that raises
keeps the cursor where it was: the worker calls its ``reset`` (in-memory state built
from the failed batch is dropped), waits with exponential backoff and hands the same
records again, so nothing is skipped (at-least-once).

The worker polls every ``poll_seconds``; :meth:`StreamWorker.wake` (the audit log's
observer calls it after each commit) starts the next pass after ``coalesce_seconds``
(0.5 s: the commits in between become one batch, and the pass's reads and cursor
write are paid about twice a second under load, not per request), so a consumer sees
a record about 0.5 s after its commit in the same process, and within
``poll_seconds`` of a commit by another gateway process. The lease is renewed when
half its time is gone, not on every pass.

Where a stream that never ran begins is the consumer's choice (``start_at``):
``"start"`` reads every tenant's whole chain (a SIEM wants everything), ``"now"``
begins at the current heads (detection judges what happens from now on). A tenant
that appears later is read from its first record either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import anyio.to_thread
from sqlalchemy import Engine

from bastion.stream.store import (
    StreamCursors,
    StreamLeases,
    check_stream_name,
    read_records,
    tenant_heads,
)

__all__ = ["StreamConsumer", "StreamWorker"]

log = logging.getLogger("bastion.stream")


class StreamConsumer(Protocol):
    """What a :class:`StreamWorker` feeds."""

    @property
    def stream(self) -> str:
        """The stream's name: its cursors and lease are kept under it."""
        ...

    @property
    def start_at(self) -> Literal["start", "now"]:
        """Where the stream begins the first time it runs."""
        ...

    async def consume(self, tenant_id: str, records: list[dict[str, Any]]) -> None:
        """Handle ``records`` (one tenant's, in ``seq`` order); raise to have them again."""
        ...

    def reset(self) -> None:
        """Forget in-memory state: the last ``consume`` failed and will be repeated."""
        ...


class StreamWorker:
    """Runs one :class:`StreamConsumer` over the audit chain of ``engine``.

    ``engine`` must see every tenant (on PostgreSQL, the owner connection).
    """

    def __init__(
        self,
        engine: Engine,
        consumer: StreamConsumer,
        clock: Callable[[], datetime],
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 500,
        lease_seconds: float = 30.0,
        max_backoff_seconds: float = 30.0,
        coalesce_seconds: float = 0.5,
    ) -> None:
        if poll_seconds <= 0 or lease_seconds <= poll_seconds or batch_size < 1:
            raise ValueError("need poll_seconds > 0, lease_seconds > poll_seconds, batch_size >= 1")
        self._engine = engine
        self._consumer = consumer
        self._stream = check_stream_name(consumer.stream)
        self._clock = clock
        self._cursors = StreamCursors(engine, clock)
        self._leases = StreamLeases(engine, clock)
        self._poll = poll_seconds
        self._batch = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._max_backoff = max_backoff_seconds
        self._coalesce = coalesce_seconds
        self._held_until: datetime | None = None
        self._started = False
        self._holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.failures = 0

    def __repr__(self) -> str:
        return f"StreamWorker(stream={self._stream!r})"

    @property
    def stream(self) -> str:
        return self._stream

    def wake(self, _event: object = None) -> None:
        """Start the next pass now (safe to call from the event loop at any time)."""
        self._wake.set()

    async def start(self) -> None:
        """Run in the background until :meth:`aclose`."""
        if self._task is not None or self._closed:
            raise RuntimeError("StreamWorker.start() may be called once, before aclose()")
        if not self._started:  # before serving: no record of this run is skipped
            await self._begin()
        self._task = asyncio.create_task(self._run(), name=f"bastion-stream-{self._stream}")

    async def aclose(self) -> None:
        """Stop after the batch in flight and give the lease up. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await anyio.to_thread.run_sync(self._leases.release, self._stream, self._holder)
        except Exception as exc:  # the lease expires by itself
            log.warning(
                "stream lease release failed stream=%s error=%s", self._stream, type(exc).__name__
            )

    async def step(self) -> int:
        """One pass: up to one batch per tenant that is behind; returns records handled
        (0 also when another process holds the lease)."""
        if not await self._hold_lease():
            return 0
        if not self._started:
            await self._begin()
        heads = await anyio.to_thread.run_sync(tenant_heads, self._engine)
        cursors = await anyio.to_thread.run_sync(self._cursors.get, self._stream)
        handled = 0
        for tenant_id, head in sorted(heads.items()):
            after = cursors.get(tenant_id, 0)
            if head <= after:
                continue
            records = await anyio.to_thread.run_sync(
                read_records, self._engine, tenant_id, after, self._batch
            )
            if not records:
                continue
            await self._consumer.consume(tenant_id, records)
            last = int(records[-1]["seq"])
            await anyio.to_thread.run_sync(self._cursors.advance, self._stream, {tenant_id: last})
            handled += len(records)
        return handled

    async def _begin(self) -> None:
        """The first pass of this process: a stream that never ran begins here, at the
        current heads (``"now"``) or at every chain's start (``"start"``); the start is
        persisted, so a later run goes on from the cursors even if no tenant had a
        record yet."""
        if not await anyio.to_thread.run_sync(self._cursors.started, self._stream):
            heads: dict[str, int] = {}
            if self._consumer.start_at == "now":
                heads = await anyio.to_thread.run_sync(tenant_heads, self._engine)
            await anyio.to_thread.run_sync(self._cursors.begin, self._stream, heads)
        self._started = True

    async def _hold_lease(self) -> bool:
        """Take or renew the lease; a lease with more than half its time left is kept
        without a write."""
        now = self._clock()
        if self._held_until is not None and now < self._held_until - self._lease / 2:
            return True
        until = now + self._lease
        held = await anyio.to_thread.run_sync(
            self._leases.acquire, self._stream, self._holder, until
        )
        self._held_until = until if held else None
        return held

    async def drain(self, max_passes: int = 1000) -> int:
        """Pass until nothing is left (or ``max_passes``); returns records handled."""
        total = 0
        for _ in range(max_passes):
            handled = await self.step()
            total += handled
            if handled == 0:
                break
        return total

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            # Let a burst of commits gather: one pass then handles them as a batch.
            await asyncio.sleep(self._coalesce)
            self._wake.clear()
            try:
                while await self.step():
                    pass
                self.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: keep the cursor, back off, retry
                self.failures += 1
                delay = min(self._max_backoff, self._poll * 2 ** min(self.failures, 10))
                log.error(
                    "stream pass failed stream=%s error=%s failures=%d",
                    self._stream,
                    type(exc).__name__,
                    self.failures,
                )
                self._consumer.reset()
                await asyncio.sleep(delay)  # a wake does not cut a backoff short
                self._wake.set()
