"""Writing a backup: every table of the store, from one snapshot, as JSON lines.

The archive body (before encryption, see ``archive``) is UTF-8 JSON, one value a
line, the same whatever the backend::

    {"bastion_dump": 1, "revision": "0003", "tables": ["tenants", ...]}
    {"table": "tenants", "columns": [["id", "str"], ["created_at", "datetime"], ...]}
    ["7f0c...", "acme", "default", "2025-03-14T15:09:26.535897+00:00"]   one per row
    {"end": "tenants", "rows": 1}
    ... the next table ...
    {"done": {"tenants": 1, ...}}

Tables come from ``Base.metadata`` in foreign-key order (parents first), rows in
primary-key order; column kinds and value encodings are in ``_values``. Rows are
streamed with ``yield_per``, so memory stays bounded whatever the size of the store.
Data keys are copied still wrapped by the KEK: a restored store needs the same KEK.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import orjson
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, select

from bastion.backup._values import Kind, column_kinds, encode
from bastion.backup.archive import CHUNK_SIZE, ArchiveHeader, ArchiveWriter
from bastion.crypto import KeyProvider
from bastion.store.schema import Base
from bastion.store.tenancy import maintenance
from bastion.store.transactions import read_snapshot

__all__ = ["DUMP_FORMAT", "BackupSummary", "backup_tables", "current_revision", "write_backup"]

DUMP_FORMAT = 1
_YIELD_PER = 1000
_EXCLUDED = frozenset({"alembic_version"})

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup wrote: the header (public), rows per table, archive size."""

    header: ArchiveHeader
    tables: dict[str, int]
    bytes_written: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def backup_tables() -> list[Table]:
    """Every table of the schema, parents before children (alembic_version excepted)."""
    return [table for table in Base.metadata.sorted_tables if table.name not in _EXCLUDED]


def current_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at (None: not migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def write_backup(
    engine: Engine,
    provider: KeyProvider,
    out: BinaryIO,
    *,
    now: datetime,
    random: Callable[[int], bytes] = os.urandom,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> BackupSummary:
    """Write an encrypted archive of the whole store to ``out``.

    ``engine`` must see every tenant (the owner connection); it is used as a
    :func:`~bastion.store.tenancy.maintenance` connection. ``progress`` is called
    with each table's name and row count once the table is written.
    """
    engine = maintenance(engine)
    tables = backup_tables()
    kinds = {str(table.name): column_kinds(table) for table in tables}  # fails before writing
    with read_snapshot(engine, None) as conn:
        revision = current_revision(conn)
        if revision is None:
            raise ValueError("the database is not migrated; run `bastion init`")
        writer = ArchiveWriter(
            out, provider, revision=revision, now=now, random=random, chunk_size=chunk_size
        )
        writer.write(
            _line(
                {
                    "bastion_dump": DUMP_FORMAT,
                    "revision": revision,
                    "tables": [str(table.name) for table in tables],
                }
            )
        )
        counts: dict[str, int] = {}
        for table in tables:
            name = str(table.name)  # orjson takes only exact str keys
            counts[name] = _write_table(conn, table, kinds[name], writer)
            if progress is not None:
                progress(name, counts[name])
        writer.write(_line({"done": counts}))
        writer.close()
    return BackupSummary(header=writer.header, tables=counts, bytes_written=writer.bytes_written)


def _write_table(
    conn: Connection, table: Table, kinds: dict[str, Kind], writer: ArchiveWriter
) -> int:
    writer.write(_line({"table": str(table.name), "columns": [[n, k] for n, k in kinds.items()]}))
    query = select(*table.columns).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=_YIELD_PER).execute(query)
    count = 0
    order = list(kinds.items())
    for row in result:
        writer.write(_line([encode(kind, row[i]) for i, (_name, kind) in enumerate(order)]))
        count += 1
    writer.write(_line({"end": str(table.name), "rows": count}))
    return count


def _line(value: object) -> bytes:
    return orjson.dumps(value) + b"\n"
