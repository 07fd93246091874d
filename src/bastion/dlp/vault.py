"""The pseudonymization vault: each conversation's placeholder map, sealed at rest.

A conversation's :class:`~bastion.dlp.operators.Pseudonyms` (``<EMAIL_1>`` <->
``ana@corp.example``) is kept between turns in ``pseudonym_vaults``, sealed with the
tenant's ``app`` data key (associated data: tenant, table, row id; a blob moved to
another row or tenant does not open). A vault is found by its *owner*: a SHA-256 of
the caller (the API key's id) and the conversation id, so another caller, even of the
same tenant and with the same conversation id, gets an empty map and restores
nothing. Vaults expire (``ttl``): an expired vault is never read, each save also
deletes its tenant's expired vaults, and :func:`purge_expired` (``bastion dlp purge``,
for tenants that went quiet) deletes every tenant's.

Saving merges into what is stored (another request of the same conversation may have
saved meanwhile): entries already stored win, a placeholder is never given a second
value. Nothing here logs, and no error or repr carries a value.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Delete, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bastion.crypto import DecryptionError, Keyring
from bastion.dlp.entities import EntityType
from bastion.dlp.operators import Pseudonyms
from bastion.store.schema import PseudonymVaultRow
from bastion.store.tenancy import maintenance, tenant_begin, tenant_connect

__all__ = ["PseudonymVault", "VaultError", "purge_expired", "vault_owner"]

_TABLE = "pseudonym_vaults"
_FORMAT = 1
MAX_ENTRIES = 10_000


class VaultError(Exception):
    """A vault could not be read or written; the message never holds a value."""


def vault_owner(caller: str, conversation: str) -> str:
    """The owner tag of a conversation's vault: SHA-256 of caller and conversation."""
    if not caller or not conversation:
        raise VaultError("a vault needs a caller and a conversation id")
    return hashlib.sha256(f"{caller}\x00{conversation}".encode()).hexdigest()


def _dump(pseudonyms: Pseudonyms) -> bytes:
    entries = [[str(kind), value, ph] for (kind, value), ph in pseudonyms.by_value.items()]
    payload = {"format": _FORMAT, "entries": entries, "counts": pseudonyms.counts}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _load(raw: bytes) -> Pseudonyms:
    try:
        payload = json.loads(raw)
        if payload.get("format") != _FORMAT:
            raise ValueError
        out = Pseudonyms()
        for kind, value, placeholder in payload["entries"]:
            out.by_value[EntityType(kind), str(value)] = str(placeholder)
            out.by_placeholder[str(placeholder)] = str(value)
        out.counts = {str(k): int(v) for k, v in payload["counts"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        raise VaultError("a pseudonym vault is not in the expected format") from None
    return out


def _merge(stored: Pseudonyms, fresh: Pseudonyms) -> Pseudonyms:
    """``stored`` plus the entries of ``fresh`` whose value and placeholder are new."""
    for (kind, value), placeholder in fresh.by_value.items():
        if (kind, value) in stored.by_value or placeholder in stored.by_placeholder:
            continue
        stored.by_value[kind, value] = placeholder
        stored.by_placeholder[placeholder] = value
    for label, count in fresh.counts.items():
        stored.counts[label] = max(stored.counts.get(label, 0), count)
    return stored


def _expired(now: datetime, tenant_id: str | None = None) -> Delete:
    """The DELETE of the vaults expired at ``now``: one tenant's, or every tenant's."""
    statement = delete(PseudonymVaultRow).where(PseudonymVaultRow.expires_at <= now)
    if tenant_id is not None:
        statement = statement.where(PseudonymVaultRow.tenant_id == tenant_id)
    return statement


def purge_expired(engine: Engine, now: datetime) -> int:
    """Delete every tenant's expired vaults (cross-tenant maintenance: on PostgreSQL
    ``engine`` must connect as the owner); how many went."""
    with maintenance(engine).begin() as conn:
        result = conn.execute(_expired(now))
    return result.rowcount


class PseudonymVault:
    """Sealed per-conversation pseudonym maps in the store."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Callable[[], datetime],
        *,
        ttl: timedelta = timedelta(hours=24),
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"PseudonymVault(ttl={self.ttl})"

    def load(self, tenant_id: str, owner: str) -> Pseudonyms:
        """The owner's map; empty when there is none or it has expired."""
        with tenant_connect(self._engine, tenant_id) as conn:
            row = conn.execute(
                select(PseudonymVaultRow.id, PseudonymVaultRow.sealed).where(
                    PseudonymVaultRow.tenant_id == tenant_id,
                    PseudonymVaultRow.owner == owner,
                    PseudonymVaultRow.expires_at > self._clock(),
                )
            ).first()
        if row is None:
            return Pseudonyms()
        return self._open(tenant_id, row[0], row[1])

    def save(self, tenant_id: str, owner: str, pseudonyms: Pseudonyms) -> None:
        """Merge ``pseudonyms`` into the owner's stored map and extend its expiry."""
        if not pseudonyms.by_placeholder:
            return
        try:
            self._save(tenant_id, owner, pseudonyms)
        except IntegrityError:  # another request created the owner's row meanwhile
            self._save(tenant_id, owner, pseudonyms)

    def _save(self, tenant_id: str, owner: str, pseudonyms: Pseudonyms) -> None:
        now = self._clock()
        with tenant_begin(self._engine, tenant_id) as conn:
            query = select(
                PseudonymVaultRow.id, PseudonymVaultRow.sealed, PseudonymVaultRow.expires_at
            ).where(PseudonymVaultRow.tenant_id == tenant_id, PseudonymVaultRow.owner == owner)
            row = conn.execute(query.with_for_update()).first()
            if row is None:
                row_id, merged = str(uuid.uuid4()), _merge(Pseudonyms(), pseudonyms)
            else:
                row_id = row[0]
                stored = self._open(tenant_id, row_id, row[1]) if row[2] > now else Pseudonyms()
                merged = _merge(stored, pseudonyms)
            if len(merged.by_placeholder) > MAX_ENTRIES:
                raise VaultError(f"a conversation's vault holds at most {MAX_ENTRIES} entries")
            sealed = self._keyring.encrypt(tenant_id, "app", _TABLE, row_id, _dump(merged))
            values = {"sealed": sealed, "updated_at": now, "expires_at": now + self.ttl}
            if row is None:
                conn.execute(
                    insert(PseudonymVaultRow).values(
                        id=row_id, tenant_id=tenant_id, owner=owner, created_at=now, **values
                    )
                )
            else:
                conn.execute(
                    update(PseudonymVaultRow).where(PseudonymVaultRow.id == row_id).values(**values)
                )
            conn.execute(_expired(now, tenant_id))

    def purge(self, tenant_id: str) -> int:
        """Delete the tenant's expired vaults; how many went."""
        with tenant_begin(self._engine, tenant_id) as conn:
            result = conn.execute(_expired(self._clock(), tenant_id))
        return result.rowcount

    def _open(self, tenant_id: str, row_id: str, sealed: bytes) -> Pseudonyms:
        try:
            raw = self._keyring.decrypt(tenant_id, "app", _TABLE, row_id, sealed)
        except DecryptionError:
            raise VaultError(
                "a pseudonym vault does not open (damaged, moved or wrong key)"
            ) from None
        return _load(raw)
