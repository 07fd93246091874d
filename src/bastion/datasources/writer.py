"""Runs one write Bastion built itself: the write half of the executor.

The model never writes the SQL that reaches this module. An approved action (an
``UPDATE`` of one row the caller may see, a ticket's ``INSERT``) is planned by
:mod:`bastion.datasources._guard_write`: its identifiers are allow-listed and quoted,
and every value the model or the caller supplied is a bound parameter. This module
runs such a :class:`WritePlan` (through :meth:`Executor.write
<bastion.datasources.executor.Executor.write>`) as if the planner had failed:

* the same host check, address pinning and ``db_role`` as reads (the executor's
  session), and a statement time limit (PostgreSQL ``SET LOCAL statement_timeout``,
  MariaDB ``max_statement_time``, a SQLite progress handler);
* exactly one statement with driver-bound parameters: psycopg sends it through the
  extended protocol (one statement, values never in the text), pymysql sends one
  statement per call (no ``MULTI_STATEMENTS``), ``sqlite3`` runs one per call;
* the rows it touched are counted before the commit: more than ``max_rows`` rolls the
  transaction back (``too_many_rows``), so an ``UPDATE`` by a key that is not unique
  after all changes nothing. MySQL counts *matched* rows here (SQLAlchemy connects
  with ``CLIENT.FOUND_ROWS``), so a row already holding the value still counts;
* MySQL/MariaDB: the session must not run with ``NO_BACKSLASH_ESCAPES`` (literals of
  a row filter are written for backslash escaping); the session is set back to
  ``READ ONLY`` before the pool has the connection again;
* SQLite: the executor's pool opens files read-only, so a write opens its own
  connection, ``mode=rw`` (never creating a file), begins the transaction itself and
  compiles the one statement under an *allow-list* authorizer: ``INSERT`` into or
  ``UPDATE`` of the plan's table and columns, reads of that table, ``SELECT`` and
  functions (a row filter's). Everything else is denied: ``ATTACH``, ``PRAGMA``,
  ``DELETE``, DDL, other tables, and whatever a trigger or view would do.

Failures are :class:`~bastion.datasources.executor.QueryFailed` with a fixed message:
never the SQL, the values or the server's text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bastion.datasources._guard_policy import Dialect
from bastion.datasources.executor import QueryFailed, _code
from bastion.datasources.sources import Source

__all__ = ["Scalar", "WritePlan", "WriteResult"]

Scalar = str | int | float | bool | None
_PROGRESS_STEPS = 1000
_WRITE_ACTIONS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE})
_NEUTRAL_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION})


@dataclass(frozen=True, slots=True)
class WritePlan:
    """One statement the write planner built (:mod:`bastion.datasources._guard_write`).

    ``sql`` is in the driver's paramstyle for ``dialect`` (``%(p0)s`` for PostgreSQL
    and MySQL, ``:p0`` for SQLite) and binds ``params``; ``table`` (its bare name) and
    ``columns`` are what SQLite's authorizer lets it write; ``returning``: the
    statement returns the new row's key (``RETURNING``); ``insert``: it inserts, so
    MySQL's ``lastrowid`` is the new id. The repr shows neither SQL nor values."""

    dialect: Dialect
    sql: str
    params: Mapping[str, Scalar]
    table: str
    columns: frozenset[str]
    insert: bool = False
    returning: bool = False

    def __repr__(self) -> str:
        kind = "insert" if self.insert else "update"
        return f"WritePlan(dialect={self.dialect!r}, {kind}, columns={len(self.columns)})"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed write did: rows it touched, and an insert's new id."""

    rowcount: int
    new_id: int | None = None


def check_call(source: Source, plan: WritePlan, timeout_ms: int, max_rows: int) -> None:
    """A write's arguments make sense (programming errors, not the database's)."""
    if timeout_ms < 1 or max_rows < 1:
        raise ValueError("timeout_ms and max_rows must be at least 1")
    if not isinstance(plan, WritePlan) or plan.dialect != source.kind:
        raise ValueError("the write plan was not built for this source's dialect")


def server_work(
    source: Source, plan: WritePlan, max_rows: int
) -> Callable[[Connection, Any], WriteResult]:
    """The write on PostgreSQL or MySQL, for the executor's read-write session."""

    def work(conn: Connection, cursor: Any) -> WriteResult:
        rows: list[Any] = []
        if source.kind == "postgres":
            pg = cast(psycopg.Connection[Any], conn.connection.driver_connection)
            cur = pg.cursor()
            cur.execute(plan.sql.encode("utf-8"), dict(plan.params))
            if plan.returning and cur.description is not None:
                rows = cur.fetchall()
            count = len(rows) if plan.returning else cur.rowcount
            new_id = _id(rows)
        else:
            cursor.execute("SELECT @@SESSION.sql_mode")
            mode = cursor.fetchone()
            if mode is None or "NO_BACKSLASH_ESCAPES" in str(mode[0]).upper():
                raise QueryFailed("db_error")
            cursor.execute(plan.sql, dict(plan.params))
            count = cursor.rowcount
            new_id = int(cursor.lastrowid) if plan.insert and cursor.lastrowid else None
        if count > max_rows:
            raise QueryFailed("too_many_rows")  # the executor's session rolls back
        conn.connection.commit()
        return WriteResult(count, new_id)

    return work


def sqlite_write(
    source: Source,
    plan: WritePlan,
    timeout_ms: int,
    max_rows: int,
    monotonic: Callable[[], float],
    connect_timeout_s: int,
) -> WriteResult:
    """The write on SQLite, on its own read-write connection (see the module doc)."""
    try:
        path = make_url(source.url.reveal()).database or ""
    except (ValueError, SQLAlchemyError):
        raise QueryFailed("unreachable") from None
    if not path:
        raise QueryFailed("unreachable")
    busy = min(float(connect_timeout_s), timeout_ms / 1000)
    try:
        lite = sqlite3.connect(
            f"file:{quote(path)}?mode=rw",
            uri=True,
            timeout=busy,
            isolation_level=None,  # no implicit BEGIN/COMMIT: this function decides
            check_same_thread=False,
        )
    except sqlite3.Error:
        raise QueryFailed("unreachable") from None
    deadline = monotonic() + timeout_ms / 1000

    def progress() -> int:
        return 1 if monotonic() >= deadline else 0

    try:
        lite.set_progress_handler(progress, _PROGRESS_STEPS)
        lite.execute("BEGIN IMMEDIATE")
        lite.set_authorizer(_authorizer(plan))
        try:
            cursor = lite.execute(plan.sql, dict(plan.params))
            rows = cursor.fetchall() if plan.returning else []
        finally:
            lite.set_authorizer(None)
        count = len(rows) if plan.returning else cursor.rowcount
        if count > max_rows:
            raise QueryFailed("too_many_rows")
        lite.execute("COMMIT")
        return WriteResult(count, _id(rows))
    except sqlite3.Error as error:
        raise QueryFailed(_code(source, error)) from None
    finally:
        try:
            if lite.in_transaction:
                lite.execute("ROLLBACK")
        finally:
            lite.close()


def _id(rows: list[Any]) -> int | None:
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0])


_Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]


def _authorizer(plan: WritePlan) -> _Authorizer:
    """Allow exactly what the plan's one statement needs (see the module doc)."""
    table = plan.table.lower()
    columns = frozenset(c.lower() for c in plan.columns)
    allowed_write = sqlite3.SQLITE_INSERT if plan.insert else sqlite3.SQLITE_UPDATE

    def decide(
        action: int, arg1: str | None, arg2: str | None, db: str | None, inner: str | None
    ) -> int:
        if inner is not None:  # inside a trigger or view: not the planned statement
            return sqlite3.SQLITE_DENY
        if action in _NEUTRAL_ACTIONS:
            return sqlite3.SQLITE_OK
        on_table = db == "main" and (arg1 or "").lower() == table
        if action == sqlite3.SQLITE_READ and on_table:
            return sqlite3.SQLITE_OK
        if action != allowed_write or action not in _WRITE_ACTIONS or not on_table:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_INSERT or (arg2 or "").lower() in columns:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return decide
