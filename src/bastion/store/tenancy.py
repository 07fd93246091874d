"""Tenant scope of a database transaction.

Every read or write of a tenant's rows runs in a transaction bound to that tenant.
On PostgreSQL the binding is ``set_config('bastion.tenant_id', <id>, true)`` (local
to the transaction), which the row-level security policies compare against, so a
query that forgets its WHERE clause still sees only the bound tenant's rows. The
binding is also kept in ``conn.info`` for the application-layer guard
(:mod:`bastion.store.guard`), which holds every backend, SQLite included, to the
same rule. Like ``set_config(..., true)``, a binding ends with its transaction.

Three narrow *lookups* find one row before its tenant is known (PostgreSQL policies
``FOR SELECT`` only): an API key by its public prefix (authentication) or by its id
(revocation), and a tenant by its name (the command line names tenants). See
:data:`LOOKUPS` and :func:`bind_lookup`.

Cross-tenant work (migrations, verifying or exporting every tenant, key rotation,
backup) runs on a *maintenance* connection: :func:`maintenance` marks an engine so
that the application-layer guard lets it through. It does not lift PostgreSQL's
policies: only the owner connection (``BASTION_DATABASE_ADMIN_URL``) sees every
tenant there.

Exceptions::

    PermissionError
     +- TenantScopeError   a statement the tenant guard cannot scope or must refuse
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

from bastion.store.schema import Base

__all__ = [
    "LOOKUPS",
    "MAINTENANCE_OPTION",
    "TENANT_SETTING",
    "Lookup",
    "TenantScopeError",
    "bind_lookup",
    "bind_tenant",
    "bound_lookups",
    "bound_tenant",
    "clear_scope",
    "is_maintenance",
    "maintenance",
    "tenant_begin",
    "tenant_connect",
    "tenant_tables",
]

TENANT_SETTING = "bastion.tenant_id"
MAINTENANCE_OPTION = "bastion_maintenance"
_TENANT_KEY = "bastion.tenant_id"
_LOOKUP_KEY = "bastion.lookups"
_SET = text("SELECT set_config('bastion.tenant_id', :tenant, true)")


class TenantScopeError(PermissionError):
    """The tenant guard refused a statement. The message names tables, never values."""


class Lookup(NamedTuple):
    """Find one row of ``table`` by ``column`` before its tenant is known."""

    table: str
    column: str
    setting: str  # the PostgreSQL setting the policy compares ``column`` with
    policy: str


LOOKUPS: Mapping[str, Lookup] = {
    "key_prefix": Lookup("api_keys", "prefix", "bastion.key_prefix", "key_by_prefix"),
    "key_id": Lookup("api_keys", "id", "bastion.key_id", "key_by_id"),
    "tenant_name": Lookup("tenants", "name", "bastion.tenant_name", "tenant_by_name"),
    "session_id": Lookup("sessions", "id", "bastion.session_id", "session_by_id"),
}


def tenant_tables() -> Mapping[str, str]:
    """Tables whose rows belong to a tenant, and the column naming the tenant.

    Every table of the schema with a ``tenant_id`` column, and ``tenants`` itself
    (keyed by ``id``): a new table with a ``tenant_id`` is guarded without being
    listed anywhere (and ``bastion serve`` refuses to start on PostgreSQL until its
    migration enables row-level security on it).
    """
    return _TENANT_TABLES


def _tenant_tables() -> dict[str, str]:
    found = {"tenants": "id"}
    for table in Base.metadata.sorted_tables:
        if "tenant_id" in table.c and table.name != "tenants":
            found[table.name] = "tenant_id"
    return found


_TENANT_TABLES: Mapping[str, str] = MappingProxyType(_tenant_tables())


def bind_tenant(conn: Connection, tenant_id: str) -> None:
    """Scope the connection's current (or next) transaction to ``tenant_id``.

    May be called again in the same transaction to switch tenants (the audit
    writer commits batches that span tenants this way).
    """
    if not tenant_id:
        raise ValueError("a tenant scope needs a tenant id")
    if conn.dialect.name == "postgresql":
        conn.execute(_SET, {"tenant": tenant_id})
    conn.info[_TENANT_KEY] = tenant_id


def bound_tenant(conn: Connection) -> str | None:
    """The tenant the connection is bound to, if any."""
    value = conn.info.get(_TENANT_KEY)
    return value if isinstance(value, str) else None


def bind_lookup(conn: Connection, **values: str) -> None:
    """Let this transaction see the rows named by ``values`` (keys of :data:`LOOKUPS`).

    ``bind_lookup(conn, key_prefix="abcd...")`` makes exactly that API key visible,
    for reading only, whatever its tenant. One round trip on PostgreSQL.
    """
    unknown = set(values) - set(LOOKUPS)
    if unknown:
        raise ValueError(f"unknown lookup {sorted(unknown)}; known: {sorted(LOOKUPS)}")
    if not values or not all(values.values()):
        raise ValueError("a lookup needs a non-empty value")
    if conn.dialect.name == "postgresql":
        names = sorted(values)
        calls = ", ".join(f"set_config('{LOOKUPS[n].setting}', :{n}, true)" for n in names)
        conn.execute(text(f"SELECT {calls}"), values)
    current = dict(bound_lookups(conn))
    current.update(values)
    conn.info[_LOOKUP_KEY] = current


def bound_lookups(conn: Connection) -> Mapping[str, str]:
    """The lookups bound in the connection's current transaction."""
    value = conn.info.get(_LOOKUP_KEY)
    return value if isinstance(value, dict) else {}


def clear_scope(info: dict[object, object]) -> None:
    """Forget a connection's tenant and lookups (its transaction ended)."""
    info.pop(_TENANT_KEY, None)
    info.pop(_LOOKUP_KEY, None)


@contextmanager
def tenant_begin(engine: Engine, tenant_id: str) -> Iterator[Connection]:
    """A write transaction bound to ``tenant_id``; commits on success."""
    with engine.begin() as conn:
        try:
            bind_tenant(conn, tenant_id)
            yield conn
        finally:
            clear_scope(conn.info)


@contextmanager
def tenant_connect(engine: Engine, tenant_id: str) -> Iterator[Connection]:
    """A read connection whose transaction is bound to ``tenant_id``.

    The binding ends with the transaction: after ``conn.commit()`` the connection
    sees no tenant rows until it is bound again.
    """
    with engine.connect() as conn:
        try:
            bind_tenant(conn, tenant_id)
            yield conn
        finally:
            clear_scope(conn.info)


def maintenance(engine: Engine) -> Engine:
    """``engine`` marked for deliberate cross-tenant work (shares its pool).

    The application-layer guard lets statements on it through unscoped. On
    PostgreSQL the policies still apply: only the owner role sees every tenant.
    """
    return engine.execution_options(**{MAINTENANCE_OPTION: True})


def is_maintenance(target: Connection | Engine) -> bool:
    """Whether ``target`` was marked by :func:`maintenance` (statement options do not count)."""
    return bool(target.get_execution_options().get(MAINTENANCE_OPTION))
