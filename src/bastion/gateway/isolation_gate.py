"""Refuse requests from an isolated session, key or conversation (issue 9 playbooks).

:class:`IsolationGate` answers, for each request, whether its session, API key or
assistant conversation is isolated by an incident. It keeps each tenant's active
isolations in memory for ``ttl`` seconds (one indexed query per tenant per ``ttl``,
not one per request): an isolation made by this process (a playbook run by the
gateway or its API) is seen at once through :meth:`IsolationGate.forget`; one made by
another process (``bastion incident run``) within ``ttl``, like a key revoked
elsewhere (``BASTION_AUTH_CACHE_SECONDS``). If the isolations cannot be read, the
request is refused: the gate fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import Engine, select

from bastion.errors import BastionError
from bastion.identity import Principal
from bastion.store.schema import IsolationRow
from bastion.store.tenancy import tenant_connect

__all__ = ["Isolated", "IsolationGate", "IsolationsUnavailable"]


class Isolated(BastionError):
    """403: the session, key or conversation is isolated by a security incident."""

    status = 403
    code = "isolated"
    error_type = "permission_error"

    def __init__(self) -> None:
        super().__init__(
            "This session is isolated by a security incident; contact your security team."
        )


class IsolationsUnavailable(BastionError):
    """503: the isolation list cannot be read, so the request is refused."""

    status = 503
    code = "isolations_unavailable"
    error_type = "api_error"

    def __init__(self) -> None:
        super().__init__("The gateway cannot check incident isolations now; try again.")


class IsolationGate:
    """Per tenant, the active isolations, cached for ``ttl`` seconds."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], ttl: float = 1.0) -> None:
        self._engine = engine
        self._clock = clock
        self._ttl = timedelta(seconds=ttl)
        self._cache: dict[str, tuple[datetime, frozenset[tuple[str, str]]]] = {}

    def __repr__(self) -> str:
        return f"IsolationGate(tenants={len(self._cache)})"

    def forget(self, tenant_id: str | None = None) -> None:
        """Read the isolations again on the next request (one tenant's, or all)."""
        if tenant_id is None:
            self._cache.clear()
        else:
            self._cache.pop(tenant_id, None)

    async def check(self, principal: Principal, conversation_id: str | None = None) -> None:
        """Raise :class:`Isolated` if the caller's session, key or ``conversation_id``
        is isolated (and if the isolations cannot be read)."""
        active = await self._active(principal.tenant_id)
        if not active:
            return
        targets = {("key", principal.key_id)}
        if principal.session_id:
            targets.add(("session", principal.session_id))
        if conversation_id:
            targets.add(("conversation", conversation_id))
        if targets & active:
            raise Isolated()

    async def _active(self, tenant_id: str) -> frozenset[tuple[str, str]]:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            active = await anyio.to_thread.run_sync(self._read, tenant_id)
        except Exception:  # fail closed: an unreadable isolation list refuses the request
            raise IsolationsUnavailable() from None
        self._cache[tenant_id] = (now, active)
        return active

    def _read(self, tenant_id: str) -> frozenset[tuple[str, str]]:
        query = select(IsolationRow.kind, IsolationRow.ref).where(
            IsolationRow.tenant_id == tenant_id, IsolationRow.released_at.is_(None)
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return frozenset((str(kind), str(ref)) for kind, ref in conn.execute(query))
