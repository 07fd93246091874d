"""Where the audit-stream consumers keep their place, and how they read the chain.

A *stream* is one consumer of the audit chain (``detection``, ``siem:<sink>``). It
reads each tenant's records in ``seq`` order and keeps, per tenant, the ``seq`` of the
last record it is done with (:class:`StreamCursors`, table ``stream_cursors``). A
cursor only moves forward and only after the consumer finished the records up to it,
so a crash or restart redoes at most the batch that was in flight: at-least-once.

Records of one tenant are gap-free in ``seq`` order once committed: appends to a
tenant's chain are serialised on its ``audit_heads`` row, so a record at ``seq`` n+1
is never visible before the one at n. Reading ``seq > cursor`` therefore misses
nothing.

Only one process runs a stream at a time: :class:`StreamLeases` hands out a lease
(table ``stream_leases``) that its holder renews; a lease whose holder died expires
and another process takes over from the persisted cursors.

Every read here is cross-tenant work on the engine the caller passes: on PostgreSQL
that is the owner connection (``BASTION_DATABASE_ADMIN_URL``), checked by
:func:`~bastion.store.rls.require_all_tenants`. The lines read carry no prompt or
response: consumers decide on identifiers and decisions only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.audit.export import RECORD_COLUMNS, export_line
from bastion.audit.record import SEALED_FIELDS
from bastion.store.schema import AuditHead, AuditRecord, StreamCursorRow, StreamLeaseRow
from bastion.store.transactions import read_snapshot, write_transaction

__all__ = [
    "StreamCursors",
    "StreamLeases",
    "check_stream_name",
    "first_seq_since",
    "read_records",
    "tenant_heads",
]

_RECORDS = cast(Table, AuditRecord.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_CURSORS = cast(Table, StreamCursorRow.__table__)
_LEASES = cast(Table, StreamLeaseRow.__table__)
_MAX_NAME = 64
_SLICE = 32
_STARTED = "*"  # the row that marks a stream as begun (no tenant id is "*")


def check_stream_name(name: str) -> str:
    """A stream name: 1-64 printable ASCII characters without spaces."""
    if not 0 < len(name) <= _MAX_NAME or not all(33 <= ord(c) < 127 for c in name):
        raise ValueError("a stream name is 1-64 printable ASCII characters, no spaces")
    return name


def tenant_heads(engine: Engine) -> dict[str, int]:
    """Every tenant's last ``seq`` (tenants without records are absent)."""
    with read_snapshot(engine, None) as conn:
        rows = conn.execute(select(_HEADS.c.tenant_id, _HEADS.c.seq)).all()
    return {str(tenant): int(seq) for tenant, seq in rows}


def read_records(
    engine: Engine,
    tenant_id: str,
    after: int,
    limit: int,
    *,
    since: datetime | None = None,
    until_seq: int | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` records of ``tenant_id`` with ``seq > after`` in order, as export
    lines without ``prompt`` and ``response``; ``since`` keeps records stamped at or
    after it, ``until_seq`` those at or before it (a replay)."""
    query = (
        select(*RECORD_COLUMNS)
        .where(_RECORDS.c.tenant_id == tenant_id, _RECORDS.c.seq > after)
        .order_by(_RECORDS.c.seq)
        .limit(limit)
    )
    if since is not None:
        query = query.where(_RECORDS.c.ts >= since)
    if until_seq is not None:
        query = query.where(_RECORDS.c.seq <= until_seq)
    with read_snapshot(engine, tenant_id) as conn:
        rows = conn.execute(query).all()
    lines = []
    for n, row in enumerate(rows, 1):
        if n % _SLICE == 0:
            time.sleep(0)  # let the event loop's thread have the GIL between slices
        line = export_line(row)
        for name in SEALED_FIELDS:
            line.pop(name, None)
        line.pop("content_sealed", None)
        lines.append(line)
    return lines


def first_seq_since(engine: Engine, tenant_id: str, since: datetime) -> int | None:
    """The ``seq`` of the tenant's first record stamped at or after ``since``."""
    query = select(_RECORDS.c.seq).where(_RECORDS.c.tenant_id == tenant_id, _RECORDS.c.ts >= since)
    with read_snapshot(engine, tenant_id) as conn:
        found = conn.execute(query.order_by(_RECORDS.c.seq).limit(1)).scalar()
    return None if found is None else int(found)


class StreamCursors:
    """Per stream and tenant, the ``seq`` of the last record the consumer is done with."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return f"StreamCursors(backend={self._engine.dialect.name!r})"

    def get(self, stream: str) -> dict[str, int]:
        """Every tenant's cursor of ``stream`` (a tenant without one: 0)."""
        query = select(_CURSORS.c.tenant_id, _CURSORS.c.seq).where(
            _CURSORS.c.stream == check_stream_name(stream), _CURSORS.c.tenant_id != _STARTED
        )
        with read_snapshot(self._engine, None) as conn:
            rows = conn.execute(query).all()
        return {str(tenant): int(seq) for tenant, seq in rows}

    def started(self, stream: str) -> bool:
        """Whether ``stream`` ever began (:meth:`begin`)."""
        query = select(_CURSORS.c.seq).where(
            _CURSORS.c.stream == check_stream_name(stream), _CURSORS.c.tenant_id == _STARTED
        )
        with read_snapshot(self._engine, None) as conn:
            return conn.execute(query).first() is not None

    def begin(self, stream: str, positions: dict[str, int]) -> None:
        """Mark ``stream`` as begun, its cursors at ``positions`` (empty: every chain
        from its start)."""
        self.advance(stream, {**positions, _STARTED: 0})

    def advance(self, stream: str, positions: dict[str, int]) -> None:
        """Move ``stream``'s cursors forward to ``positions`` in one transaction (a
        cursor never moves back: a smaller ``seq`` leaves it where it is)."""
        check_stream_name(stream)
        now = self._clock()
        # No fsync on SQLite: a cursor lost to power loss only redoes a batch, and an
        # fsync here would hold the write lock the audit log's commits wait for.
        with write_transaction(self._engine, all_tenants=True, fsync=False) as conn:
            for tenant_id, seq in sorted(positions.items()):
                key = (_CURSORS.c.stream == stream) & (_CURSORS.c.tenant_id == tenant_id)
                moved = conn.execute(
                    update(_CURSORS)
                    .where(key, _CURSORS.c.seq < seq)
                    .values(seq=seq, updated_at=now)
                ).rowcount
                if moved:
                    continue
                exists = conn.execute(select(_CURSORS.c.seq).where(key)).first()
                if exists is None:
                    conn.execute(
                        insert(_CURSORS).values(
                            stream=stream, tenant_id=tenant_id, seq=seq, updated_at=now
                        )
                    )

    def reset(self, stream: str) -> int:
        """Forget every cursor of ``stream`` (it starts over); returns how many."""
        check_stream_name(stream)
        with write_transaction(self._engine, all_tenants=True) as conn:
            return int(conn.execute(delete(_CURSORS).where(_CURSORS.c.stream == stream)).rowcount)


class StreamLeases:
    """One holder per stream at a time, until its lease expires unless renewed."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def __repr__(self) -> str:
        return f"StreamLeases(backend={self._engine.dialect.name!r})"

    def acquire(self, stream: str, holder: str, until: datetime) -> bool:
        """Take or renew ``stream``'s lease for ``holder`` until ``until``; False when
        another holder's lease is still running."""
        check_stream_name(stream)
        now = self._clock()
        free = (_LEASES.c.holder == holder) | (_LEASES.c.expires_at <= now)
        try:
            return self._acquire(stream, holder, until, free)
        except IntegrityError:  # another process inserted the lease first
            return False

    def _acquire(self, stream: str, holder: str, until: datetime, free: Any) -> bool:
        with write_transaction(self._engine) as conn:
            taken = conn.execute(
                update(_LEASES)
                .where(_LEASES.c.stream == stream, free)
                .values(holder=holder, expires_at=until)
            ).rowcount
            if taken:
                return True
            if conn.execute(select(_LEASES.c.holder).where(_LEASES.c.stream == stream)).first():
                return False
            conn.execute(insert(_LEASES).values(stream=stream, holder=holder, expires_at=until))
        return True

    def release(self, stream: str, holder: str) -> None:
        """Give the lease up (only if ``holder`` still has it)."""
        with write_transaction(self._engine) as conn:
            conn.execute(
                delete(_LEASES).where(_LEASES.c.stream == stream, _LEASES.c.holder == holder)
            )
