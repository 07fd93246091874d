"""``bastion keys create|list|revoke|rotate``."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.common import die, now, open_engine, settings_or_exit
from bastion.cli.rotate_cmd import rotate
from bastion.identity import IdentityError, IdentityService

__all__ = ["keys_app"]


def keys_app() -> typer.Typer:
    app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

    @app.command("create")
    def create(
        tenant: str = typer.Option("default", help="Tenant the key belongs to."),
        user: str = typer.Option(..., "--user", help="User e-mail (created if new)."),
        role: str = typer.Option(
            "member",
            help="Role for a new user: owner, admin, security_analyst, approver, member, "
            "viewer or service.",
        ),
        name: str = typer.Option("", help="A label for the key."),
        expires_in_days: float | None = typer.Option(None, min=0.0, help="Expire after N days."),
    ) -> None:
        """Create a key; the secret is printed once and never stored."""
        engine = open_engine(settings_or_exit())
        t = now()
        expires = t + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            issued = IdentityService(engine).create_key(
                tenant, user, t, name=name, role=role, expires_at=expires
            )
        except IdentityError as exc:
            die(str(exc))
        finally:
            engine.dispose()
        typer.echo(f"key {issued.id} (prefix {issued.prefix}); the secret is shown once:")
        typer.echo(issued.secret)

    @app.command("list")
    def list_keys(
        tenant: str = typer.Option("default"),
        json_lines: bool = typer.Option(False, "--json", help="One JSON object per key."),
    ) -> None:
        """List a tenant's keys (never their secrets)."""
        engine = open_engine(settings_or_exit())
        try:
            keys = IdentityService(engine).list_keys(tenant)
        except IdentityError as exc:
            die(str(exc))
        finally:
            engine.dispose()
        t = now()
        if json_lines:
            for key in keys:
                typer.echo(
                    json.dumps(
                        {
                            "id": key.id,
                            "prefix": key.prefix,
                            "name": key.name,
                            "user": key.user_email,
                            "role": key.role,
                            "created_at": key.created_at.isoformat(),
                            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                            "status": key.status(t),
                        }
                    )
                )
            return
        table = Table("id", "prefix", "name", "user", "role", "created", "expires", "status")
        for key in keys:
            table.add_row(
                key.id,
                key.prefix,
                key.name,
                key.user_email,
                key.role,
                key.created_at.isoformat(timespec="seconds"),
                key.expires_at.isoformat(timespec="seconds") if key.expires_at else "-",
                key.status(t),
            )
        Console(width=None if sys.stdout.isatty() else 200).print(table)

    @app.command("revoke")
    def revoke(key: str = typer.Argument(..., help="Key id or public prefix.")) -> None:
        """Revoke a key; it stops working at once."""
        engine = open_engine(settings_or_exit())
        try:
            info = IdentityService(engine).revoke_key(key, now())
        except IdentityError as exc:
            die(str(exc))
        finally:
            engine.dispose()
        typer.echo(f"key {info.id} revoked")

    app.command("rotate")(rotate)
    return app
