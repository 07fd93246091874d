"""Alembic environment: always driven programmatically by ``bastion.store.migrate``."""

from __future__ import annotations

from alembic import context

from bastion.store.schema import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
