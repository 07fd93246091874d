"""Per-tenant keys for the DLP ``hash`` action.

A tenant's hash key is derived (HKDF-SHA256) from its ``dlp_hash`` data key, which the
keyring creates on first use and keeps wrapped by the KEK like every other data key.
So a hash token (``<US_SSN:3f9a0c…>``) is stable within a tenant, differs between
tenants, and nobody without the tenant's key can test a guessed value against it.

The data key is separate from the ``app`` key on purpose: ``bastion rotate --dek``
rotates ``app`` and ``audit`` and leaves ``dlp_hash`` alone, because a new hash key
changes every token and unlinks them from those already stored downstream.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.crypto.keyring import Keyring

__all__ = ["HASH_PURPOSE", "HashKeys"]

HASH_PURPOSE = "dlp_hash"
_INFO = b"bastion/dlp-hash/v1"


class HashKeys:
    """The hash key of each tenant, derived once per data key and kept in memory."""

    __slots__ = ("_derived", "_keyring")

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._derived: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"HashKeys(cached={len(self._derived)})"

    def for_tenant(self, tenant_id: str) -> bytes:
        """The tenant's 32-byte hash key. Blocking (the first call per tenant, and one
        per keyring refresh, reads the database): call it off the event loop."""
        data_key = self._keyring.current(tenant_id, HASH_PURPOSE)
        derived = self._derived.get(data_key.id)
        if derived is None:
            info = _INFO + b"|" + tenant_id.encode()
            derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(data_key.key)
            self._derived[data_key.id] = derived
        return derived
