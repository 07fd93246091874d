"""Migrations apply on every backend and are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from bastion.store import is_current, make_engine, upgrade


def test_migrations_are_current_and_idempotent(engine: Engine) -> None:
    """Running the migrations again changes nothing and leaves the schema at head."""
    upgrade(engine)
    assert is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"tenants", "users", "api_keys", "audit_records", "audit_heads"} <= tables


def test_sqlite_durability_setting(tmp_path: Path) -> None:
    """Commits fsync by default (FULL); 'normal' is opt-in; anything else is refused."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    for setting, expected in (("full", 2), ("normal", 1)):
        engine = make_engine(url, sqlite_synchronous=setting)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == expected
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        engine.dispose()
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        make_engine(url, sqlite_synchronous="off")
