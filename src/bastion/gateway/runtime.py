"""Everything a running gateway holds, built from :class:`Settings` in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio.to_thread
from sqlalchemy import Engine
from starlette.requests import Request

from bastion.audit import AuditLog, AuditSealer
from bastion.crypto.select import keyring_for
from bastion.datasources.executor import Executor
from bastion.datasources.sources import DataSources
from bastion.dlp.hashkey import HashKeys
from bastion.dlp.vault import PseudonymVault
from bastion.gateway.callers import Callers
from bastion.gateway.chat import ChatService
from bastion.gateway.http import presented_key
from bastion.gateway.policies import PolicyStore
from bastion.gateway.spotlight import generate_boundary
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.identity import AuthCache, IdentityService, Principal
from bastion.identity.directory import Directory
from bastion.ratelimit import RateLimiter
from bastion.scanners import ScannerRegistry, default_registry, generate_canary
from bastion.secrets import SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.sessions import SessionStore
from bastion.settings import Settings
from bastion.sso.service import SsoService
from bastion.sso.store import DbReplayStore, LoginStates
from bastion.store import is_sqlite, make_engine
from bastion.upstream import UpstreamPool

__all__ = ["Runtime", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    identity: IdentityService
    audit: AuditLog
    sealer: AuditSealer | None
    policies: PolicyStore
    upstreams: UpstreamPool
    chat: ChatService
    clock: Callable[[], datetime]
    auth_cache: AuthCache
    limiter: RateLimiter
    sessions: SessionStore
    secrets: SecretStore | None
    data_sources: DataSources | None
    executor: Executor
    callers: Callers = field(init=False)
    sso: SsoService = field(init=False)

    def __post_init__(self) -> None:
        self.sso = SsoService(
            policies=self.policies,
            directory=Directory(self.engine),
            sessions=self.sessions,
            states=LoginStates(self.engine, self.clock),
            replay=DbReplayStore(self.engine, self.clock),
            tenant_by_name=self._tenant_by_name,
            secret=self._tenant_secret,
            record=self.audit.append,
            public_url=self.settings.public_url,
            clock=self.clock,
            auth_cache=self.auth_cache,
        )
        self.callers = Callers(
            self.authenticate_key,
            self.sessions,
            self.policies,
            self.clock,
            idp_bearer=self.sso.bearer,
        )

    def _tenant_by_name(self, name: str) -> tuple[str, str]:
        return self.identity.tenant_id(name), self.identity.tenant_policy(name)

    def _tenant_secret(self, tenant_id: str, name: str) -> str | None:
        """A tenant's own sealed secret of that name, else the deployment's."""
        if self.secrets is None:
            return None
        return self.secrets.get(name, tenant_id=tenant_id) or self.secrets.get(name)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        registry: ScannerRegistry | None = None,
        clock: Callable[[], datetime] = utc_now,
        canary: Callable[[], str] = generate_canary,
        boundary: Callable[[], str] = generate_boundary,
    ) -> Runtime:
        engine = engine or make_engine(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        policies = PolicyStore(
            settings.policies_dir,
            registry or default_registry(),
            tenant_policies=TenantPolicies(engine),
        )
        keyring = keyring_for(settings, engine, clock)
        sealer = AuditSealer(keyring) if keyring is not None else None
        store = SecretStore(engine, keyring, clock) if keyring is not None else None
        if any(model.api_key_secret for model in settings.models):
            opened = open_model_keys(settings.models, store)
            settings = settings.model_copy(update={"models": opened})
        audit = AuditLog(
            engine,
            sealer=sealer,
            batch_max=settings.audit_batch_max,
            inline_max=1 if is_sqlite(engine) else 0,
        )
        upstreams = UpstreamPool()
        vault = PseudonymVault(engine, keyring, clock) if keyring is not None else None
        hash_keys = HashKeys(keyring) if keyring is not None else None
        limiter = RateLimiter(settings.rate_limit_storage)
        chat = ChatService(
            settings,
            policies,
            upstreams,
            audit,
            clock,
            canary,
            boundary,
            vault=vault,
            hash_keys=hash_keys,
            limiter=limiter,
        )
        return cls(
            settings=settings,
            engine=engine,
            identity=IdentityService(engine),
            audit=audit,
            sealer=sealer,
            policies=policies,
            upstreams=upstreams,
            chat=chat,
            clock=clock,
            auth_cache=AuthCache(settings.auth_cache_seconds),
            limiter=limiter,
            sessions=SessionStore(engine, clock),
            secrets=store,
            data_sources=DataSources(
                engine, keyring, clock, sqlite_dir=settings.data_sources_sqlite_dir
            )
            if keyring is not None
            else None,
            executor=Executor(),
        )

    async def start(self) -> None:
        await self.audit.start()

    async def aclose(self) -> None:
        await self.sso.aclose()
        await anyio.to_thread.run_sync(self.executor.close)
        await self.audit.aclose()
        await self.limiter.aclose()
        await self.upstreams.aclose()
        self.engine.dispose()

    async def authenticate(self, request: Request) -> Principal:
        """The caller's principal, by API key, the tenant IdP's bearer token or a session
        cookie (with its CSRF token on writes); see :class:`Callers`."""
        return (await self.callers.identify(request)).principal

    async def authenticate_key(self, request: Request) -> Principal:
        """The principal of a Bastion API key; raises ``AuthenticationFailed`` (one
        error for all)."""
        raw = presented_key(request)
        now = self.clock()
        principal = self.auth_cache.get(raw, now)
        if principal is None:
            principal = await anyio.to_thread.run_sync(self.identity.authenticate, raw, now)
            self.auth_cache.put(raw, principal)
        return principal
