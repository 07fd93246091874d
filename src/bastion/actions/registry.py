"""What each action is, declared once: its argument schema, risk tier, permissions, rate limit.

An :class:`ActionSpec` is checked when it is built, so an unsafe one never exists:

* ``name`` is a lower-case identifier (it is what the model calls);
* ``arguments`` is a pydantic model that forbids extra fields at every level and is
  strict; free-form maps and untyped (``Any``) fields are refused, so the arguments a
  user approves are exactly the fields someone declared;
* a spec that ``writes`` may not run automatically (its ``floor`` is at least CONFIRM);
* ``permissions`` are known to :mod:`bastion.authz` and there is at least one (an action
  nobody is granted is refused, not open to everyone);
* ``rate_limit`` is in the ``limits`` library's format (``"10/minute"``).

A tenant may raise a tool's tier in its policy, never lower it below the floor; the
policy loader calls :meth:`ActionRegistry.check_tiers` so a bad table is a policy error
at load time, and :meth:`ActionRegistry.resolve` checks again (fail closed).

Errors: :class:`ActionSpecError` (a bad spec or a duplicate name),
:class:`TierPolicyError` (a tenant's tier table), :class:`UnknownAction` (resolving a
name that is not registered). All are for operators; none carries argument values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Any

from limits import parse_many
from pydantic import BaseModel, PydanticUserError

from bastion.authz import PERMISSIONS, allowed

__all__ = [
    "ActionRegistry",
    "ActionSpec",
    "ActionSpecError",
    "ResolvedAction",
    "Tier",
    "TierPolicyError",
    "UnknownAction",
]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_DESCRIPTION = 1024
# A schema node must say what it holds; one with none of these accepts anything.
_TYPED = ("type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const")


class Tier(IntEnum):
    """How much human agreement an action needs before it runs."""

    AUTO = 1  # runs automatically: low-risk, read-only
    CONFIRM = 2  # the requesting user confirms
    APPROVE = 3  # a different user with ``actions.approve`` approves


class ActionSpecError(ValueError):
    """An action's declaration is unsafe or malformed; the message says what to fix."""


class TierPolicyError(ValueError):
    """A tenant's ``[actions.tiers]`` table is invalid (unknown tool, bad or lowered tier)."""


class UnknownAction(LookupError):
    """No action of that name is registered."""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action the model may propose. Checked on construction (see the module doc)."""

    name: str
    description: str
    arguments: type[BaseModel]
    floor: Tier
    writes: bool
    permissions: tuple[str, ...]
    rate_limit: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ActionSpecError(
                f"action name must match ^[a-z][a-z0-9_]{{0,63}}$ (got {str(self.name)[:40]!r})"
            )
        where = f"action {self.name}"
        if not isinstance(self.description, str) or not self.description.strip():
            raise ActionSpecError(f"{where}: description must be non-empty text")
        if len(self.description) > _MAX_DESCRIPTION:
            raise ActionSpecError(f"{where}: description is over {_MAX_DESCRIPTION} characters")
        if not isinstance(self.writes, bool):
            raise ActionSpecError(f"{where}: writes must be True or False")
        object.__setattr__(self, "floor", _tier(self.floor, where + ": floor", ActionSpecError))
        if self.writes and self.floor < Tier.CONFIRM:
            raise ActionSpecError(
                f"{where} writes, so its floor must be CONFIRM or APPROVE, not AUTO"
            )
        _check_permissions(self.permissions, where)
        _check_rate_limit(self.rate_limit, where)
        _check_model(self.arguments, where)

    def __repr__(self) -> str:
        return f"ActionSpec(name={self.name!r}, floor={self.floor.name}, writes={self.writes})"


@dataclass(frozen=True, slots=True)
class ResolvedAction:
    """An action with the tier it has for one tenant: max(floor, the tenant's setting)."""

    spec: ActionSpec
    tier: Tier

    def __repr__(self) -> str:
        return f"ResolvedAction(name={self.spec.name!r}, tier={self.tier.name})"


class ActionRegistry:
    """The actions a deployment offers. Names are unique; registration is checked."""

    def __init__(self, specs: tuple[ActionSpec, ...] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        for spec in specs:
            self.register(spec)

    def __repr__(self) -> str:
        return f"ActionRegistry(names={self.names()!r})"

    def register(self, spec: ActionSpec) -> None:
        if not isinstance(spec, ActionSpec):
            raise ActionSpecError("register takes an ActionSpec")
        if spec.name in self._specs:
            raise ActionSpecError(f"action {spec.name} is already registered")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ActionSpec | None:
        return self._specs.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._specs))

    def openai_tools(self, role: str | None = None) -> list[dict[str, Any]]:
        """OpenAI function-tool definitions, sorted by name. With ``role``, only the
        actions that role may call (the model need not see what it cannot use)."""
        tools = []
        for name in self.names():
            spec = self._specs[name]
            if role is not None and not all(allowed(role, p) for p in spec.permissions):
                continue
            parameters = spec.arguments.model_json_schema(by_alias=True)
            parameters["additionalProperties"] = False  # already so; stated for readers
            tools.append(
                {
                    "type": "function",
                    "function": {
                        "name": name,
                        "description": spec.description,
                        "parameters": parameters,
                    },
                }
            )
        return tools

    def check_tiers(self, tiers: Mapping[str, object]) -> Mapping[str, Tier]:
        """A tenant's tier table (``[actions.tiers]``: tool name to 1, 2 or 3), checked:
        every name is registered and no tier is below that tool's floor. Raises
        :class:`TierPolicyError` naming the key; the policy is then invalid."""
        if not isinstance(tiers, Mapping):
            raise TierPolicyError("actions.tiers must be a table of tool names to tiers")
        checked: dict[str, Tier] = {}
        for name, value in tiers.items():
            spec = self._specs.get(name) if isinstance(name, str) else None
            if spec is None:
                raise TierPolicyError(
                    f"actions.tiers: unknown tool {str(name)[:40]!r} "
                    f"(tools: {', '.join(self.names()) or 'none'})"
                )
            tier = _tier(value, f"actions.tiers.{name}", TierPolicyError)
            if tier < spec.floor:
                raise TierPolicyError(
                    f"actions.tiers.{name}: {int(tier)} ({tier.name}) is below the tool's "
                    f"floor {int(spec.floor)} ({spec.floor.name}); a tenant may raise a "
                    "tier, never lower it"
                )
            checked[name] = tier
        return MappingProxyType(checked)

    def resolve(self, name: str, tenant_tiers: Mapping[str, int]) -> ResolvedAction:
        """The action ``name`` with its effective tier for a tenant. The whole tier table
        is checked each time, so a table that skipped :meth:`check_tiers` still fails."""
        tiers = self.check_tiers(tenant_tiers)
        spec = self._specs.get(name)
        if spec is None:
            raise UnknownAction("no action of that name is registered")
        return ResolvedAction(spec, max(spec.floor, tiers.get(name, spec.floor)))


def _tier(value: object, where: str, error: type[ValueError]) -> Tier:
    # bool is an int; True as a tier is a mistake, not AUTO.
    if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2, 3):
        raise error(f"{where} must be 1 (AUTO), 2 (CONFIRM) or 3 (APPROVE)")
    return Tier(value)


def _check_permissions(permissions: object, where: str) -> None:
    if not isinstance(permissions, tuple) or not permissions:
        raise ActionSpecError(f"{where}: permissions must be a non-empty tuple")
    for permission in permissions:
        if permission not in PERMISSIONS:
            raise ActionSpecError(
                f"{where}: unknown permission {str(permission)[:40]!r} "
                "(see bastion.authz.PERMISSIONS)"
            )


def _check_rate_limit(rate_limit: object, where: str) -> None:
    if rate_limit is None:
        return
    example = "such as '10/minute' or '100/hour;10/minute'"
    if not isinstance(rate_limit, str):
        raise ActionSpecError(f"{where}: rate_limit must be a string {example}")
    try:
        # parse_many, not parse: parse keeps the first of "a;b" and drops the rest.
        items = parse_many(rate_limit)
    except ValueError:
        raise ActionSpecError(
            f"{where}: {rate_limit!r:.60} is not a rate limit {example}"
        ) from None
    if not items or any(item.amount < 1 for item in items):
        raise ActionSpecError(f"{where}: every rate limit amount must be at least 1")


def _check_model(model: object, where: str) -> None:
    if not isinstance(model, type) or not issubclass(model, BaseModel):
        raise ActionSpecError(f"{where}: arguments must be a pydantic model class")
    config = model.model_config
    if config.get("extra") != "forbid" or config.get("strict") is not True:
        raise ActionSpecError(
            f"{where}: arguments model {model.__name__} must set "
            "ConfigDict(extra='forbid', strict=True)"
        )
    try:
        schema = model.model_json_schema(by_alias=True)
    except PydanticUserError as exc:
        raise ActionSpecError(f"{where}: arguments have no JSON schema ({exc.code})") from None
    for definition in schema.get("$defs", {}).values():
        _check_node(definition, where)
    _check_node(schema, where)


def _check_node(node: object, where: str) -> None:
    """Every object in the schema forbids extra keys (nested models and maps included);
    every value has a type."""
    if not isinstance(node, dict):
        raise ActionSpecError(f"{where}: arguments schema is malformed")
    title = str(node.get("title", "a field"))[:40]
    if not any(key in node for key in _TYPED):
        raise ActionSpecError(f"{where}: {title} has no type (Any is not allowed)")
    if (node.get("type") == "object" or "properties" in node) and node.get(
        "additionalProperties"
    ) is not False:
        raise ActionSpecError(
            f"{where}: {title} accepts extra keys; nested models need extra='forbid' "
            "and free-form maps are not allowed (declare the fields)"
        )
    for sub in node.get("properties", {}).values():
        _check_node(sub, where)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in node.get(key, []):
            _check_node(sub, where)
    items = node.get("items")
    if items is not None and items is not False:  # False: no items past prefixItems
        _check_node(items, where)
