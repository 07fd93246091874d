"""The defog demo databases load into SQLite, PostgreSQL and MariaDB alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bastion import demo_data
from bastion.datasources.sources import ConnectionUrl, Source, SourceConfig, guard_policy_for
from tests.conftest import PG_ADMIN_URL, mysql_available, need_service

MYSQL_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/"
ENGINES = ("sqlite", "postgresql", "mysql")
NAMES = demo_data.available()
# (database, SQL, expected first row): values copied from defog's dumps.
SPOTS = [
    (
        "broker",
        "SELECT sbCustName, sbCustState FROM sbCustomer WHERE sbCustId = 'C001'",
        ("john doe", "CA"),
    ),
    ("broker", "SELECT sbTickerSymbol FROM sbTicker WHERE sbTickerId = 'T007'", ("BRK.B",)),
    (
        "broker",
        "SELECT sbDpClose, sbDpVolume FROM sbDailyPrice "
        "WHERE sbDpTickerId = 'T007' AND sbDpDate = '2023-04-01'",
        (Decimal("401000.00"), 10000),
    ),
    ("car_dealership", "SELECT sale_price, salesperson_id FROM sales WHERE id = 1", (30500, 2)),
    ("car_dealership", "SELECT vin_number FROM cars WHERE id = 1", ("4T1BF1FK3CU510984",)),
]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[Engine]:
    """An empty database of each kind, dropped afterwards."""
    kind: str = request.param
    if kind == "sqlite":
        scratch = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
        yield scratch
        scratch.dispose()
        return
    name = f"bastion_demo_{uuid.uuid4().hex[:12]}"
    if kind == "postgresql":
        need_service("PostgreSQL", pg_available)
        admin_url, url = PG_ADMIN_URL, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        need_service("MariaDB", mysql_available())
        admin_url, url = MYSQL_ADMIN_URL, MYSQL_ADMIN_URL + name
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(create))
    scratch = create_engine(url)
    try:
        yield scratch
    finally:
        scratch.dispose()
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


def test_public_surface() -> None:
    """The package exports exactly its documented names."""
    assert sorted(demo_data.__all__) == [
        "DemoDataError",
        "available",
        "describe",
        "load",
        "policies",
        "questions",
        "row_counts",
    ]


def test_ships_two_databases() -> None:
    """broker and car_dealership ship, each with several tables of rows."""
    assert NAMES == ("broker", "car_dealership")
    assert demo_data.row_counts("broker") == {
        "sbCustomer": 20,
        "sbTicker": 21,
        "sbDailyPrice": 52,
        "sbTransaction": 56,
    }
    assert sum(demo_data.row_counts("car_dealership").values()) == 132


@pytest.mark.parametrize("name", NAMES)
def test_load_inserts_every_row(engine: Engine, name: str) -> None:
    """Every table gets exactly the dump's rows, as counted by the database."""
    expected = demo_data.row_counts(name)
    assert demo_data.load(engine, name) == expected
    with engine.connect() as conn:
        for table, count in expected.items():
            counted = text(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (shipped table names)
            assert conn.execute(counted).scalar_one() == count


@pytest.mark.parametrize(("name", "sql", "row"), SPOTS)
def test_spot_values(engine: Engine, name: str, sql: str, row: tuple[object, ...]) -> None:
    """Values keep their type and precision on every engine."""
    demo_data.load(engine, name)
    with engine.connect() as conn:
        got = tuple(conn.execute(text(sql)).one())
    # SQLite has no decimal type: numbers come back as float there.
    assert [Decimal(str(v)) if isinstance(v, float) else v for v in got] == list(row)


@pytest.mark.parametrize("name", NAMES)
def test_gold_questions_return_rows(engine: Engine, name: str) -> None:
    """sql-eval's gold SQL for the engine's dialect runs and answers, including questions
    about the past 30 days and 3 months (the dump's relative dates)."""
    demo_data.load(engine, name)
    asked = demo_data.questions(name, engine.dialect.name)
    assert len(asked) == 3
    with engine.connect() as conn:
        for q in asked:
            assert conn.execute(text(q["query"])).all(), q["question"]


@pytest.mark.parametrize("name", NAMES)
def test_refuses_to_load_twice(engine: Engine, name: str) -> None:
    """A second load names the existing tables and changes nothing."""
    demo_data.load(engine, name)
    with pytest.raises(demo_data.DemoDataError, match="already exist"):
        demo_data.load(engine, name)
    with engine.connect() as conn:
        table, count = next(iter(demo_data.row_counts(name).items()))
        counted = text(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (shipped table names)
        assert conn.execute(counted).scalar_one() == count


def test_relative_dates_follow_now(tmp_path: Path) -> None:
    """Dates the dump computed from the load date are computed from ``now``, with
    PostgreSQL's month truncation and end-of-month clamping."""
    engine = create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    demo_data.load(engine, "broker", now=datetime(2024, 3, 31, 12, 30))
    with engine.connect() as conn:
        joined = conn.execute(
            text("SELECT sbCustId, sbCustJoinDate FROM sbCustomer WHERE sbCustId >= 'C015'")
        ).all()
        settled = conn.execute(
            text("SELECT sbTxSettlementDateStr FROM sbTransaction WHERE sbTxId = 'TX056'")
        ).scalar_one()
    engine.dispose()
    assert [(c, date.fromisoformat(d)) for c, d in joined] == [
        ("C015", date(2023, 10, 1)),
        ("C016", date(2023, 11, 1)),
        ("C017", date(2023, 12, 1)),
        ("C018", date(2024, 1, 1)),
        ("C019", date(2024, 2, 1)),
        ("C020", date(2024, 3, 1)),
    ]
    assert settled == "20240302 00:00:00"


def test_loads_into_a_postgres_schema(pg_available: bool) -> None:
    """``schema`` places the tables, foreign keys included, in that schema."""
    need_service("PostgreSQL", pg_available)
    name = f"bastion_demo_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE SCHEMA demo"))
        counts = demo_data.load(engine, "car_dealership", schema="demo")
        with engine.connect() as conn:
            sales = conn.execute(text("SELECT COUNT(*) FROM demo.sales")).scalar_one()
        assert sales == counts["sales"] == 22
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("name", NAMES)
def test_describe_covers_every_column(name: str) -> None:
    """describe() names every table and column, with defog's text where it has some."""
    described = demo_data.describe(name)
    assert set(described) == set(demo_data.row_counts(name))
    assert any(text_ for columns in described.values() for text_ in columns.values())


def test_unknown_database_is_a_clear_error() -> None:
    """An unknown name lists the ones that exist."""
    with pytest.raises(demo_data.DemoDataError, match="broker"):
        demo_data.describe("northwind")
    with pytest.raises(demo_data.DemoDataError, match="dialect"):
        demo_data.questions("broker", "oracle")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mysql"])
def test_policies_are_valid_guard_configs(name: str, kind: str) -> None:
    """The suggested guard configuration parses, and yields a guard policy for every demo
    user: members lose the denied tables, admins keep them all."""
    policy = demo_data.policies(name)
    config = SourceConfig.model_validate(policy["config"])
    source = Source("s-demo", "t", "u", name, kind, config, ConnectionUrl("sqlite://"))  # type: ignore[arg-type]
    for user, spec in policy["users"].items():
        guard = guard_policy_for(source, user, spec["role"], spec["params"])
        if spec["role"] == "member":
            assert set(guard.tables) < set(config.tables)
        else:
            assert set(guard.tables) == set(config.tables)


@pytest.mark.parametrize("name", NAMES)
def test_member_row_filters_differ_per_user(tmp_path: Path, name: str) -> None:
    """Each member's row filter selects some rows, and different members see different
    rows: the demo users' views really differ."""
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    demo_data.load(engine, name)
    policy = demo_data.policies(name)
    members = {u: v["params"] for u, v in policy["users"].items() if v["role"] == "member"}
    filtered = {
        table: config["roles"]["member"]["row_filter"]
        for table, config in policy["config"]["tables"].items()
        if config.get("roles", {}).get("member", {}).get("row_filter")
    }
    assert filtered and len(members) >= 2
    with engine.connect() as conn:
        for table, row_filter in filtered.items():
            # Shipped table names and filters; the users' values are bound parameters.
            query = text(f"SELECT * FROM {table} WHERE {row_filter}")  # noqa: S608
            seen = {
                user: frozenset(conn.execute(query, params).all())
                for user, params in members.items()
            }
            assert all(seen.values()), seen
            assert len(set(seen.values())) == len(seen)
    engine.dispose()
