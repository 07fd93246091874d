"""A real gateway on loopback: uvicorn in a thread, the scripted upstream beside it.

Each test gets a fresh database (SQLite and PostgreSQL in turn), a tenant ``acme``
with a member key, and models wired to the scripted, hijackable upstream:
``gpt-test`` over the OpenAI wire format and ``claude-test`` over Anthropic's. The
gateway connects as the application role (on PostgreSQL a ``bastion_app`` member,
held to one tenant by row-level security); setup and ``Gateway.engine`` use the
owner's connection, marked for maintenance.
"""

from __future__ import annotations

import base64
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, func, select
from starlette.routing import BaseRoute

from bastion.audit import AuditSealer, VerifyReport, verify_chain
from bastion.documents.embed import Embedder, load_embedder
from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime, utc_now
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.scanners import ScannerRegistry, default_registry
from bastion.secrets import DEPLOYMENT
from bastion.settings import ModelConfig, Settings
from bastion.store import make_engine
from bastion.store.schema import AuditRecord
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.ports import free_port


@dataclass
class Gateway:
    base_url: str  # http://127.0.0.1:PORT
    key: str
    engine: Engine  # the owner's, marked for maintenance: sees every tenant
    identity: IdentityService
    upstream: ScriptedUpstream
    tenant_id: str
    policies_dir: Path
    sealer: AuditSealer | None = None
    clients: list[Any] = field(default_factory=list)
    # The app's routes as (method, path template): route tables test every one.
    routes: frozenset[tuple[str, str]] = frozenset()

    def verify(self) -> VerifyReport:
        """The audit chain verified with the gateway's own key (content is sealed)."""
        return verify_chain(self.engine, sealer=self.sealer)

    def add_tenant(self, name: str, policy: str, role: str = "member") -> str:
        """A new tenant under ``policy`` and a key for it (the policy file may come later)."""
        now = datetime.now(UTC)
        self.identity.ensure_tenant(name, now, policy)
        return self.identity.create_key(name, f"user@{name}.test", now, role=role).secret

    def evade_input_scan(self) -> None:
        """Run the tenant without ``prompt_injection`` on input, as if an injection had
        evaded it: for tests of the output guards on their own (defense in depth)."""
        (self.policies_dir / "default.toml").write_text(
            'input = ["prompt_size", "invisible_text", "secrets"]\n'
        )

    def hang_up_mid_stream(self, text: str) -> None:
        """Stream an echo of ``text`` (2 ms between events, so it cannot end first),
        read one chunk, hang up, and wait (bounded) for the request's audit record."""
        before = self.audit_count()
        with (
            httpx.Client(timeout=30) as http,
            http.stream(
                "POST",
                self.openai_url + "/chat/completions",
                json={
                    "model": "gpt-test",
                    "stream": True,
                    "messages": [{"role": "user", "content": "DRIP:2 ECHO:" + text}],
                },
                headers={"authorization": f"Bearer {self.key}"},
            ) as response,
        ):
            assert response.status_code == 200
            next(response.iter_bytes())
        deadline = time.monotonic() + 20
        while self.audit_count() == before and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"

    def openai(self) -> openai.OpenAI:
        """An openai client for this gateway, closed when the test ends."""
        client = openai.OpenAI(base_url=self.openai_url, api_key=self.key, max_retries=0)
        self.clients.append(client)
        return client

    def anthropic(self) -> anthropic.Anthropic:
        """An anthropic client for this gateway, closed when the test ends."""
        client = anthropic.Anthropic(base_url=self.base_url, api_key=self.key, max_retries=0)
        self.clients.append(client)
        return client

    def audit_count(self, *, deployment: bool = False) -> int:
        """Records in the tenants' chains (``deployment``: the deployment's too, where
        the model registry and other governance decisions are recorded)."""
        query = select(func.count()).select_from(AuditRecord)
        if not deployment:
            query = query.where(AuditRecord.tenant_id != DEPLOYMENT)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def audit_bodies(self, *, deployment: bool = False) -> list[str]:
        """Every tenant record's full body (sealed content opened), in insertion order
        (``deployment``: the deployment's chain too)."""
        query = select(
            AuditRecord.tenant_id, AuditRecord.hash, AuditRecord.body, AuditRecord.sealed
        ).order_by(AuditRecord.id)
        if not deployment:
            query = query.where(AuditRecord.tenant_id != DEPLOYMENT)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        bodies = []
        for tenant_id, digest, body, sealed in rows:
            if sealed is not None:
                assert self.sealer is not None
                opened = self.sealer.merge(tenant_id, digest, body, sealed)
                assert opened is not None
                body = opened
            bodies.append(body)
        return bodies


class ServerThread:
    """uvicorn serving an app in a background thread until ``stop()``.

    The gateway shares this process (its GIL and its garbage collector) with the test
    client and with everything earlier tests left on the heap. Before it starts, the
    heap is collected and frozen out of the collector (as ``bastion serve`` does after
    start-up), so a full collection during the test walks only what the test made: a
    200 ms collection would otherwise fail a sync scan's wall-clock budget
    (``scanner_timeout``), which says nothing about the gateway."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


TEST_KEK = base64.b64encode(bytes(range(100, 132))).decode()


def gateway_settings(
    db_url: str, upstream: ScriptedUpstream, port: int, **extra: object
) -> Settings:
    extra = {"kek": TEST_KEK, **extra}  # a module may run without a keyring (kek None)
    return Settings(
        database_url=db_url,
        host="127.0.0.1",
        port=port,
        models=[
            ModelConfig(
                name="gpt-test", base_url=upstream.openai_base_url, upstream_model="scripted-gpt"
            ),
            ModelConfig(
                name="claude-test",
                provider="anthropic",
                base_url=upstream.base_url,
                upstream_model="scripted-claude",
            ),
        ],
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def scripted() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream.running() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def scanner_registry() -> ScannerRegistry:
    """One scanner registry for every e2e gateway: the injection model and rule table
    are built once (as in one server process) and frozen out of the garbage collector
    with the rest of the heap. A fresh model per gateway (some 100,000 objects each)
    made full collections in this process, which also runs the test client, long
    enough to fail a sync scan's wall-clock budget (``scanner_timeout``)."""
    registry = default_registry()
    for name in ("prompt_injection", "pii"):
        registry.create(name, {})
    gc.freeze()
    return registry


@pytest.fixture(scope="session")
def embedder() -> Embedder | None:
    """One document embedder for every e2e gateway (MiniLM loads in about 0.4 s and
    holds some 90 MB), as in one server process; None without the extra."""
    return load_embedder("auto")


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    """More settings for the ``gateway`` fixture; a test module overrides this."""
    return {}


@pytest.fixture
def gateway_clock() -> Callable[[], datetime]:
    """The gateway's clock; a test module overrides this to move time itself."""
    return utc_now


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every API route, through included routers (FastAPI includes
    them lazily; Bastion's routers use full paths, no prefixes)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield from ((method, route.path) for method in route.methods or ())


@pytest.fixture
def gateway(
    gateway_clock: Callable[[], datetime],
    db_url: str,
    app_db_url: str,
    scripted: ScriptedUpstream,
    tmp_path: Path,
    gateway_extra_settings: dict[str, object],
    scanner_registry: ScannerRegistry,
    embedder: Embedder | None,
) -> Iterator[Gateway]:
    """A running gateway with tenant ``acme`` and one member key."""
    port = free_port()
    policies = tmp_path / "policies"
    policies.mkdir()
    settings = gateway_settings(
        app_db_url,
        scripted,
        port,
        data_dir=tmp_path,
        policies_dir=policies,
        database_admin_url=db_url,
        # Detection is off unless a module turns it on (test_detection, test_concurrency):
        # its alerts are records too, and most tests count the records they cause.
        **{"public_url": f"http://127.0.0.1:{port}", "detection": False, **gateway_extra_settings},
    )
    engine = maintenance(make_engine(db_url))
    identity = IdentityService(engine)
    now = datetime.now(UTC)
    tenant_id, _ = identity.ensure_tenant("acme", now)
    key = identity.create_key("acme", "alice@acme.test", now, name="test").secret
    runtime = Runtime.build(
        settings,
        engine=make_engine(app_db_url),
        registry=scanner_registry,
        embedder=embedder,
        clock=gateway_clock,
    )
    app = create_app(runtime)
    fastapi = app.app  # the FastAPI app behind the fast path
    assert isinstance(fastapi, FastAPI)
    server = ServerThread(uvicorn_config(settings, app=app))
    server.start()
    gw = Gateway(
        base_url=f"http://127.0.0.1:{port}",
        key=key,
        engine=engine,
        identity=identity,
        upstream=scripted,
        tenant_id=tenant_id,
        policies_dir=policies,
        sealer=runtime.sealer,
        routes=frozenset(_api_routes(fastapi.routes)),
    )
    try:
        yield gw
    finally:
        for client in gw.clients:
            client.close()
        server.stop()
        engine.dispose()
