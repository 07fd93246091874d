"""Runs guarded SQL on a data source: the second wall behind the query guard.

The guard (:mod:`bastion.datasources.guard`) rewrites what the model wrote; this module
runs the rewrite as if the guard had failed, so that a guard bug still cannot write,
run for ever, or return unbounded rows:

* PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout``; the
  statement goes through the extended protocol (``prepare=True``), which takes exactly
  one statement, so ``...; COMMIT; DELETE ...`` does not parse. Rolled back, which also
  undoes any session ``SET`` the statement made.
* MySQL / MariaDB: ``SET SESSION TRANSACTION READ ONLY`` (DDL implicitly commits a
  ``START TRANSACTION READ ONLY`` and would then run; the session setting holds it)
  and ``START TRANSACTION READ ONLY``; ``max_statement_time`` (MariaDB, seconds) or
  ``max_execution_time`` (MySQL, ms, SELECTs only). pymysql sends one statement per
  call (no ``MULTI_STATEMENTS``); ``LOCAL INFILE`` is off.
* SQLite: opened ``file:...?mode=ro`` (``uri=True``), an authorizer refusing
  ``ATTACH``, ``DETACH`` and ``PRAGMA``, a progress handler for the timeout. Python's
  ``sqlite3`` runs one statement per call.

PostgreSQL and MySQL hosts pass :class:`~bastion.datasources._hosts.HostPolicy` (the
deployment's ``data_sources_allowed_hosts``) before every query, not only when the
source was connected: a DNS answer may have changed since. The connection is pinned to
the checked address (psycopg ``hostaddr``, keeping ``host`` for TLS name checks;
pymysql connects to the address), so the driver does not resolve the name again.

At most ``row_cap + 1`` rows are fetched, to report ``truncated``.

Least privilege: the database login in the source's URL, and, when the source's
config names a ``db_role``, that role for every statement:

* PostgreSQL: ``SET LOCAL ROLE`` (quoted by ``psycopg.sql.Identifier``) inside the
  read-only transaction, before the statement; the rollback undoes it. A superuser
  login with ``db_role`` reads only what the role may read. It narrows plain queries;
  it is no boundary against SQL that resets the role (``set_config('role', ...)``,
  which the guard refuses): the login may always return to itself.
* MariaDB / MySQL: ``SET ROLE`` before every statement and ``SET ROLE NONE`` after it;
  each source has its own pool, made anew if its ``db_role`` changes, so a pooled
  connection never carries one source's role to another. Roles here *add* to the
  login's privileges: ``db_role`` narrows nothing for a strong login, so there it is
  for a login with no privileges of its own that reads through the role.

If the role cannot be assumed the query fails ``denied``. :meth:`Executor.login_privileges`
reports whether a source's login (under its ``db_role``) is stronger than reading needs.

Writes: :meth:`Executor.write` runs one statement Bastion built itself (an approved
action's ``UPDATE`` or ``INSERT``, never model-written SQL) in a read-write transaction
with the same host check, pinning, ``db_role`` and time limit; see
:mod:`bastion.datasources.writer`. Every other path stays read-only.

Exceptions::

    Exception
     +- QueryFailed   code: timeout | read_only_violation | denied | db_error | unreachable
                            | host_not_allowed | too_many_rows (writes)

Its message is fixed per code: never the SQL, never the server's text (which can
echo data), never the URL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import quote

import psycopg
from psycopg import sql as pgsql
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from bastion.datasources._hosts import HostNotAllowed, HostPolicy
from bastion.datasources._login_report import (
    LoginReport,
    MysqlCursor,
    is_mysql_error,
    mysql_report,
    mysql_set_role,
    pg_report,
)
from bastion.datasources._source_config import DB_ROLE
from bastion.datasources.sources import Source

if TYPE_CHECKING:  # the writer imports this module
    from bastion.datasources.writer import WritePlan, WriteResult

__all__ = [
    "CODES",
    "Executor",
    "HostNotAllowed",
    "HostPolicy",
    "LoginReport",
    "QueryFailed",
    "QueryResult",
]

CODES = {
    "timeout": "the query ran longer than its time limit",
    "read_only_violation": "the query tried to write; data sources are read-only",
    "denied": "the database refused the query (not permitted)",
    "db_error": "the database could not run the query",
    "unreachable": "the data source could not be reached",
    "host_not_allowed": "the data source's host is not allowed by the gateway's "
    "data_sources_allowed_hosts",
    "too_many_rows": "the write would change more rows than allowed; nothing was changed",
}
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}
_PG_CODES = {"57014": "timeout", "25006": "read_only_violation", "42501": "denied"}
_MYSQL_CODES = {
    1792: "read_only_violation",  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1969: "timeout",  # MariaDB ER_STATEMENT_TIMEOUT
    3024: "timeout",  # MySQL ER_QUERY_TIMEOUT
    1317: "timeout",  # ER_QUERY_INTERRUPTED
    1044: "denied",
    1142: "denied",
    1143: "denied",
    1227: "denied",
    1045: "unreachable",  # access denied for user: the credentials are wrong
    1049: "unreachable",  # unknown database
    2002: "unreachable",
    2003: "unreachable",
    2006: "unreachable",
    2013: "unreachable",
}
_SQLITE_CODES = {9: "timeout", 8: "read_only_violation", 23: "denied", 14: "unreachable"}
# sqlite3 authorizer action codes refused on top of mode=ro.
_SQLITE_DENIED = frozenset({sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_PRAGMA})
_PROGRESS_STEPS = 1000
_T = TypeVar("_T")


class QueryFailed(Exception):
    """A data source query failed; ``code`` is one of :data:`CODES`."""

    def __init__(self, code: str) -> None:
        if code not in CODES:
            code = "db_error"
        self.code = code
        super().__init__(CODES[code])


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of one query: at most ``row_cap``; ``truncated`` when more were there."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool


class Executor:
    """Runs guarded statements; one connection pool per source id, until :meth:`close`.

    ``monotonic`` is the clock of SQLite's timeout (the servers time out on their own).
    ``hosts`` is where network sources may connect; the default allows none.
    """

    def __init__(
        self,
        *,
        hosts: HostPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        connect_timeout_s: int = 5,
    ) -> None:
        self._hosts = hosts if hosts is not None else HostPolicy()
        self._monotonic = monotonic
        self._connect_timeout_s = connect_timeout_s
        # source id -> (pool, the address it is pinned to ("" for SQLite), its db_role)
        self._engines: dict[str, tuple[Engine, str, str | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Executor(sources={len(self._engines)})"

    def close(self) -> None:
        """Close every pool."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine, _, _ in engines:
            engine.dispose()

    def run(
        self,
        source: Source,
        guarded_sql: str,
        *,
        timeout_ms: int,
        row_cap: int,
    ) -> QueryResult:
        """Run one statement read-only; :class:`QueryFailed` on any database error."""
        if timeout_ms < 1 or row_cap < 1:
            raise ValueError("timeout_ms and row_cap must be at least 1")

        def work(conn: Connection, cursor: _Cursor) -> QueryResult:
            cursor.execute(guarded_sql)
            return _fetch(cursor, row_cap)

        return self._session(source, timeout_ms, work)

    def write(
        self, source: Source, plan: WritePlan, *, timeout_ms: int = 10_000, max_rows: int = 1
    ) -> WriteResult:
        """Run one planned write, committed only if it changed at most ``max_rows``
        rows (else rolled back, ``too_many_rows``); :class:`QueryFailed` on any error."""
        from bastion.datasources import writer  # here: the writer imports this module

        writer.check_call(source, plan, timeout_ms, max_rows)
        if source.kind == "sqlite":
            return writer.sqlite_write(
                source, plan, timeout_ms, max_rows, self._monotonic, self._connect_timeout_s
            )
        work = writer.server_work(source, plan, max_rows)
        return self._session(source, timeout_ms, work, read_only=False)

    def login_privileges(self, source: Source, *, timeout_ms: int = 5000) -> LoginReport:
        """How strong the source's login is, under its ``db_role`` when set.

        Read-only, in the same read-only transaction and role as :meth:`run`.
        PostgreSQL: ``pg_roles`` flags and ``has_table_privilege`` for writes on the
        allow-listed tables. MariaDB/MySQL: ``SHOW GRANTS``, including the roles the
        login may switch to. :class:`QueryFailed` when the source cannot be read.
        """
        if timeout_ms < 1:
            raise ValueError("timeout_ms must be at least 1")
        if source.kind == "sqlite":
            return LoginReport(None, None, ("SQLite has no logins; the file is opened read-only",))

        def work(conn: Connection, cursor: _Cursor) -> LoginReport:
            if source.kind == "postgres":
                pg = cast(psycopg.Connection[Any], conn.connection.driver_connection)
                return pg_report(pg, source)
            return mysql_report(cast(MysqlCursor, cursor), source)

        return self._session(source, timeout_ms, work)

    def _session(
        self,
        source: Source,
        timeout_ms: int,
        work: Callable[[Connection, _Cursor], _T],
        *,
        read_only: bool = True,
    ) -> _T:
        """``work`` in the source's read-only transaction (its role, its time limit),
        rolled back after; :class:`QueryFailed` on any database error. With
        ``read_only=False`` (the writer, PostgreSQL and MySQL only) the transaction may
        write and ``work`` commits it; the rollback after is then a no-op."""
        addresses = self._addresses(source)
        try:
            conn = self._engine(source, addresses).connect()
        except SQLAlchemyError:
            raise QueryFailed("unreachable") from None
        driver_error: type[Exception] = conn.dialect.loaded_dbapi.Error
        try:
            with conn:
                cursor = self._begin(conn, source, timeout_ms, read_only)
                try:
                    return work(conn, cursor)
                finally:
                    _end(conn, source, read_only)
        except (DBAPIError, driver_error) as error:
            raise QueryFailed(_code(source, error)) from None

    def check_host(self, kind: str, url: str) -> None:
        """Before a source is stored: HostNotAllowed when a network ``url``'s host may
        not be reached. A URL that does not parse is left to the source's own checks."""
        if kind not in _DEFAULT_PORTS:
            return
        try:
            parsed = make_url(url)
            host, port = parsed.host, parsed.port
        except (ValueError, SQLAlchemyError):
            return
        if host:
            self._hosts.check(host, port or _DEFAULT_PORTS[kind])

    def _addresses(self, source: Source) -> list[str]:
        """The allowed addresses of a network source's host, checked now; [] for SQLite."""
        if source.kind == "sqlite":
            return []
        try:
            url = make_url(source.url.reveal())
            return self._hosts.check(url.host or "", url.port or _DEFAULT_PORTS[source.kind])
        except HostNotAllowed:
            raise QueryFailed("host_not_allowed") from None
        except (ValueError, SQLAlchemyError):
            raise QueryFailed("unreachable") from None

    def _engine(self, source: Source, addresses: list[str]) -> Engine:
        """The source's pool, made anew when its pinned address is no longer allowed."""
        stale: Engine | None = None
        role = source.config.db_role
        with self._lock:
            found = self._engines.get(source.id)
            if found is not None and (not addresses or found[1] in addresses) and found[2] == role:
                return found[0]
            if found is not None:
                stale = found[0]
            pinned = addresses[0] if addresses else ""
            engine = self._create(source, pinned)
            self._engines[source.id] = (engine, pinned, role)
        if stale is not None:
            stale.dispose()
        return engine

    def _create(self, source: Source, address: str) -> Engine:
        url = source.url.reveal()
        timeout = self._connect_timeout_s
        if source.kind == "postgres":
            # libpq connects to hostaddr and keeps host for TLS and the password file.
            args: dict[str, Any] = {"connect_timeout": timeout, "hostaddr": address}
            return create_engine(url, pool_pre_ping=True, connect_args=args)
        if source.kind == "mysql":
            args = {"connect_timeout": timeout, "local_infile": False}
            pinned: URL = make_url(url).set(host=address)
            return create_engine(pinned, pool_pre_ping=True, connect_args=args)
        path = make_url(url).database or ""
        uri = f"file:{quote(path)}?mode=ro"

        def open_read_only() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

        return create_engine("sqlite://", creator=open_read_only, poolclass=NullPool)

    def _begin(
        self, conn: Connection, source: Source, timeout_ms: int, read_only: bool = True
    ) -> _Cursor:
        raw = conn.connection.driver_connection
        if source.kind == "postgres":
            pg = cast(psycopg.Connection[Any], raw)
            if read_only:
                pg.execute(b"SET TRANSACTION READ ONLY")
            pg.execute(b"SET LOCAL statement_timeout = %d" % int(timeout_ms))
            if source.config.db_role is not None:
                set_role = _pg_set_role(source.config.db_role)
                _assume(source, lambda: pg.execute(set_role))
            return _PreparedCursor(pg.cursor())
        if source.kind == "mysql":
            cursor = conn.connection.cursor()
            if source.config.db_role is not None:
                try:
                    statement = mysql_set_role(source.config.db_role)
                except ValueError:
                    raise QueryFailed("denied") from None
                _assume(source, lambda: cursor.execute(statement))
            if getattr(conn.dialect, "is_mariadb", False):
                cursor.execute(f"SET SESSION max_statement_time = {int(timeout_ms) / 1000:.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {int(timeout_ms)}")
            mode = "READ ONLY" if read_only else "READ WRITE"
            cursor.execute(f"SET SESSION TRANSACTION {mode}")
            cursor.execute(f"START TRANSACTION {mode}")
            return cast(_Cursor, cursor)
        if not read_only:  # the writer opens SQLite read-write itself
            raise QueryFailed("read_only_violation")
        lite = cast(sqlite3.Connection, raw)
        deadline = self._monotonic() + timeout_ms / 1000

        def progress() -> int:
            return 1 if self._monotonic() >= deadline else 0

        lite.set_authorizer(_sqlite_authorizer)
        lite.set_progress_handler(progress, _PROGRESS_STEPS)
        return lite.cursor()


class _Cursor(Protocol):
    """What the executor needs of a DB-API cursor."""

    @property
    def description(self) -> Any: ...

    def execute(self, sql: str, params: Any = ..., /) -> object: ...

    def fetchmany(self, size: int, /) -> list[Any]: ...


class _PreparedCursor:
    """A psycopg cursor sending each statement through the extended protocol."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> object:
        return self._cursor.execute(sql.encode("utf-8"), params, prepare=True)

    def fetchmany(self, size: int) -> list[Any]:
        return self._cursor.fetchmany(size)


def _fetch(cursor: _Cursor, row_cap: int) -> QueryResult:
    if cursor.description is None:  # not a query (a guard bypass that ran harmlessly)
        return QueryResult((), (), 0, False)
    columns = tuple(str(column[0]) for column in cursor.description)
    rows = [tuple(row) for row in cursor.fetchmany(row_cap + 1)]
    truncated = len(rows) > row_cap
    rows = rows[:row_cap]
    return QueryResult(columns, tuple(rows), len(rows), truncated)


def _end(conn: Connection, source: Source, read_only: bool = True) -> None:
    raw = conn.connection.driver_connection
    if source.kind == "sqlite":
        lite = cast(sqlite3.Connection, raw)
        lite.set_authorizer(None)
        lite.set_progress_handler(None, 0)
    conn.connection.rollback()
    if source.kind == "mysql" and (source.config.db_role is not None or not read_only):
        # A MariaDB role outlives the transaction, and so does a writer's session mode:
        # drop both before the pool has the connection back. If that fails, the
        # connection is not pooled again.
        cursor = conn.connection.cursor()
        try:
            if source.config.db_role is not None:
                cursor.execute("SET ROLE NONE")
            if not read_only:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.close()
        except Exception:
            conn.invalidate()
            raise


def _pg_set_role(role: str) -> pgsql.Composed:
    if not DB_ROLE.fullmatch(role):  # the config checks it; a Source can be built by hand
        raise QueryFailed("denied")
    return pgsql.SQL("SET LOCAL ROLE {}").format(pgsql.Identifier(role))


def _assume(source: Source, set_role: Callable[[], object]) -> None:
    """Switch to the source's role; any refusal (unknown role, not granted) is
    ``denied`` with the fixed message. A lost connection stays ``unreachable``."""
    try:
        set_role()
    except Exception as error:
        if not isinstance(error, (DBAPIError, psycopg.Error)) and not is_mysql_error(error):
            raise
        code = _code(source, error)
        raise QueryFailed("unreachable" if code == "unreachable" else "denied") from None


def _sqlite_authorizer(action: int, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action in _SQLITE_DENIED else sqlite3.SQLITE_OK


def _code(source: Source, error: BaseException) -> str:
    orig = error.orig if isinstance(error, DBAPIError) else error
    if source.kind == "postgres":
        state = getattr(orig, "sqlstate", None) or ""
        if state in _PG_CODES:
            return _PG_CODES[state]
        invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
        return "unreachable" if state.startswith("08") or invalidated else "db_error"
    if source.kind == "mysql":
        args = getattr(orig, "args", ())
        errno = args[0] if args and isinstance(args[0], int) else 0
        return _MYSQL_CODES.get(errno, "db_error")
    errcode = getattr(orig, "sqlite_errorcode", 0)
    return _SQLITE_CODES.get(errcode & 0xFF if isinstance(errcode, int) else 0, "db_error")
