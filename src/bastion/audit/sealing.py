"""Audit content at rest: prompts and responses sealed under the tenant's audit key.

A record's hash always covers its full plaintext canonical body (see ``record``), so
re-encrypting never changes a hash. What is stored is split in two:

- ``audit_records.body``: the canonical body without the content fields, in clear
  (ids, timestamps, model, verdicts, outcome, latency: searchable metadata);
- ``audit_records.sealed``: the canonical JSON of the content fields (``prompt``,
  ``response``), sealed with the tenant's ``audit`` data key, with associated data
  (tenant, "audit", "audit_records", record hash), so it opens only in its own row.

Merging the two parts and serialising with sorted keys gives back the hashed body
exactly (orjson round-trips its own output). A sealed part that does not open leaves
the body incomplete, which the verifier reports as a modified record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import orjson
from sqlalchemy import Engine

from bastion.audit.record import SEALED_FIELDS
from bastion.crypto import DecryptionError, Keyring
from bastion.crypto.select import keyring_for
from bastion.settings import Settings

__all__ = ["SEALED_FIELDS", "AuditSealer", "sealer_for"]

_SORTED = orjson.OPT_SORT_KEYS


class AuditSealer:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def __repr__(self) -> str:
        return f"AuditSealer({self._keyring!r})"

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def prepare(self, tenant_ids: Iterable[str]) -> None:
        """Make sure each tenant's audit key is loaded, before a write lock is taken."""
        for tenant_id in tenant_ids:
            self._keyring.current(tenant_id, "audit")

    def seal(self, tenant_id: str, record_hash: str, content: bytes) -> bytes:
        return self._keyring.encrypt(tenant_id, "audit", "audit_records", record_hash, content)

    def merge(self, tenant_id: str, record_hash: str, clear: str, sealed: bytes) -> str | None:
        """The full canonical body, or None when the sealed part does not open."""
        try:
            content = self._keyring.decrypt(
                tenant_id, "audit", "audit_records", record_hash, sealed
            )
            document = orjson.loads(clear)
            document.update(orjson.loads(content))
        except (DecryptionError, orjson.JSONDecodeError, AttributeError, TypeError):
            return None
        return orjson.dumps(document, option=_SORTED).decode()


def sealer_for(
    settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
) -> AuditSealer | None:
    """A sealer under the configured KEK provider; None (content in clear) without one.

    ``bastion serve`` refuses to run without a KEK unless ``--dev``, so content is kept
    in clear only on a development machine that was told to allow it. A chosen Vault or
    KMS provider never falls back to clear: its ValueError (settings to fix) or
    ImportError (the pip command) propagates.
    """
    keyring = keyring_for(settings, engine, clock)
    return AuditSealer(keyring) if keyring is not None else None
