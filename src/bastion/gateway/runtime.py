"""Everything a running gateway holds, built from :class:`Settings` in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio.to_thread
from sqlalchemy import Engine
from starlette.requests import Request

from bastion.actions._http import ACTIONS_SETTING
from bastion.actions.builtin import builtin_actions
from bastion.actions.catalog import ActionServices, SmtpRelay
from bastion.actions.flow import ActionFlow
from bastion.actions.store import ActionStore
from bastion.assistant.memory import Conversations
from bastion.assistant.service import AssistantService
from bastion.assistant.tools import CallerRef, ToolBox
from bastion.audit import AuditLog, AuditSealer
from bastion.crypto import Keyring
from bastion.crypto.select import keyring_for
from bastion.datasources.executor import Executor, HostPolicy
from bastion.datasources.sources import DataSources
from bastion.dlp.hashkey import HashKeys
from bastion.dlp.vault import PseudonymVault
from bastion.documents.embed import Embedder, load_embedder
from bastion.documents.store import Documents
from bastion.gateway.callers import Callers
from bastion.gateway.chat import ChatService
from bastion.gateway.http import presented_key
from bastion.gateway.isolation_gate import IsolationGate
from bastion.gateway.model_table import ModelTable
from bastion.gateway.monitoring import Monitoring
from bastion.gateway.policies import PolicyStore
from bastion.gateway.responder import AutoResponder
from bastion.gateway.spotlight import generate_boundary
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.governance.alarm import IntegrityAlarm
from bastion.governance.audit import recorder
from bastion.governance.probe_worker import ProbeWorker
from bastion.governance.registry import ModelRegistry
from bastion.identity import AuthCache, IdentityService, Principal
from bastion.identity.attributes import UserAttributes, caller_params
from bastion.identity.directory import Directory
from bastion.integrity import ArtifactIntegrityError
from bastion.observability import GatewayMetrics
from bastion.ratelimit import RateLimiter
from bastion.response import ResponseServices, TenantPolicyEditor
from bastion.scanners import ScannerRegistry, default_registry, generate_canary
from bastion.secrets import SecretStore
from bastion.secrets.upstream import open_model_keys
from bastion.sessions import SessionStore
from bastion.settings import ModelConfig, Settings
from bastion.sso.service import SsoService
from bastion.sso.store import DbReplayStore, LoginStates
from bastion.store import is_sqlite, make_engine
from bastion.stream.store import StreamLeases
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
    keyring: Keyring | None = None
    # The document embedder (None: lexical retrieval only); loaded once per Runtime.
    embedder: Embedder | None = None
    # Prometheus metrics (GET /metrics), fed by ``audit``'s observer (see ``build``).
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    callers: Callers = field(init=False)
    sso: SsoService = field(init=False)
    assistant: AssistantService | None = field(init=False)
    actions: ActionFlow | None = field(init=False)
    documents: Documents | None = field(init=False)
    # Detection over the audit chain (and what alerts start); see gateway.monitoring.
    monitoring: Monitoring = field(init=False)
    # Incident response: playbooks act through these; the gate refuses isolated callers.
    gate: IsolationGate = field(init=False)
    response: ResponseServices = field(init=False)
    # The model registry; the settings' models as configured (before the registry).
    registry: ModelRegistry | None = None
    configured_models: list[ModelConfig] = field(default_factory=list)
    # What is served: the registry's versions, keys opened (see gateway.model_table).
    model_table: ModelTable = field(init=False)
    # Behaviour probes of the served models (model_probe_seconds; with monitoring).
    probes: ProbeWorker = field(init=False)

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
            attributes=UserAttributes(self.engine),
        )
        self.gate = IsolationGate(self.engine, self.clock, ttl=self.settings.auth_cache_seconds)
        self.callers = Callers(
            self.authenticate_key,
            self.sessions,
            self.policies,
            self.clock,
            idp_bearer=self.sso.bearer,
            gate=self.gate,
        )
        self.documents = self._documents()
        self.actions = self._actions()
        self.assistant = self._assistant()
        self.monitoring = Monitoring(
            self.settings, self.engine, self.audit, self.policies, self.metrics, self.clock
        )
        self.model_table = ModelTable(
            self.configured_models or self.settings.models,
            self.registry or ModelRegistry(self.engine, self.clock),
            self.secrets,
            self._use_models,
            interval=self.settings.models_refresh_seconds,
        )
        self.probes = ProbeWorker(
            lambda: self.settings.models,
            self.upstreams,
            recorder(self.engine, self.sealer),
            StreamLeases(self.engine, self.clock),
            self.clock,
            interval=self.settings.model_probe_seconds,
            metrics=self.metrics,
        )
        self.response = self._response()
        self.monitoring.on_alert(
            AutoResponder(
                self.response,
                lambda tenant_id: self.monitoring.tenant_policy(tenant_id).response,
                self.metrics,
                self.gate.forget,
            )
        )

    def _response(self) -> ResponseServices:
        """What playbooks act through (gateway-wide; each call names its tenant)."""
        conversations = (
            Conversations(self.engine, self.keyring, self.clock) if self.keyring else None
        )
        return ResponseServices(
            engine=self.engine,
            clock=self.clock,
            audit=self.audit.append,
            directory=Directory(self.engine),
            sessions=self.sessions,
            forget_keys=self.auth_cache.clear,
            keyring=self.keyring,
            audit_sealer=self.sealer,
            conversations=conversations,
            secrets=self.secrets,
            upstream_secrets=self.model_table.secret_names,
            rotate_upstream=self.model_table.reload,
            models=self.registry if self.settings.incident_model_rollback else None,
            policies=TenantPolicyEditor(self.engine, self.policies, TenantPolicies(self.engine)),
        )

    def _use_models(self, models: list[ModelConfig]) -> None:
        """Serve ``models`` (their upstream keys just reopened) from the next request."""
        self.settings = self.settings.model_copy(update={"models": models})
        self.chat.use_models(models)

    def _params_for(self, caller: CallerRef) -> dict[str, str]:
        """What row filters bind: only what the gateway knows of the caller."""
        stored = UserAttributes(self.engine).get(caller.tenant_id, caller.user_id)
        return caller_params(stored, caller.user_email, caller.role)

    def _assistant(self) -> AssistantService | None:
        """The data assistant, where data sources are (they need the keyring)."""
        if self.data_sources is None or self.keyring is None:
            return None
        tools = ToolBox(
            self.data_sources, self.executor, self._params_for, documents=self.documents
        )
        memory = Conversations(self.engine, self.keyring, self.clock)
        return AssistantService(
            self.chat,
            tools,
            memory,
            actions=self.actions,
            action_policy=lambda name: self.policies.get(name).actions,
        )

    def _actions(self) -> ActionFlow | None:
        """Agent actions, where the keyring is (the proposed calls are sealed)."""
        if self.keyring is None:
            return None
        s = self.settings
        smtp = (
            SmtpRelay(s.smtp_host, s.smtp_port, s.smtp_sender, starttls=s.smtp_starttls)
            if s.smtp_host
            else None
        )
        services = ActionServices(
            executor=self.executor,
            hosts=HostPolicy(s.actions_allowed_hosts, setting=ACTIONS_SETTING),
            sources=self.data_sources,
            params_for=self._params_for,
            smtp=smtp,
        )
        return ActionFlow(
            ActionStore(self.engine, self.keyring, self.clock),
            builtin_actions(),
            services,
            self.limiter,
            Directory(self.engine),
            self.clock,
            self.audit.append,
        )

    def _documents(self) -> Documents | None:
        """Document collections, where data sources are (chunks are sealed)."""
        if self.data_sources is None or self.keyring is None:
            return None
        return Documents(
            self.engine,
            self.keyring,
            self.clock,
            lambda policy: self.policies.get(policy).pipeline,
            self.embedder,
            limits_for=lambda policy: self.policies.get(policy).knowledge,
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
        embedder: Embedder | None = None,
    ) -> Runtime:
        """``embedder``: one already loaded (tests share one); else the settings' mode."""
        engine = engine or make_engine(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        keyring = keyring_for(settings, engine, clock)
        sealer = AuditSealer(keyring) if keyring is not None else None
        store = SecretStore(engine, keyring, clock) if keyring is not None else None
        governance = recorder(engine, sealer)  # the deployment's chain, synchronously
        metrics = GatewayMetrics()
        alarm = IntegrityAlarm(governance, clock, metrics)
        policies = PolicyStore(
            settings.policies_dir,
            registry or default_registry(),
            tenant_policies=TenantPolicies(engine),
            on_integrity=alarm,
        )
        # The configured models become registry versions (once per change); what is
        # served is each alias's current version, its sealed key opened (or no start).
        configured = list(settings.models)
        models = ModelRegistry(engine, clock, governance)
        models.sync_config(configured)
        served = open_model_keys(models.served(configured), store)
        settings = settings.model_copy(update={"models": served})
        try:
            embedder = embedder or load_embedder(settings.documents_embeddings)
        except ArtifactIntegrityError as exc:
            alarm(exc)  # a swapped embedding model: alert, and do not start
            raise
        audit = AuditLog(
            engine,
            sealer=sealer,
            batch_max=settings.audit_batch_max,
            inline_max=1 if is_sqlite(engine) else 0,
            observer=metrics.observe,
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
            executor=Executor(hosts=HostPolicy(settings.data_sources_allowed_hosts)),
            keyring=keyring,
            embedder=embedder,
            metrics=metrics,
            registry=models,
            configured_models=configured,
        )

    async def start(self, *, monitoring: bool | None = None) -> None:
        """Start the audit writer, and detection and SIEM forwarding unless they run in
        a separate ``bastion monitor`` process (``monitoring``: decide here)."""
        await self.audit.start()
        await self.model_table.start()
        if monitoring if monitoring is not None else self.settings.stream_workers == "gateway":
            await self.monitoring.start()
            await self.probes.start()

    async def aclose(self) -> None:
        await self.probes.aclose()
        await self.model_table.aclose()
        await self.monitoring.aclose()
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
