"""The shape of the hostile statements in :mod:`tests.e2e.adversarial_cases`: a
:class:`Case`, its categories, the rows alice may see, and two builders."""

from __future__ import annotations

from typing import NamedTuple

Rows = tuple[tuple[str | None, ...], ...]


class Case(NamedTuple):
    category: str
    sql: str
    engines: str = "both"  # both | postgres | mysql
    source: str = "own"
    expect: Rows | None = None


OTHER_ROWS = "other_rows"
HIDDEN_MASKED = "hidden_and_masked"
OTHER_TENANT = "other_tenant"
STACKED = "stacked"
COMMENTS_QUOTING = "comments_quoting"
UNION_TABLES = "union_other_tables"
CTE_SUBQUERY = "cte_subquery"
FUNCTIONS = "function_exfiltration"
WRITES = "writes"
CATALOG = "catalog"
TIME_PROBES = "time_probes"
DIALECT = "dialect_quirks"

CATEGORIES = (
    OTHER_ROWS,
    HIDDEN_MASKED,
    OTHER_TENANT,
    STACKED,
    COMMENTS_QUOTING,
    UNION_TABLES,
    CTE_SUBQUERY,
    FUNCTIONS,
    WRITES,
    CATALOG,
    TIME_PROBES,
    DIALECT,
)

ALICE_IDS = ("C001", "C004", "C008", "C009", "C014", "C016", "C018")
SEVEN: Rows = (("7",),)
ZERO: Rows = (("0",),)
C = "SELECT sbCustId, sbCustName, sbCustState FROM sbCustomer"


def shared(category: str, *sqls: str) -> list[Case]:
    return [Case(category, sql) for sql in sqls]


def only(engine: str, category: str, *sqls: str) -> list[Case]:
    return [Case(category, sql, engine) for sql in sqls]
