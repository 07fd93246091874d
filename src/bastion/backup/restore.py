"""Loading a backup into an empty, migrated database: all of it, verified, or nothing.

``restore_backup`` runs in this order:

1. one write transaction (``bastion.store.transactions``): the target's Alembic
   revision must equal the archive's; every table is locked against other writers
   (PostgreSQL) or the write lock is held (SQLite), and must be empty;
2. the body is streamed from the archive, decoded (``_values``) and inserted in
   batches, table by table in the archive's foreign-key order; then PostgreSQL
   sequences are moved past the restored ids. Any fault (a damaged chunk, which may
   surface only at the last one, content that does not fit the schema, a database
   error) rolls the transaction back;
3. after the commit every tenant's audit chain is verified with
   :func:`bastion.audit.verify_chain`; if one fails, or verification cannot run,
   every restored row is deleted again, so the target ends up either fully
   restored and verified, or empty.

Exceptions (besides ``bastion.backup.archive.ArchiveError``)::

    RestoreError                nothing of the archive is left in the target
     +- TargetNotEmpty
     +- RevisionMismatch
     +- ArchiveContentError     authenticated content that does not fit this schema
     +- LoadFailed              the database refused a statement
     +- VerificationFailed      the restored audit log does not verify
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, delete, func, insert, literal, select, text
from sqlalchemy.exc import DBAPIError

from bastion.audit import AuditSealer, TenantReport, verify_chain
from bastion.backup._values import Kind, column_kinds, decode
from bastion.backup.archive import ArchiveHeader, ArchiveReader
from bastion.backup.dump import DUMP_FORMAT, backup_tables, current_revision
from bastion.store.schema import AuditHead, AuditRecord, Tenant
from bastion.store.tenancy import maintenance
from bastion.store.transactions import read_snapshot, write_transaction

__all__ = [
    "ArchiveContentError",
    "LoadFailed",
    "RestoreError",
    "RestoreSummary",
    "RevisionMismatch",
    "TargetNotEmpty",
    "VerificationFailed",
    "check_empty",
    "restore_backup",
]

_BATCH = 500
Progress = Callable[[str, int], None]


class RestoreError(Exception):
    """The restore was refused or undone; the target holds nothing from the archive."""


class TargetNotEmpty(RestoreError):
    def __init__(self, table: str) -> None:
        super().__init__(
            f"the target database is not empty (table {table} has rows); restore needs "
            "an empty database migrated with `bastion init`"
        )


class RevisionMismatch(RestoreError):
    def __init__(self, archive: str, target: str | None) -> None:
        super().__init__(
            f"the archive was made at schema revision {archive} but the target database "
            f"is at {target or 'none'}; restore it with the Bastion release that made it, "
            "then upgrade with `bastion init`"
        )


class ArchiveContentError(RestoreError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"the archive does not fit this schema ({detail}); nothing was written")


class LoadFailed(RestoreError):
    def __init__(self, cause: str) -> None:
        super().__init__(f"the database refused the restore ({cause}); nothing was written")


class VerificationFailed(RestoreError):
    """``failures`` lists the tenants whose chain broke (empty: records went unseen)."""

    def __init__(self, detail: str, failures: list[TenantReport]) -> None:
        super().__init__(
            f"the restored audit log does not verify ({detail}); the restored rows were removed"
        )
        self.failures = failures


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What was restored: rows per table, and audit records verified per tenant."""

    header: ArchiveHeader
    tables: dict[str, int]
    audit: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def check_empty(engine: Engine) -> None:
    """:class:`TargetNotEmpty` if any table holds a row (``restore_backup`` checks again)."""
    with read_snapshot(engine, None) as conn:
        _require_empty(conn, backup_tables())


def restore_backup(
    engine: Engine,
    reader: ArchiveReader,
    *,
    sealer: AuditSealer,
    progress: Progress | None = None,
) -> RestoreSummary:
    """Load the archive into the empty database behind ``engine`` (the owner connection).

    ``engine`` is used as a :func:`~bastion.store.tenancy.maintenance` connection.
    ``sealer`` opens sealed audit content for verification (it needs the KEK).
    """
    engine = maintenance(engine)
    tables = backup_tables()
    try:
        with write_transaction(engine, all_tenants=True) as conn:
            revision = current_revision(conn)
            if revision != reader.header.revision:
                raise RevisionMismatch(reader.header.revision, revision)
            _lock(conn, tables)
            _require_empty(conn, tables)
            counts = _Loader(conn, tables, reader.header.revision, progress).load(
                _lines(reader.chunks())
            )
            _reset_sequences(conn, tables)
    except DBAPIError as exc:
        raise LoadFailed(type(exc.orig or exc).__name__) from None
    try:
        audit = _verify(engine, sealer)
    except BaseException:
        _wipe(engine, tables)
        raise
    failures = [report for report in audit.values() if not report.ok]
    seen = sum(report.count for report in audit.values())
    restored = counts.get(str(AuditRecord.__tablename__), 0)
    if failures or seen != restored:
        _wipe(engine, tables)
        if failures:
            raise VerificationFailed(failures[0].describe(), failures)
        # e.g. row-level security hiding rows from the connection that verifies
        raise VerificationFailed(f"it saw {seen} of the {restored} records restored", [])
    return RestoreSummary(
        header=reader.header,
        tables=counts,
        audit={tenant: report.count for tenant, report in audit.items()},
    )


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        if b"\n" in chunk:
            *complete, pending = pending.split(b"\n")
            yield from complete
    if pending:
        yield pending


def _lock(conn: Connection, tables: list[Table]) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
    names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
    conn.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))


def _require_empty(conn: Connection, tables: Iterable[Table]) -> None:
    for table in tables:
        if conn.execute(select(literal(1)).select_from(table).limit(1)).first() is not None:
            raise TargetNotEmpty(table.name)


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Move each serial column's sequence past the ids restored explicitly."""
    if conn.dialect.name != "postgresql":
        return  # SQLite's rowid allocation follows the largest id by itself
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        name = conn.dialect.identifier_preparer.format_table(table)
        top = select(func.max(column)).scalar_subquery()
        sequence = func.pg_get_serial_sequence(name, column.name)
        conn.execute(select(func.setval(sequence, func.coalesce(top, 0) + 1, False)))


def _verify(engine: Engine, sealer: AuditSealer) -> dict[str, TenantReport]:
    with read_snapshot(engine, None) as conn:
        tenants = set(conn.execute(select(Tenant.id)).scalars())
        tenants.update(conn.execute(select(AuditHead.tenant_id)).scalars())
        tenants.update(conn.execute(select(AuditRecord.tenant_id).distinct()).scalars())
    return {
        tenant: verify_chain(engine, tenant, sealer=sealer)[tenant] for tenant in sorted(tenants)
    }


def _wipe(engine: Engine, tables: list[Table]) -> None:
    with write_transaction(engine, all_tenants=True) as conn:
        for table in reversed(tables):
            conn.execute(delete(table))


class _Loader:
    """Parses the body (see ``dump``) and inserts its rows, checking it all fits."""

    def __init__(
        self, conn: Connection, tables: list[Table], revision: str, progress: Progress | None
    ) -> None:
        self._conn = conn
        self._tables = {table.name: table for table in tables}
        self._revision = revision
        self._progress = progress

    def load(self, lines: Iterator[bytes]) -> dict[str, int]:
        preamble = _parse(next(lines, b""))
        if not isinstance(preamble, dict) or preamble.get("bastion_dump") != DUMP_FORMAT:
            raise ArchiveContentError("unknown body format")
        if preamble.get("revision") != self._revision:
            raise ArchiveContentError("the body's revision differs from the header's")
        listed = preamble.get("tables")
        if not isinstance(listed, list) or sorted(map(str, listed)) != sorted(self._tables):
            raise ArchiveContentError("its tables differ from this schema's")
        counts: dict[str, int] = {}
        current: _TableLoad | None = None
        for raw in lines:
            value = _parse(raw)
            if isinstance(value, list) and current is not None:
                current.add(value)
            elif isinstance(value, dict) and "table" in value and current is None:
                current = self._start(value, counts)
            elif isinstance(value, dict) and "end" in value and current is not None:
                counts[current.name] = current.finish(value)
                if self._progress is not None:
                    self._progress(current.name, counts[current.name])
                current = None
            elif isinstance(value, dict) and "done" in value and current is None:
                if value["done"] != counts or set(counts) != set(self._tables):
                    raise ArchiveContentError("its tables or row counts do not add up")
                if next(lines, None) is not None:  # also reads on to the final chunk
                    raise ArchiveContentError("data after the end")
                return counts
            else:
                raise ArchiveContentError("an unexpected line")
        raise ArchiveContentError("it ends before its last table")

    def _start(self, value: dict[str, Any], loaded: dict[str, int]) -> _TableLoad:
        table = self._tables.get(str(value["table"]))
        if table is None or table.name in loaded:
            raise ArchiveContentError("an unknown or repeated table")
        for key in table.foreign_keys:
            parent = key.column.table.name
            if parent != table.name and parent not in loaded:
                raise ArchiveContentError(f"table {table.name} comes before {parent}")
        expected = column_kinds(table)
        columns = _columns(value.get("columns"))
        if columns is None or sorted(columns) != sorted(expected.items()):
            raise ArchiveContentError(f"the columns of {table.name} differ")
        return _TableLoad(self._conn, table, [(name, expected[name]) for name, _ in columns])


class _TableLoad:
    def __init__(self, conn: Connection, table: Table, columns: list[tuple[str, Kind]]) -> None:
        self._conn = conn
        self._table = table
        self._columns = columns
        self._batch: list[dict[str, Any]] = []
        self.name = table.name
        self.count = 0

    def add(self, values: list[Any]) -> None:
        if len(values) != len(self._columns):
            raise ArchiveContentError(f"a row of {self.name} has the wrong width")
        row: dict[str, Any] = {}
        for (name, kind), value in zip(self._columns, values, strict=True):
            try:
                row[name] = decode(kind, value)
            except (TypeError, ValueError):
                raise ArchiveContentError(f"a value of {self.name}.{name} is not {kind}") from None
        self._batch.append(row)
        self.count += 1
        if len(self._batch) >= _BATCH:
            self._flush()

    def finish(self, value: dict[str, Any]) -> int:
        self._flush()
        if value.get("end") != self.name or value.get("rows") != self.count:
            raise ArchiveContentError(f"the row count of {self.name} does not add up")
        return self.count

    def _flush(self) -> None:
        if self._batch:
            self._conn.execute(insert(self._table), self._batch)
            self._batch = []


def _columns(value: Any) -> list[tuple[str, str]] | None:
    if not isinstance(value, list):
        return None
    pairs = [tuple(item) for item in value if isinstance(item, list) and len(item) == 2]
    if len(pairs) != len(value) or not all(isinstance(p, str) for pair in pairs for p in pair):
        return None
    return [(str(name), str(kind)) for name, kind in pairs]


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ArchiveContentError("a line is not JSON") from None
