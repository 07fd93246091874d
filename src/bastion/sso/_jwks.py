"""An identity provider's signing keys, refetched on an unknown ``kid`` (rotation) at
most once per interval, so a flood of tokens with made-up kids cannot hammer the IdP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key, import_key

from bastion.sso.errors import SsoError

__all__ = ["Jwks", "import_keys"]


class Jwks:
    """The IdP's signing keys by kid. An unknown kid refetches, at most once per
    ``min_interval`` seconds (failed fetches count too)."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Any]],
        clock: Callable[[], float],
        min_interval: float,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._min_interval = min_interval
        self._keys: list[Key] = []
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None, alg: str, jwks_uri: str) -> Key:
        found = self._find(kid, alg)
        if found is None:
            async with self._lock:
                found = self._find(kid, alg)
                if found is None and self._may_refetch():
                    self._fetched_at = self._clock()
                    self._keys = import_keys(await self._fetch(jwks_uri))
                    found = self._find(kid, alg)
        if found is None:
            raise SsoError.of("unknown_key")
        return found

    def _may_refetch(self) -> bool:
        if self._fetched_at is None:
            return True
        elapsed = self._clock() - self._fetched_at
        return elapsed < 0 or elapsed >= self._min_interval

    def _find(self, kid: str | None, alg: str) -> Key | None:
        usable = [k for k in self._keys if k.alg in (None, alg)]
        if kid is not None:
            return next((k for k in usable if k.kid == kid), None)
        return usable[0] if len(usable) == 1 else None


def import_keys(document: Any) -> list[Key]:
    """The public signing keys of a JWKS document; symmetric, private, encryption and
    unreadable keys are skipped."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SsoError.of("idp_bad_response")
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        if "d" in entry or entry.get("use", "sig") != "sig":
            continue
        try:
            keys.append(import_key(entry))
        except (JoseError, ValueError, TypeError):
            continue
    return keys
