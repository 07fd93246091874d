"""`bastion backup` and `bastion restore`: encrypted, complete, verified, all or nothing."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner, Result

from bastion.audit import AuditLog, AuditSealer
from bastion.backup import (
    ArchiveWriter,
    backup_tables,
    open_archive,
    write_backup,
)
from bastion.backup._values import column_kinds
from bastion.cli import build_app
from bastion.crypto import Keyring
from bastion.errors import AuthenticationFailed
from bastion.identity import IdentityService
from bastion.store import make_engine, upgrade
from bastion.store.schema import Base
from bastion.store.tenancy import maintenance
from tests.audit.conftest import build_event
from tests.backup_helpers import (
    APP_LOGIN,
    NOW,
    OWNER_ROLE,
    ROLES_SQL,
    Kek,
    as_role,
    make_kek,
)
from tests.conftest import PG_ADMIN_URL, need_service

MARKER = "okapi-vellum-marker-4417"
RECORDS_PER_TENANT = 6


@pytest.fixture
def kek(tmp_path: Path) -> Kek:
    return make_kek(tmp_path / "kek")


# -- stores ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Store:
    """A populated store: the API key secrets it issued, by user."""

    url: str
    secrets: dict[str, str]
    revoked: str


def populate(url: str, kek: Kek) -> Store:
    """Two tenants with keys (one revoked) and sealed audit records naming MARKER."""
    engine = maintenance(make_engine(url))
    identity = IdentityService(engine)
    for name in ("acme", "globex"):
        identity.ensure_tenant(name, NOW)
    alice = identity.create_key("acme", "alice@acme.test", NOW, role="admin", name="ci")
    bob = identity.create_key("globex", "bob@globex.test", NOW)
    carol = identity.create_key("acme", "carol@acme.test", NOW, expires_at=NOW + timedelta(1))
    identity.revoke_key(carol.id, NOW)
    tenants = [identity.tenant_id("acme"), identity.tenant_id("globex")]
    sealer = AuditSealer(Keyring(engine, kek.provider, lambda: NOW))

    async def append() -> None:
        async with AuditLog(engine, sealer=sealer) as log:
            for i in range(RECORDS_PER_TENANT):
                for tenant in tenants:
                    await log.append(
                        build_event(
                            i,
                            tenant=tenant,
                            prompt=[{"role": "user", "content": f"{MARKER} question {i}"}],
                            response=f"{MARKER} answer {i}",
                        )
                    )

    asyncio.run(append())
    engine.dispose()
    return Store(
        url, {"alice@acme.test": alice.secret, "bob@globex.test": bob.secret}, carol.secret
    )


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in Base.metadata, in primary-key order (all tenants)."""
    engine = maintenance(make_engine(url))
    with engine.connect() as conn:
        found = {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }
    engine.dispose()
    return found


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


@pytest.fixture
def fresh_db(tmp_path: Path, pg_available: bool) -> Iterator[Callable[[str], str]]:
    """A factory of empty, migrated databases: ``sqlite``, ``postgres`` (owned by the
    superuser) or ``postgres-owned`` (owned and migrated by a plain login role, so
    forced row-level security holds its owner to the maintenance policy)."""
    created: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'target-{uuid.uuid4().hex[:8]}.db'}"
        else:
            need_service("PostgreSQL", pg_available)
            name = f"bastion_r_{uuid.uuid4().hex[:12]}"
            owner = OWNER_ROLE if kind == "postgres-owned" else None
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                if owner:
                    conn.execute(text(ROLES_SQL))
                conn.execute(
                    text(f'CREATE DATABASE "{name}"' + (f" OWNER {owner}" if owner else ""))
                )
            admin.dispose()
            created.append(name)
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            url = as_role(url, owner) if owner else url
        engine = maintenance(make_engine(url))
        upgrade(engine)
        engine.dispose()
        return url

    yield make
    if created:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the command line -----------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_bastion_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BASTION_"):
            monkeypatch.delenv(name)


class Cli(Protocol):
    def __call__(
        self, *args: str, url: str, kek: Kek | None, admin_url: str | None = None
    ) -> Result: ...


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Runs ``bastion ARGS`` in process on database ``url`` (the owner's: ``admin_url``)
    with ``kek`` (or none)."""

    def run(*args: str, url: str, kek: Kek | None, admin_url: str | None = None) -> Result:
        env = {"BASTION_DATABASE_URL": url, "BASTION_DATA_DIR": str(tmp_path / "data")}
        if admin_url is not None:
            env["BASTION_DATABASE_ADMIN_URL"] = admin_url
        if kek is not None:
            env["BASTION_KEK_FILE"] = str(kek.file)
        return CliRunner().invoke(build_app(), list(args), env=env)

    return run


def assert_clean_failure(result: Result, code: int, *phrases: str) -> None:
    """Exit ``code`` with one line on stderr naming ``phrases``, and no traceback."""
    assert result.exit_code == code, result.stdout + result.stderr
    assert isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def assert_empty(url: str) -> None:
    assert {name: found for name, found in rows(url).items() if found} == {}


def make_archive(store: Store, kek: Kek, out: Path, chunk_size: int = 256) -> bytes:
    """An archive of ``store`` in small chunks, written through the API."""
    engine = make_engine(store.url)
    with out.open("wb") as fh:
        write_backup(engine, kek.provider, fh, now=NOW, chunk_size=chunk_size)
    engine.dispose()
    return out.read_bytes()


# -- round trips ----------------------------------------------------------------------
def test_round_trip_restores_a_working_store(
    tmp_path: Path, db_url: str, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """Every row comes back; keys authenticate, the audit log verifies and opens, and
    new records continue the chains."""
    source = populate(db_url, kek)
    archive = tmp_path / "store.bak"
    made = cli("backup", "--out", str(archive), url=db_url, kek=kek)
    assert made.exit_code == 0, made.stdout + made.stderr
    assert "  tenants: 2 rows" in made.stdout
    assert f"  audit_records: {2 * RECORDS_PER_TENANT} rows" in made.stdout
    assert kek.provider.key_id in made.stdout and "fingerprint" in made.stdout
    assert base64.b64encode(kek.key).decode() not in made.stdout + made.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    target = fresh_db(backend(db_url))
    done = cli("restore", str(archive), url=target, kek=kek)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.stdout.count(f"ok, {RECORDS_PER_TENANT} records verified") == 2
    assert f"restored {len(backup_tables())} tables" in done.stdout
    before = rows(db_url)
    assert (len(before["tenants"]), len(before["audit_records"])) == (2, 2 * RECORDS_PER_TENANT)
    assert rows(target) == before

    engine = make_engine(target)
    identity = IdentityService(engine)
    assert identity.authenticate(source.secrets["alice@acme.test"], NOW).tenant_name == "acme"
    assert identity.authenticate(source.secrets["bob@globex.test"], NOW).role == "member"
    with pytest.raises(AuthenticationFailed):
        identity.authenticate(source.revoked, NOW)
    verify = cli("audit", "verify", url=target, kek=kek)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert "audit log ok: 2 tenant(s)" in verify.stdout
    export = cli("audit", "export", url=target, kek=kek)
    lines = [orjson.loads(line) for line in export.stdout.splitlines()]
    assert len(lines) == 2 * RECORDS_PER_TENANT
    assert all(MARKER in line["prompt"][0]["content"] for line in lines)

    sealer = AuditSealer(Keyring(engine, kek.provider, lambda: NOW))

    async def append_more() -> list[int]:
        async with AuditLog(engine, sealer=sealer) as log:
            tenant = identity.tenant_id("acme")
            receipt = await log.append(build_event(99, tenant=tenant))
            return [receipt.seq]

    assert asyncio.run(append_more()) == [RECORDS_PER_TENANT + 1]  # ids did not collide
    engine.dispose()


@pytest.mark.postgres
def test_restore_across_backends(
    tmp_path: Path, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """A SQLite archive restores into PostgreSQL, and that store's archive into SQLite."""
    sqlite_source = fresh_db("sqlite")
    populate(sqlite_source, kek)
    pg_target = fresh_db("postgres")
    first, second = tmp_path / "from-sqlite.bak", tmp_path / "from-pg.bak"
    assert cli("backup", "--out", str(first), url=sqlite_source, kek=kek).exit_code == 0
    into_pg = cli("restore", str(first), url=pg_target, kek=kek)
    assert into_pg.exit_code == 0, into_pg.stdout + into_pg.stderr
    assert rows(pg_target) == rows(sqlite_source)

    assert cli("backup", "--out", str(second), url=pg_target, kek=kek).exit_code == 0
    sqlite_target = fresh_db("sqlite")
    back = cli("restore", str(second), url=sqlite_target, kek=kek)
    assert back.exit_code == 0, back.stdout + back.stderr
    assert rows(sqlite_target) == rows(sqlite_source)


@pytest.mark.postgres
def test_owner_backs_up_and_restores_under_row_level_security(
    tmp_path: Path, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """With forced row-level security and a non-superuser owner, the owner connection
    backs up and restores every tenant; the application role alone is refused, and
    it authenticates against the restored store."""
    owner_source = fresh_db("postgres-owned")
    source = populate(owner_source, kek)
    app_source = as_role(owner_source, APP_LOGIN)
    archive = tmp_path / "store.bak"

    refused = cli("backup", "--out", str(archive), url=app_source, kek=kek)
    assert_clean_failure(refused, 2, "BASTION_DATABASE_ADMIN_URL")
    assert not archive.exists() and not list(tmp_path.glob("*.partial"))

    made = cli("backup", "--out", str(archive), url=app_source, admin_url=owner_source, kek=kek)
    assert made.exit_code == 0, made.stdout + made.stderr
    assert f"  audit_records: {2 * RECORDS_PER_TENANT} rows" in made.stdout

    owner_target = fresh_db("postgres-owned")
    app_target = as_role(owner_target, APP_LOGIN)
    done = cli("restore", str(archive), url=app_target, admin_url=owner_target, kek=kek)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.stdout.count(f"ok, {RECORDS_PER_TENANT} records verified") == 2
    assert rows(owner_target) == rows(owner_source)
    app = make_engine(app_target)
    principal = IdentityService(app).authenticate(source.secrets["alice@acme.test"], NOW)
    assert principal.user_email == "alice@acme.test"
    app.dispose()


# -- refusals and failures ------------------------------------------------------------
def test_restore_refuses_a_non_empty_target(
    tmp_path: Path, db_url: str, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """A target with any row, even one tenant and nothing else, is refused: exit 2,
    nothing changed."""
    populate(db_url, kek)
    archive = tmp_path / "store.bak"
    assert cli("backup", "--out", str(archive), url=db_url, kek=kek).exit_code == 0
    before = rows(db_url)
    assert_clean_failure(cli("restore", str(archive), url=db_url, kek=kek), 2, "not empty")
    assert rows(db_url) == before

    target = fresh_db(backend(db_url))
    engine = make_engine(target)
    IdentityService(engine).ensure_tenant("early-bird", NOW)
    engine.dispose()
    refused = cli("restore", str(archive), url=target, kek=kek)
    assert_clean_failure(refused, 2, "not empty (table tenants has rows)")
    assert sum(len(found) for found in rows(target).values()) == 1


def test_restore_refuses_another_schema_revision(
    tmp_path: Path, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """An archive from another schema revision is refused by name, nothing written."""
    archive = tmp_path / "future.bak"
    with archive.open("wb") as fh:
        ArchiveWriter(fh, kek.provider, revision="9999", now=NOW).close()
    target = fresh_db("sqlite")
    refused = cli("restore", str(archive), url=target, kek=kek)
    assert_clean_failure(refused, 2, "schema revision 9999")
    assert_empty(target)


def test_a_chain_that_does_not_verify_leaves_the_target_empty(
    tmp_path: Path, db_url: str, kek: Kek, fresh_db: Callable[[str], str], cli: Cli
) -> None:
    """A faithful copy of a tampered log is loaded, fails verification, and is removed."""
    populate(db_url, kek)
    engine = maintenance(make_engine(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET outcome = 'blocked' WHERE seq = 2"))
    engine.dispose()
    archive = tmp_path / "tampered-store.bak"
    assert cli("backup", "--out", str(archive), url=db_url, kek=kek).exit_code == 0
    target = fresh_db(backend(db_url))
    failed = cli("restore", str(archive), url=target, kek=kek)
    assert_clean_failure(failed, 1, "does not verify", "modified at seq 2", "rows were removed")
    assert_empty(target)


def test_backup_needs_a_kek_and_a_new_file(tmp_path: Path, db_url: str, kek: Kek, cli: Cli) -> None:
    """Without a KEK, or onto an existing file, backup refuses (exit 2) and writes nothing."""
    no_kek = cli("backup", "--out", str(tmp_path / "a.bak"), url=db_url, kek=None)
    assert_clean_failure(no_kek, 2, "key-encryption key")
    existing = tmp_path / "b.bak"
    existing.write_bytes(b"keep me")
    refused = cli("backup", "--out", str(existing), url=db_url, kek=kek)
    assert_clean_failure(refused, 2, "already exists")
    assert existing.read_bytes() == b"keep me"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("a.bak", "b.bak."))]


@pytest.fixture(scope="module")
def small_chunk_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Kek, bytes]:
    """An archive of a populated SQLite store, in 256-byte chunks."""
    base = tmp_path_factory.mktemp("archive")
    kek = make_kek(base / "kek")
    url = f"sqlite:///{base / 'source.db'}"
    engine = maintenance(make_engine(url))
    upgrade(engine)
    engine.dispose()
    return kek, make_archive(populate(url, kek), kek, base / "store.bak")


# -- coverage of the schema -----------------------------------------------------------
def test_every_table_in_the_schema_is_backed_up(
    tmp_path: Path, small_chunk_archive: tuple[Kek, bytes]
) -> None:
    """Each table of Base.metadata is in the archive, parents before children, and
    every column has a kind the archive can carry."""
    expected = set(Base.metadata.tables) - {"alembic_version"}
    assert {table.name for table in backup_tables()} == expected
    for table in backup_tables():
        assert list(column_kinds(table)) == [column.name for column in table.columns]
    kek, data = small_chunk_archive
    body = b"".join(open_archive(io.BytesIO(data), kek.provider).chunks())
    lines = [orjson.loads(line) for line in body.splitlines()]
    order = [line["table"] for line in lines if isinstance(line, dict) and "table" in line]
    assert set(order) == expected
    for table in backup_tables():
        for key in table.foreign_keys:
            assert order.index(key.column.table.name) <= order.index(table.name)
    assert lines[-1]["done"]["audit_records"] == 2 * RECORDS_PER_TENANT
