"""Run Alembic migrations from code (``bastion init``, tests, ``serve`` check)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from bastion.store.tenancy import maintenance

__all__ = ["alembic_config", "is_current", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (idempotent).

    Migrations are maintenance work across tenants: on PostgreSQL run them as the
    owner (``BASTION_DATABASE_ADMIN_URL``), which creates and grants the app role.
    """
    cfg = alembic_config()
    with maintenance(engine).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
