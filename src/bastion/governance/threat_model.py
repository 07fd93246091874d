"""The deployment's threat model, gathered from the live configuration (what
``bastion threat-model`` renders; :mod:`bastion.governance.threat_render`).

Collected, never guessed: the tenants and their policies, data sources (owner, kind,
tables, classification, region, shares), what is stored and where answers go, the
actions each tenant enabled and their tiers, the models and providers, and every
component's region against each tenant's ``[residency]`` rules. The trust boundaries
and failure modes are Bastion's own, stated with the controls this deployment has on
or off. No secret, URL credential or policy value beyond names and labels is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from bastion.crypto.select import keyring_for
from bastion.gateway.policies import PolicyStore, ResolvedPolicy
from bastion.gateway.tenant_policies import TenantPolicies
from bastion.governance.registry import ModelRegistry, is_pinned
from bastion.governance.residency import LABELS
from bastion.scanners import default_registry
from bastion.settings import Settings
from bastion.store.schema import DataSourceRow, DataSourceShareRow, Tenant, User
from bastion.store.transactions import read_snapshot

__all__ = ["Component", "SourceEntry", "TenantEntry", "ThreatModel", "gather"]


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    kind: str  # model | database | connector | siem
    region: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SourceEntry:
    tenant: str
    name: str
    kind: str
    owner: str
    tables: tuple[str, ...]
    classification: str
    region: str
    shares: int
    disabled: bool


@dataclass(frozen=True, slots=True)
class TenantEntry:
    name: str
    policy: str
    loads: bool
    sso: str
    input_scanners: tuple[str, ...] = ()
    output_scanners: tuple[str, ...] = ()
    actions: dict[str, int] = field(default_factory=dict)
    auto_playbooks: tuple[str, ...] = ()
    residency: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # per component name: the highest label it may receive under this tenant's rules
    residency_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ThreatModel:
    generated_at: datetime
    settings: dict[str, Any]
    components: tuple[Component, ...]
    tenants: tuple[TenantEntry, ...]
    sources: tuple[SourceEntry, ...]


def _components(
    settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> list[Component]:
    registry = ModelRegistry(engine, clock)
    components = [
        Component(
            f"model:{m.name}",
            "model",
            m.region,
            f"{m.provider} {m.target_model} at {m.base_url}"
            + ("" if is_pinned(m.target_model) else " (not pinned)"),
        )
        for m in registry.served(settings.models)
    ]
    components.append(
        Component("database", "database", settings.database_region, engine.dialect.name)
    )
    components += [
        Component(f"siem:{s.name}", "siem", s.region, f"{s.kind} {s.format or ''}".strip())
        for s in settings.siem_sinks
    ]
    return components


def _sources(engine: Engine, tenant_id: str | None) -> list[SourceEntry]:
    shares = (
        select(DataSourceShareRow.source_id, func.count().label("n"))
        .group_by(DataSourceShareRow.source_id)
        .subquery()
    )
    query = (
        select(
            Tenant.name,
            DataSourceRow.name,
            DataSourceRow.kind,
            User.email,
            DataSourceRow.config,
            DataSourceRow.disabled,
            shares.c.n,
        )
        .join(Tenant, Tenant.id == DataSourceRow.tenant_id)
        .join(User, User.id == DataSourceRow.owner_user_id, isouter=True)
        .join(shares, shares.c.source_id == DataSourceRow.id, isouter=True)
        .order_by(Tenant.name, DataSourceRow.name)
    )
    if tenant_id is not None:
        query = query.where(DataSourceRow.tenant_id == tenant_id)
    with read_snapshot(engine, tenant_id) as conn:
        rows = conn.execute(query).all()
    found = []
    for tenant, name, kind, owner, config, disabled, n in rows:
        try:
            parsed = json.loads(config or "{}")
        except ValueError:
            parsed = {}
        found.append(
            SourceEntry(
                tenant=tenant,
                name=name,
                kind=kind,
                owner=owner or "?",
                tables=tuple(sorted(parsed.get("tables", {}))),
                classification=str(parsed.get("classification", "confidential")),
                region=str(parsed.get("region", "")),
                shares=int(n or 0),
                disabled=bool(disabled),
            )
        )
    return found


def _tenant(
    name: str, policy_name: str, policy: ResolvedPolicy | None, components: list[Component],
    sources: list[SourceEntry],
) -> TenantEntry:  # fmt: skip
    if policy is None:
        return TenantEntry(name, policy_name, False, "unknown")
    sso = ", ".join(sorted(policy.policy.sso)) or "none (API keys only)"
    rules = policy.residency
    placed = [(c.name, c.region) for c in components]
    placed += [(f"connector:{s.name}", s.region) for s in sources if s.tenant == name]
    residency_map = {}
    if rules.active:
        for component, region in placed:
            top = rules.highest(region)
            residency_map[component] = LABELS[top] if top >= 0 else "nothing"
    return TenantEntry(
        name=name,
        policy=policy_name,
        loads=True,
        sso=sso,
        input_scanners=policy.policy.input,
        output_scanners=policy.policy.output,
        actions={
            action: int(policy.actions.registry.resolve(action, policy.actions.tier_table()).tier)
            for action in sorted(policy.actions.enabled)
        },
        auto_playbooks=tuple(
            sorted(f"{d} -> {r.playbook}" for d, r in policy.response.auto.items())
        ),
        residency=dict(rules.allowed),
        residency_map=residency_map,
    )


def gather(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime],
    *,
    tenant_id: str | None = None,
    policies: PolicyStore | None = None,
) -> ThreatModel:
    """The threat model of this deployment now (``engine``: the owner connection); with
    ``tenant_id``, only that tenant's sources and policy (the console's view, on an
    engine bound to it). ``policies``: the gateway's policy store (else one is built)."""
    components = _components(settings, engine, clock)
    sources = _sources(engine, tenant_id)
    store = policies or PolicyStore(
        settings.policies_dir, default_registry(), tenant_policies=TenantPolicies(engine)
    )
    query = select(Tenant.name, Tenant.policy).order_by(Tenant.name)
    if tenant_id is not None:
        query = query.where(Tenant.id == tenant_id)
    with read_snapshot(engine, tenant_id) as conn:
        tenants = conn.execute(query).all()
    entries = []
    for name, policy_name in tenants:
        try:
            resolved: ResolvedPolicy | None = store.get(policy_name or "default")
        except Exception:  # shown as not loading: requests under it fail closed
            resolved = None
        entries.append(_tenant(name, policy_name or "default", resolved, components, sources))
    keyring = keyring_for(settings, engine, clock)
    facts = {
        "database": engine.dialect.name,
        "encryption_at_rest": f"KEK provider {settings.kek_provider}" if keyring else "off",
        "tls": "TLS 1.3"
        if settings.tls_cert_file and not settings.tls_allow_tls12
        else ("TLS 1.2+" if settings.tls_cert_file else "none in Bastion (a proxy's?)"),
        "detection": settings.detection,
        "siem_sinks": len(settings.siem_sinks),
        "model_probes_seconds": settings.model_probe_seconds,
        "actions_allowed_hosts": list(settings.actions_allowed_hosts),
        "data_sources_allowed_hosts": list(settings.data_sources_allowed_hosts),
        "documents_embeddings": settings.documents_embeddings,
    }
    return ThreatModel(clock(), facts, tuple(components), tuple(entries), tuple(sources))
