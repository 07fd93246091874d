"""Envelope encryption: per-tenant, per-purpose data keys wrapped by the KEK provider."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from bastion.crypto import DecryptionError, Keyring, LocalKeyProvider, UnwrapError
from bastion.store.schema import DataKey

KEK = bytes(range(32))


def clock() -> datetime:
    return datetime(2026, 11, 25, tzinfo=UTC)


def keyring(engine: Engine, kek: bytes = KEK) -> Keyring:
    return Keyring(engine, LocalKeyProvider(kek), clock)


def test_round_trip_across_processes(engine: Engine) -> None:
    """A second keyring (another process) opens what the first one sealed."""
    blob = keyring(engine).encrypt("t1", "audit", "audit_records", "7", b"secret prompt")
    assert keyring(engine).decrypt("t1", "audit", "audit_records", "7", blob) == b"secret prompt"


def test_keys_are_per_tenant_and_purpose_and_stored_wrapped(engine: Engine) -> None:
    """Each (tenant, purpose) gets its own key; the table holds only wrapped keys."""
    ring = keyring(engine)
    keys = {ring.current(t, p).key for t in ("t1", "t2") for p in ("app", "audit", "backup")}
    assert len(keys) == 6
    with engine.connect() as conn:
        wrapped = list(conn.execute(select(DataKey.wrapped)).scalars())
    assert len(wrapped) == 6
    assert all(key not in blob for key in keys for blob in wrapped)
    assert "key=" not in repr(ring.current("t1", "app"))


def test_blob_moved_to_another_tenant_or_row_fails(engine: Engine) -> None:
    """The same bytes do not open for another tenant, purpose, table or record."""
    ring = keyring(engine)
    blob = ring.encrypt("t1", "audit", "audit_records", "7", b"x")
    ring.current("t2", "audit")
    for place in (
        ("t2", "audit", "audit_records", "7"),
        ("t1", "app", "audit_records", "7"),
        ("t1", "audit", "users", "7"),
        ("t1", "audit", "audit_records", "8"),
    ):
        with pytest.raises(DecryptionError):
            ring.decrypt(*place, blob)


def test_wrong_kek_cannot_unwrap(engine: Engine) -> None:
    """Data keys wrapped under one KEK do not unwrap under another."""
    blob = keyring(engine).encrypt("t1", "app", "t", "1", b"x")
    with pytest.raises(DecryptionError):
        keyring(engine, os.urandom(32)).decrypt("t1", "app", "t", "1", blob)
    provider = LocalKeyProvider(KEK)
    wrapped = provider.wrap(b"k" * 32, "t1/app/1")
    with pytest.raises(UnwrapError):
        provider.unwrap(wrapped, "t2/app/1")


def test_unknown_purpose_is_refused(engine: Engine) -> None:
    """Purposes are a closed set."""
    with pytest.raises(ValueError, match="purpose"):
        keyring(engine).current("t1", "misc")


def test_kek_rotation_rewraps_without_touching_data(engine: Engine) -> None:
    """After rotation the new KEK opens old ciphertexts and the old KEK opens nothing."""
    ring = keyring(engine)
    blobs = {t: ring.encrypt(t, "audit", "audit_records", "1", t.encode()) for t in ("a", "b")}
    new_kek = os.urandom(32)
    assert ring.rewrap_all(LocalKeyProvider(new_kek)) == 2
    with engine.connect() as conn:
        kek_ids = set(conn.execute(select(DataKey.kek_id)).scalars())
    assert kek_ids == {LocalKeyProvider(new_kek).key_id}
    fresh = keyring(engine, new_kek)
    for tenant, blob in blobs.items():
        assert fresh.decrypt(tenant, "audit", "audit_records", "1", blob) == tenant.encode()
    with pytest.raises(DecryptionError):
        keyring(engine, KEK).decrypt("a", "audit", "audit_records", "1", blobs["a"])
    assert ring.decrypt("a", "audit", "audit_records", "1", blobs["a"]) == b"a"  # still cached
