"""Envelope encryption: a data key per tenant and purpose, wrapped by the KEK provider.

Field blob layout::

    0x01 | data-key id (16 bytes, a UUID) | AES-256-GCM blob (see ``aead``)

The associated data is (tenant, purpose, table, record id), so a blob only opens in
the row it was written for. Data keys are created on first use, stored wrapped in
``data_keys`` and kept unwrapped only in this process's memory. Purposes keep
application data, the audit log and backups under separate keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.crypto.aead import DecryptionError, associated_data, open_sealed, seal
from bastion.crypto.providers import KeyProvider, UnwrapError
from bastion.store.schema import DataKey

__all__ = ["PURPOSES", "Keyring", "UnwrappedKey"]

PURPOSES = frozenset({"app", "audit", "backup"})
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class UnwrappedKey:
    id: str
    tenant_id: str
    purpose: str
    version: int
    key: bytes = field(repr=False)


_COLUMNS = (DataKey.id, DataKey.tenant_id, DataKey.purpose, DataKey.version, DataKey.wrapped)


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
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._clock = clock
        self._random = random
        self._by_id: dict[str, UnwrappedKey] = {}
        self._current: dict[tuple[str, str], UnwrappedKey] = {}

    def __repr__(self) -> str:
        return f"Keyring(provider={self._provider!r}, cached={len(self._by_id)})"

    # -- keys ---------------------------------------------------------------------
    def current(self, tenant_id: str, purpose: str) -> UnwrappedKey:
        """The key new data is written under, created (version 1) on first use."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        found = self._current.get((tenant_id, purpose))
        if found is not None:
            return found
        found = self._load_current(tenant_id, purpose) or self._create(tenant_id, purpose, 1)
        self._current[(tenant_id, purpose)] = found
        return found

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
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return self._unwrap(row) if row is not None else None

    def _create(self, tenant_id: str, purpose: str, version: int) -> UnwrappedKey:
        key = self._random(32)
        key_id = str(uuid.UUID(bytes=self._random(16), version=4))
        wrapped = self._provider.wrap(key, _context(tenant_id, purpose, version))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(DataKey).values(
                        id=key_id,
                        tenant_id=tenant_id,
                        purpose=purpose,
                        version=version,
                        kek_id=self._provider.key_id,
                        wrapped=wrapped,
                        created_at=self._clock(),
                        retired_at=None,
                    )
                )
        except IntegrityError:
            # Another process created this version first: use theirs.
            winner = self._load_current(tenant_id, purpose)
            if winner is None:
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

    def by_id(self, key_id: str) -> UnwrappedKey:
        cached = self._by_id.get(key_id)
        if cached is not None:
            return cached
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(DataKey.id == key_id)).first()
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
        with self._engine.begin() as conn:
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

    def key_count(self, tenant_id: str | None = None) -> int:
        query = select(func.count()).select_from(DataKey)
        if tenant_id is not None:
            query = query.where(DataKey.tenant_id == tenant_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- fields -------------------------------------------------------------------
    def encrypt(
        self, tenant_id: str, purpose: str, table: str, record_id: str, plaintext: bytes
    ) -> bytes:
        key = self.current(tenant_id, purpose)
        aad = associated_data(tenant_id, purpose, table, record_id)
        header = bytes([_FORMAT]) + uuid.UUID(key.id).bytes
        return header + seal(key.key, plaintext, aad, random=self._random)

    def decrypt(
        self, tenant_id: str, purpose: str, table: str, record_id: str, blob: bytes
    ) -> bytes:
        """The plaintext, or :class:`DecryptionError` (the same for every failure)."""
        if len(blob) < 17 or blob[0] != _FORMAT:
            raise DecryptionError()
        key = self.by_id(str(uuid.UUID(bytes=blob[1:17])))
        if key.tenant_id != tenant_id or key.purpose != purpose:
            raise DecryptionError()
        return open_sealed(
            key.key, blob[17:], associated_data(tenant_id, purpose, table, record_id)
        )
