"""The query guard: pinned rewrites, the hostile table, execution on SQLite, fuzzing."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import bastion.datasources
from bastion.datasources import GuardPolicy, TableRule, check
from tests.datasources.hostile import DIALECTS, HOSTILE, Case

ORDERS = TableRule(
    columns=frozenset({"id", "region", "amount", "customer"}),
    row_filter="region = :user_region",
    masked=frozenset({"customer"}),
)
SECRET = "FORBIDDEN"  # in every row, column or value the caller must never read


def policy(dialect: str, row_cap: int = 50) -> GuardPolicy:
    return GuardPolicy(
        dialect,  # type: ignore[arg-type]
        tables={"orders": ORDERS, "regions": TableRule()},
        params={"user_region": "eu"},
        row_cap=row_cap,
    )


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        """
        CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL,
                             customer TEXT, ssn TEXT, note TEXT);
        CREATE TABLE regions (name TEXT, label TEXT);
        CREATE TABLE employees (id INTEGER, salary INTEGER, secret TEXT);
        CREATE INDEX idx ON orders (region);
        INSERT INTO regions VALUES ('eu', 'Europe'), ('us', 'Americas'), ('apac', 'Asia');
        INSERT INTO employees VALUES (1, 99, 'FORBIDDEN-emp');
        """
    )
    rows = [
        (i, region, 10.0 * i, f"{SECRET}-customer-{i}", f"{SECRET}-ssn-{i}", f"{SECRET}-n")
        for i, region in enumerate(["eu", "us", "apac", "eu", "us", "eu", "apac"], start=1)
    ]
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", rows)
    yield conn
    conn.close()


def test_exports_are_pinned() -> None:
    """The package's public names are exactly these."""
    assert bastion.datasources.__all__ == ["GuardPolicy", "GuardResult", "TableRule", "check"]


@pytest.mark.parametrize(
    ("dialect", "sql", "rewritten"),
    [
        (
            "postgres",
            "SELECT region, sum(amount) FROM orders WHERE amount > 5 OR 1 = 1 GROUP BY region",
            'SELECT "region", SUM("amount") FROM (SELECT "amount", \'***\' AS "customer", '
            '"id", "region" FROM "orders" WHERE "region" = \'eu\') AS "orders" '
            'WHERE "amount" > 5 OR 1 = 1 GROUP BY "region" LIMIT 50',
        ),
        (
            "mysql",
            "SELECT o.id, r.label FROM orders o JOIN regions r ON r.name = o.region LIMIT 10",
            "SELECT `o`.`id`, `r`.`label` FROM (SELECT `amount`, '***' AS `customer`, `id`, "
            "`region` FROM `orders` WHERE `region` = 'eu') AS `o` JOIN (SELECT * FROM "
            "`regions`) AS `r` ON `r`.`name` = `o`.`region` LIMIT 10",
        ),
        (
            "sqlite",
            "WITH orders AS (SELECT id FROM orders) SELECT * FROM orders UNION SELECT 1",
            'WITH "orders" AS (SELECT "id" FROM (SELECT "amount", \'***\' AS "customer", '
            '"id", "region" FROM "orders" WHERE "region" = \'eu\') AS "orders") '
            'SELECT * FROM "orders" UNION SELECT 1 LIMIT 50',
        ),
    ],
)
def test_allowed_statement_is_rewritten_exactly(dialect: str, sql: str, rewritten: str) -> None:
    """Each table becomes its filtered, masked subquery; the row cap goes outermost."""
    result = check(sql, policy(dialect))
    assert (result.allowed, result.reason, result.sql) == (True, "ok", rewritten)
    assert result.tables == tuple(sorted({"orders"} | ({"regions"} if "regions" in sql else set())))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, count(*) AS n FROM orders GROUP BY region HAVING count(*) > 1",
        "SELECT id, rank() OVER (PARTITION BY region ORDER BY amount DESC) FROM orders",
        "WITH t AS (SELECT region, avg(amount) AS a FROM orders GROUP BY region) "
        "SELECT r.label, t.a FROM t JOIN regions r ON r.name = t.region",
        "SELECT CASE WHEN amount > 20 THEN 'big' ELSE 'small' END, coalesce(customer, '') "
        "FROM orders ORDER BY id",
    ],
)
def test_typical_analytics_run_on_sqlite(db: sqlite3.Connection, sql: str) -> None:
    """Ordinary analytic queries are allowed and run; only the caller's rows count."""
    result = check(sql, policy("sqlite"))
    assert result.allowed, result.reason
    assert SECRET not in repr(db.execute(result.sql).fetchall())


def test_or_true_cannot_escape_the_row_filter(db: sqlite3.Connection) -> None:
    """``OR 1=1`` in the model's WHERE still returns only the caller's region."""
    result = check("SELECT id, region, customer FROM orders WHERE 1 = 0 OR 1 = 1", policy("sqlite"))
    rows = db.execute(result.sql).fetchall()
    assert rows == [(1, "eu", "***"), (4, "eu", "***"), (6, "eu", "***")]


def test_row_cap_lowers_a_larger_limit(db: sqlite3.Connection) -> None:
    """A model-written LIMIT above the cap is lowered; a smaller one is kept."""
    capped = check("SELECT id FROM orders LIMIT 1000", policy("sqlite", row_cap=2))
    assert len(db.execute(capped.sql).fetchall()) == 2
    small = check("SELECT id FROM orders ORDER BY id DESC LIMIT 1", policy("sqlite", row_cap=2))
    assert db.execute(small.sql).fetchall() == [(6,)]


@pytest.mark.parametrize("case", HOSTILE, ids=[f"{c.dialect}-{i}" for i, c in enumerate(HOSTILE)])
def test_hostile_statement(case: Case, db: sqlite3.Connection) -> None:
    """Refused with the expected reason, or rewritten so that it leaks nothing."""
    result = check(case.sql, policy(case.dialect))
    assert result.reason == case.expected
    assert result.allowed is (case.expected == "ok")
    if not result.allowed:
        assert (result.sql, result.tables) == ("", ())
    elif case.dialect == "sqlite":
        try:
            rows = db.execute(result.sql).fetchall()
        except sqlite3.Error:
            rows = []  # the database refusing the rewrite leaks nothing either
        assert SECRET not in repr(rows)
        assert all(row_region in ("eu", "Europe") for row_region in _regions(rows))
    else:
        assert "'eu'" in result.sql and set(result.tables) <= {"orders", "regions"}


def _regions(rows: list[tuple[object, ...]]) -> list[object]:
    return [v for row in rows for v in row if v in ("us", "apac", "Americas", "Asia")]


def test_hostile_table_is_large_enough() -> None:
    """At least 150 hostile statements, spread over the three dialects."""
    assert len(HOSTILE) >= 150
    assert {c.dialect for c in HOSTILE} == set(DIALECTS)


def test_guard_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """No log line carries the model's SQL (sqlglot's Command fallback would)."""
    fallbacks = [
        "WITH t AS (SET customer_id = 1) SELECT * FROM orders",  # sqlglot's Command fallback
        "SELECT * FROM orders WHERE = 1",
        "SELECT id FROM orders WHERE id IN (SHOW TABLES)",
    ]
    with caplog.at_level(logging.DEBUG):
        for case in HOSTILE:
            check(case.sql, policy(case.dialect))
        for sql in fallbacks:
            for dialect in ("postgres", "mysql", "sqlite"):
                assert not check(sql, policy(dialect)).allowed
    assert caplog.records == []


def test_cte_shadowing_a_table_resolves_to_the_cte(db: sqlite3.Connection) -> None:
    """A CTE named like a real table: references in its scope read the CTE."""
    sql = "WITH orders AS (SELECT name AS id FROM regions) SELECT id FROM orders"
    result = check(sql, policy("sqlite"))
    assert result.tables == ("regions",)
    assert db.execute(result.sql).fetchall() == [("eu",), ("us",), ("apac",)]


def test_cte_shadowing_a_table_filters_its_own_body(db: sqlite3.Connection) -> None:
    """Inside its own body the name is the real table, rewritten; SQLite then refuses
    the self-reference (its scoping differs), Postgres and MySQL read filtered rows."""
    sql = "WITH orders AS (SELECT * FROM orders WHERE 1 = 1) SELECT count(*) FROM orders"
    pg = check(sql, policy("postgres"))
    assert pg.sql.startswith(
        'WITH "orders" AS (SELECT * FROM (SELECT "amount", \'***\' AS "customer", "id", '
        '"region" FROM "orders" WHERE "region" = \'eu\') AS "orders" WHERE 1 = 1)'
    )
    with pytest.raises(sqlite3.OperationalError, match="circular reference"):
        db.execute(check(sql, policy("sqlite")).sql)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dialect": "oracle"}, "dialect"),
        ({"row_cap": 0}, "row_cap"),
        ({"functions": frozenset({"PG_SLEEP"})}, "functions"),
        ({"tables": {"t": TableRule(row_filter="region = :missing")}}, "missing"),
        ({"tables": {"t": TableRule(row_filter="id IN (SELECT id FROM u)")}}, "other tables"),
        ({"tables": {"t": TableRule(masked=frozenset({"a"}))}}, "explicit column list"),
        ({"tables": {"t": TableRule(frozenset({"a"}), masked=frozenset({"b"}))}}, "among"),
    ],
)
def test_bad_policy_fails_at_construction(kwargs: dict[str, object], message: str) -> None:
    """A policy the guard could not enforce is refused when built, naming the problem."""
    fields: dict[str, object] = {"dialect": "postgres", "tables": {}, "params": {}} | kwargs
    with pytest.raises(ValueError, match=message):
        GuardPolicy(**fields)  # type: ignore[arg-type]


def test_policy_function_names_extend_the_allow_list() -> None:
    """An unknown function runs only when the policy names it."""
    named = GuardPolicy(
        "postgres", {"orders": ORDERS}, {"user_region": "eu"}, functions=frozenset({"my_udf"})
    )
    assert check("SELECT my_udf(amount) FROM orders", named).allowed
    assert check("SELECT my_udf(amount) FROM orders", policy("postgres")).reason == (
        "forbidden_function"
    )


def test_parameters_are_bound_as_literals(db: sqlite3.Connection) -> None:
    """A hostile parameter value is a string literal, never SQL."""
    evil = GuardPolicy("sqlite", {"orders": ORDERS}, {"user_region": "eu' OR '1'='1"})
    result = check("SELECT * FROM orders", evil)
    assert db.execute(result.sql).fetchall() == []


VALID = [
    "SELECT id, amount FROM orders WHERE amount > 3 ORDER BY id",
    "WITH x AS (SELECT region FROM orders) SELECT region, count(*) FROM x GROUP BY region",
    "SELECT o.id FROM orders o JOIN regions r ON r.name = o.region",
]
ALLOWED_TABLES = {"orders", "regions"}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DIALECTS), st.text(max_size=200))
def test_random_text_never_raises(dialect: str, text: str) -> None:
    """Any text at all: a result, never an exception; allowed only on allow-listed tables."""
    result = check(text, policy(dialect))
    assert result.allowed or result.sql == ""
    assert set(result.tables) <= ALLOWED_TABLES


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(DIALECTS),
    st.sampled_from(VALID),
    st.integers(min_value=0, max_value=120),
    st.sampled_from(
        [
            "employees",
            ";",
            "/*!",
            "'",
            "ssn",
            " UNION SELECT * FROM employees",
            "pg_sleep(1)",
            ")",
            "(",
            "--",
            "`",
            '"',
            "WITH RECURSIVE",
            "sqlite_master",
        ]
    ),
)
def test_mutated_queries_stay_inside_the_allow_list(
    dialect: str, sql: str, at: int, insert: str
) -> None:
    """Splicing hostile fragments into valid queries never reaches another table."""
    mutated = sql[:at] + insert + sql[at:]
    result = check(mutated, policy(dialect))
    assert set(result.tables) <= ALLOWED_TABLES
    if result.allowed:
        tree = sqlglot.parse_one(result.sql, read=dialect)
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        assert {t.name for t in tree.find_all(exp.Table)} <= ALLOWED_TABLES | ctes
        assert "ssn" not in {c.name for c in tree.find_all(exp.Column)}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "sql",
    [
        *VALID,
        "SELECT r.label, count(*) FROM orders o JOIN regions r ON r.name = o.region "
        "WHERE o.amount > 1.5 GROUP BY r.label ORDER BY 2 DESC LIMIT 5",
        "SELECT id FROM orders WHERE customer = 'it''s' OR region = 'a\"b'",
    ],
)
def test_rewrite_parses_back_to_itself(dialect: str, sql: str) -> None:
    """The rewrite (its filtered subqueries spliced in as text) reads back unchanged."""
    result = check(sql, policy(dialect))
    assert result.allowed, result.reason
    again = sqlglot.parse_one(result.sql, read=dialect)
    assert again.sql(dialect=dialect, identify=True, comments=False) == result.sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bare_select_is_refused(dialect: str) -> None:
    """A SELECT left with no select list and no FROM (a comment ate it) is a parse error."""
    result = check("SELECT -- id, amount FROM orders", policy(dialect))
    assert (result.allowed, result.reason) == (False, "parse_error")


def test_quoted_text_takes_the_round_trip(db: sqlite3.Connection) -> None:
    """Literals with quotes are allowed, checked by re-parsing, and stay literals."""
    sql = "SELECT id FROM orders WHERE customer <> 'x'' OR ''1''=''1' ORDER BY id"
    result = check(sql, policy("sqlite"))
    assert result.allowed, result.reason
    assert db.execute(result.sql).fetchall() == [(1,), (4,), (6,)]


def broker(dialect: str) -> GuardPolicy:
    """The adversarial run's shape: a customer table with hidden columns, a ticker table
    shown in full, a ledger with an explicit list of its own."""
    return GuardPolicy(
        dialect,  # type: ignore[arg-type]
        tables={
            "sbCustomer": TableRule(frozenset({"sbCustId", "sbCustName", "sbCustState"})),
            "sbTicker": TableRule(),
            "sbLedger": TableRule(frozenset({"sbLedgerId", "sbLedgerCustId"})),
        },
    )


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        # a branch sees only its own sources: sbTicker showing all covers none of sbCustomer
        ("SELECT sbTickerId FROM sbTicker UNION SELECT sbCustSsn FROM sbCustomer", "refused"),
        ("SELECT sbTickerId FROM sbTicker INTERSECT SELECT sbCustSsn FROM sbCustomer", "refused"),
        ("SELECT sbTickerId FROM sbTicker EXCEPT SELECT sbCustSsn FROM sbCustomer", "refused"),
        ("SELECT sbTickerId FROM sbTicker UNION SELECT sbCustId FROM sbCustomer", "ok"),
        # a subquery in WHERE reading a hidden column of another table
        (
            "SELECT sbLedgerId FROM sbLedger WHERE sbLedgerCustId IN "
            "(SELECT sbCustSsn FROM sbCustomer)",
            "refused",
        ),
        (
            "SELECT sbLedgerId FROM sbLedger WHERE sbLedgerCustId IN "
            "(SELECT sbCustId FROM sbCustomer)",
            "ok",
        ),
        # correlated: the outer scope's visible columns, qualified or not; not its hidden ones
        (
            "SELECT sbCustName FROM sbCustomer c WHERE EXISTS "
            "(SELECT 1 FROM sbLedger l WHERE l.sbLedgerCustId = c.sbCustId)",
            "ok",
        ),
        (
            "SELECT sbCustName FROM sbCustomer WHERE EXISTS "
            "(SELECT 1 FROM sbLedger WHERE sbLedgerCustId = sbCustId)",
            "ok",
        ),
        (
            "SELECT sbCustName FROM sbCustomer WHERE EXISTS "
            "(SELECT 1 FROM sbLedger WHERE sbLedgerCustId = sbCustSsn)",
            "refused",
        ),
        # a CTE shows what it projects, no more
        ("WITH c AS (SELECT sbCustSsn FROM sbCustomer) SELECT 1 FROM sbTicker", "refused"),
        ("WITH c AS (SELECT sbCustId FROM sbCustomer) SELECT sbCustName FROM c", "refused"),
        (
            "WITH c AS (SELECT sbCustId AS sbCustSsn FROM sbCustomer) SELECT sbCustSsn FROM c",
            "ok",
        ),
        (
            "WITH c AS (SELECT * FROM sbTicker) SELECT sbCustSsn FROM c "
            "UNION SELECT sbCustSsn FROM sbCustomer",
            "refused",
        ),
    ],
)
def test_columns_are_resolved_per_scope(dialect: str, sql: str, reason: str) -> None:
    """Each SELECT's columns come from its own sources, or its enclosing scopes'."""
    result = check(sql, broker(dialect))
    assert result.reason == ("ok" if reason == "ok" else "column_not_allowed")


def test_a_correlated_name_may_come_from_a_table_shown_in_full() -> None:
    """The limit of what the guard can know: a name no source of its own scope shows may
    be a column of an enclosing table shown in full (the database decides; the rewrite
    still exposes no hidden column)."""
    sql = "SELECT sbTickerId FROM sbTicker WHERE sbTickerId IN (SELECT sbCustSsn FROM sbCustomer)"
    assert check(sql, broker("postgres")).allowed


@pytest.mark.parametrize(
    ("dialect", "sql", "allowed"),
    [
        # PostgreSQL folds unquoted names to lower case and keeps quoted ones as written
        ("postgres", 'SELECT "sbCustId" FROM sbcustomer', False),
        ("postgres", 'SELECT "sbcustid" FROM sbcustomer', True),
        ("postgres", "SELECT sbCustId, SBCUSTNAME FROM sbCustomer", True),
        ("postgres", 'SELECT c."sbCustName" FROM sbcustomer AS c', False),
        ("postgres", 'SELECT "sbTickerAnything" FROM sbticker', True),  # shown in full
        # MySQL and MariaDB: column names are case-insensitive, quoted or not
        ("mysql", "SELECT `sbcustid`, `SBCUSTNAME` FROM sbCustomer", True),
        ("mysql", "SELECT `sbCustSsn` FROM sbCustomer", False),
        # SQLite: case-insensitive too
        ("sqlite", 'SELECT "SBCUSTID", [sbcustname] FROM sbCustomer', True),
        ("sqlite", 'SELECT "sbCustSSN" FROM sbCustomer', False),
    ],
)
def test_quoted_column_names_compare_as_the_dialect_does(
    dialect: str, sql: str, allowed: bool
) -> None:
    """A quoted name matches a visible column only as the database would match it."""
    result = check(sql, broker(dialect))
    assert result.reason == ("ok" if allowed else "column_not_allowed")
