"""A source's ``db_role``: the database's own wall behind the guard, on real servers.

Each module-scoped database holds ``granted`` and ``secret`` tables, both allow-listed
(the guard lets either through); a fresh role ``bastion_reader_<hex>`` may SELECT
``granted`` only. On PostgreSQL the superuser login with ``db_role`` reads only what
the role may. MariaDB roles add to a login's privileges, so there the wall is a login
with no privileges of its own on the listed tables, reading through the role.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bastion.datasources._source_config import parse_config
from bastion.datasources.executor import Executor, HostPolicy, QueryFailed
from bastion.datasources.guard import check
from bastion.datasources.sources import (
    ConnectionUrl,
    Source,
    SourceConfig,
    SourceError,
    guard_policy_for,
)
from tests.conftest import PG_ADMIN_URL, mysql_available, need_service

LOCAL = HostPolicy(["127.0.0.1", "localhost"])
MY_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
TABLES = {"granted": {"columns": ["id", "note"]}, "secret": {"columns": ["id", "note"]}}


def _config(db_role: str | None) -> SourceConfig:
    return parse_config("postgres", {"row_cap": 10, "tables": TABLES, "db_role": db_role})


@dataclass(frozen=True)
class Server:
    kind: str  # "postgres" or "mysql"
    admin_url: str  # the superuser login on the scratch database
    reader_url: str  # a login whose only way to the data is the role
    role: str

    def source(self, source_id: str, db_role: str | None, *, reader: bool = False) -> Source:
        url = self.reader_url if reader else self.admin_url
        config = _config(db_role)
        return Source(source_id, "t", "u", "shop", self.kind, config, ConnectionUrl(url))  # type: ignore[arg-type]


def _fill(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in (
            "CREATE TABLE granted (id INTEGER PRIMARY KEY, note VARCHAR(32))",
            "CREATE TABLE secret (id INTEGER PRIMARY KEY, note VARCHAR(32))",
            "INSERT INTO granted VALUES (1, 'one'), (2, 'two')",
            "INSERT INTO secret VALUES (1, 'uno'), (2, 'dos')",
        ):
            conn.execute(text(statement))
    engine.dispose()


def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg(pg_available: bool) -> Iterator[Server]:
    need_service("PostgreSQL", pg_available)
    suffix = uuid.uuid4().hex[:12]
    name, role = f"bastion_role_{suffix}", f"bastion_reader_{suffix}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    _admin(PG_ADMIN_URL, f'CREATE DATABASE "{name}"', f'CREATE ROLE "{role}"')
    try:
        _fill(url)
        _admin(url, f'GRANT SELECT ON granted TO "{role}"')
        reader = f"postgresql+psycopg://{role}@127.0.0.1:5432/{name}"
        yield Server("postgres", url, reader, role)
    finally:
        _admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(PG_ADMIN_URL, f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def my() -> Iterator[Server]:
    need_service("MariaDB", mysql_available())
    suffix = uuid.uuid4().hex[:12]
    name, role, login = (f"bastion_role_{suffix}", f"bastion_reader_{suffix}", f"bl_{suffix}")
    url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    _admin(MY_ADMIN_URL, f"CREATE DATABASE `{name}`")
    try:
        _fill(url)
        # MariaDB lets a login into a database only with some privilege there of its
        # own: SELECT on a table the source does not list.
        _admin(url, "CREATE TABLE hello (id INTEGER)")
        _admin(
            MY_ADMIN_URL,
            f"CREATE ROLE `{role}`",
            f"GRANT SELECT ON `{name}`.`granted` TO `{role}`",
            f"CREATE USER `{login}`@'%'",
            f"GRANT SELECT ON `{name}`.`hello` TO `{login}`@'%'",
            f"GRANT `{role}` TO `{login}`@'%'",
        )
        reader = f"mysql+pymysql://{login}@127.0.0.1:3306/{name}"
        yield Server("mysql", url, reader, role)
    finally:
        _admin(
            MY_ADMIN_URL,
            f"DROP USER IF EXISTS `{login}`@'%'",
            f"DROP ROLE IF EXISTS `{role}`",
            f"DROP DATABASE IF EXISTS `{name}`",
        )


@pytest.fixture
def executor() -> Iterator[Executor]:
    runner = Executor(hosts=LOCAL)
    yield runner
    runner.close()


def run(executor: Executor, source: Source, statement: str) -> list[tuple[object, ...]]:
    return list(executor.run(source, statement, timeout_ms=5000, row_cap=10).rows)


def denied(executor: Executor, source: Source, statement: str) -> QueryFailed:
    with pytest.raises(QueryFailed) as caught:
        executor.run(source, statement, timeout_ms=5000, row_cap=10)
    assert caught.value.code == "denied"
    return caught.value


# --- the option ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["", "1reader", "a-b", "x; DROP TABLE t", 'r"', "r`", "a" * 64, "ré", "a b"]
)
def test_db_role_must_be_a_plain_identifier(bad: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_config("postgres", {"tables": TABLES, "db_role": bad})
    assert "db_role" in str(caught.value) and "plain identifier" in str(caught.value)
    if len(bad) > 2:
        assert bad not in str(caught.value)


def test_db_role_is_for_server_databases_only() -> None:
    assert parse_config("mysql", {"tables": TABLES, "db_role": "_r1"}).db_role == "_r1"
    assert parse_config("postgres", {"tables": TABLES}).db_role is None
    with pytest.raises(SourceError, match="SQLite and documents sources have no database roles"):
        parse_config("sqlite", {"tables": TABLES, "db_role": "reader"})


def test_a_hand_built_source_with_a_bad_role_is_denied() -> None:
    """The executor checks the name again: a Source built without parse_config."""
    config = SourceConfig.model_construct(row_cap=10, tables={}, db_role='x"; RESET ROLE; "')
    for kind, url in (
        ("postgres", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        ("mysql", "mysql+pymysql://root@127.0.0.1:3306/test"),
    ):
        source = Source("hand", "t", "u", "n", kind, config, ConnectionUrl(url))  # type: ignore[arg-type]
        executor = Executor(hosts=LOCAL, connect_timeout_s=2)
        try:
            with pytest.raises(QueryFailed) as caught:
                executor.run(source, "SELECT 1", timeout_ms=2000, row_cap=1)
            assert caught.value.code in ("denied", "unreachable")
        finally:
            executor.close()


def test_sqlite_has_no_login_to_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    source = Source("lite", "t", "u", "n", "sqlite", _config(None), ConnectionUrl(url))
    report = Executor(hosts=LOCAL).login_privileges(source)
    assert report.superuser is None and report.can_write is None and report.notes


# --- PostgreSQL ----------------------------------------------------------------------


@pytest.mark.postgres
def test_pg_role_is_the_second_wall(pg: Server, executor: Executor) -> None:
    """The guard allows `secret` (allow-listed); the role refuses it; without the role
    the same superuser login reads it."""
    narrowed, plain = pg.source("pg-role", pg.role), pg.source("pg-plain", None)
    assert run(executor, narrowed, "SELECT id FROM granted ORDER BY id") == [(1,), (2,)]
    guarded = check("SELECT id, note FROM secret", guard_policy_for(narrowed, "u", "admin", {}))
    assert guarded.allowed, guarded.reason
    failed = denied(executor, narrowed, guarded.sql)
    shown = str(failed) + repr(failed)
    assert "secret" not in shown and pg.role not in shown and failed.__cause__ is None
    assert len(run(executor, plain, guarded.sql)) == 2
    # The role is local to the rolled-back transaction: the next query is itself again.
    assert run(executor, narrowed, "SELECT current_user") == [(pg.role,)]
    assert run(executor, plain, "SELECT current_user") == [("postgres",)]
    same_id = pg.source("pg-role", None)  # the same source, its db_role removed
    assert run(executor, same_id, "SELECT current_user") == [("postgres",)]


@pytest.mark.postgres
def test_pg_role_that_cannot_be_assumed_is_denied(pg: Server, executor: Executor) -> None:
    missing = f"bastion_nobody_{uuid.uuid4().hex[:8]}"
    failed = denied(executor, pg.source("pg-missing", missing), "SELECT id FROM granted")
    assert missing not in str(failed) + repr(failed)
    # A login that is not a member of a role may not take it either.
    _admin(pg.admin_url, f'ALTER ROLE "{pg.role}" LOGIN')
    other = f"bastion_other_{uuid.uuid4().hex[:8]}"
    _admin(pg.admin_url, f'CREATE ROLE "{other}"')
    try:
        denied(executor, pg.source("pg-other", other, reader=True), "SELECT 1")
    finally:
        _admin(pg.admin_url, f'DROP ROLE "{other}"')


@pytest.mark.postgres
def test_pg_login_privileges(pg: Server, executor: Executor) -> None:
    strong = executor.login_privileges(pg.source("pg-plain", None))
    assert strong.superuser is True and strong.can_write is True
    narrowed = executor.login_privileges(pg.source("pg-role", pg.role))
    assert narrowed.superuser is False and narrowed.can_write is False
    assert any("login itself is a superuser" in note for note in narrowed.notes)
    _admin(pg.admin_url, f'ALTER ROLE "{pg.role}" LOGIN')
    reader = executor.login_privileges(pg.source("pg-reader", None, reader=True))
    assert reader.superuser is False and reader.can_write is False and reader.notes == ()
    for report in (strong, narrowed, reader):
        assert pg.role not in repr(report) and "granted" not in repr(report)


# --- MariaDB -------------------------------------------------------------------------


def test_mysql_role_is_the_second_wall(my: Server, executor: Executor) -> None:
    """A login with no privileges of its own reads through the role, and only the
    granted table; without the role it reads nothing."""
    narrowed = my.source("my-role", my.role, reader=True)
    assert run(executor, narrowed, "SELECT id FROM granted ORDER BY id") == [(1,), (2,)]
    guarded = check("SELECT id, note FROM secret", guard_policy_for(narrowed, "u", "admin", {}))
    assert guarded.allowed, guarded.reason
    failed = denied(executor, narrowed, guarded.sql)
    assert "secret" not in str(failed) + repr(failed) and my.role not in str(failed)
    denied(executor, my.source("my-bare", None, reader=True), "SELECT id FROM granted")
    assert len(run(executor, my.source("my-root", None), guarded.sql)) == 2


def test_mysql_role_that_cannot_be_assumed_is_denied(my: Server, executor: Executor) -> None:
    missing = f"bastion_nobody_{uuid.uuid4().hex[:8]}"
    failed = denied(executor, my.source("my-missing", missing), "SELECT 1")
    assert missing not in str(failed) + repr(failed)
    denied(executor, my.source("my-missing-r", missing, reader=True), "SELECT 1")
    # The failed switch left nothing behind: the source still answers once fixed.
    assert run(executor, my.source("my-missing-r", my.role, reader=True), "SELECT 1") == [(1,)]


def test_mysql_pooled_connections_do_not_keep_the_role(my: Server, executor: Executor) -> None:
    """Two sources on one server, and one source whose db_role is removed: a role set
    for one never shows up in a query for another."""
    with_role, without = my.source("my-a", my.role), my.source("my-b", None)
    for _ in range(3):  # alternate, so pooled connections are reused
        assert run(executor, with_role, "SELECT CURRENT_ROLE()") == [(my.role,)]
        assert run(executor, without, "SELECT CURRENT_ROLE()") == [(None,)]
    # The connection back in the pool has dropped the role (SET ROLE NONE on return).
    engine = executor._engines[with_role.id][0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT CURRENT_ROLE()")).scalar() is None
    assert run(executor, my.source("my-a", None), "SELECT CURRENT_ROLE()") == [(None,)]
    assert run(executor, my.source("my-a", my.role), "SELECT CURRENT_ROLE()") == [(my.role,)]


def test_mysql_login_privileges(my: Server, executor: Executor) -> None:
    root = executor.login_privileges(my.source("my-root", None))
    assert root.superuser is True and root.can_write is True
    # MariaDB roles add to the login: root under the reader role is still root.
    root_role = executor.login_privileges(my.source("my-a", my.role))
    assert root_role.superuser is True and root_role.can_write is True
    for reader in (
        my.source("my-role", my.role, reader=True),
        my.source("my-bare", None, reader=True),
    ):
        report = executor.login_privileges(reader)
        assert report.superuser is False and report.can_write is False, report
    # The report put the session's role back: the source still reads through it.
    narrowed = my.source("my-role", my.role, reader=True)
    assert run(executor, narrowed, "SELECT CURRENT_ROLE()") == [(my.role,)]
