"""``bastion console break-glass``: set a local owner or admin's break-glass password
for the console (read from standard input, kept only as a sealed scrypt hash)."""

from __future__ import annotations

import sys

import typer

from bastion.cli.common import die, now, open_admin_engine, provider_or_exit, settings_or_exit

__all__ = ["console_app"]


def console_app() -> typer.Typer:
    app = typer.Typer(help="The web console.", no_args_is_help=True)

    @app.command("break-glass")
    def break_glass(
        tenant: str = typer.Option(..., help="The tenant's name."),
        email: str = typer.Option(..., help="An active owner or admin of the tenant."),
    ) -> None:
        """Set the break-glass password (stdin). It works only while
        BASTION_CONSOLE_BREAK_GLASS is on."""
        from bastion.console.break_glass import BreakGlass, BreakGlassError
        from bastion.crypto import Keyring
        from bastion.identity import IdentityError, IdentityService
        from bastion.identity.directory import Directory
        from bastion.secrets import SecretStore

        if sys.stdin.isatty():
            password = typer.prompt("break-glass password", hide_input=True)
        else:
            password = sys.stdin.read().rstrip("\r\n")
        settings = settings_or_exit()
        provider = provider_or_exit(settings)
        engine = open_admin_engine(settings)
        try:
            try:
                tenant_id = IdentityService(engine).tenant_id(tenant)
            except IdentityError as exc:
                die(str(exc))
            wanted = email.strip().lower()
            users = [u for u in Directory(engine).users(tenant_id) if u.email == wanted]
            if not users or users[0].role not in ("owner", "admin") or users[0].disabled:
                die(f"{wanted} is not an active owner or admin of {tenant}")
            store = SecretStore(engine, Keyring(engine, provider, now), now)
            try:
                BreakGlass(store).set(tenant_id, wanted, password)
            except BreakGlassError as exc:
                die(str(exc))
        finally:
            engine.dispose()
        state = "on" if settings.console_break_glass else "off (set BASTION_CONSOLE_BREAK_GLASS)"
        typer.echo(f"break-glass password set for {wanted}; break-glass sign-in is {state}")

    return app
