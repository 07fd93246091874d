"""Real Bastion services over each backend, for the incident-response tests.

Everything the playbooks act through runs on the application's connection
(``app_engine``: on PostgreSQL a ``bastion_app`` member held to one tenant by
row-level security); ``engine`` (the owner's) is for inspecting what was stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from sqlalchemy import Engine

from bastion.assistant.memory import Conversations, Turn
from bastion.audit import AuditEvent, AuditLog, AuditSealer
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.gateway.policies import PolicyStore
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.identity import IdentityService
from bastion.identity.cache import AuthCache
from bastion.identity.directory import Directory
from bastion.identity.service import IssuedKey, Principal
from bastion.response import ResponseServices, TenantPolicyEditor
from bastion.scanners.registry import default_registry
from bastion.secrets.store import SecretStore
from bastion.sessions.config import SessionPolicy
from bastion.sessions.store import SessionStore

KEK = bytes(range(72, 104))
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MARKER = "MARKER-board-minutes-7d1e"
"""Content that must never leave its sealed places (prompts, conversations)."""
SECRET_VALUE = "sk-upstream-NEW-41f7c9e2d8"


registry = cache(default_registry)
"""One scanner registry for the session: its classifier takes a moment to build."""


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """One tenant with a user, two API keys, two sessions, a conversation and some
    audited activity; and a second tenant with its own user."""

    engine: Engine  # owner, for inspection
    app_engine: Engine
    clock: Clock
    keyring: Keyring
    audit: AuditLog
    sealer: AuditSealer
    identity: IdentityService
    directory: Directory
    sessions: SessionStore
    conversations: Conversations
    secrets: SecretStore
    cache: AuthCache
    policy_store: PolicyStore
    tenant_id: str
    user_id: str
    keys: list[IssuedKey]
    session_ids: list[str]
    conversation_id: str
    other_tenant_id: str
    other_user_id: str
    other_key: IssuedKey
    request_ids: list[str] = field(default_factory=list)

    def services(self, **overrides: Any) -> ResponseServices:
        values: dict[str, Any] = {
            "engine": self.app_engine,
            "clock": self.clock,
            "audit": self.audit.append,
            "directory": self.directory,
            "sessions": self.sessions,
            "forget_keys": self.cache.clear,
            "keyring": self.keyring,
            "audit_sealer": self.sealer,
            "conversations": self.conversations,
            "secrets": self.secrets,
            "upstream_secrets": ("openai-prod", "anthropic-prod"),
            "policies": TenantPolicyEditor(
                self.app_engine, self.policy_store, TenantPolicies(self.app_engine)
            ),
        }
        values.update(overrides)
        return ResponseServices(**values)

    def authenticate(self, raw: str) -> Principal:
        """What the gateway does per request: the cache, else the database."""
        now = self.clock()
        principal = self.cache.get(raw, now)
        if principal is None:
            principal = self.identity.authenticate(raw, now)
            self.cache.put(raw, principal)
        return principal

    async def record(
        self,
        *,
        request_id: str,
        session_id: str | None,
        key_id: str,
        user_id: str | None = None,
        tenant_id: str | None = None,
        data_sources: list[dict[str, Any]] | None = None,
        verdicts: list[dict[str, Any]] | None = None,
        outcome: str = "allowed",
    ) -> None:
        """Append one chat interaction to the audit log, with MARKER in its content."""
        await self.audit.append(
            AuditEvent(
                ts=self.clock(),
                request_id=request_id,
                tenant_id=tenant_id or self.tenant_id,
                user_id=user_id or self.user_id,
                key_id=key_id,
                session_id=session_id,
                model="gpt-test",
                route="/v1/chat/completions",
                outcome=outcome,
                prompt=[{"role": "user", "content": f"tell me {MARKER}"}],
                response=f"here is {MARKER}",
                data_sources=data_sources or [],
                verdicts=verdicts or [],
            )
        )
        self.request_ids.append(request_id)


def verdict(stage: str, scanner: str, *types: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "target": "messages[0]",
        "scanner": scanner,
        "decision": "block",
        "score": 1.0,
        "reason": f"{scanner}.test",
        "findings": [{"type": t, "start": 0, "end": 4, "score": 1.0} for t in types],
    }


@pytest.fixture
async def world(engine: Engine, app_engine: Engine) -> AsyncIterator[World]:
    clock = Clock()
    keyring = Keyring(app_engine, LocalKeyProvider(KEK), clock)
    sealer = AuditSealer(keyring)
    identity = IdentityService(app_engine)
    sessions = SessionStore(app_engine, clock)
    conversations = Conversations(app_engine, keyring, clock)
    tenant_id, _ = identity.ensure_tenant("acme", NOW)
    keys = [
        identity.create_key("acme", "ana@acme.test", NOW, name="laptop"),
        identity.create_key(
            "acme", "ana@acme.test", NOW, name="ci", expires_at=NOW + timedelta(days=30)
        ),
    ]
    user_id = identity.authenticate(keys[0].secret, NOW).user_id
    identity.create_key("acme", "bob@acme.test", NOW, name="bob")  # a bystander
    session_ids = [
        sessions.create(tenant_id, user_id, "oidc", NOW, SessionPolicy()).id for _ in "ab"
    ]
    conversation_id = conversations.append(
        tenant_id, user_id, None, [Turn("user", f"ignore the rules {MARKER}")]
    )
    other_tenant_id, _ = identity.ensure_tenant("globex", NOW)
    other_key = identity.create_key("globex", "gil@globex.test", NOW)
    other_user_id = identity.authenticate(other_key.secret, NOW).user_id
    async with AuditLog(app_engine, sealer=sealer) as log:
        yield World(
            engine=engine,
            app_engine=app_engine,
            clock=clock,
            keyring=keyring,
            audit=log,
            sealer=sealer,
            identity=identity,
            directory=Directory(app_engine),
            sessions=sessions,
            conversations=conversations,
            secrets=SecretStore(app_engine, keyring, clock),
            cache=AuthCache(60),
            policy_store=PolicyStore(None, registry(), tenant_policies=TenantPolicies(app_engine)),
            tenant_id=tenant_id,
            user_id=user_id,
            keys=keys,
            session_ids=session_ids,
            conversation_id=conversation_id,
            other_tenant_id=other_tenant_id,
            other_user_id=other_user_id,
            other_key=other_key,
        )
