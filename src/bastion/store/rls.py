"""PostgreSQL row-level security: the DDL migrations use, and the checks ``serve`` runs.

Layout (see docs/architecture.md, "Tenant isolation"):

* every tenant table has ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (the owner is
  held to the policies too) and a permissive policy ``tenant_isolation`` for all
  commands: ``<tenant column> = current_setting('bastion.tenant_id', true)``, in
  ``USING`` and ``WITH CHECK``; with no tenant set the setting is NULL and nothing
  matches;
* a policy ``maintenance`` ``TO`` the table's owner ``USING (true)``: the owner
  connection (``BASTION_DATABASE_ADMIN_URL``) works across tenants on purpose;
* lookup policies ``FOR SELECT`` (:data:`bastion.store.tenancy.LOOKUPS`) let one row
  be found by an exact key before its tenant is known;
* the application connects as a login role that is a member of the NOLOGIN role
  ``bastion_app``, which has only the table privileges granted here.

All helpers are no-ops on SQLite, where :mod:`bastion.store.guard` is the wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text

from bastion.store.tenancy import LOOKUPS, TENANT_SETTING, TenantScopeError, tenant_tables

__all__ = [
    "APP_ROLE",
    "CRUD",
    "Migration",
    "disable_tenant_rls",
    "enable_tenant_rls",
    "ensure_app_role",
    "isolation_problems",
    "require_all_tenants",
]

APP_ROLE = "bastion_app"
CRUD = ("SELECT", "INSERT", "UPDATE", "DELETE")

# Roles are cluster-wide: many databases may run this at once, so it checks first and
# then tolerates losing the race (duplicate_object, or unique_violation on pg_authid).
_CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$"""


class Migration(Protocol):
    """What the helpers need of Alembic's ``op`` (module or ``Operations``)."""

    def get_bind(self) -> Connection: ...


def _connection(target: Migration | Connection) -> Connection:
    return target if isinstance(target, Connection) else target.get_bind()


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def ensure_app_role(target: Migration | Connection) -> None:
    """Create ``bastion_app`` (NOLOGIN) if missing; let it read the schema version and
    use the sequences, now and for tables the migrating role creates later."""
    conn = _connection(target)
    if not _postgres(conn):
        return
    conn.execute(text(_CREATE_ROLE))
    schema = _quote(conn, conn.execute(text("SELECT current_schema()")).scalar_one())
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}"))
    conn.execute(text(f"GRANT SELECT ON alembic_version TO {APP_ROLE}"))
    default = f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT"
    conn.execute(text(f"{default} {', '.join(CRUD)} ON TABLES TO {APP_ROLE}"))
    conn.execute(text(f"{default} USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"))


def enable_tenant_rls(
    target: Migration | Connection,
    table: str,
    tenant_column: str = "tenant_id",
    *,
    privileges: Sequence[str] = CRUD,
) -> None:
    """Hold ``table`` to the bound tenant for every role but its owner; grant the app.

    Idempotent. Use it in the migration that creates a tenant table:
    ``enable_tenant_rls(op, "sealed_secrets")``. ``privileges`` are granted to
    ``bastion_app`` (column lists allowed, e.g. ``"UPDATE (sealed)"``); anything else
    the app role held on the table is revoked. Lookup policies of
    :data:`~bastion.store.tenancy.LOOKUPS` on this table are created too.
    """
    conn = _connection(target)
    if not _postgres(conn):
        return
    owner = conn.execute(
        text(
            "SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class "
            "WHERE oid = to_regclass(:table)"
        ),
        {"table": table},
    ).scalar_one()
    name, column, role = _quote(conn, table), _quote(conn, tenant_column), _quote(conn, owner)
    bound = f"{column} = current_setting('{TENANT_SETTING}', true)"
    statements = [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS tenant_isolation ON {name}",
        f"CREATE POLICY tenant_isolation ON {name} USING ({bound}) WITH CHECK ({bound})",
        f"DROP POLICY IF EXISTS maintenance ON {name}",
        f"CREATE POLICY maintenance ON {name} TO {role} USING (true) WITH CHECK (true)",
    ]
    for lookup in LOOKUPS.values():
        if lookup.table == table:
            match = f"{_quote(conn, lookup.column)} = current_setting('{lookup.setting}', true)"
            statements += [
                f"DROP POLICY IF EXISTS {lookup.policy} ON {name}",
                f"CREATE POLICY {lookup.policy} ON {name} FOR SELECT USING ({match})",
            ]
    statements += [
        f"REVOKE ALL ON {name} FROM {APP_ROLE}",
        f"GRANT {', '.join(privileges)} ON {name} TO {APP_ROLE}",
    ]
    for statement in statements:
        conn.execute(text(statement))


def disable_tenant_rls(target: Migration | Connection, table: str) -> None:
    """Undo :func:`enable_tenant_rls` (downgrades)."""
    conn = _connection(target)
    if not _postgres(conn):
        return
    name = _quote(conn, table)
    policies = ["tenant_isolation", "maintenance"]
    policies += [lookup.policy for lookup in LOOKUPS.values() if lookup.table == table]
    for policy in policies:
        conn.execute(text(f"DROP POLICY IF EXISTS {policy} ON {name}"))
    conn.execute(text(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY"))
    conn.execute(text(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY"))
    conn.execute(text(f"REVOKE ALL ON {name} FROM {APP_ROLE}"))


def _quote(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(name))


# -- posture ----------------------------------------------------------------------
_ROLE = text(
    "SELECT current_user, rolsuper, rolbypassrls FROM pg_catalog.pg_roles "
    "WHERE rolname = current_user"
)
_TABLES = text(
    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
    "pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER') "
    "FROM pg_catalog.pg_class c "
    "WHERE c.oid = ANY(SELECT to_regclass(name) FROM unnest(CAST(:names AS text[])) AS name)"
)
_APP_ROLE_FIX = (
    "connect BASTION_DATABASE_URL as a login role in bastion_app "
    "(CREATE ROLE bastion LOGIN IN ROLE bastion_app) and keep the owner in "
    "BASTION_DATABASE_ADMIN_URL"
)


def isolation_problems(engine: Engine) -> list[str]:
    """Why the application connection would not be held to its tenant, each with a fix.

    PostgreSQL only (SQLite: none): the role is a superuser, has BYPASSRLS or owns
    (is a member of the owner of) a tenant table; or a tenant table lacks forced
    row-level security.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        role, superuser, bypass = conn.execute(_ROLE).one()
        tables = _table_states(conn)
    problems: list[str] = []
    if superuser:
        problems.append(
            f"the database role {role!r} is a superuser, which row-level "
            f"security does not hold; {_APP_ROLE_FIX}"
        )
    elif bypass:
        problems.append(f"the database role {role!r} has BYPASSRLS; {_APP_ROLE_FIX}")
    owned = sorted(name for name, (_, _, owner) in tables.items() if owner)
    if owned and not superuser:
        problems.append(
            f"the database role {role!r} owns the tenant tables "
            f"({', '.join(owned)}), so it may read every tenant; {_APP_ROLE_FIX}"
        )
    for name in sorted(tenant_tables()):
        state = tables.get(name)
        if state is None or not (state[0] and state[1]):
            problems.append(
                f"row-level security is not forced on table {name!r}: "
                "run `bastion init` (or add enable_tenant_rls to its migration)"
            )
    return problems


def require_all_tenants(conn: Connection) -> None:
    """Refuse cross-tenant work on a PostgreSQL connection that cannot see every tenant.

    Without this, a verify or export run as the application role would read nothing
    and report a clean, empty log.
    """
    if not _postgres(conn):
        return
    _, superuser, bypass = conn.execute(_ROLE).one()
    if superuser or bypass:
        return
    if all(owner for _, _, owner in _table_states(conn).values()):
        return
    raise TenantScopeError(
        "reading every tenant needs the owner connection: set BASTION_DATABASE_ADMIN_URL "
        "(the application role sees one tenant at a time)"
    )


def _table_states(conn: Connection) -> dict[str, tuple[Any, Any, Any]]:
    rows = conn.execute(_TABLES, {"names": sorted(tenant_tables())}).all()
    return {str(name): (rls, forced, owner) for name, rls, forced, owner in rows}
