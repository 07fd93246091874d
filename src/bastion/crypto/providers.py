"""Key-encryption-key providers: they wrap and unwrap data keys, nothing else.

A provider never hands out its key-encryption key. The local provider holds a 32-byte
key read from a file (``bastion init`` writes one, mode 0600) and wraps with
AES-256-GCM, binding each wrapped key to its tenant and purpose. HashiCorp Vault
transit (``bastion.crypto.vault``) and AWS KMS (``bastion.crypto.aws_kms``) implement
the same Protocol behind extras; ``bastion.crypto.select.provider_for`` picks one.

Errors:

- :class:`UnwrapError`: this wrapped key does not open (wrong KEK, wrong context,
  tampered). It says nothing more, so it is no oracle.
- :class:`KeyProviderUnavailable`: a remote provider could not be reached or refused
  the call (network, TLS, permission, outage). Nothing was wrapped or unwrapped; the
  caller fails closed. The message names the provider and the kind of failure, never
  a token, a key or the provider's response body.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from bastion.crypto.aead import DecryptionError, associated_data, open_sealed, seal

__all__ = [
    "KeyProvider",
    "KeyProviderUnavailable",
    "LocalKeyProvider",
    "RewrappingKeyProvider",
    "UnwrapError",
]


class UnwrapError(Exception):
    """A wrapped data key could not be unwrapped (wrong KEK, or tampered)."""

    def __init__(self) -> None:
        super().__init__("could not unwrap the data key")


class KeyProviderUnavailable(Exception):
    """A remote KEK provider failed: unreachable, TLS, refused, or an answer it did not expect."""

    def __init__(self, provider: str, problem: str) -> None:
        super().__init__(f"key-encryption key provider {provider} is unavailable: {problem}")
        self.provider = provider
        self.problem = problem


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps data keys under a key-encryption key the caller never sees."""

    @property
    def key_id(self) -> str:
        """A public identifier of the current key-encryption key."""
        ...

    def wrap(self, data_key: bytes, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes: ...


@runtime_checkable
class RewrappingKeyProvider(KeyProvider, Protocol):
    """A provider that can move a wrapped key to its latest KEK version by itself.

    The data key never leaves the provider (Vault transit ``rewrap``, KMS
    ``ReEncrypt``), so rotation does not need the plaintext key in this process.
    """

    def rewrap(self, wrapped: bytes, context: str) -> bytes: ...


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
