"""Shared fixtures: databases on SQLite and PostgreSQL, migrated and thrown away.

PostgreSQL tests run against 127.0.0.1:5432 in a fresh database per test. They skip
when the server is absent on a laptop and fail under ``CI=true``. ``db_url`` is the
owner's connection (migrations, setup, inspection); ``app_db_url`` is the one the
application uses: on PostgreSQL a login role in ``bastion_app``, held to one tenant
by row-level security.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bastion.store import make_engine, upgrade
from bastion.store.rls import APP_ROLE
from bastion.store.tenancy import maintenance

# No timed assertions: hypothesis's per-example deadline fails a test on a slow moment
# of a shared machine, which says nothing about correctness. Speed lives in bench/.
settings.register_profile("bastion", deadline=None)
settings.load_profile("bastion")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze the import-time heap out of the garbage collector. The e2e gateways run
    in this process, beside the test client: a full collection of the whole test
    process (about 210 ms late in the suite, measured; 47 ms frozen) stalls the
    gateway's thread mid-scan, and the pipeline's wall-clock scanner budget (250 ms)
    then blocks a harmless request as ``scanner_timeout``. ``bastion serve`` freezes
    its own start-up heap the same way."""
    gc.freeze()


PG_ADMIN_URL = os.environ.get(
    "BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
    except Exception:
        return False
    return True


def need_service(name: str, available: bool) -> None:
    """Skip when a service is missing, except under CI where that is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI=true but is not reachable")
    pytest.skip(f"{name} not reachable")


def mysql_available() -> bool:
    """MariaDB (or MySQL) answers as root on 127.0.0.1:3306."""
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=2).close()
    except pymysql.Error:
        return False
    return True


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


def _fresh_pg_database(template: str | None = None) -> tuple[str, str]:
    name = f"bastion_t_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Databases migrated once per session, copied for each test (a file copy on
    SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL): the same empty, migrated
    database a test would get from running every migration, in a fraction of the
    time. The PostgreSQL template is made on first use and dropped at the end."""
    templates: dict[str, str] = {}
    path = tmp_path_factory.mktemp("template") / "bastion.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    templates["sqlite"] = str(path)
    try:
        yield templates
    finally:
        if "postgres" in templates:
            _drop_pg_database(templates["postgres"])


def _pg_template(templates: dict[str, str]) -> str:
    if "postgres" not in templates:
        name, url = _fresh_pg_database()
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()  # a template must have no connections while it is copied
        templates["postgres"] = name
    return templates["postgres"]


def sqlite_copy(tmp_path: Path, migrated_templates: dict[str, str]) -> str:
    """A URL to a fresh copy of the migrated SQLite template under ``tmp_path``."""
    target = tmp_path / "bastion.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_available: bool,
    migrated_templates: dict[str, str],
) -> Iterator[str]:
    """A URL to an empty, migrated database, on each backend in turn."""
    if request.param == "sqlite":
        yield sqlite_copy(tmp_path, migrated_templates)
        return
    need_service("PostgreSQL", pg_available)
    name, url = _fresh_pg_database(_pg_template(migrated_templates))
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on each backend in turn: the owner's, marked for maintenance
    (it sees every tenant; tests inspect and tamper with the database through it)."""
    eng = make_engine(db_url)
    yield maintenance(eng)
    eng.dispose()


APP_TEST_ROLE = "bastion_app_test"

# Roles are cluster-wide and other test sessions may be creating this one right now.
_CREATE_APP_TEST_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{APP_TEST_ROLE}') THEN
        CREATE ROLE {APP_TEST_ROLE} LOGIN IN ROLE {APP_ROLE};
    END IF;
    IF NOT pg_catalog.pg_has_role('{APP_TEST_ROLE}', '{APP_ROLE}', 'MEMBER') THEN
        GRANT {APP_ROLE} TO {APP_TEST_ROLE};
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$"""


@pytest.fixture
def app_db_url(db_url: str) -> str:
    """The application's URL for ``db_url``: on PostgreSQL a login role that is a
    member of ``bastion_app`` (trust auth, no password); on SQLite the same file."""
    if db_url.startswith("sqlite"):
        return db_url
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(_CREATE_APP_TEST_ROLE))
    admin.dispose()
    return make_url(db_url).set(username=APP_TEST_ROLE).render_as_string(hide_password=False)


@pytest.fixture
def app_engine(app_db_url: str) -> Iterator[Engine]:
    """The application's engine: tenant guard on, no maintenance mark; on PostgreSQL
    connected as the ``bastion_app`` member role."""
    eng = make_engine(app_db_url)
    yield eng
    eng.dispose()
