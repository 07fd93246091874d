"""Who is calling: a Bastion API key (``Authorization: Bearer bst_...``), a JWT access
token from the tenant's identity provider (``Authorization: Bearer eyJ...`` with
``X-Bastion-Tenant: <name>``), or a browser session (the ``bastion_session`` cookie).

A cookie-authenticated request that changes state (POST, PUT, PATCH, DELETE) must carry
the CSRF token (``X-CSRF-Token``); a permission in ``authz.STEP_UP`` used through a
session needs a sign-in within the tenant's ``step_up_minutes``. A request that presents
both a key and a cookie is judged by the key alone (and needs no CSRF token: a browser
never adds an ``Authorization`` header on its own).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from starlette.requests import Request

from bastion.authz import STEP_UP, allowed, canonical_role
from bastion.errors import PermissionDenied
from bastion.gateway.http import presented_key
from bastion.gateway.isolation_gate import IsolationGate
from bastion.gateway.policies import PolicyStore
from bastion.identity import Principal
from bastion.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    CsrfFailed,
    SessionInfo,
    SessionPolicy,
    SessionStore,
    StepUpRequired,
    parse_session_policy,
)
from bastion.sessions.cookies import csrf_ok

__all__ = ["Caller", "Callers", "carries_credentials"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A JWT (header.payload.signature, base64url): the tenant IdP's access token, never a
# Bastion key (bst_...).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{2,65536}\.[A-Za-z0-9_-]{0,8192}")


def carries_credentials(request: Request) -> bool:
    """Whether the request presents anything :class:`Callers` would authenticate: a key
    or token header, or the session cookie (valid or not)."""
    headers = request.headers
    return "authorization" in headers or "x-api-key" in headers or COOKIE_NAME in request.cookies


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    session: SessionInfo | None = None
    cookie: str = ""  # the session cookie's value, only to derive the CSRF token

    @property
    def role(self) -> str:
        return canonical_role(self.principal.role)

    def __repr__(self) -> str:
        via = "session" if self.session is not None else "key"
        return f"Caller(role={self.role!r}, via={via!r})"


class Callers:
    def __init__(
        self,
        authenticate_key: Callable[[Request], Awaitable[Principal]],
        sessions: SessionStore,
        policies: PolicyStore,
        clock: Callable[[], datetime],
        *,
        idp_bearer: Callable[[Request, str], Awaitable[Principal]] | None = None,
        gate: IsolationGate | None = None,
    ) -> None:
        self._authenticate_key = authenticate_key
        self._gate = gate
        self._idp_bearer = idp_bearer
        self.sessions = sessions
        self._policies = policies
        self._clock = clock

    def session_policy(self, policy_name: str) -> SessionPolicy:
        """The session rules of a tenant policy (an invalid table fails the policy)."""
        return parse_session_policy(self._policies.get(policy_name).policy.sessions)

    async def identify(self, request: Request) -> Caller:
        """The caller, refused (403 ``isolated``) if an incident isolated their session
        or key."""
        caller = await self._identify(request)
        if self._gate is not None:
            await self._gate.check(caller.principal)
        return caller

    async def refuse_isolated(self, caller: Caller, conversation_id: str | None) -> None:
        """Raise 403 ``isolated`` if an incident isolated the assistant conversation."""
        if self._gate is not None and conversation_id:
            await self._gate.check(caller.principal, conversation_id)

    async def _identify(self, request: Request) -> Caller:
        if "authorization" in request.headers or "x-api-key" in request.headers:
            token = presented_key(request)
            if self._idp_bearer is not None and _JWT.fullmatch(token):
                return Caller(await self._idp_bearer(request, token))
            principal = await self._authenticate_key(request)
            return Caller(principal)
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie is None:
            principal = await self._authenticate_key(request)
            return Caller(principal)
        info = await anyio.to_thread.run_sync(self.sessions.resolve, cookie, self.session_policy)
        if request.method not in _SAFE_METHODS and not csrf_ok(
            cookie, request.headers.get(CSRF_HEADER)
        ):
            raise CsrfFailed()
        principal = Principal(
            tenant_id=info.tenant_id,
            tenant_name=info.tenant_name,
            policy=info.policy,
            user_id=info.user_id,
            user_email=info.user_email,
            role=info.role,
            key_id=f"session:{info.id}",
            session_id=info.id,
        )
        return Caller(principal, info, cookie)

    async def identify_for(self, request: Request, permission: str) -> Caller:
        """The caller, if their role grants ``permission`` (see :meth:`require`)."""
        caller = await self.identify(request)
        self.require(caller, permission)
        return caller

    def require(self, caller: Caller, permission: str) -> None:
        """Deny unless the caller's role grants ``permission``; a session also needs a
        recent sign-in for a step-up permission."""
        if not allowed(caller.role, permission):
            raise PermissionDenied(f"Your role may not do this ({permission}).")
        if caller.session is not None and permission in STEP_UP:
            window = self.session_policy(caller.principal.policy).step_up
            if self._clock() - caller.session.authenticated_at > window:
                raise StepUpRequired()
