"""Sign-in end to end: from a tenant's ``[sso]`` policy table to a session cookie.

For each tenant (named in the URL), the policy's ``[sso.oidc]`` or ``[sso.saml]`` table
gives the identity provider. A sign-in:

1. ``begin``: a fresh state (OIDC state, nonce and PKCE verifier; SAML request id) is
   stored server-side under the SHA-256 of the state *and* of a random binding value
   the browser gets in a short-lived cookie (``bastion_login``): a callback URL or a
   SAML response replayed into another browser (login CSRF) finds no state.
2. ``finish``: the state is taken (once), the protocol checks run (``bastion.sso.oidc``,
   ``bastion.sso.saml``), the IdP's groups map to a role (deny by default), the user is
   found by ``(idp, subject)`` or provisioned just in time, and a session is made. A
   step-up sign-in refreshes the caller's session instead, and only for the same user.
   The provider's ``attributes`` mapping sets the user's attributes from its claims
   (:mod:`bastion.sso.attributes`), at every sign-in and for every IdP bearer token.

Every outcome, refusals included, is one audit record (``signed_in`` or
``sign_in_refused`` with the error code). Errors shown to the browser are generic.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import anyio.to_thread
from starlette.requests import Request

from bastion.audit import AuditEvent
from bastion.audit.decisions import record_decision
from bastion.errors import AuditUnavailable, AuthenticationFailed, BastionError, NotFound
from bastion.gateway.policies import PolicyStore
from bastion.identity import AuthCache, Principal
from bastion.identity.attributes import InvalidAttributes, UnknownUser, UserAttributes
from bastion.identity.directory import Directory
from bastion.sessions import IssuedSession, SessionStore, parse_session_policy
from bastion.sso.attributes import map_attributes
from bastion.sso.identity import SsoIdentity
from bastion.sso.oidc import OidcClient, SsoError
from bastion.sso.oidc_config import OidcConfig, parse_oidc_config
from bastion.sso.roles import map_role
from bastion.sso.saml import SamlError, SamlServiceProvider
from bastion.sso.saml_config import load_idp_metadata, parse_saml_config
from bastion.sso.store import DbReplayStore, LoginState, LoginStates

__all__ = ["TENANT_HEADER", "SignInFailed", "SignedIn", "SsoService"]

TENANT_HEADER = "x-bastion-tenant"

log = logging.getLogger("bastion.sso")


class SignInFailed(BastionError):
    status = 401
    code = "sign_in_failed"
    error_type = "invalid_request_error"

    def __init__(self, reason: str = "") -> None:
        super().__init__("The sign-in could not be completed. Start again from the sign-in page.")
        self.reason = reason  # for the audit record, never shown


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: IssuedSession | None  # None after a step-up: the browser keeps its cookie
    return_to: str


def _binding_key(state: str, binding: str) -> str:
    return hashlib.sha256(f"{state}\x00{binding}".encode()).hexdigest()


def safe_return_to(value: str | None) -> str:
    """A same-origin path to land on after sign-in; anything else is ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc and len(value) <= 512 else "/"


class _Provisioning(Protocol):
    """What sign-in needs of a provider's config (OIDC and SAML both have it)."""

    @property
    def role_mapping(self) -> Mapping[str, str]: ...
    @property
    def default_role(self) -> str | None: ...
    @property
    def jit(self) -> bool: ...
    @property
    def attribute_mapping(self) -> Mapping[str, str]: ...


class SsoService:
    def __init__(
        self,
        *,
        policies: PolicyStore,
        directory: Directory,
        sessions: SessionStore,
        states: LoginStates,
        replay: DbReplayStore,
        tenant_by_name: Callable[[str], tuple[str, str]],
        secret: Callable[[str, str], str | None],
        record: Callable[[AuditEvent], Awaitable[object]],
        public_url: str,
        clock: Callable[[], datetime],
        auth_cache: AuthCache,
        attributes: UserAttributes | None = None,
    ) -> None:
        self._attributes = attributes
        self._auth_cache = auth_cache
        self._policies = policies
        self._directory = directory
        self._sessions = sessions
        self._states = states
        self._replay = replay
        self._tenant_by_name = tenant_by_name  # name -> (tenant id, policy name)
        self._secret = secret  # (tenant id, secret name) -> value
        self._record = record
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._oidc: dict[tuple[str, str], OidcClient] = {}
        self._saml: dict[tuple[str, str], SamlServiceProvider] = {}

    def __repr__(self) -> str:
        return f"SsoService(oidc={len(self._oidc)}, saml={len(self._saml)})"

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()

    # -- tenants and providers ------------------------------------------------------
    async def tenant(self, name: str) -> tuple[str, str]:
        if not self._public_url:
            raise NotFound("Single sign-on needs BASTION_PUBLIC_URL.")
        try:
            return await anyio.to_thread.run_sync(self._tenant_by_name, name)
        except ValueError:
            raise NotFound("No such tenant, or it has no single sign-on.") from None

    def _table(self, policy: str, protocol: str) -> dict[str, Any]:
        table = self._policies.get(policy).policy.sso.get(protocol)
        if not isinstance(table, dict):
            raise NotFound("No such tenant, or it has no single sign-on.")
        return table

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._http

    async def oidc(self, tenant_id: str, policy: str) -> tuple[OidcClient, OidcConfig]:
        client = self._oidc.get((tenant_id, policy))
        if client is None:
            config = parse_oidc_config(self._table(policy, "oidc"))
            secret = await anyio.to_thread.run_sync(
                self._secret, tenant_id, config.client_secret_name
            )
            if not secret:
                log.error("oidc client secret missing tenant=%s", tenant_id)
                raise NotFound("No such tenant, or it has no single sign-on.")
            client = OidcClient(config, secret, http=self._session())
            self._oidc[(tenant_id, policy)] = client
        return client, client.config

    async def saml(self, tenant_id: str, policy: str) -> SamlServiceProvider:
        provider = self._saml.get((tenant_id, policy))
        if provider is None:
            name, _ = await anyio.to_thread.run_sync(self._directory.tenant, tenant_id)
            config = parse_saml_config(
                self._table(policy, "saml"), public_url=self._public_url, tenant=name
            )
            config = await load_idp_metadata(config, session=self._session())
            provider = SamlServiceProvider(config, self._replay, clock=self._clock)
            self._saml[(tenant_id, policy)] = provider
        return provider

    def redirect_uri(self, tenant: str) -> str:
        return f"{self._public_url}/sso/{tenant}/oidc/callback"

    # -- bearer tokens ----------------------------------------------------------------
    async def bearer(self, request: Request, token: str) -> Principal:
        """The principal of an access token from the tenant's IdP (``X-Bastion-Tenant``
        names the tenant; its ``[sso.oidc]`` must set ``api_audience``). Signature,
        issuer, audience and expiry are checked by :meth:`OidcClient.verify_bearer`; the
        person must map to a role and be (or, with ``jit``, become) an enabled user.
        Every failure is the same ``AuthenticationFailed``."""
        now = self._clock()
        tenant = request.headers.get(TENANT_HEADER, "")
        cache_key = f"{tenant}\x00{token}"  # a token answers for the tenant it was checked for
        cached = self._auth_cache.get(cache_key, now)
        if cached is not None:
            return cached
        try:
            tenant_id, policy = await self.tenant(tenant)
            client, config = await self.oidc(tenant_id, policy)
        except BastionError:
            raise AuthenticationFailed() from None
        if config.api_audience is None:
            raise AuthenticationFailed()
        try:
            identity = await client.verify_bearer(token)
        except SsoError as exc:
            log.info("idp bearer token refused tenant=%s code=%s", tenant_id, exc.code)
            raise AuthenticationFailed() from None
        role = map_role(identity, dict(config.role_mapping), config.default_role)
        if role is None:
            raise AuthenticationFailed()
        user = await anyio.to_thread.run_sync(
            lambda: self._directory.provision(
                tenant_id,
                identity.idp,
                identity.subject,
                identity.email,
                role,
                now,
                create=config.jit,
            )
        )
        if user is None:
            raise AuthenticationFailed()
        await self._sync_attributes(tenant_id, user.id, identity, config.attribute_mapping)
        principal = Principal(
            tenant_id=tenant_id,
            tenant_name=tenant,
            policy=policy,
            user_id=user.id,
            user_email=user.email,
            role=role,
            key_id=f"idp:{user.id}",
        )
        self._auth_cache.put(cache_key, principal)
        return principal

    # -- begin -------------------------------------------------------------------------
    async def begin_oidc(
        self, tenant: str, return_to: str | None, step_up_of: str | None
    ) -> tuple[str, str]:
        """The IdP URL to send the browser to, and the binding cookie's value."""
        tenant_id, policy = await self.tenant(tenant)
        client, _ = await self.oidc(tenant_id, policy)
        try:
            start = await client.begin(self.redirect_uri(tenant), force=step_up_of is not None)
        except SsoError as exc:
            raise SignInFailed(exc.code) from None
        binding = secrets.token_urlsafe(24)
        login = LoginState(
            "oidc",
            nonce=start.nonce,
            code_verifier=start.code_verifier,
            session_id=step_up_of,
            return_to=safe_return_to(return_to),
        )
        await anyio.to_thread.run_sync(
            self._states.save, tenant_id, _binding_key(start.state, binding), login
        )
        return start.url, binding

    async def begin_saml(
        self, tenant: str, return_to: str | None, step_up_of: str | None
    ) -> tuple[str, str]:
        tenant_id, policy = await self.tenant(tenant)
        provider = await self.saml(tenant_id, policy)
        relay = secrets.token_urlsafe(24)
        force = step_up_of is not None
        url, request_id = await anyio.to_thread.run_sync(lambda: provider.begin(relay, force=force))
        binding = secrets.token_urlsafe(24)
        login = LoginState(
            "saml",
            request_id=request_id,
            session_id=step_up_of,
            return_to=safe_return_to(return_to),
        )
        await anyio.to_thread.run_sync(
            self._states.save, tenant_id, _binding_key(relay, binding), login
        )
        return url, binding

    # -- finish ------------------------------------------------------------------------
    async def finish_oidc(
        self, tenant: str, params: dict[str, str], binding: str, route: str
    ) -> SignedIn:
        tenant_id, policy = await self.tenant(tenant)
        try:
            client, config = await self.oidc(tenant_id, policy)
            state = params.get("state", "")
            login = await self._take(tenant_id, state, binding, "oidc")
            identity = await client.complete(
                params,
                state=state,
                nonce=login.nonce,
                code_verifier=login.code_verifier,
                redirect_uri=self.redirect_uri(tenant),
            )
            return await self._sign_in(tenant_id, policy, identity, login, config, route)
        except (SsoError, SignInFailed) as exc:
            reason = exc.code if isinstance(exc, SsoError) else exc.reason
            await self._audit(tenant_id, route, "sign_in_refused", "", "", "oidc", reason)
            raise SignInFailed(reason) from None

    async def finish_saml(
        self, tenant: str, form: dict[str, str], binding: str, route: str
    ) -> SignedIn:
        tenant_id, policy = await self.tenant(tenant)
        try:
            provider = await self.saml(tenant_id, policy)
            login = await self._take(tenant_id, form.get("RelayState", ""), binding, "saml")
            identity = await anyio.to_thread.run_sync(
                lambda: provider.complete(
                    form.get("SAMLResponse", ""),
                    expected_request_id=login.request_id,
                    tenant_id=tenant_id,
                )
            )
            config = provider.config
            return await self._sign_in(tenant_id, policy, identity, login, config, route)
        except (SamlError, SignInFailed) as exc:
            reason = exc.code if isinstance(exc, SamlError) else exc.reason
            await self._audit(tenant_id, route, "sign_in_refused", "", "", "saml", reason)
            raise SignInFailed(reason) from None

    async def _take(self, tenant_id: str, state: str, binding: str, protocol: str) -> LoginState:
        if not state or not binding:
            raise SignInFailed("bad_state")
        login = await anyio.to_thread.run_sync(
            self._states.take, tenant_id, _binding_key(state, binding), protocol
        )
        if login is None:
            raise SignInFailed("bad_state")
        return login

    async def _sign_in(
        self,
        tenant_id: str,
        policy: str,
        identity: SsoIdentity,
        login: LoginState,
        config: _Provisioning,
        route: str,
    ) -> SignedIn:
        role = map_role(identity, dict(config.role_mapping), config.default_role)
        if role is None:
            raise SignInFailed("no_role")
        now = self._clock()
        user = await anyio.to_thread.run_sync(
            lambda: self._directory.provision(
                tenant_id,
                identity.idp,
                identity.subject,
                identity.email,
                role,
                now,
                create=config.jit,
            )
        )
        if user is None:
            raise SignInFailed("no_user")
        await self._sync_attributes(tenant_id, user.id, identity, config.attribute_mapping)
        if login.session_id is not None:
            # Step-up: the same person signed in again, just now (the IdP was asked to
            # authenticate afresh; one that reused an old sign-in is refused).
            window = parse_session_policy(self._policies.get(policy).policy.sessions).step_up
            if now - identity.authenticated_at > window:
                raise SignInFailed("stale_auth")
            owned = await anyio.to_thread.run_sync(self._sessions.open_sessions, tenant_id, user.id)
            if login.session_id not in {row["id"] for row in owned}:
                raise SignInFailed("step_up_other_user")
            await anyio.to_thread.run_sync(
                self._sessions.stepped_up, tenant_id, login.session_id, identity.authenticated_at
            )
            await self._audit(
                tenant_id, route, "stepped_up", user.id, login.session_id, identity.idp, None
            )
            return SignedIn(None, login.return_to)
        rules = parse_session_policy(self._policies.get(policy).policy.sessions)
        issued = await anyio.to_thread.run_sync(
            self._sessions.create,
            tenant_id,
            user.id,
            identity.idp,
            identity.authenticated_at,
            rules,
        )
        try:
            await self._audit(tenant_id, route, "signed_in", user.id, issued.id, identity.idp, None)
        except AuditUnavailable:
            await anyio.to_thread.run_sync(self._sessions.revoke, tenant_id, issued.id)
            raise
        return SignedIn(issued, login.return_to)

    async def _sync_attributes(
        self, tenant_id: str, user_id: str, identity: SsoIdentity, mapping: Mapping[str, str]
    ) -> None:
        """Set the user's mapped attributes from the IdP's claims; a refused claim is
        logged by name (never its value) and, like an absent one, removed."""
        store = self._attributes
        if not mapping or store is None:
            return
        mapped = map_attributes(identity, mapping)
        if mapped.refused:
            log.info(
                "idp attributes refused tenant=%s names=%s", tenant_id, ",".join(mapped.refused)
            )
        try:
            await anyio.to_thread.run_sync(
                lambda: store.merge(tenant_id, user_id, mapped.values, remove=mapped.removed)
            )
        except InvalidAttributes:  # e.g. too many keys: drop every mapped one instead
            log.warning("idp attributes not applied tenant=%s (too many)", tenant_id)
            await anyio.to_thread.run_sync(
                lambda: store.merge(tenant_id, user_id, {}, remove=tuple(mapping))
            )
        except UnknownUser:
            return

    async def _audit(
        self,
        tenant_id: str,
        route: str,
        outcome: str,
        user_id: str,
        session_id: str,
        idp: str,
        reason: str | None,
    ) -> None:
        await record_decision(
            self._record,
            ts=self._clock(),
            tenant_id=tenant_id,
            route=route or "sso",
            outcome=outcome,
            unavailable="The sign-in could not be recorded; try again.",
            user_id=user_id,
            session_id=session_id or None,
            error_code=reason,
            extra={"idp": idp},
        )
