"""Transactions the audit log and backups need beyond SQLAlchemy's defaults.

pysqlite opens transactions lazily and as ``BEGIN DEFERRED``: two writers can then
both read a chain head before either takes the write lock. The writer instead puts
the connection in driver autocommit mode and issues ``BEGIN IMMEDIATE`` itself, so
the database write lock is held from the first read of the head to ``COMMIT``, across
threads and processes. Every SQLite connection runs with ``synchronous=FULL`` (see
``bastion.store.engine``), so a committed record survives power loss in WAL mode.
On PostgreSQL the writer runs an ordinary READ COMMITTED transaction and serialises
on the head rows with ``SELECT ... FOR UPDATE``.

Readers (verify, export) get one consistent snapshot: an explicit ``BEGIN`` on
SQLite, a read-only REPEATABLE READ transaction on PostgreSQL. A snapshot is bound to
one tenant, or, for every tenant, taken on a maintenance connection, which on
PostgreSQL must be the owner's (otherwise row-level security would show nothing and
the reader would report an empty, clean log). A restore writes with
``write_transaction(engine, all_tenants=True)``, held to the same rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bastion.store import is_sqlite
from bastion.store.rls import require_all_tenants
from bastion.store.tenancy import bind_tenant, maintenance

__all__ = ["read_snapshot", "write_transaction"]


@contextmanager
def write_transaction(
    engine: Engine, *, all_tenants: bool = False, fsync: bool = True
) -> Iterator[Connection]:
    """A transaction that commits on exit and rolls back on any exception.

    ``all_tenants``: cross-tenant maintenance (a restore), refused on a PostgreSQL
    connection that row-level security holds to one tenant. ``fsync=False`` (SQLite):
    commit with ``synchronous=NORMAL`` (survives a process crash, not power loss) and
    put the connection's setting back after; for bookkeeping a crash may lose, such
    as a stream cursor (which then redoes a batch), never for audit records.
    """
    if all_tenants:
        engine = maintenance(engine)
    if not is_sqlite(engine):
        with engine.begin() as conn:
            if all_tenants:
                require_all_tenants(conn)
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        level = None if fsync else conn.exec_driver_sql("PRAGMA synchronous").scalar()
        if level is not None:
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback_quietly(conn)
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            if level is not None:
                conn.exec_driver_sql(f"PRAGMA synchronous={int(level)}")


@contextmanager
def read_snapshot(engine: Engine, tenant_id: str | None) -> Iterator[Connection]:
    """A read-only transaction in which every statement sees the same snapshot.

    Bound to ``tenant_id``; ``None`` reads every tenant (see the module doc).
    """
    if tenant_id is None:
        engine = maintenance(engine)
    if not is_sqlite(engine):
        snapshot = engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with snapshot as conn, conn.begin():
            _scope(conn, tenant_id)
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            _scope(conn, tenant_id)
            yield conn
        finally:
            _rollback_quietly(conn)


def _scope(conn: Connection, tenant_id: str | None) -> None:
    if tenant_id is None:
        require_all_tenants(conn)
    else:
        bind_tenant(conn, tenant_id)


def _rollback_quietly(conn: Connection) -> None:
    if conn.invalidated:
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        return  # SQLite already rolled back (some errors end the transaction)
    try:
        conn.exec_driver_sql("ROLLBACK")
    except DBAPIError:
        # The connection is gone, so nothing was committed; do not pool it again.
        conn.invalidate()
