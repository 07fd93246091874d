"""Tenant policies and their scanner pipelines, built once per policy name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bastion.authz import Access, parse_access
from bastion.errors import PolicyUnavailable
from bastion.policy import Policy, PolicyError, default_policy, load_policy
from bastion.ratelimit import RateLimits, parse_rate_limits
from bastion.scanners import Pipeline, ScannerRegistry, Stage, build_pipeline

__all__ = ["PolicyStore", "ResolvedPolicy"]


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    policy: Policy
    pipeline: Pipeline
    # Whether a scanner hashes values (the gateway then derives the tenant's hash key).
    needs_hash_key: bool = False
    access: Access = field(default_factory=Access)
    rate_limits: RateLimits = field(default_factory=RateLimits)

    def allows_model(self, role: str, model: str) -> bool:
        """The policy's ``models`` and the role's own list in ``[access]`` both allow it."""
        return self.policy.allows_model(model) and self.access.allows_model(role, model)


class PolicyStore:
    """Loads ``<policies_dir>/<name>.toml``; ``default`` falls back to the built-in.

    A policy that is missing or invalid raises :class:`PolicyUnavailable`: requests
    under it fail closed instead of running with fewer scanners.
    """

    def __init__(self, policies_dir: Path | None, registry: ScannerRegistry) -> None:
        self._dir = policies_dir
        self._registry = registry
        self._cache: dict[str, ResolvedPolicy] = {}

    def get(self, name: str) -> ResolvedPolicy:
        found = self._cache.get(name)
        if found is None:
            found = self._load(name)
            self._cache[name] = found
        return found

    def _load(self, name: str) -> ResolvedPolicy:
        path = self._dir / f"{name}.toml" if self._dir is not None else None
        try:
            if path is not None and path.is_file():
                policy = load_policy(path)
            elif name == "default":
                policy = default_policy()
            else:
                raise PolicyError(f"policy {name!r} not found")
            pipeline = build_pipeline(policy, self._registry)
            access = parse_access(policy.access)
            rate_limits = parse_rate_limits(policy.rate_limits)
        except (PolicyError, ValueError):
            raise PolicyUnavailable("The tenant's policy could not be loaded.") from None
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
        )
