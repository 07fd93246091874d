"""Roles and permissions: deny by default.

A principal may do exactly what its role grants. Unknown roles grant nothing. Later
issues add tenant-defined roles and policy evaluation; the contract stays
``allowed(role, permission) -> bool``.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["PERMISSIONS", "ROLES", "allowed"]

PERMISSIONS = frozenset({"chat", "models.list", "keys.manage", "audit.read", "audit.verify"})

ROLES: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "admin": PERMISSIONS,
        "member": frozenset({"chat", "models.list"}),
        "auditor": frozenset({"audit.read", "audit.verify", "models.list"}),
        "service": frozenset({"chat", "models.list"}),
    }
)


def allowed(role: str, permission: str) -> bool:
    """True only when ``role`` is known and grants ``permission``."""
    return permission in ROLES.get(role, frozenset())
