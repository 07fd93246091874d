"""AES-256-GCM sealing with associated data that binds a ciphertext to its place.

Blob layout (version 1)::

    0x01 | nonce (12 bytes, random) | ciphertext || tag (16 bytes)

The associated data names the tenant, the table (or purpose) and the record id; it is
not stored, so a ciphertext copied to another row, table or tenant does not decrypt.
Every failure raises the same :class:`DecryptionError` with the same message: wrong
key, wrong place, a flipped byte and a truncated blob are indistinguishable.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["VERSION", "DecryptionError", "associated_data", "open_sealed", "seal"]

VERSION = 1
_NONCE = 12
_TAG = 16


class DecryptionError(Exception):
    """A ciphertext could not be opened. Deliberately says nothing more."""

    def __init__(self) -> None:
        super().__init__("could not decrypt")


def associated_data(*parts: str) -> bytes:
    """An unambiguous encoding of ``parts`` (length-prefixed), for use as AAD."""
    out = bytearray(b"bastion.aad.v1")
    for part in parts:
        raw = part.encode("utf-8")
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


def seal(
    key: bytes,
    plaintext: bytes,
    aad: bytes,
    *,
    random: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Encrypt and authenticate ``plaintext`` under a 32-byte ``key``."""
    if len(key) != 32:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    nonce = random(_NONCE)
    return bytes([VERSION]) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of ``blob``, or :class:`DecryptionError` for any failure."""
    if len(key) != 32 or len(blob) < 1 + _NONCE + _TAG or blob[0] != VERSION:
        raise DecryptionError()
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)
    except InvalidTag:
        raise DecryptionError() from None
