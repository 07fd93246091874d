"""Continuous SIEM forwarding: a :class:`~bastion.stream.StreamConsumer` per sink.

The :class:`~bastion.stream.StreamWorker` running a :class:`SiemForwarder` reads each
tenant's records past the sink's persisted cursor and hands them to the sink; the
cursor moves only after ``Sink.deliver`` returned, that is after the transport
confirmed the batch (see :mod:`bastion.siem.sinks`). A sink that is down fails the
batch; the worker keeps the cursor, backs off and delivers the same records again, so
neither a restart of Bastion nor one of the receiver loses a record (a receiver may see
a record twice; its ``hash`` is the dedupe id).
"""

from __future__ import annotations

from typing import Any, Literal

from bastion.siem.sinks import Sink

__all__ = ["SiemForwarder"]


class SiemForwarder:
    """Delivers every record of the audit chain to ``sink``, tenant by tenant."""

    def __init__(
        self, name: str, sink: Sink, *, start_at: Literal["start", "now"] = "start"
    ) -> None:
        self.stream = f"siem:{name}"
        self.start_at: Literal["start", "now"] = start_at
        self.sink = sink
        self.delivered = 0

    def __repr__(self) -> str:
        return f"SiemForwarder(stream={self.stream!r}, sink={self.sink.name!r})"

    async def consume(self, tenant_id: str, records: list[dict[str, Any]]) -> None:
        await self.sink.deliver(records)
        self.delivered += len(records)

    def reset(self) -> None:
        """Nothing to forget: the sink reconnects by itself on the next batch."""
