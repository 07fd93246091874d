"""Encryption at rest: AES-256-GCM envelope encryption with customer-managed KEKs."""

from bastion.crypto.aead import DecryptionError, associated_data, open_sealed, seal
from bastion.crypto.keyring import PURPOSES, Keyring, UnwrappedKey
from bastion.crypto.providers import KeyProvider, LocalKeyProvider, UnwrapError

__all__ = [
    "PURPOSES",
    "DecryptionError",
    "KeyProvider",
    "Keyring",
    "LocalKeyProvider",
    "UnwrapError",
    "UnwrappedKey",
    "associated_data",
    "open_sealed",
    "seal",
]
