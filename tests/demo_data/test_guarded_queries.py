"""The demo databases, the query guard and the read-only executor together, on
SQLite, PostgreSQL and MariaDB: each demo user reads only their own rows, masked, of
the tables their role may read, whatever the SQL says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from bastion.datasources import check
from bastion.datasources._source_config import parse_config
from bastion.datasources.executor import Executor, HostPolicy
from bastion.datasources.sources import ConnectionUrl, Source, guard_policy_for
from bastion.demo_data import load, policies
from tests.demo_data.test_loader import engine  # noqa: F401 (the fixture)

KINDS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}
HOSTILE = [
    "SELECT sbCustName, sbCustState, sbCustEmail FROM sbCustomer",
    "SELECT sbCustName, sbCustState, sbCustEmail FROM sbCustomer WHERE 1=1 OR sbCustState <> ''",
    "SELECT c.sbCustName, c.sbCustState, c.sbCustEmail FROM sbCustomer c "
    "UNION SELECT sbCustName, sbCustState, sbCustEmail FROM sbCustomer",
    "WITH everyone AS (SELECT * FROM sbCustomer) "
    "SELECT sbCustName, sbCustState, sbCustEmail FROM everyone",
    "SELECT sbCustName, sbCustState, sbCustEmail FROM (SELECT * FROM sbCustomer) AS t",
]


def source_for(engine: Engine) -> Source:  # noqa: F811 (engine is the fixture's value)
    kind = KINDS[engine.dialect.name]
    url = engine.url.render_as_string(hide_password=False)
    config = parse_config(kind, policies("broker")["config"])  # type: ignore[arg-type]
    return Source("s1", "t1", "owner", "broker", kind, config, ConnectionUrl(url))  # type: ignore[arg-type]


@pytest.mark.parametrize(("user", "region"), [("alice", "CA"), ("bob", "NY")])
def test_each_user_reads_only_their_region_masked(
    engine: Engine,  # noqa: F811
    user: str,
    region: str,
) -> None:
    load(engine, "broker", now=datetime(2026, 12, 2, tzinfo=UTC))
    source = source_for(engine)
    demo = policies("broker")["users"][user]
    guard = guard_policy_for(source, user, demo["role"], demo["params"])
    executor = Executor(hosts=HostPolicy(["127.0.0.1", "localhost"]))
    try:
        for sql in HOSTILE:
            result = check(sql, guard)
            assert result.allowed, (sql, result.reason)
            rows = executor.run(source, result.sql, timeout_ms=5000, row_cap=500).rows
            assert rows, sql
            assert {row[1] for row in rows} == {region}, sql
            assert {row[2] for row in rows} == {"***"}, sql
        refused = check("SELECT * FROM sbTransaction", guard)
        assert (refused.allowed, refused.reason) == (False, "unknown_table")
    finally:
        executor.close()
