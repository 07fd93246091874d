"""Engine construction: SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bastion.store.guard import install_tenant_guard

__all__ = ["is_sqlite", "make_engine", "make_sessionmaker"]


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    return on_connect


def make_engine(url: str, *, sqlite_synchronous: str = "full", **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    Every engine carries the application-layer tenant guard (``bastion.store.guard``):
    bind a tenant (``bastion.store.tenancy``) to see tenant rows, or mark the engine
    with ``tenancy.maintenance`` for deliberate cross-tenant work.

    ``sqlite_synchronous="full"`` (the default) fsyncs every commit, so an audit
    receipt means the record is on disk; ``"normal"`` survives a process crash but may
    lose the last commits on power loss; it skips the fsync (about 0.3 ms a commit here).
    """
    if sqlite_synchronous not in ("full", "normal"):
        raise ValueError("sqlite_synchronous must be 'full' or 'normal'")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=8,
            max_overflow=8,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_synchronous.upper()))
    else:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)
    install_tenant_guard(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
