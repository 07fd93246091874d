"""What the playbook steps act through: Bastion's own services, passed in.

Everything optional is optional because a deployment may lack it (no key-encryption
key: no sealed secrets, no assistant conversations); a step that needs something
absent records itself ``failed`` (or ``skipped`` when it does not apply) and the
playbook goes on. Nothing here is a test double: tests build the real services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from bastion.assistant.memory import Conversations
from bastion.audit import AuditEvent, AuditReceipt, AuditSealer
from bastion.crypto import Keyring
from bastion.governance.registry import ModelRegistry
from bastion.identity.directory import Directory
from bastion.policy import Policy
from bastion.secrets.store import SecretStore
from bastion.sessions.store import SessionStore

__all__ = ["AuditAppend", "PolicyEditor", "ResponseServices"]

AuditAppend = Callable[[AuditEvent], Awaitable[AuditReceipt]]
"""``AuditLog.append``: returns once the record is committed, raises if it was not."""


class PolicyEditor(Protocol):
    """Reads a tenant's policy in force and writes a new version of it.

    :class:`bastion.response.rules.TenantPolicyEditor` is the implementation over the
    gateway's ``PolicyStore`` and ``TenantPolicies``.
    """

    def current(self, tenant_id: str) -> Policy: ...

    def write(self, tenant_id: str, policy: Policy, actor: str, now: datetime) -> str:
        """Validate ``policy``, store it as the tenant's next version; its name."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseServices:
    """The services a playbook run uses.

    ``directory``: users and keys by tenant id (what the admin API uses).
    ``forget_keys``: drop this process's cached authentications (``AuthCache.clear``),
    called after keys are revoked or the policy changes, so a revoked key stops
    working here at once (other processes: within ``BASTION_AUTH_CACHE_SECONDS``).
    ``keyring``: seals conversation snapshots (``app`` data key); without one the
    snapshot step fails. ``upstream_secrets``: the sealed-secret names the deployment's
    models use (``ModelConfig.api_key_secret``). ``rotate_upstream``: called with the
    names just stored, so the running gateway reopens them (``open_model_keys`` runs
    only at start-up). ``lookback``: how far back the evidence steps read the audit
    chain when the subject gives no ``since``. ``scan_limit``: the most audit records
    one evidence step reads (the rest is reported as truncated). ``models``: the
    model registry, given only where the deployment lets playbooks roll a model back.
    """

    engine: Engine
    clock: Callable[[], datetime]
    audit: AuditAppend
    directory: Directory
    sessions: SessionStore
    forget_keys: Callable[[], None] = lambda: None
    keyring: Keyring | None = None
    audit_sealer: AuditSealer | None = None
    conversations: Conversations | None = None
    secrets: SecretStore | None = None
    upstream_secrets: tuple[str, ...] = ()
    rotate_upstream: Callable[[tuple[str, ...]], None] | None = None
    # The model registry, when playbooks may roll models back (a deployment setting).
    models: ModelRegistry | None = None
    policies: PolicyEditor | None = None
    lookback: timedelta = field(default=timedelta(hours=24))
    scan_limit: int = 50_000

    def __repr__(self) -> str:
        return f"ResponseServices(backend={self.engine.dialect.name!r})"
