"""The executor: read-only, time-limited, row-capped, on real PostgreSQL, MariaDB, SQLite.

Each test gets a scratch database with ``orders(id, region, amount, customer_email)``
in three regions. Statements handed to the executor directly bypass the guard on
purpose: the executor is the second wall and must hold on its own.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bastion.datasources.executor import Executor, HostPolicy, QueryFailed
from bastion.datasources.guard import check
from bastion.datasources.sources import ConnectionUrl, Source, SourceConfig, guard_policy_for
from tests.conftest import PG_ADMIN_URL, mysql_available, need_service

# The test servers are on loopback; the executor refuses every other host.
LOCAL = HostPolicy(["127.0.0.1", "localhost"])
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]
ROWS = [
    (1, "north", 10, "ann@north.example"),
    (2, "north", 20, "bob@north.example"),
    (3, "south", 30, "cat@south.example"),
    (4, "east", 40, "dan@east.example"),
    (5, "south", 50, "eve@south.example"),
]
CONFIG = SourceConfig.model_validate(
    {
        "row_cap": 100,
        "tables": {
            "orders": {
                "columns": ["id", "region", "amount", "customer_email"],
                "masked": ["customer_email"],
                "roles": {"member": {"row_filter": "region = :region"}},
            }
        },
    }
)
CREATE = (
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, region VARCHAR(16), amount INTEGER, "
    "customer_email VARCHAR(64))"
)


def _fill(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(CREATE))
        for row in ROWS:
            conn.execute(
                text("INSERT INTO orders VALUES (:a, :b, :c, :d)"),
                dict(zip("abcd", row, strict=True)),
            )
    engine.dispose()


@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[Source]:
    """A source on a scratch database of each kind, dropped afterwards."""
    kind: str = request.param
    name = f"bastion_ds_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        _fill(url)
        yield Source("s-lite", "t", "u", "shop", "sqlite", CONFIG, ConnectionUrl(url))
        return
    if kind == "postgres":
        need_service("PostgreSQL", pg_available)
        admin_url = PG_ADMIN_URL
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        need_service("MariaDB", mysql_available())
        admin_url = "mysql+pymysql://root@127.0.0.1:3306/test"
        url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(create))
    try:
        _fill(url)
        server = "postgres" if kind == "postgres" else "mysql"
        yield Source(f"s-{kind}", "t", "u", "shop", server, CONFIG, ConnectionUrl(url))
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


@pytest.fixture
def executor() -> Iterator[Executor]:
    runner = Executor(hosts=LOCAL)
    yield runner
    runner.close()


def count(executor: Executor, source: Source) -> int:
    result = executor.run(source, "SELECT COUNT(*) FROM orders", timeout_ms=5000, row_cap=1)
    return int(result.rows[0][0])


WRITES = [
    "DELETE FROM orders",
    "UPDATE orders SET amount = 0",
    "INSERT INTO orders VALUES (9, 'west', 1, 'x@y')",
    "CREATE TABLE stolen (a INTEGER)",
    "DROP TABLE orders",
]


@pytest.mark.parametrize("statement", WRITES)
def test_writes_handed_directly_are_refused(
    source: Source, executor: Executor, statement: str
) -> None:
    """The read-only transaction stops writes and DDL that bypass the guard."""
    with pytest.raises(QueryFailed) as caught:
        executor.run(source, statement, timeout_ms=5000, row_cap=10)
    assert caught.value.code == "read_only_violation"
    assert count(executor, source) == len(ROWS)


STACKED = {
    "postgres": [
        "SELECT 1; DELETE FROM orders",
        "COMMIT; DELETE FROM orders",
        "WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d",
    ],
    "mysql": ["SELECT 1; DELETE FROM orders", "COMMIT; DELETE FROM orders"],
    "sqlite": ["SELECT 1; DELETE FROM orders", "ATTACH DATABASE ':memory:' AS other"],
}


def test_stacked_statements_and_escapes_are_refused(source: Source, executor: Executor) -> None:
    """One statement per call: a second one, a COMMIT to escape, ATTACH all fail."""
    for statement in STACKED[source.kind]:
        with pytest.raises(QueryFailed):
            executor.run(source, statement, timeout_ms=5000, row_cap=10)
    assert count(executor, source) == len(ROWS)


def test_a_commit_alone_leaves_the_next_call_read_only(source: Source, executor: Executor) -> None:
    """A bare COMMIT ends nothing that matters: the next call is read-only again."""
    if source.kind != "sqlite":
        executor.run(source, "COMMIT", timeout_ms=5000, row_cap=10)
    with pytest.raises(QueryFailed) as caught:
        executor.run(source, "DELETE FROM orders", timeout_ms=5000, row_cap=10)
    assert caught.value.code == "read_only_violation"


def _ticking() -> Callable[[], float]:
    """A clock that moves 50 ms each time it is read (SQLite's progress handler)."""
    now = [0.0]

    def read() -> float:
        now[0] += 0.05
        return now[0]

    return read


SLOW = {
    "postgres": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT COUNT(*) FROM c",
}


def test_slow_statements_hit_the_timeout(source: Source) -> None:
    """A sleep (or an endless recursive query) handed directly is stopped as `timeout`."""
    executor = Executor(hosts=LOCAL, monotonic=_ticking())
    try:
        with pytest.raises(QueryFailed) as caught:
            executor.run(source, SLOW[source.kind], timeout_ms=200, row_cap=10)
        assert caught.value.code == "timeout"
        assert count(executor, source) == len(ROWS)  # the connection is usable again
    finally:
        executor.close()


def test_rows_are_capped_and_truncation_reported(source: Source, executor: Executor) -> None:
    """At most row_cap rows come back; `truncated` says more were there."""
    result = executor.run(source, "SELECT id FROM orders ORDER BY id", timeout_ms=5000, row_cap=2)
    assert result.rows == ((1,), (2,)) and result.row_count == 2 and result.truncated
    whole = executor.run(source, "SELECT id FROM orders", timeout_ms=5000, row_cap=5)
    assert whole.row_count == 5 and not whole.truncated and whole.columns == ("id",)


HOSTILE = [
    "SELECT * FROM orders WHERE region = 'south' OR 1=1",
    "SELECT id, region, customer_email FROM orders UNION "
    "SELECT id, region, customer_email FROM orders WHERE region <> 'north'",
    "SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE region = 'east')",
    "SELECT o.customer_email, o.region FROM (SELECT * FROM orders) AS o",
    "SELECT customer_email, region FROM orders WHERE customer_email LIKE '%south%'",
]


@pytest.mark.parametrize("statement", HOSTILE)
def test_guard_and_executor_return_only_the_callers_rows(
    source: Source, executor: Executor, statement: str
) -> None:
    """A member of region north reads north rows only, with e-mail addresses masked."""
    policy = guard_policy_for(source, "user-1", "member", {"region": "north"})
    guarded = check(statement, policy)
    assert guarded.allowed, guarded.reason
    result = executor.run(source, guarded.sql, timeout_ms=5000, row_cap=CONFIG.row_cap)
    records: list[dict[str, Any]] = [
        dict(zip(result.columns, row, strict=True)) for row in result.rows
    ]
    for record in records:
        assert record.get("region", "north") == "north"
        assert record.get("customer_email", "***") == "***"
    assert not any("example" in repr(row) for row in result.rows)
    if statement == HOSTILE[0]:
        assert sorted(record["id"] for record in records) == [1, 2]


def test_an_admin_reads_every_region_still_masked(source: Source, executor: Executor) -> None:
    """Without a role filter all rows come back; the mask still holds."""
    guarded = check("SELECT * FROM orders", guard_policy_for(source, "u", "admin", {}))
    result = executor.run(source, guarded.sql, timeout_ms=5000, row_cap=CONFIG.row_cap)
    assert result.row_count == len(ROWS) and not result.truncated
    assert {row[result.columns.index("customer_email")] for row in result.rows} == {"***"}


def test_errors_echo_neither_sql_nor_data(source: Source, executor: Executor) -> None:
    """A failing query's error is a fixed message: no SQL, no value, no cause attached."""
    statement = "SELECT CAST(customer_email AS INTEGER) + nosuchcolumn FROM orders"
    with pytest.raises(QueryFailed) as caught:
        executor.run(source, statement, timeout_ms=5000, row_cap=10)
    shown = str(caught.value) + repr(caught.value)
    assert caught.value.code == "db_error"
    assert "orders" not in shown and "example" not in shown and "nosuchcolumn" not in shown
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert source.url.reveal() not in shown + repr(executor) + repr(source)


def test_unreachable_sources_say_so(tmp_path: Path) -> None:
    """A server that does not answer, or a missing SQLite file, is `unreachable`."""
    executor = Executor(hosts=LOCAL, connect_timeout_s=2)
    sources = [
        Source(
            "a",
            "t",
            "u",
            "n",
            "postgres",
            CONFIG,
            ConnectionUrl("postgresql+psycopg://x:pw@127.0.0.1:1/db"),
        ),
        Source(
            "b",
            "t",
            "u",
            "n",
            "mysql",
            CONFIG,
            ConnectionUrl("mysql+pymysql://x:pw@127.0.0.1:1/db"),
        ),
        Source(
            "c", "t", "u", "n", "sqlite", CONFIG, ConnectionUrl(f"sqlite:///{tmp_path / 'gone.db'}")
        ),
    ]
    try:
        for source in sources:
            with pytest.raises(QueryFailed) as caught:
                executor.run(source, "SELECT 1", timeout_ms=1000, row_cap=1)
            assert caught.value.code == "unreachable", source.kind
        assert not (tmp_path / "gone.db").exists()  # mode=ro never creates the file
    finally:
        executor.close()


def test_sqlite_source_file_is_opened_read_only(tmp_path: Path) -> None:
    """The file on disk is unchanged after a refused write (the ro open, not the guard)."""
    path = tmp_path / "shop.db"
    _fill(f"sqlite:///{path}")
    before = path.read_bytes()
    source = Source("s", "t", "u", "n", "sqlite", CONFIG, ConnectionUrl(f"sqlite:///{path}"))
    executor = Executor(hosts=LOCAL)
    try:
        with pytest.raises(QueryFailed):
            executor.run(source, "DELETE FROM orders", timeout_ms=1000, row_cap=1)
    finally:
        executor.close()
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (len(ROWS),)
