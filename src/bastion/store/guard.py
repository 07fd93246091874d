"""The application-layer tenant wall: what row-level security does, for every backend.

:func:`install_tenant_guard` hooks SQLAlchemy's documented ``before_execute`` event
(``retval=True``) on an engine. Every Core statement that touches a tenant table
(see :func:`bastion.store.tenancy.tenant_tables`) is rewritten or checked against
the connection's binding (:func:`bastion.store.tenancy.bind_tenant`):

* ``SELECT`` (also in subqueries, CTEs, unions and joins): each tenant table or alias
  in a FROM gets ``AND <tenant column> = :bound``, ORed with the lookups bound
  (:func:`~bastion.store.tenancy.bind_lookup`), exactly like PostgreSQL's
  permissive policies. Nothing bound: ``AND false``; the query returns nothing.
* ``UPDATE`` / ``DELETE``: the same criterion on the target (and any tenant table in
  its WHERE); lookups grant reading only. Nothing bound: nothing is affected.
* ``INSERT``: the tenant column of every row must equal the bound tenant, else
  :class:`~bastion.store.tenancy.TenantScopeError` (PostgreSQL's ``WITH CHECK``).
  ``INSERT ... SELECT`` and ``ON CONFLICT DO UPDATE`` on tenant tables are refused.
* Literal SQL (``text()``, ``literal_column()``, ``exec_driver_sql``) naming a tenant
  table is refused: it cannot be scoped.

The criteria go in WHERE, which makes an outer join behave as an inner one: fewer
rows than PostgreSQL would return, never another tenant's (no Bastion query joins
outward).

A connection marked by :func:`~bastion.store.tenancy.maintenance` passes unscoped.
The one path around the guard is the driver's own cursor: the SQLite audit writer
(``bastion.audit._chain``) writes through it with fixed SQL that names the tenant in
every statement.

Cost: statements without nested SELECTs (all of Bastion's hot ones) are scoped with
one walk of the expression and one generative ``where()``, about 25 µs; a statement
kept as a module-level constant is rewritten once and then costs a dictionary lookup.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from sqlalchemy import (
    Alias,
    ColumnElement,
    Connection,
    Delete,
    Engine,
    Insert,
    Select,
    TableClause,
    TextClause,
    Update,
    bindparam,
    event,
    false,
    or_,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement, ColumnClause
from sqlalchemy.sql.selectable import FromClause, SelectBase

from bastion.store.tenancy import (
    LOOKUPS,
    TenantScopeError,
    bound_lookups,
    bound_tenant,
    clear_scope,
    is_maintenance,
    tenant_tables,
)

__all__ = ["install_tenant_guard"]

_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, tenant_tables())) + r")\b", re.IGNORECASE)


def install_tenant_guard(engine: Engine) -> None:
    """Scope every statement on ``engine`` to its connection's tenant (see module doc)."""
    rewrites = _RewriteCache()  # per engine: no module-level state

    def before_execute(
        conn: Connection,
        statement: Executable,
        multiparams: list[dict[str, Any]],
        params: dict[str, Any],
        execution_options: Mapping[str, Any],
    ) -> tuple[Executable, list[dict[str, Any]], dict[str, Any]]:
        return _before_execute(rewrites, conn, statement, multiparams, params)

    event.listen(engine, "before_execute", before_execute, retval=True)
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine, "commit", _end_of_transaction)
    event.listen(engine, "rollback", _end_of_transaction)
    event.listen(engine.pool, "checkin", _checkin)


def _end_of_transaction(conn: Connection) -> None:
    if not conn.invalidated:
        clear_scope(conn.info)


def _checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        clear_scope(record.info)


def _before_cursor_execute(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """``exec_driver_sql`` skips ``before_execute``: refuse it on tenant tables."""
    if getattr(context, "compiled", None) is None and not is_maintenance(conn):
        _refuse_literal(statement)


def _before_execute(
    rewrites: _RewriteCache,
    conn: Connection,
    statement: Executable,
    multiparams: list[dict[str, Any]],
    params: dict[str, Any],
) -> tuple[Executable, list[dict[str, Any]], dict[str, Any]]:
    if is_maintenance(conn) or not isinstance(statement, ClauseElement):
        return statement, multiparams, params
    tenant = bound_tenant(conn)
    lookups = bound_lookups(conn)
    if isinstance(statement, Insert):
        _check_insert(statement, tenant, multiparams or [params], conn)
        return statement, multiparams, params
    scoped = rewrites.scoped(statement, _Scope(tenant is not None, frozenset(lookups)))
    if scoped is statement:
        return statement, multiparams, params
    values = {_param(kind): value for kind, value in lookups.items()}
    if tenant is not None:
        values[_TENANT_PARAM] = tenant
    if multiparams:
        return cast(Executable, scoped), [{**row, **values} for row in multiparams], params
    return cast(Executable, scoped), multiparams, {**params, **values}


def _refuse_literal(sql: str) -> None:
    found = _NAMES.search(sql)
    if found:
        raise TenantScopeError(
            f"literal SQL on tenant table {found.group(1).lower()!r} cannot be scoped "
            "to a tenant; use a Core statement, or a maintenance connection"
        )


_TENANT_PARAM = "bastion_scope_tenant"


def _param(lookup: str) -> str:
    return f"bastion_scope_{lookup}"


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a connection is bound to; the values travel as bound parameters, so one
    rewritten statement serves every tenant (and SQLAlchemy's compiled cache with it)."""

    tenant: bool
    lookups: frozenset[str]

    def rewrite(self, statement: ClauseElement) -> tuple[ClauseElement, bool]:
        """The scoped statement, and whether it was cloned (it had nested SELECTs)."""
        if isinstance(statement, ExecutableDDLElement):
            target = getattr(statement, "target", None)
            if isinstance(target, TableClause) and target.name in tenant_tables():
                raise TenantScopeError(f"DDL on tenant table {target.name!r} needs maintenance")
            return statement, False
        froms, nested = _direct_froms(statement)
        if nested:
            if not _any_tenant_table(statement):
                return statement, False
            visit: dict[str, Callable[[Any], None]] = {
                "select": self._visit_select,
                "update": self._visit_dml,
                "delete": self._visit_dml,
                "insert": _refuse_insert_select,
            }
            return visitors.cloned_traverse(statement, {}, visit), True
        if isinstance(statement, Select):
            criteria = [self._criterion(f, reading=True) for f in froms]
        elif isinstance(statement, Update | Delete):
            targets = _with_target(statement, froms)
            criteria = [self._criterion(f, reading=False) for f in targets]
        else:
            return statement, False
        return (statement.where(*criteria) if criteria else statement), False

    def _visit_select(self, select: Select[Any]) -> None:
        froms, _ = _direct_froms(select)
        # cloned_traverse hands over a private copy to modify in place; ``where()``
        # would return yet another copy that the enclosing statement never sees.
        select._where_criteria += tuple(self._criterion(f, reading=True) for f in froms)

    def _visit_dml(self, statement: Update | Delete) -> None:
        froms, _ = _direct_froms(statement)
        targets = _with_target(statement, froms)
        statement._where_criteria += tuple(self._criterion(f, reading=False) for f in targets)

    def _criterion(self, from_: FromClause, *, reading: bool) -> ColumnElement[bool]:
        table = _base_table(from_)
        parts: list[ColumnElement[bool]] = []
        if self.tenant:
            parts.append(_column(from_, tenant_tables()[table.name]) == bindparam(_TENANT_PARAM))
        if reading:
            for kind in sorted(self.lookups):
                lookup = LOOKUPS[kind]
                if lookup.table == table.name:
                    parts.append(_column(from_, lookup.column) == bindparam(_param(kind)))
        if not parts:
            return false()
        return parts[0] if len(parts) == 1 else or_(*parts)


class _RewriteCache:
    """Rewritten forms of statements executed again and again (module-level constants):
    reusing one rewritten object spares the rewrite and lets SQLAlchemy reuse its
    compiled form without adapting the result columns. Keys are held weakly, so a
    statement built for one call (and the values bound in it) is not kept alive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[ClauseElement, dict[_Scope, ClauseElement]]
        self._entries = weakref.WeakKeyDictionary()

    def scoped(self, statement: ClauseElement, scope: _Scope) -> ClauseElement:
        cacheable = isinstance(statement, Select | Update | Delete)
        if cacheable:
            found = self._entries.get(statement, {}).get(scope)
            if found is not None:
                return found
        scoped, cloned = scope.rewrite(statement)
        # A clone refers back to its original, which would then never be collected.
        if cacheable and not cloned:
            with self._lock:
                self._entries.setdefault(statement, {})[scope] = scoped
        return scoped


def _any_tenant_table(statement: ClauseElement) -> bool:
    for element in visitors.iterate(statement):
        if _is_literal(element):
            _refuse_literal(_literal_text(element))
        elif isinstance(element, ColumnClause):
            if _is_tenant_from(element.table):
                return True
        elif _is_tenant_from(element):
            return True
    return False


def _refuse_insert_select(statement: Insert) -> None:
    table = statement.table
    if isinstance(table, TableClause) and table.name in tenant_tables():
        raise TenantScopeError(f"INSERT ... SELECT into tenant table {table.name!r}")


def _check_insert(
    statement: Insert, tenant: str | None, rows: list[dict[str, Any]], conn: Connection
) -> None:
    """Every row's tenant column must be the bound tenant (PostgreSQL's WITH CHECK)."""
    table = statement.table
    if not isinstance(table, TableClause) or table.name not in tenant_tables():
        _, nested = _direct_froms(statement)
        if nested:
            _any_tenant_table(statement)  # refuses literal SQL on tenant tables
        return
    _, nested = _direct_froms(statement)
    if nested:
        raise TenantScopeError(f"INSERT ... SELECT into tenant table {table.name!r}")
    post = getattr(statement, "_post_values_clause", None)
    if post is not None and type(post).__name__ == "OnConflictDoUpdate":
        raise TenantScopeError(f"ON CONFLICT DO UPDATE on tenant table {table.name!r}")
    column = tenant_tables()[table.name]
    if not all(column in row for row in rows):
        # values given with .values(): execution parameters override them
        compiled = statement.compile(dialect=conn.dialect).params
        rows = [{**compiled, **row} for row in rows]
    for row in rows:
        if tenant is None or row.get(column) != tenant:
            raise TenantScopeError(
                f"INSERT into tenant table {table.name!r} outside the bound tenant"
            )


def _direct_froms(root: ClauseElement) -> tuple[list[FromClause], bool]:
    """The tenant tables and aliases ``root`` reads at its own level, and whether it
    contains nested statements (subqueries are scoped on their own level)."""
    froms: dict[int, FromClause] = {}
    nested = False
    stack = [root]
    seen: set[int] = set()
    while stack:
        element = stack.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        if element is not root and isinstance(element, SelectBase | UpdateBase):
            nested = True
            continue
        if _is_literal(element):
            _refuse_literal(_literal_text(element))
            continue
        if isinstance(element, ColumnClause):
            table = element.table
            if _is_tenant_from(table):
                froms.setdefault(id(table), table)
            continue
        if _is_tenant_from(element):
            froms.setdefault(id(element), element)
            continue
        stack.extend(element.get_children())
    return list(froms.values()), nested


def _with_target(statement: Update | Delete, froms: list[FromClause]) -> list[FromClause]:
    table = statement.table
    if _is_tenant_from(table) and not any(f is table for f in froms):
        return [table, *froms]
    return froms


def _is_tenant_from(element: object) -> TypeGuard[FromClause]:
    base = element.element if isinstance(element, Alias) else element
    return isinstance(base, TableClause) and base.name in tenant_tables()


def _base_table(from_: FromClause) -> TableClause:
    element: object = from_.element if isinstance(from_, Alias) else from_
    if not isinstance(element, TableClause):
        raise TenantScopeError("cannot scope this FROM to a tenant")
    return element


def _column(from_: FromClause, name: str) -> ColumnElement[Any]:
    try:
        return from_.c[name]
    except KeyError:
        table = _base_table(from_).name
        raise TenantScopeError(f"{table!r} here has no {name!r} column to scope by") from None


def _is_literal(element: object) -> bool:
    return isinstance(element, TextClause) or (
        isinstance(element, ColumnClause) and element.is_literal
    )


def _literal_text(element: object) -> str:
    if isinstance(element, TextClause):
        return element.text
    return str(getattr(element, "name", ""))
