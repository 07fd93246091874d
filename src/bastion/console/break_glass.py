"""The console's break-glass sign-in: a local admin password for when the tenant's
identity provider is down. Off by default (``BASTION_CONSOLE_BREAK_GLASS``).

The password is set from the command line (``bastion console break-glass``), read from
standard input, and kept only as a scrypt hash (``cryptography``'s Scrypt, a fresh
16-byte salt, n=2**15, r=8, p=1), itself sealed like any secret (kind
``break_glass_password``, under the tenant's ``app`` key). Only an active owner or admin
may have one. Attempts are rate limited per tenant and email and every attempt, let in
or not, is an audit record.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bastion.secrets import SecretError, SecretStore

__all__ = ["MIN_PASSWORD", "BreakGlass", "BreakGlassError", "hash_password", "verify_password"]

MIN_PASSWORD = 16
_N, _R, _P, _LENGTH = 2**15, 8, 1, 32
KIND = "break_glass_password"


class BreakGlassError(ValueError):
    """A password that may not be set; the message never holds it."""


def _kdf(salt: bytes) -> Scrypt:
    return Scrypt(salt=salt, length=_LENGTH, n=_N, r=_R, p=_P)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _kdf(salt).derive(password.encode("utf-8"))
    encode = base64.b64encode
    return f"scrypt:{_N}:{_R}:{_P}:{encode(salt).decode()}:{encode(digest).decode()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split(":")
        if scheme != "scrypt" or (int(n), int(r), int(p)) != (_N, _R, _P):
            return False
        _kdf(base64.b64decode(salt)).verify(password.encode("utf-8"), base64.b64decode(digest))
    except (ValueError, InvalidKey):
        return False
    return True


def _name(email: str) -> str:
    return "console-break-glass." + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


class BreakGlass:
    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return "BreakGlass()"

    def set(self, tenant_id: str, email: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise BreakGlassError(f"the password must be at least {MIN_PASSWORD} characters")
        self._store.put(_name(email), hash_password(password), kind=KIND, tenant_id=tenant_id)

    def check(self, tenant_id: str, email: str, password: str) -> bool:
        """Whether ``password`` is the break-glass password of ``email`` (a wrong email
        costs the same scrypt work as a wrong password)."""
        try:
            stored = self._store.get(_name(email), tenant_id=tenant_id)
        except SecretError:
            stored = None
        if stored is None:
            verify_password(hash_password("x" * MIN_PASSWORD), password)  # same work
            return False
        return verify_password(stored, password)
