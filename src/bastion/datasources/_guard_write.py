"""The write guard: the only statements that may change a data source, built here.

The model never writes SQL for a write. An approved action hands over names and values
(a table, a key value, ``column = value`` changes), and this module decides, without
the model's help, whether the caller may make that change and builds the statement:

* the table must be one the caller may read (their :class:`TableRule`, per role and
  user); it must name ``writable`` columns and a ``key`` (else ``not_writable``);
* each changed column must be a plain identifier (else ``bad_identifier``: names are
  never quoted from model text), listed as writable, visible to the caller and not
  masked (else ``column_not_writable``); the key column is never changed
  (``key_not_writable``); a column may appear once (``duplicate_column``); 1 to
  :data:`MAX_CHANGES` changes (``no_changes``, ``too_many_changes``);
* the statement is ``UPDATE <table> SET <col> = <param>, ... WHERE <key> = <param>
  AND (<the caller's row filter>)``, built with sqlglot in the source's dialect with
  every identifier quoted. The row filter is the read guard's own, bound to the
  caller's attributes exactly as :class:`GuardPolicy` binds them for reads, so a
  caller can change only rows they could read: a row outside it is "no row", the same
  answer as a key that does not exist. Every value from the model (the changes and
  the key) is a *bound parameter*, never text in the statement;
* the generated text must parse back to itself (as the read guard checks), and each
  parameter marker must appear exactly once (markers carry a random nonce, so text in
  a row filter cannot forge one), before it is put in the driver's paramstyle.

:func:`plan_insert` builds the ``INSERT`` of ``create_ticket`` (an operator-configured
table, plain identifiers, bound values). The executor runs a plan as if this
module had failed (:mod:`bastion.datasources.writer`). Refusals are
:class:`PlanRefused` with a short reason code, never a value.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp, parse_one
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from bastion.datasources._guard_policy import Dialect, GuardPolicy, TableRule, table_key
from bastion.datasources.writer import Scalar, WritePlan

__all__ = [
    "MAX_CHANGES",
    "PlanRefused",
    "plan_insert",
    "plan_update",
]

MAX_CHANGES = 20
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?")
_PYFORMAT = frozenset({"postgres", "mysql"})  # psycopg and pymysql; sqlite3 is named


@dataclass(frozen=True, slots=True)
class PlanRefused:
    """Why a write is not planned: a short code (see the module doc), never a value."""

    reason: str


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def plan_update(
    dialect: Dialect,
    rules: Mapping[str, TableRule],
    table: str,
    key_value: str | int,
    changes: Sequence[tuple[str, Scalar]],
    params: Mapping[str, str | int | float],
) -> WritePlan | PlanRefused:
    """The ``UPDATE`` of the one row ``key_value`` names, as the caller whose table rules
    (``rules_for``) and bound attributes (``params``, with ``user_id``) are given."""
    try:
        return _plan_update(dialect, rules, table, key_value, changes, params)
    except _Refused as refused:
        return PlanRefused(refused.reason)
    except Exception:  # fail closed: a bug or sqlglot surprise refuses
        return PlanRefused("internal_error")


def plan_insert(
    dialect: Dialect,
    table: str,
    values: Sequence[tuple[str, Scalar]],
    *,
    returning: str | None = None,
) -> WritePlan | PlanRefused:
    """``INSERT INTO <table> (<columns>) VALUES (<params>)``, with ``RETURNING
    <returning>`` on PostgreSQL and SQLite (MySQL reports ``lastrowid``)."""
    try:
        target = _table(table, dialect)
        if not values or any(not _PLAIN.fullmatch(column) for column, _ in values):
            raise _Refused("bad_identifier")
        if len({column.lower() for column, _ in values}) != len(values):
            raise _Refused("duplicate_column")
        binder = _Binder(dialect)
        statement = exp.insert(
            exp.values([tuple(binder.bind(value) for _, value in values)]),
            target,
            columns=[_column(column, dialect).this for column, _ in values],
        )
        back = returning is not None and dialect != "mysql"
        if returning is not None:
            if not _PLAIN.fullmatch(returning):
                raise _Refused("bad_identifier")
            if back:
                statement.set("returning", exp.Returning(expressions=[_column(returning, dialect)]))
        sql, bound = binder.render(statement)
        columns = frozenset(column for column, _ in values)
        return WritePlan(dialect, sql, bound, target.name, columns, insert=True, returning=back)
    except _Refused as refused:
        return PlanRefused(refused.reason)
    except Exception:
        return PlanRefused("internal_error")


def _plan_update(
    dialect: Dialect,
    rules: Mapping[str, TableRule],
    table: str,
    key_value: str | int,
    changes: Sequence[tuple[str, Scalar]],
    params: Mapping[str, str | int | float],
) -> WritePlan:
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise _Refused("bad_identifier")
    name = _match(rules, table)
    rule = rules[name]
    if rule.key is None or not rule.writable:
        raise _Refused("not_writable")
    visible = None if rule.columns is None else {c.lower() for c in rule.columns}
    masked = {c.lower() for c in rule.masked}
    key = rule.key.lower()
    if (visible is not None and key not in visible) or key in masked:
        raise _Refused("not_writable")  # a key the caller cannot see picks no row
    if not changes:
        raise _Refused("no_changes")
    if len(changes) > MAX_CHANGES:
        raise _Refused("too_many_changes")
    writable = {c.lower(): c for c in rule.writable}
    seen: set[str] = set()
    assignments: list[tuple[str, Scalar]] = []
    for column, value in changes:
        if not isinstance(column, str) or not _PLAIN.fullmatch(column):
            raise _Refused("bad_identifier")
        folded = column.lower()
        if folded in seen:
            raise _Refused("duplicate_column")
        seen.add(folded)
        if folded == key:
            raise _Refused("key_not_writable")
        if folded not in writable or folded in masked:
            raise _Refused("column_not_writable")
        if visible is not None and folded not in visible:
            raise _Refused("column_not_writable")
        assignments.append((writable[folded], value))
    if isinstance(key_value, bool) or not isinstance(key_value, (str, int)):
        raise _Refused("bad_value")
    try:
        policy = GuardPolicy(dialect, {name: rule}, params=params)
    except ValueError as error:  # never write without the row filter
        reason = "missing_attribute" if "needs parameter" in str(error) else "policy_invalid"
        raise _Refused(reason) from None
    normalized = normalize_identifiers(exp.to_table(name, dialect=dialect), dialect)
    select = policy.source(table_key(normalized))
    if select is None:  # pragma: no cover - the policy holds exactly this table
        raise _Refused("internal_error")
    binder = _Binder(dialect)
    condition: exp.Expr = exp.EQ(this=_column(rule.key, dialect), expression=binder.bind(key_value))
    where = select.args.get("where")
    if isinstance(where, exp.Where):
        condition = exp.and_(condition, exp.paren(where.this.copy(), copy=False), copy=False)
    statement = exp.Update(
        this=normalized,
        expressions=[
            exp.EQ(this=_column(column, dialect), expression=binder.bind(value))
            for column, value in assignments
        ],
        where=exp.Where(this=condition),
    )
    sql, bound = binder.render(statement)
    written = frozenset(_column(column, dialect).name for column, _ in assignments)
    return WritePlan(dialect, sql, bound, normalized.name, written)


def _match(rules: Mapping[str, TableRule], table: str) -> str:
    """The caller's configured table ``table`` names: exactly, else the one name equal
    but for case. What runs is the configured name, never the model's spelling."""
    if table in rules:
        return table
    found = [name for name in rules if name.lower() == table.lower()]
    if len(found) != 1:
        raise _Refused("unknown_table")
    return found[0]


def _table(table: str, dialect: Dialect) -> exp.Table:
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise _Refused("bad_identifier")
    return normalize_identifiers(exp.to_table(table, dialect=dialect), dialect)


def _column(name: str, dialect: Dialect) -> exp.Column:
    """A plain configured column name as the dialect folds it, always quoted."""
    folded = normalize_identifiers(exp.to_identifier(name), dialect).name
    return exp.column(folded, quoted=True)


class _Binder:
    """Values become parameter markers; :meth:`render` writes the driver's paramstyle."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._nonce = secrets.token_hex(8)
        self._values: list[Scalar] = []

    def bind(self, value: Scalar) -> exp.Placeholder:
        if isinstance(value, float) and not math.isfinite(value):
            raise _Refused("bad_value")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _Refused("bad_value")
        self._values.append(value)
        return exp.Placeholder(this=self._marker(len(self._values) - 1))

    def _marker(self, index: int) -> str:
        return f"bastion_{self._nonce}_{index}"

    def render(self, statement: exp.Expr) -> tuple[str, dict[str, Scalar]]:
        dialect = self._dialect
        sql = _generate(statement, dialect)
        try:
            again = _generate(parse_one(sql, read=dialect), dialect)
        except SqlglotError:
            raise _Refused("internal_error") from None
        if again != sql:
            raise _Refused("internal_error")
        pyformat = dialect in _PYFORMAT
        tokens = {
            (f"%({self._marker(i)})s" if dialect == "postgres" else f":{self._marker(i)}"): i
            for i in range(len(self._values))
        }
        parts = re.split("(" + "|".join(map(re.escape, tokens)) + ")", sql) if tokens else [sql]
        out: list[str] = []
        used: list[int] = []
        for index, part in enumerate(parts):
            if index % 2:  # a marker
                used.append(tokens[part])
                out.append(f"%(p{tokens[part]})s" if pyformat else f":p{tokens[part]}")
            else:
                out.append(part.replace("%", "%%") if pyformat else part)
        if sorted(used) != list(range(len(self._values))):
            raise _Refused("internal_error")  # a marker lost or repeated
        return "".join(out), {f"p{i}": value for i, value in enumerate(self._values)}


def _generate(statement: exp.Expr, dialect: Dialect) -> str:
    return statement.sql(
        dialect=dialect, identify=True, comments=False, unsupported_level=ErrorLevel.RAISE
    )
