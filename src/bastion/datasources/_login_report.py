"""How strong a data source's database login is: a report for people, not a decision.

:meth:`Executor.login_privileges` runs these read-only, in the executor's read-only
transaction and under the source's ``db_role``: PostgreSQL's ``pg_roles`` flags and
``has_table_privilege`` for writes on the allow-listed tables; MariaDB/MySQL's
``SHOW GRANTS``, following the roles the login may switch to. Notes are fixed phrases:
never SQL, data, names or the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import make_url

from bastion.datasources._source_config import DB_ROLE
from bastion.datasources.sources import Source

__all__ = [
    "LoginReport",
    "MysqlCursor",
    "is_mysql_error",
    "mysql_report",
    "mysql_set_role",
    "pg_report",
]


def mysql_set_role(role: str) -> str:
    # A plain identifier (letters, digits, '_') needs no escaping inside backticks.
    if not DB_ROLE.fullmatch(role):
        raise ValueError("not a plain role name")
    return f"SET ROLE `{role}`"


def is_mysql_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith("pymysql") or module.startswith("MySQLdb")


@dataclass(frozen=True, slots=True)
class LoginReport:
    """How strong a source's database login is, under its ``db_role`` when set.

    ``superuser``: the login (or role) may do anything on the server. ``can_write``:
    it may insert, update or delete in an allow-listed table (or everywhere).
    ``None``: not known (SQLite has no logins; no allow-listed table was found).
    ``notes``: fixed phrases for the operator; never SQL, data, names or the URL.
    This is a report for people, computed read-only; it decides nothing.
    """

    superuser: bool | None
    can_write: bool | None
    notes: tuple[str, ...] = ()


# Write privileges reported on PostgreSQL tables.
_PG_WRITES = "INSERT, UPDATE, DELETE, TRUNCATE"
_PG_FLAGS = (
    b"SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, current_user <> session_user "
    b"FROM pg_roles WHERE rolname = current_user"
)
_PG_LOGIN = b"SELECT rolsuper FROM pg_roles WHERE rolname = session_user"
_PG_TABLES = (
    b"SELECT count(*), coalesce(bool_or(has_table_privilege(current_user, c, %(p)s)), false), "
    b"coalesce(bool_or(has_table_privilege(session_user, c, %(p)s)), false) "
    b"FROM unnest(%(t)s::text[]) AS t(name), LATERAL (SELECT to_regclass(t.name) AS c) AS r "
    b"WHERE c IS NOT NULL"
)


def pg_report(pg: psycopg.Connection[Any], source: Source) -> LoginReport:
    flags = pg.execute(_PG_FLAGS).fetchone()
    tables = sorted(source.config.tables)
    found, role_writes, login_writes = pg.execute(
        _PG_TABLES, {"p": _PG_WRITES, "t": tables}
    ).fetchone() or (0, False, False)
    notes: list[str] = []
    superuser: bool | None = None
    if flags is not None:
        superuser, createrole, createdb, bypassrls, switched = (bool(f) for f in flags)
        for flag, note in (
            (superuser, "superuser: every check but the read-only transaction is moot"),
            (createrole, "may create roles"),
            (createdb, "may create databases"),
            (bypassrls, "bypasses row-level security"),
        ):
            if flag:
                notes.append(note)
        if switched:
            login = pg.execute(_PG_LOGIN).fetchone()
            if login is not None and login[0]:
                notes.append(
                    "the login itself is a superuser: SQL that resets the role regains that"
                )
            if login_writes and not role_writes:
                notes.append("the login itself may write to an allow-listed table")
    if role_writes:
        notes.append("may write to an allow-listed table")
    can_write: bool | None = bool(superuser or role_writes)
    if not can_write and not found:
        can_write = None
        notes.append("no allow-listed table was found to check")
    return LoginReport(superuser, can_write, tuple(notes))


class MysqlCursor(Protocol):
    def execute(self, sql: str, /) -> object: ...

    def fetchall(self) -> Any: ...


_GRANT = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<scope>.+?) TO ", re.DOTALL)
_ROLE_GRANT = re.compile(r"^GRANT `(?P<role>(?:[^`]|``)+)` TO ")
_MAX_ROLES = 20


def mysql_report(cursor: MysqlCursor, source: Source) -> LoginReport:
    """``SHOW GRANTS`` of the session (its active role included), and of each role the
    login may ``SET ROLE`` to: roles add to a MariaDB login's privileges."""
    cursor.execute("SELECT CURRENT_ROLE()")
    rows = cursor.fetchall()
    active = rows[0][0] if rows and rows[0][0] != "NONE" else None  # MySQL says NONE
    lines = _grants(cursor)
    notes: list[str] = []
    seen: set[str] = {active} if isinstance(active, str) else set()
    pending = _granted_roles(lines) - seen
    while pending and len(seen) < _MAX_ROLES:
        role = pending.pop()
        seen.add(role)
        if not DB_ROLE.fullmatch(role):
            notes.append("a granted role with an unusual name was not checked")
            continue
        try:
            cursor.execute(f"SET ROLE `{role}`")
        except Exception as error:
            if not is_mysql_error(error):
                raise
            notes.append("a granted role could not be assumed and was not checked")
            continue
        more = _grants(cursor)
        lines += more
        pending |= _granted_roles(more) - seen
    if len(seen) >= _MAX_ROLES and pending:
        notes.append("too many granted roles: some were not checked")
    # Back to the role the session had (db_role, or the login's default role).
    if not isinstance(active, str):
        cursor.execute("SET ROLE NONE")
    elif DB_ROLE.fullmatch(active):
        cursor.execute(mysql_set_role(active))
    else:  # MySQL names a role `name`@`host`; its default roles come back this way
        cursor.execute("SET ROLE DEFAULT")
    return _grant_report(lines, _mysql_scopes(source), notes)


def _grants(cursor: MysqlCursor) -> list[str]:
    cursor.execute("SHOW GRANTS")
    return [str(row[0]) for row in cursor.fetchall()]


def _granted_roles(lines: list[str]) -> set[str]:
    found = (_ROLE_GRANT.match(line) for line in lines)
    return {m.group("role").replace("``", "`") for m in found if m is not None}


def _mysql_scopes(source: Source) -> frozenset[str]:
    """The grant scopes that reach the source's tables: ``*.*``, ``db.*``, ``db.table``."""
    database = (make_url(source.url.reveal()).database or "").lower()
    scopes = {"*.*", f"{database}.*"}
    for name in source.config.tables:
        schema, _, table = name.lower().rpartition(".")
        scopes |= {f"{schema or database}.*", f"{schema or database}.{table}"}
    return frozenset(scopes)


def _grant_report(lines: list[str], scopes: frozenset[str], notes: list[str]) -> LoginReport:
    superuser = can_write = grant_option = file = False
    for line in lines:
        match = _GRANT.match(line)
        if match is None:
            continue
        privs = match.group("privs").upper()
        scope = match.group("scope").replace("`", "").lower()
        everything = "ALL PRIVILEGES" in privs
        if scope == "*.*" and (everything or re.search(r"\bSUPER\b", privs)):
            superuser = True
        if scope == "*.*" and (everything or re.search(r"\bFILE\b", privs)):
            file = True
        if scope in scopes and (everything or re.search(r"\b(INSERT|UPDATE|DELETE)\b", privs)):
            can_write = True
        if "WITH GRANT OPTION" in line.upper():
            grant_option = True
    for flag, note in (
        (superuser, "superuser: every check but the read-only transaction is moot"),
        (file, "FILE: may read and write files on the database server"),
        (can_write, "may write to an allow-listed table"),
        (grant_option, "may grant privileges to others"),
    ):
        if flag:
            notes.append(note)
    return LoginReport(superuser, superuser or can_write, tuple(notes))
