"""Row-level security: every tenant table holds each role but its owner to one tenant.

PostgreSQL only (a no-op on SQLite, where ``bastion.store.guard`` is the wall). See
``bastion.store.rls`` for the policies and the ``bastion_app`` role created here.
The audit log is append-only for the application: records may be inserted, and only
their sealed content re-encrypted (key rotation); heads advance but are never deleted.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from bastion.store.rls import CRUD, disable_tenant_rls, enable_tenant_rls, ensure_app_role

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tenants": ("id", CRUD),
    "users": ("tenant_id", CRUD),
    "api_keys": ("tenant_id", CRUD),
    "audit_records": ("tenant_id", ("SELECT", "INSERT", "UPDATE (sealed)")),
    "audit_heads": ("tenant_id", ("SELECT", "INSERT", "UPDATE")),
    "data_keys": ("tenant_id", CRUD),
}


def upgrade() -> None:
    ensure_app_role(op)
    for table, (column, privileges) in _TABLES.items():
        enable_tenant_rls(op, table, column, privileges=privileges)


def downgrade() -> None:
    for table in _TABLES:
        disable_tenant_rls(op, table)
