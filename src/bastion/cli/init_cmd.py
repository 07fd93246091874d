"""``bastion init``: key file, database schema, first tenant and admin key."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import typer

from bastion.cli.common import now, open_admin_engine, settings_or_exit
from bastion.identity import IdentityService
from bastion.store import upgrade

__all__ = ["init", "write_kek"]


def write_kek(path: Path) -> bool:
    """Write a fresh random 32-byte key (base64, mode 0600) unless one exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return True


def init(
    tenant: str = typer.Option("default", help="Name of the first tenant."),
    admin_email: str = typer.Option("admin@localhost", help="The first admin user."),
) -> None:
    """Create the key file and schema, the first tenant and its admin key (idempotent)."""
    settings = settings_or_exit()
    if settings.kek is None:
        kek_path = settings.default_kek_file
        if write_kek(kek_path):
            typer.echo(f"wrote a new key-encryption key to {kek_path} (mode 0600)")
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    # Migrations create the tables, their row-level security and the bastion_app role:
    # the owner's work (BASTION_DATABASE_ADMIN_URL; the database URL when unset).
    engine = open_admin_engine(settings, require_current=False)
    upgrade(engine)
    identity = IdentityService(engine)
    _tenant_id, created = identity.ensure_tenant(tenant, now(), settings.default_policy)
    if not created and identity.list_keys(tenant):
        typer.echo(f"tenant {tenant!r} is already initialised; no new key was created.")
        typer.echo("create one with: bastion keys create --tenant " + tenant)
        engine.dispose()
        return
    issued = identity.create_key(tenant, admin_email, now(), name="initial admin", role="admin")
    engine.dispose()
    typer.echo(f"tenant {tenant!r} ready; admin key for {admin_email} (shown once):")
    typer.echo(issued.secret)
