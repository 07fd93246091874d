"""Consumers of the audit chain: persisted cursors, leases and the worker that feeds
them (detection, SIEM forwarding). See :mod:`bastion.stream.store`."""

from bastion.stream.store import StreamCursors, StreamLeases, read_records, tenant_heads
from bastion.stream.worker import StreamConsumer, StreamWorker

__all__ = [
    "StreamConsumer",
    "StreamCursors",
    "StreamLeases",
    "StreamWorker",
    "read_records",
    "tenant_heads",
]
