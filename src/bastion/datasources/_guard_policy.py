"""The query guard's policy: which tables, columns and rows a caller may read.

A :class:`GuardPolicy` is built once per caller (it binds the caller's parameters) and
validated on construction: a bad row filter, a missing parameter or a denied function
name raise ``ValueError`` at once rather than weakening a check later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from bastion.datasources._guard_rules import DENIED_FUNCTIONS, plain_args

Dialect = Literal["postgres", "mysql", "sqlite"]
DIALECTS: frozenset[str] = frozenset({"postgres", "mysql", "sqlite"})
MASK = "***"


@dataclass(frozen=True)
class TableRule:
    """One readable table.

    ``columns``: the visible columns (``None``: all of them; then ``masked`` must be
    empty). ``row_filter``: an SQL boolean over the table's own columns, with named
    parameters (``region = :user_region``) bound from :attr:`GuardPolicy.params`.
    ``masked``: visible columns whose values read as ``'***'``.
    ``writable`` and ``key``: what an approved ``update_record`` action may change, and
    the column naming the row (:mod:`bastion.datasources._guard_write`); the read guard
    ignores them. Empty / ``None``: nothing is writable.
    """

    columns: frozenset[str] | None = None
    row_filter: str | None = None
    masked: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()
    key: str | None = None


@dataclass(frozen=True)
class GuardPolicy:
    """What one caller may read from one data source, in that source's dialect.

    ``tables`` keys are table names as the model would write them (``orders`` or
    ``sales.orders``), normalized per dialect. ``functions``: extra function names the
    model may call (ones sqlglot does not know). ``allow_writes`` is reserved: writes are
    always refused for now.
    """

    dialect: Dialect
    tables: Mapping[str, TableRule]
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    row_cap: int = 1000
    functions: frozenset[str] = frozenset()
    allow_writes: bool = False
    max_sql_chars: int = 20_000
    _sources: Mapping[str, exp.Select] = field(init=False, repr=False, compare=False)
    _columns: Mapping[str, frozenset[str] | None] = field(init=False, repr=False, compare=False)
    _names: Mapping[str, frozenset[str] | None] = field(init=False, repr=False, compare=False)
    _texts: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {sorted(DIALECTS)}, not {self.dialect!r}")
        if self.row_cap < 1:
            raise ValueError("row_cap must be at least 1")
        denied = {name.lower() for name in self.functions} & DENIED_FUNCTIONS
        if denied:
            raise ValueError(f"functions may not include {sorted(denied)}")
        object.__setattr__(self, "functions", frozenset(n.lower() for n in self.functions))
        sources: dict[str, exp.Select] = {}
        columns: dict[str, frozenset[str] | None] = {}
        names: dict[str, frozenset[str] | None] = {}
        for name, rule in self.tables.items():
            table = normalize_identifiers(exp.to_table(name, dialect=self.dialect), self.dialect)
            key = table_key(table)
            if key in sources:
                raise ValueError(f"table {name!r} is listed twice")
            sources[key] = _source(table, rule, self)
            columns[key] = None if rule.columns is None else _fold(rule.columns)
            names[key] = None if rule.columns is None else self._stored(rule.columns)
        object.__setattr__(self, "_sources", sources)
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "_names", names)
        texts = {key: _sql(select, self.dialect) for key, select in sources.items()}
        object.__setattr__(self, "_texts", texts)
        plain = all(plain_args(n) for select in sources.values() for n in select.walk())
        object.__setattr__(self, "_plain", plain)

    def knows(self, key: str) -> bool:
        """Whether ``key`` (a normalized ``db.table`` name) is allow-listed."""
        return key in self._sources

    def source(self, key: str) -> exp.Select | None:
        """A fresh copy of the filtered ``SELECT`` standing in for table ``key``."""
        select = self._sources.get(key)
        return None if select is None else select.copy()

    def source_sql(self, key: str) -> str | None:
        """:meth:`source` as the guard writes it: generated once, at construction."""
        return self._texts.get(key)

    def plain_sources(self) -> bool:
        """Whether all text in the filtered ``SELECT``s is plain (see the guard)."""
        return self._plain

    def visible_columns(self, key: str) -> frozenset[str] | None:
        """Lower-cased visible column names of ``key`` (``None``: all)."""
        return self._columns.get(key, frozenset())

    def column_names(self, key: str) -> frozenset[str] | None:
        """The visible column names of ``key`` (``None``: all) as :meth:`fold_column`
        leaves them: as PostgreSQL stores them, lower-cased for MySQL and SQLite."""
        return self._names.get(key, frozenset())

    def fold_column(self, name: str) -> str:
        """A normalized column identifier as the dialect compares it: PostgreSQL
        exactly (its unquoted names are already folded to lower case, its quoted ones
        kept as written), MySQL and SQLite case-insensitively."""
        return name if self.dialect == "postgres" else name.lower()

    def _stored(self, columns: frozenset[str]) -> frozenset[str]:
        return frozenset(self.fold_column(_name(col, self)) for col in columns)


def _sql(select: exp.Select, dialect: Dialect) -> str:
    """The guard's rendering: every identifier quoted, no comments (see the guard)."""
    return select.sql(
        dialect=dialect, identify=True, comments=False, unsupported_level=ErrorLevel.RAISE
    )


def _fold(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def table_key(table: exp.Table) -> str:
    """``catalog.db.name`` of a normalized table, for the allow-list."""
    return ".".join(part.name for part in table.parts)


def _source(table: exp.Table, rule: TableRule, policy: GuardPolicy) -> exp.Select:
    if rule.columns is None:
        if rule.masked:
            raise ValueError(f"table {table.sql()}: masked columns need an explicit column list")
        projections: list[exp.Expr] = [exp.Star()]
    else:
        if not rule.masked <= rule.columns:
            raise ValueError(f"table {table.sql()}: masked columns must be among the columns")
        if not rule.columns:
            raise ValueError(f"table {table.sql()}: columns may not be empty")
        # Column names read as the model's own are (case-folded per dialect), so an
        # allow-listed "sbCustName" is the column PostgreSQL stores as sbcustname.
        projections = [
            exp.alias_(exp.Literal.string(MASK), _name(col, policy), quoted=True)
            if col in rule.masked
            else exp.column(_name(col, policy), quoted=True)
            for col in sorted(rule.columns)
        ]
    select = exp.select(*projections).from_(table.copy())
    if rule.row_filter is not None:
        select = select.where(_row_filter(table, rule.row_filter, policy))
    return select


def _name(column: str, policy: GuardPolicy) -> str:
    """A configured column name as the dialect folds an unquoted identifier."""
    return normalize_identifiers(exp.to_identifier(column), policy.dialect).name


def _row_filter(table: exp.Table, text: str, policy: GuardPolicy) -> exp.Expr:
    where = f"table {table.sql()}: row_filter"
    try:
        condition = sqlglot.parse_one(text, read=policy.dialect)
    except SqlglotError as error:
        raise ValueError(f"{where} does not parse in {policy.dialect}") from error
    if not isinstance(condition, exp.Condition) or isinstance(condition, exp.Query):
        raise ValueError(f"{where} must be a boolean expression")
    condition = normalize_identifiers(condition, policy.dialect)
    if any(isinstance(node, (exp.Query, exp.Table)) for node in condition.walk()):
        raise ValueError(f"{where} may not read other tables")
    if any(isinstance(col, exp.Column) and col.table for col in condition.walk()):
        raise ValueError(f"{where} must use unqualified column names")
    for node in list(condition.walk()):
        if isinstance(node, exp.Placeholder):
            node.replace(_literal(node.name, where, policy))
        elif isinstance(node, (exp.Parameter, exp.SessionParameter)):
            raise ValueError(f"{where}: use :name parameters")
    return condition


def _literal(name: str, where: str, policy: GuardPolicy) -> exp.Expr:
    if not name or name not in policy.params:
        raise ValueError(f"{where} needs parameter {name!r}, which params lacks")
    value = policy.params[name]
    if isinstance(value, bool):
        raise ValueError(f"{where}: parameter {name!r} must be str, int or float, not bool")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: parameter {name!r} must be finite")
    literal = exp.Literal.number(abs(value))
    return exp.Neg(this=literal) if value < 0 else literal
