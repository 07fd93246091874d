"""The transactions a backup reads in and a restore writes in.

Both must see every tenant's rows. On PostgreSQL they begin with
:func:`bastion.store.rls.require_all_tenants`, so a connection that row-level
security holds to one tenant (the application role) is refused with a message
naming the fix, instead of producing a silently partial backup. On SQLite, where
pysqlite begins transactions lazily and only before writes, the transaction is
begun explicitly: ``BEGIN`` for one snapshot across tables, ``BEGIN IMMEDIATE`` so
a restore holds the write lock from its emptiness check to its commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bastion.store import is_sqlite
from bastion.store.rls import require_all_tenants

__all__ = ["read_snapshot", "write_transaction"]


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only snapshot of the whole database."""
    if not is_sqlite(engine):
        snapshot = engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with snapshot as conn, conn.begin():
            require_all_tenants(conn)
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            _rollback_quietly(conn)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that commits on exit and rolls back on any exception."""
    if not is_sqlite(engine):
        with engine.begin() as conn:
            require_all_tenants(conn)
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            _rollback_quietly(conn)
            raise
        conn.exec_driver_sql("COMMIT")


def _rollback_quietly(conn: Connection) -> None:
    if conn.invalidated:
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        return  # SQLite already ended the transaction (some errors do)
    try:
        conn.exec_driver_sql("ROLLBACK")
    except DBAPIError:
        conn.invalidate()  # gone, so nothing was committed; never pool it again
