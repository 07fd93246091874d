"""Who is who on a console page: the tenant's user ids by email, so pages show people
by email rather than by id."""

from __future__ import annotations

from sqlalchemy import Engine

from bastion.identity.directory import Directory

__all__ = ["emails_by_id"]


def emails_by_id(engine: Engine, tenant_id: str) -> dict[str, str]:
    """Every user of the tenant: id to email (one query)."""
    return {user.id: user.email for user in Directory(engine).users(tenant_id)}
