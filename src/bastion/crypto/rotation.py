"""Data-key rotation: re-encrypt a tenant's sealed fields online, then destroy the old keys.

``rotate_data_key`` runs while the gateway keeps serving:

1. ``Keyring.rotate`` adds version N+1 and retires the older versions. This process
   writes under N+1 at once; other processes switch within their keyring's
   ``refresh_seconds``.
2. Passes over every sealed column of that purpose re-encrypt, batch by batch, each
   blob whose header names an older key. Each row is updated only if its blob is
   still the one that was read (compare and set), so nothing written meanwhile is
   overwritten. The associated data (tenant, purpose, table, record id) does not
   change, and neither does any audit hash: the chain covers the plaintext.
3. After the settle time (``settle_seconds``, at least twice the refresh interval,
   so every process has switched), one transaction deletes the retired keys and
   then counts what they still protect; if anything is left (a straggling writer),
   the deletion rolls back and another pass runs. On SQLite the DELETE takes the
   database write lock before the count; on PostgreSQL the audit head row is locked
   first, as the audit writer does, so no record can slip in between.

A destroyed key is gone from the database: a stolen backup or disk image made after
the rotation cannot decrypt anything with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    LargeBinary,
    Table,
    delete,
    func,
    literal,
    select,
    update,
)

from bastion.crypto.keyring import Keyring, key_id_bytes
from bastion.store.schema import AuditHead, DataKey
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["RotationError", "RotationReport", "SealedColumn", "rotate_data_key"]

_HEADS = cast(Table, AuditHead.__table__)


class RotationError(Exception):
    """The old keys could not be retired (something still used them after every pass)."""


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of field blobs sealed by ``Keyring.encrypt``.

    ``aad_column`` holds the record id the blob's associated data names; ``key`` is
    the row's primary key, used to update it.
    """

    table: Table
    purpose: str
    blob: str
    aad_column: str
    key: str = "id"
    tenant: str = "tenant_id"

    def column(self, name: str) -> Column[object]:
        return cast(Column[object], self.table.c[name])


@dataclass(frozen=True, slots=True)
class RotationReport:
    tenant_id: str
    purpose: str
    new_version: int
    reencrypted: int
    passes: int
    destroyed: tuple[int, ...]


def _header_key(col: SealedColumn) -> ColumnElement[bytes]:
    return func.substr(col.column(col.blob), 2, 16, type_=LargeBinary)


def _pass(
    keyring: Keyring,
    engine: Engine,
    tenant_id: str,
    col: SealedColumn,
    current_id: str,
    batch: int,
) -> int:
    """Re-encrypt every blob of ``col`` not under ``current_id``; returns the count."""
    current = literal(key_id_bytes(current_id), LargeBinary)
    key_col, blob_col = col.column(col.key), col.column(col.blob)
    done, after = 0, None
    while True:
        query = (
            select(key_col, col.column(col.aad_column), blob_col)
            .where(
                col.column(col.tenant) == tenant_id,
                blob_col.is_not(None),
                _header_key(col) != current,
            )
            .order_by(key_col)
            .limit(batch)
        )
        if after is not None:
            query = query.where(key_col > after)
        with tenant_begin(engine, tenant_id) as conn:
            rows = conn.execute(query).all()
            for row_key, aad_id, blob in rows:
                table = col.table.name
                sealed = cast(bytes, blob)
                plain = keyring.decrypt(tenant_id, col.purpose, table, str(aad_id), sealed)
                fresh = keyring.encrypt(tenant_id, col.purpose, table, str(aad_id), plain)
                result = conn.execute(
                    update(col.table)
                    .where(key_col == row_key, blob_col == blob)
                    .values({col.blob: fresh})
                )
                done += result.rowcount
        if len(rows) < batch:
            return done
        after = rows[-1][0]


def _remaining(conn: Connection, tenant_id: str, col: SealedColumn, old: list[str]) -> int:
    olds = [literal(key_id_bytes(k), LargeBinary) for k in old]
    query = (
        select(func.count())
        .select_from(col.table)
        .where(col.column(col.tenant) == tenant_id, _header_key(col).in_(olds))
    )
    return int(conn.execute(query).scalar_one())


def _try_destroy(
    engine: Engine, tenant_id: str, purpose: str, columns: Sequence[SealedColumn], old: list[str]
) -> bool:
    """Delete the ``old`` keys if nothing uses them any more, atomically."""
    with tenant_begin(engine, tenant_id) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                select(_HEADS.c.seq).where(_HEADS.c.tenant_id == tenant_id).with_for_update()
            )
        conn.execute(
            delete(DataKey).where(
                DataKey.tenant_id == tenant_id,
                DataKey.purpose == purpose,
                DataKey.id.in_(old),
            )
        )
        if any(_remaining(conn, tenant_id, col, old) for col in columns):
            conn.rollback()
            return False
    return True


def rotate_data_key(
    keyring: Keyring,
    engine: Engine,
    tenant_id: str,
    purpose: str,
    columns: Sequence[SealedColumn],
    *,
    settle_seconds: float | None = None,
    batch: int = 500,
    max_passes: int = 20,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = lambda _: None,
) -> RotationReport:
    """Rotate ``tenant_id``'s ``purpose`` key and re-encrypt ``columns`` under it."""
    columns = [c for c in columns if c.purpose == purpose]
    settle = 2 * keyring.refresh_seconds if settle_seconds is None else settle_seconds
    started = monotonic()
    new = keyring.rotate(tenant_id, purpose)
    older = [(k, v) for k, v, _ in keyring.versions(tenant_id, purpose) if v < new.version]
    old = [k for k, _ in older]
    progress(f"data key v{new.version} is current for {tenant_id}/{purpose}")
    total = 0
    for passes in range(1, max_passes + 1):
        for col in columns:
            total += _pass(keyring, engine, tenant_id, col, new.id, batch)
        progress(f"pass {passes}: {total} field(s) re-encrypted")
        wait = settle - (monotonic() - started)
        if wait > 0:
            sleep(wait)
            continue
        if not old or _try_destroy(engine, tenant_id, purpose, columns, old):
            keyring.forget(set(old))
            destroyed = tuple(v for _, v in older)
            return RotationReport(tenant_id, purpose, new.version, total, passes, destroyed)
    raise RotationError(
        f"data keys of {tenant_id}/{purpose} still in use after {max_passes} passes; "
        "they stay retired (still decrypting) and the rotation can be run again"
    )


def keys_in_use(engine: Engine, tenant_id: str, col: SealedColumn) -> set[bytes]:
    """The key-id headers of every blob in ``col`` (for tests and `keys status`)."""
    with tenant_connect(engine, tenant_id) as conn:
        rows = conn.execute(
            select(_header_key(col))
            .where(col.column(col.tenant) == tenant_id, col.column(col.blob).is_not(None))
            .distinct()
        ).all()
    return {bytes(r[0]) for r in rows}
