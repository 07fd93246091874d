"""Envelope encryption: a data key per tenant and purpose, wrapped by the KEK provider.

Field blob layout::

    0x01 | data-key id (16 bytes, a UUID) | AES-256-GCM blob (see ``aead``)

The associated data is (tenant, purpose, table, record id), so a blob only opens in
the row it was written for. Data keys are created on first use, stored wrapped in
``data_keys`` and kept unwrapped only in this process's memory. Purposes keep
application data, the audit log and backups under separate keys.

Data-key rotation (``rotate``) adds version N+1 and retires the older versions: new
data is written under N+1 at once in this process, and in every other process within
``refresh_seconds`` (the cached current key is re-read that often). Old versions keep
decrypting until ``bastion.crypto.rotation`` has re-encrypted their data and
destroyed them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.crypto.aead import DecryptionError, associated_data, open_sealed, seal
from bastion.crypto.providers import KeyProvider, UnwrapError
from bastion.store.rls import require_all_tenants
from bastion.store.schema import DataKey
from bastion.store.tenancy import maintenance, tenant_begin, tenant_connect

__all__ = ["PURPOSES", "Keyring", "UnwrappedKey", "key_id_bytes"]

PURPOSES = frozenset({"app", "audit", "backup", "dlp_hash"})
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class UnwrappedKey:
    id: str
    tenant_id: str
    purpose: str
    version: int
    key: bytes = field(repr=False)


_COLUMNS = (DataKey.id, DataKey.tenant_id, DataKey.purpose, DataKey.version, DataKey.wrapped)


def key_id_bytes(key_id: str) -> bytes:
    """The 16 bytes that name a data key in a field blob's header (bytes 1..16)."""
    return uuid.UUID(key_id).bytes


def _context(tenant_id: str, purpose: str, version: int) -> str:
    return f"{tenant_id}/{purpose}/{version}"


class Keyring:
    def __init__(
        self,
        engine: Engine,
        provider: KeyProvider,
        clock: Callable[[], datetime],
        *,
        random: Callable[[int], bytes] = os.urandom,
        refresh_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_seconds < 0:
            raise ValueError("refresh_seconds must be >= 0")
        self._engine = engine
        self._provider = provider
        self._clock = clock
        self._random = random
        self._refresh = refresh_seconds
        self._monotonic = monotonic
        self._by_id: dict[str, UnwrappedKey] = {}
        # (tenant, purpose) -> (key, monotonic time it was read)
        self._current: dict[tuple[str, str], tuple[UnwrappedKey, float]] = {}

    def __repr__(self) -> str:
        return f"Keyring(provider={self._provider!r}, cached={len(self._by_id)})"

    # -- keys ---------------------------------------------------------------------
    def current(self, tenant_id: str, purpose: str) -> UnwrappedKey:
        """The key new data is written under, created (version 1) on first use."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        cached = self._current.get((tenant_id, purpose))
        now = self._monotonic()
        if cached is not None and now - cached[1] < self._refresh:
            return cached[0]
        found = self._load_current(tenant_id, purpose) or self._create(tenant_id, purpose, 1)
        self._current[(tenant_id, purpose)] = (found, now)
        return found

    @property
    def refresh_seconds(self) -> float:
        """How stale this process's idea of a current key may be."""
        return self._refresh

    def rotate(self, tenant_id: str, purpose: str) -> UnwrappedKey:
        """Add the next version of a data key and retire the older ones (DEK rotation).

        Retired versions still decrypt; see ``bastion.crypto.rotation`` for the
        re-encryption that lets them be destroyed.
        """
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        with tenant_connect(self._engine, tenant_id) as conn:
            latest = conn.execute(
                select(func.max(DataKey.version)).where(
                    DataKey.tenant_id == tenant_id, DataKey.purpose == purpose
                )
            ).scalar_one()
        key = self._create(tenant_id, purpose, int(latest or 0) + 1, retire_older=True)
        self._current[(tenant_id, purpose)] = (key, self._monotonic())
        return key

    def versions(self, tenant_id: str, purpose: str) -> list[tuple[str, int, bool]]:
        """(key id, version, retired) of every stored version, oldest first."""
        query = (
            select(DataKey.id, DataKey.version, DataKey.retired_at)
            .where(DataKey.tenant_id == tenant_id, DataKey.purpose == purpose)
            .order_by(DataKey.version)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            rows = conn.execute(query).all()
        return [(key_id, int(version), retired is not None) for key_id, version, retired in rows]

    def _load_current(self, tenant_id: str, purpose: str) -> UnwrappedKey | None:
        query = (
            select(*_COLUMNS)
            .where(
                DataKey.tenant_id == tenant_id,
                DataKey.purpose == purpose,
                DataKey.retired_at.is_(None),
            )
            .order_by(DataKey.version.desc())
            .limit(1)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        return self._unwrap(row) if row is not None else None

    def _create(
        self, tenant_id: str, purpose: str, version: int, *, retire_older: bool = False
    ) -> UnwrappedKey:
        key = self._random(32)
        key_id = str(uuid.UUID(bytes=self._random(16), version=4))
        wrapped = self._provider.wrap(key, _context(tenant_id, purpose, version))
        created = self._clock()
        try:
            with tenant_begin(self._engine, tenant_id) as conn:
                if retire_older:
                    conn.execute(
                        update(DataKey)
                        .where(
                            DataKey.tenant_id == tenant_id,
                            DataKey.purpose == purpose,
                            DataKey.version < version,
                            DataKey.retired_at.is_(None),
                        )
                        .values(retired_at=created)
                    )
                conn.execute(
                    insert(DataKey).values(
                        id=key_id,
                        tenant_id=tenant_id,
                        purpose=purpose,
                        version=version,
                        kek_id=self._provider.key_id,
                        wrapped=wrapped,
                        created_at=created,
                        retired_at=None,
                    )
                )
        except IntegrityError:
            # Another process created this version first: use theirs.
            winner = self._load_current(tenant_id, purpose)
            if winner is None or (retire_older and winner.version < version):
                raise
            return winner
        unwrapped = UnwrappedKey(key_id, tenant_id, purpose, version, key)
        self._by_id[key_id] = unwrapped
        return unwrapped

    def _unwrap(self, row: Row[str, str, str, int, bytes]) -> UnwrappedKey:
        key_id, tenant_id, purpose, version, wrapped = row
        cached = self._by_id.get(key_id)
        if cached is not None:
            return cached
        key = self._provider.unwrap(wrapped, _context(tenant_id, purpose, version))
        unwrapped = UnwrappedKey(key_id, tenant_id, purpose, version, key)
        self._by_id[key_id] = unwrapped
        return unwrapped

    def by_id(self, tenant_id: str, key_id: str) -> UnwrappedKey:
        """A tenant's data key by id, any version (retired ones still decrypt)."""
        cached = self._by_id.get(key_id)
        if cached is not None:
            return cached
        query = select(*_COLUMNS).where(DataKey.id == key_id, DataKey.tenant_id == tenant_id)
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise DecryptionError()
        try:
            return self._unwrap(row)
        except UnwrapError:
            raise DecryptionError() from None

    def rewrap_all(self, new: KeyProvider) -> int:
        """Re-wrap every data key under ``new`` in one transaction (KEK rotation).

        Data keys themselves do not change, so ciphertexts and running processes are
        unaffected; processes started afterwards need the new KEK. Returns the count.
        """
        with maintenance(self._engine).begin() as conn:
            require_all_tenants(conn)  # else it would re-wrap nothing and say so
            rows = conn.execute(select(*_COLUMNS).with_for_update()).all()
            for row in rows:
                key_id, tenant_id, purpose, version, wrapped = row
                context = _context(tenant_id, purpose, version)
                key = self._provider.unwrap(wrapped, context)  # UnwrapError aborts it all
                conn.execute(
                    update(DataKey)
                    .where(DataKey.id == key_id)
                    .values(wrapped=new.wrap(key, context), kek_id=new.key_id)
                )
        self._provider = new
        return len(rows)

    def forget(self, key_ids: set[str]) -> None:
        """Drop destroyed keys from this process's memory."""
        for key_id in key_ids:
            self._by_id.pop(key_id, None)
        self._current = {k: v for k, v in self._current.items() if v[0].id not in key_ids}

    def key_count(self, tenant_id: str | None = None) -> int:
        query = select(func.count()).select_from(DataKey)
        if tenant_id is not None:
            with tenant_connect(self._engine, tenant_id) as conn:
                return int(conn.execute(query.where(DataKey.tenant_id == tenant_id)).scalar_one())
        with maintenance(self._engine).connect() as conn:
            require_all_tenants(conn)
            return int(conn.execute(query).scalar_one())

    # -- fields -------------------------------------------------------------------
    def encrypt(
        self, tenant_id: str, purpose: str, table: str, record_id: str, plaintext: bytes
    ) -> bytes:
        key = self.current(tenant_id, purpose)
        aad = associated_data(tenant_id, purpose, table, record_id)
        header = bytes([_FORMAT]) + key_id_bytes(key.id)
        return header + seal(key.key, plaintext, aad, random=self._random)

    def decrypt(
        self, tenant_id: str, purpose: str, table: str, record_id: str, blob: bytes
    ) -> bytes:
        """The plaintext, or :class:`DecryptionError` (the same for every failure)."""
        if len(blob) < 17 or blob[0] != _FORMAT:
            raise DecryptionError()
        key = self.by_id(tenant_id, str(uuid.UUID(bytes=blob[1:17])))
        if key.tenant_id != tenant_id or key.purpose != purpose:
            raise DecryptionError()
        return open_sealed(
            key.key, blob[17:], associated_data(tenant_id, purpose, table, record_id)
        )
