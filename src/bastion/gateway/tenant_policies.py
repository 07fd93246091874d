"""Policies a tenant writes through the admin API, versioned in the database.

Each write adds version N+1 and points the tenant at ``@<tenant id>:<N+1>``: a name that
no policy file can have (file names start with a letter or digit). A version never
changes once written, so every process may cache it forever, and a new version reaches
every replica with the tenant's row (within ``BASTION_AUTH_CACHE_SECONDS``).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from bastion.store.schema import Tenant, TenantPolicyRow
from bastion.store.tenancy import tenant_begin, tenant_connect

__all__ = ["TenantPolicies", "tenant_policy_name"]

_NAME = re.compile(r"@([0-9a-f-]{36}):([1-9][0-9]{0,8})")


def tenant_policy_name(name: str) -> tuple[str, int] | None:
    """``(tenant id, version)`` of a tenant policy's name, else None (a file policy)."""
    found = _NAME.fullmatch(name)
    return (found.group(1), int(found.group(2))) if found else None


class TenantPolicies:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "TenantPolicies()"

    def body(self, tenant_id: str, version: int) -> str | None:
        query = select(TenantPolicyRow.body).where(
            TenantPolicyRow.tenant_id == tenant_id, TenantPolicyRow.version == version
        )
        with tenant_connect(self._engine, tenant_id) as conn:
            return conn.execute(query).scalar()

    def write(self, tenant_id: str, body: str, user_id: str, now: datetime) -> str:
        """Store ``body`` (already validated) as the next version and run the tenant
        under it; the policy name."""
        with tenant_begin(self._engine, tenant_id) as conn:
            latest = conn.execute(
                select(func.max(TenantPolicyRow.version)).where(
                    TenantPolicyRow.tenant_id == tenant_id
                )
            ).scalar()
            version = int(latest or 0) + 1
            conn.execute(
                insert(TenantPolicyRow).values(
                    tenant_id=tenant_id,
                    version=version,
                    body=body,
                    created_at=now,
                    created_by=user_id,
                )
            )
            name = f"@{tenant_id}:{version}"
            conn.execute(update(Tenant).where(Tenant.id == tenant_id).values(policy=name))
        return name
