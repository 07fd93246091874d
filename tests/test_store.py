"""Migrations apply on every backend and are idempotent."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from bastion.store import is_current, upgrade


def test_migrations_are_current_and_idempotent(engine: Engine) -> None:
    """Running the migrations again changes nothing and leaves the schema at head."""
    upgrade(engine)
    assert is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"tenants", "users", "api_keys", "audit_records", "audit_heads"} <= tables
