"""Data-key rotation: sealed audit content re-encrypted, chain intact, old keys destroyed."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from bastion.audit._chain import PendingRecord, commit_batch
from bastion.audit.export import export_jsonl
from bastion.audit.sealing import AuditSealer
from bastion.audit.verify import verify_chain
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.crypto.columns import SEALED_COLUMNS
from bastion.crypto.keyring import key_id_bytes
from bastion.crypto.rotation import RotationError, keys_in_use, rotate_data_key
from bastion.store.schema import AuditRecord, Base, DataKey
from bastion.store.tenancy import maintenance
from tests.audit.conftest import build_event

KEK = bytes(range(32))
AUDIT = SEALED_COLUMNS[0]


def clock() -> datetime:
    return datetime.now(UTC)


def ring(engine: Engine, refresh: float = 5.0) -> Keyring:
    return Keyring(engine, LocalKeyProvider(KEK), clock, refresh_seconds=refresh)


def write(engine: Engine, keyring: Keyring, start: int, count: int, tenant: str) -> None:
    sealer = AuditSealer(keyring)
    for i in range(start, start + count):
        commit_batch(engine, [PendingRecord.from_event(build_event(i, tenant))], sealer)


def prompts(engine: Engine, keyring: Keyring, tenant: str) -> list[str]:
    out = io.StringIO()
    export_jsonl(engine, out, tenant, sealer=AuditSealer(keyring))
    return [json.loads(line)["prompt"][0]["content"] for line in out.getvalue().splitlines()]


def stored_versions(engine: Engine, tenant: str) -> list[int]:
    with maintenance(engine).connect() as conn:
        rows = conn.execute(
            select(DataKey.version).where(DataKey.tenant_id == tenant, DataKey.purpose == "audit")
        ).all()
    return sorted(int(r[0]) for r in rows)


def test_rotation_reencrypts_everything_and_destroys_the_old_key(engine: Engine) -> None:
    keyring = ring(engine)
    write(engine, keyring, 0, 7, "tenant-a")
    write(engine, keyring, 0, 3, "tenant-b")
    v1 = keyring.current("tenant-a", "audit")
    with maintenance(engine).connect() as conn:
        hashes_before = conn.execute(select(AuditRecord.hash).order_by(AuditRecord.id)).all()

    report = rotate_data_key(
        keyring, engine, "tenant-a", "audit", SEALED_COLUMNS, settle_seconds=0, batch=3
    )

    assert (report.new_version, report.reencrypted, report.destroyed) == (2, 7, (1,))
    v2 = keyring.current("tenant-a", "audit")
    assert v2.version == 2 and v2.id != v1.id
    assert keys_in_use(engine, "tenant-a", AUDIT) == {key_id_bytes(v2.id)}
    assert stored_versions(engine, "tenant-a") == [2]
    # The other tenant is untouched, and no hash changed: the chain verifies.
    assert stored_versions(engine, "tenant-b") == [1]
    with maintenance(engine).connect() as conn:
        assert conn.execute(select(AuditRecord.hash).order_by(AuditRecord.id)).all() == (
            hashes_before
        )
    fresh = ring(engine)  # a process started after the rotation
    assert verify_chain(engine, sealer=AuditSealer(fresh)).ok
    assert prompts(engine, fresh, "tenant-a") == [f"question {i}" for i in range(7)]
    # New records go under v2 and the tenant can rotate again.
    write(engine, keyring, 7, 2, "tenant-a")
    again = rotate_data_key(keyring, engine, "tenant-a", "audit", SEALED_COLUMNS, settle_seconds=0)
    assert (again.new_version, again.reencrypted, again.destroyed) == (3, 9, (2,))
    assert verify_chain(engine, "tenant-a", sealer=AuditSealer(ring(engine))).ok


def test_a_straggler_writing_under_the_old_key_is_caught(engine: Engine) -> None:
    """A process that has not refreshed yet writes under v1 during the settle time."""
    keyring = ring(engine)
    write(engine, keyring, 0, 4, "tenant-a")
    stale = ring(engine, refresh=3600)  # another process, still on v1
    stale.current("tenant-a", "audit")
    ticks = iter(range(100))

    def sleep(_: float) -> None:
        write(engine, stale, next(ticks) + 100, 1, "tenant-a")

    t = [0.0]

    def monotonic() -> float:
        t[0] += 1.0
        return t[0]

    report = rotate_data_key(
        keyring,
        engine,
        "tenant-a",
        "audit",
        SEALED_COLUMNS,
        settle_seconds=3,
        sleep=sleep,
        monotonic=monotonic,
    )
    assert report.reencrypted >= 5  # the straggler's records were re-encrypted too
    assert stored_versions(engine, "tenant-a") == [2]
    assert verify_chain(engine, "tenant-a", sealer=AuditSealer(ring(engine))).ok
    assert len(prompts(engine, ring(engine), "tenant-a")) == 4 + report.passes - 1


def test_rotation_gives_up_without_destroying_keys_still_in_use(engine: Engine) -> None:
    keyring = ring(engine)
    write(engine, keyring, 0, 2, "tenant-a")
    stale = ring(engine, refresh=3600)
    stale.current("tenant-a", "audit")
    n = iter(range(1000))

    def progress(_: str) -> None:  # a stale writer that never stops
        write(engine, stale, next(n) + 10, 1, "tenant-a")

    with pytest.raises(RotationError, match="still in use"):
        rotate_data_key(
            keyring,
            engine,
            "tenant-a",
            "audit",
            SEALED_COLUMNS,
            settle_seconds=0,
            max_passes=3,
            progress=progress,
        )
    assert stored_versions(engine, "tenant-a") == [1, 2]  # v1 kept: nothing is lost
    assert verify_chain(engine, "tenant-a", sealer=AuditSealer(ring(engine))).ok


def test_other_processes_pick_up_the_new_key_after_refresh(engine: Engine) -> None:
    t = [0.0]
    other = Keyring(engine, LocalKeyProvider(KEK), clock, refresh_seconds=5, monotonic=lambda: t[0])
    v1 = other.current("tenant-a", "audit")
    ring(engine).rotate("tenant-a", "audit")
    t[0] = 4.9
    assert other.current("tenant-a", "audit").id == v1.id
    t[0] = 5.0
    assert other.current("tenant-a", "audit").version == 2


def test_every_binary_column_is_a_registered_sealed_column_or_exempt() -> None:
    """A new sealed field must be registered, or key rotation would strand it."""
    exempt = {("data_keys", "wrapped")}  # wrapped by the KEK, re-wrapped by --kek
    registered = {(c.table.name, c.blob) for c in SEALED_COLUMNS}
    binary = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.type.python_type is bytes
    }
    assert binary == registered | exempt
