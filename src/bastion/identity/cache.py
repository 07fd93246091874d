"""A short-lived, bounded cache of successful key lookups.

Authentication is on every request; the cache spares the database round trip for a
key seen in the last ``ttl`` seconds. Only successes are cached (a wrong key always
goes to the database), entries are keyed by the SHA-256 of the key (the cache holds
no key material), a key's own expiry is still checked exactly on every hit, and
:meth:`clear` drops everything (called when this process revokes a key). A key
revoked elsewhere stops working within ``ttl`` seconds (``BASTION_AUTH_CACHE_SECONDS``;
0 disables the cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from bastion.identity.keys import hash_key
from bastion.identity.service import Principal

__all__ = ["AuthCache"]


class AuthCache:
    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, raw: str, now: datetime) -> Principal | None:
        if self._ttl <= 0 or not raw:
            return None
        digest = hash_key(raw)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored_at, principal = entry
        expired = principal.key_expires_at is not None and principal.key_expires_at <= now
        if expired or self._monotonic() - stored_at >= self._ttl:
            del self._entries[digest]
            return None
        return principal

    def put(self, raw: str, principal: Principal) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[hash_key(raw)] = (self._monotonic(), principal)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
