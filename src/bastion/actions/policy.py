"""A tenant's ``[actions]`` table: which actions its assistant may propose, and how.

Deny by default: a tenant offers no action until it lists it in ``enabled``. The table::

    [actions]
    enabled = ["create_ticket", "get_ticket", "send_email"]
    confirm_ttl_minutes = 30        # how long a pending confirmation waits (default 30)
    approval_ttl_minutes = 1440     # how long an approval request waits (default 1440)
    notify_url = "https://hooks.example.internal/approvals"  # approvers are told here

    [actions.tiers]                 # raise a tool's tier; never below its floor
    create_ticket = 3

    [actions.create_ticket]         # each action's own settings (its config model)
    source = "helpdesk"

Everything is checked when the policy loads (:func:`parse_action_policy`): an unknown
key or tool, a tier below a floor, an action's settings its model refuses, or an
enabled action whose required settings are missing make the policy invalid, and
requests under an invalid policy fail closed. Errors name the key, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from bastion.actions.catalog import Action
from bastion.actions.registry import ActionRegistry, Tier

__all__ = ["ActionPolicy", "parse_action_policy"]

_OPTIONS = frozenset(
    {"enabled", "tiers", "confirm_ttl_minutes", "approval_ttl_minutes", "notify_url"}
)
_MAX_TTL_MINUTES = 30 * 24 * 60


@dataclass(frozen=True, slots=True)
class ActionPolicy:
    """One tenant's actions: the registry of what it enabled, tiers, expiries, settings."""

    registry: ActionRegistry = field(default_factory=ActionRegistry)
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    confirm_ttl: timedelta = timedelta(minutes=30)
    approval_ttl: timedelta = timedelta(minutes=1440)
    notify_url: str | None = None
    configs: Mapping[str, BaseModel] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ActionPolicy(enabled={self.registry.names()!r})"

    @property
    def enabled(self) -> tuple[str, ...]:
        return self.registry.names()

    def tier_table(self) -> Mapping[str, int]:
        return {name: int(tier) for name, tier in self.tiers.items()}

    def ttl(self, tier: Tier) -> timedelta:
        return self.approval_ttl if tier is Tier.APPROVE else self.confirm_ttl


def parse_action_policy(table: Mapping[str, Any], actions: Mapping[str, Action]) -> ActionPolicy:
    """The checked ``[actions]`` table; ValueError naming the bad key."""
    if not isinstance(table, Mapping):
        raise ValueError("actions must be a table")
    for key in table:
        if key not in _OPTIONS and key not in actions:
            known = ", ".join(sorted(_OPTIONS | set(actions)))
            raise ValueError(f"actions: unknown key {str(key)!r:.40} (keys: {known})")
    enabled = _enabled(table.get("enabled", []), actions)
    registry = ActionRegistry(tuple(actions[name].spec for name in enabled))
    tiers_table = table.get("tiers", {})
    if isinstance(tiers_table, Mapping):
        not_enabled = sorted(set(tiers_table) - set(enabled))
        if not_enabled:
            raise ValueError(f"actions.tiers: {not_enabled[0]!r:.40} is not enabled")
    tiers = registry.check_tiers(tiers_table)
    configs: dict[str, BaseModel] = {}
    for name, action in actions.items():
        raw = table.get(name)
        if raw is not None and not isinstance(raw, Mapping):
            raise ValueError(f"actions.{name} must be a table")
        if name not in enabled:
            if raw is not None:
                raise ValueError(f"actions.{name}: the action is not in actions.enabled")
            continue
        try:
            configs[name] = action.config.model_validate(dict(raw or {}))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(table)"
            raise ValueError(f"actions.{name}.{where}: {first['msg']}") from None
    return ActionPolicy(
        registry=registry,
        tiers=tiers,
        confirm_ttl=_ttl(table, "confirm_ttl_minutes", 30),
        approval_ttl=_ttl(table, "approval_ttl_minutes", 1440),
        notify_url=_notify_url(table.get("notify_url")),
        configs=MappingProxyType(configs),
    )


def _enabled(value: object, actions: Mapping[str, Action]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("actions.enabled must be a list of action names")
    for name in value:
        if name not in actions:
            known = ", ".join(sorted(actions)) or "none"
            raise ValueError(f"actions.enabled: unknown action {name!r:.40} (actions: {known})")
    if len(set(value)) != len(value):
        raise ValueError("actions.enabled names an action twice")
    return tuple(sorted(value))


def _ttl(table: Mapping[str, Any], key: str, default: int) -> timedelta:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_TTL_MINUTES:
        raise ValueError(f"actions.{key} must be whole minutes from 1 to {_MAX_TTL_MINUTES}")
    return timedelta(minutes=value)


def _notify_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise ValueError("actions.notify_url must be an http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ValueError("actions.notify_url must be an http(s) URL with a host and no credentials")
    return value
