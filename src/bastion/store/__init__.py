"""Persistence: SQLAlchemy models, engines and Alembic migrations."""

from bastion.store.engine import is_sqlite, make_engine, make_sessionmaker
from bastion.store.migrate import is_current, upgrade

__all__ = ["is_current", "is_sqlite", "make_engine", "make_sessionmaker", "upgrade"]
