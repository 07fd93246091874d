"""From an IdP's groups to a Bastion role, for any protocol (OIDC, OAuth, SAML).

A tenant maps group names to roles (``role_mapping = { "eng-admins" = "admin" }``).
Group names match exactly and case-sensitively, as the IdP sends them (GitHub teams as
``org/team-slug``). Deny by default: when no group maps and the tenant set no
``default_role``, the person gets no role and must not be let in.

When several groups map, the most privileged role wins, by the fixed order of
:data:`PRECEDENCE` (owner > admin > security_analyst > approver > member > viewer >
service), never by the order of the groups or of the mapping: an IdP cannot change the
outcome by reordering a list.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.authz import ROLES, canonical_role
from bastion.sso.identity import SsoIdentity

__all__ = ["PRECEDENCE", "map_role", "validate_role", "validate_role_mapping"]

PRECEDENCE: tuple[str, ...] = (
    "owner",
    "admin",
    "security_analyst",
    "approver",
    "member",
    "viewer",
    "service",
)


def validate_role(role: str, where: str) -> str:
    """The canonical name of ``role`` (``auditor`` reads as ``security_analyst``).
    Raises ValueError, naming ``where``, for a role :mod:`bastion.authz` does not know."""
    name = canonical_role(role)
    if name not in ROLES:
        raise ValueError(f"{where}: unknown role {role!r:.40} (roles: {', '.join(PRECEDENCE)})")
    return name


def validate_role_mapping(mapping: Mapping[str, str], *, where: str) -> dict[str, str]:
    """``mapping`` (group -> role) with canonical role names; ValueError names the bad
    group's role."""
    checked: dict[str, str] = {}
    for group, role in mapping.items():
        if not isinstance(group, str) or not group or not isinstance(role, str):
            raise ValueError(f"{where}.role_mapping must map group names to role names")
        checked[group] = validate_role(role, f"{where}.role_mapping")
    return checked


def map_role(
    identity: SsoIdentity, mapping: Mapping[str, str], default_role: str | None
) -> str | None:
    """The role for ``identity``: the most privileged role any of its groups maps to,
    else ``default_role``, else None (deny). Roles are read canonically; a role that
    :mod:`bastion.authz` does not know never grants anything."""
    mapped = {canonical_role(mapping[g]) for g in identity.groups if g in mapping}
    for role in PRECEDENCE:
        if role in mapped:
            return role
    if default_role is None:
        return None
    fallback = canonical_role(default_role)
    return fallback if fallback in ROLES else None
