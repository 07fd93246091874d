"""Roles and permissions: deny by default.

A principal may do exactly what its role grants; an unknown role or permission grants
nothing. ``docs/permissions.md`` holds the same table, and a test checks the two agree.
Which models (and, later, data sources) a role may use is per tenant, in the policy's
``[access]`` table (:func:`parse_access`).

Permissions marked in :data:`STEP_UP` also need a recent sign-in when the caller uses a
browser session (see ``bastion.sessions``): creating keys, approving actions, exporting
audit data, changing policy, releasing quarantined knowledge and rolling sources back.
API keys and IdP bearer tokens are not sessions and are held to the role alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_ALIASES",
    "STEP_UP",
    "Access",
    "allowed",
    "canonical_role",
    "parse_access",
]

PERMISSIONS = frozenset(
    {
        "chat",  # call chat models
        "models.list",  # list the models the role may use
        "keys.own",  # create, list and revoke one's own API keys
        "keys.manage",  # every key of the tenant
        "users.read",
        "users.manage",  # add, disable users; change roles (never to owner)
        "roles.owner",  # make or unmake owners
        "tenant.manage",  # the tenant's settings
        "policies.read",
        "policies.write",
        "audit.read",
        "audit.export",
        "audit.verify",
        "sessions.own",  # see and end one's own browser sessions
        "sessions.manage",  # see and end other people's sessions
        "actions.use",  # ask agent actions, confirm one's own (issue 8)
        "actions.approve",  # approve other people's agent actions (issue 8)
        "datasources.use",  # query data sources (issue 7)
        "incidents.read",  # see incidents, their timelines and isolations (issue 9)
        "incidents.respond",  # run playbooks, close incidents, release isolations
        "feedback.write",  # rate the assistant's answers to oneself, with corrections
        "knowledge.read",  # accepted feedback, quarantined updates, source versions
        "knowledge.review",  # release or reject quarantined updates; roll sources back
    }
)

_MEMBER = frozenset(
    {
        "chat",
        "models.list",
        "keys.own",
        "sessions.own",
        "datasources.use",
        "actions.use",
        "feedback.write",
    }
)
_ANALYST = frozenset(
    {
        "models.list",
        "users.read",
        "policies.read",
        "audit.read",
        "audit.export",
        "audit.verify",
        "sessions.own",
        "sessions.manage",
        "incidents.read",
        "incidents.respond",
        "knowledge.read",
        "knowledge.review",
    }
)
_ADMIN = _MEMBER | _ANALYST | {"keys.manage", "users.manage", "policies.write"}

ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "owner": PERMISSIONS,
        "admin": _ADMIN,
        "security_analyst": _ANALYST,
        "approver": frozenset(
            {
                "chat",
                "models.list",
                "keys.own",
                "sessions.own",
                "actions.use",
                "actions.approve",
                "feedback.write",
            }
        ),
        "member": _MEMBER,
        "viewer": frozenset({"models.list", "users.read", "policies.read", "sessions.own"}),
        "service": frozenset({"chat", "models.list", "datasources.use"}),
    }
)

# Names earlier releases used, read as their successor.
ROLE_ALIASES: Mapping[str, str] = MappingProxyType({"auditor": "security_analyst"})

STEP_UP = frozenset(
    {
        "keys.own",
        "keys.manage",
        "actions.approve",
        "audit.export",
        "policies.write",
        "incidents.respond",
        "knowledge.review",
    }
)


def canonical_role(role: str) -> str:
    return ROLE_ALIASES.get(role, role)


def allowed(role: str, permission: str) -> bool:
    """True only when ``role`` is known and grants ``permission``."""
    return permission in ROLES.get(canonical_role(role), frozenset())


@dataclass(frozen=True, slots=True)
class Access:
    """Per-role limits of one tenant: the models each role may call (glob patterns;
    a role not listed keeps the policy's ``models``)."""

    models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def allows_model(self, role: str, model: str) -> bool:
        patterns = self.models.get(canonical_role(role))
        return patterns is None or any(fnmatchcase(model, p) for p in patterns)


def parse_access(table: Mapping[str, Any]) -> Access:
    """The policy's ``[access]`` table: ``[access.roles.<role>] models = [...]``. A
    ValueError names the bad key (unknown role, option or a non-list)."""
    unknown = sorted(set(table) - {"roles"})
    if unknown:
        raise ValueError(f"access: unknown option {unknown[0]!r:.40} (options: roles)")
    roles = table.get("roles", {})
    if not isinstance(roles, Mapping):
        raise ValueError("access: 'roles' must be a table of roles")
    models: dict[str, tuple[str, ...]] = {}
    for role, options in roles.items():
        if role not in ROLES:
            raise ValueError(f"access: unknown role {role!r:.40} (roles: {', '.join(ROLES)})")
        if not isinstance(options, Mapping) or set(options) - {"models"}:
            raise ValueError(f"access.roles.{role}: the only option is 'models'")
        value = options.get("models", ["*"])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"access.roles.{role}.models must be a list of model names")
        models[role] = tuple(value)
    return Access(MappingProxyType(models))
