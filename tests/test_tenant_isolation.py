"""Tenant isolation: PostgreSQL row-level security and the application-layer guard.

Each isolation test runs against every wall on its own and together (``walls``):
on SQLite the application-layer guard is the only one; on PostgreSQL the guard alone
(on the superuser's connection, which row-level security skips), row-level security
alone (the application role with the guard switched off) and both (the application
role as Bastion uses it). Buggy queries that forget their WHERE clause are the point.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from bastion.audit import AuditEvent, AuditLog, export_jsonl, verify_chain
from bastion.audit._chain import PendingRecord, commit_batch
from bastion.identity import IdentityService
from bastion.store import is_sqlite, make_engine, upgrade
from bastion.store.rls import isolation_problems, require_all_tenants
from bastion.store.schema import ApiKey, AuditRecord, Tenant, User
from bastion.store.tenancy import (
    TenantScopeError,
    bind_lookup,
    bind_tenant,
    maintenance,
    tenant_begin,
    tenant_connect,
)
from tests.cli_helpers import bastion
from tests.conftest import PG_ADMIN_URL, need_service

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REFUSED = (TenantScopeError, DBAPIError)  # the guard's refusal, or PostgreSQL's


def event(tenant_id: str, i: int) -> AuditEvent:
    return AuditEvent(
        ts=T0,
        request_id=f"req-{tenant_id[:8]}-{i}",
        tenant_id=tenant_id,
        user_id="u",
        key_id="k",
        model="m",
        route="/v1/chat/completions",
        outcome="allowed",
        prompt=[{"role": "user", "content": f"question {i}"}],
        response=f"answer {i}",
    )


@pytest.fixture
def tenants(engine: Engine, app_engine: Engine) -> dict[str, str]:
    """Tenants alpha and beta, two keys and three audit records each; name -> id.

    Keys are issued on the owner's connection; the records are written as the
    application, in one batch that spans both tenants.
    """
    identity = IdentityService(engine)
    ids = {name: identity.ensure_tenant(name, T0)[0] for name in ("alpha", "beta")}
    for name in ids:
        for user in ("ann", "bob"):
            identity.create_key(name, f"{user}@{name}.test", T0)
    batch = [PendingRecord.from_event(event(ids[n], i)) for i in range(3) for n in ids]
    commit_batch(app_engine, batch)
    return ids


@pytest.fixture
def walls(db_url: str, app_engine: Engine) -> Iterator[dict[str, Engine]]:
    """Engines that each hold queries to a tenant by one wall, or by both."""
    guard_only = make_engine(db_url)
    found = {"guard": guard_only}
    if not is_sqlite(app_engine):
        found |= {"row-level security": maintenance(app_engine), "both": app_engine}
    yield found
    guard_only.dispose()


def test_no_tenant_context_sees_nothing(walls: dict[str, Engine], tenants: dict[str, str]) -> None:
    """Without a bound tenant every tenant table reads empty, through every wall."""
    for wall, engine in walls.items():
        with engine.connect() as conn:
            for model in (AuditRecord, ApiKey, User, Tenant):
                assert conn.execute(select(model)).all() == [], (wall, model)
            count = select(func.count()).select_from(AuditRecord)
            assert conn.execute(count).scalar_one() == 0, wall


def test_postgres_raw_sql_without_tenant_returns_no_rows(
    app_engine: Engine, tenants: dict[str, str]
) -> None:
    """As the application role, plain SQL sees no rows until a tenant is set."""
    if is_sqlite(app_engine):
        pytest.skip("row-level security is PostgreSQL's")
    with maintenance(app_engine).connect() as conn:
        assert conn.execute(text("SELECT * FROM audit_records")).all() == []
        conn.execute(text("SELECT set_config('bastion.tenant_id', :t, true)"), {"t": "nope"})
        assert conn.execute(text("SELECT count(*) FROM audit_records")).scalar_one() == 0
        bind_tenant(conn, tenants["alpha"])
        assert conn.execute(text("SELECT count(*) FROM audit_records")).scalar_one() == 3


def test_query_without_where_sees_only_the_bound_tenant(
    walls: dict[str, Engine], tenants: dict[str, str]
) -> None:
    """``select(AuditRecord)`` and friends, WHERE forgotten, return alpha's rows only."""
    alpha = tenants["alpha"]
    for wall, engine in walls.items():
        with tenant_connect(engine, alpha) as conn:
            records = conn.execute(select(AuditRecord)).all()
            keys = conn.execute(select(ApiKey)).all()
            joined = conn.execute(
                select(ApiKey.id, User.email, Tenant.name)
                .join(User, User.id == ApiKey.user_id)
                .join(Tenant, Tenant.id == User.tenant_id)
            ).all()
            tenant_rows = conn.execute(select(Tenant.name)).scalars().all()
        assert {r.tenant_id for r in records} == {alpha} and len(records) == 3, wall
        assert {k.tenant_id for k in keys} == {alpha} and len(keys) == 2, wall
        assert {row.name for row in joined} == {"alpha"} and len(joined) == 2, wall
        assert tenant_rows == ["alpha"], wall


def test_subqueries_aliases_and_unions_are_scoped(
    walls: dict[str, Engine], tenants: dict[str, str]
) -> None:
    """Nested SELECTs are held to the tenant too, not just the outer one."""
    alpha = tenants["alpha"]
    users = select(User.id).where(User.email.like("ann@%"))
    for wall, engine in walls.items():
        with tenant_connect(engine, alpha) as conn:
            in_sub = conn.execute(select(ApiKey.tenant_id).where(ApiKey.user_id.in_(users)))
            assert in_sub.scalars().all() == [alpha], wall
            total = select(func.count()).select_from(AuditRecord).scalar_subquery()
            assert conn.execute(select(total)).scalar_one() == 3, wall
            both = select(User.tenant_id).union_all(select(ApiKey.tenant_id))
            assert set(conn.execute(both).scalars()) == {alpha}, wall
            alias = AuditRecord.__table__.alias("r")
            assert conn.execute(select(func.count()).select_from(alias)).scalar_one() == 3


def test_update_and_delete_without_where_touch_only_the_bound_tenant(
    walls: dict[str, Engine], engine: Engine, tenants: dict[str, str]
) -> None:
    """``update(User).values(role="admin")`` in alpha's scope leaves beta alone."""
    alpha = tenants["alpha"]
    for wall, guarded in walls.items():
        with guarded.connect() as conn, conn.begin() as txn:
            bind_tenant(conn, alpha)
            assert conn.execute(update(User).values(role="admin")).rowcount == 2, wall
            assert conn.execute(delete(ApiKey)).rowcount == 2, wall
            txn.rollback()
        with guarded.connect() as conn, conn.begin():
            assert conn.execute(update(User).values(role="admin")).rowcount == 0, wall
    with engine.connect() as owner:
        roles = owner.execute(select(User.tenant_id, User.role)).all()
    assert {role for _, role in roles} == {"member"}
    # The application role may not delete audit records at all (see
    # test_application_role_cannot_escape): only the guard's wall is tried here.
    with tenant_begin(walls["guard"], alpha) as conn:
        conn.execute(update(User).values(role="admin"))
        assert conn.execute(delete(AuditRecord)).rowcount == 3
    with engine.connect() as owner:
        by_tenant = dict(owner.execute(select(User.tenant_id, User.role)).all())
        left = owner.execute(select(AuditRecord.tenant_id)).scalars().all()
    assert by_tenant == {alpha: "admin", tenants["beta"]: "member"}
    assert set(left) == {tenants["beta"]}


def test_insert_for_another_tenant_is_refused(
    walls: dict[str, Engine], tenants: dict[str, str]
) -> None:
    """A row for beta cannot be written in alpha's scope, nor in no scope (WITH CHECK)."""
    row = {"email": "mallory@x.test", "role": "admin", "disabled": False, "created_at": T0}
    mallory = insert(User).values(id=str(uuid.uuid4()), tenant_id=tenants["beta"], **row)
    for wall, engine in walls.items():
        with pytest.raises(REFUSED), tenant_begin(engine, tenants["alpha"]) as conn:
            conn.execute(mallory)
        with pytest.raises(REFUSED), engine.begin() as conn:
            conn.execute(mallory)
        with pytest.raises(REFUSED), tenant_begin(engine, tenants["alpha"]) as conn:
            conn.execute(insert(Tenant).values(id="t-new", name=wall, policy="x", created_at=T0))


def test_guard_refuses_what_it_cannot_scope(db_url: str, tenants: dict[str, str]) -> None:
    """Literal SQL on a tenant table and INSERT ... SELECT fail closed in the app layer."""
    guarded = make_engine(db_url)
    try:
        with tenant_connect(guarded, tenants["alpha"]) as conn:
            with pytest.raises(TenantScopeError, match="audit_records"):
                conn.execute(text("SELECT * FROM audit_records"))
            with pytest.raises(TenantScopeError, match="users"):
                conn.exec_driver_sql("DELETE FROM users")
            copy = insert(User).from_select(
                ["id", "tenant_id", "email", "role", "disabled", "created_at"],
                select(
                    User.email, User.tenant_id, User.email, User.role, User.disabled
                ).add_columns(User.created_at),
            )
            with pytest.raises(TenantScopeError, match="INSERT"):
                conn.execute(copy)
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        guarded.dispose()


def test_binding_ends_with_the_transaction(
    walls: dict[str, Engine], tenants: dict[str, str]
) -> None:
    """After commit, and on the next checkout of a pooled connection, nothing is bound."""
    for wall, engine in walls.items():
        with engine.connect() as conn:
            bind_tenant(conn, tenants["alpha"])
            assert len(conn.execute(select(ApiKey.id)).all()) == 2, wall
            conn.commit()
            assert conn.execute(select(ApiKey.id)).all() == [], wall
        with engine.connect() as conn:
            assert conn.execute(select(ApiKey.id)).all() == [], wall


def test_key_lookup_shows_exactly_the_key_asked_for(
    walls: dict[str, Engine], engine: Engine, tenants: dict[str, str]
) -> None:
    """Before the tenant is known, a key's prefix shows that one key, read-only."""
    with engine.connect() as owner:
        prefix = owner.execute(
            select(ApiKey.prefix).where(ApiKey.tenant_id == tenants["beta"]).limit(1)
        ).scalar_one()
    for wall, guarded in walls.items():
        with guarded.connect() as conn:
            bind_lookup(conn, key_prefix=prefix)
            assert conn.execute(select(ApiKey.prefix)).scalars().all() == [prefix], wall
            assert conn.execute(select(User)).all() == [], wall
            assert conn.execute(update(ApiKey).values(name="x")).rowcount == 0, wall
    if "both" in walls:
        with maintenance(walls["both"]).connect() as conn:
            conn.execute(text("SELECT set_config('bastion.key_prefix', :p, true)"), {"p": prefix})
            assert len(conn.execute(text("SELECT * FROM api_keys")).all()) == 1


def test_maintenance_connection_sees_every_tenant(
    engine: Engine, app_engine: Engine, tenants: dict[str, str]
) -> None:
    """The owner's maintenance connection works across tenants; the app role cannot."""
    with engine.connect() as conn:
        assert set(conn.execute(select(AuditRecord.tenant_id)).scalars()) == set(tenants.values())
    assert verify_chain(engine).ok
    assert len(verify_chain(engine).tenants) == 2
    if is_sqlite(app_engine):
        return
    with pytest.raises(TenantScopeError, match="BASTION_DATABASE_ADMIN_URL"):
        verify_chain(app_engine)
    with maintenance(app_engine).connect() as conn:
        with pytest.raises(TenantScopeError):
            require_all_tenants(conn)
        assert conn.execute(select(AuditRecord)).all() == []


def test_application_role_runs_bastion(app_engine: Engine, tenants: dict[str, str]) -> None:
    """Keys, authentication, audit writing, verify and export all work as the app role."""
    identity = IdentityService(app_engine)
    gamma, created = identity.ensure_tenant("gamma", T0)
    assert created and identity.ensure_tenant("gamma", T0) == (gamma, False)
    issued = identity.create_key("gamma", "cy@gamma.test", T0, role="admin")
    principal = identity.authenticate(issued.secret, T0)
    assert (principal.tenant_id, principal.tenant_name, principal.role) == (gamma, "gamma", "admin")
    assert [k.id for k in identity.list_keys("gamma")] == [issued.id]
    assert identity.revoke_key(issued.prefix, T0).status(T0) == "revoked"
    assert identity.tenant_policy("gamma") == "default"

    async def append() -> None:
        async with AuditLog(app_engine, inline_max=0) as log:
            mixed = [gamma, tenants["alpha"]] * 3
            await asyncio.gather(*(log.append(event(t, 10 + i)) for i, t in enumerate(mixed)))

    asyncio.run(append())
    for tenant_id, count in ((gamma, 3), (tenants["alpha"], 6)):
        report = verify_chain(app_engine, tenant_id)
        assert report.ok and report[tenant_id].count == count
        out = io.StringIO()
        assert export_jsonl(app_engine, out, tenant_id=tenant_id) == count
        assert {json.loads(line)["tenant_id"] for line in out.getvalue().splitlines()} == {
            tenant_id
        }


@pytest.fixture
def pg_owner_url(pg_available: bool) -> Iterator[str]:
    """A database owned and migrated by a login role that is not a superuser."""
    need_service("PostgreSQL", pg_available)
    name = f"bastion_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN CREATE ROLE bastion_owner_test LOGIN CREATEROLE; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER bastion_owner_test'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgres@", "bastion_owner_test@") + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_owner_role_maintains_across_tenants(pg_owner_url: str) -> None:
    """A non-superuser owner migrates, then sees every tenant through its own policy;
    ``serve`` would refuse it as the application connection."""
    owner = make_engine(pg_owner_url)
    try:
        upgrade(owner)
        identity = IdentityService(owner)
        ids = [identity.ensure_tenant(name, T0)[0] for name in ("one", "two")]
        with maintenance(owner).connect() as conn:
            require_all_tenants(conn)
            assert sorted(conn.execute(select(Tenant.id)).scalars()) == sorted(ids)
        problems = isolation_problems(owner)
        assert len(problems) == 1 and "owns the tenant tables" in problems[0]
    finally:
        owner.dispose()


def test_application_role_cannot_escape(app_engine: Engine, tenants: dict[str, str]) -> None:
    """No SET ROLE, no turning row security off, no DDL, no rewriting the audit log."""
    if is_sqlite(app_engine):
        pytest.skip("PostgreSQL roles")
    attempts = [
        "SET ROLE postgres",
        "ALTER TABLE audit_records DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE users NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON api_keys",
        "ALTER TABLE users ADD COLUMN x int",
        "SET row_security = off; SELECT * FROM users",
        "DELETE FROM audit_records",
        "UPDATE audit_records SET body = '{}'",
        "CREATE POLICY open ON users USING (true)",
        "CREATE ROLE sneaky LOGIN SUPERUSER",
    ]
    with maintenance(app_engine).connect() as conn:
        assert isolation_problems(app_engine) == []
        for sql in attempts:
            with pytest.raises(DBAPIError, match=r"denied|must be|affected"):
                bind_tenant(conn, tenants["alpha"])
                conn.execute(text(sql))
            conn.rollback()


def test_serve_refuses_a_superuser_application_connection(tmp_path: Path, db_url: str) -> None:
    """On PostgreSQL ``serve`` exits 2 when the app would connect as a superuser."""
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL roles")
    env = {"BASTION_DATABASE_URL": db_url}
    assert bastion("init", data_dir=tmp_path, env=env).returncode == 0
    refused = bastion("serve", data_dir=tmp_path, env=env)
    assert refused.returncode == 2
    assert "is a superuser" in refused.stderr
    assert "CREATE ROLE bastion LOGIN IN ROLE bastion_app" in refused.stderr
