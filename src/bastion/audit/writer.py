"""The asyncio group-commit writer: many concurrent appends, one transaction per batch.

``append`` encodes the event on the caller's task, queues it with a future and waits.
One background task takes whatever is queued (up to ``batch_max``) and commits it as
one transaction in the instance's own single worker thread; while that runs, new
appends queue up and form the next batch. A future resolves with an
:class:`AuditReceipt` only after ``COMMIT`` returned; if the transaction fails, every
append of the batch raises :class:`AuditWriteError` and nothing of the batch is
stored. Any number of instances, in any number of processes, may write to the same
database: the chain is serialised by the database (see ``_chain``).

Exceptions::

    AuditUnavailable (bastion.errors, HTTP 503 audit_unavailable)
     +- AuditWriteError   the record is not stored (closed log or failed transaction)

``ValueError`` from ``append`` means the event itself is unfit (a field too long, a
value JSON cannot carry); such an event fails alone and never joins a batch.

An optional ``observer`` (e.g. the gateway's metrics; more with :meth:`AuditLog.add_observer`)
is called with each event once it is committed, on the event loop; an observer error
is logged by its type only and never fails the append.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bastion.audit._chain import PendingRecord, commit_batch
from bastion.audit.record import AuditEvent, AuditReceipt
from bastion.audit.sealing import AuditSealer
from bastion.errors import AuditUnavailable

__all__ = ["AuditLog", "AuditWriteError"]


class AuditWriteError(AuditUnavailable):
    """The record was not stored. The message names the cause, never the content."""


@dataclass(frozen=True, slots=True)
class _Request:
    record: PendingRecord
    event: AuditEvent
    future: asyncio.Future[AuditReceipt]


class AuditLog:
    """A tamper-evident audit log writer for one engine.

    Use as ``async with AuditLog(engine) as log: receipt = await log.append(event)``
    or call :meth:`start` and :meth:`aclose` explicitly.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 256,
        inline_max: int = 1,
        sealer: AuditSealer | None = None,
        observer: Callable[[AuditEvent], None] | None = None,
    ) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        if inline_max < 0:
            raise ValueError("inline_max must not be negative")
        self._engine = engine
        self._batch_max = batch_max
        # A batch this small is committed on the event loop itself: at low load the
        # two thread hand-offs cost more latency (about 1 ms here) than the commit
        # blocks the loop. Bigger batches (under load) go to the worker thread.
        self._inline_max = inline_max
        self._sealer = sealer
        self._observers: list[Callable[[AuditEvent], None]] = [observer] if observer else []
        self._queue: asyncio.Queue[_Request | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._task else "new"
        return f"AuditLog(backend={self._engine.dialect.name!r}, state={state})"

    def add_observer(self, observer: Callable[[AuditEvent], None]) -> None:
        """Also tell ``observer`` of each committed event (after those given before)."""
        self._observers.append(observer)

    async def start(self) -> None:
        """Start the background writer; call once, from the loop that will append."""
        if self._task is not None or self._closed:
            raise RuntimeError("AuditLog.start() may be called once, before aclose()")
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bastion-audit")
        self._task = asyncio.create_task(self._run(self._queue), name="bastion-audit-writer")

    async def append(self, event: AuditEvent) -> AuditReceipt:
        """Store ``event``; returns once it is committed, raises if it was not."""
        if self._queue is None:
            raise RuntimeError("AuditLog.append() before start()")
        if self._closed:
            raise AuditWriteError("The audit log is closed.")
        record = PendingRecord.from_event(event)
        future: asyncio.Future[AuditReceipt] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(record, event, future))
        return await future

    async def aclose(self) -> None:
        """Commit everything already appended, then stop. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._queue is None or self._task is None or self._executor is None:
            return
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AuditLog:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, queue: asyncio.Queue[_Request | None]) -> None:
        batch: list[_Request] = []
        try:
            stopping = False
            while not stopping:
                first = await queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self._batch_max and not queue.empty():
                    item = queue.get_nowait()
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                await self._commit(batch)
                batch = []
        finally:
            # Only reached with work left if the task was cancelled: fail closed.
            leftovers = batch + [item for item in _drain(queue) if item is not None]
            _fail(leftovers, "the audit writer stopped")

    async def _commit(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        records = [request.record for request in batch]
        try:
            if len(records) <= self._inline_max:
                receipts = commit_batch(self._engine, records, self._sealer)
            else:
                receipts = await loop.run_in_executor(
                    self._executor, commit_batch, self._engine, records, self._sealer
                )
        except Exception as exc:  # every failure fails the batch, whatever its kind
            reason = _describe(exc)
            logging.getLogger(__name__).error(
                "audit batch failed: %s (%d records not stored)", reason, len(batch)
            )
            _fail(batch, reason)
            return
        for request, receipt in zip(batch, receipts, strict=True):
            if not request.future.done():
                request.future.set_result(receipt)
        for observer in self._observers:
            for request in batch:
                self._observe(observer, request.event)

    @staticmethod
    def _observe(observer: Callable[[AuditEvent], None], event: AuditEvent) -> None:
        """Tell ``observer`` of a committed event; its failure is logged, not raised."""
        try:
            observer(event)
        except Exception as exc:  # an observer never fails the append
            logging.getLogger(__name__).error("audit observer failed: %s", type(exc).__name__)


def _drain(queue: asyncio.Queue[_Request | None]) -> list[_Request | None]:
    items: list[_Request | None] = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _fail(batch: list[_Request], reason: str) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(
                AuditWriteError(f"The audit record was not stored: {reason}.")
            )


def _describe(exc: BaseException) -> str:
    """The kind of failure without its message: driver messages may quote values."""
    if isinstance(exc, DBAPIError):
        original = exc.orig
        code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
        name = type(original).__name__ if original is not None else type(exc).__name__
        return f"{name} ({code})" if code else name
    return type(exc).__name__
