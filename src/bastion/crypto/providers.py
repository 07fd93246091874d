"""Key-encryption-key providers: they wrap and unwrap data keys, nothing else.

A provider never hands out its key-encryption key. The local provider holds a 32-byte
key read from a file (``bastion init`` writes one, mode 0600) and wraps with
AES-256-GCM, binding each wrapped key to its tenant and purpose. HashiCorp Vault
transit and AWS KMS providers implement the same Protocol (a later change).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from bastion.crypto.aead import DecryptionError, associated_data, open_sealed, seal

__all__ = ["KeyProvider", "LocalKeyProvider", "UnwrapError"]


class UnwrapError(Exception):
    """A wrapped data key could not be unwrapped (wrong KEK, or tampered)."""

    def __init__(self) -> None:
        super().__init__("could not unwrap the data key")


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps data keys under a key-encryption key the caller never sees."""

    @property
    def key_id(self) -> str:
        """A public identifier of the current key-encryption key."""
        ...

    def wrap(self, data_key: bytes, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes: ...


class LocalKeyProvider:
    """AES-256-GCM key wrapping under a local 32-byte key."""

    def __init__(self, kek: bytes, *, random: Callable[[int], bytes] = os.urandom) -> None:
        if len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._kek = kek
        self._random = random
        self._key_id = "local:" + hashlib.sha256(b"bastion.kek.id" + kek).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LocalKeyProvider(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes, context: str) -> bytes:
        aad = associated_data("wrap", self._key_id, context)
        return seal(self._kek, data_key, aad, random=self._random)

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            return open_sealed(self._kek, wrapped, associated_data("wrap", self._key_id, context))
        except DecryptionError:
            raise UnwrapError() from None
