"""Tenant policies and their scanner pipelines, built once per policy name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.actions.builtin import builtin_actions
from bastion.actions.catalog import Action
from bastion.actions.policy import ActionPolicy, parse_action_policy
from bastion.authz import Access, parse_access
from bastion.detection.policy import (
    DetectionPolicy,
    ResponsePolicy,
    parse_detection_policy,
    parse_response_policy,
)
from bastion.errors import PolicyUnavailable
from bastion.feedback.limits import KnowledgeLimits, parse_knowledge_policy
from bastion.gateway.tenant_policies import TenantPolicies, tenant_policy_name
from bastion.governance.residency import ResidencyPolicy, parse_residency_policy
from bastion.integrity import ArtifactIntegrityError
from bastion.policy import Policy, PolicyError, default_policy, load_policy, parse_policy
from bastion.ratelimit import RateLimits, parse_rate_limits
from bastion.scanners import Pipeline, ScannerRegistry, Stage, build_pipeline
from bastion.sessions.config import parse_session_policy
from bastion.sso.oidc_config import parse_oidc_config
from bastion.sso.saml_config import parse_saml_config

__all__ = ["PolicyStore", "ResolvedPolicy", "check_sso", "resolve_policy"]

log = logging.getLogger("bastion.gateway")


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    policy: Policy
    pipeline: Pipeline
    # Whether a scanner hashes values (the gateway then derives the tenant's hash key).
    needs_hash_key: bool = False
    access: Access = field(default_factory=Access)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    actions: ActionPolicy = field(default_factory=ActionPolicy)
    detection: DetectionPolicy = field(default_factory=DetectionPolicy)
    response: ResponsePolicy = field(default_factory=ResponsePolicy)
    residency: ResidencyPolicy = field(default_factory=ResidencyPolicy)
    knowledge: KnowledgeLimits = field(default_factory=KnowledgeLimits)

    def allows_model(self, role: str, model: str) -> bool:
        """The policy's ``models`` and the role's own list in ``[access]`` both allow it."""
        return self.policy.allows_model(model) and self.access.allows_model(role, model)


class PolicyStore:
    """Loads ``<policies_dir>/<name>.toml``; ``default`` falls back to the built-in.

    A policy that is missing or invalid raises :class:`PolicyUnavailable`: requests
    under it fail closed instead of running with fewer scanners.
    """

    def __init__(
        self,
        policies_dir: Path | None,
        registry: ScannerRegistry,
        *,
        tenant_policies: TenantPolicies | None = None,
        on_integrity: Callable[[ArtifactIntegrityError], None] | None = None,
    ) -> None:
        """``on_integrity``: told when a scanner's model file fails its integrity check
        (the gateway raises a critical alert); the policy is unavailable either way."""
        self._dir = policies_dir
        self._registry = registry
        self._tenant_policies = tenant_policies
        self._on_integrity = on_integrity
        self._cache: dict[str, ResolvedPolicy] = {}

    def check(self, policy: Policy) -> ResolvedPolicy:
        """``policy`` resolved with this store's scanners (ValueError on a bad table)."""
        return resolve_policy(policy, self._registry)

    def get(self, name: str) -> ResolvedPolicy:
        found = self._cache.get(name)
        if found is None:
            found = self._load(name)
            self._cache[name] = found
        return found

    def _load(self, name: str) -> ResolvedPolicy:
        path = self._dir / f"{name}.toml" if self._dir is not None else None
        versioned = tenant_policy_name(name)
        try:
            if versioned is not None and self._tenant_policies is not None:
                body = self._tenant_policies.body(*versioned)
                if body is None:
                    raise PolicyError(f"tenant policy {name} not found")
                policy = parse_policy(body, "tenant", f"tenant policy {name}")
            elif path is not None and path.is_file():
                policy = load_policy(path)
            elif name == "default":
                policy = default_policy()
            else:
                raise PolicyError(f"policy {name!r} not found")
            return resolve_policy(policy, self._registry)
        except ArtifactIntegrityError as exc:
            log.error("policy unavailable name=%s reason=artifact_integrity", name)
            if self._on_integrity is not None:
                self._on_integrity(exc)
            raise PolicyUnavailable("The tenant's policy could not be loaded.") from None
        except (PolicyError, ValueError) as exc:
            # Errors name the file, table and key, never a value (secrets are never in
            # policy files, and the parsers do not echo values).
            log.error("policy unavailable name=%s reason=%s", name, str(exc)[:300])
            raise PolicyUnavailable("The tenant's policy could not be loaded.") from None


def resolve_policy(
    policy: Policy, registry: ScannerRegistry, actions: Mapping[str, Action] | None = None
) -> ResolvedPolicy:
    """``policy`` with every table checked and its scanners built; a ValueError names
    the first bad table and key (``bastion scan --policy FILE`` shows it). ``actions``:
    the actions a tenant may enable (default: the built-in ones)."""
    pipeline = build_pipeline(policy, registry)
    action_policy = parse_action_policy(
        policy.actions, builtin_actions() if actions is None else actions
    )
    access = parse_access(policy.access)
    rate_limits = parse_rate_limits(policy.rate_limits)
    parse_session_policy(policy.sessions)
    check_sso(policy.sso)
    detection = parse_detection_policy(policy.detection)
    response = parse_response_policy(policy.response)
    residency = parse_residency_policy(policy.residency)
    knowledge = parse_knowledge_policy(policy.knowledge)
    needs_hash_key = any(
        getattr(scanner, "needs_hash_key", False)
        for stage in Stage
        for scanner in pipeline.scanners(stage)
    )
    return ResolvedPolicy(
        policy=policy,
        pipeline=pipeline,
        needs_hash_key=needs_hash_key,
        access=access,
        rate_limits=rate_limits,
        actions=action_policy,
        detection=detection,
        response=response,
        residency=residency,
        knowledge=knowledge,
    )


def check_sso(table: dict[str, Any]) -> None:
    """``[sso]`` holds ``oidc`` and/or ``saml``, each valid (SAML's URLs are checked with
    a placeholder public URL here; the real one is used at sign-in)."""
    unknown = sorted(set(table) - {"oidc", "saml"})
    if unknown:
        raise ValueError(f"sso: unknown table {unknown[0]!r:.40} (tables: oidc, saml)")
    if "oidc" in table:
        parse_oidc_config(table["oidc"])
    if "saml" in table:
        parse_saml_config(table["saml"], public_url="https://policy-check.invalid", tenant="t")
