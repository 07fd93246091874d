"""Stream audit records out as JSON Lines, one object per record.

Each line is the record's canonical body with the chain fields added: ``seq``,
``prev_hash`` and ``hash`` (plus ``tenant_id``, ``ts``, ``request_id`` and
``outcome`` from the columns, which equal the body's in an untampered log). Keys are
sorted. Removing ``seq``, ``prev_hash`` and ``hash`` from a line and serialising the
rest with orjson and ``OPT_SORT_KEYS`` gives back the stored body, so an auditor can
re-verify an export with :func:`bastion.audit.record.record_hash` alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO, cast

import orjson
from sqlalchemy import Engine, Row, Table, select

from bastion.audit.record import format_ts
from bastion.audit.sealing import AuditSealer
from bastion.store.schema import AuditRecord
from bastion.store.transactions import read_snapshot

__all__ = ["CHAIN_FIELDS", "RECORD_COLUMNS", "export_jsonl", "export_line"]

CHAIN_FIELDS = ("seq", "prev_hash", "hash")
"""Keys an export line has beyond the canonical body."""

_RECORDS = cast(Table, AuditRecord.__table__)
_YIELD_PER = 1000


RECORD_COLUMNS = (
    _RECORDS.c.tenant_id,
    _RECORDS.c.seq,
    _RECORDS.c.ts,
    _RECORDS.c.request_id,
    _RECORDS.c.outcome,
    _RECORDS.c.body,
    _RECORDS.c.sealed,
    _RECORDS.c.prev_hash,
    _RECORDS.c.hash,
)
"""The columns :func:`export_line` reads, in a ``select``."""


def export_line(row: Row[*tuple[Any, ...]], sealer: AuditSealer | None = None) -> dict[str, Any]:
    """One record (a row of :data:`RECORD_COLUMNS`) as an export line's object."""
    body = row.body
    if row.sealed is not None:
        opened = sealer.merge(row.tenant_id, row.hash, body, row.sealed) if sealer else None
        body = opened or body
    line: dict[str, Any] = orjson.loads(body)
    if row.sealed is not None and body is row.body:
        line["content_sealed"] = True
    line.update(
        tenant_id=row.tenant_id,
        seq=row.seq,
        ts=format_ts(row.ts),
        request_id=row.request_id,
        outcome=row.outcome,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
    return line


def export_jsonl(
    engine: Engine,
    out: TextIO,
    tenant_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    sealer: AuditSealer | None = None,
) -> int:
    """Write records with ``since <= ts < until`` to ``out``; returns how many.

    Records are ordered by ``(tenant_id, seq)`` and read from one snapshot, bound to
    ``tenant_id``; every tenant needs the owner connection on PostgreSQL (as for
    :func:`~bastion.audit.verify_chain`). Sealed
    content is opened with ``sealer``; without it (or if it does not open) the line
    carries ``"content_sealed": true`` instead of ``prompt`` and ``response``.
    """
    query = select(*RECORD_COLUMNS).order_by(_RECORDS.c.tenant_id, _RECORDS.c.seq)
    if tenant_id is not None:
        query = query.where(_RECORDS.c.tenant_id == tenant_id)
    if since is not None:
        query = query.where(_RECORDS.c.ts >= _aware(since, "since"))
    if until is not None:
        query = query.where(_RECORDS.c.ts < _aware(until, "until"))
    written = 0
    with read_snapshot(engine, tenant_id) as conn:
        for row in conn.execution_options(yield_per=_YIELD_PER).execute(query):
            line = export_line(row, sealer)
            out.write(orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode())
            out.write("\n")
            written += 1
    return written


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"export_jsonl({name}=...) needs a timezone-aware datetime")
    return value
