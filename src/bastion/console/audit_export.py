"""The tenant's audit records as a JSON Lines download, streamed.

:func:`~bastion.audit.export_jsonl` runs in its own thread, bound to the tenant, and
writes into a small bounded queue that the response drains chunk by chunk: memory
stays bounded, nothing is written to disk, and the records come from one snapshot.
When the client goes away the writer stops at its next chunk (and its snapshot
closes).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import TextIO, cast

from sqlalchemy import Engine

from bastion.audit import AuditSealer, export_jsonl

__all__ = ["jsonl_chunks"]

log = logging.getLogger("bastion.console")

_CHUNK = 64 * 1024
_DONE = b""


class _Abandoned(Exception):
    """The reader is gone; the export stops."""


class _Pipe:
    """The ``out`` that :func:`export_jsonl` writes to: text gathered into chunks,
    handed to the reader through a bounded queue."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | Exception] = queue.Queue(maxsize=4)
        self.abandoned = threading.Event()
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            chunk = "".join(self._parts).encode()
            self._parts, self._size = [], 0
            self.put(chunk)

    def put(self, item: bytes | Exception) -> None:
        while not self.abandoned.is_set():
            try:
                self.queue.put(item, timeout=1)
                return
            except queue.Full:
                continue
        raise _Abandoned()


def jsonl_chunks(engine: Engine, tenant_id: str, sealer: AuditSealer | None) -> Iterator[bytes]:
    """The export's bytes; a failure midway ends the stream with an error (the client
    sees a cut download, never a partial file that looks complete)."""
    pipe = _Pipe()

    def produce() -> None:
        try:
            export_jsonl(engine, cast(TextIO, pipe), tenant_id, sealer=sealer)
            pipe.flush()
            pipe.put(_DONE)
        except _Abandoned:
            return
        except Exception as exc:
            # The type only: a database error can quote statement parameters.
            log.error("audit export failed error=%s", type(exc).__name__)
            try:
                pipe.put(RuntimeError("the audit export failed"))
            except _Abandoned:
                return

    worker = threading.Thread(target=produce, name="console-audit-export", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.queue.get()
            if isinstance(item, Exception):
                raise item
            if item == _DONE:
                return
            yield item
    finally:
        pipe.abandoned.set()
