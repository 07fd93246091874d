"""Hostile statements that read what alice may not: other users' rows, hidden and
masked columns, other tenants' sources, stacked statements, comment and quoting
tricks, UNIONs into other tables, CTE and subquery bypasses (see
:mod:`tests.e2e.adversarial_cases`)."""

from __future__ import annotations

from tests.e2e.adversarial_kinds import (
    ALICE_IDS,
    COMMENTS_QUOTING,
    CTE_SUBQUERY,
    HIDDEN_MASKED,
    OTHER_ROWS,
    OTHER_TENANT,
    SEVEN,
    STACKED,
    UNION_TABLES,
    ZERO,
    C,
    Case,
    only,
    shared,
)

READ_CASES: list[Case] = [
    # -- other users' rows: tautologies, negations, joins, windows, set operations
    *shared(
        OTHER_ROWS,
        "SELECT * FROM sbCustomer",
        f"{C} WHERE 1=1 OR 1=1",
        f"{C} WHERE sbCustState = 'NY'",
        f"{C} WHERE sbCustState <> 'CA'",
        f"{C} WHERE NOT (sbCustState = 'CA')",
        f"{C} WHERE owner_email = 'bob@acme.test'",
        f"{C} WHERE owner_email <> 'alice@acme.test' OR owner_email IS NULL",
        f"{C} WHERE sbCustState IN ('NY', 'TX', 'FL', 'NJ')",
        f"{C} WHERE sbCustId = 'C002'",
        f"{C} WHERE sbCustId BETWEEN 'C000' AND 'C999'",
        f"{C} WHERE sbCustName LIKE '%'",
        f"{C} WHERE 'a' = 'a'",
        f"{C} WHERE TRUE OR sbCustState = 'NY'",
        f"{C} WHERE sbCustState = 'NY' OR NOT sbCustState = 'NY'",
        f"{C} WHERE owner_email = 'alice@acme.test' OR owner_email = 'bob@acme.test'",
        f"{C} WHERE COALESCE(owner_email, 'x') IS NOT NULL",
        f"{C} WHERE sbCustState = 'NY' OR sbCustState IS NULL OR sbCustState IS NOT NULL",
        "SELECT b.sbCustId, b.sbCustName FROM sbCustomer a "
        "JOIN sbCustomer b ON a.sbCustState <> b.sbCustState",
        "SELECT a.sbCustId, b.sbCustName FROM sbCustomer a, sbCustomer b",
        "SELECT c.sbCustId, c.sbCustName FROM sbTicker t LEFT JOIN sbCustomer c ON 1 = 1",
        "SELECT c.sbCustId, c.sbCustName FROM sbCustomer c RIGHT JOIN sbTicker t ON 1 = 1",
        "SELECT sbCustId, ROW_NUMBER() OVER (PARTITION BY sbCustState ORDER BY sbCustId) "
        "FROM sbCustomer",
        "SELECT sbCustId, LAG(sbCustName) OVER (ORDER BY sbCustId), "
        "LEAD(sbCustName) OVER (ORDER BY sbCustId) FROM sbCustomer",
        "SELECT sbCustId, FIRST_VALUE(sbCustName) OVER (ORDER BY sbCustId DESC) FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer ORDER BY sbCustId DESC LIMIT 100 OFFSET 0",
        "SELECT sbCustId FROM sbCustomer LIMIT 1000000",
        "SELECT MIN(sbCustName), MAX(sbCustName) FROM sbCustomer",
        "SELECT sbCustState FROM sbCustomer GROUP BY sbCustState HAVING COUNT(*) > 0",
        "SELECT * FROM sbCustomer AS sbTicker",
        "SELECT x.* FROM sbCustomer x WHERE x.owner_email LIKE '%'",
        f"{C} WHERE sbCustState = 'ca' OR sbCustState = 'ny'",
        f"{C} WHERE (sbCustState = 'NY') = (1 = 1) OR 1 = 1",
        f"{C} WHERE sbCustId > '' ORDER BY sbCustId",
    ),
    Case(OTHER_ROWS, "SELECT COUNT(*) FROM sbCustomer", expect=SEVEN),
    Case(OTHER_ROWS, "SELECT COUNT(*) FROM sbCustomer WHERE 1=1 OR sbCustState='NY'", expect=SEVEN),
    Case(
        OTHER_ROWS,
        "SELECT sbCustState, COUNT(*) FROM sbCustomer GROUP BY sbCustState",
        expect=(("CA", "7"),),
    ),
    Case(OTHER_ROWS, "SELECT COUNT(DISTINCT owner_email) FROM sbCustomer", expect=(("1",),)),
    Case(OTHER_ROWS, "SELECT MAX(sbCustId) FROM sbCustomer", expect=(("C018",),)),
    Case(OTHER_ROWS, "SELECT DISTINCT COUNT(*) OVER () FROM sbCustomer", expect=SEVEN),
    Case(
        OTHER_ROWS,
        "SELECT COUNT(*) FROM sbCustomer WHERE sbCustName = 'Jane Smith'",
        expect=ZERO,
    ),
    Case(
        OTHER_ROWS,
        "SELECT SUM(CASE WHEN sbCustState = 'NY' THEN 1 ELSE 0 END) FROM sbCustomer",
        expect=ZERO,
    ),
    Case(
        OTHER_ROWS,
        "SELECT COUNT(*) FROM sbCustomer a JOIN sbCustomer b ON a.sbCustId <> b.sbCustId",
        expect=(("42",),),
    ),
    Case(
        OTHER_ROWS,
        "SELECT owner_email, COUNT(*) FROM sbCustomer GROUP BY owner_email",
        expect=(("alice@acme.test", "7"),),
    ),
    # -- hidden and masked columns
    *shared(
        HIDDEN_MASKED,
        "SELECT sbCustAddress1 FROM sbCustomer",
        "SELECT sbCustSsn FROM sbCustomer",
        "SELECT c.sbCustPostalCode FROM sbCustomer c",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustSsn LIKE 'S%'",
        "SELECT sbCustId FROM sbCustomer ORDER BY sbCustSsn",
        "SELECT COUNT(sbCustSsn) FROM sbCustomer",
        "SELECT * FROM (SELECT sbCustSsn AS x FROM sbCustomer) t",
        "WITH h AS (SELECT sbCustAddress1 FROM sbCustomer) SELECT * FROM h",
        "SELECT sbCustId FROM sbCustomer GROUP BY sbCustId HAVING MAX(sbCustSsn) > ''",
        "SELECT sbCustId FROM sbCustomer UNION SELECT sbCustSsn FROM sbCustomer",
        "SELECT UPPER(sbCustSsn) FROM sbCustomer",
        "SELECT sbCustId, CASE WHEN sbCustSsn LIKE 'S%' THEN 1 END FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer c "
        "WHERE EXISTS (SELECT 1 FROM sbCustomer d WHERE d.sbCustSsn = c.sbCustSsn)",
        "SELECT t.sbCustAddress1 FROM sbCustomer t",
        "SELECT sbCustomer.sbCustSsn FROM sbCustomer",
        "SELECT COALESCE(sbCustSsn, sbCustId) FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustAddress1 = '123 Main St'",
        "SELECT sbCustEmail, sbCustPhone FROM sbCustomer",
        "SELECT sbCustEmail FROM sbCustomer ORDER BY sbCustEmail",
        "SELECT UPPER(sbCustEmail), LOWER(sbCustPhone) FROM sbCustomer",
        "SELECT sbCustId, CASE WHEN sbCustEmail = 'john.doe@email.com' THEN 1 ELSE 0 END "
        "FROM sbCustomer",
        "SELECT * FROM sbCustomer c JOIN sbCustomer d ON c.sbCustEmail = d.sbCustEmail",
    ),
    Case(
        HIDDEN_MASKED,
        "SELECT COUNT(*) FROM sbCustomer WHERE sbCustEmail LIKE '%@email.com'",
        expect=ZERO,
    ),
    Case(
        HIDDEN_MASKED,
        "SELECT COUNT(*) FROM sbCustomer WHERE sbCustPhone = '555-123-4567'",
        expect=ZERO,
    ),
    Case(HIDDEN_MASKED, "SELECT MAX(sbCustPhone) FROM sbCustomer", expect=(("***",),)),
    Case(HIDDEN_MASKED, "SELECT DISTINCT LENGTH(sbCustEmail) FROM sbCustomer", expect=(("3",),)),
    # -- other tenants and other users' sources
    Case(OTHER_TENANT, "SELECT * FROM globex_ledger", source="globex_id"),
    Case(OTHER_TENANT, "SELECT * FROM globex_ledger", source="globex_name"),
    Case(OTHER_TENANT, "SELECT secret FROM globex_ledger WHERE 1=1", source="globex_id"),
    Case(OTHER_TENANT, "SELECT COUNT(*) FROM globex_ledger", source="globex_name"),
    Case(OTHER_TENANT, "SELECT * FROM sbCustomer", source="bob_id"),
    Case(OTHER_TENANT, "SELECT * FROM sbCustomer", source="bob_name"),
    Case(OTHER_TENANT, "SELECT sbCustSsn FROM sbCustomer", source="bob_name"),
    Case(OTHER_TENANT, "SELECT * FROM bastion_secrets", source="bob_id"),
    Case(OTHER_TENANT, "SELECT * FROM globex_ledger", source="globex_name_upper"),
    Case(OTHER_TENANT, "SELECT * FROM globex_ledger", source="globex_id_padded"),
    *shared(
        OTHER_TENANT,
        "SELECT * FROM globex_ledger",
        "SELECT sbCustId FROM sbCustomer UNION SELECT secret FROM globex_ledger",
        "SELECT * FROM {globex_db}.globex_ledger",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustId IN (SELECT secret FROM globex_ledger)",
        "WITH g AS (SELECT * FROM globex_ledger) SELECT * FROM g",
    ),
    *only(
        "postgres",
        OTHER_TENANT,
        "SELECT * FROM {globex_db}.public.globex_ledger",
        "SELECT * FROM dblink('dbname={globex_db} user=postgres host=127.0.0.1', "
        "'SELECT secret FROM globex_ledger') AS t(s text)",
    ),
    *only(
        "mysql",
        OTHER_TENANT,
        "SELECT * FROM `{globex_db}`.`globex_ledger`",
        "SELECT g.secret FROM sbTicker t JOIN {globex_db}.globex_ledger g ON 1 = 1",
    ),
    # -- stacked statements
    *shared(
        STACKED,
        "SELECT sbCustId FROM sbCustomer; DELETE FROM sbCustomer",
        "SELECT 1; DROP TABLE sbCustomer",
        "SELECT sbCustId FROM sbCustomer; SELECT sbCustSsn FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer;SELECT * FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer ; UPDATE sbCustomer SET owner_email = 'alice@acme.test'",
        "SELECT sbCustId FROM sbCustomer;; INSERT INTO sbCustomer (sbCustId) VALUES ('X1')",
        "; SELECT * FROM bastion_secrets",
        "SELECT 'a;b' FROM sbCustomer; SELECT * FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'x'; TRUNCATE TABLE sbCustomer",
        "SELECT sbCustId FROM sbCustomer\n;\nCREATE TABLE bastion_pwned (x INT)",
        "SELECT sbCustId FROM sbCustomer; COMMIT; DELETE FROM sbCustomer",
        "SELECT 1; SET TRANSACTION READ WRITE; DELETE FROM sbCustomer",
        "BEGIN; DELETE FROM sbCustomer; COMMIT",
        "SELECT sbCustId FROM sbCustomer /* x */; /* y */ DROP TABLE bastion_secrets",
    ),
    *only(
        "postgres",
        STACKED,
        "SELECT 1; COPY sbCustomer TO '{file}'",
        "SELECT 1; SET ROLE postgres; SELECT * FROM bastion_secrets",
        "SELECT $$;$$; DELETE FROM sbCustomer",
    ),
    *only(
        "mysql",
        STACKED,
        "SELECT 1; SELECT * FROM sbCustomer INTO OUTFILE '{file}'",
        "SELECT 1 INTO @a; SELECT @a",
        "SELECT 1 # x\n; DELETE FROM sbCustomer",
    ),
    # -- comment and quoting tricks
    *shared(
        COMMENTS_QUOTING,
        "SELECT sbCustId FROM sbCustomer /* ; DROP TABLE sbCustomer */ WHERE 1=1",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'NY' -- AND 1=0",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'NY' OR '1'='1' -- ",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = '' OR ''=''",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'x'' OR ''1''=''1'",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'CA' /* */ OR /* */ 1=1",
        "SELECT sbCustId FROM/**/sbCustomer/**/WHERE/**/1=1",
        "SELECT sbCustId FROM sbCustomer -- ; DELETE FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer /* unterminated",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'it''s' "
        "UNION SELECT sbCustSsn FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'CA'"
        "/*' UNION SELECT token FROM bastion_secrets --*/",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = '/*' "
        "UNION SELECT token FROM bastion_secrets -- */'",
        'SELECT "sbCustSsn" FROM sbCustomer',
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = '\u02bc OR 1=1 --'",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = N'x' OR 1=1",
        "SELECT\tsbCustId\nFROM\nsbCustomer\nWHERE\n1=1",
        "sElEcT sbcustid FrOm sbCustomer wHeRe 1=1",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'x' OR 'x' LIKE 'x' ESCAPE '!'",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'unterminated",
        "SELECT sbCustId FROM sbCustomer WHERE 1 = 1 -- \n UNION SELECT token FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = '\\' OR 1=1 -- '",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = :user_email",
        "SELECT sbCustId FROM sbCustomer WHERE owner_email = ?",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustName = 'a' 'b'",
    ),
    # -- UNION and joins into other tables
    *shared(
        UNION_TABLES,
        "SELECT * FROM bastion_secrets",
        "SELECT * FROM sbTransaction",
        "SELECT sbCustId, sbCustName FROM sbCustomer UNION SELECT id, token FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer UNION ALL SELECT token FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer UNION SELECT sbTxId FROM sbTransaction",
        "SELECT sbCustId FROM sbCustomer UNION SELECT sbTxCustId FROM sbTransaction",
        "SELECT sbTickerId FROM sbTicker UNION SELECT sbCustSsn FROM sbCustomer",
        "SELECT sbTickerSymbol, sbTickerName FROM sbTicker "
        "UNION SELECT sbCustName, sbCustEmail FROM sbCustomer",
        "SELECT sbTickerId FROM sbTicker UNION SELECT sbCustId FROM sbCustomer "
        "WHERE sbCustState = 'NY'",
        "SELECT sbTickerId FROM sbTicker UNION SELECT owner_email FROM sbCustomer",
        "SELECT sbCustId FROM sbCustomer WHERE sbCustId IN (SELECT sbTxCustId FROM sbTransaction)",
        "SELECT * FROM sbTicker WHERE sbTickerId = (SELECT MAX(token) FROM bastion_secrets)",
        "SELECT NULL, NULL FROM sbTicker UNION SELECT token, id FROM bastion_secrets",
        "SELECT sbCustId FROM sbCustomer INTERSECT SELECT sbTxCustId FROM sbTransaction",
        "SELECT sbCustId FROM sbCustomer EXCEPT SELECT sbTxCustId FROM sbTransaction",
        "(SELECT sbCustId FROM sbCustomer) UNION (SELECT token FROM bastion_secrets)",
        "SELECT * FROM sbCustomer JOIN sbTransaction ON sbTxCustId = sbCustId",
        "SELECT * FROM sbCustomer, bastion_secrets",
        "SELECT (SELECT token FROM bastion_secrets LIMIT 1) FROM sbTicker",
        "SELECT sbTickerId FROM sbTicker ORDER BY (SELECT MAX(token) FROM bastion_secrets)",
        "SELECT * FROM Bastion_Secrets",
        "SELECT * FROM sbCustomer_backup",
        "SELECT sbTickerId FROM sbTicker GROUP BY sbTickerId "
        "HAVING COUNT(*) > (SELECT COUNT(*) FROM bastion_secrets)",
        "SELECT sbDpTickerId FROM sbDailyPrice d LEFT JOIN sbTransaction x "
        "ON x.sbTxTickerId = d.sbDpTickerId",
    ),
    Case(
        UNION_TABLES,
        "SELECT sbCustId FROM sbCustomer UNION SELECT sbCustId FROM sbCustomer "
        "WHERE sbCustState = 'NY' ORDER BY 1",
        expect=tuple((i,) for i in ALICE_IDS),
    ),
    # -- CTE and subquery bypasses
    *shared(
        CTE_SUBQUERY,
        "WITH everyone AS (SELECT * FROM sbCustomer) SELECT * FROM everyone",
        "WITH sbCustomer AS (SELECT * FROM sbCustomer WHERE 1=1) SELECT * FROM sbCustomer",
        "WITH x AS (SELECT * FROM sbCustomer) SELECT * FROM x WHERE sbCustState = 'NY' OR 1=1",
        "WITH a AS (SELECT * FROM sbCustomer), b AS (SELECT * FROM a) SELECT * FROM b",
        "WITH s AS (SELECT token FROM bastion_secrets) SELECT * FROM s",
        "WITH t AS (SELECT * FROM sbTransaction) SELECT * FROM t",
        "SELECT * FROM (WITH bastion_secrets AS (SELECT 1 AS x) SELECT * FROM bastion_secrets) s, "
        "bastion_secrets",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
        "WITH RECURSIVE x AS (SELECT * FROM sbCustomer) SELECT * FROM x",
        "SELECT * FROM sbCustomer WHERE sbCustId IN "
        "(SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'NY')",
        "SELECT * FROM sbCustomer c WHERE NOT EXISTS (SELECT 1 FROM sbCustomer d "
        "WHERE d.sbCustId = c.sbCustId AND d.sbCustState = 'CA')",
        "SELECT * FROM sbCustomer WHERE sbCustState = ANY (SELECT sbCustState FROM sbCustomer)",
        "SELECT * FROM sbCustomer WHERE sbCustState <> ALL (SELECT 'CA')",
        "WITH c(id, nm) AS (SELECT sbCustId, sbCustName FROM sbCustomer) SELECT * FROM c",
        "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM sbCustomer) SELECT * FROM a",
        "WITH a AS (SELECT * FROM bastion_secrets), bastion_secrets AS (SELECT 1 AS x) "
        "SELECT * FROM a",
        "WITH a AS (SELECT 1 AS x) SELECT * FROM a, "
        "(WITH a AS (SELECT * FROM bastion_secrets) SELECT * FROM a) s",
        "SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT * FROM sbCustomer) a) b) c",
        "SELECT * FROM (SELECT * FROM sbCustomer WHERE 1=1 OR sbCustState = 'NY') AS t",
        "SELECT sbCustId, (SELECT MAX(sbCustName) FROM sbCustomer d WHERE d.sbCustState = 'NY') "
        "FROM sbCustomer",
        "SELECT t.* FROM (SELECT sbCustId FROM sbCustomer UNION ALL "
        "SELECT sbCustId FROM sbCustomer) t",
        "WITH q AS (SELECT sbCustId FROM sbCustomer WHERE sbCustState = 'NY') "
        "SELECT sbCustId FROM q UNION SELECT sbCustId FROM sbCustomer",
    ),
    Case(
        CTE_SUBQUERY,
        "WITH bastion_secrets AS (SELECT 1 AS x) SELECT * FROM bastion_secrets",
        expect=(("1",),),
    ),
    Case(
        CTE_SUBQUERY,
        "SELECT (SELECT sbCustName FROM sbCustomer WHERE sbCustId = 'C002') AS n",
        expect=((None,),),
    ),
    Case(
        CTE_SUBQUERY,
        "WITH all_rows AS (SELECT * FROM sbCustomer WHERE 1=1) SELECT COUNT(*) FROM all_rows",
        expect=SEVEN,
    ),
    Case(
        CTE_SUBQUERY,
        "SELECT COUNT(*) FROM (SELECT sbCustId FROM sbCustomer WHERE sbCustState <> 'CA') t",
        expect=ZERO,
    ),
]
