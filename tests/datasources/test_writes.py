"""The write path: planned statements only, one row at most, as the caller, on real
PostgreSQL, MariaDB and SQLite.

Each test gets a scratch database holding ``orders`` (key ``id``; ``status`` and
``notes`` writable; ``email`` masked; members see their region only) and ``items``
(key ``code``, which is not unique: two rows share ``dup``). Plans are built by the
write guard as a caller would get them; a few are built by hand on purpose, to show
that the executor holds on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bastion.datasources._guard_write import (
    plan_insert,
    plan_update,
)
from bastion.datasources._source_config import parse_config, rules_for
from bastion.datasources.executor import Executor, HostPolicy, QueryFailed
from bastion.datasources.sources import ConnectionUrl, Source
from bastion.datasources.writer import WritePlan
from tests.conftest import PG_ADMIN_URL, mysql_available, need_service

LOCAL = HostPolicy(["127.0.0.1", "localhost"])
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]
MY_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
HOSTILE = "'); DROP TABLE orders; --"
TABLES: dict[str, Any] = {
    "orders": {
        "columns": ["id", "region", "status", "notes", "email"],
        "masked": ["email"],
        "writable": ["status", "notes"],
        "key": "id",
        "roles": {"member": {"row_filter": "region = :region"}},
    },
    "items": {"columns": ["id", "code", "status"], "writable": ["status"], "key": "code"},
}
SETUP = [
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, region VARCHAR(16), status VARCHAR(16), "
    "notes VARCHAR(200), email VARCHAR(64))",
    "INSERT INTO orders VALUES (1, 'north', 'open', 'n1', 'a@x'), "
    "(2, 'north', 'open', 'n2', 'b@x'), (3, 'south', 'open', 'n3', 'c@x')",
    "CREATE TABLE items (id INTEGER PRIMARY KEY, code VARCHAR(16), status VARCHAR(16))",
    "INSERT INTO items VALUES (1, 'dup', 'new'), (2, 'dup', 'new'), (3, 'one', 'new')",
]


def _run(url: str, statements: list[str]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _source(kind: str, url: str, db_role: str | None = None) -> Source:
    tables: dict[str, Any] = {"row_cap": 100, "tables": TABLES}
    if db_role is not None:
        tables["db_role"] = db_role
    config = parse_config(kind, tables)  # type: ignore[arg-type]
    return Source(f"w-{kind}", "t", "u", "shop", kind, config, ConnectionUrl(url))  # type: ignore[arg-type]


@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[Source]:
    """A source on a fresh scratch database of each kind, dropped afterwards."""
    kind: str = request.param
    name = f"bastion_wr_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        _run(url, SETUP)
        yield _source("sqlite", url)
        return
    if kind == "postgres":
        need_service("PostgreSQL", pg_available)
        admin = PG_ADMIN_URL
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        need_service("MariaDB", mysql_available())
        admin = MY_ADMIN_URL
        url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`"
    _admin(admin, create)
    try:
        _run(url, SETUP)
        yield _source(kind, url)
    finally:
        _admin(admin, drop)


@pytest.fixture
def executor() -> Iterator[Executor]:
    runner = Executor(hosts=LOCAL)
    yield runner
    runner.close()


def rows(executor: Executor, source: Source, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in executor.run(source, sql, timeout_ms=5000, row_cap=100).rows]


def orders(executor: Executor, source: Source) -> list[tuple[Any, ...]]:
    return rows(executor, source, "SELECT id, region, status, notes FROM orders ORDER BY id")


def plan(
    source: Source,
    table: str,
    key: str | int,
    changes: list[tuple[str, Any]],
    *,
    role: str = "admin",
    params: dict[str, str | int | float] | None = None,
) -> WritePlan:
    planned = plan_update(
        source.kind,
        rules_for(source.config, "u1", role),
        table,
        key,
        changes,
        {"user_id": "u1", **(params or {})},
    )
    assert isinstance(planned, WritePlan), planned
    return planned


# --- updates and inserts on every server ---------------------------------------------


def test_an_update_changes_one_row_and_is_visible_afterwards(
    source: Source, executor: Executor
) -> None:
    planned = plan(source, "orders", 2, [("status", "closed"), ("NOTES", "refunded")])
    assert executor.write(source, planned).rowcount == 1
    assert orders(executor, source) == [
        (1, "north", "open", "n1"),
        (2, "north", "closed", "refunded"),
        (3, "south", "open", "n3"),
    ]


def test_a_row_outside_the_callers_filter_is_not_changed(
    source: Source, executor: Executor
) -> None:
    """A member of the north region cannot reach row 3 (south): no row, as for a key
    that does not exist. A hostile attribute value stays a literal."""
    before = orders(executor, source)
    for params in ({"region": "north"}, {"region": "north' OR '1'='1"}):
        planned = plan(source, "orders", 3, [("status", "closed")], role="member", params=params)
        assert executor.write(source, planned).rowcount == 0
    missing = plan(source, "orders", 99, [("status", "closed")])
    assert executor.write(source, missing).rowcount == 0
    assert orders(executor, source) == before
    mine = plan(source, "orders", 1, [("status", "x")], role="member", params={"region": "north"})
    assert executor.write(source, mine).rowcount == 1


def test_a_key_matching_two_rows_rolls_back(source: Source, executor: Executor) -> None:
    """`items.code` is not unique after all: nothing changes, even where a row already
    holds the value (MySQL counts matched rows, not changed ones)."""
    _run(source.url.reveal(), ["UPDATE items SET status = 'done' WHERE id = 1"])
    planned = plan(source, "items", "dup", [("status", "done")])
    with pytest.raises(QueryFailed) as caught:
        executor.write(source, planned)
    assert caught.value.code == "too_many_rows"
    assert "dup" not in str(caught.value) and "done" not in str(caught.value)
    assert rows(executor, source, "SELECT id, status FROM items ORDER BY id") == [
        (1, "done"),
        (2, "new"),
        (3, "new"),
    ]
    one = plan(source, "items", "one", [("status", "done")])
    assert executor.write(source, one).rowcount == 1


def test_hostile_values_are_stored_verbatim(source: Source, executor: Executor) -> None:
    values = [HOSTILE, "a%b%%c %(p0)s :p1 ?", "back\\slash ' \" `", "ünï ☃", ""]
    for value in values:
        planned = plan(source, "orders", 1, [("notes", value), ("status", None)])
        assert executor.write(source, planned).rowcount == 1
        assert rows(executor, source, "SELECT notes, status FROM orders WHERE id = 1") == [
            (value, None)
        ]
    assert len(orders(executor, source)) == 3


def test_an_insert_returns_its_id_and_reads_back(source: Source, executor: Executor) -> None:
    key = {
        "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
        "postgres": "id SERIAL PRIMARY KEY",
        "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
    }[source.kind]
    _run(
        source.url.reveal(),
        [f"CREATE TABLE notes_log ({key}, body VARCHAR(200), n INTEGER)"],
    )
    ids = []
    for n, body in enumerate([HOSTILE, "second"]):
        planned = plan_insert(source.kind, "notes_log", [("body", body), ("n", n)], returning="id")
        assert isinstance(planned, WritePlan), planned
        result = executor.write(source, planned)
        assert result.rowcount == 1 and result.new_id is not None
        ids.append(result.new_id)
    assert ids[1] > ids[0]
    lookup = f"SELECT id, body, n FROM notes_log WHERE id = {int(ids[0])}"  # noqa: S608
    found = executor.run(source, lookup, timeout_ms=5000, row_cap=1)
    assert [tuple(r) for r in found.rows] == [(ids[0], HOSTILE, 0)]
    assert len(orders(executor, source)) == 3


def test_the_read_path_still_refuses_writes_after_a_write(
    source: Source, executor: Executor
) -> None:
    """A write's read-write session is not left on a pooled connection."""
    executor.write(source, plan(source, "orders", 1, [("status", "w")]))
    for statement in ("UPDATE orders SET status = 'r'", "DELETE FROM orders"):
        with pytest.raises(QueryFailed) as caught:
            executor.run(source, statement, timeout_ms=5000, row_cap=10)
        assert caught.value.code == "read_only_violation"
    assert [r[2] for r in orders(executor, source)] == ["w", "open", "open"]


def test_stacked_statements_in_a_plan_do_not_run(source: Source, executor: Executor) -> None:
    """A plan built by hand with two statements: the drivers take exactly one."""
    style = ":p0" if source.kind == "sqlite" else "%(p0)s"
    stacked = WritePlan(
        source.kind,
        f"UPDATE orders SET notes = {style} WHERE id = 1; DROP TABLE items",  # noqa: S608
        {"p0": "x"},
        "orders",
        frozenset({"notes"}),
    )
    with pytest.raises(QueryFailed):
        executor.write(source, stacked)
    assert len(rows(executor, source, "SELECT id FROM items")) == 3
    assert [r[3] for r in orders(executor, source)] == ["n1", "n2", "n3"]


def test_a_plan_for_another_dialect_is_refused(source: Source, executor: Executor) -> None:
    other = "postgres" if source.kind != "postgres" else "sqlite"
    planned = plan_update(
        other, rules_for(source.config, "u1", "admin"), "orders", 1, [("status", "x")], {}
    )
    assert isinstance(planned, WritePlan)
    with pytest.raises(ValueError, match="dialect"):
        executor.write(source, planned)


# --- SQLite's authorizer -------------------------------------------------------------


def _lite(tmp_path: Path) -> Source:
    url = f"sqlite:///{tmp_path / 'lite.db'}"
    _run(url, [*SETUP, "CREATE TABLE audit (id INTEGER PRIMARY KEY, what VARCHAR(32))"])
    return _source("sqlite", url)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE items SET status = :p0 WHERE id = 1",  # another table
        "UPDATE orders SET region = :p0 WHERE id = 1",  # a column not in the plan
        "DELETE FROM orders WHERE id = :p0",
        "INSERT INTO orders (id, status) VALUES (9, :p0)",  # an insert for an update plan
        "ATTACH DATABASE :p0 AS other",
        "PRAGMA writable_schema = ON",
        "UPDATE orders SET status = (SELECT status FROM items WHERE code = :p0) WHERE id = 1",
    ],
)
def test_sqlite_allows_exactly_the_planned_write(tmp_path: Path, sql: str) -> None:
    source = _lite(tmp_path)
    hand = WritePlan("sqlite", sql, {"p0": "x"}, "orders", frozenset({"status"}))
    executor = Executor(hosts=LOCAL)
    with pytest.raises(QueryFailed) as caught:
        executor.write(source, hand)
    assert caught.value.code == "denied"
    assert [r[2] for r in orders(executor, source)] == ["open", "open", "open"]
    assert len(rows(executor, source, "SELECT id FROM items")) == 3


def test_sqlite_denies_what_a_trigger_would_do_elsewhere(tmp_path: Path) -> None:
    source = _lite(tmp_path)
    _run(
        source.url.reveal(),
        [
            "CREATE TRIGGER spy AFTER UPDATE ON orders BEGIN "
            "INSERT INTO audit (what) VALUES (NEW.status); END"
        ],
    )
    executor = Executor(hosts=LOCAL)
    with pytest.raises(QueryFailed) as caught:
        executor.write(source, plan(source, "orders", 1, [("status", "closed")]))
    assert caught.value.code == "denied"
    assert rows(executor, source, "SELECT COUNT(*) FROM audit") == [(0,)]


def test_sqlite_never_creates_a_missing_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    source = Source(
        "gone", "t", "u", "n", "sqlite", _source("sqlite", url).config, ConnectionUrl(url)
    )
    planned = plan(source, "orders", 1, [("status", "x")])
    with pytest.raises(QueryFailed) as caught:
        Executor(hosts=LOCAL).write(source, planned)
    assert caught.value.code == "unreachable"
    assert not (tmp_path / "absent.db").exists()


# --- PostgreSQL db_role ---------------------------------------------------------------


@pytest.mark.postgres
def test_pg_db_role_applies_to_writes(pg_available: bool) -> None:
    need_service("PostgreSQL", pg_available)
    suffix = uuid.uuid4().hex[:12]
    name, role = f"bastion_wrole_{suffix}", f"bastion_writer_{suffix}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _admin(PG_ADMIN_URL, f'CREATE DATABASE "{name}"', f'CREATE ROLE "{role}"')
    executor = Executor(hosts=LOCAL)
    try:
        _run(url, SETUP)
        _admin(url, f'GRANT SELECT ON orders TO "{role}"')
        source = _source("postgres", url, db_role=role)
        planned = plan(source, "orders", 1, [("status", "closed")])
        with pytest.raises(QueryFailed) as caught:
            executor.write(source, planned)
        assert caught.value.code == "denied"
        assert orders(executor, source)[0][2] == "open"
        _admin(url, f'GRANT UPDATE (status, notes) ON orders TO "{role}"')
        assert executor.write(source, planned).rowcount == 1
        assert orders(executor, source)[0][2] == "closed"
        # The column grant is the database's own wall: region is not granted.
        hand = WritePlan(
            "postgres",
            'UPDATE "orders" SET "region" = %(p0)s WHERE "id" = 1',
            {"p0": "x"},
            "orders",
            frozenset({"region"}),
        )
        with pytest.raises(QueryFailed) as caught:
            executor.write(source, hand)
        assert caught.value.code == "denied"
    finally:
        executor.close()
        _admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(PG_ADMIN_URL, f'DROP ROLE IF EXISTS "{role}"')
